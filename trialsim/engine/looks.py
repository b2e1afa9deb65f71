"""Every look of a block of time-to-event trials in one pass: data cuts and (stratified) log-rank tests.

The numpy path (:func:`trialsim.engine.block.look_times`, :func:`~trialsim.engine.block.data_cut`
and :func:`~trialsim.engine.logrank.logrank` per look and comparison) sorts every trial's
patients again at every look and builds several ``(trials, n)`` temporaries per step. This
module does the same work trial by trial in compiled code (numba), with scratch arrays of
``n`` entries that stay in cache:

1. Each events look's calendar time is an order statistic of the calendar event times
   (``entry + outcome`` where the event comes before dropout): the events are put in buckets
   by time, and the bucket holding each target's rank is sorted. Only the events up to the
   latest such cut of the block's trials so far are bucketed (when that leaves too few, all
   are); the number of events at the cut is the rank, plus any tied with it.
2. The patients whose event or dropout is seen by the last look (time on study
   ``y = min(outcome, dropout) <= cut - entry``) are sorted by ``y`` once per trial: a bucket sort
   (LSD radix on float32 keys when a bucket is crowded), then an insertion pass on the exact
   float64 values (so the order is exact).
3. At each look, a patient is either seen at ``y`` (the sorted list above, filtered in O(n)) or
   administratively censored at ``cut - entry``, which is already sorted: patients enrol in
   order, so walking them from the last enrolled backwards gives increasing censoring times.
   Merging the two sorted lists gives the look's risk sets in O(n), and the log-rank sums
   ``O1 - E1`` and ``V`` are accumulated over tie groups exactly as in
   :mod:`trialsim.engine.logrank` (same formulas, same order of operations per tie group).

The results equal the numpy path's to rounding (sums over tie groups are added sequentially
here, pairwise there): ``tests/engine/test_looks.py`` checks both on the same patients, ties,
strata, several arms and unreached looks included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from trialsim.engine.results import TestResult, _finish

__all__ = [
    "LookAnalyses", "logrank_compiled", "logrank_sets", "supports", "supports_t_test", "survival_looks", "t_test_looks",
]  # fmt: skip

LOOK_TIME, LOOK_EVENTS, LOOK_SUBJECTS = 0, 1, 2
_KINDS = {"time": LOOK_TIME, "events": LOOK_EVENTS, "subjects": LOOK_SUBJECTS}
# Below this many keys an insertion sort beats the radix passes.
_INSERTION_MAX = 32


@dataclass(frozen=True)
class LookAnalyses:
    """Every look of a block: the calendar cut and counts (trials, K), and each comparison's test (trials, K, m)."""

    cuts: np.ndarray
    reached: np.ndarray
    enrolled: np.ndarray
    events: np.ndarray | None  # all arms; None for endpoints without events
    estimate: np.ndarray
    se: np.ndarray
    z: np.ndarray
    analysed: np.ndarray
    degenerate: np.ndarray


def supports(plan) -> bool:
    """Whether :func:`survival_looks` computes this plan's analyses."""
    return plan.endpoint == "time_to_event" and plan.test in ("logrank", "stratified_logrank")


def supports_t_test(plan) -> bool:
    """Whether :func:`t_test_looks` computes this plan's analyses."""
    return plan.endpoint == "continuous" and plan.test == "t_test"


