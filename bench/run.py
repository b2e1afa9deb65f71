"""trialsim against rpact and Mediana, side by side in one session: ``make bench`` runs this.

    python bench/run.py [--trials 10000] [--repeats 3] [--only W1,W3] [--out bench/RESULTS.md]

Each workload is simulated by trialsim (``bench/trialsim_run.py``, a fresh process per round,
every thread pool at one thread) and by its peer (``Rscript bench/rpact_survival.R`` or
``bench/mediana_continuous.R``, single-threaded, timed in R around the simulation call only).
Both get the same design: effect sizes, medians, accrual, dropout and boundaries. Reported:
trials per second (the best of each tool over ``--repeats`` rounds, each a trialsim process and
a peer run in turn: the machine is shared and its speed drifts), their ratio, peak memory
(resident set of the process tree), and the operating characteristics of both, which must agree
within 3.5 combined Monte Carlo standard errors (power; per-look rejection, expected events and
duration where both report them): a fast wrong answer does not count.

W5 (W1 on 1 and 2 Dask workers, and 10^6 trials on 2) is ``bench/bench_scale.py``; W6 builds a
10^6-patient population from each shipped cohort spec.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DESIGNS = BENCH / "designs"
Z = 3.5  # agreement: within 3.5 combined Monte Carlo standard errors
ONE_THREAD = {
    "POLARS_MAX_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
# Timed trialsim calls per process, after a warm-up call: the first call of a workload's size also
# pays for its memory's first touch (page faults), which the peer's R process pays within its run.
TRIALSIM_CALLS = 2
TARGETS = {"W1": 10.0, "W3": 100.0}  # the per-core targets (trialsim / peer trials per second)


@dataclass
class Workload:
    name: str
    title: str
    design: str
    peer: str  # "rpact" or "Mediana"
    peer_args: list[str]
    checks: list[str] = field(default_factory=lambda: ["power"])


WORKLOADS = [
    Workload(
        "W1",
        "2 arms, 600 patients, exponential PFS, 3 looks at 80/160/240 events, O'Brien-Fleming",
        "w1-survival-gsd.yaml",
        "rpact",
        ["80,160,240"],
        ["power", "reject_per_look", "expected_events", "expected_duration"],
    ),
    Workload(
        "W2",
        "W1 with a fixed design: one analysis at 240 events",
        "w2-survival-fixed.yaml",
        "rpact",
        ["240"],
        ["power", "expected_duration"],
    ),
    Workload(
        "W3",
        "2-arm t-test, 175 patients per arm",
        "w3-t-test.yaml",
        "Mediana",
        ["W3"],
        ["power"],
    ),
    Workload(
        "W4",
        "3-arm dose-ranging (continuous), two doses vs placebo, Holm",
        "w4-dose-ranging-holm.yaml",
        "Mediana",
        ["W4"],
        ["power", "power_by_comparison"],
    ),
]


# ---------------------------------------------------------------------------------------
# Running and measuring a process tree.
# ---------------------------------------------------------------------------------------


def run_measured(cmd: list[str], *, env: dict | None = None, timeout: float = 3600) -> tuple[float, float, str]:
    """Run ``cmd``; return its wall-clock seconds, the peak resident memory of its process tree (MB), and its output."""
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0.0
    stop = threading.Event()

    def poll() -> None:
        nonlocal peak
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak = max(peak, total / 2**20)
            stop.wait(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        stop.set()
        poller.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-4000:]}")
    return seconds, peak, output


def trialsim_workload(w: Workload, trials: int, calls: int, seed: int) -> dict:
    """One trialsim process: a warm-up call, then the best of ``calls`` timed calls."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [sys.executable, str(BENCH / "trialsim_run.py"), str(DESIGNS / w.design)]
        cmd += ["--trials", str(trials), "--seed", str(seed), "--repeats", str(calls), "--out", str(out)]
        _, peak, _ = run_measured(cmd, env=ONE_THREAD)
        result = json.loads(out.read_text())
    result["peak_mb"] = peak
    return result


def peer_workload(w: Workload, trials: int, seed: int) -> dict:
    """One run of the peer's R script (a fresh R process)."""
    script = BENCH / ("rpact_survival.R" if w.peer == "rpact" else "mediana_continuous.R")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = ["Rscript", str(script), *w.peer_args, str(trials), str(seed), str(out)]
        _, peak, _ = run_measured(cmd, env=ONE_THREAD)
        result = json.loads(out.read_text())
    result["peak_mb"] = peak
    return result


