"""``simulation.reduction=auto|jax|numpy`` resolved to the reduction a run uses, by device and by size.

    work = n_ns x K x P      netting sets x exposure dates (t0 included) x paths: the per-path exposure amounts
                             the reduction collateralises, deflates and sums (its cost is linear in it)
    auto ->  "jax"    on an accelerator (the path cube stays on the device)
             "jax"    on a CPU when work >= CPU_JAX_WORK
             "numpy"  on a CPU below it

Why a threshold on a CPU: the compiled reduction (``reduction.ChunkReducer``) saves time per amount against the
NumPy aggregator (and runs on all cores) but costs a compilation per run, growing with the netting sets: 2-3 s
CPU for the bundled example in a fresh process with the persistent cache off, about 0.5 s of tracing and
lowering with it warm. Measured (benchmarks/RESULTS.md, issue 9), CPU seconds jax - numpy, fresh processes back
to back on the loaded 2-core machine: example (4 x 25 x 5,000 = 0.5 M) +2.6 cold, +0.45 warm; bench-1k at
10.1 M +4.0 cold, -0.8 warm; at 25.3 M -0.2 cold, 0.0 warm; wall on the quiet machine: 0.5 M +2.0 s, 50.5 M -5.8 s cold
(break-even about 13 M linearly). CPU_JAX_WORK sits between the warm and the cold break-even.

Whether the persistent compilation cache already holds the reduction program is deliberately not used: it is
not cheap to know (the cache is keyed by the lowered module, so the program would have to be traced first), a
warm cache does not make the small runs faster with the compiled reduction (measured: a tie), and the choice
fixes the memory plan's chunk layout, which a resumed run must find again in another process whatever its cache
holds. ``exposure.memory`` sizes each reduction's buffers, so either choice keeps the memory budget.
"""

from __future__ import annotations

CPU_JAX_WORK = 20_000_000  # netting sets x exposure dates x paths from which a CPU run uses the compiled reduction
CHOICES = ("auto", "jax", "numpy")


def resolve_reduction(requested, n_ns: int, k: int, n_paths: int, backend: str | None = None) -> str:
    """"jax" or "numpy" for simulation.reduction ``requested`` (auto|jax|numpy, or its Enum) and a run of n_ns
    netting sets, k exposure dates and n_paths paths; backend: JAX's default backend (None: asked of JAX)."""
    choice = str(getattr(requested, "value", requested))
    if choice not in CHOICES:
        from exposure.errors import ConfigError

        raise ConfigError("simulation.reduction", f"'{choice}' is not one of {', '.join(CHOICES)}")
    if choice != "auto":
        return choice
    if backend is None:
        import jax

        backend = jax.default_backend()
    if backend != "cpu":
        return "jax"
    return "jax" if int(n_ns) * int(k) * int(n_paths) >= CPU_JAX_WORK else "numpy"


def run_reduction(cfg, n_ns: int, k: int, n_paths: int, backend: str | None = None) -> str:
    """resolve_reduction for a run's config (``cfg.simulation.reduction``; auto where the key is absent, as in a
    config stored by an older version)."""
    try:
        requested = getattr(cfg.simulation, "reduction", "auto")
    except Exception:  # noqa: BLE001 - a struct config node without the key raises instead of defaulting
        requested = "auto"
    return resolve_reduction("auto" if requested is None else requested, n_ns, k, n_paths, backend)
