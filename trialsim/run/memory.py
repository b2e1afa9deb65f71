"""A run held in memory: each block's tables as the engine made them, assembled once at the end.

A run into a directory (:mod:`trialsim.run.store`) stores every block as Arrow IPC files as soon as
it is done, which is what makes it resumable. A run without one cannot be resumed and needs no such
round trip (bytes, a temporary folder, reading them back). Blocks computed in this process are kept
as the engine's columns and become frames all together at the end: a polars frame costs some
microseconds per column whatever its length, and concatenating frames copies them once more. Blocks
sent by Dask workers are kept as their frames. The assembled tables are the same rows, in the same
order, with the same dtypes and values as those a run directory holds, and they write the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import polars as pl

from trialsim.engine.block import BlockColumns, stack
from trialsim.engine.plan import Plan
from trialsim.run.seeds import TRIALS_PER_BLOCK, Block
from trialsim.run.store import SUMMARY_BLOCKS, TABLES, ScenarioRun, concat_blocks, own_trials, read_block_bytes


class MemoryStore:
    """The blocks of a run without a directory, by block; the counterpart of :class:`~trialsim.run.store.RunStore`.

    Examples
    --------
    >>> from trialsim.run.seeds import blocks
    >>> store = MemoryStore([ScenarioRun("null", "h0", tuple(blocks("null", 300)))])
    >>> for block in store.missing():
    ...     store.put(block, {"trials": pl.DataFrame({"trial": [block.first_trial]}), "subgroups": pl.DataFrame(),
    ...                       "diversity": pl.DataFrame()})
    >>> store.finish(lambda scenario, tables: None)["trials"]["trial"].to_list()
    [0, 250]
    """

    def __init__(self, runs: list[ScenarioRun], plans: dict[str, Plan] | None = None):
        self.runs = {run.name: run for run in runs}
        self.plans = plans or {}  # by scenario: to make frames of the blocks kept as columns
        self.blocks: dict[Block, dict[str, pl.DataFrame] | BlockColumns] = {}

    def missing(self) -> list[Block]:
        """The run's blocks not computed yet, scenario by scenario, in block order."""
        return [b for run in self.runs.values() for b in run.blocks if b not in self.blocks]

    def probe(self) -> None:
        """No directory for Dask workers to write into: they send their blocks back (see ``RunStore.probe``)."""
        return None

    def put(self, block: Block, tables: dict[str, pl.DataFrame]) -> None:
        """Keep one block's tables (by table file stem)."""
        self.blocks[block] = tables

    def put_columns(self, block: Block, part: BlockColumns) -> None:
        """Keep one block's columns, simulated whole (:func:`trialsim.run.runner.batch_columns`)."""
        self.blocks[block] = part

    def write_block(self, block: Block, data: bytes) -> None:
        """Keep one block's tables as a Dask worker sends them: the bytes of its block file."""
        self.put(block, read_block_bytes(data))

    def finish(self, each: Callable[[str, dict[str, pl.DataFrame]], None]) -> dict[str, pl.DataFrame]:
        """The run's tables by file stem, blocks in run order, as a run directory's result files hold them.

        Each scenario's rows are handed to ``each(scenario, tables)`` (slices of the result tables,
        :data:`SUMMARY_BLOCKS` whole blocks at a time, in block order), to summarise them.
        """
        missing = self.missing()
        if missing:
            raise RuntimeError(f"{len(missing)} blocks are not finished, e.g. {missing[0]}")
        order = [block for run in self.runs.values() for block in run.blocks]
        pieces: dict[str, list[pl.DataFrame]] = {table: [] for table in TABLES.values()}
        rows: dict[Block, dict[str, int]] = {}
        for group in self._groups(order):
            kept = [self.blocks[block] for block in group]
            if isinstance(kept[0], BlockColumns):
                stacked = stack(self.plans[group[0].scenario], kept)
                for name, table in TABLES.items():
                    pieces[table].append(own_trials(getattr(stacked, name), group))
                for block, part in zip(group, kept, strict=True):
                    rows[block] = {table: _own_rows(getattr(part, name), block) for name, table in TABLES.items()}
            else:
                (block,) = group
                for table in TABLES.values():
                    pieces[table].append(kept[0][table])
                rows[block] = {table: kept[0][table].height for table in TABLES.values()}
        tables = {table: concat_blocks(frames) for table, frames in pieces.items()}
        self.blocks.clear()  # the rows now live in the tables alone
        for scenario, spans in self._chunks(order, rows):
            each(scenario, {table: tables[table].slice(*spans[table]) for table in TABLES.values()})
        return tables

    def _groups(self, order: list[Block]) -> Iterator[list[Block]]:
        """Consecutive blocks of one scenario all kept as columns (made frames together), or one kept as frames."""
        group: list[Block] = []
        for block in order:
            columns = isinstance(self.blocks[block], BlockColumns)
            if group and not (columns and group[-1].scenario == block.scenario):
                yield group
                group = []
            group.append(block)
            if not columns:
                yield group
                group = []
        if group:
            yield group

    @staticmethod
    def _chunks(
        order: list[Block], rows: dict[Block, dict[str, int]]
    ) -> Iterator[tuple[str, dict[str, tuple[int, int]]]]:
        """(scenario, (first row, rows) by table) of up to SUMMARY_BLOCKS consecutive blocks of one scenario."""
        offsets = dict.fromkeys(TABLES.values(), 0)
        chunk: list[Block] = []
        for i, block in enumerate(order):
            chunk.append(block)
            last = i + 1 == len(order) or order[i + 1].scenario != block.scenario
            if last or len(chunk) == SUMMARY_BLOCKS:
                spans = {}
                for table in offsets:
                    count = sum(rows[b][table] for b in chunk)
                    spans[table] = (offsets[table], count)
                    offsets[table] += count
                yield block.scenario, spans
                chunk = []


def _own_rows(columns: dict, block: Block) -> int:
    """How many rows of a block's table (its columns, the block simulated whole) belong to its trials."""
    if not columns:
        return 0
    trial = columns["trial"]
    if block.trials == TRIALS_PER_BLOCK:
        return len(trial)
    return int(np.count_nonzero(trial < block.first_trial + block.trials))
