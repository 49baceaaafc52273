"""Tests of trainmath.widgets.optimizers: OptimizerCalculator (lesson 05)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import trainmath as tm
from trainmath.widgets.contract import PythonView, check_change, check_refused, check_registered
from trainmath.widgets.optimizers import CUSTOM, SAME_AS_WEIGHTS, OptimizerCalculator


@pytest.fixture
def calc() -> OptimizerCalculator:
    return OptimizerCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "optimizers")


def test_default_is_llama3_8b_mixed_precision_adamw(calc):
    out = calc.last
    n = tm.param_count(tm.MODELS["llama-3-8b"])
    assert out.n_params == n
    assert out.per_param["total"] == 16
    assert out.unsharded == 16 * n
    # ZeRO-1 over 8 GPUs: 4 Psi + 12 Psi / 8 (Rajbhandari et al. 2019, Sec. 5).
    assert out.per_gpu["total"] == pytest.approx(4 * n + 12 * n / 8)
    assert out.per_gpu["total"] == pytest.approx(tm.zero_memory_per_gpu(n, 8, 1))
    assert out.fits
    assert "2 + 2 + 4 + 4 + 4 = 16 B/param" in calc.result.value


def test_zero_figure_1(calc):
    # Rajbhandari et al. 2019, Fig. 1: Psi = 7.5B, N_d = 64 -> 120, 31.4, 16.6, 1.88 GB.
    assert calc.set(model=CUSTOM, n_params=7.5e9, dp=64, zero_stage=3)
    got = calc.last.by_stage["total"]
    assert np.allclose(got, [120e9, 31.40625e9, 16.640625e9, 1.875e9], rtol=1e-12)
    assert calc.last.per_gpu["total"] == pytest.approx(1.875e9)
    assert "1.88 GB" in calc.result.value


def test_seed_7b_fp32(calc):
    # Seed 001 counts 140 GB (a redundant fp32 master copy); pure fp32 AdamW needs 112 GB.
    calc.set(model=CUSTOM, n_params=7e9, param_dtype="fp32", zero_stage=0, dp=1)
    assert calc.last.unsharded == 112e9
    calc.set(master="yes")
    assert calc.last.unsharded == 140e9 and calc.last.master is True


def test_master_dropdown_shows_its_default():
    # A Dropdown valued None renders an empty box: every choice must have a real value.
    master = OptimizerCalculator().inputs["master"]
    assert master.value == "auto" and master.label.startswith("auto")
    assert all(value is not None for _, value in master.options)


def test_fewest_gpus_and_verdicts(calc):
    calc.set(model="llama-3-70b", accelerator="H100-SXM", zero_stage=1, dp=8)
    out = calc.last
    assert not out.fits
    assert math.isinf(out.min_gpus)
    assert out.min_gpus_stage3 == 14  # 16 x 70.55e9 B / 85.52e9 B per H100 = 13.2
    assert "does not fit" in calc.result.value and "stage 3 needs 14" in calc.result.value
    calc.set(zero_stage=3, dp=16)
    assert calc.last.fits and calc.last.min_gpus == 14


@pytest.mark.parametrize(
    "change",
    [
        {"model": "llama-2-70b"},
        {"model": CUSTOM, "n_params": 1e9},
        {"optimizer": "adamw-8bit"},
        {"param_dtype": "fp16"},
        {"grad_dtype": "fp32"},
        {"master": "no"},
        {"grad_buffer": True, "param_dtype": "fp16"},
        {"zero_stage": 3},
        {"dp": 64},
        {"accelerator": "A100-40GB"},
    ],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"dp": 32})  # typed in the box
    assert calc.last.dp == 32


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"dp": 0}, "dp"),
        ({"model": CUSTOM, "n_params": -5.0}, "n_params"),
        ({"optimizer": "adamw-no-master", "master": "yes"}, "master"),
        ({"grad_dtype": "fp32", "grad_buffer": True}, "grad_buffer"),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word):
    fix = {"dp": 4, "n_params": 7e9, "master": "auto", "grad_buffer": False}
    check_refused(calc, change, word, fix={k: fix[k] for k in change if k in fix})


def test_parameter_box_is_only_active_for_custom(calc):
    assert calc.inputs["n_params"].disabled
    calc.set(model=CUSTOM)
    assert not calc.inputs["n_params"].disabled


def test_gradient_dtype_follows_the_weights_by_default(calc):
    assert calc.inputs["grad_dtype"].value == SAME_AS_WEIGHTS
    calc.set(param_dtype="fp32")
    assert calc.last.grad_dtype == "fp32"
    assert calc.last.per_param["gradients"] == 4


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    patches = list(axes[0].patches)
    calc.set(zero_stage=2, dp=4)
    calc.set(zero_stage=0, dp=16)
    assert calc.figure.axes == axes
    assert list(axes[0].patches) == patches
    # The stacked bar of stage 0 reaches the unsharded total.
    top = max(r.get_y() + r.get_height() for r in calc._bars["variance"][:1])
    assert top == pytest.approx(calc.last.unsharded / 1e9)
    cap = calc._capacity.get_ydata()[0]
    assert cap == pytest.approx(tm.ACCELERATORS["H100-SXM"].memory_bytes / 1e9)


@pytest.mark.parametrize("model", list(tm.MOE_MODELS))
def test_mixture_of_experts_states_follow_every_parameter(calc, model):
    assert list(calc.inputs["model"].options) == [*tm.MODELS, *tm.MOE_MODELS, CUSTOM]
    check_change(calc, {"model": model})
    cfg = tm.MOE_MODELS[model]
    out = calc.last
    assert out.n_params == tm.param_count(cfg)  # every expert's states, not the active ones
    assert out.active_params == tm.active_param_count(cfg) < out.n_params
    assert out.unsharded == 16 * out.n_params
    assert f"{tm.fmt.count(out.active_params)} active per token" in calc.result.value
    calc.set(model="llama-3-8b")
    assert calc.last.active_params is None and "active" not in calc.result.value
