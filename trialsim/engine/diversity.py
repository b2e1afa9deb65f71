"""Who a trial enrols, against the population that has the disease.

Per trial and demographic column, the enrolled share of each group is compared with
its share of the target population (the cohort before eligibility):

- participation-to-prevalence ratio, PPR = enrolled share / target share; a group is
  under-represented below 0.8 and over-represented above 1.2 (FDA Snapshots convention);
- Simpson's index 1 - sum p_i^2 and Shannon's index H = -sum p_i log p_i, with Pielou's
  evenness J = H / log K over the K groups of the target;
- representation index 1 - TVD, where TVD = sum |p_i - q_i| / 2 is the total variation
  distance between the enrolled (p) and target (q) shares;
- standardised differences (mean enrolled - mean target) / sd target of numeric covariates;
- whether the trial meets the design's diversity goals (every goal's share reached).

All functions take arrays over the trials of a block and return arrays over those trials: a block's
patients are tallied (:func:`tally`), and the figures computed from the tallies of a few blocks at once
(:func:`figures`), as numpy's per-call cost is paid per batch of trials, not per block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trialsim.engine.tallies import PackedPool, enrolled_tallies, pack_pool

# FDA Drug Trials Snapshots band for PPR.
PPR_BAND = (0.8, 1.2)


@dataclass(frozen=True)
class Demographic:
    """A categorical column: its levels, each eligible patient's level code, and the target shares."""

    column: str
    levels: tuple[str, ...]
    codes: np.ndarray  # (P,) level index of each patient of the eligible pool
    target: np.ndarray  # (L,) shares in the whole population (the disease population)
    screen_failure: np.ndarray  # (L,) share of each group that eligibility excludes


@dataclass(frozen=True)
class Covariate:
    """A numeric column of the eligible pool and its mean and sd in the whole population."""

    column: str
    values: np.ndarray  # (P,)
    target_mean: float
    target_sd: float


@dataclass(frozen=True)
class Goal:
    column: str
    level: str
    share: float


def demographic(population: pl.DataFrame, eligible: np.ndarray, column: str) -> Demographic:
    """Describe one categorical column of a population against its eligible part.

    Examples
    --------
    >>> df = pl.DataFrame({"sex": ["F", "M", "F", "M"]})
    >>> d = demographic(df, np.array([True, True, False, True]), "sex")
    >>> d.levels, d.target.tolist(), d.codes.tolist(), d.screen_failure.tolist()
    (('F', 'M'), [0.5, 0.5], [0, 1, 1], [0.5, 0.0])
    """
    values = population[column].cast(pl.String).fill_null("missing")
    # np.unique(values, return_inverse=True) without sorting 10^5 Python strings: the sorted
    # distinct values (UTF-8 byte order is code point order, as numpy's) as an Enum's categories,
    # whose physical codes are then the inverse index.
    levels = values.unique().sort().to_numpy()
    codes = values.cast(pl.Enum(levels.tolist())).to_physical().to_numpy().astype(np.int64)
    counts = np.bincount(codes, minlength=len(levels))
    kept = np.bincount(codes[eligible], minlength=len(levels))
    return Demographic(
        column=column,
        levels=tuple(str(v) for v in levels),
        codes=codes[eligible].astype(np.int32),
        target=counts / counts.sum(),
        screen_failure=1 - kept / counts,
    )


