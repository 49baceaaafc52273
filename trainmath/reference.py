"""The reference implementations: Hugging Face transformers models built from a ModelConfig.

The course's counts are checked against the models that people actually run. This module
turns a :class:`trainmath.ModelConfig` of the Llama family or one of its sparse descendants
into the configuration of the Hugging Face ``transformers`` class that implements it, and
builds that model, on the ``meta`` device (shapes without memory: DeepSeek-V3's 671 B
parameters are counted on a laptop in a fraction of a second) or for real on the CPU (to
count FLOPs with ``FlopCounterMode``):

============================================  ==================================
ModelConfig                                   transformers class
============================================  ==================================
dense, ``qk_norm=False``                      ``LlamaForCausalLM``
dense, ``qk_norm=True``                       ``Qwen3ForCausalLM``
MoE, no shared experts, no dense layers       ``MixtralForCausalLM``
MoE with ``qk_norm=True``, no shared experts  ``Qwen3MoeForCausalLM``
MoE or dense with ``attention="mla"``         ``DeepseekV3ForCausalLM``
============================================  ==================================

All of them are Llama-style blocks: RMSNorm, rotary positions, SwiGLU, no biases. Nothing is
downloaded: the configurations are written from the ModelConfig, never fetched from the Hub.

Two defaults of ``transformers`` matter here, and :func:`build_hf_model` overrides both:

* Its experts run by default as one grouped matmul (``experts_implementation="grouped_mm"``),
  an operator that ``FlopCounterMode`` does not count; the ``"eager"`` loop over experts
  runs one ``mm`` per expert, which it counts.
* Its attention defaults to ``scaled_dot_product_attention``, whose CPU kernel
  ``FlopCounterMode`` does not count either; ``"eager"`` writes the two products out.

Also: DeepSeek-V3's router score-correction bias (``e_score_correction_bias``, used for
auxiliary-loss-free load balancing, DeepSeek-V3 Sec. 2.1.2) is a buffer in ``transformers``
and a parameter in DeepSeek's own code, so the counts differ by ``n_experts`` per MoE layer
(14,848 for DeepSeek-V3); :func:`trainmath.param_count` follows ``transformers``.

Needs PyTorch and transformers (``pip install -e ".[measure]"``); ``import trainmath`` does
not load them.
"""

from __future__ import annotations

import warnings
from typing import Any

from trainmath import _validate as v
from trainmath.measure import FlopCount, _by_op, _count_passes, _device, _dtype, count_params
from trainmath.models import ModelConfig

try:
    import torch
    import torch.nn.functional as F
    import transformers
except ImportError as exc:  # pragma: no cover - exercised only without transformers
    raise ImportError(
        "trainmath.reference needs transformers and PyTorch: `pip install -e \".[measure]\"` "
        "in the course folder; the rest of the course works without them."
    ) from exc

__all__ = ["HF_CLASSES", "hf_config", "build_hf_model", "count_hf_params", "measure_hf_flops"]

#: The transformers model class each kind of ModelConfig is built as (see the module doc).
HF_CLASSES = {
    "llama": "LlamaForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "mixtral": "MixtralForCausalLM",
    "qwen3_moe": "Qwen3MoeForCausalLM",
    "deepseek_v3": "DeepseekV3ForCausalLM",
}


