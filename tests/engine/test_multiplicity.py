"""Tests for trialsim.engine.multiplicity.

References: statsmodels' ``multipletests`` (single analysis), scalar reference loops
written out below, exact null probabilities of the procedures, and Monte Carlo FWER
under the global and a partial null with boundaries from
:func:`trialsim.engine.boundaries.efficacy_bounds`.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from trialsim.engine.boundaries import efficacy_bounds
from trialsim.engine.multiplicity import family_power, levels, reject, sequential_reject

SM_METHOD = {"bonferroni": "bonferroni", "holm": "holm", "hochberg": "simes-hochberg"}


@pytest.fixture(autouse=True)
def _no_gc_in_statsmodels(monkeypatch):
    # multipletests(method="holm") calls gc.collect() on every call (~0.2 s each);
    # skip it while this module's tests run (restored afterwards).
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


# --------------------------------------------------------------------------------------
# reject: single analysis
# --------------------------------------------------------------------------------------
def _random_p(rng: np.random.Generator, n: int, m: int, alpha: float) -> np.ndarray:
    """p-values that exercise the procedures: small values, ties, exact critical values."""
    kind = rng.integers(0, 4, size=(n, m))
    p = np.where(
        kind == 0,
        rng.uniform(0.0, 2.0 * alpha, size=(n, m)),  # near the critical values
        rng.uniform(0.0, 1.0, size=(n, m)),
    )
    # exact critical values alpha / j (the same float division as statsmodels)
    crit = alpha / rng.integers(1, m + 1, size=(n, m))
    p = np.where(kind == 1, crit, p)
    p = np.where(kind == 2, rng.choice([0.0, 1.0, alpha], size=(n, m)), p)
    # ties: copy column 0 into a random other column in half of the rows
    tie = rng.random(n) < 0.5
    col = rng.integers(1, m, size=n)
    p[tie, col[tie]] = p[tie, 0]
    return p


@pytest.mark.parametrize("method", ["bonferroni", "holm", "hochberg"])
@pytest.mark.parametrize("alpha", [0.025, 0.05])
def test_reject_matches_statsmodels(method, alpha):
    rng = np.random.default_rng(20240611)
    n_rows = 0
    for m in range(2, 7):
        p = _random_p(rng, 100, m, alpha)  # 5 x 100 = 500 p-value vectors
        got = reject(p, alpha, method)
        assert got.shape == p.shape and got.dtype == np.bool_
        want = np.array([multipletests(row, alpha=alpha, method=SM_METHOD[method])[0] for row in p])
        assert_array_equal(got, want)
        n_rows += len(p)
    assert n_rows == 500


def test_reject_boundary_values_are_rejected():
    # p exactly at its critical value is rejected (<=), for every procedure
    alpha = 0.05
    p = np.array([[alpha / 3, alpha / 2, alpha]])
    for method in ("holm", "hochberg", "fixed_sequence", "none"):
        assert reject(p, alpha, method).all(), method
    assert_array_equal(reject(p, alpha, "bonferroni"), [[True, False, False]])
    # Holm stops at the first failure, Hochberg steps up past it
    p = np.array([[0.04, 0.03, 0.001]])  # sorted 0.001 <= a/3, 0.03 > a/2, 0.04 <= a
    assert_array_equal(reject(p, alpha, "holm"), [[False, False, True]])
    assert_array_equal(reject(p, alpha, "hochberg"), [[True, True, True]])


def _fixed_sequence_reference(row: np.ndarray, alpha: float) -> np.ndarray:
    out = np.zeros(len(row), dtype=bool)
    for i, p in enumerate(row):
        if p <= alpha:  # NaN <= alpha is False: stops
            out[i] = True
        else:
            break
    return out


def test_fixed_sequence_matches_scalar_loop():
    rng = np.random.default_rng(7)
    alpha = 0.05
    for m in range(1, 7):
        p = rng.uniform(0.0, 0.12, size=(60, m))
        p[rng.random(p.shape) < 0.1] = alpha  # boundary
        p[rng.random(p.shape) < 0.05] = np.nan
        got = reject(p, alpha, "fixed_sequence")
        want = np.array([_fixed_sequence_reference(row, alpha) for row in p])
        assert_array_equal(got, want)


@pytest.mark.parametrize("method", ["holm", "hochberg"])
def test_nan_counts_as_one_for_holm_hochberg(method):
    rng = np.random.default_rng(3)
    alpha = 0.05
    p = _random_p(rng, 200, 4, alpha)
    p[rng.random(p.shape) < 0.25] = np.nan
    got = reject(p, alpha, method)
    assert not got[np.isnan(p)].any()
    filled = np.where(np.isnan(p), 1.0, p)
    want = np.array([multipletests(row, alpha=alpha, method=SM_METHOD[method])[0] for row in filled])
    assert_array_equal(got, want)


def test_nan_handling_small_cases():
    alpha = 0.05
    # the NaN keeps its share of alpha: 0.03 > alpha / 2 is not rejected by Holm
    p = np.array([[0.03, np.nan]])
    assert_array_equal(reject(p, alpha, "holm"), [[False, False]])
    assert_array_equal(reject(p, alpha, "none"), [[True, False]])
    # NaN stops the fixed sequence
    p = np.array([[0.01, np.nan, 0.01]])
    assert_array_equal(reject(p, alpha, "fixed_sequence"), [[True, False, False]])
    p = np.full((2, 3), np.nan)
    for method in ("none", "bonferroni", "holm", "hochberg", "fixed_sequence"):
        assert not reject(p, alpha, method).any()


def test_reject_none_and_empty_batch():
    p = np.array([[0.05, 0.051, 0.0]])
    assert_array_equal(reject(p, 0.05, "none"), [[True, False, True]])
    assert reject(np.zeros((0, 3)), 0.05, "holm").shape == (0, 3)


@pytest.mark.parametrize(
    "p, alpha, method",
    [
        (np.array([0.01, 0.02]), 0.05, "holm"),  # 1-D
        (np.zeros((2, 0)), 0.05, "holm"),  # m = 0
        (np.array([[0.01, 1.5]]), 0.05, "holm"),
        (np.array([[-0.01, 0.5]]), 0.05, "bonferroni"),
        (np.array([[np.inf, 0.5]]), 0.05, "bonferroni"),
        (np.array([[0.01, 0.02]]), 0.0, "holm"),
        (np.array([[0.01, 0.02]]), 1.0, "holm"),
        (np.array([[0.01, 0.02]]), float("nan"), "holm"),
        (np.array([[0.01, 0.02]]), 0.05, "hommel"),
        (np.array([["a", "b"]]), 0.05, "holm"),
    ],
)
def test_reject_invalid_input(p, alpha, method):
    with pytest.raises(ValueError):
        reject(p, alpha, method)


def test_family_power():
    rej = np.array([[True, False], [True, True], [False, False]])
    out = family_power(rej)
    assert_array_equal(out["any"], [True, True, False])
    assert_array_equal(out["all"], [False, True, False])
    with pytest.raises(ValueError):
        family_power(np.array([True, False]))
    with pytest.raises(ValueError):
        family_power(np.array([[1, 0]]))


# --------------------------------------------------------------------------------------
# levels
# --------------------------------------------------------------------------------------
def test_levels():
    assert levels("bonferroni", 3) == [1 / 3]
    assert levels("holm", 4) == [1 / 4, 1 / 3, 1 / 2, 1.0]
    assert levels("holm", 1) == [1.0]
    assert levels("fixed_sequence", 5) == [1.0]
    assert levels("none", 2) == [1.0]
    for bad in [("hochberg", 2), ("holm", 0), ("holm", 2.0), ("sidak", 2)]:
        with pytest.raises(ValueError):
            levels(*bad)


# --------------------------------------------------------------------------------------
# sequential_reject
# --------------------------------------------------------------------------------------
def _normal_bounds(method: str, m: int, alpha: float) -> dict[float, np.ndarray]:
    return {f: np.array([norm.isf(f * alpha)]) for f in levels(method, m)}


@pytest.mark.parametrize("method", ["bonferroni", "holm", "fixed_sequence", "none"])
def test_single_look_reduces_to_reject(method):
    rng = np.random.default_rng(11)
    alpha = 0.025
    for m in range(1, 6):
        z = rng.normal(loc=rng.uniform(0.0, 3.5, size=m), size=(2000, 1, m))
        z[rng.random(z.shape) < 0.02] = np.nan
        look, fraction = sequential_reject(z, _normal_bounds(method, m, alpha), method)
        assert look.shape == (2000, m) and np.issubdtype(look.dtype, np.integer)
        assert set(np.unique(look)) <= {-1, 0}
        want = reject(norm.sf(z[:, 0, :]), alpha, method)  # NaN z -> NaN p
        assert want.any() and not want.all()
        assert_array_equal(look == 0, want)
        assert_array_equal(np.isnan(fraction), ~want)


def test_holm_single_look_fraction_is_one_over_remaining():
    # c(a/3) = 2.128, c(a/2) = 1.960, c(a) = 1.645 for a = 0.05: the r-th rejection
    # happens at fraction 1 / (m - r + 1)
    alpha = 0.05
    z = np.array([[[5.0, 2.1, 1.8]]])
    look, fraction = sequential_reject(z, _normal_bounds("holm", 3, alpha), "holm")
    assert_array_equal(look, [[0, 0, 0]])
    np.testing.assert_allclose(fraction, [[1 / 3, 1 / 2, 1.0]])


# Hand-made boundaries, two looks: c_k(alpha/2) > c_k(alpha).
B2 = {0.5: np.array([3.0, 2.3]), 1.0: np.array([2.7, 2.0])}


@pytest.mark.parametrize(
    "z, method, want_look",
    [
        # Holm: H1 crosses its alpha/2 bound at look 0; H2 (2.5 < 2.7) is then tested at
        # the full-alpha bound and crosses it at look 1 (2.1 >= 2.0, though < 2.3).
        ([[3.1, 2.5], [0.0, 2.1]], "holm", [0, 1]),
        # ... and H2 crosses the full-alpha bound at look 0 itself: re-test at the same look.
        ([[3.1, 2.8], [0.0, 0.0]], "holm", [0, 0]),
        # ... H2 crosses neither bound at look 1.
        ([[3.1, 2.5], [0.0, 1.9]], "holm", [0, -1]),
        # Neither crosses alpha/2 at look 0 (H2 would cross the full-alpha bound: no);
        # at look 1 H2 crosses alpha/2, then H1 the full-alpha bound.
        ([[2.9, 2.8], [2.1, 2.4]], "holm", [1, 1]),
        # Bonferroni passes nothing on: H2 crosses only the full-alpha bound.
        ([[3.1, 2.8], [0.0, 2.1]], "bonferroni", [0, -1]),
        ([[3.1, 3.0], [0.0, 2.1]], "bonferroni", [0, 0]),
        # Fixed sequence: H2 is not tested until H1 is rejected (at look 1).
        ([[2.0, 5.0], [2.7, 1.9]], "fixed_sequence", [1, -1]),
        ([[2.0, 5.0], [2.7, 2.0]], "fixed_sequence", [1, 1]),
        ([[2.7, 2.7], [0.0, 0.0]], "fixed_sequence", [0, 0]),
        # NaN never rejects; a NaN for H1 blocks the sequence.
        ([[np.nan, 5.0], [np.nan, 5.0]], "fixed_sequence", [-1, -1]),
        ([[np.nan, 3.0], [2.1, np.nan]], "holm", [1, 0]),
    ],
)
def test_two_looks_hand_checked(z, method, want_look):
    bounds = {f: B2[f] for f in levels(method, 2)} if method != "bonferroni" else {0.5: B2[0.5]}
    look, _ = sequential_reject(np.array([z]), bounds, method)
    assert_array_equal(look, [want_look])


def test_two_looks_fixed_sequence_of_three():
    bounds = {1.0: np.array([2.7, 2.0])}
    z = np.array([[[2.8, 2.75, 1.0], [0.0, 0.0, 2.05]]])  # H1, H2 at look 0; H3 at look 1
    look, fraction = sequential_reject(z, bounds, "fixed_sequence")
    assert_array_equal(look, [[0, 0, 1]])
    assert_array_equal(fraction, [[1.0, 1.0, 1.0]])


def test_holm_cascade_three_hypotheses_one_look():
    # m = 3: bounds for 1/3, 1/2, 1; each rejection unlocks the next one at the same look
    bounds = {1 / 3: np.array([3.0, 9.0]), 0.5: np.array([2.5, 9.0]), 1.0: np.array([2.0, 9.0])}
    z = np.array([[[3.0, 2.6, 2.1], [0.0, 0.0, 0.0]], [[3.0, 2.4, 2.9], [0.0, 0.0, 0.0]]])
    look, fraction = sequential_reject(z, bounds, "holm")
    assert_array_equal(look, [[0, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(fraction, [[1 / 3, 1 / 2, 1.0], [1 / 3, 1.0, 1 / 2]])


def test_retrospective_compares_earlier_looks():
    # H2's look-0 statistic (5.0) crosses the full-alpha look-0 bound once H1 is rejected
    z = np.array([[[2.0, 5.0], [2.7, 1.0]]])
    bounds = {1.0: np.array([2.7, 2.0])}
    look, _ = sequential_reject(z, bounds, "fixed_sequence")
    assert_array_equal(look, [[1, -1]])
    look, _ = sequential_reject(z, bounds, "fixed_sequence", retrospective=True)
    assert_array_equal(look, [[1, 1]])


@pytest.mark.parametrize("method", ["bonferroni", "holm", "fixed_sequence"])
def test_retrospective_rejects_a_superset_no_later(method):
    rng = np.random.default_rng(5)
    m, K = 3, 3
    info = np.array([1 / 3, 2 / 3, 1.0])
    bounds = {f: efficacy_bounds(info, 0.025 * f) for f in levels(method, m)}
    z = rng.normal(loc=1.5, size=(5000, K, m))
    base, _ = sequential_reject(z, bounds, method)
    retro, _ = sequential_reject(z, bounds, method, retrospective=True)
    assert not ((base >= 0) & (retro < 0)).any()
    both = (base >= 0) & (retro >= 0)
    assert (retro[both] <= base[both]).all()


def test_extra_keys_and_key_tolerance():
    z = np.array([[[3.1, 2.8]]])
    bounds = {0.5000000000001: np.array([3.0]), 1.0: np.array([2.7]), 0.25: np.array([1.0])}
    look, _ = sequential_reject(z, bounds, "holm")
    assert_array_equal(look, [[0, 0]])


@pytest.mark.parametrize(
    "z, bounds, method",
    [
        (np.zeros((2, 2)), {0.5: np.zeros(1), 1.0: np.zeros(1)}, "holm"),  # not 3-D
        (np.zeros((2, 1, 2)), {1.0: np.zeros(1)}, "holm"),  # fraction 1/2 missing
        (np.zeros((2, 2, 2)), {0.5: np.zeros(1), 1.0: np.zeros(1)}, "holm"),  # wrong K
        (np.zeros((2, 1, 2)), {0.5: np.array([np.nan]), 1.0: np.zeros(1)}, "holm"),
        (np.zeros((2, 1, 2)), {0.5: np.zeros(1)}, "hochberg"),
        (np.zeros((2, 1, 2)), [np.zeros(1)], "fixed_sequence"),
    ],
)
def test_sequential_invalid_input(z, bounds, method):
    with pytest.raises(ValueError):
        sequential_reject(z, bounds, method)


# --------------------------------------------------------------------------------------
# Monte Carlo FWER with O'Brien-Fleming-type spending boundaries
# --------------------------------------------------------------------------------------
ALPHA = 0.025
INFO = np.array([1 / 3, 2 / 3, 1.0])
N_SIM = 200_000


def _z_processes(rng: np.random.Generator, drift: np.ndarray, rho: float) -> np.ndarray:
    """Z_k = S_k / sqrt(t_k), S with independent N(drift dt, dt) increments; corr rho across H."""
    dt = np.diff(INFO, prepend=0.0)
    cov = np.array([[1.0, rho], [rho, 1.0]])
    inc = rng.multivariate_normal(np.zeros(2), cov, size=(N_SIM, len(INFO)))  # (B, K, m)
    inc = inc * np.sqrt(dt)[None, :, None] + drift[None, None, :] * dt[None, :, None]
    return np.cumsum(inc, axis=1) / np.sqrt(INFO)[None, :, None]


def _fwer_bounds(method: str) -> dict[float, np.ndarray]:
    return {f: efficacy_bounds(INFO, ALPHA * f, spending="obrien_fleming") for f in levels(method, 2)}


SE = np.sqrt(ALPHA * (1 - ALPHA) / N_SIM)


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.0, 0.5])
@pytest.mark.parametrize("method", ["holm", "fixed_sequence"])
def test_fwer_global_null(method, rho):
    rng = np.random.default_rng(2013 + int(10 * rho))
    z = _z_processes(rng, np.zeros(2), rho)
    look, _ = sequential_reject(z, _fwer_bounds(method), method)
    fwer = family_power(look >= 0)["any"].mean()
    assert fwer <= ALPHA + 3.5 * SE
    # Exact values: under the global null the first rejection is at the initial levels.
    if method == "fixed_sequence":  # FWER = P(H1 crosses its alpha-level design) = alpha
        assert abs(fwer - ALPHA) <= 4 * SE
    elif rho == 0.0:  # two independent alpha/2-level designs
        want = 1 - (1 - ALPHA / 2) ** 2
        assert abs(fwer - want) <= 4 * SE


@pytest.mark.slow
@pytest.mark.parametrize("retrospective", [False, True])
@pytest.mark.parametrize("rho", [0.0, 0.5])
@pytest.mark.parametrize("method", ["holm", "fixed_sequence"])
def test_fwer_partial_null(method, rho, retrospective):
    # H1 false with a large drift (rejected early), H2 true: P(reject H2) <= alpha, and
    # it approaches alpha since H2 then gets the full alpha.
    rng = np.random.default_rng(99 + int(10 * rho))
    z = _z_processes(rng, np.array([5.0, 0.0]), rho)
    look, _ = sequential_reject(z, _fwer_bounds(method), method, retrospective=retrospective)
    assert (look[:, 0] >= 0).mean() > 0.99
    type1 = (look[:, 1] >= 0).mean()
    assert type1 <= ALPHA + 3.5 * SE
    assert type1 >= ALPHA / 2
