"""Computing seed blocks, in this process or on a Dask cluster, each stored as soon as it is done.

On Dask, the scenarios' compiled plans (which hold the eligible population as arrays, shared
between plans where equal) are scattered to every worker once; a task is a few consecutive seed
blocks. A worker that shares the client's file system (a local cluster, an HPC cluster's shared
storage) writes the blocks into the run directory itself; any other sends back the bytes of their
block files (:func:`~trialsim.run.store.block_bytes`), which the client writes (so workers
need no shared storage). At most a few tasks per worker thread are in flight, so neither the workers
nor the client ever hold more than a few blocks, however many trials the run has. A run without a
directory (:mod:`trialsim.run.memory`) is held in memory: its workers send every block back, and in
this process blocks are kept as the engine's columns, with no encoding in between.

Workers can die (out of memory, a lost machine, a Ctrl-C in their terminal): Dask reruns their
tasks elsewhere, and if the plans' every copy was lost with them they are scattered again and the
blocks that needed them resubmitted. A block that kills its worker again and again, or that raises,
ends the run with the error; the blocks already stored are kept for the next run.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import dataclasses
import gc
import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from trialsim.engine.block import BlockColumns, BlockResult, blocks_columns, stack
from trialsim.engine.plan import Plan
from trialsim.run.memory import MemoryStore
from trialsim.run.seeds import TRIALS_PER_BLOCK, Block, block_rng
from trialsim.run.store import TABLES, BlockDrop, RunStore, block_bytes, own_trials, write_block

# How many times a block is resubmitted after its task was cancelled (lost plan, restarted scheduler).
MAX_RESUBMITS = 5
# Tasks in flight per worker thread: enough to keep every thread busy between round trips.
TASKS_PER_THREAD = 2
# Seed blocks per task (fewer when there are too few blocks to keep every worker busy, and towards
# the end of a run). Each task costs the client and scheduler some milliseconds of CPU, taken from
# the workers when they fill the cores: W1, 100,000 trials on 2 workers, tasks of 16 / 32 blocks, the
# client's CPU while blocks ran 0.153-0.160 / 0.108-0.128 s (three runs each; 36 / 20 tasks).
BLOCKS_PER_TASK = 32
# Blocks simulated in one call (blocks_columns), up to this many patients in all: 1,000 trials of
# W1's 600 patients took 27.8 us a trial against 30.6 in blocks of 250, 28.8 in pairs and 30.1 in
# eights (their arrays outgrow the caches, and a call's arrays are kept for the next one).
BLOCKS_PER_CALL = 4
PATIENTS_PER_CALL = 600_000
# How long to wait for a worker when the cluster has none.
WORKER_WAIT = 60.0


# glibc's mallopt parameters: a block's arrays (about 1 MB each) are allocated and freed by the
# hundred. Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also pins the mmap
# threshold at 128 kB, so each such array is a fresh mmap whose pages the kernel zeroes: blocks
# run 2-4 times slower. Workers are set back to heap allocation, returning memory past 128 MB.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_TUNED = False


def _tune_malloc() -> None:
    """Once per worker process: let glibc reuse freed block arrays instead of mapping new pages."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 128 << 20)
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to tune
        pass


def for_workers(plans: dict[str, Plan]) -> dict[str, Plan]:
    """The plans as Dask workers need them: without the pool columns their ``tally_pool`` was packed from.

    Workers tally the enrolled patients from the packed pool; the demographic codes and covariate
    values it was made from (5.9 of W1's 9.4 MB at 10^5 patients) would only be shipped and held.

    Examples
    --------
    >>> from trialsim.run.simulate import prepare
    >>> plan = for_workers(prepare("designs/two-arm-pfs-gsd.yaml", trials=1).plans)["expected"]
    >>> [len(c.values) for c in plan.covariates][:2], plan.tally_pool.rows.shape[0] > 0
    ([0, 0], True)
    """

    def lean(plan: Plan) -> Plan:
        if plan.tally_pool is None:
            return plan
        return dataclasses.replace(
            plan,
            demographics=tuple(dataclasses.replace(d, codes=d.codes[:0]) for d in plan.demographics),
            covariates=tuple(dataclasses.replace(c, values=c.values[:0]) for c in plan.covariates),
        )

    return {name: lean(plan) for name, plan in plans.items()}


