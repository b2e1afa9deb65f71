"""Tests for trialsim.engine.randomization.

Monte Carlo checks compare sample proportions with the allocation ratio within 3.5
standard errors; the seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.engine.randomization import randomize

Z = 3.5


def within(observed: float, expected: float, se: float) -> bool:
    return abs(observed - expected) < Z * se


def stratum_sequences(arms: np.ndarray, strata: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Arms of stratum s's patients in enrolment order, left-aligned per trial (-1 pads), and their counts.

    Built independently of the implementation: a stable sort moves stratum s's patients
    to the front of each row without changing their order.
    """
    member = strata == s
    order = np.argsort(~member, axis=1, kind="stable")
    seq = np.take_along_axis(np.where(member, arms, -1), order, axis=1)
    return seq, member.sum(axis=1)


# --------------------------------------------------------------------------------------
# simple
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [(1, 1), (2, 1), (1, 2, 3)])
def test_simple_proportions(ratio):
    trials, n = 2_000, 100
    arms = randomize(ratio, n, trials, np.random.default_rng(21), method="simple")
    assert arms.shape == (trials, n) and arms.dtype == np.int8
    p = np.asarray(ratio) / sum(ratio)
    counts = np.stack([(arms == a).sum(axis=1) for a in range(len(ratio))], axis=1)
    assert np.all(counts.sum(axis=1) == n)
    for a in range(len(ratio)):
        share = counts[:, a].sum() / (trials * n)
        assert within(share, p[a], np.sqrt(p[a] * (1 - p[a]) / (trials * n)))
        # per trial the count is Binomial(n, p): its variance n p (1 - p); s^2 has
        # var ~ (mu_4 - sigma^4) / trials with mu_4 = n p q (1 + 3 (n - 2) p q)
        var = n * p[a] * (1 - p[a])
        mu4 = var * (1 + 3 * (n - 2) * p[a] * (1 - p[a]))
        assert within(counts[:, a].var(ddof=1), var, np.sqrt((mu4 - var**2) / trials))


def test_simple_patients_are_independent():
    # a permuted block would make neighbours negatively correlated; simple draws do not
    arms = randomize((1, 1), 2, 50_000, np.random.default_rng(22), method="simple")
    both = np.mean((arms[:, 0] == 1) & (arms[:, 1] == 1))
    assert within(both, 0.25, np.sqrt(0.25 * 0.75 / 50_000))


