"""Tests of trainmath.capstone: planning a training run end to end (lesson 08)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainmath as tm
from trainmath import capstone as cp

settings.register_profile("capstone", max_examples=60, deadline=None)
settings.load_profile("capstone")

H100 = tm.ACCELERATORS["H100-SXM"]
H100_BF16 = 989e12  # dense bf16 peak, reference-figures Sec. 10
LLAMA3 = cp.LLAMA3_405B_RUN


# --- ffn_hidden_dim: Meta's rounding rule ---------------------------------------------------


@pytest.mark.parametrize(
    ("model", "multiplier", "multiple_of"),
    [
        # (preset, ffn_dim_multiplier, multiple_of) of the released params.json files.
        ("llama-2-7b", 1.0, 256),
        ("llama-2-13b", 1.0, 256),
        ("llama-2-70b", 1.3, 4096),
        ("llama-3-8b", 1.3, 1024),
        ("llama-3-70b", 1.3, 4096),
        ("llama-3.1-405b", 1.2, 4096),
    ],
)
def test_ffn_hidden_dim_reproduces_released_models(model, multiplier, multiple_of):
    cfg = tm.MODELS[model]
    assert cp.ffn_hidden_dim(cfg.d_model, multiplier, multiple_of) == cfg.d_ff


def test_ffn_hidden_dim_by_hand_and_arrays():
    # 8B: int(2 * 16384 / 3) = 10922; int(1.3 * 10922) = 14198; up to a multiple of 1024: 14336.
    assert cp.ffn_hidden_dim(4096) == 14336
    out = cp.ffn_hidden_dim(np.array([4096, 8192]), 1.3, 4096)
    assert out.tolist() == [16384, 28672]


@given(st.integers(1, 40_000), st.floats(0.5, 2.0), st.sampled_from([64, 256, 1024, 4096]))
def test_ffn_hidden_dim_is_a_rounded_up_multiple(d, mult, m):
    h = cp.ffn_hidden_dim(d, mult, m)
    raw = int(mult * int(8 * d / 3))
    assert h % m == 0
    assert raw <= h < raw + m


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"d_model": 0}, "d_model"), ({"d_model": 4096, "ffn_multiplier": -1}, "ffn_multiplier"),
     ({"d_model": 4096, "multiple_of": 0}, "multiple_of"), ({"d_model": 40.5}, "d_model")],
)
def test_ffn_hidden_dim_bad_input(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        cp.ffn_hidden_dim(**kwargs)


# --- llama_like_config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        # Llama 3 paper, Table 3, with each model's own d/L and FFN settings.
        ("llama-3-8b", {}),
        ("llama-3-70b", {"aspect_ratio": 8192 / 80, "ffn_multiple": 4096}),
        ("llama-3.1-405b", {"aspect_ratio": 16384 / 126, "ffn_multiplier": 1.2,
                            "ffn_multiple": 4096}),
    ],
)
def test_llama_like_config_gives_back_the_real_llama3_shapes(model, kwargs):
    ref = tm.MODELS[model]
    cfg = cp.llama_like_config(tm.param_count(ref), **kwargs)
    for field in ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff",
                  "vocab_size", "mlp", "norm", "bias", "tied_embeddings", "position"):
        assert getattr(cfg, field) == getattr(ref, field), field
    assert tm.param_count(cfg) == tm.param_count(ref)


@given(st.floats(2e9, 5e12))
def test_llama_like_config_hits_the_target_count(n):
    cfg = cp.llama_like_config(n)
    assert tm.param_count(cfg) == pytest.approx(n, rel=0.025)
    assert cfg.head_dim == 128 and cfg.n_kv_heads == 8
    assert cfg.d_model % 1024 == 0 and cfg.n_heads * 128 == cfg.d_model
    assert cfg.d_ff == cp.ffn_hidden_dim(cfg.d_model)
    if n >= 5e10:  # wide enough that the 1024 granule of d no longer matters
        assert 80 <= cfg.d_model / cfg.n_layers <= 200


def test_llama_like_config_is_within_half_a_layer():
    n = 563e9
    cfg = cp.llama_like_config(n)
    per_layer = tm.param_count(cfg.replace(n_layers=2)) - tm.param_count(cfg.replace(n_layers=1))
    assert abs(tm.param_count(cfg) - n) <= per_layer / 2
    assert cfg.name == "Llama-like 563B"
    assert cp.llama_like_config(n, name="mine").name == "mine"


def test_llama_like_config_options():
    cfg = cp.llama_like_config(70e9, vocab_size=32000, seq_len=4096, n_kv_heads=4, head_dim=64)
    assert (cfg.vocab_size, cfg.seq_len, cfg.n_kv_heads, cfg.head_dim) == (32000, 4096, 4, 64)
    assert cfg.d_model % 256 == 0
    assert tm.param_count(cfg) == pytest.approx(70e9, rel=0.02)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "word"),
    [
        ((1e8,), {}, ValueError, "n_params"),  # smaller than the 128k-vocab embeddings
        ((-1.0,), {}, ValueError, "n_params"),
        (([1e10, 2e10],), {}, TypeError, "n_params"),
        ((1e10,), {"aspect_ratio": 0}, ValueError, "aspect_ratio"),
        ((1e10,), {"head_dim": 0}, ValueError, "head_dim"),
        ((1e10,), {"n_kv_heads": 2.5}, ValueError, "n_kv_heads"),
        ((1e10,), {"name": 5}, TypeError, "name"),
    ],
)
def test_llama_like_config_bad_input(args, kwargs, exc, word):
    with pytest.raises(exc, match=word):
        cp.llama_like_config(*args, **kwargs)


# --- budgets and memory --------------------------------------------------------------------


def test_flops_in_days_llama3_405b():
    # 16,384 H100 at 40 % MFU for 68 days is about Llama 3 405B's 3.8e25 FLOPs.
    c = tm.flops_in_days(68, 16384, H100_BF16, 0.4)
    assert c == pytest.approx(16384 * H100_BF16 * 0.4 * 68 * 86400)
    assert c == pytest.approx(3.8e25, rel=0.01)
    assert cp.flops_in_days is tm.flops_in_days  # still importable from here


@given(st.floats(0.01, 1e4), st.integers(1, 100_000), st.floats(1e12, 5e15), st.floats(0.01, 1.0))
def test_flops_in_days_inverts_training_time(days, n, peak, mfu):
    c = tm.flops_in_days(days, n, peak, mfu)
    assert tm.training_time(c, n, peak, mfu) / 86400 == pytest.approx(days, rel=1e-12)


def test_flops_in_days_broadcasts():
    out = tm.flops_in_days(np.array([1.0, 2.0]), 8, H100_BF16, 0.5)
    assert out.shape == (2,) and out[1] == pytest.approx(2 * out[0])


@pytest.mark.parametrize(
    ("args", "word"),
    [((0, 8, 1e15, 0.4), "days"), ((1, 0, 1e15, 0.4), "n_gpus"), ((1, 8, -1, 0.4), "peak_flops"),
     ((1, 8, 1e15, 40), "mfu")],
)
def test_flops_in_days_bad_input(args, word):
    with pytest.raises(ValueError, match=word):
        tm.flops_in_days(*args)


def test_memory_floor_is_min_gpus_to_fit_at_zero_3():
    # The lesson's floor: model states of mixed-precision AdamW (16 B/param) spread over every
    # GPU, ZeRO stage 3. 405.85B x 16 B = 6.49 TB over 80 GB H100s: 81.2 -> 82 GPUs.
    assert not hasattr(cp, "min_gpus_for_model_states")
    assert tm.min_gpus_to_fit(LLAMA3["n_params"], H100.memory_bytes, zero_stage=3) == 82
    # ZeRO, Fig. 1: 7.5B x 16 B = 120 GB -> two 80 GB GPUs; exactly full -> 1.
    assert tm.min_gpus_to_fit(7.5e9, 80e9, zero_stage=3) == 2
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=3) == 1
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=3, usable_fraction=0.9) == 2
    out = tm.min_gpus_to_fit(np.array([7.5e9, 405.85e9]), 80e9, zero_stage=3)
    assert out.tolist() == [2, 82]


@given(st.floats(1e6, 1e14), st.floats(1e9, 2e11), st.floats(0.05, 1.0))
def test_memory_floor_is_ceil_16n_over_usable_memory(n, mem, fraction):
    k = tm.min_gpus_to_fit(n, mem, zero_stage=3, usable_fraction=fraction)
    need, usable = 16 * n, fraction * mem
    assert k >= 1 and k == int(k)
    assert k * usable >= need * (1 - 1e-9)
    assert (k - 1) * usable < need * (1 + 1e-9)


def test_plan_budget_and_cluster_rate_use_the_core():
    plan = cp.plan_training_run(usd=5e6, accelerator="H100-SXM", n_gpus=1024, mfu=0.4,
                                price_per_gpu_hour=2.5)
    assert plan.budget_flops == tm.budget_to_flops(5e6, H100_BF16, 0.4, 2.5)
    assert plan.cluster_flops == tm.delivered_flop_rate(1024, H100_BF16, 0.4)
    assert plan.seconds == tm.training_time(plan.flops, 1024, H100_BF16, 0.4)
    assert plan.cost == pytest.approx(tm.flops_to_cost(plan.flops, H100_BF16, 0.4, 2.5))


# --- plans ---------------------------------------------------------------------------------


def test_chinchilla_plan_for_llama3_budget():
    plan = cp.plan_training_run(3.8e25, accelerator="H100-SXM", n_gpus=16384, mfu=0.4,
                                price_per_gpu_hour=2.0)
    # Independent arithmetic: N = sqrt(C / 120), D = 20 N.
    assert plan.n_params == pytest.approx(math.sqrt(3.8e25 / 120), rel=1e-12)
    assert plan.n_params == pytest.approx(563e9, rel=1e-3)
    assert plan.n_tokens == pytest.approx(11.25e12, rel=1e-3)
    assert plan.flops == pytest.approx(3.8e25, rel=1e-12)
    assert plan.tokens_per_param == pytest.approx(20)
    days = 3.8e25 / (16384 * H100_BF16 * 0.4) / 86400
    assert plan.days == pytest.approx(days, rel=1e-12)
    assert plan.days == pytest.approx(67.86, abs=0.01)
    hours = 3.8e25 / (H100_BF16 * 0.4) / 3600
    assert plan.gpu_hours == pytest.approx(hours, rel=1e-12)
    assert plan.gpu_hours == pytest.approx(plan.days * 24 * 16384, rel=1e-12)
    assert plan.cost == pytest.approx(2.0 * hours, rel=1e-12)
    assert plan.cluster_flops == pytest.approx(16384 * H100_BF16 * 0.4)
    assert plan.rule == "chinchilla" and plan.fit == "epoch"
    assert plan.loss == pytest.approx(tm.chinchilla_loss(plan.n_params, plan.n_tokens, "epoch"))
    assert plan.lifetime_flops == plan.flops


def test_llama3_405b_reality_check():
    run = LLAMA3
    assert run["n_params"] == tm.param_count(tm.MODELS["llama-3.1-405b"])
    # 6ND = 6 x 405.85e9 x 15.6e12 = 3.80e25, the paper's figure.
    assert tm.training_flops(run["n_params"], run["n_tokens"]) == pytest.approx(run["flops"],
                                                                               rel=2e-3)
    lay = run["layout"]
    assert lay["tp"] * lay["cp"] * lay["pp"] * lay["dp"] == run["n_gpus"]
    assert run["global_batch_tokens"] == 2048 * run["seq_len"]
    # The paper's own scaling law spends the budget too: 6 x 402e9 x 16.55e12 = 3.99e25 (5 %).
    assert tm.training_flops(run["scaling_law_n_params"], run["scaling_law_n_tokens"]) == (
        pytest.approx(run["flops"], rel=0.06))
    # The model card's GPU-hours imply a lower average utilisation than Table 4's MFU.
    util = tm.implied_utilisation(run["flops"], run["gpu_hours"], H100_BF16)
    assert util == pytest.approx(0.346, abs=1e-3)
    assert util < min(run["mfu_range"])
    plan = cp.plan_run(run["n_params"], run["n_tokens"], n_gpus=run["n_gpus"], mfu=0.4)
    assert plan.days == pytest.approx(67.8, abs=0.1)
    assert plan.rule == "given" and plan.budget_flops == plan.flops


def test_days_and_usd_budgets():
    by_days = cp.plan_training_run(days=30, n_gpus=2048, mfu=0.35)
    assert by_days.days == pytest.approx(30, rel=1e-12)
    assert by_days.budget_flops == pytest.approx(tm.flops_in_days(30, 2048, H100_BF16, 0.35))
    by_usd = cp.plan_training_run(usd=1e7, n_gpus=2048, price_per_gpu_hour=2.5)
    assert by_usd.cost == pytest.approx(1e7, rel=1e-12)
    assert by_usd.gpu_hours == pytest.approx(4e6, rel=1e-12)


@given(st.floats(1e3, 1e10), st.floats(0.5, 10.0), st.integers(8, 65536), st.floats(0.1, 0.6))
def test_usd_budget_round_trip(usd, price, n, mfu):
    plan = cp.plan_training_run(usd=usd, n_gpus=n, mfu=mfu, price_per_gpu_hour=price)
    assert plan.cost == pytest.approx(usd, rel=1e-9)
    assert plan.flops == pytest.approx(6 * plan.n_params * plan.n_tokens, rel=1e-12)


@given(st.floats(1e20, 1e28), st.floats(1.0, 2000.0))
def test_chinchilla_plan_spends_the_budget(c, k):
    plan = cp.plan_training_run(c, tokens_per_param=k)
    assert plan.flops == pytest.approx(c, rel=1e-9)
    assert plan.tokens_per_param == pytest.approx(k, rel=1e-9)


def test_loss_optimal_plan_is_the_frontier():
    plan = cp.plan_training_run(1e24, rule="loss-optimal", fit="hoffmann")
    n, d = tm.loss_optimal(1e24, "hoffmann")
    assert (plan.n_params, plan.n_tokens) == (pytest.approx(n), pytest.approx(d))
    assert plan.flops == pytest.approx(1e24)
    assert plan.fit == "hoffmann"


def test_inference_aware_plan():
    c = 1e24
    base = cp.plan_training_run(c, rule="loss-optimal")
    zero = cp.plan_training_run(c, rule="inference-aware", inference_tokens=0)
    assert zero.n_params == pytest.approx(base.n_params, rel=1e-3)
    plans = [cp.plan_training_run(c, rule="inference-aware", inference_tokens=t)
             for t in (1e12, 1e13, 1e14)]
    for p in plans:
        assert p.loss == pytest.approx(base.loss, rel=1e-9)  # same quality
        assert p.flops > c  # trained longer than the budget
        assert p.lifetime_flops == pytest.approx(p.flops + 2 * p.n_params * p.inference_tokens)
        # ... and cheaper over its life than the compute-optimal model serving the same tokens.
        assert p.lifetime_flops < base.flops + 2 * base.n_params * p.inference_tokens
    sizes = [p.n_params for p in plans]
    assert sizes == sorted(sizes, reverse=True)


def test_plans_broadcast_over_budgets():
    budgets = np.array([1e22, 1e24, 1e26])
    sweep = cp.plan_training_run(budgets, n_gpus=4096)
    assert sweep.n_params.shape == (3,)
    for i, c in enumerate(budgets):
        one = cp.plan_training_run(float(c), n_gpus=4096)
        assert sweep.n_params[i] == pytest.approx(one.n_params)
        assert sweep.days[i] == pytest.approx(one.days)
        assert sweep.cost[i] == pytest.approx(one.cost)
    with pytest.raises(TypeError, match="summary"):
        sweep.summary()


def test_summary_uses_fmt():
    text = cp.plan_training_run(3.8e25, n_gpus=16384).summary()
    assert "N = 563B parameters" in text
    assert "67.9 days" in text
    assert "$53.4M" in text


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({}, ValueError, "exactly one budget"),
        ({"flops": 1e24, "days": 3}, ValueError, "exactly one budget"),
        ({"flops": -1e24}, ValueError, "flops"),
        ({"days": 0}, ValueError, "days"),
        ({"usd": -5}, ValueError, "usd"),
        ({"usd": 1e6, "price_per_gpu_hour": 0}, ValueError, "price_per_gpu_hour"),
        ({"flops": 1e24, "rule": "kaplan"}, ValueError, "rule"),
        ({"flops": 1e24, "mfu": 40}, ValueError, "mfu"),
        ({"flops": 1e24, "n_gpus": 0}, ValueError, "n_gpus"),
        ({"flops": 1e24, "accelerator": "B200"}, ValueError, "accelerator"),
        ({"flops": 1e24, "accelerator": "V100"}, ValueError, "dtype"),
        ({"flops": 1e24, "tokens_per_param": 0}, ValueError, "tokens_per_param"),
        ({"flops": 1e24, "fit": "kaplan"}, ValueError, "fit"),
        ({"flops": 1e24, "rule": "inference-aware", "inference_tokens": -1}, ValueError,
         "inference_tokens"),
        ({"flops": 1e24, "price_per_gpu_hour": -1}, ValueError, "price_per_gpu_hour"),
    ],
)
def test_plan_training_run_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        cp.plan_training_run(**kwargs)


@pytest.mark.parametrize(
    ("args", "word"),
    [((0, 1e12), "n_params"), ((1e9, -1), "n_tokens")],
)
def test_plan_run_bad_input(args, word):
    with pytest.raises(ValueError, match=word):
        cp.plan_run(*args)


def test_all_names_exist():
    for name in cp.__all__:
        assert hasattr(cp, name)