def _patient_arrays(p, *, check: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Entry, outcome and dropout times (float64) and arms (int8) as the kernels take them, C-contiguous.

    The kernels find who is enrolled by a cut as a prefix of the patients: entry times must be sorted.
    """
    entry = np.ascontiguousarray(p.entry, dtype=np.float64)
    if check and entry.shape[1] > 1 and not bool(np.all(entry[:, 1:] >= entry[:, :-1])):
        raise ValueError("entry times must be sorted within each trial (enrolment order)")
    outcome = np.ascontiguousarray(p.outcome, dtype=np.float64)
    return entry, outcome, np.ascontiguousarray(p.dropout, dtype=np.float64), np.ascontiguousarray(p.arm, dtype=np.int8)


def t_test_looks(plan, p, cuts: np.ndarray, reached: np.ndarray) -> LookAnalyses:
    """The two-sample t-test of every comparison at every look (cut at ``cuts``), for a block of trials.

    Same results (to rounding) as :func:`trialsim.engine.means.t_test` on the patients that
    :func:`trialsim.engine.block.data_cut` keeps: those whose outcome is measured by the cut
    (``entry + timepoint <= cut``) and who have not dropped out before it is measured.
    """
    from trialsim.engine.means import t_to_z

    entry, y, dropout, arm = _patient_arrays(p)
    trials = entry.shape[0]
    treatment = np.array([c.treatment for c in plan.comparisons], dtype=np.int8)
    control = np.array([c.control for c in plan.comparisons], dtype=np.int8)
    looks, m = plan.n_looks, len(plan.comparisons)
    cuts = np.ascontiguousarray(cuts, dtype=np.float64)
    enrolled = np.empty((trials, looks), dtype=np.int64)
    diff = np.empty((trials, looks, m))
    se = np.empty((trials, looks, m))
    n1 = np.empty((trials, looks, m), dtype=np.int64)
    n0 = np.empty((trials, looks, m), dtype=np.int64)
    constant = np.empty((trials, looks, m), dtype=np.bool_)
    _t_test_looks(entry, y, dropout, arm, float(plan.timepoint), cuts, treatment, control, enrolled, diff, se, n1, n0,
                  constant)  # fmt: skip
    df = n1 + n0 - 2
    degenerate = (n1 < 1) | (n0 < 1) | (df < 1) | constant
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(degenerate, 0.0, diff / np.where(degenerate, 1.0, se))
    z = t_to_z(t, np.maximum(df, 1))
    return LookAnalyses(
        cuts=cuts,
        reached=reached,
        enrolled=enrolled,
        events=None,
        estimate=np.where(degenerate, np.nan, diff),
        se=np.where(degenerate, np.nan, se),
        z=np.nan_to_num(np.where(degenerate, 0.0, z), nan=0.0),
        analysed=n1 + n0,
        degenerate=degenerate,
    )


def survival_looks(plan, p, *, stop: bool = False) -> LookAnalyses:
    """The cut of every look and the log-rank test of every comparison there, for a block of trials.

    Same results as cutting the data with :func:`trialsim.engine.block.data_cut` at
    :func:`trialsim.engine.block.look_times` and running :func:`trialsim.engine.logrank.logrank`
    (to rounding), at a fraction of the cost.

    ``stop``: a trial of one comparison is not analysed after the first look whose z crosses a
    bound, as :func:`trialsim.engine.block.decide` reads them (the same z, so the same look): the
    looks after it come out degenerate, with nobody analysed, enrolled or counted. Their cuts are
    still computed, and ``decide`` finds the same stopping look.
    """
    entry, outcome, dropout, arm = _patient_arrays(p, check=False)  # the kernel checks the order
    trials, n = entry.shape
    if plan.analysis_strata is not None:  # as analyse() does
        strata = np.ascontiguousarray(plan.analysis_strata[p.index], dtype=np.int32)
        n_strata = int(strata.max()) + 1 if strata.size else 1
    else:
        strata = np.zeros((1, 1), dtype=np.int32)
        n_strata = 1
    looks = plan.n_looks
    kinds = np.array([_KINDS[kind] for kind, _ in plan.looks], dtype=np.int64)
    values = np.array([float(v) for _, v in plan.looks])
    extras = np.zeros(looks)
    for k, (kind, value) in enumerate(plan.looks):
        if kind == "subjects" and k == looks - 1 and int(value) == plan.sample_size:
            extras[k] = plan.follow_up  # the final analysis of a design with no looks: plus follow-up
    targets = sorted({int(v) - 1 for kind, v in plan.looks if kind == "events"}, reverse=True)
    look_target = np.array(
        [targets.index(int(v) - 1) if kind == "events" else -1 for kind, v in plan.looks], dtype=np.int64
    )
    treatment = np.array([c.treatment for c in plan.comparisons], dtype=np.int8)
    control = np.array([c.control for c in plan.comparisons], dtype=np.int8)
    m = len(plan.comparisons)

    rule = _stopping_rule(plan) if stop else None
    # Without a rule the bounds are NaN, which no z crosses.
    efficacy, futility = rule if rule is not None else (np.full(looks, np.nan), np.full(looks, np.nan))
    cuts = np.empty((trials, looks))
    reached = np.ones((trials, looks), dtype=np.bool_)
    enrolled = np.empty((trials, looks), dtype=np.int64)
    events = np.empty((trials, looks), dtype=np.int64)
    o_minus_e = np.empty((trials, looks, m))
    var = np.empty((trials, looks, m))
    analysed = np.empty((trials, looks, m), dtype=np.int64)
    simple = n_strata == 1 and m == 1 and len(plan.arms) == 2
    unsorted = _SURVIVAL_LOOKS[simple](
        entry, outcome, dropout, arm, strata, n_strata, kinds, values, extras,
        np.array(targets, dtype=np.int64), look_target, treatment, control,
        float(plan.benefit_sign), efficacy, futility,
        cuts, reached, enrolled, events, o_minus_e, var, analysed, _scratch(n),
    )  # fmt: skip
    if unsorted >= 0:  # the kernel stopped there
        raise ValueError(f"entry times must be sorted within each trial (enrolment order): trial {unsorted} is not")
    degenerate = ~(var > 0)
    safe = np.where(degenerate, 1.0, var)
    root = np.sqrt(safe)
    return LookAnalyses(
        cuts=cuts,
        reached=reached,
        enrolled=enrolled,
        events=events,
        estimate=np.where(degenerate, np.nan, o_minus_e / safe),
        se=np.where(degenerate, np.nan, 1.0 / root),
        z=np.nan_to_num(np.where(degenerate, 0.0, o_minus_e / root), nan=0.0),
        analysed=analysed,
        degenerate=degenerate,
    )


def _stopping_rule(plan) -> tuple[np.ndarray, np.ndarray] | None:
    """(K,) bounds on the benefit-oriented z where a trial stops: crossing the efficacy bound, or
    falling to the futility bound while below the efficacy one. None when :func:`decide
    <trialsim.engine.block.decide>` reads the looks otherwise (several comparisons, Hochberg)."""
    if len(plan.comparisons) != 1 or plan.multiplicity == "hochberg" or 1.0 not in plan.efficacy:
        return None
    efficacy = np.asarray(plan.efficacy[1.0], dtype=np.float64)
    futility = np.full(plan.n_looks, -np.inf) if plan.futility is None else np.asarray(plan.futility, np.float64)
    return np.ascontiguousarray(efficacy), np.ascontiguousarray(futility)


def logrank_compiled(
    time: np.ndarray,
    event: np.ndarray,
    group: np.ndarray,
    valid: np.ndarray,
    strata: np.ndarray | None = None,
) -> TestResult:
    """:func:`trialsim.engine.logrank.logrank` on one data cut, compiled.

    Same arguments and results (to rounding) as the numpy function, which stays the reference;
    inputs are trusted (no validation): they come from :func:`trialsim.engine.block.data_cut`.
    """
    valid = np.ascontiguousarray(valid, dtype=np.bool_)
    if strata is not None:
        strata = np.ascontiguousarray(strata)
        codes = np.unique(strata[valid]) if valid.any() else np.zeros(0, dtype=np.int64)
        dense = np.searchsorted(codes, strata).astype(np.int64) if codes.size else np.zeros_like(strata, np.int64)
        n_strata = max(int(codes.size), 1)
    else:
        dense, n_strata = None, 1
    arm = np.ascontiguousarray(group, dtype=np.bool_).view(np.int8)  # treated: arm 1 against arm 0
    return logrank_sets(time, event, arm, valid, [(1, 0)], strata=dense, n_strata=n_strata)


def logrank_sets(
    time: np.ndarray,
    event: np.ndarray,
    arm: np.ndarray,
    valid: np.ndarray,
    comparisons: list[tuple[int, int]],
    *,
    bits: np.ndarray | None = None,
    levels: int = 1,
    strata: np.ndarray | None = None,
    n_strata: int = 1,
) -> TestResult:
    """The log-rank test of every comparison within every subgroup level, on one data cut.

    Returns the tests in one :class:`~trialsim.engine.results.TestResult` of ``trials * L * m``
    rows, in the C order of ``(trials, L, m)``.

    Set (l, j) holds the ``valid`` patients of comparison j's two arms (``(treatment, control)``
    arm indices) whose ``bits`` (``(trials, n)`` unsigned integers, bit l for level l) have bit
    l; without ``bits``, every valid patient of the two arms (L = 1). ``strata``: ``(trials, n)``
    codes ``0 .. n_strata - 1`` for the stratified test. Each trial's patients are sorted by time
    once for every set. Same results (to rounding) as :func:`trialsim.engine.logrank.logrank`
    on each set's mask; strata with no patient in a set add nothing (as if absent).

    Examples
    --------
    >>> time = np.array([[1.0, 2.0, 3.0, 4.0]])
    >>> event = np.array([[True, True, False, True]])
    >>> arm = np.array([[0, 1, 0, 1]], dtype=np.int8)
    >>> r = logrank_sets(time, event, arm, np.ones((1, 4), bool), [(1, 0)])
    >>> r.z.shape, int(r.n[0]), int(r.events[0])
    ((1,), 4, 3)
    """
    valid = np.ascontiguousarray(valid, dtype=np.bool_)
    trials, n = valid.shape
    time = np.ascontiguousarray(time, dtype=np.float64)
    event = np.ascontiguousarray(event, dtype=np.bool_)
    arm = np.ascontiguousarray(arm, dtype=np.int8)
    treatment = np.array([t for t, _ in comparisons], dtype=np.int8)
    control = np.array([c for _, c in comparisons], dtype=np.int8)
    bits = np.zeros((1, 1), dtype=np.uint64) if bits is None else np.ascontiguousarray(bits, dtype=np.uint64)
    strata = np.zeros((1, 1), dtype=np.int64) if strata is None else np.ascontiguousarray(strata, dtype=np.int64)
    shape = (trials, levels, len(comparisons))
    o_minus_e, var = np.empty(shape), np.empty(shape)
    count, events = np.empty(shape, dtype=np.int64), np.empty(shape, dtype=np.int64)
    _logrank_sets(time, event, arm, treatment, control, valid, bits, strata, n_strata, o_minus_e, var, count, events,
                  _scratch(n))  # fmt: skip
    degenerate = ~(var > 0)
    safe = np.where(degenerate, 1.0, var)
    root = np.sqrt(safe)
    return _finish(*(v.ravel() for v in (o_minus_e / safe, 1.0 / root, o_minus_e / root, count, events, degenerate)))


# ---------------------------------------------------------------------------------------
# Compiled kernels. Each works on one trial's row with scratch arrays of n entries.
# ---------------------------------------------------------------------------------------


@nb.njit(cache=True, nogil=True)
def _insertion(order, lo, hi, values):  # pragma: no cover - compiled
    """Sort ``order[lo:hi]`` by ``values[order]`` (stable); O(length + inversions)."""
    for i in range(lo + 1, hi):
        v = order[i]
        x = values[np.uint64(v)]
        j = i - 1
        while j >= lo and values[np.uint64(order[j])] > x:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = v


@nb.njit(cache=True, nogil=True)
def _radix(order, size, values, f32, key, key2, order2, counts):  # pragma: no cover - compiled
    """LSD radix sort (8-bit digits) of ``order[:size]`` by the float32 images of ``values[order]``.

    Orders non-negative values up to float32 rounding; :func:`_sort_by` repairs the rest.
    """
    for i in range(size):
        f32[i] = values[order[i]]
    bits = f32.view(np.uint32)
    for i in range(size):
        key[i] = bits[i]
    src_key, dst_key = key, key2
    src, dst = order, order2
    swapped = False
    for shift in range(0, 32, 8):
        counts[:256] = 0
        for i in range(size):
            counts[(src_key[i] >> shift) & 255] += 1
        if counts[(src_key[0] >> shift) & 255] == size:
            continue  # every key has this digit: the pass would not move anything
        total = 0
        for d in range(256):
            c = counts[d]
            counts[d] = total
            total += c
        for i in range(size):
            d = (src_key[i] >> shift) & 255
            at = counts[d]
            counts[d] = at + 1
            dst_key[at] = src_key[i]
            dst[at] = src[i]
        src_key, dst_key = dst_key, src_key
        src, dst = dst, src
        swapped = not swapped
    if swapped:
        for i in range(size):
            order[i] = order2[i]


@nb.njit(cache=True, nogil=True)
def _bucket_scatter(order, size, values, scratch):  # pragma: no cover - compiled
    """Reorder ``order[:size]`` bucket by bucket: a partial sort by ``values[order]``.

    The values' range is cut into ``size`` equal buckets (a monotone map, so buckets come in
    order) and a counting pass places each index in its bucket. Returns the number of
    buckets, 0 when the values are all equal (nothing to do), or -1 when one bucket got
    crowded (a very skewed sample); then ``order`` is untouched. After a scatter,
    ``counts[bk]`` is the end of bucket ``bk`` in ``order``.
    """
    bucket, counts, tmp = scratch[0], scratch[1], scratch[2]
    lo = np.inf
    hi = -np.inf
    for q in range(size):
        v = values[order[q]]
        lo = min(lo, v)
        hi = max(hi, v)
    if not hi > lo:
        return 0
    scale = size / (hi - lo)
    if not np.isfinite(scale):
        return -1
    counts[: size + 1] = 0
    # Buckets and positions unsigned: numba adds no negative-index wraparound to their accesses.
    top = np.uint64(size - 1)
    one = np.uint64(1)
    for q in range(size):
        bk = min(np.uint64(int((values[np.uint64(order[q])] - lo) * scale)), top)
        bucket[q] = bk
        counts[bk + one] += 1
    most = 0
    for bk in range(size):
        most = max(most, counts[bk + 1])
        counts[bk + 1] += counts[bk]
    if most > 64:
        return -1
    for q in range(size):
        bk = np.uint64(bucket[q])
        at = np.uint64(counts[bk])
        tmp[at] = order[q]
        counts[bk] = at + one
    for q in range(size):
        order[q] = tmp[q]
    return size


@nb.njit(cache=True, nogil=True)
def _sort_by(order, size, values, scratch):  # pragma: no cover - compiled
    """Sort ``order[:size]`` (patient indices) by ``values[order]`` ascending, exactly (stable for ties).

    A bucket sort (:func:`_bucket_scatter`) then an insertion pass that orders each bucket:
    O(size) for the smooth distributions of event and entry times. When one bucket gets
    crowded, an LSD radix sort on float32 keys orders the values instead and the insertion
    pass only repairs what float32 rounding left out of order.
    """
    if size <= _INSERTION_MAX:
        _insertion(order, 0, size, values)
        return
    if _bucket_scatter(order, size, values, scratch) < 0:
        _radix(order, size, values, scratch[3], scratch[4], scratch[5], scratch[2], scratch[1])
    _insertion(order, 0, size, values)


@nb.njit(cache=True, nogil=True)
def _partial_sort(order, size, values, scratch):  # pragma: no cover - compiled
    """Bucket ``order[:size]`` for :func:`_order_statistic`; returns what :func:`_bucket_scatter` returns,
    after sorting ``order`` fully when the buckets cannot be used."""
    buckets = _bucket_scatter(order, size, values, scratch) if size > _INSERTION_MAX else -1
    if buckets < 0:
        _sort_by(order, size, values, scratch)
    return buckets


@nb.njit(cache=True, nogil=True)
def _order_statistic(order, size, values, scratch, buckets, r):  # pragma: no cover - compiled
    """The (r+1)-th smallest of ``values[order[:size]]`` after :func:`_partial_sort` (sorts r's bucket)."""
    if buckets <= 0:  # fully sorted, or all values equal
        return values[order[r]]
    counts = scratch[1]
    # The bucket holding position r: the first whose end is past r (ends are increasing).
    lo = 0
    hi = buckets - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if counts[mid] > r:
            hi = mid
        else:
            lo = mid + 1
    start = counts[lo - 1] if lo > 0 else 0
    _insertion(order, start, counts[lo], values)
    return values[order[r]]


def _scratch(n: int):
    """Scratch arrays for :func:`_sort_by` on up to ``n`` keys."""
    size = max(n, 256) + 1
    return (
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.float32),
        np.empty(size, dtype=np.uint32),
        np.empty(size, dtype=np.uint32),
    )


