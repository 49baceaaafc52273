"""Tests of trainmath.widgets.compute: ComputeCalculator (lesson 01)."""

from __future__ import annotations

import pytest

import trainmath as tm
from trainmath.widgets.compute import CUSTOM, ComputeCalculator
from trainmath.widgets.contract import PythonView, check_change, check_refused, check_registered


@pytest.fixture
def calc() -> ComputeCalculator:
    return ComputeCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "compute")


def test_default_is_gpt3_on_300b_tokens(calc):
    out = calc.last
    cfg = tm.MODELS["gpt3-175b"]
    assert out.n_params == tm.param_count(cfg)
    assert out.flops_6nd == pytest.approx(tm.training_flops(tm.param_count(cfg), 300e9))
    # Brown et al. 2020, Table D.1: 3.14e23 FLOPs = 3,640 PF-days for GPT-3 175B.
    assert out.flops_6nd == pytest.approx(3.14e23, rel=1e-2)
    assert out.flops_attention == pytest.approx(tm.flops_per_token(cfg, 2048) * 300e9)
    assert "3.14e+23 FLOPs" in calc.result.value


def test_time_and_gpu_hours_follow_the_library(calc):
    calc.set(model="llama-3-8b", tokens=15e12, accelerator="H100-SXM", n_gpus=2048, mfu=0.5,
             seq_len=8192)
    out = calc.last
    cfg = tm.MODELS["llama-3-8b"]
    flops = tm.flops_per_token(cfg, 8192) * 15e12
    peak = tm.ACCELERATORS["H100-SXM"].peak("bf16")
    assert out.flops_used == pytest.approx(flops)
    assert out.seconds == pytest.approx(tm.training_time(flops, 2048, peak, 0.5))
    assert out.gpu_hours == pytest.approx(tm.gpu_hours(flops, peak, 0.5))
    assert out.gpu_hours == pytest.approx(out.seconds * 2048 / 3600)
    assert out.cluster_flops == pytest.approx(2048 * peak * 0.5)


def test_hyperclova_at_peak_is_2_67_days(calc):
    # Kim et al. 2021 via reference-figures Sec. 11: 82B, 150B tokens, 1024 A100 -> 2.67 days.
    assert calc.set(model=CUSTOM, n_params=82e9, tokens=150e9, accelerator="A100-40GB",
                    dtype="fp16", n_gpus=1024, mfu=1.0)
    assert calc.last.seconds / tm.SECONDS_PER_DAY == pytest.approx(2.67, rel=5e-3)
    assert calc.last.flops_attention is None
    assert "needs the model" in calc.result.value


@pytest.mark.parametrize(
    "change",
    [
        {"model": "llama-2-70b"},
        {"tokens": 1e12},
        {"accelerator": "H100-SXM"},
        {"dtype": "fp16", "accelerator": "V100"},
        {"n_gpus": 64},
        {"mfu": 0.6},
        {"seq_len": 8192},
        {"model": CUSTOM, "n_params": 1e9},
    ],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"n_gpus": 4096})  # typed in the box
    assert calc.last.n_gpus == 4096


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"tokens": -1e9}, "n_tokens"),
        ({"n_gpus": 0}, "n_gpus"),
        ({"accelerator": "V100", "dtype": "bf16"}, "dtype"),
        ({"seq_len": 0}, "seq_len"),
        ({"model": CUSTOM, "n_params": -5.0}, "n_params"),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word):
    fix = {"tokens": 1e12, "n_gpus": 8, "dtype": "fp16", "seq_len": 4096, "n_params": 7e9}
    check_refused(calc, change, word, fix={k: fix[k] for k in change if k in fix})


def test_v100_message_names_the_dtypes_it_has(calc):
    calc.set(accelerator="V100")  # default dtype bf16
    assert "V100" in calc.message.value and "fp16" in calc.message.value


def test_parameter_box_is_only_active_for_custom(calc):
    assert calc.inputs["n_params"].disabled
    calc.set(model=CUSTOM)
    assert not calc.inputs["n_params"].disabled


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    lines = list(axes[0].lines)
    calc.set(n_gpus=100_000)
    calc.set(n_gpus=16)
    assert calc.figure.axes == axes
    assert list(axes[0].lines) == lines
    x, y = calc._marker.get_data()
    assert list(x) == [16]
    assert y[0] == pytest.approx(calc.last.seconds / tm.SECONDS_PER_DAY)
