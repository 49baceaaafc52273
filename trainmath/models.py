"""Transformer shapes, exact parameter counts and presets of real models.

A :class:`ModelConfig` describes a decoder-only transformer in the two families that
cover almost every open model: GPT-2 style (learned positions, LayerNorm with bias,
GELU MLP, tied LM head) and Llama style (rotary positions, RMSNorm, SwiGLU MLP,
grouped-query attention, no biases, untied LM head). :func:`param_count` returns the
exact number of trainable values, equal to ``sum(p.numel() for p in model.parameters())``
of the standard PyTorch implementation (a tied matrix counted once, no rotary buffers).
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
    "GPT3_FAMILY",
    "param_count",
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
    name: str = ""
    source: str = field(default="", compare=False)

    #: How to get one, for the message of a function given something else (not a field).
    EXAMPLE: ClassVar[str] = "tm.MODELS['gpt2'] or tm.get_model('gpt2')"

    def __post_init__(self) -> None:
        for arg in ("n_layers", "d_model", "n_heads", "vocab_size", "seq_len"):
            object.__setattr__(self, arg, v.scalar_int(arg, getattr(self, arg)))
        d_ff = 4 * self.d_model if self.d_ff is None else v.scalar_int("d_ff", self.d_ff)
        object.__setattr__(self, "d_ff", d_ff)
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
        for arg in ("bias", "tied_embeddings"):
            object.__setattr__(self, arg, v.flag(arg, getattr(self, arg)))
        for arg in ("name", "source"):
            if not isinstance(getattr(self, arg), str):
                raise TypeError(f"{arg} must be a str, got {getattr(self, arg)!r}")

    @property
    def attn_dim(self) -> int:
        """Width of the concatenated query heads, H * head_dim (d_model in most models)."""
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the concatenated key (or value) heads, H_kv * head_dim."""
        return self.n_kv_heads * self.head_dim

    def replace(self, **changes) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def _check_cfg(cfg) -> ModelConfig:
    return v.instance("cfg", cfg, ModelConfig)


def _norm_params(cfg: ModelConfig) -> int:
    """One normalisation layer: a weight, plus a bias for LayerNorm with biases."""
    return cfg.d_model * (2 if cfg.norm == "layernorm" and cfg.bias else 1)


def _layer_params(cfg: ModelConfig) -> int:
    d, a, kv, ff = cfg.d_model, cfg.attn_dim, cfg.kv_dim, cfg.d_ff
    attn = d * a + 2 * d * kv + a * d  # W_q, W_k, W_v, W_o
    n_mlp = 3 if cfg.mlp == "swiglu" else 2
    mlp = n_mlp * d * ff
    biases = 0
    if cfg.bias:
        biases = (a + 2 * kv + d) + ((n_mlp - 1) * ff + d)
    relative = 0
    if cfg.position == "relative":
        relative = d * a + 2 * a  # W_{k,R} and the u, v biases of Transformer-XL
    return attn + mlp + biases + relative + 2 * _norm_params(cfg)


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
    return cfg.n_layers * _layer_params(cfg) + _norm_params(cfg)


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

    Parameters
    ----------
    cfg : ModelConfig

    Returns
    -------
    int
    """
    return embedding_params(cfg) + non_embedding_params(cfg)


def matmul_params(cfg: ModelConfig) -> int:
    """Weights that multiply every token once in the forward pass, LM head included.

    This is the N of "6N FLOPs per token": every linear layer of every block plus the
    output projection to the vocabulary (which does its matmul even when tied to the
    embedding). Embedding look-ups, biases and norms are not matmuls and are left out.
    With relative positions the per-layer projection of the encodings is counted too
    (it costs one d x d matmul per position).
    """
    cfg = _check_cfg(cfg)
    d, a, kv = cfg.d_model, cfg.attn_dim, cfg.kv_dim
    n_mlp = 3 if cfg.mlp == "swiglu" else 2
    per_layer = 2 * d * a + 2 * d * kv + n_mlp * d * cfg.d_ff
    if cfg.position == "relative":
        per_layer += d * a
    return cfg.n_layers * per_layer + cfg.vocab_size * cfg.d_model


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
_PRESETS = MappingProxyType({**MODELS, **GPT3_FAMILY})


def get_model(name_or_cfg: str | ModelConfig) -> ModelConfig:
    """A preset by name (:data:`MODELS` or :data:`GPT3_FAMILY`), or a ModelConfig passed through."""
    if isinstance(name_or_cfg, ModelConfig):
        return name_or_cfg
    return v.lookup("model", name_or_cfg, _PRESETS)
