"""Group-sequential boundaries checked against published values and independent methods.

Each test names its source. rpact values are from rpact's own unit tests
(tests/testthat/test-f_design_group_sequential.R), gsDesign values from its default
``gsDesign()`` design, classical constants from Jennison & Turnbull (2000), *Group
Sequential Methods with Applications to Clinical Trials*, Tables 2.1 and 2.3. The
cross-checks use a plain Monte Carlo and scipy's bivariate normal CDF, which share no
code with the recursive integration under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal, norm

from trialsim.engine.boundaries import (
    classical_bounds,
    crossing_probabilities,
    efficacy_bounds,
    group_sequential_design,
)

EQUAL3 = [1 / 3, 2 / 3, 1.0]


def test_rpact_default_design_obrien_fleming_classical():
    # rpact getDesignGroupSequential() / getDesignInverseNormal() defaults:
    # typeOfDesign "OF", kMax 3, alpha 0.025 one-sided, equally spaced; rpact
    # test-f_design_group_sequential.R expects criticalValues 3.4710914, 2.4544323,
    # 2.0040356 and alphaSpent 0.00025917372, 0.0071600594, 0.025.
    c = classical_bounds(EQUAL3, 0.025, kind="obrien_fleming")
    assert_allclose(c, [3.4710914, 2.4544323, 2.0040356], atol=1e-6)
    alpha_spent = np.cumsum(crossing_probabilities(EQUAL3, c, None, 0.0)[0])
    assert_allclose(alpha_spent, [0.00025917372, 0.0071600594, 0.025], atol=1e-8)


def test_gsdesign_default_hsd_with_nonbinding_hsd_futility():
    # gsDesign() defaults (test.type 4 = non-binding futility): k 3, alpha 0.025, beta 0.1,
    # sfu sfHSD(-4), sfl sfHSD(-2); gsSurv snapshot / rpact: efficacy 3.0107, 2.5465,
    # 1.9992 and futility -0.2388, 0.9410 (we get -0.23872, 0.94107; rpact's algorithm
    # reproduces rpact's own beta-spending test to 1e-7, see the next test).
    d = group_sequential_design(
        EQUAL3, 0.025, 0.1, efficacy="hsd", efficacy_gamma=-4, futility="hsd", futility_gamma=-2
    )
    assert_allclose(d.efficacy, [3.0107, 2.5465, 1.9992], atol=1e-3)
    assert_allclose(d.futility[:2], [-0.2388, 0.9410], atol=1e-3)
    assert d.futility[-1] == d.efficacy[-1]
    assert not d.binding
    assert_allclose(d.alpha_spent[-1], 0.025, atol=1e-9)
    assert_allclose(d.beta_spent[-1], 0.1, atol=1e-9)


def test_rpact_hsd_alpha_and_beta_spending_nonbinding():
    # rpact test-f_design_group_sequential.R, x2: getDesignInverseNormal(kMax = 3,
    # informationRates = c(0.2, 0.4, 1), alpha = 0.07, beta = 0.14, typeOfDesign = "asHSD",
    # gammaA = -1, typeBetaSpending = "bsHSD", gammaB = -2) (non-binding by default).
    d = group_sequential_design(
        [0.2, 0.4, 1.0],
        0.07,
        0.14,
        efficacy="hsd",
        efficacy_gamma=-1,
        futility="hsd",
        futility_gamma=-2,
    )
    assert_allclose(d.efficacy, [2.364813, 2.1928805, 1.5660474], atol=1e-6)
    assert_allclose(d.futility[:2], [-1.1063623, -0.35992439], atol=1e-6)
    assert_allclose(d.alpha_spent, [0.0090195874, 0.020036136, 0.07], atol=1e-8)
    assert_allclose(d.beta_spent, [0.010777094, 0.026854629, 0.14], atol=1e-8)
    assert_allclose(d.drift**2, 7.1015942, rtol=1e-6)  # rpact "shift" = drift^2
    power = np.cumsum(crossing_probabilities(d.information, d.efficacy, d.futility, d.drift)[0])
    assert_allclose(power, [0.12038953, 0.32895265, 0.86], atol=1e-7)


def test_rpact_hsd_gamma_zero_unequal_spacing():
    # rpact test-f_design_group_sequential.R, x1: asHSD with gammaA = 0 (linear spending),
    # alpha 0.03, informationRates c(0.2, 0.4, 1): 2.5121443, 2.4228747, 2.0280392.
    c = efficacy_bounds([0.2, 0.4, 1.0], 0.03, spending="hsd", gamma=0.0)
    assert_allclose(c, [2.5121443, 2.4228747, 2.0280392], atol=1e-6)


def test_lan_demets_obrien_fleming_spending():
    # gsDesign(k = 3, test.type = 1, sfu = sfLDOF) / rpact typeOfDesign "asOF",
    # alpha 0.025, equal spacing: 3.7103, 2.5114, 1.9930.
    c = efficacy_bounds(EQUAL3, 0.025, spending="obrien_fleming")
    assert_allclose(c, [3.7103, 2.5114, 1.9930], atol=1e-4)


def test_pocock_classical_constant():
    # Jennison & Turnbull Table 2.1: C_P(3, 0.05 two-sided) = 2.289; rpact "P" one-sided
    # 0.025 (the one- and two-sided constants differ below 1e-5 here).
    c = classical_bounds(EQUAL3, 0.025, kind="pocock")
    assert_allclose(c, 2.2889, atol=1e-3)
    assert np.ptp(c) < 1e-12


def test_obrien_fleming_classical_five_looks():
    # Jennison & Turnbull Table 2.3: C_B(5, 0.05 two-sided) = 2.040, the final bound;
    # c_k = C_B sqrt(K / k).
    t = np.arange(1, 6) / 5
    c = classical_bounds(t, 0.025, kind="obrien_fleming")
    assert_allclose(c[-1], 2.040, atol=1e-3)
    assert_allclose(c, c[-1] / np.sqrt(t), rtol=1e-12)


def test_rpact_binding_futility_alpha_spent():
    # rpact test-f_design_group_sequential.R, x8a: getDesignGroupSequential(kMax = 4,
    # alpha = 0.025, futilityBounds = rep(0.5244, 3), bindingFutility = TRUE,
    # typeOfDesign = "WT", deltaWT = 0.4): criticalValues and cumulative alphaSpent.
    t = [0.25, 0.5, 0.75, 1.0]
    upper = [2.4958485, 2.328709, 2.2361766, 2.1727623]
    lower = [0.5244, 0.5244, 0.5244, -np.inf]
    alpha_spent = np.cumsum(crossing_probabilities(t, upper, lower, 0.0)[0])
    assert_allclose(alpha_spent, [0.0062828133, 0.013876673, 0.02015684, 0.025], atol=2e-8)


# --------------------------------------------------------------------------------------
# Cross-checks with independent methods
# --------------------------------------------------------------------------------------
DESIGNS = {
    "ldof": lambda: group_sequential_design(EQUAL3, 0.025),
    "pocock_spending_unequal": lambda: group_sequential_design(
        [0.3, 0.55, 0.8, 1.0], 0.025, efficacy="pocock"
    ),
    "hsd_nonbinding": lambda: group_sequential_design(
        EQUAL3, 0.025, 0.1, efficacy="hsd", efficacy_gamma=-4, futility="hsd", futility_gamma=-2
    ),
    "of_binding": lambda: group_sequential_design(
        [0.4, 0.7, 1.0], 0.025, 0.2, futility="obrien_fleming", binding=True
    ),
    "classical_of_nonbinding": lambda: group_sequential_design(
        EQUAL3,
        0.025,
        0.2,
        efficacy="obrien_fleming",
        futility="pocock",
        efficacy_kind="classical",
    ),
}


def _monte_carlo(t, upper, lower, drift, n=400_000, seed=20240607):
    """Cumulative first-crossing frequencies of correlated normals Z_k = S_k / sqrt(t_k)."""
    rng = np.random.default_rng(seed)
    t = np.asarray(t)
    dt = np.diff(t, prepend=0.0)
    z = np.cumsum(rng.standard_normal((n, len(t))) * np.sqrt(dt) + drift * dt, axis=1)
    z /= np.sqrt(t)
    alive = np.ones(n, dtype=bool)
    up, low = np.zeros(len(t)), np.zeros(len(t))
    for k in range(len(t)):
        hit_up, hit_low = alive & (z[:, k] >= upper[k]), alive & (z[:, k] <= lower[k])
        up[k], low[k] = hit_up.mean(), hit_low.mean()
        alive &= ~(hit_up | hit_low)
    return np.cumsum(up), np.cumsum(low)


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_alpha_is_spent_exactly(name):
    d = DESIGNS[name]()
    lower = d.futility if d.binding else None
    up, _ = crossing_probabilities(d.information, d.efficacy, lower, 0.0)
    assert_allclose(up.sum(), 0.025, atol=1e-6 * 0.025)
    assert_allclose(np.cumsum(up), d.alpha_spent, atol=1e-12)


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_monte_carlo_agrees_within_four_standard_errors(name):
    d = DESIGNS[name]()
    lower = d.futility if d.futility is not None else np.full(len(d.information), -np.inf)
    h0_lower = lower if d.binding else np.full(len(d.information), -np.inf)
    drifts = [(0.0, h0_lower)] + ([(d.drift, lower)] if d.drift is not None else [])
    for drift, low in drifts:
        exact = [
            np.cumsum(p) for p in crossing_probabilities(d.information, d.efficacy, low, drift)
        ]
        sim = _monte_carlo(d.information, d.efficacy, low, drift)
        for p, p_sim in zip(exact, sim, strict=True):
            se = np.sqrt(np.maximum(p * (1 - p), 1e-12) / 400_000)
            assert np.all(np.abs(p_sim - p) <= 4 * se), (name, drift, p, p_sim)


@pytest.mark.parametrize("drift", [0.0, 1.5, 3.0])
def test_two_looks_agree_with_bivariate_normal_cdf(drift):
    # P(l_1 < Z_1 < c_1, Z_2 >= c_2) = P(l_1 < Z_1 < c_1) - P(l_1 < Z_1 < c_1, Z_2 < c_2)
    # with corr(Z_1, Z_2) = sqrt(t_1), evaluated by scipy's multivariate normal CDF.
    t1 = 0.4
    c = efficacy_bounds([t1, 1.0], 0.025)
    lower = [0.2, c[1]]
    mean, rho = np.array([drift * np.sqrt(t1), drift]), np.sqrt(t1)
    mvn = multivariate_normal(mean=mean, cov=[[1.0, rho], [rho, 1.0]])
    stage1 = norm.cdf(c[0] - mean[0]) - norm.cdf(lower[0] - mean[0])
    ref_up = stage1 - (mvn.cdf(c) - mvn.cdf([lower[0], c[1]]))
    ref_low = mvn.cdf(c) - mvn.cdf([lower[0], c[1]])
    up, low = crossing_probabilities([t1, 1.0], c, lower, drift)
    assert_allclose(up[0], norm.sf(c[0] - mean[0]), atol=1e-12)
    assert_allclose(up[1], ref_up, atol=1e-5)
    assert_allclose(low[1], ref_low, atol=1e-5)
    # and without a futility bound, the efficacy-only design spends alpha(t) exactly
    if drift == 0.0:
        mvn0 = multivariate_normal(mean=[0.0, 0.0], cov=[[1.0, rho], [rho, 1.0]])
        no_lower = crossing_probabilities([t1, 1.0], c, None, 0.0)[0][1]
        assert_allclose(no_lower, norm.cdf(c[0]) - mvn0.cdf(c), atol=1e-5)
