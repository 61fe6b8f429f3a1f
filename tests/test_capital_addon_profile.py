"""The SA-CCR EAD profile computed for all dates at once (``capital.addon_profile``) is bit for bit the
date-by-date one (``saccr_netting_set`` of the trades aged to each date, ``profile.saccr_profile_dates``) on a
mixed book of every asset class, options expiring on the grid, negative rates (shifted deltas), explicit deltas
and shifts, basis and volatility hedging sets, margined (capped and not) and unmargined sets."""

import numpy as np
import pytest

from exposure.capital.ahead import ProfileAddons
from exposure.capital.addon_profile import addon_profile
from exposure.capital.profile import saccr_profile, saccr_profile_dates
from exposure.capital.saccr import MarginTerms
from exposure.capital.saccr_tables import SaccrTrade
from exposure.capital.settings import CapitalSettings


def _book(seed: int) -> list:
    rng = np.random.default_rng(seed)
    out = []
    u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
    for i in range(60):
        kind = i % 10
        m = u(0.05, 12.0)
        base = dict(trade_id=f"T{i}", netting_set="NS", notional=u(1e5, 1e7), maturity=m, long=bool(rng.random() < 0.5))
        if kind in (0, 1):  # IR swaps in three currencies, some forward starting, one basis
            out.append(SaccrTrade(**base, asset_class="IR", hedging_set=["USD", "EUR", "GBP"][i % 3],
                                  start=u(0, 2) if kind else 0.0, end=m, basis=i % 7 == 0))
        elif kind == 2:  # IR options, some struck or priced below zero (shift), expiries on and off the grid
            ex = 0.5 * int(rng.integers(1, 8)) if i % 4 == 0 else u(0.1, m)
            out.append(SaccrTrade(**base, asset_class="IR", hedging_set=["USD", "EUR"][i % 2], start=ex, end=m,
                                  option=["call", "put"][i % 2], price=u(-0.005, 0.03), strike=u(-0.004, 0.03),
                                  expiry=ex, shift=0.02 if i % 6 == 0 else None))
        elif kind == 3:  # FX forwards and options in two pairs, one with an explicit delta
            pair = ["EURUSD", "GBPUSD"][i % 2]
            opt = dict(option="call", price=u(1.0, 1.3), strike=u(1.0, 1.3), expiry=u(0.1, m)) if i % 3 else {}
            out.append(SaccrTrade(**base, asset_class="FX", hedging_set=pair, delta=0.3 if i % 9 == 0 else None,
                                  volatility=i % 11 == 0, **opt))
        elif kind == 4:  # credit: single names and an index, a tranche
            tr = dict(option="tranche", attachment=0.03, detachment=0.07) if i % 3 == 0 else {}
            out.append(SaccrTrade(**base, asset_class="CR", risk_factor=["ACME", "CDX"][i % 2],
                                  sub_class=["BBB", "IG"][i % 2], is_index=i % 2 == 1, start=0.0, end=m, **tr))
        elif kind in (5, 6):  # equity forwards and options on two names (one an index)
            opt = dict(option="put", price=u(80, 120), strike=u(80, 120), expiry=u(0.1, m)) if kind == 6 else {}
            out.append(SaccrTrade(**base, asset_class="EQ", risk_factor=["SPX", "XYZ"][i % 2],
                                  is_index=i % 2 == 0, **opt))
        else:  # commodities in three hedging sets
            out.append(SaccrTrade(**base, asset_class="CO", risk_factor=["WTI", "GOLD", "POWER"][i % 3],
                                  sub_class=["oil_gas", "metals", "electricity"][i % 3]))
    return out


TERMS = [MarginTerms(False), MarginTerms(True, threshold=1e5, mta=1e4, nica=5e4, collateral=3e5, mpor_days=10),
         MarginTerms(True, threshold=5e7, mpor_days=20)]  # the last: the unmargined EAD is lower (capped)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("terms", TERMS, ids=["unmargined", "margined", "capped"])
def test_all_dates_at_once_is_the_date_by_date_profile_bit_for_bit(seed, terms):
    trades = _book(seed)
    times = np.concatenate([[0.0], np.arange(1, 61) * 0.25, [12.5]])  # past every maturity at the end
    ee = np.random.default_rng(seed + 10).normal(0.0, 1e6, times.size)
    s = CapitalSettings()
    new, ref = saccr_profile(trades, terms, ee, times, s), saccr_profile_dates(trades, terms, ee, times, s)
    assert np.any(new[1:-1] > 0) and new[-1] == 0.0
    assert new.tobytes() == ref.tobytes()


def test_trades_it_does_not_cover_go_date_by_date():
    t = SaccrTrade("X", "NS", "EQ", 1e6, 2.0, risk_factor="SPX", option="call", price=100.0, strike=None, expiry=1.0)
    assert addon_profile([t], MarginTerms(), np.array([0.0, 1.0]), 1.4) is None
    bad = SaccrTrade("Y", "NS", "EQ", 1e6, 2.0, risk_factor="SPX", option="call", price=-1.0, strike=100.0, expiry=1.0)
    assert addon_profile([bad], MarginTerms(), np.array([0.0, 1.0]), 1.4) is None
    with pytest.raises(ValueError, match="trade 'Y'"):  # the per-date path's error
        saccr_profile([bad], MarginTerms(), np.zeros(2), np.array([0.0, 1.0]), CapitalSettings())


def test_precomputed_addons_apply_to_their_own_dates_only():
    a = ProfileAddons(np.array([0.0, 1.0]), {"NS": (np.ones(2), np.ones(2, bool))})
    assert a.get("NS", [0.0, 1.0]) is not None
    assert a.get("NS", [0.0, 2.0]) is None and a.get("other", [0.0, 1.0]) is None
