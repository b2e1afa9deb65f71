"""The packed pool of the tallies: made with the plan, and shipped with it to Dask workers."""

import pickle
from pathlib import Path

import numpy as np

from trialsim.cohort.population import load_population
from trialsim.design.load import load_design
from trialsim.engine import block, tallies
from trialsim.engine.diversity import tally
from trialsim.engine.plan import compile_plan


def test_an_unpickled_packed_pool_starts_its_rows_on_cache_lines_and_holds_the_same_values():
    rng = np.random.default_rng(3)
    pool = 1_000
    codes = tuple(rng.integers(0, k, pool).astype(np.int32) for k in (2, 7, 3))
    values = (np.round(rng.normal(size=pool), 1), rng.normal(size=pool))
    packed = tallies.pack_pool(codes, (2, 7, 3), values)
    for wide in (False, True):  # 16-byte rows of codes, and 64-byte rows of values
        if wide:
            packed = tallies._pack(codes, (2, 7, 3), values + tuple(rng.normal(size=(7, pool))))
        back = pickle.loads(pickle.dumps(packed))
        rows = back.rows if back.rows.size else back.values
        assert rows.ctypes.data % 64 == 0 and rows.flags.c_contiguous
        for field, was in zip(back, packed, strict=True):
            np.testing.assert_array_equal(field, was)


def test_a_plan_carries_its_packed_pool_and_a_copy_of_the_plan_does_not_pack_again(monkeypatch):
    design = load_design(Path("designs/two-arm-pfs-gsd.yaml"))
    population = load_population("builtin", Path("."), seed=1, size=20_000)
    plan = compile_plan(design, "expected", population)
    copy = pickle.loads(pickle.dumps(plan))  # as a Dask worker gets it: new arrays, unknown to the memo
    p = block.draw_patients(plan, 20, np.random.default_rng(0))
    enrolled = np.full(20, p.entry.shape[1] - 7)
    expected = tally(plan.demographics, plan.covariates, p.index, enrolled)

    def pack(*args):
        raise AssertionError("the pool was packed again")

    monkeypatch.setattr(tallies, "_pack", pack)
    got = tally(copy.demographics, copy.covariates, p.index, enrolled, copy.tally_pool)
    for a, b in zip(got.counts, expected.counts, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(got.sums, expected.sums)
