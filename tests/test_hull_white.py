"""Hull-White model and closed forms against independent references.

References: the textbook numbers in /work/shared/reference/closed_forms.md (flat 3% cc, a = 0.1, sigma = 1%),
QuantLib's HullWhite / JamshidianSwaptionEngine / AnalyticCapFloorEngine, and a plain numpy/scipy model
(`RefHW`: variances by quadrature of their defining integrals, option values as T0-forward-measure
expectations of the payoff, Brigo-Mercurio 3.39: under Q^T0, dx = (-a x - sigma^2 B(t,T0)) dt + sigma dW,
integrated with Gauss-Legendre). Calls into the package reuse a few argument shapes on purpose: on CPU each
new jit signature costs a ~1 s XLA compile, which would otherwise dominate the run time.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize

import exposure  # noqa: F401  (float64)
from exposure.market.curves import DiscountCurve
from exposure.models import hull_white as hw
from exposure.models.hull_white import HullWhiteParams
from exposure.models.hw_options import (
    basis_factor,
    caplet,
    jamshidian_critical_state,
    pad_cashflows,
    swap_coupon_bond,
    swaption_jamshidian,
    zero_bond_option,
)

# The model functions are plain jnp; jitted here because eager dispatch compiles every primitive per shape.
hw_B, zero_bond, log_bond_intercept = jax.jit(hw.hw_B), jax.jit(hw.zero_bond), jax.jit(hw.log_bond_intercept)
integrated_variance, state_variance = jax.jit(hw.integrated_variance), jax.jit(hw.state_variance)
zeta = jax.jit(hw.zeta)

A, SIG, R = 0.1, 0.01, 0.03
NPAD = 12  # every swaption in the piecewise tests is padded to 12 flows: one compiled signature
CURVE = DiscountCurve.flat(R)
CONST = HullWhiteParams.create(A, [SIG])
PW_TIMES, PW_VOLS = [1.0, 2.0, 5.0], [0.012, 0.008, 0.015, 0.010]
PIECEWISE = HullWhiteParams.create(A, PW_VOLS, PW_TIMES)
SL_TIMES, SL_RATES = [0.5, 1, 2, 5, 10, 30], [0.021, 0.024, 0.028, 0.033, 0.037, 0.039]
SLOPED = DiscountCurve.from_zero_rates(SL_TIMES, SL_RATES)
QUAD = dict(epsabs=0.0, epsrel=2e-14, limit=200)


def phi_flat(t):
    """phi(t) = f(0,t) + sigma^2/(2a^2) (1 - e^{-at})^2 on a flat curve (Brigo-Mercurio 3.36)."""
    return R + SIG**2 / (2 * A**2) * (1 - np.exp(-A * t)) ** 2


class RefHW:
    """Numpy/scipy Hull-White: P(t,T|x) = P(0,T)/P(0,t) exp(-B x + (V(t,T) - V(0,T) + V(0,t))/2)."""

    def __init__(self, vols, vol_times, curve_times, zero_rates):
        self.vols, self.vol_times = np.asarray(vols), np.asarray(vol_times)
        self.knots_t = np.r_[0.0, curve_times]
        self.knots_y = np.r_[0.0, -np.asarray(zero_rates) * np.asarray(curve_times)]

    def sigma(self, u):
        return self.vols[np.searchsorted(self.vol_times, u, side="right")]

    def _quad(self, f, t, big_t):
        pts = [u for u in self.vol_times if t < u < big_t]
        return integrate.quad(f, t, big_t, points=pts or None, **QUAD)[0] if big_t > t else 0.0

    @functools.lru_cache(maxsize=None)
    def V(self, t, big_t):
        return self._quad(lambda u: self.sigma(u) ** 2 * (-np.expm1(-A * (big_t - u)) / A) ** 2, t, big_t)

    @functools.lru_cache(maxsize=None)
    def state_var(self, t, big_t):
        return self._quad(lambda u: self.sigma(u) ** 2 * np.exp(-2 * A * (big_t - u)), t, big_t)

    def ln_p0(self, t):
        return np.interp(t, self.knots_t, self.knots_y)  # log-linear discount factors (within the pillars)

    def bond(self, t, big_t, x):
        big_t = np.asarray(big_t, dtype=float)
        half_v = np.vectorize(lambda s: 0.5 * (self.V(t, s) - self.V(0.0, s) + self.V(0.0, t)))(big_t)
        return np.exp(self.ln_p0(big_t) - self.ln_p0(t) - (-np.expm1(-A * (big_t - t)) / A) * x + half_v)

    def forward_measure_value(self, t, x_t, t0, payoff, positive_side):
        """P(t,T0|x_t) E^T0[max(payoff(x(T0)), 0)], payoff increasing (positive_side) or decreasing in x."""
        drift = self._quad(lambda u: self.sigma(u) ** 2 * np.exp(-A * (t0 - u)) * -np.expm1(-A * (t0 - u)) / A, t, t0)
        m, sd = x_t * np.exp(-A * (t0 - t)) - drift, np.sqrt(self.state_var(t, t0))
        kink = optimize.brentq(payoff, m - 10 * sd, m + 10 * sd, xtol=1e-16)
        lo, hi = (kink, m + 12 * sd) if positive_side else (m - 12 * sd, kink)
        nodes, weights = np.polynomial.legendre.leggauss(200)
        y = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
        dens = np.exp(-0.5 * ((y - m) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
        integral = 0.5 * (hi - lo) * np.sum(weights * dens * np.maximum(payoff(y), 0.0))
        return float(self.bond(t, t0, x_t)) * integral


REF = RefHW(PW_VOLS, PW_TIMES, SL_TIMES, SL_RATES)


def annual_swap(expiry, n, strike, pad_to=None):
    """Unit-accrual annual fixed leg from T0 + 1 to T0 + n; optionally zero-padded to ``pad_to`` flows."""
    times, amounts, target = swap_coupon_bond(expiry, expiry + np.arange(1.0, n + 1), np.ones(n), strike)
    if pad_to:
        times, amounts = (z[0] for z in pad_cashflows([(times, amounts)], pad_to=pad_to))
    return times, amounts, target


# ---------------------------------------------------------------- closed_forms.md


def test_bond_closed_forms():
    b = float(hw_B(A, 1.0, 5.0))
    assert abs(b - 3.2967995) < 5e-8  # the reference's 7 decimals
    # Our A multiplies exp(-B x); the textbook's multiplies exp(-B r) with r = x + phi(1).
    a_r = float(np.exp(log_bond_intercept(CONST, CURVE, 1.0, 5.0) + b * phi_flat(1.0)))
    assert abs(a_r - 0.9786428) < 5e-8
    textbook = np.exp(-0.12 + b * R - SIG**2 / (4 * A) * (1 - np.exp(-2 * A)) * b**2)  # Brigo-Mercurio 3.39
    assert abs(a_r - textbook) < 1e-14
    assert abs(float(zero_bond(CONST, CURVE, 1.0, 5.0, 0.05 - phi_flat(1.0))) - 0.8299178661) < 1e-9


def test_zero_bond_option_closed_form():
    k = float(np.exp(-R * 4.0))  # strike at the forward P(0,5)/P(0,1)
    call = float(zero_bond_option(CONST, CURVE, 0.0, 1.0, 5.0, k, True, 0.0))
    put = float(zero_bond_option(CONST, CURVE, 0.0, 1.0, 5.0, k, False, 0.0))
    assert abs(call - 0.0107767467) < 1e-9 and abs(put - 0.0107767467) < 1e-9


@pytest.mark.parametrize("strike, expected", [(None, 0.0227716871), (0.03, 0.0236705503), (0.04, 0.0088651945)])
def test_swaption_closed_forms(strike, expected):
    # 5y x 5y, annual fixed leg with unit accruals, pay times 6..10; ATM = forward swap rate = e^0.03 - 1.
    pay = 5.0 + np.arange(1.0, 6.0)
    atm = (np.exp(-0.15) - np.exp(-0.30)) / np.sum(np.exp(-R * pay))
    k = atm if strike is None else strike
    times, amounts, target = annual_swap(5.0, 5, k)
    x_star = jamshidian_critical_state(CONST, CURVE, 5.0, times, amounts, target)  # cached x*, as in a simulation
    payer = float(swaption_jamshidian(CONST, CURVE, 0.0, 0.0, 5.0, times, amounts, True, target, x_star))
    assert abs(payer - expected) < 1e-9
    # Payer - receiver = forward payer swap value, a model-free identity.
    receiver = float(swaption_jamshidian(CONST, CURVE, 0.0, 0.0, 5.0, times, amounts, False, target, x_star))
    assert abs(payer - receiver - (np.exp(-0.15) - np.exp(-0.30) - k * np.sum(np.exp(-R * pay)))) < 1e-15


# ---------------------------------------------------------------- QuantLib


@pytest.fixture(scope="module")
def ql_env():
    ql = pytest.importorskip("QuantLib")
    today = ql.Date(15, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    ts = ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc, ql.Continuous, ql.NoFrequency))
    return ql, today, dc, ts, ql.HullWhite(ts, A, SIG)


def test_bond_and_bond_option_vs_quantlib(ql_env):
    ql, _, _, _, model = ql_env
    for t, big_t, r in [(1.0, 5.0, 0.05), (2.0, 7.0, 0.01), (0.5, 30.0, -0.01)]:
        ours = float(zero_bond(CONST, CURVE, t, big_t, r - phi_flat(t)))
        # QuantLib takes f(0,t) by finite differences of the curve: ~1e-12 relative, not an exact match.
        assert abs(ours / model.discountBond(t, big_t, r) - 1) < 1e-10
    for expiry, mat, k in [(1, 5, 0.88), (0.5, 10, 0.7), (3, 4, 0.99), (2, 7, 0.9), (0.1, 0.6, 0.985)]:
        for ql_type, is_call in [(ql.Option.Call, True), (ql.Option.Put, False)]:
            ref = model.discountBondOption(ql_type, k, expiry, mat)
            ours = float(zero_bond_option(CONST, CURVE, 0.0, float(expiry), float(mat), k, is_call, 0.0))
            assert abs(ours / ref - 1) < 1e-12, (expiry, mat, k, is_call)


@pytest.mark.parametrize("strike", [0.02, 0.03, 0.0304548, 0.04, 0.06])
@pytest.mark.parametrize("payer", [True, False])
def test_swaption_vs_quantlib_jamshidian(ql_env, strike, payer):
    ql, today, dc, ts, model = ql_env
    cal = ql.NullCalendar()
    ex = cal.advance(today, ql.Period(5, ql.Years))
    sched = ql.Schedule(
        ex, cal.advance(ex, ql.Period(5, ql.Years)), ql.Period(1, ql.Years), cal,
        ql.Unadjusted, ql.Unadjusted, ql.DateGeneration.Forward, False,
    )
    index = ql.IborIndex("X1Y", ql.Period(1, ql.Years), 0, ql.USDCurrency(), cal, ql.Unadjusted, False, dc, ts)
    swap = ql.VanillaSwap(ql.Swap.Payer if payer else ql.Swap.Receiver, 1.0, sched, strike, dc, sched, index, 0.0, dc)
    swaption = ql.Swaption(swap, ql.EuropeanExercise(ex))
    swaption.setPricingEngine(ql.JamshidianSwaptionEngine(model, ts))
    dates = list(sched)
    t0 = dc.yearFraction(today, ex)
    pay = np.array([dc.yearFraction(today, d) for d in dates[1:]])  # leap years: not whole numbers
    tau = np.array([dc.yearFraction(d1, d2) for d1, d2 in zip(dates[:-1], dates[1:])])
    times, amounts, target = swap_coupon_bond(t0, pay, tau, strike)
    x_star = jamshidian_critical_state(CONST, CURVE, t0, times, amounts, target)

    def price(xs):
        return float(swaption_jamshidian(CONST, CURVE, 0.0, 0.0, t0, times, amounts, payer, target, xs))

    ours = price(x_star)
    # QuantLib solves r* by Brent to accuracy 1e-8, so its price carries up to |dV/dr*| 1e-8 of solver error.
    dv_dx = (price(x_star + 1e-6) - price(x_star - 1e-6)) / 2e-6
    assert abs(ours - swaption.NPV()) <= 2e-8 * abs(dv_dx) + 1e-14
    # Tighter, piece by piece: our x* solves QuantLib's own bond equation (to its finite-difference f(0,t)),
    # and the sum of QuantLib's zero-bond options at our strikes K_i = P(T0,T_i; x*) equals our price.
    r_star = float(x_star) + phi_flat(t0)
    assert abs(sum(c * model.discountBond(t0, ti, r_star) for c, ti in zip(amounts, times)) - target) < 1e-11
    strikes = np.asarray(zero_bond(CONST, CURVE, t0, times, x_star))
    ql_type = ql.Option.Put if payer else ql.Option.Call
    ql_sum = sum(c * model.discountBondOption(ql_type, k, t0, ti) for c, k, ti in zip(amounts, strikes, times))
    assert abs(ours / ql_sum - 1) < 1e-12


@pytest.mark.parametrize("strike", [0.025, 0.03, 0.04])
def test_caps_floors_vs_quantlib(ql_env, strike):
    ql, today, dc, ts, model = ql_env
    cal = ql.NullCalendar()
    sched = ql.Schedule(
        cal.advance(today, ql.Period(1, ql.Years)), cal.advance(today, ql.Period(6, ql.Years)),
        ql.Period(6, ql.Months), cal, ql.Unadjusted, ql.Unadjusted, ql.DateGeneration.Forward, False,
    )
    index = ql.IborIndex("X6M", ql.Period(6, ql.Months), 0, ql.USDCurrency(), cal, ql.Unadjusted, False, dc, ts)
    leg = ql.IborLeg([1.0], sched, index, dc)
    dates = list(sched)
    start = np.array([dc.yearFraction(today, d) for d in dates[:-1]])
    end = np.array([dc.yearFraction(today, d) for d in dates[1:]])
    for inst, is_cap in [(ql.Cap(leg, [strike]), True), (ql.Floor(leg, [strike]), False)]:
        inst.setPricingEngine(ql.AnalyticCapFloorEngine(model, ts))
        # QuantLib's caplet is the same put on P(T1,T2) times (1 + K tau): option expiry = accrual start.
        ours = float(jnp.sum(caplet(CONST, CURVE, 0.0, 0.0, start, end, end - start, strike, is_cap)))
        assert abs(ours / inst.NPV() - 1) < 1e-12


# ---------------------------------------------------------------- piecewise-constant vol


def test_equal_pieces_equal_constant_vol():
    pieces = HullWhiteParams.create(A, [SIG] * 4, [0.5, 1.7, 3.0])
    t = np.array([0.0, 0.0, 0.3, 1.0, 1.2, 2.5, 0.6, 0.0, 4.0])
    big_t = np.array([0.2, 1.0, 0.9, 1.7, 5.0, 7.0, 30.0, 10.0, 4.5])
    for fn in (integrated_variance, state_variance):
        np.testing.assert_allclose(fn(pieces, t, big_t), fn(CONST, t, big_t), rtol=0, atol=1e-14)
    np.testing.assert_allclose(zeta(pieces, big_t), zeta(CONST, big_t), rtol=0, atol=1e-14)
    x = np.linspace(-0.03, 0.03, 9)
    np.testing.assert_allclose(zero_bond(pieces, CURVE, t, big_t, x), zero_bond(CONST, CURVE, t, big_t, x), atol=1e-14)
    # Options see the vol only through these two functions, so they agree too.


def test_variances_vs_quadrature_piecewise():
    pairs = [(0.0, 1.0), (0.0, 5.0), (0.0, 12.0), (0.5, 3.0), (1.5, 2.5), (2.0, 7.0), (4.0, 30.0), (5.0, 6.0)]
    t, big_t = (np.array(z) for z in zip(*pairs))
    v_ref = np.array([REF.V(a, b) for a, b in pairs])
    s_ref = np.array([REF.state_var(a, b) for a, b in pairs])
    z_ref = np.array([REF._quad(lambda u: REF.sigma(u) ** 2 * np.exp(2 * A * u), 0.0, b) for b in big_t])
    np.testing.assert_allclose(integrated_variance(PIECEWISE, t, big_t), v_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(state_variance(PIECEWISE, t, big_t), s_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(zeta(PIECEWISE, big_t), z_ref, rtol=1e-12, atol=0)
    x = np.linspace(-0.04, 0.04, 8)
    ref_bonds = np.array([REF.bond(a, b, xi) for a, b, xi in zip(t, big_t, x)])
    np.testing.assert_allclose(zero_bond(PIECEWISE, SLOPED, t, big_t, x), ref_bonds, rtol=1e-14, atol=0)


@pytest.mark.parametrize("a, d", [(0.1, 1e-3), (0.1, 0.1), (1e-4, 10.0)])
def test_integrated_variance_relative_accuracy_small_a_d(a, d):
    # V(0, d) -> sigma^2 d^3 / 3 as a d -> 0: a naive per-piece formula subtracts O(d / a^2) terms and loses
    # ~1/(a d)^2 of relative accuracy; the series branch keeps full precision.
    ref = integrate.quad(lambda u: SIG**2 * (-np.expm1(-a * (d - u)) / a) ** 2, 0.0, d, **QUAD)[0]
    p = HullWhiteParams.create(a, [SIG])
    assert abs(float(integrated_variance(p, 0.0, d)) / ref - 1) < 1e-12


# ---------------------------------------------------------------- option identities and dynamics

X11 = np.linspace(-0.05, 0.05, 11)  # one path-vector shape for all the calls below (one compile each)


def test_zero_bond_option_put_call_parity_and_expiry():
    for t in (0.0, 0.7, 2.0):
        for k in (0.75, 0.9, 1.0):
            call = zero_bond_option(PIECEWISE, SLOPED, t, 2.0, 6.0, k, True, X11)
            put = zero_bond_option(PIECEWISE, SLOPED, t, 2.0, 6.0, k, False, X11)
            fwd = REF.bond(t, 6.0, X11) - k * REF.bond(t, 2.0, X11)
            np.testing.assert_allclose(call - put, fwd, rtol=0, atol=2e-15)
    # At expiry: the intrinsic value, with a finite gradient; after expiry: 0.
    at = zero_bond_option(PIECEWISE, SLOPED, 2.0, 2.0, 6.0, 0.87, True, X11)
    np.testing.assert_allclose(at, np.maximum(REF.bond(2.0, 6.0, X11) - 0.87, 0.0), rtol=0, atol=2e-15)
    grad = jax.grad(lambda y: jnp.sum(zero_bond_option(PIECEWISE, SLOPED, 2.0, 2.0, 6.0, 0.87, True, y)))(X11)
    assert np.all(np.isfinite(grad))
    assert not np.any(np.asarray(zero_bond_option(PIECEWISE, SLOPED, 2.5, 2.0, 6.0, 0.5, True, X11)))


@pytest.mark.parametrize("t, x_t", [(0.0, 0.0), (1.3, 0.012), (2.9, -0.02)])
def test_options_at_future_state_vs_forward_measure_quadrature(t, x_t):
    t0, k = 3.0, 0.85
    ref = REF.forward_measure_value(t, x_t, t0, lambda y: k - REF.bond(t0, 8.0, y), True)
    ours = float(zero_bond_option(PIECEWISE, SLOPED, t, t0, 8.0, k, False, np.full(11, x_t))[0])
    assert abs(ours / ref - 1) < 1e-11

    times, amounts, target = annual_swap(t0, 7, 0.034, NPAD)

    def coupon_bond(y):
        y = np.asarray(y, dtype=float)
        return np.sum(amounts * REF.bond(t0, times, y[..., None]), axis=-1)

    for payer, w in ((True, 1.0), (False, -1.0)):
        ref = REF.forward_measure_value(t, x_t, t0, lambda y: w * (target - coupon_bond(y)), payer)
        ours = swaption_jamshidian(PIECEWISE, SLOPED, t, np.full(11, x_t), t0, times, amounts, payer, target)
        assert abs(float(ours[0]) / ref - 1) < 1e-11, (payer, float(ours[0]), ref)


def test_multicurve_deterministic_basis_swaption_and_caplet():
    fwd = DiscountCurve.from_zero_rates(SL_TIMES, [0.024, 0.027, 0.0305, 0.0352, 0.0391, 0.041])
    t0, k = 2.0, 0.036
    pay = t0 + np.arange(1.0, 6.0)  # annual fixed, unit accruals
    grid = t0 + np.arange(0.0, 5.01, 0.5)  # semiannual float
    s, e = grid[:-1], grid[1:]
    d_s, d_e, f_s, f_e = np.exp(REF.ln_p0(s)), np.exp(REF.ln_p0(e)), fwd.discount(s), fwd.discount(e)
    b = f_s / f_e * d_e / d_s
    np.testing.assert_allclose(basis_factor(SLOPED, fwd, s, e), b, rtol=1e-14)
    times, amounts, target = swap_coupon_bond(t0, pay, np.ones(5), k, s, e, b)
    assert len(times) == 10 and np.all(amounts[:-1] < 0.5)  # 9 resets with -(b_j - 1) +- coupons, notional
    times, amounts = (z[0] for z in pad_cashflows([(times, amounts)], pad_to=NPAD))
    # Today's forward swap value from the curves alone equals the coupon-bond form.
    fwd_pv = np.sum((f_s / f_e - 1) * d_e) - k * np.sum(np.exp(REF.ln_p0(pay)))
    assert abs(target * np.exp(REF.ln_p0(t0)) - np.sum(amounts * np.exp(REF.ln_p0(times))) - fwd_pv) < 1e-15

    def swap_at_t0(y):
        # Float coupon 0.5 L_j paid at e_j, 1 + 0.5 L_j(T0) = b_j P(T0,s_j)/P(T0,e_j) (deterministic basis).
        y = np.asarray(y, dtype=float)[..., None]
        float_leg = np.sum(b * REF.bond(t0, s, y) - REF.bond(t0, e, y), axis=-1)
        return float_leg - k * np.sum(REF.bond(t0, pay, y), axis=-1)

    ref = REF.forward_measure_value(0.0, 0.0, t0, swap_at_t0, True)
    ours = float(swaption_jamshidian(PIECEWISE, SLOPED, 0.0, np.zeros(11), t0, times, amounts, True, target)[0])
    assert abs(ours / ref - 1) < 1e-11
    # Caplet on the forward curve's 6M rate fixing at 3.5: 0.5 (L - K)^+ paid at 4.0, worth
    # P(3.5,4) (b / P(3.5,4) - 1 - 0.5 K) at the fixing.
    bc = float(fwd.discount(3.5) / fwd.discount(4.0) * np.exp(REF.ln_p0(4.0) - REF.ln_p0(3.5)))
    ref = REF.forward_measure_value(0.0, 0.0, 3.5, lambda y: bc - (1 + 0.5 * k) * REF.bond(3.5, 4.0, y), True)
    ours = float(caplet(PIECEWISE, SLOPED, 0.0, np.zeros(11), 3.5, 4.0, 0.5, k, True, bc)[0])
    assert abs(ours / ref - 1) < 1e-11


def test_swaption_at_expiry_is_intrinsic_and_dead_after():
    times, amounts, target = annual_swap(3.0, 7, 0.033, NPAD)
    cb = np.sum(amounts * REF.bond(3.0, times, X11[:, None]), axis=-1)
    for payer, w in ((True, 1.0), (False, -1.0)):
        v = swaption_jamshidian(PIECEWISE, SLOPED, 3.0, X11, 3.0, times, amounts, payer, target)
        np.testing.assert_allclose(v, np.maximum(w * (target - cb), 0.0), rtol=0, atol=2e-15)
    after = swaption_jamshidian(PIECEWISE, SLOPED, 3.01, X11, 3.0, times, amounts, True, target)
    assert not np.any(np.asarray(after))


def test_many_trades_many_paths_vmap_and_grad():
    swaps = [annual_swap(2.0, 5, 0.03, NPAD), annual_swap(4.0, 3, 0.028, NPAD), annual_swap(1.0, 9, 0.035, NPAD)]
    times, amounts = np.stack([s[0] for s in swaps]), np.stack([s[1] for s in swaps])
    expiry, payer = np.array([2.0, 4.0, 1.0]), np.array([True, False, True])
    x_star = jamshidian_critical_state(PIECEWISE, SLOPED, expiry, times, amounts)
    batched = swaption_jamshidian(PIECEWISE, SLOPED, 0.5, X11[:, None], expiry, times, amounts, payer, 1.0, x_star)
    assert batched.shape == (11, 3)
    for i in range(3):  # one trade at a time, its own root-find: the same numbers
        e_i, p_i = float(expiry[i]), bool(payer[i])
        single = swaption_jamshidian(PIECEWISE, SLOPED, 0.5, X11, e_i, times[i], amounts[i], p_i, 1.0)
        np.testing.assert_allclose(batched[:, i], single, rtol=1e-13, atol=1e-15)
    per_path = jax.vmap(
        lambda x: swaption_jamshidian(PIECEWISE, SLOPED, 0.5, x, expiry, times, amounts, payer, 1.0, x_star)
    )(X11)
    np.testing.assert_allclose(per_path, batched, rtol=1e-14, atol=1e-17)

    # Greeks through the critical state: the implicit Newton step gives dx*/dsigma = central differences.
    def x_star_sum(vols):
        p = HullWhiteParams(PIECEWISE.mean_reversion, PIECEWISE.vol_times, vols)
        return jnp.sum(jamshidian_critical_state(p, SLOPED, expiry, times, amounts) * jnp.array([1.0, -2.0, 0.5]))

    vols = PIECEWISE.vol_values
    grad = jax.jit(jax.grad(x_star_sum))(vols)
    h = 1e-6
    fd = [(x_star_sum(vols.at[i].add(h)) - x_star_sum(vols.at[i].add(-h))) / (2 * h) for i in range(vols.size)]
    assert np.max(np.abs(grad)) > 1e-3  # the vols do move x* (through A(T0, T_i))
    np.testing.assert_allclose(grad, np.array(fd), rtol=1e-6, atol=1e-10)


def test_rate_model_interface_matches_the_hull_white_closed_forms():
    """The NumPy RateModel the pricers use gives the JAX model functions' bonds, variances and x*."""
    from exposure.models.hull_white import integrated_phi, state_variance, zero_bond
    from exposure.models.hw_options import jamshidian_critical_state
    from exposure.models.rate_model import HullWhiteRateModel, RateModel

    p = HullWhiteParams.create(0.07, [0.008, 0.012, 0.01], [1.0, 4.0])
    curve = DiscountCurve.from_zero_rates([1.0, 5.0, 20.0], [0.03, 0.033, 0.036])
    rm = HullWhiteRateModel(p, curve)
    t = np.array([0.0, 0.5, 2.0, 7.0])[:, None]
    T = np.array([0.25, 3.0, 10.0, 25.0])[None, :]
    x = np.array([-0.02, 0.0, 0.01, 0.05])[:, None]
    np.testing.assert_allclose(rm.zero_bond(t, T, x), np.where(T > t, np.asarray(zero_bond(p, curve, t, np.maximum(T, t), x)), 1.0), rtol=1e-13)
    np.testing.assert_allclose(rm.state_variance(t, T), np.asarray(state_variance(p, t, T)), rtol=1e-13, atol=1e-18)
    np.testing.assert_allclose(rm.integrated_drift(T[0]), np.asarray(integrated_phi(p, curve, T[0])), rtol=1e-13)
    pay = np.array([[3.0, 4.0, 5.0, 6.0], [2.5, 3.5, 4.5, 4.5]])
    amt = np.array([[0.03, 0.03, 0.03, 1.03], [0.02, 0.02, 1.02, 0.0]])
    exp = np.array([2.0, 1.5])
    np.testing.assert_allclose(rm.critical_state(exp, pay, amt, np.ones(2)),
                               np.asarray(jamshidian_critical_state(p, curve, exp, pay, amt, np.ones(2))), atol=1e-14)
    with pytest.raises(TypeError):  # an incomplete model cannot be built
        type("Partial", (RateModel,), {"bond_coefficients": lambda self, t, T: (t, T)})()


