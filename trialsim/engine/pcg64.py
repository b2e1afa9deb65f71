"""numpy's PCG64 stream stepped inside compiled loops: the same numbers, without a call per number.

numba's ``Generator`` methods reach the bit generator through a function pointer for every
number, and the generator's state goes through memory each time; numpy's own
``Generator.integers`` costs 2-4 ns a number here. The kernels of trialsim keep the
128-bit state in registers instead and apply numpy's algorithms to its output, so they draw
exactly the numbers numpy would, in the same order:

- the step (O'Neill 2014, numpy's ``pcg64.h``): ``state = state * M + inc`` modulo 2**128,
  output ``rotr64(high ^ low, high >> 58)`` of the new state;
- exponentials: numpy's ziggurat, as translated by ``numba.np.random`` (whose tables it uses);
- integers below 2**32: Lemire's multiply-and-reject on 32-bit halves of the output, the half
  left over kept for the next one (numpy's ``has_uint32`` buffer).

A kernel works on the state read from the generator (:func:`stream`), which is written back
when it is done, so numpy's own draws carry on from there. ``tests/engine/test_pcg64.py``
checks each against numpy's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from numba.np.random._constants import fe_double, ke_double, we_double, ziggurat_exp_r

__all__ = ["integers", "stream", "supports"]

_MULTIPLIER = (2549297995355413924 << 64) | 4865540595714422341  # PCG's default 128-bit multiplier
_MASK64 = (1 << 64) - 1
# The state as the kernels take it: the state's high and low words, the increment's, numpy's
# has_uint32 flag and the 32-bit half it keeps.
HI, LO, INC_HI, INC_LO, HAS32, HALF = range(6)

# numpy's ziggurat tables, as module constants so numba compiles them in (numba keeps a copy in a
# private module; tests/engine/test_pcg64.py would catch a change, tails included).
_WE = np.asarray(we_double, dtype=np.float64)
_KE = np.asarray(ke_double, dtype=np.uint64)
_FE = np.asarray(fe_double, dtype=np.float64)
_EXP_R = float(ziggurat_exp_r)


def supports(rng: np.random.Generator) -> bool:
    """Whether ``rng`` is a numpy ``Generator`` on PCG64 (numpy's default), which these kernels step.

    Examples
    --------
    >>> supports(np.random.default_rng(0)), supports(np.random.Generator(np.random.SFC64(0)))
    (True, False)
    """
    return isinstance(rng, np.random.Generator) and type(rng.bit_generator) is np.random.PCG64


@contextmanager
def stream(rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The state of ``rng`` (uint64, 6 words) for the kernels, written back to ``rng`` after the block.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> with stream(rng) as state:
    ...     state[HAS32] = 1  # as if a kernel had kept a 32-bit half, 7
    ...     state[HALF] = 7
    >>> rng.bit_generator.state["has_uint32"], rng.bit_generator.state["uinteger"]
    (1, 7)
    """
    if not supports(rng):
        kind = type(getattr(rng, "bit_generator", rng)).__name__
        raise TypeError(f"a numpy Generator on PCG64 is needed, not {kind}")
    full = rng.bit_generator.state
    value, inc = full["state"]["state"], full["state"]["inc"]
    state = np.array(
        [value >> 64, value & _MASK64, inc >> 64, inc & _MASK64, full["has_uint32"], full["uinteger"]], dtype=np.uint64
    )  # fmt: skip
    yield state
    full["state"]["state"] = (int(state[HI]) << 64) | int(state[LO])
    full["has_uint32"], full["uinteger"] = int(state[HAS32]), int(state[HALF])
    rng.bit_generator.state = full


def integers(
    rng: np.random.Generator, high: int, size: tuple[int, ...], *, out: np.ndarray | None = None
) -> np.ndarray:
    """``rng.integers(0, high, size)`` (int64), the same numbers, drawn in a compiled loop.

    Generators other than PCG64, and bounds past 2**32, are left to numpy. ``out``: a C-contiguous
    int64 array of shape ``size`` to draw into.

    Examples
    --------
    >>> a = integers(np.random.default_rng(1), 100_000, (2, 3))
    >>> bool(np.array_equal(a, np.random.default_rng(1).integers(0, 100_000, (2, 3))))
    True
    """
    if not (supports(rng) and 1 <= high <= 1 << 32):
        drawn = rng.integers(0, high, size)
        if out is None:
            return drawn
        out[...] = drawn
        return out
    out = np.empty(size, dtype=np.int64) if out is None else out
    with stream(rng) as state:
        _integers(state, high, out.reshape(-1))
    return out


@intrinsic
def _step(typingctx, hi, lo, inc_hi, inc_lo):
    """The LCG step on the 128-bit state (hi, lo): numba has no 128-bit integers, LLVM does."""
    signature = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, sig, args):
        wide = ir.IntType(128)
        shift = ir.Constant(wide, 64)

        def join(high, low):
            return builder.or_(builder.shl(builder.zext(high, wide), shift), builder.zext(low, wide))

        state = builder.add(builder.mul(join(args[0], args[1]), ir.Constant(wide, _MULTIPLIER)), join(args[2], args[3]))
        low = builder.trunc(state, ir.IntType(64))
        high = builder.trunc(builder.lshr(state, shift), ir.IntType(64))
        return context.make_tuple(builder, sig.return_type, (high, low))

    return signature, codegen


