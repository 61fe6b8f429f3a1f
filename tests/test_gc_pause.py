"""exposure.gc_pause: the collector is off inside the block and back in its previous state after it, an exception
included (a pause left on would stop cyclic garbage collection for the rest of a long-lived process)."""

from __future__ import annotations

import gc

import pytest

from exposure.gc_pause import gc_paused


def test_gc_paused_restores_the_collector_state():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner exit leaves the outer pause on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), gc_paused():
        1 / 0
    assert gc.isenabled()
    gc.disable()
    try:  # a collector the caller turned off stays off
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
