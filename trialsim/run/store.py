"""A run directory: what a run is, the seed blocks it has finished, and the result tables.

::

    OUT/
      manifest.json        what the blocks were made from (design, seed, trialsim version), and the run's blocks
      blocks/<scenario>/   one file per finished seed block, its three tables inside: 000012-250.block, ...
      trials.parquet       one row per trial, performed look and comparison   | assembled from the blocks
      subgroups.parquet    one row per trial, comparison and subgroup level   | at the end of a run, in
      diversity.parquet    one row per trial: who it enrolled                 | block order
      design.yaml          the design file as it was run
      summary.json         operating characteristics; written last

Every file is written under a temporary name and renamed into place, so neither a reader nor a run
that was killed half-way ever leaves half a file; a block is finished when its block file exists.
A later run into the same directory reuses the finished blocks and computes the rest, which
is what makes a run resumable: the blocks are bit-identical whoever computes them, and so is the
assembled result.

A block file holds the block's tables as Arrow IPC streams (uncompressed: see
:data:`BLOCK_COMPRESSION`), which polars writes and reads back in tens of microseconds where a
block's parquet took milliseconds, one after another behind a small header (:func:`block_bytes`); a
Dask worker without the run directory sends the same bytes back. One file per block, not one per
table: creating a file is what costs (on ext4, about 1.7 ms of kernel time per block for three files,
0.25 ms for one). The result files stay zstd parquet. Block files of an older trialsim (one per
table, ``*.arrows`` or ``*.parquet``) are not read: they are removed when the directory is opened,
and their blocks are missing, so they are computed again (the same values, so the result files are
the same bytes). A directory never holds blocks of both kinds for a run.

The manifest pins what the blocks were made from. A directory holding another design, seed, block
size or trialsim version is refused, as is a scenario whose definition has changed since its
blocks were written: nothing is mixed, and nothing is overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from trialsim.run.seeds import TRIALS_PER_BLOCK, Block, scenario_key

try:  # POSIX; elsewhere two runs into one directory are not detected
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
BLOCKS = "blocks"
# BlockResult attribute -> the stem of its file, in a block folder and in the run directory.
TABLES = {"looks": "trials", "subgroups": "subgroups", "diversity": "diversity"}
# Block files: one per block, its tables' Arrow IPC streams behind a header (see block_bytes).
# Uncompressed: lz4 makes them 30% smaller but costs more to write and read (W1: 0.07 vs 0.2 ms to
# encode a block, 0.16 vs 0.27 ms to read it back).
BLOCK_SUFFIX = ".block"
BLOCK_MAGIC = b"TSBLOCK1"
BLOCK_COMPRESSION = "uncompressed"
BLOCK_FORMAT = "trialsim-block-1: Arrow IPC streams"
# Block files of older trialsims (one per table): removed on opening, and their blocks computed again.
LEGACY_BLOCK_SUFFIXES = (".parquet", ".arrows")
RESULT_FILES = ("trials.parquet", "subgroups.parquet", "diversity.parquet", "design.yaml", "summary.json")
# Rows per row group of the assembled tables: fixed, so the files do not depend on how blocks were computed.
ROW_GROUP_ROWS = 131_072
# Largest dictionary page of a column in the result files (see TableWriter._emit).
DICTIONARY_BYTES = 65_536
# Blocks summarised at a time: bounds the summary's temporary arrays (about 4 MB for 40 blocks of W1),
# and shares its fixed cost per call (about 0.5 ms) between them.
SUMMARY_BLOCKS = 40
LOCK = ".lock"
PROBE = ".probe"
TEMP_PREFIX = ".tmp-"
PARTIAL_PREFIX = ".partial-"


class RunDirError(ValueError):
    """An output directory cannot take this run; the message says why and what to do."""


@dataclass(frozen=True)
class RunIdentity:
    """What every block of a directory must share: reusing a block made otherwise would mix two runs."""

    design: str
    seed: int
    trialsim: str
    trials_per_block: int

    def describe(self) -> str:
        return (
            f"design {self.design!r}, seed {self.seed}, {self.trials_per_block} trials per block, "
            f"trialsim {self.trialsim}"
        )


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario of a run: its definition's hash, where its blocks live and which blocks the run needs."""

    name: str
    hash: str
    blocks: tuple[Block, ...]

    @property
    def folder(self) -> str:
        return scenario_folder(self.name)


