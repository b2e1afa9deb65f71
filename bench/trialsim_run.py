"""Time one workload with trialsim, in this process, and write its figures as JSON.

    python bench/trialsim_run.py DESIGN --trials N --seed S --repeats R --out OUT.json

Run by ``bench/run.py`` in a fresh process per workload (so the peak memory is this workload's),
with every thread pool set to one thread (one core, as rpact's single thread). What is timed:

- ``simulate``: the wall-clock and CPU time of ``trialsim.simulate(design, trials=N, seed=S)``,
  everything a user's call does: load the design, build the population, compile the plan,
  simulate every seed block, store the per-trial tables, summarise. The best of R repeats,
  after one small warm-up call (imports, compiled kernels loaded from numba's cache).
- ``engine``: the seed blocks alone (simulated on the compiled plan as a run computes them, a task's
  blocks at a time, per-trial tables included), to show where the rest of the time goes.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

import trialsim
from trialsim.cohort.population import load_population
from trialsim.design.load import load_design
from trialsim.engine.plan import compile_plan
from trialsim.run.runner import BLOCKS_PER_TASK, batch_frames, batches
from trialsim.run.seeds import TRIALS_PER_BLOCK, blocks


def _best(call, repeats: int) -> tuple[float, float, object]:
    """Best wall-clock and CPU seconds of ``repeats`` calls, and the last call's result."""
    wall = cpu = float("inf")
    result = None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = call()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu, result


def _per_trial(result, scenario: str) -> dict:
    """Operating characteristics from the per-trial table, with their Monte Carlo standard errors."""
    looks = result.trials.filter(pl.col("scenario") == scenario)
    last = looks.filter(pl.col("stopped"))
    if last.height == 0:  # no stop flagged: the trial's last performed look
        last = looks.group_by("trial").agg(pl.all().sort_by("look").last())
    per_trial = last.group_by("trial").agg(pl.col("time").first(), pl.col("events").first())
    rejected = looks.group_by("trial").agg(pl.col("reject").any())["reject"].to_numpy()
    n = len(rejected)
    k = int(looks["look"].max())
    rejected_at = [
        looks.filter((pl.col("look") == j + 1) & pl.col("reject")).select(pl.col("trial").n_unique()).item() / n
        for j in range(k)
    ]
    out = {
        "trials": n,
        "power": float(rejected.mean()),
        "reject_per_look": rejected_at,
        "expected_duration": float(per_trial["time"].mean()),
        "expected_duration_sd": float(per_trial["time"].std()),
    }
    if per_trial["events"].null_count() < per_trial.height:
        out["expected_events"] = float(per_trial["events"].mean())
        out["expected_events_sd"] = float(per_trial["events"].std())
    comparisons = looks["comparison"].unique(maintain_order=True).to_list()
    if len(comparisons) > 1:
        by = looks.group_by("trial", "comparison").agg(pl.col("reject").any())
        out["comparisons"] = comparisons
        out["power_by_comparison"] = [float(by.filter(pl.col("comparison") == c)["reject"].mean()) for c in comparisons]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design", type=Path)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    trialsim.simulate(args.design, trials=TRIALS_PER_BLOCK, seed=args.seed)  # warm-up
    wall, cpu, result = _best(lambda: trialsim.simulate(args.design, trials=args.trials, seed=args.seed), args.repeats)
    scenario = next(iter(result.plans))
    figures = _per_trial(result, scenario)
    summary = result.summary()["scenarios"][scenario]
    figures["summary_power"] = summary["power"]

    design = load_design(args.design)
    population = load_population(design.spec.population.cohort, design.path.resolve().parent, seed=args.seed)
    plan = compile_plan(design, scenario, population)
    work = blocks(scenario, args.trials)

    def engine() -> None:
        for batch in batches(work, BLOCKS_PER_TASK):
            batch_frames(plan, args.seed, batch)

    engine_wall, engine_cpu, _ = _best(engine, args.repeats)
    simulated = len(work) * TRIALS_PER_BLOCK
    payload = {
        "tool": "trialsim",
        "version": trialsim.__version__ if hasattr(trialsim, "__version__") else "",
        "trials": args.trials,
        "seconds": wall,
        "cpu_seconds": cpu,
        "engine_seconds": engine_wall * args.trials / simulated,
        "engine_cpu_seconds": engine_cpu * args.trials / simulated,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "critical_values": np.asarray(plan.efficacy[max(plan.efficacy)]).tolist(),
        **figures,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
