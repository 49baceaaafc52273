"""Tests of trainmath.widgets.moe (MoECalculator, lesson 11) and trainmath.widgets._experts."""

from __future__ import annotations

import numpy as np
import pytest

import trainmath as tm
from trainmath.widgets._experts import (
    expert_parallel_for,
    model_options,
    takes_deepseek_v3_terms,
)
from trainmath.widgets.contract import (
    PythonView,
    check_change,
    check_recipe,
    check_refused,
    check_registered,
)
from trainmath.widgets.moe import MEMORY_PARTS, MoECalculator
from trainmath.widgets.recipes import RECIPES, Step

DS = tm.MOE_MODELS["deepseek-v3"]
DEFAULTS = {"model": "deepseek-v3", "accelerator": "H800", "seq_len": 4096, "micro_batch": 1,
            "tp": 1, "pp": 16, "ep": 64, "dp": 128, "zero_stage": 1, "capacity_factor": 1.0,
            "deepseek_v3": True}


@pytest.fixture
def calc() -> MoECalculator:
    return MoECalculator()


def library_memory(model: str, *, seq_len=4096, micro_batch=1, tp=1, pp=16, ep=64, dp=128,
                   zero_stage=1, capacity_factor=1.0, deepseek_v3=True) -> tm.MemoryBreakdown:
    """What the calculator must show, straight from the library."""
    cfg = tm.get_model(model)
    return tm.memory_per_gpu(
        cfg, seq_len=seq_len, micro_batch=micro_batch, n_microbatches=pp, tp=tp, pp=pp,
        dp=dp, zero_stage=zero_stage, sequence_parallel=tp > 1, layer=None, ep=ep,
        etp=1 if cfg.is_moe else None, capacity_factor=capacity_factor,
        term_bytes=tm.DEEPSEEK_V3_TERM_BYTES if deepseek_v3 else None,
    )


def state(calc: MoECalculator) -> dict:
    """Value and greyed-out state of the controls that follow the model."""
    return {name: (calc.inputs[name].value, calc.inputs[name].disabled)
            for name in ("ep", "capacity_factor", "deepseek_v3")}


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "moe")


def test_registered_between_the_throughput_and_the_capstone():
    keys = list(tm.widgets.CALCULATORS)
    assert keys.index("throughput") + 1 == keys.index("moe")
    assert keys.index("moe") + 1 == keys.index("capstone")


def test_default_is_deepseek_v3_on_2048_h800(calc):
    assert calc.values() == DEFAULTS
    out = calc.last
    assert out.n_gpus == 2048 and out.ep == 64 and out.accelerator == "H800"
    assert out.total_params == tm.param_count(DS) == 671_026_404_352
    assert out.active_params == tm.active_param_count(DS)
    assert out.flops_per_token == tm.flops_per_token(DS, 4096)
    assert dict(out.memory) == dict(library_memory("deepseek-v3"))
    assert dict(out.buckets) == dict(tm.param_buckets(DS, tp=1, pp=16, ep=64, etp=1))
    # expert_parallel_comm_bytes' docstring example: 4 MoE layers per stage, fp8 dispatch
    assert out.moe_layers_on_stage == 4
    assert out.all_to_all == tm.expert_parallel_comm_bytes(
        4096, 1, 7168, 64, experts_per_token=8, n_layers=4, dispatch_bytes=1)
    assert round(out.all_to_all / 1e9, 2) == 5.55
    assert out.all_to_all == pytest.approx(4 * out.all_to_all_layer)
    assert out.kv_cache == tm.kv_cache_bytes(DS, 4096)
    assert round(out.kv_cache / 1e6, 1) == 287.8
    assert out.fits and out.memory.total <= tm.ACCELERATORS["H800"].memory_bytes
    text = calc.result.value
    for shown in ("671B / 37.6B (5.60% active)", "256 routed + 1 shared experts",
                  "58 of 61 layers MoE", "latent attention", "2,048 GPUs",
                  "EP64: 4 of the 256 experts", "etp = 1", "fits", "5.55 GB",
                  "fp8 dispatch", "288 MB for 4,096 tokens", "576 values per token"):
        assert shown in text, shown


