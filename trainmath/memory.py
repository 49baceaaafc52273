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
  (:func:`trainmath.activations.activation_memory_per_layer`), for the layers of one
  pipeline stage, times the micro-batches the first stage holds in flight
  (:func:`trainmath.parallelism.pipeline_in_flight`: ``min(pp, m)`` for 1F1B, more when
  the schedule is interleaved). Context parallelism splits the sequence: a GPU keeps the
  per-token activations of ``s/cp`` tokens and the attention scores of its ``s/cp`` queries
  against all ``s`` keys.

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
from trainmath.activations import RECOMPUTE, activation_memory_per_layer
from trainmath.models import ModelConfig, _layer_params, _norm_params
from trainmath.optimizers import STATE_PARTS, training_bytes_per_param
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
    "layers_per_stage",
    "memory_per_gpu",
]

#: The parts of one GPU's training memory, in the order the course stacks them: the model
#: states of :data:`trainmath.optimizers.STATE_PARTS`, then the activations.
MEMORY_PARTS = (*STATE_PARTS, "activations")

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
    ``model_states`` (everything but the activations).
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
        return v.result(np.asarray(self["total"]) - np.asarray(self["activations"]))


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
                        optimizer_bytes=12):
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
    param_bytes, grad_bytes, optimizer_bytes : float
        Bytes per parameter of each state (2, 2, 12 for mixed-precision AdamW).

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
    per_state = {
        "weights": v.nonnegative("param_bytes", param_bytes),
        "gradients": v.nonnegative("grad_bytes", grad_bytes),
        "optimizer": v.nonnegative("optimizer_bytes", optimizer_bytes),
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
        Bytes per GPU by part; ``activations`` is 0 (model states only, see
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
    return MemoryBreakdown({**_model_states(n, per_param, stage, d), "activations": 0.0})


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


def _tp_layer_params(cfg: ModelConfig, tp):
    """Parameters of one layer on one tensor-parallel rank.

    Weight matrices and column-parallel biases (Q, K, V, first MLP matrices) are split;
    the output-projection and second-MLP biases and the norms are replicated.
    """
    replicated = 2 * _norm_params(cfg) + (2 * cfg.d_model if cfg.bias else 0)
    return (_layer_params(cfg) - replicated) / tp + replicated


def params_per_gpu(cfg: ModelConfig, *, tp=1, pp=1):
    """Parameters held by the most loaded GPU after tensor and pipeline parallelism.

    With ``tp = pp = 1`` this is exactly :func:`trainmath.models.param_count`. Otherwise
    the larger of the first stage (its layers + token and learned-position embeddings)
    and the last stage (its layers + final norm + LM head, a copy of the embedding when
    tied), with ``ceil(L/pp)`` layers each; vocabulary matrices are split ``tp`` ways.
    """
    v.instance("cfg", cfg, ModelConfig)
    t = np.asarray(v.positive_int("tp", tp), dtype=float)
    p = np.asarray(v.positive_int("pp", pp))
    # n_kv_heads divides n_heads, so this covers both
    v.divides("tp", tp, "n_kv_heads", cfg.n_kv_heads, note="(Megatron splits whole KV groups)")
    vocab = cfg.vocab_size * cfg.d_model / t
    position = cfg.seq_len * cfg.d_model if cfg.position == "learned" else 0
    layers = layers_per_stage(cfg.n_layers, p) * _tp_layer_params(cfg, t)
    final_norm = _norm_params(cfg)
    # One stage holds everything (a tied head once); with pp > 1 the last stage holds the
    # head, which for tied embeddings is Megatron's copy of the embedding matrix.
    one_stage = vocab + position + layers + final_norm + (0 if cfg.tied_embeddings else vocab)
    first = vocab + position + layers
    last = layers + final_norm + vocab
    return v.result(np.where(p == 1, one_stage, np.maximum(first, last)))


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
    param_dtype, grad_dtype, optimizer, master, grad_buffer
        The model states' setup, as in
        :func:`trainmath.optimizers.training_bytes_per_param` (default: mixed-precision
        AdamW, 2 + 2 + 12 = 16 B/param).
    zero_stage : int or array
        0-3, partitioning over the ``dp * cp`` ranks that hold the same weights.
    dp, tp, pp, cp : int or array
        Data, tensor, pipeline and context parallel sizes.
    sequence_parallel : bool
        Megatron sequence parallelism (with tp > 1).
    recompute : {"none", "selective", "full"}

    Returns
    -------
    MemoryBreakdown
        The model-state parts, ``activations`` and ``total`` (bytes).

    Special cases (tested): with ``tp = pp = cp = 1`` the model states equal
    :func:`training_state_breakdown` of ``param_count(cfg)``; with ``pp = cp = 1`` the
    activations equal ``n_layers * activation_memory_per_layer(...)``.

    Assumptions: Korthikanti's activation accounting (GPT-style layer, 16-bit
    activations, 1-byte dropout masks, attention scores materialised); embeddings'
    and logits' activations, temporary buffers, communication buckets and allocator
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
    v.divides("cp", c, "seq_len", s)
    if np.any((np.asarray(il) > 1) & (np.asarray(p) == 1)):
        raise ValueError(f"interleave > 1 needs pp > 1 (got interleave={interleave!r}, pp={pp!r})")
    per_param = training_bytes_per_param(
        param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer, master=master,
        grad_buffer=grad_buffer,
    )

    # ZeRO partitions over every rank that holds the same weights: dp x cp.
    shards = np.asarray(d) * np.asarray(c)
    states = _model_states(params_per_gpu(cfg, tp=t, pp=p), per_param, stage, shards)

    # Context parallelism: per-token terms for the local s/cp tokens, attention scores for
    # the local s/cp queries against all s keys (cp times the scores of length s/cp).
    s_local = np.asarray(s) // np.asarray(c)
    kw = dict(tp=t, sequence_parallel=sequence_parallel)
    h, a = cfg.d_model, cfg.n_heads
    if recompute == "none":
        without_scores = activation_memory_per_layer(s_local, b, h, a, recompute="selective", **kw)
        scores = activation_memory_per_layer(s_local, b, h, a, **kw) - without_scores
        per_layer = without_scores + scores * np.asarray(c)
    else:
        per_layer = activation_memory_per_layer(s_local, b, h, a, recompute=recompute, **kw)
    in_flight = pipeline_in_flight(p, m, il)
    acts = np.asarray(per_layer) * layers_per_stage(cfg.n_layers, p) * np.asarray(in_flight)
    return MemoryBreakdown({**states, "activations": acts})
