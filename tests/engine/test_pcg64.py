"""numpy's PCG64 stepped in compiled loops (trialsim.engine.pcg64) draws numpy's numbers, bit for bit.

The reference is numpy itself (``Generator.integers``, ``Generator.standard_exponential``) on a
generator with the same seed; after each draw, both generators must also carry on alike (the
state written back, the buffered 32-bit half included).
"""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.engine import draws, pcg64


def _carry_on_alike(ours: np.random.Generator, numpy: np.random.Generator) -> None:
    # integers below 2**32 take the buffered half first; random() takes a whole 64-bit output
    assert np.array_equal(ours.integers(0, 10, 5), numpy.integers(0, 10, 5))
    assert np.array_equal(ours.random(3), numpy.random(3))


@pytest.mark.parametrize("high", [1, 2, 3, 7, 600, 100_000, 2**31 + 1, 2**32 - 1, 2**32, 2**32 + 1, 2**40])
@pytest.mark.parametrize("size", [(1,), (7,), (3, 250)])
def test_integers_are_numpys(high: int, size: tuple[int, ...]) -> None:
    ours, numpy = np.random.default_rng(11), np.random.default_rng(11)
    ours.random()  # start somewhere other than a fresh state
    numpy.random()
    a = pcg64.integers(ours, high, size)
    b = numpy.integers(0, high, size)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b)
    _carry_on_alike(ours, numpy)


def test_integers_after_numpy_left_a_half_in_the_buffer() -> None:
    ours, numpy = np.random.default_rng(4), np.random.default_rng(4)
    ours.integers(0, 100, 3)  # an odd count of 32-bit draws: half an output kept
    numpy.integers(0, 100, 3)
    assert ours.bit_generator.state["has_uint32"] == 1
    assert np.array_equal(pcg64.integers(ours, 1000, (5,)), numpy.integers(0, 1000, 5))
    _carry_on_alike(ours, numpy)


def test_lemire_rejections_are_numpys() -> None:
    # A bound just past 2**31 rejects almost half the draws: the rejection loop is exercised.
    ours, numpy = np.random.default_rng(8), np.random.default_rng(8)
    high = 2**31 + 12345
    a = pcg64.integers(ours, high, (20_000,))
    assert np.array_equal(a, numpy.integers(0, high, 20_000))
    _carry_on_alike(ours, numpy)


def test_exponentials_are_numpys_tails_included() -> None:
    # 10**6 draws take the ziggurat's slow paths (about 1 in 100) and its tail (idx 0) many times.
    ours, numpy = np.random.default_rng(21), np.random.default_rng(21)
    arm = np.zeros((4, 250_000), dtype=np.int8)
    e = draws.exponential_by_arm(np.ones(1), 1.0, arm, ours)
    reference = numpy.standard_exponential((4, 250_000))
    assert np.array_equal(e, reference)
    assert reference.max() > 7.7  # past the ziggurat's last layer, r = 7.697...
    _carry_on_alike(ours, numpy)


def test_other_bit_generators_are_left_to_numpy() -> None:
    sfc = np.random.Generator(np.random.SFC64(2))
    assert not pcg64.supports(sfc)
    assert np.array_equal(pcg64.integers(sfc, 50, (9,)), np.random.Generator(np.random.SFC64(2)).integers(0, 50, 9))
    with pytest.raises(TypeError, match="PCG64 is needed, not SFC64"):
        with pcg64.stream(sfc):
            pass
