"""Run directories: trialsim.run.store (checkpoints, resume, refusals) through trialsim.simulate(out=...)."""

import json
import os
from pathlib import Path

import polars as pl
import pytest

import trialsim
from trialsim.run.seeds import blocks
from trialsim.run.store import (
    MANIFEST,
    RunDirError,
    RunIdentity,
    RunStore,
    ScenarioRun,
    block_stem,
    scenario_folder,
    write_table,
)

PFS = "designs/two-arm-pfs-gsd.yaml"
RESULTS = ("trials.parquet", "subgroups.parquet", "diversity.parquet", "summary.json")


def same_results(a: Path, b: Path) -> None:
    for name in RESULTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """600 trials per scenario of the PFS design, seed 3, run in one go: 3 blocks per scenario."""
    out = tmp_path_factory.mktemp("reference") / "run"
    trialsim.simulate(PFS, trials=600, seed=3, out=out)
    return out


def test_a_run_directory_holds_the_results_the_manifest_and_the_blocks(reference):
    names = sorted(p.name for p in reference.iterdir())
    assert names == sorted(["blocks", MANIFEST, "design.yaml", *RESULTS, ".lock"])
    manifest = json.loads((reference / MANIFEST).read_text())
    assert (manifest["design"], manifest["seed"], manifest["trialsim"]) == ("nsclc-pfs-gsd", 3, trialsim.__version__)
    assert manifest["scenarios"]["expected"]["blocks"] == ["000000-250", "000001-250", "000002-100"]
    assert len(manifest["design_hash"]) == 64
    folder = reference / manifest["scenarios"]["null"]["folder"]
    assert sorted(p.name for p in folder.iterdir()) == ["000000-250.block", "000001-250.block", "000002-100.block"]
    assert manifest["block_format"] == "trialsim-block-1: Arrow IPC streams"
    # The in-memory result of the same call is the same bytes once written.
    memory = trialsim.simulate(PFS, trials=600, seed=3).write(reference.parent / "memory")
    same_results(reference, memory)


def test_a_run_in_memory_holds_the_tables_and_summary_of_a_run_directory(reference):
    memory = trialsim.simulate(PFS, trials=600, seed=3)  # blocks kept as columns, no parquet in between
    assert memory.directory is None
    for name in ("trials", "subgroups", "diversity"):
        on_disk = pl.read_parquet(reference / f"{name}.parquet")
        table = getattr(memory, name)
        assert table.schema == on_disk.schema and table.equals(on_disk), name  # rows, order, dtypes, values
    assert json.dumps(memory.summary(), indent=2) + "\n" == (reference / "summary.json").read_text()


def test_a_rerun_computes_only_the_missing_blocks_and_gives_the_same_files(reference, tmp_path):
    out = tmp_path / "run"
    trialsim.simulate(PFS, trials=600, seed=3, out=out)
    # As a run killed part-way leaves it: some blocks missing, no results, a half-written block
    # under its temporary name and a half-assembled folder.
    manifest = json.loads((out / MANIFEST).read_text())
    null = out / manifest["scenarios"]["null"]["folder"]
    expected = out / manifest["scenarios"]["expected"]["folder"]
    (expected / "000001-250.block").unlink()
    (null / "000002-100.block").rename(null / ".tmp-123-000002-100.block")
    for name in RESULTS:
        (out / name).unlink()
    (out / ".partial-abc").mkdir()
    lines = []
    result = trialsim.simulate(PFS, trials=600, seed=3, out=out, log=lines.append)
    assert lines == [f"resuming: 4 of 6 blocks (850 trials) already in {out}"]
    same_results(reference, out)
    assert not list(out.glob(".partial-*")) and not list(null.glob(".tmp-*"))
    assert result.trials.equals(pl.read_parquet(reference / "trials.parquet"))
    # Once complete, a rerun computes nothing and rewrites the same files.
    lines.clear()
    trialsim.simulate(PFS, trials=600, seed=3, out=out, log=lines.append)
    assert lines == [f"resuming: 6 of 6 blocks (1200 trials) already in {out}"]
    same_results(reference, out)


