"""The course's formulas checked against real PyTorch models (lesson 10).

This module builds the transformer a :class:`trainmath.ModelConfig` describes as a PyTorch
module and measures what the formulas of lessons 01, 05 and 06 predict:

* :func:`count_params`: trainable values, ``sum(p.numel())`` with a tied matrix once, to
  compare with :func:`trainmath.param_count` (:func:`count_config_params` for a config);
* :func:`measure_flops`: matmul FLOPs of the forward and the backward pass counted by
  ``torch.utils.flop_counter.FlopCounterMode``, to compare with
  :func:`trainmath.flops_per_token` and with 6ND (:func:`measure_config_flops` for a
  config of any depth, from one block: :func:`measure_flop_parts`);
* :func:`measure_saved_activations`: bytes a block keeps for its backward pass, seen through
  ``torch.autograd.graph.saved_tensors_hooks`` (each storage once), to compare with
  :func:`trainmath.activation_memory_per_layer` (Korthikanti et al. 2022); the bytes the
  formula leaves out have the exact closed form :func:`activation_extras`. A Llama-style
  block built with ``attention="sdpa"``, ``fused_norm=True`` and ``fused_mlp=True`` keeps
  exactly the terms of :data:`trainmath.MODERN_ACTIVATION_TERMS`
  (``SavedActivations.by_term("modern")``; ``fused_mlp=False``: those of the formula's
  ``fused_mlp=False``), and
  :func:`logits_saved_activations` measures the final norm, LM head and loss
  (:data:`trainmath.LOGITS_TERMS`);
* :func:`measure_optimizer_state`: gradient and optimizer-state bytes after one real
  optimizer step (AdamW, SGD with momentum), to compare with
  :data:`trainmath.OPTIMIZER_STATES`.

Everything works on the ``meta`` device, where tensors have shapes and dtypes but no
memory, so Llama 2 70B is counted exactly on a laptop.

Unlike the rest of :mod:`trainmath` this module imports PyTorch (install the CPU build with
``pip install -e ".[measure]"``); ``import trainmath`` does not load it.
"""

from __future__ import annotations

import contextlib
import gc
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "trainmath.measure needs PyTorch. Install the CPU build with "
        "`pip install -e \".[measure]\"` in the course folder (or `pip install torch==2.13.0 "
        "--index-url https://download.pytorch.org/whl/cpu`); the rest of the course works "
        "without it."
    ) from exc

import numpy as np

from trainmath import _validate as v
from trainmath.activations import ACTIVATION_TERMS, LOGITS_TERMS, MODERN_ACTIVATION_TERMS
from trainmath.models import ModelConfig

__all__ = [
    "DTYPES",
    "ATTENTION_KINDS",
    "TERM_TABLES",
    "OPTIMIZERS",
    "build_model",
    "TransformerLM",
    "Block",
    "FusedRMSNorm",
    "FusedSwiGLU",
    "count_params",
    "count_config_params",
    "FlopCount",
    "measure_flops",
    "measure_config_flops",
    "FlopParts",
    "measure_flop_parts",
    "SavedTensor",
    "SavedActivations",
    "measure_saved_activations",
    "block_saved_activations",
    "logits_saved_activations",
    "activation_extras",
    "OptimizerState",
    "measure_optimizer_state",
]

