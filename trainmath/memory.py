"""Training memory of the most loaded GPU under 4D parallelism and ZeRO.

One function, :func:`memory_per_gpu`, puts the course's pieces together:

* **weights, gradients, optimizer states** (bytes per parameter from
  :mod:`trainmath.optimizers`) for the parameters a GPU holds after tensor parallelism
  (Shoeybi et al. 2019: every weight matrix of a layer and the vocabulary-parallel
  embedding are split t ways; norms and row-parallel biases are replicated) and
  pipeline parallelism (each stage holds its layers; the first stage the input
  embeddings, the last stage the final norm and LM head — a tied head is copied there,
  as Megatron-LM does), then sharded over the data-parallel group by ZeRO
  (Rajbhandari et al. 2019; :func:`trainmath.parallelism.zero_memory_per_gpu`);
* **activations** per layer from Korthikanti et al. 2022, Table 2
  (:func:`trainmath.activations.activation_memory_per_layer`), for the layers of one
  pipeline stage, times the micro-batches the first stage holds in flight under the
  1F1B schedule: ``min(pp, n_microbatches)`` (Narayanan et al. 2021, Sec. 2.2.1;
  Korthikanti et al. 2022, Sec. 4.2.3). Context parallelism splits the sequence:
  a GPU keeps the per-token activations of ``s/cp`` tokens and attention scores of its
  ``s/cp`` queries against all ``s`` keys.
"""

from __future__ import annotations

import numpy as np

from trainmath import _validate as v
from trainmath.activations import RECOMPUTE, activation_memory_per_layer
from trainmath.models import ModelConfig, _layer_params, _norm_params
from trainmath.optimizers import OPTIMIZER_BYTES_PER_PARAM, bytes_per_param

__all__ = ["MemoryBreakdown", "memory_per_gpu", "params_per_gpu", "layers_per_stage"]


class MemoryBreakdown(dict):
    """Bytes per GPU by part: ``params``, ``grads``, ``optimizer``, ``activations``, ``total``.

    A dict whose entries are also attributes (``m.total`` is ``m["total"]``). Values are
    floats, or arrays when any input was an array.
    """

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def model_states(self):
        """Weights + gradients + optimizer states (what ZeRO shards)."""
        return self["params"] + self["grads"] + self["optimizer"]


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
    param_dtype: str = "bf16",
    grad_dtype: str = "bf16",
    optimizer: str = "adamw",
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
        Micro-batches per step m; the first pipeline stage holds ``min(pp, m)`` of them.
    param_dtype, grad_dtype : str
        Storage dtype of weights and gradients (``"bf16"``, ``"fp32"``, ...).
    optimizer : str
        A key of :data:`trainmath.optimizers.OPTIMIZER_BYTES_PER_PARAM` (master copy included).
    zero_stage : int or array
        0-3, sharding over the ``dp * cp`` ranks that hold the same weights.
    dp, tp, pp, cp : int or array
        Data, tensor, pipeline and context parallel sizes.
    sequence_parallel : bool
        Megatron sequence parallelism (with tp > 1).
    recompute : {"none", "selective", "full"}

    Returns
    -------
    MemoryBreakdown
        ``params``, ``grads``, ``optimizer``, ``activations``, ``total`` (bytes).

    Special cases (tested): with ``tp = pp = cp = 1`` the model states equal
    ``zero_memory_per_gpu(param_count(cfg), dp, zero_stage, ...)``; with ``pp = cp = 1``
    the activations equal ``n_layers * activation_memory_per_layer(...)``.

    Assumptions: Korthikanti's activation accounting (GPT-style layer, 16-bit
    activations, 1-byte dropout masks, attention scores materialised); embeddings'
    and logits' activations, temporary buffers, communication buckets and allocator
    fragmentation are not counted (real runs need headroom: plan for ~10-20 % more).
    """
    v.instance("cfg", cfg, ModelConfig)
    s = cfg.seq_len if seq_len is None else v.positive_int("seq_len", seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    m = v.positive_int("n_microbatches", n_microbatches)
    d = v.positive_int("dp", dp)
    c = v.positive_int("cp", cp)
    p = v.positive_int("pp", pp)
    t = v.positive_int("tp", tp)
    v.lookup("optimizer", optimizer, OPTIMIZER_BYTES_PER_PARAM)
    v.choice("recompute", recompute, RECOMPUTE)
    v.divides("cp", c, "seq_len", s)

    stage = np.asarray(v.zero_stage("zero_stage", zero_stage))

    n = np.asarray(params_per_gpu(cfg, tp=t, pp=p))
    # ZeRO shards a state once the stage reaches it: 1 optimizer, 2 + gradients, 3 + weights
    # (the same rule as zero_memory_per_gpu, kept per part so the breakdown is readable).
    shard = np.asarray(d, dtype=float) * np.asarray(c)
    params = n * bytes_per_param(param_dtype) / np.where(stage >= 3, shard, 1)
    grads = n * bytes_per_param(grad_dtype) / np.where(stage >= 2, shard, 1)
    opt = n * OPTIMIZER_BYTES_PER_PARAM[optimizer] / np.where(stage >= 1, shard, 1)

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
    in_flight = np.minimum(np.asarray(p), np.asarray(m))  # 1F1B: first stage holds min(p, m)
    acts = np.asarray(per_layer) * layers_per_stage(cfg.n_layers, p) * in_flight

    out = MemoryBreakdown(
        params=v.result(params), grads=v.result(grads), optimizer=v.result(opt),
        activations=v.result(acts),
    )
    out["total"] = v.result(
        np.asarray(params) + np.asarray(grads) + np.asarray(opt) + np.asarray(acts)
    )
    return out
