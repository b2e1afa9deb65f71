"""Real result directories for the dashboard tests, simulated once per session with trialsim itself."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import trialsim

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboards" / "app.py"
DESIGNS = {"pfs": "two-arm-pfs-gsd.yaml", "binary": "binary-response.yaml", "dose": "dose-ranging-hba1c.yaml"}
TRIALS = 300
SEED = 3


@pytest.fixture(scope="session")
def results(tmp_path_factory) -> dict[str, Path]:
    """``trialsim.simulate(...).write(dir)`` for each example design: {"pfs": dir, "binary": dir, "dose": dir}."""
    root = tmp_path_factory.mktemp("results")
    return {
        key: trialsim.simulate(REPO / "designs" / file, trials=TRIALS, seed=SEED).write(root / key)
        for key, file in DESIGNS.items()
    }


def _binary_with_grid(root: Path, name: str, grid: str) -> Path:
    """The binary example design with a scenario grid (``grid:`` YAML lines), simulated into ``root / name``."""
    text = (REPO / "designs" / "binary-response.yaml").read_text()
    design = root / f"{name}.yaml"
    design.write_text(text.replace("\nsimulation:", f"\n{grid.rstrip()}\nsimulation:"))
    return trialsim.simulate(design, trials=200, seed=SEED).write(root / name)


@pytest.fixture(scope="session")
def grid_results(tmp_path_factory) -> Path:
    """A grid over sample size and odds ratio: its points on `null` set the odds ratio too, so they are not null."""
    grid = "grid:\n  enrollment.sample_size: [120, 240, 360]\n  endpoints.response.effect.odds_ratio: [1.5, 2.0]"
    return _binary_with_grid(tmp_path_factory.mktemp("grid"), "binary-grid", grid)


@pytest.fixture(scope="session")
def sample_size_grid(tmp_path_factory) -> Path:
    """A grid over the sample size alone: its points on `null` are null, and give the type I error of each size."""
    return _binary_with_grid(
        tmp_path_factory.mktemp("grid-n"), "binary-n", "grid:\n  enrollment.sample_size: [120, 360]"
    )


class Dash:
    """Opens the dashboard with AppTest over result directories and reads what its pages show."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def open(self, *dirs: Path | str, timeout: float = 60) -> AppTest:
        """The dashboard over ``dirs``, run once (its Overview page)."""
        self.monkeypatch.setenv("TRIALSIM_RESULTS", os.pathsep.join(str(d) for d in dirs))
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    @staticmethod
    def visit(at: AppTest, page: str) -> AppTest:
        """Switch to ``views/<page>.py``; the page must render without an exception."""
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    @staticmethod
    def table(at: AppTest, key: str) -> pl.DataFrame:
        """The table shown in the container ``key``, with the values it holds (formatting is display-only)."""
        return pl.from_pandas(at.get_by_key(key).dataframe[0].value)

    @staticmethod
    def summary(path: Path) -> dict:
        return json.loads((path / "summary.json").read_text())

    @staticmethod
    def copy(src: Path, dst: Path) -> Path:
        shutil.copytree(src, dst)
        return dst


@pytest.fixture
def dash(monkeypatch) -> Dash:
    return Dash(monkeypatch)