#: Activation/weight dtypes a model can be built in, by the course's names.
DTYPES = MappingProxyType(
    {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
)
#: How attention is computed: written out (scores and softmax materialised, as the papers
#: count it) or PyTorch's fused ``scaled_dot_product_attention`` (with grouped-query
#: attention done natively, ``enable_gqa=True``, as FlashAttention does: K and V keep their
#: n_kv_heads heads).
ATTENTION_KINDS = ("explicit", "sdpa")
#: What :meth:`SavedActivations.by_term` sorts saved tensors into: Korthikanti's GPT layer,
#: the modern layer, or the final norm, LM head and loss.
TERM_TABLES = ("korthikanti", "modern", "logits")
#: Optimizers :func:`measure_optimizer_state` can run, by :data:`trainmath.OPTIMIZER_STATES` key.
OPTIMIZERS = ("adamw", "sgd-momentum")

_ROPE_BASE = 10000.0  # Su et al. 2021; the base does not change any count


def _dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(
                f"dtype must be one of {tuple(DTYPES)} or their torch dtypes, got {dtype}"
            )
        return dtype
    return v.lookup("dtype", dtype, DTYPES)


def _device(device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch device such as 'cpu' or 'meta', got {device!r}") \
            from None


def _check_cfg(cfg) -> ModelConfig:
    cfg = v.instance("cfg", cfg, ModelConfig)
    if cfg.is_moe or cfg.attention == "mla" or cfg.qk_norm:
        # this module's blocks are dense, with plain multi-head attention
        raise ValueError(
            "trainmath.measure builds dense models with multi-head attention; for a mixture "
            "of experts, latent attention or qk-norm use trainmath.reference.build_hf_model "
            "(Hugging Face transformers' own implementation)"
        )
    return cfg


# --- the model --------------------------------------------------------------------------------


class _Dropout(nn.Module):
    """Dropout that keeps a 1-byte mask for the backward pass, as fused GPU kernels do.

    ``F.dropout`` on the CPU multiplies by a noise tensor of the activation's dtype and saves
    that (2 bytes per value in bf16); ``torch.native_dropout``, which CUDA's ``F.dropout``
    calls, saves a bool mask (1 byte), the size Korthikanti et al. 2022 count. With
    ``fused=False`` this module calls ``F.dropout``, to show the difference.
    """

    def __init__(self, p: float, fused: bool = True) -> None:
        super().__init__()
        self.p, self.fused = p, fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if not self.fused:
            return F.dropout(x, self.p, training=True)
        return torch.native_dropout(x, self.p, True)[0]

    def extra_repr(self) -> str:
        return f"p={self.p}, fused={self.fused}"


class Linear(nn.Linear):
    """``nn.Linear`` without its own initialisation (:func:`build_model` initialises every
    weight afterwards).

    ``nn.Linear`` draws a Kaiming-uniform init when it is built; on the meta device that
    goes through PyTorch's Python reference ops, a third of the time it takes to build a
    126-layer model there. Same parameters, same name in ``print(model)``.
    """

    def reset_parameters(self) -> None:
        pass


class _FusedRmsNorm(torch.autograd.Function):
    """RMSNorm as one autograd node keeping what PyTorch's CUDA kernel keeps.

    ``nn.RMSNorm`` on CUDA runs ``aten._fused_rms_norm``, whose backward node
    (``FusedRmsNormBackward0``) saves the input, the weight and ``rstd`` = 1/rms, in fp32,
    one per token. On the CPU the same module is decomposed into element-wise ops that keep
    an fp32 copy of the input and the fp32 normalised values instead. This function runs
    the same forward (``aten._fused_rms_norm``) and saves the CUDA kernel's tensors, with
    the standard gradient computed in ``rstd``'s dtype (fp32 for 16-bit inputs).
    """

    @staticmethod
    def forward(ctx, x, weight, eps):
        out, rstd = torch.ops.aten._fused_rms_norm(x, [x.shape[-1]], weight, eps)
        ctx.save_for_backward(x, weight, rstd)
        ctx.saved_names = ("input", "weight", "rstd")
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, rstd = ctx.saved_tensors
        acc = rstd.dtype  # fp32 for 16-bit inputs, the input's own dtype otherwise
        xhat = x.to(acc) * rstd
        g = grad.to(acc)
        gw = g if weight is None else g * weight.to(acc)
        dx = rstd * (gw - xhat * (gw * xhat).mean(-1, keepdim=True))
        dweight = None
        if weight is not None and ctx.needs_input_grad[1]:
            dweight = (g * xhat).reshape(-1, x.shape[-1]).sum(0).to(weight.dtype)
        return dx.to(x.dtype), dweight, None


class FusedRMSNorm(nn.RMSNorm):
    """``nn.RMSNorm`` that keeps, on every device, what it keeps on CUDA: its input and an
    fp32 1/rms per token (:class:`_FusedRmsNorm`). Same parameters, same output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        return _FusedRmsNorm.apply(x, self.weight, eps)


class FusedSwiGLU(torch.autograd.Function):
    """SwiGLU's product ``SiLU(gate) * up`` as one autograd node that keeps only its inputs.

    ``FusedSwiGLU.apply(gate, up)`` returns ``F.silu(gate) * up`` (the same values as eager
    PyTorch) and saves ``gate`` and ``up`` alone; its backward recomputes the sigmoid and
    returns both gradients, ``grad * up * σ(g)(1 + g(1 - σ(g)))`` and ``grad * SiLU(g)``,
    computed in fp32 for 16-bit inputs. Eager PyTorch also keeps SiLU's output (one more
    f-wide tensor: ``MulBackward0.self``). This is what large training stacks run:
    Megatron-Core's ``bias_swiglu`` (``megatron/core/fusions/fused_bias_swiglu.py``,
    ``SwiGLUFunction``/``BiasSwiGLUFunction``, which save only the fc1 output, gate and up
    side by side) and what ``torch.compile`` makes of ``F.silu(gate) * up`` (its min-cut
    partitioner saves the two inputs and recomputes the rest; checked with PyTorch 2.13).
    The product itself is the down projection's input, kept by that linear layer.
    """

    @staticmethod
    def forward(ctx, gate, up):
        ctx.save_for_backward(gate, up)
        ctx.saved_names = ("gate", "up")
        return F.silu(gate) * up

    @staticmethod
    def backward(ctx, grad):
        gate, up = ctx.saved_tensors
        acc = torch.promote_types(gate.dtype, torch.float32)  # fp32 for 16-bit inputs
        g = gate.to(acc)
        sig = torch.sigmoid(g)
        grad_acc = grad.to(acc)
        d_gate = grad_acc * up.to(acc) * sig * (1 + g * (1 - sig))
        d_up = grad_acc * (g * sig)
        return d_gate.to(gate.dtype), d_up.to(up.dtype)


def _norm(cfg: ModelConfig, fused_norm: bool = False, **factory) -> nn.Module:
    if cfg.norm == "rmsnorm":
        cls = FusedRMSNorm if fused_norm else nn.RMSNorm
        return cls(cfg.d_model, eps=1e-5, **factory)
    return nn.LayerNorm(cfg.d_model, eps=1e-5, bias=cfg.bias, **factory)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def _sinusoid(positions: torch.Tensor, dim: int, dtype: torch.dtype) -> torch.Tensor:
    """Sinusoidal encodings of ``positions`` (Vaswani et al. 2017), shape (len, dim)."""
    inv = 1.0 / (_ROPE_BASE ** (torch.arange(0, dim, 2, device=positions.device) / dim))
    angles = positions.float()[:, None] * inv[None, :]
    return torch.cat((angles.sin(), angles.cos()), dim=-1)[:, :dim].to(dtype)


class Scores(nn.Module):
    """Causal attention scores ``QKᵀ/√h_d`` (plus a position term), masked with ``masked_fill``.

    One batched matmul, ``2 b s² (H h_d)`` FLOPs; it keeps Q and Kᵀ for its backward pass,
    and ``masked_fill`` keeps the s x s bool mask.
    """

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.scale = 1.0 / math.sqrt(head_dim)

    def forward(self, q: torch.Tensor, k: torch.Tensor, extra: torch.Tensor | None = None):
        s = q.shape[-2]
        scores = q @ k.transpose(-2, -1)
        if extra is not None:
            scores = scores + extra
        scores = scores * self.scale
        causal = torch.ones(s, s, dtype=torch.bool, device=q.device).triu(1)
        return scores.masked_fill(causal, float("-inf"))


class Mix(nn.Module):
    """The attention probabilities times V: one batched matmul, ``2 b s² (H h_d)`` FLOPs."""

    def forward(self, probs: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        return probs @ val


class Attention(nn.Module):
    """Causal self-attention with grouped-query heads and optional RoPE or relative positions.

    The projections W_q, W_k, W_v, W_o are separate ``nn.Linear`` layers (biases when
    ``cfg.bias``). With ``attention="explicit"`` the scores (:class:`Scores`) and the
    softmax are materialised and the probabilities multiply V (:class:`Mix`): two batched
    matmuls of ``2 b s² (H h_d)`` FLOPs each, PaLM's count (Chowdhery et al. 2022, App. B).
    """

    def __init__(self, cfg: ModelConfig, dropout: float, attention: str, fused: bool,
                 **factory) -> None:
        super().__init__()
        self.cfg, self.attention, self.p = cfg, attention, dropout
        d, a, kv = cfg.d_model, cfg.attn_dim, cfg.kv_dim
        self.q_proj = Linear(d, a, bias=cfg.bias, **factory)
        self.k_proj = Linear(d, kv, bias=cfg.bias, **factory)
        self.v_proj = Linear(d, kv, bias=cfg.bias, **factory)
        if cfg.position == "relative":
            # Transformer-XL (Dai et al. 2019, Sec. 3.3): W_{k,R} projects the sinusoidal
            # encodings of the relative distances; u and v are per-head biases.
            self.r_proj = Linear(d, a, bias=False, **factory)
            self.u = nn.Parameter(torch.zeros(cfg.n_heads, cfg.head_dim, **factory))
            self.v = nn.Parameter(torch.zeros(cfg.n_heads, cfg.head_dim, **factory))
        self.scores = Scores(cfg.head_dim)
        self.softmax = nn.Softmax(dim=-1)
        self.attn_dropout = _Dropout(dropout, fused)
        self.mix = Mix()
        self.o_proj = Linear(a, d, bias=cfg.bias, **factory)

    def _heads(self, x: torch.Tensor, n: int) -> torch.Tensor:
        b, s, _ = x.shape
        return x.view(b, s, n, self.cfg.head_dim).transpose(1, 2)  # (b, n, s, hd)

    def _expand_kv(self, x: torch.Tensor) -> torch.Tensor:
        rep = self.cfg.n_heads // self.cfg.n_kv_heads
        if rep == 1:
            return x
        b, kv, s, hd = x.shape
        return x[:, :, None].expand(b, kv, rep, s, hd).reshape(b, kv * rep, s, hd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        b, s, _ = x.shape
        q = self._heads(self.q_proj(x), cfg.n_heads)
        k = self._heads(self.k_proj(x), cfg.n_kv_heads)
        val = self._heads(self.v_proj(x), cfg.n_kv_heads)
        if cfg.position == "rope":
            angles = _sinusoid(torch.arange(s, device=x.device), cfg.head_dim, torch.float32)
            half = cfg.head_dim // 2
            cos = angles[:, half:].repeat(1, 2).to(x.dtype)  # cos of each frequency, twice
            sin = angles[:, :half].repeat(1, 2).to(x.dtype)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
        if self.attention == "sdpa":
            # grouped-query attention inside the kernel, as FlashAttention does: K and V
            # stay at n_kv_heads (what the kernel saves for backward)
            y = F.scaled_dot_product_attention(
                q, k, val, dropout_p=self.p if self.training else 0.0, is_causal=True,
                enable_gqa=cfg.n_kv_heads != cfg.n_heads,
            )
            y = y.transpose(1, 2).reshape(b, s, cfg.attn_dim)
            return self.o_proj(y)
        k, val = self._expand_kv(k), self._expand_kv(val)
        if cfg.position == "relative":
            extra = self._relative_scores(q, s)
            probs = self.attn_dropout(self.softmax(self.scores(q + self.u[:, None], k, extra)))
            y = self.mix(probs, val)
        else:
            y = self.mix(self.attn_dropout(self.softmax(self.scores(q, k))), val)
        y = y.transpose(1, 2).reshape(b, s, cfg.attn_dim)
        return self.o_proj(y)

    def _relative_scores(self, q: torch.Tensor, s: int) -> torch.Tensor:
        """Transformer-XL's position term ``(q + v) · W_{k,R} R_{i-j}`` for j <= i.

        The encodings of the s distances are projected once per forward pass (``2 s d
        (H h_d)`` FLOPs, whatever the batch) and multiplied with the queries: a third s x s
        matmul, ``2 b s² (H h_d)`` FLOPs.
        """
        cfg = self.cfg
        distance = torch.arange(s, device=q.device)  # row m encodes distance m
        r = self.r_proj(_sinusoid(distance, cfg.d_model, q.dtype))  # (s, H*hd)
        r = r.view(s, cfg.n_heads, cfg.head_dim).permute(1, 2, 0)  # (H, hd, s)
        by_distance = (q + self.v[:, None]) @ r  # (b, H, s, s): [i, m] for distance m
        i = torch.arange(s, device=q.device)
        index = (i[:, None] - i[None, :]).clamp(min=0)  # distance i - j; masked where j > i
        return by_distance.gather(-1, index.expand(*by_distance.shape[:2], s, s))


class MLP(nn.Module):
    """GELU MLP (two matrices, GPT-2) or SwiGLU (three, Shazeer 2020), biases when ``cfg.bias``.

    With ``fused=True`` SwiGLU's ``SiLU(gate) * up`` is one :class:`FusedSwiGLU` node (no
    effect on the GELU MLP).
    """

    def __init__(self, cfg: ModelConfig, *, fused: bool = False, **factory) -> None:
        super().__init__()
        self.swiglu = cfg.mlp == "swiglu"
        self.fused = fused and self.swiglu
        if self.swiglu:
            self.gate = Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias, **factory)
        self.up = Linear(cfg.d_model, cfg.d_ff, bias=cfg.bias, **factory)
        self.act = nn.SiLU() if self.swiglu else nn.GELU(approximate="tanh")
        self.down = Linear(cfg.d_ff, cfg.d_model, bias=cfg.bias, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return self.down(FusedSwiGLU.apply(self.gate(x), self.up(x)))
        if self.swiglu:
            return self.down(self.act(self.gate(x)) * self.up(x))
        return self.down(self.act(self.up(x)))

    def extra_repr(self) -> str:
        return "fused=True" if self.fused else ""


class Block(nn.Module):
    """One pre-norm layer: ``x + drop(attn(norm1(x)))``, then ``x + drop(mlp(norm2(x)))``."""

    def __init__(self, cfg: ModelConfig, dropout: float, attention: str, fused: bool,
                 *, fused_norm: bool = False, fused_mlp: bool = False, **factory) -> None:
        super().__init__()
        self.norm1 = _norm(cfg, fused_norm, **factory)
        self.attn = Attention(cfg, dropout, attention, fused, **factory)
        self.drop1 = _Dropout(dropout, fused)
        self.norm2 = _norm(cfg, fused_norm, **factory)
        self.mlp = MLP(cfg, fused=fused_mlp, **factory)
        self.drop2 = _Dropout(dropout, fused)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop1(self.attn(self.norm1(x)))
        return x + self.drop2(self.mlp(self.norm2(x)))


def _embedding(n: int, d: int, **factory) -> nn.Embedding:
    """An embedding table left uninitialised (:func:`build_model` initialises every weight).

    ``nn.Embedding`` would draw its own normal init, which on the meta device goes through
    PyTorch's Python reference ops and first imports TorchDynamo (over a second).
    """
    return nn.Embedding.from_pretrained(torch.empty(n, d, **factory), freeze=False)


class TransformerLM(nn.Module):
    """A decoder-only language model shaped by a :class:`trainmath.ModelConfig`.

    ``forward(idx)`` takes token ids of shape (batch, seq) and returns logits of shape
    (batch, seq, vocab). Attributes: ``tok_emb``, ``pos_emb`` (learned positions only),
    ``blocks`` (an ``nn.ModuleList`` of :class:`Block`), ``norm`` (final norm), ``head``
    (the LM head; its weight *is* ``tok_emb.weight`` when tied). Build it with
    :func:`build_model`.
    """

    def __init__(self, cfg: ModelConfig, dropout: float, attention: str, fused: bool,
                 *, fused_norm: bool = False, fused_mlp: bool = False, **factory) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = _embedding(cfg.vocab_size, cfg.d_model, **factory)
        if cfg.position == "learned":
            self.pos_emb = _embedding(cfg.seq_len, cfg.d_model, **factory)
        self.drop = _Dropout(dropout, fused)
        self.blocks = nn.ModuleList(
            Block(cfg, dropout, attention, fused, fused_norm=fused_norm, fused_mlp=fused_mlp,
                  **factory)
            for _ in range(cfg.n_layers)
        )
        self.norm = _norm(cfg, fused_norm, **factory)
        self.head = Linear(cfg.d_model, cfg.vocab_size, bias=False, **factory)
        if cfg.tied_embeddings:
            self.head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, seq), got {tuple(idx.shape)}")
        b, s = idx.shape
        if self.cfg.position == "learned" and s > self.cfg.seq_len:
            raise ValueError(
                f"seq_len must be <= cfg.seq_len={self.cfg.seq_len} (learned positions), got {s}"
            )
        x = self.tok_emb(idx)
        if self.cfg.position == "learned":
            x = x + self.pos_emb(torch.arange(s, device=idx.device))
        x = self.drop(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector: a 100-layer model is thousands of new objects,
    whose full collections would otherwise double the build time (none of them is garbage)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_model(
    cfg: ModelConfig,
    *,
    dropout: float = 0.0,
    dtype="fp32",
    device="cpu",
    attention: str = "explicit",
    fused_dropout: bool = True,
    fused_norm: bool = False,
    fused_mlp: bool = False,
    seed: int = 0,
) -> TransformerLM:
    """The PyTorch model a :class:`trainmath.ModelConfig` describes.

    GPT-2 style (``position="learned"``, LayerNorm with bias, GELU MLP, tied head) and Llama
    style (RoPE, RMSNorm, SwiGLU, grouped-query attention, no biases, untied head) follow the
    config field by field, as do mixtures and Transformer-XL relative positions (Gopher,
    Chinchilla). Its parameters are exactly those :func:`trainmath.param_count` counts
    (tested for every preset and random configs): the LM head has no bias, rotary tables
    and the causal mask are computed in ``forward`` and are not parameters or buffers.

    Parameters
    ----------
    cfg : ModelConfig
    dropout : float
        Dropout probability in [0, 1) after the embeddings, on the attention probabilities
        and after each block's two residual branches (GPT-2's places). Masks are 1 byte.
    dtype : str or torch.dtype
        ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: the dtype of weights and activations.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, or ``"meta"`` for shapes without memory (any size).
    attention : {"explicit", "sdpa"}
        Written-out attention (default; what the papers count) or PyTorch's fused
        ``scaled_dot_product_attention``, whose CPU kernel ``FlopCounterMode`` does not count.
    fused_dropout : bool
        Dropout through ``torch.native_dropout``, which saves a 1-byte mask as CUDA's fused
        kernel does (default), or through ``F.dropout``, which on the CPU saves a noise
        tensor in the activation dtype (2 bytes per value in bf16).
    fused_norm : bool
        RMSNorm through one autograd node that keeps its input and an fp32 1/rms per token
        (:class:`FusedRMSNorm`), what ``nn.RMSNorm`` keeps on CUDA (``aten._fused_rms_norm``);
        by default ``nn.RMSNorm``, whose CPU decomposition keeps fp32 intermediates. No
        effect on LayerNorm (``native_layer_norm`` is one node everywhere).
    fused_mlp : bool
        SwiGLU's ``SiLU(gate) * up`` as one autograd node that keeps only gate and up
        (:class:`FusedSwiGLU`: Megatron-Core's fused ``bias_swiglu``, and what
        ``torch.compile`` produces); by default eager PyTorch, which also keeps SiLU's
        output. No effect on a GELU MLP.
    seed : int
        Seed of the initialisation (normal, std 0.02, zero biases); the global RNG is untouched.

    Returns
    -------
    TransformerLM
        In training mode.

    Sources
    -------
    GPT-2: Radford et al. 2019 and the released ``gpt2`` checkpoint (tanh GELU, biases,
    tied head); Llama: Touvron et al. 2023, Sec. 2.2 (RMSNorm, SwiGLU, RoPE; GQA from
    Ainslie et al. 2023); relative positions: Dai et al. 2019 (Transformer-XL), Sec. 3.3.

    Assumptions
    -----------
    Pre-norm blocks, one final norm; the rotary base (10,000) and initialisation do not
    affect any count.
    """
    cfg = _check_cfg(cfg)
    p = v.nonnegative("dropout", dropout)
    if not isinstance(p, float) or p >= 1:
        raise ValueError(f"dropout must be a single probability in [0, 1), got {dropout!r}")
    v.choice("attention", attention, ATTENTION_KINDS)
    v.flag("fused_dropout", fused_dropout)
    v.flag("fused_norm", fused_norm)
    v.flag("fused_mlp", fused_mlp)
    seed = v.scalar_int("seed", seed, minimum=0)
    if cfg.position == "rope" and cfg.head_dim % 2:
        raise ValueError(f"head_dim must be even for rotary positions, got {cfg.head_dim}")
    factory = {"dtype": _dtype(dtype), "device": _device(device)}
    with torch.random.fork_rng(devices=[]), _gc_paused():
        torch.manual_seed(seed)
        model = TransformerLM(cfg, p, attention, fused_dropout, fused_norm=fused_norm,
                              fused_mlp=fused_mlp, **factory)
        if factory["device"].type != "meta":
            for name, param in model.named_parameters():
                with torch.no_grad():
                    if name.endswith(".bias") or name.endswith((".u", ".v")):
                        param.zero_()
                    elif param.dim() == 2:
                        param.normal_(0.0, 0.02)
    return model.train()


# --- parameters -------------------------------------------------------------------------------


def count_params(model: nn.Module) -> int:
    """``sum(p.numel())`` over the distinct parameters: a tied matrix counts once.

    Compare with :func:`trainmath.param_count`. Works on the meta device.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    unique = {id(p): p for p in model.parameters()}  # the same Parameter object once
    return sum(p.numel() for p in unique.values())


