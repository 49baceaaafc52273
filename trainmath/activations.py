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
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from trainmath import _validate as v
from trainmath._breakdown import Breakdown

__all__ = [
    "RECOMPUTE",
    "activation_memory_per_layer",
    "ActivationTerm",
    "ACTIVATION_TERMS",
    "activation_memory_breakdown",
    "selective_recompute_saving",
    "attention_score_crossover",
]

RECOMPUTE = ("none", "selective", "full")


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


@dataclass(frozen=True)
class ActivationTerm:
    """One tensor a layer saves for its backward pass (Korthikanti et al. 2022, Sec. 4.1).

    Attributes
    ----------
    block : str
        ``"attention"``, ``"MLP"`` or ``"LayerNorm"`` (the grouping of Sec. 4.1).
    tensor : str
        What the tensor is and which backward step needs it.
    values : int
        Number of values per ``shape`` unit: the tensor holds ``values * s*b*h`` (per-token
        terms) or ``values * a*s^2*b`` (attention-score terms) numbers.
    shape : str
        ``"sbh"`` (grows like the sequence) or ``"as2b"`` (one s x s matrix per head).
    mask : bool
        A dropout mask (1 byte per value) rather than an activation (2 bytes in 16-bit).
    tp_split : bool
        Split ``t`` ways by Megatron tensor parallelism. The others (LayerNorm and dropout
        regions) are replicated on every tensor-parallel rank unless sequence parallelism
        splits them along s.
    dropout : bool
        Exists only when the layer uses dropout.
    """

    block: str
    tensor: str
    values: int
    shape: str
    mask: bool = False
    tp_split: bool = True
    dropout: bool = False

    def formula(self, act_bytes: int = 2) -> str:
        """The bytes as Korthikanti writes them, e.g. ``"8sbh"``, ``"as²b"``."""
        n = self.values * (1 if self.mask else act_bytes)
        unit = "sbh" if self.shape == "sbh" else "as²b"
        return unit if n == 1 else f"{n}{unit}"


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
        "as2b"),
    "softmax_dropout_mask": ActivationTerm(
        "attention", "dropout mask on the attention probabilities", 1, "as2b", mask=True,
        dropout=True),
    "softmax_dropout_output": ActivationTerm(
        "attention", "dropout output, the P multiplied with V", 1, "as2b",
        dropout=True),
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

    out = {}
    for key, term in ACTIVATION_TERMS.items():
        kept = (
            (dropout or not term.dropout)
            and not (recompute == "selective" and term.shape == "as2b")
            and not (recompute == "full" and key != "attn_norm_input")
        )
        per_value = 1.0 if term.mask else nbytes
        size = units[term.shape] * (term.values * per_value * kept)
        if term.tp_split or sequence_parallel:
            size = size / t
        out[key] = size
    return Breakdown(out)


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
