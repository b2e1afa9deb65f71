"""Batched (stratified) log-rank test against lifelines and statsmodels."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from lifelines.statistics import logrank_test
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import survdiff

from trialsim.engine import logrank as logrank_module
from trialsim.engine.logrank import logrank

B, N = 20, 120
RTOL = 1e-6


def simulate(seed: int = 42, hazard_ratio: float = 0.7, ties: bool = False):
    """~20 trials: exponential times, random censoring, unequal arms, some invalid.

    With ``ties`` the times are rounded up to whole units, which gives heavy ties
    (between events, and between events and censorings).
    """
    rng = np.random.default_rng(seed)
    group = (rng.random((B, N)) < 0.4).astype(np.int8)
    valid = rng.random((B, N)) < 0.85
    t_event = rng.exponential(np.where(group == 1, 1.0 / hazard_ratio, 1.0)) * 5.0
    t_censor = rng.exponential(8.0, size=(B, N))
    time = np.minimum(t_event, t_censor)
    event = t_event <= t_censor
    if ties:
        time = np.ceil(time)
    time[~valid] = np.nan  # never looked at
    return time, event, group, valid


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "heavy-ties"])
def test_matches_lifelines_logrank_test(ties):
    time, event, group, valid = simulate(ties=ties)
    res = logrank(time, event, group, valid)
    assert not res.degenerate.any()
    if ties:
        assert np.mean([np.unique(time[b, valid[b]]).size for b in range(B)]) < 30
    for b in range(B):
        m = valid[b]
        t, e, g = time[b, m], event[b, m], group[b, m]
        ref = logrank_test(t[g == 1], t[g == 0], e[g == 1], e[g == 0])
        np.testing.assert_allclose(res.z[b] ** 2, ref.test_statistic, rtol=RTOL)
        np.testing.assert_allclose(2 * stats.norm.sf(abs(res.z[b])), ref.p_value, rtol=RTOL)
        assert res.n[b] == m.sum() and res.events[b] == e.sum()


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "heavy-ties"])
def test_matches_statsmodels_survdiff(ties):
    time, event, group, valid = simulate(seed=43, ties=ties)
    res = logrank(time, event, group, valid)
    for b in range(B):
        m = valid[b]
        chisq, pvalue = survdiff(time[b, m], event[b, m].astype(float), group[b, m])
        np.testing.assert_allclose(res.z[b] ** 2, chisq, rtol=RTOL)
        np.testing.assert_allclose(2 * stats.norm.sf(abs(res.z[b])), pvalue, rtol=RTOL)


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "heavy-ties"])
def test_stratified_matches_statsmodels_survdiff(ties):
    time, event, group, valid = simulate(seed=44, ties=ties)
    strata = np.random.default_rng(0).integers(-1, 3, size=(B, N))  # 4 codes, one negative
    res = logrank(time, event, group, valid, strata=strata)
    assert not res.degenerate.any()
    for b in range(B):
        m = valid[b]
        chisq, pvalue = survdiff(
            time[b, m], event[b, m].astype(float), group[b, m], strata=strata[b, m]
        )
        np.testing.assert_allclose(res.z[b] ** 2, chisq, rtol=RTOL)
        np.testing.assert_allclose(2 * stats.norm.sf(abs(res.z[b])), pvalue, rtol=RTOL)


def test_stratification_sums_o_minus_e_and_v_over_strata():
    time, event, group, valid = simulate(seed=45, ties=True)
    strata = np.random.default_rng(1).integers(0, 3, size=(B, N))
    res = logrank(time, event, group, valid, strata=strata)
    o_minus_e, var = np.zeros(B), np.zeros(B)
    for code in range(3):
        part = logrank(time, event, group, valid & (strata == code))
        o_minus_e += part.estimate / part.se**2  # (O-E)/V * V
        var += 1.0 / part.se**2
    np.testing.assert_allclose(res.z, o_minus_e / np.sqrt(var), rtol=1e-12)
    # A single stratum is the unstratified test.
    np.testing.assert_array_equal(
        logrank(time, event, group, valid, strata=np.full((B, N), 7)).z,
        logrank(time, event, group, valid).z,
    )


def test_sign_and_pike_estimate_match_the_cox_score_at_zero():
    # Without ties the log-rank test is the Cox score test (Breslow = Efron): statsmodels
    # PHReg gives the signed score U(0) = O1 - E1 and the information V.
    time, event, group, valid = simulate(seed=46)
    res = logrank(time, event, group, valid)
    for b in range(B):
        m = valid[b]
        model = PHReg(time[b, m], group[b, m][:, None].astype(float), status=event[b, m])
        score = model.score(np.zeros(1))[0]
        info = -model.hessian(np.zeros(1))[0, 0]
        np.testing.assert_allclose(res.z[b], score / np.sqrt(info), rtol=RTOL)
        np.testing.assert_allclose(res.estimate[b], score / info, rtol=RTOL)  # Pike
        np.testing.assert_allclose(res.se[b], 1 / np.sqrt(info), rtol=RTOL)


def test_sign_convention_treatment_better_gives_negative_z():
    time, event, group, valid = simulate(seed=47, hazard_ratio=0.3)
    res = logrank(time, event, group, valid)
    assert np.all(res.z < 0) and np.all(res.estimate < 0)
    harmful = logrank(time, event, 1 - group, valid)  # arms swapped
    np.testing.assert_allclose(harmful.z, -res.z, rtol=1e-12)


def test_invalid_patients_are_ignored_completely():
    time, event, group, valid = simulate(seed=48, ties=True)
    time2, event2, group2 = time.copy(), event.copy(), group.copy()
    time2[~valid], event2[~valid], group2[~valid] = 0.5, True, 1
    np.testing.assert_array_equal(
        logrank(time, event, group, valid).z, logrank(time2, event2, group2, valid).z
    )


def test_degenerate_trials():
    time, event, group, valid = simulate(seed=49)
    time = np.nan_to_num(time, nan=1.0)
    valid[0] = group[0] == 1  # no control patient
    event[1] = False  # no events
    valid[2] = False  # nobody
    # The only event happens when only its own arm is at risk: V = 0.
    valid[3] = False
    valid[3, :2] = True
    group[3, :2], time[3, :2], event[3, :2] = [0, 1], [0.5, 0.3], [True, False]
    res = logrank(time, event, group, valid)
    assert res.degenerate[:4].all()
    assert np.all(res.z[:4] == 0.0) and not np.isnan(res.z).any()
    assert np.isnan(res.estimate[:4]).all() and np.isnan(res.se[:4]).all()
    assert not res.degenerate[4:].any()
    assert res.events[1] == 0 and res.n[2] == 0


def test_one_arm_without_events_is_not_degenerate():
    time, event, group, valid = simulate(seed=50)
    event[group == 1] = False
    res = logrank(time, event, group, valid)
    assert not res.degenerate.any() and np.all(res.z < 0)


def test_zero_times_are_allowed():
    time, event, group, valid = simulate(seed=51, ties=True)
    time[:, :5] = 0.0  # e.g. enrolled exactly at the data cut
    event[:, :5] = False
    res = logrank(time, event, group, valid)
    b = 0
    m = valid[b]
    chisq, _ = survdiff(time[b, m], event[b, m].astype(float), group[b, m])
    np.testing.assert_allclose(res.z[b] ** 2, chisq, rtol=RTOL)


def test_large_batch_is_processed_in_blocks_consistently():
    # More trials than one internal block: results must not depend on the blocking.
    rng = np.random.default_rng(52)
    n_trials, n = 300, 600
    group = rng.random((n_trials, n)) < 0.5
    valid = rng.random((n_trials, n)) < 0.9
    time = np.ceil(rng.exponential(10.0, size=(n_trials, n)))
    event = rng.random((n_trials, n)) < 0.7
    res = logrank(time, event, group, valid)
    for b in (0, 150, 299):
        one = logrank(time[b : b + 1], event[b : b + 1], group[b : b + 1], valid[b : b + 1])
        np.testing.assert_allclose(res.z[b], one.z[0], rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"time": -1.0}, "time must be non-negative"),
        ({"time": np.inf}, "time must be finite"),
        ({"event": 3}, "event must contain only 0/1"),
    ],
)
def test_inputs_are_validated(change, message):
    time, event, group, valid = simulate()
    b, i = np.argwhere(valid)[0]
    event = event.astype(np.int64)
    if "time" in change:
        time[b, i] = change["time"]
    else:
        event[b, i] = change["event"]
    with pytest.raises(ValueError, match=message):
        logrank(time, event, group, valid)


def test_strata_are_validated():
    time, event, group, valid = simulate()
    with pytest.raises(ValueError, match="strata must hold integer"):
        logrank(time, event, group, valid, strata=np.zeros((B, N)))
    with pytest.raises(ValueError, match="strata must have shape"):
        logrank(time, event, group, valid, strata=np.zeros((B, N - 1), dtype=int))


def test_docstring_examples_run():
    failures, _ = doctest.testmod(logrank_module, raise_on_error=False)
    assert failures == 0