def share_arrays(objects: dict[str, Any]) -> dict[str, Any]:
    """``objects`` with equal numpy arrays inside them made one array, so that they pickle (and ship) once.

    The plans of a run's scenarios mostly hold the same population arrays (a grid's points all do);
    scattered together, each distinct array goes to each worker once. Dataclasses, tuples, lists and
    dicts are searched; the objects given are not changed.

    Examples
    --------
    >>> import numpy as np
    >>> shared = share_arrays({"a": (np.arange(3),), "b": (np.arange(3),)})
    >>> shared["a"][0] is shared["b"][0]
    True
    """
    if len(objects) < 2:  # nothing to share with: hashing one W1 plan's arrays took 9 ms of the workers' wait
        return dict(objects)
    seen: dict[tuple, np.ndarray] = {}

    def canon(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return value
            digest = hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=16).digest()
            return seen.setdefault((value.dtype.str, value.shape, digest), value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changed = {}
            for f in dataclasses.fields(value):
                old = getattr(value, f.name)
                new = canon(old)
                if new is not old:
                    changed[f.name] = new
            if not changed:
                return value
            out = copy.copy(value)
            for name, new in changed.items():  # frozen dataclasses: set as their __init__ does
                object.__setattr__(out, name, new)
            return out
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            items = tuple(canon(v) for v in value)
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        if isinstance(value, list):
            return [canon(v) for v in value]
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        return value

    return {name: canon(obj) for name, obj in objects.items()}


class BlockError(RuntimeError):
    """A seed block could not be computed."""


def run_block(plan: Plan, seed: int, block: Block) -> BlockResult:
    """One seed block's tables. A short last block is simulated whole and cut, so trial i never depends on the total."""
    return BlockResult(*(block_frames(plan, seed, block)[stem] for stem in TABLES.values()))


def batch_columns(plan: Plan, seed: int, blocks: tuple[Block, ...]) -> list[BlockColumns]:
    """The columns of consecutive seed blocks of one scenario, each simulated whole on its own generator."""
    parts = []
    per_call = max(1, min(BLOCKS_PER_CALL, PATIENTS_PER_CALL // (TRIALS_PER_BLOCK * plan.sample_size)))
    for group in batches(blocks, per_call):
        starts = [(block.first_trial, block_rng(seed, block)) for block in group]
        parts += blocks_columns(plan, starts, TRIALS_PER_BLOCK)
    return parts


def batch_frames(plan: Plan, seed: int, blocks: tuple[Block, ...]) -> list[dict[str, pl.DataFrame]]:
    """The tables of consecutive seed blocks of one scenario, by file stem, one dict per block.

    Each block is simulated on its own generator; their columns become frames together (a frame
    costs microseconds per column, whatever its length), then are cut back into blocks. A short
    last block is simulated whole and cut, so trial i never depends on the total.
    """
    parts = batch_columns(plan, seed, blocks)
    stacked = stack(plan, parts)
    start = dict.fromkeys(TABLES, 0)
    out = []
    for block, part in zip(blocks, parts, strict=True):
        tables = {}
        for name, stem in TABLES.items():
            frame = getattr(stacked, name)
            rows = len(getattr(part, name)["trial"]) if frame.width else 0
            piece = frame.slice(start[name], rows)
            start[name] += rows
            tables[stem] = own_trials(piece, [block])
        out.append(tables)
    return out


def block_frames(plan: Plan, seed: int, block: Block) -> dict[str, pl.DataFrame]:
    """One seed block's tables, by the stem of their files."""
    return batch_frames(plan, seed, (block,))[0]


def block_task(
    plans: dict[str, Plan], seed: int, blocks: tuple[Block, ...], drop: BlockDrop | None = None
) -> list[bytes | None]:
    """The block files (:func:`~trialsim.run.store.block_bytes`) of a few blocks of one scenario, as a Dask task
    in a worker process tuned for it.

    A worker that can see the run directory (``drop``) writes the blocks there itself and returns
    ``None`` for each; any other sends the tables' bytes back.
    """
    _tune_malloc()
    plan = plans[blocks[0].scenario]
    out: list[bytes | None] = []
    for block, frames in zip(blocks, batch_frames(plan, seed, blocks), strict=True):
        data: bytes | None = block_bytes(frames)
        if drop is not None and drop.reachable():
            write_block(Path(drop.root), block, data)
            data = None
        out.append(data)
    return out


def batches(blocks: list[Block], size: int, *, workers: int | None = None) -> list[tuple[Block, ...]]:
    """Consecutive blocks of one scenario, ``size`` at a time: one task each.

    With ``workers`` (threads of the cluster), batches shrink towards the end, to at most the
    share ``1 / (2 workers)`` of the blocks left, down to single blocks: the last tasks are short,
    so the workers finish together instead of one idling while another computes a full batch.

    Examples
    --------
    >>> from trialsim.run.seeds import blocks as seed_blocks
    >>> [len(b) for b in batches(seed_blocks("a", 1000) + seed_blocks("b", 500), 3)]
    [3, 1, 2]
    >>> [len(b) for b in batches(seed_blocks("a", 250 * 40), 8, workers=2)]
    [8, 8, 6, 4, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    """
    out: list[tuple[Block, ...]] = []
    current: list[Block] = []
    for i, block in enumerate(blocks):
        cap = size if workers is None else max(1, min(size, (len(blocks) - i + len(current)) // (2 * workers)))
        if current and (len(current) >= cap or current[-1].scenario != block.scenario):
            out.append(tuple(current))
            current = []
        current.append(block)
    if current:
        out.append(tuple(current))
    return out


def run_blocks(
    blocks: list[Block],
    plans: dict[str, Plan],
    seed: int,
    store: RunStore | MemoryStore,
    *,
    client=None,
    done: Callable[[Block], None] = lambda block: None,
) -> None:
    """Compute ``blocks`` and store each one as it finishes, calling ``done(block)`` after it is stored.

    Without ``client`` they run one after another in this process (each block's frames handed to the
    store as they are, or to a :class:`MemoryStore` its columns, made frames all together at the end);
    with one, on its cluster.
    """
    if client is None:  # in the caller's process, whose allocator is left alone
        for batch in batches(blocks, BLOCKS_PER_TASK):
            plan = plans[batch[0].scenario]
            if isinstance(store, MemoryStore):
                for block, part in zip(batch, batch_columns(plan, seed, batch), strict=True):
                    store.put_columns(block, part)
                    done(block)
                continue
            for block, frames in zip(batch, batch_frames(plan, seed, batch), strict=True):
                store.put(block, frames)
                done(block)
        return
    with _survivors_frozen():
        _DaskBlocks(client, plans, seed, store, done).run(blocks)


@contextmanager
def _survivors_frozen() -> Iterator[None]:
    """Python's cyclic garbage collector leaves the objects alive on entry alone until exit.

    The client process holds some 300,000 objects (design, population, Dask and its dashboard). One
    full collection of them took 165 ms of CPU 0.4 s into a run of 100,000 W1 trials on 2 workers:
    on 2 cores, time taken from the workers. The objects made during the run are collected as ever,
    the frozen ones are still freed when no longer referenced, and after the run the collector sees
    them all again. Objects someone else froze are left frozen.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _DaskBlocks:
    def __init__(
        self, client, plans: dict[str, Plan], seed: int, store: RunStore | MemoryStore, done: Callable[[Block], None]
    ):
        self.client = client
        self.plans = plans
        self.seed = seed
        self.store = store
        self.done = done
        self.shared = None  # the future of the scattered plans, all scenarios together
        self.resubmits: dict[tuple[Block, ...], int] = {}

    def _threads(self) -> int:
        return sum(self.client.nthreads().values())

    def _wait_for_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT)
        except TimeoutError:
            raise BlockError(
                f"the Dask cluster at {self.client.scheduler.address} has had no worker for {WORKER_WAIT:g} s; "
                "start some (dask worker ADDRESS) and run again: finished blocks are kept"
            ) from None

    def _plans(self):
        """The scattered plans, scattered (again) when no worker holds them any more."""
        if self.shared is None or self.shared.status != "finished":
            self._wait_for_workers()
            [self.shared] = self.client.scatter([share_arrays(for_workers(self.plans))], broadcast=True, hash=False)
        return self.shared

    def run(self, blocks: list[Block]) -> None:
        from distributed import as_completed
        from distributed.client import FutureCancelledError

        self._wait_for_workers()
        drop = self.store.probe()
        slots = deque(address for address, n in self.client.nthreads().items() for _ in range(n))  # a thread each
        threads = len(slots)
        # A task holds a few blocks: the scheduler's and the client's work per task is then shared by
        # several blocks, and with it the client's share of the CPU the workers need.
        size = max(1, min(BLOCKS_PER_TASK, len(blocks) // (4 * threads)))
        queue = deque(batches(blocks, size, workers=threads))
        running: dict = {}
        pending = as_completed()
        window = max(2, TASKS_PER_THREAD * threads)
        checked = time.monotonic()
        # The first task of each worker thread is placed there (loosely: another worker may take it
        # when that one is gone). Left to the scheduler, both first tasks sometimes went to one worker
        # while the other waited a whole task for its first (0.24 s of a 1.5 s run of 100,000 W1 trials).

        def submit() -> None:
            while queue and len(running) < window:
                batch = queue.popleft()
                where = {"workers": [slots.popleft()], "allow_other_workers": True} if slots else {}
                future = self.client.submit(block_task, self._plans(), self.seed, batch, drop, pure=False, **where)
                running[future] = batch
                pending.add(future)

        try:
            submit()
            for future in pending:
                batch = running.pop(future)
                results = None
                if future.status == "finished" and drop is not None and all(map(self.store.is_done, batch)):
                    # The worker wrote the blocks into the run directory: nothing to fetch (a fetch is a
                    # round trip through the scheduler and the worker, CPU the workers could have used).
                    results = [None] * len(batch)
                elif future.status == "finished":
                    try:
                        results = future.result()
                    except FutureCancelledError:  # lost between finishing and being fetched
                        results = None
                elif future.status == "error":
                    self._raise(batch, future.exception())
                future.release()
                if results is None:
                    self._resubmit(batch, queue)
                else:
                    for block, data in zip(batch, results, strict=True):
                        if data is not None:  # else the worker wrote it
                            self.store.write_block(block, data)
                        self.done(block)
                if time.monotonic() - checked > 2.0:  # the cluster may have grown or shrunk
                    window = max(2, TASKS_PER_THREAD * self._threads())
                    checked = time.monotonic()
                submit()
        finally:
            for future in running:
                future.cancel()
            if self.shared is not None:
                self.shared.release()

    def _resubmit(self, batch: tuple[Block, ...], queue: deque) -> None:
        count = self.resubmits.get(batch, 0) + 1
        if count > MAX_RESUBMITS:
            first = batch[0]
            raise BlockError(
                f"block {first.index} of scenario {first.scenario!r} was cancelled {MAX_RESUBMITS} times "
                "(workers lost, or the scheduler restarted); finished blocks are kept, run again to continue"
            )
        self.resubmits[batch] = count
        queue.appendleft(batch)

    def _raise(self, batch: tuple[Block, ...], exc: BaseException) -> None:
        from distributed import KilledWorker

        first, last = batch[0], batch[-1]
        where = (
            f"blocks {first.index}-{last.index} (trials {first.first_trial}..{last.first_trial + last.trials - 1}) "
            f"of scenario {first.scenario!r}"
        )
        if isinstance(exc, KilledWorker):
            raise BlockError(
                f"{where} was running on workers that died each time it was tried ({exc}); a worker may be "
                "running out of memory (see --workers and the workers' memory limit). Finished blocks are "
                "kept: run again to continue"
            ) from None
        raise exc
