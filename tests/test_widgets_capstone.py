"""Tests of trainmath.widgets.capstone: CapstoneCalculator (lesson 09)."""

from __future__ import annotations

import pytest

import trainmath as tm
from trainmath import capstone as cp
from trainmath.widgets.capstone import CapstoneCalculator
from trainmath.widgets.contract import PythonView, check_change, check_refused, check_registered


@pytest.fixture
def calc() -> CapstoneCalculator:
    return CapstoneCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "capstone")


def test_default_is_llama3_budget_on_16k_h100(calc):
    out = calc.last
    plan = cp.plan_training_run(3.8e25, accelerator="H100-SXM", n_gpus=16384, mfu=0.4,
                                price_per_gpu_hour=2.0)
    assert out.plan == plan
    assert out.plan.n_params == pytest.approx(563e9, rel=1e-3)
    assert out.plan.days == pytest.approx(67.86, abs=0.01)
    assert out.cfg == cp.llama_like_config(plan.n_params)
    assert out.shape_params == tm.param_count(out.cfg)
    assert out.min_gpus == tm.min_gpus_to_fit(out.shape_params, 81_559 * 2**20, zero_stage=3)
    assert out.batch_tokens == 16 * 2**20
    html = calc.result.value
    assert "563B" in html and "67.9 days" in html and "$53.4M" in html


def test_layout_is_the_planners_best(calc):
    out = calc.last
    layouts = tm.plan_layouts(out.cfg, "H100-SXM", 16384, global_batch_tokens=16 * 2**20,
                              max_cp=1)
    assert out.layout == layouts.best()
    assert out.layout["tp"] * out.layout["pp"] * out.layout["dp"] == 16384
    assert out.layout["total"] <= 80e9


def test_no_layout_fits_is_a_result_not_an_error(calc):
    # 8 GPUs cannot hold a 563B model's 9 TB of states.
    assert calc.set(n_gpus=8, batch_sequences=64)
    assert calc.last.layout is None
    assert "none of" in calc.result.value


@pytest.mark.parametrize(
    "change",
    [
        {"budget_unit": "days", "budget": 30.0},
        {"budget_unit": "usd", "budget": 1e7},
        {"budget": 1e24},
        {"rule": "loss-optimal"},
        {"rule": "inference-aware"},
        {"tokens_per_param": 40.0},
        {"accelerator": "H200"},
        {"n_gpus": 8192},
        {"mfu": 0.3},
    ],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


@pytest.mark.parametrize("change", [{"price": 3.0}, {"batch_sequences": 1024}])
def test_changing_price_or_batch_changes_numbers(calc, change):
    check_change(calc, change, plot=False)  # the plot shows N and D, not cost or layout


def test_inference_tokens_matter_only_for_the_inference_aware_rule(calc):
    assert calc.inputs["inference_tokens"].disabled
    assert not calc.inputs["tokens_per_param"].disabled
    calc.set(rule="inference-aware")
    assert not calc.inputs["inference_tokens"].disabled
    assert calc.inputs["tokens_per_param"].disabled
    html = calc.result.value
    calc.set(inference_tokens=1e14)
    assert calc.result.value != html
    assert calc.last.plan.flops > calc.last.plan.budget_flops
    assert "over the budget" in calc.result.value


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"n_gpus": 4096})  # typed in the box
    assert calc.last.plan.n_gpus == 4096


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"budget": -1.0}, "flops"),
        ({"budget_unit": "days", "budget": 0.0}, "days"),
        ({"n_gpus": 0}, "n_gpus"),
        ({"budget_unit": "usd", "budget": 1e7, "price": 0.0}, "price_per_gpu_hour"),
        ({"price": -2.0}, "price_per_gpu_hour"),
        ({"tokens_per_param": 0.0}, "tokens_per_param"),
        ({"batch_sequences": 0}, "batch_sequences"),
        ({"budget": 1e18}, "n_params"),  # too small for a 128k-vocabulary Llama shape
        ({"rule": "inference-aware", "inference_tokens": -1.0}, "inference_tokens"),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word):
    # (every accelerator offered has a bf16 peak, a measured matmul rate and NVLink figure:
    # the planner's, tm.NODE_BUS_BANDWIDTH)
    fix = {"budget": 1e25, "n_gpus": 4096, "mfu": 0.45, "price": 2.5, "tokens_per_param": 25.0,
           "accelerator": "H200", "batch_sequences": 1024, "inference_tokens": 1e12,
           "budget_unit": "flops"}
    check_refused(calc, change, word, fix={k: fix[k] for k in change if k in fix})


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    lines = list(axes[0].lines)
    calc.set(budget=1e23)
    calc.set(budget=1e26)
    assert calc.figure.axes == axes
    assert list(axes[0].lines) == lines
    x, y = calc._plan.get_data()
    assert x[0] == pytest.approx(calc.last.plan.n_params)
    assert y[0] == pytest.approx(calc.last.plan.n_tokens)


def test_offers_the_planners_accelerators(calc):
    assert tuple(calc.inputs["accelerator"].options) == tuple(tm.NODE_BUS_BANDWIDTH)
