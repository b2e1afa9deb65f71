"""Lan-DeMets error-spending functions.

A spending function ``alpha(t)`` is non-decreasing on the information fraction
``t`` in [0, 1] with ``alpha(0) = 0`` and ``alpha(1) = total``; the error that
may be spent at look k is ``alpha(t_k) - alpha(t_{k-1})`` (Lan & DeMets 1983).
The same functions serve as beta-spending functions for futility bounds.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

SpendingKind = Literal["obrien_fleming", "pocock", "hsd"]
SPENDING_KINDS: tuple[str, ...] = ("obrien_fleming", "pocock", "hsd")


def spent(kind: SpendingKind, t: ArrayLike, total: float, gamma: float | None = None) -> np.ndarray:
    """Cumulative error spent by information fraction ``t``.

    Parameters
    ----------
    kind : {"obrien_fleming", "pocock", "hsd"}
        ``"obrien_fleming"``: Lan-DeMets O'Brien-Fleming type,
        ``2 - 2 Phi(z_{1-total/2} / sqrt(t))`` (gsDesign ``sfLDOF``, rpact ``"asOF"``).
        ``"pocock"``: Lan-DeMets Pocock type, ``total * log(1 + (e - 1) t)``
        (gsDesign ``sfLDPocock``, rpact ``"asP"``).
        ``"hsd"``: Hwang-Shih-DeCani, ``total (1 - exp(-gamma t)) / (1 - exp(-gamma))``
        and ``total * t`` for ``gamma == 0`` (gsDesign ``sfHSD``, rpact ``"asHSD"``).
    t : array_like
        Information fractions in [0, 1].
    total : float
        Total error to spend, in (0, 1); ``spent(kind, 1, total) == total`` exactly.
    gamma : float, optional
        Hwang-Shih-DeCani parameter; required for ``"hsd"``, not allowed otherwise.

    Returns
    -------
    numpy.ndarray
        Cumulative spending, same shape as ``t``.

    Examples
    --------
    >>> from trialsim.engine.spending import spent
    >>> spent("pocock", [0.0, 0.5, 1.0], 0.025).round(6)
    array([0.      , 0.015503, 0.025   ])
    >>> spent("hsd", [0.5, 1.0], 0.025, gamma=-4).round(6)
    array([0.00298, 0.025  ])
    """
    if kind not in SPENDING_KINDS:
        raise ValueError(f"unknown spending function {kind!r}; use one of {SPENDING_KINDS}")
    if not 0.0 < total < 1.0:
        raise ValueError(f"total error to spend must be in (0, 1), got {total}")
    if kind == "hsd":
        if gamma is None or not np.isfinite(gamma):
            raise ValueError("the 'hsd' spending function needs a finite gamma (e.g. -4)")
    elif gamma is not None:
        raise ValueError(f"gamma only applies to 'hsd' spending, not to {kind!r}")
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)) or np.any((t < 0.0) | (t > 1.0)):
        raise ValueError(f"information fractions must lie in [0, 1], got {t}")

    if kind == "obrien_fleming":
        # alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) = 2 * (1 - Phi(...)); 0 at t = 0
        root_t = np.sqrt(np.where(t > 0.0, t, 1.0))
        out = np.where(t > 0.0, 2.0 * norm.sf(norm.isf(total / 2.0) / root_t), 0.0)
    elif kind == "pocock":
        # alpha(t) = alpha * log(1 + (e - 1) t)
        out = total * np.log1p((np.e - 1.0) * t)
    elif gamma == 0.0:
        # the gamma -> 0 limit of Hwang-Shih-DeCani is uniform spending alpha * t
        out = total * t
    else:
        # alpha(t) = alpha (1 - exp(-gamma t)) / (1 - exp(-gamma)); expm1 keeps small
        # |gamma| accurate
        out = total * np.expm1(-gamma * t) / np.expm1(-gamma)
    return np.where(t == 1.0, total, out)