def scenario_folder(name: str) -> str:
    """A file-system-safe, unique folder name for a scenario's blocks.

    Examples
    --------
    >>> scenario_folder("expected[sample_size=300,hazard_ratio=0.75]")
    'expected_sample_size=300,hazard_ratio=0.75_-8229db67'
    """
    safe = re.sub(r"[^A-Za-z0-9_.,=+-]", "_", name)[:60]
    return f"{safe}-{scenario_key(name):08x}"


def block_stem(block: Block) -> str:
    """``000012-250``: the block index and its number of trials (a shorter last block is another file)."""
    return f"{block.index:06d}-{block.trials}"


def fingerprint(data: object) -> str:
    """SHA-256 of the canonical JSON of ``data``."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def block_bytes(tables: dict[str, pl.DataFrame]) -> bytes:
    """One block's tables (by file stem) as the bytes of its block file: what a Dask worker sends back.

    The file is :data:`BLOCK_MAGIC`, the byte length of each table's Arrow IPC stream (unsigned
    64-bit little-endian, tables in the order of :data:`TABLES`), then the streams.

    Examples
    --------
    >>> tables = {"trials": pl.DataFrame({"trial": [0, 1]}), "subgroups": pl.DataFrame(),
    ...           "diversity": pl.DataFrame({"trial": [0, 1], "enrolled": [600, 598]})}
    >>> back = read_block_bytes(block_bytes(tables))
    >>> all(back[stem].equals(frame) for stem, frame in tables.items())
    True
    """
    streams = [
        tables[stem].write_ipc_stream(None, compression=BLOCK_COMPRESSION).getvalue() for stem in TABLES.values()
    ]
    return b"".join([BLOCK_MAGIC, struct.pack(f"<{len(streams)}Q", *map(len, streams)), *streams])


def read_block_bytes(data: bytes | Path) -> dict[str, pl.DataFrame]:
    """A block's tables by file stem, from the bytes :func:`block_bytes` made or from its block file."""
    where = data if isinstance(data, Path) else "block bytes"
    view = memoryview(data.read_bytes() if isinstance(data, Path) else data)
    header = len(BLOCK_MAGIC) + 8 * len(TABLES)
    if len(view) < header or bytes(view[: len(BLOCK_MAGIC)]) != BLOCK_MAGIC:
        raise ValueError(f"{where}: not a trialsim block file")
    lengths = struct.unpack_from(f"<{len(TABLES)}Q", view, len(BLOCK_MAGIC))
    at = header
    tables = {}
    for stem, length in zip(TABLES.values(), lengths, strict=True):
        tables[stem] = pl.read_ipc_stream(io.BytesIO(view[at : at + length]))
        at += length
    return tables


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class TableWriter:
    """Frames written one after another into one parquet file, holding at most one row group in memory.

    Row groups have exactly ``row_group_rows`` rows (the last one fewer), so the file depends only on
    the rows, not on how they were cut into frames. Frames with no columns are skipped; with no rows
    at all the file holds an empty table.
    """

    def __init__(self, path: Path, row_group_rows: int = ROW_GROUP_ROWS):
        self.path = path
        self.rows = row_group_rows
        self.writer = None
        self.pending: list[pl.DataFrame] = []
        self.buffered = 0
        self.written = 0

    def _emit(self, frame: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        table = frame.to_arrow()
        if self.writer is None:
            # A column's dictionary is given up once it passes 64 kB instead of 1 MB: columns of mostly
            # distinct numbers then stop paying for one early. For 200,000 W1 trials: the trials table in
            # 0.12 s and 16.7 MB instead of 0.27 s and 21.1 MB, the diversity table 0.17 s and 26.7 MB
            # instead of 0.26 s and 27.5 MB.
            self.writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", dictionary_pagesize_limit=DICTIONARY_BYTES
            )
        self.writer.write_table(table, row_group_size=self.rows)
        self.written += frame.height

    def add(self, frame: pl.DataFrame) -> None:
        if not frame.width:
            return
        self.pending.append(frame)
        self.buffered += frame.height
        if self.buffered >= self.rows:
            merged = pl.concat(self.pending, rechunk=True)
            full = self.buffered - self.buffered % self.rows
            self._emit(merged.slice(0, full))
            self.pending, self.buffered = [merged.slice(full)], self.buffered - full

    def close(self) -> int:
        """Write what is left and close the file; returns the number of rows written."""
        try:
            if self.buffered or (self.writer is None and self.pending):
                self._emit(pl.concat(self.pending, rechunk=True))
        finally:
            if self.writer is not None:
                self.writer.close()
        if self.writer is None:
            pl.DataFrame().write_parquet(self.path)
        return self.written


