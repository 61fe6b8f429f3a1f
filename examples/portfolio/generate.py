"""Seeded generator of realistic mixed portfolios on the example market (conf/market/example.yaml).

    from examples.portfolio.generate import generate_portfolio
    data = generate_portfolio(600, 200, 100, 100, n_netting_sets=50, seed=1, with_csa_fraction=0.4)

returns the dict of a portfolio file ({netting_sets: {...}, trades: [...]}, YAML-able). Netting sets
NS_001.. belong to the counterparties CP_A..CP_E in turn (they have credit curves in the example
market); a ``with_csa_fraction`` of them carry a two-way CSA with a random threshold and MTA. Trades:

- swaps in USD (half; USD-LIBOR-3M or USD-SOFR), EUR (EUR-EURIBOR-6M) and GBP (GBP-SONIA), maturities
  2Y..30Y weighted to 5Y/10Y, mostly spot-starting, some forward-starting, a few amortising, payer or
  receiver, fixed rates around the market level;
- FX forwards on EURUSD, GBPUSD, EURGBP up to 2 years, strikes around the forward;
- FX options (FxOption) on EURUSD and GBPUSD, strikes within +-15% of spot, expiries 1M..3Y;
- European swaptions (Swaption) in USD and EUR, expiries 1Y..10Y into 2Y..10Y swaps;
- optionally (keyword arguments) cross-currency swaps, FRAs and equity forwards.

No trade is seasoned (every start is on or after the as-of date), so no fixings file is needed.
``generate_desk_portfolio()`` makes the desk example (``examples/portfolio/desk.yaml``, ``portfolio=desk``; also
cap/floors and equity options, 12 counterparties): ``python examples/portfolio/generate.py desk``.
Running the module writes ``examples/portfolio/bench_1k.yaml`` (600 swaps, 200 FX forwards, 100 FX
options, 100 swaptions, 50 netting sets, 40% with CSAs): ``python examples/portfolio/generate.py``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import yaml

COUNTERPARTIES = ("CP_A", "CP_B", "CP_C", "CP_D", "CP_E")
SPOTS = {"EUR": 1.0850, "GBP": 1.2700}  # USD per unit, as conf/market/example.yaml
RATE_LEVEL = {"USD": 0.037, "EUR": 0.024, "GBP": 0.039}
SWAP_INDICES = {"USD": (("USD-LIBOR-3M", "3M", 0.6), ("USD-SOFR", "1Y", 0.4)),
                "EUR": (("EUR-EURIBOR-6M", "6M", 1.0),), "GBP": (("GBP-SONIA", "1Y", 1.0),)}
SWAPTION_INDEX = {"USD": ("USD-LIBOR-3M", "3M"), "EUR": ("EUR-EURIBOR-6M", "6M")}


def _notional(rng, scale=1.0e7) -> float:
    return float(max(1.0e6, round(scale * rng.lognormal(0.0, 0.8) / 1.0e6) * 1.0e6))


def _netting_sets(rng, n: int, with_csa_fraction: float) -> dict:
    out = {}
    n_csa = int(round(with_csa_fraction * n))
    has_csa = np.zeros(n, dtype=bool)
    has_csa[rng.permutation(n)[:n_csa]] = True
    for i in range(n):
        ns = {"counterparty": COUNTERPARTIES[i % len(COUNTERPARTIES)]}
        if has_csa[i]:
            threshold = float(rng.choice([0.0, 1.0e6, 5.0e6, 1.0e7]))
            mta = float(rng.choice([1.0e5, 2.5e5, 5.0e5]))
            ns["csa"] = {"margining": "two_way", "threshold_cpty": threshold, "threshold_bank": threshold,
                         "mta_cpty": mta, "mta_bank": mta, "rounding": 1.0e4}
        out[f"NS_{i + 1:03d}"] = ns
    return out


def _swap(rng, tid: str, ns: str) -> dict:
    ccy = str(rng.choice(["USD", "EUR", "GBP"], p=[0.5, 0.3, 0.2]))
    names, tenors, weights = zip(*SWAP_INDICES[ccy])
    k = int(rng.choice(len(names), p=np.asarray(weights) / sum(weights)))
    years = int(rng.choice([2, 3, 5, 7, 10, 15, 20, 30], p=[0.08, 0.1, 0.22, 0.12, 0.22, 0.1, 0.08, 0.08]))
    fwd = int(rng.choice([0, 0, 0, 0, 0, 0, 3, 6, 12, 24]))  # months; most spot-starting
    start = f"{fwd}M" if fwd else "0D"
    t = {"id": tid, "type": "Swap", "netting_set": ns, "currency": ccy, "notional": _notional(rng),
         "start": start, "tenor": f"{years}Y",
         "fixed_rate": round(RATE_LEVEL[ccy] + float(rng.normal(0.0, 0.006)), 5),
         "payer": bool(rng.random() < 0.5), "fixed_tenor": "1Y", "fixed_day_count": "30/360",
         "float_index": names[k]}
    if names[k] in ("USD-SOFR", "GBP-SONIA"):
        t["fixed_day_count"] = "ACT/360" if ccy == "USD" else "ACT/365F"
    else:
        t["float_tenor"] = tenors[k]
    if rng.random() < 0.05:
        t["amortisation"] = {"type": "linear"}
    if rng.random() < 0.1:
        t["spread"] = round(float(rng.normal(0.0, 0.001)), 5)
    return t


def _pair(rng):
    return [("EUR", "USD"), ("GBP", "USD"), ("EUR", "GBP")][int(rng.choice(3, p=[0.5, 0.3, 0.2]))]


def _fx_forward(rng, tid: str, ns: str) -> dict:
    fgn, dom = _pair(rng)
    rate = SPOTS[fgn] / SPOTS.get(dom, 1.0)
    months = int(rng.choice([1, 2, 3, 6, 9, 12, 18, 24]))
    amount = _notional(rng, 5.0e6)
    strike = rate * (1.0 + float(rng.normal(0.0, 0.03)))
    buy_fgn = bool(rng.random() < 0.5)
    legs = {"buy_currency": fgn, "buy_amount": amount, "sell_currency": dom,
            "sell_amount": round(amount * strike, 2)}
    if not buy_fgn:
        legs = {"buy_currency": dom, "buy_amount": round(amount * strike, 2), "sell_currency": fgn,
                "sell_amount": amount}
    return {"id": tid, "type": "FxForward", "netting_set": ns, **legs, "maturity": f"{months}M"}


def _fx_option(rng, tid: str, ns: str) -> dict:
    fgn = str(rng.choice(["EUR", "GBP"], p=[0.6, 0.4]))
    expiry = str(rng.choice(["1M", "3M", "6M", "1Y", "2Y", "3Y"]))
    strike = round(SPOTS[fgn] * (1.0 + float(rng.uniform(-0.15, 0.15))), 4)
    return {"id": tid, "type": "FxOption", "netting_set": ns, "foreign_currency": fgn, "domestic_currency": "USD",
            "notional": _notional(rng, 5.0e6), "strike": strike, "expiry": expiry,
            "call": bool(rng.random() < 0.5), "long": bool(rng.random() < 0.6)}


def _swaption(rng, tid: str, ns: str) -> dict:
    ccy = str(rng.choice(["USD", "EUR"], p=[0.6, 0.4]))
    index, float_tenor = SWAPTION_INDEX[ccy]
    expiry = int(rng.choice([1, 2, 3, 5, 7, 10]))
    tenor = int(rng.choice([2, 5, 10]))
    return {"id": tid, "type": "Swaption", "netting_set": ns, "currency": ccy, "notional": _notional(rng),
            "expiry": f"{expiry}Y", "maturity": f"{expiry + tenor}Y",
            "fixed_rate": round(RATE_LEVEL[ccy] + float(rng.normal(0.0, 0.005)), 5),
            "payer": bool(rng.random() < 0.5), "fixed_tenor": "1Y", "float_index": index,
            "float_tenor": float_tenor, "settlement": "physical" if rng.random() < 0.7 else "cash",
            "long": bool(rng.random() < 0.6)}


def _xccy(rng, tid: str, ns: str) -> dict:
    fgn = str(rng.choice(["EUR", "GBP"]))
    usd = _notional(rng)
    fgn_leg = {"currency": fgn, "notional": round(usd / SPOTS[fgn], 0)}
    if fgn == "EUR":
        fgn_leg["float_index"] = "EUR-EURIBOR-6M"
    else:
        fgn_leg.update({"float_index": "GBP-SONIA", "tenor": "3M"})
    usd_leg = {"currency": "USD", "notional": usd, "float_index": "USD-LIBOR-3M",
               "spread": round(float(rng.normal(0.001, 0.0005)), 5)}
    pay, rec = (fgn_leg, usd_leg) if rng.random() < 0.5 else (usd_leg, fgn_leg)
    return {"id": tid, "type": "CrossCurrencySwap", "netting_set": ns, "start": "0D",
            "tenor": f"{int(rng.choice([2, 3, 5, 7, 10]))}Y", "pay_leg": pay, "receive_leg": rec}


def _fra(rng, tid: str, ns: str) -> dict:
    idx, ccy = [("USD-LIBOR-3M", "USD"), ("EUR-EURIBOR-6M", "EUR")][int(rng.random() < 0.4)]
    return {"id": tid, "type": "Fra", "netting_set": ns, "float_index": idx, "notional": _notional(rng),
            "start": f"{int(rng.choice([1, 3, 6, 9, 12, 18]))}M",
            "fixed_rate": round(RATE_LEVEL[ccy] + float(rng.normal(0.0, 0.004)), 5), "long": bool(rng.random() < 0.5)}


def _equity_forward(rng, tid: str, ns: str) -> dict:
    name, spot = [("SPX", 5800.0), ("SX5E", 4900.0)][int(rng.random() < 0.4)]
    return {"id": tid, "type": "EquityForward", "netting_set": ns, "name": name,
            "quantity": float(rng.choice([100, 500, 1000, 2000])),
            "strike": round(spot * (1.0 + float(rng.normal(0.02, 0.05))), 1),
            "maturity": str(rng.choice(["3M", "6M", "1Y", "2Y", "3Y"])), "long": bool(rng.random() < 0.6)}


def _cap_floor(rng, tid: str, ns: str) -> dict:
    index, ccy, tenor = [("USD-LIBOR-3M", "USD", None), ("EUR-EURIBOR-6M", "EUR", None),
                         ("GBP-SONIA", "GBP", "3M")][int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
    t = {"id": tid, "type": "CapFloor", "netting_set": ns, "index": index, "notional": _notional(rng),
         "start": str(rng.choice(["0D", "0D", "3M", "1Y"])), "maturity": f"{int(rng.choice([2, 3, 5, 7, 10]))}Y",
         "strike": round(max(0.005, RATE_LEVEL[ccy] + float(rng.normal(0.003, 0.006))), 4),
         "cap": bool(rng.random() < 0.6), "long": bool(rng.random() < 0.5)}
    if tenor:
        t["tenor"] = tenor
    return t


def _equity_option(rng, tid: str, ns: str) -> dict:
    name, spot = [("SPX", 5800.0), ("SX5E", 4900.0)][int(rng.random() < 0.4)]
    return {"id": tid, "type": "EquityOption", "netting_set": ns, "name": name,
            "quantity": float(rng.choice([100, 250, 500, 1000])),
            "strike": round(spot * (1.0 + float(rng.uniform(-0.15, 0.15))), 1),
            "expiry": str(rng.choice(["3M", "6M", "1Y", "2Y", "3Y"])), "call": bool(rng.random() < 0.5),
            "long": bool(rng.random() < 0.5)}


# The desk example (examples/portfolio/desk.yaml): 12 counterparties with credit curves in
# conf/market/example.yaml; 4 of them have a second netting set (a collateralised and an uncollateralised
# book), so the counterparty PFE of the limits aggregates several netting sets.
DESK_COUNTERPARTIES = ("CP_A", "CP_B", "CP_C", "CP_D", "CP_E", "CP_F", "CP_G", "CP_H", "CP_I", "CP_J", "CP_K", "CP_L")
DESK_TRADES = (("SWP", 70, _swap), ("FXF", 40, _fx_forward), ("FXO", 25, _fx_option), ("SWO", 20, _swaption),
               ("XCS", 20, _xccy), ("FRA", 20, _fra), ("EQF", 15, _equity_forward), ("CAP", 15, _cap_floor),
               ("EQO", 15, _equity_option))


def generate_desk_portfolio(seed: int = 11) -> dict:
    """240 trades of all nine trade types (USD, EUR, GBP; SPX and SX5E) in 16 netting sets of 12 counterparties,
    7 netting sets with CSAs (two-way and one-way); every trade type in every netting set size class."""
    rng = np.random.default_rng(seed)
    netting = {}
    for i, cp in enumerate(DESK_COUNTERPARTIES):
        books = ("CSA", "UNC") if i in (0, 3, 6, 9) else (("CSA",) if i % 3 == 1 else ("UNC",))
        for book in books:
            ns = {"counterparty": cp}
            if book == "CSA":
                kind = "cpty_posts" if i in (4, 10) else "two_way"
                threshold = float(rng.choice([0.0, 1.0e6, 5.0e6]))
                mta = float(rng.choice([1.0e5, 2.5e5]))
                ns["csa"] = {"margining": kind, "threshold_cpty": threshold, "mta_cpty": mta, "rounding": 1.0e4}
                if kind == "two_way":
                    ns["csa"].update({"threshold_bank": threshold, "mta_bank": mta})
            netting[f"NS_{cp}_{book}"] = ns
    names = list(netting)
    weights = rng.pareto(2.0, len(names)) + 0.5
    weights /= weights.sum()
    trades = []
    for prefix, n, make in DESK_TRADES:
        for i in range(n):
            # the first trades of each type go round the netting sets, so every book holds a mix
            ns = names[i % len(names)] if i < len(names) // 2 else names[int(rng.choice(len(names), p=weights))]
            trades.append(make(rng, f"{prefix}_{i + 1:03d}", ns))
    return {"netting_sets": netting, "trades": trades}


def generate_portfolio(n_swaps: int = 600, n_fx_forwards: int = 200, n_fx_options: int = 100,
                       n_swaptions: int = 100, n_netting_sets: int = 50, seed: int = 1,
                       with_csa_fraction: float = 0.4, n_xccy: int = 0, n_fras: int = 0,
                       n_equity_forwards: int = 0, n_cap_floors: int = 0, n_equity_options: int = 0) -> dict:
    """The dict of a portfolio file (see module docstring); the same seed gives the same portfolio."""
    if n_netting_sets <= 0:
        raise ValueError("n_netting_sets must be > 0")
    if not 0.0 <= with_csa_fraction <= 1.0:
        raise ValueError("with_csa_fraction must be in [0, 1]")
    rng = np.random.default_rng(seed)
    netting = _netting_sets(rng, n_netting_sets, with_csa_fraction)
    names = list(netting)
    # netting-set sizes vary: a few big relationships, many small ones
    weights = rng.pareto(1.5, n_netting_sets) + 0.2
    weights /= weights.sum()
    trades = []
    for prefix, n, make in (("SWP", n_swaps, _swap), ("FXF", n_fx_forwards, _fx_forward),
                            ("FXO", n_fx_options, _fx_option), ("SWO", n_swaptions, _swaption),
                            ("XCS", n_xccy, _xccy), ("FRA", n_fras, _fra), ("EQF", n_equity_forwards, _equity_forward),
                            ("CAP", n_cap_floors, _cap_floor), ("EQO", n_equity_options, _equity_option)):
        for i in range(n):
            ns = names[int(rng.choice(n_netting_sets, p=weights))]
            trades.append(make(rng, f"{prefix}_{i + 1:04d}", ns))
    return {"netting_sets": netting, "trades": trades}


def write_yaml(data: dict, path: str, header: str = "") -> None:
    with open(path, "w") as fh:
        if header:
            fh.write("".join(f"# {line}\n" for line in header.splitlines()))
        yaml.safe_dump(data, fh, sort_keys=False, default_flow_style=None, width=140)


def main(argv=None) -> None:
    args = list(argv or sys.argv[1:])
    if args and args[0] == "desk":
        out = args[1] if len(args) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "desk.yaml")
        data = generate_desk_portfolio()
        write_yaml(data, out, "Desk example (portfolio=desk): 240 trades of every trade type (70 swaps, 40 FX forwards, 25 FX\n"
                              "options, 20 swaptions, 20 cross-currency swaps, 20 FRAs, 15 equity forwards, 15 caps/floors,\n"
                              "15 equity options) in 16 netting sets of 12 counterparties (8 with CSAs) on\n"
                              "conf/market/example.yaml. Generated by `python examples/portfolio/generate.py desk` (seed 11);\n"
                              "do not edit by hand.")
        print(f"wrote {out}: {len(data['trades'])} trades, {len(data['netting_sets'])} netting sets")
        return
    out = (args or [os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_1k.yaml")])[0]
    data = generate_portfolio(600, 200, 100, 100, n_netting_sets=50, seed=1, with_csa_fraction=0.4)
    write_yaml(data, out, "Benchmark portfolio bench-1k: 600 swaps, 200 FX forwards, 100 FX options, 100 European\n"
                          "swaptions in 50 netting sets (40% with CSAs) on conf/market/example.yaml.\n"
                          "Generated by examples/portfolio/generate.py (seed 1); do not edit by hand.")
    print(f"wrote {out}: {len(data['trades'])} trades, {len(data['netting_sets'])} netting sets")


if __name__ == "__main__":
    main()
