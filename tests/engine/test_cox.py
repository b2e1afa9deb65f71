"""Batched Cox model (Wald and score tests) against lifelines and statsmodels."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from statsmodels.duration.hazard_regression import PHReg

from trialsim.engine import cox as cox_module
from trialsim.engine.cox import cox
from trialsim.engine.logrank import logrank

B, N = 20, 120
RTOL = 1e-6
RTOL_ITERATIVE = 1e-5  # the reference fitters iterate
# lifelines stops on a Newton decrement below `precision` (default 1e-7), which leaves
# its estimate ~1e-5 (relative) from the maximum; tighten it so that the comparison
# measures our error rather than lifelines' stopping rule.
LIFELINES_FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-15}


def simulate(seed: int = 4, hazard_ratio: float = 0.7, ties: bool = False):
    """~20 trials: exponential times, random censoring, unequal arms, some invalid."""
    rng = np.random.default_rng(seed)
    group = (rng.random((B, N)) < 0.4).astype(np.int8)
    valid = rng.random((B, N)) < 0.85
    t_event = rng.exponential(np.where(group == 1, 1.0 / hazard_ratio, 1.0)) * 5.0
    t_censor = rng.exponential(8.0, size=(B, N))
    time = np.minimum(t_event, t_censor)
    event = t_event <= t_censor
    if ties:
        time = np.ceil(time)  # heavy ties
    time[~valid] = np.nan  # never looked at
    return time, event, group, valid


def phreg(time, event, group, ties):
    return PHReg(time, group[:, None].astype(float), status=event.astype(float), ties=ties)


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "heavy-ties"])
def test_wald_efron_matches_lifelines_coxphfitter(ties):
    time, event, group, valid = simulate(ties=ties)
    res = cox(time, event, group, valid)
    assert not res.degenerate.any()
    for b in range(B):
        m = valid[b]
        df = pd.DataFrame({"T": time[b, m], "E": event[b, m], "x": group[b, m]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CoxPHFitter().fit(df, "T", "E", fit_options=LIFELINES_FIT_OPTIONS)
        np.testing.assert_allclose(res.estimate[b], fit.params_["x"], rtol=RTOL_ITERATIVE)
        np.testing.assert_allclose(res.se[b], fit.standard_errors_["x"], rtol=RTOL_ITERATIVE)
        np.testing.assert_allclose(res.z[b], fit.summary.loc["x", "z"], rtol=RTOL_ITERATIVE)
        assert res.n[b] == m.sum() and res.events[b] == event[b, m].sum()


@pytest.mark.parametrize("ties_method", ["efron", "breslow"])
@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "heavy-ties"])
def test_wald_matches_statsmodels_phreg(ties, ties_method):
    time, event, group, valid = simulate(seed=5, ties=ties)
    res = cox(time, event, group, valid, ties=ties_method)
    assert not res.degenerate.any()
    for b in range(B):
        m = valid[b]
        fit = phreg(time[b, m], event[b, m], group[b, m], ties_method).fit()
        np.testing.assert_allclose(res.estimate[b], fit.params[0], rtol=RTOL_ITERATIVE)
        np.testing.assert_allclose(res.se[b], fit.bse[0], rtol=RTOL_ITERATIVE)


@pytest.mark.parametrize("ties_method", ["efron", "breslow"])
@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "heavy-ties"])
def test_score_test_matches_statsmodels_phreg_score_at_zero(ties, ties_method):
    time, event, group, valid = simulate(seed=6, ties=ties)
    res = cox(time, event, group, valid, method="score", ties=ties_method)
    assert not res.degenerate.any()
    for b in range(B):
        m = valid[b]
        model = phreg(time[b, m], event[b, m], group[b, m], ties_method)
        score = model.score(np.zeros(1))[0]
        info = -model.hessian(np.zeros(1))[0, 0]
        np.testing.assert_allclose(res.z[b], score / np.sqrt(info), rtol=RTOL)
        np.testing.assert_allclose(res.estimate[b], score / info, rtol=RTOL)
        np.testing.assert_allclose(res.se[b], 1 / np.sqrt(info), rtol=RTOL)


def test_score_test_without_ties_is_the_logrank_test():
    time, event, group, valid = simulate(seed=7)
    lr = logrank(time, event, group, valid)
    for ties in ("efron", "breslow"):
        sc = cox(time, event, group, valid, method="score", ties=ties)
        np.testing.assert_allclose(sc.z, lr.z, rtol=1e-10)
        np.testing.assert_allclose(sc.estimate, lr.estimate, rtol=1e-10)


def test_sign_convention_treatment_better_gives_negative_estimate():
    time, event, group, valid = simulate(seed=8, hazard_ratio=0.3)
    for method in ("wald", "score"):
        res = cox(time, event, group, valid, method=method)
        assert np.all(res.z < 0) and np.all(res.estimate < 0)
        swapped = cox(time, event, 1 - group, valid, method=method)
        np.testing.assert_allclose(swapped.z, -res.z, rtol=1e-8)


def test_invalid_patients_are_ignored_completely():
    time, event, group, valid = simulate(seed=9, ties=True)
    time2, event2, group2 = time.copy(), event.copy(), group.copy()
    time2[~valid], event2[~valid], group2[~valid] = 0.5, True, 1
    for method in ("wald", "score"):
        np.testing.assert_array_equal(
            cox(time, event, group, valid, method=method).z,
            cox(time2, event2, group2, valid, method=method).z,
        )


def test_degenerate_trials():
    time, event, group, valid = simulate(seed=10)
    time = np.nan_to_num(time, nan=1.0)
    valid[0] = group[0] == 0  # no treated patient
    event[1] = False  # no events
    valid[2] = False  # nobody
    event[3, group[3] == 1] = False  # no events on treatment: beta_hat = -inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wald = cox(time, event, group, valid)
        score = cox(time, event, group, valid, method="score")
    assert wald.degenerate[:4].all() and not wald.degenerate[4:].any()
    assert np.all(wald.z[:4] == 0.0) and not np.isnan(wald.z).any()
    assert np.isnan(wald.estimate[:4]).all() and np.isnan(wald.se[:4]).all()
    # The score test is still defined when the maximum is at infinity.
    assert score.degenerate[:3].all() and not score.degenerate[3:].any()
    assert score.z[3] < 0 and np.all(score.z[:3] == 0.0)


def test_extreme_but_finite_effect_converges():
    # Treated patients survive far longer: large |log HR|, still a finite maximum.
    time, event, group, valid = simulate(seed=11, hazard_ratio=0.02)
    res = cox(time, event, group, valid, ties="breslow")
    for b in np.flatnonzero(~res.degenerate):
        m = valid[b]
        fit = phreg(time[b, m], event[b, m], group[b, m], "breslow").fit()
        np.testing.assert_allclose(res.estimate[b], fit.params[0], rtol=RTOL_ITERATIVE)
    assert (~res.degenerate).sum() >= B // 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"method": "lrt"}, "method must be"), ({"ties": "exact"}, "ties must be")],
)
def test_options_are_validated(kwargs, message):
    time, event, group, valid = simulate()
    with pytest.raises(ValueError, match=message):
        cox(time, event, group, valid, **kwargs)


def test_docstring_examples_run():
    failures, _ = doctest.testmod(cox_module, raise_on_error=False)
    assert failures == 0
