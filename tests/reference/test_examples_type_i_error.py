"""Every example design's null scenario keeps its type I error (family-wise for several comparisons)."""

from pathlib import Path

import pytest

import trialsim

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", sorted(Path("designs").glob("*.yaml")), ids=lambda p: p.stem)
def test_null_scenario_rejects_at_most_alpha(path):
    result = trialsim.simulate(path, trials=4000, seed=2026, scenarios=["null"])
    s = result.summary()["scenarios"]["null"]
    assert s["power"] <= s["alpha"] + 3.5 * s["power_se"], (s["power"], s["power_se"], s["alpha"])
