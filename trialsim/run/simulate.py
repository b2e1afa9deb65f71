"""Running every scenario of a design: seed blocks, in-process or on Dask, into one result.

A run with ``out`` goes through that run directory (:mod:`trialsim.run.store`), which makes it
resumable; one without is held in memory (:mod:`trialsim.run.memory`). Either way the tables, and
so the files a result writes, are the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from trialsim.cohort.population import load_population, population_digest
from trialsim.design.load import Design, load_design
from trialsim.engine.plan import Plan, compile_plan
from trialsim.run.blockwise import BlockwiseSummary
from trialsim.run.memory import MemoryStore
from trialsim.run.runner import run_block, run_blocks  # noqa: F401  (run_block: public API)
from trialsim.run.seeds import TRIALS_PER_BLOCK, Block, blocks, scenario_key
from trialsim.run.store import (
    MANIFEST,
    RESULT_FILES,
    TABLES,
    RunDirError,
    RunIdentity,
    RunStore,
    ScenarioRun,
    fingerprint,
    write_table,
)

RESULT_FORMAT = 1
# Keys of a design that do not change its trials: left out of a scenario's hash.
UNHASHED = {"title", "description", "simulation", "scenarios", "grid"}


class SimulationResult:
    """Per-trial tables of a simulated design and their operating characteristics.

    The tables are polars frames: ``trials`` (one row per trial, performed look and comparison),
    ``subgroups`` and ``diversity``. A result of a run into a directory reads them from its files
    when first asked, so a large run costs no memory until then.

    Examples
    --------
    >>> import trialsim
    >>> result = trialsim.simulate("designs/binary-response.yaml", trials=250, seed=1)
    >>> sorted(result.summary()["scenarios"])
    ['expected', 'null']
    """

    def __init__(
        self,
        design: Design,
        seed: int,
        plans: dict[str, Plan],
        trials: pl.DataFrame | None = None,
        subgroups: pl.DataFrame | None = None,
        diversity: pl.DataFrame | None = None,
        *,
        directory: Path | None = None,
        summary: dict | None = None,
    ):
        self.design = design
        self.seed = seed
        self.plans = plans
        self.directory = directory
        self._tables = {"trials": trials, "subgroups": subgroups, "diversity": diversity}
        self._summary = summary
        # Seconds spent computing blocks and assembling the results, and the trials computed (not reused).
        self.timings: dict[str, float] = {}

    def _table(self, name: str) -> pl.DataFrame:
        if self._tables[name] is None:
            if self.directory is None:
                return pl.DataFrame()
            self._tables[name] = pl.read_parquet(self.directory / f"{name}.parquet")
        return self._tables[name]

    @property
    def trials(self) -> pl.DataFrame:
        return self._table("trials")

    @property
    def subgroups(self) -> pl.DataFrame:
        return self._table("subgroups")

    @property
    def diversity(self) -> pl.DataFrame:
        return self._table("diversity")

    def summary(self) -> dict:
        """Operating characteristics per scenario, each with its Monte Carlo standard error."""
        if self._summary is None:
            figures = {}
            for name, plan in self.plans.items():
                scenario = BlockwiseSummary(plan)
                scenario.add(*(_of(self._table(table), name) for table in TABLES.values()))
                figures[name] = scenario.result()
            self._summary = summary_of(self.design, self.seed, figures)
        return self._summary

    def write(self, out: str | Path) -> Path:
        """Write ``trials.parquet``, ``subgroups.parquet``, ``diversity.parquet``, ``summary.json`` and the design.

        Files are written into a temporary folder inside ``out`` and moved in one by one with an
        atomic rename, ``summary.json`` last, so a reader never sees a half-written file. A folder
        holding another design's run is refused.
        """
        out = Path(out)
        if self.directory is not None and out.resolve() == self.directory.resolve():
            return out
        _check_target(out, self.design.name, self.seed)
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
        try:
            for name in TABLES.values():
                if self.directory is not None and self._tables[name] is None:
                    shutil.copyfile(self.directory / f"{name}.parquet", tmp / f"{name}.parquet")
                else:
                    write_table([self._table(name)], tmp / f"{name}.parquet")
            shutil.copyfile(self.design.path, tmp / "design.yaml")
            (tmp / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
            (out / "summary.json").unlink(missing_ok=True)
            for name in RESULT_FILES:
                os.replace(tmp / name, out / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out


def _check_target(out: Path, design: str, seed: int) -> None:
    """Refuse to write results over another design's or seed's run."""
    for name in (MANIFEST, "summary.json"):
        try:
            found = json.loads((out / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(found, dict) and (found.get("design"), found.get("seed")) != (design, seed):
            raise RunDirError(
                f"{out}: holds design {found.get('design')!r}, seed {found.get('seed')}; these results are "
                f"design {design!r}, seed {seed}. Choose another folder, or delete {out} to replace them"
            )
        return


def summary_of(design: Design, seed: int, figures: dict[str, dict]) -> dict:
    """``summary.json``: each scenario's figures (see :mod:`trialsim.run.blockwise`), under the run's header.

    A point of a scenario grid also says which scenario it patches (``base_scenario``) and the
    value at each grid path (``grid``).
    """
    grid = getattr(design, "grid", {})
    scenarios = {}
    for name, scenario in figures.items():
        if name in grid:
            scenario["base_scenario"] = grid[name].base
            scenario["grid"] = dict(grid[name].values)
        scenarios[name] = scenario
    return {
        "format": RESULT_FORMAT,
        "design": design.name,
        "design_file": str(design.path),
        "seed": seed,
        "scenarios": scenarios,
    }


def _of(frame: pl.DataFrame, scenario: str) -> pl.DataFrame:
    return frame.filter(pl.col("scenario") == scenario) if frame.height else frame


def simulate(
    design: Design | str | Path,
    *,
    trials: int | None = None,
    seed: int | None = None,
    scenarios: Sequence[str] | None = None,
    client=None,
    out: str | Path | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
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
    out : path, optional
        A run directory: every finished block is stored there as it finishes, and the result
        files at the end. Running the same call again after an interruption computes only the
        blocks that are missing. A directory holding another design's or seed's run is refused.
    progress : bool
        Show a progress bar on standard error.
    log : callable, optional
        Called with a line of text on what the run does (blocks reused, ...).

    Raises
    ------
    ValueError
        For impossible requests (no trials, a negative seed, an unknown scenario), and
        :class:`~trialsim.run.store.RunDirError` for an ``out`` that cannot take the run.
    """
    return prepare(design, trials=trials, seed=seed, scenarios=scenarios).execute(
        client=client, out=out, progress=progress, log=log
    )


