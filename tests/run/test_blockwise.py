"""The summary accumulated block by block (trialsim.run.blockwise) is summarise() on the whole tables."""

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import trialsim
from trialsim.run.blockwise import BlockwiseSummary, Moments
from trialsim.run.summary import summarise

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
    for part in np.array_split(x, 7):
        m.add(part)
    assert m.n == len(x) and m.mean == pytest.approx(x.mean(), rel=1e-14)
    assert m.se == pytest.approx(x.std(ddof=1) / math.sqrt(len(x)), rel=1e-10)
    assert math.isnan(Moments().as_mean()["value"]) and Moments().as_proportion()["se"] != 0


def test_a_summary_accumulates_without_the_whole_tables():
    result = trialsim.simulate("designs/binary-response.yaml", trials=500, seed=3, scenarios=["expected"])
    plan = result.plans["expected"]
    whole, parts = BlockwiseSummary(plan), BlockwiseSummary(plan)
    whole.add(result.trials, result.subgroups, result.diversity)
    for lo in range(0, 500, 100):
        keep = pl.col("trial").is_between(lo, lo + 99)
        parts.add(*(t.filter(keep) if t.height else t for t in (result.trials, result.subgroups, result.diversity)))
    assert_same(whole.result(), parts.result())
