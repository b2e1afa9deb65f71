"""Seed blocks: which trials a block holds and the generator it draws from.

Trial ``i`` of a scenario always belongs to block ``i // TRIALS_PER_BLOCK``, and a block's
generator depends only on (seed, scenario name, block index). So the same design and seed
give the same trials whatever the number of workers, the order blocks finish in, or which
scenarios were run together; and the first 1,000 trials of a 10,000-trial run are those of
a 1,000-trial run.

A block may draw from another scenario's stream: the points of a scenario grid draw from their
base scenario's (see :mod:`trialsim.design.grid`). Grid points thus share their random numbers
(common random numbers): a power curve over the grid is smooth, differences between points are
estimated far more precisely than the points themselves, and a point that changes nothing
reproduces its base scenario's trials.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

TRIALS_PER_BLOCK = 250


@dataclass(frozen=True)
class Block:
    """Trials ``first_trial .. first_trial + trials - 1`` of a scenario, seed block ``index``."""

    scenario: str
    index: int
    first_trial: int
    trials: int
    stream: str | None = None  # the name whose key seeds the block; None: the scenario's own

    @property
    def key(self) -> int:
        """The first part of the block's spawn key."""
        return scenario_key(self.stream or self.scenario)


def scenario_key(scenario: str) -> int:
    """A stable integer for a scenario name (CRC-32: the same on every machine and Python)."""
    return zlib.crc32(scenario.encode("utf-8"))


def blocks(scenario: str, trials: int, *, stream: str | None = None) -> list[Block]:
    """The seed blocks that hold trials ``0 .. trials-1`` of a scenario (drawing from ``stream``'s numbers).

    Examples
    --------
    >>> [(b.index, b.first_trial, b.trials) for b in blocks("null", 600)]
    [(0, 0, 250), (1, 250, 250), (2, 500, 100)]
    """
    if trials <= 0:
        raise ValueError(f"the number of trials must be positive, got {trials}")
    return [
        Block(scenario, i, start, min(TRIALS_PER_BLOCK, trials - start), stream)
        for i, start in enumerate(range(0, trials, TRIALS_PER_BLOCK))
    ]


def block_rng(seed: int, block: Block) -> np.random.Generator:
    """The block's generator: ``SeedSequence(seed)`` spawned at (scenario or stream key, block index)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block.key, block.index)))
