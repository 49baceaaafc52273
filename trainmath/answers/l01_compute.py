"""Answer key of lesson 01, "Training compute" (``exercises/01_compute.ipynb``).

Every expected value is computed lazily from :mod:`trainmath` functions with the published
inputs cited in the question, so the key follows the library and never a hand-copied number.
"""

from __future__ import annotations

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]

_H100_BF16 = "H100-SXM"


def _llama3_405b_days() -> float:
    # Llama 3 paper (arXiv:2407.21783): N = 405e9, D = 15.6e12; Table 4, row 2:
    # 16,384 H100 at 400 TFLOP/s per GPU (BF16 peak 989 TFLOP/s).
    peak = tm.ACCELERATORS[_H100_BF16].peak("bf16")
    flops = tm.training_flops(405e9, 15.6e12)
    return tm.training_time(flops, 16384, peak, 400e12 / peak) / tm.SECONDS_PER_DAY


def _gpt3_recompute_days() -> float:
    # Narayanan et al. 2021, Eq. 4: with full recomputation every token costs 8N FLOPs
    # (6N for forward + backward, 2N for the second forward). GPT-3: N = 175e9, D = 300e9,
    # 1024 A100 at 140 TFLOP/s each.
    hardware = tm.training_flops(175e9, 300e9) + tm.forward_flops(175e9, 300e9)
    return tm.training_time(hardware, 1024, 140e12) / tm.SECONDS_PER_DAY


def _llama3_8b_gpu_hours() -> float:
    cfg = tm.MODELS["llama-3-8b"]
    peak = tm.ACCELERATORS[_H100_BF16].peak("bf16")
    return tm.gpu_hours(tm.training_flops(tm.param_count(cfg), 15e12), peak, 0.4)


QUESTIONS: list[Question] = [
    Question(
        "01.1",
        "Backward FLOPs of one linear layer Y = XW (m = 2048, k = 4096, n = 11008)",
        expected=lambda: tm.backward_flops(4096 * 11008, 2048),
        unit="FLOP",
        rtol=0.01,
        hint="The backward pass does two matmuls the size of the forward one: dX = dY·Wᵀ and "
        "dW = Xᵀ·dY. Each costs 2 FLOPs (a multiply and an add) per weight per token.",
    ),
    Question(
        "01.2",
        "GPT-3 175B training compute C = 6ND (N = 174.6e9, D = 300e9), in FLOP",
        expected=lambda: tm.training_flops(174.6e9, 300e9),
        unit="FLOP",
        rtol=0.01,
        hint="C = 6·N·D with N in parameters and D in tokens; no unit conversion is needed.",
    ),
    Question(
        "01.3",
        "GPT-3 175B training compute in PFLOP/s-days (compare Brown et al. 2020, Table D.1)",
        expected=lambda: tm.to_pflop_days(tm.training_flops(174.6e9, 300e9)),
        unit="PFLOP-day",
        rtol=0.01,
        hint="One PFLOP/s-day is 1e15 FLOP/s sustained for 86,400 s.",
    ),
    Question(
        "01.4",
        "Weights of Llama 3 8B that do a matmul for every token (LM head included)",
        expected=lambda: tm.matmul_params(tm.MODELS["llama-3-8b"]),
        unit="params",
        rtol=1e-3,
        hint="Count W_q, W_k, W_v, W_o (grouped-query: K and V are only 8 heads wide), the three "
        "SwiGLU matrices in each of the 32 layers, and the LM head. The input embedding is a "
        "table look-up, and norms do no matmul.",
    ),
    Question(
        "01.5",
        "Share of Llama 3 8B training FLOPs per token spent in attention at s = 8192",
        expected=lambda: tm.attention_flops_fraction(tm.MODELS["llama-3-8b"], 8192),
        unit="",
        rtol=0.02,
        hint="Attention adds 12·L·(H·hd)·s FLOPs per token (PaLM, App. B, full square) on top of "
        "6·N_matmul. Give the share as a fraction of the total, not of the 6N part.",
    ),
    Question(
        "01.6",
        "Days to train Llama 3 405B (15.6T tokens) on 16,384 H100 at 400 TFLOP/s per GPU",
        expected=_llama3_405b_days,
        unit="days",
        rtol=0.02,
        hint="T = C / τ with C = 6ND and τ = (number of GPUs) × (FLOP/s each GPU delivers). "
        "400 TFLOP/s is already the achieved rate, so don't apply an MFU on top.",
    ),
    Question(
        "01.7",
        "PaLM 540B MFU counting only the 6N weight FLOPs (no attention term)",
        expected=lambda: tm.mfu(238.3e3, tm.training_flops(540e9, 1), 6144, 275e12),
        unit="",
        rtol=0.01,
        hint="MFU = tokens/s × FLOPs per token / (chips × peak FLOP/s), with 6N FLOPs per token "
        "and 275 TFLOP/s per TPU v4 chip. Answer as a fraction.",
    ),
    Question(
        "01.8",
        "GPT-3 175B on 1024 A100 at 140 TFLOP/s with full recomputation (8ND), in days",
        expected=_gpt3_recompute_days,
        unit="days",
        rtol=0.02,
        hint="Recomputation runs the forward pass twice, so each token costs 6N + 2N FLOPs. "
        "Divide by the cluster's delivered rate and convert seconds to days.",
    ),
    Question(
        "01.9",
        "Find the error: attention share of Llama 3.1 405B FLOPs per token at s = 131,072",
        expected=lambda: tm.attention_flops_fraction(tm.MODELS["llama-3.1-405b"], 131072),
        unit="",
        rtol=0.02,
        hint="Use the full-square count 12·L·(H·hd)·s per token (PaLM, App. B) and the model's "
        "matmul weights. At this length s is larger than d, so the attention term is no "
        "longer small.",
    ),
    Question(
        "01.10",
        "Order of magnitude: H100 GPU-hours for Llama 3 8B on 15T tokens at 40% MFU",
        expected=_llama3_8b_gpu_hours,
        unit="GPU-hour",
        rtol=0.3,
        hint="GPU-hours = C / (peak × MFU) / 3600 with C = 6ND; the H100's dense BF16 peak is "
        "989 TFLOP/s. The number of GPUs does not matter.",
    ),
]
