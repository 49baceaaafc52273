"""Tests of trainmath.optimizers: bytes per parameter by part, the published conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

# Published figures: ZeRO (Rajbhandari et al. 2019, Sec. 3.1), the Megatron-LM README's
# "Distributed Optimizer" table, the seeds' optimizer counts (12, 6 and 8 B/param) and the
# seed's 7B fp32 example (reference-figures Sec. 6 and 13).
DTYPES = ["fp32", "bf16", "fp16"]
OPTIMIZERS = sorted(tm.OPTIMIZER_STATES)


# --- bytes per parameter -------------------------------------------------------------------------


def test_optimizer_bytes_per_param():
    o = tm.OPTIMIZER_BYTES_PER_PARAM
    assert (o["adamw"], o["adamw-8bit"], o["sgd-momentum"]) == (12, 6, 8)
    assert o["adamw-no-master"] == 8 and o["sgd"] == 4 and o["adamw-bf16-moments"] == 8
    for name, parts in tm.OPTIMIZER_STATES.items():
        assert sum(parts.values()) == o[name]


def test_dtype_bytes_agree_with_formats():
    # every format of FORMATS, tf32 to e8m0, from its bits (tf32 travels in 4 bytes)
    for name, f in tm.FORMATS.items():
        assert tm.bytes_per_param(name) == f.bytes
    assert set(tm.FORMATS) | {"fp8", "fp6", "fp4"} == set(tm.DTYPE_BYTES)
    # the accelerators' family names: every peak's dtype has a width
    for acc in tm.ACCELERATORS.values():
        assert set(acc.peak_flops) <= set(tm.DTYPE_BYTES), acc.name
    assert [tm.bytes_per_param(k) for k in ("fp8", "fp6", "fp4")] == [1, 0.75, 0.5]
    assert [tm.bytes_per_param(k) for k in ("tf32", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1",
                                            "e8m0")] == [4, 0.75, 0.75, 0.5, 1]


def test_deepseek_v3_bf16_moments():
    # DeepSeek-V3 (arXiv:2412.19437), Sec. 3.3.3: AdamW's first and second moments in bf16;
    # the master weights and the gradients in fp32.
    states = tm.OPTIMIZER_STATES["adamw-bf16-moments"]
    assert dict(states) == {"master": 4, "momentum": 2, "variance": 2}
    assert tm.OPTIMIZER_BYTES_PER_PARAM["adamw-bf16-moments"] == 4 + 2 + 2 == 8
    assert states["momentum"] == tm.bytes_per_param("bf16")
    assert states["master"] == tm.bytes_per_param("fp32")
    b = tm.training_bytes_per_param(param_dtype="bf16", grad_dtype="fp32",
                                    optimizer="adamw-bf16-moments")
    assert b == {"weights": 2, "gradients": 4, "grad_buffer": 0, "master": 4, "momentum": 2,
                 "variance": 2, "total": 14}
    assert b["total"] == 2 + 4 + 8
    # two bytes less per parameter than fp32 moments would take, with the same gradients
    fp32_moments = tm.training_bytes_per_param(param_dtype="bf16", grad_dtype="fp32")
    assert fp32_moments["total"] - b["total"] == 4


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


# --- conventions ---------------------------------------------------------------------------------


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


# --- bad input -----------------------------------------------------------------------------------


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
        (lambda: tm.convention_memory(1e9, "16"), "convention"),
        (lambda: tm.convention_memory(-5, "zero-16"), "n_params"),
        (lambda: tm.model_memory(1e9, "fp64"), "dtype"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
