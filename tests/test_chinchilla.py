"""Chinchilla: Table 3, the Approach 3 fit, its frontier, and the Epoch replication."""

import numpy as np
import pytest

import trainmath as tm

# Hoffmann et al. 2022, Table 3: (params, FLOPs, tokens).
TABLE3 = [
    (400e6, 1.92e19, 8.0e9), (1e9, 1.21e20, 20.2e9), (10e9, 1.23e22, 205.1e9),
    (175e9, 3.85e24, 3.7e12), (280e9, 9.90e24, 5.9e12), (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12), (10e12, 1.30e28, 216.2e12),
]


@pytest.mark.parametrize("n,c,d", TABLE3)
def test_table3_rows_satisfy_6nd(n, c, d):
    assert tm.training_flops(n, d) == pytest.approx(c, rel=1e-2)


def test_table3_67b_row_is_inconsistent():
    # 6 * 67e9 * 1.5e12 = 6.03e23, 4.7 % above the printed 5.76e23 (reference-figures Sec. 1).
    assert tm.training_flops(67e9, 1.5e12) / 5.76e23 == pytest.approx(1.047, abs=1e-3)
    assert 5.76e23 / (6 * 67e9) == pytest.approx(1.43e12, rel=1e-2)


def test_chinchilla_optimal_20_tokens_per_param():
    n, d = tm.chinchilla_optimal(5.76e23)
    assert d / n == pytest.approx(20)
    assert 6 * n * d == pytest.approx(5.76e23)
    assert n == pytest.approx(np.sqrt(5.76e23 / 120))
    # Chinchilla itself: 70B on 1.4T tokens (Table 1) is ~20 tokens per parameter.
    n, d = tm.chinchilla_optimal(tm.training_flops(70e9, 1.4e12))
    assert n == pytest.approx(70e9, rel=0.05)


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


def test_loss_values():
    f = tm.FITS["hoffmann"]
    expected = f.E + f.A / 70e9**f.alpha + f.B / 1.4e12**f.beta
    assert tm.chinchilla_loss(70e9, 1.4e12) == pytest.approx(expected)
    assert tm.chinchilla_loss(1e30, 1e30) == pytest.approx(f.E, abs=1e-3)


@pytest.mark.parametrize(
    "call,words",
    [
        (lambda: tm.chinchilla_optimal(0), "flops"),
        (lambda: tm.chinchilla_optimal(1e23, tokens_per_param=-20), "tokens_per_param"),
        (lambda: tm.chinchilla_loss(1e9, 1e10, fit="kaplan"), "hoffmann"),
        (lambda: tm.chinchilla_loss(1e9, 1e10, fit=3), "fit"),
        (lambda: tm.chinchilla_loss(-1e9, 1e10), "n_params"),
        (lambda: tm.loss_optimal(float("nan")), "flops"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
