"""Result directories as the dashboard sees them: checked, labelled, coloured, with lazily read tables.

Nothing here imports Streamlit, so the loading rules are testable on their own.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from trialsim.dashboard import ResultsDir, inspect_results_dir

ENV = "TRIALSIM_RESULTS"  # os.pathsep-separated result directories; when set, it wins over the command line
# Okabe-Ito: distinguishable with the common colour-vision deficiencies; designs keep their colour on every page.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
TARGET_COLOR = "#9E9E9E"
TABLES = ("trials", "subgroups", "diversity")


def requested_dirs(argv: Sequence[str], environ: dict[str, str] | os._Environ = os.environ) -> list[Path]:
    """The result directories the app was started with: ``$TRIALSIM_RESULTS`` if set, else the arguments.

    Examples
    --------
    >>> requested_dirs(["app.py", "results/a", "results/b"], {})
    [PosixPath('results/a'), PosixPath('results/b')]
    >>> requested_dirs(["app.py", "x"], {"TRIALSIM_RESULTS": "r/1" + os.pathsep + "r/2"})
    [PosixPath('r/1'), PosixPath('r/2')]
    """
    if ENV in environ:
        return [Path(p) for p in environ[ENV].split(os.pathsep) if p]
    return [Path(a) for a in argv[1:]]


@dataclass
class Result:
    """One result directory: its check, and for a readable one its summary and (lazily) its tables."""

    path: Path
    status: ResultsDir
    label: str = ""
    color: str = PALETTE[0]
    _tables: dict = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status.ok

    @property
    def summary(self) -> dict:
        return self.status.summary or {}

    @property
    def scenarios(self) -> dict[str, dict]:
        return self.summary.get("scenarios", {})

    @property
    def design_name(self) -> str:
        return str(self.summary.get("design") or self.path.name)

    def scenario(self, name: str) -> dict | None:
        return self.scenarios.get(name)

    def design_text(self) -> str | None:
        """The design YAML as simulated (``design.yaml``), or None when it is missing."""
        if "design_text" not in self._tables:
            file = self.path / "design.yaml"
            self._tables["design_text"] = file.read_text() if file.is_file() else None
        return self._tables["design_text"]

    def design(self) -> dict:
        """The design YAML parsed as plain data ({} when missing or unreadable)."""
        if "design" not in self._tables:
            try:
                data = yaml.safe_load(self.design_text() or "") or {}
            except yaml.YAMLError:
                data = {}
            self._tables["design"] = data if isinstance(data, dict) else {}
        return self._tables["design"]

    @property
    def title(self) -> str:
        return str(self.design().get("title") or self.design_name)

    def table(self, name: str) -> pl.DataFrame | None:
        """``trials``, ``subgroups`` or ``diversity`` (per-trial parquet), or None when absent or unreadable."""
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; known: {', '.join(TABLES)}")
        if name not in self._tables:
            file = self.path / f"{name}.parquet"
            try:
                self._tables[name] = pl.read_parquet(file) if file.is_file() else None
            except Exception as exc:  # a truncated or foreign file: explained where it is needed
                self._tables[name] = None
                self._tables[f"{name}_error"] = f"{file} cannot be read ({type(exc).__name__}: {exc})"
        return self._tables[name]

    def table_problem(self, name: str) -> str:
        """Why ``table(name)`` is None, for the page."""
        self.table(name)
        return self._tables.get(f"{name}_error") or f"{self.path / (name + '.parquet')} is missing."

    def benefit_sign(self) -> float:
        """+1 when a larger z favours the treatment, -1 when a smaller one does (from the design's primary endpoint)."""
        design = self.design()
        try:
            endpoint = design["endpoints"][design["analysis"]["primary"]["endpoint"]]
        except (KeyError, TypeError):
            return 1.0
        if not isinstance(endpoint, dict):
            return 1.0
        default = "lower" if endpoint.get("type") == "time_to_event" else "higher"
        return 1.0 if endpoint.get("better", default) == "higher" else -1.0

    def endpoint_type(self) -> str | None:
        design = self.design()
        try:
            return design["endpoints"][design["analysis"]["primary"]["endpoint"]]["type"]
        except (KeyError, TypeError):
            return None


def load_result(path: str | Path) -> Result:
    """Check one result directory (see :func:`trialsim.dashboard.inspect_results_dir`)."""
    path = Path(path)
    return Result(path, inspect_results_dir(path))


def dir_signature(path: Path) -> tuple:
    """Changes when anything in the directory changes (for caching a loaded result)."""
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in path.iterdir()))
    except OSError:
        return ("missing",)


def label_and_colour(results: Sequence[Result]) -> list[Result]:
    """Give every readable result a unique label (its design name, with the folder when names repeat) and a colour.

    Colours follow the order the directories were given, so a design keeps its colour on every page.
    """
    names = [r.design_name for r in results]
    out, used = [], set()
    colour = 0
    for r, name in zip(results, names, strict=True):
        label = name if names.count(name) == 1 else f"{name} ({r.path.name})"
        if label in used:
            label = f"{name} ({r.path})"
        used.add(label)
        if r.ok:
            out.append(dataclasses.replace(r, label=label, color=PALETTE[colour % len(PALETTE)]))
            colour += 1
        else:
            out.append(dataclasses.replace(r, label=str(r.path)))
    return out


def colour_map(results: Sequence[Result]) -> dict[str, str]:
    return {r.label: r.color for r in results if r.ok}
