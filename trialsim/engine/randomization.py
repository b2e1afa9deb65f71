"""Treatment allocation for a block of simulated trials.

Every method returns arm indices ``0 .. A-1`` of shape ``(trials, n)`` in enrolment
order, arm ``a`` getting a share ``ratio[a] / sum(ratio)``.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Literal

import numpy as np

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


def _permuted_blocks(template: np.ndarray, trials: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``(trials, length)`` arms: consecutive blocks, each a uniform random permutation of ``template``."""
    block_size = template.size
    nblocks = -(-length // block_size)
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
    out = np.empty((trials, n), dtype=np.int8)
    for s in range(int(strata.max()) + 1):  # a handful of strata
        member = strata == s
        # slot of each patient in stratum s's sequence: earlier patients of stratum s
        slot = np.cumsum(member, axis=1) - 1
        length = int(slot[:, -1].max()) + 1
        if length == 0:
            continue
        sequence = _permuted_blocks(template, trials, length, rng)
        taken = np.take_along_axis(sequence, np.where(member, slot, 0), axis=1)
        out[member] = taken[member]
    return out