def _survival_looks_kernel(simple: bool):
    """The kernel of :func:`survival_looks`, for ``simple`` comparisons (two arms, one comparison, no strata) or any.

    A simple comparison has every patient in it and none in a stratum: the lists of each look skip those
    tests (about 0.8 us a W1 trial). A flag tested in the kernel gains nothing: LLVM lays the kernel out
    worse. Compiled apart instead, ``simple`` a constant (numba keys its cache on the closure's values).
    """

    @nb.njit(cache=True, nogil=True)
    def kernel(
        entry, outcome, dropout, arm, strata, n_strata, kinds, values, extras, targets, look_target, treatment,
        control, sign, efficacy, futility, cuts, reached, enrolled, events, o_minus_e, var, analysed, scratch,
    ):  # pragma: no cover - compiled  # fmt: skip
        trials, n = entry.shape
        looks = kinds.shape[0]
        m = treatment.shape[0]
        stratified = strata.shape[1] == n and n_strata > 1
        inf = np.inf
        calendar = np.empty(n)  # calendar time of the event, +inf when dropout comes first
        on_study = np.empty(n)  # y = min(outcome, dropout)
        order = np.empty(n + 1, dtype=np.int64)
        # The patients seen by the last look, sorted by y: their y, entry, calendar event time, arm, stratum.
        s_y = np.empty(n)
        s_entry = np.empty(n)
        s_calendar = np.empty(n)
        s_arm = np.empty(n, dtype=np.int8)
        s_stratum = np.zeros(n, dtype=np.int64)
        row_stratum = np.zeros(n, dtype=np.int64)  # the trial's strata in enrolment order (zeros unstratified)
        # One look and comparison: the patients seen at y (sorted), those censored at the cut
        # (sorted), and both merged: observed times and flags (1 treated, 2 event, 4 x stratum).
        xa = np.empty(n + 1)
        fa = np.empty(n + 1, dtype=np.int64)
        xb = np.empty(n + 1)
        fb = np.empty(n + 1, dtype=np.int64)
        work = _work(n, n_strata)
        counted = np.empty(looks, dtype=np.int64)  # a look's events when its cut's rank gives them, else -1
        # Only events up to this calendar time are sorted for the cuts: the latest cut of the largest
        # target in the trials so far. When fewer are below it, every event is (about 1 trial in b).
        bound = inf

        for b in range(trials):
            in_order = True
            for i in range(1, n):
                in_order &= entry[b, i] >= entry[b, i - 1]  # False for NaN too
            if not in_order:
                return b
            # -- 1. calendar events and the cuts of the looks -----------------------------------
            found = 0
            kept = 0
            last = -inf
            for i in range(n):
                e = entry[b, i]
                t = outcome[b, i]
                d = dropout[b, i]
                on_study[i] = min(t, d)
                is_event = t <= d
                c = e + t if is_event else inf
                calendar[i] = c
                order[kept] = i
                kept += is_event & (c <= bound)
                found += is_event
                if is_event:
                    last = max(last, c)
            if targets.shape[0] > 0 and kept <= targets[0] and kept < found:
                kept = 0
                for i in range(n):
                    order[kept] = i
                    kept += outcome[b, i] <= dropout[b, i]
            buckets = 0
            if targets.shape[0] > 0 and kept > 0:
                buckets = _partial_sort(order, kept, calendar, scratch)
            previous = -inf
            for k in range(looks):
                kind = kinds[k]
                counted[k] = -1
                if kind == LOOK_TIME:
                    c = values[k]
                elif kind == LOOK_EVENTS:
                    target = targets[look_target[k]]
                    if target < found:  # then target < kept too
                        c = _order_statistic(order, kept, calendar, scratch, buckets, target)
                        if c >= previous and c < inf:
                            # Every event up to c is at a rank up to target, or tied with it just after.
                            q = target + 1
                            while q < kept and calendar[order[q]] == c:
                                q += 1
                            counted[k] = q
                    else:
                        reached[b, k] = False
                        c = max(last, entry[b, n - 1])
                else:
                    c = entry[b, int(values[k]) - 1] + extras[k]
                c = max(c, previous)
                cuts[b, k] = c
                previous = c
            if targets.shape[0] > 0 and targets[0] < found:
                top = calendar[order[targets[0]]]
                bound = top if bound == inf else max(bound, top)

            if stratified:
                row_stratum[:] = strata[b]
            # -- 2. who is seen at y by the last look, sorted by y --------------------------------
            final = cuts[b, looks - 1]
            seen = 0
            for i in range(n):
                e = entry[b, i]
                if e > final:
                    break
                order[seen] = i
                seen += on_study[i] <= max(final - e, 0.0)
            _sort_by(order, seen, on_study, scratch)
            for q in range(seen):  # the seen patients' data in that order, contiguous
                i = order[q]
                s_y[q] = on_study[i]
                s_entry[q] = entry[b, i]
                s_calendar[q] = calendar[i]
                s_arm[q] = arm[b, i]
                s_stratum[q] = row_stratum[i]

            # -- 3. each look: merge the seen and the censored, sweep the tie groups --------------
            in_trial = 0
            stopped = False
            for k in range(looks):
                if stopped:  # the trial stopped at an earlier look: this one is never analysed
                    enrolled[b, k] = 0
                    events[b, k] = 0
                    for j in range(m):
                        analysed[b, k, j] = 0
                        o_minus_e[b, k, j] = 0.0
                        var[b, k, j] = 0.0
                    continue
                c = cuts[b, k]
                while in_trial < n and entry[b, in_trial] <= c:
                    in_trial += 1
                enrolled[b, k] = in_trial
                total_events = counted[k]
                if total_events < 0:
                    total_events = 0
                    for i in range(in_trial):
                        total_events += calendar[i] <= c
                events[b, k] = total_events
                # Nobody seen after max(c - first entry, 0) is seen by this cut (s_y is sorted).
                within = seen
                limit = max(c - entry[b, 0], 0.0)
                while within > 0 and s_y[within - 1] > limit:
                    within -= 1
                for j in range(m):
                    arm_t = treatment[j]
                    arm_c = control[j]
                    wa = 0
                    wb = 0
                    if simple:  # everyone is in the comparison, in no stratum
                        for q in range(within):
                            y = s_y[q]
                            e = s_entry[q]
                            xa[wa] = y
                            fa[wa] = (s_arm[q] == arm_t) + 2 * (s_calendar[q] <= c)
                            wa += (e <= c) & (y <= max(c - e, 0.0))
                        for i in range(in_trial - 1, -1, -1):
                            follow = max(c - entry[b, i], 0.0)
                            xb[wb] = follow
                            fb[wb] = (arm[b, i] == arm_t) + 2 * (calendar[i] <= c)
                            wb += on_study[i] > follow
                    else:
                        # Seen at y, in order of y.
                        for q in range(within):
                            a = s_arm[q]
                            treated = a == arm_t
                            y = s_y[q]
                            e = s_entry[q]
                            # enrolled by this cut, in the comparison, and seen at y by it
                            keep = (e <= c) & (treated | (a == arm_c)) & (y <= max(c - e, 0.0))
                            xa[wa] = y
                            # the stratum in the flags (zero unstratified): one store, and no test per patient
                            fa[wa] = treated + 2 * (s_calendar[q] <= c) + 4 * s_stratum[q]
                            wa += keep
                        # Censored at the cut, in order of c - entry: the last enrolled first.
                        for i in range(in_trial - 1, -1, -1):
                            a = arm[b, i]
                            treated = a == arm_t
                            follow = max(c - entry[b, i], 0.0)
                            keep = (treated | (a == arm_c)) & (on_study[i] > follow)
                            xb[wb] = follow
                            fb[wb] = treated + 2 * (calendar[i] <= c) + 4 * row_stratum[i]
                            wb += keep
                    xa[wa] = inf
                    xb[wb] = inf
                    total = wa + wb
                    analysed[b, k, j] = total
                    o_minus_e[b, k, j], var[b, k, j] = _tie_sums(xa, fa, wa, xb, fb, wb, stratified, work)
                if var[b, k, 0] > 0:
                    # decide()'s z: o_minus_e / sqrt(var), oriented to benefit
                    z = sign * (o_minus_e[b, k, 0] / np.sqrt(var[b, k, 0]))
                    stopped = z >= efficacy[k] or (z <= futility[k] and z < efficacy[k])
        return -1

    return kernel


