"""Transformer shapes, exact parameter counts and presets of real models.

A :class:`ModelConfig` describes a decoder-only transformer in the two families that
cover almost every open model: GPT-2 style (learned positions, LayerNorm with bias,
GELU MLP, tied LM head) and Llama style (rotary positions, RMSNorm, SwiGLU MLP,
grouped-query attention, no biases, untied LM head), and their sparse descendants:
mixtures of experts (Mixtral, Qwen3-MoE, DeepSeek-V3) and multi-head latent attention
(DeepSeek-V2/V3). :func:`param_count` returns the exact number of trainable values, equal
to ``sum(p.numel() for p in model.parameters())`` of the standard PyTorch implementation
(a tied matrix counted once, no rotary buffers); :func:`active_param_count` the values one
token uses in a mixture of experts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from trainmath import _validate as v
from trainmath import fmt

__all__ = [
    "ModelConfig",
    "MODELS",
    "MOE_MODELS",
    "GPT3_FAMILY",
    "param_count",
    "active_param_count",
    "expert_params",
    "attention_params",
    "embedding_params",
    "non_embedding_params",
    "matmul_params",
    "get_model",
    "ffn_hidden_dim",
    "llama_like_config",
]

MLP_KINDS = ("gelu", "swiglu")
NORM_KINDS = ("layernorm", "rmsnorm")
POSITION_KINDS = ("learned", "rope", "relative")
ATTENTION_KINDS = ("mha", "mla")
# The shape numbers of multi-head latent attention, all None for "mha".
_MLA_FIELDS = ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
               "v_head_dim")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a decoder-only transformer.

    Parameters
    ----------
    n_layers, d_model, n_heads, vocab_size
        Depth L, hidden size d, query heads H and vocabulary size V.
    d_ff
        Hidden size of the MLP; defaults to ``4 * d_model`` (GPT-2/GPT-3).
    n_kv_heads
        Key/value heads; defaults to ``n_heads``. Fewer means grouped-query attention
        (Ainslie et al. 2023), which shrinks the K and V projections.
    head_dim
        Size of one head; defaults to ``d_model // n_heads`` (which must then divide).
    seq_len
        Pre-training context length s. It sizes learned position embeddings and is the
        default sequence length for attention FLOPs and activation memory.
    mlp
        ``"gelu"`` (two matrices d x d_ff) or ``"swiglu"`` (three, Shazeer 2020).
    norm
        ``"layernorm"`` (weight and, with ``bias``, a bias) or ``"rmsnorm"`` (weight only).
    bias
        Whether linear layers (and LayerNorms) carry biases.
    tied_embeddings
        Whether the LM head reuses the token-embedding matrix (counted once).
    position
        ``"learned"`` (a seq_len x d table), ``"rope"`` (no parameters) or ``"relative"``
        (Transformer-XL, Dai et al. 2019, Sec. 3.3: per layer a d x (H*head_dim)
        projection of the relative encodings and two per-head bias vectors u, v).
    n_experts
        Routed experts per mixture-of-experts (MoE) layer; 0 (the default) is a dense model.
        Each expert is an MLP of hidden size ``moe_d_ff`` and kind ``mlp`` (Shazeer et al.
        2017; Fedus et al. 2021); a router (a d x n_experts matrix, no bias unless ``bias``)
        scores them for every token.
    experts_per_token
        Top-k: routed experts each token is sent to (Mixtral 2, DeepSeek-V3 and Qwen3 8).
    n_shared_experts
        Experts every token goes through besides the routed ones (DeepSeekMoE, Dai et al.
        2024; DeepSeek-V3 has 1), each of hidden size ``moe_d_ff``.
    moe_d_ff
        Hidden size of one expert; defaults to ``d_ff`` (Mixtral's experts are whole MLPs;
        fine-grained experts are much narrower: DeepSeek-V3 2,048 against ``d_ff`` 18,432).
    n_dense_layers
        Leading layers whose MLP is dense, of size ``d_ff`` (DeepSeek-V3's first 3); the
        other ``n_layers - n_dense_layers`` layers are MoE layers.
    qk_norm
        Per-head RMSNorm (or LayerNorm, after ``norm``) on queries and keys before the
        scores, a ``head_dim`` weight each (Qwen3; Dehghani et al. 2023).
    attention
        ``"mha"``: multi-head attention with ``n_kv_heads`` key/value heads (MHA, GQA or
        MQA). ``"mla"``: multi-head latent attention (DeepSeek-V2, Sec. 2.1; DeepSeek-V3,
        Sec. 2.1.1): keys and values are decompressed from one latent of ``kv_lora_rank``
        per token, queries from one of ``q_lora_rank`` (``None``: a plain d x H*(nope+rope)
        projection), each head's query and key have ``qk_nope_head_dim`` plain plus
        ``qk_rope_head_dim`` rotary dimensions (the rotary key is shared by all heads), and
        values ``v_head_dim``. ``head_dim`` is then ``qk_nope_head_dim + qk_rope_head_dim``
        and ``n_kv_heads`` is ``n_heads``.
    q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim
        The latent attention's shape (``"mla"`` only; all but ``q_lora_rank`` required).
    name, source
        Display name and where the numbers come from.
    """

    n_layers: int
    d_model: int
    n_heads: int
    vocab_size: int
    d_ff: int | None = None
    n_kv_heads: int | None = None
    seq_len: int = 2048
    mlp: str = "gelu"
    norm: str = "layernorm"
    bias: bool = True
    tied_embeddings: bool = True
    position: str = "learned"
    head_dim: int | None = None
    n_experts: int = 0
    experts_per_token: int = 0
    n_shared_experts: int = 0
    moe_d_ff: int | None = None
    n_dense_layers: int = 0
    qk_norm: bool = False
    attention: str = "mha"
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    name: str = ""
    source: str = field(default="", compare=False)

    #: How to get one, for the message of a function given something else (not a field).
    EXAMPLE: ClassVar[str] = "tm.MODELS['gpt2'] or tm.get_model('gpt2')"

    def __post_init__(self) -> None:
        for arg in ("n_layers", "d_model", "n_heads", "vocab_size", "seq_len"):
            object.__setattr__(self, arg, v.scalar_int(arg, getattr(self, arg)))
        d_ff = 4 * self.d_model if self.d_ff is None else v.scalar_int("d_ff", self.d_ff)
        object.__setattr__(self, "d_ff", d_ff)
        v.choice("attention", self.attention, ATTENTION_KINDS)
        if self.attention == "mla":
            self._check_mla()
        else:
            given = [arg for arg in _MLA_FIELDS if getattr(self, arg) is not None]
            if given:
                raise ValueError(f"{', '.join(given)} apply only to attention='mla' (latent "
                                 f"attention), got them with attention='mha'")
        kv = self.n_heads if self.n_kv_heads is None else self.n_kv_heads
        kv = v.scalar_int("n_kv_heads", kv)
        v.divides("n_kv_heads", kv, "n_heads", self.n_heads, note="(1..n_heads)")
        object.__setattr__(self, "n_kv_heads", kv)
        if self.head_dim is None:
            v.divides("n_heads", self.n_heads, "d_model", self.d_model,
                      note="unless head_dim is given")
            object.__setattr__(self, "head_dim", self.d_model // self.n_heads)
        else:
            object.__setattr__(self, "head_dim", v.scalar_int("head_dim", self.head_dim))
        v.choice("mlp", self.mlp, MLP_KINDS)
        v.choice("norm", self.norm, NORM_KINDS)
        v.choice("position", self.position, POSITION_KINDS)
        for arg in ("bias", "tied_embeddings", "qk_norm"):
            object.__setattr__(self, arg, v.flag(arg, getattr(self, arg)))
        if self.qk_norm and self.attention == "mla":
            raise ValueError("qk_norm applies to attention='mha'; latent attention normalises "
                             "its latents instead (set qk_norm=False)")
        self._check_moe()
        for arg in ("name", "source"):
            if not isinstance(getattr(self, arg), str):
                raise TypeError(f"{arg} must be a str, got {getattr(self, arg)!r}")

    def _check_mla(self) -> None:
        for arg in _MLA_FIELDS:
            value = getattr(self, arg)
            if value is None and arg != "q_lora_rank":
                raise ValueError(f"attention='mla' needs {arg} (a positive integer); the five "
                                 f"latent-attention sizes are {', '.join(_MLA_FIELDS)} "
                                 f"(q_lora_rank may be None)")
            if value is not None:
                object.__setattr__(self, arg, v.scalar_int(arg, value))
        qk = self.qk_nope_head_dim + self.qk_rope_head_dim
        if self.head_dim is not None and self.head_dim != qk:
            raise ValueError(f"with attention='mla' head_dim is qk_nope_head_dim + "
                             f"qk_rope_head_dim = {qk}; got head_dim={self.head_dim!r} "
                             f"(leave it None)")
        object.__setattr__(self, "head_dim", qk)
        if self.n_kv_heads is not None and self.n_kv_heads != self.n_heads:
            raise ValueError(f"with attention='mla' every head has its own key and value "
                             f"(decompressed from the shared latent): n_kv_heads must be None "
                             f"or n_heads={self.n_heads}, got {self.n_kv_heads!r}")
        if self.position != "rope":
            raise ValueError(f"attention='mla' carries positions in its rotary dimensions "
                             f"(qk_rope_head_dim): position must be 'rope', got "
                             f"{self.position!r}")
        if self.bias:
            raise ValueError("attention='mla' is modelled without biases (DeepSeek-V2/V3 have "
                             "none): set bias=False")

    def _check_moe(self) -> None:
        n = v.scalar_int("n_experts", self.n_experts, minimum=0)
        object.__setattr__(self, "n_experts", n)
        if n == 0:
            extra = {"experts_per_token": 0, "n_shared_experts": 0, "moe_d_ff": None,
                     "n_dense_layers": 0}
            given = [arg for arg, dense in extra.items() if getattr(self, arg) != dense]
            if given:
                raise ValueError(f"{', '.join(given)} apply only to mixtures of experts: set "
                                 f"n_experts (routed experts per layer) > 0, or leave them at "
                                 f"their defaults for a dense model")
            return
        k = v.scalar_int("experts_per_token", self.experts_per_token)
        if k > n:
            raise ValueError(f"experts_per_token must be 1..n_experts={n} (top-k among the "
                             f"routed experts), got {k}")
        object.__setattr__(self, "experts_per_token", k)
        object.__setattr__(self, "n_shared_experts",
                           v.scalar_int("n_shared_experts", self.n_shared_experts, minimum=0))
        ff = self.d_ff if self.moe_d_ff is None else v.scalar_int("moe_d_ff", self.moe_d_ff)
        object.__setattr__(self, "moe_d_ff", ff)
        dense = v.scalar_int("n_dense_layers", self.n_dense_layers, minimum=0)
        if dense >= self.n_layers:
            raise ValueError(f"n_dense_layers must be 0..n_layers-1={self.n_layers - 1} (a "
                             f"mixture of experts has at least one MoE layer; for a dense "
                             f"model set n_experts=0), got {dense}")
        object.__setattr__(self, "n_dense_layers", dense)

    @property
    def attn_dim(self) -> int:
        """Width of the concatenated query heads, H * head_dim (d_model in most models)."""
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the concatenated key (or value) heads, H_kv * head_dim."""
        return self.n_kv_heads * self.head_dim

    @property
    def qk_dim(self) -> int:
        """Width of the queries (= keys) the scores use: H * head_dim (H * (nope + rope) in MLA)."""
        return self.n_heads * self.head_dim

    @property
    def v_dim(self) -> int:
        """Width of the heads' values and of the attention output: H * v_head_dim in MLA,
        ``attn_dim`` otherwise."""
        return self.n_heads * (self.v_head_dim if self.attention == "mla" else self.head_dim)

    @property
    def is_moe(self) -> bool:
        """Whether the model is a mixture of experts (``n_experts > 0``)."""
        return self.n_experts > 0

    @property
    def n_moe_layers(self) -> int:
        """Layers with a mixture-of-experts MLP (0 for a dense model)."""
        return self.n_layers - self.n_dense_layers if self.is_moe else 0

    def replace(self, **changes) -> ModelConfig:
        """A copy with some fields changed (validated again).

        With latent attention, ``head_dim`` and ``n_kv_heads`` follow from the other fields
        (``qk_nope_head_dim + qk_rope_head_dim`` and ``n_heads``) and are derived again
        unless given.
        """
        if self.attention == "mla" and changes.get("attention", "mla") == "mla":
            changes.setdefault("head_dim", None)
            changes.setdefault("n_kv_heads", None)
        return replace(self, **changes)


def _check_cfg(cfg) -> ModelConfig:
    return v.instance("cfg", cfg, ModelConfig)


def _norm_params(cfg: ModelConfig, width: int | None = None) -> int:
    """One normalisation layer over ``width`` (default d_model): a weight, plus a bias for
    LayerNorm with biases."""
    width = cfg.d_model if width is None else width
    return width * (2 if cfg.norm == "layernorm" and cfg.bias else 1)


def _attention_matmul_params(cfg: ModelConfig) -> int:
    """Weights of the attention's projections (each multiplies every token once)."""
    d, H = cfg.d_model, cfg.n_heads
    if cfg.attention == "mla":
        # DeepSeek-V2, Eqs. 9-14 and 37-47: W^DQ, W^UQ and W^QR (one d'_c x H(d_h + d_h^R)
        # matrix in the released code), W^DKV and W^KR (one d x (d_c + d_h^R) matrix),
        # W^UK and W^UV (one d_c x H(d_h + d_h^v) matrix), W^O.
        q = (d * H * cfg.head_dim if cfg.q_lora_rank is None
             else d * cfg.q_lora_rank + cfg.q_lora_rank * H * cfg.head_dim)
        kv = (d * (cfg.kv_lora_rank + cfg.qk_rope_head_dim)
              + cfg.kv_lora_rank * H * (cfg.qk_nope_head_dim + cfg.v_head_dim))
        return q + kv + cfg.v_dim * d
    a, kv = cfg.attn_dim, cfg.kv_dim
    out = 2 * d * a + 2 * d * kv  # W_q, W_o and W_k, W_v
    if cfg.position == "relative":
        out += d * a  # W_{k,R}: projects the relative encodings (Transformer-XL, Sec. 3.3)
    return out


def _attention_params(cfg: ModelConfig) -> int:
    out = _attention_matmul_params(cfg)
    if cfg.attention == "mla":  # RMSNorms on the two latents
        q_norm = 0 if cfg.q_lora_rank is None else _norm_params(cfg, cfg.q_lora_rank)
        return out + q_norm + _norm_params(cfg, cfg.kv_lora_rank)
    a, kv, d = cfg.attn_dim, cfg.kv_dim, cfg.d_model
    if cfg.bias:
        out += a + 2 * kv + d
    if cfg.position == "relative":
        out += 2 * a  # Transformer-XL's u and v biases
    if cfg.qk_norm:
        out += 2 * _norm_params(cfg, cfg.head_dim)  # one per-head norm for queries, one for keys
    return out


def _n_mlp(cfg: ModelConfig) -> int:
    """Matrices of one MLP: two for GELU, three for SwiGLU (Shazeer 2020)."""
    return 3 if cfg.mlp == "swiglu" else 2


def _mlp_params(cfg: ModelConfig, d_ff: int) -> int:
    """One MLP of hidden size ``d_ff`` (a dense MLP or one expert), biases included."""
    out = _n_mlp(cfg) * cfg.d_model * d_ff
    if cfg.bias:
        out += (_n_mlp(cfg) - 1) * d_ff + cfg.d_model
    return out


def _router_params(cfg: ModelConfig) -> int:
    """The router of one MoE layer: a d x n_experts matrix (and a bias with ``cfg.bias``)."""
    return cfg.n_experts * cfg.d_model + (cfg.n_experts if cfg.bias else 0)


def _layer_params(cfg: ModelConfig, kind: str = "dense") -> int:
    """One transformer block: attention, its MLP (``kind`` "dense" or "moe"), two norms."""
    if kind == "moe":
        experts = cfg.n_experts + cfg.n_shared_experts
        mlp = _router_params(cfg) + experts * _mlp_params(cfg, cfg.moe_d_ff)
    else:
        mlp = _mlp_params(cfg, cfg.d_ff)
    return _attention_params(cfg) + mlp + 2 * _norm_params(cfg)


def attention_params(cfg: ModelConfig) -> int:
    """Parameters of one layer's attention: its projections, biases and norms.

    Multi-head (and grouped-query) attention: ``d*(H*hd) + 2*d*(H_kv*hd) + (H*hd)*d``, plus
    biases, Transformer-XL's relative-position terms and qk-norms where the config has them.
    Latent attention: the query down- and up-projections (or one plain projection when
    ``q_lora_rank`` is None), the key-value down-projection with the rotary key, its
    up-projection to every head's keys and values, the output projection and the two latent
    norms (DeepSeek-V2, Sec. 2.1): 187,107,328 for DeepSeek-V3, against 704,643,072 for
    multi-head attention with its 128 heads of 192.
    """
    return _attention_params(_check_cfg(cfg))


def _routed_copies(tokens, experts_per_token, tp=1, etp=1, capacity_factor=1.0):
    """Token copies one GPU's routed experts process, the unit of an MoE layer's work,
    activations and all-to-all: each tensor-parallel rank routes its ``tokens / tp``
    (sequence parallelism) to ``experts_per_token`` experts, expert tensor parallelism gathers
    the copies of ``etp`` ranks, and the busiest GPU gets ``capacity_factor`` times a balanced
    router's share."""
    return (capacity_factor * np.asarray(experts_per_token) * np.asarray(tokens, dtype=float)
            / np.asarray(tp) * np.asarray(etp))


def expert_params(cfg: ModelConfig) -> int:
    """Parameters of one expert: an MLP of hidden size ``moe_d_ff`` (routed or shared).

    ``3 * d * moe_d_ff`` for SwiGLU experts (Mixtral 8x7B: 176,160,768; DeepSeek-V3:
    44,040,192), ``2 * d * moe_d_ff`` for GELU ones, plus biases with ``cfg.bias``.

    Raises
    ------
    ValueError
        For a dense model (``n_experts=0``).
    """
    cfg = _check_cfg(cfg)
    if not cfg.is_moe:
        raise ValueError(f"cfg must be a mixture of experts (n_experts > 0); "
                         f"{cfg.name or 'this model'} is dense")
    return _mlp_params(cfg, cfg.moe_d_ff)


def embedding_params(cfg: ModelConfig) -> int:
    """Token (and learned position) embedding parameters, plus an untied LM head.

    These are the parameters Kaplan et al. 2020 exclude from their "non-embedding" N.
    """
    cfg = _check_cfg(cfg)
    emb = cfg.vocab_size * cfg.d_model
    if cfg.position == "learned":
        emb += cfg.seq_len * cfg.d_model
    if not cfg.tied_embeddings:
        emb += cfg.vocab_size * cfg.d_model
    return emb


def non_embedding_params(cfg: ModelConfig) -> int:
    """Parameters of the transformer blocks and the final norm (Kaplan et al. 2020's N).

    For the standard shape (d_ff = 4d, no GQA) this is about 12 * L * d^2
    (Kaplan et al. 2020, Table 1: N = 2 d_model n_layer (2 d_attn + d_ff)).
    """
    cfg = _check_cfg(cfg)
    dense = (cfg.n_layers - cfg.n_moe_layers) * _layer_params(cfg)
    moe = cfg.n_moe_layers * _layer_params(cfg, "moe") if cfg.is_moe else 0
    return dense + moe + _norm_params(cfg)


def param_count(cfg: ModelConfig) -> int:
    """Exact number of trainable parameters.

    Equal to ``sum(p.numel() for p in model.parameters())`` of the standard PyTorch
    implementation: a tied LM head is counted once and rotary ``inv_freq`` buffers are
    not parameters (so Llama-2-7B has 6,738,415,616, not the 6,738,417,664 of some hub
    metadata).

    Per layer: attention ``d*(H*hd) + 2*d*(H_kv*hd) + (H*hd)*d``, MLP ``2*d*d_ff``
    (GELU) or ``3*d*d_ff`` (SwiGLU), two norms, and biases when ``cfg.bias``. Plus token
    embeddings ``V*d``, learned positions ``seq_len*d``, the final norm and an untied
    head ``V*d``. GPT-2 small: 124,439,808; Llama-3-8B: 8,030,261,248
    (reference-figures Sec. 4).

    A mixture of experts counts every expert once: an MoE layer holds the router
    ``n_experts*d`` and ``n_experts + n_shared_experts`` MLPs of size ``moe_d_ff``; the
    first ``n_dense_layers`` layers hold a dense MLP of size ``d_ff``. Latent attention
    (``attention="mla"``) holds its down- and up-projections and the two latent norms.
    Mixtral 8x7B: 46,702,792,704; DeepSeek-V3 (without its multi-token-prediction module):
    671,026,404,352, as Hugging Face transformers counts it (the router's 256 score-correction
    biases per layer are a buffer there, a parameter in DeepSeek's own code: 14,848 more).

    Parameters
    ----------
    cfg : ModelConfig

    Returns
    -------
    int
    """
    return embedding_params(cfg) + non_embedding_params(cfg)


def active_param_count(cfg: ModelConfig) -> int:
    """Parameters one token uses: all but the routed experts it is not sent to.

    ``param_count - n_moe_layers * (n_experts - experts_per_token) * expert_params``: every
    non-expert parameter (embeddings, LM head, attention, norms, routers, dense layers), the
    shared experts and ``experts_per_token`` routed experts per MoE layer. This is the
    convention of the published "active" figures, which include the embeddings (Mixtral
    8x7B: 12,879,925,248, "13B active", Jiang et al. 2024). For a dense model it equals
    :func:`param_count`. The FLOPs of a token follow the active *matmul* weights instead
    (:func:`matmul_params`), which leave out the embedding look-up and count the whole
    router.

    Parameters
    ----------
    cfg : ModelConfig

    Returns
    -------
    int
    """
    cfg = _check_cfg(cfg)
    if not cfg.is_moe:
        return param_count(cfg)
    idle = cfg.n_moe_layers * (cfg.n_experts - cfg.experts_per_token)
    return param_count(cfg) - idle * _mlp_params(cfg, cfg.moe_d_ff)


def matmul_params(cfg: ModelConfig) -> int:
    """Weights that multiply every token once in the forward pass, LM head included.

    This is the N of "6N FLOPs per token": every linear layer of every block plus the
    output projection to the vocabulary (which does its matmul even when tied to the
    embedding). Embedding look-ups, biases and norms are not matmuls and are left out.
    With relative positions the per-layer projection of the encodings is counted too
    (it costs one d x d matmul per position).

    In a mixture of experts only the active weights count: the router (all
    ``n_experts`` scores are computed for every token), the shared experts and
    ``experts_per_token`` routed experts. Latent attention counts its compressions and
    decompressions as training computes them: the keys and values of every token are
    decompressed from its latent (the "absorbed" form of DeepSeek-V2, Sec. 2.1.2, saves
    that only when decoding).
    """
    cfg = _check_cfg(cfg)
    d, n_mlp = cfg.d_model, _n_mlp(cfg)
    dense = _attention_matmul_params(cfg) + n_mlp * d * cfg.d_ff
    moe = (_attention_matmul_params(cfg) + cfg.n_experts * d
           + (cfg.experts_per_token + cfg.n_shared_experts) * n_mlp * d * cfg.moe_d_ff
           if cfg.is_moe else 0)
    n_dense = cfg.n_layers - cfg.n_moe_layers
    return n_dense * dense + cfg.n_moe_layers * moe + cfg.vocab_size * cfg.d_model


def _gpt2(name: str, n_layers: int, d_model: int, n_heads: int) -> ModelConfig:
    return ModelConfig(
        n_layers, d_model, n_heads, 50257, seq_len=1024, name=name,
        source="Radford et al. 2019 (GPT-2), Table 2; HF gpt2 config.json (n_ctx 1024, V 50257)",
    )


_GPT3 = "Brown et al. 2020 (GPT-3), Table 2.1; architecture as GPT-2"


def _gpt3(name: str, n_layers: int, d_model: int, n_heads: int, note: str = "") -> ModelConfig:
    # Table 2.1: n_ctx 2048, d_ff = 4 d_model; GPT-2's architecture and 50,257-token vocabulary
    # with learned positions and a tied LM head (the alternating sparse attention layers
    # have the same weights as dense ones).
    return ModelConfig(
        n_layers, d_model, n_heads, 50257, seq_len=2048, name=name,
        source=_GPT3 + (f"; {note}" if note else ""),
    )


def _llama(name: str, L: int, d: int, H: int, kv: int, d_ff: int, V: int, s: int, src: str):
    return ModelConfig(
        L, d, H, V, d_ff=d_ff, n_kv_heads=kv, seq_len=s, mlp="swiglu", norm="rmsnorm",
        bias=False, tied_embeddings=False, position="rope", name=name, source=src,
    )


def _deepmind(name: str, L: int, d: int, H: int, src: str) -> ModelConfig:
    # Gopher/Chinchilla: RMSNorm, Transformer-XL relative positions, SentencePiece V=32,000,
    # kv size 128, d_ff = 4d, 2048 context. Weights never released: the count rests on
    # the Transformer-XL parameterisation and reproduces the published 280 B / 70 B to 0.2 %.
    return ModelConfig(
        L, d, H, 32000, seq_len=2048, mlp="gelu", norm="rmsnorm", bias=False,
        tied_embeddings=True, position="relative", name=name, source=src,
    )


_LLAMA2 = "Touvron et al. 2023 (Llama 2), Table 1 and HF config.json"
_LLAMA3 = "Llama 3 herd paper (arXiv:2407.21783), Table 3 and HF config.json"

#: The eight GPT-3 sizes of Brown et al. 2020, Table 2.1 (n_ctx 2048, d_ff = 4 d_model,
#: GPT-2's architecture and vocabulary), read-only, smallest first: a family of one recipe
#: at eight widths, for sweeps (lessons 02 and 10). ``gpt3-175b`` is also in :data:`MODELS`;
#: :func:`get_model` finds all of them. Table 2.1 has two slips: GPT-3 XL's 24 heads of 128
#: would be 3,072 wide, not its d_model of 2,048 (the preset keeps d_model and uses 16 heads
#: of 128; the parameter count depends only on d_model), and GPT-3 13B's d_model of 5,140
#: is not 40 heads x 128 = 5,120 (the preset uses 5,120; lesson 02 compares the two).
GPT3_FAMILY: Mapping[str, ModelConfig] = MappingProxyType({
    "gpt3-small": _gpt3("GPT-3 Small", 12, 768, 12),
    "gpt3-medium": _gpt3("GPT-3 Medium", 24, 1024, 16),
    "gpt3-large": _gpt3("GPT-3 Large", 24, 1536, 16),
    "gpt3-xl": _gpt3(
        "GPT-3 XL", 24, 2048, 16,
        "Table 2.1 prints 24 heads of d_head 128, but 24 x 128 = 3072 != d_model 2048: "
        "16 heads of 128 here (the parameter count depends only on d_model)",
    ),
    "gpt3-2.7b": _gpt3("GPT-3 2.7B", 32, 2560, 32),
    "gpt3-6.7b": _gpt3("GPT-3 6.7B", 32, 4096, 32),
    "gpt3-13b": _gpt3(
        "GPT-3 13B", 40, 5120, 40,
        "Table 2.1 prints d_model 5140, which 40 heads of d_head 128 cannot tile "
        "(40 x 128 = 5120): d_model 5120 here",
    ),
    "gpt3-175b": _gpt3("GPT-3 175B", 96, 12288, 96),
})

#: Presets of real models, read-only (copy with ``dict(tm.MODELS)`` to add your own).
#: ``seq_len`` is the pre-training context length. The smaller GPT-3 sizes are in
#: :data:`GPT3_FAMILY`.
MODELS: Mapping[str, ModelConfig] = MappingProxyType({
    "gpt2": _gpt2("GPT-2 small", 12, 768, 12),
    "gpt2-medium": _gpt2("GPT-2 medium", 24, 1024, 16),
    "gpt2-large": _gpt2("GPT-2 large", 36, 1280, 20),
    "gpt2-xl": _gpt2("GPT-2 XL", 48, 1600, 25),
    "gpt3-175b": GPT3_FAMILY["gpt3-175b"],
    "llama-2-7b": _llama("Llama 2 7B", 32, 4096, 32, 32, 11008, 32000, 4096, _LLAMA2),
    "llama-2-13b": _llama("Llama 2 13B", 40, 5120, 40, 40, 13824, 32000, 4096, _LLAMA2),
    "llama-2-70b": _llama("Llama 2 70B", 80, 8192, 64, 8, 28672, 32000, 4096, _LLAMA2),
    "llama-3-8b": _llama("Llama 3 8B", 32, 4096, 32, 8, 14336, 128256, 8192, _LLAMA3),
    "llama-3-70b": _llama("Llama 3 70B", 80, 8192, 64, 8, 28672, 128256, 8192, _LLAMA3),
    "llama-3.1-405b": _llama(
        "Llama 3.1 405B", 126, 16384, 128, 8, 53248, 128256, 8192, _LLAMA3 + "; Table 4 (seq 8192)"
    ),
    "mistral-7b": _llama(
        "Mistral 7B", 32, 4096, 32, 8, 14336, 32000, 8192,
        "Jiang et al. 2023 (Mistral 7B), Table 1 (sliding window 4096 not modelled)",
    ),
    "chinchilla-70b": _deepmind(
        "Chinchilla 70B", 80, 8192, 64, "Hoffmann et al. 2022 (Chinchilla), Table 4"
    ),
    "gopher-280b": _deepmind(
        "Gopher 280B", 80, 16384, 128, "Rae et al. 2021 (Gopher), Table 1; Hoffmann et al. Table 4"
    ),
})


_MIXTRAL = ("Jiang et al. 2024 (Mixtral of Experts, arXiv:2401.04088), Table 1; HF "
            "mistralai/Mixtral-8x7B-v0.1 config.json")
_QWEN3 = "Qwen3 Technical Report (arXiv:2505.09388), Tables 1-2; HF Qwen/{} config.json"


def _moe(name: str, L: int, d: int, H: int, kv: int, d_ff: int, V: int, s: int, src: str,
         **moe) -> ModelConfig:
    # Llama-style blocks (RMSNorm, RoPE, SwiGLU, no biases, untied head) with MoE MLPs.
    return ModelConfig(
        L, d, H, V, d_ff=d_ff, n_kv_heads=kv, seq_len=s, mlp="swiglu", norm="rmsnorm",
        bias=False, tied_embeddings=False, position="rope", name=name, source=src, **moe,
    )


#: Mixtures of experts, read-only: total and active counts in lesson 11. ``seq_len`` is
#: the main pre-training context. DeepSeek-V3 is its main model: the released checkpoint
#: also holds one multi-token-prediction module (a 62nd MoE layer with its own projection
#: and norms, ``num_nextn_predict_layers`` = 1), which training uses and inference may drop.
MOE_MODELS: Mapping[str, ModelConfig] = MappingProxyType({
    "mixtral-8x7b": _moe(
        "Mixtral 8x7B", 32, 4096, 32, 8, 14336, 32000, 32768, _MIXTRAL,
        n_experts=8, experts_per_token=2,
    ),
    "mixtral-8x22b": _moe(
        "Mixtral 8x22B", 56, 6144, 48, 8, 16384, 32000, 65536,
        "Mistral AI, 'Cheaper, Better, Faster, Stronger' (Apr 2024: 141B total, 39B active, "
        "64K context); HF mistralai/Mixtral-8x22B-v0.1 config.json",
        n_experts=8, experts_per_token=2,
    ),
    "deepseek-v3": _moe(
        "DeepSeek-V3", 61, 7168, 128, 128, 18432, 129280, 4096,
        "DeepSeek-V3 Technical Report (arXiv:2412.19437), Sec. 4.2 (61 layers, d 7168, 128 "
        "heads, d_c 512, d'_c 1536, d_h 128, d_h^R 64; 1 shared + 256 routed experts of 2048, "
        "8 active; first 3 layers dense; 4K pre-training context); HF deepseek-ai/DeepSeek-V3 "
        "config.json (V 129,280, d_ff 18,432)",
        n_experts=256, experts_per_token=8, n_shared_experts=1, moe_d_ff=2048,
        n_dense_layers=3, attention="mla", q_lora_rank=1536, kv_lora_rank=512,
        qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
    ),
    "qwen3-30b-a3b": ModelConfig(
        48, 2048, 32, 151936, d_ff=6144, n_kv_heads=4, head_dim=128, seq_len=4096,
        mlp="swiglu", norm="rmsnorm", bias=False, tied_embeddings=False, position="rope",
        qk_norm=True, n_experts=128, experts_per_token=8, moe_d_ff=768,
        name="Qwen3-30B-A3B", source=_QWEN3.format("Qwen3-30B-A3B"),
    ),
    "qwen3-235b-a22b": ModelConfig(
        94, 4096, 64, 151936, d_ff=12288, n_kv_heads=4, head_dim=128, seq_len=4096,
        mlp="swiglu", norm="rmsnorm", bias=False, tied_embeddings=False, position="rope",
        qk_norm=True, n_experts=128, experts_per_token=8, moe_d_ff=1536,
        name="Qwen3-235B-A22B", source=_QWEN3.format("Qwen3-235B-A22B"),
    ),
})


# --- Llama-style shapes for a parameter budget (lesson 09) ---------------------------------


def ffn_hidden_dim(d_model, ffn_multiplier=1.3, multiple_of=1024):
    """Width of a Llama SwiGLU MLP, with Meta's rounding rule.

    Start from the 4d of a GELU MLP, take 2/3 of it (three SwiGLU matrices then hold as many
    weights as two GELU ones, Shazeer 2020), scale by ``ffn_multiplier``, and round *up* to
    a multiple of ``multiple_of``::

        h = int(2 * 4d / 3); h = int(ffn_multiplier * h); h = multiple_of * ceil(h / multiple_of)

    Source: Meta's reference implementation (github.com/meta-llama/llama3, ``llama/model.py``,
    ``FeedForward``) and the released ``params.json`` files: Llama 3 8B (d 4096, x1.3,
    multiple 1024) -> 14,336; 70B (8192, x1.3, 4096) -> 28,672; 405B (16384, x1.2, 4096)
    -> 53,248; Llama 2 7B (4096, no multiplier, 256) -> 11,008.

    Parameters
    ----------
    d_model : int or array
        Hidden size d.
    ffn_multiplier : float
        Meta's ``ffn_dim_multiplier`` (1.0 for "none").
    multiple_of : int
        Rounding granule.

    Returns
    -------
    int or array of int
    """
    d = v.positive_int("d_model", d_model)
    mult = v.positive("ffn_multiplier", ffn_multiplier)
    m = v.positive_int("multiple_of", multiple_of)
    h = np.floor(np.floor(2 * 4 * np.asarray(d, dtype=np.int64) / 3) * mult).astype(np.int64)
    out = m * ((h + m - 1) // m)
    return int(out) if np.ndim(out) == 0 else out


def _llama_config(d: int, n_layers: int, *, head_dim, n_kv_heads, vocab_size, seq_len,
                  ffn_multiplier, ffn_multiple, name) -> ModelConfig:
    return ModelConfig(
        n_layers, d, d // head_dim, vocab_size,
        d_ff=ffn_hidden_dim(d, ffn_multiplier, ffn_multiple), n_kv_heads=n_kv_heads,
        head_dim=head_dim, seq_len=seq_len, mlp="swiglu", norm="rmsnorm", bias=False,
        tied_embeddings=False, position="rope", name=name,
        source="trainmath.llama_like_config (Llama 3 recipe, scaled)",
    )


def llama_like_config(
    n_params,
    *,
    aspect_ratio=128.0,
    head_dim: int = 128,
    n_kv_heads: int = 8,
    vocab_size: int = 128256,
    seq_len: int = 8192,
    ffn_multiplier=1.3,
    ffn_multiple: int = 1024,
    name: str | None = None,
) -> ModelConfig:
    """A plausible Llama-3-style shape with about ``n_params`` parameters.

    The recipe of the Llama 3 family (Llama 3 paper, arXiv:2407.21783, Table 3): RMSNorm,
    rotary positions, no biases, an untied LM head, SwiGLU with :func:`ffn_hidden_dim`,
    grouped-query attention with 8 KV heads of size 128, a 128,256-token vocabulary. The
    width d is a multiple of ``head_dim * n_kv_heads`` (1024) so that the heads split into
    whole KV groups; among those widths the one whose depth comes closest to
    ``d / L = aspect_ratio`` is chosen, and then the number of layers L that brings
    :func:`trainmath.models.param_count` closest to ``n_params``.

    Real models sit at d/L of about 100 to 130 (Llama 3 8B 128, 70B 102, 405B 130; Llama 2
    7B 128). With the defaults, Llama 3 8B's count gives back exactly its shape
    (32 layers, d 4096, d_ff 14,336).

    Parameters
    ----------
    n_params : float
        Target parameter count (a single number).
    aspect_ratio : float
        Wanted d_model / n_layers.
    head_dim, n_kv_heads, vocab_size, seq_len : int
        Head size, key/value heads, vocabulary, pre-training context.
    ffn_multiplier, ffn_multiple
        As in :func:`ffn_hidden_dim` (Llama 3 8B/70B use 1.3; 405B 1.2 with 4096).
    name : str, optional
        Display name (default ``"Llama-like <N>"``).

    Returns
    -------
    ModelConfig
        Its ``param_count`` is within half a layer of the target: about 1.5 % for models of
        a few billion parameters, less for larger ones.

    Raises
    ------
    ValueError
        If ``n_params`` is too small to hold the embeddings and one layer at the smallest
        width (the message gives the minimum).
    """
    n = v.positive("n_params", n_params)
    if np.ndim(n):
        raise TypeError("n_params must be a single number (one model), got an array")
    r = v.positive("aspect_ratio", aspect_ratio)
    hd = v.scalar_int("head_dim", head_dim)
    kv = v.scalar_int("n_kv_heads", n_kv_heads)
    V = v.scalar_int("vocab_size", vocab_size)
    s = v.scalar_int("seq_len", seq_len)
    mult = float(v.positive("ffn_multiplier", ffn_multiplier))
    granule = v.scalar_int("ffn_multiple", ffn_multiple)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    kw = dict(head_dim=hd, n_kv_heads=kv, vocab_size=V, seq_len=s, ffn_multiplier=mult,
              ffn_multiple=granule, name=name or f"Llama-like {fmt.count(n)}")

    step = hd * kv
    best = None
    for k in range(1, 1025):  # widths up to 1024 granules (d = 1,048,576 with the defaults)
        d = k * step
        one = param_count(_llama_config(d, 1, **kw))
        two = param_count(_llama_config(d, 2, **kw))
        per_layer, fixed = two - one, 2 * one - two
        depth = (n - fixed) / per_layer
        if depth < 0.5:
            break
        miss = abs(math.log(d / depth / r))
        if best is None or miss < best[0]:
            best = (miss, d, max(1, round(depth)))
        if d / depth > r:  # d / L only grows with d from here on
            break
    if best is None:
        smallest = param_count(_llama_config(step, 1, **kw))
        raise ValueError(
            f"n_params must be at least about {smallest:.3g} for a Llama-like model with "
            f"vocab_size={V} (embeddings + one layer at d = {step}), got {n_params!r}"
        )
    return _llama_config(best[1], best[2], **kw)


# Every preset by name, for get_model.
_PRESETS = MappingProxyType({**MODELS, **GPT3_FAMILY, **MOE_MODELS})


def get_model(name_or_cfg: str | ModelConfig) -> ModelConfig:
    """A preset by name (:data:`MODELS`, :data:`GPT3_FAMILY` or :data:`MOE_MODELS`), or a
    ModelConfig passed through."""
    if isinstance(name_or_cfg, ModelConfig):
        return name_or_cfg
    return v.lookup("model", name_or_cfg, _PRESETS)
