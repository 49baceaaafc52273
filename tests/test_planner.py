"""Tests of trainmath.planner: the step-time model and the search over 4D layouts."""

from __future__ import annotations

import numpy as np
import pytest

import trainmath as tm

L405 = tm.MODELS["llama-3.1-405b"]
H100 = tm.ACCELERATORS["H100-SXM"]


# --- the step-time model -------------------------------------------------------------------------


KW_405 = dict(n_gpus=8192, tokens_per_step=16 * 2**20, seq_len=8192, tp=8, pp=16, cp=1, dp=64,
              zero_stage=1, n_microbatches=32, recompute="selective", interleave=2,
              sequence_parallel=True)


def test_step_time_is_the_sum_of_its_parts():
    t = tm.step_time(L405, H100, **KW_405)
    comm = sum(t[k] for k in ("tp_comm_time", "cp_comm_time", "pp_comm_time", "dp_comm_time"))
    assert t["comm_time"] == pytest.approx(comm)
    assert t["step_time"] == pytest.approx(
        t["compute_time"] + t["bubble_time"] + t["comm_time"] + t["optimizer_time"])
    model = tm.flops_per_token(L405, 8192) * 16 * 2**20
    assert t["mfu"] == pytest.approx(model / (8192 * 989e12 * t["step_time"]))


def test_step_time_compute_bubble_and_tensor_parallel_by_hand():
    # Llama 3 Table 4, row 1: 8 layers on the busiest stage (ceil(126 / 16)) and the output layer
    t = tm.step_time(L405, H100, **KW_405)
    layer = tm.layer_time(L405, 8192, 1, H100, tp=8, sequence_parallel=True,
                          recompute="selective").total
    head = tm.lm_head_time(L405, 8192, H100, tp=8)
    assert t["compute_time"] == pytest.approx(32 * (8 * layer + head))
    # four all-reduces (or reduce-scatter + all-gather pairs) of the micro-batch per layer,
    # inside the node at the measured NVLink bus bandwidth
    one = tm.collective_time("all-reduce", 8192 * 16384 * 2, 8, tm.NODE_BUS_BANDWIDTH["H100-SXM"])
    assert t["tp_comm_time"] == pytest.approx(32 * 8 * 4 * one)
    t_mb = 8 * (layer + 4 * one) + head
    assert t["bubble_time"] == pytest.approx(15 / 2 * t_mb)
    # point-to-point: 2 chunks x 32 micro-batches, both ways, a scattered activation each
    sends = tm.group_collective_time(
        "p2p", 8192 * 16384 * 2 / 8, 2, stride=8, intra_bandwidth=tm.NODE_BUS_BANDWIDTH["H100-SXM"],
        inter_bandwidth=tm.NETWORK_BUS_BANDWIDTH)
    assert t["pp_comm_time"] == pytest.approx(2 * 2 * 32 * sends)


def test_full_recomputation_adds_a_forward_and_two_all_reduces():
    kw = dict(KW_405, recompute="full")
    full, sel = tm.step_time(L405, H100, **kw), tm.step_time(L405, H100, **KW_405)
    assert full["tp_comm_time"] == pytest.approx(sel["tp_comm_time"] * 6 / 4)
    assert full["compute_time"] > sel["compute_time"] * 1.2


def test_efficiency_defaults_to_the_measured_large_gemm_rate():
    measured = tm.step_time(L405, H100, **KW_405)
    same = tm.step_time(L405, H100, efficiency=tm.matmul_efficiency("H100-SXM"), **KW_405)
    assert same["step_time"] == pytest.approx(measured["step_time"])
    slower = tm.step_time(L405, H100, efficiency=0.5, **KW_405)
    assert slower["compute_time"] > measured["compute_time"]
    with pytest.raises(ValueError, match="no measured matmul efficiency for the V100"):
        tm.step_time(tm.MODELS["gpt2"], tm.ACCELERATORS["V100"], n_gpus=8,
                     tokens_per_step=8 * 1024, seq_len=1024, tp=1, pp=1, cp=1, dp=8,
                     zero_stage=0, n_microbatches=1, recompute="none", dtype="fp16",
                     node_bandwidth=100e9)


