"""Patient times and outcomes of a block drawn in compiled loops: the same numbers as the numpy functions.

:func:`trialsim.engine.block.draw_patients` builds a block's patients from the functions of
:mod:`~trialsim.engine.accrual`, :mod:`~trialsim.engine.survival` and
:mod:`~trialsim.engine.outcomes`, each a few whole-array numpy steps: for 250 trials of 600
patients every step reads and writes a 1.2 MB array, and the per-patient effects are gathered
from the pool (``prognostic[index]``, ``effect_scale[index]``) even when they are the same for
everyone. The kernels here draw the same random numbers from the same generator, in the same
order (numpy's PCG64 stepped in the loop by :mod:`trialsim.engine.pcg64`, or numba's
``Generator`` methods, which share numpy's bit generator and algorithms), and apply the same
floating-point operations in the same order, each patient's value in one pass, so their results
are bit-identical to the numpy path (``tests/engine/test_draws.py``).

They cover the common cases: uniform accrual, one dropout hazard for every arm, and, when no
covariate changes the outcome model (:func:`plain`), exponential event times without delay (with
dropout as a competing risk, :mod:`~trialsim.engine.competing`) and normal outcomes. Everything
else goes through the numpy functions.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trialsim.engine import competing, pcg64
from trialsim.engine.memo import IdentityMemo

__all__ = ["event_or_dropout_by_arm", "exponential_by_arm", "normal_by_arm", "plain", "uniform_entry"]


def plain(prognostic: np.ndarray, effect_scale: np.ndarray) -> bool:
    """Whether every pool patient has prognostic score 0 and effect scale 1 (no covariate in the outcome model).

    Then a patient's linear predictor depends on their arm alone, and the per-patient gathers are
    not needed: ``0 + b * 1`` is ``b`` exactly.

    Examples
    --------
    >>> plain(np.zeros(3), np.ones(3)), plain(np.array([0.0, 0.1]), np.ones(2))
    (True, False)
    """
    # A pass over 10^5 patients, worth skipping in every seed block.
    return _PLAIN.get((prognostic, effect_scale), lambda: not prognostic.any() and bool((effect_scale == 1.0).all()))


_PLAIN: IdentityMemo[bool] = IdentityMemo(size=8)


def uniform_entry(
    duration: float, n: int, trials: int, rng: np.random.Generator, *, out: np.ndarray | None = None
) -> np.ndarray:
    """:func:`trialsim.engine.accrual.entry_times` for uniform accrual over ``duration`` months, compiled.

    ``rng`` must be on PCG64 (numpy's default; see :func:`trialsim.engine.pcg64.supports`). ``out``: a
    C-contiguous (trials, n) array to draw into (as for the other functions here).

    Examples
    --------
    >>> from trialsim.engine.accrual import Accrual, entry_times
    >>> a = uniform_entry(24.0, 5, 3, np.random.default_rng(1))
    >>> b = entry_times(Accrual.uniform(24.0), 5, 3, np.random.default_rng(1))
    >>> bool(np.array_equal(a, b))
    True
    """
    out = np.empty((trials, n)) if out is None else out
    with pcg64.stream(rng) as state:
        _uniform_entry(state, float(duration), out)
    return out


def exponential_by_arm(
    multiplier: np.ndarray, divisor: float, arm: np.ndarray, rng: np.random.Generator, *, out: np.ndarray | None = None
) -> np.ndarray:
    """``E * multiplier[arm] / divisor`` with ``E ~ Exp(1)`` drawn in ``arm``'s shape (C order).

    Exponential event times without covariates (:func:`trialsim.engine.survival.event_times`:
    ``multiplier = exp(-log_effect)`` per arm, ``divisor`` the baseline rate) and dropout times
    with one hazard for all arms (:func:`trialsim.engine.accrual.dropout_times`: multiplier 1,
    divisor the hazard). ``rng`` must be on PCG64.

    Examples
    --------
    >>> arm = np.array([[0, 1, 1, 0]], dtype=np.int8)
    >>> a = exponential_by_arm(np.array([1.0, 2.0]), 4.0, arm, np.random.default_rng(0))
    >>> e = np.random.default_rng(0).standard_exponential((1, 4))
    >>> bool(np.array_equal(a, e * np.array([1.0, 2.0])[arm] / 4.0))
    True
    """
    out = np.empty(arm.shape) if out is None else out
    with pcg64.stream(rng) as state:
        _exponential_by_arm(state, np.ascontiguousarray(multiplier, dtype=np.float64), float(divisor),
                            np.ascontiguousarray(arm), out)  # fmt: skip
    return out


def event_or_dropout_by_arm(
    rate: np.ndarray, hazard: np.ndarray, arm: np.ndarray, rng: np.random.Generator, *, out: tuple | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`trialsim.engine.competing.event_or_dropout` with each arm's event ``rate`` and dropout ``hazard``.

    ``rng`` must be on PCG64. ``out``: two C-contiguous arrays shaped like ``arm`` for the event
    and dropout times.

    Examples
    --------
    >>> from trialsim.engine.competing import event_or_dropout
    >>> arm = np.array([[0, 1, 1, 0]], dtype=np.int8)
    >>> rate, hazard = np.array([0.1, 0.05]), np.array([0.02, 0.0])
    >>> a = event_or_dropout_by_arm(rate, hazard, arm, np.random.default_rng(0))
    >>> b = event_or_dropout(rate[arm], hazard[arm], np.random.default_rng(0))
    >>> all(np.array_equal(x, y) for x, y in zip(a, b))
    True
    """
    rate = np.ascontiguousarray(rate, dtype=np.float64)
    total = rate + np.asarray(hazard, dtype=np.float64)
    # The same arithmetic as event_or_dropout's on each patient's values, done once per arm.
    scale, threshold = 1.0 / total, rate / total * competing.CAUSE_RANGE
    outcome, dropout = (np.empty(arm.shape), np.empty(arm.shape)) if out is None else out
    with pcg64.stream(rng) as state:
        _event_or_dropout_by_arm(state, scale, threshold, np.ascontiguousarray(arm), outcome, dropout)
    return outcome, dropout


def normal_by_arm(
    mean: float,
    shift: np.ndarray,
    sd: float,
    arm: np.ndarray,
    rng: np.random.Generator,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``mean + shift[arm] + sd * Z`` with ``Z ~ N(0, 1)`` drawn in ``arm``'s shape: normal outcomes without covariates.

    Examples
    --------
    >>> from trialsim.engine.outcomes import continuous_outcomes
    >>> arm = np.array([[0, 1, 1, 0]], dtype=np.int8)
    >>> a = normal_by_arm(1.0, np.array([0.0, 0.5]), 2.0, arm, np.random.default_rng(0))
    >>> b = continuous_outcomes(1.0, 2.0, np.array([0.0, 0.5])[arm], np.random.default_rng(0))
    >>> bool(np.array_equal(a, b))
    True
    """
    out = np.empty(arm.shape) if out is None else out
    _normal_by_arm(rng, float(mean), np.ascontiguousarray(shift, dtype=np.float64), float(sd),
                   np.ascontiguousarray(arm), out)  # fmt: skip
    return out


@nb.njit(cache=True, nogil=True)
def _uniform_entry(state, duration, out):  # pragma: no cover - compiled
    # Renyi: the cumulative sums of n + 1 unit exponentials over the last are the order
    # statistics of n uniforms; drawn row by row as numpy fills (trials, n + 1).
    trials, n = out.shape
    hi, lo, inc_hi, inc_lo = state[pcg64.HI], state[pcg64.LO], state[pcg64.INC_HI], state[pcg64.INC_LO]
    for b in range(trials):
        s = 0.0
        for i in range(n):
            hi, lo, e = pcg64.exponential(hi, lo, inc_hi, inc_lo)
            s += e
            out[b, i] = s
        hi, lo, e = pcg64.exponential(hi, lo, inc_hi, inc_lo)
        total = s + e
        for i in range(n):
            out[b, i] = out[b, i] / total * duration
    state[pcg64.HI], state[pcg64.LO] = hi, lo


@nb.njit(cache=True, nogil=True)
def _exponential_by_arm(state, multiplier, divisor, arm, out):  # pragma: no cover - compiled
    trials, n = out.shape
    hi, lo, inc_hi, inc_lo = state[pcg64.HI], state[pcg64.LO], state[pcg64.INC_HI], state[pcg64.INC_LO]
    for b in range(trials):
        for i in range(n):
            hi, lo, e = pcg64.exponential(hi, lo, inc_hi, inc_lo)
            out[b, i] = e * multiplier[arm[b, i]] / divisor
    state[pcg64.HI], state[pcg64.LO] = hi, lo


@nb.njit(cache=True, nogil=True)
def _event_or_dropout_by_arm(state, scale, threshold, arm, outcome, dropout):  # pragma: no cover - compiled
    # All the times first, then all the causes, as the numpy function draws them.
    trials, n = outcome.shape
    hi, lo, inc_hi, inc_lo = state[pcg64.HI], state[pcg64.LO], state[pcg64.INC_HI], state[pcg64.INC_LO]
    has32, half = state[pcg64.HAS32], state[pcg64.HALF]
    for b in range(trials):
        for i in range(n):
            hi, lo, e = pcg64.exponential(hi, lo, inc_hi, inc_lo)
            outcome[b, i] = e * scale[arm[b, i]]
    for b in range(trials):
        for i in range(n):
            hi, lo, has32, half, cause = pcg64.uint32(hi, lo, inc_hi, inc_lo, has32, half)
            first = outcome[b, i]
            event = cause < threshold[arm[b, i]]
            outcome[b, i] = first if event else np.inf
            dropout[b, i] = np.inf if event else first
    state[pcg64.HI], state[pcg64.LO], state[pcg64.HAS32], state[pcg64.HALF] = hi, lo, has32, half


@nb.njit(cache=True, nogil=True)
def _normal_by_arm(rng, mean, shift, sd, arm, out):  # pragma: no cover - compiled
    trials, n = out.shape
    for b in range(trials):
        for i in range(n):
            out[b, i] = mean + shift[arm[b, i]] + sd * rng.standard_normal()
