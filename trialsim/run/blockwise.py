"""Operating characteristics accumulated block by block, in memory bounded by a block, not by the run.

:func:`trialsim.run.summary.summarise` defines every figure of a scenario from its whole tables
(one row per trial, look and comparison; per subgroup; per trial's enrolment): a million trials of
a design with subgroups is gigabytes in memory. Every figure there is a mean (or proportion) over
trials or rows, with its standard error; and every trial's rows lie in one seed block. So each
block adds its count, mean and sum of squared deviations to each figure (merged with Chan et al.'s
pairwise update, which keeps full precision), and the summary is read off at the end by the same
:func:`~trialsim.run.summary.assemble` that ``summarise`` uses.

A block is told by its trials' numbers (``trial // TRIALS_PER_BLOCK``), not by how the rows arrive:
:meth:`BlockwiseSummary.add` takes one seed block (a run directory's blocks, read one at a time) or
many (a run held in memory), and gives the same summary to the last bit either way. That costs a few
numpy calls per call, not per figure and block: the figures over the same rows (per trial, per look,
per subgroup level) are the columns of one column-major array whose per-block column sums numpy
takes pairwise, as it does for each block's column alone.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from trialsim.engine.plan import Plan
from trialsim.run.seeds import TRIALS_PER_BLOCK
from trialsim.run.summary import SUBGROUP_KEYS, assemble, representation, subgroup_figure

SUBGROUP_FIGURES = ["reject", "analysed", "estimate"]


class Moments:
    """Count, mean and sum of squared deviations of each named figure's values, merged block by block.

    Examples
    --------
    >>> m = Moments()
    >>> m.merge(["x", "y"], *block_moments(np.array([[1.0, 5.0], [2.0, np.nan], [3.0, 7.0]]), np.array([0, 2])))
    >>> m.as_mean("x")["value"], round(m.as_mean("x")["se"], 6), m.as_mean("y")
    (2.0, 0.57735, {'value': 6.0, 'se': 1.0})
    """

    def __init__(self) -> None:
        self.index: dict[str, int] = {}  # figure -> its position in the arrays
        self.n = np.zeros(0, dtype=np.int64)
        self.mean = np.zeros(0)
        self.m2 = np.zeros(0)

    def merge(self, names: list[str], n: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        """Merge blocks' moments: a row per block, in block order; a column per figure of ``names``."""
        at = [self.index.setdefault(name, len(self.index)) for name in names]
        grown = len(self.index) - len(self.n)
        if grown:
            self.n, self.mean, self.m2 = (
                np.concatenate([a, np.zeros(grown, a.dtype)]) for a in (self.n, self.mean, self.m2)
            )
        # Each block's vector over all figures (none seen for those not in ``names``).
        full_n = np.zeros((len(n), len(self.n)), dtype=self.n.dtype)
        full_mean, full_m2 = np.zeros(full_n.shape), np.zeros(full_n.shape)
        full_n[:, at], full_mean[:, at], full_m2[:, at] = n, mean, m2
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 where neither has values: dropped below
            for block_n, block_mean, block_m2 in zip(full_n, full_mean, full_m2, strict=True):
                total = self.n + block_n
                delta = block_mean - self.mean
                merged_m2 = self.m2 + (block_m2 + delta * delta * self.n * block_n / total)
                merged_mean = self.mean + delta * block_n / total
                seen = block_n > 0
                self.m2 = np.where(seen, merged_m2, self.m2)
                self.mean = np.where(seen, merged_mean, self.mean)
                self.n = total

    def as_mean(self, name: str) -> dict[str, float]:
        """The mean with its standard error: sample standard deviation over sqrt(n), as in ``summary.mean``."""
        at = self.index.get(name)
        n = 0 if at is None else int(self.n[at])
        if n == 0:
            return {"value": math.nan, "se": math.nan}
        se = math.sqrt(float(self.m2[at]) / (n - 1)) / math.sqrt(n) if n > 1 else 0.0
        return {"value": float(self.mean[at]), "se": se}

    def as_proportion(self, name: str) -> dict[str, float]:
        """A mean of 0/1 values with its binomial standard error."""
        at = self.index.get(name)
        n = 0 if at is None else int(self.n[at])
        if n == 0:
            return {"value": math.nan, "se": math.nan}
        p = float(self.mean[at])
        return {"value": p, "se": math.sqrt(p * (1 - p) / n)}


