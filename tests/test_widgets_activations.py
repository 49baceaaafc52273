"""Tests of trainmath.widgets.activations: ActivationCalculator (lesson 06)."""

from __future__ import annotations

import pytest

import trainmath as tm
from trainmath.widgets.activations import ActivationCalculator
from trainmath.widgets.contract import PythonView, check_change, check_refused, check_registered

GPT3 = tm.MODELS["gpt3-175b"]


@pytest.fixture
def calc() -> ActivationCalculator:
    return ActivationCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "activations")


def test_default_is_gpt3_with_selective_recomputation(calc):
    out = calc.last
    assert out.name == "GPT-3 175B" and out.recompute == "selective"
    # Korthikanti et al. 2022, Table 2: 34 sbh / t with t = 8, SP, selective.
    assert out.per_layer == 34 * 2048 * 12288 / 8
    assert out.activations == pytest.approx(96 * out.per_layer)  # 12 layers x 8 in flight
    assert out.score_share == pytest.approx(80 / 114)  # the "70 %" of Sec. 5
    mem = tm.memory_per_gpu(GPT3, seq_len=2048, micro_batch=1, n_microbatches=8, tp=8, pp=8,
                            dp=8, zero_stage=1, sequence_parallel=True, recompute="selective")
    assert out.total == pytest.approx(mem.total)
    assert out.flops_paper == pytest.approx(0.027, abs=5e-4)
    assert out.flops_redone == pytest.approx(0.009, abs=5e-4)
    assert "70.2%" in calc.result.value and "fits" in calc.result.value


def test_gpt3_activations_without_recomputation(calc):
    assert calc.set(recompute="none", pp=1, dp=1, zero_stage=0)
    # sbh(34/t + 5as/(ht)) x 96 layers = 2048 * 12288 * (4.25 + 10) * 96 = 34.4 GB.
    assert calc.last.activations == pytest.approx(2048 * 12288 * 14.25 * 96)
    assert "34.4 GB" in calc.result.value
    assert "does NOT fit" in calc.result.value  # 175B of model states on 8 GPUs


def test_totals_over_the_sequence_grid_follow_the_library(calc):
    out = calc.last
    assert out.seq_grid[0] == 512 and out.seq_grid[-1] == 131072
    for rc, totals in out.totals.items():
        i = len(out.seq_grid) // 2
        one = tm.memory_per_gpu(GPT3, seq_len=int(out.seq_grid[i]), n_microbatches=8, tp=8,
                                pp=8, dp=8, zero_stage=1, sequence_parallel=True,
                                recompute=rc)
        assert totals[i] == pytest.approx(one.total)
    assert (out.totals["full"] <= out.totals["selective"]).all()
    assert (out.totals["selective"] <= out.totals["none"]).all()
    # A sequence length outside the default range widens the grid.
    calc.set(seq_len=262144)
    assert calc.last.seq_grid[-1] == 262144


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt2-xl", "tp": 1, "pp": 1, "dp": 1},
        {"seq_len": 8192},
        {"micro_batch": 4},
        {"tp": 4},
        {"sequence_parallel": False},
        {"recompute": "none"},
        {"recompute": "full"},
        {"pp": 4},
        {"dp": 64},
        {"zero_stage": 3},
        {"accelerator": "H200"},
    ],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"micro_batch": 2})  # typed in the box
    assert calc.last.micro_batch == 2
    assert calc.last.per_layer == 2 * 34 * 2048 * 12288 / 8


def test_llama_is_flagged_as_an_approximation(calc):
    calc.set(model="llama-2-7b", tp=1, pp=1, dp=1)
    assert "approximation" in calc.result.value
    calc.set(model="gpt2", tp=1, pp=1, dp=1)
    assert "approximation" not in calc.result.value


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"seq_len": 0}, "seq_len"),
        ({"micro_batch": -1}, "micro_batch"),
        ({"tp": 5}, "tp"),
        ({"pp": 0}, "pp"),
        ({"pp": 200}, "pp"),
        ({"dp": 0}, "dp"),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word):
    fix = {"seq_len": 4096, "micro_batch": 2, "tp": 4, "pp": 4, "dp": 16}
    check_refused(calc, change, word, fix={k: fix[k] for k in change})


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    lines = list(axes[0].lines)
    calc.set(recompute="full", accelerator="H100-SXM")
    calc.set(seq_len=4096)
    assert calc.figure.axes == axes
    assert list(axes[0].lines) == lines
    x, y = calc._marker.get_data()
    assert list(x) == [4096]
    assert y[0] == pytest.approx(calc.last.total)
    assert calc._lines["full"].get_linewidth() > calc._lines["none"].get_linewidth()
    assert calc._capacity.get_ydata()[0] == tm.ACCELERATORS["H100-SXM"].memory_bytes
    assert calc._capacity_text.get_text() == "H100-SXM memory"


