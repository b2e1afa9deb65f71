"""The ``trialsim`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from trialsim.cohort.cli import cohort_app
from trialsim.console import check_files, emit_text
from trialsim.dashboard import dashboard_command
from trialsim.design.load import DesignError, load_design
from trialsim.design.schema import design_schema

app = typer.Typer(
    help="In-silico clinical trial simulation: validate designs, simulate trials, compare designs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def validate(
    files: Annotated[list[str], typer.Argument(help="Design files (YAML).", show_default=False)],
) -> None:
    """Check design files; print FILE:LINE:COL: message for every problem (exit 2 if any)."""
    check_files(files, load_design, DesignError, lambda d: f"{d.name}, scenarios: {', '.join(d.scenarios)}")


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output.")] = None,
) -> None:
    """Print the JSON Schema of the design format (for editors' completion)."""
    emit_text(json.dumps(design_schema(), indent=2) + "\n", out)


@app.command()
def show(
    files: Annotated[list[str], typer.Argument(help="Design files (YAML).", show_default=False)],
) -> None:
    """Validate designs and print a summary of each."""
    from trialsim.design.summary import describe

    failed = False
    for file in files:
        try:
            typer.echo(describe(load_design(file)) + "\n")
        except DesignError as exc:
            failed = True
            typer.echo(str(exc), err=True)
    if failed:
        raise typer.Exit(2)


@app.command()
def simulate(
    design: Annotated[str, typer.Argument(help="A design file (YAML).", show_default=False)],
    trials: Annotated[int | None, typer.Option(help="Trials per scenario (default: the design's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the design's).")] = None,
    scenario: Annotated[list[str] | None, typer.Option(help="Run only this scenario (repeatable).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Run directory: the results, and each finished block as it finishes, so that running the "
            "same command again after an interruption computes only what is missing."
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Local Dask workers (default: one per core).")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of a running Dask scheduler, e.g. tcp://host:8786 (default: $TRIALSIM_SCHEDULER, "
            "else a local cluster)."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on standard error.")] = True,
) -> None:
    """Simulate every scenario of a design on Dask and print its operating characteristics."""
    from trialsim.run.cluster import dask_client, describe
    from trialsim.run.runner import BlockError
    from trialsim.run.simulate import prepare
    from trialsim.run.store import check_run_dir
    from trialsim.run.summary import format_table

    try:
        loaded = load_design(design)
    except DesignError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if trials is not None and trials <= 0:
        typer.echo(f"error: --trials must be a positive number, got {trials}", err=True)
        raise typer.Exit(2)

    def say(line: str) -> None:
        typer.echo(line, err=True)

    try:
        # Everything that can be wrong with the request is found before a cluster starts.
        prepared = prepare(loaded, trials=trials, seed=seed, scenarios=scenario)
        if out is not None:
            check_run_dir(out, prepared.identity)
        with dask_client(workers=workers, scheduler=scheduler) as client:
            say(describe(client))
            # Without --out only the summary is printed: the tables are not read back into memory.
            result = prepared.execute(client=client, out=out, progress=progress, log=say, tables=False)
    except DesignError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BlockError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        kept = f"; finished blocks are kept in {out}: run the same command to continue" if out else ""
        typer.echo(f"interrupted{kept}", err=True)
        raise typer.Exit(130) from None
    typer.echo(format_table(result.summary()))
    if out is not None:
        typer.echo(f"wrote {out}/: trials.parquet, subgroups.parquet, diversity.parquet, summary.json")


@app.command()
def size(
    design: Annotated[str, typer.Argument(help="A design file (YAML).", show_default=False)],
    target_power: Annotated[float, typer.Option(help="The power to reach, e.g. 0.9.", show_default=False)],
    scenario: Annotated[
        str | None, typer.Option(help="The scenario whose power counts (default: expected, or the only one).")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="sample_size or events (default: events for a time-to-event design with looks timed by events)."
        ),
    ] = None,
    trials: Annotated[int | None, typer.Option(help="Trials per candidate (default: the design's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the design's).")] = None,
    min_value: Annotated[int | None, typer.Option("--min", help="Smallest candidate.")] = None,
    max_value: Annotated[int | None, typer.Option("--max", help="Largest candidate.")] = None,
    step: Annotated[int | None, typer.Option(help="Grain of the candidates (default: randomisation block).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the answer and the curve here.")] = None,
    workers: Annotated[int | None, typer.Option(help="Local Dask workers (default: one per core).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler.")] = None,
) -> None:
    """Find the smallest sample size (or number of events) whose power reaches a target."""
    from trialsim.run.cluster import dask_client, describe
    from trialsim.run.compare import write_text
    from trialsim.run.size import SizeError, find_size

    if by not in (None, "sample_size", "events"):
        typer.echo(f"error: --by is sample_size or events, got {by!r}", err=True)
        raise typer.Exit(2)
    try:
        loaded = load_design(design)
        with dask_client(workers=workers, scheduler=scheduler) as client:
            typer.echo(describe(client), err=True)
            result = find_size(
                loaded, target_power, scenario=scenario, by=by, trials=trials, seed=seed,
                minimum=min_value, maximum=max_value, step=step, client=client,
            )  # fmt: skip
    except DesignError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except (SizeError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(result.table())
    if json_out is not None:
        write_text(json_out, json.dumps(result.to_dict(), indent=2) + "\n")


@app.command()
def compare(
    directories: Annotated[
        list[Path], typer.Argument(help="Result directories (trialsim simulate --out).", show_default=False)
    ],
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write the table as CSV here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Also write the table as markdown here.")] = None,
) -> None:
    """Print designs' operating characteristics side by side (power, type I error, E[N], duration, diversity)."""
    from trialsim.run.compare import CompareError, write_text
    from trialsim.run.compare import compare as side_by_side

    try:
        table = side_by_side(directories)
    except CompareError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(table.text())
    if csv_out is not None:
        write_text(csv_out, table.csv())
    if markdown is not None:
        write_text(markdown, table.markdown())


app.add_typer(cohort_app, name="cohort")
app.command("dashboard")(dashboard_command)


def main() -> None:  # pragma: no cover - console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
