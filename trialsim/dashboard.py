"""``trialsim dashboard``: the Streamlit app that compares designs, over result directories.

The app itself is ``dashboards/app.py`` in the source tree; this module checks the result
directories it is given (what ``trialsim simulate --out DIR`` writes) and starts
``streamlit run`` on it. The same checks tell the app what to explain on the page when a
directory is missing, empty, half-written or from another result format.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from trialsim.run.store import BLOCK_SUFFIX

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
RESULT_FORMAT = 1  # the summary.json format this dashboard reads (trialsim.run.simulate.RESULT_FORMAT)
# Written by SimulationResult.write, in this order; summary.json comes last, so without it a directory is incomplete.
RESULT_FILES = ("trials.parquet", "subgroups.parquet", "diversity.parquet", "design.yaml", "summary.json")
REQUIRED_SCENARIO_KEYS = ("trials", "power", "power_se", "reject_per_look", "expected_sample_size", "expected_duration")


@dataclass
class ResultsDir:
    """What a result directory holds: its summary, fatal ``errors`` and the gaps (``notes``) the pages work around."""

    path: Path
    summary: dict | None = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.summary is not None and not self.errors


def inspect_results_dir(path: str | Path) -> ResultsDir:
    """Check a result directory and read its ``summary.json``; never raises for a bad directory.

    Examples
    --------
    >>> inspect_results_dir("/nonexistent/results").errors[0].startswith("/nonexistent/results: no such directory")
    True
    """
    path = Path(path)
    out = ResultsDir(path)
    rerun = f"`trialsim simulate DESIGN --out {path}`"
    if not path.exists():
        out.errors.append(f"{path}: no such directory. Result directories are written by {rerun}.")
        return out
    if not path.is_dir():
        out.errors.append(
            f"{path}: a file, not a result directory (a folder with summary.json and trials.parquet, "
            f"written by {rerun})."
        )
        return out
    entries = sorted(p.name for p in path.iterdir())
    partial = [n for n in entries if n.startswith(".partial-")]
    visible = [n for n in entries if not n.startswith(".")]
    present = [n for n in RESULT_FILES if n in visible]
    summary_file = path / "summary.json"
    if not summary_file.is_file():
        if "manifest.json" in visible or "blocks" in visible:
            done = sum(1 for _ in (path / "blocks").glob(f"*/*{BLOCK_SUFFIX}"))
            out.errors.append(
                f"{path}: a simulation is running here, or was interrupted: {done} seed block(s) are "
                f"finished, and summary.json is written when all are. Wait for it to finish, or resume it with "
                f"{rerun} (finished blocks are kept)."
            )
        elif not visible and not partial:
            out.errors.append(f"{path}: empty; no simulation has been written here yet. Run {rerun}.")
        elif present or partial:
            has = ", ".join(present) if present else "only a temporary folder"
            out.errors.append(
                f"{path}: half-written; it has {has} but no summary.json, which is written last. A simulation "
                f"may still be writing here, or it stopped part-way: wait for it to finish, or run {rerun} again."
            )
        else:
            out.errors.append(
                f"{path}: not a trialsim result directory (no summary.json; it holds {', '.join(visible[:5])}"
                f"{', ...' if len(visible) > 5 else ''}). Run {rerun}."
            )
        return out
    try:
        summary = json.loads(summary_file.read_text())
    except json.JSONDecodeError as exc:
        out.errors.append(
            f"{path}: summary.json is cut off or not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); it was "
            f"probably half-written. Run {rerun} again."
        )
        return out
    except (OSError, UnicodeDecodeError) as exc:
        out.errors.append(f"{path}: summary.json cannot be read ({exc}).")
        return out
    if not isinstance(summary, dict):
        out.errors.append(f"{path}: summary.json holds a {type(summary).__name__}, not a trialsim summary.")
        return out
    problem = _format_problem(summary)
    if problem:
        advice = "update trialsim" if "newer" in problem else f"run {rerun} again to rewrite it with this trialsim"
        out.errors.append(f"{path}: {problem}; {advice}.")
        return out
    out.summary = summary
    for name in ("trials.parquet", "design.yaml"):
        if name not in visible:
            what = "the trial explorer cannot show its trials" if name == "trials.parquet" else "its YAML is not shown"
            out.notes.append(f"{path}: {name} is missing, so {what}.")
    if partial:
        out.notes.append(f"{path}: a simulation is writing a new version here; reload the page when it has finished.")
    scenarios = summary["scenarios"]
    old = [name for name, s in scenarios.items() if "diversity" not in s]
    if old:
        out.notes.append(
            f"{path}: no diversity summary for scenario(s) {', '.join(old)} (written before trialsim summarised "
            "the diversity of enrolment); the Diversity and Trade-off pages leave them out."
        )
    return out


def _format_problem(summary: dict) -> str | None:
    """Why a summary cannot be read by this dashboard, or None."""
    if "format" not in summary:
        return (
            f"summary.json was written by an older trialsim (it has no 'format' field; this dashboard reads "
            f"format {RESULT_FORMAT})"
        )
    version = summary["format"]
    if not isinstance(version, int) or isinstance(version, bool):
        return f"summary.json has format {version!r}; this dashboard reads format {RESULT_FORMAT}"
    if version < RESULT_FORMAT:
        return f"summary.json is in an older result format ({version}); this dashboard reads format {RESULT_FORMAT}"
    if version > RESULT_FORMAT:
        return f"summary.json is in a newer result format ({version}) than this dashboard reads ({RESULT_FORMAT})"
    scenarios = summary.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        return "summary.json has no scenarios"
    for name, s in scenarios.items():
        missing = [k for k in REQUIRED_SCENARIO_KEYS if not isinstance(s, dict) or k not in s]
        if missing:
            return (
                f"scenario {name!r} of summary.json lacks {', '.join(missing)}: it was written by an older "
                "(or unfinished) trialsim"
            )
    return None


def streamlit_command(results: list[Path], host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The ``streamlit run`` command line that serves the dashboard over ``results``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--",
        *(str(Path(p).absolute()) for p in results),
    ]


def dashboard(results: list[Path], host: str = "127.0.0.1", port: int = 8501) -> int:
    """Serve the dashboard over ``results`` until interrupted; returns streamlit's exit status.

    Every directory is checked first and its problems are printed; the page explains them too,
    so a bad directory does not stop the others from being shown.
    """
    if not APP.is_file():
        raise FileNotFoundError(f"the dashboard app is not at {APP}: run trialsim from its source tree")
    if not 0 < port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, got {port}")
    if not results:
        print(
            "warning: no result directories given; the dashboard will only explain how to make them.", file=sys.stderr
        )
    for checked in map(inspect_results_dir, results):
        for message in checked.errors + checked.notes:
            print(f"warning: {message}", file=sys.stderr)
    print(f"trialsim dashboard: http://{host}:{port}/  (Ctrl-C to stop)", file=sys.stderr)
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    env.pop("TRIALSIM_RESULTS", None)  # the directories are passed on the command line
    try:
        return subprocess.call(streamlit_command(results, host, port), env=env)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return 0


def dashboard_command(
    results: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Result directories written by `trialsim simulate --out DIR`.",
            metavar="RESULTS_DIR",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
) -> None:
    """Compare designs on power, cost and diversity in a Streamlit dashboard over result directories."""
    try:
        code = dashboard(results or [], host=host, port=port)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if code:
        raise typer.Exit(code)


if __name__ == "__main__":  # pragma: no cover - `python -m trialsim.dashboard` (used by `make dashboard`)
    typer.run(dashboard_command)