@dataclass(frozen=True)
class Run:
    """A run ready to go: its scenarios compiled, its seed blocks laid out; nothing computed yet.

    Made by :func:`prepare`, which is where a design that cannot be simulated fails, before any
    cluster is started; :meth:`execute` computes it.
    """

    design: Design
    seed: int
    trials: int
    plans: dict[str, Plan]
    scenarios: tuple[ScenarioRun, ...]

    @property
    def identity(self) -> RunIdentity:
        return run_identity(self.design, self.seed)

    def execute(
        self,
        *,
        client=None,
        out: str | Path | None = None,
        progress: bool = False,
        log: Callable[[str], None] | None = None,
        tables: bool = True,
    ) -> SimulationResult:
        """Compute the blocks not already in ``out`` and assemble the result; see :func:`simulate`.

        Without ``out`` the blocks are kept in memory (:mod:`trialsim.run.memory`) and the result
        holds their tables; unless ``tables`` is false (only the summary is wanted): the blocks then
        go through a temporary directory, so that memory stays that of a block.
        """
        if out is None and tables:
            return self._in_memory(client, progress)
        design, seed, plans = self.design, self.seed, self.plans
        say = log or (lambda line: None)
        runs = list(self.scenarios)
        extra = {"design_file": str(design.path), "design_hash": fingerprint({r.name: r.hash for r in runs})}
        with _run_directory(out) as folder, RunStore.open(folder, self.identity, runs, extra=extra) as store:
            todo = store.missing()
            done = self.total - sum(b.trials for b in todo)
            if done and out is not None:
                n_blocks = sum(len(run.blocks) for run in runs)
                say(f"resuming: {n_blocks - len(todo)} of {n_blocks} blocks ({done} trials) already in {folder}")
            timer = _Timer(self.total - done)
            self._compute(todo, store, client, progress, done)
            timer.computed()
            # One pass over the blocks writes the result tables and accumulates the summary.
            figures = {name: BlockwiseSummary(plan) for name, plan in plans.items()}
            summary = store.finish(
                design.path,
                lambda: summary_of(design, seed, {name: f.result() for name, f in figures.items()}),
                lambda scenario, tables: figures[scenario].add(*tables.values()),
            )
            directory = None if out is None else Path(out)
            result = SimulationResult(design, seed, plans, directory=directory, summary=summary)
        result.timings = timer.timings()
        return result

    @property
    def total(self) -> int:
        """Trials in the run, over all scenarios."""
        return sum(b.trials for run in self.scenarios for b in run.blocks)

    def _compute(self, blocks: list[Block], store: RunStore | MemoryStore, client, progress: bool, done: int) -> None:
        from trialsim.run.progress import trial_progress

        with trial_progress(self.total, done, enabled=progress) as advance:
            run_blocks(blocks, self.plans, self.seed, store, client=client, done=lambda block: advance(block.trials))

    def _in_memory(self, client, progress: bool) -> SimulationResult:
        """A run without a directory: blocks kept as frames, summarised and assembled once at the end."""
        store = MemoryStore(list(self.scenarios), self.plans)
        timer = _Timer(self.total)
        self._compute(store.missing(), store, client, progress, 0)
        timer.computed()
        figures = {name: BlockwiseSummary(plan) for name, plan in self.plans.items()}
        frames = store.finish(lambda scenario, tables: figures[scenario].add(*tables.values()))
        summary = summary_of(self.design, self.seed, {name: f.result() for name, f in figures.items()})
        result = SimulationResult(self.design, self.seed, self.plans, **frames, summary=summary)
        result.timings = timer.timings()
        return result


