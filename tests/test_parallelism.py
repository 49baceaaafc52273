"""Tests of trainmath.parallelism: communication, pipeline bubbles and schedules, 4D layouts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

L405 = tm.MODELS["llama-3.1-405b"]


# --- collectives ---------------------------------------------------------------------------------


def test_ring_collectives():
    m = 1e9
    assert tm.collective_bytes("all-reduce", m, 1) == 0
    assert tm.collective_bytes("all-reduce", m, 2) == pytest.approx(m)
    assert tm.collective_bytes("all-reduce", m, 8) == pytest.approx(2 * 7 / 8 * m)
    assert tm.collective_bytes("all-gather", m, 8) == pytest.approx(7 / 8 * m)
    assert tm.collective_bytes("reduce-scatter", m, 8) == pytest.approx(7 / 8 * m)
    # all-reduce = reduce-scatter + all-gather
    n = np.array([2, 4, 64, 1024])
    assert np.allclose(
        tm.collective_bytes("all-reduce", m, n),
        tm.collective_bytes("reduce-scatter", m, n) + tm.collective_bytes("all-gather", m, n),
    )


@given(st.floats(1.0, 1e15), st.integers(1, 100_000))
def test_collectives_bounded_by_their_limit(m, n):
    ar = tm.collective_bytes("all-reduce", m, n)
    assert 0 <= ar < 2 * m * (1 + 1e-12)
    assert tm.collective_bytes("all-reduce", m, n + 1) >= ar


# --- data parallelism and ZeRO -------------------------------------------------------------------


def test_zero_communication_sec7():
    # Rajbhandari et al. 2019, Sec. 7: 2 Psi for DP and ZeRO-1/2, 3 Psi for ZeRO-3 (large N_d).
    psi = 7.5e9
    n = 1e9  # huge data-parallel group: (N-1)/N -> 1
    for stage in (0, 1, 2):
        assert tm.data_parallel_comm_bytes(psi, int(n), stage, grad_bytes=1, param_bytes=1) == \
            pytest.approx(2 * psi)
    assert tm.data_parallel_comm_bytes(psi, int(n), 3, grad_bytes=1, param_bytes=1) == \
        pytest.approx(3 * psi)
    # bf16 bytes, finite group: exact ring volumes
    assert tm.data_parallel_comm_bytes(psi, 64, 0) == pytest.approx(2 * 63 / 64 * psi * 2)
    assert tm.data_parallel_comm_bytes(psi, 1, 3) == 0


def test_zero3_gathers_weights_every_microbatch():
    psi, n = 1e9, 8
    share = 7 / 8 * psi * 2
    assert tm.data_parallel_comm_bytes(psi, n, 3, n_microbatches=4) == pytest.approx(9 * share)
    # stages 0-2 reduce once per step, whatever m is
    assert tm.data_parallel_comm_bytes(psi, n, 2, n_microbatches=4) == \
        tm.data_parallel_comm_bytes(psi, n, 2)
    # fp32 gradients double the gradient part only
    assert tm.data_parallel_comm_bytes(psi, n, 1, grad_bytes=4) == pytest.approx(3 * share)


@given(st.floats(1e6, 1e13), st.integers(2, 10_000))
def test_zero3_is_one_and_a_half_times_dp(psi, n):
    dp = tm.data_parallel_comm_bytes(psi, n, 0)
    assert tm.data_parallel_comm_bytes(psi, n, 1) == pytest.approx(dp)
    assert tm.data_parallel_comm_bytes(psi, n, 2) == pytest.approx(dp)
    assert tm.data_parallel_comm_bytes(psi, n, 3) == pytest.approx(1.5 * dp)


# --- tensor, context and pipeline traffic --------------------------------------------------------


def test_tensor_parallel_four_allreduces_per_layer():
    # Shoeybi et al. 2019, Fig. 4: 2 all-reduces forward + 2 backward per layer.
    s, b, h, t = 2048, 1, 12288, 8
    message = s * b * h * 2
    per_layer = 4 * 2 * (t - 1) / t * message
    assert tm.tensor_parallel_comm_bytes(s, b, h, t) == pytest.approx(per_layer)
    assert tm.tensor_parallel_comm_bytes(s, b, h, t, n_layers=96) == pytest.approx(96 * per_layer)
    assert tm.tensor_parallel_comm_bytes(s, b, h, t, recompute="full") == \
        pytest.approx(1.5 * per_layer)
    assert tm.tensor_parallel_comm_bytes(s, b, h, t, recompute="selective") == \
        pytest.approx(per_layer)
    assert tm.tensor_parallel_comm_bytes(s, b, h, 1) == 0


def test_context_parallel_gathers_keys_and_values():
    # Llama 3 405B at 128k: 8 KV heads of 128 -> 1024 wide, split 8 ways by TP.
    s, cp, kv = 131072, 16, L405.kv_dim / 8
    message = 2 * s * 1 * kv * 2
    got = tm.context_parallel_comm_bytes(s, 1, kv, cp)
    assert got == pytest.approx(2 * 15 / 16 * message)
    assert got == pytest.approx(2 * 15 / 16 * 2 * 131072 * 128 * 2)
    assert tm.context_parallel_comm_bytes(s, 1, kv, 1) == 0
    full = tm.context_parallel_comm_bytes(s, 1, kv, cp, recompute="full")
    assert full == pytest.approx(1.5 * got)


def test_pipeline_p2p():
    s, b, h = 8192, 1, 16384
    assert tm.pipeline_p2p_bytes(s, b, h, 32, pp=1) == 0
    one = tm.pipeline_p2p_bytes(s, b, h, 32, pp=16)
    assert one == pytest.approx(2 * 32 * s * h * 2)
    assert tm.pipeline_p2p_bytes(s, b, h, 32, pp=16, tp=8, interleave=4) == pytest.approx(one / 2)


# --- pipelines -----------------------------------------------------------------------------------


def test_pipeline_bubble():
    assert tm.pipeline_bubble_fraction(8, 32) == pytest.approx(7 / 32)
    assert tm.pipeline_bubble_fraction(8, 32, interleave=4) == pytest.approx(7 / 128)
    assert tm.pipeline_bubble_fraction(1, 1) == 0


@given(st.integers(1, 64), st.integers(1, 1024), st.integers(1, 8))
def test_bubble_decreases_with_microbatches_and_interleave(p, m, v):
    f = tm.pipeline_bubble_fraction(p, m, v)
    assert tm.pipeline_bubble_fraction(p, m + 1, v) <= f
    assert tm.pipeline_bubble_fraction(p, m, v + 1) <= f


def test_in_flight():
    assert tm.pipeline_in_flight(16, 32) == 16
    assert tm.pipeline_in_flight(16, 4) == 4
    # Korthikanti et al. 2022, Sec. 4.2.3: interleaving multiplies by (1 + (p-1)/(p v)).
    for v in (2, 4, 8):
        assert tm.pipeline_in_flight(16, 32, v) == pytest.approx(16 * (1 + 15 / (16 * v)))
    assert tm.pipeline_in_flight(1, 5, 4) == 1
    got = tm.pipeline_in_flight(np.array([4, 8]), 64, np.array([[1], [2]]))
    assert got.shape == (2, 2) and np.allclose(got, [[4, 8], [4 + 3 / 2, 8 + 7 / 2]])


@given(st.integers(1, 64), st.integers(1, 256), st.integers(2, 8))
def test_interleaving_never_holds_less(p, m, v):
    one = tm.pipeline_in_flight(p, m)
    many = tm.pipeline_in_flight(p, m, v)
    assert many >= one - 1e-12
    assert many <= max(m, p) * 2


@pytest.mark.parametrize("schedule", ["1f1b", "gpipe"])
@given(p=st.integers(1, 8), m=st.integers(1, 16))
def test_schedule_matches_bubble_formula(schedule, p, m):
    r = tm.pipeline_schedule(p, m, schedule=schedule)
    assert r["makespan"] == pytest.approx((m + p - 1) * 3.0)
    assert r["bubble_fraction"] == pytest.approx(tm.pipeline_bubble_fraction(p, m))
    assert len(r["start"]) == 2 * p * m
    for i in range(p):  # a stage runs one pass at a time
        mine = r["stage"] == i
        assert np.all(r["start"][mine][1:] >= r["end"][mine][:-1] - 1e-12)
    expected = np.minimum(p - np.arange(p), m) if schedule == "1f1b" else np.full(p, m)
    assert np.array_equal(r["peak_in_flight"], expected)


def test_schedule_respects_dependencies():
    r = tm.pipeline_schedule(4, 6, forward_time=1.0, backward_time=2.5)
    end = {(bool(f), int(i), int(j)): e for f, i, j, e in
           zip(r["forward"], r["stage"], r["microbatch"], r["end"], strict=True)}
    start = {(bool(f), int(i), int(j)): s for f, i, j, s in
             zip(r["forward"], r["stage"], r["microbatch"], r["start"], strict=True)}
    for j in range(6):
        for i in range(1, 4):
            assert start[(True, i, j)] >= end[(True, i - 1, j)]
        for i in range(3):
            assert start[(False, i, j)] >= end[(False, i + 1, j)]
        assert start[(False, 3, j)] >= end[(True, 3, j)]
    assert r["makespan"] == pytest.approx(9 * 3.5)


# --- 4D layouts: Llama 3 Table 4 -----------------------------------------------------------------


TABLE4 = [  # GPUs, TP, CP, PP, DP, seq, batch/DP (Llama 3 paper, Table 4)
    (8192, 8, 1, 16, 64, 8192, 32),
    (16384, 8, 1, 16, 128, 8192, 16),
    (16384, 8, 16, 16, 8, 131072, 16),
]


@pytest.mark.parametrize("gpus,tp,cp,pp,dp,seq,bs", TABLE4)
def test_llama3_table4(gpus, tp, cp, pp, dp, seq, bs):
    assert tm.layout_gpus(tp, cp, pp, dp) == gpus
    assert tm.batch_tokens(dp, bs, seq) == 16 * 2**20  # "16M" tokens per batch


def test_llama3_table4_misprint():
    # Some copies print DP = 4 in the last row: then the GPUs and the batch halve.
    assert tm.layout_gpus(8, 16, 16, 4) == 8192
    assert tm.batch_tokens(4, 16, 131072) == 8 * 2**20
    got = tm.layout_gpus(8, np.array([1, 16]), 16, np.array([64, 8]))
    assert np.array_equal(got, [8192, 16384])


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.pipeline_bubble_fraction(0, 8), "pp"),
        (lambda: tm.pipeline_bubble_fraction(4, 8, interleave=0), "interleave"),
        (lambda: tm.collective_bytes("broadcast", 1e6, 8), "op"),
        (lambda: tm.collective_bytes("all-reduce", -1.0, 8), "message_bytes"),
        (lambda: tm.collective_bytes("all-reduce", 1e6, 0), "n_ranks"),
        (lambda: tm.data_parallel_comm_bytes(1e9, 8, 4), "zero_stage"),
        (lambda: tm.data_parallel_comm_bytes(1e9, 0, 1), "dp"),
        (lambda: tm.data_parallel_comm_bytes(1e9, 8, 3, n_microbatches=0), "n_microbatches"),
        (lambda: tm.tensor_parallel_comm_bytes(2048, 1, 4096, 0), "tp"),
        (lambda: tm.tensor_parallel_comm_bytes(2048, 1, 4096, 8, recompute="most"), "recompute"),
        (lambda: tm.context_parallel_comm_bytes(2048, 1, -128, 2), "kv_dim"),
        (lambda: tm.pipeline_p2p_bytes(2048, 1, 4096, 8, pp=0), "pp"),
        (lambda: tm.pipeline_in_flight(4, 8, 0), "interleave"),
        (lambda: tm.pipeline_schedule(4, 8, schedule="zero-bubble"), "schedule"),
        (lambda: tm.pipeline_schedule(100, 8), "pp"),
        (lambda: tm.pipeline_schedule(4, 8, backward_time=0), "backward_time"),
        (lambda: tm.layout_gpus(8, 0, 16, 64), "cp"),
        (lambda: tm.batch_tokens(64, 32.5, 8192), "seqs_per_replica"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
