"""The ORE side-by-side case, engine side (``benchmarks.ore.ore_inputs`` describes the whole case): the spec
(``SideBySide``), the calendar helpers its dates use, the seeded trades (``make_trades``) and this engine's
portfolio file and Hydra overrides (``to_engine_portfolio``, ``engine_overrides``)."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np

ASOF = dt.date(2026, 11, 20)
NETTING_SET = "NS_ORE"
COUNTERPARTY = "CP_A"
INDEX = {"USD": ("USD-LIBOR-3M", "3M", 3), "EUR": ("EUR-EURIBOR-6M", "6M", 6)}


@dataclasses.dataclass(frozen=True)
class SideBySide:
    """Everything both engines must agree on. ``correlations``: ((a, b, rho), ...) in the engine's factor names."""

    asof: dt.date = ASOF
    rates: tuple = (("USD", 0.03), ("EUR", 0.02))  # base currency first
    fx_spot: float = 1.10  # USD per EUR
    fx_vol: float = 0.10
    mean_reversion: float = 0.1
    hw_vol: float = 0.01
    correlations: tuple = ()
    n_swaps: int = 50
    n_fx: int = 10
    n_swaptions: int = 0  # European physical payer swaptions (``make_trades``), after the FX forwards
    trade_seed: int = 2026
    grid_points: int = 40
    grid_step_months: int = 3
    paths: int = 1000
    seed: int = 42
    quantile: float = 0.95
    ore_threads: int = 1
    max_maturity_years: int = 10
    swap_currencies: tuple = ("USD", "EUR")
    grid: tuple = ()  # explicit grid dates (datetime.date); empty: grid_points x grid_step_months

    @property
    def base(self) -> str:
        return self.rates[0][0]

    @property
    def rate(self) -> dict:
        return dict(self.rates)

    def grid_dates(self) -> list:
        if self.grid:
            return sorted(self.grid)
        return grid_dates(self.asof, self.grid_points, self.grid_step_months)


# ---- dates -----------------------------------------------------------------------------------------------


def add_months(d: dt.date, months: int) -> dt.date:
    """d + months calendar months, the day clipped to the month's end (QuantLib's unadjusted Period arithmetic)."""
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def following(d: dt.date) -> dt.date:
    """Roll a Saturday/Sunday forward to Monday (WeekendsOnly calendar, Following)."""
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


def modified_following(d: dt.date) -> dt.date:
    f = following(d)
    if f.month != d.month:
        f = d
        while f.weekday() >= 5:
            f -= dt.timedelta(days=1)
    return f


def grid_dates(asof: dt.date, n: int, step_months: int) -> list:
    return [following(add_months(asof, step_months * k)) for k in range(1, n + 1)]


def year_fraction_30360(d1: dt.date, d2: dt.date) -> float:
    dd1 = 30 if d1.day == 31 else d1.day
    dd2 = 30 if (d2.day == 31 and dd1 == 30) else d2.day
    return (360 * (d2.year - d1.year) + 30 * (d2.month - d1.month) + (dd2 - dd1)) / 360.0


# ---- trades ----------------------------------------------------------------------------------------------


def _par_rate(spec: SideBySide, ccy: str, start: dt.date, end: dt.date) -> float:
    """Par fixed rate on the flat curve: (P(s) - P(e)) / sum tau_30/360 P(T_i) (single curve, annual fixed)."""
    r = spec.rate[ccy]

    def P(d):
        return math.exp(-r * (d - spec.asof).days / 365.0)

    years = round((end - start).days / 365.25)
    dates = [modified_following(add_months(end, -12 * (years - k))) for k in range(years + 1)]
    dates[0] = modified_following(start)
    annuity = sum(year_fraction_30360(a, b) * P(b) for a, b in zip(dates[:-1], dates[1:]))
    return (P(dates[0]) - P(dates[-1])) / annuity