def write_table(frames: Iterable[pl.DataFrame], path: Path, row_group_rows: int = ROW_GROUP_ROWS) -> int:
    """Write frames one after another into one parquet file (see :class:`TableWriter`); returns the rows.

    Examples
    --------
    >>> import tempfile, polars as pl
    >>> out = Path(tempfile.mkdtemp()) / "t.parquet"
    >>> write_table([pl.DataFrame({"x": [1, 2]}), pl.DataFrame({"x": [3]})], out, row_group_rows=2)
    3
    >>> pl.read_parquet(out)["x"].to_list()
    [1, 2, 3]
    """
    writer = TableWriter(path, row_group_rows)
    for frame in frames:
        writer.add(frame)
    return writer.close()


def own_trials(frame: pl.DataFrame, blocks: Iterable[Block]) -> pl.DataFrame:
    """The rows of ``frame``, the tables of ``blocks`` simulated whole, that belong to the blocks' trials.

    A short last block is simulated whole and cut, so trial i never depends on the total.

    Examples
    --------
    >>> from trialsim.run.seeds import blocks
    >>> own_trials(pl.DataFrame({"trial": [0, 1, 2, 3]}), blocks("a", 2))["trial"].to_list()
    [0, 1]
    """
    short = [b for b in blocks if b.trials < TRIALS_PER_BLOCK]
    if not short or not frame.width:
        return frame
    trial = pl.col("trial")
    beyond = [(trial >= b.first_trial + b.trials) & (trial < b.first_trial + TRIALS_PER_BLOCK) for b in short]
    return frame.filter(~pl.any_horizontal(beyond))


