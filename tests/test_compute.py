"""Compute: 6ND, FLOPs per token, time, MFU; GPT-3 Table D.1, HyperCLOVA, PaLM, Llama 3."""

import numpy as np
import pytest

import trainmath as tm

A100 = tm.ACCELERATORS["A100-80GB"].peak("bf16")

# Brown et al. 2020, Table D.1: (total params, PF-days), D = 300e9 tokens.
GPT3_D1 = {
    "Small": (125e6, 2.60), "Medium": (356e6, 7.42), "Large": (760e6, 15.8),
    "XL": (1320e6, 27.5), "2.7B": (2.65e9, 55.2), "6.7B": (6.66e9, 139),
    "13B": (12.85e9, 268), "175B": (174.6e9, 3640),
}


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


def test_hyperclova_example():
    # Seed 002 / Kim et al. 2021: 82B params, 150B tokens, 1024 A100s, 13.4 days measured.
    c = tm.training_flops(82e9, 150e9)
    assert c == pytest.approx(7.38e22, rel=1e-3)
    days = tm.training_time(c, 1024, A100) / 86400
    assert days == pytest.approx(2.67, rel=1e-2)
    per_gpu = tm.achieved_flops_per_gpu(c, 1024, 13.4 * 86400)
    assert per_gpu == pytest.approx(62e12, rel=1e-2)
    assert per_gpu / A100 == pytest.approx(0.20, abs=0.005)


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


def test_megatron_training_time_eq4():
    # Narayanan et al. 2021, Eq. 4: GPT-3 175B, 300B tokens, 1024 A100s at 140 TFLOP/s
    # with recomputation counted (8TP/(nX)) gives "34 days".
    days = 8 * 300e9 * 175e9 / (1024 * 140e12) / 86400
    assert days == pytest.approx(34, abs=0.5)
    # The same with our functions: hardware FLOPs = 8/6 of the 6ND model FLOPs.
    t = tm.training_time(tm.training_flops(175e9, 300e9) * 8 / 6, 1024, 140e12)
    assert t / 86400 == pytest.approx(days)


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


def test_attention_fraction_grows_with_sequence():
    cfg = tm.MODELS["llama-2-7b"]
    s = np.array([512, 4096, 32768, 131072])
    frac = tm.attention_flops_fraction(cfg, s)
    assert np.all(np.diff(frac) > 0) and 0 < frac[0] < 0.05 and frac[-1] > 0.5


def test_arrays_broadcast_and_scalars_stay_scalars():
    out = tm.training_flops(np.array([1e9, 2e9]), 1e12)
    assert out.shape == (2,) and isinstance(tm.training_flops(1e9, 1e12), float)
    t = tm.training_time(1e24, np.array([8, 16]), 1e15, mfu=0.5)
    assert t[0] == pytest.approx(2 * t[1])


@pytest.mark.parametrize(
    "call,words",
    [
        (lambda: tm.training_flops(-1, 1e9), "n_params"),
        (lambda: tm.training_flops(1e9, float("inf")), "n_tokens"),
        (lambda: tm.training_flops("7B", 1e9), "n_params"),
        (lambda: tm.training_time(1e24, 0, 1e15), "n_gpus"),
        (lambda: tm.training_time(1e24, 8.5, 1e15), "n_gpus"),
        (lambda: tm.training_time(1e24, 8, 1e15, mfu=40), "mfu"),
        (lambda: tm.training_time(1e24, 8, -1e15), "peak_flops"),
        (lambda: tm.mfu(0, 6e9, 8, 1e15), "tokens_per_second"),
        (lambda: tm.flops_per_token(tm.MODELS["gpt2"], 0), "seq_len"),
        (lambda: tm.flops_per_token("gpt2"), "cfg"),
        (lambda: tm.flops_per_token(tm.MODELS["gpt2"], causal="yes"), "causal"),
        (lambda: tm.megatron_model_flops(1, 2048, 96, 12288, 51200, recompute=1), "recompute"),
        (lambda: tm.achieved_flops_per_gpu(1e24, 8, 0), "seconds"),
        (lambda: tm.forward_flops(True, 1), "n_params"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
