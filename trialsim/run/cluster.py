"""The Dask cluster a run uses: a local one sized to the machine, or an existing scheduler.

Locally, :class:`distributed.LocalCluster` runs one single-threaded worker process per core, each
with an equal share of the machine's memory as its limit (a worker that goes past it is restarted
by its nanny, and its tasks rerun). With ``--scheduler tcp://host:8786`` (or
``$TRIALSIM_SCHEDULER``) the run joins a cluster started elsewhere: by hand (``dask scheduler``,
``dask worker``), by dask-jobqueue on an HPC batch system or by dask-kubernetes.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

SCHEDULER_ENV = "TRIALSIM_SCHEDULER"
# Seconds to reach a scheduler before giving up: an unreachable address is an error, not a hang.
CONNECT_TIMEOUT = 10.0
# Seconds an existing cluster may take to show its first worker.
WORKER_TIMEOUT = 60.0
# Dask's background work in a local cluster, made rarer: the workers' statistical profiler (100
# samples a second, for the dashboard's Profile page), the nannies' memory checks (10 a second),
# the system monitors and every event loop's tick. On 2 cores these run beside the workers and took
# 9-13% of a core with the cluster idle, 1-2% after (`bench/profile.md`, "Fourth round").
QUIET = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.tick.interval": "1s",
}


@contextmanager
def dask_client(
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = CONNECT_TIMEOUT,
    memory_limit: int | str | None = None,
) -> Iterator:
    """A ``distributed.Client``: on ``scheduler`` (or ``$TRIALSIM_SCHEDULER``), else on a new LocalCluster.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: one per core). Not used with a scheduler.
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    timeout : float
        Seconds to connect to the scheduler.
    memory_limit : int or str, optional
        Memory limit of each local worker (default: the machine's memory shared equally).

    Raises
    ------
    OSError
        When the scheduler cannot be reached within ``timeout`` seconds, or shows no worker.

    Examples
    --------
    >>> with dask_client(workers=1) as client:
    ...     len(client.nthreads())
    1
    """
    import dask
    from distributed import Client, LocalCluster
    from distributed.system import MEMORY_LIMIT

    scheduler = scheduler or os.environ.get(SCHEDULER_ENV)
    if scheduler:
        if workers is not None:
            raise ValueError("--workers sizes a local cluster; with --scheduler the cluster's workers are used")
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s: {exc}") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
            except TimeoutError:
                raise OSError(
                    f"the Dask scheduler at {scheduler} has no workers (waited {WORKER_TIMEOUT:g} s); "
                    f"start some with: dask worker {scheduler}"
                ) from None
            yield client
        return
    n = (os.cpu_count() or 1) if workers is None else workers
    if n <= 0:
        raise ValueError(f"--workers must be positive, got {workers}")
    # The engine's numpy work holds the GIL for short stretches: processes scale, threads would not.
    with (
        dask.config.set(QUIET),
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit or MEMORY_LIMIT // n,
            # One core each: the libraries' own thread pools would only fight over the cores.
            env={"POLARS_MAX_THREADS": "1", "NUMBA_NUM_THREADS": "1"},
            dashboard_address=":0",  # a free port: the default 8787 may be taken by another cluster
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def describe(client) -> str:
    """One line on where a run goes: workers, threads, memory limit and the dashboard.

    Examples
    --------
    >>> with dask_client(workers=1) as client:
    ...     describe(client).startswith("Dask: 1 worker")
    True
    """
    from dask.utils import format_bytes

    info = client.scheduler_info(n_workers=-1)
    workers = info["workers"].values()
    threads = sum(w["nthreads"] for w in workers)
    limits = {w.get("memory_limit") for w in workers}
    memory = f", {format_bytes(limits.pop())} memory limit each" if len(limits) == 1 and None not in limits else ""
    n = len(workers)
    line = f"Dask: {n} worker{'s' * (n != 1)}, {threads} thread{'s' * (threads != 1)}{memory}, "
    line += f"scheduler {client.scheduler.address}"
    # Dask's dashboard pages need bokeh where the scheduler runs: here for a local cluster.
    local = getattr(client, "cluster", None) is not None
    if info.get("services", {}).get("dashboard") and (not local or importlib.util.find_spec("bokeh")):
        return f"{line}; dashboard: {client.dashboard_link}"
    return f"{line}; no dashboard (install bokeh for Dask's dashboard)"
