"""Baseline hazards and event times under proportional hazards, with an optional delayed effect.

A baseline is described by its cumulative hazard ``H0(t) = int_0^t h0(u) du``; the
survival function is ``S0(t) = exp(-H0(t))``. Event times are drawn by inverse-transform
sampling on the cumulative-hazard scale: if ``E ~ Exp(1)`` then ``T = H^{-1}(E)`` has
cumulative hazard ``H``. Time is in months.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Baseline", "event_times"]

BaselineKind = Literal["exponential", "weibull", "piecewise_exponential"]
BASELINE_KINDS: tuple[str, ...] = ("exponential", "weibull", "piecewise_exponential")

_PARAMETERS: dict[str, tuple[str, ...]] = {
    "exponential": ("rate",),
    "weibull": ("shape", "scale"),
    "piecewise_exponential": ("starts", "rates"),
}


def _positive(value: float | None, what: str) -> float:
    if value is None:
        raise ValueError(f"{what} is required")
    value = float(value)
    if not (np.isfinite(value) and value > 0.0):
        raise ValueError(f"{what} must be finite and > 0, got {value}")
    return value


def _one_of(a: float | None, b: float | None, names: str) -> None:
    if (a is None) == (b is None):
        raise ValueError(f"give exactly one of {names}")


@dataclass(frozen=True, eq=False)
class Baseline:
    """A baseline (control-arm, reference-covariate) survival distribution.

    Attributes
    ----------
    kind : {"exponential", "weibull", "piecewise_exponential"}
        The family.
    rate : float, optional
        Exponential hazard per month: ``H0(t) = rate t``.
    shape, scale : float, optional
        Weibull: ``H0(t) = (t / scale)^shape`` (``scipy.stats.weibull_min(shape, scale=scale)``).
    starts, rates : numpy.ndarray, optional
        Piecewise exponential: hazard ``rates[k]`` on ``[starts[k], starts[k+1])``, the
        last piece continuing forever; starts strictly increasing from 0, rates >= 0
        with the last > 0.

    Examples
    --------
    >>> from trialsim.engine.survival import Baseline
    >>> Baseline.exponential(median=8.0).median()
    8.0
    >>> b = Baseline.piecewise([0.0, 6.0, 12.0], [0.05, 0.1, 0.2])
    >>> b.cumulative_hazard([3.0, 12.0, 13.0]).round(12).tolist()
    [0.15, 0.9, 1.1]
    >>> b.inverse_cumulative_hazard([0.15, 0.9, 1.1]).round(12).tolist()
    [3.0, 12.0, 13.0]
    """

    kind: BaselineKind
    rate: float | None = None
    shape: float | None = None
    scale: float | None = None
    starts: np.ndarray | None = None
    rates: np.ndarray | None = None
    # H0 at each piece start, K_k = sum_{i<k} r_i (s_{i+1} - s_i) (piecewise only)
    _knots: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in BASELINE_KINDS:
            raise ValueError(f"unknown baseline {self.kind!r}; use one of {BASELINE_KINDS}")
        wanted = _PARAMETERS[self.kind]
        given = [p for p in ("rate", "shape", "scale", "starts", "rates") if getattr(self, p) is not None]
        extra = [p for p in given if p not in wanted]
        if extra:
            raise ValueError(f"{', '.join(extra)} do(es) not apply to a {self.kind} baseline (it takes {wanted})")
        if self.kind == "exponential":
            object.__setattr__(self, "rate", _positive(self.rate, "exponential rate"))
        elif self.kind == "weibull":
            object.__setattr__(self, "shape", _positive(self.shape, "weibull shape"))
            object.__setattr__(self, "scale", _positive(self.scale, "weibull scale"))
        else:
            if self.starts is None or self.rates is None:
                raise ValueError("a piecewise_exponential baseline needs starts and rates")
            starts = np.array(self.starts, dtype=float, copy=True)
            rates = np.array(self.rates, dtype=float, copy=True)
            if starts.ndim != 1 or starts.shape != rates.shape or starts.size == 0:
                raise ValueError(
                    f"starts and rates must be 1-d of equal, non-zero length, got {starts.shape}, {rates.shape}"
                )
            if not (np.all(np.isfinite(starts)) and np.all(np.isfinite(rates))):
                raise ValueError("hazard piece starts and rates must be finite")
            if starts[0] != 0.0 or np.any(np.diff(starts) <= 0.0):
                raise ValueError(f"hazard piece starts must begin at 0 and strictly increase, got {starts}")
            if np.any(rates < 0.0) or rates[-1] <= 0.0:
                raise ValueError(f"hazard rates must be >= 0 with the last > 0, got {rates}")
            knots = np.concatenate(([0.0], np.cumsum(rates[:-1] * np.diff(starts))))
            for name, value in (("starts", starts), ("rates", rates), ("_knots", knots)):
                value.setflags(write=False)
                object.__setattr__(self, name, value)

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def exponential(cls, rate: float | None = None, median: float | None = None) -> Baseline:
        """Constant hazard ``rate``, or the one with the given median: ``rate = ln 2 / median``."""
        _one_of(rate, median, "rate and median")
        if median is not None:
            rate = np.log(2.0) / _positive(median, "exponential median")
        return cls("exponential", rate=rate)

    @classmethod
    def weibull(cls, shape: float, scale: float | None = None, median: float | None = None) -> Baseline:
        """Weibull ``S0(t) = exp(-(t / scale)^shape)``; from a median m, ``scale = m / (ln 2)^(1 / shape)``."""
        _one_of(scale, median, "scale and median")
        shape = _positive(shape, "weibull shape")
        if median is not None:
            scale = _positive(median, "weibull median") / np.log(2.0) ** (1.0 / shape)
        return cls("weibull", shape=shape, scale=scale)

    @classmethod
    def piecewise(cls, starts: ArrayLike, rates: ArrayLike) -> Baseline:
        """Hazard ``rates[k]`` per month from ``starts[k]`` on (``starts[0] == 0``)."""
        starts, rates = np.asarray(starts, dtype=float), np.asarray(rates, dtype=float)
        return cls("piecewise_exponential", starts=starts, rates=rates)

    # -- H0, its inverse, the median ------------------------------------------------------
    def cumulative_hazard(self, t: ArrayLike) -> np.ndarray:
        """``H0(t)`` for times ``t >= 0`` (any shape; ``H0(inf) = inf``)."""
        t = np.asarray(t, dtype=float)
        if np.any(~(t >= 0.0)):
            raise ValueError("times must be >= 0 months")
        if self.kind == "exponential":
            return self.rate * t
        if self.kind == "weibull":
            return (t / self.scale) ** self.shape
        # H0(t) = K_k + r_k (t - s_k) on piece k = the last with s_k <= t
        k = np.searchsorted(self.starts, t, side="right") - 1
        return self._knots[k] + self.rates[k] * (t - self.starts[k])

    def inverse_cumulative_hazard(self, h: ArrayLike) -> np.ndarray:
        """``H0^{-1}(h) = inf {t : H0(t) >= h}`` for ``h >= 0`` (any shape; ``inf -> inf``)."""
        h = np.asarray(h, dtype=float)
        if np.any(~(h >= 0.0)):
            raise ValueError("cumulative hazards must be >= 0")
        if self.kind == "exponential":
            return h / self.rate
        if self.kind == "weibull":
            return self.scale * h ** (1.0 / self.shape)
        # piece k = the last with K_k < h; a zero-rate piece is flat, so the next knot is
        # also < h and a flat piece is never chosen (the last rate is > 0)
        k = np.maximum(np.searchsorted(self._knots, h, side="left") - 1, 0)
        rate_k = self.rates[k]
        safe_rate = np.where(rate_k > 0.0, rate_k, 1.0)
        # t = s_k + (h - K_k) / r_k
        return np.where(h > 0.0, self.starts[k] + (h - self._knots[k]) / safe_rate, 0.0)

    def median(self) -> float:
        """Median survival time, ``H0^{-1}(ln 2)``."""
        return float(self.inverse_cumulative_hazard(np.log(2.0)))


def event_times(
    baseline: Baseline,
    log_hazard: ArrayLike,
    log_effect: ArrayLike,
    rng: np.random.Generator,
    *,
    delay: float = 0.0,
) -> np.ndarray:
    """Event times under proportional hazards, the treatment effect starting after ``delay``.

    Parameters
    ----------
    baseline : Baseline
        Baseline hazard h0.
    log_hazard : array_like
        Prognostic log hazard ratio of each patient (0 = the baseline's reference patient).
    log_effect : array_like
        Treatment log hazard ratio of each patient (0 for control). Broadcast with
        ``log_hazard``, e.g. both ``(trials, n)``.
    rng : numpy.random.Generator
        Source of randomness.
    delay : float, default 0
        Months after entry before the treatment effect starts (0 = proportional hazards
        throughout).

    Returns
    -------
    numpy.ndarray
        Event times in months from entry, shape of ``log_hazard`` and ``log_effect``
        broadcast together.

    Notes
    -----
    A patient with prognostic log hazard ``x`` and treatment log hazard ratio ``b`` has
    hazard ``h0(t) e^x`` for ``t < d`` and ``h0(t) e^(x + b)`` for ``t >= d``, so the
    cumulative hazard is::

        H(t) = e^x [ H0(min(t, d)) + e^b (H0(t) - H0(d))_+ ]

    Inverse transform: with ``E ~ Exp(1)``, ``T = H^{-1}(E)``. Let ``e = E e^(-x)``
    (the baseline-scale cumulative hazard at T)::

        e <= H0(d):  T = H0^{-1}(e)
        e >  H0(d):  T = H0^{-1}( H0(d) + (e - H0(d)) e^(-b) )

    With ``d = 0`` this is ``T = H0^{-1}(E e^(-x - b))``.

    Examples
    --------
    >>> import numpy as np
    >>> from trialsim.engine.survival import Baseline, event_times
    >>> base = Baseline.exponential(median=8.0)
    >>> arm = np.repeat([[0, 1]], 100_000, axis=0)
    >>> t = event_times(base, np.zeros(arm.shape), np.log(0.5) * arm, np.random.default_rng(0))
    >>> np.median(t, axis=0).round(0).tolist()  # medians 8 and 16 months
    [8.0, 16.0]
    """
    delay = float(delay)
    if not (np.isfinite(delay) and delay >= 0.0):
        raise ValueError(f"delay must be finite and >= 0 months, got {delay}")
    log_hazard = np.asarray(log_hazard, dtype=float)
    log_effect = np.asarray(log_effect, dtype=float)
    if not (np.all(np.isfinite(log_hazard)) and np.all(np.isfinite(log_effect))):
        raise ValueError("log_hazard and log_effect must be finite")
    shape = np.broadcast_shapes(log_hazard.shape, log_effect.shape)
    e = rng.standard_exponential(shape)
    if delay == 0.0:
        # proportional hazards throughout: H0(T) = E e^(-x - b), computed in place
        lp = np.add(log_hazard, log_effect)
        np.negative(lp, out=lp)
        np.exp(lp, out=lp)
        e *= lp
        if baseline.kind == "exponential":
            e /= baseline.rate  # H0^{-1}(h) = h / rate
            return e
        return baseline.inverse_cumulative_hazard(e)
    e *= np.exp(-log_hazard)
    h_delay = float(baseline.cumulative_hazard(delay))
    # min(e, H0(d)) + (e - H0(d))_+ e^(-b): both branches of the inverse transform at once
    h = np.minimum(e, h_delay) + np.maximum(e - h_delay, 0.0) * np.exp(-log_effect)
    return baseline.inverse_cumulative_hazard(h)
