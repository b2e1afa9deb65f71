"""Batched two-proportion z-test and logistic regression against statsmodels."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from trialsim.engine import proportions
from trialsim.engine.proportions import logistic, two_proportion_z

B, N, P = 20, 90, 2
RTOL = 1e-6
RTOL_ITERATIVE = 1e-5  # the reference (statsmodels Logit) iterates


def simulate(seed: int = 7, log_or: float = 0.8, base: float = -0.3):
    """~20 trials with unequal arms (about 40 % treated), some patients invalid."""
    rng = np.random.default_rng(seed)
    group = (rng.random((B, N)) < 0.4).astype(np.int8)
    valid = rng.random((B, N)) < 0.85
    x = rng.normal(size=(B, N, P))
    eta = base + log_or * group + x @ np.array([0.7, -0.4])
    y = (rng.random((B, N)) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    y[~valid] = np.nan  # never looked at
    return y, group, valid, x


def test_two_proportion_z_matches_statsmodels():
    y, group, valid, _ = simulate()
    res = two_proportion_z(y, group, valid)
    assert not res.degenerate.any()
    for b in range(B):
        yb, gb = y[b, valid[b]], group[b, valid[b]]
        x1, x0 = yb[gb == 1].sum(), yb[gb == 0].sum()
        n1, n0 = (gb == 1).sum(), (gb == 0).sum()
        z, p = proportions_ztest([x1, x0], [n1, n0])  # pooled variance by default
        np.testing.assert_allclose(res.z[b], z, rtol=RTOL)
        np.testing.assert_allclose(2 * stats.norm.sf(abs(res.z[b])), p, rtol=RTOL)
        np.testing.assert_allclose(res.estimate[b], x1 / n1 - x0 / n0, rtol=RTOL)
        # The estimate's SE is the unpooled (Wald) one.
        lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
        np.testing.assert_allclose(res.se[b], (hi - lo) / (2 * stats.norm.ppf(0.975)), rtol=RTOL)
        assert res.n[b] == yb.size and res.events[b] == yb.sum()


def test_logistic_matches_statsmodels_logit():
    y, group, valid, x = simulate()
    res = logistic(y, group, x, valid)
    assert not res.degenerate.any()
    for b in range(B):
        m = valid[b]
        fit = sm.Logit(y[b, m], sm.add_constant(np.column_stack([group[b, m], x[b, m]]))).fit(
            disp=0
        )
        np.testing.assert_allclose(res.estimate[b], fit.params[1], rtol=RTOL_ITERATIVE)
        np.testing.assert_allclose(res.se[b], fit.bse[1], rtol=RTOL_ITERATIVE)
        np.testing.assert_allclose(res.z[b], fit.tvalues[1], rtol=RTOL_ITERATIVE)
        assert res.n[b] == m.sum() and res.events[b] == y[b, m].sum()


def test_logistic_without_covariates_is_the_2x2_log_odds_ratio():
    y, group, valid, _ = simulate(seed=8)
    res = logistic(y, group, None, valid)
    for b in range(B):
        yb, gb = y[b, valid[b]], group[b, valid[b]]
        a, c = yb[gb == 1].sum(), yb[gb == 0].sum()
        b_, d = (gb == 1).sum() - a, (gb == 0).sum() - c
        np.testing.assert_allclose(res.estimate[b], np.log(a * d / (b_ * c)), rtol=1e-8)
        np.testing.assert_allclose(res.se[b], np.sqrt(1 / a + 1 / b_ + 1 / c + 1 / d), rtol=1e-8)


def test_invalid_patients_are_ignored_completely():
    y, group, valid, x = simulate(seed=9)
    y2, x2, group2 = y.copy(), x.copy(), group.copy()
    y2[~valid], x2[~valid], group2[~valid] = 1.0, 1e6, 1
    for fn, args, args2 in (
        (two_proportion_z, (y, group, valid), (y2, group2, valid)),
        (logistic, (y, group, x, valid), (y2, group2, x2, valid)),
    ):
        np.testing.assert_array_equal(fn(*args).z, fn(*args2).z)


def test_outcome_dtypes_bool_int_float_agree():
    y, group, valid, x = simulate(seed=10)
    y = np.nan_to_num(y)
    for fn in (two_proportion_z, lambda *a: logistic(a[0], a[1], None, a[2])):
        ref = fn(y, group, valid)
        for yy in (y.astype(bool), y.astype(np.int64)):
            np.testing.assert_array_equal(fn(yy, group.astype(bool), valid).z, ref.z)


def test_sign_convention_more_responders_on_treatment_gives_positive_z():
    y, group, valid, x = simulate(seed=11, log_or=2.5)
    assert np.all(two_proportion_z(y, group, valid).z > 0)
    assert np.all(logistic(y, group, x, valid).z > 0)
    y_flip = 1.0 - y
    assert np.all(two_proportion_z(y_flip, group, valid).estimate < 0)
    assert np.all(logistic(y_flip, group, x, valid).z < 0)


def test_degenerate_trials():
    y, group, valid, x = simulate(seed=12)
    y = np.nan_to_num(y)
    valid[0] = group[0] == 0  # no treated patient
    y[1] = 0.0  # no responders
    y[2] = 1.0  # only responders
    for res in (two_proportion_z(y, group, valid), logistic(y, group, x, valid)):
        assert res.degenerate[:3].all() and np.all(res.z[:3] == 0.0)
        assert not np.isnan(res.z).any()
        assert np.isnan(res.estimate[:3]).all()
        assert not res.degenerate[3:].any()


def test_logistic_separation_and_collinearity_are_degenerate():
    y, group, valid, x = simulate(seed=13)
    y = np.nan_to_num(y)
    y[0] = group[0]  # perfect separation by arm
    y[1, group[1] == 1] = 1.0  # quasi-separation: every treated patient responds
    y[2] = (x[2, :, 0] > 0.2).astype(float)  # complete separation by a covariate
    x[3, :, 1] = 1.0 - 2.0 * group[3]  # covariate collinear with the group
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow / division warnings
        res = logistic(y, group, x, valid)
    assert res.degenerate[:4].all()
    assert np.all(res.z[:4] == 0.0)
    assert not res.degenerate[4:].any()
    # The two-proportion test stays defined under separation.
    prop = two_proportion_z(y, group, valid)
    assert not prop.degenerate[:2].any() and prop.z[0] > 0


def test_logistic_tolerates_a_constant_covariate():
    y, group, valid, x = simulate(seed=14)
    x_const = np.concatenate([x, np.full((B, N, 1), 5.0)], axis=2)
    a, b = logistic(y, group, x, valid), logistic(y, group, x_const, valid)
    assert not b.degenerate.any()
    np.testing.assert_allclose(b.estimate, a.estimate, rtol=1e-8)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-8)


@pytest.mark.parametrize("fn", [two_proportion_z, lambda y, g, v: logistic(y, g, None, v)])
def test_binary_outcome_is_validated(fn):
    y, group, valid, _ = simulate()
    y = np.nan_to_num(y)
    with pytest.raises(ValueError, match="y must contain only 0/1"):
        fn(np.where(valid, 2.0 * y, 0.0), group, valid)  # 0/2 coding
    with pytest.raises(ValueError, match="group must have shape"):
        fn(y, group[:, :-1], valid)


def test_docstring_examples_run():
    failures, _ = doctest.testmod(proportions, raise_on_error=False)
    assert failures == 0
