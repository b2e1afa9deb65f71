"""Rules that relate several fields of a cohort spec, each pointing at the node to fix.

The pydantic models check every value on its own; here we check that the values fit
together: shares add up to 100%, a prevalence or an age band is given for every level,
an effect names a column drawn before it (and levels that column has), the seed data
exists and has the columns named, citations point at parts that exist. Walking the
spec in drawing order also gives the kind and levels of every column it produces.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from trialsim.cohort.columns import column_kind
from trialsim.cohort.spec import (
    Categorical,
    CohortSpec,
    Effects,
    Ordinal,
    _Numeric,
    parse_weight,
)
from trialsim.design.checks import Finding
from trialsim.design.errors import suggest
from trialsim.design.expressions import ExpressionError, parse_expression
from trialsim.design.source import PathKey

# Published percentages are rounded; shares may miss 100% by this much (they are renormalised).
SHARE_TOLERANCE = 0.005
SEED_SUFFIXES = (".csv", ".parquet")


def ordinal_values(levels: Iterable[str]) -> list[float] | None:
    """The levels as numbers when every one is a number (ECOG ``0, 1, 2``), else None."""
    try:
        values = [float(level) for level in levels]
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def seed_path(spec: CohortSpec) -> Path | None:
    """The seed data file of a learned spec, resolved against the spec's folder."""
    if spec.learned is None:
        return None
    path = Path(spec.learned.seed)
    return path if path.is_absolute() else spec.base / path


def _scan(path: Path) -> pl.LazyFrame:
    return pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(path)


@dataclass
class _Columns:
    """The columns drawn so far: kind, levels (when known) and what drew them."""

    kinds: dict[str, str] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, kind: str, origin: str, levels: list[str] | None = None) -> None:
        self.kinds[name] = kind
        self.origin[name] = origin
        if levels is not None:
            self.levels[name] = levels


def _listing(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


def _unknown(what: str, name: str, known: list[str]) -> str:
    return f"unknown {what} {name!r}{suggest(name, known)} (known: {_listing(known)})"


def _shares(path: PathKey, shares: dict[str, float], what: str) -> Iterator[Finding]:
    total = sum(shares.values())
    if total <= 0:
        yield Finding(path, f"{what} are all zero", key=True)
    elif abs(total - 1) > SHARE_TOLERANCE:
        yield Finding(
            path,
            f"{what} add up to {100 * total:.4g}%, not 100% "
            f"(rounding may miss by {100 * SHARE_TOLERANCE:g} points at most)",
            key=True,
        )


def _levels(path: PathKey, given: Iterable[str], known: list[str], what: str, column: str) -> Iterator[Finding]:
    """Every level of ``column`` is given once, and nothing else."""
    given = list(given)
    for level in given:
        if level not in known:
            yield Finding(
                path + (level,),
                f"{column!r} has no level {level!r}{suggest(level, known)} (levels: {_listing(known)})",
                key=True,
            )
    missing = [level for level in known if level not in given]
    if missing:
        yield Finding(path, f"{what} must cover every level of {column!r}; missing {_listing(missing)}", key=True)


def joint_cells(
    table: object, columns: list[str], path: PathKey = (), prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], object, PathKey]]:
    """``(levels, value, path)`` of every cell of a nested joint table (a ``None`` value: malformed there)."""
    if len(prefix) == len(columns):
        yield prefix, table, path
        return
    if not isinstance(table, dict) or not table:
        yield prefix, None, path
        return
    for level, inner in table.items():
        yield from joint_cells(inner, columns, path + (level,), prefix + (str(level),))