def _family(cfg: ModelConfig) -> str:
    """The transformers family that implements ``cfg`` exactly, or a ValueError saying why not."""
    llama_style = (cfg.mlp == "swiglu" and cfg.norm == "rmsnorm" and not cfg.bias
                   and cfg.position == "rope")
    if not llama_style:
        raise ValueError(
            "cfg must be a Llama-style model (mlp='swiglu', norm='rmsnorm', bias=False, "
            f"position='rope') to have a transformers reference here; got mlp={cfg.mlp!r}, "
            f"norm={cfg.norm!r}, bias={cfg.bias!r}, position={cfg.position!r}"
        )
    if cfg.attention == "mla":
        return "deepseek_v3"
    if cfg.n_shared_experts:
        raise ValueError("shared experts are implemented (exactly) only with attention='mla' "
                         "(DeepseekV3ForCausalLM); transformers' Qwen2-MoE gates its shared "
                         "expert with an extra d x 1 weight, another model")
    if not cfg.is_moe:
        return "qwen3" if cfg.qk_norm else "llama"
    if cfg.qk_norm:
        return "qwen3_moe"
    if cfg.n_dense_layers:
        raise ValueError("leading dense layers (n_dense_layers > 0) need qk_norm=True "
                         "(Qwen3MoeForCausalLM's mlp_only_layers) or attention='mla' "
                         "(DeepseekV3ForCausalLM's first_k_dense_replace)")
    return "mixtral"


def hf_config(cfg: ModelConfig) -> Any:
    """The transformers configuration of the model ``cfg`` describes.

    Parameters
    ----------
    cfg : ModelConfig
        A Llama-style model (RMSNorm, RoPE, SwiGLU, no biases), dense or a mixture of
        experts, with grouped-query or latent attention.

    Returns
    -------
    transformers.PretrainedConfig
        ``LlamaConfig``, ``Qwen3Config``, ``MixtralConfig``, ``Qwen3MoeConfig`` or
        ``DeepseekV3Config`` (the table in the module doc).

    Raises
    ------
    ValueError
        For a shape no transformers class implements exactly (the message says which field).
    """
    cfg = v.instance("cfg", cfg, ModelConfig)
    family = _family(cfg)
    common = dict(
        vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_kv_heads,
        max_position_embeddings=cfg.seq_len, tie_word_embeddings=cfg.tied_embeddings,
    )
    if family == "deepseek_v3":
        # n_group = topk_group = 1: the group-limited routing of DeepSeek-V3 (8 groups, 4
        # chosen) changes which experts a token reaches, not how many, nor any weight.
        moe = (dict(n_routed_experts=cfg.n_experts, num_experts_per_tok=cfg.experts_per_token,
                    n_shared_experts=cfg.n_shared_experts, moe_intermediate_size=cfg.moe_d_ff,
                    first_k_dense_replace=cfg.n_dense_layers)
               if cfg.is_moe else
               dict(n_routed_experts=1, num_experts_per_tok=1, first_k_dense_replace=cfg.n_layers))
        return transformers.DeepseekV3Config(
            **common, intermediate_size=cfg.d_ff, q_lora_rank=cfg.q_lora_rank,
            kv_lora_rank=cfg.kv_lora_rank, qk_nope_head_dim=cfg.qk_nope_head_dim,
            qk_rope_head_dim=cfg.qk_rope_head_dim, v_head_dim=cfg.v_head_dim,
            n_group=1, topk_group=1, **moe,
        )
    common.update(head_dim=cfg.head_dim)
    if family == "llama":
        if cfg.d_model % cfg.n_heads:  # LlamaConfig checks this even with head_dim given
            raise ValueError(f"transformers' LlamaConfig needs n_heads to divide d_model (got "
                             f"n_heads={cfg.n_heads}, d_model={cfg.d_model}); Qwen3 "
                             f"(qk_norm=True) does not")
        return transformers.LlamaConfig(**common, intermediate_size=cfg.d_ff)
    if family == "qwen3":
        return transformers.Qwen3Config(**common, intermediate_size=cfg.d_ff)
    if family == "mixtral":
        return transformers.MixtralConfig(
            **common, intermediate_size=cfg.moe_d_ff, num_local_experts=cfg.n_experts,
            num_experts_per_tok=cfg.experts_per_token,
        )
    return transformers.Qwen3MoeConfig(
        **common, intermediate_size=cfg.d_ff, moe_intermediate_size=cfg.moe_d_ff,
        num_experts=cfg.n_experts, num_experts_per_tok=cfg.experts_per_token,
        mlp_only_layers=list(range(cfg.n_dense_layers)), decoder_sparse_step=1,
    )