def _fastest(runs: list[dict], times: tuple[str, ...]) -> dict:
    """The first run's figures (every run computes the same trials) with the best of each time and the highest peak."""
    best = dict(runs[0])
    for key in times:
        if key in best:
            best[key] = min(run[key] for run in runs)
    best["peak_mb"] = max(run["peak_mb"] for run in runs)
    return best


def timed_in_turn(w: Workload, trials: int, rounds: int, seed: int) -> tuple[dict, dict]:
    """trialsim and the peer timed in alternating rounds, the best of each kept.

    The machine is shared and its speed drifts over minutes: timing all of one tool's runs and
    then all of the other's lets a slow spell fall on one tool alone; in turn, both meet it.
    """
    ts_runs, peer_runs = [], []
    # An untimed process first: in a fresh clone it compiles numba's kernels into its cache, which
    # would otherwise weigh in the first timed process's peak memory (about 110 MB more for W1).
    trialsim_workload(w, 250, 1, seed)
    for _ in range(rounds):
        ts_runs.append(trialsim_workload(w, trials, TRIALSIM_CALLS, seed))
        peer_runs.append(peer_workload(w, trials, seed % 100_000 + 1))
    ts = _fastest(ts_runs, ("seconds", "cpu_seconds", "engine_seconds", "engine_cpu_seconds"))
    return ts, _fastest(peer_runs, ("seconds", "cpu_seconds"))


# ---------------------------------------------------------------------------------------
# Agreement of the operating characteristics.
# ---------------------------------------------------------------------------------------


def _proportion_check(name: str, a: float, b: float, n_a: int, n_b: int) -> dict:
    se = math.sqrt(a * (1 - a) / n_a + b * (1 - b) / n_b)
    ok = abs(a - b) <= Z * se if se > 0 else a == b
    return {"what": name, "trialsim": a, "peer": b, "se": se, "z": (a - b) / se if se > 0 else 0.0, "ok": ok}


def _mean_check(name: str, a: float, sd_a: float, b: float, sd_b: float, n_a: int, n_b: int) -> dict:
    se = math.sqrt(sd_a**2 / n_a + sd_b**2 / n_b)
    ok = abs(a - b) <= Z * se if se > 0 else abs(a - b) < 1e-9 * max(1.0, abs(a))
    return {"what": name, "trialsim": a, "peer": b, "se": se, "z": (a - b) / se if se > 0 else 0.0, "ok": ok}


def agreement(w: Workload, ts: dict, peer: dict) -> list[dict]:
    n_a, n_b = int(ts["trials"]), int(peer["trials"])
    checks = []
    for what in w.checks:
        if what == "power":
            checks.append(_proportion_check("power", ts["power"], peer["power"], n_a, n_b))
        elif what == "reject_per_look":
            for k, (a, b) in enumerate(zip(ts["reject_per_look"], peer["reject_per_look"], strict=True)):
                checks.append(_proportion_check(f"rejection at look {k + 1}", a, b, n_a, n_b))
        elif what == "power_by_comparison":
            for c, a, b in zip(ts["comparisons"], ts["power_by_comparison"], peer["power_by_comparison"], strict=True):
                checks.append(_proportion_check(f"power, {c}", a, b, n_a, n_b))
        elif what in ("expected_events", "expected_duration"):
            label = "expected events" if what == "expected_events" else "expected duration (months)"
            checks.append(_mean_check(label, ts[what], ts[f"{what}_sd"], peer[what], peer[f"{what}_sd"], n_a, n_b))
    return checks


# ---------------------------------------------------------------------------------------
# W5 and W6.
# ---------------------------------------------------------------------------------------


def scale_workload() -> dict:
    """W5: ``bench/bench_scale.py`` on W1: its printed lines and its figures (the JSON line)."""
    command = [sys.executable, str(BENCH / "bench_scale.py"), "--design", str(DESIGNS / "w1-survival-gsd.yaml")]
    seconds, _, output = run_measured(command, timeout=7200)
    lines = output.strip().splitlines()
    figures = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
    text = "\n".join(line for line in lines if not line.startswith("{"))
    return {"source": "bench/bench_scale.py", "output": text, "figures": figures, "seconds": seconds}


