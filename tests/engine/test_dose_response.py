"""Tests for trialsim.engine.dose_response.dose_effect (hand-computed values)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from trialsim.engine.dose_response import dose_effect


def test_linear():
    d = np.array([0.0, 1.0, 2.5, 10.0])
    assert_allclose(dose_effect(d, 0.0, "linear", slope=0.4), [0.0, 0.4, 1.0, 4.0])
    assert_allclose(dose_effect(d, 1.0, "linear", slope=-2.0), [2.0, 0.0, -3.0, -18.0])


def test_emax_values():
    # f(d) = emax d / (ed50 + d) with emax = 2, ed50 = 10
    d = np.array([0.0, 10.0, 30.0, 90.0])
    assert_allclose(dose_effect(d, 0.0, "emax", emax=2.0, ed50=10.0), [0.0, 1.0, 1.5, 1.8])
    # at d = ed50: emax / 2 minus the control's f(5) = 2 * 5 / 15 = 2 / 3
    got = dose_effect(np.array([10.0]), 5.0, "emax", emax=2.0, ed50=10.0)
    assert_allclose(got, [1.0 - 2.0 / 3.0])


def test_sigmoid_emax_values():
    # emax = 3, ed50 = 2, h = 2: f(1) = 3 / 5 = 0.6, f(2) = 1.5, f(4) = 48 / 20 = 2.4
    d = np.array([0.0, 1.0, 2.0, 4.0])
    assert_allclose(dose_effect(d, 0.0, "sigmoid_emax", emax=3.0, ed50=2.0, hill=2.0), [0.0, 0.6, 1.5, 2.4])
    # relative to control dose 1
    assert_allclose(
        dose_effect(d, 1.0, "sigmoid_emax", emax=3.0, ed50=2.0, hill=2.0), [-0.6, 0.0, 0.9, 1.8], atol=1e-15
    )
    # at d = ed50 the effect is emax / 2 whatever the Hill coefficient
    for h in (0.3, 1.0, 4.0, 60.0):
        assert_allclose(dose_effect(np.array([7.0]), 0.0, "sigmoid_emax", emax=-1.2, ed50=7.0, hill=h), [-0.6])


def test_sigmoid_with_hill_one_is_emax():
    d = np.linspace(0.0, 200.0, 41)
    for d0 in (0.0, 12.5):
        a = dose_effect(d, d0, "sigmoid_emax", emax=1.7, ed50=25.0, hill=1.0)
        b = dose_effect(d, d0, "emax", emax=1.7, ed50=25.0)
        assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_steep_hill_does_not_overflow():
    d = np.array([0.0, 1.0, 9.0, 10.0, 11.0, 1e6])
    with np.errstate(all="raise"):
        got = dose_effect(d, 0.0, "sigmoid_emax", emax=1.0, ed50=10.0, hill=400.0)
    assert_allclose(got, [0.0, 0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-15)


def test_control_arm_gets_zero_and_shape_is_kept():
    d = np.array([[5.0, 0.0], [20.0, 5.0]])
    for model, par in [
        ("linear", {"slope": 0.3}),
        ("emax", {"emax": 1.0, "ed50": 3.0}),
        ("sigmoid_emax", {"emax": 1.0, "ed50": 3.0, "hill": 2.5}),
    ]:
        got = dose_effect(d, 5.0, model, **par)
        assert got.shape == (2, 2) and got.dtype == np.float64
        assert_array_equal(got[d == 5.0], 0.0)
        assert dose_effect(np.array(5.0), 5.0, model, **par) == 0.0


@given(
    emax=st.floats(0.01, 50.0),
    ed50=st.floats(0.01, 100.0),
    hill=st.floats(0.1, 20.0),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_monotone_in_dose(emax, ed50, hill, sign):
    d = np.linspace(0.0, 500.0, 201)
    for model, par in [
        ("linear", {"slope": sign * emax}),
        ("emax", {"emax": sign * emax, "ed50": ed50}),
        ("sigmoid_emax", {"emax": sign * emax, "ed50": ed50, "hill": hill}),
    ]:
        steps = np.diff(sign * dose_effect(d, 0.0, model, **par))
        assert (steps >= 0.0).all(), model
        # bounded by emax for the Emax models
        if model != "linear":
            assert (np.abs(dose_effect(d, 0.0, model, **par)) <= emax * (1 + 1e-12)).all()


@pytest.mark.parametrize(
    "doses, control, model, par",
    [
        ([1.0], 0.0, "linear", {}),
        ([1.0], 0.0, "emax", {"emax": 1.0}),
        ([1.0], 0.0, "emax", {"ed50": 1.0}),
        ([1.0], 0.0, "sigmoid_emax", {"emax": 1.0, "ed50": 1.0}),
        ([1.0], 0.0, "emax", {"emax": 1.0, "ed50": 0.0}),
        ([1.0], 0.0, "emax", {"emax": 1.0, "ed50": -2.0}),
        ([1.0], 0.0, "sigmoid_emax", {"emax": 1.0, "ed50": 1.0, "hill": 0.0}),
        ([1.0], 0.0, "sigmoid_emax", {"emax": 1.0, "ed50": 1.0, "hill": -1.0}),
        ([1.0], 0.0, "emax", {"emax": float("nan"), "ed50": 1.0}),
        ([1.0], 0.0, "emax", {"emax": 1.0, "ed50": float("inf")}),
        ([1.0], 0.0, "emax", {"emax": 1.0, "ed50": 1.0, "hill": 2.0}),  # not an Emax parameter
        ([1.0], 0.0, "linear", {"slope": 1.0, "emax": 1.0}),
        ([1.0], 0.0, "exponential", {"slope": 1.0}),
        ([-1.0], 0.0, "linear", {"slope": 1.0}),
        ([np.nan], 0.0, "linear", {"slope": 1.0}),
        ([np.inf], 0.0, "emax", {"emax": 1.0, "ed50": 1.0}),
        ([1.0], -1.0, "linear", {"slope": 1.0}),
        ([1.0], float("nan"), "linear", {"slope": 1.0}),
        (["a"], 0.0, "linear", {"slope": 1.0}),
        ([1.0], 0.0, "linear", {"slope": "steep"}),
    ],
)
def test_invalid_parameters_raise(doses, control, model, par):
    with pytest.raises(ValueError):
        dose_effect(np.array(doses), control, model, **par)