def build_hf_model(cfg: ModelConfig, *, device="meta", dtype="bf16", seed: int = 0):
    """The transformers model ``cfg`` describes, in training mode.

    Parameters
    ----------
    cfg : ModelConfig
        See :func:`hf_config`.
    device : str
        ``"meta"`` (shapes only, any size; for counting parameters) or ``"cpu"`` (real
        weights, drawn with ``seed``; for counting FLOPs of a small model).
    dtype : {"fp32", "bf16", "fp16"}
    seed : int

    Returns
    -------
    transformers.PreTrainedModel
        Built with ``attn_implementation="eager"`` and ``experts_implementation="eager"`` so
        that ``FlopCounterMode`` sees every matmul (the module doc says why).
    """
    hf = hf_config(cfg)
    dev = _device(device)
    dt = _dtype(dtype)
    seed = v.scalar_int("seed", seed, minimum=0)
    cls = getattr(transformers, HF_CLASSES[hf.model_type])
    torch.manual_seed(seed)
    with dev, warnings.catch_warnings():
        # DeepSeek-V3's class builds its shared-expert MLP even with n_shared_experts=0, as
        # empty matrices, and PyTorch warns that initialising them does nothing.
        warnings.filterwarnings("ignore", "Initializing zero-element tensors")
        model = cls._from_config(hf, attn_implementation="eager",
                                 experts_implementation="eager", dtype=dt)
    return model.train()


def count_hf_params(cfg: ModelConfig) -> int:
    """``sum(p.numel())`` of the transformers model of ``cfg``, built on the meta device.

    Compare with :func:`trainmath.param_count`: equal for every shape :func:`hf_config`
    accepts (tests/test_moe.py draws random ones).
    """
    return count_params(build_hf_model(cfg, device="meta"))


def measure_hf_flops(model, batch=2, seq_len=16, *, seed: int = 0) -> FlopCount:
    """FLOPs of one training step of a transformers model, counted by ``FlopCounterMode``.

    The model reads ``batch`` sequences of ``seq_len`` random tokens; the loss is the
    cross-entropy of its logits against the same tokens; the backward pass reaches every
    parameter. Each token goes to exactly ``experts_per_token`` distinct routed experts,
    so the count is the same whatever the router picks. The model must be real (``"cpu"``),
    not on ``meta``: which experts run depends on the router's values.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        From :func:`build_hf_model` with ``device="cpu"``.
    batch, seq_len : int
    seed : int
        For the token ids.

    Returns
    -------
    FlopCount
        ``per_token`` compares with :func:`trainmath.flops_per_token` (``causal=False``:
        eager attention multiplies the whole s x s square, mask or not).
    """
    if not isinstance(model, transformers.PreTrainedModel):
        raise TypeError(f"model must be a transformers model from build_hf_model, got "
                        f"{type(model).__name__}")
    b = v.scalar_int("batch", batch)
    s = v.scalar_int("seq_len", seq_len)
    device = next(model.parameters()).device
    if device.type == "meta":
        raise ValueError("model must be built on device='cpu' to count FLOPs: which experts "
                         "run depends on the router's values, which meta tensors do not have")
    gen = torch.Generator(device).manual_seed(v.scalar_int("seed", seed, minimum=0))
    idx = torch.randint(0, model.config.vocab_size, (b, s), generator=gen, device=device)

    def loss():
        logits = model(input_ids=idx, use_cache=False).logits
        return F.cross_entropy(logits.flatten(0, 1).float(), idx.flatten())

    fwd, bwd = _count_passes(model, loss)
    return FlopCount(int(fwd.get_total_flops()), int(bwd.get_total_flops()), _by_op(fwd),
                     _by_op(bwd), b * s)
