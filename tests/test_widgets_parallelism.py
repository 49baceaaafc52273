"""Tests of trainmath.widgets.parallelism: PlannerCalculator (lesson 07)."""

from __future__ import annotations

import numpy as np
import pytest

import trainmath as tm
from trainmath.widgets.contract import PythonView, check_change, check_refused, check_registered
from trainmath.widgets.parallelism import MOE_SEARCH, TOP, PlannerCalculator, layout_label


@pytest.fixture
def calc() -> PlannerCalculator:
    return PlannerCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "planner")


def test_default_follows_the_library(calc):
    out = calc.last
    v = calc.values()
    layouts = tm.plan_layouts(v["model"], v["accelerator"], v["n_gpus"], seq_len=v["seq_len"],
                              global_batch_tokens=v["global_batch_tokens"])
    assert out.n_layouts == len(layouts)
    assert out.n_fit == layouts.n_fit
    assert out.top[0] == layouts.best()
    assert len(out.top) == TOP
    assert f"{out.n_layouts:,}" in calc.result.value
    assert layout_label(out.top[0]) in calc.result.value


def test_llama3_405b_table4_layout_is_among_the_fitting(calc):
    # Llama 3 paper, Table 4, row 1: 8,192 H100, 16M tokens per batch of 8,192-token sequences.
    assert calc.set(model="llama-3.1-405b", n_gpus=8192, seq_len=8192,
                    global_batch_tokens=16 * 2**20)
    layouts = tm.plan_layouts("llama-3.1-405b", "H100-SXM", 8192, seq_len=8192,
                              global_batch_tokens=16 * 2**20)
    rows = layouts.find(tp=8, cp=1, pp=16, dp=64)
    assert layouts["fits"][rows].any()
    assert calc.last.n_fit == layouts.n_fit


@pytest.mark.parametrize(
    "change",
    [
        {"model": "llama-3-8b"},
        {"accelerator": "A100-80GB"},
        {"n_gpus": 128},
        {"seq_len": 4096},
        {"global_batch_tokens": 2 * 2**20},
        {"efficiency": 0.4},
        {"rank": 2},
    ],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_rank_picks_the_layout_shown(calc):
    assert calc.set(rank=3)
    out = calc.last
    assert out.chosen == 3 and out.layout == out.top[3]
    assert f"rank {4}" in calc.result.value
    assert "class='pick'" in calc.result.value
    outline = calc._outline[0]
    assert outline.get_y() == pytest.approx(3 - 0.43)
    assert outline.get_width() == pytest.approx(out.layout["total"] / 1e9)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"n_gpus": 512})  # typed in the box
    assert calc.last.n_gpus == 512


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"global_batch_tokens": 4 * 2**20 + 1}, "global_batch_tokens"),
        ({"n_gpus": 0}, "n_gpus"),
        ({"seq_len": -8}, "seq_len"),
        ({"model": "llama-3.1-405b", "n_gpus": 8, "global_batch_tokens": 8 * 8192},
         "no layout fits"),
        ({"n_gpus": 97, "global_batch_tokens": 8 * 8192}, "n_gpus"),  # prime, > the layers
        ({"model": "gpt2", "n_gpus": 1, "seq_len": 1024, "global_batch_tokens": 1024,
          "rank": 5}, "rank"),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word):
    # Back to the defaults, but on 512 GPUs: a good value must show new numbers.
    fix = {"model": "llama-3-70b", "n_gpus": 512, "seq_len": 8192,
           "global_batch_tokens": 4 * 2**20, "rank": 0}
    check_refused(calc, change, word, fix)


def test_no_fit_message_names_the_memory(calc):
    calc.set(model="llama-3.1-405b", n_gpus=8, global_batch_tokens=8 * 8192)
    assert "85.5 GB" in calc.message.value and "per GPU" in calc.message.value


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    patches = [list(ax.patches) for ax in axes]
    calc.set(model="llama-3-8b", n_gpus=64)
    calc.set(model="llama-3.1-405b", n_gpus=8192, global_batch_tokens=16 * 2**20)
    assert calc.figure.axes == axes
    assert [list(ax.patches) for ax in axes] == patches
    out = calc.last
    # the stacked memory bars end at each layout's total
    mem = calc._mem_bars
    right = np.array([r.get_x() + r.get_width() for r in mem["activations"]])
    assert np.allclose(right[: len(out.top)], [r["total"] / 1e9 for r in out.top])
    assert calc._limit.get_xdata()[0] == pytest.approx(81_559 * 2**20 / 1e9)  # H100, NVML
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels[0].startswith(layout_label(out.top[0]))