_SURVIVAL_LOOKS = {simple: _survival_looks_kernel(simple) for simple in (False, True)}


@nb.njit(cache=True, nogil=True)
def _t_test_looks(
    entry, y, dropout, arm, timepoint, cuts, treatment, control, enrolled, diff, se, n1_out, n0_out, constant,
):  # pragma: no cover - compiled  # fmt: skip
    trials, n = entry.shape
    looks = cuts.shape[1]
    m = treatment.shape[0]
    for b in range(trials):
        for k in range(looks):
            c = cuts[b, k]
            count = 0
            while count < n and entry[b, count] <= c:
                count += 1
            enrolled[b, k] = count
            measured = 0  # patients whose outcome is measured by the cut: a prefix (entry is sorted)
            while measured < n and entry[b, measured] + timepoint <= c:
                measured += 1
            for j in range(m):
                arm_t = treatment[j]
                arm_c = control[j]
                # Branch-free sums: a patient's arm is random, so if/else on it would be mispredicted half
                # the time; a patient of neither arm adds zeros.
                n1 = 0
                n0 = 0
                sum1 = 0.0
                sum0 = 0.0
                lo1 = np.inf
                hi1 = -np.inf
                lo0 = np.inf
                hi0 = -np.inf
                for i in range(measured):
                    kept = dropout[b, i] > timepoint
                    a = arm[b, i]
                    v = y[b, i]
                    in1 = kept & (a == arm_t)
                    in0 = kept & (a == arm_c)
                    n1 += in1
                    n0 += in0
                    sum1 += v if in1 else 0.0
                    sum0 += v if in0 else 0.0
                    lo1 = min(lo1, v if in1 else np.inf)
                    hi1 = max(hi1, v if in1 else -np.inf)
                    lo0 = min(lo0, v if in0 else np.inf)
                    hi0 = max(hi0, v if in0 else -np.inf)
                mean1 = sum1 / max(n1, 1)
                mean0 = sum0 / max(n0, 1)
                # Within-arm sums of squares about the arm means (two-pass, numerically stable).
                ss = 0.0
                for i in range(measured):
                    kept = dropout[b, i] > timepoint
                    a = arm[b, i]
                    r = y[b, i] - (mean1 if a == arm_t else mean0)
                    ss += r * r if kept & ((a == arm_t) | (a == arm_c)) else 0.0
                df = n1 + n0 - 2
                pooled = ss / max(df, 1)
                se[b, k, j] = np.sqrt(pooled * (1.0 / max(n1, 1) + 1.0 / max(n0, 1)))
                diff[b, k, j] = mean1 - mean0
                n1_out[b, k, j] = n1
                n0_out[b, k, j] = n0
                constant[b, k, j] = not (hi1 > lo1) and not (hi0 > lo0)


