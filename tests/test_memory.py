"""Memory: bytes per parameter, ZeRO (Table 1 / Fig. 1), Korthikanti activations, bubble."""

import numpy as np
import pytest

import trainmath as tm


def test_optimizer_bytes_per_param():
    o = tm.OPTIMIZER_BYTES_PER_PARAM
    assert (o["adamw"], o["adamw-8bit"], o["sgd-momentum"]) == (12, 6, 8)
    assert o["adamw-no-master"] == 8 and o["sgd"] == 4
    for name, parts in tm.OPTIMIZER_STATES.items():
        assert sum(parts.values()) == o[name]


def test_mixed_precision_is_16_bytes():
    assert tm.training_state_breakdown(1).total == 16
    assert tm.model_memory(1e9, "int4") == 0.5e9


def test_zero_figure1():
    # Rajbhandari et al. 2019, Fig. 1: Psi = 7.5B, N_d = 64 -> 120, 31.4, 16.6, 1.88 GB.
    got = tm.zero_memory_per_gpu(7.5e9, 64, np.arange(4))
    assert np.allclose(got, [120e9, 31.40625e9, 16.640625e9, 1.875e9], rtol=1e-12)


def test_zero_formulas_general():
    psi, nd, k = 1e9, 8, 12
    assert tm.zero_memory_per_gpu(psi, nd, 1) == pytest.approx(4 * psi + k * psi / nd)
    assert tm.zero_memory_per_gpu(psi, nd, 2) == pytest.approx(2 * psi + (2 + k) * psi / nd)
    assert tm.zero_memory_per_gpu(psi, nd, 3) == pytest.approx(16 * psi / nd)
    assert tm.zero_memory_per_gpu(psi, 1, 3) == tm.zero_memory_per_gpu(psi, 1, 0)
    assert tm.zero_memory_per_gpu(psi, nd, 0, optimizer_bytes=6) == 10 * psi


# Korthikanti et al. 2022, Table 2, with s, b, h, a, t chosen to avoid accidental equalities.
S, B, H, A, T = 2048, 4, 12288, 96, 8
SBH = S * B * H


@pytest.mark.parametrize(
    "tp,sp,rc,expected",
    [
        (1, False, "none", SBH * (34 + 5 * A * S / H)),
        (T, False, "none", SBH * (10 + 24 / T + 5 * A * S / (H * T))),
        (T, True, "none", SBH * (34 / T + 5 * A * S / (H * T))),
        (T, False, "selective", SBH * (10 + 24 / T)),
        (T, True, "selective", SBH * 34 / T),
        (1, False, "full", 2 * SBH),
        (T, False, "full", 2 * SBH),
    ],
)
def test_korthikanti_table2(tp, sp, rc, expected):
    got = tm.activation_memory_per_layer(S, B, H, A, tp=tp, sequence_parallel=sp, recompute=rc)
    assert got == pytest.approx(expected, rel=1e-12)


def test_korthikanti_gpt3_numbers():
    # GPT-3: 5as/h = 80; selective recomputation saves ~70 % of activation memory (t = 8, SP).
    assert 5 * 96 * 2048 / 12288 == 80
    full = tm.activation_memory_per_layer(2048, 1, 12288, 96, tp=8, sequence_parallel=True)
    sel = tm.activation_memory_per_layer(2048, 1, 12288, 96, tp=8, sequence_parallel=True,
                                         recompute="selective")
    assert 1 - sel / full == pytest.approx(0.70, abs=0.01)


def test_seed_001_activation_example_is_wrong():
    # Seed 001 prints ~67.51 GB for s=128, b=512, h=4096, L=24, a=16; its inputs give ~235 GB.
    per_layer = tm.activation_memory_per_layer(128, 512, 4096, 16)
    assert 24 * per_layer / 1e9 == pytest.approx(235.15, rel=1e-3)


def test_activation_term_by_term():
    s, b, h, a = 1024, 2, 1024, 16
    attention = 11 * s * b * h + 5 * a * s * s * b
    mlp = 19 * s * b * h
    norms = 4 * s * b * h
    assert tm.activation_memory_per_layer(s, b, h, a) == attention + mlp + norms


def test_pipeline_bubble():
    assert tm.pipeline_bubble_fraction(8, 32) == pytest.approx(7 / 32)
    assert tm.pipeline_bubble_fraction(8, 32, interleave=4) == pytest.approx(7 / 128)
    assert tm.pipeline_bubble_fraction(1, 1) == 0


@pytest.mark.parametrize(
    "call,words",
    [
        (lambda: tm.zero_memory_per_gpu(1e9, 8, 4), "zero_stage"),
        (lambda: tm.zero_memory_per_gpu(1e9, 8, -1), "zero_stage"),
        (lambda: tm.zero_memory_per_gpu(1e9, 0, 1), "dp"),
        (lambda: tm.zero_memory_per_gpu(-1, 8, 1), "n_params"),
        (lambda: tm.zero_memory_per_gpu(1e9, 8, 1, optimizer_bytes="12"), "optimizer_bytes"),
        (lambda: tm.activation_memory_per_layer(2048, 1, 4096, 32, tp=3), "tp must divide"),
        (lambda: tm.activation_memory_per_layer(2048, 1, 4096, 32, recompute="some"), "recompute"),
        (lambda: tm.activation_memory_per_layer(0, 1, 4096, 32), "seq_len"),
        (lambda: tm.activation_memory_per_layer(2048, 1.5, 4096, 32), "micro_batch"),
        (lambda: tm.activation_memory_per_layer(2048, 1, 4096, 32, sequence_parallel=1),
         "sequence_parallel"),
        (lambda: tm.pipeline_bubble_fraction(0, 8), "pp"),
        (lambda: tm.pipeline_bubble_fraction(4, 8, interleave=0), "interleave"),
        (lambda: tm.training_state_breakdown(1e9, optimizer="adam9"), "adamw"),
        (lambda: tm.model_memory(1e9, "fp64"), "dtype"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
