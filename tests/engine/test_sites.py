"""Recruitment sites with their own rates and reach: trading accrual speed against representativeness."""

import pytest

import trialsim

SITES = """\
trialsim: 1
name: sites
population: {{cohort: builtin}}
enrollment:
  sample_size: 300
  sites:
{sites}
arms: {{control: {{}}, treatment: {{}}}}
endpoints:
  y: {{type: continuous, baseline: {{mean: 0, sd: 1}}}}
analysis:
  primary: {{endpoint: y, test: t_test}}
"""
ACADEMIC = "    - {name: academic, rate: 20 per month, reach: {race_ethnicity: {Black: 0.5}}}"
COMMUNITY = "    - {name: community, rate: 10 per month, reach: {race_ethnicity: {Black: 3.0}}}"


def _run(tmp_path, sites):
    path = tmp_path / "d.yaml"
    path.write_text(SITES.format(sites=sites))
    return trialsim.simulate(path, trials=500, seed=6).summary()["scenarios"]["default"]


def _reached(p, factor):
    """Share of a group with population share p at a site that reaches it `factor` times as much."""
    return p * factor / (p * factor + 1 - p)


def test_site_mix_follows_rates_and_reach(tmp_path):
    both = _run(tmp_path, ACADEMIC + "\n" + COMMUNITY)
    black = both["diversity"]["columns"]["race_ethnicity"]["Black"]
    p = black["target"]  # no eligibility criteria: the pool is the population
    sites = both["diversity"]["sites"]
    # Both sites open at 0, so a patient comes from the community site with probability 10 / 30.
    assert abs(sites["community"]["value"] - 1 / 3) < 3.5 * sites["community"]["se"]
    expected = 2 / 3 * _reached(p, 0.5) + 1 / 3 * _reached(p, 3.0)
    assert abs(black["enrolled"] - expected) < 3.5 * black["enrolled_se"]
    # Accrual at 30 per month: 300 patients take 10 months, plus the endpoint's timepoint (0).
    assert both["expected_duration"] == pytest.approx(10, abs=0.5)


def test_community_site_buys_representativeness_for_time(tmp_path):
    # A: academic sites only, fast. B: fewer academic patients plus a slower community channel.
    academic = _run(tmp_path, ACADEMIC.replace("rate: 20", "rate: 30"))
    mixed = _run(tmp_path, ACADEMIC.replace("rate: 20", "rate: 15") + "\n" + COMMUNITY.replace("rate: 10", "rate: 5"))
    assert academic["expected_duration"] == pytest.approx(10, abs=0.5)
    assert mixed["expected_duration"] == pytest.approx(15, abs=0.5)
    a = academic["diversity"]["columns"]["race_ethnicity"]["Black"]
    b = mixed["diversity"]["columns"]["race_ethnicity"]["Black"]
    assert abs(a["ppr"] - _reached(a["target"], 0.5) / a["target"]) < 3.5 * a["ppr_se"]
    expected_b = (0.75 * _reached(b["target"], 0.5) + 0.25 * _reached(b["target"], 3.0)) / b["target"]
    assert abs(b["ppr"] - expected_b) < 3.5 * b["ppr_se"]
    assert a["ppr"] < 0.8 < b["ppr"]
    assert mixed["diversity"]["representation_index"]["value"] > academic["diversity"]["representation_index"]["value"]
