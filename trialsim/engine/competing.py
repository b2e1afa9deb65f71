"""Event and dropout as competing risks: when both hazards are constant, one time and which came first.

A patient with a constant event hazard ``r`` and a constant dropout hazard ``h`` (exponential
event and dropout times, independent) is followed until the first of the two. That first time
and its cause are all a trial ever observes, and their joint law is simple (the way to simulate
competing risks data in Beyersmann, Allignol and Schumacher, *Competing Risks and Multistate Models
with R*, Springer 2012)::

    T = min(event, dropout) ~ Exp(r + h)
    P(event first | T) = r / (r + h)          (independent of T)

So one exponential and one uniform draw give a patient what two exponentials would, in
distribution. The cause is decided on a 32-bit uniform integer ``U`` (numpy's 32-bit halves
of its 64-bit output): the event comes first when ``U < 2**32 r / (r + h)``, a probability
within 2**-32 of ``r / (r + h)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["event_or_dropout"]

# The cause is drawn as an integer below 2**32: numpy draws those from 32-bit halves of its output.
CAUSE_RANGE = 2.0**32


def event_or_dropout(rate: ArrayLike, hazard: ArrayLike, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Event and dropout times from entry, of which only the first is drawn: the other is ``+inf``.

    Parameters
    ----------
    rate : array_like
        Each patient's event hazard per month, > 0 (shape ``(trials, n)``, say).
    hazard : array_like
        Each patient's dropout hazard per month, >= 0, broadcast with ``rate``.
    rng : numpy.random.Generator
        Source of randomness: the times are drawn first (``standard_exponential``), then the
        causes (``integers(0, 2**32)``), each over the whole array.

    Returns
    -------
    outcome, dropout : numpy.ndarray
        ``T`` where the event comes first and ``+inf`` elsewhere; ``T`` where dropout comes
        first and ``+inf`` elsewhere. The later of the two is never observed in a trial, so
        ``+inf`` stands for it, as it does for the dropout of a design without dropout.

    Examples
    --------
    >>> import numpy as np
    >>> rate, hazard = np.log(2.0) / 8.0, np.full((200_000,), 0.02)
    >>> outcome, dropout = event_or_dropout(rate, hazard, np.random.default_rng(0))
    >>> bool(np.all(np.isinf(outcome) != np.isinf(dropout)))  # exactly one of the two
    True
    >>> print(f"{np.isfinite(dropout).mean():.3f} {hazard[0] / (rate + hazard[0]):.3f}")  # dropped out first
    0.187 0.188
    """
    rate = np.asarray(rate, dtype=float)
    hazard = np.asarray(hazard, dtype=float)
    if not (np.all(np.isfinite(rate)) and np.all(rate > 0.0)):
        raise ValueError("event hazards must be finite and > 0")
    if not (np.all(np.isfinite(hazard)) and np.all(hazard >= 0.0)):
        raise ValueError("dropout hazards must be finite and >= 0")
    total = rate + hazard
    shape = total.shape
    first = rng.standard_exponential(shape)
    first *= 1.0 / total  # T = E / (r + h)
    cause = rng.integers(0, 1 << 32, shape)
    event = cause < rate / total * CAUSE_RANGE
    return np.where(event, first, np.inf), np.where(event, np.inf, first)