def test_overlap_hides_only_what_fits_behind_compute():
    kw = dict(n_gpus=64, tokens_per_step=2**22, seq_len=8192, tp=1, pp=1, cp=1, dp=64,
              n_microbatches=8, recompute="selective")
    cfg = tm.MODELS["llama-3-8b"]
    for stage in (0, 1, 2, 3):
        raw = tm.step_time(cfg, H100, zero_stage=stage, dp_overlap=False, **kw)
        hidden = tm.step_time(cfg, H100, zero_stage=stage, **kw)
        assert 0 <= hidden["dp_comm_time"] <= raw["dp_comm_time"]
        assert hidden["step_time"] <= raw["step_time"]
    # stages 0 and 1 reduce once per step, during the last micro-batch's backward pass only
    raw = tm.step_time(cfg, H100, zero_stage=0, dp_overlap=False, **kw)
    hidden = tm.step_time(cfg, H100, zero_stage=0, **kw)
    window = 2 / 3 * raw["compute_time"] / 8
    assert hidden["dp_comm_time"] == pytest.approx(max(raw["dp_comm_time"] - window, 0))


def test_zero_traffic_follows_the_memory_model():
    # with m micro-batches, stage 2 reduce-scatters every micro-batch: more traffic than 1
    kw = dict(n_gpus=64, tokens_per_step=2**22, seq_len=8192, tp=1, pp=1, cp=1, dp=64,
              n_microbatches=8, recompute="selective", dp_overlap=False)
    cfg = tm.MODELS["llama-3-8b"]
    one, two, three = (tm.step_time(cfg, H100, zero_stage=z, **kw)["dp_comm_time"]
                       for z in (1, 2, 3))
    keep = tm.step_time(cfg, H100, zero_stage=3, reshard_after_forward=False, **kw)
    assert one < two < three
    assert two < keep["dp_comm_time"] < three  # Llama 3's mode: one gather per micro-batch
    assert tm.step_time(cfg, H100, zero_stage=0, **kw)["dp_comm_time"] == pytest.approx(one)


def test_groups_inside_a_node_use_nvlink():
    cfg = tm.MODELS["llama-3-8b"]
    kw = dict(n_gpus=8, tokens_per_step=2**20, seq_len=8192, tp=1, pp=1, cp=1, dp=8,
              zero_stage=0, n_microbatches=16, recompute="none", dp_overlap=False)
    inside = tm.step_time(cfg, H100, **kw)
    across = tm.step_time(cfg, H100, gpus_per_node=4, **kw)
    assert across["dp_comm_time"] > inside["dp_comm_time"]
    shard = tm.params_per_gpu(cfg)  # reduced layer by layer: 32 collectives
    one = tm.collective_time("all-reduce", shard * 2 / 32, 8, tm.NODE_BUS_BANDWIDTH["H100-SXM"])
    assert inside["dp_comm_time"] == pytest.approx(32 * one)


# --- the planner ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gpus,tp,cp,pp,dp,seq",
    [(8192, 8, 1, 16, 64, 8192), (16384, 8, 1, 16, 128, 8192), (16384, 8, 16, 16, 8, 131072)],
)
def test_llama3_table4_layouts_fit_on_h100(gpus, tp, cp, pp, dp, seq):
    # Llama 3 paper, Table 4: 16M tokens per batch on H100-80GB.
    assert tp * cp * pp * dp == gpus
    layouts = tm.plan_layouts("llama-3.1-405b", "H100-SXM", gpus, seq_len=seq,
                              global_batch_tokens=16 * 2**20)
    rows = layouts.find(tp=tp, cp=cp, pp=pp, dp=dp)
    assert len(rows) and layouts["fits"][rows].any()
    assert layouts.best() is not None and layouts.best()["fits"]


def test_planner_orders_and_counts():
    layouts = tm.plan_layouts("llama-3-8b", "H100-SXM", 64, global_batch_tokens=2**22)
    fits = layouts["fits"]
    assert fits[: layouts.n_fit].all() and not fits[layouts.n_fit:].any()
    t = layouts["step_time"][: layouts.n_fit]
    assert np.all(np.diff(t) >= 0)
    prod = layouts["tp"] * layouts["pp"] * layouts["cp"] * layouts["dp"]
    assert np.all(prod == 64)
    tokens = layouts["dp"] * layouts["micro_batch"] * layouts["n_microbatches"] * 8192
    assert np.all(tokens == 2**22)
    assert np.all(layouts["total"][fits] <= tm.ACCELERATORS["H100-SXM"].memory_bytes)
    assert not np.any(layouts["total"][~fits] <= layouts.memory_limit)


