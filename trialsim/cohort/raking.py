"""Raking (iterative proportional fitting) of a contingency table to given marginal totals.

When only the marginal shares of race/ethnicity, sex and age group are published, the
joint table of a population is the table closest to a starting ("seed") table, in the
Kullback-Leibler sense, whose margins are the published ones. Iterative proportional
fitting (Deming & Stephan 1940) finds it: scale the table to match each margin in turn,
and repeat until every margin holds. With a seed of ones it returns the product of the
marginals (independence); with a seed that carries known associations (a census
cross-tabulation, a registry) it keeps the seed's odds ratios and takes on the new margins.
Margins may also be two- or more-way tables: fitting the three two-way margins of a
three-way table gives the maximum-likelihood fit of the no-three-factor-interaction
loglinear model (Bishop, Fienberg & Holland 1975), which has no closed form.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import polars as pl

Axes = tuple[int, ...]
T = TypeVar("T", np.ndarray, pl.DataFrame)


class RakingError(ValueError):
    """The marginals cannot be matched (they disagree, or need weight where the seed has none)."""


def _targets(
    shape: tuple[int, ...], marginals: Mapping[int | Axes, object] | Sequence[object | None]
) -> list[tuple[Axes, np.ndarray]]:
    items = marginals.items() if isinstance(marginals, Mapping) else enumerate(marginals)
    out: list[tuple[Axes, np.ndarray]] = []
    for key, target in items:
        if target is None:
            continue
        axes = (key,) if isinstance(key, int | np.integer) else tuple(key)
        if sorted(set(axes)) != list(axes) or not all(0 <= a < len(shape) for a in axes):
            raise ValueError(f"marginal axes {axes} must be increasing axes of a {len(shape)}-way table")
        array = np.asarray(target, dtype=float)
        want = tuple(shape[a] for a in axes)
        if array.shape != want:
            raise ValueError(f"the marginal over axes {axes} has shape {array.shape}; the table needs {want}")
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"the marginal over axes {axes} must hold finite, non-negative numbers")
        out.append((axes, array))
    if not out:
        raise ValueError("give at least one marginal to rake to")
    totals = [t.sum() for _, t in out]
    if not np.allclose(totals, totals[0], rtol=1e-9, atol=0):
        raise RakingError(f"the marginals disagree on the table's total: {', '.join(f'{t:.10g}' for t in totals)}")
    return out


def _margin(table: np.ndarray, axes: Axes) -> np.ndarray:
    other = tuple(a for a in range(table.ndim) if a not in axes)
    return table.sum(axis=other)


def _expand(margin: np.ndarray, axes: Axes, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    for i, a in enumerate(axes):
        shape[a] = margin.shape[i]
    return margin.reshape(shape)


def _rake_array(
    seed: np.ndarray, marginals: Mapping[int | Axes, object] | Sequence[object | None], tol: float, max_iter: int
) -> np.ndarray:
    table = np.array(seed, dtype=float)
    if table.ndim == 0 or table.size == 0:
        raise ValueError("the seed table must have at least one axis and one cell")
    if not np.all(np.isfinite(table)) or np.any(table < 0):
        raise ValueError("the seed table must hold finite, non-negative numbers")
    targets = _targets(table.shape, marginals)
    total = targets[0][1].sum()
    for axes, target in targets:
        empty = (_margin(table, axes) == 0) & (target > 0)
        if empty.any():
            cell = tuple(int(i) for i in np.argwhere(empty)[0])
            raise RakingError(
                f"the marginal over axes {axes} needs weight in cell {cell}, where the seed table has none"
            )
    gap = np.inf
    for _ in range(max_iter):
        for axes, target in targets:
            margin = _margin(table, axes)
            factor = np.divide(target, margin, out=np.zeros_like(margin), where=margin > 0)
            table *= _expand(factor, axes, table.ndim)
        gap = max(float(np.abs(_margin(table, axes) - target).max()) for axes, target in targets)
        if gap <= tol * total:
            return table
    raise RakingError(
        f"raking did not converge in {max_iter} cycles (largest gap {gap:.3g} of a total {total:.6g}): "
        "do the marginals contradict each other, or the zeros of the seed table?"
    )


def _rake_frame(
    seed: pl.DataFrame, marginals: Mapping[object, object], tol: float, max_iter: int, weight: str
) -> pl.DataFrame:
    if weight not in seed.columns:
        raise ValueError(f"the seed table has no weight column {weight!r} (columns: {', '.join(seed.columns)})")
    columns = [c for c in seed.columns if c != weight]
    if seed.select(columns).is_duplicated().any():
        raise ValueError(f"the seed table lists a combination of {', '.join(columns)} more than once")
    levels: dict[str, list[Hashable]] = {c: seed[c].unique(maintain_order=True).to_list() for c in columns}
    index = {c: {v: i for i, v in enumerate(levels[c])} for c in columns}
    shape = tuple(len(levels[c]) for c in columns)
    table = np.zeros(shape)
    codes = tuple(np.array([index[c][v] for v in seed[c].to_list()], dtype=np.intp) for c in columns)
    table[codes] = seed[weight].cast(pl.Float64).to_numpy()
    targets: dict[Axes, np.ndarray] = {}
    for key, target in marginals.items():
        names = (key,) if isinstance(key, str) else tuple(key)  # type: ignore[arg-type]
        unknown = [n for n in names if n not in index]
        if unknown:
            raise ValueError(f"a marginal names {unknown[0]!r}, not a column of the seed table ({', '.join(columns)})")
        order = sorted(range(len(names)), key=lambda i: columns.index(names[i]))
        axes = tuple(columns.index(names[i]) for i in order)
        array = np.zeros(tuple(shape[a] for a in axes))
        if isinstance(target, pl.DataFrame):
            rows = zip(*(target[n].to_list() for n in names), target[weight].to_list(), strict=True)
            cells = {tuple(row[:-1]): row[-1] for row in rows}
        elif isinstance(target, Mapping) and len(names) == 1:
            cells = {(level,): value for level, value in target.items()}
        else:
            raise ValueError(f"the marginal of {names} must be a mapping of level to total or a polars DataFrame")
        for cell, value in cells.items():
            for name, level in zip(names, cell, strict=True):
                if level not in index[name]:
                    raise RakingError(f"the marginal of {name!r} has level {level!r}, which the seed table lacks")
            array[tuple(index[names[i]][cell[i]] for i in order)] = value
        targets[axes] = array
    raked = _rake_array(table, targets, tol, max_iter)
    return seed.with_columns(pl.Series(weight, raked[codes]))


def rake(
    seed_table: T,
    marginals: Mapping[Any, Any] | Sequence[Any],
    tol: float = 1e-10,
    max_iter: int = 1000,
    *,
    weight: str = "weight",
) -> T:
    """Scale ``seed_table`` until its margins equal ``marginals`` (iterative proportional fitting).

    Parameters
    ----------
    seed_table : numpy.ndarray or polars.DataFrame
        The starting table: an array with one axis per variable, or a frame with one row per
        cell (one column per variable and a ``weight`` column). Zero cells stay zero.
    marginals : mapping or sequence
        For an array: axis (or tuple of increasing axes) -> the target table over those axes,
        or a sequence with one target per axis (``None`` to leave an axis free). For a frame:
        column name -> ``{level: total}``, or a tuple of names -> a frame with those columns
        and ``weight``. All targets must have the same total.
    tol : float, default 1e-10
        Stop when no margin is further than ``tol`` times the total from its target.
    max_iter : int, default 1000
        Give up (:class:`RakingError`) after this many cycles over the marginals.
    weight : str, default "weight"
        The weight column of a frame.

    Returns
    -------
    numpy.ndarray or polars.DataFrame
        The raked table, of the seed's type and shape (a frame keeps its rows and order).

    Raises
    ------
    RakingError
        If the targets disagree on the total, need weight where the seed has none, or
        cannot all hold at once.

    Examples
    --------
    With a seed of ones, raking returns the product of the marginals:

    >>> rake(np.ones((2, 2)), [[0.3, 0.7], [0.6, 0.4]]).round(2).tolist()
    [[0.18, 0.12], [0.42, 0.28]]

    A seed keeps its odds ratio while taking on new margins:

    >>> table = rake(np.array([[4.0, 1.0], [1.0, 4.0]]), [[50, 50], [30, 70]])
    >>> float(table[0, 0] * table[1, 1] / (table[0, 1] * table[1, 0]))  # doctest: +ELLIPSIS
    16.0...
    >>> seed = pl.DataFrame({"sex": ["F", "M"], "weight": [1.0, 1.0]})
    >>> rake(seed, {"sex": {"F": 0.505, "M": 0.495}})["weight"].to_list()
    [0.505, 0.495]
    """
    if tol <= 0 or max_iter < 1:
        raise ValueError(f"tol must be positive and max_iter at least 1; got tol={tol}, max_iter={max_iter}")
    if isinstance(seed_table, pl.DataFrame):
        return _rake_frame(seed_table, marginals, tol, max_iter, weight)  # type: ignore[arg-type]
    return _rake_array(np.asarray(seed_table), marginals, tol, max_iter)
