"""Search parallel layouts: which ones fit in memory, and which is fastest.

:func:`plan_layouts` enumerates every combination of tensor (tp), pipeline (pp), context
(cp) and data (dp) parallel sizes with ``tp * pp * cp * dp = n_gpus``, pipeline
interleaving, ZeRO stage, micro-batch size, recomputation and sequence parallelism;
evaluates the memory of the most loaded GPU with :func:`trainmath.memory.memory_per_gpu`
for all of them at once (numpy arrays), and ranks the layouts that fit by an estimated
step time (:func:`step_time`).

Step-time model (documented assumptions, not a simulator):

* **compute**: the step's hardware FLOPs (model FLOPs :func:`trainmath.compute.flops_per_token`
  plus recomputation :func:`trainmath.compute.recompute_flops_per_token`) at a chosen
  fraction ``efficiency`` of the accelerator's dense peak (the matmul efficiency: bubble
  and communication are modelled separately);
* **tensor- and context-parallel communication**, blocking (on the critical path, as in
  Megatron-LM): :func:`~trainmath.parallelism.tensor_parallel_comm_bytes` and
  :func:`~trainmath.parallelism.context_parallel_comm_bytes` for every micro-batch;
* **pipeline bubble**: (compute + TP + CP time) x (pp - 1) / (v m) (Narayanan et al. 2021,
  Sec. 2.2; v = 1 is plain 1F1B), plus the point-to-point sends between stages
  (:func:`~trainmath.parallelism.pipeline_p2p_bytes`);
* **data-parallel communication**:
  :func:`~trainmath.parallelism.data_parallel_comm_bytes` over the dp x cp ranks that share
  weights (ZeRO-3 is 1.5 x the traffic of stages 0-2 per micro-batch, Rajbhandari et al.
  2019, Sec. 7), minus what hides behind computation (``dp_overlap=True``): the gradient
  reduction of stages 0-2 runs bucket by bucket during the backward pass of the step's
  last micro-batch (Li et al. 2020, PyTorch DDP, Sec. 3.2), ZeRO-3's weight gathers are
  prefetched during the computation of every micro-batch. Only the excess is exposed.

Each collective runs at the per-direction NVLink bandwidth when its group fits in one
node (``gpus_per_node`` GPUs; groups are laid out in Llama 3's order [TP, CP, PP, DP],
TP innermost) and at ``dp_bandwidth`` per GPU (the node's network) when it spans nodes.
Latency, kernel launch overheads, micro-batch size effects on matmul efficiency and
stragglers are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from trainmath import _validate as v
from trainmath.accelerators import Accelerator, get_accelerator
from trainmath.activations import RECOMPUTE
from trainmath.compute import flops_per_token, recompute_flops_per_token
from trainmath.memory import layers_per_stage, memory_per_gpu, params_per_gpu
from trainmath.models import ModelConfig, get_model
from trainmath.optimizers import bytes_per_param, training_bytes_per_param
from trainmath.parallelism import (
    context_parallel_comm_bytes,
    data_parallel_comm_bytes,
    pipeline_p2p_bytes,
    tensor_parallel_comm_bytes,
)
from trainmath.units import delivered_flop_rate

__all__ = ["Layouts", "plan_layouts", "step_time", "NVLINK_BANDWIDTH"]

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

_FIELDS = (
    "tp", "pp", "cp", "dp", "interleave", "zero_stage", "micro_batch", "n_microbatches",
    "recompute", "sequence_parallel", "weights", "gradients", "optimizer", "activations", "total",
    "fits", "step_time", "compute_time", "bubble_time", "comm_time", "tp_comm_time",
    "cp_comm_time", "pp_comm_time", "dp_comm_time", "mfu",
)
#: Memory columns, bytes on the most loaded GPU (the sums of :class:`MemoryBreakdown`).
_MEMORY = ("weights", "gradients", "optimizer", "activations", "total")
_TIMES = (
    "step_time", "compute_time", "bubble_time", "comm_time", "tp_comm_time", "cp_comm_time",
    "pp_comm_time", "dp_comm_time", "mfu",
)
#: Columns that say how the work is split (not how it is scheduled in memory).
SHAPE = ("tp", "pp", "cp", "dp", "interleave", "micro_batch", "recompute")


@dataclass
class Layouts:
    """Evaluated layouts as columns (numpy arrays), fitting ones first, fastest first.

    Columns: tp, pp, cp, dp, interleave (model chunks per GPU), zero_stage, micro_batch,
    n_microbatches, recompute (str), sequence_parallel, weights, gradients, optimizer,
    activations, total (bytes on the most loaded GPU, from
    :func:`trainmath.memory.memory_per_gpu`), fits (bool), step_time,
    compute_time, bubble_time, comm_time (= tp + cp + pp + dp comm), tp_comm_time,
    cp_comm_time, pp_comm_time, dp_comm_time (s), mfu (model FLOPs utilisation implied by
    the step time).
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

    def distinct(self, k: int | None = None, *, fitting: bool = True) -> np.ndarray:
        """Indices of the first row of each distinct way of splitting the work.

        Rows that share tp, pp, cp, dp, interleave, micro_batch and recompute differ only
        in ZeRO stage or sequence parallelism, which change the memory but (stages 0-2,
        sequence parallelism) not the step time; the first of them is the fastest, and
        among equally fast ones the smallest. Returns at most ``k`` indices, in rank order,
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


def _node_bandwidth(accelerator: Accelerator, node_bandwidth) -> float:
    if node_bandwidth is not None:
        return float(v.positive("node_bandwidth", node_bandwidth))
    try:
        return NVLINK_BANDWIDTH[accelerator.name]
    except KeyError:
        known = ", ".join(NVLINK_BANDWIDTH)
        raise ValueError(
            f"node_bandwidth: no NVLink preset for {accelerator.name!r} (presets: {known}); "
            "pass node_bandwidth= (bytes/s per GPU inside a node)"
        ) from None


def step_time(
    cfg: ModelConfig, accelerator: Accelerator, *, n_gpus, tokens_per_step, seq_len, tp, pp, cp,
    dp, zero_stage, n_microbatches, recompute: str, micro_batch=1, interleave=1,
    efficiency=0.5, dtype="bf16", param_dtype="bf16", grad_dtype=None, dp_bandwidth=50e9,
    node_bandwidth=None, gpus_per_node=8, dp_overlap: bool = True,
) -> dict:
    """Estimated seconds per optimizer step for layouts (arrays broadcast); see module doc.

    Parameters
    ----------
    cfg, accelerator : ModelConfig, Accelerator
    n_gpus, tokens_per_step, seq_len : int
        Cluster size, tokens per optimizer step, sequence length.
    tp, pp, cp, dp, interleave, zero_stage, micro_batch, n_microbatches : int or array
        The layout (``dp * micro_batch * n_microbatches * seq_len = tokens_per_step``).
    recompute : {"none", "selective", "full"}
    efficiency : float
        Fraction of the dense peak the matmuls reach.
    dtype, param_dtype, grad_dtype : str
        Compute dtype (for the peak), and the dtypes weights and gradients are sent in
        (``grad_dtype=None``: the weights' dtype).
    dp_bandwidth : float
        Bytes/s per GPU across nodes (50e9 = one 400 Gb/s NIC per GPU, as in Llama 3's
        clusters, Llama 3 paper Sec. 3.3.1).
    node_bandwidth : float, optional
        Bytes/s per GPU inside a node; default :data:`NVLINK_BANDWIDTH` of the accelerator.
    gpus_per_node : int
        GPUs that share NVLink (8 in DGX/HGX servers).
    dp_overlap : bool
        Hide data-parallel communication behind computation where it can run concurrently
        (see the module doc); False gives the upper bound of no overlap.

    Returns
    -------
    dict
        ``step_time``, ``compute_time``, ``bubble_time``, ``comm_time`` (sum of the four
        below), ``tp_comm_time``, ``cp_comm_time``, ``pp_comm_time``, ``dp_comm_time``
        (exposed seconds) and ``mfu``.
    """
    v.instance("cfg", cfg, ModelConfig)
    v.instance("accelerator", accelerator, Accelerator)
    v.flag("dp_overlap", dp_overlap)
    peak = accelerator.peak(dtype)
    eff = v.fraction("efficiency", efficiency)
    fast = _node_bandwidth(accelerator, node_bandwidth)
    slow = float(v.positive("dp_bandwidth", dp_bandwidth))
    node = v.positive_int("gpus_per_node", gpus_per_node)
    tp, pp, cp, dp, interleave, zero_stage, micro_batch, n_microbatches = (
        np.asarray(x) for x in (tp, pp, cp, dp, interleave, zero_stage, micro_batch,
                                n_microbatches)
    )
    model = flops_per_token(cfg, seq_len) * tokens_per_step
    hardware = model + recompute_flops_per_token(cfg, seq_len, recompute) * tokens_per_step
    compute = hardware / delivered_flop_rate(n_gpus, peak, eff)

    def bandwidth(span):  # a group of `span` consecutive ranks: inside a node or not
        return np.where(span <= node, fast, slow)

    layers = layers_per_stage(cfg.n_layers, pp)
    s_local = seq_len // cp
    act = bytes_per_param(dtype)
    tp_bytes = n_microbatches * tensor_parallel_comm_bytes(
        s_local, micro_batch, cfg.d_model, tp, n_layers=layers, act_bytes=act,
        recompute=recompute,
    )
    cp_bytes = n_microbatches * context_parallel_comm_bytes(
        seq_len, micro_batch, cfg.kv_dim / tp, cp, n_layers=layers, act_bytes=act,
        recompute=recompute,
    )
    pp_bytes = pipeline_p2p_bytes(
        s_local, micro_batch, cfg.d_model, n_microbatches, pp=pp, tp=tp, interleave=interleave,
        act_bytes=act,
    )
    shard_params = np.asarray(params_per_gpu(cfg, tp=tp, pp=pp))  # before ZeRO sharding
    dp_bytes = data_parallel_comm_bytes(
        shard_params, dp * cp, zero_stage, n_microbatches=n_microbatches,
        param_bytes=bytes_per_param(param_dtype),
        grad_bytes=bytes_per_param(param_dtype if grad_dtype is None else grad_dtype),
    )
    tp_time = tp_bytes / bandwidth(tp)
    cp_time = cp_bytes / bandwidth(tp * cp)
    pp_time = pp_bytes / bandwidth(tp * cp * pp)
    dp_time = dp_bytes / bandwidth(np.where(dp > 1, n_gpus, tp * cp))
    if dp_overlap:
        # backward share of the hardware FLOPs: all but the forward pass (model / 3)
        last_backward = compute * (1 - model / (3 * hardware)) / n_microbatches
        window = np.where(zero_stage >= 3, compute, last_backward)
        dp_time = np.maximum(dp_time - window, 0.0)
    bubble = (compute + tp_time + cp_time) * (pp - 1) / (interleave * n_microbatches)
    comm = tp_time + cp_time + pp_time + dp_time
    total = compute + bubble + comm
    return {
        "step_time": total, "compute_time": compute, "bubble_time": bubble, "comm_time": comm,
        "tp_comm_time": tp_time, "cp_comm_time": cp_time, "pp_comm_time": pp_time,
        "dp_comm_time": dp_time, "mfu": model / (delivered_flop_rate(n_gpus, peak) * total),
    }


def plan_layouts(
    model: str | ModelConfig = "llama-3-8b",
    accelerator: str | Accelerator = "H100-SXM",
    n_gpus=64,
    *,
    seq_len=None,
    global_batch_tokens=4 * 2**20,
    efficiency=0.5,
    optimizer: str = "adamw",
    param_dtype: str = "bf16",
    grad_dtype: str | None = None,
    dtype: str = "bf16",
    max_tp: int = 8,
    max_cp: int = 16,
    micro_batches=(1, 2, 4, 8),
    zero_stages=(0, 1, 2, 3),
    recomputes=RECOMPUTE,
    interleaves=(1, 2, 4),
    memory_fraction=1.0,
    dp_bandwidth=50e9,
    node_bandwidth=None,
    gpus_per_node=8,
    dp_overlap: bool = True,
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
    efficiency : float
        Fraction of dense peak the matmuls reach (bubble and communication are modelled
        separately, see :func:`step_time`).
    max_tp, max_cp : int
        Largest tensor/context sizes tried (powers of two; tp must divide the KV heads and
        stay inside a node).
    micro_batches, zero_stages, recomputes, interleaves : sequences of choices to enumerate.
        Interleaving (v model chunks per GPU) is tried only with pp > 1, pp * v <= layers
        and at least pp micro-batches (Megatron-LM's interleaved schedule).
    memory_fraction : float
        Share of the accelerator's memory a layout may use (e.g. 0.9 for headroom).
    dp_bandwidth, node_bandwidth, gpus_per_node, dp_overlap
        The network and overlap: see :func:`step_time`.

    Returns
    -------
    Layouts
        Every valid layout, fitting ones first, each group sorted by step time (ties by
        memory).

    Assumptions: the memory model of :func:`trainmath.memory.memory_per_gpu` (the first
    stage's in-flight micro-batches from :func:`trainmath.parallelism.pipeline_in_flight`,
    which interleaving raises; the most loaded stage's ``ceil(L / pp)`` layers also under
    interleaving).
    """
    cfg = get_model(model)
    acc = get_accelerator(accelerator)
    n = v.scalar_int("n_gpus", n_gpus)
    s = cfg.seq_len if seq_len is None else v.scalar_int("seq_len", seq_len)
    tokens = v.scalar_int("global_batch_tokens", global_batch_tokens)
    v.divides("seq_len", s, "global_batch_tokens", tokens)
    n_seq = tokens // s
    v.fraction("efficiency", efficiency)
    limit = acc.memory_bytes * v.fraction("memory_fraction", memory_fraction)
    training_bytes_per_param(param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer)
    acc.peak(dtype)
    _node_bandwidth(acc, node_bandwidth)
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
    pps = [p for p in _powers_of_two(n) if p <= cfg.n_layers]
    cps = [c for c in _powers_of_two(min(max_cp, n)) if s % c == 0]
    grid = np.array(np.meshgrid(tps, pps, cps, mbs, stages, vs, indexing="ij")).reshape(6, -1)
    tp, pp, cp, mb, zs, il = grid
    model_parallel = tp * pp * cp
    ok = n % model_parallel == 0
    dp = np.where(ok, n // np.maximum(model_parallel, 1), 1)
    ok &= n_seq % (dp * mb) == 0
    m = n_seq // np.maximum(dp * mb, 1)
    ok &= (il == 1) | ((pp > 1) & (pp * il <= cfg.n_layers) & (m >= pp))
    tp, pp, cp, mb, zs, il, dp, m = (x[ok] for x in (tp, pp, cp, mb, zs, il, dp, m))

    parts = []
    for rc in recomputes:
        # the step time does not depend on sequence parallelism: one call per recomputation
        t = step_time(
            cfg, acc, n_gpus=n, tokens_per_step=tokens, seq_len=s, tp=tp, pp=pp, cp=cp, dp=dp,
            zero_stage=zs, n_microbatches=m, micro_batch=mb, interleave=il, recompute=rc,
            efficiency=efficiency, dtype=dtype, param_dtype=param_dtype, grad_dtype=grad_dtype,
            dp_bandwidth=dp_bandwidth, node_bandwidth=node_bandwidth, gpus_per_node=node,
            dp_overlap=dp_overlap,
        )
        times = {key: np.broadcast_to(np.asarray(t[key], dtype=float), tp.shape)
                 for key in _TIMES}
        for sp in (False, True):
            sel = tp > 1 if sp else np.ones_like(tp, dtype=bool)
            if not np.any(sel):
                continue
            a = {k: x[sel] for k, x in
                 dict(tp=tp, pp=pp, cp=cp, dp=dp, mb=mb, zs=zs, m=m, il=il).items()}
            mem = memory_per_gpu(
                cfg, seq_len=s, micro_batch=a["mb"], n_microbatches=a["m"],
                interleave=a["il"], param_dtype=param_dtype, grad_dtype=grad_dtype,
                optimizer=optimizer, zero_stage=a["zs"], dp=a["dp"], tp=a["tp"], pp=a["pp"],
                cp=a["cp"], sequence_parallel=sp, recompute=rc,
            )
            k = len(a["tp"])
            sizes = {key: np.broadcast_to(np.asarray(getattr(mem, key), dtype=float), (k,))
                     for key in _MEMORY}
            parts.append({
                "tp": a["tp"], "pp": a["pp"], "cp": a["cp"], "dp": a["dp"],
                "interleave": a["il"], "zero_stage": a["zs"], "micro_batch": a["mb"],
                "n_microbatches": a["m"], "recompute": np.full(k, rc),
                "sequence_parallel": np.full(k, sp), **sizes,
                **{key: times[key][sel] for key in _TIMES},
            })
    if not parts:
        empty = {f: np.array([]) for f in _FIELDS}
        empty["fits"] = np.array([], dtype=bool)
        return Layouts(empty, limit)
    cols = {f: np.concatenate([p[f] for p in parts]) for f in _FIELDS if f != "fits"}
    cols["fits"] = cols["total"] <= limit
    order = np.lexsort((cols["total"], cols["step_time"], ~cols["fits"]))
    return Layouts({f: cols[f][order] for f in _FIELDS}, limit)
