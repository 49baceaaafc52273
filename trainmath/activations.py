"""Activation memory per transformer layer (Korthikanti et al. 2022, arXiv:2205.05198).

Bytes that one layer keeps for the backward pass, with 16-bit activations and 1-byte
dropout masks, for sequence length s, micro-batch b, hidden size h, a heads and
tensor-parallel size t (Sec. 4, Table 2):

* attention block 11sbh + 5as^2b: Q, K, V input (2sbh), Q and K (4sbh), softmax
  output (2as^2b), its dropout mask (as^2b), dropout output (2as^2b), V (2sbh),
  output-projection input (2sbh) and its dropout mask (sbh);
* MLP 19sbh: input (2sbh), first matmul output (8sbh), GeLU output (8sbh), dropout
  mask (sbh);
* two LayerNorms 4sbh (their inputs).

Sum: sbh(34 + 5as/h). Tensor parallelism splits everything but the 10sbh kept on the
full sequence (LayerNorm and dropout regions); sequence parallelism splits that too.
Selective recomputation drops the 5as^2b attention terms; full recomputation keeps only
each layer's input, 2sbh.

:func:`activation_memory_breakdown` returns the same bytes tensor by tensor
(:data:`ACTIVATION_TERMS` describes each one); :func:`selective_recompute_saving`,
:func:`attention_score_crossover` and :func:`trainmath.compute.recompute_flops_overhead`
(FLOPs live in :mod:`trainmath.compute`) give the numbers that decide between the
recomputation strategies.

**The modern layer.** Llama 2/3 and Mistral train a different block: RMSNorm, rotary
positions, grouped-query attention (a_kv key/value heads), a SwiGLU MLP, no dropout, and
FlashAttention (PyTorch's ``scaled_dot_product_attention``), which never stores the s x s
scores but recomputes them in the backward pass from Q, K, V, the output and one fp32
logsumexp per head and token (Dao et al. 2022, FlashAttention, Sec. 3.1; Dao 2023,
FlashAttention-2). :data:`MODERN_ACTIVATION_TERMS` lists what such a block saves, tensor by
tensor, each read off what PyTorch keeps (measured with :mod:`trainmath.measure`, tested
exact): per token 2h + 4 bytes per RMSNorm (input and fp32 1/rms), 2h for the shared input
of the Q, K, V projections, 2 h_q for Q, 2 h_kv each for K and V, 2 h_q for the attention
output, 4a for the logsumexp, 2h for the MLP's input and 6f for the fused SwiGLU's three
f-wide tensors (gate output, up output, their product), in bf16. The SwiGLU is fused as at
scale (Megatron-Core's ``bias_swiglu``, ``torch.compile``), recomputing SiLU in the backward
pass; eager PyTorch also keeps the SiLU output, 2f more (``fused_mlp=False``). Nothing grows
as s^2, so
selective recomputation (which drops only what recomputing the attention core frees, here
the logsumexp) saves almost nothing. :func:`layer_activation_breakdown` and
:func:`layer_activation_bytes` give either layer for a :class:`~trainmath.ModelConfig`
(``layer="korthikanti"`` or ``"modern"``; :func:`default_activation_layer` picks one).

**Outside the layers.** The LM head and the loss keep the fp32 logits the cross-entropy
works on, 4 s b V bytes (4.2 GB for one 8,192-token sequence at V = 128,256), split t ways
by Megatron's vocabulary-parallel cross-entropy: :data:`LOGITS_TERMS`,
:func:`logits_activation_breakdown`, :func:`logits_activation_bytes`.

:data:`ACTIVATION_UNITS` names the shapes the terms of all three tables are counted in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from trainmath import _validate as v
from trainmath._breakdown import Breakdown
from trainmath.models import ModelConfig, _routed_copies

__all__ = [
    "RECOMPUTE",
    "activation_memory_per_layer",
    "ActivationTerm",
    "ACTIVATION_TERMS",
    "activation_memory_breakdown",
    "selective_recompute_saving",
    "attention_score_crossover",
    # a ModelConfig's layer: Korthikanti's or the modern one, and the logits outside it
    "ACTIVATION_UNITS",
    "MODERN_ACTIVATION_TERMS",
    "MLA_ACTIVATION_TERMS",
    "MOE_ACTIVATION_TERMS",
    "DEEPSEEK_V3_TERM_BYTES",
    "LOGITS_TERMS",
    "ACTIVATION_LAYERS",
    "default_activation_layer",
    "layer_activation_breakdown",
    "layer_activation_bytes",
    "logits_activation_breakdown",
    "logits_activation_bytes",
]

RECOMPUTE = ("none", "selective", "full")

#: The layers :func:`layer_activation_breakdown` knows: Korthikanti et al. 2022's GPT layer
#: (:data:`ACTIVATION_TERMS`) and the modern Llama-style one (:data:`MODERN_ACTIVATION_TERMS`).
ACTIVATION_LAYERS = ("korthikanti", "modern")


def _layer_shape(seq_len, micro_batch, d_model, n_heads, tp, sequence_parallel, recompute):
    """Validated s, b, h, a, t of one layer (as float arrays) and its options."""
    s = v.positive_int("seq_len", seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    h = v.positive_int("d_model", d_model)
    a = v.positive_int("n_heads", n_heads)
    t = v.positive_int("tp", tp)
    v.flag("sequence_parallel", sequence_parallel)
    v.choice("recompute", recompute, RECOMPUTE)
    v.divides("tp", tp, "n_heads", n_heads)
    return tuple(np.asarray(x, dtype=float) for x in (s, b, h, a, t))


def activation_memory_per_layer(
    seq_len,
    micro_batch,
    d_model,
    n_heads,
    *,
    tp=1,
    sequence_parallel: bool = False,
    recompute: str = "none",
):
    """Bytes of activations one transformer layer stores, per GPU.

    Korthikanti et al. 2022, Table 2:

    ==========================  ==============================
    none, t = 1                 sbh (34 + 5as/h)
    tensor parallel             sbh (10 + 24/t + 5as/(ht))
    tensor + sequence parallel  sbh (34/t + 5as/(ht))
    selective, TP               sbh (10 + 24/t)
    selective, TP + SP          34 sbh / t
    full                        2 sbh  (2 sbh / t with SP, whose layer inputs are split)
    ==========================  ==============================

    Parameters
    ----------
    seq_len, micro_batch, d_model, n_heads : int or array
        s, b, h, a. Arrays broadcast.
    tp : int or array
        Tensor-parallel size t; must divide ``n_heads``.
    sequence_parallel : bool
        Megatron sequence parallelism (splits norms and dropouts along s).
    recompute : {"none", "selective", "full"}

    Assumptions
    -----------
    GPT-3-style layer (d_ff = 4h, standard multi-head attention), 16-bit activations,
    1-byte dropout masks; the attention scores are materialised (no FlashAttention).
    Embeddings, the final norm and the loss are not part of a layer.
    """
    s, b, h, a, t = _layer_shape(seq_len, micro_batch, d_model, n_heads, tp,
                                 sequence_parallel, recompute)
    sbh = s * b * h
    if recompute == "full":
        out = 2 * sbh / t if sequence_parallel else 2 * sbh
    else:
        scores = 0.0 if recompute == "selective" else 5 * a * s / (h * t)
        linear = 34 / t if sequence_parallel else 10 + 24 / t
        out = sbh * (linear + scores)
    return v.result(out)


# --- term by term ---------------------------------------------------------------------------

#: The shapes activation terms are counted in: a term holds ``values x`` this many numbers.
#: s: sequence length, b: micro-batch, h: d_model, a: query heads, h_q = a x head_dim (the
#: query/attention width, h in most models), h_kv = n_kv_heads x head_dim (the key/value
#: width), f: d_ff, V: vocabulary size.
ACTIVATION_UNITS: MappingProxyType = MappingProxyType({
    "sbh": "s·b·h: per token, the model width",
    "as2b": "a·s²·b: one s x s matrix per head (attention scores)",
    "sbh_q": "s·b·h_q: per token, the query heads' width a x head_dim",
    "sbh_kv": "s·b·h_kv: per token, the key/value heads' width n_kv_heads x head_dim",
    "sbf": "s·b·f: per token, the MLP's hidden width d_ff",
    "sba": "s·b·a: one value per query head and token",
    "sb": "s·b: one value per token",
    "sbV": "s·b·V: per token, one value per vocabulary entry",
    # latent attention (attention="mla")
    "sbc_q": "s·b·d'_c: per token, the query latent (q_lora_rank; 0 without one)",
    "sb_q": "s·b: one value per token when there is a query latent (else 0)",
    "sbc_kv": "s·b·d_c: per token, the key-value latent (kv_lora_rank)",
    "sbh_qk": "s·b·H(d_h + d_h^R): per token, the query (= key) heads' width",
    "sbh_v": "s·b·H d_h^v: per token, the value heads' width",
    # mixture of experts, per GPU: routed copies c·k·s·b of the tokens (c: capacity factor)
    "sbE": "s·b·E: per token, one score per routed expert",
    "sbk": "s·b·k: per token, one value per chosen expert",
    "sbkh": "c·k·s·b·h·t_e: the token copies a GPU's experts receive, model width "
            "(t_e: expert tensor parallelism, which gathers them)",
    "sbkf": "c·k·s·b·f_e: the token copies, one expert's hidden width moe_d_ff",
    "sbf_s": "s·b·n_s·f_e: per token, the shared experts' hidden width",
})
_UNIT_SYMBOLS = MappingProxyType({"as2b": "as²b"})

#: Bytes of the storage dtypes a term can have whatever the activations' dtype.
_FIXED_BYTES = MappingProxyType({"fp32": 4, "int64": 8})


@dataclass(frozen=True)
class ActivationTerm:
    """One tensor a layer saves for its backward pass (Korthikanti et al. 2022, Sec. 4.1).

    The same record describes the terms of the GPT layer (:data:`ACTIVATION_TERMS`), of the
    modern Llama-style layer (:data:`MODERN_ACTIVATION_TERMS`) and of the LM head and loss
    (:data:`LOGITS_TERMS`).

    Attributes
    ----------
    block : str
        The part of the layer: ``"attention"``, ``"MLP"``, ``"LayerNorm"`` (the grouping of
        Sec. 4.1), ``"RMSNorm"``, ``"LM head"``, ``"loss"``.
    tensor : str
        What the tensor is and which backward step needs it.
    values : int
        Number of values per ``shape`` unit: the tensor holds ``values x`` the unit's count
        of numbers (e.g. ``values * s*b*h``).
    shape : str
        A key of :data:`ACTIVATION_UNITS`: ``"sbh"`` (grows like the sequence), ``"as2b"``
        (one s x s matrix per head), ``"sbh_kv"``, ``"sbf"``, ``"sba"``, ``"sb"``, ...
    mask : bool
        A dropout mask (1 byte per value) rather than an activation (2 bytes in 16-bit).
    tp_split : bool
        Split ``t`` ways by Megatron tensor parallelism. The others (norm and dropout
        regions) are replicated on every tensor-parallel rank unless sequence parallelism
        splits them along s.
    dropout : bool
        Exists only when the layer uses dropout.
    dtype : str or None
        A storage dtype the tensor keeps whatever the activations' dtype: ``"fp32"`` for
        softmax and norm statistics, ``"int64"`` for token ids. ``None``: the activation
        dtype (or 1 byte for a ``mask``).
    selective : bool
        Freed by selective recomputation, which recomputes the attention core in the
        backward pass (Korthikanti et al. 2022, Sec. 4.3): the score terms of the GPT layer,
        FlashAttention's logsumexp in the modern one.
    mlp, norm : str or None
        The term exists only with this MLP (``"swiglu"``) or norm (``"layernorm"``) kind of
        :class:`~trainmath.ModelConfig`; ``None``: always.
    replicated : bool
        Kept whole on every tensor-parallel rank even with sequence parallelism (the
        targets, which the vocabulary-parallel loss needs for all s tokens).
    unfused_mlp : bool
        Exists only when the MLP's activation runs unfused (eager PyTorch): SwiGLU's SiLU
        output, which a fused kernel (Megatron-Core's ``bias_swiglu``, ``torch.compile``)
        recomputes in the backward pass from the gate and up outputs it keeps.
    """

    block: str
    tensor: str
    values: int
    shape: str
    mask: bool = False
    tp_split: bool = True
    dropout: bool = False
    dtype: str | None = None
    selective: bool = False
    mlp: str | None = None
    norm: str | None = None
    replicated: bool = False
    unfused_mlp: bool = False

    def bytes_per_value(self, act_bytes=2):
        """Bytes of one value: 1 for a mask, the fixed ``dtype``'s, else ``act_bytes``."""
        if self.mask:
            return 1
        return _FIXED_BYTES[self.dtype] if self.dtype else act_bytes

    def formula(self, act_bytes: int = 2) -> str:
        """The bytes as Korthikanti writes them, e.g. ``"8sbh"``, ``"as²b"``, ``"4sba"``."""
        n = self.values * self.bytes_per_value(act_bytes)
        unit = _UNIT_SYMBOLS.get(self.shape, self.shape)
        return unit if n == 1 else f"{n:g}{unit}"


def _term(block, tensor, values, shape, **kw) -> ActivationTerm:
    return ActivationTerm(block, tensor, values, shape, **kw)


#: The tensors one GPT-style layer saves, in the order of Korthikanti et al. 2022, Sec. 4.1.
ACTIVATION_TERMS: MappingProxyType = MappingProxyType({
    "attn_norm_input": ActivationTerm(
        "LayerNorm", "input of the first LayerNorm (the layer's input x)", 1, "sbh",
        tp_split=False),
    "qkv_input": ActivationTerm(
        "attention", "LayerNorm output, shared input of the Q, K, V matmuls", 1, "sbh",
        tp_split=False),
    "q_and_k": ActivationTerm("attention", "Q and K, the two inputs of QKᵀ", 2, "sbh"),
    "softmax_output": ActivationTerm(
        "attention", "softmax output P (attention probabilities)", 1,
        "as2b", selective=True),
    "softmax_dropout_mask": ActivationTerm(
        "attention", "dropout mask on the attention probabilities", 1, "as2b", mask=True,
        dropout=True, selective=True),
    "softmax_dropout_output": ActivationTerm(
        "attention", "dropout output, the P multiplied with V", 1, "as2b",
        dropout=True, selective=True),
    "v": ActivationTerm("attention", "V, the other input of that product", 1, "sbh"),
    "projection_input": ActivationTerm(
        "attention", "input of the output projection (the heads' outputs)", 1, "sbh"),
    "projection_dropout_mask": ActivationTerm(
        "attention", "dropout mask after the output projection", 1, "sbh", mask=True,
        tp_split=False, dropout=True),
    "mlp_norm_input": ActivationTerm(
        "LayerNorm", "input of the second LayerNorm (x + attention output)", 1, "sbh",
        tp_split=False),
    "mlp_input": ActivationTerm(
        "MLP", "LayerNorm output, input of the first linear layer", 1, "sbh",
        tp_split=False),
    "fc1_output": ActivationTerm(
        "MLP", "first linear layer's output (4h wide) = GeLU input", 4, "sbh"),
    "gelu_output": ActivationTerm(
        "MLP", "GeLU output = input of the second linear layer", 4, "sbh"),
    "mlp_dropout_mask": ActivationTerm(
        "MLP", "dropout mask after the second linear layer", 1, "sbh", mask=True,
        tp_split=False, dropout=True),
})

def _norm_terms(prefix: str, which: str, input_what: str) -> dict:
    """A pre-norm's saved tensors: its input, and per token an fp32 mean (LayerNorm only) and
    1/rms (LayerNorm: 1/sigma); ``which`` names the norm ("first", "second", "final")."""
    return {
        f"{prefix}_input": _term("RMSNorm", f"input of the {which} norm ({input_what})", 1,
                                 "sbh", tp_split=False),
        f"{prefix}_mean": _term("RMSNorm", f"LayerNorm only: the {which} norm's mean per token, "
                                "fp32", 1, "sb", dtype="fp32", tp_split=False, norm="layernorm"),
        f"{prefix}_rstd": _term("RMSNorm", f"the {which} norm's 1/rms (LayerNorm: 1/σ) per "
                                "token, fp32", 1, "sb", dtype="fp32", tp_split=False),
    }


#: The tensors one modern (Llama-style) layer saves with PyTorch's fused kernels, bf16
#: activations, no dropout: what ``torch.autograd`` keeps for a pre-norm block of RMSNorm
#: (``aten._fused_rms_norm``, PyTorch's CUDA kernel: its input and an fp32 1/rms per token,
#: the ``input``/``result1`` of ``FusedRmsNormBackward0``), Q/K/V projections, RoPE,
#: ``scaled_dot_product_attention`` (FlashAttention: Q, K, V, the output and an fp32
#: logsumexp per head and token; K and V at n_kv_heads with native grouped-query attention),
#: the output projection and a SwiGLU MLP (Shazeer 2020: down(SiLU(gate(x)) * up(x))), fused
#: (Megatron-Core's ``bias_swiglu``, ``torch.compile``: gate and up kept, SiLU recomputed in
#: the backward pass; eager PyTorch also keeps ``silu_output``, the one ``unfused_mlp``
#: term). Measured with :func:`trainmath.measure.block_saved_activations` (tested exact,
#: storages shared by several ops counted once). A GeLU MLP keeps ``up_output`` and
#: ``down_input`` only; LayerNorm adds an fp32 mean per token to each norm.
MODERN_ACTIVATION_TERMS: MappingProxyType = MappingProxyType({
    **_norm_terms("attn_norm", "first", "the layer's input x, the residual stream"),
    "qkv_input": _term(
        "attention", "norm output, shared input of the Q, K, V projections", 1, "sbh",
        tp_split=False),
    "q": _term("attention", "Q after RoPE (a heads), input of the attention kernel", 1,
               "sbh_q"),
    "k": _term("attention", "K after RoPE (n_kv_heads heads: native GQA)", 1, "sbh_kv"),
    "v": _term("attention", "V (n_kv_heads heads)", 1, "sbh_kv"),
    "attention_output": _term(
        "attention", "attention output, kept by the kernel and the input of the output "
        "projection (one storage)", 1, "sbh_q"),
    "softmax_lse": _term(
        "attention", "logsumexp of each query's scores per head, fp32 (FlashAttention's "
        "softmax statistics, instead of the as²b scores)", 1, "sba", dtype="fp32",
        selective=True),
    **_norm_terms("mlp_norm", "second", "x + attention output"),
    "mlp_input": _term(
        "MLP", "norm output, shared input of the gate and up projections", 1, "sbh",
        tp_split=False),
    "gate_output": _term("MLP", "gate projection output = SiLU input", 1, "sbf",
                         mlp="swiglu"),
    "silu_output": _term(
        "MLP", "SiLU output, one factor of the product (eager only: a fused SwiGLU "
        "recomputes it)", 1, "sbf", mlp="swiglu", unfused_mlp=True),
    "up_output": _term(
        "MLP", "up projection output, the other factor (GeLU MLP: the GeLU input)", 1,
        "sbf"),
    "down_input": _term(
        "MLP", "SiLU(gate) ⊙ up (GeLU MLP: the GeLU output) = down projection input", 1,
        "sbf"),
})

# The modern layer in three parts: attention (with its norm), the MLP's norm and input, and
# the dense MLP; latent attention and MoE MLPs replace the first and the last.
_MODERN_ATTENTION = ("attn_norm_input", "attn_norm_mean", "attn_norm_rstd", "qkv_input", "q",
                     "k", "v", "attention_output", "softmax_lse")
_MODERN_MLP_IN = ("mlp_norm_input", "mlp_norm_mean", "mlp_norm_rstd", "mlp_input")

#: What multi-head latent attention keeps for its backward pass (DeepSeek-V2, Sec. 2.1,
#: Eqs. 9-14 and 37-47), with fused RMSNorms on the two latents and a FlashAttention-style
#: kernel (scores of width H(d_h + d_h^R), values of H d_h^v): the terms that replace the
#: modern layer's attention. Queries and keys are decompressed per head for every token in
#: training; the latents (and their norms' inputs) are kept besides. The down-projections
#: are replicated across tensor-parallel ranks (Megatron-Core's MLA), so their latents are
#: not split t ways (sequence parallelism splits them along s).
MLA_ACTIVATION_TERMS: MappingProxyType = MappingProxyType({
    **_norm_terms("attn_norm", "first", "the layer's input x, the residual stream"),
    "qkv_input": _term(
        "attention", "norm output, shared input of the query and key-value "
        "down-projections W^DQ and W^DKV", 1, "sbh", tp_split=False),
    "q_latent": _term("attention", "query latent c^Q (q_lora_rank wide), input of its RMSNorm",
                      1, "sbc_q", tp_split=False),
    "q_latent_rstd": _term("attention", "the query latent norm's 1/rms per token, fp32", 1,
                           "sb_q", dtype="fp32", tp_split=False),
    "q_up_input": _term("attention", "normalised query latent, input of W^UQ and W^QR", 1,
                        "sbc_q", tp_split=False),
    "kv_latent": _term("attention", "key-value latent c^KV (kv_lora_rank wide), input of its "
                       "RMSNorm", 1, "sbc_kv", tp_split=False),
    "kv_latent_rstd": _term("attention", "the key-value latent norm's 1/rms per token, fp32",
                            1, "sb", dtype="fp32", tp_split=False),
    "kv_up_input": _term("attention", "normalised key-value latent, input of W^UK and W^UV",
                         1, "sbc_kv", tp_split=False),
    "q": _term("attention", "queries after RoPE, H heads of d_h + d_h^R", 1, "sbh_qk"),
    "k": _term("attention", "keys: decompressed per head, with the shared rotary key "
               "copied to every head", 1, "sbh_qk"),
    "v": _term("attention", "values, decompressed, H heads of d_h^v", 1, "sbh_v"),
    "attention_output": _term("attention", "attention output (H d_h^v), kept by the kernel "
                              "and the input of W^O", 1, "sbh_v"),
    "softmax_lse": _term("attention", "logsumexp of each query's scores per head, fp32", 1,
                         "sba", dtype="fp32", selective=True),
})

#: What a mixture-of-experts MLP keeps for its backward pass, in place of the dense MLP's
#: f-wide tensors (the norm output, shared by the router, the shared experts and the
#: dispatch, is the modern layer's ``mlp_input``): the router's scores (fp32, as
#: Megatron-Core and DeepSeek compute them) and the chosen experts' weights; the dispatched
#: token copies (k per token; c times the balanced share on the busiest GPU) and, per copy,
#: what a SwiGLU expert keeps; the experts' outputs, which the weighted combine needs for
#: the gradient of the weights; the shared experts, a dense MLP of n_s f_e. Tensor
#: parallelism requires sequence parallelism with MoE (Megatron-Core): each rank routes its
#: s/t tokens; expert tensor parallelism t_e gathers the copies of t_e ranks and splits the
#: f_e-wide tensors.
MOE_ACTIVATION_TERMS: MappingProxyType = MappingProxyType({
    "router_probs": _term("MoE", "router scores after softmax or sigmoid, fp32 (their "
                          "backward needs them)", 1, "sbE", dtype="fp32", tp_split=False),
    "topk_weights": _term("MoE", "gating weights of the k chosen experts, fp32 (the "
                          "combine's backward)", 1, "sbk", dtype="fp32", tp_split=False),
    "expert_input": _term("MoE", "dispatched token copies, input of the experts' gate and "
                          "up projections", 1, "sbkh", tp_split=False, replicated=True),
    "expert_gate_output": _term("MoE", "experts' gate outputs = SiLU inputs", 1, "sbkf",
                                mlp="swiglu"),
    "expert_silu_output": _term("MoE", "experts' SiLU outputs (eager only)", 1, "sbkf",
                                mlp="swiglu", unfused_mlp=True),
    "expert_up_output": _term("MoE", "experts' up outputs (GeLU experts: the GeLU input)", 1,
                              "sbkf"),
    "expert_down_input": _term("MoE", "experts' down-projection inputs", 1, "sbkf"),
    "expert_output": _term("MoE", "experts' outputs before the weighted combine (the "
                           "gradient of the gating weights needs them)", 1, "sbkh",
                           tp_split=False, replicated=True),
    "shared_gate_output": _term("MoE", "shared experts' gate outputs", 1, "sbf_s",
                                mlp="swiglu"),
    "shared_silu_output": _term("MoE", "shared experts' SiLU outputs (eager only)", 1,
                                "sbf_s", mlp="swiglu", unfused_mlp=True),
    "shared_up_output": _term("MoE", "shared experts' up outputs", 1, "sbf_s"),
    "shared_down_input": _term("MoE", "shared experts' down-projection inputs", 1, "sbf_s"),
})


#: What the model keeps for its backward pass after the last layer, per micro-batch, on the
#: last pipeline stage: the final norm, the LM head's input and the cross-entropy, which
#: works on the logits upcast to fp32 (Hugging Face's Llama, ``logits.float()``; Megatron's
#: vocabulary-parallel cross-entropy, ``vocab_parallel_logits.float()``) and keeps its fp32
#: log-softmax (Megatron: softmax) for the backward pass, split t ways over the vocabulary
#: (Shoeybi et al. 2019, Sec. 3). The 16-bit logits are not saved (the upcast's backward
#: needs nothing). Measured with :func:`trainmath.measure.logits_saved_activations`.
LOGITS_TERMS: MappingProxyType = MappingProxyType({
    **_norm_terms("final_norm", "final", "the last layer's output"),
    "head_input": _term(
        "LM head", "final norm output, input of the LM head (output projection)", 1, "sbh",
        tp_split=False),
    "logits": _term(
        "loss", "log-softmax of the fp32 logits, the cross-entropy's saved output "
        "(vocabulary-parallel: V/t columns per rank)", 1, "sbV", dtype="fp32"),
    "targets": _term(
        "loss", "target token ids (int64), needed by the loss's backward", 1, "sb",
        dtype="int64", tp_split=False, replicated=True),
})


def _table_breakdown(table, units, t, sequence_parallel, recompute, act_bytes, *,
                     dropout=True, mlp=None, norm=None, fused_mlp=False,
                     term_bytes=None) -> Breakdown:
    """Bytes of each term of ``table`` on one GPU: the one rule of all three tables.

    A term is present when the layer has it (dropout, MLP and norm kind, an unfused MLP
    activation), kept unless
    recomputation frees it (selective: the ``selective`` terms; full: all but the layer's
    input), and divided by t when tensor parallelism splits it or sequence parallelism
    splits what tensor parallelism leaves whole (except ``replicated`` terms).
    """
    out = {}
    for key, term in table.items():
        kept = (
            (dropout or not term.dropout)
            and term.mlp in (None, mlp)
            and term.norm in (None, norm)
            and not (fused_mlp and term.unfused_mlp)
            and not (recompute == "selective" and term.selective)
            and not (recompute == "full" and key != "attn_norm_input")
        )
        per_value = term.bytes_per_value(act_bytes)
        if term_bytes and key in term_bytes:
            per_value = term_bytes[key]
        size = units[term.shape] * (term.values * per_value * kept)
        if term.tp_split or (sequence_parallel and not term.replicated):
            size = size / t
        out[key] = size
    return Breakdown(out)


def activation_memory_breakdown(
    seq_len,
    micro_batch,
    d_model,
    n_heads,
    *,
    tp=1,
    sequence_parallel: bool = False,
    recompute: str = "none",
    act_bytes=2,
    dropout: bool = True,
) -> Breakdown:
    """Bytes of each tensor one transformer layer stores for the backward pass, per GPU.

    Korthikanti et al. 2022, Sec. 4.1 derive the per-layer total tensor by tensor; this
    function returns those tensors as a :class:`~trainmath.memory.Breakdown` (keys and
    meanings in :data:`ACTIVATION_TERMS`) whose ``total`` is the layer's. With the
    defaults the total equals :func:`activation_memory_per_layer` for every ``tp``,
    ``sequence_parallel`` and ``recompute`` (exactly, in integer arithmetic, for t = 1):

    * per-token terms 2 + 2 + 4 + 2 + 2 + 1 (attention) + 2 + 8 + 8 + 1 (MLP) + 2 + 2
      (LayerNorms) = 34 bytes per s*b*h value, scores 2 + 1 + 2 = 5 bytes per a*s^2*b;
    * tensor parallelism divides the ``tp_split`` terms (24 sbh and the scores) by t;
      sequence parallelism divides the other 10 sbh too;
    * ``"selective"`` recomputation drops the three score terms; ``"full"`` keeps only
      the layer's input (``attn_norm_input``; split by t only with sequence parallelism).

    Parameters
    ----------
    seq_len, micro_batch, d_model, n_heads : int or array
        s, b, h, a. Arrays broadcast.
    tp : int or array
        Tensor-parallel size t; must divide ``n_heads``.
    sequence_parallel : bool
    recompute : {"none", "selective", "full"}
    act_bytes : int or float
        Bytes per stored activation value: 2 for fp16/bf16 (Korthikanti), 4 for fp32.
        Dropout masks stay 1 byte per value.
    dropout : bool
        Whether the layer uses dropout. Without it (as in most recent LLM pre-training)
        the three masks and the separate dropout output of the attention probabilities
        are not stored: sbh(32 + 2as/h) instead of sbh(34 + 5as/h).

    Returns
    -------
    Breakdown
        Key -> bytes (float, or array when an input is an array), in the order of
        :data:`ACTIVATION_TERMS` (absent tensors are 0), then ``total``.

    Assumptions
    -----------
    As :func:`activation_memory_per_layer`: GPT-3-style layer (LayerNorm, GeLU MLP with
    d_ff = 4h, multi-head attention), attention scores materialised (no FlashAttention),
    every saved tensor counted once and nothing else (no temporary buffers).
    """
    s, b, h, a, t = _layer_shape(seq_len, micro_batch, d_model, n_heads, tp,
                                 sequence_parallel, recompute)
    v.flag("dropout", dropout)
    nbytes = v.positive("act_bytes", act_bytes)
    units = {"sbh": s * b * h, "as2b": a * s * s * b}
    return _table_breakdown(ACTIVATION_TERMS, units, t, sequence_parallel, recompute, nbytes,
                            dropout=dropout)


# --- a ModelConfig's layer: Korthikanti's or the modern one ---------------------------------


def default_activation_layer(cfg: ModelConfig) -> str:
    """The activation accounting that fits ``cfg``: ``"modern"`` or ``"korthikanti"``.

    ``"modern"`` (:data:`MODERN_ACTIVATION_TERMS`) for rotary-position models, the Llama
    2/3 and Mistral family, which train with FlashAttention and without dropout;
    ``"korthikanti"`` (:data:`ACTIVATION_TERMS`) otherwise: GPT-2/GPT-3 style models (the
    layer Korthikanti et al. 2022 count) and Transformer-XL relative positions (Gopher,
    Chinchilla), whose position term needs the s x s scores written out.

    >>> import trainmath as tm
    >>> [default_activation_layer(tm.MODELS[name]) for name in ("llama-3-8b", "gpt2")]
    ['modern', 'korthikanti']
    """
    v.instance("cfg", cfg, ModelConfig)
    return "modern" if cfg.position == "rope" else "korthikanti"


def _cfg_layer(cfg, seq_len, micro_batch, tp, sequence_parallel, recompute, layer, act_bytes,
               fused_mlp=True, moe=None):
    """Validated inputs of the ModelConfig-based functions."""
    v.instance("cfg", cfg, ModelConfig)
    v.flag("fused_mlp", fused_mlp)
    s = v.positive_int("seq_len", cfg.seq_len if seq_len is None else seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    t = v.positive_int("tp", tp)
    v.flag("sequence_parallel", sequence_parallel)
    v.choice("recompute", recompute, RECOMPUTE)
    layer = default_activation_layer(cfg) if layer is None else v.choice(
        "layer", layer, ACTIVATION_LAYERS)
    nbytes = v.positive("act_bytes", act_bytes)
    v.divides("tp", t, "n_heads", cfg.n_heads)
    if layer == "modern":
        v.divides("tp", t, "n_kv_heads", cfg.n_kv_heads,
                  note="(Megatron splits whole KV groups)")
        if cfg.position == "relative":
            raise ValueError(
                "layer='modern' models FlashAttention, which cannot add Transformer-XL's "
                "relative position scores (position='relative'); use layer='korthikanti'"
            )
    elif cfg.is_moe or cfg.attention == "mla":
        raise ValueError("layer='korthikanti' is Korthikanti et al.'s dense GPT layer; a "
                         "mixture of experts or latent attention needs layer='modern'")
    moe = cfg.is_moe if moe is None else v.flag("moe", moe)
    if moe and not cfg.is_moe:
        raise ValueError(f"moe=True needs a mixture of experts; {cfg.name or 'cfg'} is dense")
    if moe and not sequence_parallel and np.any(np.asarray(t) > 1):
        raise ValueError("an MoE layer with tp > 1 needs sequence_parallel=True (Megatron-Core "
                         "requires it: each tensor-parallel rank routes its own s/t tokens)")
    return s, b, t, layer, nbytes, moe


def _modern_units(cfg: ModelConfig, s, b, t=1, etp=1, capacity=1.0) -> dict:
    """Values per unit of :data:`ACTIVATION_UNITS` for ``cfg``; the MoE units are per GPU
    (token copies a GPU's experts hold: ``c k s b / t`` routed here, gathered ``etp`` ways)."""
    s, b = np.asarray(s, dtype=float), np.asarray(b, dtype=float)
    sb = s * b
    units = {"sbh": sb * cfg.d_model, "sbh_q": sb * cfg.attn_dim, "sbh_kv": sb * cfg.kv_dim,
             "sbf": sb * cfg.d_ff, "sba": sb * cfg.n_heads, "sb": sb,
             "sbV": sb * cfg.vocab_size, "sbh_qk": sb * cfg.qk_dim, "sbh_v": sb * cfg.v_dim}
    if cfg.attention == "mla":
        q = cfg.q_lora_rank or 0
        units.update(sbc_q=sb * q, sb_q=sb * (q > 0), sbc_kv=sb * cfg.kv_lora_rank)
    if cfg.is_moe:
        k = cfg.experts_per_token
        units.update(
            sbE=sb * cfg.n_experts, sbk=sb * k,
            sbkh=_routed_copies(sb, k, t, etp, capacity) * cfg.d_model,
            # f_e-wide terms are split t ways by the table's rule: c k s b / t x etp / etp
            sbkf=_routed_copies(sb, k, 1, 1, capacity) * cfg.moe_d_ff,
            sbf_s=sb * cfg.n_shared_experts * cfg.moe_d_ff,
        )
    return units


def _modern_table(cfg: ModelConfig, moe: bool) -> dict:
    """The terms of one modern layer of ``cfg``: its attention (MHA/GQA or latent), the
    MLP's norm and input, and its MLP (dense, or a mixture of experts when ``moe``)."""
    table = MODERN_ACTIVATION_TERMS
    attention = (MLA_ACTIVATION_TERMS if cfg.attention == "mla"
                 else {k: table[k] for k in _MODERN_ATTENTION})
    dense_mlp = {k: x for k, x in table.items() if k not in _MODERN_ATTENTION + _MODERN_MLP_IN}
    return {**attention, **{k: table[k] for k in _MODERN_MLP_IN},
            **(MOE_ACTIVATION_TERMS if moe else dense_mlp)}


def _check_term_bytes(term_bytes, cfg: ModelConfig) -> dict | None:
    """``term_bytes`` as a dict of term names of ``cfg``'s layers (dense or MoE) to bytes
    per value >= 0."""
    if term_bytes is None:
        return None
    if not isinstance(term_bytes, Mapping):
        raise TypeError(f"term_bytes must be a mapping of term name to bytes per value, got "
                        f"{type(term_bytes).__name__}")
    table = {**_modern_table(cfg, False), **(_modern_table(cfg, True) if cfg.is_moe else {})}
    out = {}
    for key, nbytes in term_bytes.items():
        if key not in table:
            raise ValueError(f"term_bytes names {key!r}, not a term of this model's layers; "
                             f"their terms: "
                             f"{', '.join(table)}")
        out[key] = float(v.nonnegative(f"term_bytes[{key!r}]", nbytes))
    return out


#: DeepSeek-V3's activation choices, as bytes per value of the terms of its layer
#: (:data:`MLA_ACTIVATION_TERMS`, :data:`MOE_ACTIVATION_TERMS`), for ``term_bytes``
#: (DeepSeek-V3 Technical Report, Sec. 3.2.3 and 3.3.3). 0: "we recompute all RMSNorm
#: operations and MLA up-projections during back-propagation" (the norms' outputs and
#: statistics, and the decompressed queries, keys and values, are not kept), and "we cache
#: the inputs of the SwiGLU operator and recompute its output" (the down-projection's
#: input); 1: cached in fp8 with fine-grained scaling (the experts' inputs and SwiGLU
#: inputs; Sec. 3.3.3 "activations ... cached in FP8"); 1.5: "a customized E5M6 data
#: format" for the input of the Linear after attention. The experts' outputs are taken as
#: not kept (0): the gating weights' gradient can be formed from the down-projection's
#: input gradient and the recomputed SwiGLU output, which the report does not spell out.
#: The residual stream (the norms' inputs) and the latents stay in bf16.
DEEPSEEK_V3_TERM_BYTES = MappingProxyType({
    "attn_norm_rstd": 0, "qkv_input": 0, "q_latent_rstd": 0, "q_up_input": 0,
    "kv_latent_rstd": 0, "kv_up_input": 0, "q": 0, "k": 0, "v": 0,
    "attention_output": 1.5, "mlp_norm_rstd": 0, "mlp_input": 0,
    "expert_input": 1, "expert_gate_output": 1, "expert_up_output": 1, "expert_down_input": 0,
    "expert_output": 0, "shared_gate_output": 1, "shared_up_output": 1, "shared_down_input": 0,
})


def layer_activation_breakdown(
    cfg: ModelConfig,
    seq_len=None,
    micro_batch=1,
    *,
    tp=1,
    sequence_parallel: bool = False,
    recompute: str = "none",
    layer: str | None = None,
    act_bytes=2,
    fused_mlp: bool = True,
    moe: bool | None = None,
    etp=None,
    capacity_factor=1.0,
    term_bytes: Mapping[str, float] | None = None,
) -> Breakdown:
    """Bytes of each tensor one layer of ``cfg`` keeps for the backward pass, per GPU.

    ``layer="korthikanti"``: :func:`activation_memory_breakdown` of d_model and n_heads
    (the GPT layer with dropout and materialised scores, :data:`ACTIVATION_TERMS`).
    ``layer="modern"``: the terms of :data:`MODERN_ACTIVATION_TERMS` for the config's
    widths (h = d_model, h_q = a x head_dim, h_kv = n_kv_heads x head_dim, f = d_ff),
    its MLP (fused SwiGLU: three f-wide tensors, eager SwiGLU: four, GeLU: two) and norm
    (RMSNorm: one fp32 statistic per token, LayerNorm: two). Per token, fused SwiGLU with
    RMSNorm, bf16:

    ``8h + 4 h_q + 4 h_kv + 6f + 4a + 8`` bytes (34.0 h for Llama 3 8B, 31.8 h for 405B,
    against Korthikanti's 34 h + 5as); eager SwiGLU (``fused_mlp=False``) keeps 2f more,
    ``... + 8f + ...`` (41.0 h and 38.3 h).

    * tensor parallelism (Megatron, Shoeybi et al. 2019) splits Q, K, V, the attention
      output, the logsumexp and the f-wide MLP tensors t ways (whole heads and KV groups
      per rank, so t must divide n_kv_heads); the norms' inputs and statistics and the
      inputs of the Q/K/V and gate/up projections (8h + 8 bytes per token) stay whole on
      every rank;
    * sequence parallelism (Korthikanti et al. 2022, Sec. 4.2.2) splits those along s: all
      divided by t;
    * ``"selective"`` recomputation recomputes the attention core, which with
      FlashAttention frees only the fp32 logsumexp (4a bytes per token, under 0.1 % of
      the layer): there are no s x s scores to drop, the saving Korthikanti et al. report
      (70 % for GPT-3) is already taken by the kernel;
    * ``"full"`` keeps only the layer's input, 2sbh (/t with sequence parallelism).

    Parameters
    ----------
    cfg : ModelConfig
    seq_len : int or array, optional
        s (default ``cfg.seq_len``). Arrays broadcast.
    micro_batch : int or array
        b.
    tp : int or array
        Tensor-parallel size t; must divide ``n_heads`` (and ``n_kv_heads`` for the modern
        layer).
    sequence_parallel : bool
    recompute : {"none", "selective", "full"}
    layer : {"korthikanti", "modern"} or None
        ``None``: :func:`default_activation_layer` (modern for rotary-position models).
    act_bytes : int or float
        Bytes per activation value (2 for bf16). fp32 statistics stay 4 bytes.
    fused_mlp : bool
        Modern layer only (``"korthikanti"`` ignores it). ``True`` (default, as at scale):
        SwiGLU's ``SiLU(gate) * up`` is one fused kernel keeping only the gate and up
        outputs, Megatron-Core's ``bias_swiglu`` or what ``torch.compile`` produces.
        ``False``: eager PyTorch, which also keeps the SiLU output: one more 2·s·b·f
        bytes per layer (``silu_output``, split t ways; measured). No effect on a GeLU MLP.
    moe : bool or None
        For a mixture of experts: an MoE layer (``None``, the default, for an MoE model) or
        one of its leading dense layers (``False``). Its MLP terms are then those of
        :data:`MOE_ACTIVATION_TERMS`; latent attention's (``attention="mla"``) those of
        :data:`MLA_ACTIVATION_TERMS`.
    etp : int or array, optional
        Expert tensor parallelism t_e (default ``tp``): splits each expert's f_e-wide tensors
        and gathers the token copies of t_e tensor-parallel ranks.
    capacity_factor : float or array
        Token copies the busiest GPU's experts receive, relative to a perfectly balanced
        router (1.0). A capacity-limited router (GShard, Switch) never exceeds its capacity
        factor; DeepSeek-V3's auxiliary-loss-free balancing keeps the load near 1 without
        dropping tokens.
    term_bytes : mapping, optional
        Bytes per value of some terms, by name, in place of ``act_bytes`` (modern layer
        only): 0 for a tensor recomputed in the backward pass instead of kept, 1 for one
        cached in fp8 (:data:`DEEPSEEK_V3_TERM_BYTES`: DeepSeek-V3's choices).

    Returns
    -------
    Breakdown
        Term -> bytes in the order of the layer's table, then ``total``.

    Examples
    --------
    Llama 3 8B, one 8,192-token sequence: 34 bytes per s*h value per layer, 1.14 GB
    (41 and 1.38 GB with an eager SwiGLU), against Korthikanti's GPT layer at
    34 + 5as/h = 354 (11.9 GB, most of it scores that FlashAttention never stores):

    >>> import trainmath as tm
    >>> cfg = tm.MODELS["llama-3-8b"]
    >>> m = layer_activation_breakdown(cfg, 8192, layer="modern")
    >>> round(m.total / (8192 * 4096), 2), round(m.total / 1e9, 2)
    (34.03, 1.14)
    >>> eager = layer_activation_breakdown(cfg, 8192, layer="modern", fused_mlp=False)
    >>> round(eager.total / (8192 * 4096), 2), round(eager.total / 1e9, 2)
    (41.03, 1.38)
    >>> round(layer_activation_breakdown(cfg, 8192, layer="korthikanti").total / 1e9, 1)
    11.9

    Sources and assumptions
    -----------------------
    Each term is what PyTorch 2.13 keeps for backward (measured, storages shared by
    several ops counted once; :func:`trainmath.measure.block_saved_activations` with
    ``attention="sdpa"`` and ``fused_norm=True``): FlashAttention saves Q, K, V, the
    output and the logsumexp (Dao et al. 2022, Sec. 3.1; PyTorch's
    ``_scaled_dot_product_flash_attention`` backward). RMSNorm is the fused kernel
    (``aten._fused_rms_norm``, which ``nn.RMSNorm`` runs on CUDA; Megatron/Transformer
    Engine's and Apex's fused norms keep the same); an unfused RMSNorm (Hugging Face's
    ``LlamaRMSNorm``, or ``nn.RMSNorm`` on the CPU) keeps an fp32 copy of its input and
    its normalised output instead, 4h more bytes per token and norm. SwiGLU is fused by
    default (:class:`trainmath.measure.FusedSwiGLU`, ``fused_mlp=True`` in
    :func:`trainmath.measure.build_model`: Megatron-Core's ``bias_swiglu`` saves only its
    input, the gate and up outputs side by side, and recomputes SiLU and the product in the
    backward pass; ``torch.compile``'s partitioner saves the same two tensors); eager
    PyTorch also keeps the SiLU output (``MulBackward0.self``). The rotary
    cos/sin tables (s x head_dim, computed once per model forward and shared by all
    layers) and the scalars a kernel keeps (RNG state) are not counted. No dropout.
    """
    s, b, t, layer, nbytes, moe = _cfg_layer(cfg, seq_len, micro_batch, tp, sequence_parallel,
                                             recompute, layer, act_bytes, fused_mlp, moe)
    if layer == "korthikanti":
        if term_bytes is not None:
            raise ValueError("term_bytes applies to layer='modern'")
        return activation_memory_breakdown(
            s, b, cfg.d_model, cfg.n_heads, tp=t, sequence_parallel=sequence_parallel,
            recompute=recompute, act_bytes=nbytes,
        )
    table = _modern_table(cfg, moe)
    te = t if etp is None else v.positive_int("etp", etp)
    c = v.positive("capacity_factor", capacity_factor)
    if np.any(np.asarray(c) < 1):
        raise ValueError(f"capacity_factor must be >= 1 (1: a balanced router), got "
                         f"{capacity_factor!r}")
    units = _modern_units(cfg, s, b, t, te, c)
    return _table_breakdown(
        table, units, np.asarray(t, dtype=float),
        sequence_parallel, recompute, nbytes, dropout=False, mlp=cfg.mlp, norm=cfg.norm,
        fused_mlp=fused_mlp, term_bytes=_check_term_bytes(term_bytes, cfg),
    )


def layer_activation_bytes(
    cfg: ModelConfig,
    seq_len=None,
    micro_batch=1,
    *,
    tp=1,
    sequence_parallel: bool = False,
    recompute: str = "none",
    layer: str | None = None,
    act_bytes=2,
    fused_mlp: bool = True,
    moe: bool | None = None,
    etp=None,
    capacity_factor=1.0,
    term_bytes: Mapping[str, float] | None = None,
):
    """Bytes of activations one layer of ``cfg`` stores, per GPU: the ``total`` of
    :func:`layer_activation_breakdown` (``fused_mlp`` as there: fused SwiGLU by default,
    ``False`` for eager PyTorch's one more 2·s·b·f/t; ``moe``, ``etp`` and
    ``capacity_factor`` for a mixture of experts; ``term_bytes`` for recomputed or fp8 terms).

    With ``layer="korthikanti"`` (and 16-bit activations) this is exactly
    :func:`activation_memory_per_layer` of ``cfg.d_model`` and ``cfg.n_heads``.

    >>> import trainmath as tm
    >>> cfg = tm.MODELS["llama-3.1-405b"]
    >>> round(layer_activation_bytes(cfg, 8192, tp=8, sequence_parallel=True) / 1e9, 3)
    0.533
    >>> round(layer_activation_bytes(cfg, 8192, tp=8, sequence_parallel=True,
    ...                              fused_mlp=False) / 1e9, 3)
    0.642
    """
    s, b, t, layer, nbytes, moe = _cfg_layer(cfg, seq_len, micro_batch, tp, sequence_parallel,
                                             recompute, layer, act_bytes, fused_mlp, moe)
    if layer == "korthikanti" and np.all(np.asarray(nbytes) == 2) and term_bytes is None:
        return activation_memory_per_layer(
            s, b, cfg.d_model, cfg.n_heads, tp=t, sequence_parallel=sequence_parallel,
            recompute=recompute,
        )
    return layer_activation_breakdown(
        cfg, s, b, tp=t, sequence_parallel=sequence_parallel, recompute=recompute,
        layer=layer, act_bytes=nbytes, fused_mlp=fused_mlp, moe=moe, etp=etp,
        capacity_factor=capacity_factor, term_bytes=term_bytes,
    ).total


# --- outside the layers: LM head and loss ---------------------------------------------------


def logits_activation_breakdown(
    cfg: ModelConfig,
    seq_len=None,
    micro_batch=1,
    *,
    tp=1,
    sequence_parallel: bool = False,
    act_bytes=2,
) -> Breakdown:
    """Bytes the final norm, the LM head and the loss keep for backward, per micro-batch.

    The terms of :data:`LOGITS_TERMS` on the last pipeline stage: the final norm's input
    and statistics, the head's input (2sbh each, 16-bit), the cross-entropy's fp32
    log-softmax of the logits (4sbV) and the int64 targets (8sb). The fp32 term dominates:
    4 x 8,192 x 128,256 = 4.2 GB per 8,192-token sequence at Llama 3's vocabulary.

    * tensor parallelism splits the vocabulary (Megatron's vocabulary-parallel
      cross-entropy, Shoeybi et al. 2019, Sec. 3): 4sbV/t per rank; the targets are kept
      whole on every rank;
    * sequence parallelism splits the final norm and the head's input along s.

    Parameters
    ----------
    cfg : ModelConfig
        Uses ``d_model``, ``vocab_size``, ``norm``.
    seq_len : int or array, optional
        s (default ``cfg.seq_len``).
    micro_batch : int or array
        b.
    tp : int or array
        Tensor-parallel size t.
    sequence_parallel : bool
    act_bytes : int or float
        Bytes of a 16-bit activation (the norm's and head's inputs).

    Returns
    -------
    Breakdown

    Examples
    --------
    >>> import trainmath as tm
    >>> m = logits_activation_breakdown(tm.MODELS["llama-3-8b"], 8192)
    >>> round(m["logits"] / 1e9, 3), round(m.total / 1e9, 3)
    (4.203, 4.337)

    Sources and assumptions
    -----------------------
    Measured (:func:`trainmath.measure.logits_saved_activations`): ``F.cross_entropy`` of
    ``logits.float()`` saves its log-softmax (fp32), the targets and a 4-byte scalar (not
    counted); the upcast's backward saves nothing, so the 16-bit logits are freed unless
    the caller keeps them (Hugging Face returns them in its output: 2sbV more while that
    lives). Megatron's vocabulary-parallel loss keeps the fp32 softmax instead (same size)
    and a 1-byte target mask. Transient buffers are not counted: the loss's backward
    briefly holds the fp32 gradient of the logits (another 4sbV/t) and a 16-bit copy, so
    the last stage's peak is higher unless the loss is fused or computed in chunks. The
    embedding keeps only the token ids (8sb) on the first stage; its output is the first
    layer's input, counted with that layer.
    """
    v.instance("cfg", cfg, ModelConfig)
    s = v.positive_int("seq_len", cfg.seq_len if seq_len is None else seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    t = v.positive_int("tp", tp)
    v.flag("sequence_parallel", sequence_parallel)
    nbytes = v.positive("act_bytes", act_bytes)
    return _table_breakdown(
        LOGITS_TERMS, _modern_units(cfg, s, b), np.asarray(t, dtype=float), sequence_parallel,
        "none", nbytes, norm=cfg.norm,
    )


def logits_activation_bytes(
    cfg: ModelConfig, seq_len=None, micro_batch=1, *, tp=1, sequence_parallel: bool = False,
    act_bytes=2,
):
    """Bytes the final norm, LM head and loss keep per micro-batch: the ``total`` of
    :func:`logits_activation_breakdown` (about 4sbV/t: the fp32 logits of the loss)."""
    return logits_activation_breakdown(
        cfg, seq_len, micro_batch, tp=tp, sequence_parallel=sequence_parallel,
        act_bytes=act_bytes,
    ).total


# --- choosing a recomputation strategy ------------------------------------------------------


def _linear_coefficient(t, sequence_parallel: bool):
    """Bytes per s*b*h of the per-token terms: 34/t with SP, 10 + 24/t without."""
    return 34 / t if sequence_parallel else 10 + 24 / t


def selective_recompute_saving(seq_len, d_model, n_heads, *, tp=1, sequence_parallel=False):
    """Share of a layer's activation memory that selective recomputation frees, in [0, 1).

    Selective recomputation drops exactly the attention-score terms, so the saving is
    their share of the total (Korthikanti et al. 2022, Sec. 4.3 and Table 2):

    ``(5as/(ht)) / (34/t + 5as/(ht))`` with sequence parallelism, ``10 + 24/t`` in place of
    ``34/t`` without it. Independent of the micro-batch b. GPT-3 175B (a = 96, s = 2048,
    h = 12288, 5as/h = 80) with t = 8 and sequence parallelism: 80/114 = 70 %, the "70 %"
    of Korthikanti et al. (Sec. 5).

    Parameters
    ----------
    seq_len, d_model, n_heads : int or array
        s, h, a. Arrays broadcast.
    tp : int or array
        Tensor-parallel size t (must divide ``n_heads``).
    sequence_parallel : bool

    Assumptions: as :func:`activation_memory_per_layer` (GPT-style layer, 16-bit
    activations, 1-byte masks, scores materialised).
    """
    none = activation_memory_per_layer(
        seq_len, 1, d_model, n_heads, tp=tp, sequence_parallel=sequence_parallel
    )
    kept = activation_memory_per_layer(
        seq_len, 1, d_model, n_heads, tp=tp, sequence_parallel=sequence_parallel,
        recompute="selective",
    )
    return v.result(1 - np.asarray(kept) / np.asarray(none))


def attention_score_crossover(d_model, n_heads, *, tp=1, sequence_parallel=False):
    """Sequence length at which the attention scores take half of a layer's activations.

    Setting the score term equal to the per-token terms, ``5as/(ht) = 34/t`` with
    sequence parallelism (``10 + 24/t`` without), gives

    ``s* = 34 h / (5a) = 6.8 * head_dim`` (t = 1, or any t with SP), and
    ``s* = (10 + 24/t) h t / (5a)`` with tensor parallelism alone.

    Above s* the 5as^2b terms (Korthikanti et al. 2022, Sec. 4.1) dominate and grow as
    s^2 while everything else grows as s. GPT-3 175B (head_dim 128): s* = 870 tokens,
    so at its 2048-token context the scores are already 70 % of the activations.

    Parameters
    ----------
    d_model, n_heads : int or array
        h and a (h/a is the head size). Arrays broadcast.
    tp : int or array
        Tensor-parallel size t (must divide ``n_heads``).
    sequence_parallel : bool

    Returns
    -------
    float or array
        s* in tokens (not rounded).
    """
    h = v.positive_int("d_model", d_model)
    a = v.positive_int("n_heads", n_heads)
    t = v.positive_int("tp", tp)
    v.flag("sequence_parallel", sequence_parallel)
    v.divides("tp", tp, "n_heads", n_heads)
    h, a, t = (np.asarray(x, dtype=float) for x in (h, a, t))
    return v.result(_linear_coefficient(t, sequence_parallel) * h * t / (5 * a))