def test_planner_interleaving_rows_are_valid():
    layouts = tm.plan_layouts("llama-3-70b", "H100-SXM", 256, seq_len=8192,
                              global_batch_tokens=2**22)
    il = layouts["interleave"]
    assert set(np.unique(il)) == {1, 2, 3, 4, 6, 8}
    many = il > 1
    assert np.all(layouts["pp"][many] > 1)
    assert np.all(layouts["n_microbatches"][many] >= layouts["pp"][many])
    # the embedding and the output layer may fill a chunk each: 80 layers + 2
    assert np.all(layouts["pp"][many] * il[many] <= 82)
    # interleaving shrinks the bubble by v and costs activation memory
    rows = layouts.find(tp=8, pp=8, cp=1, dp=4, micro_batch=1, zero_stage=1,
                        recompute="selective", sequence_parallel=True)
    by_v = {int(layouts["interleave"][i]): i for i in rows}
    assert layouts["bubble_time"][by_v[2]] < layouts["bubble_time"][by_v[1]]
    assert layouts["activations"][by_v[2]] > layouts["activations"][by_v[1]]


def test_fastest_is_the_first_fitting_row_of_a_selection():
    layouts = tm.plan_layouts("llama-3-8b", "H100-SXM", 64)
    i = layouts.fastest(tp=2)
    assert layouts["tp"][i] == 2 and layouts["fits"][i]
    assert not np.any(layouts["tp"][:i] == 2)
    assert layouts.fastest(tp=3) is None
    tiny = tm.plan_layouts("llama-3.1-405b", "H100-SXM", 8, global_batch_tokens=8 * 8192)
    assert tiny.n_fit == 0 and tiny.fastest(tp=8) is None


def test_planner_tries_every_pipeline_size_that_divides_the_gpus():
    # Megatron-LM's 530B ran 35 stages of 3 layers (Narayanan et al. 2021, Table 1)
    layouts = tm.plan_layouts("llama-3-8b", "H100-SXM", 24, global_batch_tokens=24 * 8192,
                              micro_batches=(1,))
    assert set(np.unique(layouts["pp"])) == {1, 2, 3, 4, 6, 8, 12, 24}
    assert set(np.unique(layouts["tp"])) == {1, 2, 4, 8}  # powers of two dividing 8 KV heads
    assert np.all(layouts["tp"] * layouts["pp"] * layouts["cp"] * layouts["dp"] == 24)


def test_llama3_interleaves_single_layer_chunks():
    # 126 layers over 16 stages x 8 chunks: the first chunk holds only the embedding, the
    # last only the output layer (Llama 3 paper, Sec. 3.3.2)
    layouts = tm.plan_layouts("llama-3.1-405b", "H100-SXM", 8192, seq_len=8192,
                              global_batch_tokens=2**24)
    rows = layouts.find(tp=8, cp=1, pp=16, dp=64, interleave=8, recompute="none")
    assert len(rows) and layouts["fits"][rows].any()


def test_planner_columns_add_up():
    layouts = tm.plan_layouts("llama-3-8b", "H100-SXM", 64)
    comm = sum(layouts[k] for k in ("tp_comm_time", "cp_comm_time", "pp_comm_time",
                                    "dp_comm_time"))
    assert np.allclose(layouts["comm_time"], comm)
    assert np.allclose(layouts["step_time"],
                       layouts["compute_time"] + layouts["bubble_time"] + layouts["comm_time"]
                       + layouts["optimizer_time"])
    parts = sum(layouts[k] for k in ("weights", "gradients", "optimizer", "gathered_weights",
                                     "activations", "logits"))
    assert np.allclose(layouts["total"], parts)
    assert np.all(layouts["tp_comm_time"][layouts["tp"] == 1] == 0)
    assert np.all(layouts["cp_comm_time"][layouts["cp"] == 1] == 0)
    assert np.all(layouts["bubble_time"][layouts["pp"] == 1] == 0)


