"""One-sided group-sequential boundaries on the standardised Z scale.

Z_k is the test statistic at look k, computed on information fraction t_k = I_k / I_max;
Z > 0 is evidence of efficacy. Under a drift ``theta * sqrt(I_max)`` the score process
S_k = Z_k sqrt(t_k) has independent increments S_k - S_{k-1} ~ N(drift dt_k, dt_k), so
Z_k ~ N(drift sqrt(t_k), 1) and corr(Z_j, Z_k) = sqrt(t_j / t_k) for j < k.

All probabilities are computed by recursive numerical integration (Armitage, McPherson &
Rowe 1969; Jennison & Turnbull 2000, *Group Sequential Methods*, ch. 19), as in gsDesign
(``gsprob``/``h1``/``hupdate``) and rpact -- never by simulation. The sub-density of Z_k
on the continuation region (l_k, c_k) of the earlier looks is carried on a grid of about
12r points (6r - 1 Jennison-Turnbull nodes plus Simpson midpoints, r = 18), which gives
boundary crossing probabilities to about 1e-7. Phi and phi are evaluated as
``scipy.stats.norm`` does (``scipy.special.ndtr``, :func:`_phi_inplace`), without its
per-call argument handling: the root-finding evaluates them a few thousand times.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.special import ndtr
from scipy.stats import norm

from trialsim.engine.spending import SPENDING_KINDS, spent

_GRID_R = 18  # Jennison & Turnbull grid size parameter (gsDesign default)
_Z_MAX = 40.0  # |Z| beyond this has probability < 1e-300: the root-finding bracket
_XTOL = 1e-12
_MAX_ITER = 200  # fixed-point iterations for binding futility
_CLASSICAL_DELTA = {"obrien_fleming": 0.0, "pocock": 0.5}
_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Boundaries:
    """Group-sequential design on the Z scale (see module docstring)."""

    information: np.ndarray  # information fractions t_1 < ... < t_K = 1
    efficacy: np.ndarray  # c_k: Z_k >= c_k rejects H0 at look k
    futility: np.ndarray | None  # l_k: Z_k <= l_k stops for futility; l_K == c_K
    alpha_spent: np.ndarray  # cumulative P_H0(reject by look k) (no futility if non-binding)
    beta_spent: np.ndarray | None  # cumulative P_drift(stop for futility by look k)
    drift: float | None  # theta * sqrt(I_max) of the alternative behind beta spending
    binding: bool


# --------------------------------------------------------------------------------------
# Numerical integration (Jennison & Turnbull ch. 19)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _State:
    """Sub-density of Z at fraction t on the continuation region, times Simpson weights."""

    t: float
    score: np.ndarray  # grid points z_i on the score scale: s_i = z_i sqrt(t)
    hw: np.ndarray  # h(z_i) * w_i, so that P(continue, Z in A) ~ sum over z_i in A


# before the first look S_0 = 0 with probability one: a point mass at t = 0
_START = _State(0.0, np.zeros(1), np.ones(1))


@functools.lru_cache(maxsize=4)
def _grid_offsets(r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Jennison-Turnbull grid of size parameter r as offsets from mu - 3, mu - 3 and mu + 3."""
    i = np.arange(1, 6 * r, dtype=float)
    pieces = (
        4.0 * np.log(r / i[: r - 1]),  # i = 1, ..., r - 1: log-spaced tail, subtracted
        3.0 * (i[r - 1 : 5 * r] - r) / (2.0 * r),  # i = r, ..., 5r: even core
        4.0 * np.log(r / (6.0 * r - i[5 * r :])),  # i = 5r + 1, ..., 6r - 1: log-spaced tail
    )
    for piece in pieces:
        piece.flags.writeable = False
    return pieces


