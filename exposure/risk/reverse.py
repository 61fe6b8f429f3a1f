"""The path layer: a run's XVA functionals as a jnp function of the set-up arrays S, differentiated by reverse mode.

For a block of paths p in [s, s + B) (the run's own paths: same seed, same path indices, same program pieces):

    Y_k     = Phi_k Y_{k-1} + mu_k + L_k z_k                        (``simulation.paths.simulate_chunk``)
    Y_e     = A_e Y_l + B_e Y_r + m_e + L_e z_e   at event dates    (``simulation.bridge.bridge_states``)
    V       = sum_batches netting_values(pres, view(Y, log_num))    (K_all, n_ns, B)  the run's pricers
    X, F    = collateralise(V, fx)                                  (``aggregation.collateral_jax``)
    y^CVA   = max(X, 0) / N,  y^DVA = max(-X, 0) / N,  y^FCA = max(F, 0) / N,  y^FBA = max(-F, 0) / N
    f_m(j)  = sum_{p in block, p < P} sum_k w^m_{j,k} y^m_{k,j,p}   (n_meas, n_ns)

so that measure m of netting set j is (1/P) sum_blocks f_m(j). ``reverse_pass`` takes jax.vjp of every block's
f with every unit cotangent (vmapped: n_meas x n_ns backward passes sharing one forward pass) and adds the
gradients G = sum_blocks d f / d S in block order, one jitted call per block with G donated: memory is one
block's residuals plus G, whatever the number of paths, and the sum's order is fixed by risk.block_paths alone,
so results are the same bits for any simulation.chunk_size. G's pricing-data part (the bulk of S) is kept per
measure with each element's netting set (``compact.CompactPres``: n_meas |pres| floats, not n_meas n_ns |pres|);
``contract`` reads it by segment sums.

Kinks: max(., 0) and the CSA threshold pathwise (their kinks have probability zero); rounding and MTA as in
``collateral_jax``; option exercise decisions inside the pricers pathwise (the exercise boundary's term is
left out; its size is measured against bump-and-revalue in tests/test_risk_ad.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.aggregation.collateral_jax import collateralise
from exposure.pricing.linear import differentiable_loops
from exposure.pricing.view import PathView
from exposure.risk.compact import CompactPres
from exposure.risk.programs import device_tree, device_zeros, int_arg
from exposure.risk.state import Static, merge_pres
from exposure.simulation.bridge import bridge_states
from exposure.simulation.paths import simulate_chunk

BASIS = {"CVA": "EPE", "DVA": "ENE", "FCA": "FundingEPE", "FBA": "FundingENE"}


def path_amounts(S, static: Static, start, block: int, seed: int, antithetic: bool, smooth: float):
    """Per-path discounted amounts {EPE, ENE, FundingEPE, FundingENE} (K_val, n_ns, B) of paths start..start+B-1."""
    idx = start + jnp.arange(block, dtype=jnp.int64)
    key = jax.random.PRNGKey(seed)
    states = simulate_chunk(S["Phi"], S["mu"], S["L"], S["y0"], key, idx, antithetic=antithetic)
    if static.bridge is not None:  # event dates from the exact bridge, as PathGenerator.chunk
        br = S["bridge"]
        states = bridge_states(states, br["A"], br["B"], br["m"], br["L"], *static.bridge, key, idx,
                               antithetic=antithetic)
    pres = merge_pres(static, S["pres"])
    view = PathView.from_states(static.model, states, static.times, S["log_num"])
    ns = sum(b.netting_values(pre, view, static.n_ns) for b, pre in zip(static.batches, pres))
    X, F = collateralise(static.layout, ns, view.fx, smooth)
    inv = 1.0 / view.numeraire[static.layout.vi][:, None, :]
    pos = jnp.maximum(X, 0.0)
    return idx, {"EPE": pos * inv, "ENE": (pos - X) * inv,
                 "FundingEPE": jnp.maximum(F, 0.0) * inv, "FundingENE": jnp.maximum(-F, 0.0) * inv}


def block_functionals(S, static: Static, start, block, n_paths, seed, antithetic, measures, smooth):
    """f (n_meas, n_ns): the block's sums over its paths (< n_paths) of sum_k w^m_{j,k} y^m_{k,j,p}."""
    idx, y = path_amounts(S, static, start, block, seed, antithetic, smooth)
    mask = (idx < n_paths).astype(S["Phi"].dtype)
    out = []
    for m in measures:
        per_path = jnp.sum(S["w"][m].T[:, :, None] * y[BASIS[m]], axis=0)  # (n_ns, B)
        out.append(jnp.sum(per_path * mask[None, :], axis=-1))
    return jnp.stack(out)


def block_profiles(S, static: Static, start, block, n_paths, seed, antithetic, smooth):
    """(2, K_val, n_ns): the block's sums over its paths of the discounted EPE and ENE amounts."""
    idx, y = path_amounts(S, static, start, block, seed, antithetic, smooth)
    mask = (idx < n_paths).astype(S["Phi"].dtype)
    return jnp.stack([jnp.sum(y["EPE"] * mask, axis=-1), jnp.sum(y["ENE"] * mask, axis=-1)])


