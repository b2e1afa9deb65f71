"""Unit tests for trialsim.engine.spending and trialsim.engine.boundaries."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import norm

import trialsim.engine.boundaries as boundaries
from trialsim.engine.boundaries import (
    Boundaries,
    classical_bounds,
    crossing_probabilities,
    efficacy_bounds,
    group_sequential_design,
)
from trialsim.engine.spending import spent

EQUAL3 = [1 / 3, 2 / 3, 1.0]
SPENDERS = [("obrien_fleming", None), ("pocock", None)] + [
    ("hsd", g) for g in (-8.0, -4.0, -1e-9, 0.0, 1.0, 4.0)
]


# --------------------------------------------------------------------------------------
# Spending functions
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, gamma", SPENDERS)
def test_spending_is_monotone_from_zero_to_total(kind, gamma):
    t = np.linspace(0.0, 1.0, 201)
    a = spent(kind, t, 0.025, gamma)
    assert a[0] == 0.0
    assert a[-1] == 0.025  # exactly
    assert np.all(np.diff(a) >= 0.0)
    assert np.all(a <= 0.025)


def test_spending_known_values():
    alpha = 0.025
    # Pocock type: alpha log(1 + (e - 1) t) at t = 0.5 is alpha log((1 + e) / 2)
    assert_allclose(spent("pocock", 0.5, alpha), alpha * np.log((1 + np.e) / 2), rtol=1e-14)
    assert_allclose(spent("pocock", 0.5, alpha), 0.0155028, atol=1e-7)
    # O'Brien-Fleming type: 2 - 2 Phi(z_{1 - alpha / 2} / sqrt(t))
    of = 2 - 2 * norm.cdf(norm.ppf(1 - alpha / 2) / np.sqrt(0.5))
    assert_allclose(spent("obrien_fleming", 0.5, alpha), of, rtol=1e-10)
    # Hwang-Shih-DeCani: alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))
    hsd = alpha * (1 - np.exp(4 * 0.5)) / (1 - np.exp(4))
    assert_allclose(spent("hsd", 0.5, alpha, gamma=-4), hsd, rtol=1e-14)
    # gamma = 0 is linear, and small gamma is continuous with it
    assert_allclose(spent("hsd", [0.3, 0.7], alpha, gamma=0), [0.0075, 0.0175], rtol=1e-14)
    assert_allclose(spent("hsd", [0.3, 0.7], alpha, gamma=1e-10), [0.0075, 0.0175], rtol=1e-9)


def test_spending_keeps_shape():
    assert spent("pocock", 0.3, 0.05).shape == ()
    assert spent("pocock", [[0.1, 0.2]], 0.05).shape == (1, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="linear", t=0.5, total=0.025), "unknown spending"),
        (dict(kind="pocock", t=0.5, total=0.0), "total"),
        (dict(kind="pocock", t=0.5, total=1.0), "total"),
        (dict(kind="pocock", t=1.2, total=0.025), r"\[0, 1\]"),
        (dict(kind="pocock", t=-0.1, total=0.025), r"\[0, 1\]"),
        (dict(kind="pocock", t=np.nan, total=0.025), r"\[0, 1\]"),
        (dict(kind="hsd", t=0.5, total=0.025), "gamma"),
        (dict(kind="hsd", t=0.5, total=0.025, gamma=np.inf), "gamma"),
        (dict(kind="pocock", t=0.5, total=0.025, gamma=-4), "gamma only applies"),
    ],
)
def test_spending_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spent(**kwargs)


# --------------------------------------------------------------------------------------
# Input validation of the boundary functions
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "information, match",
    [
        ([0.5, 0.9], "must be 1"),
        ([0.5, 0.5, 1.0], "strictly increasing"),
        ([0.6, 0.3, 1.0], "strictly increasing"),
        ([0.0, 1.0], r"\(0, 1\]"),
        ([0.5, 1.2], r"\(0, 1\]"),
        ([], "non-empty"),
        ([0.5, np.nan, 1.0], "non-empty"),
    ],
)
def test_information_validation(information, match):
    with pytest.raises(ValueError, match=match):
        efficacy_bounds(information, 0.025)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.6, -0.1])
def test_alpha_validation(alpha):
    for call in (
        lambda: efficacy_bounds(EQUAL3, alpha),
        lambda: classical_bounds(EQUAL3, alpha, kind="pocock"),
        lambda: group_sequential_design(EQUAL3, alpha),
    ):
        with pytest.raises(ValueError, match=r"alpha must be in \(0, 0.5\)"):
            call()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: group_sequential_design(EQUAL3, 0.025, 1.0, futility="pocock"), "beta"),
        (lambda: group_sequential_design(EQUAL3, 0.025, 0.0), "beta"),
        (lambda: group_sequential_design(EQUAL3, 0.025, binding=True), "binding"),
        (lambda: group_sequential_design(EQUAL3, 0.025, futility="gamma"), "futility"),
        (lambda: group_sequential_design(EQUAL3, 0.025, futility="hsd"), "gamma"),
        (lambda: group_sequential_design(EQUAL3, 0.025, efficacy="hsd"), "gamma"),
        (lambda: group_sequential_design(EQUAL3, 0.025, efficacy_kind="fixed"), "efficacy_kind"),
        (lambda: group_sequential_design(EQUAL3, 0.4, 0.7, futility="pocock"), "alpha \\+ beta"),
        (lambda: efficacy_bounds(EQUAL3, 0.025, spending="hsd"), "gamma"),
        (lambda: efficacy_bounds(EQUAL3, 0.025, spending="pocock", gamma=1.0), "gamma"),
        (lambda: classical_bounds(EQUAL3, 0.025, kind="wang_tsiatis"), "delta"),
        (lambda: classical_bounds(EQUAL3, 0.025, kind="wang_tsiatis", delta=2.0), "delta"),
        (lambda: classical_bounds(EQUAL3, 0.025, kind="pocock", delta=0.2), "delta"),
        (lambda: classical_bounds(EQUAL3, 0.025, kind="haybittle"), "unknown classical"),
        (lambda: crossing_probabilities(EQUAL3, [3, 2, 2], [0, 2.5, 2], 0.0), "lower"),
        (lambda: crossing_probabilities(EQUAL3, [3, 2], None, 0.0), "same length"),
        (lambda: crossing_probabilities(EQUAL3, [3, 2, 2], None, np.nan), "drift"),
    ],
)
def test_argument_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------------------
# Single look, spending nothing, grid accuracy
# --------------------------------------------------------------------------------------
def test_single_look_is_the_fixed_sample_test():
    z = norm.isf(0.025)
    assert_allclose(efficacy_bounds([1.0], 0.025), [z], atol=1e-10)
    assert_allclose(classical_bounds(1.0, 0.025, kind="pocock"), [z], atol=1e-10)
    d = group_sequential_design([1.0], 0.025, 0.2, futility="pocock")
    assert_allclose(d.efficacy, [z], atol=1e-10)
    assert_allclose(d.futility, d.efficacy)
    # the drift with power 1 - beta is the fixed-sample z_{1-alpha} + z_{1-beta}
    assert_allclose(d.drift, z + norm.isf(0.2), atol=1e-9)
    assert_allclose(d.beta_spent, [0.2], atol=1e-10)


def test_look_that_spends_nothing_has_infinite_bound():
    # O'Brien-Fleming-type spending at t = 1e-4 underflows to exactly 0
    c = efficacy_bounds([1e-4, 1.0], 0.025)
    assert c[0] == np.inf
    assert_allclose(c[1], norm.isf(0.025), atol=1e-10)


def test_grid_is_accurate_to_1e_6_relative(monkeypatch):
    d = group_sequential_design(
        [0.2, 0.45, 0.7, 1.0],
        0.025,
        0.1,
        efficacy="hsd",
        efficacy_gamma=-2,
        futility="hsd",
        futility_gamma=1,
    )
    coarse = crossing_probabilities(d.information, d.efficacy, d.futility, d.drift)
    monkeypatch.setattr(boundaries, "_GRID_R", 60)
    fine = crossing_probabilities(d.information, d.efficacy, d.futility, d.drift)
    for p, q in zip(coarse, fine, strict=True):
        assert_allclose(p, q, rtol=1e-6, atol=1e-12)


def test_probabilities_add_up_to_one_when_bounds_meet():
    d = group_sequential_design(
        EQUAL3, 0.025, 0.1, efficacy="hsd", efficacy_gamma=-4, futility="hsd", futility_gamma=-2
    )
    for drift in (0.0, 1.0, d.drift, 5.0):
        up, low = crossing_probabilities(d.information, d.efficacy, d.futility, drift)
        assert_allclose(up.sum() + low.sum(), 1.0, atol=1e-7)


def test_lower_none_equals_minus_infinity():
    c = efficacy_bounds(EQUAL3, 0.025)
    a = crossing_probabilities(EQUAL3, c, None, 1.3)
    b = crossing_probabilities(EQUAL3, c, [-np.inf] * 3, 1.3)
    assert_allclose(a, b, rtol=0, atol=0)
    assert np.all(a[1] == 0.0)


# --------------------------------------------------------------------------------------
# Designs
# --------------------------------------------------------------------------------------
def test_no_futility_path():
    d = group_sequential_design(EQUAL3, 0.025, efficacy="pocock")
    assert isinstance(d, Boundaries)
    assert d.futility is None and d.beta_spent is None and d.drift is None
    assert d.binding is False
    assert_allclose(d.efficacy, efficacy_bounds(EQUAL3, 0.025, spending="pocock"), rtol=1e-14)
    assert_allclose(d.alpha_spent, spent("pocock", EQUAL3, 0.025), atol=1e-10)
    classical = group_sequential_design(EQUAL3, 0.025, efficacy="pocock", efficacy_kind="classical")
    assert_allclose(classical.efficacy, classical_bounds(EQUAL3, 0.025, kind="pocock"))


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_unequal_spacing_spends_the_spending_function(spending):
    t = [0.15, 0.5, 0.62, 1.0]
    d = group_sequential_design(t, 0.025, 0.15, efficacy=spending, futility="obrien_fleming")
    assert_allclose(d.alpha_spent, spent(spending, t, 0.025), atol=1e-9)
    assert_allclose(d.beta_spent, spent("obrien_fleming", t, 0.15), atol=1e-9)
    assert d.futility[-1] == d.efficacy[-1]
    assert np.all(d.futility <= d.efficacy)
    # non-binding efficacy bounds are the efficacy-only bounds
    assert_allclose(d.efficacy, efficacy_bounds(t, 0.025, spending=spending), rtol=1e-14)


@pytest.mark.parametrize("efficacy_kind", ["spending", "classical"])
def test_binding_efficacy_bounds_are_not_above_nonbinding(efficacy_kind):
    kwargs = dict(
        efficacy="obrien_fleming", futility="hsd", futility_gamma=-2, efficacy_kind=efficacy_kind
    )
    t = [0.3, 0.6, 1.0]
    nb = group_sequential_design(t, 0.025, 0.2, binding=False, **kwargs)
    b = group_sequential_design(t, 0.025, 0.2, binding=True, **kwargs)
    assert b.binding and not nb.binding
    assert np.all(b.efficacy <= nb.efficacy + 1e-12)
    assert b.efficacy[-1] < nb.efficacy[-1] - 1e-3
    assert b.drift < nb.drift  # a binding futility rule needs less information
    # the binding design spends all of alpha with the futility bounds in place ...
    up, _ = crossing_probabilities(t, b.efficacy, b.futility, 0.0)
    assert_allclose(up.sum(), 0.025, atol=1e-9)
    assert_allclose(np.cumsum(up), b.alpha_spent, atol=1e-12)
    # ... and spends beta along the beta-spending function under the drift
    assert_allclose(b.beta_spent, spent("hsd", t, 0.2, -2), atol=1e-9)
    assert b.futility[-1] == b.efficacy[-1]
    if efficacy_kind == "spending":  # only the first look is unaffected by the binding
        assert b.efficacy[0] == nb.efficacy[0]
        assert_allclose(b.alpha_spent, spent("obrien_fleming", t, 0.025), atol=1e-9)
    else:  # classical shape c_k = C / sqrt(t_k) is kept
        assert_allclose(b.efficacy * np.sqrt(t), b.efficacy[-1], rtol=1e-12)


def test_futility_bound_is_capped_at_efficacy_bound():
    # while searching the drift, a beta increment can exceed the probability left below
    # c_k; the futility bound is then capped at c_k and nothing continues past that look
    t = np.array(EQUAL3)
    c = efficacy_bounds(t, 0.025)
    beta_inc = np.diff(spent("pocock", t, 0.2), prepend=0.0)
    lower, shortfall = boundaries._futility_lower(t, c, beta_inc, 12.0)
    assert lower[0] == c[0] and lower[-1] == c[-1]
    assert_allclose(shortfall, -beta_inc[-1], atol=1e-15)


def test_extreme_design_is_still_consistent():
    d = group_sequential_design(
        [0.5, 1.0], 0.3, 0.6, efficacy="hsd", efficacy_gamma=6, futility="hsd", futility_gamma=8
    )
    assert np.all(d.futility <= d.efficacy)
    assert_allclose(d.beta_spent, spent("hsd", [0.5, 1.0], 0.6, gamma=8), atol=1e-9)
    up, low = crossing_probabilities(d.information, d.efficacy, d.futility, d.drift)
    assert_allclose(up.sum() + low.sum(), 1.0, atol=1e-7)


# --------------------------------------------------------------------------------------
# The integration's arithmetic
# --------------------------------------------------------------------------------------
def test_density_is_scipys_bit_for_bit():
    x = np.concatenate([np.linspace(-40.0, 40.0, 4001), [-np.inf, np.inf, -0.0, 1e-300, 38.5]])
    assert np.array_equal(boundaries._phi_inplace(x.copy()), norm.pdf(x))


def test_bounds_are_pinned_bit_for_bit():
    # The values before the integration was sped up (norm.pdf / norm.cdf replaced by the same
    # arithmetic, scores kept on the grid): any change to the arithmetic shows here first.
    c = classical_bounds(EQUAL3, 0.025, kind="obrien_fleming")
    assert c.tolist() == [3.47109135958342, 2.4544322384794692, 2.0040355308372715]
    d = group_sequential_design(
        EQUAL3, 0.025, 0.1, efficacy="obrien_fleming", efficacy_kind="classical", futility="pocock"
    )
    assert d.futility.tolist() == [0.37962575514579755, 1.282660302611831, 2.0040355308372715]
    assert d.drift == 3.5888834019250693
    d = group_sequential_design(
        [0.2, 0.4, 1.0], 0.07, 0.14, efficacy="hsd", efficacy_gamma=-1, futility="hsd", futility_gamma=-2
    )
    assert d.efficacy.tolist() == [2.364813043718649, 2.192880536093173, 1.5660474087963636]
    assert d.futility.tolist() == [-1.106362258664113, -0.3599243881454424, 1.5660474087963636]
    assert d.drift == 2.664881676971663
