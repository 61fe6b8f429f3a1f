"""The threefry2x32 hash as the package lowers it on the CPU (straight-line rounds, exposure.simulation.rng): the
Random123 known-answer vectors, and the very normals and simulated states (event bridge included) that JAX's
own CPU rule (a rolled loop) and the per-step bridge draws gave before.

The digests below were taken from main 8f5f0e8 (JAX's rolled CPU rule, jax 0.10.2, normals drawn inside the
bridge's scan) for seed 20261207: a changed bit in any draw or state fails here, whatever the lowering.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from exposure.simulation import UNROLLED_THREEFRY
from exposure.simulation.bridge import event_normals
from exposure.simulation.grid import TimeGrid
from exposure.simulation.paths import Discretisation, PathGenerator
from exposure.simulation.rng import chunk_normals, seed_key
from tests.conftest import make_model

# Salmon, Moraes, Dror, Shaw (2011), Random123 known-answer tests, threefry2x32_20: (key, counter) -> output.
KAT = [(([0, 0], [0, 0]), (0x6B200159, 0x99BA4EFE)),
       (([0xFFFFFFFF] * 2, [0xFFFFFFFF] * 2), (0x1CB996FC, 0xBB002BE7)),
       (([0x13198A2E, 0x03707344], [0x243F6A88, 0x85A308D3]), (0xC4923A9C, 0x483DF7A0))]

DIGESTS = {  # sha256 of the float64 bytes, shapes (3, 8, 64), (3, 8, 64), (8, 64)
    "plain": "6820f8fbd8870db11608679405ede88e3442b946680eb8764fff2f65860afe26",
    "antithetic": "9ab392853cf4fe4aed203c8a3086b158e66d5f7532c5cee37b0816cf274c9fdb",
    "event": "d6c92c4a383ee9db252b512964291bcdd68d3768914123d8941d76e0b160b293",
}
STATES = {  # sha256 of all_states() (12, 7, 128): 3 reporting + 3 close-out + 5 event dates and t0, 2 chunks
    False: "80e8980cdb13eb4b21783ff78b80838e4fef4fc4043dbff3ed967e6362906b09",
    True: "f67f4de8e686df76b18371d9b662e0014984bf43b6cb44653df91d14837b77e5",
}
EVENTS = [dt.date(2026, 4, 1), dt.date(2027, 4, 1), dt.date(2027, 7, 1), dt.date(2027, 1, 17), dt.date(2028, 1, 1)]


def _threefry(key, count):
    from jax._src.random.threefry2x32 import threefry_2x32

    return jax.jit(threefry_2x32)(np.uint32(key), np.uint32(count))


@pytest.mark.parametrize("inputs,expected", KAT)
def test_threefry_known_answers(inputs, expected):
    out = np.asarray(_threefry(*inputs))
    assert tuple(int(x) for x in out) == expected


def test_normals_are_the_bits_jax_drew_before():
    key, idx = seed_key(20261207), jnp.arange(5, 69)
    draws = {
        "plain": jax.jit(lambda k, i: chunk_normals(k, i, 3, 8, False))(key, idx),
        "antithetic": jax.jit(lambda k, i: chunk_normals(k, i, 3, 8, True))(key, idx),
        "event": jax.jit(lambda k, i: event_normals(k, 739000, i, 8, False))(key, idx),
    }
    got = {name: hashlib.sha256(np.asarray(z, dtype=np.float64).tobytes()).hexdigest() for name, z in draws.items()}
    assert got == DIGESTS


@pytest.mark.parametrize("antithetic", [False, True])
def test_bridged_states_are_the_bits_simulated_before(antithetic):
    grid = TimeGrid.build(dt.date(2026, 1, 2), "1Y,2Y,3Y", "2W").with_events(EVENTS)
    gen = PathGenerator(Discretisation.build(make_model(), grid), 128, 64, seed=20261207, antithetic=antithetic)
    states = np.ascontiguousarray(gen.all_states())
    assert hashlib.sha256(states.tobytes()).hexdigest() == STATES[antithetic]


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the rule is the CPU's")
def test_cpu_lowering_is_straight_line():
    """The compile-time lever is in place: no loop left in the hash (JAX's CPU rule is a 5-iteration while)."""
    assert UNROLLED_THREEFRY
    text = jax.jit(lambda k, i: chunk_normals(k, i, 3, 8, False)).lower(seed_key(1), jnp.arange(64)).as_text()
    assert "stablehlo.while" not in text and "threefry2x32" in text
