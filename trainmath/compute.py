"""Training compute: FLOPs per token, C = 6ND, and model FLOPs utilisation.

Why 6: a weight w multiplies one activation per token in the forward pass (a multiply
and an add: 2 FLOPs) and, in the backward pass, is used once to send the gradient back
to its input and once to form its own gradient (2 + 2 FLOPs). So training costs
2 + 4 = 6 FLOPs per weight per token (Kaplan et al. 2020, Sec. 2.1; Hoffmann et al.
2022, App. F). Attention adds FLOPs that grow with the sequence length s but involve
no weights: 12 * L * (H * head_dim) * s per token for forward + backward
(Chowdhery et al. 2022 (PaLM), App. B).

Time on a cluster, GPU-hours and cost are :mod:`trainmath.units`' compute/time/cost core
(``C = tau T``, ``tau = n_gpus * peak * MFU``: :func:`~trainmath.units.training_time`,
:func:`~trainmath.units.delivered_flop_rate`, :func:`~trainmath.units.achieved_flops_per_gpu`,
...); :func:`mfu` reads that equation from a throughput log.
"""

from __future__ import annotations

import numpy as np

from trainmath import _validate as v
from trainmath.activations import RECOMPUTE
from trainmath.models import ModelConfig, matmul_params
from trainmath.units import delivered_flop_rate

__all__ = [
    "flops_per_token",
    "mtp_flops_per_token",
    "attention_flops_fraction",
    "training_flops",
    "forward_flops",
    "backward_flops",
    "mfu",
    "megatron_model_flops",
    "recompute_flops_per_token",
    "RECOMPUTE_CONVENTIONS",
    "recompute_flops_overhead",
]


def _seq(cfg: ModelConfig, seq_len):
    return cfg.seq_len if seq_len is None else v.positive("seq_len", seq_len)


def _attention_fwd(cfg: ModelConfig, s):
    """Forward FLOPs per token of the scores QK^T and of the attention over V, all layers:
    ``2 s (H d_qk) + 2 s (H d_v)`` per layer, ``4 s H head_dim`` when d_qk = d_v."""
    return 2.0 * cfg.n_layers * (cfg.qk_dim + cfg.v_dim) * s


def flops_per_token(cfg: ModelConfig, seq_len=None, *, causal: bool = False):
    """Training (forward + backward) matmul FLOPs per token.

    ``6 * N_matmul + 12 * L * (H * head_dim) * s``, where ``N_matmul`` counts every weight
    matrix including the LM head (:func:`trainmath.models.matmul_params`) and the second
    term is attention's QK^T and (softmax)V products (PaLM, Chowdhery et al. 2022, App. B).
    Backward is exactly twice forward, so this is 3 x the forward count.

    A mixture of experts counts its *active* matmuls: the router, the shared experts and
    ``experts_per_token`` routed experts per MoE layer, so its cost is about
    6 x (active parameters), not 6 x (all parameters). Latent attention
    (``attention="mla"``) counts its down- and up-projections, and scores of width
    ``qk_nope_head_dim + qk_rope_head_dim`` against values of ``v_head_dim``: the attention
    term is ``6 L s H (d_qk + d_v)``, which is the ``12 L (H head_dim) s`` above when they
    are equal.

    Parameters
    ----------
    cfg : ModelConfig
    seq_len : int or array, optional
        Sequence length s; defaults to ``cfg.seq_len``. Arrays broadcast.
    causal : bool
        Count only the unmasked half of the attention scores (a kernel that skips the
        masked half, e.g. FlashAttention). PaLM counts the full square; conventions
        differ (reference-figures Sec. 13).

    Assumptions
    -----------
    Only matmuls are counted (softmax, norms, activations and biases are O(d) per token
    and neglected); no activation recomputation (that is hardware FLOPs, not model FLOPs).
    """
    v.instance("cfg", cfg, ModelConfig)
    s = _seq(cfg, seq_len)
    v.flag("causal", causal)
    attention = _attention_fwd(cfg, s) * 3.0
    if causal:
        attention = attention / 2
    return v.result(6.0 * matmul_params(cfg) + attention)


