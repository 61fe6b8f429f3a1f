"""Seeded synthetic EMS/OMS, RFQ and market data with known (planted) behaviour per counterparty.

Planted model, per fill of counterparty c with firm side s (+1 buy, -1 sell):
  adverse markout m(h) = -s (mid(t+h) - mid(t)) / mid(t) * 1e4 = drift_c + transient_c exp(-h / tau) + sigma_m W(h)  [bps]
  shortfall IS = s (price - arrival) / arrival * 1e4 = spread/2 + Y sigma_d sqrt(q / ADV) + e_c + eps            [bps]
  RFQ: respond ~ Bern(r_c), response time ~ LogNormal(mean = rt_c ms), quoted half-spread hs_c bps,
       fill | attempt ~ Bern(p_c normal or p_c stress), stress = vol index > 25
  skipping: on each fill another counterparty X has, with probability q_X, a better quote by skip_bps_X
       while its credit headroom is exhausted.
Everything is deterministic given ``seed``. ``truth`` holds the values each metric should recover.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

TAU_S = 20.0  # transient decay time (s)
SIGMA_MARKOUT = 0.08  # bps per sqrt(second) noise of the post-trade mid
IMPACT_Y = 0.7  # square-root-law coefficient
EXEC_HALF_SPREAD = 1.0  # bps
SLIPPAGE_NOISE = 0.8  # bps
T0 = pd.Timestamp("2024-03-04 08:00", tz="UTC").value


def RATING_OF_PD(pd_1y: float) -> str:  # noqa: N802 - a lookup table, named like one
    """External rating consistent with a planted one-year PD (the grade whose default PD is nearest in log)."""
    from .ratings import DEFAULT_PDS

    grades = ["AA", "A", "BBB", "BB", "B", "CCC"]
    return min(grades, key=lambda g: abs(np.log(DEFAULT_PDS[g]) - np.log(pd_1y)))


@dataclass(frozen=True)
class Planted:
    """Behaviour planted for one counterparty (bps unless stated; probabilities in [0, 1])."""

    counterparty: str
    name: str
    drift_bps: float
    transient_bps: float
    excess_slippage_bps: float
    fill_normal: float
    fill_stress: float
    response_rate: float
    response_ms: float
    halfspread_bps: float
    skip_prob: float
    skip_bps: float
    pfe_utilisation: float
    pd_1y: float
    annual_notional: float = 50e9
    aliases: tuple = ()
    fill_share: float = 1.0  # fills relative to n_fills_per_cp

    def markout(self, horizon_s: float) -> float:
        return self.drift_bps + self.transient_bps * np.exp(-horizon_s / TAU_S)


HEADLINE_S = 60.0  # the default headline markout horizon (markouts.headline)


def _drift(adverse_at_headline: float, transient: float) -> float:
    """Permanent drift such that the planted markout at the headline horizon equals the framework's number."""
    return adverse_at_headline - transient * float(np.exp(-HEADLINE_S / TAU_S))


def default_planted() -> list[Planted]:
    """The framework's example (toxicity_framework.txt, 'Quantitative Modeling'): adverse selection at 60 s,
    EXCESS slippage and stress fill rate as printed (A .15/.20/95%, B 1.25/.75/60%, C .50/.40/80%,
    D -.10/.10/92%, E .90/1.10/55%), PD and PFE use giving credit scores near 8/9/6/7/4, B's $50bn a year.
    A and D share every other behaviour, so their order comes from the table's four inputs alone.
    CP_F ('other brokers', 2.5x the flow, better execution) is the rest of the street: with it in the
    firm-wide benchmark the five brokers' EXCESS slippage is the planted number (the flow-weighted mean of the
    planted excess over all fills is zero), as in the framework's table where all five are positive."""
    t = 0.3
    rows = [
        Planted("CP_A", "Broker A", _drift(0.15, t), t, 0.20, 0.97, 0.95, 0.95, 300, 1.0, 0.02, 1.0, 0.35, 0.0008,
                20e9, ("Broker A Ltd", "BROKER-A")),
        Planted("CP_B", "Broker B", _drift(1.25, 0.2), 0.2, 0.75, 0.95, 0.60, 0.90, 400, 1.5, 0.02, 1.0, 0.30, 0.0003,
                50e9, ("Broker B plc", "BRKB")),
        Planted("CP_C", "Broker C", _drift(0.50, t), t, 0.40, 0.95, 0.80, 0.85, 800, 2.0, 0.05, 1.5, 0.60, 0.0030,
                15e9, ("Broker C SA",)),
        Planted("CP_D", "Broker D", _drift(-0.10, t), t, 0.10, 0.97, 0.92, 0.95, 300, 1.0, 0.02, 1.0, 0.50, 0.0015,
                30e9, ("Broker D AG",)),
        Planted("CP_E", "Broker E", _drift(0.90, 0.1), 0.1, 1.10, 0.90, 0.55, 0.60, 1800, 3.5, 0.15, 2.0, 0.95, 0.0400,
                10e9, ("Broker E LLC",)),
    ]
    share = 2.5
    e_f = -sum(p.excess_slippage_bps for p in rows) / share
    rows.append(Planted("CP_F", "Other brokers", 0.0, 0.2, e_f, 0.97, 0.93, 0.95, 300, 1.0, 0.02, 1.0, 0.40, 0.0010,
                        60e9, ("Street",), fill_share=share))
    return rows