def test_flops_are_six_times_the_active_parameters_not_all(calc):
    out = calc.last
    six_active, six_all = 6 * out.active_params, 6 * out.total_params
    assert fmt_in(tm.fmt.flops(six_active), calc) and fmt_in(tm.fmt.flops(six_all), calc)
    assert fmt_in(tm.fmt.flops(out.flops_per_token), calc)
    # the full count adds attention to 6 x the active matmul weights, far below 6 x all
    assert six_active < out.flops_per_token < six_all / 10
    assert f"{six_all / out.flops_per_token:.3g} × the full count" in calc.result.value


def fmt_in(text: str, calc: MoECalculator) -> bool:
    return text in calc.result.value


def test_models_list_the_mixtures_of_experts_first_then_the_dense_presets(calc):
    keys = [key for _, key in calc.inputs["model"].options]
    assert keys == [*tm.MOE_MODELS, *tm.MODELS]
    labels = [label for label, _ in calc.inputs["model"].options]
    assert labels[0] == "Mixtral 8x7B (MoE)" and "Llama 3 70B" in labels
    assert model_options(moe_first=False)[0] == ("GPT-2 small", "gpt2")
    assert model_options(moe_first=False, labels="key")[-1] == ("qwen3-235b-a22b",
                                                                "qwen3-235b-a22b")


@pytest.mark.parametrize(
    "values",
    [
        {"model": "mixtral-8x7b", "pp": 4, "ep": 8, "dp": 64},
        {"model": "mixtral-8x22b", "tp": 2, "pp": 8, "ep": 4, "dp": 32, "zero_stage": 2},
        {"model": "qwen3-235b-a22b", "tp": 4, "pp": 2, "ep": 16, "dp": 8,
         "capacity_factor": 1.25},
        {"model": "qwen3-30b-a3b", "pp": 1, "ep": 8, "dp": 8, "zero_stage": 3},
        {"deepseek_v3": False, "ep": 8, "seq_len": 8192, "micro_batch": 2},
        {"model": "llama-3-70b", "tp": 8, "pp": 8, "dp": 16},
        {"model": "gpt3-175b", "tp": 8, "pp": 8, "dp": 8, "zero_stage": 0},
    ],
)
def test_memory_and_buckets_follow_the_library(calc, values):
    assert calc.set(**values), calc.message.value
    v = calc.values()
    cfg = tm.get_model(v["model"])
    expected = library_memory(v["model"], **{k: x for k, x in v.items()
                                             if k not in ("model", "accelerator")})
    assert dict(calc.last.memory) == dict(expected)
    assert dict(calc.last.buckets) == dict(tm.param_buckets(
        cfg, tp=v["tp"], pp=v["pp"], ep=v["ep"], etp=1 if cfg.is_moe else None))
    # the bar stacks weights, gradients, optimizer states and activations to the total
    right = calc._bars["activations"].get_x() + calc._bars["activations"].get_width()
    assert right == pytest.approx(float(expected.total) / 1e9)


def test_deepseek_v3_fits_only_with_its_activation_choices(calc):
    assert calc.last.fits
    kept = calc.last.memory.activations
    assert calc.set(deepseek_v3=False)
    assert not calc.last.fits and calc.last.memory.activations > 2 * kept
    assert "does NOT fit" in calc.result.value and "all kept in bf16" in calc.result.value
    # the dispatch goes in bf16 then: 2 + 2 bytes per value against 1 + 2
    assert calc.last.all_to_all == pytest.approx(5.55e9 * 4 / 3, rel=1e-3)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "mixtral-8x7b"},
        {"model": "llama-3-70b"},
        {"accelerator": "H100-SXM"},
        {"seq_len": 8192},
        {"micro_batch": 2},
        {"tp": 2},
        {"pp": 8},
        {"ep": 32},
        {"dp": 256},
        {"zero_stage": 2},
        {"capacity_factor": 1.5},
        {"deepseek_v3": False},
    ],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_each_control_changes_the_right_output(calc):
    out = calc.last
    calc.set(accelerator="B200")
    assert calc.last.capacity == tm.ACCELERATORS["B200"].memory_bytes
    assert dict(calc.last.memory) == dict(out.memory)  # the memory does not depend on it
    calc.set(accelerator="H800", zero_stage=3)
    assert calc.last.memory.weights < out.memory.weights
    assert calc.last.memory.activations == out.memory.activations
    calc.set(zero_stage=1, ep=32)  # 8 experts per GPU: a middle stage is the busiest now
    assert dict(calc.last.buckets) == dict(tm.param_buckets(DS, pp=16, ep=32, etp=1))
    assert calc.last.buckets.expert > 2 * out.buckets.expert
    assert calc.last.memory.weights > out.memory.weights
    calc.set(ep=64, capacity_factor=1.5)
    assert calc.last.all_to_all == pytest.approx(1.5 * out.all_to_all)
    assert calc.last.memory.activations > out.memory.activations
    assert calc.last.memory.weights == out.memory.weights
    calc.set(capacity_factor=1.0, seq_len=8192)
    assert calc.last.kv_cache == pytest.approx(2 * out.kv_cache)
    assert calc.last.total_params == out.total_params


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"ep": 32})  # typed in the box
    assert calc.last.ep == 32
    check_change(calc, Step("deepseek_v3", click=True))
    assert not calc.last.deepseek_v3


