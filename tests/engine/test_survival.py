"""Tests for trialsim.engine.survival.

Distributions are checked against closed forms written out here (not taken from the
module): medians within 3.5 standard errors, whole laws by Kolmogorov-Smirnov tests at
p > 0.001, hazard ratios against lifelines' Cox fit; the seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from numpy.testing import assert_allclose
from scipy import stats

from trialsim.engine.survival import Baseline, event_times

Z = 3.5
LN2 = np.log(2.0)


def median_se(density_at_median: float, n: int) -> float:
    """Asymptotic SE of a sample median: 1 / (2 f(m) sqrt(n))."""
    return 1.0 / (2.0 * density_at_median * np.sqrt(n))


def piecewise_h0(t: np.ndarray) -> np.ndarray:
    """H0 of hazards 0.05 on [0, 6), 0.1 on [6, 12), 0.2 from 12, written out by hand."""
    return 0.05 * np.minimum(t, 6.0) + 0.1 * np.clip(t - 6.0, 0.0, 6.0) + 0.2 * np.maximum(t - 12.0, 0.0)


PIECEWISE = ([0.0, 6.0, 12.0], [0.05, 0.1, 0.2])


# --------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------
def test_exponential_median():
    n, rate = 200_000, 0.1
    base = Baseline.exponential(rate=rate)
    t = event_times(base, np.zeros(n), np.zeros(n), np.random.default_rng(31))
    m = LN2 / rate
    # f(m) = rate exp(-rate m) = rate / 2
    assert abs(np.median(t) - m) < Z * median_se(rate / 2, n)
    assert stats.kstest(t, stats.expon(scale=1 / rate).cdf).pvalue > 0.001
    assert_allclose(base.median(), m, rtol=1e-15)
    assert_allclose(Baseline.exponential(median=8.0).rate, LN2 / 8.0, rtol=1e-15)


def test_weibull_matches_scipy():
    shape, median = 1.5, 10.0
    base = Baseline.weibull(shape, median=median)
    scale = median / LN2 ** (1 / shape)
    assert_allclose(base.scale, scale, rtol=1e-15)
    assert_allclose(base.median(), median, rtol=1e-14)
    ref = stats.weibull_min(shape, scale=scale)
    assert_allclose(ref.median(), median, rtol=1e-12)
    n = 100_000
    t = event_times(base, np.zeros(n), np.zeros(n), np.random.default_rng(32))
    assert stats.kstest(t, ref.cdf).pvalue > 0.001
    assert abs(np.median(t) - median) < Z * median_se(ref.pdf(median), n)
    # cumulative hazard of weibull_min: -log S(t)
    grid = np.linspace(0.0, 40.0, 81)
    assert_allclose(base.cumulative_hazard(grid), -ref.logsf(grid), rtol=1e-12, atol=1e-300)


def test_piecewise_matches_exact_cdf():
    base = Baseline.piecewise(*PIECEWISE)
    n = 100_000
    t = event_times(base, np.zeros(n), np.zeros(n), np.random.default_rng(33))
    assert stats.kstest(t, lambda x: -np.expm1(-piecewise_h0(x))).pvalue > 0.001
    # H0(6) = 0.3, H0(12) = 0.9 > ln 2: median = 6 + (ln 2 - 0.3) / 0.1
    m = 6.0 + (LN2 - 0.3) / 0.1
    assert_allclose(base.median(), m, rtol=1e-14)
    # density at m: h(m) S(m) = 0.1 * 0.5
    assert abs(np.median(t) - m) < Z * median_se(0.05, n)
    grid = np.linspace(0.0, 50.0, 501)
    assert_allclose(base.cumulative_hazard(grid), piecewise_h0(grid), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(
    "base",
    [
        Baseline.exponential(rate=0.07),
        Baseline.weibull(0.7, scale=13.0),
        Baseline.weibull(2.5, median=5.0),
        Baseline.piecewise(*PIECEWISE),
        Baseline.piecewise([0.0, 2.0, 3.5, 10.0], [1e-3, 0.4, 0.02, 0.3]),
        Baseline.piecewise([0.0], [0.2]),
    ],
)
def test_cumulative_hazard_round_trip(base):
    t = np.concatenate(([0.0, 1e-9, 2.0, 3.5, 6.0, 10.0, 12.0], np.linspace(0.0, 120.0, 2401)))
    assert_allclose(base.inverse_cumulative_hazard(base.cumulative_hazard(t)), t, rtol=1e-12, atol=1e-12)
    h = np.linspace(0.0, 20.0, 2001)
    assert_allclose(base.cumulative_hazard(base.inverse_cumulative_hazard(h)), h, rtol=1e-12, atol=1e-12)
    assert base.cumulative_hazard(np.inf) == np.inf
    assert base.inverse_cumulative_hazard(np.inf) == np.inf
    # vectorised: shape in, shape out
    assert base.cumulative_hazard(np.ones((3, 4))).shape == (3, 4)


def test_piecewise_zero_hazard_piece():
    # no events can happen during a zero-hazard piece (e.g. a cure window)
    base = Baseline.piecewise([0.0, 1.0, 4.0], [0.3, 0.0, 0.3])
    t = event_times(base, np.zeros(50_000), np.zeros(50_000), np.random.default_rng(34))
    assert not np.any((t > 1.0) & (t < 4.0))
    assert_allclose(base.inverse_cumulative_hazard(0.3), 1.0, rtol=1e-15)  # inf {t : H0(t) >= 0.3}
    assert_allclose(base.inverse_cumulative_hazard(0.3 + 1e-9), 4.0 + 1e-9 / 0.3, rtol=1e-12)


# --------------------------------------------------------------------------------------
# Proportional hazards and covariates
# --------------------------------------------------------------------------------------
def test_cox_recovers_the_hazard_ratio():
    n = 20_000
    rng = np.random.default_rng(35)
    arm = rng.integers(0, 2, size=n)
    log_hr = np.log(0.7)
    t = event_times(Baseline.exponential(median=8.0), np.zeros(n), log_hr * arm, rng)
    # administrative censoring at 24 months, as in a trial
    event = t <= 24.0
    df = pd.DataFrame({"time": np.minimum(t, 24.0), "event": event, "arm": arm})
    cph = CoxPHFitter().fit(df, duration_col="time", event_col="event")
    beta, se = cph.params_["arm"], cph.standard_errors_["arm"]
    assert abs(beta - log_hr) < Z * se, (beta, se)


def test_cox_recovers_a_prognostic_covariate_with_weibull_baseline():
    n = 20_000
    rng = np.random.default_rng(36)
    arm = rng.integers(0, 2, size=n)
    x = rng.standard_normal(n)
    t = event_times(Baseline.weibull(1.4, median=10.0), 0.5 * x, np.log(0.8) * arm, rng)
    cph = CoxPHFitter().fit(pd.DataFrame({"time": t, "event": 1, "arm": arm, "x": x}), "time", "event")
    for name, truth in (("arm", np.log(0.8)), ("x", 0.5)):
        assert abs(cph.params_[name] - truth) < Z * cph.standard_errors_[name], name


def test_prognostic_shift_scales_the_median():
    n, rate = 200_000, 0.1
    rng = np.random.default_rng(37)
    for shift in (np.log(2.0), -0.5):
        t = event_times(Baseline.exponential(rate=rate), np.full(n, shift), np.zeros(n), rng)
        # hazard rate e^x: median ln2 / (rate e^x) = baseline median * e^(-x)
        m = LN2 / rate * np.exp(-shift)
        assert abs(np.median(t) - m) < Z * median_se(rate * np.exp(shift) / 2, n)
    # weibull: H = e^x (t / scale)^k, so the median scales by e^(-x / k)
    shape = 2.0
    t = event_times(Baseline.weibull(shape, median=10.0), np.full(n, 1.0), np.zeros(n), rng)
    ref = stats.weibull_min(shape, scale=10.0 / LN2 ** (1 / shape) * np.exp(-1.0 / shape))
    assert_allclose(ref.median(), 10.0 * np.exp(-0.5), rtol=1e-12)
    assert stats.kstest(t, ref.cdf).pvalue > 0.001


def test_log_hazard_and_log_effect_add_without_delay():
    n = 100_000
    rng = np.random.default_rng(38)
    base = Baseline.weibull(0.8, scale=12.0)
    a = event_times(base, np.full(n, 0.3), np.full(n, -0.9), rng)
    # H = e^(0.3 - 0.9) (t / 12)^0.8: weibull with scale 12 e^(0.6 / 0.8)
    ref = stats.weibull_min(0.8, scale=12.0 * np.exp(0.6 / 0.8))
    assert stats.kstest(a, ref.cdf).pvalue > 0.001


def test_broadcasting():
    base = Baseline.exponential(rate=0.1)
    arm = np.array([[0, 1, 0]])
    t = event_times(base, np.zeros((4, 3)), np.log(0.7) * arm, np.random.default_rng(0))
    assert t.shape == (4, 3)
    assert event_times(base, 0.0, np.zeros(5), np.random.default_rng(0)).shape == (5,)


# --------------------------------------------------------------------------------------
# Delayed effect
# --------------------------------------------------------------------------------------
def test_delayed_effect_hazard_ratios_by_period():
    n, rate, hr, delay = 200_000, 0.1, 0.6, 6.0
    rng = np.random.default_rng(39)
    base = Baseline.exponential(rate=rate)
    control = event_times(base, np.zeros(n), np.zeros(n), rng, delay=delay)
    treated = event_times(base, np.zeros(n), np.full(n, np.log(hr)), rng, delay=delay)

    def rate_by_period(t: np.ndarray) -> tuple[float, float, float, float]:
        # exponential within each period: MLE events / exposure, SE(log rate) = 1 / sqrt(events)
        d1, x1 = np.sum(t < delay), np.sum(np.minimum(t, delay))
        d2, x2 = np.sum(t >= delay), np.sum(np.maximum(t - delay, 0.0))
        return d1, d1 / x1, d2, d2 / x2

    c1, rc1, c2, rc2 = rate_by_period(control)
    t1, rt1, t2, rt2 = rate_by_period(treated)
    # before the delay both arms have the baseline hazard: HR ~ 1
    assert abs(np.log(rt1 / rc1)) < Z * np.sqrt(1 / c1 + 1 / t1)
    assert abs(np.log(rt1 / rate)) < Z / np.sqrt(t1)
    # after it (conditional on surviving to the delay) the treated hazard is rate * hr
    assert abs(np.log(rt2 / rc2) - np.log(hr)) < Z * np.sqrt(1 / c2 + 1 / t2)
    assert abs(np.log(rt2 / (rate * hr))) < Z / np.sqrt(t2)
    assert abs(np.log(rc2 / rate)) < Z / np.sqrt(c2)


@pytest.mark.parametrize("base_kind", ["weibull", "piecewise"])
def test_delayed_effect_matches_exact_cdf(base_kind):
    n, hr, delay, x = 100_000, 0.5, 4.0, 0.4
    if base_kind == "weibull":
        base = Baseline.weibull(1.3, scale=15.0)

        def h0(t):
            return (t / 15.0) ** 1.3
    else:
        base = Baseline.piecewise(*PIECEWISE)
        h0 = piecewise_h0
        delay = 8.0  # inside the second piece

    t = event_times(base, np.full(n, x), np.full(n, np.log(hr)), np.random.default_rng(40), delay=delay)

    def cdf(s):
        # H(s) = e^x [H0(min(s, d)) + hr (H0(s) - H0(d))_+]
        big_h = np.exp(x) * (h0(np.minimum(s, delay)) + hr * np.maximum(h0(s) - h0(delay), 0.0))
        return -np.expm1(-big_h)

    assert stats.kstest(t, cdf).pvalue > 0.001


def test_zero_delay_is_proportional_hazards():
    n = 100_000
    base = Baseline.exponential(rate=0.2)
    t = event_times(base, np.zeros(n), np.full(n, np.log(0.5)), np.random.default_rng(41), delay=0.0)
    assert stats.kstest(t, stats.expon(scale=1 / 0.1).cdf).pvalue > 0.001


# --------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Baseline.exponential(), "exactly one"),
        (lambda: Baseline.exponential(rate=0.1, median=7.0), "exactly one"),
        (lambda: Baseline.exponential(rate=-0.1), "> 0"),
        (lambda: Baseline.exponential(median=0.0), "> 0"),
        (lambda: Baseline.weibull(0.0, scale=3.0), "shape"),
        (lambda: Baseline.weibull(1.0), "exactly one"),
        (lambda: Baseline.piecewise([1.0], [0.1]), "begin at 0"),
        (lambda: Baseline.piecewise([0.0, 2.0, 1.0], [0.1, 0.1, 0.1]), "increase"),
        (lambda: Baseline.piecewise([0.0, 2.0], [0.1, 0.0]), "last > 0"),
        (lambda: Baseline.piecewise([0.0, 2.0], [0.1]), "equal"),
        (lambda: Baseline("gompertz", rate=0.1), "unknown baseline"),  # type: ignore[arg-type]
        (lambda: Baseline("exponential", rate=0.1, shape=2.0), "not apply"),
    ],
)
def test_invalid_baseline(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_invalid_event_time_arguments():
    base = Baseline.exponential(rate=0.1)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="delay"):
        event_times(base, np.zeros(3), np.zeros(3), rng, delay=-1.0)
    with pytest.raises(ValueError, match="finite"):
        event_times(base, np.array([0.0, np.nan]), np.zeros(2), rng)
    with pytest.raises(ValueError):
        event_times(base, np.zeros(3), np.zeros(2), rng)  # shapes do not broadcast
    with pytest.raises(ValueError, match=">= 0"):
        base.cumulative_hazard(-1.0)
    with pytest.raises(ValueError, match=">= 0"):
        base.inverse_cumulative_hazard(-0.5)
