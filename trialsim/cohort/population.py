"""The population a design's trials draw their patients from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from trialsim.cohort.builtin import builtin_population
from trialsim.cohort.reference import resolve_cohort

# Trials draw patients with replacement from this many virtual people.
DEFAULT_SIZE = 100_000
# The population's generator is spawned apart from every trial block's (those use two-part keys).
POPULATION_KEY = (0,)


def load_population(reference: str, base: Path, *, seed: int, size: int = DEFAULT_SIZE) -> pl.DataFrame:
    """The population named by a design's ``population.cohort``.

    ``builtin`` is synthesised from ``seed``; a cohort spec (a name in ``cohorts/`` or a
    ``.yaml`` path) is built from ``seed`` through the population cache (see
    :func:`trialsim.cohort.build.build_population`); a ``.parquet`` or ``.csv`` path
    (relative to ``base``, the design's folder) is read as it is.

    Examples
    --------
    >>> load_population("builtin", Path("."), seed=1, size=10).height
    10
    """
    ref = resolve_cohort(reference, base)
    if ref.kind == "builtin":
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=POPULATION_KEY))
        return builtin_population(size, rng)
    assert ref.path is not None
    if ref.kind == "table":
        return pl.read_parquet(ref.path) if ref.path.suffix == ".parquet" else pl.read_csv(ref.path)
    from trialsim.cohort.build import build_population

    return build_population(ref.path, size, seed)
