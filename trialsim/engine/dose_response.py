"""Dose-response models for the effect of each arm on the linear-predictor scale.

The effect of dose ``d`` relative to the control dose ``d_0`` is ``f(d) - f(d_0)`` with

* linear: ``f(d) = slope * d``;
* Emax: ``f(d) = emax * d / (ed50 + d)``;
* sigmoid Emax (Hill): ``f(d) = emax * d^h / (ed50^h + d^h)``.

The placebo response ``E0`` of the usual parameterisation cancels in the difference.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit

__all__ = ["dose_effect"]

DoseModel = Literal["linear", "emax", "sigmoid_emax"]

# Parameters each model requires; any other non-None parameter is an error.
_PARAMS: dict[str, tuple[str, ...]] = {
    "linear": ("slope",),
    "emax": ("emax", "ed50"),
    "sigmoid_emax": ("emax", "ed50", "hill"),
}


def dose_effect(
    doses: ArrayLike,
    control_dose: float,
    model: DoseModel,
    *,
    slope: float | None = None,
    emax: float | None = None,
    ed50: float | None = None,
    hill: float | None = None,
) -> np.ndarray:
    """Effect of each dose relative to the control dose: ``f(d) - f(d_control)``.

    Parameters
    ----------
    doses : array_like
        Doses, finite and >= 0, any shape (e.g. one entry per arm).
    control_dose : float
        Dose of the control arm (0 for placebo), finite and >= 0.
    model : {"linear", "emax", "sigmoid_emax"}
        Dose-response shape (see the module docstring).
    slope : float, optional
        Effect per unit dose; required for (and only for) ``"linear"``.
    emax : float, optional
        Maximal effect over placebo (may be negative); required for ``"emax"`` and
        ``"sigmoid_emax"``.
    ed50 : float, optional
        Dose giving half the maximal effect, > 0; required for ``"emax"`` and
        ``"sigmoid_emax"``.
    hill : float, optional
        Hill coefficient ``h`` > 0 (steepness); required for ``"sigmoid_emax"``.

    Returns
    -------
    numpy.ndarray
        Float array of the shape of ``doses``; 0 where ``dose == control_dose``.
        Monotone in the dose (increasing if ``slope``/``emax`` > 0).

    Raises
    ------
    ValueError
        Unknown model, a required parameter missing, a parameter given that the model
        does not use, non-finite parameters, ``ed50 <= 0``, ``hill <= 0``, or negative
        or non-finite doses.

    Examples
    --------
    >>> import numpy as np
    >>> dose_effect(np.array([0.0, 10.0, 20.0, 40.0]), 0.0, "emax", emax=2.0, ed50=10.0)
    array([0.        , 1.        , 1.33333333, 1.6       ])
    >>> dose_effect(np.array([0.0, 2.0]), 0.0, "linear", slope=0.5)
    array([0., 1.])
    """
    if model not in _PARAMS:
        raise ValueError(f"model must be one of {tuple(_PARAMS)}; got {model!r}")
    given = {"slope": slope, "emax": emax, "ed50": ed50, "hill": hill}
    required = _PARAMS[model]
    for name, value in given.items():
        if name in required and value is None:
            raise ValueError(f"model {model!r} requires {name!r} (needs {', '.join(required)})")
        if name not in required and value is not None:
            raise ValueError(f"{name!r} is not a parameter of model {model!r} (which takes {', '.join(required)})")
    par = {name: _finite(name, given[name]) for name in required}
    if "ed50" in par and par["ed50"] <= 0.0:
        raise ValueError(f"ed50 must be > 0; got {ed50!r}")
    if "hill" in par and par["hill"] <= 0.0:
        raise ValueError(f"hill must be > 0; got {hill!r}")

    d = np.asarray(doses)
    if not np.issubdtype(d.dtype, np.number) or np.iscomplexobj(d):
        raise ValueError(f"doses must be real numbers; got dtype {d.dtype}")
    d = d.astype(np.float64)
    if not np.isfinite(d).all() or (d < 0.0).any():
        raise ValueError("doses must be finite and >= 0")
    d0 = _finite("control_dose", control_dose)
    if d0 < 0.0:
        raise ValueError(f"control_dose must be >= 0; got {control_dose!r}")

    if model == "linear":
        # f(d) - f(d0) = slope * (d - d0)
        return par["slope"] * (d - d0)
    if model == "emax":

        def f(x: np.ndarray | float) -> np.ndarray:
            # f(d) = emax * d / (ed50 + d); ed50 > 0 and d >= 0, so no division by zero
            return par["emax"] * np.divide(x, par["ed50"] + x)

    else:

        def f(x: np.ndarray | float) -> np.ndarray:
            # f(d) = emax * d^h / (ed50^h + d^h) = emax / (1 + (ed50 / d)^h)
            #      = emax * expit(h * (log d - log ed50)),
            # which neither overflows for large h nor divides by zero (d = 0: log d = -inf,
            # expit(-inf) = 0 = f(0)).
            with np.errstate(divide="ignore"):
                log_ratio = np.log(x) - np.log(par["ed50"])
            return par["emax"] * expit(par["hill"] * log_ratio)

    return np.asarray(f(d) - f(d0), dtype=np.float64)


def _finite(name: str, value: object) -> float:
    """``value`` as a finite float, or a ValueError naming the parameter."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number; got {value!r}") from None
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return x
