"""Who each trial enrolled, tallied in one pass: level counts of categorical columns and sums of numeric ones.

The diversity figures of a block (:func:`trialsim.engine.diversity.per_trial`) need, per trial,
how many enrolled patients fall in each level of each demographic column, and the sum of each
numeric covariate over them. Gathering every column at the patients' pool rows
(``codes[index]``, ``values[index]``) costs a ``(trials, n)`` temporary and a random read into
a 10^5-row array per column; here the columns are packed once per pool into row-major
matrices, so each patient costs one or two cache lines, and every tally is accumulated in a
single compiled pass per trial.

Numeric columns with few distinct values (ages, lab values to one decimal) are packed as codes
into a table of those values: the joint code and up to seven value codes make a 16-byte row, so
the pool takes 1.6 MB at 10^5 patients instead of 6.4 MB and more of it stays in cache between
blocks. The sums add the same values in the same order, so they are the same to the bit.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numba as nb
import numpy as np

from trialsim.engine.memo import IdentityMemo
from trialsim.engine.prefetch import prefetch_row

__all__ = ["PackedPool", "enrolled_tallies", "pack_pool"]

# Packed matrices of the most recently used pools.
_PACKED: IdentityMemo[PackedPool] = IdentityMemo(size=4)
# Coded columns are combined into one joint code when they have at most this many combinations.
_MAX_JOINT = 1 << 15
# Numeric columns go into 16-byte rows of uint16 codes (after the joint code) when there are at most
# this many of them and their distinct values (with the 0.0 of the unused codes) fit in a uint16.
_CODED_COLUMNS = 7
_MAX_DISTINCT = 1 << 16


class PackedPool(NamedTuple):
    """A pool's columns packed for the tallies (:func:`pack_pool`)."""

    joint: np.ndarray  # (P,) joint code of the coded columns (mixed radix), or (0,) when not joint
    codes: np.ndarray  # (P, D) int32 codes (used when there is no joint code)
    values: np.ndarray  # (P, C') float64 rows of 64 bytes (C' = C rounded up to 8), 64-byte aligned
    missing: bool  # any value is NaN
    rows: np.ndarray  # (P, 8) uint16: joint code, then each numeric column's index into `table`; or (0, 8)
    table: np.ndarray  # the numeric columns' distinct values, after table[0] = 0.0 (the unused codes')

    def __reduce__(self):
        # Unpickled (a Dask worker's copy of a plan), the rows go back on 64-byte boundaries: a buffer
        # received from the network may start anywhere, and a row across two cache lines costs two.
        return _aligned_pool, tuple(self)


def _aligned_pool(joint, codes, values, missing, rows, table) -> PackedPool:
    return PackedPool(joint, codes, _aligned_copy(values), missing, _aligned_copy(rows), table)


def _aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-contiguous array that starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + 64, dtype=np.uint8)
    skip = -raw.ctypes.data % 64
    return raw[skip : skip + size].view(dtype).reshape(shape)


