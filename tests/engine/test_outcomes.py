"""Tests for trialsim.engine.outcomes.

Sample means, variances and proportions are compared with their model values within
3.5 standard errors; the seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from trialsim.engine.outcomes import binary_outcomes, continuous_outcomes, risk_difference_to_log_odds_ratio

Z = 3.5


def test_continuous_means_and_variances():
    trials, n = 200, 1_000
    mean, sd = 10.0, 2.0
    rng = np.random.default_rng(51)
    arm = rng.integers(0, 2, size=(trials, n))
    shift = 1.5 * arm
    y = continuous_outcomes(mean, sd, shift, rng)
    assert y.shape == (trials, n) and y.dtype == np.float64
    for a, expected in ((0, 10.0), (1, 11.5)):
        ya = y[arm == a]
        assert abs(ya.mean() - expected) < Z * sd / np.sqrt(ya.size)
        # var(s^2) = 2 sigma^4 / (m - 1) for normal data
        assert abs(ya.var(ddof=1) - sd**2) < Z * sd**2 * np.sqrt(2 / (ya.size - 1))
    # and normal: residuals are N(0, sd^2)
    assert stats.kstest((y - shift).ravel()[:100_000], stats.norm(mean, sd).cdf).pvalue > 0.001


def test_continuous_with_zero_sd_is_exact():
    shift = np.array([[0.0, -1.0, 2.5]])
    assert_allclose(continuous_outcomes(3.0, 0.0, shift, np.random.default_rng(0)), 3.0 + shift, rtol=0, atol=0)


def test_binary_proportions():
    trials, n = 200, 1_000
    rng = np.random.default_rng(52)
    arm = rng.integers(0, 2, size=(trials, n))
    lor = risk_difference_to_log_odds_ratio(0.3, 0.15)
    y = binary_outcomes(0.3, lor * arm, rng)
    assert y.shape == (trials, n) and y.dtype == np.bool_
    for a, p in ((0, 0.30), (1, 0.45)):
        ya = y[arm == a]
        assert abs(ya.mean() - p) < Z * np.sqrt(p * (1 - p) / ya.size)
    # per-trial response counts in the control arm vary binomially, not more: check the
    # variance of the count among the first 500 patients of every trial who are controls
    p_first = np.where(arm == 0, y, False)[:, :500].sum(axis=1)
    m = (arm[:, :500] == 0).sum(axis=1)
    pq = 0.3 * 0.7
    z = (p_first - 0.3 * m) / np.sqrt(pq * m)
    assert abs(z.mean()) < Z / np.sqrt(trials)
    # var(s^2) ~ (mu_4 - 1) / trials; a standardised Binomial(m, p) has mu_4 = 3 + (1 - 6 pq) / (m pq)
    mu4 = np.mean(3 + (1 - 6 * pq) / (m * pq))
    assert abs(z.var(ddof=1) - 1.0) < Z * np.sqrt((mu4 - 1) / trials)


def test_binary_prognostic_shift():
    # a patient-level shift of log 3 on the odds: odds 0.2 / 0.8 * 3 = 0.75, P = 3 / 7
    n = 200_000
    y = binary_outcomes(0.2, np.full(n, np.log(3.0)), np.random.default_rng(53))
    assert abs(y.mean() - 3 / 7) < Z * np.sqrt((3 / 7) * (4 / 7) / n)


def test_risk_difference_conversion():
    # logit(0.45) - logit(0.3) = log((0.45 / 0.55) / (0.3 / 0.7)) = log(21 / 11)
    assert_allclose(risk_difference_to_log_odds_ratio(0.3, 0.15), np.log(21 / 11), rtol=1e-14)
    # logit(0.4) - logit(0.5) = log(2 / 3)
    assert_allclose(risk_difference_to_log_odds_ratio(0.5, -0.1), np.log(2 / 3), rtol=1e-14)
    assert risk_difference_to_log_odds_ratio(0.5, 0.0) == 0.0
    # symmetric: moving from 0.2 to 0.8 is the opposite of 0.8 to 0.2, log 16
    assert_allclose(risk_difference_to_log_odds_ratio(0.2, 0.6), np.log(16.0), rtol=1e-14)
    assert_allclose(risk_difference_to_log_odds_ratio(0.8, -0.6), -np.log(16.0), rtol=1e-14)
    # vectorised
    out = risk_difference_to_log_odds_ratio(np.array([0.3, 0.5]), np.array([0.15, -0.1]))
    assert_allclose(out, [np.log(21 / 11), np.log(2 / 3)], rtol=1e-14)
    assert isinstance(risk_difference_to_log_odds_ratio(0.3, 0.1), float)


@pytest.mark.parametrize("rate, difference", [(0.3, 0.7), (0.3, -0.3), (0.3, 0.9), (0.0, 0.1), (1.0, -0.1)])
def test_risk_difference_out_of_range(rate, difference):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        risk_difference_to_log_odds_ratio(rate, difference)


def test_invalid_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="sd"):
        continuous_outcomes(0.0, -1.0, np.zeros(3), rng)
    with pytest.raises(ValueError, match="mean"):
        continuous_outcomes(np.nan, 1.0, np.zeros(3), rng)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        binary_outcomes(1.0, np.zeros(3), rng)
    with pytest.raises(ValueError, match="NaN"):
        binary_outcomes(0.5, np.array([np.nan]), rng)