def enrolled_shares(codes: np.ndarray, enrolled: np.ndarray, n_levels: int) -> np.ndarray:
    """Share of each level among the enrolled patients of each trial: (trials, n) -> (trials, L).

    Examples
    --------
    >>> enrolled_shares(np.array([[0, 1, 1, 0]]), np.array([[True, True, True, False]]), 2).tolist()
    [[0.3333333333333333, 0.6666666666666666]]
    """
    trials = codes.shape[0]
    flat = (np.arange(trials)[:, None] * n_levels + codes).ravel()
    counts = np.bincount(flat, weights=enrolled.ravel(), minlength=trials * n_levels).reshape(trials, n_levels)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def row_sums(x: np.ndarray) -> np.ndarray:
    """``np.sum(x, axis=-1)``, the same bits, faster over a few levels.

    numpy adds fewer than 8 values in a plain loop from the first (its pairwise sum starts at 8), so
    the columns added in turn give the same sums, without numpy's per-row reduction setup (about
    17 ns a row here, the diversity figures' main cost).

    Examples
    --------
    >>> x = np.random.default_rng(0).random((1000, 5)) * np.array([1e-8, 1.0, 1e8, 3.0, 1e-3])
    >>> bool(np.array_equal(row_sums(x), np.sum(x, axis=-1)))
    True
    """
    levels = x.shape[-1]
    if not 2 <= levels < 8:
        return np.sum(x, axis=-1)
    total = x[..., 0] + x[..., 1]
    for i in range(2, levels):
        total += x[..., i]
    return total


def simpson(shares: np.ndarray) -> np.ndarray:
    """Simpson's diversity 1 - sum p^2 along the last axis."""
    return 1 - row_sums(shares**2)


def shannon(shares: np.ndarray) -> np.ndarray:
    """Shannon's index -sum p log p along the last axis (0 log 0 = 0)."""
    logs = np.log(shares, out=np.zeros_like(shares), where=shares > 0)
    return -row_sums(shares * logs)


def evenness(shares: np.ndarray, k: int) -> np.ndarray:
    """Pielou's evenness H / log K (K groups in the target; 1 for K = 1)."""
    return _evenness(shannon(shares), k)


def _evenness(h: np.ndarray, k: int) -> np.ndarray:
    """Pielou's evenness from Shannon's index ``h``."""
    return h / np.log(k) if k > 1 else np.ones(h.shape)


def representation_index(shares: np.ndarray, target: np.ndarray) -> np.ndarray:
    """1 - total variation distance between enrolled and target shares.

    Examples
    --------
    >>> representation_index(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([0.5, 0.5])).tolist()
    [1.0, 0.5]
    """
    return 1 - 0.5 * row_sums(np.abs(shares - target))


