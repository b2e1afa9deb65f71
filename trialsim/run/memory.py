"""A run held in memory: each block's tables as the engine made them, assembled once at the end.

A run into a directory (:mod:`trialsim.run.store`) stores every block as Arrow IPC files as soon as
it is done, which is what makes it resumable. A run without one cannot be resumed and needs no such
round trip (bytes, a temporary folder, reading them back), so its blocks stay polars frames. The
assembled tables are the same rows, in the same order, with the same dtypes and values as those a
run directory holds, and they write the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import polars as pl

from trialsim.run.seeds import Block
from trialsim.run.store import SUMMARY_BLOCKS, TABLES, ScenarioRun, concat_blocks, read_block_bytes


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

    def __init__(self, runs: list[ScenarioRun]):
        self.runs = {run.name: run for run in runs}
        self.blocks: dict[Block, dict[str, pl.DataFrame]] = {}

    def missing(self) -> list[Block]:
        """The run's blocks not computed yet, scenario by scenario, in block order."""
        return [b for run in self.runs.values() for b in run.blocks if b not in self.blocks]

    def probe(self) -> None:
        """No directory for Dask workers to write into: they send their blocks back (see ``RunStore.probe``)."""
        return None

    def put(self, block: Block, tables: dict[str, pl.DataFrame]) -> None:
        """Keep one block's tables (by table file stem)."""
        self.blocks[block] = tables

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
        tables = {}
        for table in TABLES.values():
            tables[table] = concat_blocks([self.blocks[block][table] for block in order])
        chunks = list(self._chunks(order))
        self.blocks.clear()  # the rows now live in the tables alone
        for scenario, spans in chunks:
            each(scenario, {table: tables[table].slice(*spans[table]) for table in TABLES.values()})
        return tables

    def _chunks(self, order: list[Block]) -> Iterator[tuple[str, dict[str, tuple[int, int]]]]:
        """(scenario, (first row, rows) by table) of up to SUMMARY_BLOCKS consecutive blocks of one scenario."""
        offsets = dict.fromkeys(TABLES.values(), 0)
        chunk: list[Block] = []
        for i, block in enumerate(order):
            chunk.append(block)
            last = i + 1 == len(order) or order[i + 1].scenario != block.scenario
            if last or len(chunk) == SUMMARY_BLOCKS:
                spans = {}
                for table in offsets:
                    rows = sum(self.blocks[b][table].height for b in chunk)
                    spans[table] = (offsets[table], rows)
                    offsets[table] += rows
                yield block.scenario, spans
                chunk = []
