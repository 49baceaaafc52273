"""Lesson 07: communication volumes, pipeline schedules, 4D layouts and the planner's model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

L405 = tm.MODELS["llama-3.1-405b"]
H100 = tm.ACCELERATORS["H100-SXM"]


# --- collectives -----------------------------------------------------------------------------


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


# --- data parallelism and ZeRO ----------------------------------------------------------------


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


def test_zero_table1_reproduced():
    # Rajbhandari et al. 2019, Table 1 / Fig. 1 (reference-figures Sec. 6): Psi = 7.5B,
    # N_d = 64: 120 GB baseline, 31.4, 16.6, 1.88 GB. The rest of the table follows the
    # closed forms 4 Psi + 12 Psi/N_d, 2 Psi + 14 Psi/N_d, 16 Psi/N_d.
    got = tm.zero_memory_per_gpu(7.5e9, 64, np.arange(4)) / 1e9
    assert np.allclose(got, [120, 31.4, 16.6, 1.88], rtol=1e-2)
    psi = np.array([[7.5e9], [128e9], [1e12]])
    nd = np.array([1, 4, 16, 64, 256, 1024])
    table = tm.zero_memory_per_gpu(psi, nd, np.array([1, 2, 3])[:, None, None])
    assert table.shape == (3, 3, 6)
    assert np.allclose(table[0], 4 * psi + 12 * psi / nd)
    assert np.allclose(table[1], 2 * psi + 14 * psi / nd)
    assert np.allclose(table[2], 16 * psi / nd)
    assert table[2, 2, -1] / 1e9 == pytest.approx(15.625)  # 1T on 1024 GPUs with P_os+g+p


# --- tensor, context and pipeline traffic -----------------------------------------------------


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


# --- pipelines --------------------------------------------------------------------------------


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


# --- 4D layouts: Llama 3 Table 4 ---------------------------------------------------------------

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


# --- the planner's step-time model -------------------------------------------------------------


def test_step_time_by_hand():
    # Llama 3 Table 4, row 1, checked against an independent computation of each term.
    cfg, s, tokens, m = L405, 8192, 16 * 2**20, 32
    t = tm.step_time(cfg, H100, n_gpus=8192, tokens_per_step=tokens, seq_len=s, tp=8, pp=16,
                     cp=1, dp=64, zero_stage=1, n_microbatches=m, recompute="selective",
                     interleave=2, efficiency=0.5, dp_overlap=False)
    flops = (tm.flops_per_token(cfg, s) + 4 * 126 * 16384 * s) * tokens
    compute = flops / (8192 * 989e12 * 0.5)
    tp_bytes = m * 8 * 4 * 2 * 7 / 8 * s * 16384 * 2  # 8 layers on a stage, 4 all-reduces
    tp_time = tp_bytes / 450e9  # NVLink, inside the node
    bubble = (compute + tp_time) * 15 / (2 * m)
    pp_time = 2 * 2 * m * s * 16384 * 2 / 8 / 50e9  # 2 chunks, both ways, across nodes
    shard = tm.params_per_gpu(cfg, tp=8, pp=16)
    dp_time = 2 * 63 / 64 * shard * 2 / 50e9
    assert t["compute_time"] == pytest.approx(compute)
    assert t["tp_comm_time"] == pytest.approx(tp_time)
    assert t["cp_comm_time"] == 0
    assert t["bubble_time"] == pytest.approx(bubble)
    assert t["pp_comm_time"] == pytest.approx(pp_time)
    assert t["dp_comm_time"] == pytest.approx(dp_time)
    total = compute + bubble + tp_time + pp_time + dp_time
    assert t["step_time"] == pytest.approx(total)
    model = tm.flops_per_token(cfg, s) * tokens
    assert t["mfu"] == pytest.approx(model / (8192 * 989e12 * total))


def test_overlap_hides_only_what_fits_behind_compute():
    kw = dict(n_gpus=64, tokens_per_step=2**22, seq_len=8192, tp=1, pp=1, cp=1, dp=64,
              n_microbatches=8, recompute="selective")
    cfg = tm.MODELS["llama-3-8b"]
    for stage in (0, 2, 3):
        raw = tm.step_time(cfg, H100, zero_stage=stage, dp_overlap=False, **kw)
        hidden = tm.step_time(cfg, H100, zero_stage=stage, **kw)
        assert 0 <= hidden["dp_comm_time"] <= raw["dp_comm_time"]
        assert hidden["step_time"] <= raw["step_time"]
    # stages 0-2 overlap with the last micro-batch's backward pass only
    raw = tm.step_time(cfg, H100, zero_stage=0, dp_overlap=False, **kw)
    hidden = tm.step_time(cfg, H100, zero_stage=0, **kw)
    window = raw["compute_time"] / 8 * (1 - tm.flops_per_token(cfg, 8192) / 3 / (
        tm.flops_per_token(cfg, 8192) + tm.recompute_flops_per_token(cfg, 8192, "selective")))
    assert hidden["dp_comm_time"] == pytest.approx(max(raw["dp_comm_time"] - window, 0))


def test_groups_inside_a_node_use_nvlink():
    cfg = tm.MODELS["llama-3-8b"]
    kw = dict(n_gpus=8, tokens_per_step=2**20, seq_len=8192, tp=1, pp=1, cp=1, dp=8,
              zero_stage=0, n_microbatches=16, recompute="none", dp_overlap=False)
    inside = tm.step_time(cfg, H100, **kw)
    across = tm.step_time(cfg, H100, gpus_per_node=4, **kw)
    assert across["dp_comm_time"] == pytest.approx(inside["dp_comm_time"] * 450e9 / 50e9)


# --- the planner --------------------------------------------------------------------------------


def test_planner_interleaving_rows_are_valid():
    layouts = tm.plan_layouts("llama-3-70b", "H100-SXM", 256, seq_len=8192,
                              global_batch_tokens=2**22)
    il = layouts["interleave"]
    assert set(np.unique(il)) == {1, 2, 4}
    many = il > 1
    assert np.all(layouts["pp"][many] > 1)
    assert np.all(layouts["n_microbatches"][many] >= layouts["pp"][many])
    assert np.all(layouts["pp"][many] * il[many] <= 80)
    # interleaving shrinks the bubble by v and costs activation memory
    rows = layouts.find(tp=8, pp=8, cp=1, dp=4, micro_batch=1, zero_stage=1,
                        recompute="selective", sequence_parallel=True)
    by_v = {int(layouts["interleave"][i]): i for i in rows}
    assert layouts["bubble_time"][by_v[2]] < layouts["bubble_time"][by_v[1]]
    assert layouts["activations"][by_v[2]] > layouts["activations"][by_v[1]]


def test_planner_columns_add_up():
    layouts = tm.plan_layouts("llama-3-8b", "H100-SXM", 64)
    comm = sum(layouts[k] for k in ("tp_comm_time", "cp_comm_time", "pp_comm_time",
                                    "dp_comm_time"))
    assert np.allclose(layouts["comm_time"], comm)
    assert np.allclose(layouts["step_time"],
                       layouts["compute_time"] + layouts["bubble_time"] + layouts["comm_time"])
    parts = sum(layouts[k] for k in ("weights", "gradients", "optimizer", "activations"))
    assert np.allclose(layouts["total"], parts)
    assert np.all(layouts["tp_comm_time"][layouts["tp"] == 1] == 0)
    assert np.all(layouts["cp_comm_time"][layouts["cp"] == 1] == 0)
    assert np.all(layouts["bubble_time"][layouts["pp"] == 1] == 0)


def test_planner_row_matches_memory_per_gpu():
    layouts = tm.plan_layouts("llama-3.1-405b", "H100-SXM", 8192, seq_len=8192,
                              global_batch_tokens=16 * 2**20)
    i = layouts.find(tp=8, cp=1, pp=16, dp=64, interleave=1, zero_stage=3, micro_batch=1,
                     recompute="selective", sequence_parallel=True)[0]
    m = tm.memory_per_gpu(L405, seq_len=8192, micro_batch=1, n_microbatches=32, zero_stage=3,
                          dp=64, tp=8, pp=16, sequence_parallel=True, recompute="selective")
    assert layouts["total"][i] == pytest.approx(m.total)
    assert layouts["fits"][i]


def test_distinct_layouts():
    layouts = tm.plan_layouts("llama-3-8b", "H100-SXM", 64)
    idx = layouts.distinct()
    assert idx[0] == 0 and np.all(np.diff(idx) > 0) and idx[-1] < layouts.n_fit
    shapes = {tuple(layouts[c][i].item() for c in tm.planner.SHAPE) for i in idx}
    assert len(shapes) == len(idx)
    everything = {tuple(layouts[c][i].item() for c in tm.planner.SHAPE)
                  for i in range(layouts.n_fit)}
    assert shapes == everything
    assert len(layouts.distinct(5)) == 5
    assert len(layouts.distinct(fitting=False)) >= len(idx)


def test_planner_needs_a_node_bandwidth_for_tpus():
    with pytest.raises(ValueError, match="node_bandwidth"):
        tm.plan_layouts("gpt2", "TPU v4", 8, global_batch_tokens=8 * 1024)
    layouts = tm.plan_layouts("gpt2", "TPU v4", 8, global_batch_tokens=8 * 1024,
                              node_bandwidth=100e9, dtype="bf16")
    assert layouts.n_fit > 0


def test_planner_when_nothing_fits():
    layouts = tm.plan_layouts("llama-3.1-405b", "H100-SXM", 8, seq_len=8192,
                              global_batch_tokens=8 * 8192)
    assert len(layouts) > 0 and layouts.n_fit == 0 and layouts.best() is None
    assert len(layouts.distinct()) == 0


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,words",
    [
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
        (lambda: tm.plan_layouts("llama-3-8b", "H100-SXM", 64, interleaves=(0,)), "interleaves"),
        (lambda: tm.plan_layouts("llama-3-8b", "H100-SXM", 64, dp_overlap="yes"), "dp_overlap"),
        (lambda: tm.plan_layouts("llama-3-8b", "H100-SXM", 64, gpus_per_node=0),
         "gpus_per_node"),
        (lambda: tm.plan_layouts("llama-3-8b", "H100-SXM", 64, node_bandwidth=-1),
         "node_bandwidth"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