def count_config_params(cfg: ModelConfig) -> int:
    """:func:`count_params` of the model ``cfg`` describes, from a model of one block.

    Every block is built alike, so a model of ``L`` blocks has exactly the parameters of
    the one-block model plus ``L - 1`` times those of its block (tested equal to counting
    the whole model). Building the 126 blocks of Llama 3.1 405B on the meta device takes
    about 40 ms; the one-block model takes about one.

    Parameters
    ----------
    cfg : ModelConfig

    Returns
    -------
    int
        Compare with :func:`trainmath.param_count`.
    """
    cfg = _check_cfg(cfg)
    model = build_model(cfg.replace(n_layers=1), dtype="bf16", device="meta")
    return count_params(model) + (cfg.n_layers - 1) * count_params(model.blocks[0])


# --- FLOPs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlopCount:
    """Matmul FLOPs of one training step, as ``FlopCounterMode`` counts them.

    Attributes
    ----------
    forward, backward : int
        FLOPs of the forward pass (logits and loss) and of the backward pass.
    forward_by_op, backward_by_op : mapping
        The same split by ATen operator (``"mm"``, ``"addmm"``, ``"bmm"``, ...).
    tokens : int
        batch x seq_len, the tokens processed.
    """

    forward: int
    backward: int
    forward_by_op: MappingProxyType = field(repr=False)
    backward_by_op: MappingProxyType = field(repr=False)
    tokens: int

    @property
    def total(self) -> int:
        """Forward + backward: the training FLOPs of the step."""
        return self.forward + self.backward

    @property
    def per_token(self) -> float:
        """Training FLOPs per token, comparable with :func:`trainmath.flops_per_token`."""
        return self.total / self.tokens