def _backbone(spec: CohortSpec, cols: _Columns) -> Iterator[Finding]:
    b = spec.backbone
    where: PathKey = ("backbone",)
    levels: dict[str, list[str]] = {}
    for column, shares in b.marginals.items():
        yield from _shares(where + ("marginals", column), shares, f"the shares of {column}")
        levels[column] = list(shares)
    if b.joint is not None:
        j = b.joint
        jpath = where + ("joint",)
        for i, column in enumerate(j.columns):
            if column in j.columns[:i]:
                yield Finding(jpath + ("columns", i), f"{column!r} is listed twice")
        table_path = jpath + ("table",)
        seen: dict[str, dict[str, PathKey]] = {c: {} for c in j.columns}  # level -> where first given
        cells: dict[tuple[str, ...], float] = {}
        bad = False
        for cell, value, path in joint_cells(j.table, j.columns, table_path):
            if len(cell) < len(j.columns):
                column = j.columns[len(cell)]
                yield Finding(path, f"expected a mapping of {column} levels to the next column's levels or counts")
                bad = True
                continue
            try:
                cells[cell] = parse_weight(value)
            except ValueError as exc:
                yield Finding(path, str(exc))
                bad = True
            for depth, (column, level) in enumerate(zip(j.columns, cell, strict=True)):
                seen[column].setdefault(level, path[: len(table_path) + depth + 1])
        if not bad:
            for column in dict.fromkeys(j.columns):
                if column not in levels:
                    levels[column] = list(seen[column])
                    continue
                extra = [lv for lv in seen[column] if lv not in levels[column]]
                missing = [lv for lv in levels[column] if lv not in seen[column]]
                for level in extra:
                    bad = True
                    yield Finding(
                        seen[column][level],
                        f"the joint table has {column} {level!r}, which backbone.marginals.{column} does not "
                        f"list{suggest(level, levels[column])} (levels: {_listing(levels[column])})",
                        key=True,
                    )
                if missing:
                    bad = True
                    yield Finding(table_path, f"the joint table has no {column} {_listing(missing)}", key=True)
        if not bad:
            n_full = math.prod(len(seen[c]) for c in dict.fromkeys(j.columns))
            if len(cells) < n_full:
                yield Finding(
                    table_path,
                    f"the joint table gives {len(cells)} of the {n_full} combinations of {', '.join(j.columns)}; "
                    "give every one (0 for none)",
                    key=True,
                )
            if cells and sum(cells.values()) <= 0:
                yield Finding(table_path, "the joint table is all zeros", key=True)
    if not levels:
        yield Finding(where, "a backbone needs at least one column, e.g. marginals: {sex: {F: 50.5%, M: 49.5%}}")
    for column, prevalence in b.prevalence.items():
        path = where + ("prevalence", column)
        if column not in levels:
            yield Finding(path, _unknown("backbone column", column, list(levels)), key=True)
            continue
        yield from _levels(path, prevalence, levels[column], "a prevalence", column)
        if prevalence and not any(prevalence.values()):
            yield Finding(path, f"the prevalence of every {column} group is 0%", key=True)
    if b.age is not None:
        path = where + ("age",)
        if "age" in levels:
            yield Finding(path, "'age' is already a backbone column; drop one of them", key=True)
        if b.age.from_ not in levels:
            yield Finding(path + ("from",), _unknown("backbone column", b.age.from_, list(levels)))
        else:
            yield from _levels(path + ("bands",), b.age.bands, levels[b.age.from_], "the age bands", b.age.from_)
        for level, (low, high) in b.age.bands.items():
            if not 0 <= low <= high:
                yield Finding(path + ("bands", level), "a band is [youngest, oldest] with 0 <= youngest <= oldest")
        cols.add("age", "number", "backbone")
    for column, names in levels.items():
        cols.add(column, "string", "backbone", names)