def test_planner_row_matches_memory_per_gpu():
    layouts = tm.plan_layouts("llama-3.1-405b", "H100-SXM", 8192, seq_len=8192,
                              global_batch_tokens=16 * 2**20)
    i = layouts.find(tp=8, cp=1, pp=16, dp=64, interleave=1, zero_stage=3, micro_batch=1,
                     recompute="full", sequence_parallel=True, reshard_after_forward=True)[0]
    m = tm.memory_per_gpu(L405, seq_len=8192, micro_batch=1, n_microbatches=32, zero_stage=3,
                          dp=64, tp=8, pp=16, sequence_parallel=True, recompute="full",
                          layer="modern", logits=True, gathered_layers=2)
    assert layouts["total"][i] == pytest.approx(m.total)
    assert layouts["fits"][i]


def test_planner_columns_are_memory_per_gpu():
    lay = tm.plan_layouts("llama-3-8b", "H100-SXM", 64, interleaves=(1, 2))
    cfg = tm.MODELS["llama-3-8b"]
    for i in [0, 1, len(lay) // 2, len(lay) - 1, *np.flatnonzero(lay["interleave"] > 1)[:3]]:
        r = lay.row(int(i))
        reshard = bool(r["reshard_after_forward"])
        m = tm.memory_per_gpu(
            cfg, micro_batch=r["micro_batch"], n_microbatches=r["n_microbatches"],
            interleave=r["interleave"], zero_stage=r["zero_stage"], dp=r["dp"], tp=r["tp"],
            pp=r["pp"], cp=r["cp"], sequence_parallel=bool(r["sequence_parallel"]),
            recompute=r["recompute"], layer=None, logits=True, reshard_after_forward=reshard,
            gathered_layers=2 if r["zero_stage"] == 3 and reshard else 0,
        )
        for key in ("weights", "gradients", "optimizer", "gathered_weights", "activations",
                    "logits", "total"):
            assert r[key] == pytest.approx(getattr(m, key), rel=1e-12), key


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


def test_planner_needs_an_efficiency_and_a_node_bandwidth_for_tpus():
    with pytest.raises(ValueError, match="no measured matmul efficiency for the TPU v4"):
        tm.plan_layouts("gpt2", "TPU v4", 8, global_batch_tokens=8 * 1024)
    with pytest.raises(ValueError, match="node_bandwidth"):
        tm.plan_layouts("gpt2", "TPU v4", 8, global_batch_tokens=8 * 1024, efficiency=0.6)
    layouts = tm.plan_layouts("gpt2", "TPU v4", 8, global_batch_tokens=8 * 1024,
                              node_bandwidth=100e9, dtype="bf16", efficiency=0.6)
    assert layouts.n_fit > 0


def test_planner_when_nothing_fits():
    layouts = tm.plan_layouts("llama-3.1-405b", "H100-SXM", 8, seq_len=8192,
                              global_batch_tokens=8 * 8192)
    assert len(layouts) > 0 and layouts.n_fit == 0 and layouts.best() is None
    assert len(layouts.distinct()) == 0


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.plan_layouts("llama-3-8b", "H100-SXM", 64, global_batch_tokens=1000),
         "global_batch_tokens"),
        (lambda: tm.plan_layouts("llama-3-8b", "B300", 64), "accelerator"),
        (lambda: tm.plan_layouts("llama-3-8b", "H100-SXM", 0), "n_gpus"),
        (lambda: tm.plan_layouts("llama-3-8b", "H100-SXM", 8, efficiency=50), "efficiency"),
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


def test_dp_hiding_tokens_is_where_the_reduction_hides():
    # T* = g R / (2 B): bf16 gradients, the H100's measured 794.5 TFLOP/s, 45.6 GB/s per GPU
    t_star = tm.dp_hiding_tokens("H100-SXM")
    assert t_star == pytest.approx(2 * 794.5e12 / (2 * tm.NETWORK_BUS_BANDWIDTH))
    assert tm.dp_hiding_tokens("H100-SXM", grad_dtype="fp32") == pytest.approx(2 * t_star)
    assert tm.dp_hiding_tokens("H100-SXM", dp_bandwidth=2 * tm.NETWORK_BUS_BANDWIDTH) == \
        pytest.approx(t_star / 2)
    with pytest.raises(ValueError, match="dp_bandwidth"):
        tm.dp_hiding_tokens("H100-SXM", dp_bandwidth=0)
    with pytest.raises(ValueError, match="no measured matmul efficiency"):
        tm.dp_hiding_tokens("V100", "fp16")
