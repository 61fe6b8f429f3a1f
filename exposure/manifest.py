"""What a run is, for deciding whether a checkpoint may be resumed: a JSON-able manifest and its differences.

    manifest = {"config": resolved config without output-only keys (nested dict),
                "files":  {path: sha256 of the contents} for every config value naming an existing file,
                "code":   sha256 of the exposure package's sources and the numerical libraries' versions}

Two runs with equal manifests (and the same chunk layout, checked by ``checkpoint``) compute the same chunk
outputs. Output-only keys (where results go, the desk report, the resume options themselves) may change
between the kill and the resume. Below the API layer: takes a plain dict (the API resolves the config).
"""

from __future__ import annotations

import hashlib
import json
import os

# Keys that change no simulated or aggregated number: a resume may change them.
OUTPUT_ONLY = ("output.dir", "output.csv", "report", "simulation.resume", "simulation.checkpoint")


def _drop(tree: dict, dotted: str) -> None:
    head, _, rest = dotted.partition(".")
    if isinstance(tree, dict) and head in tree:
        if rest:
            _drop(tree[head], rest)
        else:
            del tree[head]


def _file_leaves(tree, out: dict) -> None:
    if isinstance(tree, dict):
        for v in tree.values():
            _file_leaves(v, out)
    elif isinstance(tree, list):
        for v in tree:
            _file_leaves(v, out)
    elif isinstance(tree, str) and tree and len(tree) < 4096 and os.path.isfile(tree):
        out[tree] = file_digest(tree)


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def code_digest() -> str:
    """sha256 of every .py file of the exposure package (path and bytes) and of jax/jaxlib/numpy versions."""
    import jax
    import jaxlib
    import numpy

    root = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256(repr((jax.__version__, jaxlib.__version__, numpy.__version__)).encode())
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".py"):
                p = os.path.join(d, f)
                h.update(os.path.relpath(p, root).encode())
                h.update(file_digest(p).encode())
    return h.hexdigest()


def run_manifest(config: dict) -> dict:
    """The manifest of a run from its resolved config (a plain nested dict, as OmegaConf.to_container gives)."""
    cfg = json.loads(json.dumps(config, default=str))  # a deep copy, JSON-safe
    for key in OUTPUT_ONLY:
        _drop(cfg, key)
    files: dict = {}
    _file_leaves(cfg, files)
    return {"config": cfg, "files": files, "code": code_digest()}


def _flat(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def differences(old: dict, new: dict) -> list[str]:
    """What differs between two manifests, in words (empty: the same run)."""
    out = []
    a, b = _flat(old.get("config", {})), _flat(new.get("config", {}))
    for k in sorted(set(a) | set(b)):
        if a.get(k, "<absent>") != b.get(k, "<absent>"):
            out.append(f"config {k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}")
    fa, fb = old.get("files", {}), new.get("files", {})
    for f in sorted(set(fa) | set(fb)):
        if fa.get(f) != fb.get(f):
            out.append(f"file {f} changed" if f in fa and f in fb else f"file {f} {'added' if f in fb else 'gone'}")
    if old.get("code") != new.get("code"):
        out.append("the code (exposure package or jax/numpy version) changed")
    if old.get("layout") is not None and new.get("layout") is not None and old["layout"] != new["layout"]:
        out.append(f"the chunk layout changed ({len(old['layout'])} -> {len(new['layout'])} chunks; "
                   "simulation.chunk_size or memory_budget_gb)")
    return out