def make_trades(spec: SideBySide) -> list:
    """Seeded trade list (plain dicts, engine-neutral): swaps first, then FX forwards, then swaptions (the
    swaptions draw nothing from the generator, so adding them leaves the swaps and forwards as they were)."""
    rng = np.random.default_rng(spec.trade_seed)
    trades = []
    grid = set(grid_dates(spec.asof, spec.grid_points, spec.grid_step_months)) | set(spec.grid_dates())
    for i in range(spec.n_swaps):
        u = rng.random()
        ccy = spec.swap_currencies[min(int(u * len(spec.swap_currencies)), len(spec.swap_currencies) - 1)]
        fwd_steps = int(rng.choice([0, 0, 0, 1, 2, 4]))  # forward start in grid steps (fixings stay on the grid)
        start = add_months(spec.asof, spec.grid_step_months * fwd_steps)
        years = int(rng.integers(2, spec.max_maturity_years + 1))
        end = add_months(spec.asof, 12 * years)
        if end <= add_months(start, 12):
            end = add_months(start, 24)
        notional = float(rng.integers(10, 101)) * 1e5
        par = _par_rate(spec, ccy, start, end)
        rate = round(par + float(rng.uniform(-0.0075, 0.0075)), 6)
        index, tenor, _ = INDEX[ccy]
        trades.append({
            "id": f"SWP_{i + 1:03d}", "type": "Swap", "currency": ccy, "notional": notional,
            "start": start, "maturity": end, "fixed_rate": rate, "payer": bool(rng.random() < 0.5),
            "fixed_tenor": "1Y", "fixed_day_count": "30/360", "float_index": index, "float_tenor": tenor,
            "float_day_count": "ACT/360",
        })
    s, r_usd, r_eur = spec.fx_spot, spec.rate["USD"], spec.rate["EUR"]
    for i in range(spec.n_fx):
        days = int(rng.integers(30, 3 * 365))
        mat = following(spec.asof + dt.timedelta(days=days))
        while mat in grid:
            mat = following(mat + dt.timedelta(days=1))
        T = (mat - spec.asof).days / 365.0
        fwd = s * math.exp((r_usd - r_eur) * T)
        eur = float(rng.integers(10, 101)) * 1e5
        usd = round(eur * fwd * (1.0 + float(rng.uniform(-0.04, 0.04))), 2)
        buy_eur = bool(rng.random() < 0.5)
        trades.append({
            "id": f"FXF_{i + 1:03d}", "type": "FxForward", "maturity": mat,
            "buy_currency": "EUR" if buy_eur else "USD", "buy_amount": eur if buy_eur else usd,
            "sell_currency": "USD" if buy_eur else "EUR", "sell_amount": usd if buy_eur else eur,
        })
    return trades + [make_swaption(spec, i) for i in range(spec.n_swaptions)]


def make_swaption(spec: SideBySide, i: int = 0) -> dict:
    """The i-th European swaption: long, payer, physical, USD (3M floating coupons: every fixing on the quarterly
    grid), at-the-money forward, 10mm; expiry on a grid date (2Y, 3Y, ... : both engines exercise there with the
    same information; between grid dates ORE exercises at the next one), underlying starting at the expiry (no
    spot lag) and running 5Y. Expiry and schedule dates avoid weekend rolls across month ends (as of the 20th)."""
    k = (2 + i) * 12 // spec.grid_step_months  # grid index of the expiry
    months = spec.grid_step_months * k
    expiry = following(add_months(spec.asof, months))
    end = add_months(spec.asof, months + 60)
    ccy = "USD"
    index, tenor, _ = INDEX[ccy]
    return {"id": f"SWO_{i + 1:03d}", "type": "Swaption", "currency": ccy, "notional": 1e7, "expiry": expiry,
            "start": expiry, "maturity": end, "fixed_rate": round(_par_rate(spec, ccy, expiry, end), 6), "payer": True,
            "long": True, "fixed_tenor": "1Y", "fixed_day_count": "30/360", "float_index": index, "float_tenor": tenor,
            "float_day_count": "ACT/360"}


# ---- the engine's side -----------------------------------------------------------------------------------


