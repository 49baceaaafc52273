"""Search parallel layouts: which ones fit in memory, and which is fastest.

:func:`plan_layouts` enumerates every combination of tensor (tp), pipeline (pp), context
(cp) and data (dp) parallel sizes with ``tp * pp * cp * dp = n_gpus``, pipeline
interleaving, ZeRO stage (stage 3 with and without resharding the weights after the forward
pass), micro-batch size, recomputation and sequence parallelism; evaluates the memory of the
most loaded GPU with :func:`trainmath.memory.memory_per_gpu` for all of them at once (numpy
arrays), and ranks the layouts that fit by an estimated step time (:func:`step_time`).

Step-time model (documented assumptions, not a simulator), built from first principles:

* **compute**: every operation of a layer at its own roofline (lesson 08):
  :func:`trainmath.throughput.layer_time` (weight matmuls at the accelerator's measured
  large-GEMM efficiency, :func:`trainmath.accelerators.matmul_efficiency`, with tile and wave
  quantisation; attention materialised or fused; norms, activations and residuals at HBM
  bandwidth; recomputation) and :func:`trainmath.throughput.lm_head_time` for the output layer;
* **communication**: the collectives of :mod:`trainmath.parallelism` timed by an alpha-beta
  model at *achieved* bus bandwidths (:data:`NODE_BUS_BANDWIDTH` inside a node,
  :data:`NETWORK_BUS_BANDWIDTH` per GPU across nodes; groups laid out in Llama 3's order
  [TP, CP, PP, DP], TP innermost): tensor- and context-parallel collectives of every layer
  and micro-batch on the critical path (as in Megatron-LM), the pipeline's point-to-point
  sends, and the data-parallel collectives of each ZeRO stage
  (:func:`~trainmath.parallelism.data_parallel_collectives`, consistent with the memory
  model), issued layer by layer and hidden behind computation where they can run
  concurrently (``dp_overlap``); only the excess counts;
* **pipeline bubble**: (pp - 1) / v micro-batch times (Narayanan et al. 2021, Sec. 2.2);
* **the optimizer's update**: the local model states read and written at HBM bandwidth.

Checked against thirteen published runs (:mod:`trainmath.runs`): Narayanan et al. 2021
Table 1 and Llama 3 Table 4, within 15 % each, median 4.8 % (:func:`reproduce`), and each
run's own split in the planner's top 6 % (:func:`published_rank`). Not modelled: kernel launch
time, stragglers, failures, checkpointing, congestion, NVLink SHARP and tree algorithms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from trainmath import _validate as v
from trainmath.accelerators import Accelerator, get_accelerator, matmul_efficiency
from trainmath.activations import ACTIVATION_LAYERS, RECOMPUTE, default_activation_layer
from trainmath.compute import flops_per_token
from trainmath.memory import (
    _check_split,
    _heaviest_stage,
    _stage_layers,
    layers_per_stage,
    memory_per_gpu,
)
from trainmath.models import ModelConfig, _routed_copies, get_model
from trainmath.optimizers import bytes_per_param, training_bytes_per_param
from trainmath.parallelism import (
    BUS_BANDWIDTH,
    NETWORK_LATENCY,
    NVLINK_LATENCY,
    _collective,
    _group_time,
    data_parallel_collectives,
)
from trainmath.runs import PUBLISHED_LAYOUTS, PublishedLayout
from trainmath.throughput import layer_time, lm_head_time
from trainmath.units import delivered_flop_rate

__all__ = [
    "Layouts",
    "plan_layouts",
    "step_time",
    "NVLINK_BANDWIDTH",
    "NODE_BUS_BANDWIDTH",
    "NETWORK_BUS_BANDWIDTH",
    "dp_hiding_tokens",
    "Reproduction",
    "reproduce",
    "published_rank",
]

#: Per-direction NVLink bandwidth of one GPU to the others in its node, bytes/s: half the
#: bidirectional totals of the NVIDIA data sheets (V100 SXM2 300 GB/s, A100 SXM 600 GB/s,
#: H100 and H200 SXM 900 GB/s, B200 and GB200 fifth-generation NVLink 1.8 TB/s; the GB200's
#: NVLink domain is the 72-GPU rack) and, for the H800, of Zhao et al. 2025 (DeepSeek,
#: arXiv:2505.09343), Sec. 4.1: 400 GB/s, which their Sec. 4.3 counts as 200 GB/s. No MI300X
#: entry: AMD gives 128 GB/s per Infinity Fabric link without saying per direction or both,
#: and its 8 GPUs are a mesh of one link per pair, not a switch, so a per-GPU figure is not
#: sourced; pass ``node_bandwidth=``.
NVLINK_BANDWIDTH = MappingProxyType({
    "V100": 150e9, "A100-40GB": 300e9, "A100-80GB": 300e9, "H100-SXM": 450e9, "H800": 200e9,
    "H200": 450e9, "B200": 900e9, "GB200": 900e9,
})

#: Achieved bus bandwidth inside a node (NVLink), bytes/s, by accelerator: what nccl-tests
#: measures for a large ring all-reduce (:data:`trainmath.parallelism.BUS_BANDWIDTH`), not
#: the wire: A100 234.89 GB/s (78 % of its 300 per direction), H100 and H200 367.61 (82 % of
#: 450), B200 682.2 (76 % of 900), H800 160 (DeepSeek-V3's usable figure, Sec. 3.2.2). The
#: GB200 is given the B200's NVLink5 figure (same NVLink generation and switch; no
#: measurement of its own found). No entry for the V100, MI300X or TPUs: pass
#: ``node_bandwidth=``.
NODE_BUS_BANDWIDTH = MappingProxyType({
    "A100-40GB": BUS_BANDWIDTH["A100 NVLink3 (DGX A100)"].bus_bandwidth,
    "A100-80GB": BUS_BANDWIDTH["A100 NVLink3 (DGX A100)"].bus_bandwidth,
    "H100-SXM": BUS_BANDWIDTH["H100/H200 NVLink4"].bus_bandwidth,
    "H200": BUS_BANDWIDTH["H100/H200 NVLink4"].bus_bandwidth,
    "H800": BUS_BANDWIDTH["H800 NVLink (DeepSeek-V3)"].bus_bandwidth,
    "B200": BUS_BANDWIDTH["B200 NVLink5"].bus_bandwidth,
    "GB200": BUS_BANDWIDTH["B200 NVLink5"].bus_bandwidth,
})

#: Achieved network bus bandwidth per GPU across nodes, bytes/s: one 400 Gb/s NIC per GPU
#: (Llama 3's RoCE and DeepSeek-V3's InfiniBand clusters) as measured on 4 x 8 H200 over EFA
#: with 8 x 400 Gb/s per node (:data:`trainmath.parallelism.BUS_BANDWIDTH`, 364.87 GB/s per
#: node, 45.6 GB/s per GPU). For 200 Gb/s HDR InfiniBand (DGX A100, Selene) pass half.
NETWORK_BUS_BANDWIDTH = BUS_BANDWIDTH["H200 4x8, EFA 8x400 Gb/s per node"].per_gpu

_FIELDS = (
    "tp", "pp", "cp", "dp", "ep", "interleave", "zero_stage", "reshard_after_forward",
    "micro_batch", "n_microbatches", "recompute", "sequence_parallel", "weights", "gradients",
    "optimizer", "gathered_weights", "activations", "logits", "total", "fits", "step_time",
    "compute_time", "bubble_time", "comm_time", "tp_comm_time", "cp_comm_time", "ep_comm_time",
    "pp_comm_time", "dp_comm_time", "optimizer_time", "mfu",
)
#: Memory columns, bytes on the most loaded GPU (the sums of :class:`MemoryBreakdown`).
_MEMORY = ("weights", "gradients", "optimizer", "gathered_weights", "activations", "logits",
           "total")
_TIMES = (
    "step_time", "compute_time", "bubble_time", "comm_time", "tp_comm_time", "cp_comm_time",
    "ep_comm_time", "pp_comm_time", "dp_comm_time", "optimizer_time", "mfu",
)
#: Columns that say how the work is split (not how it is scheduled in memory).
SHAPE = ("tp", "pp", "cp", "dp", "ep", "interleave", "micro_batch", "recompute")


@dataclass
class Layouts:
    """Evaluated layouts as columns (numpy arrays), fitting ones first, fastest first.

    Columns: tp, pp, cp, dp, ep (expert parallelism; 1 for a dense model), interleave
    (model chunks per GPU), zero_stage,
    reshard_after_forward (ZeRO-3 only: False is Llama 3's mode), micro_batch,
    n_microbatches, recompute (str), sequence_parallel, weights, gradients, optimizer,
    gathered_weights (ZeRO-3's all-gather buffers), activations, logits (the output layer's
    saved tensors), total (bytes on the most loaded GPU, from
    :func:`trainmath.memory.memory_per_gpu`), fits (bool), step_time, compute_time,
    bubble_time, comm_time (= tp + cp + ep + pp + dp comm), tp_comm_time, cp_comm_time,
    ep_comm_time, pp_comm_time, dp_comm_time, optimizer_time (s), mfu (model FLOPs
    utilisation implied by the step time).
    """

    columns: dict[str, np.ndarray]
    memory_limit: float

    def __len__(self) -> int:
        return len(self.columns["tp"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def n_fit(self) -> int:
        return int(np.count_nonzero(self.columns["fits"]))

    def row(self, i: int = 0) -> dict:
        """One layout as a dict of Python scalars (row 0 is the best that fits)."""
        return {k: c[i].item() for k, c in self.columns.items()}

    def best(self) -> dict | None:
        """The fastest layout that fits, or None when none fits."""
        return self.row(0) if self.n_fit else None

    def find(self, **where) -> np.ndarray:
        """Indices of rows whose columns equal the given values, e.g. ``find(tp=8, pp=16)``."""
        mask = np.ones(len(self), dtype=bool)
        for k, value in where.items():
            mask &= self.columns[k] == value
        return np.flatnonzero(mask)

    def fastest(self, **where) -> int | None:
        """Index of the fastest row that fits among those :meth:`find` selects, or None.

        Rows are sorted with the fitting ones first, fastest first, so its 0-based index is
        also its rank among the layouts that fit.
        """
        rows = self.find(**where)
        rows = rows[rows < self.n_fit]
        return int(rows[0]) if len(rows) else None

    def distinct(self, k: int | None = None, *, fitting: bool = True) -> np.ndarray:
        """Indices of the first row of each distinct way of splitting the work.

        Rows that share tp, pp, cp, dp, ep, interleave, micro_batch and recompute differ only
        in ZeRO stage, resharding or sequence parallelism, which change the memory and the
        communication; the first of them is the fastest, and among equally fast ones the
        smallest. Returns at most ``k`` indices, in rank order,
        of fitting rows only unless ``fitting=False``.
        """
        n = self.n_fit if fitting else len(self)
        if n == 0:
            return np.array([], dtype=np.int64)
        # one small integer code per column, combined into a single integer key per row
        codes, dims = [], []
        for c in SHAPE:
            values, code = np.unique(self.columns[c][:n], return_inverse=True)
            codes.append(code.ravel())
            dims.append(len(values))
        key = np.ravel_multi_index(codes, dims)
        _, first = np.unique(key, return_index=True)
        first = np.sort(first)
        return first if k is None else first[: v.positive_int("k", k)]


def _powers_of_two(limit: int) -> list[int]:
    return [2**k for k in range(int(np.log2(limit)) + 1)] if limit >= 1 else []


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _node_bandwidth(accelerator: Accelerator, node_bandwidth) -> float:
    if node_bandwidth is not None:
        return float(v.positive("node_bandwidth", node_bandwidth))
    try:
        return NODE_BUS_BANDWIDTH[accelerator.name]
    except KeyError:
        known = ", ".join(NODE_BUS_BANDWIDTH)
        raise ValueError(
            f"node_bandwidth: no NVLink preset for {accelerator.name!r} (presets: {known}); "
            "pass node_bandwidth= (bytes/s per GPU inside a node)"
        ) from None


def step_time(
    cfg: ModelConfig, accelerator: Accelerator, *, n_gpus, tokens_per_step, seq_len, tp, pp, cp,
    dp, zero_stage, n_microbatches, recompute: str, micro_batch=1, interleave=1,
    efficiency=None, dtype="bf16", param_dtype="bf16", grad_dtype=None, layer=None,
    sequence_parallel: bool = False, reshard_after_forward: bool | np.ndarray = True,
    dp_bandwidth=None,
    node_bandwidth=None, gpus_per_node=8, dp_overlap: bool = True, causal: bool = True,
    ep=1, etp=None, capacity_factor=1.0, ep_overlap: bool = False,
) -> dict:
    """Estimated seconds per optimizer step for layouts (arrays broadcast); see module doc.

    One micro-batch on the slowest pipeline stage (its ``ceil(L / pp)`` layers and the output
    layer) takes ``t_mb``: each layer's forward, backward and recomputation at its roofline
    (:func:`trainmath.throughput.layer_time`: measured large-GEMM efficiency, small-shape
    quantisation, element-wise passes at HBM bandwidth), plus the layer's blocking
    tensor- and context-parallel collectives (:func:`trainmath.parallelism.group_collective_time`
    at achieved bus bandwidths). Then

        step = m t_mb + (pp - 1)/v t_mb + pipeline sends + exposed data-parallel traffic
               + the optimizer's update,

    where the bubble is Narayanan et al. 2021's (p - 1)/(v m) of the m micro-batches, the
    sends are 2 v m point-to-point transfers of one micro-batch's activations (scattered over
    the tensor-parallel ranks), the data-parallel collectives are those of
    :func:`trainmath.parallelism.data_parallel_collectives` (consistent with the memory model
    of each ZeRO stage) less what hides behind computation, and the update reads and writes
    the local model states once at HBM bandwidth.

    Parameters
    ----------
    cfg, accelerator : ModelConfig, Accelerator
    n_gpus, tokens_per_step, seq_len : int
        Cluster size, tokens per optimizer step, sequence length.
    tp, pp, cp, dp, interleave, zero_stage, micro_batch, n_microbatches : int or array
        The layout (``dp * micro_batch * n_microbatches * seq_len = tokens_per_step``).
    recompute : {"none", "selective", "full"}
    efficiency : float, optional
        Large-GEMM efficiency; default the accelerator's measured one
        (:func:`trainmath.accelerators.matmul_efficiency`; an error lists the accelerators
        that have one).
    dtype, param_dtype, grad_dtype : str
        Compute dtype (for the peak), and the dtypes weights and gradients are sent in
        (``grad_dtype=None``: the weights' dtype).
    layer : {"korthikanti", "modern"}, optional
        How attention runs (:func:`trainmath.throughput.layer_time`); default
        :func:`trainmath.activations.default_activation_layer` (fused attention for rotary
        models, materialised scores for GPT-style ones), the same rule as the memory model.
    sequence_parallel : bool
        Megatron sequence parallelism (norms and dropouts on tokens / tp).
    reshard_after_forward : bool or array of bool
        With ZeRO-3: gather the weights before the backward pass again (True) or keep them
        from the forward (False, Llama 3's mode).
    dp_bandwidth : float, optional
        Achieved network bus bandwidth per GPU, bytes/s; default :data:`NETWORK_BUS_BANDWIDTH`
        (one 400 Gb/s NIC per GPU, measured).
    node_bandwidth : float, optional
        Achieved bus bandwidth inside a node, bytes/s; default :data:`NODE_BUS_BANDWIDTH`
        of the accelerator.
    gpus_per_node : int
        GPUs that share NVLink (8 in DGX/HGX servers).
    dp_overlap : bool
        Hide data-parallel traffic behind computation where it can run concurrently: the
        gradient reduction of stages 0 and 1 during the last micro-batch's backward pass
        (bucketed, PyTorch DDP, Li et al. 2020, Sec. 3.2.3), the per-micro-batch traffic of
        stages 2 and 3 during the computation of every micro-batch (FSDP's prefetching,
        Zhao et al. 2023, Sec. 3.3). False: nothing hides (Megatron-LM in 2021).
    causal : bool
        Fused attention computes only the unmasked half of the scores.
    ep, etp, capacity_factor : int, int, float (or arrays)
        A mixture of experts' expert parallelism, expert tensor parallelism (default
        ``tp``) and load imbalance (:func:`trainmath.memory.memory_per_gpu`). Every MoE
        layer sends its token copies to the expert ranks and back, an all-to-all of the
        rank's ``capacity_factor x k x tokens / tp`` copies of d values forward (dispatch,
        combine) and backward, six with full recomputation, over ``ep`` ranks laid out as
        Megatron-Core does (``tp-cp-ep-dp-pp``: after TP and CP, inside a node as far as it
        goes). The experts' model states are reduced over the expert-data-parallel group
        of ``dp cp tp / (ep etp)`` ranks, the rest over ``dp cp``.
    ep_overlap : bool
        Hide the all-to-all behind computation (DeepSeek-V3's DualPipe overlaps one
        micro-batch's dispatch and combine with another's computation, Sec. 3.2.1); only
        the excess over the computation counts. False: exposed, as a plain 1F1B schedule.

    Returns
    -------
    dict
        ``step_time``; ``compute_time`` (the slowest stage's layers' and output layer's
        work), ``bubble_time``, ``comm_time`` (the sum of the five exposed communication
        times below), ``tp_comm_time``, ``cp_comm_time``, ``ep_comm_time``,
        ``pp_comm_time``, ``dp_comm_time``, ``optimizer_time``; and ``mfu`` (model FLOPs,
        :func:`trainmath.compute.flops_per_token`, over the dense peak).
    """
    v.instance("cfg", cfg, ModelConfig)
    v.instance("accelerator", accelerator, Accelerator)
    v.flag("dp_overlap", dp_overlap)
    v.flag("ep_overlap", ep_overlap)
    v.flag("sequence_parallel", sequence_parallel)
    v.flags("reshard_after_forward", reshard_after_forward)
    layer = default_activation_layer(cfg) if layer is None else \
        v.choice("layer", layer, ACTIVATION_LAYERS)
    peak = accelerator.peak(dtype)
    fast = _node_bandwidth(accelerator, node_bandwidth)
    slow = NETWORK_BUS_BANDWIDTH if dp_bandwidth is None else \
        float(v.positive("dp_bandwidth", dp_bandwidth))
    node = v.positive_int("gpus_per_node", gpus_per_node)
    tp, pp, cp, dp, interleave, zero_stage, micro_batch, n_microbatches = (
        np.asarray(x) for x in (tp, pp, cp, dp, interleave, zero_stage, micro_batch,
                                n_microbatches)
    )
    def collective(op, message, n_ranks, stride=1, per_node=None):
        # tm.group_collective_time on arrays validated here once (the planner's hot path)
        n_ranks = np.asarray(n_ranks)
        if per_node is None:
            per_node = np.minimum(np.maximum(node // stride, 1), n_ranks)
        return _group_time(_collective(op), np.asarray(message, dtype=float), n_ranks,
                           np.minimum(per_node, n_ranks), fast, slow, NVLINK_LATENCY,
                           NETWORK_LATENCY)

    s_local = seq_len // cp
    tokens = micro_batch * s_local
    act = bytes_per_param(dtype)

    ep = np.asarray(ep)
    etp = tp if etp is None else np.asarray(etp)
    if cfg.is_moe:  # ep must divide the experts, etp the expert width
        _check_split(cfg, tp, pp, ep, etp)
    kinds = dict(tp=tp, cp=cp, sequence_parallel=sequence_parallel, recompute=recompute,
                 layer=layer, dtype=dtype, causal=causal, efficiency=efficiency)
    work = layer_time(cfg, seq_len, micro_batch, accelerator, moe=False, **kinds).total
    moe_work = layer_time(cfg, seq_len, micro_batch, accelerator, ep=ep, etp=etp,
                          capacity_factor=capacity_factor, **kinds).total if cfg.is_moe else 0.0
    head = lm_head_time(cfg, tokens, accelerator, tp=tp, dtype=dtype, efficiency=efficiency)

    # Tensor parallelism: two all-reduces of the micro-batch's activations per layer forward,
    # two backward, two more when full recomputation reruns the forward (Megatron-LM; with
    # sequence parallelism each becomes a reduce-scatter and an all-gather of the same bytes).
    n_tp = 4 + (2 if recompute == "full" else 0)
    tp_layer = n_tp * collective("all-reduce", tokens * cfg.d_model * act, tp)
    # Context parallelism: all-gather the keys and values forward, reduce-scatter their
    # gradients backward (Llama 3 paper, Sec. 3.3.2), once more with full recomputation.
    n_cp = 2 + (1 if recompute == "full" else 0)
    kv = 2.0 * micro_batch * seq_len * np.maximum(cfg.n_kv_heads // tp, 1) * cfg.head_dim * act
    cp_layer = n_cp * collective("all-gather", kv, cp, stride=tp)
    # Expert parallelism: dispatch and combine each token's k copies forward and backward.
    ep_layer = 0.0
    if cfg.is_moe:
        copies = _routed_copies(tokens, cfg.experts_per_token, tp, etp, capacity_factor)
        in_node = np.minimum(ep, np.maximum(node // (tp * cp), 1))
        ep_layer = n_tp * collective("all-to-all", copies * cfg.d_model * act, ep,
                                     per_node=in_node)
    # The slowest stage: the first (with a mixture of experts' dense layers), the last (its
    # layers and the head) or a middle one (all MoE layers).
    per_dense = work + tp_layer + cp_layer
    if cfg.is_moe:
        (fd, fm), (ld, lm), (md, mm) = _stage_layers(cfg, pp)
        per_moe = moe_work + tp_layer + cp_layer + ep_layer
        first = fd * per_dense + fm * per_moe
        last = ld * per_dense + lm * per_moe + head
        middle = md * per_dense + mm * per_moe
        last_slower = last >= first
        dense_n, moe_n = np.where(last_slower, ld, fd), np.where(last_slower, lm, fm)
        middle_slower = middle > np.maximum(first, last)
        dense_n = np.where(middle_slower, md, dense_n)
        moe_n = np.where(middle_slower, mm, moe_n)
        with_head = last_slower & ~middle_slower
        t_mb = np.maximum(np.maximum(first, last), middle)
    else:  # every stage has ceil(L / pp) alike layers: the last, with the head, is slowest
        dense_n, moe_n, with_head = layers_per_stage(cfg.n_layers, pp), 0, True
        t_mb = dense_n * per_dense + head
    layers = dense_n + moe_n

    m = n_microbatches
    compute = m * (dense_n * work + moe_n * moe_work + np.where(with_head, head, 0.0))
    tp_time = m * layers * tp_layer
    cp_time = m * layers * cp_layer
    ep_time = m * moe_n * ep_layer
    if ep_overlap:
        ep_time = np.maximum(ep_time - compute, 0.0)
    bubble = (pp - 1) / interleave * t_mb
    sends = tokens * cfg.d_model * act / tp  # scattered over the tensor-parallel ranks
    pp_time = np.where(pp > 1, 2 * interleave * m * collective("p2p", sends, 2, stride=tp * cp),
                       0.0)

    # before ZeRO sharding: the dense and the expert buckets, reduced over different groups
    split, replicated, experts = _heaviest_stage(cfg, tp, pp, ep, etp)
    shard_params = np.asarray(split + replicated)
    expert_params = np.asarray(experts, dtype=float)
    grad_bytes = bytes_per_param(param_dtype if grad_dtype is None else grad_dtype)
    group = dp * cp
    expert_group = np.maximum(group * tp // (ep * etp), 1)
    # ranks of the data-parallel group in one node: the layout is [TP, CP, PP, DP], TP innermost
    cp_in_node = np.minimum(cp, np.maximum(node // tp, 1))
    dp_in_node = np.minimum(dp, np.maximum(node // (tp * cp * pp), 1))
    per_node = cp_in_node * dp_in_node
    # Each collective is issued layer by layer, and every layer pays its latency: FSDP
    # gathers and reduces one transformer block at a time (Zhao et al. 2023, Sec. 3.2);
    # DDP's 25 MB gradient buckets (Li et al. 2020, Sec. 3.2.3) are smaller than a layer of a
    # billion-parameter model and would pay more, Megatron-LM's buckets of tens of millions of
    # parameters about as much.
    units = layers
    dp_time = 0.0
    for params, n_ranks, in_node in ((shard_params, group, per_node),
                                     (expert_params, expert_group,
                                      np.minimum(per_node, expert_group))):
        if not cfg.is_moe and params is expert_params:
            continue
        for op, (calls, message) in data_parallel_collectives(
                params, zero_stage, n_microbatches=m, param_bytes=bytes_per_param(param_dtype),
                grad_bytes=grad_bytes, reshard_after_forward=reshard_after_forward).items():
            dp_time = dp_time + calls * units * collective(op, message / units, n_ranks,
                                                           per_node=in_node)
    if dp_overlap:
        last_backward = (2.0 / 3.0) * t_mb  # the backward's share of a micro-batch's work
        window = np.where(zero_stage >= 2, compute + tp_time + cp_time, last_backward)
        dp_time = np.maximum(dp_time - window, 0.0)

    # The optimizer's update reads every local model-state byte and writes the weights and
    # the optimizer states back, at HBM bandwidth (ZeRO >= 1: only this rank's shard).
    per_param = training_bytes_per_param(param_dtype=param_dtype, grad_dtype=grad_dtype)
    read = per_param.total
    written = read - per_param["gradients"]
    sharded = zero_stage >= 1
    local = (shard_params / np.where(sharded, group, 1)
             + expert_params / np.where(sharded, expert_group, 1))
    optimizer = local * (read + written) / accelerator.bandwidth

    comm = tp_time + cp_time + ep_time + pp_time + dp_time
    total = compute + bubble + comm + optimizer
    model = flops_per_token(cfg, seq_len) * tokens_per_step
    return {
        "step_time": total, "compute_time": compute, "bubble_time": bubble, "comm_time": comm,
        "tp_comm_time": tp_time, "cp_comm_time": cp_time, "ep_comm_time": ep_time,
        "pp_comm_time": pp_time, "dp_comm_time": dp_time, "optimizer_time": optimizer,
        "mfu": model / (delivered_flop_rate(n_gpus, peak) * total),
    }


def dp_hiding_tokens(accelerator: str | Accelerator, dtype: str = "bf16", *, grad_dtype=None,
                     dp_bandwidth=None, efficiency=None) -> float:
    """Tokens a micro-batch must give each GPU for the gradient reduction to hide behind it.

    With ZeRO stages 0 and 1 the gradients are reduced once per step, during the last
    micro-batch's backward pass (:func:`step_time`). A GPU holding N parameters (after tensor
    and pipeline parallelism) sends about ``2 g N`` bytes in the ring (g bytes per gradient;
    the factor 2 (n-1)/n tends to 2) over its network at ``B`` bytes/s, and the backward pass
    of a micro-batch of T tokens takes ``4 N T / R`` at the achievable rate R. The traffic
    hides when ``4 N T / R >= 2 g N / B``:

        T >= g R / (2 B),

    independent of the model's size: faster GPUs need bigger micro-batches, faster networks
    smaller ones. Below it the excess is exposed every step; this is much of why the planner
    ranks layouts as it does.

    >>> round(dp_hiding_tokens("H100-SXM"))  # bf16 gradients, 45.6 GB/s per GPU
    17420
    >>> round(dp_hiding_tokens("A100-80GB", dp_bandwidth=22.8e9))  # 200 Gb/s HDR per GPU
    11895

    Parameters
    ----------
    accelerator : str or Accelerator
    dtype : str
        Compute dtype (its peak and measured matmul efficiency).
    grad_dtype : str, optional
        Dtype the gradients are reduced in (default: ``dtype``).
    dp_bandwidth : float, optional
        Achieved network bus bandwidth per GPU, bytes/s (default
        :data:`NETWORK_BUS_BANDWIDTH`).
    efficiency : float, optional
        Large-GEMM efficiency (default :func:`trainmath.accelerators.matmul_efficiency`).

    Source: the ring all-reduce's 2 (n-1)/n (Patarasuk & Yuan 2009) and PyTorch DDP's bucketed
    overlap with the backward pass (Li et al. 2020, Sec. 3.2.3). Assumptions: the weight
    matmuls dominate the backward pass (2 of the 6 FLOPs per parameter and token are the
    forward); latency, ZeRO-2/3's per-micro-batch traffic and recomputation are left out.
    """
    acc = get_accelerator(accelerator)
    peak = acc.peak(dtype)
    eff = matmul_efficiency(acc, dtype) if efficiency is None else \
        float(v.fraction("efficiency", efficiency))
    g = bytes_per_param(dtype if grad_dtype is None else grad_dtype)
    bw = NETWORK_BUS_BANDWIDTH if dp_bandwidth is None else \
        float(v.positive("dp_bandwidth", dp_bandwidth))
    return g * eff * peak / (2 * bw)


#: The arguments of :func:`step_time` that :func:`_planned_memory` needs as well.
_LAYOUT_MEMORY_ARGS = ("seq_len", "micro_batch", "n_microbatches", "interleave", "zero_stage",
                       "dp", "tp", "pp", "cp", "sequence_parallel", "recompute",
                       "reshard_after_forward", "layer")


def _planned_memory(cfg: ModelConfig, *, zero_stage, reshard_after_forward, **layout):
    # memory_per_gpu as the planner counts it: the logits on the last stage, and with ZeRO-3
    # resharding two layers of gathered weights (the one computing and the one prefetched)
    gathered = np.where((np.asarray(zero_stage) == 3) & np.asarray(reshard_after_forward), 2, 0)
    return memory_per_gpu(cfg, zero_stage=zero_stage, reshard_after_forward=reshard_after_forward,
                          gathered_layers=gathered, logits=layout.pop("logits", True), **layout)


def plan_layouts(
    model: str | ModelConfig = "llama-3-8b",
    accelerator: str | Accelerator = "H100-SXM",
    n_gpus=64,
    *,
    seq_len=None,
    global_batch_tokens=4 * 2**20,
    efficiency=None,
    optimizer: str = "adamw",
    param_dtype: str = "bf16",
    grad_dtype: str | None = None,
    dtype: str = "bf16",
    layer: str | None = None,
    logits: bool = True,
    max_tp: int = 8,
    max_cp: int = 16,
    micro_batches=(1, 2, 4, 8),
    zero_stages=(0, 1, 2, 3),
    recomputes=RECOMPUTE,
    interleaves=(1, 2, 3, 4, 6, 8),
    memory_fraction=1.0,
    dp_bandwidth=None,
    node_bandwidth=None,
    gpus_per_node=8,
    dp_overlap: bool = True,
    capacity_factor=1.0,
    ep_overlap: bool = False,
) -> Layouts:
    """Enumerate and rank parallel layouts for a training run.

    Parameters
    ----------
    model, accelerator : name or object
    n_gpus : int
        Total accelerators; every layout uses all of them (tp * pp * cp * dp = n_gpus).
    seq_len : int, optional
        Training sequence length (default ``cfg.seq_len``).
    global_batch_tokens : int
        Tokens per optimizer step; must be a whole number of sequences, split evenly over
        the dp ranks into micro-batches.
    efficiency : float, optional
        Large-GEMM efficiency; default the accelerator's measured one (see
        :func:`step_time`).
    optimizer, param_dtype, grad_dtype, dtype
        Model states (:func:`trainmath.optimizers.training_bytes_per_param`) and the
        compute dtype.
    layer : {"korthikanti", "modern"}, optional
        Activation accounting and attention kernels, for memory and time alike; default
        :func:`trainmath.activations.default_activation_layer`.
    logits : bool
        Count the output layer's saved tensors on the last pipeline stage (the memory
        model's ``logits``).
    max_tp, max_cp : int
        Largest tensor/context sizes tried (powers of two; tp must divide the KV heads and
        stay inside a node).
    micro_batches, zero_stages, recomputes, interleaves : sequences of choices to enumerate.
        Pipeline sizes are every divisor of ``n_gpus`` up to the layers (Megatron-LM's
        530B ran 35 stages). Interleaving (v model chunks per GPU) is tried only with
        pp > 1, at least pp micro-batches (Megatron-LM's interleaved schedule) and
        pp * v <= layers + 2: the embedding and the output layer may each take a chunk's
        place (Llama 3's 126 layers in 16 x 8 chunks, Grattafiori et al. 2024, Sec. 3.3.2).
        ZeRO-3 is tried with and without resharding the weights after the forward pass
        (FSDP's default and Llama 3's mode); resharding adds two layers of gathered weights
        to the memory.
        Sequence parallelism is used wherever tp > 1 (it never loses: less memory and less
        element-wise time for the same communication).
    memory_fraction : float
        Share of the accelerator's memory a layout may use (e.g. 0.9 for headroom).
    dp_bandwidth, node_bandwidth, gpus_per_node, dp_overlap
        The network and overlap: see :func:`step_time`.
    capacity_factor, ep_overlap
        A mixture of experts' load imbalance and whether its all-to-all hides behind
        computation (:func:`step_time`). For a mixture of experts, expert parallelism ``ep``
        is tried at every divisor of ``n_experts`` that divides ``dp * cp * tp``, with whole
        experts on each GPU (``etp = 1``: Megatron-Core's "parallel folding", DeepSeek-V3's
        choice).

    Returns
    -------
    Layouts
        Every valid layout, fitting ones first, each group sorted by step time (ties by
        memory).

    Assumptions: the memory model of :func:`trainmath.memory.memory_per_gpu` (the busier
    of the first stage, with its in-flight micro-batches from
    :func:`trainmath.parallelism.pipeline_in_flight`, and the last, with the logits) and the
    step-time model of :func:`step_time`.
    """
    cfg = get_model(model)
    acc = get_accelerator(accelerator)
    n = v.scalar_int("n_gpus", n_gpus)
    s = cfg.seq_len if seq_len is None else v.scalar_int("seq_len", seq_len)
    tokens = v.scalar_int("global_batch_tokens", global_batch_tokens)
    v.divides("seq_len", s, "global_batch_tokens", tokens)
    n_seq = tokens // s
    if efficiency is not None:
        v.fraction("efficiency", efficiency)
    else:
        matmul_efficiency(acc, dtype)  # an error now, naming the accelerators measured
    layer = default_activation_layer(cfg) if layer is None else \
        v.choice("layer", layer, ACTIVATION_LAYERS)
    v.flag("logits", logits)
    limit = acc.memory_bytes * v.fraction("memory_fraction", memory_fraction)
    training_bytes_per_param(param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer)
    acc.peak(dtype)
    _node_bandwidth(acc, node_bandwidth)
    if dp_bandwidth is not None:
        v.positive("dp_bandwidth", dp_bandwidth)
    node = v.positive_int("gpus_per_node", gpus_per_node)
    v.flag("dp_overlap", dp_overlap)
    for r in recomputes:
        v.choice("recomputes", r, RECOMPUTE)
    mbs = [v.positive_int("micro_batches", b) for b in micro_batches]
    stages = [v.zero_stage("zero_stages", z) for z in zero_stages]
    vs = [v.positive_int("interleaves", i) for i in interleaves]
    max_tp = v.positive_int("max_tp", max_tp)
    max_cp = v.positive_int("max_cp", max_cp)

    tps = [t for t in _powers_of_two(min(max_tp, n, node)) if cfg.n_kv_heads % t == 0]
    pps = [p for p in _divisors(n) if p <= cfg.n_layers]  # any stage count: 35 x 3 layers
    cps = [c for c in _powers_of_two(min(max_cp, n)) if s % c == 0]
    grid = np.array(np.meshgrid(tps, pps, cps, mbs, stages, vs, indexing="ij")).reshape(6, -1)
    tp, pp, cp, mb, zs, il = grid
    model_parallel = tp * pp * cp
    ok = n % model_parallel == 0
    dp = np.where(ok, n // np.maximum(model_parallel, 1), 1)
    ok &= n_seq % (dp * mb) == 0
    m = n_seq // np.maximum(dp * mb, 1)
    # pp * v chunks may exceed the layers by two: the first chunk of the first stage may hold
    # only the embedding and the last chunk of the last stage only the output layer and loss
    # (Llama 3's 126 layers in 16 x 8 chunks: Grattafiori et al. 2024, Sec. 3.3.2)
    ok &= (il == 1) | ((pp > 1) & (pp * il <= cfg.n_layers + 2) & (m >= pp))
    tp, pp, cp, mb, zs, il, dp, m = (x[ok] for x in (tp, pp, cp, mb, zs, il, dp, m))
    # expert parallelism: every divisor of the experts that divides the stage's GPUs
    if cfg.is_moe:
        picks = [np.flatnonzero((dp * cp * tp) % e == 0) for e in _divisors(cfg.n_experts)]
        ep = np.concatenate([np.full(len(rows), e) for e, rows in
                             zip(_divisors(cfg.n_experts), picks, strict=True)])
        rows_ep = np.concatenate(picks)
        tp, pp, cp, mb, zs, il, dp, m = (x[rows_ep] for x in (tp, pp, cp, mb, zs, il, dp, m))
    else:
        ep = np.ones_like(tp)
    moe = dict(etp=np.ones_like(ep), capacity_factor=capacity_factor) if cfg.is_moe else {}

    common = dict(dtype=dtype, param_dtype=param_dtype, grad_dtype=grad_dtype, layer=layer)
    parts = []
    # Sequence parallelism is on wherever tp > 1: it divides the norms' and dropouts'
    # activations and work by tp for the same communication (Korthikanti et al. 2022,
    # Sec. 4.2.2), so a layout without it is never better. With tp = 1 it changes nothing,
    # and the rows say False.
    sp = True
    # ZeRO-3 twice: resharding the weights after the forward pass (FSDP's default) or keeping
    # them through the backward (Llama 3); every other stage once
    twice = zs == 3
    rows = np.concatenate([np.arange(len(tp)), np.flatnonzero(twice)])
    reshard = np.concatenate([np.ones(len(tp), dtype=bool), np.zeros(int(twice.sum()), bool)])
    a = {k: x[rows] for k, x in dict(tp=tp, pp=pp, cp=cp, dp=dp, mb=mb, zs=zs, m=m,
                                     il=il, ep=ep).items()}
    moe = {k: (x[rows] if np.ndim(x) else x) for k, x in moe.items()}
    for rc in recomputes:
        times = step_time(
            cfg, acc, n_gpus=n, tokens_per_step=tokens, seq_len=s, tp=a["tp"], pp=a["pp"],
            cp=a["cp"], dp=a["dp"], zero_stage=a["zs"], n_microbatches=a["m"],
            micro_batch=a["mb"], interleave=a["il"], recompute=rc, efficiency=efficiency,
            sequence_parallel=sp, reshard_after_forward=reshard, dp_bandwidth=dp_bandwidth,
            node_bandwidth=node_bandwidth, gpus_per_node=node, dp_overlap=dp_overlap,
            ep=a["ep"], ep_overlap=ep_overlap, **moe, **common,
        )
        mem = _planned_memory(
            cfg, seq_len=s, micro_batch=a["mb"], n_microbatches=a["m"], interleave=a["il"],
            optimizer=optimizer, zero_stage=a["zs"], dp=a["dp"], tp=a["tp"], pp=a["pp"],
            cp=a["cp"], sequence_parallel=sp, recompute=rc, logits=logits,
            reshard_after_forward=reshard, param_dtype=param_dtype, grad_dtype=grad_dtype,
            layer=layer, **({"ep": a["ep"], **moe} if cfg.is_moe else {}),
        )
        k = len(a["tp"])
        parts.append({
            "tp": a["tp"], "pp": a["pp"], "cp": a["cp"], "dp": a["dp"], "ep": a["ep"],
            "interleave": a["il"],
            "zero_stage": a["zs"], "reshard_after_forward": reshard,
            "micro_batch": a["mb"], "n_microbatches": a["m"], "recompute": np.full(k, rc),
            "sequence_parallel": a["tp"] > 1,
            **{key: np.broadcast_to(np.asarray(getattr(mem, key), dtype=float), (k,))
               for key in _MEMORY},
            **{key: np.broadcast_to(np.asarray(times[key], dtype=float), (k,))
               for key in _TIMES},
        })
    if not parts:
        empty = {f: np.array([]) for f in _FIELDS}
        empty["fits"] = np.array([], dtype=bool)
        return Layouts(empty, limit)
    cols = {f: np.concatenate([p[f] for p in parts]) for f in _FIELDS if f != "fits"}
    cols["fits"] = cols["total"] <= limit
    order = np.lexsort((cols["total"], cols["step_time"], ~cols["fits"]))
    return Layouts({f: cols[f][order] for f in _FIELDS}, limit)


# --- the model against the runs -------------------------------------------------------------


@dataclass(frozen=True)
class Reproduction:
    """The step-time model against one published run (:func:`reproduce`).

    Attributes
    ----------
    run : PublishedLayout
    predicted, published : float
        Seconds per step: the model's, and the one implied by the run's printed throughput.
    micro_batch, interleave : int
        The unpublished choices of the best prediction.
    parts : dict
        :func:`trainmath.planner.step_time`'s breakdown of the prediction.
    memory : float
        Bytes on the most loaded GPU with those choices (:func:`trainmath.memory.memory_per_gpu`).
    fits : bool
        Whether that memory fits the accelerator (False only when no choice fits).
    """

    run: PublishedLayout
    predicted: float
    published: float
    micro_batch: int
    interleave: int
    parts: dict = field(repr=False, compare=False)
    memory: float = float("nan")
    fits: bool = True

    @property
    def error(self) -> float:
        """predicted / published - 1 (negative: the model is too fast)."""
        return self.predicted / self.published - 1


def _run_fabric(run: PublishedLayout) -> dict:
    # the run's own network: its NIC rate at the measured share of a 400 Gb/s NIC, and the
    # measured bus bandwidth of its NVLink generation
    return dict(dp_bandwidth=run.nic_bandwidth * NETWORK_BUS_BANDWIDTH / 50e9,
                node_bandwidth=BUS_BANDWIDTH[run.network].bus_bandwidth,
                dp_overlap=run.dp_overlap)


def published_rank(run: PublishedLayout | str, **overrides) -> tuple[int, int]:
    """Where :func:`plan_layouts` ranks a published run's split, and out of how many.

    The planner searches the run's cluster, model, sequence length and batch on the run's
    own fabric (as :func:`reproduce`) with all its other defaults. The split (the run's tp,
    cp, pp and dp) ranks where its fastest layout that fits (any ZeRO stage, recomputation,
    micro-batch size or interleaving) stands among all the layouts that fit.
    ``overrides`` passes anything else on to :func:`plan_layouts`.

    Returns
    -------
    rank, n_fit : int
        1-based rank (0 when no layout of the split fits) and the number of layouts that fit.

    >>> rank, n_fit = published_rank("Llama 3 405B (8,192 H100, s = 8,192)")
    >>> rank / n_fit < 0.1
    True
    """
    if isinstance(run, str):
        run = v.lookup("run", run, PUBLISHED_LAYOUTS)
    v.instance("run", run, PublishedLayout)
    kw = dict(seq_len=run.seq_len, global_batch_tokens=run.tokens_per_step, layer=run.layer,
              **_run_fabric(run))
    kw.update(overrides)
    layouts = plan_layouts(run.cfg, run.accelerator, run.n_gpus, **kw)
    mine = layouts.fastest(tp=run.tp, cp=run.cp, pp=run.pp, dp=run.dp)
    return (0 if mine is None else mine + 1), layouts.n_fit


def reproduce(run: PublishedLayout | str, **overrides) -> Reproduction:
    """Predict a published run's step time with the library's defaults and its own layout.

    Every choice the paper leaves open (:attr:`PublishedLayout.micro_batches`,
    :attr:`PublishedLayout.interleaves`) that fits in the accelerator's memory
    (:func:`trainmath.memory.memory_per_gpu`, as the planner counts it) is tried, and the
    prediction closest to the published step time is returned, with the choice it needed
    (when none fits, the closest of all, marked ``fits=False``). Nothing is fitted: the
    efficiencies are the library's measured defaults, and the bandwidths the run's own
    fabric: the measured bus bandwidth of its ``network`` inside a node, and across nodes
    ``nic_bandwidth`` x 0.91, the share of the NIC rate the measured 400 Gb/s clusters reach
    (45.6 of 50 GB/s per GPU). ``overrides`` passes anything else on to
    :func:`trainmath.planner.step_time`.

    >>> r = reproduce("Llama 3 405B (8,192 H100, s = 8,192)")
    >>> round(r.published, 2), abs(r.error) < 0.15
    (12.02, True)
    """
    if isinstance(run, str):
        run = v.lookup("run", run, PUBLISHED_LAYOUTS)
    v.instance("run", run, PublishedLayout)
    acc = get_accelerator(run.accelerator)
    best = None
    for b in run.micro_batches:
        per_replica = run.global_batch // run.dp
        if per_replica % b:
            continue
        m = per_replica // b
        for i in run.interleaves:
            kw = dict(
                n_gpus=run.n_gpus, tokens_per_step=run.tokens_per_step, seq_len=run.seq_len,
                tp=run.tp, pp=run.pp, cp=run.cp, dp=run.dp, zero_stage=run.zero_stage,
                n_microbatches=m, recompute=run.recompute, micro_batch=b, interleave=i,
                layer=run.layer, sequence_parallel=run.sequence_parallel,
                reshard_after_forward=run.reshard_after_forward, **_run_fabric(run),
            )
            kw.update(overrides)
            parts = {k: float(x) for k, x in step_time(run.cfg, acc, **kw).items()}
            layout = {k: kw[k] for k in _LAYOUT_MEMORY_ARGS}
            memory = float(_planned_memory(run.cfg, param_dtype=kw.get("param_dtype", "bf16"),
                                           grad_dtype=kw.get("grad_dtype"), **layout).total)
            candidate = Reproduction(run, parts["step_time"], run.step_time, b, i, parts,
                                     memory, memory <= acc.memory_bytes)
            # a choice that fits beats one that does not; then the closest wins
            if best is None or (candidate.fits, -abs(candidate.error)) > \
                    (best.fits, -abs(best.error)):
                best = candidate
    if best is None:
        raise ValueError(f"{run.name}: no micro-batch size in {run.micro_batches} divides the "
                         "sequences per data-parallel rank")
    return best