# --- mixtures of experts ---------------------------------------------------------------------

DS = tm.MOE_MODELS["deepseek-v3"]


def test_mixtures_of_experts_follow_the_dense_presets(calc):
    keys = [key for _, key in calc.inputs["model"].options]
    assert keys == [*tm.MODELS, *tm.MOE_MODELS]
    labels = [label for label, _ in calc.inputs["model"].options]
    assert labels[: len(tm.MODELS)] == [cfg.name for cfg in tm.MODELS.values()]
    assert labels[-1] == "Qwen3-235B-A22B (MoE)"


def test_ep_is_one_and_greyed_out_for_a_dense_model(calc):
    assert calc.inputs["ep"].value == 1 and calc.inputs["ep"].disabled
    assert not calc.last.moe and calc.last.ep == 1
    assert "experts over" not in calc.result.value


def test_mixture_of_experts_follows_the_library(calc):
    assert calc.set(model="deepseek-v3", ep=8)
    assert not calc.inputs["ep"].disabled
    out = calc.last
    layout = dict(micro_batch=1, n_microbatches=8, tp=8, pp=8, dp=8, zero_stage=1,
                  sequence_parallel=True, layer="modern", ep=8, etp=1)
    mem = tm.memory_per_gpu(DS, seq_len=2048, recompute="selective", **layout)
    assert out.moe and out.total == pytest.approx(mem.total)
    assert out.activations == pytest.approx(mem.activations)
    assert out.per_layer == tm.layer_activation_bytes(
        DS, 2048, 1, tp=8, sequence_parallel=True, recompute="selective", layer="modern",
        etp=1)
    i = len(out.seq_grid) // 2
    one = tm.memory_per_gpu(DS, seq_len=int(out.seq_grid[i]), recompute="full", **layout)
    assert out.totals["full"][i] == pytest.approx(one.total)
    assert out.score_share is None and out.flops_paper is None
    assert out.flops_redone == tm.recompute_flops_overhead(DS, 2048, "selective")
    text = calc.result.value
    for shown in ("mixture of experts: the modern layer", "One MoE layer", "none kept",
                  "experts over e = 8", "of the model FLOPs redone"):
        assert shown in text, shown
    assert "Korthikanti" not in text
    assert calc._ax.get_xlabel().endswith("[activations: modern layer, FlashAttention]")
    assert ", e = 8 (ZeRO-1)" in calc._title.get_text()
    # expert parallelism shrinks the experts' share of the model states
    assert calc.set(ep=1)
    assert calc.last.weights > out.weights and calc.last.activations == out.activations
    # back to a dense model: ep greyed out at 1, the GPT-style outputs again
    assert calc.set(model="gpt3-175b")
    assert calc.inputs["ep"].value == 1 and calc.inputs["ep"].disabled
    assert calc._ax.get_xlabel().endswith("[activations: Korthikanti et al. 2022, Table 2]")


@pytest.mark.parametrize("model", list(tm.MOE_MODELS))
def test_every_mixture_of_experts_preset_shows_numbers_or_a_message(calc, model):
    calc.set(model=model)
    if tm.MOE_MODELS[model].n_kv_heads % 8:  # Qwen3's 4 KV heads: t = 8 is refused
        assert "tp must divide n_kv_heads" in calc.message.value
        assert calc.set(tp=4)
    assert calc.message.value == "" and calc.last.moe


@pytest.mark.parametrize(
    ("change", "word", "fix"),
    [
        ({"model": "deepseek-v3", "ep": 3}, "ep must divide n_experts", {"ep": 4}),
        ({"model": "deepseek-v3", "ep": 128}, "ep * etp must divide dp * cp * tp",
         {"ep": 64}),
        ({"model": "mixtral-8x7b", "sequence_parallel": False},
         "an MoE layer with tp > 1 needs sequence_parallel=True", {"tp": 1}),
        # set programmatically: the box is greyed out for a dense model
        ({"ep": 2}, "ep and etp apply to mixtures of experts; GPT-3 175B is dense",
         {"model": "mixtral-8x7b"}),
    ],
)
def test_bad_expert_parallelism_shows_message(calc, change, word, fix):
    check_refused(calc, change, word, fix)