def concat_blocks(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Consecutive blocks' frames of one table as one frame; as :class:`TableWriter`, frames without
    columns (a design without subgroups) are no part of it."""
    kept = [frame for frame in frames if frame.width]
    return pl.concat(kept, rechunk=True) if kept else pl.DataFrame()


def block_file(root: Path, block: Block) -> Path:
    """Where a block's tables are kept in a run directory."""
    return root / BLOCKS / scenario_folder(block.scenario) / f"{block_stem(block)}{BLOCK_SUFFIX}"


def write_block(root: Path, block: Block, data: bytes) -> None:
    """Store one block's file (:func:`block_bytes`) under ``root``; it appears whole or not at all."""
    path = block_file(root, block)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


@dataclass(frozen=True)
class BlockDrop:
    """A run directory as a worker sees it: where to write blocks, if the worker can see that directory.

    The client writes a random token into the directory (:meth:`RunStore.probe`); a worker that
    reads the same token there shares the client's file system (a local cluster, or an HPC cluster's
    shared storage) and writes each block's files itself, sending back nothing but that it did.
    Elsewhere it sends the files' bytes and the client writes them.
    """

    root: str
    token: str

    def reachable(self) -> bool:
        seen = _REACHABLE.get(self)
        if seen is None:
            try:
                seen = (Path(self.root) / PROBE).read_text() == self.token
            except OSError:
                seen = False
            _REACHABLE[self] = seen
        return seen


_REACHABLE: dict[BlockDrop, bool] = {}  # per worker process: a directory is checked once per run


def check_run_dir(path: str | Path, identity: RunIdentity) -> None:
    """Refuse early (before a cluster starts) a directory that holds another run; see :meth:`RunStore.open`."""
    path = Path(path)
    if path.is_dir():
        RunStore(path, identity, [])._check()
    elif path.exists():
        raise RunDirError(f"{path}: is a file; --out needs a directory (it is created if missing)")


class RunStore:
    """An output directory, locked for one run: its manifest, its finished blocks and its result files.

    Open one with :meth:`open`, which refuses a directory that holds another run.

    Examples
    --------
    >>> import tempfile
    >>> from trialsim.run.seeds import blocks
    >>> identity = RunIdentity("demo", seed=1, trialsim="0", trials_per_block=250)
    >>> runs = [ScenarioRun("null", "h0", tuple(blocks("null", 300)))]
    >>> with RunStore.open(Path(tempfile.mkdtemp()) / "out", identity, runs) as store:
    ...     [store.is_done(b) for b in runs[0].blocks]
    [False, False]
    """

    def __init__(self, path: Path, identity: RunIdentity, runs: list[ScenarioRun]):
        self.path = path
        self.identity = identity
        self.runs = {run.name: run for run in runs}
        self._lock: int | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def open(
        cls, path: str | Path, identity: RunIdentity, runs: list[ScenarioRun], *, extra: dict | None = None
    ) -> Iterator[RunStore]:
        """Lock ``path`` (creating it), check that it can take this run, and write the run's manifest.

        Raises
        ------
        RunDirError
            When another run is writing there, or the directory holds something else: another
            design, seed or trialsim version, a scenario whose definition changed, or files that
            are not a run's.
        """
        store = cls(Path(path), identity, runs)
        path = store.path
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path}: is a file; --out needs a directory (it is created if missing)")
        if path.is_dir() and not (path / MANIFEST).exists():
            store._check_unmanaged()  # refuse someone's folder before leaving anything in it
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"{path}: cannot create the output directory: {exc.strerror}") from None
        store._acquire()
        try:
            previous = store._check()
            store._clean()
            store._write_manifest(previous, extra or {})
            yield store
        finally:
            store._release()

    def _acquire(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunDirError(
                f"{self.path}: another trialsim run (pid {holder}) is writing into this directory; "
                "wait for it to finish, or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock = fd  # the lock goes with the process, however it ends

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _check(self) -> dict:
        """The directory's manifest (``{}`` for a new directory), after checking that this run fits it."""
        manifest_file = self.path / MANIFEST
        if not manifest_file.exists():
            self._check_unmanaged()
            return {}
        try:
            manifest = json.loads(manifest_file.read_text())
            found = RunIdentity(
                manifest["design"], manifest["seed"], manifest["trialsim"], manifest["trials_per_block"]
            )
            scenarios = manifest["scenarios"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RunDirError(
                f"{manifest_file}: unreadable manifest ({exc}); this directory cannot be resumed: "
                f"choose another --out, or delete {self.path} to start again"
            ) from None
        if manifest.get("format") != MANIFEST_FORMAT or found != self.identity:
            raise RunDirError(
                f"{self.path}: holds a run of {found.describe()}; this run is {self.identity.describe()}. "
                f"Its blocks cannot be reused for this run and are kept: choose another --out, "
                f"or delete {self.path} to start again"
            )
        for name, run in self.runs.items():
            before = scenarios.get(name, {}).get("hash")
            if before is not None and before != run.hash:
                raise RunDirError(
                    f"{self.path}: scenario {name!r} was run here with a different definition (the design "
                    f"or its population changed since). Its blocks are kept: choose another --out, or delete "
                    f"{self.path} to start again"
                )
        return manifest

    def _check_unmanaged(self) -> None:
        """A directory with no manifest: empty, results of an older trialsim for this design, or refused."""
        visible = sorted(p.name for p in self.path.iterdir() if not p.name.startswith("."))
        foreign = [name for name in visible if name not in RESULT_FILES and name != BLOCKS]
        if foreign:
            raise RunDirError(
                f"{self.path}: not a trialsim run directory (it holds {', '.join(foreign[:5])}"
                f"{', ...' if len(foreign) > 5 else ''}); choose an empty or new folder for --out"
            )
        if (self.path / BLOCKS).exists():
            raise RunDirError(f"{self.path}: has blocks but no {MANIFEST}; delete {self.path} to start again")
        summary_file = self.path / "summary.json"
        if summary_file.exists():
            try:
                summary = json.loads(summary_file.read_text())
                found = (summary["design"], summary["seed"])
            except (ValueError, KeyError, TypeError):
                found = None
            if found != (self.identity.design, self.identity.seed):
                what = f"design {found[0]!r}, seed {found[1]}" if found else "results this trialsim cannot read"
                raise RunDirError(
                    f"{self.path}: holds {what}; this run is design {self.identity.design!r}, seed "
                    f"{self.identity.seed}. Choose another --out, or delete {self.path} to replace them"
                )

    def _clean(self) -> None:
        """Remove what killed runs left behind (temporary files, half-assembled results) and legacy blocks.

        Only files of ours: block files of an older trialsim (``*.arrows``, ``*.parquet``, see the
        module's notes) are removed, so their blocks count as missing and are computed again.
        """
        for suffix in LEGACY_BLOCK_SUFFIXES:
            for legacy in self.path.glob(f"{BLOCKS}/*/*{suffix}"):
                legacy.unlink(missing_ok=True)
        for partial in self.path.glob(f"{PARTIAL_PREFIX}*"):
            shutil.rmtree(partial, ignore_errors=True)
        for tmp in self.path.glob(f"{TEMP_PREFIX}*"):
            tmp.unlink(missing_ok=True)
        for tmp in self.path.glob(f"{BLOCKS}/*/{TEMP_PREFIX}*"):
            tmp.unlink(missing_ok=True)

    def _write_manifest(self, previous: dict, extra: dict) -> None:
        scenarios = dict(previous.get("scenarios", {}))
        for name, run in self.runs.items():
            scenarios[name] = {
                "hash": run.hash,
                "folder": f"{BLOCKS}/{run.folder}",
                "trials": sum(b.trials for b in run.blocks),
                "blocks": [block_stem(b) for b in run.blocks],
            }
        manifest = {
            "format": MANIFEST_FORMAT,
            "design": self.identity.design,
            "seed": self.identity.seed,
            "trialsim": self.identity.trialsim,
            "trials_per_block": self.identity.trials_per_block,
            "block_format": BLOCK_FORMAT,
            **extra,
            "run": list(self.runs),
            "scenarios": scenarios,
        }
        text = json.dumps(manifest, indent=1) + "\n"
        write_atomic(self.path / MANIFEST, lambda tmp: tmp.write_text(text))

    # -- blocks --------------------------------------------------------------------------------

    def block_file(self, block: Block) -> Path:
        return block_file(self.path, block)

    def probe(self) -> BlockDrop:
        """A :class:`BlockDrop` for this directory: workers that can see it write their blocks themselves."""
        token = secrets.token_hex(16)
        write_atomic(self.path / PROBE, lambda tmp: tmp.write_text(token))
        return BlockDrop(str(self.path.resolve()), token)

    def is_done(self, block: Block) -> bool:
        return self.block_file(block).exists()

    def missing(self) -> list[Block]:
        """The run's blocks that are not finished, scenario by scenario, in block order."""
        return [b for run in self.runs.values() for b in run.blocks if not self.is_done(b)]

    def write_block(self, block: Block, data: bytes) -> None:
        """Store one block's file (:func:`block_bytes`); it appears whole or not at all."""
        write_block(self.path, block, data)

    def put(self, block: Block, tables: dict[str, pl.DataFrame]) -> None:
        """Store one block's tables (frames by file stem) as its block file; see :meth:`write_block`."""
        self.write_block(block, block_bytes(tables))

    def read_block(self, block: Block) -> dict[str, pl.DataFrame]:
        """One finished block's tables, by file stem."""
        return read_block_bytes(self.block_file(block))

    # -- results -------------------------------------------------------------------------------

    def finish(
        self,
        design_file: Path,
        summary: Callable[[], dict],
        each: Callable[[str, dict[str, pl.DataFrame]], None] = lambda scenario, tables: None,
    ) -> dict:
        """Assemble the result files from the blocks and write them, ``summary.json`` last.

        The blocks are read once, in order, one at a time: each is appended to the result tables,
        and every :data:`SUMMARY_BLOCKS` consecutive blocks of a scenario are handed together to
        ``each(scenario, tables)`` (tables by file stem); then ``summary()`` gives the summary.
        The old ``summary.json`` is removed before the other files are replaced, so a reader never
        pairs a new table with an old summary.
        """
        missing = self.missing()
        if missing:
            raise RuntimeError(f"{len(missing)} blocks are not finished, e.g. {missing[0]}")
        tmp = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=self.path))
        try:
            writers = {table: TableWriter(tmp / f"{table}.parquet") for table in TABLES.values()}
            try:
                for scenario, run in self.runs.items():
                    chunk: list[dict[str, pl.DataFrame]] = []
                    for i, block in enumerate(run.blocks):
                        tables = self.read_block(block)
                        for table, frame in tables.items():
                            writers[table].add(frame)
                        chunk.append(tables)
                        if len(chunk) == SUMMARY_BLOCKS or i + 1 == len(run.blocks):
                            each(scenario, {table: concat_blocks([c[table] for c in chunk]) for table in tables})
                            chunk = []
            finally:
                for writer in writers.values():
                    writer.close()
            shutil.copyfile(design_file, tmp / "design.yaml")
            result = summary()
            (tmp / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
            (self.path / "summary.json").unlink(missing_ok=True)
            for name in RESULT_FILES:
                os.replace(tmp / name, self.path / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return result
