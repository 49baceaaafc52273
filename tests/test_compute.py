"""Tests of trainmath.compute: 6ND, FLOPs per token, MFU and the FLOPs of recomputation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

A100 = tm.ACCELERATORS["A100-80GB"].peak("bf16")
GPT3 = tm.MODELS["gpt3-175b"]  # Brown et al. 2020, Table 2.1: L 96, h 12288, a 96, s 2048

# Brown et al. 2020, Table D.1: (total params, PF-days), D = 300e9 tokens.
GPT3_D1 = {
    "Small": (125e6, 2.60), "Medium": (356e6, 7.42), "Large": (760e6, 15.8),
    "XL": (1320e6, 27.5), "2.7B": (2.65e9, 55.2), "6.7B": (6.66e9, 139),
    "13B": (12.85e9, 268), "175B": (174.6e9, 3640),
}

pos = st.floats(1e3, 1e15, allow_nan=False, allow_infinity=False)


# --- 6ND -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", sorted(GPT3_D1))
def test_gpt3_table_d1(row):
    n, pf_days = GPT3_D1[row]
    assert tm.to_pflop_days(tm.training_flops(n, 300e9)) == pytest.approx(pf_days, rel=1e-2)


def test_gpt3_175b_preset_total_compute():
    n = tm.param_count(tm.MODELS["gpt3-175b"])
    assert tm.training_flops(n, 300e9) == pytest.approx(3.14e23, rel=1e-2)


def test_forward_plus_backward_is_six():
    total = tm.forward_flops(7e9, 1e12) + tm.backward_flops(7e9, 1e12)
    assert total == tm.training_flops(7e9, 1e12)
    assert tm.backward_flops(1, 1) == 2 * tm.forward_flops(1, 1)


@given(pos, pos, st.floats(1.01, 10))
def test_training_flops_monotone(n, d, k):
    assert tm.training_flops(n * k, d) > tm.training_flops(n, d)
    assert tm.training_flops(n, d * k) > tm.training_flops(n, d)


def test_arrays_broadcast_and_scalars_stay_scalars():
    out = tm.training_flops(np.array([1e9, 2e9]), 1e12)
    assert out.shape == (2,) and isinstance(tm.training_flops(1e9, 1e12), float)
    t = tm.training_time(1e24, np.array([8, 16]), 1e15, mfu=0.5)
    assert t[0] == pytest.approx(2 * t[1])


@given(st.lists(pos, min_size=1, max_size=5), pos)
def test_scalar_and_array_calls_agree(ns, d):
    arr = tm.training_flops(np.array(ns), d)
    assert np.allclose(arr, [tm.training_flops(n, d) for n in ns], rtol=0)
    s = np.array([128, 1024, 8192])
    cfg = tm.MODELS["llama-2-7b"]
    assert np.allclose(tm.flops_per_token(cfg, s), [tm.flops_per_token(cfg, int(x)) for x in s])


# --- FLOPs per token -----------------------------------------------------------------------------


def test_flops_per_token_formula():
    cfg = tm.MODELS["gpt2"]
    s = 1024
    expected = 6 * tm.matmul_params(cfg) + 12 * 12 * 768 * s
    assert tm.flops_per_token(cfg) == expected
    assert tm.flops_per_token(cfg, 2048) == 6 * tm.matmul_params(cfg) + 12 * 12 * 768 * 2048
    causal = tm.flops_per_token(cfg, causal=True)
    assert causal == 6 * tm.matmul_params(cfg) + 6 * 12 * 768 * s


def test_flops_per_token_gqa_uses_query_heads():
    cfg = tm.MODELS["llama-3-8b"]
    attn = tm.flops_per_token(cfg, 8192) - 6 * tm.matmul_params(cfg)
    assert attn == 12 * 32 * 4096 * 8192


def test_flops_per_token_matches_chinchilla_appendix_f():
    # Hoffmann et al. 2022, App. F forward count per sequence (without softmax's 3Hs^2 and
    # with the embedding matmul, which neither PaLM nor we count), times 3 for training.
    d, L, H, kv, V, s = 1024, 24, 16, 64, 32000, 2048
    cfg = tm.ModelConfig(L, d, H, V, seq_len=s)
    per_layer = 2 * 3 * s * d * kv * H + 2 * s * s * kv * H * 2 + 2 * s * kv * H * d
    per_layer += 2 * s * (2 * d * 4 * d)
    fwd = L * per_layer + 2 * s * d * V
    assert tm.flops_per_token(cfg) * s == pytest.approx(3 * fwd, rel=1e-12)


def test_attention_fraction_grows_with_sequence():
    cfg = tm.MODELS["llama-2-7b"]
    s = np.array([512, 4096, 32768, 131072])
    frac = tm.attention_flops_fraction(cfg, s)
    assert np.all(np.diff(frac) > 0) and 0 < frac[0] < 0.05 and frac[-1] > 0.5


# --- MFU -----------------------------------------------------------------------------------------


def test_palm_540b_mfu():
    # Chowdhery et al. 2022, Table 3 / App. B: 238.3K tokens/s on 6144 TPU v4 (275 TFLOP/s),
    # 6N + 12 L H Q T with N = 540e9, L = 118, H = 48, Q = 256, T = 2048 -> 46.2 %.
    fpt = 6 * 540e9 + 12 * 118 * 48 * 256 * 2048
    assert tm.mfu(238.3e3, fpt, 6144, 275e12) == pytest.approx(0.462, abs=0.002)
    assert tm.mfu(238.3e3, 6 * 540e9, 6144, 275e12) == pytest.approx(0.457, abs=0.002)


def test_llama3_table4_mfu_from_tflops():
    h100 = tm.ACCELERATORS["H100-SXM"].peak("bf16")
    for tflops, published in [(430, 0.43), (400, 0.41), (380, 0.38)]:
        assert tflops * 1e12 / h100 == pytest.approx(published, abs=0.01)


# --- Megatron-LM's model FLOPs and recomputation -------------------------------------------------


def test_megatron_model_flops_consistent_with_flops_per_token():
    # Korthikanti Eq. 7 equals our per-token count for a GPT-3-shaped model (untied
    # matmuls, full attention square): 72 B L s h^2 (1 + s/(6h) + V/(12hL)).
    L, h, s, V, B = 96, 12288, 2048, 51200, 1
    cfg = tm.ModelConfig(L, h, 96, V, seq_len=s)
    assert tm.megatron_model_flops(B, s, L, h, V) == pytest.approx(
        tm.flops_per_token(cfg) * s * B, rel=1e-12
    )
    ratio = tm.megatron_model_flops(B, s, L, h, V, recompute=True) / tm.megatron_model_flops(
        B, s, L, h, V
    )
    assert 1.3 < ratio < 4 / 3


def test_recompute_flops():
    cfg = tm.ModelConfig(96, 12288, 96, 51200, seq_len=2048)
    full = tm.recompute_flops_per_token(cfg, recompute="full") / tm.flops_per_token(cfg)
    eq3 = tm.megatron_model_flops(1, 2048, 96, 12288, 51200, recompute=True)
    eq7 = tm.megatron_model_flops(1, 2048, 96, 12288, 51200)
    assert 1 + full == pytest.approx(eq3 / eq7, rel=1e-12)
    assert tm.recompute_flops_per_token(cfg, recompute="none") == 0
    with pytest.raises(ValueError, match="recompute"):
        tm.recompute_flops_per_token(cfg, recompute="half")


def test_recompute_overhead_two_conventions_for_gpt3():
    # Korthikanti et al. 2022 quote 2.7 % for selective recomputation: the whole attention
    # term s/(6h) of Eq. 7 again. The forward QK^T and AV redone are a third of that: 0.9 %.
    paper = tm.recompute_flops_overhead(GPT3, 2048, "selective", convention="korthikanti")
    redone = tm.recompute_flops_overhead(GPT3, 2048, "selective")
    assert paper == pytest.approx(0.027, abs=5e-4)
    s_6h = 2048 / (6 * 12288)
    assert paper == pytest.approx(s_6h / (1 + s_6h + 50257 / (12 * 12288 * 96)))
    assert redone == pytest.approx(0.009, abs=5e-4)
    assert redone == pytest.approx(
        tm.recompute_flops_per_token(GPT3, 2048, "selective") / tm.flops_per_token(GPT3, 2048))
    # Full recomputation: one more forward of the layers, about a third (96/72 - 1).
    for convention in tm.RECOMPUTE_CONVENTIONS:
        full = tm.recompute_flops_overhead(GPT3, 2048, "full", convention=convention)
        assert full == pytest.approx(1 / 3, abs=0.01)
        assert tm.recompute_flops_overhead(GPT3, 2048, "none", convention=convention) == 0


def test_recompute_overhead_broadcasts_and_grows_with_s():
    s = np.array([1024, 4096, 16384])
    over = tm.recompute_flops_overhead(GPT3, s)
    assert over.shape == (3,) and np.all(np.diff(over) > 0)
    assert over[1] == pytest.approx(tm.recompute_flops_overhead(GPT3, 4096))


@given(st.integers(128, 1 << 17))
def test_paper_convention_is_about_three_times_the_work_redone(s):
    paper = tm.recompute_flops_overhead(GPT3, s, convention="korthikanti")
    redone = tm.recompute_flops_overhead(GPT3, s)
    assert 0 < redone < paper
    # Both are the same attention work, counted once (forward) or three times (fwd + bwd);
    # the denominators differ slightly (PaLM's 6N with LM head vs Eq. 7), hence the tolerance.
    assert paper / redone == pytest.approx(3, rel=0.05)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.training_flops(-1, 1e9), "n_params"),
        (lambda: tm.training_flops(1e9, float("inf")), "n_tokens"),
        (lambda: tm.training_flops("7B", 1e9), "n_params"),
        (lambda: tm.mfu(0, 6e9, 8, 1e15), "tokens_per_second"),
        (lambda: tm.flops_per_token(tm.MODELS["gpt2"], 0), "seq_len"),
        (lambda: tm.flops_per_token("gpt2"), "cfg"),
        (lambda: tm.flops_per_token(tm.MODELS["gpt2"], causal="yes"), "causal"),
        (lambda: tm.megatron_model_flops(1, 2048, 96, 12288, 51200, recompute=1), "recompute"),
        (lambda: tm.forward_flops(True, 1), "n_params"),
        (lambda: tm.recompute_flops_overhead("gpt3-175b"), "cfg"),
        (lambda: tm.recompute_flops_overhead(GPT3, 0), "seq_len"),
        (lambda: tm.recompute_flops_overhead(GPT3, recompute="some"), "recompute"),
        (lambda: tm.recompute_flops_overhead(GPT3, convention="paper"), "convention"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
