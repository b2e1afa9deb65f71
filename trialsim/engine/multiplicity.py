"""Multiple-testing procedures, batched across simulated trials.

Two settings are covered, both for ``m`` one-sided hypotheses H_1, ..., H_m tested at
family-wise error rate (FWER) ``alpha``:

* **Single analysis** -- :func:`reject` applies a procedure to p-values of shape
  ``(B, m)`` (trials x hypotheses): no adjustment, Bonferroni, Holm (step-down),
  Hochberg (step-up) or the fixed sequence (hierarchical) procedure.
* **Group-sequential analysis** -- :func:`sequential_reject` applies the graphical
  group-sequential approach of Maurer & Bretz (2013) for the Bonferroni-based
  procedures (Bonferroni, Holm, fixed sequence) to Z statistics of shape ``(B, K, m)``
  (trials x looks x hypotheses), given efficacy boundaries computed elsewhere for each
  alpha fraction a hypothesis may be tested at (:func:`levels`).

:func:`family_power` summarises rejections per trial (any / all hypotheses rejected).

References
----------
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat
6:65-70. Hochberg Y (1988). A sharper Bonferroni procedure for multiple tests of
significance. Biometrika 75:800-802. Bretz F, Maurer W, Brannath W, Posch M (2009). A
graphical approach to sequentially rejective multiple test procedures. Stat Med
28:586-604. Maurer W, Bretz F (2013). Multiple testing in group sequential trials using
graphical approaches. Stat Biopharm Res 5:311-320.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

import numpy as np

__all__ = [
    "Method",
    "SequentialRejection",
    "family_power",
    "levels",
    "reject",
    "sequential_reject",
]

Method = Literal["none", "bonferroni", "holm", "hochberg", "fixed_sequence"]

_METHODS = ("none", "bonferroni", "holm", "hochberg", "fixed_sequence")
# Procedures that are weighted-Bonferroni graphs (Bretz et al. 2009), and so have a
# group-sequential extension by Maurer & Bretz (2013). Hochberg is Simes-based: it is not.
_SEQUENTIAL_METHODS = ("none", "bonferroni", "holm", "fixed_sequence")
# Tolerance when matching the keys of ``bounds`` to the fractions of :func:`levels`.
_FRACTION_RTOL = 1e-9


# --------------------------------------------------------------------------------------
# Single analysis
# --------------------------------------------------------------------------------------
def reject(p: np.ndarray, alpha: float, method: Method) -> np.ndarray:
    """Which hypotheses a multiple-testing procedure rejects, per trial.

    With sorted p-values ``p_(1) <= ... <= p_(m)`` of one trial (``H_(j)`` the
    hypothesis of ``p_(j)``):

    * ``"none"``: reject H_i iff ``p_i <= alpha`` (no multiplicity adjustment; does
      not control the FWER).
    * ``"bonferroni"``: reject H_i iff ``p_i <= alpha / m``.
    * ``"holm"`` (step-down): let ``j*`` be the first ``j`` with
      ``p_(j) > alpha / (m - j + 1)``; reject ``H_(1), ..., H_(j*-1)`` (all if none).
    * ``"hochberg"`` (step-up): let ``j*`` be the last ``j`` with
      ``p_(j) <= alpha / (m - j + 1)``; reject ``H_(1), ..., H_(j*)`` (none if none).
      Controls the FWER under independence or positive (MTP2) dependence only.
    * ``"fixed_sequence"``: test H_1, H_2, ... in column order, each at ``alpha``;
      stop at the first ``p_i > alpha``: reject H_i iff ``p_1, ..., p_i <= alpha``.

    Ties are handled consistently (tied p-values get the same decision), and the
    comparisons are those of :func:`statsmodels.stats.multitest.multipletests`
    (``p <= alpha / m`` etc., inclusive).

    Parameters
    ----------
    p : numpy.ndarray
        One-sided p-values, shape ``(B, m)``: trials x hypotheses, in ``[0, 1]``.
        NaN marks a degenerate test: never rejected; for Holm and Hochberg it counts
        as ``p = 1`` (so it still takes its share of alpha); for the fixed sequence
        it stops the sequence.
    alpha : float
        Family-wise one-sided significance level, in (0, 1).
    method : {"none", "bonferroni", "holm", "hochberg", "fixed_sequence"}
        Procedure.

    Returns
    -------
    numpy.ndarray
        Boolean, shape ``(B, m)``: True where the hypothesis is rejected.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.010, 0.020, 0.040],
    ...               [0.030, 0.001, 0.060]])
    >>> reject(p, 0.05, "holm")
    array([[ True,  True,  True],
           [False,  True, False]])
    >>> reject(p, 0.05, "fixed_sequence")
    array([[ True,  True,  True],
           [ True,  True, False]])
    >>> reject(np.array([[0.03, np.nan]]), 0.05, "hochberg")
    array([[False, False]])
    """
    p = _check_p(p)
    alpha = _check_alpha(alpha)
    _check_method(method, _METHODS)
    B, m = p.shape
    # NaN compares False in every `<=` below, so it is never rejected directly.
    if method == "none":
        return p <= alpha
    if method == "bonferroni":
        return p <= alpha / float(m)
    if method == "fixed_sequence":
        # H_i rejected iff p_1, ..., p_i <= alpha: a running AND along the columns.
        return np.logical_and.accumulate(p <= alpha, axis=1)

    # Holm and Hochberg: sort each trial's p-values (NaN as p = 1).
    q = np.where(np.isnan(p), 1.0, p)
    order = np.argsort(q, axis=1, kind="stable")
    q_sorted = np.take_along_axis(q, order, axis=1)
    # Critical values alpha / (m - j + 1), j = 1, ..., m (the same floats as statsmodels).
    crit = alpha / np.arange(m, 0, -1)
    below = q_sorted <= crit  # (B, m): p_(j) <= alpha / (m - j + 1)
    if method == "holm":
        # step-down: reject H_(j) iff p_(l) <= crit_l for all l <= j (running AND)
        rej_sorted = np.logical_and.accumulate(below, axis=1)
    else:  # hochberg
        # step-up: reject H_(j) iff p_(l) <= crit_l for some l >= j (reverse running OR)
        rej_sorted = np.logical_or.accumulate(below[:, ::-1], axis=1)[:, ::-1]
    rejected = np.empty_like(rej_sorted)
    np.put_along_axis(rejected, order, rej_sorted, axis=1)  # back to column order
    return rejected


def family_power(rejected: np.ndarray) -> dict[str, np.ndarray]:
    """Per-trial summaries of a rejection matrix, for power calculations.

    Parameters
    ----------
    rejected : numpy.ndarray
        Boolean, shape ``(B, m)``, e.g. the output of :func:`reject`.

    Returns
    -------
    dict
        ``"any"``: shape ``(B,)``, at least one hypothesis rejected (disjunctive
        power; under the global null its mean is the FWER); ``"all"``: shape
        ``(B,)``, every hypothesis rejected (conjunctive power). Their means over
        trials are the Monte Carlo power estimates.

    Examples
    --------
    >>> import numpy as np
    >>> out = family_power(np.array([[True, False], [True, True], [False, False]]))
    >>> out["any"], out["all"]
    (array([ True,  True, False]), array([False,  True, False]))
    """
    rejected = np.asarray(rejected)
    if rejected.ndim != 2 or rejected.shape[1] < 1:
        raise ValueError(f"rejected must have shape (B, m) with m >= 1; got shape {rejected.shape}")
    if rejected.dtype != np.bool_:
        raise ValueError(f"rejected must be a boolean array; got dtype {rejected.dtype}")
    return {"any": rejected.any(axis=1), "all": rejected.all(axis=1)}


# --------------------------------------------------------------------------------------
# Group-sequential analysis (Maurer & Bretz 2013)
# --------------------------------------------------------------------------------------
class SequentialRejection(NamedTuple):
    """Result of :func:`sequential_reject`; both fields have shape ``(B, m)``.

    Attributes
    ----------
    look : numpy.ndarray
        Integer: the (0-based) look at which the hypothesis was rejected; -1 if never.
    fraction : numpy.ndarray
        Float: the alpha fraction ``f`` the hypothesis was rejected at (its local level
        was ``f * alpha``); NaN if never rejected.
    """

    look: np.ndarray
    fraction: np.ndarray


def levels(method: Method, m: int) -> list[float]:
    """The distinct alpha fractions a hypothesis may be tested at, equal weights.

    In the graphical formulation (Bretz et al. 2009) each procedure gives every
    unrejected hypothesis a local level ``f * alpha``; :func:`sequential_reject` needs
    efficacy boundaries for each fraction ``f`` listed here:

    * ``"bonferroni"``: ``[1/m]`` -- nothing is ever passed on;
    * ``"holm"``: ``[1/m, 1/(m-1), ..., 1/2, 1]`` -- after ``r`` rejections each
      remaining hypothesis is tested at ``alpha / (m - r)``;
    * ``"fixed_sequence"``: ``[1]`` -- the first unrejected hypothesis (in column
      order) has fraction 1, the later ones fraction 0 (not tested; no boundary
      needed);
    * ``"none"``: ``[1]`` -- each hypothesis at the full alpha (no FWER control).

    ``"hochberg"`` is Simes-based, not a weighted Bonferroni test, and has no
    graphical group-sequential version here: it raises ValueError.

    Parameters
    ----------
    method : {"none", "bonferroni", "holm", "fixed_sequence"}
        Procedure.
    m : int
        Number of hypotheses (>= 1).

    Returns
    -------
    list of float
        Fractions in increasing order.

    Examples
    --------
    >>> levels("holm", 3)
    [0.3333333333333333, 0.5, 1.0]
    >>> levels("bonferroni", 4), levels("fixed_sequence", 4)
    ([0.25], [1.0])
    """
    _check_method(method, _SEQUENTIAL_METHODS)
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise ValueError(f"m must be an integer >= 1; got {m!r}")
    m = int(m)
    if method == "bonferroni":
        return [1.0 / m]
    if method == "holm":
        return [1.0 / r for r in range(m, 0, -1)]  # r = number of unrejected hypotheses
    return [1.0]  # none, fixed_sequence


def sequential_reject(
    z: np.ndarray,
    bounds: Mapping[float, np.ndarray],
    method: Method,
    *,
    retrospective: bool = False,
) -> SequentialRejection:
    """Graphical group-sequential multiple testing (Maurer & Bretz 2013), equal weights.

    Each hypothesis H_i has, at every moment, a local level ``f_i * alpha``
    (:func:`levels`), and is tested with the efficacy boundaries ``c_k(f_i * alpha)``
    of a single one-sided group-sequential design planned at that level. At look
    ``k = 0, ..., K-1``:

    1. every unrejected H_i with ``f_i > 0`` is rejected if
       ``z[b, k, i] >= c_k(f_i * alpha)``;
    2. after a rejection the fractions of the remaining hypotheses are updated by
       the graph -- Holm: ``f_i = 1 / (number of unrejected hypotheses)``; fixed
       sequence: the next hypothesis in column order becomes active with ``f = 1``;
       Bonferroni and none: unchanged -- and step 1 is repeated *at the same look*
       with the new boundaries, until no new rejection.

    A rejected hypothesis stays rejected. NaN statistics never reject (use NaN for a
    degenerate test or for looks that do not take place).

    Assumptions (the caller's responsibility):

    * ``bounds[f]`` are the efficacy boundaries of one group-sequential design at
      level ``f * alpha`` on the looks actually taken (same information fractions and
      spending function for all hypotheses), e.g. from
      :func:`trialsim.engine.boundaries.efficacy_bounds`, and they decrease (weakly)
      as ``f`` increases. FWER control then follows from the closure principle: each
      intersection hypothesis is tested by a weighted Bonferroni combination of
      group-sequential tests, whatever the correlation between the hypotheses.
    * When a hypothesis's level rises, its boundaries at *all* looks are those of a
      design planned at the new level from the start (Maurer & Bretz): the
      recomputation is implicit in choosing ``bounds[f_new]``.
    * Hierarchical stopping (e.g. stop the trial once the primary hypothesis is
      rejected, and test secondaries only up to that look) is handled by the caller,
      e.g. by setting ``z[b, k+1:, :] = NaN`` after trial ``b`` stops at look ``k``.
      Efficacy boundaries alone; futility stopping is the caller's.

    Parameters
    ----------
    z : numpy.ndarray
        Z statistics, shape ``(B, K, m)``: trials x looks x hypotheses; large values
        are evidence against H_i.
    bounds : Mapping[float, numpy.ndarray]
        For every fraction ``f`` in ``levels(method, m)`` (keys matched to relative
        precision 1e-9), the critical values ``c_k(f * alpha)``, shape ``(K,)``;
        ``+inf`` where a look spends no alpha. Extra keys are ignored.
    method : {"none", "bonferroni", "holm", "fixed_sequence"}
        Procedure (``"hochberg"`` is not Bonferroni-based and is refused).
    retrospective : bool, default False
        If True, after a level increase the statistics of *earlier* looks are also
        compared with the updated boundaries (``z[b, t, i] >= c_t(f_i * alpha)`` for
        some ``t <= k``). This is also valid by the closure principle (and slightly
        more powerful), but re-opens past analyses, which is unusual in practice; the
        default compares only the current look, like ``seqmbgx`` of the R package
        MultiGroupSequential with ``retrospective = 0``.

    Returns
    -------
    SequentialRejection
        Named tuple ``(look, fraction)`` of arrays of shape ``(B, m)``: the 0-based look
        at which each hypothesis was rejected (-1 if never) and the alpha fraction it
        was rejected at (NaN if never).

    Examples
    --------
    Holm with two hypotheses and two looks: H_1 crosses its ``alpha/2`` bound at look
    0; H_2 is then tested at the full-alpha bound, which it crosses at look 1.

    >>> import numpy as np
    >>> bounds = {0.5: np.array([3.0, 2.2]), 1.0: np.array([2.8, 2.0])}
    >>> z = np.array([[[3.1, 2.5],
    ...                [3.5, 2.1]]])
    >>> look, fraction = sequential_reject(z, bounds, "holm")
    >>> look, fraction
    (array([[0, 1]]), array([[0.5, 1. ]]))
    """
    z = np.asarray(z)
    if z.ndim != 3 or z.shape[1] < 1 or z.shape[2] < 1:
        raise ValueError(f"z must have shape (B, K, m) with K >= 1 and m >= 1; got shape {z.shape}")
    if not np.issubdtype(z.dtype, np.number) or np.iscomplexobj(z):
        raise ValueError(f"z must be a real numeric array; got dtype {z.dtype}")
    z = z.astype(np.float64, copy=False)
    _check_method(method, _SEQUENTIAL_METHODS)
    B, K, m = z.shape
    fracs = np.asarray(levels(method, m))
    crit = _bounds_table(bounds, fracs, K)  # crit[j, k] = c_k(fracs[j] * alpha)

    look = np.full((B, m), -1, dtype=np.int64)
    fraction = np.full((B, m), np.nan)
    rejected = np.zeros((B, m), dtype=bool)
    crossed = np.zeros((len(fracs), B, m), dtype=bool)
    for k in range(K):
        # crossed[j, b, i]: z[b, k, i] >= c_k(fracs[j] * alpha) (NaN compares False);
        # retrospective: ... for some look t <= k (running OR over looks).
        now = z[None, :, k, :] >= crit[:, k, None, None]
        crossed = crossed | now if retrospective else now
        # Re-test at the same look after each rejection; every round that continues
        # rejects at least one hypothesis, so m rounds suffice.
        for _ in range(m):
            j = _fraction_index(method, rejected)  # (B, m) index into fracs; -1: f = 0
            hit = np.take_along_axis(crossed, np.maximum(j, 0)[None], axis=0)[0]
            new = hit & (j >= 0) & ~rejected
            if not new.any():
                break
            rejected |= new
            look[new] = k
            fraction[new] = fracs[j[new]]
    return SequentialRejection(look, fraction)


def _fraction_index(method: str, rejected: np.ndarray) -> np.ndarray:
    """Index into ``levels(method, m)`` of each hypothesis's current fraction; -1: f = 0.

    Entries for already rejected hypotheses are meaningless (never used).
    """
    B, m = rejected.shape
    if method == "holm":
        # f = 1 / r with r = number unrejected; levels = [1/m, ..., 1/1], so 1/r is at
        # index m - r = number rejected (clipped: when all are rejected it is unused).
        n_rej = rejected.sum(axis=1, keepdims=True)
        return np.broadcast_to(np.minimum(n_rej, m - 1), (B, m))
    if method == "fixed_sequence":
        # The active hypothesis is the first unrejected column (rejections form a
        # prefix); argmin of a boolean row = first False. The others have f = 0.
        active = np.argmin(rejected, axis=1)[:, None]
        return np.where(np.arange(m)[None, :] == active, 0, -1)
    return np.zeros((B, m), dtype=np.intp)  # none, bonferroni: one fixed fraction


def _bounds_table(bounds: Mapping[float, np.ndarray], fracs: np.ndarray, K: int) -> np.ndarray:
    """Stack ``bounds[f]`` for the fractions ``fracs`` into shape ``(len(fracs), K)``."""
    if not isinstance(bounds, Mapping):
        raise ValueError(f"bounds must be a mapping from alpha fraction to critical values; got {type(bounds)}")
    keys = np.array([float(key) for key in bounds], dtype=np.float64)
    values = list(bounds.values())
    table = np.empty((len(fracs), K))
    for j, f in enumerate(fracs):
        match = np.flatnonzero(np.abs(keys - f) <= _FRACTION_RTOL * f)
        if match.size == 0:
            raise ValueError(
                f"bounds has no critical values for alpha fraction {f!r}; "
                f"needed: {[float(x) for x in fracs]}, given: {sorted(keys.tolist())}"
            )
        c = np.asarray(values[match[np.argmin(np.abs(keys[match] - f))]], dtype=np.float64)
        if c.shape != (K,):
            raise ValueError(f"bounds[{f!r}] must have shape ({K},) (one value per look); got shape {c.shape}")
        if np.isnan(c).any():
            raise ValueError(f"bounds[{f!r}] contains NaN")
        table[j] = c
    return table


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------
def _check_method(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        hint = " (Hochberg is Simes-based, not a weighted Bonferroni test)" if method == "hochberg" else ""
        raise ValueError(f"method must be one of {allowed}; got {method!r}{hint}")


def _check_alpha(alpha: float) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1); got {alpha!r}") from None
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    return a


def _check_p(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(
            f"p must have shape (B, m) with m >= 1 (one row per trial; use p[None, :] for one trial); "
            f"got shape {p.shape}"
        )
    if not np.issubdtype(p.dtype, np.number) or np.iscomplexobj(p):
        raise ValueError(f"p must be a real numeric array; got dtype {p.dtype}")
    p = p.astype(np.float64, copy=False)
    bad = ~np.isnan(p) & ((p < 0.0) | (p > 1.0))  # also catches +-inf
    if bad.any():
        raise ValueError(f"p-values must lie in [0, 1] (or be NaN); got {p[bad][0]!r}")
    return p
