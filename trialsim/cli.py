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


def main() -> None:  # pragma: no cover - console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
