"""Answer key of lesson 09, "Theory vs measurement" (``exercises/09_theory_vs_measurement.ipynb``).

Every expected value is computed lazily from :mod:`trainmath` formulas, which lesson 09 shows
to equal what PyTorch measures (``tests/test_measure.py`` asserts each equality). The key
itself does not import PyTorch, so the course's key checks run without it.
"""

from __future__ import annotations

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]

# The small GPT-2-style model of questions 09.1-09.3.
_SMALL = dict(n_layers=4, d_model=256, n_heads=8, vocab_size=5000, seq_len=128)
# The lesson's activation block: bf16, dropout, h = 256, a = 4, s = 128, b = 2.
_BLOCK = dict(seq_len=128, micro_batch=2, d_model=256, n_heads=4)


def _small() -> tm.ModelConfig:
    return tm.ModelConfig(**_SMALL)


def _forward_flops() -> float:
    # Forward = a third of 6 N_matmul + 12 L (H hd) s per token; batch 4 x 128 tokens.
    return tm.flops_per_token(_small(), 128) / 3 * 4 * 128


def _attention_forward_flops() -> float:
    # QKᵀ and AV: 2 b s² (H hd) each, per layer.
    cfg = _small()
    return 2 * 2 * 4 * 128**2 * cfg.attn_dim * cfg.n_layers


def _score_bytes() -> float:
    terms = tm.activation_memory_breakdown(**_BLOCK)
    return terms["softmax_output"] + terms["softmax_dropout_mask"] + terms["softmax_dropout_output"]


def _gpt3_extras() -> float:
    # Causal mask s² (bool) + two LayerNorms x (mean, 1/σ) x 4 bytes (fp32) x s b.
    s, b = 2048, 1
    return s * s + 2 * 2 * 4 * s * b


def _six_nd_ratio() -> float:
    cfg = tm.MODELS["llama-2-7b"]
    return tm.flops_per_token(cfg, 4096) / tm.training_flops(tm.param_count(cfg), 1)


def _adamw_fp32_7b_gb() -> float:
    # torch.optim.AdamW on fp32 weights keeps exp_avg and exp_avg_sq: momentum + variance.
    states = tm.OPTIMIZER_STATES["adamw"]
    return 7e9 * (states["momentum"] + states["variance"]) / 1e9


def _gpt2_step_seconds() -> float:
    flops = tm.flops_per_token(tm.MODELS["gpt2"], 1024) * 8 * 1024
    return tm.training_time(flops, 1, 100e9)


QUESTIONS: list[Question] = [
    Question(
        "09.1",
        "Parameters of a GPT-2-style model, L = 4, d = 256, H = 8, V = 5000, s = 128",
        expected=lambda: tm.param_count(_small()),
        unit="params",
        rtol=0.0,
        atol=0.5,
        hint="Build it with measure.build_model (device='meta' is enough) and count with "
        "measure.count_params, or add up tm.param_count's terms: embeddings V·d, positions "
        "s·d, 12d² + 13d per layer, a final LayerNorm 2d; the tied head is counted once.",
    ),
    Question(
        "09.2",
        "Forward-pass FLOPs of one step of that model on a batch of 4 x 128 tokens",
        expected=_forward_flops,
        unit="FLOP",
        rtol=1e-9,
        hint="measure.measure_flops(model, batch=4, seq_len=128).forward, or a third of "
        "tm.flops_per_token(cfg, 128) times the 512 tokens: the forward pass is 2 of the 6.",
    ),
    Question(
        "09.3",
        "How many of those forward FLOPs are attention's QKᵀ and AV (the bmm operator)?",
        expected=_attention_forward_flops,
        unit="FLOP",
        rtol=1e-9,
        hint="Each of the two batched matmuls costs 2·b·s²·(H·hd) per layer in the forward "
        "pass; FlopCounterMode files them under 'bmm' (flops.forward_by_op).",
    ),
    Question(
        "09.4",
        "Llama 2 7B at s = 4096: exact training FLOPs per token divided by 6N",
        expected=_six_nd_ratio,
        unit="",
        rtol=0.002,
        hint="Exact = tm.flops_per_token(cfg, 4096) (what FlopCounterMode measures); 6N uses "
        "tm.param_count(cfg). Divide exact by 6N, not the other way round.",
    ),
    Question(
        "09.5",
        "Bytes of the attention-score terms of the lesson's bf16 block (h 256, a 4, s 128, b 2)",
        expected=_score_bytes,
        unit="B",
        rtol=1e-9,
        hint="Softmax output (2 bytes per value), its dropout mask (1 byte) and the dropout "
        "output (2 bytes): 5·a·s²·b bytes (Korthikanti et al. 2022, Sec. 4.1).",
    ),
    Question(
        "09.6",
        "Bytes a GPT-3 175B layer (bf16, dropout, s 2048, b 1, meta device) saves beyond "
        "Korthikanti's count",
        expected=_gpt3_extras,
        unit="B",
        rtol=1e-9,
        hint="Two extra terms: the s x s bool causal mask that masked_fill keeps, and each "
        "LayerNorm's mean and 1/σ per token, in fp32 on the meta device (and on CUDA).",
    ),
    Question(
        "09.7",
        "Share of Llama 3 8B's training FLOPs at s = 8192 that FlopCounterMode misses when "
        "attention is CPU scaled_dot_product_attention",
        expected=lambda: tm.attention_flops_fraction(tm.MODELS["llama-3-8b"], 8192),
        unit="",
        rtol=0.01,
        hint="On the CPU the fused kernel is not counted at all, so every attention FLOP "
        "(QKᵀ and AV, 12·L·(H·hd)·s per token) is missing. Answer as a fraction.",
    ),
    Question(
        "09.8",
        "Find the error: GB of optimizer state torch.optim.AdamW keeps for 7e9 fp32 parameters",
        expected=_adamw_fp32_7b_gb,
        unit="GB",
        rtol=0.01,
        hint="Measure a small fp32 model with measure.measure_optimizer_state and look at "
        "per_param(): exp_avg and exp_avg_sq only. In pure fp32 the weights themselves are "
        "the fp32 copy; the step counters are one scalar per tensor, negligible.",
    ),
    Question(
        "09.9",
        "Which part of lesson 05's 12-byte AdamW state does an fp32 model not keep separately?",
        expected="master",
        unit="",
        hint="Answer with one key of tm.OPTIMIZER_STATES['adamw']: the part that is a copy of "
        "something an fp32 model already stores.",
    ),
    Question(
        "09.10",
        "Order of magnitude: seconds per GPT-2 small step (b 8, s 1024) on a 100 GFLOP/s CPU",
        expected=_gpt2_step_seconds,
        unit="s",
        rtol=0.3,
        hint="Time = exact training FLOPs of the step / FLOP/s: tm.flops_per_token for GPT-2 "
        "at s = 1024, times 8 x 1024 tokens, over 1e11 FLOP/s.",
    ),
]
