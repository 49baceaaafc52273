"""Tests of trainmath.parallelism: communication, pipeline bubbles and schedules, 4D layouts."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

L405 = tm.MODELS["llama-3.1-405b"]


# --- collectives: the table of factors ----------------------------------------------------------


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


# nccl-tests doc/PERFORMANCE.md, "Summary", at n = 8; ring steps as NCCL's tuning.cc counts them
FACTORS_AT_8 = {"all-reduce": (14 / 8, 14), "all-gather": (7 / 8, 7),
                "reduce-scatter": (7 / 8, 7), "all-to-all": (7 / 8, 7), "broadcast": (1, 7),
                "p2p": (1, 1)}


@pytest.mark.parametrize("op", sorted(FACTORS_AT_8))
def test_factors_and_steps_by_hand(op):
    factor, steps = FACTORS_AT_8[op]
    c = tm.COLLECTIVES[op]
    assert c.bus_factor(8) == pytest.approx(factor)
    assert c.steps(8) == steps
    assert c.bus_factor(1) == 0 and c.steps(1) == 0  # alone: nothing to send
    assert tm.collective_bytes(op, 3e8, 8) == pytest.approx(factor * 3e8)
    # one table for bytes and time: alpha-beta with the same factor and steps
    assert tm.collective_time(op, 3e8, 8, 1e11, latency=2e-6) == \
        pytest.approx(steps * 2e-6 + factor * 3e8 / 1e11)


def test_collectives_table_is_read_only_and_complete():
    assert set(tm.COLLECTIVES) == {"all-reduce", "all-gather", "reduce-scatter", "all-to-all",
                                   "broadcast", "p2p"}
    with pytest.raises(TypeError):
        tm.COLLECTIVES["gather"] = tm.COLLECTIVES["all-gather"]
    with pytest.raises(ValueError, match="traffic"):
        tm.Collective(1, 0, 1, 0, traffic="mesh")
    # p2p: a chain of any length sends the message once per rank, with one latency
    assert tm.COLLECTIVES["p2p"].bus_factor(np.array([1, 2, 16])).tolist() == [0, 1, 1]


@given(st.floats(1.0, 1e15), st.integers(1, 100_000))
def test_collectives_bounded_by_their_limit(m, n):
    ar = tm.collective_bytes("all-reduce", m, n)
    assert 0 <= ar < 2 * m * (1 + 1e-12)
    assert tm.collective_bytes("all-reduce", m, n + 1) >= ar


@given(st.sampled_from(sorted(FACTORS_AT_8)), st.floats(1e3, 1e12), st.integers(2, 4096),
       st.floats(1e9, 1e12))
def test_busbw_undoes_the_bandwidth_term(op, m, n, bw):
    # without latency, the busbw nccl-tests would print is the bus bandwidth put in
    t = tm.collective_time(op, m, n, bw, latency=0)
    assert tm.nccl_busbw(op, m, n, t) == pytest.approx(bw)
    # latency only slows it down, more for small messages
    slow = tm.collective_time(op, m, n, bw)
    assert tm.nccl_busbw(op, m, n, slow) < bw
    assert tm.nccl_busbw(op, 10 * m, n, tm.collective_time(op, 10 * m, n, bw)) > \
        tm.nccl_busbw(op, m, n, slow)


# --- the alpha-beta model against measurements ---------------------------------------------------

MiB, GiB = 2**20, 2**30
# stas00/ml-engineering @744d01e, network/README.md, nccl-tests all_reduce_perf -g 8 on A100
A100_SWEEP = [  # size, time (us), busbw (GB/s)
    (32 * 2**10, 43.83, 1.31), (64 * 2**10, 46.80, 2.45), (128 * 2**10, 51.76, 4.43),
    (256 * 2**10, 61.38, 7.47), (512 * 2**10, 80.40, 11.41), (1 * MiB, 101.9, 18.00),
    (2 * MiB, 101.4, 36.18), (4 * MiB, 101.5, 72.33), (8 * MiB, 133.5, 109.93),
    (16 * MiB, 276.6, 106.16), (32 * MiB, 424.0, 138.49), (64 * MiB, 684.6, 171.54),
    (128 * MiB, 1327.6, 176.92), (256 * MiB, 2420.6, 194.07), (512 * MiB, 4218.4, 222.72),
    (1 * GiB, 8203.9, 229.04), (2 * GiB, 16240, 231.41), (4 * GiB, 32136, 233.88),
    (8 * GiB, 64074, 234.61), (16 * GiB, 127997, 234.89),
]
A100 = tm.BUS_BANDWIDTH["A100 NVLink3 (DGX A100)"]


def _model_busbw(size):
    t = tm.collective_time("all-reduce", size, 8, A100.bus_bandwidth)
    return tm.nccl_busbw("all-reduce", size, 8, t)


def test_sweep_rows_are_nccl_tests_busbw():
    # the table's busbw is the printed time through nccl-tests' formula (the data is consistent)
    for size, us, busbw in A100_SWEEP:
        assert tm.nccl_busbw("all-reduce", size, 8, us * 1e-6) / 1e9 == \
            pytest.approx(busbw, rel=0.01, abs=0.02)


@pytest.mark.parametrize(("size", "busbw", "low", "high"), [
    # the six sizes of the issue; the tolerance is what the model achieves, not a wish
    (8 * MiB, 109.93, -0.01, 0.01),
    (64 * MiB, 171.54, 0.0, 0.21),  # optimistic: NCCL's mid-size channels are not modelled
    (256 * MiB, 194.07, 0.0, 0.18),
    (1 * GiB, 229.04, -0.02, 0.02),
    (4 * GiB, 233.88, -0.01, 0.01),
    (16 * GiB, 234.89, -0.01, 0.01),
])
def test_alpha_beta_reproduces_the_a100_sweep(size, busbw, low, high):
    err = _model_busbw(size) / (busbw * 1e9) - 1
    assert low <= err <= high


def test_alpha_beta_on_the_whole_a100_sweep():
    errors = np.array([_model_busbw(size) / (busbw * 1e9) - 1 for size, _, busbw in A100_SWEEP])
    sizes = np.array([row[0] for row in A100_SWEEP])
    big = sizes >= 4 * MiB
    assert np.all(errors[big] >= -0.01)  # never pessimistic from 4 MiB up ...
    assert np.all(errors[big] <= 0.43)  # ... at worst 42 % optimistic (16 MiB, where it dips)
    assert np.all(np.abs(errors[sizes >= 512 * MiB]) <= 0.04)
    assert np.all(np.abs(errors[~big]) <= 0.40)  # small messages: other protocols


def test_nvlink_latency_is_fitted_to_the_sweep():
    # 8 MiB: measured time minus the bandwidth term, over 2(8 - 1) steps
    size, us = 8 * MiB, 133.5
    alpha = (us * 1e-6 - 1.75 * size / A100.bus_bandwidth) / 14
    assert alpha == pytest.approx(tm.NVLINK_LATENCY, rel=0.02)
    # NCCL's tuning model (Ring/Simple over NVLink): 8.4 us + 3.4 us per step
    assert (8.4e-6 + 14 * 3.4e-6) / 14 == pytest.approx(tm.NVLINK_LATENCY, rel=0.25)


def test_bus_bandwidth_does_not_depend_on_the_ranks():
    # 8x H200, 8 GiB, NVLS off: 363.3 GB/s on 4 GPUs, 365.6 on 8 (network/README.md, line 929):
    # the bus factor makes one bandwidth describe both
    t4 = tm.collective_time("all-reduce", 8 * GiB, 4, 365.6e9)
    assert tm.nccl_busbw("all-reduce", 8 * GiB, 4, t4) / 1e9 == pytest.approx(363.3, rel=0.01)


def test_bus_bandwidth_table():
    b = tm.BUS_BANDWIDTH
    assert b["A100 NVLink3 (DGX A100)"].bus_bandwidth == 234.89e9
    assert b["H100/H200 NVLink4"].bus_bandwidth == 367.61e9
    assert b["H100/H200 NVLink4 NVLS"].bus_bandwidth == 482.26e9
    assert b["H100/H200 NVLink4 all-gather"].bus_bandwidth == 361.4e9
    assert b["H100/H200 NVLink4 reduce-scatter"].bus_bandwidth == 362.9e9
    assert b["H200 4x8, EFA 8x400 Gb/s per node"].bus_bandwidth == 364.87e9
    assert b["B200 NVLink5 NVLS"].bus_bandwidth == 845.67e9
    assert b["B200 4x8, EFA v4 8x400 Gb/s per node"].bus_bandwidth == 381.8e9
    assert b["H800 NVLink (DeepSeek-V3)"].bus_bandwidth == 160e9
    assert round(b["A100 NVLink3 (DGX A100)"].fraction_of_spec, 2) == 0.78
    assert round(b["H100/H200 NVLink4"].fraction_of_spec, 2) == 0.82
    for name, row in b.items():
        assert row.collective in tm.COLLECTIVES, name
        assert "network/README.md" in row.source or "2412.19437" in row.source, name
        # only in-switch reduction beats the wire; rings reach 75-95 % of it
        if row.algorithm == "NVLS":
            assert row.fraction_of_spec > 0.9, name
        else:
            assert 0.75 <= row.fraction_of_spec <= 0.96, name
    assert b["H200 4x8, EFA 8x400 Gb/s per node"].nodes == 4
    with pytest.raises(TypeError):
        b["mine"] = b["H100/H200 NVLink4"]


# --- groups that span nodes ----------------------------------------------------------------------

H200_NODE = tm.BUS_BANDWIDTH["H100/H200 NVLink4"].bus_bandwidth
H200_EFA = tm.BUS_BANDWIDTH["H200 4x8, EFA 8x400 Gb/s per node"]
B200_NODE = tm.BUS_BANDWIDTH["B200 NVLink5"].bus_bandwidth
B200_EFA = tm.BUS_BANDWIDTH["B200 4x8, EFA v4 8x400 Gb/s per node"]
H200 = dict(intra_bandwidth=H200_NODE, inter_bandwidth=H200_EFA.per_gpu)


def _group_busbw(size, n, **kw):
    return tm.nccl_busbw("all-reduce", size, n, tm.group_collective_time("all-reduce", size, n,
                                                                         **kw))


@pytest.mark.parametrize("op", sorted(FACTORS_AT_8))
def test_group_inside_a_node_is_collective_time(op):
    for n, stride in ((8, 1), (4, 2), (2, 4)):
        got = tm.group_collective_time(op, 1e9, n, stride=stride, **H200)
        assert got == pytest.approx(tm.collective_time(op, 1e9, n, H200_NODE))


def test_inter_node_rule_against_the_efa_clusters():
    # each 4-node cluster from its own per-GPU network busbw
    assert _group_busbw(4 * GiB, 32, **H200) / H200_EFA.bus_bandwidth == pytest.approx(1, abs=0.02)
    b200 = dict(intra_bandwidth=B200_NODE, inter_bandwidth=B200_EFA.per_gpu)
    assert _group_busbw(16 * GiB, 32, **b200) / B200_EFA.bus_bandwidth == \
        pytest.approx(1, abs=0.01)
    # and each from the other's: same NICs (8 x 400 Gb/s), different NVLink
    cross = _group_busbw(4 * GiB, 32, intra_bandwidth=H200_NODE,
                         inter_bandwidth=B200_EFA.per_gpu)
    assert cross / H200_EFA.bus_bandwidth == pytest.approx(1, abs=0.02)  # NVLink-bound
    cross = _group_busbw(16 * GiB, 32, intra_bandwidth=B200_NODE,
                         inter_bandwidth=H200_EFA.per_gpu)
    assert cross / B200_EFA.bus_bandwidth == pytest.approx(1, abs=0.05)  # NIC-bound
    # the wire-rate bound (one 50 GB/s NIC per GPU): 91 % and 95 % of it measured
    for row in (H200_EFA, B200_EFA):
        assert 0.9 <= row.bus_bandwidth / (8 * 50e9) <= 0.96


def test_network_latency_against_the_b200_sweep():
    # stas00/ml-engineering network/README.md: all-reduce busbw on 4 x 8 B200 (EFA v4)
    sweep = [(8 * MiB, 35.12), (16 * MiB, 64.43), (32 * MiB, 91.19), (64 * MiB, 156.74),
             (128 * MiB, 197.94), (256 * MiB, 229.09), (512 * MiB, 326.90), (1 * GiB, 361.99),
             (2 * GiB, 372.42), (4 * GiB, 377.34), (8 * GiB, 380.39), (16 * GiB, 381.80)]
    b200 = dict(intra_bandwidth=B200_NODE, inter_bandwidth=B200_EFA.per_gpu)
    err = {size: _group_busbw(size, 32, **b200) / (busbw * 1e9) - 1 for size, busbw in sweep}
    assert abs(err[8 * MiB]) < 0.025 and abs(err[16 * MiB]) < 0.025
    assert all(abs(e) < 0.03 for size, e in err.items() if size >= 512 * MiB)
    assert all(-0.03 < e < 0.28 for e in err.values())  # 32-256 MiB: optimistic, as on one node


def test_ring_busbw_does_not_fall_with_the_nodes():
    nodes = np.array([2, 4, 16, 64, 256])
    # the bandwidth term: the node's NICs, whatever the number of nodes
    busbw = _group_busbw(16 * GiB, 8 * nodes, intra_latency=0, inter_latency=0, **H200)
    assert np.allclose(busbw, H200_EFA.bus_bandwidth)
    # the latency of 2(n - 1) ring steps does make it fall: at 2,048 ranks even 16 GiB loses
    # a fifth (where NCCL switches to trees, see group_collective_time's "where it fails")
    busbw = _group_busbw(16 * GiB, 8 * nodes, **H200)
    assert np.all(np.diff(busbw) < 0)
    assert busbw[1] / H200_EFA.bus_bandwidth == pytest.approx(1, abs=0.01)
    assert busbw[-1] / H200_EFA.bus_bandwidth < 0.8


def test_group_one_gpu_per_node_by_hand():
    # a data-parallel group with tp = 8: ranks 8 apart, each on its own node, one NIC each
    m, n = 1e9, 16
    t = tm.group_collective_time("reduce-scatter", m, n, stride=8, **H200)
    by_hand = 15 * tm.NETWORK_LATENCY + 15 / 16 * m / H200_EFA.per_gpu
    assert t == pytest.approx(by_hand)
    # two GPUs of the group per node (stride 4): twice the NICs, half the time per byte
    t2 = tm.group_collective_time("reduce-scatter", m, n, stride=4, **H200)
    by_hand = 8 * tm.NVLINK_LATENCY + 7 * tm.NETWORK_LATENCY + 15 / 16 * m / (2 * H200_EFA.per_gpu)
    assert t2 == pytest.approx(by_hand)


def test_ranks_per_node_instead_of_a_stride():
    n = np.array([2, 8, 16, 64])
    for stride, r in ((1, 8), (2, 4), (4, 2), (8, 1), (32, 1)):
        assert np.allclose(
            tm.group_collective_time("all-gather", 1e9, n, stride=stride, **H200),
            tm.group_collective_time("all-gather", 1e9, n, ranks_per_node=r, stride=999, **H200))
    # the dp x cp ranks of a tp 2, cp 2, pp 4 layout: 2 of them in each node of 8, 16 nodes;
    # 2(16 - 1) of the 2(32 - 1) ring steps cross nodes
    assert tm.group_collective_time("all-reduce", 1e9, 32, ranks_per_node=2, **H200) == \
        pytest.approx(32 * tm.NVLINK_LATENCY + 30 * tm.NETWORK_LATENCY
                      + 2 * 31 / 32 * 1e9 / (2 * H200_EFA.per_gpu))


def test_all_to_all_and_p2p_across_nodes_by_hand():
    m = 1e9
    # 16 ranks on 2 nodes: each rank sends the 8/16 of its buffer meant for the other node
    t = tm.group_collective_time("all-to-all", m, 16, **H200)
    by_hand = 14 * tm.NVLINK_LATENCY + 1 * tm.NETWORK_LATENCY + 8 / 16 * m / H200_EFA.per_gpu
    assert t == pytest.approx(by_hand)
    # pipeline stages 4 ranks apart: 16 stages span 8 nodes, one hop crosses the network
    t = tm.group_collective_time("p2p", m, 16, stride=4, **H200)
    assert t == pytest.approx(tm.NETWORK_LATENCY + m / H200_EFA.per_gpu)
    assert tm.group_collective_time("p2p", m, 2, stride=4, **H200) == \
        pytest.approx(tm.NVLINK_LATENCY + m / H200_NODE)


@given(st.sampled_from(sorted(FACTORS_AT_8)), st.floats(1e3, 1e11), st.integers(2, 512),
       st.sampled_from([1, 2, 4, 8, 16]))
def test_spanning_nodes_is_never_faster(op, m, n, stride):
    across = tm.group_collective_time(op, m, n, stride=stride, **H200)
    inside = tm.group_collective_time(op, m, n, gpus_per_node=n * stride, stride=stride, **H200)
    assert across >= inside * (1 - 1e-12)


def test_group_time_is_vectorised():
    rng = np.random.default_rng(0)
    n = 2 ** rng.integers(0, 11, size=10_000)
    stride = 2 ** rng.integers(0, 5, size=10_000)
    m = rng.uniform(1e6, 1e10, size=10_000)
    got = tm.group_collective_time("all-reduce", m, n, stride=stride, **H200)
    assert got.shape == (10_000,)
    for i in (0, 1, 17, 4242, 9999):
        assert got[i] == pytest.approx(tm.group_collective_time(
            "all-reduce", m[i], int(n[i]), stride=int(stride[i]), **H200))
    grid = tm.group_collective_time("all-gather", np.array([[1e8], [1e9]]), np.array([8, 64]),
                                    **H200)
    assert grid.shape == (2, 2) and grid[1, 1] > grid[0, 1] > grid[0, 0]
    start = time.perf_counter()
    for _ in range(10):
        tm.group_collective_time("all-reduce", m, n, stride=stride, **H200)
    assert (time.perf_counter() - start) / 10 < 0.1  # the planner evaluates ~1e4 layouts at once


# --- data parallelism and ZeRO -------------------------------------------------------------------


def test_zero_communication_sec7():
    # Rajbhandari et al. 2019, Sec. 7: 2 Psi for DP and ZeRO-1/2, 3 Psi for ZeRO-3 (large N_d),
    # with one micro-batch per step (ZeRO counts no gradient accumulation).
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


@pytest.mark.parametrize(("stage", "reshard", "calls"), [
    # (all-reduce, reduce-scatter, all-gather) per step with m = 4 micro-batches
    (0, True, (1, 0, 0)),  # DDP with no_sync: one all-reduce of the accumulated gradients
    (1, True, (0, 1, 1)),  # Megatron's distributed optimizer
    (2, True, (0, 4, 1)),  # sharded gradients: reduce-scatter after every backward
    (3, True, (0, 4, 8)),  # FSDP: gather before every forward and every backward
    (3, False, (0, 4, 4)),  # Llama 3: gather once per micro-batch, keep through backward
    (1, False, (0, 1, 1)),  # the option changes stage 3 only
])
def test_zero_traffic_with_microbatches_by_hand(stage, reshard, calls):
    psi, n, m = 1e9, 8, 4
    got = tm.data_parallel_collectives(psi, stage, n_microbatches=m, grad_bytes=4,
                                       reshard_after_forward=reshard)
    assert (got["all-reduce"][0], got["reduce-scatter"][0], got["all-gather"][0]) == calls
    assert got["all-reduce"][1] == got["reduce-scatter"][1] == 4e9  # fp32 gradients
    assert got["all-gather"][1] == 2e9  # bf16 weights
    ar, rs, ag = calls
    by_hand = ar * 2 * 7 / 8 * 4e9 + rs * 7 / 8 * 4e9 + ag * 7 / 8 * 2e9
    assert tm.data_parallel_comm_bytes(psi, n, stage, n_microbatches=m, grad_bytes=4,
                                       reshard_after_forward=reshard) == pytest.approx(by_hand)


def test_zero_traffic_follows_the_memory_model():
    # parallelism restates memory's rule (memory imports parallelism): they must agree
    for part, stage in tm.parallelism._SHARDED_FROM.items():
        assert tm.ZERO_PARTITIONED_FROM[part] == stage
    # what the memory model shards decides what is reduced per micro-batch
    m = 6
    for stage in range(4):
        got = tm.data_parallel_collectives(1e9, stage, n_microbatches=m)
        grads_sharded = tm.zero_partitions("gradients", stage, 8) > 1
        weights_sharded = tm.zero_partitions("weights", stage, 8) > 1
        assert (got["reduce-scatter"][0] == m) == grads_sharded
        assert (got["all-gather"][0] == 2 * m) == weights_sharded
        assert (got["all-reduce"][0] == 1) == (tm.zero_partitions("optimizer", stage, 8) == 1)


def test_zero_stage_share_by_hand():
    psi, n = 1e9, 8
    share = 7 / 8 * psi * 2  # bf16 bytes of (N-1)/N Psi
    m = np.array([1, 4])
    assert np.allclose(tm.data_parallel_comm_bytes(psi, n, 2, n_microbatches=m),
                       [2 * share, 5 * share])
    assert np.allclose(tm.data_parallel_comm_bytes(psi, n, 3, n_microbatches=m),
                       [3 * share, 12 * share])
    assert tm.data_parallel_comm_bytes(psi, n, 3, n_microbatches=4,
                                       reshard_after_forward=False) == pytest.approx(8 * share)
    # stages 0 and 1 reduce once per step, whatever m is
    for stage in (0, 1):
        assert tm.data_parallel_comm_bytes(psi, n, stage, n_microbatches=4) == \
            pytest.approx(2 * share)
    # fp32 gradients double the gradient part only
    assert tm.data_parallel_comm_bytes(psi, n, 1, grad_bytes=4) == pytest.approx(3 * share)


def test_zero_traffic_is_vectorised():
    stage = np.arange(4)[:, None]
    m = np.array([1, 2, 8])[None, :]
    got = tm.data_parallel_comm_bytes(np.full((4, 3), 1e9), 16, stage, n_microbatches=m)
    assert got.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            assert got[i, j] == pytest.approx(tm.data_parallel_comm_bytes(
                1e9, 16, i, n_microbatches=int(m[0, j])))


@given(st.floats(1e6, 1e13), st.integers(2, 10_000), st.integers(1, 64))
def test_zero_stages_order(psi, n, m):
    dp = tm.data_parallel_comm_bytes(psi, n, 0, n_microbatches=m)
    assert tm.data_parallel_comm_bytes(psi, n, 1, n_microbatches=m) == pytest.approx(dp)
    z2 = tm.data_parallel_comm_bytes(psi, n, 2, n_microbatches=m)
    z3 = tm.data_parallel_comm_bytes(psi, n, 3, n_microbatches=m)
    keep = tm.data_parallel_comm_bytes(psi, n, 3, n_microbatches=m, reshard_after_forward=False)
    assert z2 == pytest.approx((m + 1) / 2 * dp)
    assert z3 == pytest.approx(1.5 * m * dp)  # ZeRO-3 / FSDP: 1.5 x DP per micro-batch
    assert dp <= z2 * (1 + 1e-12) and keep <= z3 and z2 <= keep * (1 + 1e-12)


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
        (lambda: tm.collective_bytes("gather", 1e6, 8), "op"),
        (lambda: tm.collective_bytes(3, 1e6, 8), "op"),
        (lambda: tm.collective_time("all-reduce", 1e6, 8, 0), "bus_bandwidth"),
        (lambda: tm.collective_time("all-reduce", 1e6, 8, 1e11, latency=-1e-6), "latency"),
        (lambda: tm.collective_time("all-reduce", "1e6", 8, 1e11), "message_bytes"),
        (lambda: tm.collective_time("all-to-all", 1e6, 2.5, 1e11), "n_ranks"),
        (lambda: tm.nccl_busbw("all-reduce", 1e6, 8, 0.0), "seconds"),
        (lambda: tm.group_collective_time("all-reduce", 1e6, 8, intra_bandwidth=3e11,
                                          inter_bandwidth=-1.0), "inter_bandwidth"),
        (lambda: tm.group_collective_time("all-reduce", 1e6, 8, intra_bandwidth=3e11,
                                          inter_bandwidth=5e10, stride=0), "stride"),
        (lambda: tm.group_collective_time("all-reduce", 1e6, 8, intra_bandwidth=3e11,
                                          inter_bandwidth=5e10, gpus_per_node=0),
         "gpus_per_node"),
        (lambda: tm.group_collective_time("scatter", 1e6, 8, intra_bandwidth=3e11,
                                          inter_bandwidth=5e10), "op"),
        (lambda: tm.group_collective_time("all-reduce", 1e6, 8, intra_bandwidth=3e11,
                                          inter_bandwidth=5e10, ranks_per_node=0),
         "ranks_per_node"),
        (lambda: tm.data_parallel_collectives(1e9, 5), "zero_stage"),
        (lambda: tm.data_parallel_comm_bytes(1e9, 8, 3, reshard_after_forward="no"),
         "reshard_after_forward"),
        (lambda: tm.data_parallel_collectives(1e9, 3, reshard_after_forward=0),
         "reshard_after_forward"),
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
