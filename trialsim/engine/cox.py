"""Batched Cox proportional-hazards model with a single binary treatment covariate.

Analyses ``B`` simulated trials at once from arrays of shape ``(B, n)``: the partial
likelihood, its score and information reduce to sums over events of a logistic term,
so Newton-Raphson runs on all trials together on flat arrays of events. Tied event
times are handled by Efron's (default) or Breslow's approximation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import special

from trialsim.engine.logrank import _row_blocks, _sort_by_time, _tie_group_counts
from trialsim.engine.results import TestResult, _check_valid, _finish, _indicator, _real

__all__ = ["cox"]

_MAX_ITER = 100
_TOL = 1e-10  # Newton step (log hazard ratio) below which a trial has converged
_MAX_STEP = 2.0  # largest Newton step on the log hazard ratio scale


def cox(
    time: np.ndarray,
    event: np.ndarray,
    group: np.ndarray,
    valid: np.ndarray,
    method: Literal["score", "wald"] = "wald",
    ties: Literal["breslow", "efron"] = "efron",
) -> TestResult:
    """Cox proportional-hazards test of treatment, for every trial in a batch.

    With ``method="wald"`` fits the log hazard ratio by maximum partial likelihood and
    reports its Wald test, matching ``lifelines.CoxPHFitter`` (Efron ties: ``params_``
    and ``standard_errors_``) and ``statsmodels`` ``PHReg`` (either ties method) on each
    trial. With ``method="score"`` reports the score test at ``beta = 0``.

    Parameters
    ----------
    time : numpy.ndarray
        Follow-up times, finite and >= 0, shape ``(B, n)``.
    event : numpy.ndarray
        Bool (or 0/1 integer), shape ``(B, n)``: True = event, False = censored.
    group : numpy.ndarray
        Arm, shape ``(B, n)``, bool or integer: 1 = treatment, 0 = control.
    valid : numpy.ndarray
        Bool, shape ``(B, n)``: patients included in the analysis.
    method : {"wald", "score"}
        Wald test at the maximum partial likelihood estimate, or score test at 0.
    ties : {"efron", "breslow"}
        Approximation of the partial likelihood at tied event times.

    Returns
    -------
    TestResult
        ``method="wald"``: ``estimate`` the log hazard ratio beta_hat, ``se`` from the
        observed information at beta_hat, ``z = estimate / se``. Degenerate when the
        estimate is infinite (no events, an arm empty or without events when the other
        has some, ...; decided exactly from the risk sets) or Newton-Raphson fails.

        ``method="score"``: ``z = U(0) / sqrt(I(0))``, with ``estimate`` the one-step
        estimate ``U(0) / I(0)`` and ``se = 1 / sqrt(I(0))`` (as the Pike estimate of
        :func:`~trialsim.engine.logrank.logrank`). Degenerate when ``I(0) == 0``.
        Without tied event times this is exactly the log-rank test.

        ``events`` is the total number of events; negative ``z`` favours treatment.

    Notes
    -----
    With x = 1 for treatment, at each distinct event time t_j let R_0j, R_1j be the
    numbers at risk in each arm and d_0j, d_1j the events. Efron's partial likelihood
    enumerates the d_j = d_0j + d_1j tied events l = 0, ..., d_j - 1 with risk sets
    reduced by the fraction f_l = l / d_j of the tied events (Breslow: f_l = 0)::

        A_l = R_0j - f_l d_0j,  C_l = R_1j - f_l d_1j             (effective risk set)
        p_l(beta) = C_l e^beta / (A_l + C_l e^beta) = expit(beta + log(C_l / A_l))

        log L(beta) = sum_j [ d_1j beta - sum_l log(A_l + C_l e^beta) ]
        U(beta) = O_1 - sum_{events} p_l(beta)                     (score)
        I(beta) = sum_{events} p_l(beta) (1 - p_l(beta))            (information)

    so every trial's score and information are sums over its events of a logistic
    term with a fixed offset log(C_l / A_l), evaluated for all trials at once. U is
    decreasing in beta, from O_1 - #{events with A_l = 0} at -inf to
    O_1 - #{events with C_l > 0} at +inf: the estimate is finite iff these limits have
    opposite signs. Newton-Raphson from 0 (steps capped at 2, bisection whenever a
    step leaves the bracket known to contain the root) converges for every such trial.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(5)
    >>> B, n = 4, 300
    >>> group = rng.integers(0, 2, size=(B, n))
    >>> time = np.ceil(rng.exponential(np.where(group == 1, 20.0, 10.0)))  # tied days
    >>> event = time < 15
    >>> time = np.minimum(time, 15.0)
    >>> valid = np.ones((B, n), dtype=bool)
    >>> res = cox(time, event, group, valid)
    >>> bool(np.all(res.estimate < 0)), bool(np.all(np.abs(res.estimate + np.log(2)) < 0.5))
    (True, True)
    """
    if method not in ("wald", "score"):
        raise ValueError(f"method must be 'wald' or 'score', got {method!r}")
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    valid = _check_valid(valid)
    shape = valid.shape
    time = _real("time", time, shape, valid, nonnegative=True)
    event = _indicator("event", event, shape, valid)
    treat = _indicator("group", group, shape, valid)

    estimate = np.zeros(shape[0])
    se = np.ones(shape[0])
    z = np.zeros(shape[0])
    degenerate = np.ones(shape[0], dtype=bool)
    for rows in _row_blocks(*shape):
        estimate[rows], se[rows], z[rows], degenerate[rows] = _cox_block(
            time[rows], event[rows], treat[rows], valid[rows], method, ties
        )
    return _finish(estimate, se, z, valid.sum(axis=1), event.sum(axis=1), degenerate)


def _cox_block(
    time: np.ndarray,
    event: np.ndarray,
    treat: np.ndarray,
    valid: np.ndarray,
    method: str,
    ties: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Estimate, se, z and degenerate flag for a block of trials."""
    n_trials, n = time.shape
    table = _sort_by_time(time, valid)
    ev_s = table.take(event)
    counts = _tie_group_counts(table, table.take(valid), ev_s, table.take(treat))

    # One entry per event: its tie group, and its rank l among the group's events.
    ev_pos = np.flatnonzero(ev_s)
    grp = np.searchsorted(table.ends, ev_pos)  # first group end at or after the event
    r1 = counts.at_risk1[grp].astype(np.float64)
    r0 = (counts.at_risk - counts.at_risk1)[grp].astype(np.float64)
    if ties == "efron":
        d = counts.events[grp].astype(np.float64)
        d1 = counts.events1[grp].astype(np.float64)
        rank = counts.cum_events.ravel()[ev_pos] - 1 - counts.events_before[grp]
        frac = rank / d  # f_l = l / d_j
        eff0 = r0 - frac * (d - d1)  # A_l
        eff1 = r1 - frac * d1  # C_l
    else:
        eff0, eff1 = r0, r1
    # p_l(beta) = expit(beta + offset), offset = log(C_l / A_l), +-inf when A_l or C_l is 0
    # (A_l and C_l are never both 0: the event itself is at risk).
    with np.errstate(divide="ignore"):
        offset = np.log(eff1) - np.log(eff0)

    n_events = np.count_nonzero(event, axis=1)
    observed1 = np.count_nonzero(event & treat, axis=1)  # O_1
    seg = _Segments(n_events)

    def score_info(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.repeat(beta, n_events) + offset
        p = special.expit(x)
        q = special.expit(-x)  # 1 - p, accurate when p is close to 1
        return observed1 - seg.sums(p), seg.sums(p * q)

    if method == "score":
        u0, i0 = score_info(np.zeros(n_trials))
        degenerate = ~(i0 > 0)
        safe_i = np.where(degenerate, 1.0, i0)
        return u0 / safe_i, 1.0 / np.sqrt(safe_i), u0 / np.sqrt(safe_i), degenerate

    # Finite maximum iff U(-inf) > 0 > U(+inf).
    u_minus_inf = observed1 - seg.sums((eff0 == 0).astype(np.float64))
    u_plus_inf = observed1 - seg.sums((eff1 > 0).astype(np.float64))
    finite = (u_minus_inf > 0) & (u_plus_inf < 0)

    beta = np.zeros(n_trials)
    lo = np.full(n_trials, -np.inf)  # U(lo) > 0
    hi = np.full(n_trials, np.inf)  # U(hi) < 0
    info = np.ones(n_trials)
    active = finite.copy()
    converged = np.zeros(n_trials, dtype=bool)
    for _ in range(_MAX_ITER):
        if not active.any():
            break
        u, i = score_info(beta)
        step = u / np.where(i > 0, i, 1.0)
        done = active & (np.abs(step) < _TOL)
        info = np.where(done, i, info)
        beta = np.where(done, beta + step, beta)
        converged |= done
        active &= ~done
        # Safeguarded Newton step: keep a bracket [lo, hi] around the root of U and
        # bisect whenever the (capped) Newton step would leave it.
        lo = np.where(active & (u > 0), np.maximum(lo, beta), lo)
        hi = np.where(active & (u < 0), np.minimum(hi, beta), hi)
        proposal = beta + np.clip(step, -_MAX_STEP, _MAX_STEP)
        outside = (proposal <= lo) | (proposal >= hi)
        with np.errstate(invalid="ignore"):
            proposal = np.where(outside, 0.5 * (lo + hi), proposal)
        beta = np.where(active, proposal, beta)

    degenerate = ~(finite & converged)
    se = 1.0 / np.sqrt(np.where(degenerate, 1.0, info))
    return beta, se, beta / se, degenerate


class _Segments:
    """Per-trial sums over a flat array of events sorted by trial."""

    def __init__(self, counts: np.ndarray) -> None:
        self.counts = counts
        self.starts = np.cumsum(counts) - counts
        self.nonempty = counts > 0

    def sums(self, w: np.ndarray) -> np.ndarray:
        # reduceat sums w[starts[k]:starts[k+1]]; empty segments are zeroed (reduceat
        # would return w[starts[k]] there), and the appended 0 keeps starts in range.
        total = np.add.reduceat(np.append(w, 0.0), self.starts)
        return np.where(self.nonempty, total, 0.0)
