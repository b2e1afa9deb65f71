"""Event and dropout drawn as competing risks have the law of two independent exponential times.

References (analytic, for independent exponential event time X ~ Exp(r) and dropout D ~ Exp(h);
Beyersmann, Allignol and Schumacher, Competing Risks and Multistate Models with R, Springer 2012):

- T = min(X, D) ~ Exp(r + h): P(T > t) = exp(-(r + h) t), mean 1 / (r + h);
- P(X < D) = r / (r + h), independent of T;
- cumulative incidence of the event: P(T <= t, X < D) = r / (r + h) (1 - exp(-(r + h) t)).

Proportions are checked within 3.5 binomial standard errors of the formula, means within 3.5
standard errors of the mean, and the first time's distribution by scipy's Kolmogorov-Smirnov test.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from trialsim.engine.competing import event_or_dropout

N = 200_000
RATE = np.log(2.0) / 8.0  # median 8 months
HAZARD = -np.log(1.0 - 0.2) / 12.0  # 20% drop out per year


def _within(observed: float, expected: float, se: float) -> None:
    assert abs(observed - expected) <= 3.5 * se, (observed, expected, se)


def _proportion(hits: np.ndarray, p: float) -> None:
    _within(float(hits.mean()), p, np.sqrt(p * (1.0 - p) / hits.size))


@pytest.fixture(scope="module")
def drawn():
    return event_or_dropout(np.full(N, RATE), HAZARD, np.random.default_rng(2026))


def test_exactly_one_of_event_and_dropout_is_drawn(drawn) -> None:
    outcome, dropout = drawn
    assert outcome.shape == dropout.shape == (N,)
    assert np.all(np.isfinite(outcome) != np.isfinite(dropout))
    assert np.all(np.minimum(outcome, dropout) > 0.0)


def test_the_first_time_is_exponential_with_the_summed_hazard(drawn) -> None:
    first = np.minimum(*drawn)
    total = RATE + HAZARD
    _within(float(first.mean()), 1.0 / total, (1.0 / total) / np.sqrt(N))  # sd of Exp = its mean
    assert stats.kstest(first, stats.expon(scale=1.0 / total).cdf).pvalue > 0.001


def test_the_event_comes_first_with_its_share_of_the_hazard(drawn) -> None:
    outcome, _ = drawn
    _proportion(np.isfinite(outcome), RATE / (RATE + HAZARD))


def test_the_cause_is_independent_of_the_time(drawn) -> None:
    # Mean first time among events and among dropouts: both 1 / (r + h).
    outcome, dropout = drawn
    total = RATE + HAZARD
    for times in (outcome[np.isfinite(outcome)], dropout[np.isfinite(dropout)]):
        _within(float(times.mean()), 1.0 / total, (1.0 / total) / np.sqrt(times.size))


@pytest.mark.parametrize("t", [3.0, 12.0, 30.0])
def test_cumulative_incidence_of_event_and_dropout(drawn, t: float) -> None:
    outcome, dropout = drawn
    total = RATE + HAZARD
    seen = 1.0 - np.exp(-total * t)
    _proportion(outcome <= t, RATE / total * seen)
    _proportion(dropout <= t, HAZARD / total * seen)


def test_the_same_law_as_two_exponential_times_per_patient_rates() -> None:
    # Each patient's own rates (two arms, a covariate): against X ~ Exp(r_i), D ~ Exp(h_i) drawn directly.
    rng = np.random.default_rng(7)
    rate = RATE * np.exp(rng.normal(0.0, 0.5, N)) * np.where(np.arange(N) % 2, 0.7, 1.0)
    hazard = np.where(np.arange(N) % 2, 0.05, 0.0)  # no dropout at all in one arm
    outcome, dropout = event_or_dropout(rate, hazard, np.random.default_rng(8))
    assert np.all(np.isinf(dropout[hazard == 0.0]))
    x, d = rng.standard_exponential(N) / rate, rng.standard_exponential(N) / np.where(hazard > 0, hazard, 1.0)
    d[hazard == 0.0] = np.inf
    for t in (6.0, 24.0):
        for mine, direct in ((outcome <= t, (x <= t) & (x < d)), (dropout <= t, (d <= t) & (d < x))):
            # two independent samples: the difference of proportions within 3.5 of its SE
            p = (mine.mean() + direct.mean()) / 2.0
            _within(float(mine.mean()), float(direct.mean()), np.sqrt(2.0 * p * (1.0 - p) / N))


def test_no_dropout_means_every_patient_has_their_event() -> None:
    outcome, dropout = event_or_dropout(np.full(1000, RATE), 0.0, np.random.default_rng(1))
    assert np.all(np.isfinite(outcome)) and np.all(np.isinf(dropout))


@pytest.mark.parametrize(
    ("rate", "hazard", "message"),
    [(0.0, 0.1, "event hazards"), (np.nan, 0.1, "event hazards"), (0.1, -0.1, "dropout hazards"),
     (0.1, np.inf, "dropout hazards")],
)  # fmt: skip
def test_bad_hazards_are_refused(rate: float, hazard: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        event_or_dropout(np.full(3, rate), hazard, np.random.default_rng(0))