def mtp_flops_per_token(cfg: ModelConfig, seq_len=None, *, depth: int = 1,
                        causal: bool = False):
    """Training FLOPs per token that multi-token prediction adds to :func:`flops_per_token`.

    DeepSeek-V3 (arXiv:2412.19437, Sec. 2.2) also predicts the token after next during
    training with ``depth`` sequential modules (``num_nextn_predict_layers``: 1). Each runs,
    for every token, a projection of the concatenated normalised hidden state and embedding
    (a 2d x d matrix), one more transformer block like the model's last, and the output head
    it shares with the model (V x d). Training only: inference may drop the modules.

    Parameters
    ----------
    cfg : ModelConfig
    seq_len : int or array, optional
        Sequence length s (default ``cfg.seq_len``).
    depth : int
        MTP modules D.
    causal : bool
        As in :func:`flops_per_token`, for the extra block's attention.

    Examples
    --------
    >>> import trainmath as tm
    >>> round(mtp_flops_per_token(tm.MOE_MODELS["deepseek-v3"], 4096) / 1e9, 1)  # GFLOP
    10.7
    """
    v.instance("cfg", cfg, ModelConfig)
    d = v.scalar_int("depth", depth)
    s = _seq(cfg, seq_len)
    block = (np.asarray(flops_per_token(cfg.replace(n_layers=cfg.n_layers + 1), s,
                                        causal=causal))
             - np.asarray(flops_per_token(cfg, s, causal=causal)))
    projection_and_head = 6.0 * (2 * cfg.d_model * cfg.d_model + cfg.vocab_size * cfg.d_model)
    return v.result(d * (block + projection_and_head))


def attention_flops_fraction(cfg: ModelConfig, seq_len=None, *, causal: bool = False):
    """Share of :func:`flops_per_token` spent in attention (QK^T and AV), in [0, 1)."""
    total = flops_per_token(cfg, seq_len, causal=causal)
    weights = 6.0 * matmul_params(cfg)
    return v.result((np.asarray(total) - weights) / np.asarray(total))


def training_flops(n_params, n_tokens):
    """C = 6 N D: training FLOPs of a dense transformer (Kaplan et al. 2020, Sec. 2.1).

    Parameters
    ----------
    n_params : float or array
        N, the number of parameters (strictly: weights that do matmuls).
    n_tokens : float or array
        D, the number of training tokens.

    Assumptions: attention FLOPs and everything but matmuls are neglected; no
    recomputation. Good to a few percent for models above ~1 B parameters at
    s = 2048 (Hoffmann et al. 2022, Table A4).
    """
    n = v.positive("n_params", n_params)
    d = v.positive("n_tokens", n_tokens)
    return v.result(6.0 * n * d)


def forward_flops(n_params, n_tokens):
    """2 N D: one multiply and one add per weight per token in the forward pass."""
    return v.result(2.0 * v.positive("n_params", n_params) * v.positive("n_tokens", n_tokens))


def backward_flops(n_params, n_tokens):
    """4 N D: gradient w.r.t. the inputs (2) and w.r.t. the weights (2) per weight per token."""
    return v.result(4.0 * v.positive("n_params", n_params) * v.positive("n_tokens", n_tokens))


def mfu(tokens_per_second, flops_per_token, n_gpus, peak_flops):
    """Model FLOPs utilisation (PaLM, Chowdhery et al. 2022, App. B).

    ``MFU = tokens/s * FLOPs per token / (n_gpus * peak FLOP/s)``: the model FLOP/s the
    run achieved over the cluster's peak rate (:func:`trainmath.units.delivered_flop_rate`
    at MFU 1), i.e. the share of the hardware's peak spent on the model's own FLOPs.

    Parameters
    ----------
    tokens_per_second : float or array
        Throughput of the whole cluster.
    flops_per_token : float or array
        Model FLOPs per token (:func:`flops_per_token`, or 6N).
    n_gpus : int or array
        Accelerators.
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.

    Assumptions: recomputed activations do not count (that would be hardware FLOPs
    utilisation, HFU); a dense (not 2:4-sparse) peak.
    """
    tps = v.positive("tokens_per_second", tokens_per_second)
    fpt = v.positive("flops_per_token", flops_per_token)
    return v.result(tps * fpt / delivered_flop_rate(n_gpus, peak_flops))


def megatron_model_flops(batch, seq_len, n_layers, d_model, vocab_size, *, recompute=False):
    """FLOPs of one training iteration in the Megatron-LM count.

    Without recomputation (Korthikanti et al. 2022, App. A, Eq. 7):
    ``72 B L s h^2 (1 + s/(6h) + V/(12 h L))``. With full activation recomputation one
    more forward pass of the layers (Narayanan et al. 2021, Eq. 3):
    ``96 B s L h^2 (1 + s/(6h) + V/(16 L h))``. Assumes d_ff = 4h, no GQA, and counts
    the full s x s attention square.
    """
    b = v.positive("batch", batch)
    s = v.positive("seq_len", seq_len)
    L = v.positive("n_layers", n_layers)
    h = v.positive("d_model", d_model)
    V = v.positive("vocab_size", vocab_size)
    v.flag("recompute", recompute)
    if recompute:
        return v.result(96.0 * b * s * L * h**2 * (1 + s / (6 * h) + V / (16 * L * h)))
    return v.result(72.0 * b * s * L * h**2 * (1 + s / (6 * h) + V / (12 * h * L)))


