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
"""

from __future__ import annotations

import numpy as np

from trainmath import _validate as v

__all__ = ["RECOMPUTE", "activation_memory_per_layer"]

RECOMPUTE = ("none", "selective", "full")


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
    s = v.positive_int("seq_len", seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    h = v.positive_int("d_model", d_model)
    a = v.positive_int("n_heads", n_heads)
    t = v.positive_int("tp", tp)
    if not isinstance(sequence_parallel, bool):
        raise TypeError(f"sequence_parallel must be True or False, got {sequence_parallel!r}")
    v.choice("recompute", recompute, RECOMPUTE)
    if np.any(np.asarray(a) % np.asarray(t)):
        raise ValueError(f"tp must divide n_heads (got tp={tp!r}, n_heads={n_heads!r})")
    s, b, h, a, t = (np.asarray(x, dtype=float) for x in (s, b, h, a, t))
    sbh = s * b * h
    if recompute == "full":
        out = 2 * sbh / t if sequence_parallel else 2 * sbh
    else:
        scores = 0.0 if recompute == "selective" else 5 * a * s / (h * t)
        linear = 34 / t if sequence_parallel else 10 + 24 / t
        out = sbh * (linear + scores)
    return v.result(out)
