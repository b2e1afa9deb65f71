"""Raking (iterative proportional fitting): trialsim.cohort.raking."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialsim.cohort.raking import RakingError, rake

# Agresti, Categorical Data Analysis, 2nd ed. (Wiley, 2002), Section 8.2: alcohol (A), cigarette (C)
# and marijuana (M) use of 2,276 high school seniors (Wright State University, 1992), and the fitted
# values of loglinear models printed there. Axes: A, C, M; level 0 is "yes".
ACM = np.array([[[911, 538], [44, 456]], [[3, 43], [2, 279]]], dtype=float)
# Cells in the book's order: (A yes, C yes, M yes), (yes, yes, no), (yes, no, yes), ... (no, no, no).
PRINTED = {
    # (AC, AM, CM): no three-factor interaction; no closed form, IPF is how it is fitted.
    "AC,AM,CM": [910.4, 538.6, 44.6, 455.4, 3.6, 42.4, 1.4, 279.6],
    # (AM, CM): A and C independent given M.
    "AM,CM": [909.24, 438.84, 45.76, 555.16, 4.76, 142.16, 0.24, 179.84],
    # (A, C, M): mutual independence.
    "A,C,M": [540.0, 740.2, 282.1, 386.7, 90.6, 124.2, 47.3, 64.9],
}
MARGINS = {"AC,AM,CM": [(0, 1), (0, 2), (1, 2)], "AM,CM": [(0, 2), (1, 2)], "A,C,M": [(0,), (1,), (2,)]}


def margin(table: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return table.sum(axis=tuple(a for a in range(table.ndim) if a not in axes))


@pytest.mark.parametrize("model", list(PRINTED))
def test_reproduces_agresti_loglinear_fits(model: str) -> None:
    targets = {axes: margin(ACM, axes) for axes in MARGINS[model]}
    fitted = rake(np.ones_like(ACM), targets).ravel()
    decimals = 2 if model == "AM,CM" else 1
    np.testing.assert_array_equal(fitted.round(decimals), PRINTED[model])


def test_three_way_census_like_marginals_to_1e6() -> None:
    rng = np.random.default_rng(20201)
    seed = rng.gamma(2.0, size=(7, 2, 3))
    race = np.array([0.187, 0.578, 0.121, 0.059, 0.007, 0.002, 0.046])
    sex = np.array([0.505, 0.495])
    age = np.array([0.462, 0.322, 0.216])
    table = rake(seed, [race, sex, age])
    for axis, target in enumerate([race, sex, age]):
        np.testing.assert_allclose(margin(table, (axis,)), target, rtol=0, atol=1e-6)
    assert table.sum() == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    data=st.data(),
)
def test_any_positive_table_takes_on_any_positive_marginals(shape: list[int], data: st.DataObject) -> None:
    positive = st.floats(0.01, 100.0, allow_nan=False, allow_infinity=False)
    seed = np.array(data.draw(st.lists(positive, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
    seed = seed.reshape(shape)
    targets = []
    for n in shape:
        raw = np.array(data.draw(st.lists(positive, min_size=n, max_size=n)))
        targets.append(raw / raw.sum())
    table = rake(seed, targets)
    for axis, target in enumerate(targets):
        np.testing.assert_allclose(margin(table, (axis,)), target, rtol=0, atol=1e-6)


def test_seed_of_ones_gives_the_product_of_marginals() -> None:
    rows, cols = np.array([0.2, 0.8]), np.array([0.1, 0.3, 0.6])
    np.testing.assert_allclose(rake(np.ones((2, 3)), [rows, cols]), np.outer(rows, cols), atol=1e-12)


def test_seed_odds_ratio_is_kept() -> None:
    seed = np.array([[30.0, 10.0], [5.0, 20.0]])
    table = rake(seed, [[0.4, 0.6], [0.7, 0.3]])
    odds = lambda t: t[0, 0] * t[1, 1] / (t[0, 1] * t[1, 0])  # noqa: E731
    assert odds(table) == pytest.approx(odds(seed), rel=1e-8)


def test_free_axes_and_zero_cells() -> None:
    seed = np.array([[1.0, 0.0, 2.0], [3.0, 1.0, 0.0]])
    table = rake(seed, [None, [2.0, 1.0, 1.0]])
    assert table[0, 1] == 0 and table[1, 2] == 0
    np.testing.assert_allclose(table.sum(axis=0), [2.0, 1.0, 1.0], atol=1e-9)


def test_frame_matches_array() -> None:
    seed = pl.DataFrame(
        {
            "sex": ["F", "F", "F", "M", "M", "M"],
            "age_group": ["18-44", "45-64", "65+"] * 2,
            "weight": [3.0, 2.0, 1.5, 2.5, 2.0, 1.0],
        }
    )
    marginals = {"sex": {"F": 0.505, "M": 0.495}, "age_group": {"18-44": 0.462, "45-64": 0.322, "65+": 0.216}}
    raked = rake(seed, marginals)
    assert raked.columns == seed.columns and raked["sex"].equals(seed["sex"])
    array = rake(seed["weight"].to_numpy().reshape(2, 3), [[0.505, 0.495], [0.462, 0.322, 0.216]])
    np.testing.assert_allclose(raked["weight"].to_numpy(), array.ravel(), atol=1e-12)
    by_sex = raked.group_by("sex").agg(pl.col("weight").sum()).sort("sex")
    np.testing.assert_allclose(by_sex["weight"].to_numpy(), [0.505, 0.495], atol=1e-9)


def test_frame_with_a_two_way_marginal() -> None:
    seed = pl.DataFrame({"a": ["x", "x", "y", "y"], "b": ["p", "q", "p", "q"], "weight": [1.0] * 4})
    target = pl.DataFrame({"a": ["x", "x", "y", "y"], "b": ["p", "q", "p", "q"], "weight": [0.1, 0.2, 0.3, 0.4]})
    raked = rake(seed, {("a", "b"): target})
    np.testing.assert_allclose(raked["weight"].to_numpy(), [0.1, 0.2, 0.3, 0.4], atol=1e-12)


def test_marginals_that_disagree_on_the_total() -> None:
    with pytest.raises(RakingError, match="disagree on the table's total"):
        rake(np.ones((2, 2)), [[0.5, 0.5], [0.5, 0.6]])


def test_weight_needed_where_the_seed_has_none() -> None:
    with pytest.raises(RakingError, match="where the seed table has none"):
        rake(np.array([[1.0, 0.0], [1.0, 0.0]]), [[0.5, 0.5], [0.5, 0.5]])


def test_marginals_the_zeros_forbid_do_not_converge() -> None:
    # A diagonal seed can only have equal row and column margins.
    with pytest.raises(RakingError, match="did not converge"):
        rake(np.eye(2), [[0.5, 0.5], [0.3, 0.7]], max_iter=200)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="shape"):
        rake(np.ones((2, 2)), [[0.5, 0.5], [0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match="non-negative"):
        rake(np.ones((2, 2)), [[1.5, -0.5]])
    with pytest.raises(ValueError, match="level 'Z'"):
        rake(pl.DataFrame({"s": ["F", "M"], "weight": [1.0, 1.0]}), {"s": {"F": 0.5, "Z": 0.5}})