def test_block_files_hold_the_engines_tables_as_arrow_ipc(reference):
    import struct

    from trialsim.run.runner import batches, block_frames, block_task
    from trialsim.run.simulate import prepare
    from trialsim.run.store import read_block_bytes

    run = prepare(PFS, trials=600, seed=3, scenarios=["null"])
    blocks = run.scenarios[0].blocks
    [batch] = batches(list(blocks), 8)  # as the run computed them
    data = block_task(run.plans, 3, batch)[2]  # what a worker sends back for the last (short) block
    frames = block_frames(run.plans["null"], 3, blocks[2])  # the block computed on its own
    folder = reference / json.loads((reference / MANIFEST).read_text())["scenarios"]["null"]["folder"]
    stored = folder / f"{block_stem(blocks[2])}.block"
    assert stored.read_bytes() == data  # what a worker sends back is the file
    # The file: a magic string, three lengths, then each table's Arrow IPC stream, readable on its own.
    assert data[:8] == b"TSBLOCK1"
    lengths = struct.unpack_from("<3Q", data, 8)
    assert 32 + sum(lengths) == len(data)
    at = 32
    for (table, frame), length in zip(frames.items(), lengths, strict=True):
        back = pl.read_ipc_stream(data[at : at + length])
        at += length
        assert back.schema == frame.schema and back.equals(frame)
        assert read_block_bytes(stored)[table].equals(frame)


@pytest.mark.parametrize("suffix", [".arrows", ".parquet"])
def test_block_files_of_an_older_trialsim_are_removed_and_computed_again(reference, tmp_path, suffix):
    from trialsim.run.store import read_block_bytes

    out = tmp_path / "run"
    trialsim.simulate(PFS, trials=600, seed=3, out=out)
    for name in RESULTS:
        (out / name).unlink()
    # As older versions left a run: one file per block and table (Arrow IPC or parquet), one block unfinished.
    blocks_dir = out / "blocks"
    for file in sorted(blocks_dir.glob("*/*.block")):
        for table, frame in read_block_bytes(file).items():
            path = file.with_name(f"{file.stem}.{table}{suffix}")
            if suffix == ".arrows":
                frame.write_ipc_stream(path)
            else:
                frame.write_parquet(path)
        file.unlink()
    (next(blocks_dir.glob(f"*/000001-250.trials{suffix}"))).unlink()
    lines = []
    trialsim.simulate(PFS, trials=600, seed=3, out=out, log=lines.append)
    assert lines == []  # nothing reused: every block computed again, none read from the old files
    assert not list(blocks_dir.glob(f"*/*{suffix}")) and len(list(blocks_dir.glob("*/*.block"))) == 6
    same_results(reference, out)


def test_more_trials_reuse_the_full_blocks(reference, tmp_path):
    out = tmp_path / "run"
    trialsim.simulate(PFS, trials=300, seed=3, out=out)  # blocks 0 (250) and 1 (50) per scenario
    lines = []
    trialsim.simulate(PFS, trials=600, seed=3, out=out, log=lines.append)
    assert lines == [f"resuming: 2 of 6 blocks (500 trials) already in {out}"]
    same_results(reference, out)


