"""The compiled draws (trialsim.engine.draws) give the numpy path's patients, bit for bit.

The reference is ``draw_patients(fast=False)``: entry_times, dropout_times, event_times,
event_or_dropout and continuous_outcomes on whole arrays. Same generator, same seed: every array must be equal, not
close, since the kernels draw the same numbers in the same order and round the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialsim.cohort.population import load_population
from trialsim.design.load import load_design
from trialsim.engine import block
from trialsim.engine.block import draw_patients
from trialsim.engine.plan import compile_plan

ROOT = Path(__file__).resolve().parents[2]
DESIGNS = sorted((ROOT / "designs").glob("*.yaml")) + sorted((ROOT / "bench" / "designs").glob("*.yaml"))
FIELDS = ("index", "entry", "arm", "dropout", "outcome")

DESIGN = """\
trialsim: 1
name: draws
enrollment:
  sample_size: 120
  accrual: {accrual}
  dropout: {dropout}
randomization: {{method: permuted_block, block_size: 4}}
arms:
  control: {{dose: 0 mg}}
  treatment: {{dose: 10 mg}}
endpoints:
  y:
{endpoint}
analysis:
  primary: {{endpoint: y, test: {test}, compare: [treatment vs control], alpha: 2.5%, sided: 1}}
  looks: [{{subjects: 120}}]
"""

EXPONENTIAL = """\
    type: time_to_event
    baseline: {distribution: exponential, median: 8 months}
    effect: {hazard_ratio: 0.7}"""
CONTINUOUS = "    type: continuous\n    baseline: {mean: 1.0, sd: 2.0}\n    effect: {difference: 0.4}"
BINARY = "    type: binary\n    baseline: {rate: 30%}\n    effect: {odds_ratio: 2.0}"


def _plans(path: Path):
    design = load_design(path)
    population = load_population(design.spec.population.cohort, path.resolve().parent, seed=1)
    return [compile_plan(design, name, population) for name in design.scenarios]


def _assert_same(plan, trials: int = 40, seed: int = 3) -> None:
    fast = draw_patients(plan, trials, np.random.default_rng(seed))
    reference = draw_patients(plan, trials, np.random.default_rng(seed), fast=False)
    for name in FIELDS:
        assert np.array_equal(getattr(fast, name), getattr(reference, name)), name


def _write(tmp_path: Path, **parts) -> Path:
    fields = {"accrual": "{duration: 24 months}", "dropout": "{rate: 5%, per: 12 months}", "endpoint": EXPONENTIAL,
              "test": "logrank"}  # fmt: skip
    fields.update(parts)
    path = tmp_path / "draws.yaml"
    path.write_text(DESIGN.format(**fields))
    return path


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_design_draws_the_reference_patients(path: Path) -> None:
    for plan in _plans(path):
        _assert_same(plan)


@pytest.mark.parametrize(
    "parts",
    [
        {},  # every kernel: uniform entry, one dropout hazard, exponential events
        {"dropout": "{control: {rate: 5%, per: 12 months}, treatment: {rate: 10%, per: 12 months}}"},
        {"dropout": "{rate: 0%, per: 12 months}"},
        {"dropout": "{control: {rate: 0%, per: 12 months}, treatment: {rate: 10%, per: 12 months}}"},
        {"accrual": "{rate: 20 per month}"},
        {"endpoint": EXPONENTIAL.replace("0.7}", "0.7, delay: 3 months}")},
        {"endpoint": EXPONENTIAL.replace("exponential, median", "weibull, shape: 1.5, median")},
        {"endpoint": CONTINUOUS, "test": "t_test"},
        {"endpoint": BINARY, "test": "two_proportion_z"},
    ],
    ids=["kernels", "dropout-by-arm", "no-dropout", "dropout-in-one-arm", "rate-accrual", "delayed", "weibull",
         "continuous", "binary"],  # fmt: skip
)
def test_each_kind_of_draw_matches_the_reference(tmp_path: Path, parts: dict) -> None:
    for plan in _plans(_write(tmp_path, **parts)):
        _assert_same(plan)


def test_the_kernels_are_what_a_plain_design_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the tests above against comparing the numpy path with itself.
    (plan,) = _plans(_write(tmp_path))

    def numpy_path(*args, **kwargs):
        raise AssertionError("the numpy path was taken")

    for name in ("entry_times", "dropout_times", "event_times", "event_or_dropout", "continuous_outcomes"):
        monkeypatch.setattr(block, name, numpy_path)
    patients = draw_patients(plan, 10, np.random.default_rng(0))
    assert patients.outcome.shape == (10, 120)
