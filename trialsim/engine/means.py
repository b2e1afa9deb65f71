"""Batched comparisons of means: two-sample t-test and ANCOVA.

Both functions analyse ``B`` simulated trials at once from arrays of shape ``(B, n)``
and return a :class:`~trialsim.engine.results.TestResult`. The statistic is a t
statistic; ``z`` is its normal equivalent ``z = Phi^{-1}(T_df(t))`` so that boundaries
on the Z scale apply unchanged.
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

__all__ = ["t_test", "ancova", "t_to_z"]

# Perfect fit: residual SD below this fraction of the SD of y counts as zero variance.
_PERFECT_FIT_RTOL = 1e-10
# Eigenvalues of the (correlation-scaled) normal matrix below rtol * largest are null.
_RANK_RTOL = 1e-10
# The group coefficient is estimable iff its unit vector is (numerically) orthogonal
# to the null space of the normal matrix.
_ESTIMABLE_TOL = 1e-8


def t_to_z(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Normal-equivalent of a t statistic: ``z = Phi^{-1}(T_df(t))``.

    The two-sided and one-sided p-values of ``z`` under N(0, 1) equal those of ``t``
    under Student's t with ``df`` degrees of freedom.

    Parameters
    ----------
    t : numpy.ndarray
        t statistics.
    df : numpy.ndarray
        Degrees of freedom (> 0), broadcastable against ``t``.

    Returns
    -------
    numpy.ndarray
        Normal-equivalent statistics, same sign as ``t``, ``|z| <= |t|``.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(t_to_z(np.array([-2.0, 0.0, 2.0]), np.array([10, 10, 10])), 4)
    array([-1.7904,  0.    ,  1.7904])
    """
    t = np.asarray(t, dtype=np.float64)
    df = np.asarray(df, dtype=np.float64)
    # Work in the lower tail, where both distribution functions are accurate:
    #   z = -sign(t) * Phi^{-1}(T_df(-|t|)).
    lower = special.stdtr(df, -np.abs(t))
    z = 0.0 - special.ndtri(lower)  # (0.0 - x rather than -x: no -0.0 at t == 0)
    # Beyond |z| ~ 37 the tail probability underflows; fall back on the asymptotic
    # relation z^2 ~ df * log(1 + t^2 / df) (Wallace, 1959), only used for |z| > 37
    # where the exact value no longer matters for any boundary.
    far = ~np.isfinite(z)
    if np.any(far):
        approx = np.sqrt(df * np.log1p(t**2 / df))
        z = np.where(far, np.maximum(approx, 37.5), z)
    return np.sign(t) * z


def t_test(y: np.ndarray, group: np.ndarray, valid: np.ndarray) -> TestResult:
    """Pooled-variance two-sample t-test for every trial in a batch.

    Computes, per trial, the same statistic as
    ``scipy.stats.ttest_ind(y_treatment, y_control, equal_var=True)``.

    Parameters
    ----------
    y : numpy.ndarray
        Outcomes, float, shape ``(B, n)``. Entries of invalid patients are ignored.
    group : numpy.ndarray
        Arm, shape ``(B, n)``, bool or integer: 1 = treatment, 0 = control.
    valid : numpy.ndarray
        Bool, shape ``(B, n)``: patients included in the analysis.

    Returns
    -------
    TestResult
        ``estimate`` mean difference (treatment - control), ``se`` its pooled-variance
        standard error, ``z`` the normal-equivalent of the t statistic with
        ``n1 + n0 - 2`` df, ``n`` patients analysed, ``events`` None. Degenerate when
        an arm is empty, ``n1 + n0 < 3`` or both arms are constant (zero variance).

    Notes
    -----
    With arm sizes n_1, n_0, means ybar_1, ybar_0 and within-arm sums of squares
    SS_1, SS_0::

        s_p^2 = (SS_1 + SS_0) / (n_1 + n_0 - 2)
        se    = s_p * sqrt(1/n_1 + 1/n_0)
        t     = (ybar_1 - ybar_0) / se

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y = rng.normal(size=(3, 40)) + np.repeat([[0.0, 1.0]], 20, axis=1)
    >>> group = np.repeat([[0, 1]], 20, axis=1).repeat(3, axis=0)
    >>> res = t_test(y, group, np.ones(y.shape, dtype=bool))
    >>> res.z.shape, bool(np.all(res.z > 0))
    ((3,), True)
    """
    valid = _check_valid(valid)
    shape = valid.shape
    y = _real("y", y, shape, valid)
    treat = _indicator("group", group, shape, valid)
    ctrl = valid & ~treat

    n1 = treat.sum(axis=1)
    n0 = ctrl.sum(axis=1)
    mean1 = np.where(treat, y, 0.0).sum(axis=1) / np.maximum(n1, 1)
    mean0 = np.where(ctrl, y, 0.0).sum(axis=1) / np.maximum(n0, 1)

    # Within-arm sums of squares about the arm means (two-pass, numerically stable).
    resid = np.where(treat, y - mean1[:, None], y - mean0[:, None])
    ss = np.where(valid, resid * resid, 0.0).sum(axis=1)

    df = n1 + n0 - 2
    pooled_var = ss / np.maximum(df, 1)
    se = np.sqrt(pooled_var * (1.0 / np.maximum(n1, 1) + 1.0 / np.maximum(n0, 1)))
    diff = mean1 - mean0

    # Zero variance, detected exactly: both arms constant (max == min within each arm).
    constant = _constant_within(y, treat) & _constant_within(y, ctrl)
    degenerate = (n1 < 1) | (n0 < 1) | (df < 1) | constant

    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(degenerate, 0.0, diff / np.where(degenerate, 1.0, se))
    z = t_to_z(t, np.maximum(df, 1))
    return _finish(diff, se, z, n1 + n0, None, degenerate)


