"""The result type shared by the batched two-arm tests of :mod:`trialsim.engine`.

Every batched test (:func:`~trialsim.engine.means.t_test`,
:func:`~trialsim.engine.means.ancova`,
:func:`~trialsim.engine.proportions.two_proportion_z`,
:func:`~trialsim.engine.proportions.logistic`,
:func:`~trialsim.engine.logrank.logrank`, :func:`~trialsim.engine.cox.cox`)
analyses a block of ``B`` simulated trials at once and returns one
:class:`TestResult` whose fields are arrays of shape ``(B,)``, one entry per trial.

Conventions shared by all tests
-------------------------------
* Inputs are arrays of shape ``(B, n)`` (trials x patients).
* ``group``: 1 = treatment, 0 = control (bool or integer dtype).
* ``valid``: bool; patients with ``valid`` False are ignored completely (not in this
  comparison, or not yet enrolled at the data cut). Their other entries may hold
  anything, NaN included.
* The effect is always *treatment versus control*, and ``z`` has the sign of
  ``estimate``.
* Where a trial's statistic is undefined the trial is flagged ``degenerate``; its ``z``
  is 0.0 (never NaN, so boundary comparisons simply do not cross) and its ``estimate``
  and ``se`` are NaN.

This module also holds the small private helpers (input validation at the boundary,
a batched pseudo-inverse) that the test modules share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TestResult"]


@dataclass(frozen=True)
class TestResult:
    """Per-trial results of a batched two-arm test.

    All fields are arrays of shape ``(B,)``, one entry per simulated trial.

    Attributes
    ----------
    estimate : numpy.ndarray
        Effect of treatment versus control on its natural scale: mean difference
        (t-test, ANCOVA), risk difference (two-proportion z), log odds ratio
        (logistic), log hazard ratio (log-rank: Pike estimate; Cox). NaN where
        ``degenerate``.
    se : numpy.ndarray
        Standard error of ``estimate``. NaN where ``degenerate``.
    z : numpy.ndarray
        Standardised test statistic with the sign of ``estimate``. For t statistics
        it is the normal-equivalent ``z = Phi^{-1}(T_df(t))``, so that boundaries on
        the Z scale apply directly. 0.0 where ``degenerate`` (never NaN).
    n : numpy.ndarray
        Number of patients analysed (integer).
    events : numpy.ndarray or None
        Number of events (time-to-event tests) or responders (binary tests);
        None for continuous endpoints.
    degenerate : numpy.ndarray
        Boolean; True where the statistic is undefined (an arm empty, no events,
        zero variance, separation, non-convergence).

    Examples
    --------
    >>> import numpy as np
    >>> from trialsim.engine.means import t_test
    >>> y = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    >>> group = np.array([[0, 0, 0, 1, 1, 1]], dtype=np.int8)
    >>> res = t_test(y, group, np.ones_like(y, dtype=bool))
    >>> res.estimate, res.n, res.degenerate
    (array([3.]), array([6]), array([False]))
    """

    # Not a pytest test class, despite the name.
    __test__ = False

    estimate: np.ndarray
    se: np.ndarray
    z: np.ndarray
    n: np.ndarray
    events: np.ndarray | None
    degenerate: np.ndarray

    def __post_init__(self) -> None:
        shape = np.shape(self.z)
        if len(shape) != 1:
            raise ValueError(f"TestResult fields must be 1-d arrays, got z of shape {shape}")
        for name in ("estimate", "se", "n", "events", "degenerate"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != shape:
                raise ValueError(
                    f"TestResult.{name} has shape {np.shape(value)}, expected {shape}"
                )


# ---------------------------------------------------------------------------------------
# Private helpers shared by the batched test modules.
# ---------------------------------------------------------------------------------------


def _finish(
    estimate: np.ndarray,
    se: np.ndarray,
    z: np.ndarray,
    n: np.ndarray,
    events: np.ndarray | None,
    degenerate: np.ndarray,
) -> TestResult:
    """Build a :class:`TestResult`, applying the degenerate-row convention.

    Degenerate rows get ``z = 0.0`` and ``estimate = se = NaN``; ``z`` is never NaN.
    """
    degenerate = np.asarray(degenerate, dtype=bool)
    estimate = np.where(degenerate, np.nan, estimate).astype(np.float64)
    se = np.where(degenerate, np.nan, se).astype(np.float64)
    z = np.where(degenerate, 0.0, z).astype(np.float64)
    z = np.nan_to_num(z, nan=0.0)
    return TestResult(
        estimate=estimate,
        se=se,
        z=z,
        n=np.asarray(n, dtype=np.int64),
        events=None if events is None else np.asarray(events, dtype=np.int64),
        degenerate=degenerate,
    )


def _check_valid(valid: np.ndarray) -> np.ndarray:
    """Validate ``valid``: a bool (or 0/1 integer) array of shape ``(B, n)``."""
    valid = np.asarray(valid)
    if valid.ndim != 2:
        raise ValueError(f"valid must have shape (B, n), got shape {valid.shape}")
    return _indicator("valid", valid, valid.shape, None)


def _indicator(
    name: str, x: np.ndarray, shape: tuple[int, ...], valid: np.ndarray | None, *,
    allow_float: bool = False,
) -> np.ndarray:
    """Validate a 0/1 array of shape ``shape`` and return it as bool.

    Values are checked only where ``valid`` (everywhere if ``valid`` is None); other
    entries are ignored and returned as False.
    """
    x = np.asarray(x)
    if x.shape != shape:
        raise ValueError(f"{name} must have shape {shape} like valid, got {x.shape}")
    if x.dtype == np.bool_:
        out = x
    elif np.issubdtype(x.dtype, np.integer) or (
        allow_float and np.issubdtype(x.dtype, np.floating)
    ):
        ok = (x == 0) | (x == 1)
        if valid is not None:
            ok |= ~valid
        if not ok.all():
            raise ValueError(f"{name} must contain only 0/1 values (where valid)")
        out = x == 1
    else:
        kinds = "bool, integer or float" if allow_float else "bool or integer"
        raise ValueError(f"{name} must be a {kinds} 0/1 array, got dtype {x.dtype}")
    return out if valid is None else out & valid


def _real(
    name: str, x: np.ndarray, shape: tuple[int, ...], valid: np.ndarray, *,
    nonnegative: bool = False,
) -> np.ndarray:
    """Validate a real array of shape ``shape`` (finite where valid); return float64.

    Entries where ``valid`` is False are ignored and replaced by 0.0, so they can never
    contaminate sums.
    """
    x = np.asarray(x)
    if x.shape[: len(shape)] != shape or x.ndim not in (len(shape), len(shape) + 1):
        raise ValueError(f"{name} must have shape {shape} like valid, got {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.iscomplexobj(x):
        raise ValueError(f"{name} must be a real numeric array, got dtype {x.dtype}")
    mask = valid if x.ndim == valid.ndim else valid[..., None]
    out = np.where(mask, x, 0.0).astype(np.float64, copy=False)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} must be finite for every valid patient")
    if nonnegative and out.size and out.min() < 0:
        raise ValueError(f"{name} must be non-negative for every valid patient")
    return out


def _pinv_psd(
    a: np.ndarray, rtol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched pseudo-inverse of symmetric positive semi-definite matrices.

    For ``a`` of shape ``(B, k, k)`` with eigen-decomposition ``a = V diag(w) V'``,
    returns ``pinv = V diag(1/w, w > tol) V'``, the rank (number of eigenvalues above
    ``tol = rtol * max(w)``) and ``null_proj``: the ``(B, k)`` squared norms of the
    projections of the unit vectors ``e_j`` onto the numerical null space. A linear
    combination ``e_j' beta`` is estimable iff ``null_proj[:, j]`` is ~0.

    Unlike ``np.linalg.solve``/``inv`` this never raises on singular trials.
    """
    w, v = np.linalg.eigh(a)
    tol = rtol * np.maximum(w[:, -1:], np.finfo(np.float64).tiny)
    keep = w > tol
    inv_w = np.where(keep, 1.0 / np.where(keep, w, 1.0), 0.0)
    pinv = np.einsum("bik,bk,bjk->bij", v, inv_w, v)
    null_proj = np.einsum("bjk,bk->bj", v**2, (~keep).astype(np.float64))
    return pinv, keep.sum(axis=1), null_proj