def _by_op(counter: FlopCounterMode) -> MappingProxyType:
    counts = counter.get_flop_counts().get("Global", {})
    out: dict[str, int] = {}
    for op, n in counts.items():  # keys are ATen overload packets: aten.mm -> "mm"
        name = getattr(op, "__name__", str(op).rsplit(".", 1)[-1])
        out[name] = out.get(name, 0) + int(n)
    return MappingProxyType(dict(sorted(out.items())))


def _tokens(model: TransformerLM, batch, seq_len) -> tuple[torch.Tensor, int, int]:
    if not isinstance(model, TransformerLM):
        raise TypeError(f"model must come from build_model, got {type(model).__name__}")
    b = v.scalar_int("batch", batch)
    s = model.cfg.seq_len if seq_len is None else v.scalar_int("seq_len", seq_len)
    if model.cfg.position == "learned" and s > model.cfg.seq_len:
        raise ValueError(
            f"seq_len must be <= cfg.seq_len={model.cfg.seq_len} (learned positions), got {s}"
        )
    device = model.tok_emb.weight.device
    gen = None if device.type == "meta" else torch.Generator(device).manual_seed(0)
    idx = torch.randint(0, model.cfg.vocab_size, (b, s), generator=gen, device=device)
    return idx, b, s


def measure_flops(model: TransformerLM, batch=1, seq_len=None) -> FlopCount:
    """Count the FLOPs of one forward and backward pass with ``FlopCounterMode``.

    The model reads ``batch`` sequences of ``seq_len`` random tokens (default
    ``cfg.seq_len``), the loss is the cross-entropy of the logits, and the backward pass
    goes from the loss to every parameter. ``FlopCounterMode`` counts ``2 m k n`` for each
    (batched) matrix product and nothing for embedding look-ups, norms, softmax,
    activations or biases, the same convention as :func:`trainmath.flops_per_token`
    (Chowdhery et al. 2022 (PaLM), App. B; Kaplan et al. 2020, Sec. 2.1). On the meta
    device nothing is computed, so any size is counted without memory, at about 0.03 s per
    block (:func:`measure_config_flops` needs one block whatever the depth).

    Parameters
    ----------
    model : TransformerLM
        From :func:`build_model`.
    batch, seq_len : int

    Returns
    -------
    FlopCount
    """
    idx, b, s = _tokens(model, batch, seq_len)
    return _model_flops(model, idx, b * s)