def test_fewer_layouts_than_slots_leave_empty_bars(calc):
    assert calc.set(model="gpt2", n_gpus=1, seq_len=1024, global_batch_tokens=1024)
    n = len(calc.last.top)
    assert n < TOP
    widths = [r.get_width() for r in calc._mem_bars["weights"]]
    assert all(w == 0 for w in widths[n:])


def test_changing_only_the_rank_does_not_plan_again(calc):
    layouts = calc._plan[1]
    assert calc.set(rank=1)
    assert calc._plan[1] is layouts
    assert calc.set(efficiency=0.6)
    assert calc._plan[1] is not layouts


# --- mixtures of experts ---------------------------------------------------------------------

MOE_CASE = {"model": "deepseek-v3", "accelerator": "H800", "n_gpus": 2048, "seq_len": 4096,
            "global_batch_tokens": 4096 * 2048}


def test_mixtures_of_experts_follow_the_dense_presets(calc):
    assert list(calc.inputs["model"].options) == [*tm.MODELS, *tm.MOE_MODELS]
    assert calc.inputs["model"].options[1] == "gpt2-medium"  # the dense list as before


def test_mixture_of_experts_is_planned_over_fewer_choices(calc):
    assert calc.set(**MOE_CASE)
    layouts = tm.plan_layouts("deepseek-v3", "H800", 2048, seq_len=4096,
                              global_batch_tokens=4096 * 2048, **MOE_SEARCH)
    out = calc.last
    assert out.n_layouts == len(layouts) and out.n_fit == layouts.n_fit
    assert out.top[0] == layouts.best()
    assert out.moe and out.n_experts == 256
    for column, choices in (("zero_stage", MOE_SEARCH["zero_stages"]),
                            ("recompute", MOE_SEARCH["recomputes"]),
                            ("micro_batch", MOE_SEARCH["micro_batches"]),
                            ("interleave", MOE_SEARCH["interleaves"])):
        assert set(np.unique(layouts[column])) <= set(choices), column
    assert len(np.unique(layouts["ep"])) > 1  # the planner searches ep itself


def test_fewer_choices_keep_the_fastest_layout_of_the_default_inputs(calc):
    # the full search is about nine times larger; here it finds the same best layout
    assert calc.set(model="deepseek-v3")
    full = tm.plan_layouts("deepseek-v3", "H100-SXM", 256, seq_len=8192,
                           global_batch_tokens=4 * 2**20)
    assert len(full) > 4 * calc.last.n_layouts
    assert calc.last.top[0]["step_time"] == pytest.approx(full.best()["step_time"])


def test_mixture_of_experts_shows_the_chosen_ep(calc):
    assert calc.set(**MOE_CASE)
    out, text = calc.last, calc.result.value
    r = out.layout
    assert "<th>EP</th>" in text
    assert f"EP{r['ep']}: {256 // r['ep']} of the 256 experts" in text
    assert f"expert all-to-all {tm.fmt.duration(r['ep_comm_time'])}" in text
    assert "micro-batches of 1-2" in text
    labels = [t.get_text() for t in calc.figure.axes[0].get_yticklabels()]
    assert labels[0].startswith(layout_label(r, moe=True)) and f" EP{r['ep']} " in labels[0]
    assert calc.figure.axes[0].get_yticklabels()[0].get_fontsize() == 6.5
    assert calc.set(model="llama-3-70b", accelerator="H100-SXM", n_gpus=256, seq_len=8192,
                    global_batch_tokens=4 * 2**20)
    assert "<th>EP</th>" not in calc.result.value and "EP" not in calc.result.value
    assert calc.figure.axes[0].get_yticklabels()[0].get_fontsize() == 7


def test_layout_label_names_the_ep_of_a_mixture_of_experts():
    row = {"tp": 1, "cp": 1, "pp": 8, "interleave": 1, "dp": 64, "ep": 64}
    assert layout_label(row) == "TP1·CP1·PP8·DP64"
    assert layout_label(row, moe=True) == "TP1·CP1·PP8·DP64 EP64"


@pytest.mark.parametrize("model", list(tm.MOE_MODELS))
def test_every_mixture_of_experts_preset_is_planned(calc, model):
    check_change(calc, {"model": model})
    assert calc.last.moe and calc.last.n_fit > 0
