"""Which columns, of which kind, a design's cohort reference provides (without building it)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trialsim.cohort import builtin
from trialsim.cohort.reference import TABLE_SUFFIXES, resolve_cohort

__all__ = ["TABLE_SUFFIXES", "cohort_columns", "column_kind"]


def column_kind(dtype: pl.DataType) -> str:
    """The expression kind (``number``, ``string``, ``bool``) of a polars dtype."""
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_numeric():
        return "number"
    return "string"


def cohort_columns(reference: str, base: Path) -> dict[str, str]:
    """Column name -> kind (``number``, ``string``, ``bool``) of the cohort a design names.

    ``reference`` is ``builtin``, a cohort spec (a name looked up in ``cohorts/``, or a
    ``.yaml`` path), or a path to a parquet or CSV population; paths are relative to
    ``base``, the design's folder. A spec's columns come from the spec itself: nothing is
    built. Raises ``ValueError`` saying what is wrong or what is available otherwise.

    Examples
    --------
    >>> cohort_columns("builtin", Path("."))["age"]
    'number'
    >>> cohort_columns("us-type2-diabetes", Path("designs"))["race_ethnicity"]
    'string'
    """
    ref = resolve_cohort(reference, base)
    if ref.kind == "builtin":
        return dict(builtin.COLUMNS)
    assert ref.path is not None
    if ref.kind == "table":
        path = ref.path
        if not path.is_file():
            raise ValueError(f"cohort file {reference!r} not found (looked for {path})")
        try:
            schema = (pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(path)).collect_schema()
        except Exception as exc:  # polars raises several error types for unreadable files
            raise ValueError(f"cohort file {reference!r} cannot be read: {exc}") from None
        return {name: column_kind(dtype) for name, dtype in schema.items()}
    from trialsim.cohort.spec import CohortError, load_cohort_spec

    try:
        return load_cohort_spec(ref.path).columns
    except CohortError as exc:
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        raise ValueError(f"cohort spec {reference!r} has problems: {exc.problems[0]}{more}") from None
