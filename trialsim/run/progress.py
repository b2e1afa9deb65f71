"""A progress bar for a run: trials done, trials per second and the time left, on standard error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@contextmanager
def trial_progress(total: int, done: int = 0, *, enabled: bool = True, console: Console | None = None) -> Iterator:
    """A callable ``advance(trials)`` that moves a progress bar of ``total`` trials (``done`` already).

    Disabled, the callable does nothing. On a terminal the bar redraws itself; elsewhere (a log,
    a CI job) only its final state is printed.

    Examples
    --------
    >>> with trial_progress(1000, enabled=False) as advance:
    ...     advance(250)
    """
    if not enabled:
        yield lambda trials: None
        return
    # rich is imported here, not with the module: in a fresh process its import (about 20 ms) came
    # before a cluster run's first tasks, with the workers waiting, even when no bar is shown.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Trials per second, over the last 30 s (rich's estimate); trials found already done do not count."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} trials/s" if speed else "- trials/s", style="progress.data.speed")

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials"),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        speed_estimate_period=30.0,
    )
    with progress:
        task = progress.add_task("simulating", total=total, completed=done)
        yield lambda trials: progress.advance(task, trials)