def _learned(spec: CohortSpec, cols: _Columns) -> Iterator[Finding]:
    learned = spec.learned
    if learned is None:
        return
    where: PathKey = ("learned",)
    backbone = [c for c, origin in cols.origin.items() if origin == "backbone"]
    for i, column in enumerate(learned.conditions):
        if column not in backbone:
            yield Finding(
                where + ("conditions", i),
                f"{column!r} is not a backbone column{suggest(column, backbone)}; conditions are drawn by the "
                f"backbone first (backbone columns: {_listing(backbone)})",
            )
    path = seed_path(spec)
    assert path is not None
    if path.suffix not in SEED_SUFFIXES:
        yield Finding(where + ("seed",), f"seed data must be a .csv or .parquet file; got {learned.seed!r}")
        return
    if not path.is_file():
        yield Finding(where + ("seed",), f"no seed data file {learned.seed!r} (looked for {path})")
        return
    try:
        schema = _scan(path).collect_schema()
    except Exception as exc:  # polars raises several error types for unreadable files
        yield Finding(where + ("seed",), f"cannot read the seed data {learned.seed!r}: {exc}")
        return
    available = list(schema)
    for i, column in enumerate(learned.conditions):
        if column in backbone and column not in schema:
            yield Finding(
                where + ("conditions", i),
                f"the seed data has no column {column!r}{suggest(column, available)} "
                f"(its columns: {_listing(available)})",
            )
        elif column in backbone:
            values = _scan(path).select(pl.col(column).cast(pl.String).unique()).collect().to_series()
            there = sorted(v for v in values.to_list() if v is not None)
            absent = [level for level in cols.levels.get(column, []) if level not in there]
            if absent:
                yield Finding(
                    where + ("conditions", i),
                    f"the seed data has no {column} {_listing(absent)}, so it cannot be conditioned on "
                    f"(levels there: {_listing(there)})",
                )
    for i, column in enumerate(learned.columns):
        at = where + ("columns", i)
        if column in learned.columns[:i]:
            yield Finding(at, f"{column!r} is listed twice")
        elif column in learned.conditions:
            yield Finding(at, f"{column!r} is a condition; list it in conditions only")
        elif column in cols.kinds:
            yield Finding(at, f"{column!r} is already drawn by the backbone; learn it or draw it, not both")
        elif column not in schema:
            yield Finding(
                at,
                f"the seed data has no column {column!r}{suggest(column, available)} "
                f"(its columns: {_listing(available)})",
            )
        else:
            kind = column_kind(schema[column])
            levels = None
            if kind == "string":
                values = _scan(path).select(pl.col(column).unique()).collect().to_series()
                levels = sorted(v for v in values.to_list() if v is not None)
            cols.add(column, kind, "learned", levels)


def _effects(spec: CohortSpec, name: str, effects: Effects, path: PathKey, cols: _Columns) -> Iterator[Finding]:
    later = list(spec.covariates) + list(spec.derived)
    for column, effect in effects.items():
        at = path + (column,)
        if column == name:
            yield Finding(at, f"{name!r} cannot depend on itself", key=True)
            continue
        if column not in cols.kinds:
            if column in later:
                message = f"{column!r} is drawn after {name!r}; effects use columns drawn before it"
            else:
                message = f"unknown column {column!r}{suggest(column, list(cols.kinds))}"
            yield Finding(at, f"{message} (columns before {name!r}: {_listing(cols.kinds)})", key=True)
            continue
        kind = cols.kinds[column]
        if kind == "string":
            if not isinstance(effect, dict):
                example = next(iter(cols.levels.get(column, ["LEVEL"])))
                yield Finding(
                    at, f"{column!r} is categorical: give a shift per level, e.g. {{{example}: 0.3}} (other levels 0)"
                )
            elif column in cols.levels:
                known = cols.levels[column]
                for level in effect:
                    if level not in known:
                        yield Finding(
                            at + (level,),
                            f"{column!r} has no level {level!r}{suggest(level, known)} (levels: {_listing(known)})",
                            key=True,
                        )
        elif kind == "number" and isinstance(effect, dict):
            yield Finding(at, f"{column!r} is numeric: give a number per unit, or {{per_unit: 0.5, from: 60}}")
        elif kind == "bool" and not isinstance(effect, float | int):
            yield Finding(at, f"{column!r} is yes/no: give the shift when true, a number")


