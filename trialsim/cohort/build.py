"""Building a virtual population from a cohort spec, once: populations are cached by content.

A population is a parquet file named by the hash of what determines it: the spec's
content (as validated, so comments and layout do not count), the seed data's bytes for a
learned spec, the seed, the size and the trialsim version. Building it again with the
same four reuses the file; changing any one builds a new one. Files are written to a
temporary name and renamed, so a reader never sees half a population and two processes
building the same one at once both end with the same complete file.

The generator of a population is ``numpy.random.SeedSequence(seed, spawn_key=(0,))``
(:data:`~trialsim.cohort.population.POPULATION_KEY`), apart from every trial block's.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl

from trialsim.cohort.checks import seed_path
from trialsim.cohort.parametric import add_derived, draw_backbone, draw_covariates
from trialsim.cohort.population import POPULATION_KEY
from trialsim.cohort.spec import CohortSpec, load_cohort_spec

CACHE_ENV = "TRIALSIM_CACHE"
# Bumped when the way a spec turns into a population changes, so old cached files are not reused.
GENERATOR_REVISION = 1


def _version() -> str:
    try:
        return metadata.version("trialsim")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def default_cache_dir() -> Path:
    """``$TRIALSIM_CACHE/populations`` if set, else ``~/.cache/trialsim/populations`` (or under ``$XDG_CACHE_HOME``)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser() / "populations"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "trialsim" / "populations"


def _spec(spec_or_path: CohortSpec | str | Path) -> CohortSpec:
    return spec_or_path if isinstance(spec_or_path, CohortSpec) else load_cohort_spec(spec_or_path)


def _check_size_seed(size: int, seed: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"a population needs at least one patient; got size={size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"the seed must be a whole number >= 0; got seed={seed!r}")


def population_key(spec_or_path: CohortSpec | str | Path, size: int, seed: int) -> str:
    """The hex SHA-256 a population is cached under.

    Examples
    --------
    >>> a = population_key("cohorts/us-type2-diabetes.yaml", 1000, 1)
    >>> a == population_key("cohorts/us-type2-diabetes.yaml", 1000, 1), a == population_key(
    ...     "cohorts/us-type2-diabetes.yaml", 1000, 2)
    (True, False)
    """
    spec = _spec(spec_or_path)
    _check_size_seed(size, seed)
    content = {
        "spec": spec.model_dump(mode="json", by_alias=True),
        "size": int(size),
        "seed": int(seed),
        "trialsim": _version(),
        "revision": GENERATOR_REVISION,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=False).encode())
    path = seed_path(spec)
    if path is not None:
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def learned_seed(seed: int) -> int:
    """The integer seed a learned synthesizer gets, derived from the population's SeedSequence.

    Examples
    --------
    >>> learned_seed(1) == learned_seed(1) != learned_seed(2)
    True
    """
    # SDV seeds its own generators (numpy's legacy one, torch) from this integer.
    return int(np.random.SeedSequence(seed, spawn_key=POPULATION_KEY).generate_state(1)[0])