def test_ep_follows_the_model(calc):
    assert calc.set(model="mixtral-8x7b")
    assert state(calc)["ep"] == (8, False)  # 64 does not divide 8 experts
    assert calc.last.ep == 8 and calc.last.ep_asked == 64
    assert "ep 64 asked: it does not divide 8 experts" in calc.result.value
    assert calc.set(model="llama-3-70b")
    assert state(calc)["ep"] == (1, True)  # dense: 1, greyed out
    assert calc.last.ep == 1 and calc.last.all_to_all == 0
    assert "a dense model has no experts" in calc.result.value
    assert calc.set(model="deepseek-v3")
    assert state(calc)["ep"] == (64, False)  # what was asked comes back
    assert "asked" not in calc.result.value
    calc.inputs["ep"].value = 32  # typed by hand: asked for from now on
    calc.inputs["model"].value = "qwen3-30b-a3b"
    assert calc.last.ep == 32 and calc.message.value == ""
    calc.inputs["model"].value = "deepseek-v3"
    assert calc.inputs["ep"].value == 32


def test_expert_parallel_for():
    mixtral, qwen = tm.MOE_MODELS["mixtral-8x7b"], tm.MOE_MODELS["qwen3-30b-a3b"]
    assert expert_parallel_for(DS, 64) == 64
    assert expert_parallel_for(DS, 48) == 32
    assert expert_parallel_for(mixtral, 6) == 4
    assert expert_parallel_for(qwen, 1000) == 128
    assert expert_parallel_for(tm.MODELS["gpt2"], 64) == 1
    assert expert_parallel_for(DS, 0) == 0  # no positive integer: the library says why


def test_deepseek_choices_apply_to_deepseek_v3_only(calc):
    assert takes_deepseek_v3_terms(DS)
    assert not any(takes_deepseek_v3_terms(tm.get_model(m))
                   for m in [*tm.MODELS, *tm.MOE_MODELS] if m != "deepseek-v3")
    assert state(calc)["deepseek_v3"] == (True, False)
    for model in ("mixtral-8x7b", "qwen3-235b-a22b", "llama-3-8b"):
        assert calc.set(model=model, pp=8, dp=64), calc.message.value
        assert state(calc)["deepseek_v3"] == (False, True)  # unticked, greyed out
        assert not calc.last.deepseek_v3
        assert "choices need its layers" in calc.result.value
    assert calc.set(model="deepseek-v3", pp=16, ep=64, dp=128)
    assert state(calc)["deepseek_v3"] == (True, False)  # ticked again
    calc.inputs["deepseek_v3"].value = False  # unticked by hand: stays so
    calc.inputs["model"].value = "mixtral-8x22b"
    calc.inputs["model"].value = "deepseek-v3"
    assert state(calc)["deepseek_v3"] == (False, False)


def test_capacity_factor_is_greyed_out_for_a_dense_model(calc):
    assert calc.set(model="llama-3-70b")
    assert state(calc)["capacity_factor"] == (1.0, True)
    assert calc.set(model="mixtral-8x7b")
    assert state(calc)["capacity_factor"] == (1.0, False)


