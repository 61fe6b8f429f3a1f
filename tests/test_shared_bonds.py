"""Entries that share their zero bonds (``opt_common.shared_bond_entries`` / ``accumulate_shared``) give the same
sums, bit for bit, as one exp per entry (``entries`` / ``accumulate``), whatever the block size chosen."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from exposure.pricing import opt_common
from exposure.pricing.opt_common import accumulate, accumulate_shared, entries, shared_bond_entries


def _case(seed, shuffled=False):
    """K dates, n trades, m flows on a grid of maturities shared across trades (as in a portfolio)."""
    rng = np.random.default_rng(seed)
    K, n, m, P = 7, 9, 12, 33
    grid = np.sort(rng.uniform(0.1, 10.0, 15))
    T = np.sort(rng.choice(grid, size=(n, m)), axis=1)
    if shuffled:  # a row whose maturities are not increasing: the original order must be kept
        T[0] = T[0][::-1]
    lnA = -0.03 * T[None] + 0.001 * np.arange(K)[:, None, None]
    B = (1 - np.exp(-0.05 * T[None])) / 0.05 + 0.01 * np.arange(K)[:, None, None]
    mask = rng.uniform(size=(K, n, m)) < 0.7
    amt = rng.normal(size=(K, n, m)) * 1e6
    x = jnp.asarray(rng.normal(0, 0.02, size=(K, P)))
    return mask, n, lnA, B, amt, T, x


def _terms(x, c):
    return c["amt"][:, None] * jnp.exp(c["lnA"][:, None] - c["B"][:, None] * x) * jnp.cos(40 * x)


def _shared_terms(x, bond, c):
    return c["amt"][:, None] * bond * jnp.cos(40 * x)


@pytest.mark.parametrize("seed,shuffled,blocks", [(0, False, (1, 2, 4, 8)), (1, False, (4,)), (2, True, (2,)),
                                                  (3, False, (8,))])
def test_shared_bonds_bitwise_equal(seed, shuffled, blocks, monkeypatch):
    monkeypatch.setattr(opt_common, "BOND_BLOCKS", blocks)
    mask, n, lnA, B, amt, T, x = _case(seed, shuffled)
    K, P = x.shape
    ref = accumulate(jnp.zeros((K * n, P)), x, entries(mask, n, chunk=8, lnA=lnA, B=B, amt=amt), _terms, chunk=8)
    flat = entries(mask, n, chunk=1, lnA=lnA, B=B, amt=amt, T=np.broadcast_to(T, mask.shape))
    ent, blk = shared_bond_entries(flat, "lnA", "B", flat.pop("T"), chunk=8)
    assert ent["row"].shape[0] % 8 == 0 and ent["row"].shape[0] // blk["k"].shape[0] in blocks
    run = jax.jit(lambda e, b, x: accumulate_shared(jnp.zeros((K * n, P)), x, e, b, _shared_terms, chunk=8))
    out = run(ent, blk, x)
    assert np.count_nonzero(np.asarray(ref)) > 0
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
    # fewer exps than entries whenever bonds repeat
    if blocks != (1,):
        assert blk["k"].shape[0] < int(mask.sum())