def _count_passes(module: nn.Module, forward) -> tuple[FlopCounterMode, FlopCounterMode]:
    """FLOP counters of ``forward()`` and of the backward pass from its result.

    A scalar result (a loss) is differentiated as it is; any other result gets an
    upstream gradient of its own shape. The module's gradients are dropped afterwards.
    """
    with FlopCounterMode(display=False) as fwd:
        out = forward()
    with FlopCounterMode(display=False) as bwd:
        out.backward(None if out.dim() == 0 else torch.empty_like(out))
    module.zero_grad(set_to_none=True)
    return fwd, bwd


def _model_flops(model: TransformerLM, idx: torch.Tensor, tokens: int) -> FlopCount:
    """:func:`measure_flops` for token ids already drawn: cross-entropy loss, backward."""
    fwd, bwd = _count_passes(
        model,
        lambda: F.cross_entropy(model(idx).flatten(0, 1), idx.flatten()),
    )
    return FlopCount(
        int(fwd.get_total_flops()), int(bwd.get_total_flops()), _by_op(fwd), _by_op(bwd), tokens
    )


def _stack_by_op(outer: MappingProxyType, block: MappingProxyType, n: int) -> MappingProxyType:
    ops = sorted(set(outer) | set(block))
    return MappingProxyType({op: outer.get(op, 0) + n * block.get(op, 0) for op in ops})


#: The operators a model of :func:`build_model` runs its matmuls as, with explicit attention
#: and no relative positions, and the power of the sequence length each one's FLOPs carry:
#: a linear layer is an ``mm`` (``addmm`` with a bias) of ``b s`` rows, forward and both
#: gradients, so ``2 (b s) k n``; attention's two s x s products and their gradients are
#: ``bmm`` over ``b H`` matrices, ``2 (b H) s s h_d``.
_SEQ_POWER = MappingProxyType({"mm": 1, "addmm": 1, "bmm": 2})


def _rescale_by_op(by_op: MappingProxyType, old: tuple[int, int], new: tuple[int, int]):
    (b0, s0), (b1, s1) = old, new
    out = {}
    for op, n in by_op.items():
        if op not in _SEQ_POWER:
            raise ValueError(f"cannot rescale a count with operator {op!r}: only "
                             f"{', '.join(_SEQ_POWER)} have a known dependence on the shape")
        k = _SEQ_POWER[op]
        scaled, rest = divmod(n * b1 * s1**k, b0 * s0**k)
        if rest:  # each count is a multiple of b s^k when the operator is what it should be
            raise ValueError(f"the {op} count {n} is not a multiple of b s^{k} = {b0 * s0**k}")
        out[op] = scaled
    return MappingProxyType(out)


@dataclass(frozen=True)
class FlopParts:
    """The two counts a model's FLOPs are made of, at one batch and sequence length.

    Every block of a model is the same module, so a model of ``L`` blocks counts exactly
    ``outer + L x block``, operator by operator (:meth:`total`). With written-out attention
    and no relative positions each count also follows exactly at any other batch and
    sequence length (:meth:`at`): see :func:`measure_flop_parts`.

    Attributes
    ----------
    outer : FlopCount
        The model without its blocks: embeddings, final norm, LM head and loss, forward and
        backward.
    block : FlopCount
        One block alone, forward and backward, its input needing a gradient as every
        block's input does inside the model.
    batch, seq_len : int
        The shape both were counted at.
    scalable : bool
        Whether :meth:`at` applies (explicit attention, no relative positions).
    """

    outer: FlopCount
    block: FlopCount
    batch: int
    seq_len: int
    scalable: bool

    def total(self, n_layers: int) -> FlopCount:
        """The count of the model with ``n_layers`` blocks: ``outer + n_layers x block``.

        Parameters
        ----------
        n_layers : int
            Depth L, at least 1.

        Returns
        -------
        FlopCount
            Equal to :func:`measure_flops` of that model at this shape (tested).
        """
        n = v.scalar_int("n_layers", n_layers)
        out, blk = self.outer, self.block
        return FlopCount(
            out.forward + n * blk.forward,
            out.backward + n * blk.backward,
            _stack_by_op(out.forward_by_op, blk.forward_by_op, n),
            _stack_by_op(out.backward_by_op, blk.backward_by_op, n),
            out.tokens,
        )

    def at(self, batch, seq_len) -> FlopParts:
        """The same counts at another batch and sequence length, without counting again.

        Each operator's count is scaled exactly: ``mm`` and ``addmm`` (the linear layers,
        ``2 (b s) k n`` each) by ``b' s' / (b s)``, ``bmm`` (attention's s x s products,
        ``2 (b H) s s h_d`` each) by ``b' s'² / (b s²)``. Integer arithmetic; a count that
        does not divide, or any other operator, raises ``ValueError``.

        Parameters
        ----------
        batch, seq_len : int
            The new shape.

        Returns
        -------
        FlopParts
            Equal to :func:`measure_flop_parts` at the new shape (tested).
        """
        b = v.scalar_int("batch", batch)
        s = v.scalar_int("seq_len", seq_len)
        if not self.scalable:
            raise ValueError("these counts do not rescale: relative positions project the "
                             "encodings once per sequence, and sdpa is not a bmm; count again")
        old, new = (self.batch, self.seq_len), (b, s)
        if old == new:
            return self

        def rescale(c: FlopCount) -> FlopCount:
            fwd = _rescale_by_op(c.forward_by_op, old, new)
            bwd = _rescale_by_op(c.backward_by_op, old, new)
            return FlopCount(sum(fwd.values()), sum(bwd.values()), fwd, bwd, b * s)

        return FlopParts(rescale(self.outer), rescale(self.block), b, s, True)


def measure_flop_parts(
    cfg: ModelConfig, batch=1, seq_len=None, *, attention: str = "explicit"
) -> FlopParts:
    """Count the model ``cfg`` describes in two parts: without its blocks, and one block.

    A one-block model is built on the meta device in bf16. Its block is taken out and the
    rest (embeddings, final norm, head, loss) is counted as :func:`measure_flops` counts a
    model; then the block is counted alone, forward and backward, with an input that needs
    a gradient, as every block's input does inside the model. ``FlopParts.total(L)`` is
    then the count of ``L`` blocks (:func:`measure_config_flops`).

    ``FlopCounterMode`` counts a matmul as a function of its shape alone (``2 m k n``), so
    the counts at one shape give those at any other: with ``attention="explicit"`` and no
    relative positions every counted operator is a linear layer's ``mm``/``addmm`` over
    ``b s`` rows or attention's ``bmm`` over ``b H`` s x s matrices (:meth:`FlopParts.at`,
    tested equal to counting again at many shapes). Relative positions also project the
    encodings once per sequence (no factor b), so their parts are marked not scalable.

    Parameters
    ----------
    cfg : ModelConfig
        ``n_layers`` is not used.
    batch, seq_len : int
        Sequences and their length (default ``cfg.seq_len``).
    attention : {"explicit", "sdpa"}
        As in :func:`build_model`.

    Returns
    -------
    FlopParts
    """
    cfg = _check_cfg(cfg)
    model = build_model(cfg.replace(n_layers=1), dtype="bf16", device="meta",
                        attention=attention)
    idx, b, s = _tokens(model, batch, seq_len)
    block = model.blocks[0]
    del model.blocks[0]  # the model without blocks: embeddings, final norm, head, loss
    outer = _model_flops(model, idx, b * s)
    x = torch.empty(b, s, cfg.d_model, dtype=torch.bfloat16, device="meta", requires_grad=True)
    fwd, bwd = _count_passes(block, lambda: block(x))
    one = FlopCount(int(fwd.get_total_flops()), int(bwd.get_total_flops()), _by_op(fwd),
                    _by_op(bwd), b * s)
    scalable = attention == "explicit" and cfg.position != "relative"
    return FlopParts(outer, one, b, s, scalable)


