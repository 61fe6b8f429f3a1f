"""Block sums of the per-chunk reduction added in path order, whatever the chunking.

    S0 = sum_b S0_b                                   (sequentially, block b in path order)
    (n, mean, M2) <- Chan's update with (n_b, s_b + S1_b / n_b, S2_b - S1_b^2 / n_b)   (s_b the block's shift)
    stderr = sqrt(M2 / (P - 1) / P)                   (ddof = 1; NaN for one path)

The blocks are those of ``reduction.ChunkReducer`` (B paths aligned on the global path index); the paths of a
block cut by a chunk edge arrive as raw inputs and are held until the block is whole (or the run ends), then
reduced by the same compiled program, so every total is the same bits for any chunking.
"""

from __future__ import annotations

import numpy as np

from exposure.aggregation.reduction import ChunkReducer, ChunkSums


class BlockTotals:
    """Block sums added in path order (module docstring): S0 sequentially, (S1, S2, shift) by Chan's update of
    (count, mean, M2); the paths of blocks cut by chunk edges are held until their block is whole."""

    def __init__(self, reducer: ChunkReducer):
        self.r = reducer
        self.S0 = {}
        self.mean, self.M2 = {}, {}
        self.count = 0
        self._pending: list = []
        self._pending_n = 0
        self._next = 0

    def merge(self, cs: ChunkSums) -> None:
        if cs.start != self._next:
            raise ValueError(f"paths must arrive in order: expected start {self._next}, got {cs.start}")
        if cs.head is not None:
            self._hold(cs.head, cs.start + _width(cs.head))
        self._add(cs.blocks, cs.counts)
        if cs.tail is not None:
            if self._pending_n:
                raise RuntimeError("a chunk's tail paths arrived while an earlier block was incomplete")
            self._hold(cs.tail, cs.stop)
        self._next = cs.stop

    def _hold(self, raw: dict, end: int) -> None:
        self._pending.append(raw)
        self._pending_n += _width(raw)
        if self._pending_n == self.r.B or end == self.r.P:
            whole = {k: None if self._pending[0][k] is None else np.concatenate([p[k] for p in self._pending], axis=-1)
                     for k in self._pending[0]}
            cs = self.r.block(whole, self._pending_n)
            self._pending, self._pending_n = [], 0
            self._add(cs.blocks, cs.counts)

    def _add(self, blocks: dict, counts) -> None:
        for b, nb in enumerate(np.asarray(counts)):
            for k, v in blocks.items():
                if k.endswith(("_dev", "_sq", "_shift")):
                    continue
                self.S0[k] = v[b].copy() if k not in self.S0 else self.S0[k] + v[b]
            for k in [k for k in blocks if k + "_shift" in blocks]:
                s1, s2, sh = blocks[k + "_dev"][b], blocks[k + "_sq"][b], blocks[k + "_shift"][b]
                m_b = sh + s1 / nb
                M2_b = np.maximum(s2 - s1 * s1 / nb, 0.0)
                if k not in self.mean:
                    self.mean[k], self.M2[k] = m_b, M2_b
                    continue
                na = float(self.count)
                tot = na + nb
                delta = m_b - self.mean[k]
                self.mean[k] = self.mean[k] + delta * (nb / tot)
                self.M2[k] = self.M2[k] + M2_b + delta * delta * (na * nb / tot)
            self.count += int(nb)

    def stderr(self, k: str):
        """sd / sqrt(P) (ddof = 1) of the per-path amounts behind S0[k]; NaN for one path."""
        P = float(self.count)
        if self.count <= 1:
            return np.full_like(self.S0[k], np.nan)
        return np.sqrt(self.M2[k] / (P - 1.0) / P)

    def complete(self) -> bool:
        return self.count == self.r.P


def _width(raw: dict) -> int:
    return int(raw["numeraire"].shape[-1])
