"""Mixtures of experts and latent attention: routing balance, capacity, and the KV cache.

The counts, FLOPs, memory and time of a mixture of experts live with the dense ones
(:func:`trainmath.param_count`, :func:`trainmath.active_param_count`,
:func:`trainmath.flops_per_token`, :func:`trainmath.memory_per_gpu` with ``ep``,
:func:`trainmath.expert_parallel_comm_bytes`, :func:`trainmath.plan_layouts`). This module
holds what only lesson 11 needs:

* **load balance** (:func:`routing_load`, :func:`dropped_fraction`): even a router that
  sends every token to k experts chosen uniformly at random loads some experts more than
  others, and the busiest GPU sets the pace (a capacity-limited router drops the excess:
  GShard, Lepikhin et al. 2020, Sec. 2.2; Switch Transformer, Fedus et al. 2021, Sec. 2.2);
* **the KV cache** (:func:`kv_cache_bytes`): multi-head latent attention caches one latent
  and one rotary key per token and layer instead of every head's keys and values
  (DeepSeek-V2, arXiv:2405.04434, Sec. 2.1.4 and Table 1).
"""

from __future__ import annotations

import numpy as np

from trainmath import _validate as v
from trainmath.models import ModelConfig
from trainmath.optimizers import bytes_per_param

__all__ = ["routing_load", "max_load_estimate", "dropped_fraction", "kv_cache_bytes"]


