"""Training memory of one GPU, in one place: model states under ZeRO, activations, pipelines.

The course's one memory model, with its terms named after the papers (as Megatron-LM's
``theoretical_memory_usage.py`` is). Every memory figure of the library comes from here:

* **model states** (Rajbhandari et al. 2019, Sec. 3): weights, gradients and optimizer
  states, in bytes per parameter by part from
  :func:`trainmath.optimizers.training_bytes_per_param` (mixed-precision AdamW: 2 + 2 + 12);
* **ZeRO partitioning** (ibid., Sec. 5): stage 1 (P_os) splits the optimizer states over
  the data-parallel group, stage 2 (P_os+g) also the gradients, stage 3 (P_os+g+p, PyTorch
  FSDP's full sharding) also the weights. :data:`ZERO_PARTITIONED_FROM` and
  :func:`zero_partitions` are the only place in the library that knows this rule;
* **tensor and pipeline parallelism** (Shoeybi et al. 2019; Narayanan et al. 2021): the
  parameters of the most loaded GPU (:func:`params_per_gpu`);
* **activations** per layer from Korthikanti et al. 2022, Table 2
  (:func:`trainmath.activations.activation_memory_per_layer`), or of the modern
  Llama-style layer with FlashAttention
  (:func:`trainmath.activations.layer_activation_bytes`, ``layer="modern"``), for the
  layers of one pipeline stage, times the micro-batches the first stage holds in flight
  (:func:`trainmath.parallelism.pipeline_in_flight`: ``min(pp, m)`` for 1F1B, more when
  the schedule is interleaved). Context parallelism splits the sequence: a GPU keeps the
  per-token activations of ``s/cp`` tokens and the attention scores of its ``s/cp`` queries
  against all ``s`` keys;
* **logits** (optional): the fp32 logits the loss keeps on the last pipeline stage
  (:func:`trainmath.activations.logits_activation_bytes`, 4sbV/t); with them the busiest
  GPU is the first stage (its in-flight micro-batches) or the last (one micro-batch and
  the logits), whichever holds more;
* **gathered weights** (optional) of ZeRO-3/FSDP: the unsharded weights of the layers
  being all-gathered (the current one and the prefetched next), or, with Llama 3's
  ``reshard_after_forward=False``, all the stage's weights unsharded as under ZeRO-2.

Functions, from the paper's one-line form to the whole GPU:

* :func:`zero_memory_per_gpu`: ZeRO's Fig. 1 formula, (2 + 2 + K) Psi split by stage;
* :func:`training_state_breakdown`: model states by part for any dtypes and optimizer;
* :func:`min_gpus_to_fit`: the fewest data-parallel GPUs that hold them;
* :func:`memory_per_gpu`: model states and activations of a model under a 4D layout.

Breakdowns are :class:`MemoryBreakdown` with the parts of :data:`MEMORY_PARTS` and a total,
everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from trainmath import _validate as v
from trainmath._breakdown import Breakdown
from trainmath.activations import (
    ACTIVATION_LAYERS,
    RECOMPUTE,
    activation_memory_per_layer,
    default_activation_layer,
    layer_activation_bytes,
    logits_activation_bytes,
)
from trainmath.models import (
    ModelConfig,
    _attention_params,
    _mlp_params,
    _norm_params,
    _router_params,
)
from trainmath.optimizers import DTYPE_BYTES, STATE_PARTS, bytes_per_param, training_bytes_per_param
from trainmath.parallelism import pipeline_in_flight

__all__ = [
    "Breakdown",
    "MemoryBreakdown",
    "MEMORY_PARTS",
    "ZERO_PARTITIONED_FROM",
    "zero_partitions",
    "zero_memory_per_gpu",
    "training_state_breakdown",
    "min_gpus_to_fit",
    "params_per_gpu",
    "PARAM_BUCKETS",
    "param_buckets",
    "layers_per_stage",
    "memory_per_gpu",
]

#: The parts of one GPU's training memory, in the order the course stacks them: the model
#: states of :data:`trainmath.optimizers.STATE_PARTS`, ZeRO-3's gathered (unsharded) weight
#: buffers, the layers' activations, and the logits the loss keeps on the last stage.
MEMORY_PARTS = (*STATE_PARTS, "gathered_weights", "activations", "logits")

#: ZeRO stage from which each part of the model states is partitioned over the
#: data-parallel group (Rajbhandari et al. 2019, Sec. 5.1-5.3): the optimizer states
#: (fp32 master copy, moments, and a separate fp32 gradient buffer, as Megatron-LM's
#: distributed optimizer shards its "main grads") from stage 1, the gradients from 2, the
#: weights from 3.
ZERO_PARTITIONED_FROM = MappingProxyType({
    "weights": 3, "gradients": 2, "grad_buffer": 1, "master": 1, "momentum": 1, "variance": 1,
    "optimizer": 1,  # the optimizer states as one term (ZeRO's K)
})


class MemoryBreakdown(Breakdown):
    """Bytes per GPU by part: the :data:`MEMORY_PARTS`, then ``total``.

    A read-only mapping whose entries are also attributes (``m.total``, ``m.weights``).
    Values are floats, or arrays when an input was an array. Two sums are properties:
    ``optimizer`` (gradient buffer + master copy + moments, ZeRO's K Psi) and
    ``model_states`` (the :data:`~trainmath.optimizers.STATE_PARTS`: weights, gradients and
    optimizer states, without gathered buffers, activations and logits).
    """

    __slots__ = ()

    def __init__(self, parts: Mapping[str, Any]) -> None:
        if set(parts) != set(MEMORY_PARTS):
            raise ValueError(f"a MemoryBreakdown has the parts {MEMORY_PARTS}, got {tuple(parts)}")
        super().__init__({part: parts[part] for part in MEMORY_PARTS})

    @property
    def optimizer(self):
        """Optimizer states: gradient buffer + master copy + momentum + variance."""
        return v.result(sum(np.asarray(self[p]) for p in STATE_PARTS[2:]))

    @property
    def model_states(self):
        """Weights + gradients + optimizer states (what ZeRO partitions)."""
        return v.result(sum(np.asarray(self[p]) for p in STATE_PARTS))


_FP32_BYTES = DTYPE_BYTES["fp32"]
#: The parts of a MemoryBreakdown that are not model states, when there are none.
_NO_BUFFERS = MappingProxyType({"gathered_weights": 0.0, "activations": 0.0, "logits": 0.0})


def zero_partitions(part: str, zero_stage, dp):
    """Ways ZeRO splits ``part`` of the model states: ``dp`` from its stage on, else 1.

    Parameters
    ----------
    part : str
        A key of :data:`ZERO_PARTITIONED_FROM` (a model-state part, or ``"optimizer"``).
    zero_stage : int or array
        0-3 (validated by the caller).
    dp : int or array
        Ranks that hold the same weights (data-parallel, times context-parallel).
    """
    first = v.lookup("part", part, ZERO_PARTITIONED_FROM)
    return np.where(np.asarray(zero_stage) >= first, np.asarray(dp, dtype=float), 1.0)


def _model_states(n_params, per_param, zero_stage, dp) -> dict:
    """Bytes of each model-state part on one GPU: N x bytes/param / ZeRO partitions."""
    n = np.asarray(n_params, dtype=float)
    return {p: n * per_param[p] / zero_partitions(p, zero_stage, dp) for p in STATE_PARTS}


def zero_memory_per_gpu(n_params, dp, zero_stage, *, param_bytes=2, grad_bytes=2,
                        optimizer_bytes=None):
    """Model-state bytes per GPU under ZeRO, in the paper's form (weights + grads + K).

    Rajbhandari et al. 2019, Sec. 5 and Fig. 1, with Psi parameters, K bytes of optimizer
    state per parameter and data-parallel degree N_d:

    * stage 0 (plain DP):            (2 + 2 + K) Psi
    * stage 1, P_os (optimizer):     (2 + 2) Psi + K Psi / N_d
    * stage 2, P_os+g (+ gradients): 2 Psi + (2 + K) Psi / N_d
    * stage 3, P_os+g+p (+ weights): (2 + 2 + K) Psi / N_d   (= PyTorch FSDP "full shard")

    Fig. 1: Psi = 7.5e9, N_d = 64 gives 120 GB (stage 0), 31.4 GB (1), 16.6 GB (2) and
    1.88 GB (3). :func:`training_state_breakdown` gives the same totals by part, with the
    bytes per parameter derived from dtypes and an optimizer.

    Parameters
    ----------
    n_params : float or array
        Psi, the number of parameters (on this model-parallel shard).
    dp : int or array
        Data-parallel degree N_d over which states are partitioned.
    zero_stage : int or array
        ZeRO stage 0, 1, 2 or 3.
    param_bytes, grad_bytes : float
        Bytes per parameter of the weights and gradients (2, 2 in mixed precision).
    optimizer_bytes : float, optional
        K. By default AdamW's, as :func:`trainmath.optimizers.training_bytes_per_param`
        counts it: 12 (fp32 master copy + two moments) for weights narrower than fp32,
        8 when ``param_bytes >= 4``, where the weights are their own fp32 copy.

    Returns
    -------
    float or array
        Bytes per GPU.

    Assumptions: even partitioning; temporary buffers (gathered weights, communication
    buckets) and fragmentation are ignored.
    """
    n = v.nonnegative("n_params", n_params)
    d = v.positive_int("dp", dp)
    stage = v.zero_stage("zero_stage", zero_stage)
    p = v.nonnegative("param_bytes", param_bytes)
    if optimizer_bytes is None:
        adamw = training_bytes_per_param()
        moments = adamw["momentum"] + adamw["variance"]
        k = np.where(np.asarray(p) < _FP32_BYTES, moments + adamw["master"], moments)
    else:
        k = v.nonnegative("optimizer_bytes", optimizer_bytes)
    per_state = {
        "weights": p,
        "gradients": v.nonnegative("grad_bytes", grad_bytes),
        "optimizer": k,
    }
    return v.result(sum(
        n * b / zero_partitions(state, stage, d) for state, b in per_state.items()
    ))


def training_state_breakdown(
    n_params,
    *,
    zero_stage=0,
    dp=1,
    param_dtype: str = "bf16",
    grad_dtype: str | None = None,
    optimizer: str = "adamw",
    master: bool | None = None,
    grad_buffer: bool = False,
) -> MemoryBreakdown:
    """Bytes of model states on one GPU, by part, under ZeRO data parallelism.

    Each part of :func:`trainmath.optimizers.training_bytes_per_param` times the
    parameters, divided over the ``dp`` GPUs once the stage partitions it
    (:data:`ZERO_PARTITIONED_FROM`). Megatron-LM's distributed optimizer is
    ``zero_stage=1``: its README table (fp16 weights 4 + 16/d, bf16 weights with fp32
    gradients 6 + 12/d, fp32 8 + 8/d bytes per parameter) is reproduced (tested).

    Parameters
    ----------
    n_params : float or array
        Parameters of the model (or of one tensor/pipeline-parallel shard).
    zero_stage : int or array
        0 (plain data parallelism, every GPU holds everything) to 3.
    dp : int or array
        Data-parallel GPUs the states are partitioned over.
    param_dtype, grad_dtype, optimizer, master, grad_buffer
        As in :func:`trainmath.optimizers.training_bytes_per_param` (by default
        mixed-precision AdamW, 2 + 2 + 12 = 16 B/param).

    Returns
    -------
    MemoryBreakdown
        Bytes per GPU by part; ``gathered_weights``, ``activations`` and ``logits`` are 0
        (model states only, see
        :func:`memory_per_gpu`).

    Examples
    --------
    Rajbhandari et al. 2019, Fig. 1, Psi = 7.5e9 on N_d = 64 GPUs, stages 0-3:

    >>> m = training_state_breakdown(7.5e9, zero_stage=np.arange(4), dp=64)
    >>> [round(float(gb), 2) for gb in m.total / 1e9]
    [120.0, 31.41, 16.64, 1.88]

    Assumptions: even partitioning; activations (lesson 06), temporary buffers (gathered
    weights under stage 3, communication buckets) and allocator fragmentation are not
    counted.
    """
    n = v.nonnegative("n_params", n_params)
    stage = v.zero_stage("zero_stage", zero_stage)
    d = v.positive_int("dp", dp)
    per_param = training_bytes_per_param(
        param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer, master=master,
        grad_buffer=grad_buffer,
    )
    return MemoryBreakdown({**_model_states(n, per_param, stage, d), **_NO_BUFFERS})


def min_gpus_to_fit(
    n_params,
    memory_bytes,
    *,
    zero_stage=3,
    usable_fraction=1.0,
    param_dtype: str = "bf16",
    grad_dtype: str | None = None,
    optimizer: str = "adamw",
    master: bool | None = None,
    grad_buffer: bool = False,
):
    """Fewest data-parallel GPUs whose memory holds the model states under ZeRO.

    Per GPU the states are ``N (R + S / d)`` bytes, with ``R`` the bytes per parameter
    every GPU keeps whole and ``S`` those partitioned at ``zero_stage`` (see
    :func:`training_state_breakdown`). The answer is the smallest whole ``d`` with
    ``N (R + S / d) <= usable_fraction * memory_bytes``: 1 if one GPU suffices, else
    ``ceil(N S / (budget - N R))``, and ``inf`` when no ``d`` is enough because the
    replicated part alone does not fit (stage 0 beyond one GPU, or stage 1/2 for large
    models): then use a higher stage, tensor/pipeline parallelism or offloading.

    Parameters
    ----------
    n_params : float or array
    memory_bytes : float or array
        Memory of one GPU, e.g. ``tm.ACCELERATORS["H100-SXM"].memory_bytes`` (80e9).
    zero_stage : int or array
        0-3 (default 3, which always has an answer: ``ceil(16 N / memory)`` for
        mixed-precision AdamW, the states spread perfectly over every GPU).
    usable_fraction : float
        Share of the memory the states may take, in (0, 1]; leave room for activations
        and buffers with e.g. 0.8.
    param_dtype, grad_dtype, optimizer, master, grad_buffer
        As in :func:`trainmath.optimizers.training_bytes_per_param`.

    Returns
    -------
    float or array
        A whole number of GPUs, or ``inf``.

    Examples
    --------
    Llama 3 70B (70.55e9 parameters) at 16 B/param on 80 GB GPUs under ZeRO-3:
    16 x 70.55e9 / 80e9 = 14.1, so 15 GPUs.

    >>> min_gpus_to_fit(70.55e9, 80e9)
    15.0

    Assumptions: model states only (a lower bound: activations are lesson 06); even
    partitioning over data parallelism alone.
    """
    n = np.asarray(v.nonnegative("n_params", n_params))
    mem = np.asarray(v.positive("memory_bytes", memory_bytes))
    budget = mem * np.asarray(v.fraction("usable_fraction", usable_fraction))
    stage = v.zero_stage("zero_stage", zero_stage)
    per_param = training_bytes_per_param(
        param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer, master=master,
        grad_buffer=grad_buffer,
    )
    # Bytes per parameter that ZeRO partitions at this stage (a partition count above 1
    # marks them; dp=2 is any count > 1).
    sharded = sum(
        np.where(zero_partitions(p, stage, 2) > 1, per_param[p], 0.0) for p in STATE_PARTS
    )
    need_r, need_s = n * (per_param["total"] - sharded), n * sharded
    room = budget - need_r
    with np.errstate(divide="ignore", invalid="ignore"):
        # The relative nudge keeps an exact fit (e.g. 16 x 5e9 on 80e9 B) from rounding up.
        d = np.ceil(need_s / room * (1 - 1e-12))
    out = np.where(
        need_r + need_s <= budget * (1 + 1e-12), 1.0, np.where(room > 0, d, np.inf)
    )
    return v.result(out)


def layers_per_stage(n_layers, pp):
    """Layers on the most loaded pipeline stage: ceil(L / pp) (stages as even as possible)."""
    L = v.positive_int("n_layers", n_layers)
    p = v.positive_int("pp", pp)
    if np.any(np.asarray(p) > np.asarray(L)):
        raise ValueError(f"pp must be <= n_layers={n_layers!r}, got {pp!r}")
    return -(-np.asarray(L) // np.asarray(p)) if np.ndim(p) or np.ndim(L) else -(-L // p)


#: How the parameters of one GPU split by the way they are parallelised (Megatron-Core's
#: buckets, Megatron-LM PR #4687): split ``tp`` ways by tensor parallelism (attention heads,
#: MLP and shared-expert matrices, the vocabulary), replicated on every tensor-parallel rank
#: (norms, output biases, the router, latent attention's down-projections), and the routed
#: experts (``n_experts / ep`` experts per GPU, each split ``etp`` ways).
PARAM_BUCKETS = ("tensor_parallel", "replicated", "expert")


def _mla_replicated(cfg: ModelConfig) -> int:
    """Latent attention's parameters every tensor-parallel rank holds whole: the query and
    key-value down-projections and the latents' norms (Megatron-Core's MLA duplicates them)."""
    if cfg.attention != "mla":
        return 0
    q = 0 if cfg.q_lora_rank is None else cfg.d_model * cfg.q_lora_rank + _norm_params(
        cfg, cfg.q_lora_rank)
    kv = cfg.d_model * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) + _norm_params(
        cfg, cfg.kv_lora_rank)
    return q + kv


def _layer_buckets(cfg: ModelConfig, kind: str, tp, ep, etp) -> tuple:
    """Parameters of one layer on one GPU: (tensor-parallel share, replicated, experts).

    Weight matrices and column-parallel biases (Q, K, V, first MLP matrices) are split t
    ways; the output-projection and second-MLP biases, the norms (qk-norms included), the
    router and MLA's down-projections are replicated; routed experts are spread over ``ep``
    GPUs and each split ``etp`` ways (its output bias replicated).
    """
    bias = cfg.d_model if cfg.bias else 0
    qk = 2 * _norm_params(cfg, cfg.head_dim) if cfg.qk_norm else 0
    replicated = 2 * _norm_params(cfg) + bias + qk + _mla_replicated(cfg)
    split = _attention_params(cfg) - bias - qk - _mla_replicated(cfg)
    experts = 0.0
    if kind == "moe":
        shared = cfg.n_shared_experts
        replicated = replicated + _router_params(cfg) + shared * bias
        split += shared * (_mlp_params(cfg, cfg.moe_d_ff) - bias)
        one = _mlp_params(cfg, cfg.moe_d_ff)
        experts = cfg.n_experts / np.asarray(ep, dtype=float) * (
            (one - bias) / np.asarray(etp, dtype=float) + bias)
    else:
        replicated = replicated + bias
        split += _mlp_params(cfg, cfg.d_ff) - bias
    return split / np.asarray(tp, dtype=float), float(replicated), experts


def _tp_layer_params(cfg: ModelConfig, tp, ep=1, etp=None, kind: str = "dense"):
    """Parameters of one layer (dense or MoE) on one GPU, all buckets together."""
    split, replicated, experts = _layer_buckets(cfg, kind, tp, ep, tp if etp is None else etp)
    return split + replicated + experts


def _stage_layers(cfg: ModelConfig, p, first=None, last=None):
    """(dense, MoE) layers of the first, the last and the second pipeline stage (the
    busiest of the middle ones: it holds the most micro-batches in flight), the first
    ``n_dense_layers`` of the model on the first stages.

    By default ``ceil(L/pp)`` layers on every stage (as even as possible, the last one
    counted full); ``first`` and ``last`` set the first and last stages' layers (Megatron-LM's
    ``--decoder-first-pipeline-num-layers`` and ``--decoder-last-pipeline-num-layers``), the
    middle stages sharing the rest, ``ceil((L - first - last)/(pp - 2))`` each. No middle
    stage when pp <= 2."""
    L = cfg.n_layers
    per_stage = layers_per_stage(L, p)
    p = np.asarray(p)
    f = per_stage if first is None else first
    la = per_stage if last is None else last
    if first is None and last is None:
        mid = per_stage
    else:
        mid = -(-(L - f - la) // np.maximum(p - 2, 1))
    mid = np.where(p > 2, mid, 0)
    n_dense = L - cfg.n_moe_layers
    first_dense = np.minimum(n_dense, f)
    last_dense = np.clip(n_dense - (L - la), 0, la)
    mid_dense = np.clip(n_dense - f, 0, mid)
    return ((first_dense, f - first_dense), (last_dense, la - last_dense),
            (mid_dense, mid - mid_dense))


def _stage_buckets(cfg: ModelConfig, t, p, ep=1, etp=None, first_layers=None,
                   last_layers=None) -> tuple:
    """Parameters of the first, the last and the second pipeline stage on one GPU, by bucket
    (first and last equal when p = 1): their layers (:func:`_stage_layers`); the first stage
    adds the token (and learned-position) embeddings, the last the final norm and the LM
    head (Megatron's copy of the embedding when tied); one stage holds everything, a tied
    head once. Vocabulary matrices are split ``tp`` ways."""
    et = t if etp is None else etp
    dense = _layer_buckets(cfg, "dense", t, ep, et)
    moe = _layer_buckets(cfg, "moe", t, ep, et) if cfg.is_moe else (0.0, 0.0, 0.0)
    vocab = cfg.vocab_size * cfg.d_model / np.asarray(t, dtype=float)
    position = cfg.seq_len * cfg.d_model if cfg.position == "learned" else 0
    final_norm = _norm_params(cfg)

    def layers(n_dense, n_moe):
        if not cfg.is_moe:
            return [n_dense * x for x in dense]
        return [n_dense * x + n_moe * y for x, y in zip(dense, moe, strict=True)]

    (fd, fm), (ld, lm), (md, mm) = _stage_layers(cfg, p, first_layers, last_layers)
    first, last, middle = layers(fd, fm), layers(ld, lm), layers(md, mm)
    head = 0 if cfg.tied_embeddings else vocab
    one = [first[0] + vocab + head, first[1] + position + final_norm, first[2]]
    first = [first[0] + vocab, first[1] + position, first[2]]
    last = [last[0] + vocab, last[1] + final_norm, last[2]]
    single = np.asarray(p) == 1
    return ([np.where(single, o, f) for o, f in zip(one, first, strict=True)],
            [np.where(single, o, x) for o, x in zip(one, last, strict=True)],
            [np.asarray(x, dtype=float) for x in middle])


def _check_ep(cfg: ModelConfig, ep, etp, tp):
    """Validated ``ep`` and ``etp`` (default ``tp``) for ``cfg``."""
    e = v.positive_int("ep", ep)
    et = tp if etp is None else v.positive_int("etp", etp)
    if not cfg.is_moe:
        if np.any(np.asarray(e) > 1) or etp is not None:
            raise ValueError(f"ep and etp apply to mixtures of experts; {cfg.name or 'cfg'} "
                             f"is dense (n_experts=0)")
        return e, et
    v.divides("ep", e, "n_experts", cfg.n_experts, note="(whole experts per GPU)")
    v.divides("etp", et, "moe_d_ff", cfg.moe_d_ff)
    return e, et


def _check_split(cfg: ModelConfig, tp, pp, ep, etp) -> tuple:
    """Validated tp (float array), pp, ep and etp of a layout of ``cfg``."""
    t = np.asarray(v.positive_int("tp", tp), dtype=float)
    layers_per_stage(cfg.n_layers, pp)  # pp <= n_layers, in the caller's own terms
    p = np.asarray(pp)
    # n_kv_heads divides n_heads, so this covers both
    v.divides("tp", tp, "n_kv_heads", cfg.n_kv_heads, note="(Megatron splits whole KV groups)")
    e, et = _check_ep(cfg, ep, etp, t)
    return t, p, e, et


def params_per_gpu(cfg: ModelConfig, *, tp=1, pp=1, ep=1, etp=None):
    """Parameters held by the most loaded GPU after tensor, pipeline and expert parallelism.

    With ``tp = pp = ep = 1`` this is exactly :func:`trainmath.models.param_count`.
    Otherwise the larger of the first stage (its layers + token and learned-position
    embeddings) and the last stage (its layers + final norm + LM head, a copy of the
    embedding when tied), with ``ceil(L/pp)`` layers each; vocabulary matrices are split
    ``tp`` ways; routed experts ``ep`` ways, each ``etp`` ways (default ``tp``). The
    buckets: :func:`param_buckets`.
    """
    return v.result(param_buckets(cfg, tp=tp, pp=pp, ep=ep, etp=etp).total)


def param_buckets(cfg: ModelConfig, *, tp=1, pp=1, ep=1, etp=None) -> Breakdown:
    """Parameters of the most loaded GPU by bucket (:data:`PARAM_BUCKETS`), and their total.

    The three buckets behave differently under parallelism, and a mixture of experts is
    mostly the third: DeepSeek-V3 on one GPU (``tp = pp = ep = 1``) is 2.4 %
    tensor-parallel matrices, 0.15 % replicated and 97.4 % routed experts; with 64-way
    expert parallelism each GPU keeps 4 of the 256 experts of a layer.

    Parameters
    ----------
    cfg : ModelConfig
    tp, pp : int or array
        Tensor and pipeline parallel sizes.
    ep : int or array
        Expert parallelism: GPUs the routed experts of a layer are spread over (must
        divide ``n_experts``; 1 for a dense model).
    etp : int or array, optional
        Expert tensor parallelism: ways each expert is split (default ``tp``, Megatron-LM's
        default; 1 keeps experts whole, as DeepSeek-V3 and Megatron-Core's "parallel
        folding" do).

    Returns
    -------
    Breakdown
        ``tensor_parallel``, ``replicated``, ``expert`` and ``total``.

    Examples
    --------
    Mixtral 8x7B with 2-way tensor and 4-way expert parallelism: two experts per GPU,
    each split in two like the attention, in billions:

    >>> import trainmath as tm
    >>> b = param_buckets(tm.MOE_MODELS["mixtral-8x7b"], tp=2, ep=4)
    >>> {k: round(x / 1e9, 3) for k, x in b.items()}
    {'tensor_parallel': 0.802, 'replicated': 0.001, 'expert': 5.637, 'total': 6.441}
    """
    v.instance("cfg", cfg, ModelConfig)
    return Breakdown(dict(zip(PARAM_BUCKETS, _heaviest_stage(cfg, *_check_split(
        cfg, tp, pp, ep, etp)), strict=True)))


def _heaviest_stage(cfg: ModelConfig, t, p, e=1, et=None) -> list:
    """:func:`param_buckets` on validated arrays: the buckets of the stage with the most
    parameters per GPU (the planner's hot path)."""
    first, last, middle = _stage_buckets(cfg, t, p, e, et)
    heavier = sum(first) >= sum(last)
    out = [np.where(heavier, f, x) for f, x in zip(first, last, strict=True)]
    if not cfg.is_moe:  # every layer alike: the middle stage has no more than the first
        return out
    # a middle stage of MoE layers can outweigh a first stage of dense ones
    middle_heavier = sum(middle) > sum(out)
    return [np.where(middle_heavier, mid, x) for mid, x in zip(middle, out, strict=True)]


def memory_per_gpu(
    cfg: ModelConfig,
    *,
    seq_len=None,
    micro_batch=1,
    n_microbatches=1,
    interleave=1,
    param_dtype: str = "bf16",
    grad_dtype: str | None = None,
    optimizer: str = "adamw",
    master: bool | None = None,
    grad_buffer: bool = False,
    zero_stage=0,
    dp=1,
    tp=1,
    pp=1,
    cp=1,
    sequence_parallel: bool = False,
    recompute: str = "none",
    layer: str | None = "korthikanti",
    logits: bool = False,
    reshard_after_forward: bool | np.ndarray = True,
    gathered_layers=0,
    fused_mlp: bool = True,
    ep=1,
    etp=None,
    capacity_factor=1.0,
    term_bytes: Mapping[str, float] | None = None,
    dualpipe: bool = False,
    first_stage_layers: int | None = None,
    last_stage_layers: int | None = None,
) -> MemoryBreakdown:
    """Training memory of the most loaded GPU, by part, in bytes.

    Parameters
    ----------
    cfg : ModelConfig
    seq_len : int or array, optional
        Sequence length s (defaults to ``cfg.seq_len``).
    micro_batch : int or array
        Sequences per micro-batch b on one data-parallel rank.
    n_microbatches : int or array
        Micro-batches per step m.
    interleave : int or array
        Model chunks per GPU v of Megatron-LM's interleaved pipeline schedule (1: plain
        1F1B; > 1 needs pp > 1). The first stage holds
        ``pipeline_in_flight(pp, m, v)`` micro-batches' worth of its layers' activations.
    param_dtype, grad_dtype, optimizer, master
        The model states' setup, as in
        :func:`trainmath.optimizers.training_bytes_per_param` (default: mixed-precision
        AdamW, 2 + 2 + 12 = 16 B/param; fp32 weights keep no separate master copy:
        4 + 4 + 4 + 4 = 16).
    grad_buffer : bool
        A separate fp32 gradient-accumulation buffer (4 B/param) next to 16-bit gradients:
        Megatron-LM's "main grads", which accumulate the micro-batches' gradients in fp32
        and which its distributed optimizer shards from ZeRO stage 1
        (:data:`ZERO_PARTITIONED_FROM`). Accumulating in fp32 without a 16-bit copy is
        ``grad_dtype="fp32"`` instead (Llama 3's choice, sharded from stage 2).
    zero_stage : int or array
        0-3, partitioning over the ``dp * cp`` ranks that hold the same weights.
    dp, tp, pp, cp : int or array
        Data, tensor, pipeline and context parallel sizes.
    sequence_parallel : bool
        Megatron sequence parallelism (with tp > 1).
    recompute : {"none", "selective", "full"}
    layer : {"korthikanti", "modern"} or None
        The activation accounting of one layer
        (:func:`trainmath.activations.layer_activation_bytes`): Korthikanti's GPT layer
        (default) or the modern Llama-style layer with FlashAttention; ``None`` picks
        :func:`trainmath.activations.default_activation_layer` (modern for rotary-position
        models). A mixture of experts or latent attention needs the modern layer.
    logits : bool
        Count what the LM head and the loss keep on the last pipeline stage
        (:func:`trainmath.activations.logits_activation_bytes`: the fp32 logits, 4sbV/t,
        of one micro-batch at a time). The result is then the busier of the first stage
        (its in-flight micro-batches, ``pipeline_in_flight(pp, m, v)``, and the embedding)
        and the last stage (the micro-batches it holds, one for 1F1B, and the logits and
        the head). Default ``False``: no logits, and, as before, the larger stage's model
        states with the first stage's activations.
    reshard_after_forward : bool or array of bool
        ZeRO-3 (PyTorch FSDP) frees the gathered weights after each layer's forward pass
        and gathers them again for its backward (default). ``False`` is Llama 3's FSDP
        mode (Llama 3 paper, arXiv:2407.21783, Sec. 3.3.2: weights, gradients and
        optimizer states are sharded, but the weights are not resharded after the forward
        pass, saving the backward's all-gather): the stage's weights are then resident
        unsharded as under ZeRO-2, while gradients and optimizer states stay sharded.
        Only matters with ``zero_stage=3``.
    gathered_layers : int or array
        Under ZeRO-3 with resharding, the layers whose unsharded weights are all-gathered
        at the same time: 2 for FSDP's current layer plus the prefetched next one
        (``gathered_weights`` = 2 layers' tp-local weights in ``param_dtype``). Default 0:
        the buffers are not counted (as before).
    fused_mlp : bool
        The modern layer's SwiGLU as one fused kernel (Megatron-Core, torch.compile), keeping
        3 tensors of width d_ff; False: eager PyTorch, which keeps a fourth
        (:func:`trainmath.activations.layer_activation_breakdown`).
    ep, etp : int or array
        Expert parallelism and expert tensor parallelism of a mixture of experts
        (:func:`param_buckets`): each GPU holds ``n_experts / ep`` routed experts per MoE
        layer, split ``etp`` ways (default ``tp``). The experts' model states are
        replicated, and ZeRO-partitioned, over the expert-data-parallel group of
        ``dp * cp * tp / (ep * etp)`` GPUs that hold the same experts, the rest over
        ``dp * cp`` as for a dense model; ``ep * etp`` must divide ``dp * cp * tp``.
    capacity_factor : float or array
        Token copies the busiest GPU's experts receive over a balanced router's
        (:func:`trainmath.activations.layer_activation_breakdown`).
    term_bytes : mapping, optional
        Bytes per value of named activation terms, overriding ``act_bytes`` (2): 0 for a
        tensor recomputed in the backward pass rather than kept, 1 for one cached in fp8.
        DeepSeek-V3's choices are :data:`trainmath.activations.DEEPSEEK_V3_TERM_BYTES`.
    dualpipe : bool
        DeepSeek-V3's DualPipe schedule (DeepSeek-V3 Sec. 3.2.1 and the DualPipe README):
        each GPU holds two stages, i and pp - 1 - i (parameters 2x: the first GPU has the
        embedding and the LM head), and ``pp + 1`` micro-batches' worth of a stage's
        activations; pp must be even. The busiest GPU is then the first (stages 0 and
        pp - 1) or the second (stages 1 and pp - 2).
    first_stage_layers, last_stage_layers : int, optional
        Layers of the first and the last pipeline stage, which also hold the embedding and
        the output layer (Megatron-LM's ``--decoder-first-pipeline-num-layers`` and
        ``--decoder-last-pipeline-num-layers``); the middle stages share the rest. Default:
        ``ceil(L/pp)`` on every stage. Needs pp >= 2 and no interleaving.

    The busiest GPU is the busier of the first stage (its in-flight micro-batches and the
    embedding), the last (with ``logits``: its micro-batch, the logits and the head) and,
    when pp > 2, the second, which holds one micro-batch fewer than the first but may hold
    more layers, or heavier ones (a mixture of experts' MoE layers after its dense ones).

    Returns
    -------
    MemoryBreakdown
        The model-state parts, ``gathered_weights``, ``activations``, ``logits`` and
        ``total`` (bytes).

    Examples
    --------
    Llama 3 8B on 8 GPUs (ZeRO-3 over dp 8), 8,192-token sequences, the modern layer and
    the logits, in GB: the activations of 32 layers (37 GB) and the fp32 logits (4.3 GB)
    dwarf the 16 GB of model states:

    >>> import trainmath as tm
    >>> m = memory_per_gpu(tm.MODELS["llama-3-8b"], seq_len=8192, zero_stage=3, dp=8,
    ...                    layer="modern", logits=True)
    >>> for part, x in m.items():
    ...     if x:
    ...         print(f"{part:12s} {x / 1e9:5.1f}")
    weights        2.0
    gradients      2.0
    master         4.0
    momentum       4.0
    variance       4.0
    activations   36.5
    logits         4.3
    total         56.9

    Special cases (tested): with ``tp = pp = cp = 1`` the model states equal
    :func:`training_state_breakdown` of ``param_count(cfg)``; with ``pp = cp = 1`` the
    activations equal ``n_layers * activation_memory_per_layer(...)``.

    Which GPU is the busiest: with 1F1B the first stage holds ``min(pp, m)`` micro-batches
    of activations and the last stage one, plus the logits of one micro-batch (4sbV/t:
    0.53 GB for an 8,192-token sequence at V = 128,256 and t = 8) and the LM head. The
    first stage is the busiest unless the layers per stage are few and the vocabulary
    large (one layer's activations of the modern Llama 3 405B layer at t = 8 are 0.53 GB
    per sequence).

    Assumptions: Korthikanti's activation accounting (GPT-style layer, 16-bit
    activations, 1-byte dropout masks, attention scores materialised) unless
    ``layer="modern"``; the embedding's saved token ids (8sb), temporary buffers
    (gathered weights unless ``gathered_layers``, unsharded gradients before their
    reduce-scatter, communication buckets, the loss's gradient) and allocator
    fragmentation are not counted (real runs need headroom: plan for ~10-20 % more).
    """
    v.instance("cfg", cfg, ModelConfig)
    s = cfg.seq_len if seq_len is None else v.positive_int("seq_len", seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    m = v.positive_int("n_microbatches", n_microbatches)
    il = v.positive_int("interleave", interleave)
    d = v.positive_int("dp", dp)
    c = v.positive_int("cp", cp)
    p = v.positive_int("pp", pp)
    t = v.positive_int("tp", tp)
    stage = v.zero_stage("zero_stage", zero_stage)
    v.choice("recompute", recompute, RECOMPUTE)
    layer = default_activation_layer(cfg) if layer is None else v.choice(
        "layer", layer, ACTIVATION_LAYERS)
    if layer == "korthikanti" and (cfg.is_moe or cfg.attention == "mla"):
        raise ValueError("layer='korthikanti' (the default) is Korthikanti et al.'s dense GPT "
                         "layer; for a mixture of experts or latent attention pass "
                         "layer='modern' (or None)")
    v.flag("logits", logits)
    reshard = v.flags("reshard_after_forward", reshard_after_forward)
    v.flag("fused_mlp", fused_mlp)
    v.flag("dualpipe", dualpipe)
    gathered = v.positive_int("gathered_layers", gathered_layers, minimum=0)
    v.divides("cp", c, "seq_len", s)
    if np.any((np.asarray(il) > 1) & (np.asarray(p) == 1)):
        raise ValueError(f"interleave > 1 needs pp > 1 (got interleave={interleave!r}, pp={pp!r})")
    split = (first_stage_layers, last_stage_layers)
    if split != (None, None):
        first_stage_layers, last_stage_layers = (
            layers_per_stage(cfg.n_layers, p) if x is None else v.scalar_int(name, x, minimum=0)
            for x, name in zip(split, ("first_stage_layers", "last_stage_layers"), strict=True))
        if np.any(np.asarray(p) < 2) or np.any(np.asarray(il) > 1):
            raise ValueError("first_stage_layers and last_stage_layers need pp >= 2 and "
                             "interleave 1")
        rest = cfg.n_layers - first_stage_layers - last_stage_layers
        if np.any(rest < 0) or np.any((np.asarray(p) == 2) & (rest != 0)):
            raise ValueError(f"first_stage_layers + last_stage_layers must be at most "
                             f"n_layers={cfg.n_layers}, and equal to it with pp=2 (got "
                             f"{first_stage_layers} + {last_stage_layers}, pp={pp!r})")
    if dualpipe and (np.any(np.asarray(p) % 2) or np.any(np.asarray(il) > 1)):
        raise ValueError(f"dualpipe=True pairs stage i with stage pp - 1 - i: pp must be even "
                         f"and interleave 1 (got pp={pp!r}, interleave={interleave!r})")
    per_param = training_bytes_per_param(
        param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer, master=master,
        grad_buffer=grad_buffer,
    )
    t_arr, p_arr, e, et = _check_split(cfg, t, p, ep, etp)

    # ZeRO partitions over every rank that holds the same weights: dp x cp for the dense
    # parameters, the expert-data-parallel group for the routed experts. Without
    # resharding after the forward pass (Llama 3's FSDP) ZeRO-3 keeps the weights whole.
    shards = np.asarray(d) * np.asarray(c)
    expert_shards = shards * t_arr / (np.asarray(e) * np.asarray(et))
    if cfg.is_moe and np.any(expert_shards % 1):
        raise ValueError(f"ep * etp must divide dp * cp * tp (the GPUs of a pipeline stage), "
                         f"got ep={ep!r}, etp={et!r}, dp={dp!r}, cp={cp!r}, tp={tp!r}")
    weight_stage = np.where(reshard, stage, np.minimum(stage, 2))

    def states(buckets) -> dict:
        dense = np.asarray(buckets[0] + buckets[1], dtype=float)
        if not cfg.is_moe:
            out = _model_states(dense, per_param, stage, shards)
            out["weights"] = (dense * per_param["weights"]
                              / zero_partitions("weights", weight_stage, shards))
            return out
        experts = np.asarray(buckets[2], dtype=float)
        out = {}
        for part, one, many in zip(STATE_PARTS, _model_states(dense, per_param, stage, shards)
                                   .values(), _model_states(experts, per_param, stage,
                                                            expert_shards).values(),
                                   strict=True):
            out[part] = one + many
        out["weights"] = sum(
            n * per_param["weights"] / zero_partitions("weights", weight_stage, k)
            for n, k in ((dense, shards), (experts, expert_shards)))
        return out

    heaviest = "moe" if cfg.is_moe else "dense"
    gathering = (np.asarray(weight_stage) == 3) & (np.asarray(gathered) > 0)
    buffers = np.where(
        gathering,
        np.asarray(gathered) * _tp_layer_params(cfg, t_arr, e, et, heaviest)
        * bytes_per_param(param_dtype),
        0.0,
    )

    # Context parallelism: per-token terms for the local s/cp tokens, attention scores for
    # the local s/cp queries against all s keys (cp times the scores of length s/cp).
    s_local = np.asarray(s) // np.asarray(c)
    kw = dict(tp=t, sequence_parallel=sequence_parallel)
    if layer == "modern":  # no scores: everything is per token
        def per_layer(moe):
            return layer_activation_bytes(
                cfg, s_local, b, recompute=recompute, layer="modern", fused_mlp=fused_mlp,
                moe=moe, etp=et if cfg.is_moe else None, capacity_factor=capacity_factor,
                term_bytes=term_bytes, **kw)
        dense_layer = per_layer(False)
        moe_layer = per_layer(True) if cfg.is_moe else 0.0
    else:
        if term_bytes is not None:
            raise ValueError("term_bytes applies to layer='modern'")
        h, a = cfg.d_model, cfg.n_heads
        if recompute == "none":
            without_scores = activation_memory_per_layer(s_local, b, h, a, recompute="selective",
                                                         **kw)
            scores = activation_memory_per_layer(s_local, b, h, a, **kw) - without_scores
            dense_layer = without_scores + scores * np.asarray(c)
        else:
            dense_layer = activation_memory_per_layer(s_local, b, h, a, recompute=recompute,
                                                      **kw)
        moe_layer = 0.0
    (fd, fm), (ld, lm), (md, mm) = _stage_layers(cfg, p, first_stage_layers,
                                                 last_stage_layers)
    first_stage = np.asarray(dense_layer) * fd + np.asarray(moe_layer) * fm
    last_stage = np.asarray(dense_layer) * ld + np.asarray(moe_layer) * lm
    middle_stage = np.asarray(dense_layer) * md + np.asarray(moe_layer) * mm
    first_params, last_params, middle_params = _stage_buckets(
        cfg, t_arr, p_arr, e, et, first_stage_layers, last_stage_layers)
    m_arr, il_arr = np.asarray(m, dtype=float), np.asarray(il, dtype=float)

    def busier(a: dict, b: dict) -> MemoryBreakdown:
        a_total = sum(np.asarray(x, dtype=float) for x in a.values())
        b_total = sum(np.asarray(x, dtype=float) for x in b.values())
        pick = a_total >= b_total
        return MemoryBreakdown({part: np.where(pick, a[part], b[part]) for part in MEMORY_PARTS})

    if dualpipe:
        # Stages 0 and pp - 1 on the first GPU: both stages' parameters, pp + 1 stage
        # micro-batches of activations (the larger stage's, to be safe), and the logits;
        # stages 1 and pp - 2 on the second (for pp >= 4), with as many micro-batches.
        both = [x + y for x, y in zip(first_params, last_params, strict=True)]
        loss = logits_activation_bytes(cfg, s_local, b, **kw) if logits else 0.0
        ends = {**states(both), "gathered_weights": buffers,
                "activations": (p_arr + 1) * np.maximum(first_stage, last_stage),
                "logits": np.asarray(loss, dtype=float)}
        inner = {**states([2 * x for x in middle_params]), "gathered_weights": buffers,
                 "activations": (p_arr + 1) * middle_stage, "logits": 0.0}
        return busier(ends, inner)

    first_acts = first_stage * np.asarray(pipeline_in_flight(p, m, il))
    # The second stage holds one micro-batch fewer than the first under 1F1B (the
    # interleaved schedule's rank 1 runs v p + p - 3 chunk forwards before its first
    # backward, two fewer than rank 0). With every layer alike and the stages even it holds
    # no more than the first stage, which also has the embedding: only a mixture of experts
    # or an uneven split can make it the busiest.
    middle = None
    if cfg.is_moe or split != (None, None):
        middle = {**states(middle_params), "gathered_weights": buffers,
                  "activations": middle_stage * np.where(
                      (il_arr > 1) & (p_arr > 1),
                      np.minimum(il_arr * p_arr + p_arr - 3, m_arr * il_arr) / il_arr,
                      np.minimum(p_arr - 1, m_arr)),
                  "logits": 0.0}

    def busiest(a: dict) -> MemoryBreakdown:
        return busier(dict(a), middle) if middle is not None else MemoryBreakdown(a)

    if not logits:
        # As before: the larger stage's model states with the first stage's activations
        # (or the second stage, when it holds more).
        heavier = sum(first_params) >= sum(last_params)
        params = [np.where(heavier, f, x) for f, x in zip(first_params, last_params, strict=True)]
        ends = {**states(params), "gathered_weights": buffers, "activations": first_acts,
                "logits": 0.0}
        return busiest(ends)

    # The last stage holds one micro-batch's layers under 1F1B (the interleaved schedule's
    # last rank runs (v - 1) p warm-up chunk forwards first: ((v - 1) p + 1) / v stages'
    # worth), and the logits of one micro-batch at a time.
    last_in_flight = np.where(
        (il_arr > 1) & (p_arr > 1),
        np.minimum((il_arr - 1) * p_arr + 1, m_arr * il_arr) / il_arr,
        1.0,
    )
    loss = logits_activation_bytes(cfg, s_local, b, **kw)
    first = {**states(first_params), "gathered_weights": buffers,
             "activations": first_acts, "logits": np.where(p_arr == 1, loss, 0.0)}
    last = {**states(last_params), "gathered_weights": buffers,
            "activations": np.where(p_arr == 1, first_acts, last_stage * last_in_flight),
            "logits": np.asarray(loss)}
    ends = busier(first, last)
    return ends if middle is None else busiest(ends.parts())
