"""Batched t-test and ANCOVA against scipy / statsmodels, trial by trial."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from trialsim.engine import means, results
from trialsim.engine.means import ancova, t_test, t_to_z
from trialsim.engine.results import TestResult

B, N, P = 20, 60, 2
RTOL = 1e-6


def simulate(seed: int = 20240501, effect: float = 0.6):
    """~20 trials with unequal arms (about 35 % treated), some patients invalid."""
    rng = np.random.default_rng(seed)
    group = (rng.random((B, N)) < 0.35).astype(np.int8)
    valid = rng.random((B, N)) < 0.85
    x = rng.normal(size=(B, N, P))
    y = 1.0 + effect * group + x @ np.array([0.8, -0.5]) + rng.normal(scale=1.5, size=(B, N))
    y[~valid] = np.nan  # never looked at
    return y, group, valid, x


def assert_valid_result(res: TestResult, n_trials: int) -> None:
    for field in (res.estimate, res.se, res.z, res.n, res.degenerate):
        assert field.shape == (n_trials,)
    assert not np.isnan(res.z).any()
    assert res.degenerate.dtype == np.bool_
    assert np.issubdtype(res.n.dtype, np.integer)


def test_t_test_matches_scipy():
    y, group, valid, _ = simulate()
    res = t_test(y, group, valid)
    assert_valid_result(res, B)
    assert res.events is None
    assert not res.degenerate.any()
    for b in range(B):
        yb, gb = y[b, valid[b]], group[b, valid[b]]
        ref = stats.ttest_ind(yb[gb == 1], yb[gb == 0], equal_var=True)
        df = yb.size - 2
        diff = yb[gb == 1].mean() - yb[gb == 0].mean()
        assert res.n[b] == yb.size
        np.testing.assert_allclose(res.estimate[b], diff, rtol=RTOL)
        np.testing.assert_allclose(res.se[b], diff / ref.statistic, rtol=RTOL)
        np.testing.assert_allclose(res.z[b], stats.norm.ppf(stats.t.cdf(ref.statistic, df)),
                                   rtol=RTOL)
        np.testing.assert_allclose(2 * stats.norm.sf(abs(res.z[b])), ref.pvalue, rtol=RTOL)


def test_ancova_matches_statsmodels_ols():
    y, group, valid, x = simulate()
    res = ancova(y, group, x, valid)
    assert_valid_result(res, B)
    assert not res.degenerate.any()
    for b in range(B):
        m = valid[b]
        design = sm.add_constant(np.column_stack([group[b, m], x[b, m]]))
        fit = sm.OLS(y[b, m], design).fit()
        assert res.n[b] == m.sum()
        np.testing.assert_allclose(res.estimate[b], fit.params[1], rtol=RTOL)
        np.testing.assert_allclose(res.se[b], fit.bse[1], rtol=RTOL)
        z_ref = stats.norm.ppf(stats.t.cdf(fit.tvalues[1], fit.df_resid))
        np.testing.assert_allclose(res.z[b], z_ref, rtol=RTOL)
        np.testing.assert_allclose(2 * stats.norm.sf(abs(res.z[b])), fit.pvalues[1], rtol=RTOL)


def test_ancova_without_covariates_is_the_t_test():
    y, group, valid, _ = simulate(seed=3)
    t = t_test(y, group, valid)
    for covariates in (None, np.zeros((B, N, 0))):
        a = ancova(y, group, covariates, valid)
        np.testing.assert_allclose(a.estimate, t.estimate, rtol=1e-10)
        np.testing.assert_allclose(a.se, t.se, rtol=1e-10)
        np.testing.assert_allclose(a.z, t.z, rtol=1e-10)


def test_ancova_tolerates_collinear_covariates_like_statsmodels_pinv():
    y, group, valid, x = simulate(seed=5)
    x = np.concatenate([x, 2.0 * x[..., :1], np.full((B, N, 1), 3.0)], axis=2)
    res = ancova(y, group, x, valid)
    assert not res.degenerate.any()
    for b in range(B):
        m = valid[b]
        design = sm.add_constant(np.column_stack([group[b, m], x[b, m, :P]]))
        fit = sm.OLS(y[b, m], design).fit()  # same model, without the redundant columns
        np.testing.assert_allclose(res.estimate[b], fit.params[1], rtol=RTOL)
        np.testing.assert_allclose(res.se[b], fit.bse[1], rtol=RTOL)


def test_invalid_patients_are_ignored_completely():
    y, group, valid, x = simulate(seed=7)
    y2, x2 = y.copy(), x.copy()
    y2[~valid] = 1e12
    x2[~valid] = -1e9
    group2 = group.copy()
    group2[~valid] = 1
    for fn, args, args2 in (
        (t_test, (y, group, valid), (y2, group2, valid)),
        (ancova, (y, group, x, valid), (y2, group2, x2, valid)),
    ):
        r1, r2 = fn(*args), fn(*args2)
        np.testing.assert_array_equal(r1.z, r2.z)
        np.testing.assert_array_equal(r1.estimate, r2.estimate)


def test_sign_convention_treatment_higher_mean_gives_positive_z():
    y, group, valid, x = simulate(seed=11, effect=3.0)
    assert np.all(t_test(y, group, valid).z > 0)
    assert np.all(ancova(y, group, x, valid).z > 0)
    assert np.all(t_test(-y, group, valid).z < 0)
    assert np.all(ancova(-y, group, x, valid).estimate < 0)


def test_degenerate_trials():
    y, group, valid, x = simulate(seed=13)
    y = np.nan_to_num(y)
    valid[0] = group[0] == 1  # no control patient
    valid[1] = False  # nobody
    y[2] = 4.2  # all-equal outcomes: zero variance
    valid[3] = False
    valid[3, [0, 1]] = True
    group[3, [0, 1]] = [0, 1]  # one patient per arm: no degrees of freedom
    x[4, :, 1] = group[4]  # covariate identical to the group: not estimable
    for res in (t_test(y, group, valid), ancova(y, group, x, valid)):
        assert_valid_result(res, B)
        assert res.degenerate[:4].all()
        assert np.all(res.z[:4] == 0.0)
        assert np.isnan(res.estimate[:4]).all() and np.isnan(res.se[:4]).all()
        assert not res.degenerate[5:].any()
    assert not t_test(y, group, valid).degenerate[4]
    assert ancova(y, group, x, valid).degenerate[4]


def test_perfect_fit_is_degenerate_in_ancova():
    y, group, valid, x = simulate(seed=17)
    y_exact = 1.0 + 0.5 * group + x @ np.array([2.0, -1.0])
    res = ancova(y_exact, group, x, valid)
    assert res.degenerate.all() and np.all(res.z == 0.0)


def test_t_to_z_preserves_tail_probabilities():
    t = np.array([-40.0, -3.0, -1.0, 0.0, 0.5, 2.0, 8.0])
    df = np.array([3, 10, 30, 5, 1, 120, 50])
    z = t_to_z(t, df)
    np.testing.assert_allclose(stats.norm.cdf(z), stats.t.cdf(t, df), rtol=1e-10, atol=0)
    np.testing.assert_allclose(stats.norm.sf(z), stats.t.sf(t, df), rtol=1e-10, atol=0)
    assert np.all(np.abs(z) <= np.abs(t))
    # Extreme statistics stay finite, keep their sign and are beyond any boundary.
    extreme = t_to_z(np.array([1e6, -1e6]), np.array([1000, 1000]))
    assert np.all(np.isfinite(extreme)) and extreme[0] > 37 and extreme[1] < -37
    np.testing.assert_allclose(t_to_z(np.array([1.7]), np.array([1e9])), 1.7, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": np.zeros((B, N + 1))}, "y must have shape"),
        ({"group": np.full((B, N), 2)}, "group must contain only 0/1"),
        ({"group": np.zeros((B, N))}, "group must be a bool or integer"),
        ({"valid": np.ones(N, dtype=bool)}, "valid must have shape"),
    ],
)
def test_t_test_validates_inputs(kwargs, message):
    y, group, valid, _ = simulate()
    args = {"y": np.nan_to_num(y), "group": group, "valid": valid} | kwargs
    with pytest.raises(ValueError, match=message):
        t_test(**args)


def test_nan_outcome_of_a_valid_patient_is_an_error():
    y, group, valid, x = simulate()
    y = y.copy()
    b, i = np.argwhere(valid)[0]
    y[b, i] = np.nan
    with pytest.raises(ValueError, match="y must be finite"):
        t_test(y, group, valid)
    with pytest.raises(ValueError, match="covariates must have shape"):
        ancova(np.nan_to_num(y), group, x[..., 0], valid)


def test_docstring_examples_run():
    for module in (means, results):
        failures, _ = doctest.testmod(module, raise_on_error=False)
        assert failures == 0
