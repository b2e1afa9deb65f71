"""Entry (accrual) and dropout times for a block of simulated trials.

Entry times are arrays of shape ``(trials, n)``, sorted ascending within each row
(patient ``j`` of a trial is the ``j``-th to enter). Accrual is either *uniform*
(exactly ``n`` patients spread uniformly over a fixed duration) or *rate-based*: an
inhomogeneous Poisson process with intensity ``lambda(t)`` patients per month and
cumulative expected enrolment ``Lambda(t) = int_0^t lambda(u) du``, stopped at the
``n``-th arrival. Time is in months.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Accrual", "dropout_hazard", "dropout_times", "entry_times", "expected_duration"]


def _read_only(values: ArrayLike) -> np.ndarray:
    out = np.array(values, dtype=float, copy=True)
    out.setflags(write=False)
    return out


def _count(value: int, what: str) -> int:
    try:
        count = operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None
    if count < 1:
        raise ValueError(f"{what} must be at least 1, got {count}")
    return count


@dataclass(frozen=True, eq=False)
class Accrual:
    """How patients enter a trial, in months from the first possible entry.

    Either ``duration`` is set (uniform accrual of exactly ``n`` patients over
    ``[0, duration]``), or ``starts``/``rates`` describe a piecewise-constant rate
    ``lambda(t)`` (patients per month; the last piece continues forever), optionally
    with a linear ramp-up: on ``[0, ramp_up)`` the rate rises linearly from 0 to
    ``rates[0]``, i.e. ``lambda(t) = rates[0] * t / ramp_up``. The ramp must end within
    the first piece. Build one with :meth:`uniform`, :meth:`constant` or
    :meth:`piecewise`.

    Attributes
    ----------
    starts : numpy.ndarray
        Piece start times, strictly increasing, the first 0 (empty for uniform accrual).
    rates : numpy.ndarray
        Patients per month from each start on; >= 0, the last > 0 (empty for uniform).
    ramp_up : float
        Length of the linear ramp-up in months (0 = none).
    duration : float or None
        Uniform accrual over ``[0, duration]`` when set.

    Examples
    --------
    >>> from trialsim.engine.accrual import Accrual
    >>> acc = Accrual.constant(25.0, ramp_up=4.0)
    >>> float(acc.cumulative(2.0)), float(acc.cumulative(6.0))
    (12.5, 100.0)
    >>> float(acc.inverse_cumulative(100.0))
    6.0
    """

    starts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rates: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ramp_up: float = 0.0
    duration: float | None = None
    # Lambda without the ramp at each start, C_k = sum_{i<k} r_i (s_{i+1} - s_i)
    _knots: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts, rates = _read_only(self.starts), _read_only(self.rates)
        if starts.ndim != 1 or rates.ndim != 1 or starts.shape != rates.shape:
            raise ValueError(f"starts and rates must be 1-d of equal length, got {starts.shape} and {rates.shape}")
        ramp = float(self.ramp_up)
        if not (np.isfinite(ramp) and ramp >= 0.0):
            raise ValueError(f"ramp_up must be finite and >= 0 months, got {self.ramp_up}")
        if self.duration is not None:
            duration = float(self.duration)
            if not (np.isfinite(duration) and duration > 0.0):
                raise ValueError(f"accrual duration must be finite and > 0 months, got {self.duration}")
            if starts.size or ramp:
                raise ValueError("uniform accrual (duration) takes no starts, rates or ramp_up")
            object.__setattr__(self, "duration", duration)
        else:
            if starts.size == 0:
                raise ValueError("rate-based accrual needs at least one piece (or give a duration)")
            if not (np.all(np.isfinite(starts)) and np.all(np.isfinite(rates))):
                raise ValueError("accrual starts and rates must be finite")
            if starts[0] != 0.0 or np.any(np.diff(starts) <= 0.0):
                raise ValueError(f"accrual piece starts must begin at 0 and strictly increase, got {starts}")
            if np.any(rates < 0.0) or rates[-1] <= 0.0:
                raise ValueError(f"accrual rates must be >= 0 with the last > 0 (it runs forever), got {rates}")
            if ramp > 0.0:
                if rates[0] <= 0.0:
                    raise ValueError("a ramp-up needs a first rate > 0 to ramp up to")
                if starts.size > 1 and ramp > starts[1]:
                    raise ValueError(f"ramp_up {ramp} must end within the first piece (by month {starts[1]})")
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "ramp_up", ramp)
        knots = np.concatenate(([0.0], np.cumsum(rates[:-1] * np.diff(starts))))
        knots.setflags(write=False)
        object.__setattr__(self, "_knots", knots)

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def uniform(cls, duration: float) -> Accrual:
        """Exactly ``n`` patients, entering uniformly over ``[0, duration]`` months."""
        return cls(duration=duration)

    @classmethod
    def constant(cls, rate: float, ramp_up: float = 0.0) -> Accrual:
        """Poisson arrivals at ``rate`` patients per month, after an optional linear ramp-up."""
        if not (np.isfinite(rate) and rate > 0.0):
            raise ValueError(f"accrual rate must be finite and > 0 patients per month, got {rate}")
        return cls(starts=np.zeros(1), rates=np.array([float(rate)]), ramp_up=ramp_up)

    @classmethod
    def piecewise(cls, starts: ArrayLike, rates: ArrayLike) -> Accrual:
        """Poisson arrivals at ``rates[k]`` patients per month from ``starts[k]`` on."""
        return cls(starts=np.asarray(starts, dtype=float), rates=np.asarray(rates, dtype=float))

    # -- Lambda and its inverse -------------------------------------------------------------
    @property
    def is_uniform(self) -> bool:
        """True for uniform accrual over a fixed duration."""
        return self.duration is not None

    def _require_rate(self) -> None:
        if self.is_uniform:
            raise ValueError("uniform accrual has no rate: its expected count by t depends on n (n t / duration)")

    def cumulative(self, t: ArrayLike) -> np.ndarray:
        """Expected number enrolled by time ``t``, ``Lambda(t)`` (rate-based accrual only).

        With ramp-up length R and first rate r_0, and C(t) the integral of the
        piecewise-constant rates::

            Lambda(t) = r_0 t^2 / (2 R)          for t < R
                      = C(t) - r_0 R / 2          for t >= R   (the ramp's shortfall)
        """
        self._require_rate()
        t = np.asarray(t, dtype=float)
        if np.any(~(t >= 0.0)):
            raise ValueError("times must be >= 0 months")
        k = np.searchsorted(self.starts, t, side="right") - 1
        # C(t) = C_k + r_k (t - s_k) on piece k
        out = self._knots[k] + self.rates[k] * (t - self.starts[k])
        if self.ramp_up > 0.0:
            r0, ramp = self.rates[0], self.ramp_up
            out = np.where(t < ramp, r0 * t * t / (2.0 * ramp), out - r0 * ramp / 2.0)
        return out

    def inverse_cumulative(self, s: ArrayLike) -> np.ndarray:
        """``Lambda^{-1}(s) = inf {t : Lambda(t) >= s}``, exactly (rate-based accrual only).

        On the ramp, ``t = sqrt(2 R s / r_0)`` (the root of the quadratic); past it,
        ``t = C^{-1}(s + r_0 R / 2)`` with ``C^{-1}(c) = s_k + (c - C_k) / r_k`` on the
        piece k whose knot values bracket c.
        """
        self._require_rate()
        s = np.asarray(s, dtype=float)
        if np.any(~(s >= 0.0)):
            raise ValueError("expected counts must be >= 0")
        r0, ramp = self.rates[0], self.ramp_up
        c = s + r0 * ramp / 2.0
        # side="left": the last piece with C_k < c; a piece with rate 0 is flat, so the
        # next knot equals C_k < c too, and a flat piece is never chosen (the last rate > 0)
        k = np.maximum(np.searchsorted(self._knots, c, side="left") - 1, 0)
        rate_k = self.rates[k]
        safe_rate = np.where(rate_k > 0.0, rate_k, 1.0)
        out = np.where(c > 0.0, self.starts[k] + (c - self._knots[k]) / safe_rate, 0.0)
        if ramp > 0.0:
            on_ramp = s < r0 * ramp / 2.0
            out = np.where(on_ramp, np.sqrt(2.0 * ramp * np.where(on_ramp, s, 0.0) / r0), out)
        return out


def entry_times(accrual: Accrual, n: int, trials: int, rng: np.random.Generator) -> np.ndarray:
    """Entry times of ``n`` patients in each of ``trials`` trials, sorted within each row.

    Parameters
    ----------
    accrual : Accrual
        Uniform or rate-based accrual.
    n : int
        Patients per trial.
    trials : int
        Number of trials in the block.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Float array of shape ``(trials, n)`` in months, ascending along each row.

    Notes
    -----
    Uniform accrual over [0, D]: the order statistics of n Uniform(0, D) draws, made
    without sorting through the Renyi representation: with S_i = E_1 + ... + E_i,
    E ~ Exp(1) iid, ``(S_1, ..., S_n) / S_{n+1}`` has the joint law of the order
    statistics U_(1) <= ... <= U_(n) of n Uniform(0, 1).

    Rate-based accrual: the arrival times of a Poisson process with cumulative
    intensity Lambda are ``T_i = Lambda^{-1}(S_i)`` (time change of a unit-rate Poisson
    process whose arrivals are S_i), with Lambda^{-1} exact (see
    :meth:`Accrual.inverse_cumulative`).

    Examples
    --------
    >>> import numpy as np
    >>> from trialsim.engine.accrual import Accrual, entry_times
    >>> t = entry_times(Accrual.uniform(24.0), n=5, trials=2, rng=np.random.default_rng(1))
    >>> t.shape, bool(np.all(np.diff(t, axis=1) >= 0)), bool(t.max() <= 24.0)
    ((2, 5), True, True)
    >>> t = entry_times(Accrual.constant(25.0), n=1000, trials=200, rng=np.random.default_rng(2))
    >>> round(float(t[:, -1].mean()), 1)  # about n / rate = 40 months
    40.0
    """
    n = _count(n, "n (patients per trial)")
    trials = _count(trials, "trials")
    if accrual.is_uniform:
        # Renyi representation: U_(i) = S_i / S_{n+1}, already in ascending order
        s = rng.standard_exponential((trials, n + 1))
        np.cumsum(s, axis=1, out=s)
        out = np.divide(s[:, :n], s[:, n:])
        out *= accrual.duration
        return out
    # unit-rate Poisson arrivals S_i, time-changed by Lambda^{-1}
    s = np.cumsum(rng.standard_exponential((trials, n)), axis=1)
    t = accrual.inverse_cumulative(s)
    # rounding can put a time just past a piece boundary one ulp above its successor on
    # the next piece; a running maximum keeps every row sorted at no cost to accuracy
    return np.maximum.accumulate(t, axis=1)


def expected_duration(accrual: Accrual, n: int) -> float:
    """Time by which ``n`` patients are expected to have entered, ``Lambda^{-1}(n)``.

    For uniform accrual, the duration itself.

    Examples
    --------
    >>> from trialsim.engine.accrual import Accrual, expected_duration
    >>> expected_duration(Accrual.constant(25.0, ramp_up=4.0), 200)  # 200 / 25 + 4 / 2
    10.0
    >>> expected_duration(Accrual.uniform(24.0), 600)
    24.0
    """
    n = _count(n, "n (patients per trial)")
    if accrual.is_uniform:
        return float(accrual.duration)
    return float(accrual.inverse_cumulative(float(n)))


def dropout_hazard(rate: float, per: float = 12.0) -> float:
    """Exponential dropout hazard that loses a proportion ``rate`` within ``per`` months.

    ``1 - exp(-h per) = rate``, so ``h = -log(1 - rate) / per`` (rpact's
    ``dropoutRate`` / ``dropoutTime`` convention).

    Examples
    --------
    >>> from trialsim.engine.accrual import dropout_hazard
    >>> round(dropout_hazard(0.05, 12.0), 6)
    0.004274
    """
    if not (0.0 <= rate < 1.0):
        raise ValueError(f"dropout rate must be a proportion in [0, 1), got {rate}")
    if not (np.isfinite(per) and per > 0.0):
        raise ValueError(f"dropout 'per' must be finite and > 0 months, got {per}")
    return float(-np.log1p(-rate) / per)


def dropout_times(hazard_by_arm: ArrayLike, arm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exponential times to dropout (from entry), with each patient's arm's hazard.

    Parameters
    ----------
    hazard_by_arm : array_like
        Dropout hazard per month for each arm, shape ``(A,)``, finite and >= 0.
    arm : numpy.ndarray
        Integer arm indices in ``0 .. A-1``, any shape (usually ``(trials, n)``).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Float array shaped like ``arm``: ``E / h[arm]`` with E ~ Exp(1), and ``+inf``
        where the hazard is 0 (nobody drops out).

    Examples
    --------
    >>> import numpy as np
    >>> from trialsim.engine.accrual import dropout_hazard, dropout_times
    >>> arm = np.array([[0, 1, 1, 0]])
    >>> d = dropout_times([dropout_hazard(0.05, 12.0), 0.0], arm, np.random.default_rng(0))
    >>> d.shape, bool(np.all(np.isinf(d[arm == 1]))), bool(np.all(np.isfinite(d[arm == 0])))
    ((1, 4), True, True)
    """
    hazard = np.asarray(hazard_by_arm, dtype=float)
    if hazard.ndim != 1 or hazard.size == 0:
        raise ValueError(f"hazard_by_arm must be a non-empty 1-d array (one hazard per arm), got {hazard.shape}")
    if not (np.all(np.isfinite(hazard)) and np.all(hazard >= 0.0)):
        raise ValueError(f"dropout hazards must be finite and >= 0, got {hazard}")
    arm = np.asarray(arm)
    if not np.issubdtype(arm.dtype, np.integer):
        raise ValueError(f"arm must hold integer arm indices, got dtype {arm.dtype}")
    if arm.size and (arm.min() < 0 or arm.max() >= hazard.size):
        raise ValueError(f"arm indices must lie in 0..{hazard.size - 1}")
    if not hazard.any():
        return np.full(arm.shape, np.inf)  # nobody drops out: nothing to draw
    e = rng.standard_exponential(arm.shape)
    # P(D > t) = exp(-h t)  <=>  D = E / h; h = 0 means never
    if np.all(hazard == hazard[0]):  # the same hazard in every arm
        e /= hazard[0]
        return e
    h = hazard[arm]
    return np.where(h > 0.0, e / np.where(h > 0.0, h, 1.0), np.inf)