def _aligned_copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` that starts on a 64-byte boundary."""
    out = _aligned_empty(a.shape, a.dtype)
    out[...] = a
    return out


def _aligned_rows(pool: int, columns: int) -> np.ndarray:
    """An uninitialised ``(pool, columns)`` float64 array whose rows start on 64-byte boundaries."""
    return _aligned_empty((pool, max(8, -(-columns // 8) * 8)), np.float64)


def pack_pool(codes: tuple[np.ndarray, ...], n_levels: tuple[int, ...], values: tuple[np.ndarray, ...]) -> PackedPool:
    """A pool's columns packed for :func:`enrolled_tallies` (arguments as there), once per set of pool columns.

    A plan holds its pool's (:attr:`trialsim.engine.plan.Plan.tally_pool`), so that a Dask worker
    receives it with the plan: packing 10^5 patients' seven numeric columns takes some 30 ms (a sort
    per column), which each worker's first task paid otherwise.

    Examples
    --------
    >>> packed = pack_pool((np.array([0, 1, 1]),), (2,), (np.array([1.0, 2.0, 2.0]),))
    >>> packed.rows[:, :2].tolist(), packed.table.tolist()
    ([[0, 1], [1, 2], [1, 2]], [0.0, 1.0, 2.0])
    """
    return _PACKED.get(codes + values, lambda: _pack(codes, n_levels, values), extra=len(codes))


def _pack(codes: tuple[np.ndarray, ...], n_levels: tuple[int, ...], values: tuple[np.ndarray, ...]) -> PackedPool:
    arrays = codes + values
    pool = len(arrays[0]) if arrays else 0
    combinations = int(np.prod(n_levels, dtype=np.float64)) if codes else 1
    if codes and combinations <= _MAX_JOINT:
        joint = np.zeros(pool, dtype=np.int32)
        for column, levels in zip(codes, n_levels, strict=True):
            joint *= levels
            joint += column
        joint = joint.astype(np.int16 if combinations <= 1 << 15 else np.int32)
        packed_codes = np.zeros((0, len(codes)), dtype=np.int32)
    else:
        joint = np.zeros(0, dtype=np.int16)
        packed_codes = np.empty((pool, len(codes)), dtype=np.int32)
        for d, column in enumerate(codes):
            packed_codes[:, d] = column
    missing = any(bool(np.isnan(column).any()) for column in values)
    rows, table = _coded_rows(joint, values)
    if rows.shape[0]:
        return PackedPool(joint, packed_codes, np.zeros((0, 8)), missing, rows, table)
    packed_values = _aligned_rows(pool, len(values))
    packed_values[:, len(values) :] = 0.0
    for c, column in enumerate(values):
        packed_values[:, c] = column
    return PackedPool(joint, packed_codes, packed_values, missing, rows, table)


def _coded_rows(joint: np.ndarray, values: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The 16-byte rows of the joint code and the numeric columns' value codes, and the table of values;
    ``(0, 8)`` rows when the columns do not fit (no joint code, too many columns or distinct values)."""
    none = np.zeros((0, 8), dtype=np.uint16), np.zeros(1)
    if not joint.size or len(values) > _CODED_COLUMNS:
        return none
    parts = [np.zeros(1)]
    offset = 1
    inverse = []
    for column in values:
        # Distinct bit patterns, so that -0.0 and every NaN keep their own value.
        distinct, codes = np.unique(np.ascontiguousarray(column, dtype=np.float64).view(np.int64), return_inverse=True)
        if offset + distinct.size > _MAX_DISTINCT:
            return none
        parts.append(distinct.view(np.float64))
        inverse.append(codes.ravel() + offset)
        offset += distinct.size
    rows = np.zeros((joint.size, 8), dtype=np.uint16)
    rows[:, 0] = joint
    for c, codes in enumerate(inverse):
        rows[:, c + 1] = codes
    return rows, np.concatenate(parts)


@functools.lru_cache(maxsize=16)
def _margins(n_levels: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Per coded column, the ``(J, L_d)`` 0/1 matrix taking each joint code to its level of that column.

    (``cube.sum(axis=others)`` over the joint counts gives the same: for 250 trials and levels (2, 7, 3),
    about 150 µs against 10 for the three products.)
    """
    digits = np.indices(n_levels).reshape(len(n_levels), -1)  # mixed radix, C order, as _pack codes them
    return tuple((digits[d][:, None] == np.arange(levels)).astype(np.float64) for d, levels in enumerate(n_levels))


def enrolled_tallies(
    codes: tuple[np.ndarray, ...],
    n_levels: tuple[int, ...],
    values: tuple[np.ndarray, ...],
    index: np.ndarray,
    enrolled: np.ndarray,
    packed: PackedPool | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per trial: enrolled patients in each level of each coded column, and masked sums of each numeric column.

    Parameters
    ----------
    codes : tuple of numpy.ndarray
        Level codes ``0 .. L_d - 1`` of every pool row, one array ``(P,)`` per categorical column.
    n_levels : tuple of int
        ``L_d`` for each of ``codes``.
    values : tuple of numpy.ndarray
        Numeric columns ``(P,)`` over the pool (NaN for missing).
    index : numpy.ndarray
        ``(trials, n)`` pool rows of the patients.
    enrolled : numpy.ndarray
        ``(trials, n)`` bool: the patients that count; or ``(trials,)`` integers: the first
        ``enrolled[b]`` patients of trial b count (those enrolled by a cut, when ``index`` is in
        enrolment order), which spares a mask of every patient.
    packed : PackedPool, optional
        :func:`pack_pool` of ``codes``, ``n_levels`` and ``values``, when the caller holds it.

    Returns
    -------
    counts : list of numpy.ndarray
        One ``(trials, L_d)`` float array per coded column: ``bincount`` of the enrolled patients' codes.
    sums : numpy.ndarray
        ``(trials, C)``: ``sum(values[index] * enrolled)`` along each trial, as numpy computes it
        (a missing value of any drawn patient, enrolled or not, makes the sum NaN).

    Notes
    -----
    The coded columns are combined into one mixed-radix joint code per pool row (a small array
    that stays in cache); the joint counts are tallied and each column's counts are their
    margins. The numeric columns are packed into 64-byte rows, one cache line per patient.

    Examples
    --------
    >>> codes = (np.array([0, 1, 1]),)
    >>> counts, sums = enrolled_tallies(codes, (2,), (np.array([1.0, 2.0, 4.0]),),
    ...                                 np.array([[0, 2, 1]]), np.array([[True, True, False]]))
    >>> counts[0].tolist(), sums.tolist()
    ([[1.0, 1.0]], [[5.0]])
    """
    index = np.ascontiguousarray(index, dtype=np.int64)
    trials = index.shape[0]
    if np.ndim(enrolled) == 1:
        leading = np.ascontiguousarray(enrolled, dtype=np.int64)
        enrolled = np.ones((1, 1), dtype=np.bool_)
    else:
        leading = np.zeros(0, dtype=np.int64)
        enrolled = np.ascontiguousarray(enrolled, dtype=np.bool_)
    n_levels = tuple(int(v) for v in n_levels)
    packed = pack_pool(tuple(codes), n_levels, tuple(values)) if packed is None else packed
    n_columns = len(values)
    sums = np.zeros((trials, packed.values.shape[1]))
    if packed.joint.size:
        counts = np.zeros((trials, int(np.prod(n_levels, dtype=np.int64))))
        if index.size:
            offsets = np.zeros(1, dtype=np.int64)
            _tally(index, enrolled, leading, packed.joint, packed.codes, offsets, packed.values, packed.missing,
                   packed.rows, packed.table, counts, sums)  # fmt: skip
        # Each column's counts are margins of the joint counts: integers, so the products are exact.
        margins = [counts @ to_level for to_level in _margins(n_levels)] if len(codes) > 1 else [counts]
        return margins, sums[:, :n_columns]
    offsets = np.concatenate(([0], np.cumsum(n_levels, dtype=np.int64)))
    counts = np.zeros((trials, int(offsets[-1])))
    if index.size:
        _tally(index, enrolled, leading, packed.joint, packed.codes, offsets, packed.values, packed.missing,
               packed.rows, packed.table, counts, sums)  # fmt: skip
    return [counts[:, offsets[d] : offsets[d + 1]] for d in range(len(codes))], sums[:, :n_columns]


# Patients ahead whose pool rows are prefetched: best of 8-32 measured in a run (the pool's rows are
# then mostly out of cache, pushed out by the block's own arrays).
_AHEAD = 24


@nb.njit(cache=True, nogil=True)
def _tally(index, enrolled, leading, joint, codes, offsets, values, missing, rows, table, counts,
           sums):  # pragma: no cover - compiled  # fmt: skip
    trials, n = index.shape
    if rows.shape[0] > 0:
        _tally_coded(index, enrolled, leading, rows, table, missing, counts, sums)
        return
    if joint.shape[0] > 0 and values.shape[1] == 8:
        _tally_joint8(index, enrolled, leading, joint, values, missing, counts, sums)
        return
    flat = index.reshape(trials * n)  # prefetched across the end of a trial's row into the next
    use_joint = joint.shape[0] > 0
    n_codes = codes.shape[1]
    n_values = values.shape[1]
    for b in range(trials):
        for i in range(n):
            at = b * n + i + _AHEAD
            if at < flat.shape[0]:
                ahead = flat[at]
                prefetch_row(values, ahead)
                if use_joint:
                    prefetch_row(joint, ahead)
                else:
                    prefetch_row(codes, ahead)
            row = index[b, i]
            if _counts(enrolled, leading, b, i):
                if use_joint:
                    counts[b, joint[row]] += 1.0
                else:
                    for d in range(n_codes):
                        counts[b, offsets[d] + codes[row, d]] += 1.0
                for c in range(n_values):
                    sums[b, c] += values[row, c]
            elif missing:  # NaN * 0 is NaN: a missing value counts even when not enrolled
                for c in range(n_values):
                    sums[b, c] += values[row, c] * 0.0


@nb.njit(inline="always")
def _counts(enrolled, leading, b, i):  # pragma: no cover - compiled
    """Whether patient i of trial b counts: ``enrolled[b, i]``, or, given leading counts, ``i < leading[b]``."""
    return i < leading[b] if leading.shape[0] > 0 else enrolled[b, i]


@nb.njit(cache=True, nogil=True)
def _tally_joint8(index, enrolled, leading, joint, values, missing, counts, sums):  # pragma: no cover - compiled
    """:func:`_tally` for joint codes and one 64-byte row of values per patient (up to 8 numeric columns).

    The eight sums are kept in locals and the counts in an integer histogram, so that nothing waits
    on a value just stored to memory (the sums of a row are independent: the compiler may add them
    as two vectors); the sums are added in the same order as :func:`_tally` adds them.
    """
    trials, n = index.shape
    flat = index.reshape(trials * n)  # prefetched across the end of a trial's row into the next
    hist = np.zeros(counts.shape[1], dtype=np.int64)
    for b in range(trials):
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        for i in range(n):
            at = b * n + i + _AHEAD
            if at < flat.shape[0]:
                ahead = flat[at]
                prefetch_row(values, ahead)
                prefetch_row(joint, ahead)
            row = index[b, i]
            if _counts(enrolled, leading, b, i):
                hist[joint[row]] += 1
                s0 += values[row, 0]
                s1 += values[row, 1]
                s2 += values[row, 2]
                s3 += values[row, 3]
                s4 += values[row, 4]
                s5 += values[row, 5]
                s6 += values[row, 6]
                s7 += values[row, 7]
            elif missing:  # NaN * 0 is NaN: a missing value counts even when not enrolled
                s0 += values[row, 0] * 0.0
                s1 += values[row, 1] * 0.0
                s2 += values[row, 2] * 0.0
                s3 += values[row, 3] * 0.0
                s4 += values[row, 4] * 0.0
                s5 += values[row, 5] * 0.0
                s6 += values[row, 6] * 0.0
                s7 += values[row, 7] * 0.0
        _trial_out(b, s0, s1, s2, s3, s4, s5, s6, s7, hist, counts, sums)


@nb.njit(cache=True, nogil=True)
def _tally_coded(index, enrolled, leading, rows, table, missing, counts, sums):  # pragma: no cover - compiled
    """:func:`_tally_joint8` on 16-byte rows: the joint code, then seven codes into ``table`` (values, 0.0 at 0)."""
    trials, n = index.shape
    flat = index.reshape(trials * n)
    hist = np.zeros(counts.shape[1], dtype=np.int64)
    for b in range(trials):
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = 0.0
        for i in range(n):
            at = b * n + i + _AHEAD
            if at < flat.shape[0]:
                prefetch_row(rows, flat[at])
            row = index[b, i]
            if _counts(enrolled, leading, b, i):
                hist[rows[row, 0]] += 1
                s0 += table[rows[row, 1]]
                s1 += table[rows[row, 2]]
                s2 += table[rows[row, 3]]
                s3 += table[rows[row, 4]]
                s4 += table[rows[row, 5]]
                s5 += table[rows[row, 6]]
                s6 += table[rows[row, 7]]
            elif missing:  # NaN * 0 is NaN: a missing value counts even when not enrolled
                s0 += table[rows[row, 1]] * 0.0
                s1 += table[rows[row, 2]] * 0.0
                s2 += table[rows[row, 3]] * 0.0
                s3 += table[rows[row, 4]] * 0.0
                s4 += table[rows[row, 5]] * 0.0
                s5 += table[rows[row, 6]] * 0.0
                s6 += table[rows[row, 7]] * 0.0
        _trial_out(b, s0, s1, s2, s3, s4, s5, s6, 0.0, hist, counts, sums)


@nb.njit(cache=True, nogil=True)
def _trial_out(b, s0, s1, s2, s3, s4, s5, s6, s7, hist, counts, sums):  # pragma: no cover - compiled
    """Trial ``b``'s eight sums and its level counts into the outputs; the histogram emptied for the next trial."""
    sums[b, 0] = s0
    sums[b, 1] = s1
    sums[b, 2] = s2
    sums[b, 3] = s3
    sums[b, 4] = s4
    sums[b, 5] = s5
    sums[b, 6] = s6
    sums[b, 7] = s7
    for k in range(hist.shape[0]):
        counts[b, k] = hist[k]
        hist[k] = 0
