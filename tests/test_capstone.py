"""Tests of trainmath.capstone: planning a training run end to end (lesson 09)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm
from trainmath import capstone as cp

H100_BF16 = 989e12  # dense bf16 peak, reference-figures Sec. 10
LLAMA3 = cp.LLAMA3_405B_RUN


# --- the compute/time/cost core ------------------------------------------------------------------


def test_plan_budget_and_cluster_rate_use_the_core():
    # ... and the memory floor is memory.min_gpus_to_fit (tested in test_memory.py).
    assert not hasattr(cp, "min_gpus_for_model_states")
    plan = cp.plan_training_run(usd=5e6, accelerator="H100-SXM", n_gpus=1024, mfu=0.4,
                                price_per_gpu_hour=2.5)
    assert plan.budget_flops == tm.budget_to_flops(5e6, H100_BF16, 0.4, 2.5)
    assert plan.cluster_flops == tm.delivered_flop_rate(1024, H100_BF16, 0.4)
    assert plan.seconds == tm.training_time(plan.flops, 1024, H100_BF16, 0.4)
    assert plan.cost == pytest.approx(tm.flops_to_cost(plan.flops, H100_BF16, 0.4, 2.5))


# --- plans ---------------------------------------------------------------------------------------


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


# --- bad input -----------------------------------------------------------------------------------


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
        ({"flops": 1e24, "accelerator": "B300"}, ValueError, "accelerator"),
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
