"""Treatment allocation for a block of simulated trials.

Every method returns arm indices ``0 .. A-1`` of shape ``(trials, n)`` in enrolment
order, arm ``a`` getting a share ``ratio[a] / sum(ratio)``.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from typing import Literal

import numba as nb
import numpy as np

from trialsim.engine import pcg64

__all__ = ["randomize"]

Method = Literal["simple", "permuted_block", "stratified"]
METHODS: tuple[str, ...] = ("simple", "permuted_block", "stratified")


def _positive_int(value: int, what: str) -> int:
    try:
        out = operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None
    if out < 1:
        raise ValueError(f"{what} must be at least 1, got {out}")
    return out


# Templates with at most this many distinct arrangements draw one of them per block.
_MAX_ARRANGEMENTS = 4096


@functools.lru_cache(maxsize=64)
def _arrangements(template: tuple[int, ...]) -> np.ndarray | None:
    """Every distinct ordering of ``template`` (a multiset of arms), ``(count, size)`` int8; None if too many.

    A uniformly random permutation of the template makes each distinct ordering equally likely
    (each is reached by the same number, prod(count_a!), of permutations), so drawing an ordering
    uniformly from this list is the same law as permuting the template.
    """
    counts = np.bincount(np.asarray(template, dtype=np.int64))
    total = math.factorial(len(template))
    for c in counts:
        total //= math.factorial(int(c))
    if total > _MAX_ARRANGEMENTS:
        return None
    out: list[tuple[int, ...]] = []
    remaining = counts.tolist()
    prefix: list[int] = []

    def extend() -> None:
        if len(prefix) == len(template):
            out.append(tuple(prefix))
            return
        for arm, left in enumerate(remaining):
            if left:
                remaining[arm] -= 1
                prefix.append(arm)
                extend()
                prefix.pop()
                remaining[arm] += 1

    extend()
    return np.array(out, dtype=np.int8)


def _permuted_blocks(template: np.ndarray, trials: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``(trials, length)`` arms: consecutive blocks, each a uniform random permutation of ``template``."""
    block_size = template.size
    nblocks = -(-length // block_size)
    arrangements = _arrangements(tuple(int(a) for a in template))
    if arrangements is not None:
        # one of the template's distinct orderings per block, uniformly
        pick = pcg64.integers(rng, len(arrangements), (trials, nblocks))  # rng.integers' numbers
        return np.take(arrangements, pick, axis=0).reshape(trials, nblocks * block_size)[:, :length]
    # argsort of iid uniform keys is a uniformly random permutation of each block
    # (ties have probability ~ block_size^2 / 2^53 and only reorder equal keys)
    order = np.argsort(rng.random((trials, nblocks, block_size)), axis=-1)
    return template[order].reshape(trials, nblocks * block_size)[:, :length]


def randomize(
    ratio: Sequence[int],
    n: int,
    trials: int,
    rng: np.random.Generator,
    *,
    method: Method,
    block_size: int | None = None,
    strata: np.ndarray | None = None,
) -> np.ndarray:
    """Arm of each patient, in enrolment order, for every trial in a block.

    Parameters
    ----------
    ratio : sequence of int
        Allocation ratio, one positive integer per arm, e.g. ``(1, 1)`` or ``(1, 2)``.
    n : int
        Patients per trial.
    trials : int
        Number of trials in the block.
    rng : numpy.random.Generator
        Source of randomness.
    method : {"simple", "permuted_block", "stratified"}
        ``"simple"``: independent draws, arm a with probability ``ratio[a] / sum(ratio)``.
        ``"permuted_block"``: consecutive blocks of ``block_size`` patients, each a
        uniformly random permutation of a template holding
        ``ratio[a] * block_size / sum(ratio)`` patients of arm a.
        ``"stratified"``: a separate permuted-block sequence for every stratum; a patient
        takes the next unused slot of their stratum's sequence.
    block_size : int, optional
        Block length, a multiple of ``sum(ratio)``; default ``2 * sum(ratio)``. Not
        allowed with ``"simple"``.
    strata : numpy.ndarray, optional
        Integer stratum codes ``0 .. S-1`` of shape ``(trials, n)``; required for
        (and only for) ``"stratified"``.

    Returns
    -------
    numpy.ndarray
        ``int8`` arm indices ``0 .. A-1``, shape ``(trials, n)``.

    Notes
    -----
    Stratified: patient j of a trial, in stratum s, takes slot ``r_j`` of stratum s's
    sequence, where ``r_j = #{i < j : stratum_i = s}`` (a running count of earlier
    patients of that stratum, a cumulative sum of its indicator). Within every stratum
    each complete block keeps the ratio exactly, so for 1:1 the imbalance
    ``|n_A - n_B|`` never exceeds ``block_size / 2`` in any stratum.

    Examples
    --------
    >>> import numpy as np
    >>> from trialsim.engine.randomization import randomize
    >>> arms = randomize((1, 2), n=12, trials=3, rng=np.random.default_rng(0), method="permuted_block", block_size=6)
    >>> arms.dtype, arms.shape, np.bincount(arms.ravel()).tolist()
    (dtype('int8'), (3, 12), [12, 24])
    """
    if method not in METHODS:
        raise ValueError(f"unknown randomization method {method!r}; use one of {METHODS}")
    counts = [_positive_int(r, "every ratio entry") for r in ratio]
    if not counts:
        raise ValueError("ratio needs at least one arm")
    if len(counts) > np.iinfo(np.int8).max:
        raise ValueError(f"at most {np.iinfo(np.int8).max} arms, got {len(counts)}")
    n = _positive_int(n, "n (patients per trial)")
    trials = _positive_int(trials, "trials")
    total = sum(counts)

    if method == "simple":
        if block_size is not None:
            raise ValueError("block_size applies to permuted_block or stratified, not simple")
        if strata is not None:
            raise ValueError("strata need method='stratified'")
        p = np.asarray(counts, dtype=float) / total
        return rng.choice(len(counts), size=(trials, n), p=p).astype(np.int8)

    if block_size is None:
        block_size = 2 * total
    block_size = _positive_int(block_size, "block_size")
    if block_size % total:
        raise ValueError(
            f"block_size {block_size} must be a multiple of the ratio's total {total} so every block keeps the ratio"
        )
    per_arm = np.asarray(counts) * (block_size // total)
    template = np.repeat(np.arange(len(counts), dtype=np.int8), per_arm)

    if method == "permuted_block":
        if strata is not None:
            raise ValueError("strata are given: use method='stratified'")
        return _permuted_blocks(template, trials, n, rng)

    if strata is None:
        raise ValueError("method='stratified' needs strata, integer codes of shape (trials, n)")
    strata = np.asarray(strata)
    if strata.shape != (trials, n):
        raise ValueError(f"strata must have shape (trials, n) = {(trials, n)}, got {strata.shape}")
    if not np.issubdtype(strata.dtype, np.integer):
        raise ValueError(f"strata must hold integer codes, got dtype {strata.dtype}")
    if strata.min() < 0:
        raise ValueError("stratum codes must be >= 0")
    n_strata = int(strata.max()) + 1  # a handful of strata
    codes = np.ascontiguousarray(strata, dtype=np.int64)
    # Stratum s's sequence is as long as its largest count over the trials (nothing is drawn for an
    # empty stratum); the sequences are drawn stratum by stratum, in that order.
    longest = _stratum_counts(codes, n_strata).max(axis=0)
    sequences = np.zeros((n_strata, trials, max(int(longest.max()), 1)), dtype=np.int8)
    for s in range(n_strata):
        if longest[s]:
            sequences[s, :, : longest[s]] = _permuted_blocks(template, trials, int(longest[s]), rng)
    out = np.empty((trials, n), dtype=np.int8)
    _take_slots(codes, sequences, out)
    return out


@nb.njit(cache=True, nogil=True)
def _stratum_counts(strata, n_strata):  # pragma: no cover - compiled
    """Patients of each stratum in each trial: (trials, S)."""
    trials, n = strata.shape
    counts = np.zeros((trials, n_strata), dtype=np.int64)
    for b in range(trials):
        for i in range(n):
            counts[b, strata[b, i]] += 1
    return counts


@nb.njit(cache=True, nogil=True)
def _take_slots(strata, sequences, out):  # pragma: no cover - compiled
    """Patient j of a trial, in stratum s, takes the next unused slot of stratum s's sequence."""
    trials, n = strata.shape
    slot = np.zeros(sequences.shape[0], dtype=np.int64)
    for b in range(trials):
        slot[:] = 0
        for i in range(n):
            s = strata[b, i]
            out[b, i] = sequences[s, b, slot[s]]
            slot[s] += 1