def measure_config_flops(
    cfg: ModelConfig, batch=1, seq_len=None, *, attention: str = "explicit"
) -> FlopCount:
    """:func:`measure_flops` of the model ``cfg`` describes, at any size, in well under a second.

    The model without its blocks and one block are counted on the meta device
    (:func:`measure_flop_parts`). All blocks are identical, so the count of ``L`` blocks
    is exactly ``outer + L x block``, operator by operator (tested against counting all
    ``L`` blocks). Counting a deep model directly gives the same integers but costs about
    0.03 s per block, because every meta operation is dispatched in Python.

    Parameters
    ----------
    cfg : ModelConfig
    batch, seq_len : int
        Sequences and their length (default ``cfg.seq_len``).
    attention : {"explicit", "sdpa"}
        As in :func:`build_model`.

    Returns
    -------
    FlopCount
    """
    cfg = _check_cfg(cfg)
    return measure_flop_parts(cfg, batch, seq_len, attention=attention).total(cfg.n_layers)


# --- saved activations ------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedTensor:
    """One storage that autograd keeps for the backward pass.

    Attributes
    ----------
    module : str
        Path of the submodule whose forward pass saved it first (``"attn.softmax"``; ``""``
        for the measured module's own code).
    saved_by : tuple of str
        Which backward nodes keep it and under which name, e.g.
        ``("SoftmaxBackward0.result", "BmmBackward0.self")``.
    shape : tuple of int
        Shape of the first saved view.
    dtype : str
        Element type (``"bfloat16"``, ``"bool"``, ``"float32"``, ...).
    nbytes : int
        Bytes of the underlying storage (counted once however many views are saved).
    """

    module: str
    saved_by: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    nbytes: int

    @property
    def term(self) -> str:
        """The term of :data:`trainmath.ACTIVATION_TERMS` this tensor is, for a GPT-style block.

        ``"causal_mask"`` and ``"norm_stats"`` for the two terms of :func:`activation_extras`,
        ``"other"`` for anything Korthikanti et al. 2022 have no term for (rotary tables,
        SwiGLU's extra products, RMSNorm's fp32 intermediates, ...).
        """
        parts = self.module.split(".")
        for length in (2, 1):
            key = ".".join(parts[-length:])
            if key in _MODULE_TERMS:
                break
        else:
            return "other"
        if key in ("norm1", "norm2"):
            if len(self.shape) and self.shape[-1] == 1:
                return "norm_stats"
            if "NativeLayerNormBackward0.input" in self.saved_by:
                return _MODULE_TERMS[key]
            return "other"
        if key == "attn.scores" and self.dtype == "bool":
            return "causal_mask"
        if key == "attn.mix":
            return "v" if "BmmBackward0.mat2" in self.saved_by else "softmax_dropout_output"
        return _MODULE_TERMS[key]

    @property
    def modern_term(self) -> str:
        """The term of :data:`trainmath.MODERN_ACTIVATION_TERMS` (a block) or of
        :data:`trainmath.LOGITS_TERMS` (:func:`logits_saved_activations`) this tensor is.

        Read off the backward node that keeps it: the attention kernel's ``query``, ``key``,
        ``value``, ``output`` and ``logsumexp`` are Q, K, V, the attention output and
        ``softmax_lse``; a norm's saved ``input`` and its per-token statistics (``mean``,
        ``rstd``) are ``*_norm_input``, ``*_norm_mean`` and ``*_norm_rstd``; each linear
        layer's input is the term named after it; SwiGLU's ``SiLU`` input, product factors
        and down-projection input (:class:`FusedSwiGLU`: its saved ``gate`` and ``up``);
        the loss's log-softmax and targets. ``"rope_tables"``
        for the rotary cos/sin tables (which a model computes once for all layers),
        ``"other"`` for anything else (scores of written-out attention, dropout masks, the
        fp32 intermediates of an unfused RMSNorm, the loss's scalar weight).
        """
        attrs = [label.split(".", 1) for label in self.saved_by if "." in label]
        for node, attr in attrs:
            if node.startswith("ScaledDotProduct") and attr in _SDPA_TERMS:
                return _SDPA_TERMS[attr]
            if node == "FusedSwiGLUBackward" and attr in _FUSED_SWIGLU_TERMS:
                return _FUSED_SWIGLU_TERMS[attr]
        key = self.module
        if key in _NORM_TERMS:
            names = {attr for _, attr in attrs}
            if self.shape and self.shape[-1] == 1:  # LayerNorm's result1 is its mean
                mean = "mean" in names or "NativeLayerNormBackward0.result1" in self.saved_by
                return _NORM_TERMS[key] + ("_mean" if mean else "_rstd")
            return _NORM_TERMS[key] + "_input" if "input" in names else "other"
        if key in _MODERN_MODULE_TERMS:
            return _MODERN_MODULE_TERMS[key]
        labels = set(self.saved_by)
        if key == "mlp.act":
            return "gate_output" if "SiluBackward0.self" in labels else "up_output"
        if key == "mlp" and "MulBackward0.self" in labels:
            return "silu_output"
        if key == "mlp" and "MulBackward0.other" in labels:
            return "up_output"
        if key == "attn" and labels == {"MulBackward0.other"}:
            return "rope_tables"
        if key == "" and "LogSoftmaxBackward0.result" in labels:
            return "logits"
        if key == "" and "NllLossBackward0.target" in labels:
            return "targets"
        return "other"


#: Which Korthikanti term (keys of trainmath.ACTIVATION_TERMS) each submodule of a
#: :class:`Block` saves; see :attr:`SavedTensor.term`.
_MODULE_TERMS = MappingProxyType({
    "norm1": "attn_norm_input",
    "attn.q_proj": "qkv_input",
    "attn.k_proj": "qkv_input",
    "attn.v_proj": "qkv_input",
    "attn.scores": "q_and_k",
    "attn.softmax": "softmax_output",
    "attn.attn_dropout": "softmax_dropout_mask",
    "attn.mix": "softmax_dropout_output",
    "attn.o_proj": "projection_input",
    "drop1": "projection_dropout_mask",
    "norm2": "mlp_norm_input",
    "mlp.gate": "mlp_input",
    "mlp.up": "mlp_input",
    "mlp.act": "fc1_output",
    "mlp.down": "gelu_output",
    "drop2": "mlp_dropout_mask",
})


