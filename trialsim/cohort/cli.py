"""``trialsim cohort ...``: build, check and describe virtual populations from cohort specs.

Registered under the main command line as ``trialsim cohort``; usable on its own as
``cohort_app`` (e.g. ``typer.testing.CliRunner().invoke(cohort_app, ["build", ...])``).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from trialsim.cohort.population import DEFAULT_SIZE
from trialsim.cohort.reference import SPEC_SUFFIXES, TABLE_SUFFIXES, resolve_cohort
from trialsim.console import check_files, emit_text
from trialsim.design.source import SourceError

cohort_app = typer.Typer(
    help="Virtual populations from cohort specs (cohorts/*.yaml): build, validate, report, schema.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SpecArg = Annotated[
    str,
    typer.Argument(help="A cohort spec: a path to a .yaml file, or a name in ./cohorts/.", show_default=False),
]
Size = Annotated[int, typer.Option(help="Number of virtual patients.")]
Seed = Annotated[int, typer.Option(help="Seed of the population's generator.")]
CacheDir = Annotated[
    Path | None, typer.Option(help="Population cache folder (default: $TRIALSIM_CACHE/populations or ~/.cache).")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _spec_path(spec: str) -> Path:
    try:
        ref = resolve_cohort(spec, Path.cwd())
    except ValueError as exc:
        raise _fail(f"error: {exc}") from None
    if ref.kind != "spec":
        raise _fail(f"error: {spec!r} is not a cohort spec (a .yaml file or a name in cohorts/)")
    assert ref.path is not None
    return ref.path


@cohort_app.command()
def build(
    spec: SpecArg,
    size: Size = DEFAULT_SIZE,
    seed: Seed = 0,
    out: Annotated[Path | None, typer.Option(help="Also write the population to this .parquet file.")] = None,
    cache_dir: CacheDir = None,
) -> None:
    """Build a population (or reuse it from the cache) and optionally copy it to --out."""
    from trialsim.cohort.build import build_population_file

    if out is not None and out.suffix != ".parquet":
        raise _fail(f"error: --out must end in .parquet, got {str(out)!r}")
    path = _spec_path(spec)
    start = time.perf_counter()
    try:
        built = build_population_file(path, size, seed, cache_dir=cache_dir)
    except SourceError as exc:
        raise _fail(str(exc)) from None
    except (ValueError, OSError) as exc:
        raise _fail(f"error: {exc}") from None
    how = "reused from the cache" if built.reused else f"built in {time.perf_counter() - start:.1f} s"
    columns = pl.read_parquet_schema(built.path)
    typer.echo(f"{path}: {size} patients, {len(columns)} columns ({', '.join(columns)}); {how}: {built.path}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(built.path, tmp)
        tmp.replace(out)
        typer.echo(f"wrote {out}")


@cohort_app.command()
def validate(
    files: Annotated[list[str], typer.Argument(help="Cohort spec files (YAML).", show_default=False)],
) -> None:
    """Check cohort specs; print FILE:LINE:COL: message for every problem (exit 2 if any)."""
    from trialsim.cohort.spec import CohortError, load_cohort_spec

    def ok(spec) -> str:
        return f"{spec.name}, {len(spec.columns)} columns: {', '.join(spec.columns)}"

    check_files(files, load_cohort_spec, CohortError, ok)


@cohort_app.command()
def schema(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output.")] = None,
) -> None:
    """Print the JSON Schema of the cohort spec format (for editors' completion)."""
    from trialsim.cohort.schema import cohort_schema

    emit_text(json.dumps(cohort_schema(), indent=2) + "\n", out)


def column_summaries(frame: pl.DataFrame) -> dict[str, Any]:
    """Per column: mean, sd and quartiles of a numeric column, shares of the levels of any other.

    Examples
    --------
    >>> column_summaries(pl.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "b"]}))["s"]
    {'kind': 'categorical', 'missing': 0, 'shares': {'b': 0.6667, 'a': 0.3333}}
    """
    out: dict[str, Any] = {}
    for name in frame.columns:
        column = frame[name]
        missing = column.null_count()
        if column.dtype.is_numeric():
            x = column.drop_nulls().cast(pl.Float64)
            stats = {"mean": x.mean(), "sd": x.std(), "min": x.min(), "q25": x.quantile(0.25), "median": x.median()}
            stats |= {"q75": x.quantile(0.75), "max": x.max()}
            out[name] = {"kind": "number", "missing": missing} | {
                k: None if v is None else round(float(v), 4) for k, v in stats.items()
            }
        else:
            counts = column.drop_nulls().cast(pl.String).value_counts(sort=True)
            total = max(1, counts["count"].sum())
            shares = {str(k): round(c / total, 4) for k, c in zip(counts[name], counts["count"], strict=True)}
            out[name] = {"kind": "categorical", "missing": missing, "shares": shares}
    return out


@cohort_app.command()
def report(
    target: Annotated[
        str, typer.Argument(help="A cohort spec (.yaml or a name) or a population (.parquet/.csv).", show_default=False)
    ],
    size: Size = DEFAULT_SIZE,
    seed: Seed = 0,
    cache_dir: CacheDir = None,
) -> None:
    """Describe a population as JSON: column summaries; for a spec, the backbone's target shares;
    for a learned spec, the synthesizer's fidelity to its seed data.
    """
    suffix = Path(target).suffix
    if suffix in TABLE_SUFFIXES:
        path = Path(target)
        if not path.is_file():
            raise _fail(f"error: no such file {target!r}")
        frame = pl.read_parquet(path) if suffix == ".parquet" else pl.read_csv(path)
        typer.echo(json.dumps({"file": target, "rows": frame.height, "columns": column_summaries(frame)}, indent=2))
        return
    if suffix and suffix not in SPEC_SUFFIXES:
        raise _fail(f"error: report takes a cohort spec (.yaml) or a population (.parquet, .csv); got {target!r}")
    from trialsim.cohort.build import build_population
    from trialsim.cohort.checks import seed_path
    from trialsim.cohort.parametric import backbone_table
    from trialsim.cohort.spec import load_cohort_spec

    path = _spec_path(target)
    try:
        spec = load_cohort_spec(path)
        frame = build_population(spec, size, seed, cache_dir=cache_dir)
    except SourceError as exc:
        raise _fail(str(exc)) from None
    except (ValueError, OSError) as exc:
        raise _fail(f"error: {exc}") from None
    table = backbone_table(spec)
    backbone = {}
    for column in table.columns:
        observed = frame[column].value_counts()
        counts = dict(zip(observed[column].to_list(), observed["count"].to_list(), strict=True))
        backbone[column] = {
            level: {"target": round(share, 4), "observed": round(counts.get(level, 0) / frame.height, 4)}
            for level, share in table.marginal(column).items()
        }
    result: dict[str, Any] = {
        "spec": str(path),
        "name": spec.name,
        "size": size,
        "seed": seed,
        "backbone": backbone,
        "columns": column_summaries(frame),
    }
    if spec.learned is not None:
        from trialsim.cohort import learned

        seed_file = seed_path(spec)
        assert seed_file is not None
        seed_data = learned.load_seed_data(seed_file)
        wanted = [*spec.learned.conditions, *spec.learned.columns]
        result["fidelity"] = learned.fidelity_report(
            seed_data.select(wanted),
            frame.select(wanted),
            group_columns=list(spec.learned.conditions),
            synthesizer=spec.learned.synthesizer,  # the distance checks refit the same kind of synthesizer
            seed=seed,
        )
    typer.echo(json.dumps(result, indent=2, default=str))