@nb.njit(cache=True, nogil=True)
def _logrank_sets(
    time, event, arm, treatment, control, valid, bits, strata, n_strata, o_minus_e, var, count, events, scratch,
):  # pragma: no cover - compiled  # fmt: skip
    """Log-rank sums of every set of patients of every trial: set (level l, comparison j) holds the valid
    patients of arms ``treatment[j]`` and ``control[j]`` whose ``bits`` have bit l (every patient
    when ``bits`` is (1, 1)); outputs (trials, L, m)."""
    trials, n = valid.shape
    levels = o_minus_e.shape[1]
    m = treatment.shape[0]
    by_level = bits.shape[1] == n
    stratified = strata.shape[1] == n and n_strata > 1
    # One trial's valid patients in order of time, contiguous: each set is a filtered pass over them.
    s_time = np.empty(n)
    s_arm = np.empty(n, dtype=np.int8)
    s_event = np.empty(n, dtype=np.int64)
    s_bits = np.zeros(n, dtype=np.uint64)
    s_stratum = np.zeros(n, dtype=np.int64)
    # One set: times and flags (1 treated, 2 event, 4 x stratum); and an empty second list for _tie_sums.
    mx = np.empty(n + 1)
    mf = np.empty(n + 1, dtype=np.int64)
    none = np.full(1, np.inf)
    none_flags = np.zeros(1, dtype=np.int64)
    work = _work(n, n_strata)
    level_work = _level_work(levels)
    order = np.empty(n + 1, dtype=np.int64)
    for b in range(trials):
        seen = 0
        for i in range(n):
            order[seen] = i
            seen += valid[b, i]
        _sort_by(order, seen, time[b], scratch)
        for q in range(seen):
            i = order[q]
            s_time[q] = time[b, i]
            s_arm[q] = arm[b, i]
            s_event[q] = event[b, i]
            if by_level:
                s_bits[q] = bits[b, i]
            if stratified:
                s_stratum[q] = strata[b, i]
        if by_level and not stratified:  # every level in one sweep
            for j in range(m):
                _level_sums(s_time, s_arm, s_event, s_bits, seen, treatment[j], control[j], count[b, :, j],
                            events[b, :, j], o_minus_e[b, :, j], var[b, :, j], level_work)  # fmt: skip
            continue
        for lv in range(levels):
            for j in range(m):
                arm_t = treatment[j]
                arm_c = control[j]
                members = 0
                died = 0
                for q in range(seen):
                    a = s_arm[q]
                    keep = (a == arm_t) | (a == arm_c)
                    if by_level:
                        keep &= ((s_bits[q] >> lv) & 1) == 1
                    mx[members] = s_time[q]
                    mf[members] = (a == arm_t) + 2 * s_event[q] + 4 * s_stratum[q]
                    members += keep
                    died += keep & (s_event[q] == 1)
                count[b, lv, j] = members
                events[b, lv, j] = died
                mx[members] = np.inf
                o_minus_e[b, lv, j], var[b, lv, j] = _tie_sums(mx, mf, members, none, none_flags, 0, stratified,
                                                               work)  # fmt: skip


