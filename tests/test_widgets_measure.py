"""Tests of trainmath.widgets.measure: MeasureCalculator (lesson 10; needs PyTorch)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import trainmath as tm  # noqa: E402
from trainmath import measure as M  # noqa: E402
from trainmath.widgets import measure as wm  # noqa: E402
from trainmath.widgets.contract import (  # noqa: E402
    PythonView,
    check_change,
    check_refused,
    check_registered,
)
from trainmath.widgets.measure import CUSTOM_GPT, CUSTOM_LLAMA, MeasureCalculator  # noqa: E402


@pytest.fixture(scope="module")
def calc() -> MeasureCalculator:
    return MeasureCalculator()


@pytest.fixture(autouse=True)
def _reset(calc):
    calc.set(model=CUSTOM_GPT, n_layers=4, d_model=256, n_heads=4, n_kv_heads=4, seq_len=256,
             batch=2, dropout=True)


def test_registered_and_created_with_no_arguments(calc):
    # The module's calculator has been changed by other tests: check a fresh one.
    check_registered(MeasureCalculator(), "measure")


def test_default_gpt_block_is_exact(calc):
    out = calc.last
    assert out.params_measured == out.params_predicted == tm.param_count(out.cfg)
    assert out.flops_measured == out.flops_predicted
    assert out.backward_over_forward == 2
    assert out.saved_measured == out.saved_korthikanti + out.saved_extras
    assert out.ratios[0] == out.ratios[1] == out.ratios[4] == 1.0
    assert "ratio 1.0000" in calc.result.value


def test_preset_llama_2_7b(calc):
    assert calc.set(model="llama-2-7b", seq_len=4096, batch=1)
    out = calc.last
    assert out.params_measured == 6_738_415_616  # reference-figures Sec. 4
    assert out.flops_measured == tm.flops_per_token(tm.MODELS["llama-2-7b"]) * 4096
    assert out.saved_measured > out.saved_korthikanti + out.saved_extras  # SwiGLU, RMSNorm, RoPE


@pytest.mark.parametrize(
    "change",
    [
        {"model": CUSTOM_LLAMA},
        {"model": "gpt2", "seq_len": 1024},
        {"n_layers": 6},
        {"d_model": 384, "n_heads": 6},
        {"n_heads": 8},
        {"model": CUSTOM_LLAMA, "n_kv_heads": 1},
        {"seq_len": 128},
        {"batch": 3},
        {"dropout": False},
    ],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"batch": 5})  # typed in the box
    assert calc.last.batch == 5


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"n_heads": 3}, "n_heads"),
        ({"d_model": 0}, "d_model"),
        ({"n_layers": -1}, "n_layers"),
        ({"seq_len": 0}, "seq_len"),
        ({"batch": 0}, "batch"),
        ({"model": CUSTOM_LLAMA, "n_kv_heads": 3}, "n_kv_heads"),
        ({"model": "gpt2", "seq_len": 2048}, "seq_len"),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word):
    fix = {"model": CUSTOM_GPT, "n_layers": 2, "d_model": 128, "n_heads": 2, "n_kv_heads": 2,
           "seq_len": 64, "batch": 1}
    check_refused(calc, change, word, fix)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"n_layers": 7, "batch": 1, "seq_len": 100},
        {"model": CUSTOM_LLAMA, "n_kv_heads": 2, "seq_len": 33, "batch": 3},
        {"model": CUSTOM_LLAMA, "n_layers": 2, "d_model": 128, "n_heads": 4, "n_kv_heads": 1,
         "seq_len": 1, "dropout": False},
        {"model": "gpt2", "seq_len": 1024, "batch": 1},
        {"model": "llama-2-7b", "seq_len": 4096, "batch": 2},
    ],
)
def test_fast_path_shows_what_measuring_the_whole_model_shows(calc, change):
    # The calculator counts FLOPs once per architecture and rescales, and counts parameters
    # from one block: the numbers must be those of measuring the model itself.
    assert calc.set(**change)
    out = calc.last
    cfg, b, s = out.cfg, out.batch, out.seq_len
    if cfg.n_layers <= 8:  # the whole model, block by block (0.03 s a block)
        model = M.build_model(cfg, device="meta", dtype="bf16")
        params, flops = M.count_params(model), M.measure_flops(model, b, s)
    else:  # tested equal to the whole model in test_measure.py
        params, flops = M.count_params(M.build_model(cfg, device="meta", dtype="bf16")), \
            M.measure_config_flops(cfg, b, s)
    block = M.build_model(cfg.replace(n_layers=1), device="meta", dtype="bf16",
                          dropout=0.1 if out.dropout else 0.0)
    assert out.params_measured == params
    assert out.flops_measured == flops.total
    assert out.backward_over_forward == flops.backward / flops.forward
    assert out.saved_measured == M.block_saved_activations(block, b, s).total


def test_depth_batch_and_seq_len_count_no_flops_again(calc):
    # Only a new architecture is counted; depth, batch and sequence length are rescaled.
    calc.set(model=CUSTOM_GPT, d_model=192, n_heads=3)
    misses = wm._flop_parts.cache_info().misses
    for change in ({"n_layers": 9}, {"batch": 7}, {"seq_len": 77}, {"seq_len": 4000},
                   {"n_kv_heads": 1}, {"dropout": False}):
        assert calc.set(**change)
    assert wm._flop_parts.cache_info().misses == misses
    calc.set(n_heads=6)
    assert wm._flop_parts.cache_info().misses == misses + 1