def recompute_flops_per_token(cfg: ModelConfig, seq_len=None, recompute: str = "full"):
    """Extra FLOPs per token that activation recomputation adds (hardware, not model, FLOPs).

    * ``"full"``: the forward pass of every layer runs again in the backward pass:
      ``2 * (layer matmul weights) + 4 * L * (H * head_dim) * s`` (the LM head is not
      recomputed), about a third more than :func:`flops_per_token` (Narayanan et al.
      2021, Eq. 3: 96 instead of 72 B s L h^2).
    * ``"selective"``: only the attention core (QK^T, softmax, attention over V) is
      recomputed, a second forward of QK^T and attention over V:
      ``4 * L * (H * head_dim) * s``, 0.9 % for GPT-3 175B at s = 2048. Korthikanti et
      al. 2022 quote 2.7 %: their Eq. 8 counts the whole attention term s/(6h) again
      (forward and backward, 12 b s^2 h per layer), three times the 4 b s^2 h their App. A
      says is redone, a slip; we count only the work redone.
    * ``"none"``: 0.
    """
    v.instance("cfg", cfg, ModelConfig)
    s = _seq(cfg, seq_len)
    v.choice("recompute", recompute, RECOMPUTE)
    attention_fwd = _attention_fwd(cfg, s)
    if recompute == "none":
        return v.result(0.0 * attention_fwd)
    if recompute == "selective":
        return v.result(attention_fwd)
    layer_weights = matmul_params(cfg) - cfg.vocab_size * cfg.d_model
    return v.result(2.0 * layer_weights + attention_fwd)


#: How to count the extra FLOPs of recomputation (see :func:`recompute_flops_overhead`).
RECOMPUTE_CONVENTIONS = ("redone", "korthikanti")


def recompute_flops_overhead(cfg, seq_len=None, recompute: str = "selective", *,
                             convention: str = "redone"):
    """Extra FLOPs of activation recomputation, as a fraction of the model's FLOPs.

    Two counts, both worth knowing:

    * ``"redone"``: the work actually repeated in the backward pass,
      :func:`recompute_flops_per_token` over :func:`flops_per_token` (PaLM's count).
      Selective recomputation repeats the forward QK^T and attention-over-V,
      ``4 L (H h_d) s`` per token: 0.9 % for GPT-3 175B at s = 2048. Full recomputation
      repeats the whole forward pass of the layers: about 33 %.
    * ``"korthikanti"``: the paper's count (Korthikanti et al. 2022, Sec. 5 and App. A),
      relative to its model FLOPs ``72 B L s h^2 (1 + s/(6h) + V/(12hL))`` (Eq. 7).
      Selective recomputation is charged the whole attention term once more,
      ``(s/(6h)) / (1 + s/(6h) + V/(12hL))``, i.e. forward *and* backward of QK^T and
      attention-over-V (their Eq. 8 against Eq. 7): 2.7 % for GPT-3, three times the work
      their App. A says is redone. Full recomputation:
      ``96(1 + s/(6h) + V/(16hL)) / (72(1 + s/(6h) + V/(12hL))) - 1`` (Narayanan et al.
      2021, Eq. 3 over Eq. 7), about 33 %.

    Parameters
    ----------
    cfg : ModelConfig
    seq_len : int or array, optional
        Sequence length s (defaults to ``cfg.seq_len``).
    recompute : {"none", "selective", "full"}
    convention : {"redone", "korthikanti"}

    Assumptions: matmul FLOPs only (softmax, dropout and norms recomputed for free); the
    Megatron count assumes a GPT-style layer (d_ff = 4h, no GQA) and uses ``d_model`` as h.
    """
    v.instance("cfg", cfg, ModelConfig)
    s = cfg.seq_len if seq_len is None else v.positive_int("seq_len", seq_len)
    v.choice("recompute", recompute, RECOMPUTE)
    v.choice("convention", convention, RECOMPUTE_CONVENTIONS)
    s_arr = np.asarray(s, dtype=float)
    if recompute == "none":
        return v.result(0.0 * s_arr)
    if convention == "redone":
        extra = recompute_flops_per_token(cfg, s, recompute)
        return v.result(np.asarray(extra) / np.asarray(flops_per_token(cfg, s)))
    L, h, V = cfg.n_layers, cfg.d_model, cfg.vocab_size
    model = np.asarray(megatron_model_flops(1, s, L, h, V))
    if recompute == "selective":
        return v.result(12.0 * L * s_arr**2 * h / model)  # 72 L s h^2 * s/(6h), once more
    return v.result(np.asarray(megatron_model_flops(1, s, L, h, V, recompute=True)) / model - 1)
