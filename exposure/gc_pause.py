"""Python's cyclic garbage collector paused over a stage that allocates many small objects and frees few.

    with gc_paused():
        ...   # no collection starts inside; the collector's previous state is restored on exit

Why: the collector starts a collection every 700 net allocations of container objects, and a full one once enough
survivors have piled up; each full collection walks every tracked object of the process (a warm process holds a
few hundred thousand: JAX's, xarray's, the previous run's). Parsing bench-1k's portfolio allocates ~25,000 YAML
nodes, dicts and trade specs that all survive: 0.13 CPU s without the collections, 0.3-0.4 s with them in a warm
process (benchmarks/RESULTS.md, issue 9, thirteenth session). The objects made inside are collected as usual once
the collector runs again; the `exposure` command line freezes the imported heap instead (``exposure.cli``).
Nested pauses are fine (the inner one leaves the collector off); the state is process-wide, so a pause also holds
for the process's other threads while it lasts: keep it around bounded set-up work, not around a whole run.
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def gc_paused():
    """Disable the cyclic collector inside the block; re-enable it on exit if it was enabled on entry."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
