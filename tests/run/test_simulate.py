"""Running designs: trialsim.run.simulate (seed blocks, Dask, result files)."""

import json

import polars as pl
import pytest
from distributed import Client, LocalCluster

import trialsim
from trialsim.run.seeds import TRIALS_PER_BLOCK

PFS = "designs/two-arm-pfs-gsd.yaml"


def test_same_seed_same_trials_and_first_trials_do_not_depend_on_total():
    a = trialsim.simulate(PFS, trials=300, seed=3)
    b = trialsim.simulate(PFS, trials=300, seed=3)
    assert a.trials.equals(b.trials) and a.subgroups.equals(b.subgroups)
    longer = trialsim.simulate(PFS, trials=2 * TRIALS_PER_BLOCK + 10, seed=3)
    assert longer.trials.filter(pl.col("trial") < 300).equals(a.trials)
    other = trialsim.simulate(PFS, trials=300, seed=4)
    assert not other.trials.equals(a.trials)


def test_a_scenario_alone_gives_the_same_trials():
    both = trialsim.simulate(PFS, trials=100, seed=3)
    alone = trialsim.simulate(PFS, trials=100, seed=3, scenarios=["expected"])
    assert alone.trials.equals(both.trials.filter(pl.col("scenario") == "expected"))


@pytest.mark.parametrize("workers", [1, 2])
def test_dask_gives_bit_identical_parquet(tmp_path, workers):
    local = trialsim.simulate(PFS, trials=600, seed=8).write(tmp_path / "local")
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as c:
        dask = trialsim.simulate(PFS, trials=600, seed=8, client=c).write(tmp_path / f"dask{workers}")
    assert (local / "trials.parquet").read_bytes() == (dask / "trials.parquet").read_bytes()
    assert (local / "subgroups.parquet").read_bytes() == (dask / "subgroups.parquet").read_bytes()


def test_written_results(tmp_path):
    result = trialsim.simulate(PFS, trials=250, seed=1)
    out = result.write(tmp_path / "run")
    assert sorted(p.name for p in out.iterdir()) == [
        "design.yaml",
        "diversity.parquet",
        "subgroups.parquet",
        "summary.json",
        "trials.parquet",
    ]
    summary = json.loads((out / "summary.json").read_text())
    for name in ("null", "expected"):
        s = summary["scenarios"][name]
        for key in (
            "power",
            "power_se",
            "reject_per_look",
            "futility_per_look",
            "expected_sample_size",
            "expected_events",
            "expected_duration",
            "per_comparison",
            "subgroups",
        ):
            assert key in s, key
        assert len(s["reject_per_look"]) == 3
        assert set(s["subgroups"]) == {"sex", "race_ethnicity", "age_group"}
    trials = pl.read_parquet(out / "trials.parquet")
    assert trials.equals(result.trials)
    # Each trial stops exactly once, and no look follows its stop.
    per_trial = trials.group_by("scenario", "trial").agg(
        pl.col("stopped").sum(), pl.col("look").max(), pl.col("look").filter(pl.col("stopped")).first().alias("at")
    )
    assert (per_trial["stopped"] == 1).all() and (per_trial["look"] == per_trial["at"]).all()


def test_summary_matches_the_trials_table():
    result = trialsim.simulate(PFS, trials=500, seed=2)
    s = result.summary()["scenarios"]["expected"]
    rows = result.trials.filter(pl.col("scenario") == "expected")
    stops = rows.filter(pl.col("stopped"))
    assert s["power"] == pytest.approx(rows.group_by("trial").agg(pl.col("reject").any())["reject"].mean())
    assert s["expected_sample_size"] == pytest.approx(stops["enrolled"].mean())
    assert s["expected_events"] == pytest.approx(stops["events"].mean())
    assert sum(s["reject_per_look"]) == pytest.approx(s["power"])
    assert s["early_stop"] == pytest.approx((stops["look"] < 3).mean())


@pytest.mark.parametrize("per_call", [1, 2])
def test_a_run_is_summarised_alike_however_many_blocks_at_a_time(monkeypatch, tmp_path, per_call):
    from trialsim.run import memory, store

    trials = 3 * TRIALS_PER_BLOCK + 10
    whole = json.dumps(trialsim.simulate(PFS, trials=trials, seed=5).summary())  # every block in one call
    monkeypatch.setattr(memory, "SUMMARY_BLOCKS", per_call)
    monkeypatch.setattr(store, "SUMMARY_BLOCKS", per_call)
    assert json.dumps(trialsim.simulate(PFS, trials=trials, seed=5).summary()) == whole
    assert json.dumps(trialsim.simulate(PFS, trials=trials, seed=5, out=tmp_path / "run").summary()) == whole


def test_bad_requests_are_errors_before_work():
    with pytest.raises(ValueError, match="positive"):
        trialsim.simulate(PFS, trials=0)
    with pytest.raises(ValueError, match="unknown scenario 'nul'"):
        trialsim.simulate(PFS, scenarios=["nul"])