def ancova(
    y: np.ndarray,
    group: np.ndarray,
    covariates: np.ndarray | None,
    valid: np.ndarray,
) -> TestResult:
    """ANCOVA: per-trial OLS of ``y ~ 1 + group + covariates``, batched over trials.

    The estimate, standard error and t statistic of the ``group`` coefficient equal
    those of ``statsmodels.api.OLS(y, [1, group, covariates]).fit()`` on each trial's
    valid patients.

    Parameters
    ----------
    y : numpy.ndarray
        Outcomes, float, shape ``(B, n)``.
    group : numpy.ndarray
        Arm, shape ``(B, n)``, bool or integer: 1 = treatment, 0 = control.
    covariates : numpy.ndarray or None
        Baseline covariates, shape ``(B, n, p)`` (``p`` may be 0); None for none.
    valid : numpy.ndarray
        Bool, shape ``(B, n)``: patients included in the analysis.

    Returns
    -------
    TestResult
        ``estimate`` adjusted mean difference (group coefficient), ``se`` its OLS
        standard error, ``z`` the normal-equivalent of its t statistic with the
        residual df ``n - rank(X)``, ``events`` None. Degenerate when an arm is empty,
        the group coefficient is not estimable (collinear with covariates), there are
        no residual degrees of freedom, or the fit is perfect (zero residual variance).

    Notes
    -----
    Centring every column on its trial mean (over valid patients) partials out the
    intercept (Frisch-Waugh-Lovell) without changing the slopes, their standard errors
    or the residuals. With the centred design ``Xc = [group, covariates]`` (columns
    scaled to unit norm for conditioning, scaled back at the end) the batched normal
    equations are solved for all trials at once::

        beta    = (Xc' Xc)^+ Xc' yc           (einsum + batched pseudo-inverse)
        sigma^2 = ||yc - Xc beta||^2 / (n - 1 - rank(Xc))
        se_g    = sqrt(sigma^2 * [(Xc' Xc)^+]_gg)

    The pseudo-inverse (as statsmodels' pinv) tolerates covariates collinear among
    themselves, e.g. a stratum indicator that is constant at an interim; the group
    coefficient stays estimable and its variance is then unaffected.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> B, n = 4, 50
    >>> x = rng.normal(size=(B, n, 1))
    >>> group = rng.integers(0, 2, size=(B, n))
    >>> y = 0.5 * group + 2.0 * x[..., 0] + rng.normal(size=(B, n))
    >>> res = ancova(y, group, x, np.ones((B, n), dtype=bool))
    >>> res.estimate.shape, bool(np.all(np.abs(res.estimate - 0.5) < 1.0))
    ((4,), True)
    """
    valid = _check_valid(valid)
    shape = valid.shape
    y = _real("y", y, shape, valid)
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
    w = valid[..., None].astype(np.float64)  # (B, n, 1)
    denom = np.maximum(n_valid, 1)[:, None]

    # Design without the intercept, columns [group, covariates...]: (B, n, q), q = p + 1.
    xg = np.concatenate([treat[..., None].astype(np.float64), x], axis=2)
    # Centre on the trial means over valid patients (partials out the intercept).
    xc = (xg - (xg * w).sum(axis=1, keepdims=True) / denom[..., None]) * w
    yc = (y - (y * valid).sum(axis=1, keepdims=True) / denom) * valid
    # Scale each column to unit norm; constant columns stay zero (scale 1).
    norm = np.sqrt(np.einsum("bnj,bnj->bj", xc, xc))
    scale = np.where(norm > 0, norm, 1.0)
    xs = xc / scale[:, None, :]

    # Batched normal equations: (B, q, q) Gram matrices and (B, q) right-hand sides.
    gram = np.einsum("bni,bnj->bij", xs, xs)
    rhs = np.einsum("bni,bn->bi", xs, yc)
    ginv, rank, null_proj = _pinv_psd(gram, _RANK_RTOL)
    beta = np.einsum("bij,bj->bi", ginv, rhs)

    resid = yc - np.einsum("bnj,bj->bn", xs, beta)
    rss = np.einsum("bn,bn->b", resid, resid)
    tss = np.einsum("bn,bn->b", yc, yc)
    df = n_valid - 1 - rank
    sigma2 = rss / np.maximum(df, 1)

    estimate = beta[:, 0] / scale[:, 0]
    se = np.sqrt(sigma2 * np.maximum(ginv[:, 0, 0], 0.0)) / scale[:, 0]

    # Zero residual variance: y constant (exact check), or residuals negligible next to y.
    perfect_fit = _constant_within(y, valid) | (rss <= (_PERFECT_FIT_RTOL**2) * tss)
    degenerate = (
        (n1 < 1)
        | (n0 < 1)
        | (df < 1)
        | (null_proj[:, 0] > _ESTIMABLE_TOL)
        | perfect_fit
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(degenerate, 0.0, estimate / np.where(degenerate, 1.0, se))
    z = t_to_z(t, np.maximum(df, 1))
    return _finish(estimate, se, z, n_valid, None, degenerate)


def _constant_within(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row: are all ``y`` where ``mask`` equal? (True for 0 or 1 patients.)"""
    hi = np.where(mask, y, -np.inf).max(axis=1, initial=-np.inf)
    lo = np.where(mask, y, np.inf).min(axis=1, initial=np.inf)
    return ~(hi > lo)
