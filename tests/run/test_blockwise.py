"""The summary accumulated block by block (trialsim.run.blockwise) is summarise() on the whole tables."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

import trialsim
from trialsim.run.blockwise import BlockwiseSummary, Moments, block_moments
from trialsim.run.seeds import TRIALS_PER_BLOCK
from trialsim.run.summary import representation, summarise

DESIGNS = sorted(str(p) for p in Path("designs").glob("*.yaml"))


def assert_same(a, b, where: str = "summary") -> None:
    """Equal structure and keys; numbers equal to 1e-9 (relative), NaN where NaN."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), f"{where}: {a} != {b}"
    elif isinstance(a, float | int) and not isinstance(a, bool):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("design", DESIGNS)
def test_blockwise_summary_is_summarise_on_the_whole_tables(design):
    result = trialsim.simulate(design, trials=600, seed=12)  # blocks of 250, 250 and 100 trials
    for name, plan in result.plans.items():
        tables = [
            t.filter(pl.col("scenario") == name) if t.height else t
            for t in (result.trials, result.subgroups, result.diversity)
        ]
        assert_same(summarise(plan, *tables), result.summary()["scenarios"][name], f"{design}:{name}")


def test_moments_merge_blocks_exactly():
    rng = np.random.default_rng(1)
    x = rng.normal(1e3, 1.0, 10_001)
    m = Moments()
    starts = np.array([0, 1500, 3000, 5000, 6000, 8000, 9000])
    m.merge(["x"], *block_moments(x[:, None], starts))
    assert m.as_mean("x")["value"] == pytest.approx(x.mean(), rel=1e-14)
    assert m.as_mean("x")["se"] == pytest.approx(x.std(ddof=1) / math.sqrt(len(x)), rel=1e-10)
    assert math.isnan(Moments().as_mean("x")["value"]) and Moments().as_proportion("x")["se"] != 0


@pytest.mark.parametrize("starts", [[0, 200, 400], [0, 150, 400]])  # blocks of one length, and not
def test_block_moments_are_each_blocks_own_column_to_the_last_bit(starts):
    rng = np.random.default_rng(2)
    x = np.asfortranarray(rng.normal(5.0, 2.0, (600, 3)))
    x[rng.random(600) < 0.1, 1] = np.nan  # NaN left out of its figure alone
    x[:, 2] = np.nan  # a figure with no value at all
    n, mean, m2 = block_moments(x, np.array(starts))
    for i, (lo, hi) in enumerate(zip(starts, [*starts[1:], 600], strict=True)):
        for j in range(3):
            column = x[lo:hi, j].copy()
            column = column[~np.isnan(column)]
            assert n[i, j] == len(column)
            if len(column):
                assert (mean[i, j], m2[i, j]) == (column.mean(), ((column - column.mean()) ** 2).sum())


@pytest.mark.parametrize("design", ["designs/two-arm-pfs-gsd.yaml", "designs/dose-ranging-hba1c.yaml"])
def test_blocks_given_one_by_one_or_all_at_once_give_the_same_summary_to_the_last_bit(design):
    result = trialsim.simulate(design, trials=3 * TRIALS_PER_BLOCK + 20, seed=4, scenarios=["expected"])
    plan, tables = result.plans["expected"], (result.trials, result.subgroups, result.diversity)
    at_once, one_by_one = BlockwiseSummary(plan), BlockwiseSummary(plan)
    at_once.add(*tables)
    for lo in range(0, 3 * TRIALS_PER_BLOCK + 20, TRIALS_PER_BLOCK):
        keep = pl.col("trial").is_between(lo, lo + TRIALS_PER_BLOCK - 1)
        one_by_one.add(*(t.filter(keep) if t.height else t for t in tables))
    assert json.dumps(at_once.result()) == json.dumps(one_by_one.result())


def test_a_summary_accumulates_without_the_whole_tables():
    result = trialsim.simulate("designs/binary-response.yaml", trials=500, seed=3, scenarios=["expected"])
    plan = result.plans["expected"]
    whole, parts = BlockwiseSummary(plan), BlockwiseSummary(plan)
    whole.add(result.trials, result.subgroups, result.diversity)
    for lo in range(0, 500, 100):
        keep = pl.col("trial").is_between(lo, lo + 99)
        parts.add(*(t.filter(keep) if t.height else t for t in (result.trials, result.subgroups, result.diversity)))
    assert_same(whole.result(), parts.result())


def test_representation_index_adds_the_demographics_in_order():
    # In numpy, column by column: the same bits on every machine. polars' horizontal mean (used
    # before) sums in an order that depends on its thread pool once there are 5 or more columns.
    rng = np.random.default_rng(0)
    names = ["sex", "race", "age_group", "region", "insurance", "language"]
    frame = pl.DataFrame({f"representation:{name}": rng.random(1000) for name in names})
    plan = SimpleNamespace(demographics=[SimpleNamespace(column=name) for name in names])
    expected = frame[f"representation:{names[0]}"].to_numpy().copy()
    for name in names[1:]:
        expected = expected + frame[f"representation:{name}"].to_numpy()
    assert np.array_equal(representation(plan, frame), expected / len(names))