#: The modern-layer term each output of the attention kernel's backward node is.
_SDPA_TERMS = MappingProxyType({
    "query": "q", "key": "k", "value": "v", "output": "attention_output", "out":
    "attention_output", "logsumexp": "softmax_lse", "log_sumexp": "softmax_lse",
})
#: The modern-layer term each tensor :class:`FusedSwiGLU` saves is.
_FUSED_SWIGLU_TERMS = MappingProxyType({"gate": "gate_output", "up": "up_output"})
#: Norm modules of a Block and of the model's end, by the prefix of their terms.
_NORM_TERMS = MappingProxyType({"norm1": "attn_norm", "norm2": "mlp_norm", "norm": "final_norm"})
#: Linear layers whose saved input is one modern (or logits) term.
_MODERN_MODULE_TERMS = MappingProxyType({
    "attn.q_proj": "qkv_input", "attn.k_proj": "qkv_input", "attn.v_proj": "qkv_input",
    "attn.o_proj": "attention_output", "mlp.gate": "mlp_input", "mlp.up": "mlp_input",
    "mlp.down": "down_input", "head": "head_input",
})


@dataclass(frozen=True)
class SavedActivations:
    """What a module keeps for its backward pass: :attr:`tensors` and their :attr:`total`."""

    tensors: tuple[SavedTensor, ...]

    @property
    def total(self) -> int:
        """Bytes of all distinct saved storages."""
        return sum(t.nbytes for t in self.tensors)

    def bytes_by(self, key: Callable[[SavedTensor], str]) -> dict[str, int]:
        """Totals grouped by ``key(tensor)``, e.g. ``lambda t: t.dtype``, in first-seen order."""
        out: dict[str, int] = {}
        for t in self.tensors:
            out[key(t)] = out.get(key(t), 0) + t.nbytes
        return out

    def by_term(self, layer: str = "korthikanti") -> dict[str, int]:
        """Bytes per term of one table; terms with nothing saved are 0.

        ``"korthikanti"`` (default): per Korthikanti term (:attr:`SavedTensor.term`), in the
        order of :data:`trainmath.ACTIVATION_TERMS`, then ``"causal_mask"``,
        ``"norm_stats"`` and ``"other"``. ``"modern"``: per
        :data:`trainmath.MODERN_ACTIVATION_TERMS` term (:attr:`SavedTensor.modern_term`),
        then ``"rope_tables"`` and ``"other"``. ``"logits"``: per
        :data:`trainmath.LOGITS_TERMS` term, then ``"other"``.
        """
        v.choice("layer", layer, TERM_TABLES)
        if layer == "korthikanti":
            found = self.bytes_by(operator.attrgetter("term"))
            keys = [*ACTIVATION_TERMS, "causal_mask", "norm_stats", "other"]
        else:
            found = self.bytes_by(operator.attrgetter("modern_term"))
            table = MODERN_ACTIVATION_TERMS if layer == "modern" else LOGITS_TERMS
            keys = [*table, *(["rope_tables"] if layer == "modern" else []), "other"]
        out = {k: found.get(k, 0) for k in keys}
        out["other"] += sum(n for k, n in found.items() if k not in out)
        return out


def _storage_key(t: torch.Tensor) -> int:
    # The address of the StorageImpl: the same for every view of one storage, and
    # meaningful on the meta device too (where data pointers are all 0).
    return t.untyped_storage()._cdata


def _labels(roots: list[torch.Tensor]) -> dict[int, list[str]]:
    """Storage key -> "Node.attribute" of every saved tensor reachable from ``roots``."""
    labels: dict[int, list[str]] = {}
    seen: set[int] = set()
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names = getattr(node, "saved_names", None)  # a custom autograd.Function's own labels
        if names is not None:
            for name, item in zip(names, node.saved_tensors, strict=True):
                if isinstance(item, torch.Tensor):
                    label = f"{type(node).__name__}.{name}"
                    labels.setdefault(_storage_key(item), []).append(label)
        for attr in dir(node):
            if not attr.startswith("_saved_"):
                continue
            try:
                value = getattr(node, attr)
            except RuntimeError:  # pragma: no cover - freed buffers
                continue
            values = value if isinstance(value, (tuple, list)) else (value,)
            for item in values:
                if isinstance(item, torch.Tensor):
                    name = f"{type(node).__name__}.{attr[len('_saved_'):]}"
                    labels.setdefault(_storage_key(item), []).append(name)
        stack.extend(fn for fn, _ in node.next_functions)
    return labels