@nb.njit(cache=True, nogil=True)
def _level_work(levels):  # pragma: no cover - compiled
    """Scratch of :func:`_level_sums`: per level, at risk, treated at risk, and the current tie group's size,
    treated, events and treated events; and the levels the group touches."""
    return np.zeros((6, max(levels, 1)), dtype=np.int64), np.empty(max(levels, 1), dtype=np.int64)


@nb.njit(cache=True, nogil=True)
def _level_sums(
    s_time, s_arm, s_event, s_bits, seen, arm_t, arm_c, count, died, o_minus_e, var, level_work,
):  # pragma: no cover - compiled  # fmt: skip
    """Unstratified log-rank sums of every subgroup level of one comparison, in one sweep.

    ``s_*``: a trial's valid patients in order of time. A patient counts in each level whose bit it has
    (a few of the L levels): one pass over the patients instead of one per level. Per level, the tie
    groups are those of the level's members alone, visited in the same order as :func:`_tie_sums`
    visits them on those members, so the sums are the same.
    """
    counters, touched = level_work
    at_risk, at_risk1, g, g1, gd, gd1 = counters[0], counters[1], counters[2], counters[3], counters[4], counters[5]
    levels = o_minus_e.shape[0]
    for lv in range(levels):
        at_risk[lv] = 0
        at_risk1[lv] = 0
        died[lv] = 0
        o_minus_e[lv] = 0.0
        var[lv] = 0.0
    for q in range(seen):
        a = s_arm[q]
        if a != arm_t and a != arm_c:
            continue
        treated = 1 if a == arm_t else 0
        bits = s_bits[q]
        while bits != 0:
            lv = trailing_zeros(bits)
            bits &= bits - np.uint64(1)
            at_risk[lv] += 1
            at_risk1[lv] += treated
            died[lv] += s_event[q]
    for lv in range(levels):
        count[lv] = at_risk[lv]
    q = 0
    while q < seen:
        t = s_time[q]
        # A patient alone at its time (the rule without ties) is its levels' whole tie group: no group to gather.
        alone = q + 1 == seen or s_time[q + 1] != t
        n_touched = 0
        while q < seen and s_time[q] == t:
            a = s_arm[q]
            if a == arm_t or a == arm_c:
                treated = 1 if a == arm_t else 0
                event = s_event[q]
                bits = s_bits[q]
                while bits != 0:
                    lv = trailing_zeros(bits)
                    bits &= bits - np.uint64(1)
                    if alone:
                        if event:
                            o_minus_e[lv], var[lv] = _group_sums(o_minus_e[lv], var[lv], at_risk[lv], at_risk1[lv],
                                                                 1, treated)  # fmt: skip
                        at_risk[lv] -= 1
                        at_risk1[lv] -= treated
                        continue
                    if g[lv] == 0:
                        touched[n_touched] = lv
                        n_touched += 1
                    g[lv] += 1
                    g1[lv] += treated
                    gd[lv] += event
                    gd1[lv] += event * treated
            q += 1
        for u in range(n_touched):
            lv = touched[u]
            if gd[lv] > 0:
                o_minus_e[lv], var[lv] = _group_sums(o_minus_e[lv], var[lv], at_risk[lv], at_risk1[lv], gd[lv], gd1[lv])
            at_risk[lv] -= g[lv]
            at_risk1[lv] -= g1[lv]
            g[lv] = 0
            g1[lv] = 0
            gd[lv] = 0
            gd1[lv] = 0


