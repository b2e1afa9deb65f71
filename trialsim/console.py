"""What the command lines (``trialsim``, ``trialsim cohort``) share: checking files, and writing text out.

Examples
--------
>>> import io, contextlib
>>> buffer = io.StringIO()
>>> with contextlib.redirect_stdout(buffer):
...     emit_text("hello\\n", None)
>>> buffer.getvalue()
'hello\\n'
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer

T = TypeVar("T")


def check_files(files: list[str], load: Callable[[str], T], error: type[Exception], ok: Callable[[T], str]) -> None:
    """Load every file; print ``FILE: ok (...)`` for the good ones and every problem of the others.

    ``error`` is the loader's exception carrying ``problems`` (each printed as FILE:LINE:COL: message,
    on standard error). Exits with status 2 when any file has a problem, after checking all of them.
    """
    failed = False
    for file in files:
        try:
            loaded = load(file)
        except error as exc:
            failed = True
            for problem in exc.problems:
                typer.echo(str(problem), err=True)
            continue
        typer.echo(f"{file}: ok ({ok(loaded)})")
    if failed:
        raise typer.Exit(2)


def emit_text(text: str, out: Path | None) -> None:
    """``text`` to standard output, or to ``out`` through a temporary file renamed over it (never half-written)."""
    if out is None:
        sys.stdout.write(text)
        return
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
