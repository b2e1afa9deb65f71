"""trialsim.run.memory: a run held in memory assembles the same tables however its blocks arrived."""

import polars as pl

from trialsim.run.memory import MemoryStore
from trialsim.run.runner import batch_columns, batch_frames
from trialsim.run.simulate import prepare
from trialsim.run.store import TABLES

PFS = "designs/two-arm-pfs-gsd.yaml"


def _tables(run, keep_columns) -> tuple[dict[str, pl.DataFrame], list]:
    """The run's tables from a MemoryStore fed each block as columns when ``keep_columns(i)``, else as frames."""
    store = MemoryStore(list(run.scenarios), run.plans)
    for i, block in enumerate(store.missing()):
        plan = run.plans[block.scenario]
        if keep_columns(i):
            store.put_columns(block, batch_columns(plan, run.seed, (block,))[0])
        else:
            store.put(block, batch_frames(plan, run.seed, (block,))[0])
    chunks = []
    tables = store.finish(lambda scenario, t: chunks.append((scenario, {k: v.height for k, v in t.items()})))
    return tables, chunks


def test_blocks_kept_as_columns_or_frames_give_the_same_tables_and_chunks():
    # Two scenarios of 600 trials: blocks of 250, 250 and a short one of 100, cut to its trials.
    run = prepare(PFS, trials=600, seed=3)
    frames, frame_chunks = _tables(run, lambda i: False)
    assert frames["trials"]["trial"].max() == 599
    for keep in (lambda i: True, lambda i: i % 2 == 0, lambda i: i in (1, 2, 3)):
        tables, chunks = _tables(run, keep)
        assert chunks == frame_chunks
        for table in TABLES.values():
            assert tables[table].schema == frames[table].schema
            assert tables[table].equals(frames[table]), table