def _route(n_tokens: int, n_experts: int, k: int, trials: int, seed: int) -> np.ndarray:
    """Tokens each expert receives when every token picks k distinct experts uniformly at
    random: an array (trials, n_experts)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((trials, n_experts), dtype=np.int64)
    chunk = max(1, 2**21 // n_experts)  # tokens per block: about 16 MB of keys
    for t in range(trials):
        for start in range(0, n_tokens, chunk):
            # k distinct experts per token: the k smallest of n_experts uniform keys
            keys = rng.random((min(chunk, n_tokens - start), n_experts))
            chosen = np.argpartition(keys, k - 1, axis=-1)[:, :k]
            counts[t] += np.bincount(chosen.ravel(), minlength=n_experts)
    return counts


def _routing_args(n_tokens, n_experts, experts_per_token, trials, seed):
    T = v.scalar_int("n_tokens", n_tokens)
    E = v.scalar_int("n_experts", n_experts)
    k = v.scalar_int("experts_per_token", experts_per_token)
    if k > E:
        raise ValueError(f"experts_per_token must be 1..n_experts={E}, got {k}")
    n = v.scalar_int("trials", trials)
    s = v.scalar_int("seed", seed, minimum=0)
    if T * E * n > 5e7:
        raise ValueError(f"n_tokens x n_experts x trials must be at most 5e7 (a simulation "
                         f"this size takes seconds), got {T * E * n:.3g}")
    return T, E, k, n, s


def routing_load(n_tokens, n_experts, experts_per_token, *, trials: int = 20, seed: int = 0):
    """Load of the busiest expert over the mean load, for a uniformly random router.

    Each of ``n_tokens`` tokens goes to ``experts_per_token`` distinct experts drawn
    uniformly from ``n_experts``, the best a router can do *on average*; each expert then
    receives a binomial number of tokens, mean ``k T / E``, and the busiest of them about
    ``sqrt(2 ln E)`` standard deviations more. The ratio is what the GPU holding that expert
    must process (and store) against a perfect split: the ``capacity_factor`` the memory and
    time models take. It falls towards 1 as the tokens per expert grow. Averaged over
    ``trials`` draws of a fixed ``seed`` (the same number every run).

    Parameters
    ----------
    n_tokens, n_experts, experts_per_token : int
        T, E and k.
    trials : int
        Independent draws averaged.
    seed : int
        Seed of numpy's default generator.

    Returns
    -------
    float
        E[max load] / (k T / E), >= 1.

    Examples
    --------
    DeepSeek-V3's 256 experts, 8 per token, for one 4,096-token sequence (128 tokens per
    expert on average) and for 16 sequences (2,048 per expert):

    >>> round(routing_load(4096, 256, 8), 2), round(routing_load(65536, 256, 8, trials=2), 2)
    (1.26, 1.06)

    Assumptions: tokens choose independently and uniformly. A trained router is not uniform
    (some experts are preferred), which is why MoE training adds a balancing loss (Switch,
    Sec. 2.2) or, in DeepSeek-V3, a per-expert bias adjusted during training (Sec. 2.1.2).
    """
    T, E, k, n, s = _routing_args(n_tokens, n_experts, experts_per_token, trials, seed)
    counts = _route(T, E, k, n, s)
    return float(counts.max(axis=1).mean() / (k * T / E))


def max_load_estimate(n_tokens, n_experts, experts_per_token):
    """The busiest expert's load over the mean, by the normal approximation (no simulation).

    Each expert's load is binomial with mean ``mu = k T / E`` and standard deviation
    ``sigma = sqrt(mu (1 - k/E))``; the largest of E independent normal variables lies about
    ``sqrt(2 ln E)`` standard deviations above their mean, so

        max / mean ~ 1 + sigma sqrt(2 ln E) / mu = 1 + sqrt(2 ln E (1 - k/E) / mu).

    It errs high, by 2 to 8 % against :func:`routing_load` for 16 to 256 tokens per expert
    (the leading term of the extreme-value expansion overestimates the maximum, and the
    binomial is not quite normal), less for more tokens.

    Parameters
    ----------
    n_tokens, n_experts, experts_per_token : int or array
        T, E and k (k <= E).

    Returns
    -------
    float or array

    Examples
    --------
    >>> round(max_load_estimate(4096, 256, 8), 3)  # routing_load simulates 1.26
    1.29
    """
    T = v.positive_int("n_tokens", n_tokens)
    E = v.positive_int("n_experts", n_experts)
    k = v.positive_int("experts_per_token", experts_per_token)
    if np.any(np.asarray(k) > np.asarray(E)):
        raise ValueError(f"experts_per_token must be 1..n_experts, got {experts_per_token!r} "
                         f"and {n_experts!r}")
    E, k = np.asarray(E, dtype=float), np.asarray(k, dtype=float)
    mean = k * np.asarray(T, dtype=float) / E
    return v.result(1 + np.sqrt(2 * np.log(E) * (1 - k / E) / mean))


def dropped_fraction(capacity_factor, n_tokens, n_experts, experts_per_token, *,
                     trials: int = 20, seed: int = 0):
    """Share of token copies a capacity-limited router drops, for a uniformly random router.

    Each expert accepts at most ``floor(capacity_factor x k T / E)`` tokens (GShard's and
    Switch's expert capacity; Fedus et al. 2021, Sec. 2.2, Eq. 3); the copies beyond it skip
    the expert (they pass through the residual connection unchanged).

    Parameters
    ----------
    capacity_factor : float or array
        c >= 1 (1.0: room for exactly the mean; Switch uses 1.0 to 1.25).
    n_tokens, n_experts, experts_per_token, trials, seed
        As in :func:`routing_load`.

    Returns
    -------
    float or array
        Dropped copies over all k T copies, averaged over the trials.

    Examples
    --------
    >>> np.round(dropped_fraction([1.0, 1.25, 1.5], 4096, 256, 8), 4)
    array([0.0351, 0.0001, 0.    ])
    """
    c = v.positive("capacity_factor", capacity_factor)
    if np.any(np.asarray(c) < 1):
        raise ValueError(f"capacity_factor must be >= 1, got {capacity_factor!r}")
    T, E, k, n, s = _routing_args(n_tokens, n_experts, experts_per_token, trials, seed)
    counts = _route(T, E, k, n, s)  # (trials, E)
    cap = np.floor(np.asarray(c, dtype=float)[..., None, None] * k * T / E)
    dropped = np.maximum(counts - cap, 0).sum(axis=-1).mean(axis=-1) / (k * T)
    return v.result(dropped)


def kv_cache_bytes(cfg: ModelConfig, seq_len=None, batch=1, dtype: str = "bf16", *,
                   decompressed: bool = False):
    """Bytes of the key-value cache that decoding keeps for ``batch`` sequences.

    * multi-head (and grouped-query) attention caches every layer's keys and values:
      ``2 L (H_kv head_dim) s b`` values;
    * multi-head latent attention caches, per layer and token, the compressed latent and the
      shared rotary key: ``L (kv_lora_rank + qk_rope_head_dim) s b`` values, from which the
      keys and values of every head are decompressed (or absorbed into the query and output
      projections; DeepSeek-V2, Sec. 2.1.2-2.1.4, Table 1: ``(d_c + d_h^R) l`` elements per
      token against MHA's ``2 n_h d_h l``).

    Parameters
    ----------
    cfg : ModelConfig
    seq_len : int or array, optional
        Tokens per sequence in the cache (default ``cfg.seq_len``).
    batch : int or array
        Sequences.
    dtype : str
        Storage dtype of the cache.
    decompressed : bool
        For latent attention: the cache of every head's decompressed keys
        (``qk_nope_head_dim + qk_rope_head_dim``) and values (``v_head_dim``) instead of the
        latent, ``L H (d_h + d_h^R + d_h^v) s b`` values: what multi-head attention with the
        same heads would keep.

    Returns
    -------
    float or array
        Bytes.

    Examples
    --------
    DeepSeek-V3 caches 576 values per token and layer where its 128 heads of 192-wide keys
    and 128-wide values would need 40,960: 71 times less. One 4,096-token sequence in bf16:

    >>> import trainmath as tm
    >>> ds = tm.MOE_MODELS["deepseek-v3"]
    >>> round(kv_cache_bytes(ds, 4096) / 1e6, 1)  # MB
    287.8
    >>> round(kv_cache_bytes(ds, 4096, decompressed=True) / kv_cache_bytes(ds, 4096), 1)
    71.1
    """
    v.instance("cfg", cfg, ModelConfig)
    s = v.positive_int("seq_len", cfg.seq_len if seq_len is None else seq_len)
    b = v.positive_int("batch", batch)
    if v.flag("decompressed", decompressed) and cfg.attention != "mla":
        raise ValueError("decompressed=True applies to latent attention (attention='mla')")
    if decompressed:
        per_token = cfg.qk_dim + cfg.v_dim
    elif cfg.attention == "mla":
        per_token = cfg.kv_lora_rank + cfg.qk_rope_head_dim
    else:
        per_token = 2 * cfg.kv_dim
    values = cfg.n_layers * per_token * np.asarray(s, dtype=float) * np.asarray(b)
    return v.result(values * bytes_per_param(dtype))
