"""Re-drawing one simulated trial's patients for the trial explorer.

Result directories hold one row per trial and look, not patients. A trial's patients are a
deterministic function of the design, the seed, the scenario and the trial's seed block
(trialsim.run.seeds), so the explorer draws that one block again (about 1 s, on request, never on
page load) and keeps the trial it was asked for. The look times of the re-drawn trial are
compared with the stored ones: when the design, the population or trialsim changed since the run,
the explorer says so instead of showing another trial's curves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl


class RedrawError(Exception):
    """The trial cannot be re-drawn (or would not be the stored one); the message says why, for the page."""


@dataclass(frozen=True)
class Redrawn:
    """One trial's patients: per patient arm name, entry and outcome; the calendar time of each look."""

    endpoint: str
    arms: tuple[str, ...]
    arm: np.ndarray
    cuts: np.ndarray
    patients: object  # trialsim.engine.block.Patients of this trial alone (arrays of shape (1, n))
    plan: object  # trialsim.engine.plan.Plan

    def data_at(self, look: int) -> pl.DataFrame:
        """The data as analysed at ``look`` (1-based): time-to-event (time, event) or the outcome, per patient."""
        from trialsim.engine.block import data_cut

        cut = data_cut(self.plan, self.patients, np.array([self.cuts[look - 1]]))
        arms = np.array(self.arms)[self.arm]
        frame = {"arm": arms, "in_analysis": cut.valid[0]}
        if self.endpoint == "time_to_event":
            frame |= {"time": cut.time[0], "event": cut.event[0]}
        else:
            frame |= {"outcome": self.patients.outcome[0]}
        return pl.DataFrame(frame).filter(pl.col("in_analysis")).drop("in_analysis")


def compile_scenario(result_path: Path, design_file: str | None, scenario: str, seed: int):
    """The compiled plan of one scenario of the design a result directory was simulated from."""
    from trialsim.cohort.population import load_population
    from trialsim.design.load import DesignError, load_design
    from trialsim.engine.plan import compile_plan

    copy = result_path / "design.yaml"
    if not copy.is_file():
        raise RedrawError(f"{copy} is missing, so this trial's patients cannot be re-drawn.")
    try:
        design = load_design(copy)
    except DesignError as exc:
        raise RedrawError(f"the design in {copy} no longer loads with this trialsim:\n{exc}") from None
    if scenario not in design.scenarios:
        raise RedrawError(
            f"scenario {scenario!r} is not in the design {copy} (it has {', '.join(design.scenarios)}): the design "
            "changed since the run, so this trial's patients cannot be re-drawn."
        )
    # The cohort is found from the design's folder, as the run found it: the original design's, else the copy's.
    cohort = design.spec.population.cohort
    repo = Path(__file__).resolve().parent.parent
    bases = [Path(design_file).parent, (repo / design_file).parent] if design_file else []
    problems = []
    for base in dict.fromkeys([*(b for b in bases if b.is_dir()), copy.parent]):
        try:
            population = load_population(cohort, base, seed=seed)
            break
        except Exception as exc:  # any failure to find or build the cohort is explained on the page
            problems.append(f"from {base}: {exc}")
    else:
        raise RedrawError(f"the design's cohort {cohort!r} cannot be loaded again ({'; '.join(problems)}).")
    try:
        return compile_plan(design, scenario, population)
    except (DesignError, ValueError) as exc:
        raise RedrawError(f"the design cannot be compiled again: {exc}") from None


def redraw(plan, seed: int, trial: int, stored_times: list[float], stream: str | None = None) -> Redrawn:
    """Draw trial ``trial``'s seed block again and keep that trial; check its look times against ``stored_times``.

    ``stream``: the scenario whose random numbers the block draws (a grid point's base scenario).
    """
    from trialsim.engine.block import Patients, draw_patients, look_times
    from trialsim.run.seeds import TRIALS_PER_BLOCK, block_rng, blocks

    block = blocks(plan.scenario, trial + 1, **({"stream": stream} if stream else {}))[-1]  # the block of `trial`
    drawn = draw_patients(plan, TRIALS_PER_BLOCK, block_rng(seed, block))  # whole, as the run drew it
    row = trial - block.first_trial
    one = Patients(
        **{
            f.name: None if getattr(drawn, f.name) is None else getattr(drawn, f.name)[row : row + 1]
            for f in dataclasses.fields(Patients)
        }
    )
    cuts, _ = look_times(plan, one)
    cuts = cuts[0]
    stored = np.asarray(stored_times, dtype=float)
    if len(stored) == 0 or not np.allclose(cuts[: len(stored)], stored, rtol=1e-9, atol=1e-9):
        raise RedrawError(
            f"the re-drawn trial {trial} does not match the stored one (look times "
            f"{', '.join(f'{t:.2f}' for t in cuts[: len(stored)])} months, stored "
            f"{', '.join(f'{t:.2f}' for t in stored)}): the design, its population or trialsim changed since "
            "this run. Run the simulation again to explore its trials."
        )
    return Redrawn(plan.endpoint, tuple(plan.arms), one.arm[0], cuts, one, plan)


def kaplan_meier(data: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Kaplan-Meier curves per arm (lifelines) with 95% bands, and per arm: patients, events, median."""
    from lifelines import KaplanMeierFitter

    curves, summary = [], []
    for arm, rows in data.group_by("arm", maintain_order=True):
        fitter = KaplanMeierFitter().fit(rows["time"].to_numpy(), rows["event"].to_numpy(), label=str(arm[0]))
        band = fitter.confidence_interval_survival_function_
        curves.append(
            pl.DataFrame(
                {
                    "arm": str(arm[0]),
                    "time": fitter.survival_function_.index.to_numpy(),
                    "survival": fitter.survival_function_.iloc[:, 0].to_numpy(),
                    "low": band.iloc[:, 0].to_numpy(),
                    "high": band.iloc[:, 1].to_numpy(),
                }
            )
        )
        median = float(fitter.median_survival_time_)
        summary.append(
            {
                "Arm": str(arm[0]),
                "Patients": rows.height,
                "Events": int(rows["event"].sum()),
                "Median (months)": median if np.isfinite(median) else None,
            }
        )
    return pl.concat(curves), pl.DataFrame(summary)