class _Timer:
    """A result's ``timings``: seconds spent computing blocks and assembling the results, and the trials computed."""

    def __init__(self, trials: int):
        self.trials = trials
        self.started = self.blocks_done = time.perf_counter()

    def computed(self) -> None:
        self.blocks_done = time.perf_counter()

    def timings(self) -> dict[str, float]:
        return {
            "trials_computed": self.trials,
            "blocks_seconds": self.blocks_done - self.started,
            "results_seconds": time.perf_counter() - self.blocks_done,
        }


def prepare(
    design: Design | str | Path,
    *,
    trials: int | None = None,
    seed: int | None = None,
    scenarios: Sequence[str] | None = None,
) -> Run:
    """Load the population and compile every scenario: a :class:`Run`, or the error that stops it.

    Raises
    ------
    ValueError
        For impossible requests, and :class:`~trialsim.design.load.DesignError` for a scenario
        that cannot be simulated (no eligible patient, unreachable looks), at its line.
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
    names = select_scenarios(design, scenarios)
    _check_keys(names)
    population = load_population(spec.population.cohort, design.path.resolve().parent, seed=seed)
    plans = {name: compile_plan(design, name, population) for name in names}
    runs = scenario_runs(design, names, trials, population_digest(population))
    return Run(design, seed, trials, plans, tuple(runs))


def select_scenarios(design: Design, requested: Sequence[str] | None) -> list[str]:
    """The scenarios to run: all, or those named; naming a scenario a grid patches selects its points.

    Raises
    ------
    ValueError
        For a name that is neither a scenario nor a scenario the grid patches.

    Examples
    --------
    >>> design = load_design("designs/two-arm-pfs-gsd.yaml")
    >>> select_scenarios(design, ["expected"])
    ['expected']
    """
    if not requested:
        return list(design.scenarios)
    grid = getattr(design, "grid", {})
    names: list[str] = []
    for name in requested:
        if name in design.scenarios:
            names.append(name)
        elif any(point.base == name for point in grid.values()):
            names.extend(n for n, point in grid.items() if point.base == name)
        else:
            bases = list(dict.fromkeys(point.base for point in grid.values()))
            known = ", ".join(design.scenarios) + (f" (or a grid's base: {', '.join(bases)})" if bases else "")
            raise ValueError(f"unknown scenario {name!r}; {design.path} has {known}")
    return list(dict.fromkeys(names))


def scenario_runs(design: Design, names: list[str], trials: int, population: str) -> list[ScenarioRun]:
    """Each scenario's hash and seed blocks; a grid point draws from its base scenario's random numbers."""
    grid = getattr(design, "grid", {})
    runs = []
    for name in names:
        stream = grid[name].base if name in grid else name
        definition = design.scenarios[name].model_dump(mode="json", exclude=UNHASHED)
        digest = fingerprint({"design": definition, "stream": stream, "population": population})
        runs.append(ScenarioRun(name, digest, tuple(blocks(name, trials, stream=stream))))
    return runs


def _check_keys(names: list[str]) -> None:
    """Scenario names must have distinct seed keys (CRC-32); a clash would share random numbers."""
    seen: dict[int, str] = {}
    for name in names:
        key = scenario_key(name)
        if key in seen:
            raise ValueError(f"scenarios {seen[key]!r} and {name!r} have the same seed key; rename one")
        seen[key] = name


def run_identity(design: Design, seed: int) -> RunIdentity:
    """What a run directory's blocks must share with this run (see :mod:`trialsim.run.store`)."""
    from trialsim import __version__

    return RunIdentity(design.name, seed, __version__, TRIALS_PER_BLOCK)


@contextlib.contextmanager
def _run_directory(out: str | Path | None) -> Iterator[Path]:
    """``out`` itself, or a temporary folder removed afterwards."""
    if out is not None:
        yield Path(out)
        return
    tmp = tempfile.mkdtemp(prefix="trialsim-run-")
    try:
        yield Path(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