@nb.njit(inline="always")
def next64(hi, lo, inc_hi, inc_lo):  # pragma: no cover - compiled
    """The next state and its 64-bit output (numpy's ``pcg64_next64``)."""
    hi, lo = _step(hi, lo, inc_hi, inc_lo)
    x = hi ^ lo
    rot = hi >> np.uint64(58)
    return hi, lo, (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@nb.njit(inline="always")
def exponential(hi, lo, inc_hi, inc_lo):  # pragma: no cover - compiled
    """The next state and a standard exponential (numpy's ``random_standard_exponential``)."""
    while True:
        hi, lo, ri = next64(hi, lo, inc_hi, inc_lo)
        ri >>= np.uint64(3)
        idx = ri & np.uint64(0xFF)
        ri >>= np.uint64(8)
        x = np.int64(ri) * _WE[idx]  # ri < 2**53: the signed conversion is exact, and one instruction
        if ri < _KE[idx]:
            return hi, lo, x
        hi, lo, r = next64(hi, lo, inc_hi, inc_lo)
        u = np.int64(r >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # numpy's next_double
        if idx == 0:
            return hi, lo, _EXP_R - np.log1p(-u)
        if (_FE[idx - 1] - _FE[idx]) * u + _FE[idx] < np.exp(-x):
            return hi, lo, x


@nb.njit(inline="always")
def uint32(hi, lo, inc_hi, inc_lo, has32, half):  # pragma: no cover - compiled
    """The next state, buffer and 32-bit output (numpy's ``pcg64_next32``: the low half first, then the high)."""
    if has32:
        return hi, lo, np.uint64(0), half, half
    hi, lo, r = next64(hi, lo, inc_hi, inc_lo)
    return hi, lo, np.uint64(1), r >> np.uint64(32), r & np.uint64(0xFFFFFFFF)


@nb.njit(cache=True, nogil=True)
def _integers(state, high, out):  # pragma: no cover - compiled
    """``out[:] = integers(0, high)`` for 1 <= high <= 2**32, as numpy's ``random_bounded_uint64_fill``."""
    hi, lo, inc_hi, inc_lo = state[HI], state[LO], state[INC_HI], state[INC_LO]
    has32, half = state[HAS32], state[HALF]
    bound = np.uint64(high)  # rng + 1 in numpy's terms
    low32 = np.uint64(0xFFFFFFFF)
    if high == 1:
        out[:] = 0  # numpy draws nothing
        return
    threshold = (np.uint64(1 << 32) - bound) % bound
    for i in range(out.shape[0]):
        while True:
            hi, lo, has32, half, x = uint32(hi, lo, inc_hi, inc_lo, has32, half)
            if high == 1 << 32:  # numpy returns the 32-bit half itself
                out[i] = x
                break
            m = x * bound
            if (m & low32) >= threshold:  # Lemire: rejects fewer than high / 2**32 of the draws
                out[i] = m >> np.uint64(32)
                break
    state[HI], state[LO], state[HAS32], state[HALF] = hi, lo, has32, half