def _learned_columns(spec: CohortSpec, backbone: pl.DataFrame, size: int, seed: int) -> pl.DataFrame:
    from trialsim.cohort import learned as synth  # pulls in SDV: only when a spec needs it

    part = spec.learned
    assert part is not None
    path = seed_path(spec)
    assert path is not None
    try:
        seed_data = synth.load_seed_data(path)
    except (ValueError, OSError) as exc:
        raise spec.problem(("learned", "seed"), f"the seed data {part.seed!r}: {exc}") from None
    missing = [c for c in [*part.conditions, *part.columns] if c not in seed_data.columns]
    if missing:
        raise spec.problem(("learned", "columns"), f"the seed data has no column {', '.join(map(repr, missing))}")
    seed_data = seed_data.select([*part.conditions, *part.columns])
    conditions = backbone.select(part.conditions) if part.conditions else None
    max_copy_rate = spec.privacy.max_copy_rate if spec.privacy is not None else None
    try:
        out = synth.learn_population(
            seed_data,
            size=size,
            seed=learned_seed(seed),
            synthesizer=part.synthesizer,
            conditions=conditions,
            max_copy_rate=max_copy_rate,
        )
    except synth.PrivacyError as exc:
        raise spec.problem(("privacy", "max_copy_rate"), str(exc)) from None
    if out.height != size or any(c not in out.columns for c in part.columns):
        raise RuntimeError(
            f"the {part.synthesizer} synthesizer returned {out.height} rows with columns {out.columns}; "
            f"expected {size} rows with {part.columns}"
        )
    if conditions is not None and all(c in out.columns for c in part.conditions):
        # Row i of the synthetic data must be the patient whose backbone is row i.
        if not out.select(part.conditions).cast(pl.String).equals(conditions.cast(pl.String)):
            raise RuntimeError("the synthesizer's rows do not follow the conditions' rows")
    return out.select(part.columns)


def draw(spec: CohortSpec, size: int, seed: int) -> pl.DataFrame:
    """Draw a population from a spec, uncached: backbone, learned columns, covariates, derived columns.

    Examples
    --------
    >>> spec = load_cohort_spec("cohorts/us-type2-diabetes.yaml")
    >>> draw(spec, 100, seed=1).equals(draw(spec, 100, seed=1))
    True
    """
    _check_size_seed(size, seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=POPULATION_KEY))
    frame = draw_backbone(spec, size, rng)
    if spec.learned is not None:
        frame = pl.concat([frame, _learned_columns(spec, frame, size, seed)], how="horizontal")
    frame = draw_covariates(spec, frame, rng)
    return add_derived(spec, frame).select(list(spec.columns))


@dataclass(frozen=True)
class Built:
    """A population file in the cache: where, under which key, and whether it was already there."""

    path: Path
    key: str
    reused: bool


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_population_file(
    spec_or_path: CohortSpec | str | Path, size: int, seed: int, *, cache_dir: str | Path | None = None
) -> Built:
    """Make sure the population of (spec, size, seed) is in the cache, and say where it is.

    Parameters
    ----------
    spec_or_path : CohortSpec or path
        A loaded spec or the path of a spec file.
    size, seed : int
        How many patients, and the seed of their generator.
    cache_dir : path, optional
        The cache folder (default :func:`default_cache_dir`).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as cache:
    ...     first = build_population_file("cohorts/us-type2-diabetes.yaml", 100, 1, cache_dir=cache)
    ...     again = build_population_file("cohorts/us-type2-diabetes.yaml", 100, 1, cache_dir=cache)
    >>> first.reused, again.reused, first.path == again.path
    (False, True, True)
    """
    spec = _spec(spec_or_path)
    key = population_key(spec, size, seed)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"{key}.parquet"
    if path.is_file():
        try:
            pl.read_parquet_schema(path)
            return Built(path, key, reused=True)
        except Exception:  # not a parquet file any more (edited by hand, disk trouble): build it again
            pass
    _write_atomic(draw(spec, size, seed), path)
    return Built(path, key, reused=False)


def build_population(
    spec_or_path: CohortSpec | str | Path, size: int, seed: int, *, cache_dir: str | Path | None = None
) -> pl.DataFrame:
    """The population of ``size`` patients a spec gives with ``seed``, built once and then read from the cache.

    Raises
    ------
    trialsim.cohort.spec.CohortError
        For a spec with problems (``file:line:col: message`` lines), seed data the synthesizer
        cannot use, or a learned population that copies more seed rows than ``privacy`` allows.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as cache:
    ...     df = build_population("cohorts/us-type2-diabetes.yaml", 1000, 1, cache_dir=cache)
    >>> df.height, df.columns[:4]
    (1000, ['age', 'age_group', 'sex', 'race_ethnicity'])
    """
    return pl.read_parquet(build_population_file(spec_or_path, size, seed, cache_dir=cache_dir).path)
