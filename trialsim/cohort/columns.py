"""Which columns, of which kind, a design's cohort reference provides."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trialsim.cohort import builtin

TABLE_SUFFIXES = (".parquet", ".csv")


def _kind(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_numeric():
        return "number"
    return "string"


def cohort_columns(reference: str, base: Path) -> dict[str, str]:
    """Column name -> kind (``number``, ``string``, ``bool``) of the cohort a design names.

    ``reference`` is ``builtin`` or a path (relative to ``base``, the design's folder) to a
    parquet or CSV population. Raises ``ValueError`` saying what is available otherwise.

    Examples
    --------
    >>> cohort_columns("builtin", Path("."))["age"]
    'number'
    """
    if reference == "builtin":
        return dict(builtin.COLUMNS)
    path = Path(reference) if Path(reference).is_absolute() else base / reference
    if path.suffix in TABLE_SUFFIXES:
        if not path.is_file():
            raise ValueError(f"cohort file {reference!r} not found (looked for {path})")
        try:
            schema = (pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(path)).collect_schema()
        except Exception as exc:  # polars raises several error types for unreadable files
            raise ValueError(f"cohort file {reference!r} cannot be read: {exc}") from None
        return {name: _kind(dtype) for name, dtype in schema.items()}
    raise ValueError(f"unknown cohort {reference!r}: use 'builtin' or a path to a .parquet or .csv population")
