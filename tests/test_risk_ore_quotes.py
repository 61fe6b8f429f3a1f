"""The quotes of an ORE market file as risk factors (exposure.risk.ore_quotes).

  * listing: with the market given as an ORE market.txt (curves bootstrapped from MM / FRA / OIS / IBOR swap
    quotes, FX spot and vols, CDS spreads and recoveries), every quote the engine reads is a factor named and
    labelled as ORE buckets it (IR_SWAP/RATE/USD/2D/3M/10Y -> IndexCurve USD-LIBOR-3M 10Y, per 1bp), with its
    quote key; an entry the user's config gives (GBP's FX spot) is the config's, no quote; the config with the
    file read in builds the run's market to the last bit; the unsupported quote (CAPFLOOR) is no factor and is
    listed; the risk stage, given the user's config, reads the file in itself and sensitivities.csv carries the
    labels (slow);
  * a mistyped quote (a tenor '2Q') is a ConfigError naming the file and line, before any compute;
  * AD against central bump-and-revalue of the QUOTE IN THE FILE (a copy of market.txt with the line moved by
    +-h factor units, the full pipeline on the same seed; model=example, correlated, so eigh's columns of L do
    not swap under a vol bump and the bumped runs draw the same paths, checked): the AD run's d(CVA, DVA) / d quote
    (``stage.ad_sensitivities``, risk.reverse_setup: the bootstrap's implicit-function theorem) within
    tests/risk_reference.py's tolerance, 4 SE of the per-path difference + |D(2h) - D(h)| + float64 rounding,
    its per-path quotients and D(2h) from the FILE bumps too, for the USD OIS 2Y quote (the swap's discount and
    SOFR curve), the EUR/USD spot, the EUR/USD 1Y ATM vol and CP_A's 5Y CDS spread (slow, ~2 min loaded).
Breaking the code once (the file's curve quotes mapped one instrument on in ``ore_quotes.resolve``: the 2Y OIS quote
labelled onto the 3Y instrument) fails the USD OIS case: NS_UNC CVA |AD - D| 14.0 against tol 3.8, and the
listing test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exposure.errors import ConfigError
from exposure.risk import RiskSettings
from exposure.risk.ore_quotes import labelled, resolve
from exposure.risk.stage import factor_list

MARKET = (Path(__file__).parent / "data" / "ore_risk_market.txt").read_text()  # ORE quotes of 2026-11-20
# market=instruments with its USD/EUR curves, the EUR spot and vols and the book's credit names taken out: the
# file gives them (GBP's zero curve, spot and vols stay the config's, as do the swaption vols and equities)
USER = ["market=instruments", "portfolio.trades=tests/data/risk_tiny.yaml", "portfolio.fixings=null",
        "simulation.grid='6M,1Y,2Y,5Y'", "~market.curve_inputs.curves.USD", "~market.curve_inputs.curves.EUR",
        "~market.curve_inputs.curves.USD-LIBOR-3M", "~market.curve_inputs.curves.EUR-EURIBOR-6M",
        "~market.fx_spots.EUR", "~market.fx_vols.EUR", "~market.credit.CP_A", "~market.credit.CP_E",
        "~market.credit.BANK"]


def _config(path, extra=()):
    from exposure.api import compose

    return compose(USER + [f"market.curve_inputs.ore_market={path}"] + list(extra))


@pytest.fixture(scope="module")
def market_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("ore") / "market.txt"
    p.write_text(MARKET)
    return p


def test_ore_quotes_are_factors_with_their_labels(market_file):
    from exposure.market.snapshot import build_market
    from exposure.setup import setup

    cfg = _config(market_file, ["simulation.paths=64"])
    s = setup(cfg)
    c2, ore = resolve(cfg)
    assert not c2.market.curve_inputs.ore_market and factor_list(cfg, s, RiskSettings())  # the file read in
    m2 = build_market(c2.market)  # the run's market, to the last bit
    for c in s.market.curves:
        np.testing.assert_array_equal(m2.curves[c].log_dfs, s.market.curves[c].log_dfs)
    assert m2.fx_spots == s.market.fx_spots and sorted(m2.credit) == sorted(s.market.credit)
    fs = labelled(factor_list(c2, s, RiskSettings()), ore, s.market.asof)
    by_quote = {f.quote: f for f in fs if f.quote}
    got = {k: (f.factor_type, f.name, f.pillar, f.unit) for k, f in by_quote.items()}
    assert got["IR_SWAP/RATE/USD/2D/3M/10Y"] == ("IndexCurve", "USD-LIBOR-3M", "10Y", "par quote 1bp")
    assert got["IR_SWAP/RATE/USD/2D/1D/2Y"] == ("DiscountCurve", "USD", "2Y", "par quote 1bp")
    assert got["MM/RATE/USD/0D/1D"] == ("DiscountCurve", "USD", "1D", "par quote 1bp")
    assert got["MM/RATE/USD/2D/3M"] == ("IndexCurve", "USD-LIBOR-3M", "3M", "par quote 1bp")
    assert got["FRA/RATE/USD/3M/3M"] == ("IndexCurve", "USD-LIBOR-3M", "3Mx6M", "par quote 1bp")
    assert by_quote["FRA/RATE/USD/3M/3M"].pillar_time == pytest.approx(0.5, abs=0.01)  # the FRA's end
    assert got["IR_SWAP/RATE/EUR/2D/6M/1Y"] == ("IndexCurve", "EUR-EURIBOR-6M", "1Y", "par quote 1bp")
    assert got["FX/RATE/EUR/USD"] == ("FXSpot", "EUR/USD", "", "1% relative")
    assert got["FX_OPTION/RATE_LNVOL/EUR/USD/1Y/ATM"] == ("FXVol", "EUR/USD", "1Y", "vol 0.01")
    assert got["CDS/CREDIT_SPREAD/CP_A/SR/USD/5Y"] == ("CDSSpread", "CP_A", "5Y", "spread 1bp")
    assert got["RECOVERY_RATE/RATE/CP_A/SR/USD"] == ("Recovery", "CP_A", "", "recovery 0.01")
    quotes = [ln.split()[1] for ln in MARKET.splitlines()[1:]]
    supported = [q for q in quotes if not q.startswith(("CAPFLOOR", "FX/RATE/GBP"))]
    assert sorted(by_quote) == sorted(supported)  # every quote the engine reads, once
    assert len({(f.factor_type, f.name, f.pillar) for f in fs}) == len(fs)
    # the user's own entries win: GBP's spot is the config's 1.27, no quote
    gbp = next(f for f in fs if f.factor_type == "FXSpot" and f.name == "GBP/USD")
    assert gbp.quote == "" and s.market.fx_spots["GBP"] == 1.27
    assert "CAPFLOOR/RATE_NVOL: 1" in ore.unused_text()


def test_a_mistyped_quote_is_a_clear_error(tmp_path):
    p = tmp_path / "market.txt"
    p.write_text(MARKET.replace("IR_SWAP/RATE/USD/2D/1D/2Y", "IR_SWAP/RATE/USD/2D/1D/2Q"))
    with pytest.raises(ConfigError) as ei:
        resolve(_config(p))
    msg = str(ei.value)
    assert "market.curve_inputs.ore_market" in msg and f"{p}:5:" in msg and "IR_SWAP/RATE/USD/2D/1D/2Q" in msg


# -- AD against central bump-and-revalue of the quote in the file (same seed) ------------------------------------
P = 256
H = 1.0  # factor units: 1bp of a par quote or CDS spread, 1% of the FX spot


def _bumped_file(src, key: str, factor, e: float, out):
    """A copy of the market file with quote ``key`` moved by e factor units (factor units -> the file's)."""
    lines = []
    for ln in src.read_text().splitlines():
        parts = ln.split()
        if len(parts) == 3 and parts[1] == key:
            v = float(parts[2])
            v = v * (1.0 + e * factor.size) if factor.mode == "rel" else \
                v + e * factor.size * (1e-4 if factor.factor_type == "CDSSpread" else 1.0)  # bp in the engine
            ln = f"{parts[0]} {key} {v!r}"
        lines.append(ln)
    p = out / f"market_{key.replace('/', '_')}_{e}.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.fixture(scope="module")
def run(market_file, tmp_path_factory):
    from exposure.risk.setup_market import market_tangents
    from tests.risk_reference import ad_base

    ov = USER + [f"market.curve_inputs.ore_market={market_file}", f"simulation.paths={P}",
                 "simulation.chunk_size=128"]
    b = ad_base(ov, P, tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("bumps"))
    c2, ore = resolve(b["cfg"])
    b.update(cfg=c2, ore=ore, ov=ov, user_cfg=b["cfg"],
             market=market_tangents(c2, b["s"], b["measures"], b["static"].val_times))
    return b


def _file_config(b, path, tag):
    from exposure.api import compose

    return compose([o for o in b["ov"] if not o.startswith("market.curve_inputs.ore_market")] +
                   [f"market.curve_inputs.ore_market={path}", f"output.dir={b['out'] / tag}"])


@pytest.mark.slow
@pytest.mark.parametrize("key", ["IR_SWAP/RATE/USD/2D/1D/2Y", "FX/RATE/EUR/USD", "FX_OPTION/RATE_LNVOL/EUR/USD/1Y/ATM",
                                 "CDS/CREDIT_SPREAD/CP_A/SR/USD/5Y"])
def test_ore_quote_against_bump_and_revalue_of_the_file(run, market_file, key):
    """D(h) from two full runs at the quote +-h in the file; the tolerance's per-path difference and D(2h) from
    the set-up at the file bumps too (never from the factor's own config bump, which a mislabelled factor shares)."""
    from exposure.pipeline import run_pipeline
    from exposure.risk.stage import ad_sensitivities, tangent
    from exposure.risk.state import aligned, path_state
    from exposure.setup import setup

    b = run
    f = next(f for f in labelled(factor_list(b["cfg"], b["s"], RiskSettings()), b["ore"], b["s"].market.asof)
             if f.quote == key)
    _, measures, sens, *_ = ad_sensitivities(b["cfg"], b["s"], RiskSettings(), P, int(b["cfg"].simulation.seed),
                                             False, [f])
    assert tuple(measures) == tuple(b["measures"])
    ad = sens[:, :, 0].T  # (n_meas, n_ns)
    full, pp = {}, {}
    for e in (H, -H, 2 * H, -2 * H):
        path = _bumped_file(market_file, key, f, e, b["out"])
        c = _file_config(b, path, path.stem)
        s = setup(c)
        if abs(e) == H:
            full[e] = np.stack([ds[m].values for ds in [run_pipeline(c, s).dataset] for m in b["measures"]])
        Sb, _ = path_state(c, s)
        pp[e] = np.asarray(b["fwd"](dict(Sb, L=aligned(Sb["L"], b["S"]["L"]))))
    for e in (H, -H):  # the per-path view is the pipeline's run (the same paths): it only supplies the noise
        np.testing.assert_allclose(pp[e].mean(axis=-1), full[e], rtol=1e-9, atol=1e-9 * np.abs(full[e]).max())
    D = (full[H] - full[-H]) / (2 * H)
    dS = tangent(b["cfg"], f, b["S"], b["static"], b["s"], RiskSettings().setup_step, b["market"])
    ad_p = np.asarray(b["jvp"](b["S"], dS))
    D_p = (pp[H] - pp[-H]) / (2 * H)
    D2 = ((pp[2 * H] - pp[-2 * H]) / (4 * H)).mean(axis=-1)
    se = (ad_p - D_p).std(axis=-1, ddof=1) / np.sqrt(P)
    tol = 4 * se + np.abs(D2 - D) + 1e-9 * (np.abs(D) + np.abs(b["values"]))  # tests/risk_reference.py's
    print(key, f.label(), "ad", ad.round(4).tolist(), "bump", D.round(4).tolist(), "tol", tol.round(4).tolist())
    assert np.abs(ad).max() > 0.0
    assert np.all(np.abs(ad - D) <= tol), (key, b["measures"], ad, D, tol)


@pytest.mark.slow
def test_the_risk_stage_writes_the_quote_labels(run):
    """The stage reads the file in itself (the user's config, not the resolved one) and labels the table."""
    import dataclasses

    from exposure.risk.stage import run_sensitivities, sensitivities_csv_text

    b = run
    settings = dataclasses.replace(RiskSettings(), factor_types=("DiscountCurve",), measures=("CVA",))
    ds = run_sensitivities(b["user_cfg"], b["s"], settings, P, int(b["cfg"].simulation.seed), False, None, None)
    assert ds.attrs["risk_ore_quotes_not_factors"].startswith("CAPFLOOR/RATE_NVOL: 1")
    rows = sensitivities_csv_text(ds).splitlines()
    assert rows[0].endswith(",Unit,Quote")
    row = next(r for r in rows if r.startswith("NS_CSA,CVA,DiscountCurve,USD,2Y,"))
    assert row.endswith(",par quote 1bp,IR_SWAP/RATE/USD/2D/1D/2Y") and float(row.split(",")[6]) != 0.0
    assert next(r for r in rows if ",DiscountCurve,GBP," in r).endswith(",zero rate 1bp,")  # the config's own
