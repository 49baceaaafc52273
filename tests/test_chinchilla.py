"""Tests of trainmath.chinchilla: Table 3, loss fits, IsoFLOPs, inference-aware optima."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

# Hoffmann et al. 2022, Table 3: (params, FLOPs, tokens).
TABLE3 = [
    (400e6, 1.92e19, 8.0e9), (1e9, 1.21e20, 20.2e9), (10e9, 1.23e22, 205.1e9),
    (175e9, 3.85e24, 3.7e12), (280e9, 9.90e24, 5.9e12), (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12), (10e12, 1.30e28, 216.2e12),
]

LLAMA3_8B = tm.param_count(tm.MODELS["llama-3-8b"])  # 8,030,261,248 (reference-figures Sec. 4)
big = st.floats(1e15, 1e30, allow_nan=False, allow_infinity=False)
budgets = st.floats(1e18, 1e28, allow_nan=False, allow_infinity=False)
fits = st.sampled_from(sorted(tm.FITS))


# --- published tables ----------------------------------------------------------------------------


def test_table3_constant_matches_the_paper():
    # Hoffmann et al. 2022, Table 3 (reference-figures Sec. 1).
    assert len(tm.CHINCHILLA_TABLE3) == 9
    assert tm.CHINCHILLA_TABLE3[3] == (67e9, 5.76e23, 1.5e12)
    assert tm.CHINCHILLA_TABLE3[3][1] == tm.GOPHER_FLOPS
    # The transcription above, row by row (it leaves out the inconsistent 67B row).
    assert [row for row in tm.CHINCHILLA_TABLE3 if row[0] != 67e9] == TABLE3
    for n, c, d in tm.CHINCHILLA_TABLE3:
        ratio = tm.training_flops(n, d) / c
        if n == 67e9:
            assert ratio == pytest.approx(1.047, abs=1e-3)  # the inconsistent row
        else:
            # Within 0.25 %, except 175 B at 0.9 %: 3.7 T is C/(6N) = 3.67 T rounded.
            assert ratio == pytest.approx(1.0, abs=1e-2 if n == 175e9 else 2.5e-3)


def test_table3_67b_row_is_inconsistent():
    # 6 * 67e9 * 1.5e12 = 6.03e23, 4.7 % above the printed 5.76e23 (reference-figures Sec. 1).
    assert tm.training_flops(67e9, 1.5e12) / 5.76e23 == pytest.approx(1.047, abs=1e-3)
    assert 5.76e23 / (6 * 67e9) == pytest.approx(1.43e12, rel=1e-2)


def test_table2_exponents():
    # Hoffmann et al. 2022, Table 2, incl. Kaplan et al. 2020's 0.73 / 0.27.
    ex = tm.SCALING_EXPONENTS
    assert ex["Kaplan et al. 2020"] == (0.73, 0.27)
    assert ex["Chinchilla Approach 3 (parametric fit)"] == (0.46, 0.54)
    for a, b in ex.values():
        assert a + b == pytest.approx(1.0)
    # The printed (rounded) alpha, beta give a = 0.4516, not Table 2's 0.46.
    assert tm.frontier_exponents("hoffmann")[0] == pytest.approx(0.4516, abs=1e-4)


# --- the 20-tokens rule --------------------------------------------------------------------------


def test_chinchilla_optimal_20_tokens_per_param():
    n, d = tm.chinchilla_optimal(5.76e23)
    assert d / n == pytest.approx(20)
    assert 6 * n * d == pytest.approx(5.76e23)
    assert n == pytest.approx(np.sqrt(5.76e23 / 120))
    # Chinchilla itself: 70B on 1.4T tokens (Table 1) is ~20 tokens per parameter.
    n, d = tm.chinchilla_optimal(tm.training_flops(70e9, 1.4e12))
    assert n == pytest.approx(70e9, rel=0.05)


@given(big, st.floats(1, 1000))
def test_chinchilla_optimal_spends_the_budget(c, k):
    n, d = tm.chinchilla_optimal(c, k)
    assert np.isclose(6 * n * d, c, rtol=1e-9) and np.isclose(d / n, k, rtol=1e-9)


# --- the loss fit and its frontier ---------------------------------------------------------------


def test_loss_values():
    f = tm.FITS["hoffmann"]
    expected = f.E + f.A / 70e9**f.alpha + f.B / 1.4e12**f.beta
    assert tm.chinchilla_loss(70e9, 1.4e12) == pytest.approx(expected)
    assert tm.chinchilla_loss(1e30, 1e30) == pytest.approx(f.E, abs=1e-3)


def test_hoffmann_fit_frontier_at_gopher_budget():
    a, b = tm.frontier_exponents("hoffmann")
    assert a == pytest.approx(0.4516, abs=1e-4) and a + b == pytest.approx(1)
    n, d = tm.loss_optimal(tm.GOPHER_FLOPS)
    assert n == pytest.approx(3.22e10, rel=1e-2)
    assert d == pytest.approx(2.98e12, rel=1e-2)
    assert d / n == pytest.approx(93, rel=0.02)
    assert 6 * n * d == pytest.approx(tm.GOPHER_FLOPS)


def test_epoch_fit_gives_about_20_tokens_per_param():
    a, _ = tm.frontier_exponents("epoch")
    assert a == pytest.approx(0.513, abs=1e-3)
    n, d = tm.loss_optimal(tm.GOPHER_FLOPS, "epoch")
    assert 15 < d / n < 25


def test_frontier_minimises_loss_on_isoflop_curve():
    for fit in tm.FITS:
        c = 1e23
        n_opt, d_opt = tm.loss_optimal(c, fit)
        n = n_opt * np.logspace(-0.5, 0.5, 201)
        loss = tm.chinchilla_loss(n, c / (6 * n), fit)
        assert abs(np.argmin(loss) - 100) <= 1
        assert tm.chinchilla_loss(n_opt, d_opt, fit) <= loss.min() + 1e-12


@given(big)
def test_loss_optimal_spends_the_budget(c):
    for fit in tm.FITS:
        n, d = tm.loss_optimal(c, fit)
        assert np.isclose(6 * n * d, c, rtol=1e-9)


@given(big, st.floats(1.01, 100))
def test_more_compute_lower_optimal_loss(c, k):
    for fit in tm.FITS:
        assert tm.chinchilla_loss(*tm.loss_optimal(c * k, fit), fit) < tm.chinchilla_loss(
            *tm.loss_optimal(c, fit), fit
        )


def test_tokens_per_param_at_gopher_budget():
    # Printed constants: 93 (reference-figures Sec. 1); Epoch fit: about 20.
    assert tm.optimal_tokens_per_param(tm.GOPHER_FLOPS) == pytest.approx(92.6, abs=0.1)
    assert 15 < tm.optimal_tokens_per_param(tm.GOPHER_FLOPS, "epoch") < 25


def test_tokens_per_param_independent_formula():
    f = tm.FITS["hoffmann"]
    c = 1e25
    g = (f.alpha * f.A / (f.beta * f.B)) ** (1 / (f.alpha + f.beta))
    expected = (c / 6) ** ((f.alpha - f.beta) / (f.alpha + f.beta)) / g**2
    assert tm.optimal_tokens_per_param(c) == pytest.approx(expected, rel=1e-12)


@given(budgets, st.floats(1.5, 1e3), fits)
def test_tokens_per_param_drifts_as_a_power_of_c(c, k, fit):
    a, b = tm.frontier_exponents(fit)
    ratio = tm.optimal_tokens_per_param(c * k, fit) / tm.optimal_tokens_per_param(c, fit)
    assert ratio == pytest.approx(k ** (b - a), rel=1e-9)


def test_loss_fit_object_accepted_and_rounding_sensitivity():
    printed = tm.FITS["hoffmann"]
    assert tm.chinchilla_loss(70e9, 1.4e12, printed) == tm.chinchilla_loss(70e9, 1.4e12)
    # Moving alpha, beta inside their rounding intervals moves the Gopher-budget ratio a lot.
    low = tm.LossFit(printed.E, printed.A, printed.B, 0.335, 0.285, "test")
    high = tm.LossFit(printed.E, printed.A, printed.B, 0.345, 0.275, "test")
    assert tm.optimal_tokens_per_param(tm.GOPHER_FLOPS, low) == pytest.approx(43.8, abs=0.1)
    assert tm.optimal_tokens_per_param(tm.GOPHER_FLOPS, high) == pytest.approx(195.8, abs=0.1)


# --- IsoFLOP curves ------------------------------------------------------------------------------


@pytest.mark.parametrize("fit", sorted(tm.FITS))
def test_isoflop_loss_is_the_loss_at_d_equals_c_over_6n(fit):
    n = np.geomspace(1e8, 1e12, 7)
    assert np.allclose(tm.isoflop_loss(1e23, n, fit), tm.chinchilla_loss(n, 1e23 / (6 * n), fit))


@pytest.mark.parametrize("fit", sorted(tm.FITS))
@pytest.mark.parametrize("c", [1e19, 1e22, 5.76e23, 1e26])
def test_isoflop_valley_floor_is_the_frontier(fit, c):
    n_opt, _ = tm.loss_optimal(c, fit)
    n = n_opt * np.geomspace(0.1, 10, 2001)
    assert abs(np.argmin(tm.isoflop_loss(c, n, fit)) - 1000) <= 1
    assert tm.isoflop_loss_penalty(c, n_opt, fit) == pytest.approx(0, abs=1e-12)


def test_penalty_of_llama3_8b_against_the_same_compute():
    # Independent computation with the Epoch constants written out.
    f = tm.FITS["epoch"]
    c = 6 * LLAMA3_8B * 15e12
    n_opt, d_opt = tm.loss_optimal(c, "epoch")
    loss = f.E + f.A / LLAMA3_8B**f.alpha + f.B / 15e12**f.beta
    best = f.E + f.A / n_opt**f.alpha + f.B / d_opt**f.beta
    assert tm.isoflop_loss_penalty(c, LLAMA3_8B, "epoch") == pytest.approx(loss - best, rel=1e-9)
    assert 0.04 < loss - best < 0.07


@given(budgets, st.floats(-2, 2), fits)
def test_penalty_is_nonnegative_and_grows_away_from_the_optimum(c, shift, fit):
    n_opt, _ = tm.loss_optimal(c, fit)
    p1 = tm.isoflop_loss_penalty(c, n_opt * 10**shift, fit)
    p2 = tm.isoflop_loss_penalty(c, n_opt * 10 ** (1.5 * shift), fit)
    assert p1 >= 0
    assert p2 >= p1 - 1e-12


# --- iso-loss curves -----------------------------------------------------------------------------


@given(st.floats(1e8, 1e13), st.floats(0.01, 1.0), fits)
def test_tokens_for_loss_round_trip(n, extra, fit):
    f = tm.FITS[fit]
    target = f.E + f.A / n**f.alpha + extra  # reachable by construction
    d = tm.tokens_for_loss(n, target, fit)
    assert tm.chinchilla_loss(n, d, fit) == pytest.approx(target, rel=1e-12)


def test_min_params_for_loss():
    f = tm.FITS["hoffmann"]
    n_min = tm.min_params_for_loss(2.0)
    assert f.E + f.A / n_min**f.alpha == pytest.approx(2.0)
    assert tm.tokens_for_loss(1.001 * n_min, 2.0) > tm.tokens_for_loss(2 * n_min, 2.0)
    with pytest.raises(ValueError, match="n_params must be >"):
        tm.tokens_for_loss(0.99 * n_min, 2.0)


# --- inference-aware optimum ---------------------------------------------------------------------


@pytest.mark.parametrize("fit", sorted(tm.FITS))
@pytest.mark.parametrize("c", [1e20, 1e23, 1e26])
def test_no_inference_gives_the_compute_optimal_model(fit, c):
    n_opt, d_opt = tm.loss_optimal(c, fit)
    target = tm.chinchilla_loss(n_opt, d_opt, fit)
    n, d, total = tm.inference_aware_optimal(target, 0.0, fit)
    assert n == pytest.approx(n_opt, rel=1e-9)
    assert d == pytest.approx(d_opt, rel=1e-9)
    assert total == pytest.approx(c, rel=1e-9)


@pytest.mark.parametrize("fit", sorted(tm.FITS))
@pytest.mark.parametrize(("target", "d_inf"), [(2.0, 1e12), (2.1, 1e13), (1.95, 1e14)])
def test_inference_aware_beats_a_brute_force_grid(fit, target, d_inf):
    n, d, total = tm.inference_aware_optimal(target, d_inf, fit)
    assert tm.chinchilla_loss(n, d, fit) == pytest.approx(target, rel=1e-12)
    assert total == pytest.approx(6 * n * d + 2 * n * d_inf, rel=1e-12)
    # Independent check: evaluate the lifetime FLOPs on a fine grid of N.
    n_min = tm.min_params_for_loss(target, fit)
    grid = n_min * np.geomspace(1 + 1e-6, 1e3, 200_001)
    cost = 6 * grid * tm.tokens_for_loss(grid, target, fit) + 2 * grid * d_inf
    best = np.argmin(cost)
    assert total <= cost[best] * (1 + 1e-9)
    assert n == pytest.approx(grid[best], rel=1e-3)


@given(st.floats(1e8, 1e12), st.floats(1.5, 1e4), fits)
def test_implied_inference_tokens_round_trip(n, k, fit):
    n_opt, d0 = tm.loss_optimal(6 * n * n * 20, fit)
    d = d0 * k  # a model trained longer than compute-optimal
    d_inf = tm.implied_inference_tokens(n_opt, d, fit)
    assert d_inf > 0
    target = tm.chinchilla_loss(n_opt, d, fit)
    n2, d2, _ = tm.inference_aware_optimal(target, d_inf, fit)
    assert n2 == pytest.approx(n_opt, rel=1e-6)
    assert d2 == pytest.approx(d, rel=1e-6)


def test_implied_inference_tokens_sign():
    for fit in tm.FITS:
        n, d = tm.loss_optimal(1e23, fit)
        assert tm.implied_inference_tokens(n, d, fit) == pytest.approx(0, abs=1e-3 * d)
        # Gopher (280 B on 300 B tokens, Hoffmann et al. 2022, Table 1) is too big: negative.
        assert tm.implied_inference_tokens(280e9, 300e9, fit) < 0
        # Llama 3 8B on 15 T tokens only pays off with tens of trillions of inference tokens.
        assert tm.implied_inference_tokens(LLAMA3_8B, 15e12, fit) > 1e13


@given(st.floats(1.85, 3.0), st.floats(0, 1e14), st.floats(1.5, 100))
def test_more_inference_means_a_smaller_longer_trained_model(target, d_inf, k):
    n1, d1, t1 = tm.inference_aware_optimal(target, d_inf, "epoch")
    n2, d2, t2 = tm.inference_aware_optimal(target, d_inf * k + 1e9, "epoch")
    assert n2 < n1 and d2 > d1 and t2 > t1


def test_inference_aware_broadcasts():
    targets = np.array([2.0, 2.1, 2.2])
    d_inf = np.array([[0.0], [1e12], [1e14]])
    n, d, total = tm.inference_aware_optimal(targets, d_inf, "epoch")
    assert n.shape == d.shape == total.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            single = tm.inference_aware_optimal(float(targets[j]), float(d_inf[i, 0]), "epoch")
            assert n[i, j] == pytest.approx(single[0], rel=1e-12)
    assert isinstance(tm.inference_aware_optimal(2.0, 1e12)[0], float)


def test_break_even_inference_tokens():
    # Llama 3 8B vs the compute-optimal model of the same predicted loss (Epoch fit).
    target = tm.chinchilla_loss(LLAMA3_8B, 15e12, "epoch")
    n0, d0, c0 = tm.inference_aware_optimal(target, 0.0, "epoch")
    extra = 6 * LLAMA3_8B * 15e12 - c0
    saved_per_token = 2 * (n0 - LLAMA3_8B)
    expected = extra / saved_per_token
    assert tm.break_even_inference_tokens(LLAMA3_8B, 15e12, n0, d0) == pytest.approx(expected)
    assert 5e12 < expected < 5e13
    # Smaller and cheaper to train: it wins from the first token.
    assert tm.break_even_inference_tokens(7e9, 1e12, 70e9, 1.4e12) == 0.0
    assert tm.break_even_inference_tokens(1.0, 4.0, 2.0, 1.0) == pytest.approx(6.0)  # 12 / 2


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.chinchilla_optimal(0), "flops"),
        (lambda: tm.chinchilla_optimal(1e23, tokens_per_param=-20), "tokens_per_param"),
        (lambda: tm.chinchilla_loss(1e9, 1e10, fit="kaplan"), "hoffmann"),
        (lambda: tm.chinchilla_loss(1e9, 1e10, fit=3), "fit"),
        (lambda: tm.chinchilla_loss(-1e9, 1e10), "n_params"),
        (lambda: tm.loss_optimal(float("nan")), "flops"),
        (lambda: tm.inference_aware_optimal(1.5, 1e12), "target_loss must be > E"),
        (lambda: tm.inference_aware_optimal(1.8, 1e12, "epoch"), "target_loss"),
        (lambda: tm.inference_aware_optimal(2.0, -1.0), "inference_tokens"),
        (lambda: tm.inference_aware_optimal(2.0, 1e300), "inference_tokens"),
        (lambda: tm.inference_aware_optimal(2.0, 1e12, fit="kaplan"), "fit"),
        (lambda: tm.inference_aware_optimal("2", 1e12), "target_loss"),
        (lambda: tm.tokens_for_loss(1e6, 2.0), "n_params"),
        (lambda: tm.tokens_for_loss(1e9, float("nan")), "target_loss"),
        (lambda: tm.min_params_for_loss(1.0), "target_loss"),
        (lambda: tm.isoflop_loss(0, 1e9), "flops"),
        (lambda: tm.isoflop_loss(1e23, -1), "n_params"),
        (lambda: tm.isoflop_loss_penalty(1e23, 1e9, fit=None), "fit"),
        (lambda: tm.optimal_tokens_per_param(-1e23), "flops"),
        (lambda: tm.implied_inference_tokens(1e9, 0), "n_tokens"),
        (lambda: tm.break_even_inference_tokens(70e9, 1e12, 7e9, 1e12), "n_large must be >"),
        (lambda: tm.break_even_inference_tokens(7e9, -1, 70e9, 1e12), "tokens_small"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