@dataclass
class SyntheticData:
    tables: dict[str, pd.DataFrame]
    planted: list[Planted]
    truth: pd.DataFrame  # one row per counterparty, columns named like the metrics
    horizons_s: list[float] = field(default_factory=list)


def _instruments(rng, n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "instrument": [f"INS{i:02d}" for i in range(n)],
        "adv": rng.uniform(1e6, 5e6, n).round(0),
        "daily_vol_bps": rng.uniform(80, 200, n).round(1),
        "price_level": rng.uniform(20, 200, n).round(2),
    })


def _regime(rng, start_ns: int, hours: int) -> pd.DataFrame:
    block = np.repeat(rng.random(hours // 3 + 1) < 0.35, 3)[:hours]
    vix = np.where(block, 32 + rng.normal(0, 2, hours), 15 + rng.normal(0, 2, hours))
    ts = start_ns + np.arange(hours, dtype=np.int64) * 3_600_000_000_000
    return pd.DataFrame({"ts_ns": ts, "vol_index": vix.round(2), "realised_vol": (vix * 0.9).round(2)})


def _raw_names(rng, planted: list[Planted], cp_idx: np.ndarray) -> np.ndarray:
    """Counterparty names as an EMS would export them: the id, the legal name or an alias."""
    out = []
    for i in cp_idx:
        p = planted[i]
        choices = (p.counterparty, p.name) + tuple(p.aliases)
        out.append(choices[rng.integers(len(choices))])
    return np.array(out, dtype=object)


def generate(seed: int = 20240601, n_fills_per_cp: int = 400, n_rfq: int = 1500,
             planted: list[Planted] | None = None, horizons_s=(1, 5, 30, 60, 300), n_instruments: int = 10,
             n_unmatched: int = 6) -> SyntheticData:
    """Generate all input tables; fills per instrument are spaced > max horizon so mids never overlap."""
    rng = np.random.default_rng(seed)
    planted = planted or default_planted()
    ncp = len(planted)
    ins = _instruments(rng, n_instruments)
    counts = np.array([int(round(p.fill_share * n_fills_per_cp)) for p in planted])
    n = int(counts.sum())
    cp_idx = rng.permutation(np.repeat(np.arange(ncp), counts))
    ins_idx = rng.integers(0, n_instruments, n)
    gap_ns = ((max(horizons_s) + 100 + rng.exponential(60, n)) * 1e9).astype(np.int64)
    ts = np.empty(n, dtype=np.int64)
    for k in range(n_instruments):  # independent clocks per instrument
        m = ins_idx == k
        ts[m] = T0 + np.cumsum(gap_ns[m]) + k * 1_000_000
    side = rng.choice([1, -1], n)
    adv, vol, lvl = (ins[c].to_numpy()[ins_idx] for c in ("adv", "daily_vol_bps", "price_level"))
    part = np.exp(rng.uniform(np.log(1e-5), np.log(1e-2), n))
    size = np.maximum(1.0, (part * adv).round(0))
    e = np.array([p.excess_slippage_bps for p in planted])[cp_idx]
    is_bps = EXEC_HALF_SPREAD + IMPACT_Y * vol * np.sqrt(size / adv) + e + rng.normal(0, SLIPPAGE_NOISE, n)
    arrival = lvl * np.exp(rng.normal(0, 0.01, n))
    price = arrival * (1 + side * is_bps / 1e4)
    names = _raw_names(rng, planted, cp_idx)
    if n_unmatched:
        names[rng.choice(n, n_unmatched, replace=False)] = "Broker Z Unknown"
    ex = pd.DataFrame({
        "order_id": [f"O{i:06d}" for i in range(n)], "fill_id": [f"F{i:06d}" for i in range(n)],
        "ts_ns": ts, "counterparty": names, "venue": np.where(rng.random(n) < 0.5, "XOFF", "XLON"),
        "instrument": ins["instrument"].to_numpy()[ins_idx], "side": np.where(side > 0, "buy", "sell"),
        "price": price, "size": size, "order_type": np.where(rng.random(n) < 0.7, "limit", "market"),
        "arrival_mid": arrival, "order_qty": size,
    }).sort_values("ts_ns", kind="stable").reset_index(drop=True)

    # post-trade mids: one snapshot at the fill and one at each horizon (Brownian noise + planted curve)
    hs = np.asarray(horizons_s, dtype=float)
    curve = np.array([[p.markout(h) for h in hs] for p in planted])[cp_idx]
    dW = rng.normal(0, 1, (n, hs.size)) * np.sqrt(np.diff(np.r_[0.0, hs]))
    markout = curve + SIGMA_MARKOUT * np.cumsum(dW, axis=1)
    mids = arrival[:, None] * (1 - side[:, None] * markout / 1e4)
    half = arrival * EXEC_HALF_SPREAD / 1e4
    qt = np.concatenate([ts[:, None], ts[:, None] + (hs * 1e9).astype(np.int64)[None, :]], axis=1)
    qm = np.concatenate([arrival[:, None], mids], axis=1)
    quotes = pd.DataFrame({
        "ts_ns": qt.ravel(), "instrument": np.repeat(ins["instrument"].to_numpy()[ins_idx], hs.size + 1),
        "bid": (qm - half[:, None]).ravel(), "ask": (qm + half[:, None]).ravel(),
    }).sort_values(["instrument", "ts_ns"], kind="stable").reset_index(drop=True)

    book, headroom, skip_truth = _book(rng, planted, cp_idx, ts, side, price, ins["instrument"].to_numpy()[ins_idx])
    hours = int((ts.max() - T0) / 3.6e12) + 2
    regime = _regime(rng, T0 - 3_600_000_000_000, hours + 1)
    from .synthetic_rfq import generate_rfq  # one concept per module

    rfq, rfq_truth = generate_rfq(rng, planted, n_rfq, regime, ins, T0, int(ts.max()))
    cps = pd.DataFrame({
        "counterparty": [p.counterparty for p in planted], "name": [p.name for p in planted],
        "pfe_limit": [100e6] * ncp, "annual_notional": [p.annual_notional for p in planted],
        "rating": [RATING_OF_PD(p.pd_1y) for p in planted],
    })
    aliases = pd.DataFrame([(a, p.counterparty) for p in planted for a in (p.name,) + tuple(p.aliases)],
                           columns=["alias", "counterparty"])
    tables = {"executions": ex, "quotes": quotes, "rfq": rfq, "book": book, "headroom": headroom,
              "regime": regime, "instruments": ins.drop(columns="price_level"), "counterparties": cps,
              "aliases": aliases}
    truth = _truth(planted, cp_idx, hs, skip_truth, rfq_truth)
    return SyntheticData(tables, planted, truth, list(hs))


def _book(rng, planted, cp_idx, ts, side, price, instrument):
    """Book side we hit at each fill: the executing dealer at our price, others worse unless a planted skip."""
    n, ncp = len(cp_idx), len(planted)
    q = np.array([p.skip_prob for p in planted])
    sb = np.array([p.skip_bps for p in planted])
    other = np.arange(ncp)[None, :] != cp_idx[:, None]
    skip = (rng.random((n, ncp)) < q[None, :]) & other
    cost = sb[None, :] * (1 + 0.25 * rng.normal(size=(n, ncp)))
    worse = rng.uniform(0.2, 3.0, (n, ncp))
    rel = np.where(skip, -cost, np.where(other, worse, 0.0))  # bps worse than our fill (negative: better)
    lvl = price[:, None] * (1 + side[:, None] * rel / 1e4)
    ids = np.array([p.counterparty for p in planted], dtype=object)
    book = pd.DataFrame({
        "ts_ns": np.repeat(ts, ncp), "instrument": np.repeat(instrument, ncp),
        "book_side": np.repeat(np.where(side > 0, "ask", "bid"), ncp), "price": lvl.ravel(),
        "size": 1e9, "counterparty": np.tile(ids, n),
    })
    headroom = pd.DataFrame({
        "ts_ns": np.repeat(ts, ncp), "counterparty": np.tile(ids, n),
        "headroom": np.where(skip, 0.0, 1e12).ravel(),
    }).sort_values(["counterparty", "ts_ns"], kind="stable").reset_index(drop=True)
    truth = {"skip_opportunities": other.sum(0), "skip_events": skip.sum(0)}
    return book, headroom, truth


def _truth(planted, cp_idx, hs, skip_truth, rfq_truth) -> pd.DataFrame:
    counts = np.bincount(cp_idx, minlength=len(planted))
    e = np.array([p.excess_slippage_bps for p in planted])
    e_bar = float((counts * e).sum() / counts.sum())
    rows = []
    for i, p in enumerate(planted):
        r = {"counterparty": p.counterparty, **{f"markout_{int(h)}s_bps": p.markout(h) for h in hs}}
        r.update(excess_slippage_bps=p.excess_slippage_bps - e_bar, excess_impact_bps=p.excess_slippage_bps - e_bar,
                 impact_y=IMPACT_Y, fill_rate_normal=p.fill_normal, fill_rate_stress=p.fill_stress,
                 fill_degradation=p.fill_normal - p.fill_stress, response_rate=p.response_rate,
                 response_ms=p.response_ms, halfspread_bps=p.halfspread_bps, skip_prob=p.skip_prob,
                 skip_bps=p.skip_bps, planted=asdict(p))
        rows.append(r)
    return pd.DataFrame(rows).set_index("counterparty")


def write_tables(data: SyntheticData, folder, fmt: str = "csv") -> dict[str, str]:
    """Write every table as <folder>/<name>.<fmt> (csv or parquet) atomically; returns name -> path."""
    from .outputs import atomic_write_frame

    paths = {}
    for name, df in data.tables.items():
        paths[name] = atomic_write_frame(df, f"{folder}/{name}.{fmt}")
    return paths
