"""Runs on Dask clusters: a real scheduler and workers, local clusters, killed workers and clients.

Every run here is 4,000 trials (16 seed blocks) of the PFS design's ``expected`` scenario, and
every one must end with the same bytes as the run made in this process, without Dask.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trialsim
from trialsim.cli import app
from trialsim.run.cluster import SCHEDULER_ENV, dask_client
from trialsim.run.store import TEMP_PREFIX

BIN = Path(sys.executable).parent
PFS = "designs/two-arm-pfs-gsd.yaml"
TRIALS, SEED = 4000, 7
ARGS = ["simulate", PFS, "--trials", str(TRIALS), "--seed", str(SEED), "--scenario", "expected", "--no-progress"]
RESULTS = ("trials.parquet", "subgroups.parquet", "diversity.parquet", "summary.json")
runner = CliRunner()


def same_results(a: Path, b: Path) -> None:
    for name in RESULTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs between {a} and {b}"


def finished_blocks(out: Path) -> int:
    # Not the temporary file a worker killed mid-write leaves (pathlib's glob matches dotfiles too):
    # the next run clears it away and computes that block again.
    return sum(not path.name.startswith(TEMP_PREFIX) for path in out.glob("blocks/*/*.block"))


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        time.sleep(0.02)


def stop(process: subprocess.Popen) -> None:
    """End a process started in its own session, and everything it started."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    trialsim.simulate(PFS, trials=TRIALS, seed=SEED, scenarios=["expected"], out=out)
    return out


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1, on ports the system picks."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    file = folder / "scheduler.json"
    log = (folder / "dask.log").open("w")
    started = []
    try:

        def start(*args: str) -> None:
            started.append(
                subprocess.Popen(
                    [str(BIN / "dask"), *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(file))
        wait_until(file.exists, 60, "the scheduler to write its address")
        for name in ("w1", "w2"):
            start(
                "worker", "--scheduler-file", str(file), "--name", name, "--nthreads", "1", "--host", "127.0.0.1",
                "--memory-limit", "2GiB", "--no-dashboard", "--local-directory", str(folder),
            )  # fmt: skip
        with Client(scheduler_file=str(file), timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(started):
            stop(process)
        log.close()


def test_a_scheduler_with_two_workers_and_local_clusters_of_one_and_two_give_the_same_files(
    reference, scheduler, tmp_path
):
    runs = {
        "scheduler": ["--scheduler", scheduler],
        "local1": ["--workers", "1"],
        "local2": ["--workers", "2"],
    }
    for name, args in runs.items():
        result = runner.invoke(app, [*ARGS, *args, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert "Dask: " in result.stderr
        same_results(reference, tmp_path / name)
    assert f"scheduler {scheduler}" in runner.invoke(app, [*ARGS, "--scheduler", scheduler]).stderr


def test_workers_without_the_run_directory_send_their_blocks_to_the_client(reference, scheduler, tmp_path, monkeypatch):
    from distributed import Client

    from trialsim.run.store import BlockDrop, RunStore

    # As on a cluster whose workers cannot see the client's disk: the probe's token is not found there.
    monkeypatch.setattr(RunStore, "probe", lambda self: BlockDrop(str(tmp_path / "elsewhere"), "no such token"))
    out = tmp_path / "run"
    with Client(scheduler, timeout=30) as client:
        trialsim.simulate(PFS, trials=TRIALS, seed=SEED, scenarios=["expected"], out=out, client=client)
    same_results(reference, out)


def test_a_killed_worker_is_replaced_and_the_run_ends_with_the_same_files(reference, scheduler, tmp_path):
    from distributed import Client

    out = tmp_path / "run"
    errors = []
    with Client(scheduler, timeout=30) as client:

        def run() -> None:
            try:
                trialsim.simulate(PFS, trials=TRIALS, seed=SEED, scenarios=["expected"], out=out, client=client)
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        wait_until(lambda: finished_blocks(out) >= 1, 120, "a finished block")  # the other 15 take ~150 ms
        pid = next(iter(client.run(os.getpid).values()))
        os.kill(pid, signal.SIGKILL)
        assert thread.is_alive() and finished_blocks(out) < 16, "the run ended before a worker could be killed"
        thread.join(300)
        assert not thread.is_alive() and not errors, errors
        client.wait_for_workers(2, timeout=60)  # the nanny restarted it
        assert pid not in client.run(os.getpid).values()
    same_results(reference, out)


def test_a_killed_client_is_resumed_by_running_the_same_command_again(reference, tmp_path):
    out = tmp_path / "run"
    command = [str(BIN / "trialsim"), *ARGS, "--workers", "2", "--out", str(out)]
    client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # The first finished block: the other 15 take about 150 ms more, the kill comes within 20 ms.
        wait_until(lambda: finished_blocks(out) >= 1 or client.poll() is not None, 120, "a finished block")
        os.kill(client.pid, signal.SIGKILL)  # the client alone, as a crash or an OOM kill would
        client.wait(10)
    finally:
        stop(client)  # and then the local cluster's workers it leaves behind
    done = finished_blocks(out)
    assert 1 <= done < 16 and not (out / "summary.json").exists(), "the run ended before it could be killed"
    result = runner.invoke(app, [*ARGS, "--workers", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"resuming: {done} of 16 blocks" in result.stderr
    same_results(reference, out)


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds(monkeypatch):
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv(SCHEDULER_ENV, address)
    start = time.monotonic()
    with pytest.raises(OSError, match=rf"cannot reach the Dask scheduler at {address} within 2 s"):
        with dask_client(timeout=2):
            pass
    assert time.monotonic() - start < 10
    monkeypatch.delenv(SCHEDULER_ENV)
    start = time.monotonic()
    result = runner.invoke(app, [*ARGS, "--scheduler", address])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot reach the Dask scheduler at {address} within 10 s")
    assert time.monotonic() - start < 30
