"""Running every scenario of a design: seed blocks, in-process or on Dask, into one result."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from trialsim.cohort.population import load_population
from trialsim.design.load import Design, load_design
from trialsim.engine.block import BlockResult, simulate_block
from trialsim.engine.plan import Plan, compile_plan
from trialsim.run.seeds import TRIALS_PER_BLOCK, Block, block_rng, blocks
from trialsim.run.summary import summarise

RESULT_FORMAT = 1


def run_block(plan: Plan, seed: int, block: Block) -> BlockResult:
    """One seed block. A short last block is simulated whole and cut, so trial i never depends on the total."""
    result = simulate_block(plan, block.first_trial, TRIALS_PER_BLOCK, block_rng(seed, block))
    keep = pl.col("trial") < block.first_trial + block.trials
    return BlockResult(
        *(frame.filter(keep) if frame.height else frame for frame in (result.looks, result.subgroups, result.diversity))
    )


@dataclass
class SimulationResult:
    """Per-trial tables of a simulated design and their operating characteristics.

    Examples
    --------
    >>> import trialsim
    >>> result = trialsim.simulate("designs/binary-response.yaml", trials=250, seed=1)
    >>> sorted(result.summary()["scenarios"])
    ['expected', 'null']
    """

    design: Design
    seed: int
    plans: dict[str, Plan]
    trials: pl.DataFrame
    subgroups: pl.DataFrame
    diversity: pl.DataFrame
    _summary: dict | None = field(default=None, repr=False)

    def summary(self) -> dict:
        """Operating characteristics per scenario, each with its Monte Carlo standard error."""
        if self._summary is None:
            self._summary = {
                "format": RESULT_FORMAT,
                "design": self.design.name,
                "design_file": str(self.design.path),
                "seed": self.seed,
                "scenarios": {
                    name: summarise(
                        plan,
                        self.trials.filter(pl.col("scenario") == name),
                        _of(self.subgroups, name),
                        _of(self.diversity, name),
                    )
                    for name, plan in self.plans.items()
                },
            }
        return self._summary

    def write(self, out: str | Path) -> Path:
        """Write ``trials.parquet``, ``subgroups.parquet``, ``summary.json`` and the design into ``out``.

        Files are written into a temporary folder beside ``out`` and moved in one by one with an
        atomic rename, so a reader never sees a half-written file.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
        try:
            self.trials.write_parquet(tmp / "trials.parquet")
            self.subgroups.write_parquet(tmp / "subgroups.parquet")
            self.diversity.write_parquet(tmp / "diversity.parquet")
            shutil.copyfile(self.design.path, tmp / "design.yaml")
            (tmp / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
            for name in ("trials.parquet", "subgroups.parquet", "diversity.parquet", "design.yaml", "summary.json"):
                os.replace(tmp / name, out / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out


def simulate(
    design: Design | str | Path,
    *,
    trials: int | None = None,
    seed: int | None = None,
    scenarios: Sequence[str] | None = None,
    client=None,
) -> SimulationResult:
    """Simulate every (or the named) scenario of a design.

    Parameters
    ----------
    design : Design or path
        A loaded design or the path of a design file.
    trials, seed : int, optional
        Override the design's ``simulation`` block.
    scenarios : sequence of str, optional
        Names of the scenarios to run (default: all).
    client : distributed.Client, optional
        Run the seed blocks on this Dask cluster; without one they run in this process.
        The result is identical either way.
    """
    if not isinstance(design, Design):
        design = load_design(design)
    spec = design.spec
    trials = spec.simulation.trials if trials is None else trials
    seed = spec.simulation.seed if seed is None else seed
    if trials <= 0:
        raise ValueError(f"--trials must be a positive number, got {trials}")
    if seed < 0:
        raise ValueError(f"--seed must be zero or positive, got {seed}")
    names = list(design.scenarios) if not scenarios else list(dict.fromkeys(scenarios))
    unknown = [s for s in names if s not in design.scenarios]
    if unknown:
        raise ValueError(f"unknown scenario {unknown[0]!r}; {design.path} has {', '.join(design.scenarios)}")
    population = load_population(spec.population.cohort, design.path.resolve().parent, seed=seed)
    plans = {name: compile_plan(design, name, population) for name in names}
    work = [(plans[name], block) for name in names for block in blocks(name, trials)]
    if client is None:
        parts = [run_block(plan, seed, block) for plan, block in work]
    else:
        shared = {name: client.scatter(plan, broadcast=True) for name, plan in plans.items()}
        futures = [client.submit(run_block, shared[block.scenario], seed, block, pure=False) for _, block in work]
        parts = client.gather(futures)
    return SimulationResult(design, seed, plans, *(_concat([getattr(p, t) for p in parts]) for t in BlockResult.TABLES))


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else pl.DataFrame()


def _of(frame: pl.DataFrame, scenario: str) -> pl.DataFrame:
    return frame.filter(pl.col("scenario") == scenario) if frame.height else frame
