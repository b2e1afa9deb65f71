"""Sample-size search: trialsim.run.size, checked against Schoenfeld's formula and statsmodels."""

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm
from statsmodels.stats.power import TTestIndPower
from typer.testing import CliRunner

from trialsim.cli import app
from trialsim.cohort.population import load_population
from trialsim.design.load import load_design
from trialsim.engine.block import draw_patients
from trialsim.engine.plan import compile_plan
from trialsim.run.runner import run_block
from trialsim.run.seeds import TRIALS_PER_BLOCK, block_rng, blocks
from trialsim.run.size import SizeError, find_size, first_patients, rejected

HERE = Path(__file__).parent / "designs"
LOGRANK = HERE / "schoenfeld-logrank.yaml"
T_TEST = HERE / "two-sample-t.yaml"


def test_events_for_a_logrank_test_match_schoenfeld():
    # Schoenfeld (1983), 1:1 allocation: D = 4 (z_{1-a} + z_{1-b})^2 / log(HR)^2 = 330.4 for HR 0.7,
    # one-sided alpha 0.025 and power 0.9.
    schoenfeld = 4 * (norm.isf(0.025) + norm.isf(0.1)) ** 2 / math.log(0.7) ** 2
    result = find_size(LOGRANK, 0.9, trials=1000, seed=1)
    assert result.by == "events"
    assert abs(result.value - schoenfeld) <= max(3 * result.se, 0.06 * schoenfeld), result.table()
    assert 5 < result.se < 25  # about 11 events at 1000 trials: SE(power) over the slope
    assert result.power >= 0.9 and result.curve[max(v for v in result.curve if v < result.value)][0] < 0.9


def test_sample_size_for_a_t_test_matches_statsmodels():
    per_arm = TTestIndPower().solve_power(effect_size=0.4, alpha=0.025, power=0.9, alternative="larger")
    result = find_size(T_TEST, 0.9, trials=2000, seed=1)
    assert result.by == "sample_size" and result.value % 2 == 0  # in steps of the randomisation block
    assert abs(result.value - 2 * per_arm) <= max(3 * result.se, 0.05 * 2 * per_arm), result.table()
    powers = [p for _, (p, _) in sorted(result.curve.items())]
    # Common random numbers: the curve hardly ever goes down, though each point has an SE of ~0.01.
    assert sum(b < a - 0.005 for a, b in zip(powers, powers[1:], strict=False)) <= 1


def test_a_candidate_is_the_first_patients_of_the_largest_and_is_analysed_as_a_block_would_be():
    design = load_design("designs/two-arm-pfs-gsd.yaml")
    population = load_population("builtin", Path("designs"), seed=4)
    plan = compile_plan(design, "expected", population)
    block = blocks("expected", TRIALS_PER_BLOCK)[0]
    table = run_block(plan, 4, block).looks
    expected = table.group_by("trial").agg(pl.col("reject").any()).sort("trial")["reject"].to_numpy()
    p = draw_patients(plan, TRIALS_PER_BLOCK, block_rng(4, block))
    assert np.array_equal(rejected(plan, p), expected)
    # Uniform accrual over 24 months: the first 100 of 600 stretched by the 101st are uniform order statistics.
    q = first_patients(p, 100, plan)
    assert q.entry.shape == (TRIALS_PER_BLOCK, 100) and np.array_equal(q.arm, p.arm[:, :100])
    assert np.all(np.diff(q.entry, axis=1) >= 0) and q.entry.max() < 24
    assert q.entry[:, -1].mean() == pytest.approx(24 * 100 / 101, abs=0.1)
    assert q.entry[:, 49].mean() == pytest.approx(24 * 50 / 101, abs=0.5)


def test_an_unreachable_target_says_what_to_change():
    with pytest.raises(SizeError, match=r"the power at 40 patients is 0\.\d+, below the target 0.9; raise --max"):
        find_size(T_TEST, 0.9, trials=250, seed=1, maximum=40)
    with pytest.raises(SizeError, match="between 0 and 1"):
        find_size(T_TEST, 1.5)
    with pytest.raises(SizeError, match="--by events needs a time-to-event design"):
        find_size(T_TEST, 0.9, by="events")


def test_the_size_command_prints_the_answer_and_writes_json(tmp_path):
    out = tmp_path / "size.json"
    result = CliRunner().invoke(
        app, ["size", str(T_TEST), "--target-power", "0.8", "--trials", "500", "--workers", "1", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(out.read_text())
    assert f"power 80% needs {answer['value']} patients (Monte Carlo SE {answer['value_se']:.1f}" in result.stdout
    assert answer["power"] >= 0.8 and answer["trials"] == 500 and len(answer["curve"]) > 5
    # The same search in this process finds the same answer: the cluster changes nothing.
    assert find_size(T_TEST, 0.8, trials=500).value == answer["value"]
