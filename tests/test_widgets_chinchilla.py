"""Tests of trainmath.widgets.chinchilla: ChinchillaCalculator (lesson 03)."""

from __future__ import annotations

import pytest

import trainmath as tm
from trainmath.widgets.chinchilla import FRONTIER, RULE, ChinchillaCalculator
from trainmath.widgets.contract import PythonView, check_change, check_refused, check_registered


@pytest.fixture
def calc() -> ChinchillaCalculator:
    return ChinchillaCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "chinchilla")


def test_default_is_the_epoch_frontier_at_1e23(calc):
    out = calc.last
    n, d = tm.loss_optimal(1e23, "epoch")
    assert (out.n_params, out.n_tokens) == (pytest.approx(n), pytest.approx(d))
    assert out.loss == pytest.approx(tm.chinchilla_loss(n, d, "epoch"))
    assert out.penalty == pytest.approx(0, abs=1e-12)
    assert out.ia_n_params is None
    peak = tm.ACCELERATORS["H100-SXM"].peak("bf16")
    assert out.seconds == pytest.approx(tm.training_time(1e23, 1024, peak, 0.4))
    assert "1e+23 FLOPs" in calc.result.value


def test_gopher_budget_with_the_printed_constants_gives_93_tokens_per_param(calc):
    # reference-figures Sec. 1: N = 3.22e10, D = 2.98e12 at 5.76e23 FLOPs.
    assert calc.set(flops=tm.GOPHER_FLOPS, fit="hoffmann")
    assert calc.last.n_params == pytest.approx(3.22e10, rel=1e-2)
    assert calc.last.n_tokens / calc.last.n_params == pytest.approx(93, rel=0.01)
    assert "92.6 tokens per parameter" in calc.result.value


def test_rule_of_thumb_is_sqrt_c_over_120(calc):
    assert calc.set(split=RULE, tokens_per_param=20.0, flops=5.76e23)
    out = calc.last
    assert out.n_params == pytest.approx((5.76e23 / 120) ** 0.5)
    assert out.penalty == pytest.approx(tm.isoflop_loss_penalty(5.76e23, out.n_params, "epoch"))
    assert "Frontier optimum of the same C" in calc.result.value
    assert not calc.inputs["tokens_per_param"].disabled
    calc.set(split=FRONTIER)
    assert calc.inputs["tokens_per_param"].disabled


def test_inference_tokens_add_the_inference_aware_model(calc):
    assert calc.set(inference_tokens=2e13)
    out = calc.last
    n, d, total = tm.inference_aware_optimal(out.loss, 2e13, "epoch")
    assert out.ia_n_params == pytest.approx(n)
    assert out.ia_n_tokens == pytest.approx(d)
    assert out.ia_lifetime_flops == pytest.approx(total)
    assert out.ia_n_params < out.n_params
    assert out.lifetime_flops == pytest.approx(1e23 + 2 * out.n_params * 2e13)
    assert out.ia_lifetime_flops < out.lifetime_flops
    assert out.ia_break_even == pytest.approx(
        tm.break_even_inference_tokens(n, d, out.n_params, out.n_tokens)
    )
    assert "Inference-aware model" in calc.result.value
    x, _ = calc._ia.get_data()
    assert list(x) == [pytest.approx(n)]


@pytest.mark.parametrize(
    "change",
    [
        {"flops": 1e25},
        {"fit": "hoffmann"},
        {"split": RULE},
        {"split": RULE, "tokens_per_param": 200.0},
        {"inference_tokens": 1e13},
        {"accelerator": "A100-80GB"},
        {"accelerator": "V100"},  # no bf16: the fp16 peak is used
        {"n_gpus": 64},
        {"mfu": 0.6},
    ],
)
def test_changing_a_control_changes_the_numbers(calc, change):
    # The plot is loss against model size: the hardware controls change only the numbers.
    plot_changes = {"flops", "fit", "split", "inference_tokens"} & set(change)
    check_change(calc, change, plot=bool(plot_changes))


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"flops": 3e24})  # typed in the box
    assert calc.last.flops == 3e24


@pytest.mark.parametrize(
    ("change", "word", "fix"),
    [
        ({"flops": -1.0}, "flops", {"flops": 1e22}),
        ({"flops": 0.0}, "flops", {"flops": 1e22}),
        ({"split": RULE, "tokens_per_param": 0.0}, "tokens_per_param", {"tokens_per_param": 5.0}),
        ({"inference_tokens": -1e12}, "inference_tokens", {"inference_tokens": 1e12}),
        ({"n_gpus": 0}, "n_gpus", {"n_gpus": 8}),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word, fix):
    check_refused(calc, change, word, fix)


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    lines = list(axes[0].lines)
    calc.set(flops=1e25, inference_tokens=1e14)
    calc.set(flops=1e20, inference_tokens=0.0)
    assert calc.figure.axes == axes
    assert list(axes[0].lines) == lines
    x, y = calc._opt.get_data()
    assert x[0] == pytest.approx(calc.last.n_opt)
    assert y[0] == pytest.approx(calc.last.loss_opt)
    assert len(calc._ia.get_data()[0]) == 0