def block_moments(x: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and sum of squared deviations (NaN left out) of each column of each segment of rows.

    ``x`` is column-major (rows, figures); segment ``i`` is rows ``starts[i]`` up to the next start.
    Each is what numpy gives for that segment's column alone (``c.mean()``, ``((c - mean) ** 2).sum()``).
    Returns three (segments, figures) arrays.
    """
    rows, columns = x.shape
    lengths = np.diff(np.append(starts, rows))
    if (lengths == lengths[0]).all():  # segments of one length: one reduction over a (figures, segments, rows) view
        cube = x.T.reshape(columns, len(starts), lengths[0])
        mean = (np.add.reduce(cube, axis=2) / lengths[0]).T
        deviation = cube - mean.T[..., None]
        m2 = np.add.reduce(np.square(deviation, out=deviation), axis=2).T
    else:
        mean, m2 = np.empty((len(starts), columns)), np.empty((len(starts), columns))
        for i, (start, length) in enumerate(zip(starts, lengths, strict=True)):
            segment = x[start : start + length]
            mean[i] = np.add.reduce(segment, axis=0) / length
            m2[i] = np.add.reduce(np.square(segment - mean[i]), axis=0)
    n = np.repeat(lengths[:, None], columns, axis=1)
    # A segment's column holding NaN has a NaN mean: those few are taken again without their NaNs.
    for i, j in zip(*np.nonzero(np.isnan(mean)), strict=True):
        values = x[starts[i] : starts[i] + lengths[i], j]
        values = values[~np.isnan(values)]
        n[i, j] = len(values)
        mean[i, j] = values.mean() if len(values) else 0.0
        m2[i, j] = np.square(values - mean[i, j]).sum()
    return n, mean, m2


class _Rows:
    """Figures' values gathered from one call's tables, kept together when they lie in the same blocks alike."""

    def __init__(self) -> None:
        self.sets: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []  # block of each row, figures' values

    def add(self, trial: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Figures whose values belong to the trials ``trial`` (one per value)."""
        if not len(trial):
            return
        block = trial // TRIALS_PER_BLOCK
        for known, figures in self.sets:
            if np.array_equal(known, block):
                figures.update(values)
                return
        self.sets.append((block, dict(values)))

    def moments(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The figures' names and their (blocks, figures) moments, blocks in order."""
        blocks = np.unique(np.concatenate([block for block, _ in self.sets])) if self.sets else np.zeros(0, int)
        names: list[str] = []
        n = np.zeros((len(blocks), sum(len(figures) for _, figures in self.sets)), dtype=np.int64)
        mean, m2 = np.zeros(n.shape), np.zeros(n.shape)
        for block, figures in self.sets:
            order = np.argsort(block, kind="stable") if (block[1:] < block[:-1]).any() else slice(None)
            block = block[order]
            starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
            # Rows of (figures, values), transposed: column-major, a figure per column.
            x = np.array([values[order] for values in figures.values()], dtype=float).T
            here, columns = np.searchsorted(blocks, block[starts]), slice(len(names), len(names) + len(figures))
            n[here, columns], mean[here, columns], m2[here, columns] = block_moments(x, starts)
            names += figures
        return names, n, mean, m2


def _trial_starts(trial: np.ndarray) -> tuple[np.ndarray | slice, np.ndarray]:
    """A row order that puts each trial's rows together, and where each trial starts in it."""
    if not len(trial):
        return slice(None), np.zeros(0, dtype=np.intp)
    order = np.argsort(trial, kind="stable") if (trial[1:] < trial[:-1]).any() else slice(None)
    trial = trial[order]
    return order, np.flatnonzero(np.r_[True, trial[1:] != trial[:-1]])


class BlockwiseSummary:
    """The summary of one scenario, fed whole seed blocks with :meth:`add`.

    ``result()`` returns what ``summarise(plan, looks, subgroups, diversity)`` returns for the
    concatenated blocks (to rounding in the last digits). It is the
    :class:`~trialsim.run.summary.Figures` of that summary, kept as :class:`Moments`.
    """

    def __init__(self, plan: Plan):
        self.plan = plan
        self.trials = 0
        self.groups: list[tuple[str, str, str]] = []  # subgroup, level, comparison in order of appearance
        self.has_diversity = False
        self.moments = Moments()

    def add(self, looks: pl.DataFrame, subgroups: pl.DataFrame, diversity: pl.DataFrame) -> None:
        """The rows of one or more whole seed blocks, after those of the blocks before them."""
        rows = _Rows()
        if looks.height:
            self._looks(looks, rows)
        if subgroups.height:
            self._subgroups(subgroups, rows)
        if diversity.height:
            self.has_diversity = True
            self._diversity(diversity, rows)
        self.moments.merge(*rows.moments())

    def _looks(self, looks: pl.DataFrame, rows: _Rows) -> None:
        plan = self.plan
        trial, look, reject, stopped, futility, estimate = (
            looks.get_column(name).to_numpy() for name in ("trial", "look", "reject", "stopped", "futility", "estimate")
        )
        self._per_trial(trial, look, reject, futility & stopped, rows)
        # At the look each trial stops: its first stopped row, in row order.
        stops = np.flatnonzero(stopped)
        stops = stops[np.sort(np.unique(trial[stops], return_index=True)[1])]
        at_stop = {"expected_sample_size": "enrolled", "expected_duration": "time"}
        if plan.endpoint == "time_to_event":
            at_stop["expected_events"] = "events"
        rows.add(trial[stops], {name: looks.get_column(column).to_numpy()[stops] for name, column in at_stop.items()})
        per_look = {"degenerate_analyses": looks.get_column("degenerate").to_numpy()}
        per_look["unreached_looks"] = ~looks.get_column("reached").to_numpy()
        rows.add(trial, per_look)
        for comparison in plan.comparisons:
            mine = (looks.get_column("comparison") == comparison.name).to_numpy()
            order, starts = _trial_starts(trial[mine])
            rejected = np.logical_or.reduceat(reject[mine][order], starts) if len(starts) else reject[mine]
            rows.add(trial[mine][order][starts], {f"comparison:{comparison.name}:power": rejected})
            final = mine & stopped
            rows.add(trial[final], {f"comparison:{comparison.name}:estimate": estimate[final]})

    def _per_trial(
        self, trial: np.ndarray, look: np.ndarray, reject: np.ndarray, futile: np.ndarray, rows: _Rows
    ) -> None:
        """Per trial: whether it rejected (any, all), its first rejecting look, whether it stopped early or futile."""
        order, starts = _trial_starts(trial)
        look, reject, futile = look[order], reject[order], futile[order]
        rejected_any = np.logical_or.reduceat(reject, starts)
        rejected = np.add.reduceat(reject.astype(np.int64), starts)
        first = np.minimum.reduceat(np.where(reject, look, np.iinfo(look.dtype).max), starts)  # max: none rejects
        stop = np.maximum.reduceat(look, starts)
        futile = np.logical_or.reduceat(futile, starts)
        self.trials += len(starts)
        looks = range(1, self.plan.n_looks + 1)
        values = {
            "power": rejected_any,
            "power_all": rejected == len(self.plan.comparisons),
            "early_stop": stop < self.plan.n_looks,
            **{f"reject_per_look:{k}": first == k for k in looks},
            **{f"futility_per_look:{k}": (stop == k) & futile & ~rejected_any for k in looks},
        }
        rows.add(trial[order][starts], values)

    def _subgroups(self, subgroups: pl.DataFrame, rows: _Rows) -> None:
        """Each subgroup level and comparison's rows, in order of first appearance (as ``summarise`` groups them)."""
        grouped = subgroups.with_row_index("row").group_by(SUBGROUP_KEYS, maintain_order=True).agg(pl.col("row"))
        index = grouped.get_column("row")
        lengths = index.list.len().to_numpy()
        ends = np.cumsum(lengths)
        order = index.explode().to_numpy()  # the rows of each group together, in row order
        trial = subgroups.get_column("trial").to_numpy()[order]
        columns = {what: subgroups.get_column(what).to_numpy()[order] for what in SUBGROUP_FIGURES}
        for group, start, end in zip(grouped.select(SUBGROUP_KEYS).iter_rows(), ends - lengths, ends, strict=True):
            if subgroup_figure(group, "reject") not in self.moments.index:
                self.groups.append(group)
            values = {subgroup_figure(group, what): columns[what][start:end] for what in SUBGROUP_FIGURES}
            rows.add(trial[start:end], values)

    def _diversity(self, diversity: pl.DataFrame, rows: _Rows) -> None:
        """Every numeric column of the diversity table, and the representation index (mean over the demographics)."""
        values = {
            f"diversity:{column}": diversity.get_column(column).to_numpy()
            for column, dtype in diversity.schema.items()
            if dtype.is_numeric() or dtype == pl.Boolean
        }
        if self.plan.demographics:
            values["diversity:representation"] = representation(self.plan, diversity)
        rows.add(diversity.get_column("trial").to_numpy(), values)

    # -- the figures (see trialsim.run.summary.Figures) ----------------------------------------

    def proportion(self, name: str) -> dict[str, float]:
        return self.moments.as_proportion(name)

    def mean(self, name: str) -> dict[str, float]:
        return self.moments.as_mean(name)

    def result(self) -> dict:
        """The scenario's summary: :func:`~trialsim.run.summary.assemble` of these figures."""
        return assemble(self.plan, self)