@nb.njit(cache=True, nogil=True)
def _work(n, n_strata):  # pragma: no cover - compiled
    """Scratch of :func:`_tie_sums` for up to ``n`` patients and ``n_strata`` strata."""
    return (
        np.empty(n + 2, dtype=np.int64),  # tie groups with events: risk set,
        np.empty(n + 2, dtype=np.int64),  # treated in the risk set,
        np.empty(n + 2, dtype=np.int64),  # events,
        np.empty(n + 2, dtype=np.int64),  # treated events
        np.zeros(n_strata, dtype=np.int64),  # per stratum: at risk,
        np.zeros(n_strata, dtype=np.int64),  # treated at risk,
        np.zeros(n_strata, dtype=np.int64),  # the current tie group: size,
        np.zeros(n_strata, dtype=np.int64),  # treated,
        np.zeros(n_strata, dtype=np.int64),  # events,
        np.zeros(n_strata, dtype=np.int64),  # treated events
        np.empty(n_strata, dtype=np.int64),  # strata in the current tie group
        np.zeros(n_strata),  # O - E per stratum
        np.zeros(n_strata),  # V per stratum
    )


@nb.njit(cache=True, nogil=True)
def _group_sums(ome, v_sum, nr, n1, d, d1):  # pragma: no cover - compiled
    """``O1 - E1`` and ``V`` with a tie group added: ``nr`` at risk (``n1`` treated), ``d`` events (``d1`` treated)."""
    frac1 = n1 / max(nr, 1)
    ome += d1 - d * frac1
    v = (1.0 - frac1) * frac1
    v *= d
    v *= (nr - d) / max(nr - 1, 1)
    return ome, v_sum + v


