"""The Dask cluster a run uses: a local one sized to the machine, or an existing scheduler."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

SCHEDULER_ENV = "TRIALSIM_SCHEDULER"


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, timeout: float = 10.0) -> Iterator:
    """A ``distributed.Client``: on ``scheduler`` (or ``$TRIALSIM_SCHEDULER``), else on a new LocalCluster.

    The local cluster runs one single-threaded worker process per core (or ``workers``), since the
    engine's numpy work holds the GIL for short stretches and processes scale better than threads.
    """
    from distributed import Client, LocalCluster

    scheduler = scheduler or os.environ.get(SCHEDULER_ENV)
    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s: {exc}") from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    if n <= 0:
        raise ValueError(f"--workers must be positive, got {workers}")
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
