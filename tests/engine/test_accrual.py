"""Tests for trialsim.engine.accrual.

Monte Carlo checks compare sample statistics with analytic values within 3.5 standard
errors (two-sided false-alarm rate about 5e-4 per check); the seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from trialsim.engine.accrual import Accrual, dropout_hazard, dropout_times, entry_times, expected_duration

Z = 3.5


def count_by(times: np.ndarray, t: float) -> np.ndarray:
    """Patients entered by time t, per trial."""
    return (times <= t).sum(axis=1)


def assert_poisson_counts(counts: np.ndarray, mean: float) -> None:
    """Sample mean and variance of Poisson(mean) counts, within Z standard errors."""
    trials = counts.size
    se_mean = np.sqrt(mean / trials)
    assert abs(counts.mean() - mean) < Z * se_mean, (counts.mean(), mean, se_mean)
    # var(s^2) ~ (mu_4 - sigma^4) / trials; Poisson: mu_4 = m (1 + 3 m), sigma^4 = m^2
    se_var = np.sqrt((mean + 2 * mean**2) / trials)
    assert abs(counts.var(ddof=1) - mean) < Z * se_var, (counts.var(ddof=1), mean, se_var)


# --------------------------------------------------------------------------------------
# Uniform accrual: order statistics of n Uniform(0, D)
# --------------------------------------------------------------------------------------
def test_uniform_entry_times_are_sorted_uniform_order_statistics():
    duration, n, trials = 24.0, 40, 5_000
    t = entry_times(Accrual.uniform(duration), n, trials, np.random.default_rng(11))
    assert t.shape == (trials, n)
    assert np.all(np.diff(t, axis=1) >= 0.0)
    assert t.min() >= 0.0 and t.max() <= duration

    # the unordered sample of each row is iid Uniform(0, D)
    assert stats.kstest(t.ravel(), stats.uniform(0.0, duration).cdf).pvalue > 0.001

    # U_(i) ~ D * Beta(i, n + 1 - i): mean i / (n + 1) D, var i (n + 1 - i) / ((n + 1)^2 (n + 2)) D^2
    i = np.arange(1, n + 1)
    mean = i / (n + 1) * duration
    sd = np.sqrt(i * (n + 1 - i) / ((n + 1) ** 2 * (n + 2))) * duration
    assert np.all(np.abs(t.mean(axis=0) - mean) < Z * sd / np.sqrt(trials))
    # and the whole law of one order statistic, the 10th
    assert stats.kstest(t[:, 9] / duration, stats.beta(10, n - 9).cdf).pvalue > 0.001


def test_uniform_single_patient():
    t = entry_times(Accrual.uniform(6.0), 1, 20_000, np.random.default_rng(3))
    assert t.shape == (20_000, 1)
    assert stats.kstest(t[:, 0], stats.uniform(0.0, 6.0).cdf).pvalue > 0.001


# --------------------------------------------------------------------------------------
# Rate-based accrual: inhomogeneous Poisson process
# --------------------------------------------------------------------------------------
def test_constant_rate_counts_are_poisson():
    rate, trials = 25.0, 20_000
    # n = 400 is far beyond the ~150 expected by month 6, so no row runs out early
    t = entry_times(Accrual.constant(rate), 400, trials, np.random.default_rng(12))
    assert np.all(np.diff(t, axis=1) >= 0.0) and t.min() > 0.0
    assert_poisson_counts(count_by(t, 6.0), 150.0)
    # independent increments: the count in (6, 10] is Poisson(100) too
    assert_poisson_counts(count_by(t, 10.0) - count_by(t, 6.0), 100.0)
    # first arrival is Exp(rate)
    assert stats.kstest(t[:, 0], stats.expon(scale=1 / rate).cdf).pvalue > 0.001


def test_ramp_up_counts():
    rate, ramp, trials = 25.0, 4.0, 20_000
    t = entry_times(Accrual.constant(rate, ramp_up=ramp), 400, trials, np.random.default_rng(13))
    assert np.all(np.diff(t, axis=1) >= 0.0)
    # on the ramp lambda(t) = rate t / ramp, so Lambda(t) = rate t^2 / (2 ramp)
    for when in (1.0, 2.0, 3.0, 4.0):
        assert_poisson_counts(count_by(t, when), rate * when**2 / (2 * ramp))
    # after it, Lambda(t) = rate (t - ramp / 2)
    assert_poisson_counts(count_by(t, 9.0), rate * (9.0 - ramp / 2))


def test_piecewise_counts():
    starts, rates, trials = [0.0, 3.0, 9.0], [5.0, 20.0, 40.0], 20_000
    t = entry_times(Accrual.piecewise(starts, rates), 500, trials, np.random.default_rng(14))
    assert np.all(np.diff(t, axis=1) >= 0.0)
    # Lambda(3) = 5 * 3, Lambda(9) = 15 + 20 * 6, Lambda(12) = 135 + 40 * 3
    assert_poisson_counts(count_by(t, 3.0), 15.0)
    assert_poisson_counts(count_by(t, 9.0), 135.0)
    assert_poisson_counts(count_by(t, 12.0), 255.0)
    assert_poisson_counts(count_by(t, 9.0) - count_by(t, 3.0), 120.0)


def test_piecewise_pause_enrols_nobody():
    # a zero-rate piece is a pause in recruitment
    t = entry_times(Accrual.piecewise([0.0, 2.0, 5.0], [10.0, 0.0, 10.0]), 100, 5_000, np.random.default_rng(15))
    assert not np.any((t > 2.0) & (t < 5.0))
    assert_poisson_counts(count_by(t, 2.0), 20.0)
    assert_poisson_counts(count_by(t, 6.0), 30.0)


def test_cumulative_and_inverse_are_exact():
    acc = Accrual.piecewise([0.0, 3.0, 9.0], [5.0, 20.0, 40.0])
    assert_allclose(acc.cumulative([0.0, 1.5, 3.0, 6.0, 9.0, 10.0]), [0, 7.5, 15, 75, 135, 175], rtol=1e-15)
    ramp = Accrual.constant(25.0, ramp_up=4.0)
    assert_allclose(ramp.cumulative([0.0, 2.0, 4.0, 8.0]), [0.0, 12.5, 50.0, 150.0], rtol=1e-15)
    for a in (acc, ramp, Accrual.piecewise([0.0, 1.0], [3.0, 0.5])):
        t = np.concatenate((np.linspace(0.0, 30.0, 3001), [1e-9, 3.0, 4.0, 9.0]))
        assert_allclose(a.inverse_cumulative(a.cumulative(t)), t, rtol=1e-12, atol=1e-12)
        s = np.linspace(0.0, 500.0, 5001)
        assert_allclose(a.cumulative(a.inverse_cumulative(s)), s, rtol=1e-12, atol=1e-12)


def test_expected_duration():
    assert expected_duration(Accrual.uniform(24.0), 600) == 24.0
    assert expected_duration(Accrual.constant(25.0), 600) == pytest.approx(24.0, rel=1e-14)
    # ramp: 200 = 25 (t - 4 / 2), t = 10; on the ramp 12.5 = 25 t^2 / 8, t = 2
    assert expected_duration(Accrual.constant(25.0, ramp_up=4.0), 200) == pytest.approx(10.0, rel=1e-14)
    assert expected_duration(Accrual.constant(25.0, ramp_up=4.0), 50) == pytest.approx(4.0, rel=1e-14)
    on_ramp = np.sqrt(2 * 6 * 3 / 25)  # 3 = 25 t^2 / (2 * 6)
    assert expected_duration(Accrual.constant(25.0, ramp_up=6.0), 3) == pytest.approx(on_ramp, rel=1e-14)
    piecewise = Accrual.piecewise([0.0, 3.0, 9.0], [5.0, 20.0, 40.0])
    assert expected_duration(piecewise, 10) == pytest.approx(2.0, rel=1e-14)
    assert expected_duration(piecewise, 135) == pytest.approx(9.0, rel=1e-14)
    assert expected_duration(piecewise, 200) == pytest.approx(9.0 + 65.0 / 40.0, rel=1e-14)


def test_mean_last_entry_matches_expected_duration():
    # the n-th arrival of a rate-r Poisson process is Gamma(n, 1/r): mean n / r
    n, rate, trials = 300, 25.0, 4_000
    t = entry_times(Accrual.constant(rate), n, trials, np.random.default_rng(16))
    se = np.sqrt(n) / rate / np.sqrt(trials)
    assert abs(t[:, -1].mean() - expected_duration(Accrual.constant(rate), n)) < Z * se


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Accrual.uniform(0.0), "duration"),
        (lambda: Accrual.uniform(np.inf), "duration"),
        (lambda: Accrual.constant(-1.0), "rate"),
        (lambda: Accrual.constant(10.0, ramp_up=-1.0), "ramp_up"),
        (lambda: Accrual.piecewise([1.0, 3.0], [5.0, 5.0]), "begin at 0"),
        (lambda: Accrual.piecewise([0.0, 3.0, 3.0], [5.0, 5.0, 5.0]), "increase"),
        (lambda: Accrual.piecewise([0.0, 3.0], [5.0, 0.0]), "last > 0"),
        (lambda: Accrual.piecewise([0.0, 3.0], [5.0, -1.0]), ">= 0"),
        (lambda: Accrual.piecewise([0.0, 3.0], [5.0]), "equal length"),
        (lambda: Accrual(starts=np.array([0.0, 2.0]), rates=np.array([5.0, 9.0]), ramp_up=3.0), "first piece"),
        (lambda: Accrual(starts=np.zeros(1), rates=np.ones(1), duration=12.0), "no starts"),
    ],
)
def test_invalid_accrual(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_invalid_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n"):
        entry_times(Accrual.uniform(12.0), 0, 10, rng)
    with pytest.raises(ValueError, match="trials"):
        entry_times(Accrual.uniform(12.0), 10, 2.5, rng)
    with pytest.raises(ValueError, match="uniform accrual has no rate"):
        Accrual.uniform(12.0).cumulative(3.0)
    with pytest.raises(ValueError, match=">= 0"):
        Accrual.constant(3.0).cumulative(-1.0)


# --------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------
def test_dropout_hazard_convention():
    h = dropout_hazard(0.05, 12.0)
    assert_allclose(1 - np.exp(-12.0 * h), 0.05, rtol=1e-14)
    assert_allclose(h, 0.004274441, rtol=1e-6)
    assert dropout_hazard(0.0, 12.0) == 0.0
    for rate, per in ((1.0, 12.0), (-0.1, 12.0), (0.1, 0.0)):
        with pytest.raises(ValueError):
            dropout_hazard(rate, per)


def test_dropout_times_by_arm():
    trials, n = 400, 500
    rng = np.random.default_rng(17)
    arm = rng.integers(0, 3, size=(trials, n))
    hazards = np.array([dropout_hazard(0.05, 12.0), dropout_hazard(0.20, 6.0), 0.0])
    d = dropout_times(hazards, arm, rng)
    assert d.shape == (trials, n)
    assert np.all(np.isinf(d[arm == 2]))
    # P(D < 12) = 0.05 in arm 0, P(D < 6) = 0.20 in arm 1
    for a, per, p in ((0, 12.0, 0.05), (1, 6.0, 0.20)):
        lost = d[arm == a] < per
        assert abs(lost.mean() - p) < Z * np.sqrt(p * (1 - p) / lost.size)
    assert stats.kstest(d[arm == 0], stats.expon(scale=1 / hazards[0]).cdf).pvalue > 0.001


def test_dropout_invalid():
    rng = np.random.default_rng(0)
    arm = np.zeros((2, 3), dtype=int)
    with pytest.raises(ValueError, match="arm indices"):
        dropout_times([0.1], arm + 1, rng)
    with pytest.raises(ValueError, match="integer"):
        dropout_times([0.1], arm.astype(float), rng)
    with pytest.raises(ValueError, match=">= 0"):
        dropout_times([-0.1], arm, rng)
