"""Designs side by side: the operating characteristics of several result directories in one table.

Each directory is what ``trialsim simulate --out DIR`` wrote; its ``summary.json`` is read. A row
is one figure of one scenario (power, or the type I error when the scenario has no effect;
expected sample size, events and duration; the diversity of the enrolled patients when the summary
has it), a column one directory, and every figure carries its Monte Carlo standard error.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from trialsim.run.store import write_atomic

# (key in a scenario's summary, its SE's key, label): the figures compared, in this order.
FIGURES = (
    ("power", "power_se", "power"),
    ("expected_sample_size", "expected_sample_size_se", "E[N]"),
    ("expected_events", "expected_events_se", "E[events]"),
    ("expected_duration", "expected_duration_se", "E[duration] (months)"),
    ("early_stop", None, "P(early stop)"),
)


class CompareError(ValueError):
    """A directory cannot be compared; the message says which and why."""


@dataclass
class Comparison:
    """Rows (scenario, label) by columns (result directories): each cell a value and its SE, or empty."""

    columns: list[str]
    rows: list[tuple[str, str]] = field(default_factory=list)
    cells: dict[tuple[int, str, str], tuple[float, float]] = field(default_factory=dict)

    def cell(self, column: int, scenario: str, label: str) -> str:
        found = self.cells.get((column, scenario, label))
        if found is None:
            return "-"
        value, se = found
        digits = 3 if abs(value) < 10 else 1
        if math.isnan(se):
            return f"{value:.{digits}f}"
        if 0 < se < 10**-digits:  # enough digits for the SE to show
            digits = min(6, -math.floor(math.log10(se)))
        return f"{value:.{digits}f} ± {se:.{digits}f}"

    def table(self) -> list[list[str]]:
        """Header and rows of text cells."""
        header = ["scenario", "figure", *self.columns]
        body = [
            [scenario, label, *(self.cell(i, scenario, label) for i in range(len(self.columns)))]
            for scenario, label in self.rows
        ]
        return [header, *body]

    def text(self) -> str:
        """A plain-text table, columns aligned; ± is one Monte Carlo standard error."""
        table = self.table()
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines = []
        for j, row in enumerate(table):
            cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
            lines.append("  ".join(cells).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.append("(± is one Monte Carlo standard error; type I error is the power of a scenario with no effect)")
        return "\n".join(lines)

    def markdown(self) -> str:
        table = self.table()
        out = ["| " + " | ".join(table[0]) + " |", "|" + "|".join(["---", "---"] + ["---:"] * len(self.columns)) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table[1:]]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        """Numbers as numbers: a value and an SE column per directory."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["scenario", "figure", *(f"{c}{suffix}" for c in self.columns for suffix in ("", " se"))])
        for scenario, label in self.rows:
            row: list = [scenario, label]
            for i in range(len(self.columns)):
                value, se = self.cells.get((i, scenario, label), (None, None))
                row += ["" if value is None else repr(value), "" if se is None or math.isnan(se) else repr(se)]
            writer.writerow(row)
        return buffer.getvalue()


def read_summary(directory: str | Path) -> dict:
    """A result directory's ``summary.json``.

    Raises
    ------
    CompareError
        When there is none (with what the directory holds instead) or it cannot be read.
    """
    directory = Path(directory)
    file = directory / "summary.json"
    if not directory.is_dir():
        raise CompareError(f"{directory}: no such directory (result directories come from trialsim simulate --out)")
    if not file.is_file():
        what = "blocks of an unfinished run" if (directory / "blocks").exists() else "no summary.json"
        raise CompareError(f"{directory}: {what}; run trialsim simulate DESIGN --out {directory} (again) to finish it")
    try:
        summary = json.loads(file.read_text())
        summary["scenarios"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CompareError(f"{file}: not a trialsim summary ({exc})") from None
    return summary


def is_null(scenario: dict) -> bool:
    """A scenario with no effect in any comparison: its power is a type I error."""
    effects = [c.get("true_effect") for c in scenario.get("per_comparison", {}).values()]
    return bool(effects) and all(e is not None and abs(e) < 1e-12 for e in effects)


def compare(directories: list[str | Path]) -> Comparison:
    """The side-by-side table of several result directories.

    Examples
    --------
    >>> import trialsim, tempfile
    >>> out = trialsim.simulate("designs/binary-response.yaml", trials=250, seed=1).write(tempfile.mkdtemp())
    >>> table = compare([out]).text()
    >>> "type I error" in table and "expected" in table
    True
    """
    summaries = [(Path(d), read_summary(d)) for d in directories]
    names = [s["design"] for _, s in summaries]
    # A design compared with itself (another seed, another version of the file) is told apart by its folder.
    columns = [n if names.count(n) == 1 else f"{n} ({d})" for (d, _), n in zip(summaries, names, strict=True)]
    result = Comparison(columns)
    for i, (_, summary) in enumerate(summaries):
        for scenario, figures in summary["scenarios"].items():
            for key, se_key, label in FIGURES:
                if key not in figures or figures[key] is None:
                    continue
                if key == "power" and is_null(figures):
                    label = "type I error"
                value = float(figures[key])
                if se_key is not None:
                    se = float(figures.get(se_key, math.nan))
                else:
                    trials = figures.get("trials") or 0
                    se = math.sqrt(value * (1 - value) / trials) if trials else math.nan
                _add(result, i, scenario, label, value, se)
            diversity = figures.get("diversity") or {}
            index = diversity.get("representation_index")
            if isinstance(index, dict):
                _add(result, i, scenario, "representation index", index["value"], index.get("se", math.nan))
            goals = diversity.get("goals")
            if isinstance(goals, dict):
                _add(
                    result, i, scenario, "P(diversity goals met)", goals["probability_met"],
                    goals.get("probability_met_se", math.nan),
                )  # fmt: skip
    return result


def _add(result: Comparison, column: int, scenario: str, label: str, value: float, se: float) -> None:
    if (scenario, label) not in result.rows:
        result.rows.append((scenario, label))
    result.cells[(column, scenario, label)] = (float(value), float(se))


def write_text(path: str | Path, text: str) -> None:
    """Write a file whole: a temporary file renamed into place."""
    write_atomic(Path(path), lambda tmp: tmp.write_text(text))
