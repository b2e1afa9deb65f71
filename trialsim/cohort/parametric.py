"""Drawing a population from a cohort spec's backbone, covariates and derived columns.

Everything is vectorised over patients: one call to the generator per column, never a
Python loop over rows. The draws happen in the spec's order (backbone cells, age,
then each covariate, then derived columns), so a spec and a generator state give the
same population every time.

The backbone's joint table is the general population's, weighted by the disease:
the share of a group among patients is (share in the population × prevalence in the
group) / Σ(share × prevalence), Bayes' rule for P(group | disease) from P(disease | group).
With several weighted columns, each column's patient shares are computed so, and raking
(:func:`~trialsim.cohort.raking.rake`) finds the joint table closest to the population's
joint (or to independence, when only marginals are given) that has all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import expit, logit

from trialsim.cohort.checks import joint_cells, ordinal_values
from trialsim.cohort.raking import rake
from trialsim.cohort.spec import (
    Bernoulli,
    Categorical,
    CohortSpec,
    Effects,
    LogNormal,
    Normal,
    Ordinal,
    PerUnit,
    _Numeric,
    parse_weight,
)
from trialsim.design.expressions import parse_expression


@dataclass(frozen=True)
class BackboneTable:
    """The joint distribution of the backbone's columns among patients.

    Attributes
    ----------
    columns : list of str
        The backbone columns, one axis each.
    levels : list of list of str
        Each column's levels, in the spec's order.
    probabilities : numpy.ndarray
        The joint probabilities (they sum to 1), one axis per column.
    """

    columns: list[str]
    levels: list[list[str]]
    probabilities: np.ndarray

    def marginal(self, column: str) -> dict[str, float]:
        """The share of each level of ``column`` among patients.

        Examples
        --------
        >>> from trialsim.cohort.spec import load_cohort_spec
        >>> table = backbone_table(load_cohort_spec("cohorts/us-type2-diabetes.yaml"))
        >>> round(table.marginal("race_ethnicity")["Black"], 4)
        0.1436
        """
        axis = self.columns.index(column)
        other = tuple(a for a in range(len(self.columns)) if a != axis)
        return dict(zip(self.levels[axis], self.probabilities.sum(axis=other).tolist(), strict=True))


def _normalise(values: np.ndarray) -> np.ndarray:
    return values / values.sum()


def backbone_table(spec: CohortSpec) -> BackboneTable:
    """The patients' joint table of the backbone columns: shares weighted by prevalence, then raked.

    Examples
    --------
    >>> from trialsim.cohort.spec import load_cohort_spec
    >>> table = backbone_table(load_cohort_spec("cohorts/us-type2-diabetes.yaml"))
    >>> table.columns, table.probabilities.shape
    (['age_group', 'sex', 'race_ethnicity'], (3, 2, 7))
    """
    b = spec.backbone
    columns = list(b.marginals)
    levels = [list(shares) for shares in b.marginals.values()]
    joint = b.joint
    if joint is not None:
        cells = list(joint_cells(joint.table, joint.columns))
        for column in joint.columns:
            if column not in columns:
                columns.append(column)
                levels.append([])
        for cell, _, _ in cells:
            for column, level in zip(joint.columns, cell, strict=True):
                # Levels that only the joint table gives come in the order it gives them.
                if column not in b.marginals and level not in levels[columns.index(column)]:
                    levels[columns.index(column)].append(level)
    shape = tuple(len(lv) for lv in levels)
    seed = np.ones(shape)
    if joint is not None:
        axes = [columns.index(c) for c in joint.columns]
        counts = np.zeros(tuple(shape[a] for a in axes))
        for cell, value, _ in cells:
            counts[tuple(levels[a].index(level) for a, level in zip(axes, cell, strict=True))] = parse_weight(value)
        # Move the joint's axes into the backbone's order and broadcast over the other columns.
        counts = np.transpose(counts, np.argsort(axes))
        expand = tuple(slice(None) if a in axes else np.newaxis for a in range(len(columns)))
        seed = seed * counts[expand]
    targets: dict[int, np.ndarray] = {}
    for axis, column in enumerate(columns):
        if column in b.marginals:
            base = _normalise(np.array(list(b.marginals[column].values()), dtype=float))
        else:
            other = tuple(a for a in range(len(columns)) if a != axis)
            base = _normalise(seed.sum(axis=other))
        if column in b.prevalence:
            base = _normalise(base * np.array([b.prevalence[column][lv] for lv in levels[axis]], dtype=float))
        targets[axis] = base
    table = rake(seed, targets)
    return BackboneTable(columns, levels, _normalise(table))


def draw_backbone(spec: CohortSpec, size: int, rng: np.random.Generator) -> pl.DataFrame:
    """Draw ``size`` patients' backbone columns (and ``age`` within its band).

    Examples
    --------
    >>> from trialsim.cohort.spec import load_cohort_spec
    >>> spec = load_cohort_spec("cohorts/us-type2-diabetes.yaml")
    >>> draw_backbone(spec, 5, np.random.default_rng(1)).columns
    ['age', 'age_group', 'sex', 'race_ethnicity']
    """
    table = backbone_table(spec)
    flat = table.probabilities.ravel()
    cells = rng.choice(flat.size, size=size, p=flat / flat.sum())
    codes = np.unravel_index(cells, table.probabilities.shape)
    data: dict[str, pl.Series] = {}
    age = spec.backbone.age
    if age is not None:
        axis = table.columns.index(age.from_)
        low = np.array([age.bands[lv][0] for lv in table.levels[axis]])
        high = np.array([age.bands[lv][1] for lv in table.levels[axis]])
        years = rng.integers(low[codes[axis]], high[codes[axis]] + 1)
        data["age"] = pl.Series("age", years.astype(float))
    for axis, column in enumerate(table.columns):
        data[column] = pl.Series(column, np.asarray(table.levels[axis])[codes[axis]], dtype=pl.String)
    return pl.DataFrame(list(data.values()))


def _linear(frame: pl.DataFrame, effects: Effects) -> np.ndarray:
    """The linear predictor of ``effects`` for every row; a missing value contributes nothing."""
    terms = []
    for column, effect in effects.items():
        if isinstance(effect, dict):
            term = (
                pl.col(column)
                .cast(pl.String)
                .replace_strict(list(effect), list(effect.values()), default=0.0, return_dtype=pl.Float64)
            )
        elif isinstance(effect, PerUnit):
            term = (pl.col(column).cast(pl.Float64) - effect.from_) * effect.per_unit
        else:
            term = pl.col(column).cast(pl.Float64) * float(effect)
        terms.append(term.fill_null(0.0))
    if not terms:
        return np.zeros(frame.height)
    return frame.select(pl.sum_horizontal(terms).alias("lp")).to_series().to_numpy().astype(float)


def _finish(values: np.ndarray, cov: _Numeric) -> np.ndarray:
    if cov.clip is not None:
        low, high = cov.clip
        values = np.clip(values, -np.inf if low is None else low, np.inf if high is None else high)
    if cov.round is not None:
        values = np.round(values, cov.round)
    return values


def _pick(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One level index per row of a (rows × levels) probability matrix, by the inverse CDF."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(probabilities.shape[0]) * cumulative[:, -1]
    return np.minimum((cumulative <= u[:, None]).sum(axis=1), probabilities.shape[1] - 1)


def draw_covariate(
    frame: pl.DataFrame,
    name: str,
    cov: Normal | LogNormal | Bernoulli | Categorical | Ordinal,
    rng: np.random.Generator,
) -> pl.Series:
    """Draw one covariate for every row of ``frame`` (which holds the columns drawn before it)."""
    size = frame.height
    if isinstance(cov, Normal):
        values = cov.mean + _linear(frame, cov.effects) + cov.sd * rng.standard_normal(size)
        return pl.Series(name, _finish(values, cov))
    if isinstance(cov, LogNormal):
        values = np.exp(np.log(cov.median) + _linear(frame, cov.effects) + cov.sdlog * rng.standard_normal(size))
        return pl.Series(name, _finish(values, cov))
    if isinstance(cov, Bernoulli):
        with np.errstate(divide="ignore"):
            p = expit(logit(cov.p) + _linear(frame, cov.effects))
        return pl.Series(name, rng.random(size) < p)
    if isinstance(cov, Categorical):
        levels = list(cov.probabilities)
        with np.errstate(divide="ignore"):
            scores = np.log(np.array([cov.probabilities[lv] for lv in levels]))[None, :] + np.zeros((size, 1))
        for i, level in enumerate(levels):
            if level in cov.effects:
                scores[:, i] += _linear(frame, cov.effects[level])
        scores -= scores.max(axis=1, keepdims=True)
        index = _pick(np.exp(scores), rng)
        return pl.Series(name, np.asarray(levels)[index], dtype=pl.String)
    if isinstance(cov, Ordinal):
        levels = list(cov.probabilities)
        shares = np.array([cov.probabilities[lv] for lv in levels])
        with np.errstate(divide="ignore"):
            # Cumulative logits at the reference; a positive effect lowers every P(Y <= j).
            thresholds = logit(np.clip(np.cumsum(shares)[:-1] / shares.sum(), 0, 1))
        below = expit(thresholds[None, :] - _linear(frame, cov.effects)[:, None])
        index = (rng.random(size)[:, None] > below).sum(axis=1)
        numbers = ordinal_values(levels)
        if numbers is not None:
            return pl.Series(name, np.asarray(numbers, dtype=float)[index])
        return pl.Series(name, np.asarray(levels)[index], dtype=pl.String)
    raise TypeError(f"unknown covariate model {type(cov).__name__}")


def draw_covariates(spec: CohortSpec, frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Add the spec's covariates to ``frame``, each drawn given the columns before it."""
    for name, cov in spec.covariates.items():
        frame = frame.with_columns(draw_covariate(frame, name, cov, rng))
    return frame