def to_engine_portfolio(trades: list, path, csa: dict | None = None) -> str:
    """Write ``trades`` in the engine's portfolio YAML (exposure/portfolio/loader.py, pricing/linear_parse.py);
    ``csa``: the netting set's CSA terms (examples/portfolio/README.md "CSA fields"), none by default."""
    import yaml

    out = []
    for t in trades:
        d = {"id": t["id"], "type": t["type"], "netting_set": NETTING_SET}
        if t["type"] == "Swap":
            d.update({
                "currency": t["currency"], "notional": t["notional"], "start": t["start"].isoformat(),
                "maturity": t["maturity"].isoformat(), "fixed_rate": t["fixed_rate"], "payer": t["payer"],
                "fixed_tenor": t["fixed_tenor"], "fixed_day_count": t["fixed_day_count"],
                # no float_index: the leg forwards off the currency's discount curve (single curve), which is what
                # ORE's index on the same flat curve does; Hydra cannot add typed market.indices entries by override
                "float_tenor": t["float_tenor"],
                "float_day_count": t["float_day_count"], "convention": "modified_following",
            })
        elif t["type"] == "Swaption":
            d.update({k: t[k] for k in ("currency", "notional", "fixed_rate", "payer", "long", "fixed_tenor",
                                        "fixed_day_count", "float_tenor")})
            d.update({k: t[k].isoformat() for k in ("expiry", "start", "maturity")})
            d.update(convention="modified_following", settlement="physical")  # no float_index: as the swaps'
        else:
            d.update({k: t[k] for k in ("buy_currency", "buy_amount", "sell_currency", "sell_amount")})
            d["maturity"] = t["maturity"].isoformat()
        out.append(d)
    ns = {"counterparty": COUNTERPARTY}
    if csa:
        ns["csa"] = dict(csa)
    doc = {"netting_sets": {NETTING_SET: ns}, "trades": out}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fh.write("# ORE side-by-side portfolio (benchmarks/ore/ore_inputs.py); the same trades as ORE's portfolio.xml\n")
        yaml.safe_dump(doc, fh, sort_keys=False, width=200)
    return str(path)


def engine_overrides(spec: SideBySide, portfolio_path, out_dir, paths: int | None = None, seed: int | None = None,
                     chunk_size: int | None = None, store_cube: bool = True) -> list:
    """Hydra overrides: conf market=flat model=flat narrowed to USD/EUR with the spec's values, the portfolio and
    grid of the side by side."""
    paths = int(paths or spec.paths)
    ov = ["market=flat", "model=flat", "portfolio=example",
          "~market.curves.GBP", "~market.fx_spots.GBP", "~market.fx_vols.GBP", "~market.equities.SPX", "~model.ir.GBP",
          f"market.asof='{spec.asof.isoformat()}'", f"market.base_currency={spec.base}",
          f"market.fx_spots.EUR={spec.fx_spot!r}", f"market.fx_vols.EUR.vols=[{spec.fx_vol!r}]",
          "model.vol_calibration=market"]  # ORE's CrossCcyLGM here: constant sigma = fx_vol, not calibrated
    for ccy, r in spec.rates:
        ov += [f"market.curves.{ccy}.tenors=[50Y]", f"market.curves.{ccy}.quotes=[{r!r}]",
               f"market.curves.{ccy}.kind=zero",
               f"model.ir.{ccy}.mean_reversion={spec.mean_reversion!r}", f"model.ir.{ccy}.volatility=[{spec.hw_vol!r}]",
               f"model.ir.{ccy}.volatility_times=[]", f"model.ir.{ccy}.calibrate=none"]
    corr = ",".join(f"{{a: '{a}', b: '{b}', rho: {rho!r}}}" for a, b, rho in spec.correlations)
    ov.append(f"model.correlations=[{corr}]")
    grid = ",".join(d.isoformat() for d in spec.grid_dates())
    ov += [f"portfolio.trades={portfolio_path}", "portfolio.fixings=null", "portfolio.netting_sets=null",
           f"simulation.grid='{grid}'", "simulation.mpor=null", f"simulation.paths={paths}",
           f"simulation.seed={int(seed if seed is not None else spec.seed)}",
           f"simulation.chunk_size={int(chunk_size or min(paths, 5000))}", "simulation.antithetic=false",
           "simulation.precision=float64", f"output.dir={out_dir}", f"output.quantiles=[{spec.quantile!r}]",
           f"output.store_cube={'true' if store_cube else 'false'}", "output.csv=false"]
    return ov


# ---- ORE's side ------------------------------------------------------------------------------------------