def block_starts(n_paths: int, block: int) -> list:
    return list(range(0, n_paths, block))


def reverse_pass(S, static: Static, n_paths: int, seed: int, antithetic: bool, measures, block: int = 64,
                 smooth: float = 0.0, form: str = "shared"):
    """(G, values): G the pytree of S with a leading axis n_meas * n_ns, G[o] = (1/P) sum_p d f_o(p) / d S
    (o = m n_ns + j); values (n_meas, n_ns) the measures themselves (the run's CVA ... on the same paths).

    form="shared" (``reverse_ns``): the pricers differentiated once per measure for all netting sets; G["pres"]
    a ``compact.CompactPres`` (per measure; read it with ``.dot(k, d)``, ``.dense(k)`` or ``contract``).
    form="per_output": every output's backward pass through everything (vmapped), the reference; G["pres"] a
    list of dense (n_out, ...) arrays (``CompactPres.of`` reads it as n_out measures of one netting set)."""
    if form == "shared":
        from exposure.risk.reverse_ns import reverse_pass_shared

        return reverse_pass_shared(S, static, n_paths, seed, antithetic, measures, block, smooth)
    if form != "per_output":
        raise ValueError(f"reverse_pass: form must be 'shared' or 'per_output' (got {form!r})")
    n_ns, n_meas = static.n_ns, len(measures)
    n_out = n_meas * n_ns
    S = device_tree(S)

    def step(G, acc, S, start, n_total, seed_):  # n_total, seed traced: one program for every path count, seed
        y, vjp = jax.vjp(lambda S_: block_functionals(S_, static, start, block, n_total, seed_, antithetic,
                                                     measures, smooth), S)
        basis = jnp.eye(n_out, dtype=y.dtype).reshape((n_out,) + y.shape)
        (g,) = jax.vmap(vjp)(basis)
        return jax.tree_util.tree_map(jnp.add, G, g), acc + y

    step = jax.jit(step, donate_argnums=(0, 1))
    G = jax.tree_util.tree_map(lambda a: device_zeros((n_out,) + a.shape, a.dtype), S)
    acc = device_zeros((n_meas, n_ns))
    with differentiable_loops():  # traced (at the first call) with static loop bounds
        for start in block_starts(n_paths, block):
            G, acc = step(G, acc, S, int_arg(start), int_arg(n_paths), int_arg(seed))
    G = jax.tree_util.tree_map(lambda a: np.asarray(a) / n_paths, G)
    return G, np.asarray(acc) / n_paths


def contract(G, dS) -> np.ndarray:
    """<G[o], dS> for every output o: (n_out,). G["pres"] a ``compact.CompactPres`` (``reverse_pass``) or a list
    of (n_out, ...) arrays: its part is a segment sum by netting set (``CompactPres.dot``)."""
    rest = {k: v for k, v in G.items() if k != "pres"}
    gl = jax.tree_util.tree_leaves(rest)
    dl = jax.tree_util.tree_leaves({k: v for k, v in dS.items() if k != "pres"})
    n_out = gl[0].shape[0] if gl else CompactPres.of(G["pres"]).n_out
    out = np.zeros(n_out)
    for g, d in zip(gl, dl):
        d = np.asarray(d, np.float64).reshape(-1)
        if d.size and np.any(d):
            out += g.reshape(g.shape[0], -1) @ d
    if "pres" in G and "pres" in dS:
        pres = CompactPres.of(G["pres"], n_out)
        for k, d in enumerate(dS["pres"]):
            out += pres.dot(k, d)
    return out


def forward_profiles(S, static: Static, tangents: list, n_paths: int, seed: int, antithetic: bool,
                     block: int = 64, smooth: float = 0.0, group: int = 8) -> np.ndarray:
    """(n_factors, 2, K_val, n_ns): d EPE / d e and d ENE / d e per factor tangent dS/de (forward mode,
    ``group`` tangents vmapped per pass over the paths; the same block order as ``reverse_pass``)."""
    S = device_tree(S)

    def step(acc, S, T, start, n_total, seed_):
        def one(t):
            return jax.jvp(lambda S_: block_profiles(S_, static, start, block, n_total, seed_, antithetic, smooth),
                           (S,), (t,))[1]
        return acc + jax.vmap(one)(T)

    step = jax.jit(step, donate_argnums=(0,))
    out = []
    for g0 in range(0, len(tangents), group):
        chunk = tangents[g0:g0 + group]
        chunk = chunk + [jax.tree_util.tree_map(np.zeros_like, chunk[0])] * (group - len(chunk))
        T = jax.tree_util.tree_map(lambda *xs: jax.device_put(np.stack(xs)), *chunk)
        acc = device_zeros((group, 2, static.val_times.size, static.n_ns))
        with differentiable_loops():
            for start in block_starts(n_paths, block):
                acc = step(acc, S, T, int_arg(start), int_arg(n_paths), int_arg(seed))
        out.append(np.asarray(acc)[: min(group, len(tangents) - g0)] / n_paths)
    return np.concatenate(out) if out else np.zeros((0, 2, static.val_times.size, static.n_ns))
