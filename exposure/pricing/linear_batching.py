"""Linear trades of every type grouped into as few ``LinearBatch`` objects as their currencies allow
(``make_batches``, the linear types' entry of ``exposure.pricing.registry``)."""

from __future__ import annotations

from exposure.pricing.linear import LinearBatch

PAD_LIMIT = 2048  # the most (trade, currency) pairs without flows that merged currency groups may carry


def make_batches(specs, netting_index) -> list:
    """Linear trades of every type in as few LinearBatch objects as their currencies allow.

    Each batch traces and compiles its own evaluation in the pricing program (about 0.1 s of tracing and 0.4 s
    of compilation in a fresh process, whatever its size), while a batch's moments are dense over its currencies
    x trades (K, n_ccy_b, N+1, n_trades): a trade without flows in one of them carries zeros there. So trades are
    grouped by currency set (every type together: no zeros), and the groups, smallest first, share one batch
    while its zeros, n_ccy_b n_trades - sum of each trade's own currency count, stay within ``PAD_LIMIT``: a
    small book is one batch, a large one keeps its large single-currency groups apart. Within a batch, trades of
    one ``batch_key`` (type, currencies) sit side by side in file order, keys in order of first appearance; batches
    in the order of their first key (the trade order of the results)."""
    rank: dict = {}
    groups: dict = {}  # currencies -> trade positions
    for i, s in enumerate(specs):
        rank.setdefault(s.batch_key, len(rank))
        groups.setdefault(s.currencies, []).append(i)
    shared, ccys, own, alone = [], set(), 0, []
    for key in sorted(groups, key=lambda c: (len(groups[c]), rank[specs[groups[c][0]].batch_key])):
        g = groups[key]
        union = ccys | set(key)
        n = sum(len(groups[k]) for k in shared) + len(g)
        if len(union) * n - (own + len(key) * len(g)) <= PAD_LIMIT:
            shared.append(key)
            ccys, own = union, own + len(key) * len(g)
        else:
            alone.append([key])
    parts = ([shared] if shared else []) + alone
    out = []
    for keys in parts:
        pos = sorted((i for k in keys for i in groups[k]), key=lambda i: (rank[specs[i].batch_key], i))
        batch = LinearBatch([specs[i] for i in pos], [netting_index[i] for i in pos])
        out.append((rank[specs[pos[0]].batch_key], batch))
    return [b for _, b in sorted(out, key=lambda r: r[0])]