def add_derived(spec: CohortSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """Add the spec's derived columns, computed in order from the columns before them."""
    kinds = dict(spec.columns)
    for name, derived in spec.derived.items():
        expression = parse_expression(derived.expression, kinds, want=None)  # type: ignore[arg-type]
        column = frame.select(expression.to_polars().alias(name)).to_series()
        if kinds[name] == "number":
            values = column.cast(pl.Float64).to_numpy()
            if derived.clip is not None:
                low, high = derived.clip
                values = np.clip(values, -np.inf if low is None else low, np.inf if high is None else high)
            if derived.round is not None:
                values = np.round(values, derived.round)
            column = pl.Series(name, values)
        frame = frame.with_columns(column)
    return frame


def draw_population(spec: CohortSpec, size: int, rng: np.random.Generator) -> pl.DataFrame:
    """Draw a whole population from a parametric spec (one without a ``learned`` part).

    Examples
    --------
    >>> from trialsim.cohort.spec import load_cohort_spec
    >>> spec = load_cohort_spec("cohorts/us-type2-diabetes.yaml")
    >>> df = draw_population(spec, 1000, np.random.default_rng(1))
    >>> df.height, df.columns == list(spec.columns)
    (1000, True)
    """
    if spec.learned is not None:
        raise ValueError(f"{spec.name} learns columns from seed data: build it with trialsim.cohort.build")
    if size < 1:
        raise ValueError(f"a population needs at least one patient, got size={size}")
    frame = draw_backbone(spec, size, rng)
    frame = draw_covariates(spec, frame, rng)
    return add_derived(spec, frame).select(list(spec.columns))
