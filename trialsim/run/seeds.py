"""Seed blocks: which trials a block holds and the generator it draws from.

Trial ``i`` of a scenario always belongs to block ``i // TRIALS_PER_BLOCK``, and a block's
generator depends only on (seed, scenario name, block index). So the same design and seed
give the same trials whatever the number of workers, the order blocks finish in, or which
scenarios were run together; and the first 1,000 trials of a 10,000-trial run are those of
a 1,000-trial run.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

TRIALS_PER_BLOCK = 250


@dataclass(frozen=True)
class Block:
    scenario: str
    index: int
    first_trial: int
    trials: int


def scenario_key(scenario: str) -> int:
    """A stable integer for a scenario name (CRC-32: the same on every machine and Python)."""
    return zlib.crc32(scenario.encode("utf-8"))


def blocks(scenario: str, trials: int) -> list[Block]:
    """The seed blocks that hold trials ``0 .. trials-1`` of a scenario.

    Examples
    --------
    >>> [(b.index, b.first_trial, b.trials) for b in blocks("null", 600)]
    [(0, 0, 250), (1, 250, 250), (2, 500, 100)]
    """
    if trials <= 0:
        raise ValueError(f"the number of trials must be positive, got {trials}")
    return [
        Block(scenario, i, start, min(TRIALS_PER_BLOCK, trials - start))
        for i, start in enumerate(range(0, trials, TRIALS_PER_BLOCK))
    ]


def block_rng(seed: int, block: Block) -> np.random.Generator:
    """The block's generator: ``SeedSequence(seed)`` spawned at (scenario, block index)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(scenario_key(block.scenario), block.index)))