def _covariates(spec: CohortSpec, cols: _Columns) -> Iterator[Finding]:
    for name, cov in spec.covariates.items():
        where: PathKey = ("covariates", name)
        if name in cols.kinds:
            yield Finding(where, f"{name!r} is already a {cols.origin[name]} column", key=True)
        if isinstance(cov, Categorical):
            for level, effects in cov.effects.items():
                if level not in cov.probabilities:
                    known = list(cov.probabilities)
                    yield Finding(
                        where + ("effects", level),
                        f"{name!r} has no level {level!r}{suggest(level, known)} (levels: {_listing(known)}); "
                        "categorical effects are given per level of the covariate",
                        key=True,
                    )
                yield from _effects(spec, name, effects, where + ("effects", level), cols)
        else:
            yield from _effects(spec, name, cov.effects, where + ("effects",), cols)
        if isinstance(cov, Categorical | Ordinal):
            yield from _shares(where + ("probabilities",), cov.probabilities, f"the probabilities of {name}")
        if isinstance(cov, _Numeric) and cov.clip is not None:
            low, high = cov.clip
            if low is not None and high is not None and low >= high:
                yield Finding(where + ("clip",), f"clip is [lowest, highest]; got {low:g} >= {high:g}")
        if isinstance(cov, Categorical):
            cols.add(name, "string", "covariate", list(cov.probabilities))
        elif isinstance(cov, Ordinal):
            numeric = ordinal_values(cov.probabilities) is not None
            cols.add(name, "number" if numeric else "string", "covariate", None if numeric else list(cov.probabilities))
        elif cov.distribution == "bernoulli":
            cols.add(name, "bool", "covariate")
        else:
            cols.add(name, "number", "covariate")


def _derived(spec: CohortSpec, cols: _Columns) -> Iterator[Finding]:
    for name, derived in spec.derived.items():
        where: PathKey = ("derived", name)
        if name in cols.kinds:
            yield Finding(where, f"{name!r} is already a {cols.origin[name]} column", key=True)
        try:
            kind = parse_expression(derived.expression, cols.kinds, want=None).kind or "number"  # type: ignore[arg-type]
        except ExpressionError as exc:
            yield Finding(where + ("expression",), exc.message, offset=exc.offset)
            kind = "number"
        if kind != "number":
            for part in ("clip", "round"):
                if getattr(derived, part) is not None:
                    yield Finding(where + (part,), f"{part} applies to numbers; {name!r} is {kind}", key=True)
        elif derived.clip is not None:
            low, high = derived.clip
            if low is not None and high is not None and low >= high:
                yield Finding(where + ("clip",), f"clip is [lowest, highest]; got {low:g} >= {high:g}")
        cols.add(name, kind, "derived")


def _sources(spec: CohortSpec) -> Iterator[Finding]:
    ids = [s.id for s in spec.sources]
    for i, source in enumerate(spec.sources):
        if source.id in ids[:i]:
            yield Finding(("sources", i, "id"), f"source {source.id!r} is listed twice")
        for k, part in enumerate(source.for_):
            if spec._source is not None and tuple(part.split(".")) not in spec._source.values:
                yield Finding(("sources", i, "for", k), f"{part!r} names no part of this spec")
    cited: list[tuple[PathKey, str | None]] = [(("learned", "source"), spec.learned.source if spec.learned else None)]
    cited += [(("covariates", n, "source"), c.source) for n, c in spec.covariates.items()]
    cited += [(("derived", n, "source"), d.source) for n, d in spec.derived.items()]
    for path, ref in cited:
        if ref is not None and ref not in ids:
            yield Finding(path, _unknown("source", ref, ids))


def _rakes(spec: CohortSpec) -> Iterator[Finding]:
    from trialsim.cohort.parametric import backbone_table
    from trialsim.cohort.raking import RakingError

    try:
        backbone_table(spec)
    except RakingError as exc:
        yield Finding(("backbone",), f"the backbone cannot be raked: {exc}")


def check_cohort(spec: CohortSpec) -> list[Finding]:
    """All cross-field problems of a spec whose fields validated on their own.

    When there are none, the spec's :attr:`~trialsim.cohort.spec.CohortSpec.columns` and
    ``levels`` are set from the walk.
    """
    cols = _Columns()
    findings = list(_sources(spec))
    backbone = list(_backbone(spec, cols))
    findings += backbone
    if not backbone:
        findings += _rakes(spec)
    findings += _learned(spec, cols)
    findings += _covariates(spec, cols)
    findings += _derived(spec, cols)
    if not findings:
        order = sorted(cols.kinds, key=lambda c: c != "age")  # age first, as people list it
        spec._columns = {c: cols.kinds[c] for c in order}
        spec._levels = dict(cols.levels)
    return findings