def test_rate_model_bond_coefficients_are_the_intercept_formula_bit_for_bit():
    """HullWhiteRateModel.bond_coefficients evaluates ln P(0, .) and V(0, .) on t and T alone (not on the broadcast
    grid): the same values, bit for bit, as ``log_bond_intercept`` and ``hw_B`` on the broadcast arrays with T
    clamped to t (T < t, T = t, T beyond the last pillar, a grid, elementwise and scalar inputs)."""
    from exposure.models.rate_model import HullWhiteRateModel

    p = HullWhiteParams.create(0.07, [0.008, 0.012, 0.01, 0.009], [1.0, 4.0, 9.5])
    curve = DiscountCurve.from_zero_rates([1.0, 5.0, 20.0], [0.03, 0.033, 0.036])
    rm = HullWhiteRateModel(p, curve)
    rng = np.random.default_rng(7)
    t_grid = np.concatenate([[0.0, 1.0, 4.0, 7.25], rng.uniform(0.0, 30.0, 40)])
    T_grid = np.concatenate([[0.0, 1.0, 4.0, 7.25, 25.0, 40.0], rng.uniform(0.0, 45.0, 60)])
    for t, T in ((t_grid[:, None], T_grid[None, :]), (t_grid, T_grid[:t_grid.size]), (2.0, T_grid), (3.0, 1.5)):
        tb, Tb = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(T, dtype=np.float64))
        Tc = np.maximum(Tb, tb)
        ln_a, b = rm.bond_coefficients(t, T)
        assert np.array_equal(ln_a, hw.log_bond_intercept(p, curve, tb, Tc, xp=np))
        assert np.array_equal(b, hw.hw_B(0.07, tb, Tc, xp=np))
        assert np.all(ln_a[Tb <= tb] == 0.0) and np.all(b[Tb <= tb] == 0.0)  # a bond past its maturity: P = 1