@nb.njit(cache=True, nogil=True)
def _tie_sums(xa, fa, na, xb, fb, nb, stratified, work):  # pragma: no cover - compiled
    """Log-rank ``O1 - E1`` and ``V`` over two lists of patients each sorted by time, merged as they are read:
    times ``x`` and flags ``f``: 1 treated, 2 event, plus 4 times the stratum code when ``stratified`` (0
    otherwise); ``xa[na]`` and ``xb[nb]`` are +inf. The sums of :mod:`trialsim.engine.logrank`, added tie
    group by tie group (per stratum, strata added in code order)."""
    e_n, e_n1, e_d, e_d1, at_risk, at_risk1, g_size, g_size1, g_d, g_d1, touched, ome_s, var_s = work
    total = na + nb
    ia = 0
    ib = 0
    if not stratified:
        # Risk sets and events of the tie groups with events, then the sums over them.
        nr = total
        n1 = 0
        for q in range(na):
            n1 += fa[q] & 1
        for q in range(nb):
            n1 += fb[q] & 1
        groups = np.uint64(0)
        group_x = -np.inf
        g = 0
        g1 = 0
        d = 0
        d1 = 0
        # Unsigned positions: numba adds no negative-index wraparound to these loads and stores.
        ua = np.uint64(0)
        ub = np.uint64(0)
        one = np.uint64(1)
        for q in range(total + 1):
            if q < total:
                va = xa[ua]
                vb = xb[ub]
                take_a = np.uint64(va <= vb)
                t = va if take_a else vb
                flag = fa[ua] if take_a else fb[ub]
                ua += take_a
                ub += one - take_a
            else:
                t = np.inf  # flush the last group
                flag = 0
            if t != group_x:
                e_n[groups] = nr
                e_n1[groups] = n1
                e_d[groups] = d
                e_d1[groups] = d1
                groups += np.uint64(d > 0)
                nr -= g
                n1 -= g1
                g = 0
                g1 = 0
                d = 0
                d1 = 0
                group_x = t
            g += 1
            g1 += flag & 1
            d += flag >> 1
            d1 += (flag >> 1) & flag
        ome = 0.0
        v_sum = 0.0
        for u in range(int(groups)):
            ome, v_sum = _group_sums(ome, v_sum, e_n[u], e_n1[u], e_d[u], e_d1[u])
        return ome, v_sum
    n_strata = at_risk.shape[0]
    for s in range(n_strata):
        at_risk[s] = 0
        at_risk1[s] = 0
        ome_s[s] = 0.0
        var_s[s] = 0.0
    for q in range(na):
        at_risk[fa[q] >> 2] += 1
        at_risk1[fa[q] >> 2] += fa[q] & 1
    for q in range(nb):
        at_risk[fb[q] >> 2] += 1
        at_risk1[fb[q] >> 2] += fb[q] & 1
    q = 0
    while q < total:
        t = min(xa[ia], xb[ib])
        n_touched = 0
        while q < total:
            va = xa[ia]
            vb = xb[ib]
            take_a = va <= vb
            if (va if take_a else vb) != t:
                break
            flag = fa[ia] if take_a else fb[ib]
            s = flag >> 2
            flag &= 3
            ia += take_a
            ib += 1 - take_a
            if g_size[s] == 0:
                touched[n_touched] = s
                n_touched += 1
            g_size[s] += 1
            g_size1[s] += flag & 1
            g_d[s] += flag >> 1
            g_d1[s] += (flag >> 1) & flag
            q += 1
        for u in range(n_touched):
            s = touched[u]
            d = g_d[s]
            if d > 0:
                ome_s[s], var_s[s] = _group_sums(ome_s[s], var_s[s], at_risk[s], at_risk1[s], d, g_d1[s])
            at_risk[s] -= g_size[s]
            at_risk1[s] -= g_size1[s]
            g_size[s] = 0
            g_size1[s] = 0
            g_d[s] = 0
            g_d1[s] = 0
    total_ome = 0.0
    total_var = 0.0
    for s in range(n_strata):
        total_ome += ome_s[s]
        total_var += var_s[s]
    return total_ome, total_var
