"""Shared benchmark helpers: hardware description, timing, peak memory, JSON output."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import time


def child_env(**extra) -> dict:
    """os.environ for a timed child process that runs the package as a user's install does: from its bytecode.

    PYTHONDONTWRITEBYTECODE (set in some sandboxes) would make every child compile the package's ~150 modules
    from source (0.2-0.4 s of CPU per fresh run) where an installed package runs from its .pyc files; call
    ``compile_package`` once before the first timed child so that no timed run writes them either."""
    return dict(os.environ, PYTHONDONTWRITEBYTECODE="", **extra)


def compile_package() -> None:
    """Byte-compile exposure/ and benchmarks/ (what pip does at install), quietly, before fresh-process timings."""
    import compileall
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for pkg in ("exposure", "benchmarks"):
        compileall.compile_dir(str(root / pkg), quiet=1)


def hardware() -> dict:
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    dev = jax.devices()[0]
    gpu = None
    if dev.platform == "gpu":
        try:
            gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, check=False).stdout.strip()
        except OSError:
            gpu = dev.device_kind
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "device": f"{dev.platform}:{dev.device_kind}",
        "gpu": gpu,
        "jax": jax.__version__,
        "date": dt.date.today().isoformat(),
    }


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def time_cold_warm(fn, repeats: int = 3) -> dict:
    """Cold: first call (compilation included). Warm: median of ``repeats`` further calls."""
    t0 = time.perf_counter()
    fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    return {"cold_s": cold, "warm_s": statistics.median(warm), "warm_all_s": warm}


def tree_sha(tree) -> str:
    """First 16 hex digits of the SHA-1 of a pytree's leaves' bytes (C order): bit-for-bit comparisons of outputs."""
    import hashlib

    import jax
    import numpy as np

    h = hashlib.sha1()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def write_json(obj, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2, default=str)
    os.replace(tmp, path)
