"""Transformer shapes, exact parameter counts and presets of real models.

A :class:`ModelConfig` describes a decoder-only transformer in the two families that
cover almost every open model: GPT-2 style (learned positions, LayerNorm with bias,
GELU MLP, tied LM head) and Llama style (rotary positions, RMSNorm, SwiGLU MLP,
grouped-query attention, no biases, untied LM head). :func:`param_count` returns the
exact number of trainable values, equal to ``sum(p.numel() for p in model.parameters())``
of the standard PyTorch implementation (a tied matrix counted once, no rotary buffers).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from trainmath import _validate as v

__all__ = [
    "ModelConfig",
    "MODELS",
    "param_count",
    "embedding_params",
    "non_embedding_params",
    "matmul_params",
    "get_model",
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

    def __post_init__(self) -> None:
        for arg in ("n_layers", "d_model", "n_heads", "vocab_size", "seq_len"):
            object.__setattr__(self, arg, _scalar_int(arg, getattr(self, arg)))
        d_ff = 4 * self.d_model if self.d_ff is None else _scalar_int("d_ff", self.d_ff)
        object.__setattr__(self, "d_ff", d_ff)
        kv = self.n_heads if self.n_kv_heads is None else _scalar_int("n_kv_heads", self.n_kv_heads)
        if kv > self.n_heads or self.n_heads % kv:
            raise ValueError(
                f"n_kv_heads must divide n_heads={self.n_heads} (1..n_heads), got {kv}"
            )
        object.__setattr__(self, "n_kv_heads", kv)
        if self.head_dim is None:
            if self.d_model % self.n_heads:
                raise ValueError(
                    f"n_heads must divide d_model={self.d_model} unless head_dim is given, "
                    f"got n_heads={self.n_heads}"
                )
            object.__setattr__(self, "head_dim", self.d_model // self.n_heads)
        else:
            object.__setattr__(self, "head_dim", _scalar_int("head_dim", self.head_dim))
        v.choice("mlp", self.mlp, MLP_KINDS)
        v.choice("norm", self.norm, NORM_KINDS)
        v.choice("position", self.position, POSITION_KINDS)
        for arg in ("bias", "tied_embeddings"):
            if not isinstance(getattr(self, arg), bool):
                raise TypeError(f"{arg} must be True or False, got {getattr(self, arg)!r}")
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


def _scalar_int(name: str, value) -> int:
    out = v.positive_int(name, value)
    if not isinstance(out, int):
        raise TypeError(f"{name} must be a single integer, got an array")
    return out


def _check_cfg(cfg) -> ModelConfig:
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a trainmath.ModelConfig, got {type(cfg).__name__}")
    return cfg


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

#: Presets of real models. ``seq_len`` is the pre-training context length.
MODELS: dict[str, ModelConfig] = {
    "gpt2": _gpt2("GPT-2 small", 12, 768, 12),
    "gpt2-medium": _gpt2("GPT-2 medium", 24, 1024, 16),
    "gpt2-large": _gpt2("GPT-2 large", 36, 1280, 20),
    "gpt2-xl": _gpt2("GPT-2 XL", 48, 1600, 25),
    "gpt3-175b": ModelConfig(
        96, 12288, 96, 50257, seq_len=2048, name="GPT-3 175B",
        source="Brown et al. 2020 (GPT-3), Table 2.1; architecture as GPT-2",
    ),
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
}


def get_model(name_or_cfg: str | ModelConfig) -> ModelConfig:
    """A preset by name (see :data:`MODELS`) or a :class:`ModelConfig` passed through."""
    if isinstance(name_or_cfg, ModelConfig):
        return name_or_cfg
    return v.lookup("model", name_or_cfg, MODELS)
