"""The ``trialsim`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

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
    failed = False
    for file in files:
        try:
            design = load_design(file)
        except DesignError as exc:
            failed = True
            for problem in exc.problems:
                typer.echo(str(problem), err=True)
            continue
        typer.echo(f"{file}: ok ({design.name}, scenarios: {', '.join(design.scenarios)})")
    if failed:
        raise typer.Exit(2)


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output.")] = None,
) -> None:
    """Print the JSON Schema of the design format (for editors' completion)."""
    text = json.dumps(design_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(out)


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
    out: Annotated[Path | None, typer.Option(help="Write trials.parquet and summary.json here.")] = None,
    workers: Annotated[int | None, typer.Option(help="Local Dask workers (default: one per core).")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler, e.g. tcp://host:8786.")
    ] = None,
) -> None:
    """Simulate every scenario of a design on Dask and print its operating characteristics."""
    from trialsim.run.cluster import dask_client
    from trialsim.run.simulate import simulate as run
    from trialsim.run.summary import format_table

    try:
        loaded = load_design(design)
    except DesignError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if trials is not None and trials <= 0:
        typer.echo(f"error: --trials must be a positive number, got {trials}", err=True)
        raise typer.Exit(2)
    unknown = [s for s in scenario or [] if s not in loaded.scenarios]
    if unknown:
        typer.echo(f"error: unknown scenario {unknown[0]!r}; {design} has {', '.join(loaded.scenarios)}", err=True)
        raise typer.Exit(2)
    try:
        with dask_client(workers=workers, scheduler=scheduler) as client:
            result = run(loaded, trials=trials, seed=seed, scenarios=scenario, client=client)
    except DesignError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(format_table(result.summary()))
    if out is not None:
        typer.echo(f"wrote {result.write(out)}/trials.parquet and summary.json")


def main() -> None:  # pragma: no cover - console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
