"""What the benchmarks measure besides wall time: XLA compilations and tracing (``CompileMonitor``), peak
resident memory per phase and of the process (VmHWM, reset through /proc/self/clear_refs where the kernel
allows it; ru_maxrss), peak accelerator memory, and switching JAX's persistent compilation cache off so that
cold times include compilation."""

from __future__ import annotations

import contextlib

import jax


def disable_persistent_cache() -> None:
    """Cold times must include compilation: switch JAX's persistent compilation cache off in this process."""
    with contextlib.suppress(AttributeError, ValueError):
        jax.config.update("jax_enable_compilation_cache", False)


class CompileMonitor:
    """Counts XLA backend compilations and their seconds (jax.monitoring events), and tracing seconds."""

    _instance = None

    def __init__(self):
        self.compiles = 0
        self.compile_s = 0.0
        self.trace_s = 0.0
        self.by_name: dict = {}
        import jax.monitoring as mon

        mon.register_event_duration_secs_listener(self._on_event)

    @classmethod
    def get(cls) -> "CompileMonitor":
        if cls._instance is None:
            cls._instance = CompileMonitor()
        return cls._instance

    def _on_event(self, event: str, duration: float, **kw):
        if event.endswith("backend_compile_duration"):
            self.compiles += 1
            self.compile_s += float(duration)
            name = str(kw.get("fun_name", "?"))
            n, t = self.by_name.get(name, (0, 0.0))
            self.by_name[name] = (n + 1, t + float(duration))
        elif event.endswith("jaxpr_trace_duration"):
            self.trace_s += float(duration)

    def top(self, n: int = 10) -> list:
        """The functions that took the most compilation seconds: [name, compilations, seconds]."""
        rows = sorted(self.by_name.items(), key=lambda kv: -kv[1][1])[:n]
        return [[k, c, round(t, 3)] for k, (c, t) in rows]

    def snapshot(self) -> tuple:
        return self.compiles, self.compile_s, self.trace_s


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) so the next phase's peak can be read; False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def phase_peak_rss_gib() -> float:
    """Peak resident memory since the last ``reset_peak_rss`` (else since start), GiB."""
    kib = _status_kib("VmHWM")
    if kib is None:
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 2**20


def process_peak_rss_gib() -> float:
    """Peak resident memory of the whole process (ru_maxrss is not reset by clear_refs), GiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def device_peak_gib() -> float | None:
    """Peak accelerator memory in use (GPU); None on CPU, where RSS already holds JAX's buffers."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - a backend without memory stats
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2**30
