"""Lesson 05 functions of trainmath.optimizers: training state by part, ZeRO, conventions.

Published figures: ZeRO (Rajbhandari et al. 2019, Sec. 3.1 and Fig. 1), the Megatron-LM
README's "Distributed Optimizer" table, the seeds' optimizer counts (12, 6 and 8 B/param)
and the seed's 7B fp32 example (reference-figures Sec. 6 and 13).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainmath as tm

settings.register_profile("lesson05", max_examples=80, deadline=None)
settings.load_profile("lesson05")

DTYPES = ["fp32", "bf16", "fp16"]
OPTIMIZERS = sorted(tm.OPTIMIZER_STATES)


# --- bytes per parameter ----------------------------------------------------------------------


def test_mixed_precision_adamw_is_2_2_12():
    # Rajbhandari et al. 2019, Sec. 3.1: 2 + 2 + K with K = 12 (fp32 params, momentum, variance).
    b = tm.training_bytes_per_param()
    assert b == {"weights": 2, "gradients": 2, "grad_buffer": 0, "master": 4, "momentum": 4,
                 "variance": 4, "total": 16}
    assert set(tm.STATE_PARTS) | {"total"} == set(b)


@pytest.mark.parametrize(("optimizer", "states"), [("adamw", 12), ("adamw-8bit", 6),
                                                   ("sgd-momentum", 8)])
def test_seed_optimizer_counts_in_mixed_precision(optimizer, states):
    # Seed 000 / 001: AdamW 12, bitsandbytes 8-bit 6, SGD with momentum 8 B/param, each
    # counting the fp32 copy of the parameters.
    b = tm.training_bytes_per_param(optimizer=optimizer)
    assert b["master"] + b["momentum"] + b["variance"] == states
    assert b["total"] == 4 + states


def test_eight_bit_moments_alone_are_2_bytes():
    # Dettmers et al. 2022: block-wise 8-bit momentum and variance, 1 byte each.
    b = tm.training_bytes_per_param(optimizer="adamw-8bit", master=False)
    assert b["momentum"] + b["variance"] == 2
    assert b["master"] == 0


def test_gradients_default_to_the_weights_dtype():
    for dtype in DTYPES:
        b = tm.training_bytes_per_param(param_dtype=dtype)
        assert b["gradients"] == b["weights"] == tm.bytes_per_param(dtype)
    assert tm.training_bytes_per_param(param_dtype="bf16", grad_dtype="fp32")["gradients"] == 4


def test_pure_fp32_keeps_no_master_copy():
    # Megatron-LM README: fp32 param, fp32 grads = 16 B/param (weights 4, grads 4, moments 8).
    b = tm.training_bytes_per_param(param_dtype="fp32")
    assert (b["weights"], b["gradients"], b["master"], b["total"]) == (4, 4, 0, 16)
    # Forcing the redundant copy gives the seed's 20 B/param: 7B -> 140 GB (weights 28,
    # AdamW 84, gradients 28 GB).
    forced = tm.training_bytes_per_param(param_dtype="fp32", master=True)
    assert forced["total"] == 20
    seed = tm.training_state_breakdown(7e9, param_dtype="fp32", master=True)
    assert 7e9 * forced["total"] == seed["total"] == 140e9
    assert (seed.weights, seed.optimizer, seed.gradients) == (28e9, 84e9, 28e9)
    correct = tm.training_state_breakdown(7e9, param_dtype="fp32")
    assert correct["total"] == 112e9
    assert correct["weights"] == correct["gradients"] == 28e9
    assert correct["momentum"] + correct["variance"] == 56e9


def test_master_copy_rules():
    assert tm.training_bytes_per_param(param_dtype="fp16")["master"] == 4
    assert tm.training_bytes_per_param(master=False)["total"] == 12
    assert tm.training_bytes_per_param(optimizer="adamw-no-master")["total"] == 12
    assert tm.training_bytes_per_param(optimizer="sgd", param_dtype="fp32")["total"] == 8


@given(
    param=st.sampled_from(DTYPES),
    grad=st.sampled_from([None, *DTYPES]),
    optimizer=st.sampled_from(OPTIMIZERS),
    master=st.sampled_from([None, False]),
)
def test_total_is_the_sum_of_the_parts(param, grad, optimizer, master):
    b = tm.training_bytes_per_param(param_dtype=param, grad_dtype=grad, optimizer=optimizer,
                                    master=master)
    assert b["total"] == sum(b[p] for p in tm.STATE_PARTS)
    # The optimizer's own parts never exceed what OPTIMIZER_STATES lists.
    opt = b["master"] + b["momentum"] + b["variance"]
    assert opt <= tm.OPTIMIZER_BYTES_PER_PARAM[optimizer]
    if master is None and tm.bytes_per_param(param) < 4:
        assert opt == tm.OPTIMIZER_BYTES_PER_PARAM[optimizer]


# --- ZeRO ---------------------------------------------------------------------------------------


def test_zero_figure_1():
    # Rajbhandari et al. 2019, Fig. 1: Psi = 7.5B, N_d = 64 -> 120, 31.4, 16.6, 1.88 GB.
    out = tm.training_state_breakdown(7.5e9, zero_stage=np.arange(4), dp=64)
    assert np.allclose(out["total"], [120e9, 31.40625e9, 16.640625e9, 1.875e9], rtol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 8, 64, 1000])
def test_megatron_distributed_optimizer_table(d):
    # Megatron-LM README, "Distributed Optimizer": non-distributed 20 / 18 / 16 and
    # distributed 4 + 16/d, 6 + 12/d, 8 + 8/d bytes per parameter.
    rows = [
        (dict(param_dtype="fp16", grad_buffer=True), 20, 4 + 16 / d),
        (dict(param_dtype="bf16", grad_dtype="fp32"), 18, 6 + 12 / d),
        (dict(param_dtype="fp32"), 16, 8 + 8 / d),
    ]
    for kw, plain, distributed in rows:
        assert tm.training_state_breakdown(1, zero_stage=0, dp=d, **kw)["total"] == plain
        assert tm.training_state_breakdown(1, zero_stage=1, dp=d, **kw)["total"] == (
            pytest.approx(distributed, rel=1e-12)
        )


@given(
    n=st.floats(0, 1e12),
    dp=st.integers(1, 4096),
    stage=st.integers(0, 3),
    param=st.sampled_from(DTYPES),
    grad=st.sampled_from(DTYPES),
    optimizer=st.sampled_from(OPTIMIZERS),
)
def test_breakdown_agrees_with_zero_memory_per_gpu(n, dp, stage, param, grad, optimizer):
    kw = dict(param_dtype=param, grad_dtype=grad, optimizer=optimizer, master=None)
    b = tm.training_bytes_per_param(**kw)
    out = tm.training_state_breakdown(n, zero_stage=stage, dp=dp, **kw)
    ref = tm.zero_memory_per_gpu(
        n, dp, stage, param_bytes=b["weights"], grad_bytes=b["gradients"],
        optimizer_bytes=b["grad_buffer"] + b["master"] + b["momentum"] + b["variance"],
    )
    assert out["total"] == pytest.approx(ref, rel=1e-12, abs=1e-6)
    assert out["total"] == pytest.approx(sum(out[p] for p in tm.STATE_PARTS), rel=1e-12)


@pytest.mark.parametrize("name", ["gpt2", "llama-3-8b"])
def test_breakdown_agrees_with_memory_per_gpu(name):
    cfg = tm.MODELS[name]
    for stage in range(4):
        m = tm.memory_per_gpu(cfg, zero_stage=stage, dp=16)
        b = tm.training_state_breakdown(tm.param_count(cfg), zero_stage=stage, dp=16)
        assert b.parts() == pytest.approx({**m.parts(), "activations": 0.0})
        assert b.optimizer == pytest.approx(m.optimizer)


def test_stage_0_is_n_times_the_bytes_per_parameter():
    for opt in ["adamw", "adamw-8bit", "sgd-momentum", "lion"]:
        per_param = tm.training_bytes_per_param(optimizer=opt)
        new = tm.training_state_breakdown(1e9, optimizer=opt)
        assert new.total == 1e9 * per_param.total
        assert new.total == 1e9 * (4 + tm.OPTIMIZER_BYTES_PER_PARAM[opt])


def test_breakdown_broadcasts():
    out = tm.training_state_breakdown(np.array([1e9, 7e9])[:, None], zero_stage=[0, 1, 2, 3],
                                      dp=8)
    assert out["total"].shape == (2, 4)
    assert np.all(np.diff(out["total"], axis=1) < 0)  # each stage saves more
    assert isinstance(tm.training_state_breakdown(1e9)["total"], float)


# --- will it fit? -------------------------------------------------------------------------------


def test_llama3_70b_on_h100():
    # 16 x 70,553,706,496 / 80e9 = 14.1 -> 15 GPUs under ZeRO-3; stages 0-2 keep at least
    # the 2-byte weights (141 GB) on every GPU, more than 80 GB: no number of GPUs helps.
    n = tm.param_count(tm.MODELS["llama-3-70b"])
    mem = tm.ACCELERATORS["H100-SXM"].memory_bytes
    got = tm.min_gpus_to_fit(n, mem, zero_stage=np.arange(4))
    assert list(got[:3]) == [math.inf] * 3
    assert got[3] == 15


def test_exact_fits_do_not_round_up():
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=0) == 1      # 16 x 5e9 = 80e9 exactly
    assert tm.min_gpus_to_fit(10e9, 80e9, zero_stage=3) == 2
    assert tm.min_gpus_to_fit(1e9, 8e9, zero_stage=1) == 3       # 4 + 12/3 = 8 B/param
    assert tm.min_gpus_to_fit(0, 1e9) == 1


def test_usable_fraction_and_zero_stage_0():
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=0, usable_fraction=0.9) == math.inf
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=3, usable_fraction=0.5) == 2


@given(
    n=st.floats(1e6, 1e12),
    mem=st.floats(1e9, 2e11),
    stage=st.integers(0, 3),
    param=st.sampled_from(DTYPES),
    optimizer=st.sampled_from(OPTIMIZERS),
)
def test_min_gpus_is_the_smallest_that_fits(n, mem, stage, param, optimizer):
    kw = dict(zero_stage=stage, param_dtype=param, optimizer=optimizer)
    d = tm.min_gpus_to_fit(n, mem, **kw)
    per_gpu = lambda k: tm.training_state_breakdown(n, dp=k, **kw)["total"]  # noqa: E731
    if math.isinf(d):
        assert per_gpu(10**9) > mem * (1 - 1e-9)
        return
    assert d == int(d) >= 1
    assert per_gpu(int(d)) <= mem * (1 + 1e-9)
    if d > 1:
        assert per_gpu(int(d) - 1) > mem * (1 - 1e-9)
    if stage == 3:
        assert not math.isinf(d)


def test_min_gpus_broadcasts_over_models_and_accelerators():
    n = np.array([tm.param_count(tm.MODELS[k]) for k in ["gpt2-xl", "llama-2-7b", "llama-3-70b"]])
    mem = np.array([a.memory_bytes for a in tm.ACCELERATORS.values()])
    grid = tm.min_gpus_to_fit(n[:, None], mem[None, :], zero_stage=3)
    assert grid.shape == (3, len(mem))
    assert np.all(grid[0] == 1)  # GPT-2 XL: 24.9 GB fits every accelerator
    # More memory never needs more GPUs.
    order = np.argsort(mem)
    assert np.all(np.diff(grid[:, order], axis=1) <= 0)


# --- conventions --------------------------------------------------------------------------------


def test_conventions_side_by_side():
    # reference-figures Sec. 13: 12, 16, 18, 20, 10 (and pure fp32's 16).
    totals = {k: c.total for k, c in tm.BYTES_PER_PARAM_CONVENTIONS.items()}
    assert totals == {"adamw-states-12": 12, "zero-16": 16, "megatron-bf16-18": 18,
                      "megatron-fp16-20": 20, "fp32-16": 16, "no-master-10": 10}
    for key, conv in tm.BYTES_PER_PARAM_CONVENTIONS.items():
        assert str(int(conv.total)) in conv.name
        assert set(conv.counted) <= set(tm.STATE_PARTS)
        assert conv.source and conv.note, key
    # Only the 12 leaves out weights; the two 16s are made of different parts.
    c = tm.BYTES_PER_PARAM_CONVENTIONS
    assert c["zero-16"].parts["master"] == 4 and c["fp32-16"].parts["master"] == 0


def test_the_course_convention_is_the_library_default():
    c = tm.BYTES_PER_PARAM_CONVENTIONS["zero-16"]
    assert c.total == tm.training_bytes_per_param()["total"]
    assert tm.convention_memory(7.5e9, "zero-16") == 120e9 == tm.zero_memory_per_gpu(7.5e9, 1, 0)
    assert np.allclose(tm.convention_memory([1e9, 2e9], "megatron-fp16-20"), [20e9, 40e9])


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.training_bytes_per_param(optimizer="adam9"), "optimizer"),
        (lambda: tm.training_bytes_per_param(param_dtype="fp64"), "dtype"),
        (lambda: tm.training_bytes_per_param(grad_dtype="half"), "dtype"),
        (lambda: tm.training_bytes_per_param(master="yes"), "master"),
        (lambda: tm.training_bytes_per_param(optimizer="adamw-no-master", master=True), "master"),
        (lambda: tm.training_bytes_per_param(grad_dtype="fp32", grad_buffer=True), "grad_buffer"),
        (lambda: tm.training_bytes_per_param(grad_buffer=1), "grad_buffer"),
        (lambda: tm.training_state_breakdown(-1), "n_params"),
        (lambda: tm.training_state_breakdown(1e9, zero_stage=4), "zero_stage"),
        (lambda: tm.training_state_breakdown(1e9, zero_stage=1.5), "zero_stage"),
        (lambda: tm.training_state_breakdown(1e9, dp=0), "dp"),
        (lambda: tm.min_gpus_to_fit(1e9, 0), "memory_bytes"),
        (lambda: tm.min_gpus_to_fit(1e9, "80GB"), "memory_bytes"),
        (lambda: tm.min_gpus_to_fit(1e9, 80e9, usable_fraction=80), "usable_fraction"),
        (lambda: tm.min_gpus_to_fit(1e9, 80e9, zero_stage=-1), "zero_stage"),
        (lambda: tm.convention_memory(1e9, "16"), "convention"),
        (lambda: tm.convention_memory(-5, "zero-16"), "n_params"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