def standardized_difference(values: np.ndarray, enrolled: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """(mean among the enrolled - target mean) / target sd, per trial."""
    n = enrolled.sum(axis=1)
    enrolled_mean = np.divide((values * enrolled).sum(axis=1), n, out=np.full(len(n), np.nan), where=n > 0)
    return (enrolled_mean - mean) / sd if sd > 0 else np.zeros(len(n))


@dataclass(frozen=True)
class Tallies:
    """Who each trial of one or more blocks enrolled, tallied: what :func:`figures` are computed from.

    ``counts``: per demographic column, ``(trials, L)`` enrolled patients in each level; ``sums``:
    ``(trials, C)`` sums of each numeric covariate over them; ``enrolled``: ``(trials,)`` how many.
    """

    counts: tuple[np.ndarray, ...]
    sums: np.ndarray
    enrolled: np.ndarray

    def rows(self, lo: int, hi: int) -> Tallies:
        """The tallies of trials ``lo:hi`` (views)."""
        return Tallies(tuple(c[lo:hi] for c in self.counts), self.sums[lo:hi], self.enrolled[lo:hi])

    @classmethod
    def concat(cls, parts: list[Tallies]) -> Tallies:
        """The tallies of several blocks' trials, in order (every figure is computed trial by trial)."""
        if len(parts) == 1:
            return parts[0]
        return cls(
            tuple(np.concatenate(column) for column in zip(*(p.counts for p in parts), strict=True)),
            np.concatenate([p.sums for p in parts]),
            np.concatenate([p.enrolled for p in parts]),
        )


def tally_pool(demographics: tuple[Demographic, ...], covariates: tuple[Covariate, ...]) -> PackedPool:
    """The pool's columns packed for :func:`tally` (:func:`trialsim.engine.tallies.pack_pool`)."""
    return pack_pool(
        tuple(d.codes for d in demographics), tuple(len(d.levels) for d in demographics),
        tuple(c.values for c in covariates),
    )  # fmt: skip


def tally(
    demographics: tuple[Demographic, ...],
    covariates: tuple[Covariate, ...],
    index: np.ndarray,
    enrolled: np.ndarray,
    packed: PackedPool | None = None,
) -> Tallies:
    """Tally the enrolled patients of each trial: ``index`` (trials, n) holds their pool rows, ``enrolled`` which count.

    ``enrolled``: a (trials, n) mask, or (trials,) counts of the leading patients that count (see
    :func:`trialsim.engine.tallies.enrolled_tallies`).

    One compiled pass over the patients for every column (see :mod:`trialsim.engine.tallies`): the
    same counts as :func:`enrolled_shares` and sums as :func:`standardized_difference`, without
    gathering each column at the patients' pool rows.

    Examples
    --------
    >>> sex = Demographic("sex", ("F", "M"), np.array([0, 1, 1]), np.array([0.5, 0.5]), np.zeros(2))
    >>> t = tally((sex,), (), np.array([[0, 2, 1]]), np.array([[True, True, False]]))
    >>> t.counts[0].tolist(), t.enrolled.tolist()
    ([[1.0, 1.0]], [2])
    """
    counts, sums = enrolled_tallies(
        tuple(d.codes for d in demographics),
        tuple(len(d.levels) for d in demographics),
        tuple(c.values for c in covariates),
        index,
        enrolled,
        packed,
    )
    how_many = np.asarray(enrolled, dtype=np.int64) if np.ndim(enrolled) == 1 else np.count_nonzero(enrolled, axis=1)
    return Tallies(tuple(counts), sums, how_many)


def figures(
    demographics: tuple[Demographic, ...], covariates: tuple[Covariate, ...], goals: tuple[Goal, ...], tallies: Tallies
) -> dict[str, np.ndarray]:
    """Every diversity figure of every trial, as named columns of length ``trials``.

    Examples
    --------
    >>> sex = Demographic("sex", ("F", "M"), np.array([0, 1]), np.array([0.5, 0.5]), np.zeros(2))
    >>> t = Tallies((np.array([[3.0, 1.0]]),), np.zeros((1, 0)), np.array([4]))
    >>> f = figures((sex,), (), (Goal("sex", "F", 0.6),), t)
    >>> f["share:sex=F"].tolist(), f["representation:sex"].tolist(), f["goals_met"].tolist()
    ([0.75], [0.75], [True])
    """
    out: dict[str, np.ndarray] = {}
    n_enrolled = tallies.enrolled
    met = np.ones(len(n_enrolled), dtype=bool)
    for d, count in zip(demographics, tallies.counts, strict=True):
        total = row_sums(count)[:, None]
        shares = np.divide(count, total, out=np.zeros_like(count), where=total > 0)
        for i, level in enumerate(d.levels):
            out[f"share:{d.column}={level}"] = shares[:, i]
        out[f"simpson:{d.column}"] = simpson(shares)
        h = out[f"shannon:{d.column}"] = shannon(shares)
        out[f"evenness:{d.column}"] = _evenness(h, len(d.levels))
        out[f"representation:{d.column}"] = representation_index(shares, d.target)
        for goal in goals:
            if goal.column == d.column:
                share = shares[:, d.levels.index(goal.level)] if goal.level in d.levels else np.zeros(len(met))
                hit = share >= goal.share
                out[f"goal:{d.column}={goal.level}"] = hit
                met &= hit
    for c, total in zip(covariates, tallies.sums.T, strict=True):
        mean = np.divide(total, n_enrolled, out=np.full(len(n_enrolled), np.nan), where=n_enrolled > 0)
        out[f"stddiff:{c.column}"] = (mean - c.target_mean) / c.target_sd if c.target_sd > 0 else np.zeros(len(mean))
    out["goals_met"] = met
    return out
