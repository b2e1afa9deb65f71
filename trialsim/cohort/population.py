"""The population a design's trials draw their patients from, and its digest.

Both are remembered in the process: a notebook or a benchmark simulating one design again and again
would otherwise draw the built-in population (about 50 ms for 10^5 people) and hash its bytes (about
8 ms) every time, which is as much as the simulation of a thousand trials.
"""

from __future__ import annotations

import functools
import hashlib
import io
import weakref
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

    ``builtin`` is synthesised from ``seed``, once per process for each seed and size (the same
    frame is returned each time: nothing here changes a polars frame in place); a cohort spec (a
    name in ``cohorts/`` or a ``.yaml`` path) is built from ``seed`` through the population cache
    (see :func:`trialsim.cohort.build.build_population`); a ``.parquet`` or ``.csv`` path
    (relative to ``base``, the design's folder) is read as it is.

    Examples
    --------
    >>> load_population("builtin", Path("."), seed=1, size=10).height
    10
    """
    ref = resolve_cohort(reference, base)
    if ref.kind == "builtin":
        return _builtin(seed, size)
    assert ref.path is not None
    if ref.kind == "table":
        return pl.read_parquet(ref.path) if ref.path.suffix == ".parquet" else pl.read_csv(ref.path)
    from trialsim.cohort.build import build_population

    return build_population(ref.path, size, seed)


@functools.lru_cache(maxsize=4)
def _builtin(seed: int, size: int) -> pl.DataFrame:
    """The built-in population of a seed and size (a few MB each: a handful are kept)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=POPULATION_KEY))
    return builtin_population(size, rng)


# id(frame) -> (a weak reference to the frame, its digest); an entry goes when its frame does.
_DIGESTS: dict[int, tuple[weakref.ref, str]] = {}


def population_digest(population: pl.DataFrame) -> str:
    """SHA-256 of a population's Arrow IPC bytes: a changed cohort file changes every scenario's hash.

    Remembered for as long as the frame lives, so the built-in population of a seed is hashed once.

    Examples
    --------
    >>> frame = load_population("builtin", Path("."), seed=1, size=10)
    >>> population_digest(frame) == population_digest(frame.clone()) and len(population_digest(frame))
    64
    """
    key = id(population)
    known = _DIGESTS.get(key)
    if known is not None and known[0]() is population:
        return known[1]
    buffer = io.BytesIO()
    population.write_ipc(buffer, compression="uncompressed")
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    _DIGESTS[key] = (weakref.ref(population, lambda _, key=key: _DIGESTS.pop(key, None)), digest)
    return digest