def _grid(mu: float, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Jennison-Turnbull grid on (lo, hi) centred at mu = E[Z], with Simpson weights."""
    tail, core, head = _grid_offsets(_GRID_R)
    x = np.concatenate([mu - 3.0 - tail, mu - 3.0 + core, mu + 3.0 + head])
    if lo >= hi:  # empty continuation region
        return np.zeros(0), np.zeros(0)
    # truncate to the continuation region, putting nodes on the bounds themselves
    inner = x[(x > lo) & (x < hi)]
    nodes = np.concatenate([[lo] if x[0] <= lo else [], inner, [hi] if x[-1] >= hi else []])
    # composite Simpson: each interval [x_j, x_j+1] of width d_j gets its midpoint;
    # weights d/6 at both ends and 4 d / 6 at the midpoint
    d = np.diff(nodes)
    z = np.empty(2 * len(nodes) - 1)
    z[0::2] = nodes
    z[1::2] = nodes[:-1] + d / 2.0
    w = np.zeros_like(z)
    w[0:-1:2] += d / 6.0
    w[2::2] += d / 6.0
    w[1::2] = 4.0 * d / 6.0
    return z, w


def _phi_inplace(x: np.ndarray) -> np.ndarray:
    """Standard normal density exp(-x^2 / 2) / sqrt(2 pi), overwriting ``x``.

    The same operations as ``scipy.stats.norm.pdf`` (``np.exp(-x**2 / 2.0) / sqrt(2 pi)``:
    scaling by -1/2 is exact, so it equals negating and halving), without its argument
    checks and temporaries; this is where the recursive integration spends its time.
    """
    np.square(x, out=x)
    x *= -0.5
    np.exp(x, out=x)
    x /= _SQRT_2PI
    return x


def _p_upper(s: _State, t: float, drift: float, c: float) -> float:
    """P(continue up to the previous look, Z(t) >= c)."""
    dt = t - s.t
    # P(Z(t) >= c | S(s.t) = s_i) = Phi((s_i + drift dt - c sqrt(t_k)) / sqrt(dt)),
    # s_i = z_i sqrt(t_{k-1})
    x = (s.score + drift * dt - c * math.sqrt(t)) / math.sqrt(dt)
    return float(np.dot(s.hw, ndtr(x)))


def _p_lower(s: _State, t: float, drift: float, lower: float) -> float:
    """P(continue up to the previous look, Z(t) <= lower)."""
    dt = t - s.t
    x = (lower * math.sqrt(t) - s.score - drift * dt) / math.sqrt(dt)
    return float(np.dot(s.hw, ndtr(x)))


def _advance(s: _State, t: float, drift: float, lower: float, upper: float) -> _State:
    """Sub-density at t on (lower, upper) (gsDesign ``hupdate``)."""
    z, w = _grid(drift * math.sqrt(t), lower, upper)
    dt = t - s.t
    # h_k(z) = sum_j h_{k-1}(z_j) w_j sqrt(t_k / dt)
    #          * phi((z sqrt(t_k) - z_j sqrt(t_{k-1}) - drift dt) / sqrt(dt)),
    # z sqrt(t_k) and z_j sqrt(t_{k-1}) being the scores of the new and the previous grid
    score = z * math.sqrt(t)
    x = np.subtract.outer(score, s.score)
    x -= drift * dt
    x /= math.sqrt(dt)
    hw = w * (_phi_inplace(x) @ s.hw) * math.sqrt(t / dt)
    return _State(t, score, hw)


class _Unreachable(ValueError):
    """More error must be spent at a look than the probability of reaching it."""


def _solve_upper(s: _State, t: float, target: float, look: int) -> float:
    """c with P_H0(continue, Z(t) >= c) = target (+inf when nothing is spent)."""
    if target <= 0.0:
        return np.inf
    if _p_upper(s, t, 0.0, -_Z_MAX) <= target:
        raise _Unreachable(
            f"cannot spend {target:.3g} at look {look}: the probability of reaching "
            "that look under H0 is smaller; use less aggressive spending"
        )
    return brentq(lambda c: _p_upper(s, t, 0.0, c) - target, -_Z_MAX, _Z_MAX, xtol=_XTOL)


def _solve_lower(s: _State, t: float, drift: float, target: float, upper: float) -> float:
    """l <= upper with P_drift(continue, Z(t) <= l) = target; l = upper if beta is short."""
    if target <= 0.0:
        return -np.inf
    top = min(upper, _Z_MAX)
    if _p_lower(s, t, drift, top) <= target:
        return upper  # futility bound would cross the efficacy bound: stop at this look
    return brentq(lambda x: _p_lower(s, t, drift, x) - target, -_Z_MAX, top, xtol=_XTOL)


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------
def _check_information(information: ArrayLike) -> np.ndarray:
    t = np.atleast_1d(np.asarray(information, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"information must be a non-empty 1-D array of fractions, got {t}")
    if np.any(t <= 0.0) or np.any(t > 1.0) or np.any(np.diff(t) <= 0.0):
        raise ValueError(
            f"information fractions must be strictly increasing within (0, 1], got {t}"
        )
    if not np.isclose(t[-1], 1.0, rtol=0.0, atol=1e-12):
        raise ValueError(
            f"the last information fraction must be 1 (the final look), got {t[-1]}; "
            "divide the information at each look by the maximum information"
        )
    t[-1] = 1.0
    return t


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"one-sided alpha must be in (0, 0.5), got {alpha}")


def _increments(kind: str, t: np.ndarray, total: float, gamma: float | None) -> np.ndarray:
    """alpha(t_k) - alpha(t_{k-1}): the error to spend at each look."""
    return np.diff(spent(kind, t, total, gamma), prepend=0.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Efficacy bounds
# --------------------------------------------------------------------------------------
def _spending_upper(t: np.ndarray, inc: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """c_k: P_H0(l_j < Z_j < c_j for j < k, Z_k >= c_k) = alpha(t_k) - alpha(t_{k-1})."""
    s, c = _START, np.empty(len(t))
    for k in range(len(t)):
        c[k] = _solve_upper(s, t[k], inc[k], k + 1)
        if k < len(t) - 1:
            s = _advance(s, t[k], 0.0, min(lower[k], c[k]), c[k])
    return c


def _classical_upper(t: np.ndarray, alpha: float, delta: float, lower: np.ndarray) -> np.ndarray:
    """c_k = C t_k^(delta - 1/2) with C such that P_H0(reject at some look) = alpha."""
    shape = t ** (delta - 0.5)

    def excess(big_c: float) -> float:
        c = big_c * shape
        return _crossing(t, c, np.minimum(lower, c), 0.0)[0].sum() - alpha

    # excess(0) >= P(Z_1 >= 0) - alpha > 0; excess(Z_MAX / min(shape)) ~ -alpha
    big_c = brentq(excess, 0.0, _Z_MAX / shape.min(), xtol=_XTOL)
    return big_c * shape


def efficacy_bounds(
    information: ArrayLike,
    alpha: float,
    *,
    spending: str = "obrien_fleming",
    gamma: float | None = None,
) -> np.ndarray:
    """Lan-DeMets alpha-spending efficacy bounds (no futility bound).

    ``c_k`` solves ``P_H0(Z_1 < c_1, ..., Z_{k-1} < c_{k-1}, Z_k >= c_k)
    = alpha(t_k) - alpha(t_{k-1})``; a look that spends nothing gets ``c_k = +inf``.

    Parameters
    ----------
    information : array_like
        Information fractions, strictly increasing in (0, 1], ending at 1.
    alpha : float
        One-sided significance level in (0, 0.5).
    spending : {"obrien_fleming", "pocock", "hsd"}
        Spending function, see :func:`trialsim.engine.spending.spent`.
    gamma : float, optional
        Hwang-Shih-DeCani parameter (only for ``spending="hsd"``).

    Returns
    -------
    numpy.ndarray
        Critical values ``c_k`` on the Z scale.

    Examples
    --------
    >>> from trialsim.engine.boundaries import efficacy_bounds
    >>> efficacy_bounds([1 / 3, 2 / 3, 1], 0.025).round(4)
    array([3.7103, 2.5114, 1.993 ])
    """
    t = _check_information(information)
    _check_alpha(alpha)
    return _spending_upper(t, _increments(spending, t, alpha, gamma), np.full(len(t), -np.inf))


def classical_bounds(
    information: ArrayLike,
    alpha: float,
    *,
    kind: Literal["obrien_fleming", "pocock", "wang_tsiatis"],
    delta: float | None = None,
) -> np.ndarray:
    """Wang-Tsiatis family ``c_k = C t_k^(delta - 1/2)`` with total one-sided size alpha.

    ``delta = 0`` is O'Brien-Fleming, ``delta = 0.5`` Pocock (rpact ``typeOfDesign``
    ``"OF"``, ``"P"``, ``"WT"``). ``C`` solves ``P_H0(Z_k >= c_k for some k) = alpha``.

    Parameters
    ----------
    information : array_like
        Information fractions, strictly increasing in (0, 1], ending at 1.
    alpha : float
        One-sided significance level in (0, 0.5).
    kind : {"obrien_fleming", "pocock", "wang_tsiatis"}
        Boundary shape.
    delta : float, optional
        Wang-Tsiatis shape parameter in [-0.5, 1] (rpact's range); required for
        ``"wang_tsiatis"``, implied by the other kinds.

    Returns
    -------
    numpy.ndarray
        Critical values ``c_k`` on the Z scale.

    Examples
    --------
    >>> from trialsim.engine.boundaries import classical_bounds
    >>> classical_bounds([1 / 3, 2 / 3, 1], 0.025, kind="obrien_fleming").round(4)
    array([3.4711, 2.4544, 2.004 ])
    """
    t = _check_information(information)
    _check_alpha(alpha)
    return _classical_upper(t, alpha, _wt_delta(kind, delta), np.full(len(t), -np.inf))


def _wt_delta(kind: str, delta: float | None) -> float:
    if kind == "wang_tsiatis":
        if delta is None or not -0.5 <= delta <= 1.0:
            raise ValueError(f"wang_tsiatis needs delta in [-0.5, 1], got {delta}")
        return float(delta)
    if kind not in _CLASSICAL_DELTA:
        raise ValueError(
            f"unknown classical boundary {kind!r}; use obrien_fleming, pocock or wang_tsiatis"
        )
    if delta is not None and delta != _CLASSICAL_DELTA[kind]:
        raise ValueError(f"{kind} fixes delta = {_CLASSICAL_DELTA[kind]}, got {delta}")
    return _CLASSICAL_DELTA[kind]


# --------------------------------------------------------------------------------------
# Probabilities and designs with futility
# --------------------------------------------------------------------------------------
def crossing_probabilities(
    information: ArrayLike, upper: ArrayLike, lower: ArrayLike | None, drift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-look probabilities of first crossing the upper / lower bound.

    Parameters
    ----------
    information : array_like
        Information fractions, strictly increasing in (0, 1], ending at 1.
    upper : array_like
        Upper bounds ``c_k`` (``+inf`` allowed).
    lower : array_like or None
        Lower bounds ``l_k <= c_k`` (``-inf`` allowed); ``None`` means no lower bound.
    drift : float
        ``theta * sqrt(I_max)``: ``Z_k ~ N(drift sqrt(t_k), 1)``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``P(l_j < Z_j < c_j, j < k, Z_k >= c_k)`` and ``P(..., Z_k <= l_k)`` per look.

    Examples
    --------
    >>> from trialsim.engine.boundaries import crossing_probabilities
    >>> up, low = crossing_probabilities([0.5, 1.0], [2.797, 1.977], None, 0.0)
    >>> round(float(up.sum()), 4), float(low.sum())
    (0.025, 0.0)
    """
    t = _check_information(information)
    c = np.asarray(upper, dtype=float)
    lo = np.full(len(t), -np.inf) if lower is None else np.asarray(lower, dtype=float)
    if c.shape != t.shape or lo.shape != t.shape:
        raise ValueError("information, upper and lower must have the same length")
    if not np.isfinite(drift):
        raise ValueError(f"drift must be finite, got {drift}")
    if np.any(np.isnan(c)) or np.any(np.isnan(lo)) or np.any(lo > c):
        raise ValueError("bounds must not be NaN and lower bounds must be <= upper bounds")
    return _crossing(t, c, lo, drift)


def _crossing(
    t: np.ndarray, upper: np.ndarray, lower: np.ndarray, drift: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`crossing_probabilities` on checked arrays."""
    s, p_up, p_low = _START, np.zeros(len(t)), np.zeros(len(t))
    for k in range(len(t)):
        p_up[k] = _p_upper(s, t[k], drift, upper[k])
        p_low[k] = _p_lower(s, t[k], drift, lower[k])
        if k < len(t) - 1:
            s = _advance(s, t[k], drift, lower[k], upper[k])
    return p_up, p_low


def _futility_lower(
    t: np.ndarray, upper: np.ndarray, beta_inc: np.ndarray, drift: float
) -> tuple[np.ndarray, float]:
    """Beta-spending l_k at looks 1..K-1 and the final-look shortfall.

    l_k solves ``P_drift(l_j < Z_j < c_j, j < k, Z_k <= l_k) = beta(t_k) - beta(t_{k-1})``.
    Returns the bounds (l_K = c_K) and ``P_drift(continue to K, Z_K < c_K) - beta_inc_K``,
    which is zero when the bounds meet at the final look, i.e. power is exactly 1 - beta.
    """
    s, lower = _START, np.empty(len(t))
    for k in range(len(t) - 1):
        lower[k] = _solve_lower(s, t[k], drift, beta_inc[k], upper[k])
        s = _advance(s, t[k], drift, lower[k], upper[k])
    lower[-1] = upper[-1]
    return lower, _p_lower(s, t[-1], drift, upper[-1]) - beta_inc[-1]


def group_sequential_design(
    information: ArrayLike,
    alpha: float,
    beta: float = 0.2,
    *,
    efficacy: str = "obrien_fleming",
    efficacy_gamma: float | None = None,
    futility: str | None = None,
    futility_gamma: float | None = None,
    binding: bool = False,
    efficacy_kind: Literal["spending", "classical"] = "spending",
) -> Boundaries:
    """Efficacy bounds with optional beta-spending futility bounds.

    With ``futility`` (gsDesign ``test.type`` 3 if binding, 4 if non-binding) the drift
    ``theta sqrt(I_max)`` is solved so that the beta-spending futility bounds meet the
    efficacy bound at the final look (``l_K = c_K``), i.e. power ``1 - beta`` at the drift.
    Non-binding efficacy bounds ignore the futility bounds; binding ones are computed with
    them in place under H0 (solved jointly by fixed-point iteration).

    Parameters
    ----------
    information : array_like
        Information fractions, strictly increasing in (0, 1], ending at 1.
    alpha : float
        One-sided significance level in (0, 0.5).
    beta : float
        Type II error in (0, 1) at the solved drift (used only with ``futility``).
    efficacy : str
        Spending function (``efficacy_kind="spending"``) or classical boundary kind
        (``"classical"``: obrien_fleming, pocock, wang_tsiatis).
    efficacy_gamma : float, optional
        Hwang-Shih-DeCani gamma, or the Wang-Tsiatis delta for classical wang_tsiatis.
    futility : {"obrien_fleming", "pocock", "hsd"}, optional
        Beta-spending function for the futility bound; ``None`` for efficacy only.
    futility_gamma : float, optional
        Hwang-Shih-DeCani gamma of the beta-spending function.
    binding : bool
        Whether futility bounds are binding (requires ``futility``).
    efficacy_kind : {"spending", "classical"}
        Lan-DeMets spending or Wang-Tsiatis family efficacy bounds.

    Returns
    -------
    Boundaries

    Examples
    --------
    >>> from trialsim.engine.boundaries import group_sequential_design
    >>> d = group_sequential_design([1 / 3, 2 / 3, 1], 0.025, 0.1, efficacy="hsd",
    ...     efficacy_gamma=-4, futility="hsd", futility_gamma=-2)
    >>> d.efficacy.round(4), d.futility.round(4)
    (array([3.0107, 2.5465, 1.9992]), array([-0.2387,  0.9411,  1.9992]))
    """
    t = _check_information(information)
    _check_alpha(alpha)
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1), got {beta}")
    if binding and futility is None:
        raise ValueError("binding=True needs a futility spending function")
    if efficacy_kind == "spending":
        alpha_inc = _increments(efficacy, t, alpha, efficacy_gamma)
    elif efficacy_kind == "classical":
        delta = _wt_delta(efficacy, efficacy_gamma)
    else:
        raise ValueError(f"efficacy_kind must be 'spending' or 'classical', not {efficacy_kind!r}")

    def upper_for(lower: np.ndarray) -> np.ndarray:
        if efficacy_kind == "spending":
            return _spending_upper(t, alpha_inc, lower)
        return _classical_upper(t, alpha, delta, lower)

    no_lower = np.full(len(t), -np.inf)
    c_nonbinding = upper_for(no_lower)
    if futility is None:
        a_spent = np.cumsum(crossing_probabilities(t, c_nonbinding, None, 0.0)[0])
        return Boundaries(t, c_nonbinding, None, a_spent, None, None, False)
    if futility not in SPENDING_KINDS:
        raise ValueError(f"unknown futility spending {futility!r}; use one of {SPENDING_KINDS}")
    beta_inc = _increments(futility, t, beta, futility_gamma)

    def design(drift: float) -> tuple[np.ndarray, np.ndarray, float]:
        c = c_nonbinding
        lower, short = _futility_lower(t, c, beta_inc, drift)
        if not binding:
            return c, lower, short
        # binding: c_k depends on l_j (j < k) and l_k on c_j (j < k); iterate to the fixed
        # point (reached after K rounds for spending bounds, geometrically for classical)
        for _ in range(_MAX_ITER):
            c_new = upper_for(lower)
            converged = np.allclose(c_new, c, rtol=0.0, atol=1e-11)
            c = c_new
            lower, short = _futility_lower(t, c, beta_inc, drift)
            if converged:
                return c, lower, short
        raise ValueError("binding efficacy and futility bounds did not converge")

    def shortfall(drift: float) -> float:
        try:
            return design(drift)[2]
        except _Unreachable:  # binding futility bounds so high that H0 cannot spend
            return -beta_inc[-1]  # alpha: the drift is beyond the root

    if shortfall(0.0) <= 0.0:
        raise ValueError(f"no drift gives power 1 - beta; need alpha + beta < 1 (beta={beta})")
    # bracket the root upwards from the fixed-sample drift z_{1-alpha} + z_{1-beta}
    lo, hi = 0.0, max(norm.isf(alpha) + norm.isf(beta), 0.5)
    while shortfall(hi) > 0.0:
        lo, hi = hi, 1.2 * hi
        if hi > 100.0:
            raise ValueError("futility drift root not bracketed: check beta and the spending")
    drift = brentq(shortfall, lo, hi, xtol=_XTOL)
    c, lower, short = design(drift)
    if abs(short) > 1e-9:
        raise ValueError("no drift makes the futility bound meet the efficacy bound")
    beta_spent = np.cumsum(crossing_probabilities(t, c, lower, drift)[1])
    a_spent = np.cumsum(crossing_probabilities(t, c, lower if binding else None, 0.0)[0])
    return Boundaries(t, c, lower, a_spent, beta_spent, float(drift), binding)
