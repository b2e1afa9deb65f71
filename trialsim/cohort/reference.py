"""What a design's ``population.cohort`` names: the built-in population, a table, or a cohort spec."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trialsim.design.errors import suggest

BUILTIN = "builtin"
SPEC_SUFFIXES = (".yaml", ".yml")
TABLE_SUFFIXES = (".parquet", ".csv")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class CohortRef:
    """A resolved cohort reference: ``kind`` is ``builtin``, ``table`` or ``spec``; ``path`` for the last two."""

    kind: Literal["builtin", "table", "spec"]
    path: Path | None = None


def spec_folders(base: Path) -> list[Path]:
    """Where a cohort spec name is looked up, first match wins.

    ``base`` is the design's folder: its sibling ``cohorts/`` (``designs/`` next to
    ``cohorts/``), its own ``cohorts/``, the folder itself, then ``./cohorts/``.
    """
    folders = [base.parent / "cohorts", base / "cohorts", base, Path.cwd() / "cohorts"]
    seen: list[Path] = []
    for folder in folders:
        if folder.resolve() not in [s.resolve() for s in seen]:
            seen.append(folder)
    return seen


def known_specs(base: Path) -> list[str]:
    """Names of the cohort specs found where names are looked up."""
    names = {p.stem for folder in spec_folders(base) if folder.is_dir() for p in folder.glob("*.yaml")}
    return sorted(n for n in names if _NAME.match(n))


def resolve_cohort(reference: str, base: Path) -> CohortRef:
    """Resolve ``population.cohort`` against ``base``, the design's folder.

    ``builtin`` is the built-in population; a path ending ``.parquet`` or ``.csv`` is a
    population table; a path ending ``.yaml`` is a cohort spec; a bare name such as
    ``us-type2-diabetes`` is the spec ``cohorts/us-type2-diabetes.yaml``, looked for as
    :func:`spec_folders` says. Raises ``ValueError`` saying what was looked for otherwise.

    Examples
    --------
    >>> resolve_cohort("builtin", Path("designs")).kind
    'builtin'
    >>> resolve_cohort("us-type2-diabetes", Path("designs")).path.as_posix()
    'cohorts/us-type2-diabetes.yaml'
    """
    if reference == BUILTIN:
        return CohortRef("builtin")
    path = Path(reference) if Path(reference).is_absolute() else base / reference
    if path.suffix in TABLE_SUFFIXES:
        return CohortRef("table", path)
    if path.suffix in SPEC_SUFFIXES:
        if not path.is_file():
            raise ValueError(f"cohort spec {reference!r} not found (looked for {path})")
        return CohortRef("spec", path)
    if _NAME.match(reference):
        for folder in spec_folders(base):
            candidate = folder / f"{reference}.yaml"
            if candidate.is_file():
                return CohortRef("spec", candidate)
    known = known_specs(base)
    names = [BUILTIN, *known]
    listing = f" ({', '.join(known)})" if known else ""
    raise ValueError(
        f"unknown cohort {reference!r}{suggest(reference, names)}: use 'builtin', the name of a spec in "
        f"cohorts/{listing}, or a path to a .yaml spec or a .parquet/.csv population"
    )