# --------------------------------------------------------------------------------------
# permuted_block
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio, block_size", [((1, 1), 4), ((1, 1), None), ((2, 1), 6), ((1, 2, 1), 8), ((1, 1), 2)])
def test_permuted_blocks_hold_the_ratio(ratio, block_size):
    trials, n = 500, 101
    arms = randomize(ratio, n, trials, np.random.default_rng(23), method="permuted_block", block_size=block_size)
    assert arms.shape == (trials, n) and arms.dtype == np.int8
    size = block_size or 2 * sum(ratio)
    complete = n // size
    blocks = arms[:, : complete * size].reshape(trials, complete, size)
    for a, r in enumerate(ratio):
        assert np.all((blocks == a).sum(axis=2) == r * size // sum(ratio))
    # the incomplete last block never holds more of an arm than a full block would
    tail = arms[:, complete * size :]
    for a, r in enumerate(ratio):
        assert np.all((tail == a).sum(axis=1) <= r * size // sum(ratio))


def test_permuted_block_positions_are_uniform():
    # every position of a block is equally likely to hold each arm: P(arm 0) = 2/3 for 2:1
    trials = 20_000
    arms = randomize((2, 1), 6, trials, np.random.default_rng(24), method="permuted_block", block_size=6)
    share = (arms == 0).mean(axis=0)
    assert np.all(np.abs(share - 2 / 3) < Z * np.sqrt(2 / 9 / trials))
    # and every one of the C(6, 2) = 15 placements of the two arm-1 slots is equally likely
    code = (arms == 1).astype(int) @ (2 ** np.arange(6))
    freq = np.bincount(code, minlength=64)
    used = freq[freq > 0]
    assert used.size == 15
    assert np.all(np.abs(used / trials - 1 / 15) < Z * np.sqrt((1 / 15) * (14 / 15) / trials))


# --------------------------------------------------------------------------------------
# stratified
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio, block_size", [((1, 1), 4), ((1, 1), 2), ((2, 1), 6)])
def test_stratified_blocks_within_each_stratum(ratio, block_size):
    trials, n = 300, 150
    rng = np.random.default_rng(25)
    strata = rng.choice(4, size=(trials, n), p=[0.5, 0.3, 0.15, 0.05])
    arms = randomize(ratio, n, trials, rng, method="stratified", block_size=block_size, strata=strata)
    assert arms.shape == (trials, n) and arms.dtype == np.int8
    total = sum(ratio)
    for s in range(4):
        seq, count = stratum_sequences(arms, strata, s)
        complete = count // block_size
        width = (n // block_size) * block_size
        blocks = seq[:, :width].reshape(trials, -1, block_size)
        is_complete = np.arange(blocks.shape[1]) < complete[:, None]
        for a, r in enumerate(ratio):
            held = (blocks == a).sum(axis=2)
            assert np.all(held[is_complete] == r * block_size // total)
        if ratio == (1, 1):
            # running imbalance within the stratum never exceeds half a block
            imbalance = np.cumsum(np.where(seq == 0, 1, np.where(seq == 1, -1, 0)), axis=1)
            assert np.abs(imbalance).max() <= block_size // 2
            assert np.abs(imbalance).max() == block_size // 2  # and is reached (a sanity check)


def test_stratified_is_balanced_where_simple_is_not():
    trials, n = 2_000, 60
    rng = np.random.default_rng(26)
    strata = rng.integers(0, 2, size=(trials, n))
    arms = randomize((1, 1), n, trials, rng, method="stratified", block_size=4, strata=strata)
    for s in range(2):
        member = strata == s
        diff = ((arms == 0) & member).sum(axis=1) - ((arms == 1) & member).sum(axis=1)
        assert np.abs(diff).max() <= 2
    # each stratum's sequence is a fresh permutation: the first patient of stratum 1 is
    # equally likely to get either arm, whatever stratum 0 got
    first = np.argmax(strata == 1, axis=1)
    got = arms[np.arange(trials), first]
    assert within(np.mean(got == 0), 0.5, np.sqrt(0.25 / trials))


def test_stratified_single_stratum_equals_permuted_block_law():
    # one stratum: each complete block holds the ratio, like permuted_block
    trials, n = 1_000, 24
    strata = np.zeros((trials, n), dtype=int)
    arms = randomize((1, 1), n, trials, np.random.default_rng(27), method="stratified", strata=strata)
    blocks = arms.reshape(trials, -1, 4)
    assert np.all((blocks == 0).sum(axis=2) == 2)


# --------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------
def test_invalid_arguments():
    rng = np.random.default_rng(0)
    strata = np.zeros((2, 10), dtype=int)
    with pytest.raises(ValueError, match="multiple of the ratio's total 2"):
        randomize((1, 1), 10, 2, rng, method="permuted_block", block_size=3)
    with pytest.raises(ValueError, match="multiple of the ratio's total 3"):
        randomize((2, 1), 10, 2, rng, method="stratified", block_size=4, strata=strata)
    with pytest.raises(ValueError, match="block_size"):
        randomize((1, 1), 10, 2, rng, method="permuted_block", block_size=0)
    with pytest.raises(ValueError, match="not simple"):
        randomize((1, 1), 10, 2, rng, method="simple", block_size=4)
    with pytest.raises(ValueError, match="needs strata"):
        randomize((1, 1), 10, 2, rng, method="stratified")
    with pytest.raises(ValueError, match="use method='stratified'"):
        randomize((1, 1), 10, 2, rng, method="permuted_block", strata=strata)
    with pytest.raises(ValueError, match="shape"):
        randomize((1, 1), 10, 3, rng, method="stratified", strata=strata)
    with pytest.raises(ValueError, match="integer codes"):
        randomize((1, 1), 10, 2, rng, method="stratified", strata=strata.astype(float))
    with pytest.raises(ValueError, match=">= 0"):
        randomize((1, 1), 10, 2, rng, method="stratified", strata=strata - 1)
    with pytest.raises(ValueError, match="ratio"):
        randomize((1, 0), 10, 2, rng, method="simple")
    with pytest.raises(ValueError, match="unknown randomization method"):
        randomize((1, 1), 10, 2, rng, method="minimisation")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ratio", "block_size", "n"),
    [((1, 1), 2, 600), ((1, 1), 4, 50), ((1, 3), 8, 37), ((1, 2), 6, 100), ((1, 1, 1), 3, 31)],
)
def test_permuted_blocks_compiled_draw_numpys_picks(ratio, block_size, n):
    # On PCG64 the picks are drawn by trialsim.engine.pcg64: the numbers of rng.integers, the same arms.
    from trialsim.engine.randomization import _arrangements

    template = np.repeat(np.arange(len(ratio), dtype=np.int8), np.asarray(ratio) * (block_size // sum(ratio)))
    table = _arrangements(tuple(int(a) for a in template))
    ours, numpy = np.random.default_rng(3), np.random.default_rng(3)
    arms = randomize(ratio, n=n, trials=40, rng=ours, method="permuted_block", block_size=block_size)
    picks = numpy.integers(0, len(table), size=(40, -(-n // block_size)))
    expected = np.take(table, picks, axis=0).reshape(40, -1)[:, :n]
    np.testing.assert_array_equal(arms, expected)
    assert ours.integers(0, 1000) == numpy.integers(0, 1000)  # the generator carries on alike
