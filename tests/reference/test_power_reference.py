"""Simulated operating characteristics against analytic references nobody here computed.

Every assertion allows 3.5 Monte Carlo standard errors (sqrt(p (1 - p) / trials)).
"""

import math

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import power_proportions_2indep

import trialsim
from tests.reference.designs import TWO_ARM_SURVIVAL, write

pytestmark = pytest.mark.slow


def _power(tmp_path, text, trials):
    result = trialsim.simulate(write(tmp_path, text), trials=trials)
    s = result.summary()["scenarios"]["default"]
    return s["power"], s["power_se"], s


@pytest.mark.parametrize(("events", "expected"), [(331, 0.90), (100, 0.430)])
def test_schoenfeld_logrank_power(tmp_path, events, expected):
    # Schoenfeld (1981, Biometrika 68:316-319): power = Phi(sqrt(d/4) |log HR| - z_{1-alpha}),
    # 1:1 allocation, HR 0.7, one-sided alpha 0.025: d = 331 gives 0.90, d = 100 gives 0.430.
    analytic = norm.cdf(math.sqrt(events / 4) * abs(math.log(0.7)) - norm.isf(0.025))
    assert analytic == pytest.approx(expected, abs=0.001)
    text = TWO_ARM_SURVIVAL.format(
        name="schoenfeld",
        n=2 * events,
        accrual=12,
        dropout="",
        median=12,
        effect="{hazard_ratio: 0.7}",
        test="logrank",
        looks=f"{{events: {events}}}",
        bounds="",
        trials=20_000,
        seed=events,
    )
    power, se, summary = _power(tmp_path, text, 20_000)
    assert abs(power - analytic) < 3.5 * se, (power, se, analytic)
    assert summary["expected_events"] == events


def test_delayed_effect_logrank_power(tmp_path):
    # gsDesign2 README (fixed design, AHR method): control median 12 months, HR 1 for 4 months then
    # 0.6, 421 patients enrolled uniformly over 12 months, dropout 0.001/month, analysis at 311 events,
    # one-sided 0.025: power about 0.90 (an asymptotic value).
    text = TWO_ARM_SURVIVAL.format(
        name="nph",
        n=421,
        accrual=12,
        dropout="  dropout: {rate: 0.1%, per: 1 month}\n",
        median=12,
        effect="{hazard_ratio: 0.6, delay: 4 months}",
        test="logrank",
        looks="{events: 311}",
        bounds="",
        trials=20_000,
        seed=5,
    )
    power, se, _ = _power(tmp_path, text, 20_000)
    print(f"delayed effect: simulated log-rank power {power:.4f} (SE {se:.4f}); gsDesign2 asymptotic 0.90")
    # The reference is asymptotic, so allow 1 point for the approximation on top of the MC error.
    assert abs(power - 0.90) < 3.5 * se + 0.01


CONTINUOUS = """\
trialsim: 1
name: ttest
enrollment: {{sample_size: {n}, accrual: {{duration: 12 months}}}}
arms: {{control: {{}}, treatment: {{}}}}
endpoints:
  y:
    type: continuous
    baseline: {{mean: 0, sd: {sd}}}
    effect: {{difference: {delta}}}
analysis:
  primary: {{endpoint: y, test: {test}, alpha: 0.025}}
"""


def test_t_test_power_matches_statsmodels(tmp_path):
    # statsmodels TTestIndPower: 100 per arm, standardised effect 0.35, one-sided 0.025.
    reference = TTestIndPower().power(effect_size=0.35, nobs1=100, alpha=0.025, ratio=1.0, alternative="larger")
    power, se, _ = _power(tmp_path, CONTINUOUS.format(n=200, sd=2.0, delta=0.7, test="t_test"), 20_000)
    assert abs(power - reference) < 3.5 * se, (power, se, reference)


BINARY = """\
trialsim: 1
name: props
enrollment: {{sample_size: {n}, accrual: {{duration: 12 months}}}}
randomization: {{method: permuted_block, block_size: 4}}
arms: {{control: {{}}, treatment: {{}}}}
endpoints:
  r:
    type: binary
    baseline: {{rate: {p0}}}
    effect: {{difference: {delta}}}
analysis:
  primary: {{endpoint: r, test: two_proportion_z, alpha: 0.025}}
"""


def test_two_proportion_power_matches_statsmodels(tmp_path):
    # statsmodels power_proportions_2indep (pooled-variance z test): 150 per arm, 30% vs 45%, one-sided 0.025.
    reference = power_proportions_2indep(0.15, 0.30, 150, ratio=1, alpha=0.025, alternative="larger").power
    power, se, summary = _power(tmp_path, BINARY.format(n=300, p0=0.30, delta=0.15), 20_000)
    assert abs(power - reference) < 3.5 * se, (power, se, reference)
    # The estimate is the risk difference, unbiased in a fixed design.
    c = summary["per_comparison"]["treatment vs control"]
    assert abs(c["bias"]) < 3.5 * c["bias_se"]


def test_group_sequential_type_i_error_and_power(tmp_path):
    # 3 looks at 1/3, 2/3, 1 of 300 events, classical O'Brien-Fleming (rpact "OF"), one-sided 0.025.
    # Under H0 the crossing probabilities per look are those of the boundaries themselves
    # (rpact getDesignGroupSequential(): cumulative alpha spent 0.00026, 0.00716, 0.02500).
    from trialsim.engine.boundaries import classical_bounds, crossing_probabilities

    bounds = classical_bounds([1 / 3, 2 / 3, 1], 0.025, kind="obrien_fleming")
    per_look, _ = crossing_probabilities([1 / 3, 2 / 3, 1], bounds, None, 0.0)
    assert np.cumsum(per_look) == pytest.approx([0.00026, 0.00716, 0.02500], abs=2e-5)
    text = TWO_ARM_SURVIVAL.format(
        name="gsd",
        n=600,
        accrual=12,
        dropout="",
        median=12,
        effect="{hazard_ratio: 1.0}",
        test="logrank",
        looks="{events: 100}, {events: 200}, {events: 300}",
        bounds="  efficacy: {boundary: obrien_fleming}\n",
        trials=40_000,
        seed=9,
    )
    power, se, summary = _power(tmp_path, text, 40_000)
    assert abs(power - 0.025) < 3.5 * se
    for simulated, expected in zip(summary["reject_per_look"], per_look, strict=True):
        assert abs(simulated - expected) < 3.5 * math.sqrt(expected * (1 - expected) / 40_000) + 1e-4
