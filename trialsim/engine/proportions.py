"""Batched comparisons of proportions: two-proportion z-test and logistic regression.

Both functions analyse ``B`` simulated trials at once from 0/1 outcomes of shape
``(B, n)`` and return a :class:`~trialsim.engine.results.TestResult` whose ``events``
are the numbers of responders (``y == 1``) analysed.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from trialsim.engine.results import (
    TestResult,
    _check_valid,
    _finish,
    _indicator,
    _pinv_psd,
    _real,
)

__all__ = ["two_proportion_z", "logistic"]

# Newton-Raphson settings for the logistic fit (statsmodels: tol 1e-8, 35 iterations).
_LOGIT_MAX_ITER = 50
_LOGIT_TOL = 1e-10
# Eigenvalues of the (scaled) information below rtol * largest are treated as null.
_RANK_RTOL = 1e-10
_ESTIMABLE_TOL = 1e-8


def two_proportion_z(y: np.ndarray, group: np.ndarray, valid: np.ndarray) -> TestResult:
    """Two-proportion z-test with pooled variance, for every trial in a batch.

    ``z`` equals ``statsmodels.stats.proportion.proportions_ztest([x1, x0], [n1, n0])``
    (pooled variance under H0, no continuity correction) on each trial.

    Parameters
    ----------
    y : numpy.ndarray
        Responses 0/1 (bool, integer or float), shape ``(B, n)``.
    group : numpy.ndarray
        Arm, shape ``(B, n)``, bool or integer: 1 = treatment, 0 = control.
    valid : numpy.ndarray
        Bool, shape ``(B, n)``: patients included in the analysis.

    Returns
    -------
    TestResult
        ``estimate`` risk difference ``p1 - p0``; ``se`` its *unpooled* standard error
        (for confidence intervals around the estimate); ``z`` the *pooled* test
        statistic, so in general ``z != estimate / se``; ``events`` responders.
        Degenerate when an arm is empty or the pooled proportion is 0 or 1.

    Notes
    -----
    With x_k responders out of n_k patients in arm k, p_k = x_k / n_k and the pooled
    p = (x_1 + x_0) / (n_1 + n_0)::

        z  = (p_1 - p_0) / sqrt(p (1 - p) (1/n_1 + 1/n_0))        (pooled, under H0)
        se = sqrt(p_1 (1 - p_1) / n_1 + p_0 (1 - p_0) / n_0)       (unpooled)

    The unpooled ``se`` may be 0 (e.g. p_1 = 1, p_0 = 0) while ``z`` is defined.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1, 1, 1, 0, 1, 0, 0, 0]])
    >>> group = np.array([[1, 1, 1, 1, 0, 0, 0, 0]])
    >>> res = two_proportion_z(y, group, np.ones(y.shape, dtype=bool))
    >>> res.estimate, np.round(res.z, 4), res.events
    (array([0.5]), array([1.4142]), array([4]))
    """
    valid = _check_valid(valid)
    shape = valid.shape
    resp = _indicator("y", y, shape, valid, allow_float=True)
    treat = _indicator("group", group, shape, valid)

    n1 = treat.sum(axis=1)
    n_valid = valid.sum(axis=1)
    n0 = n_valid - n1
    x1 = (resp & treat).sum(axis=1)
    x_all = resp.sum(axis=1)
    x0 = x_all - x1

    safe_n1, safe_n0 = np.maximum(n1, 1), np.maximum(n0, 1)
    p1, p0 = x1 / safe_n1, x0 / safe_n0
    pooled = x_all / np.maximum(n_valid, 1)
    diff = p1 - p0
    se_pooled = np.sqrt(pooled * (1.0 - pooled) * (1.0 / safe_n1 + 1.0 / safe_n0))
    se = np.sqrt(p1 * (1.0 - p1) / safe_n1 + p0 * (1.0 - p0) / safe_n0)

    degenerate = (n1 < 1) | (n0 < 1) | (x_all == 0) | (x_all == n_valid)
    z = diff / np.where(degenerate, 1.0, se_pooled)
    return _finish(diff, se, z, n_valid, x_all, degenerate)


def logistic(
    y: np.ndarray,
    group: np.ndarray,
    covariates: np.ndarray | None,
    valid: np.ndarray,
) -> TestResult:
    """Logistic regression ``logit P(y=1) = b0 + b_g group + covariates' b``, batched.

    Fits all trials at once by Newton-Raphson (IRLS) and reports the Wald test of the
    group coefficient (the log odds ratio), matching ``statsmodels.api.Logit`` on each
    trial's valid patients.

    Parameters
    ----------
    y : numpy.ndarray
        Responses 0/1 (bool, integer or float), shape ``(B, n)``.
    group : numpy.ndarray
        Arm, shape ``(B, n)``, bool or integer: 1 = treatment, 0 = control.
    covariates : numpy.ndarray or None
        Baseline covariates, shape ``(B, n, p)`` (``p`` may be 0); None for none.
    valid : numpy.ndarray
        Bool, shape ``(B, n)``: patients included in the analysis.

    Returns
    -------
    TestResult
        ``estimate`` log odds ratio, ``se`` its standard error from the inverse
        observed information, ``z = estimate / se`` (Wald), ``events`` responders.
        Degenerate when an arm is empty, there are no responders or no
        non-responders, an arm has all or no responders (the MLE is infinite),
        the group coefficient is not estimable (collinear with covariates), other
        (quasi-)separation is detected, or Newton-Raphson does not converge.

    Notes
    -----
    Per trial, with design X = [1, group, covariates] (non-intercept columns centred
    and scaled to unit variance for conditioning; the group coefficient and its SE are
    scaled back, z is unchanged), mu = expit(X beta) and W = diag(mu (1 - mu))::

        score        U(beta) = X' (y - mu)
        information  I(beta) = X' W X
        Newton step  beta <- beta + I^+ U

    all computed for the B trials at once ((B, k, k) batched matrices). A trial stops
    updating once its largest step is below 1e-10; trials not converged after 50
    iterations are degenerate. Separation drives some coefficients to infinity and
    makes the information lose rank in that direction; a trial whose information at
    the end has lower rank than its design is flagged degenerate.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> B, n = 5, 200
    >>> group = rng.integers(0, 2, size=(B, n))
    >>> y = rng.random((B, n)) < np.where(group == 1, 0.6, 0.4)
    >>> res = logistic(y, group, None, np.ones((B, n), dtype=bool))
    >>> res.estimate.shape, bool(np.all(res.degenerate == False))
    ((5,), True)
    """
    valid = _check_valid(valid)
    shape = valid.shape
    resp = _indicator("y", y, shape, valid, allow_float=True)
    treat = _indicator("group", group, shape, valid)
    if covariates is None:
        covariates = np.zeros(shape + (0,))
    covariates = np.asarray(covariates)
    if covariates.ndim != 3:
        raise ValueError(
            f"covariates must have shape (B, n, p) = {shape} + (p,), got {covariates.shape}"
        )
    x = _real("covariates", covariates, shape, valid)

    n_valid = valid.sum(axis=1)
    n1 = treat.sum(axis=1)
    n0 = n_valid - n1
    x_all = resp.sum(axis=1)
    x1 = (resp & treat).sum(axis=1)
    x0 = x_all - x1

    w_valid = valid.astype(np.float64)
    denom = np.maximum(n_valid, 1).astype(np.float64)
    yf = resp.astype(np.float64)

    # Design: intercept, then group and covariates centred and scaled (over valid rows).
    # Stored transposed, (B, k, n), so that the batched products below are matmuls.
    other = np.concatenate([treat[:, None, :], np.moveaxis(x, 2, 1)], axis=1)
    other = other.astype(np.float64)
    mean = (other * w_valid[:, None, :]).sum(axis=2) / denom[:, None]
    centred = (other - mean[..., None]) * w_valid[:, None, :]
    sd = np.sqrt(np.einsum("bjn,bjn->bj", centred, centred) / denom[:, None])
    scale = np.where(sd > 0, sd, 1.0)
    design_t = np.concatenate([w_valid[:, None, :], centred / scale[..., None]], axis=1)
    k = design_t.shape[1]

    # Rank of the design itself (structural collinearity, e.g. a constant covariate).
    gram = design_t @ design_t.transpose(0, 2, 1) / denom[:, None, None]
    _, rank_design, null_design = _pinv_psd(gram, _RANK_RTOL)

    beta = np.zeros((shape[0], k))
    # Start the intercept at the logit of the overall response rate.
    rate = np.clip(x_all / denom, 1e-3, 1 - 1e-3)
    beta[:, 0] = special.logit(rate)

    active = np.ones(shape[0], dtype=bool)
    converged = np.zeros(shape[0], dtype=bool)
    cov = np.zeros((shape[0], k, k))
    rank_info = np.zeros(shape[0], dtype=np.int64)
    for _ in range(_LOGIT_MAX_ITER):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        if idx.size == shape[0]:  # avoid copying the design while all trials iterate
            xt, yb, wb, nb = design_t, yf, w_valid, denom
        else:
            xt, yb, wb, nb = design_t[idx], yf[idx], w_valid[idx], denom[idx]
        eta = (beta[idx, None, :] @ xt)[:, 0, :]
        mu = special.expit(eta)
        weight = mu * special.expit(-eta) * wb  # mu (1 - mu), accurate in the tails
        score = (xt @ ((yb - mu) * wb)[..., None])[..., 0]  # X'(y - mu)
        info = (xt * weight[:, None, :]) @ xt.transpose(0, 2, 1)  # X'WX
        info /= nb[:, None, None]
        info_inv, rank_info[idx], _ = _pinv_psd(info, _RANK_RTOL)
        step = (info_inv @ score[..., None])[..., 0] / nb[:, None]
        beta[idx] += step
        cov[idx] = info_inv / nb[:, None, None]
        done = np.max(np.abs(step), axis=1, initial=0.0) < _LOGIT_TOL
        converged[idx[done]] = True
        active[idx[done]] = False

    estimate = beta[:, 1] / scale[:, 0]
    se = np.sqrt(np.maximum(cov[:, 1, 1], 0.0)) / scale[:, 0]

    degenerate = (
        (n1 < 1)
        | (n0 < 1)
        | (x1 == 0) | (x1 == n1)  # quasi-separation by arm: infinite log OR
        | (x0 == 0) | (x0 == n0)
        | ~converged
        | (null_design[:, 1] > _ESTIMABLE_TOL)  # group collinear with covariates
        | (rank_info < rank_design)  # (quasi-)separation by covariates
    )
    z = estimate / np.where(degenerate, 1.0, se)
    return _finish(estimate, se, z, n_valid, x_all, degenerate)