def test_a_model_change_through_the_widget_updates_once(calc, monkeypatch):
    updates = []
    update = MoECalculator.update
    monkeypatch.setattr(MoECalculator, "update",
                        lambda self: updates.append(1) or update(self))
    calc.inputs["model"].value = "mixtral-8x7b"  # ep and the box follow: one update
    assert len(updates) == 1 and calc.last.ep == 8
    calc.inputs["model"].value = "llama-3-70b"
    assert len(updates) == 2 and calc.last.ep == 1


def test_dense_model_for_comparison(calc):
    assert calc.set(model="llama-3-70b", tp=8, pp=8, dp=32)
    out, cfg = calc.last, tm.MODELS["llama-3-70b"]
    assert out.active_params == out.total_params == tm.param_count(cfg)
    assert out.buckets.expert == 0 and out.all_to_all == 0
    assert out.kv_cache == 2 * 80 * 8 * 128 * 4096 * 2  # K and V of 8 KV heads, bf16
    text = calc.result.value
    assert "dense, 80 layers" in text and "(100% active)" in text
    assert "none: a dense model has no experts to reach" in text
    assert "EP" not in calc._title.get_text()


def test_no_all_to_all_without_expert_parallelism(calc):
    assert calc.set(ep=1)
    assert calc.last.all_to_all == 0
    assert "none: ep = 1 keeps every expert on every GPU" in calc.result.value


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"ep": 3}, "ep must divide n_experts (whole experts per GPU) (got ep=3, "
                    "n_experts=256)"),
        ({"ep": 256}, "ep * etp must divide dp * cp * tp"),
        ({"ep": 0}, "ep"),
        ({"dp": 0}, "dp"),
        ({"dp": 96}, "ep * etp must divide dp * cp * tp"),
        ({"seq_len": 0}, "seq_len"),
        ({"micro_batch": -1}, "micro_batch"),
        ({"tp": 3}, "tp"),
        ({"pp": 0}, "pp"),
        ({"pp": 100}, "pp"),
        ({"model": "mixtral-8x7b", "ep": 16}, "ep must divide n_experts"),
        ({"model": "llama-3-70b", "ep": 8}, "ep and etp apply to mixtures of experts"),
        ({"model": "mixtral-8x7b", "deepseek_v3": True},
         "term_bytes names 'q_latent_rstd', not a term of this model's layers"),
        ({"model": "llama-4"}, "unknown model"),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word):
    fix = {"ep": 32, "dp": 64, "seq_len": 8192, "micro_batch": 2, "tp": 2, "pp": 8,
           "model": "qwen3-30b-a3b", "deepseek_v3": False}
    check_refused(calc, change, word, fix={name: fix[name] for name in change})
    assert "Traceback" not in calc.message.value


def test_bad_value_typed_in_the_box_shows_message(calc):
    check_refused(PythonView(calc, by_hand=True), {"ep": 5}, "ep", {"ep": 16})
    assert calc.last.ep == 16


def test_recipe_keeps_the_contract(calc):
    check_recipe(calc, RECIPES["moe"])
    assert calc.last.cfg.name == "Mixtral 8x7B" and calc.last.ep == 4


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    patches = list(axes[0].patches)
    calc.set(model="llama-3-70b", accelerator="H100-SXM")
    calc.set(model="qwen3-235b-a22b", pp=8, ep=16, dp=64)
    assert calc.figure.axes == axes and list(axes[0].patches) == patches
    out = calc.last
    widths = [calc._bars[key].get_width() for key, _, _ in MEMORY_PARTS]
    expected = [out.memory.weights, out.memory.gradients, out.memory.optimizer,
                out.memory.activations]
    assert np.allclose(widths, np.asarray(expected, dtype=float) / 1e9)
    assert calc._limit.get_xdata()[0] == pytest.approx(out.capacity / 1e9)
    assert calc._limit_text.get_text().startswith("H100-SXM: 86 GB")
    assert "Qwen3-235B-A22B: TP1·PP8·DP64, EP16 = 512 GPUs" in calc._title.get_text()


def test_latent_attention_caches_71_times_less_than_every_head(calc):
    out = calc.last
    assert out.kv_decompressed == tm.kv_cache_bytes(DS, 4096, decompressed=True)
    assert "(71.1 ×)" in calc.result.value
    assert calc.set(model="mixtral-8x7b")
    assert calc.last.kv_decompressed is None and "latent" not in calc.result.value