def population_workload(size: int, seed: int) -> list[dict]:
    """W6: building a population of ``size`` patients from each cohort spec, in an empty cache."""
    rows = []
    specs = (("cohorts/us-type2-diabetes.yaml", "parametric"), ("cohorts/us-kidney-transplant.yaml", "learned"))
    for spec, kind in specs:
        with tempfile.TemporaryDirectory() as cache:
            code = (
                "import json, time\nfrom trialsim.cohort.build import build_population\n"
                f"start = time.perf_counter()\ndf = build_population({spec!r}, {size}, {seed}, cache_dir={cache!r})\n"
                "print(json.dumps({'seconds': time.perf_counter() - start, 'rows': df.height, 'columns': df.width}))\n"
            )
            try:
                _, peak, output = run_measured([sys.executable, "-c", code], timeout=7200)
            except RuntimeError as exc:
                rows.append({"spec": spec, "kind": kind, "error": str(exc).splitlines()[-1]})
                continue
            result = json.loads(output.strip().splitlines()[-1])
            rows.append({"spec": spec, "kind": kind, **result, "peak_mb": peak})
    return rows


# ---------------------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------------------


def _r_versions() -> str:
    try:
        out = subprocess.run(
            ["Rscript", "-e", 'cat(R.version.string, "; rpact", format(packageVersion("rpact")), '
             '"; Mediana", format(packageVersion("Mediana")))'],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return out.strip()
    except (OSError, subprocess.CalledProcessError):
        return "R not available"


def machine() -> list[str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba
    import numpy
    import polars

    import trialsim

    return [
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {cpu}, {psutil.cpu_count(logical=True)} logical cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.system()} {platform.release()}; "
        f"load average at start {os.getloadavg()[0]:.1f} (a shared machine: times are the best of several runs)",
        f"- trialsim {trialsim.__version__} (git {_git()}), Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, numba {numba.__version__}, polars {polars.__version__}",
        f"- Peers: {_r_versions()}",
    ]


def _git() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
        return rev.strip() + ("+changes" if dirty.strip() else "")
    except OSError:
        return "unknown"


def _fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


def _times(ratio: float) -> str:
    """A speed ratio, cut (not rounded) to two decimals below 100: 9.998× must not read as a 10× target met."""
    digits = 2 if ratio < 100 else 1
    cut = math.floor(round(ratio * 10**digits, 6)) / 10**digits  # round(…, 6): 9.7 * 100 is 969.999…
    return f"{cut:.{digits}f}×"


def report(results: dict, scale: dict | None, population: list[dict] | None, trials: int, repeats: int) -> str:
    lines = ["# trialsim benchmark: side by side with rpact and Mediana", ""]
    lines += ["Produced by `make bench` (`bench/run.py`); do not edit by hand.", ""]
    lines += machine() + [""]
    lines += [
        f"Every workload: {trials:,} simulated trials per tool, timed in {repeats} alternating rounds (a trialsim "
        f"process, best of its {TRIALSIM_CALLS} calls after a warm-up; then one peer run), the best of each tool kept, "
        "after an untimed trialsim process that fills numba's cache of compiled kernels (as any run after the first). "
        "Per core: trialsim in one process with every thread pool at one thread, timed around "
        "`trialsim.simulate()` (design, population, plan, every seed block, the per-trial tables "
        "assembled in memory, the summary); rpact and Mediana timed in R around the simulation call only "
        "(`system.time`; Mediana runs its simulations in one worker process). "
        '"Engine" is trialsim\'s seed blocks alone (patients, analyses, decisions and per-trial tables, '
        "no population, plan or storage).",
        "",
        "## Speed",
        "",
        "| Workload | peer | trialsim trials/s | peer trials/s | ratio (per core) | engine trials/s | engine ratio "
        "| target | trialsim peak MB | peer peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        ts, peer = r["trialsim"], r["peer"]
        ts_rate = trials / ts["seconds"]
        peer_rate = trials / peer["seconds"]
        engine_rate = trials / ts["engine_seconds"]
        target = TARGETS.get(name)
        met = "" if target is None else (f"≥{target:g}× {'met' if ts_rate / peer_rate >= target else 'NOT met'}")
        lines.append(
            f"| {name} | {r['peer_name']} | {ts_rate:,.0f} | {peer_rate:,.0f} | {_times(ts_rate / peer_rate)} "
            f"| {engine_rate:,.0f} | {_times(engine_rate / peer_rate)} | {met} "
            f"| {ts['peak_mb']:.0f} | {peer['peak_mb']:.0f} |"
        )
    lines += [
        "",
        'Where trialsim\'s time goes (wall-clock seconds for the workload): the seed blocks ("engine"), and the '
        "rest of `simulate()`: design, population synthesis, plan, assembling every block's per-trial tables, "
        "the summary. `bench/profile.md` has the breakdown.",
        "",
    ]
    for name, r in results.items():
        ts, peer = r["trialsim"], r["peer"]
        rest = ts["seconds"] - ts["engine_seconds"]
        line = (
            f"- {name}: `simulate()` {ts['seconds']:.2f} s = seed blocks {ts['engine_seconds']:.2f} s "
            f"+ the rest {rest:.2f} s; {r['peer_name']} {peer['seconds']:.2f} s"
        )
        if "cpu_seconds" in peer:
            line += (
                f". CPU seconds: trialsim {ts['cpu_seconds']:.2f} s (seed blocks {ts['engine_cpu_seconds']:.2f} s), "
                f"{r['peer_name']} {peer['cpu_seconds']:.2f} s: {_times(peer['cpu_seconds'] / ts['cpu_seconds'])} "
                f"(seed blocks {_times(peer['cpu_seconds'] / ts['engine_cpu_seconds'])})"
            )
        lines.append(line)
    lines += ["", "## Agreement of the operating characteristics", ""]
    lines += [
        f"Each figure of trialsim against the peer's, with the combined Monte Carlo standard error; PASS when "
        f"every |difference| ≤ {Z} SE.",
        "",
        "| Workload | figure | trialsim | peer | combined SE | z | |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        for c in r["checks"]:
            digits = 4 if "expected" not in c["what"] else 2
            lines.append(
                f"| {name} | {c['what']} | {_fmt(c['trialsim'], digits)} | {_fmt(c['peer'], digits)} "
                f"| {_fmt(c['se'], 4)} | {c['z']:+.2f} | {'ok' if c['ok'] else 'OUT'} |"
            )
    lines += [""]
    for name, r in results.items():
        lines.append(f"- {name}: {'PASS' if r['pass'] else 'FAIL'}")
    lines += ["", "## W5: 1 and 2 workers", ""]
    if scale is None:
        lines.append("W5: skipped")
    elif "error" in scale:
        lines.append(f"W5: failed: {scale['error']}")
    else:
        f = scale["figures"]
        workers = ", ".join(f"{b / 2**30:.2f}" for b in f["worker_peak_rss_bytes"])
        lines += [
            f"`bench/bench_scale.py` on `{f['design']}`: the same trials on a LocalCluster of 1 and of 2 workers "
            "(trials/s while blocks are computed, best of its repeats), beside the machine's ceiling: how much "
            "more of the same work two plain processes do than one, without Dask, measured just before.",
            "",
            "| design | workers | trials/s (blocks) | speed-up | goal | machine's ceiling |",
            "|---|---:|---:|---:|---:|---:|",
            f"| {f['design']} | 1 | {f['trials_per_second_1_worker']:,.0f} | | | |",
            f"| {f['design']} | 2 | {f['trials_per_second_2_workers']:,.0f} | {f['speedup_2_vs_1']:.2f}× "
            f"| ≥1.8× {'met' if f['speedup_2_vs_1'] >= 1.8 else 'NOT met'} | {f['machine_ceiling_2_vs_1']:.2f}× |",
            "",
            f"{f['scale_trials']:,} trials on 2 workers: {f['scale_trials_per_second']:,.0f} trials/s "
            f"computing blocks, {f['scale_trials_per_second_end_to_end']:,.0f} trials/s end to end "
            f"({f['scale_total_seconds']:.0f} s); peak memory client {f['client_peak_rss_bytes'] / 2**30:.2f} GiB, "
            f"workers {workers} GiB (goal: each under 2 GB).",
            "",
            "```",
            scale["output"],
            "```",
        ]
    lines += ["", "## W6: population build, 1,000,000 patients", ""]
    if population is None:
        lines.append("W6: skipped")
    else:
        lines += ["| spec | kind | seconds | patients/s | peak MB |", "|---|---|---:|---:|---:|"]
        for row in population:
            if "error" in row:
                lines.append(f"| {row['spec']} | {row['kind']} | failed: {row['error']} | | |")
            else:
                lines.append(
                    f"| {row['spec']} | {row['kind']} | {row['seconds']:.1f} | {row['rows'] / row['seconds']:,.0f} "
                    f"| {row['peak_mb']:.0f} |"
                )
    lines += ["", "## The workloads", ""]
    for w in WORKLOADS:
        if w.name in results:
            lines.append(f"- {w.name}: {w.title}; `bench/designs/{w.design}` against {w.peer}.")
    lines += [
        "- Same inputs on both sides: control median 8 months, HR 0.7, 600 patients accrued uniformly over 24 "
        "months, 5% dropout per 12 months per arm, 1:1; one-sided alpha 2.5%; W1 O'Brien-Fleming "
        '(rpact\'s `typeOfDesign = "OF"`, the same critical values). W3/W4: normal outcomes, SD 1.',
        "- Differences in the models that do not change the operating characteristics: rpact enrols patient i "
        "at the fixed time i·A/n and alternates arms, trialsim draws uniform entry times and permuted blocks of 2 "
        "(rpact gets A = 24·600/601 months, so its entry times are the expected values of trialsim's; see "
        "`bench/rpact_survival.R`); Mediana's t-test is Welch's, trialsim's the pooled-variance test (equal "
        "arms and SDs).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--only", default="W1,W2,W3,W4,W5,W6", help="comma-separated workloads")
    parser.add_argument("--population-size", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args(argv)
    only = {w.strip().upper() for w in args.only.split(",")}
    if shutil.which("Rscript") is None:
        print("Rscript not found: run `make bench`, which installs R, rpact and Mediana", file=sys.stderr)
        return 2

    results = {}
    failed: dict[str, str] = {}
    all_pass = True
    for w in WORKLOADS:
        if w.name not in only:
            continue
        print(f"{w.name}: {w.title}", flush=True)
        try:
            ts, peer = timed_in_turn(w, args.trials, args.repeats, args.seed)
            rate, engine = args.trials / ts["seconds"], args.trials / ts["engine_seconds"]
            print(f"  trialsim {rate:,.0f} trials/s (engine {engine:,.0f})", flush=True)
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            print(f"  failed: {exc}", flush=True)
            failed[w.name] = str(exc).strip().splitlines()[-1]
            all_pass = False
            continue
        print(f"  {w.peer} {args.trials / peer['seconds']:,.0f} trials/s", flush=True)
        checks = agreement(w, ts, peer)
        ok = all(c["ok"] for c in checks)
        all_pass &= ok
        results[w.name] = {"peer_name": w.peer, "trialsim": ts, "peer": peer, "checks": checks, "pass": ok}
        ratio = peer["seconds"] / ts["seconds"]
        print(f"  ratio {_times(ratio)}; agreement {'PASS' if ok else 'FAIL'}", flush=True)
        for c in checks:
            print(f"    {c['what']}: trialsim {c['trialsim']:.4f} peer {c['peer']:.4f} z {c['z']:+.2f}", flush=True)

    scale = None
    if "W5" in only:
        print("W5: 1 and 2 workers", flush=True)
        try:
            scale = scale_workload()
        except (RuntimeError, OSError, ValueError, StopIteration, subprocess.SubprocessError) as exc:
            scale = {"error": str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}
        print(f"  failed: {scale['error']}" if "error" in scale else scale["output"])
    population = None
    if "W6" in only:
        try:
            population = population_workload(args.population_size, args.seed)
        except (RuntimeError, OSError, ValueError, ImportError, subprocess.SubprocessError) as exc:
            population = [{"spec": "cohorts/*", "kind": "", "error": str(exc).strip().splitlines()[-1]}]
        for row in population:
            print(
                f"W6: {row['spec']} ({row['kind']}): "
                + (row["error"] if "error" in row else f"{row['seconds']:.1f} s, {row['peak_mb']:.0f} MB")
            )

    text = report(results, scale, population, args.trials, args.repeats)
    if failed:
        text += "\n## Failed workloads\n\n" + "".join(f"- {name}: FAIL ({why})\n" for name, why in failed.items())
    args.out.write_text(text)
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    for name, r in results.items():
        print(f"{name}: {'PASS' if r['pass'] else 'FAIL'}")
    for name in failed:
        print(f"{name}: FAIL (did not run)")
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