def test_another_design_seed_or_changed_scenario_is_refused_and_nothing_is_touched(reference, tmp_path):
    before = {p: p.read_bytes() for p in reference.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(RunDirError, match=r"holds a run of design 'nsclc-pfs-gsd', seed 3.*this run is .*seed 4"):
        trialsim.simulate(PFS, trials=600, seed=4, out=reference)
    with pytest.raises(RunDirError, match=r"design 'binary-response-2to1'"):
        trialsim.simulate("designs/binary-response.yaml", trials=250, seed=3, out=reference)
    changed = tmp_path / "pfs.yaml"
    changed.write_text(Path(PFS).read_text().replace("hazard_ratio: 0.7}", "hazard_ratio: 0.75}"))
    with pytest.raises(RunDirError, match="scenario 'expected' was run here with a different definition"):
        trialsim.simulate(changed, trials=600, seed=3, out=reference)
    after = {p: p.read_bytes() for p in reference.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before


def test_folders_that_are_not_runs_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match=r"not a trialsim run directory \(it holds notes.txt\)"):
        trialsim.simulate(PFS, trials=250, seed=3, out=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing left in someone's folder
    file = tmp_path / "notes.txt"
    with pytest.raises(RunDirError, match="is a file"):
        trialsim.simulate(PFS, trials=250, seed=3, out=file)
    # Results an older trialsim wrote (no manifest) are taken over only for the same design and seed.
    old = tmp_path / "old"
    old.mkdir()
    (old / "summary.json").write_text(json.dumps({"design": "nsclc-pfs-gsd", "seed": 9}))
    with pytest.raises(RunDirError, match="holds design 'nsclc-pfs-gsd', seed 9"):
        trialsim.simulate(PFS, trials=250, seed=3, out=old)
    trialsim.simulate(PFS, trials=250, seed=9, scenarios=["null"], out=old)
    assert json.loads((old / "summary.json").read_text())["scenarios"]["null"]["trials"] == 250


def test_two_runs_cannot_write_into_one_directory(tmp_path):
    identity = RunIdentity("nsclc-pfs-gsd", 3, trialsim.__version__, 250)
    with RunStore.open(tmp_path, identity, []):
        with pytest.raises(RunDirError, match=rf"another trialsim run \(pid {os.getpid()}\) is writing"):
            trialsim.simulate(PFS, trials=250, seed=3, out=tmp_path)


def test_a_result_is_not_written_over_another_designs_run(reference, tmp_path):
    result = trialsim.simulate("designs/binary-response.yaml", trials=250, seed=1)
    with pytest.raises(RunDirError, match="holds design 'nsclc-pfs-gsd', seed 3"):
        result.write(reference)


def test_assembled_tables_do_not_depend_on_how_blocks_were_cut(tmp_path):
    frame = pl.DataFrame({"trial": range(1000), "x": [i * 0.5 for i in range(1000)], "s": ["a", "b"] * 500})
    whole, pieces = tmp_path / "whole.parquet", tmp_path / "pieces.parquet"
    assert write_table([frame], whole, row_group_rows=128) == 1000
    cuts = [0, 1, 250, 251, 700, 1000]
    write_table([frame[a:b] for a, b in zip(cuts, cuts[1:], strict=False)], pieces, row_group_rows=128)
    assert whole.read_bytes() == pieces.read_bytes()
    assert pl.read_parquet(pieces).equals(frame)
    empty = tmp_path / "empty.parquet"
    write_table([pl.DataFrame(), pl.DataFrame()], empty)
    assert pl.read_parquet(empty).shape == (0, 0)


def test_block_files_are_named_for_the_scenario_block_and_trials():
    block = blocks("expected[sample_size=300,hazard_ratio=0.75]", 600)[2]
    assert block_stem(block) == "000002-100"
    assert scenario_folder("a/b: c") != scenario_folder("a_b_ c") and "/" not in scenario_folder("a/b")
    assert ScenarioRun("x", "h", (block,)).folder == scenario_folder("x")


def test_the_simulate_command_refuses_another_run_before_starting_a_cluster(reference):
    from typer.testing import CliRunner

    from trialsim.cli import app

    result = CliRunner().invoke(app, ["simulate", PFS, "--trials", "600", "--seed", "4", "--out", str(reference)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {reference}: holds a run of design 'nsclc-pfs-gsd', seed 3")
    assert "Dask:" not in result.stderr


def test_the_simulate_command_resumes_and_shows_progress(reference, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from trialsim.cli import app

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    for file in out.glob("blocks/*/000001-250.*"):
        file.unlink()
    result = CliRunner().invoke(
        app, ["simulate", PFS, "--trials", "600", "--seed", "3", "--workers", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"resuming: 4 of 6 blocks (700 trials) already in {out}" in result.stderr
    assert "trials/s" in result.stderr and "1200/1200" in result.stderr  # the progress bar's last state
    same_results(reference, out)