def measure_saved_activations(module: nn.Module, *inputs: torch.Tensor) -> SavedActivations:
    """Bytes ``module(*inputs)`` keeps for its backward pass, storage by storage.

    Every tensor autograd saves passes through a ``torch.autograd.graph.saved_tensors_hooks``
    pack hook; views of one storage are counted once, and storages of the module's own
    parameters and buffers are left out (they exist whether or not anything is trained).
    The inputs are made leaves that require grad, so the count stops at the module's
    boundary and includes an input the module saves (a norm's input, for instance).
    Each storage is labelled with the submodule that saved it first and with the backward
    nodes that keep it.

    The comparison this serves is Korthikanti et al. 2022, Sec. 4.1 (the tensors one layer
    keeps, :data:`trainmath.ACTIVATION_TERMS`).

    Returns
    -------
    SavedActivations
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"inputs[{i}] must be a torch.Tensor, got {type(x).__name__}")
    owned = {_storage_key(t) for t in (*module.parameters(), *module.buffers())}
    leaves = [x.detach().requires_grad_(x.is_floating_point()) for x in inputs]
    packed: dict[int, tuple[str, torch.Tensor]] = {}
    path: list[str] = [""]

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key not in owned and key not in packed:
            packed[key] = (path[-1], t)
        return t

    def enter(name: str):
        def hook(*_) -> None:
            path.append(name)
        return hook

    def leave(*_) -> None:
        path.pop()

    handles = []
    for name, sub in module.named_modules():
        if sub is not module:
            handles.append(sub.register_forward_pre_hook(enter(name)))
            handles.append(sub.register_forward_hook(leave))
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = module(*leaves)
    finally:
        for handle in handles:
            handle.remove()
    outs = [out] if isinstance(out, torch.Tensor) else [o for o in out if torch.is_tensor(o)]
    labels = _labels(outs)
    tensors = tuple(
        SavedTensor(
            module=where,
            saved_by=tuple(labels.get(key, ["?"])),
            shape=tuple(t.shape),
            dtype=str(t.dtype).removeprefix("torch."),
            nbytes=int(t.untyped_storage().nbytes()),
        )
        for key, (where, t) in packed.items()
    )
    return SavedActivations(tensors)


def block_saved_activations(
    model: TransformerLM, batch=1, seq_len=None, *, block: int = 0
) -> SavedActivations:
    """:func:`measure_saved_activations` of one block of ``model`` in training mode.

    The block reads a random activation of shape (batch, seq_len, d_model) in the model's
    dtype; dropout (if the model has any) is on.
    """
    _, b, s = _tokens(model, batch, seq_len)
    n = len(model.blocks)
    i = v.positive_int("block", block, minimum=0)
    if not isinstance(i, int) or i >= n:
        raise ValueError(f"block must be an index in 0..{n - 1}, got {block!r}")
    weight = model.tok_emb.weight
    device = weight.device
    gen = None if device.type == "meta" else torch.Generator(device).manual_seed(0)
    x = torch.randn(b, s, model.cfg.d_model, generator=gen, device=device, dtype=weight.dtype)
    layer = model.blocks[i]
    was_training = layer.training
    layer.train()
    try:
        return measure_saved_activations(layer, x)
    finally:
        layer.train(was_training)


class _Loss(nn.Module):
    """What a model computes after its blocks: final norm, LM head, and the cross-entropy
    of the logits upcast to fp32 (as Hugging Face's Llama and Megatron compute the loss)."""

    def __init__(self, norm: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.norm, self.head = norm, head

    def forward(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())


def logits_saved_activations(model: TransformerLM, batch=1, seq_len=None) -> SavedActivations:
    """:func:`measure_saved_activations` of the model's end: final norm, LM head and loss.

    The final norm reads a random activation of shape (batch, seq_len, d_model) in the
    model's dtype, the head makes the logits, and ``F.cross_entropy(logits.float(),
    targets)`` the loss against random targets. Compare
    ``by_term("logits")`` with :func:`trainmath.logits_activation_breakdown`: PyTorch keeps
    the fp32 log-softmax (4sbV bytes), the int64 targets (8sb), the final norm's input and
    statistics and the head's input, plus one fp32 scalar (the loss's total weight, in
    ``"other"``). The upcast keeps nothing, so the 16-bit logits are not saved.
    """
    _, b, s = _tokens(model, batch, seq_len)
    weight = model.tok_emb.weight
    device = weight.device
    gen = None if device.type == "meta" else torch.Generator(device).manual_seed(0)
    x = torch.randn(b, s, model.cfg.d_model, generator=gen, device=device, dtype=weight.dtype)
    targets = torch.randint(0, model.cfg.vocab_size, (b, s), generator=gen, device=device)
    loss = _Loss(model.norm, model.head)
    was_training = loss.training
    loss.train()
    try:
        return measure_saved_activations(loss, x, targets)
    finally:
        loss.train(was_training)


def activation_extras(
    cfg: ModelConfig, seq_len=None, micro_batch=1, *, stats_bytes=4
) -> dict:
    """Bytes one eager-PyTorch block saves that Korthikanti's count leaves out.

    With written-out attention (:func:`build_model`) a GPT-style block saves exactly
    :func:`trainmath.activation_memory_breakdown` (34 or, without dropout, 32 bytes per
    s*b*h value plus the score terms) and these two terms:

    * ``"causal_mask"``: ``s²`` bytes, the bool mask ``masked_fill`` keeps to zero the
      gradients of the masked scores, one per block, shared by the batch and the heads.
      Megatron's fused softmax makes the mask inside the kernel and saves none.
    * ``"norm_stats"``: per norm and token, LayerNorm's mean and 1/σ (RMSNorm: 1/rms) of
      ``stats_bytes`` each: ``2 norms x 2 stats x stats_bytes x s*b`` for LayerNorm. PyTorch
      keeps them in fp32 (4 bytes) on CUDA and on the meta device; its CPU kernel keeps them
      in the weights' dtype (2 bytes in a bf16 model).

    Korthikanti et al. 2022 (Sec. 4.1) leave both out as small: relative to sbh(34 + 5as/h)
    the mask is at most ``min(s/(34bh), 1/(5ab))`` and the statistics ``16/(34h)``.

    Parameters
    ----------
    cfg : ModelConfig
        Uses ``norm`` (and ``seq_len`` when ``seq_len`` is None).
    seq_len, micro_batch : int or array
        s and b; arrays broadcast.
    stats_bytes : int
        Bytes of one normalisation statistic (4 for fp32, 2 for bf16).

    Returns
    -------
    dict
        ``{"causal_mask": ..., "norm_stats": ...}`` in bytes.
    """
    cfg = _check_cfg(cfg)
    s = v.positive_int("seq_len", cfg.seq_len if seq_len is None else seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    nbytes = v.positive("stats_bytes", stats_bytes)
    s, b = np.asarray(s, dtype=float), np.asarray(b, dtype=float)
    stats_per_norm = 2 if cfg.norm == "layernorm" else 1
    return {
        "causal_mask": v.result(s * s),
        "norm_stats": v.result(2 * stats_per_norm * nbytes * s * b),
    }


# --- optimizer state --------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerState:
    """Memory of a model's training state after one optimizer step, in bytes.

    Attributes
    ----------
    n_params : int
        Parameters (a tied matrix once).
    n_tensors : int
        Parameter tensors; optimizers keep per-tensor scalars such as AdamW's step.
    weights, gradients : int
        Bytes of the parameters and of their ``.grad`` tensors.
    states : mapping
        Bytes of each per-parameter state, e.g. ``{"exp_avg": ..., "exp_avg_sq": ...}``.
    step_counters : int
        Bytes of per-tensor scalar states (AdamW's ``step``: one fp32 value per tensor).
    """

    n_params: int
    n_tensors: int
    weights: int
    gradients: int
    states: MappingProxyType
    step_counters: int

    @property
    def optimizer(self) -> int:
        """All optimizer bytes: the per-parameter states plus the step counters."""
        return sum(self.states.values()) + self.step_counters

    def per_param(self) -> dict:
        """Bytes per parameter of weights, gradients, each state, and the step counters."""
        out = {"weights": self.weights, "gradients": self.gradients, **self.states,
               "step_counters": self.step_counters}
        return {k: val / self.n_params for k, val in out.items()}


def measure_optimizer_state(
    model: TransformerLM, optimizer: str = "adamw", *, batch=1, seq_len=None, lr=1e-3
) -> OptimizerState:
    """Run one real training step and measure gradients and optimizer state.

    One forward and backward pass on random tokens, then one ``torch.optim.AdamW`` step
    (``optimizer="adamw"``) or ``torch.optim.SGD(momentum=0.9)`` (``"sgd-momentum"``); the
    bytes of every ``.grad`` and of every tensor in ``optimizer.state`` are then summed.
    AdamW keeps ``exp_avg`` and ``exp_avg_sq`` in the parameters' dtype plus one fp32
    ``step`` per tensor; SGD keeps one ``momentum_buffer``. Neither keeps an fp32 master
    copy: in an fp32 model the weights are that copy, and a bf16 model updated this way
    has none (see lesson 05 for the 12- and 16-byte conventions).

    Sources: AdamW, Loshchilov & Hutter 2019 (two moments per parameter); the byte
    conventions of Rajbhandari et al. 2019 (ZeRO), Sec. 3.1.

    Parameters
    ----------
    model : TransformerLM
        From :func:`build_model`; its parameters are updated.
    optimizer : {"adamw", "sgd-momentum"}
    batch, seq_len : int
        Shape of the random batch (default seq_len: ``cfg.seq_len``).
    lr : float
        Learning rate (does not change any byte).

    Returns
    -------
    OptimizerState
    """
    v.choice("optimizer", optimizer, OPTIMIZERS)
    rate = v.positive("lr", lr)
    idx, _, _ = _tokens(model, batch, seq_len)
    params = list({id(p): p for p in model.parameters()}.values())
    if optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=rate)
    else:
        opt = torch.optim.SGD(params, lr=rate, momentum=0.9)
    model.zero_grad(set_to_none=True)
    logits = model(idx)
    F.cross_entropy(logits.flatten(0, 1).float(), idx.flatten()).backward()
    opt.step()
    states: dict[str, int] = {}
    counters = 0
    for p in params:
        for name, t in opt.state[p].items():
            if not isinstance(t, torch.Tensor):
                continue
            nbytes = t.numel() * t.element_size()
            if t.dim() == 0:
                counters += nbytes
            else:
                states[name] = states.get(name, 0) + nbytes
    out = OptimizerState(
        n_params=sum(p.numel() for p in params),
        n_tensors=len(params),
        weights=sum(p.numel() * p.element_size() for p in params),
        gradients=sum(p.grad.numel() * p.grad.element_size() for p in params
                      if p.grad is not None),
        states=MappingProxyType(states),
        step_counters=counters,
    )
    model.zero_grad(set_to_none=True)
    return out
