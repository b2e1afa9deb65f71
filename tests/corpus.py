"""The harness of the broken-file corpora (tests/design/broken/, tests/cohort/broken/).

Each corpus file's first line says what validation must report::

    # expect: LINE:COL: substring of the message

and validation must exit 2 and print ``FILE:LINE:COL: message`` lines only, no traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import Result

EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.+)$")
LINE = re.compile(r"^\S+:\d+:\d+: .+")


def expectation(path: Path) -> tuple[int, int, str]:
    """The LINE, COL and message text a corpus file's first line expects."""
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    match = EXPECT.match(first)
    assert match, f"{path.name}: the first line must be '# expect: LINE:COL: message', got {first!r}"
    return int(match.group(1)), int(match.group(2)), match.group(3)


def assert_clean_report(result: Result) -> list[str]:
    """Exit 2, nothing crashed, and every line on stderr is ``FILE:LINE:COL: message``; returns the lines."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines, "no problem was reported"
    bad = [line for line in lines if not LINE.match(line)]
    assert not bad, f"lines not in FILE:LINE:COL: message form: {bad}"
    return lines
