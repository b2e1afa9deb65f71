"""Continuous and binary outcomes for a block of simulated trials.

Each patient's outcome is a draw around the control-arm reference value, moved by a
per-patient ``shift`` that adds prognostic and treatment effects on the model's own
scale: the mean for continuous outcomes, the log odds for binary ones.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, logit

__all__ = ["binary_outcomes", "continuous_outcomes", "risk_difference_to_log_odds_ratio"]


def _proportion(rate: float, what: str) -> float:
    rate = float(rate)
    if not 0.0 < rate < 1.0:
        raise ValueError(f"{what} must be strictly between 0 and 1, got {rate}")
    return rate


def continuous_outcomes(mean: float, sd: float, shift: ArrayLike, rng: np.random.Generator) -> np.ndarray:
    """Normal outcomes ``Y = mean + shift + sd Z``, ``Z ~ N(0, 1)``.

    Parameters
    ----------
    mean : float
        Control-arm mean for the reference patient.
    sd : float
        Residual standard deviation, >= 0.
    shift : array_like
        Per-patient shift of the mean (prognostic + treatment), e.g. ``(trials, n)``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Float outcomes shaped like ``shift``.

    Examples
    --------
    >>> import numpy as np
    >>> from trialsim.engine.outcomes import continuous_outcomes
    >>> y = continuous_outcomes(10.0, 2.0, np.full((2, 50_000), 1.5), np.random.default_rng(0))
    >>> round(float(y.mean()), 1), round(float(y.std()), 1)
    (11.5, 2.0)
    """
    mean, sd = float(mean), float(sd)
    if not np.isfinite(mean):
        raise ValueError(f"mean must be finite, got {mean}")
    if not (np.isfinite(sd) and sd >= 0.0):
        raise ValueError(f"sd must be finite and >= 0, got {sd}")
    shift = np.asarray(shift, dtype=float)
    if not np.all(np.isfinite(shift)):
        raise ValueError("shift must be finite")
    return mean + shift + sd * rng.standard_normal(shift.shape)


def binary_outcomes(rate: float, log_odds_shift: ArrayLike, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli outcomes with ``P(Y = 1) = expit(logit(rate) + shift)``.

    Parameters
    ----------
    rate : float
        Control-arm response probability for the reference patient, in (0, 1).
    log_odds_shift : array_like
        Per-patient shift on the log-odds scale (prognostic + treatment log odds ratio).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Bool outcomes shaped like ``log_odds_shift`` (True = response).

    Examples
    --------
    >>> import numpy as np
    >>> from trialsim.engine.outcomes import binary_outcomes, risk_difference_to_log_odds_ratio
    >>> shift = np.full(100_000, risk_difference_to_log_odds_ratio(0.3, 0.15))
    >>> round(float(binary_outcomes(0.3, shift, np.random.default_rng(0)).mean()), 2)
    0.45
    """
    rate = _proportion(rate, "response rate")
    shift = np.asarray(log_odds_shift, dtype=float)
    if np.any(np.isnan(shift)):
        raise ValueError("log_odds_shift must not be NaN")
    p = expit(logit(rate) + shift)
    return rng.random(shift.shape) < p


def risk_difference_to_log_odds_ratio(rate: ArrayLike, difference: ArrayLike) -> float | np.ndarray:
    """Log odds ratio of ``rate + difference`` versus ``rate``: ``logit(rate + difference) - logit(rate)``.

    Raises ValueError unless ``rate`` and ``rate + difference`` are strictly inside (0, 1).

    Examples
    --------
    >>> from trialsim.engine.outcomes import risk_difference_to_log_odds_ratio
    >>> round(risk_difference_to_log_odds_ratio(0.3, 0.15), 6)  # log((0.45 / 0.55) / (0.3 / 0.7))
    0.646627
    """
    p0 = np.asarray(rate, dtype=float)
    p1 = p0 + np.asarray(difference, dtype=float)
    if np.any(~((p0 > 0.0) & (p0 < 1.0))):
        raise ValueError(f"rate must be strictly between 0 and 1, got {rate}")
    if np.any(~((p1 > 0.0) & (p1 < 1.0))):
        raise ValueError(f"rate + difference must be strictly between 0 and 1, got {p1}")
    out = logit(p1) - logit(p0)
    return float(out) if out.ndim == 0 else out
