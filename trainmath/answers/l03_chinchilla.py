"""Answer key of lesson 03, "Chinchilla scaling" (``exercises/03_chinchilla.ipynb``).

Every expected value is computed lazily from :mod:`trainmath` functions with the published
inputs cited in the question, so the key follows the library and never a hand-copied number.
"""

from __future__ import annotations

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]


def _llama3_8b() -> float:
    # Exact parameter count of the released checkpoint (reference-figures Sec. 4).
    return float(tm.param_count(tm.MODELS["llama-3-8b"]))


def _llama3_penalty() -> float:
    # Llama 3 paper (arXiv:2407.21783): 8B trained on about 15T tokens. Epoch AI fit.
    n = _llama3_8b()
    return tm.isoflop_loss_penalty(tm.training_flops(n, 15e12), n, "epoch")


def _llama3_break_even() -> float:
    n = _llama3_8b()
    target = tm.chinchilla_loss(n, 15e12, "epoch")
    n_opt, d_opt, _ = tm.inference_aware_optimal(target, 0.0, "epoch")
    return tm.break_even_inference_tokens(n, 15e12, n_opt, d_opt)


def _inference_aware_n() -> float:
    # Chinchilla: 70B on 1.4T tokens (Hoffmann et al. 2022, Table 1); 20T inference tokens.
    target = tm.chinchilla_loss(70e9, 1.4e12, "epoch")
    return tm.inference_aware_optimal(target, 20e12, "epoch")[0]


def _cluster_model() -> float:
    # 10,000 H100 (989 TFLOP/s dense bf16) for 30 days at 40 % MFU, then D = 20 N.
    peak = tm.ACCELERATORS["H100-SXM"].peak("bf16")
    flops = 10_000 * peak * 0.4 * 30 * tm.SECONDS_PER_DAY
    return tm.chinchilla_optimal(flops, 20.0)[0]


QUESTIONS: list[Question] = [
    Question(
        "03.1",
        "Compute-optimal model size for C = 1e24 FLOPs with D = 20 N",
        expected=lambda: tm.chinchilla_optimal(1e24, 20.0)[0],
        unit="params",
        rtol=0.02,
        hint="Put D = 20 N into C = 6 N D: C = 120 N², so N = sqrt(C / 120).",
    ),
    Question(
        "03.2",
        "Training compute for which 200B tokens is compute-optimal (D = 20 N)",
        expected=lambda: tm.training_flops(200e9 / 20.0, 200e9),
        unit="FLOP",
        rtol=0.02,
        hint="First find the model size N that 200B tokens is 20 tokens per parameter for, then "
        "use C = 6 N D. Compare the 10B row of Hoffmann et al.'s Table 3.",
    ),
    Question(
        "03.3",
        "Find the error: tokens a 67B model can train on with 5.76e23 FLOPs (Table 3)",
        expected=lambda: tm.GOPHER_FLOPS / tm.training_flops(67e9, 1.0),
        unit="tokens",
        rtol=0.01,
        hint="Solve C = 6 N D for D with N = 67e9 and C = 5.76e23 (one Gopher unit). "
        "The table's printed 1.5T does not satisfy the equation.",
    ),
    Question(
        "03.4",
        "Epoch fit: predicted loss of Gopher (280B, 300B tokens) minus Chinchilla (70B, 1.4T)",
        expected=lambda: tm.chinchilla_loss(280e9, 300e9, "epoch")
        - tm.chinchilla_loss(70e9, 1.4e12, "epoch"),
        unit="",
        rtol=0.03,
        hint="Evaluate L(N, D) = E + A/N^α + B/D^β with fit='epoch' for both models and subtract; "
        "a positive answer means Chinchilla is predicted to be better.",
    ),
    Question(
        "03.5",
        "Hoffmann's printed constants: loss-optimal tokens per parameter at C = 1e26 FLOPs",
        expected=lambda: tm.optimal_tokens_per_param(1e26, "hoffmann"),
        unit="",
        rtol=0.02,
        hint="Minimise the fitted loss under C = 6 N D (Eq. 4: N_opt = G (C/6)^a, "
        "D_opt = (C/6)^b / G) with fit='hoffmann', then divide D_opt by N_opt.",
    ),
    Question(
        "03.6",
        "Kaplan et al.'s exponent a = 0.73: growth of the optimal N when compute grows 100×",
        expected=lambda: 100.0 ** tm.SCALING_EXPONENTS["Kaplan et al. 2020"][0],
        unit="",
        rtol=0.02,
        hint="N_opt ∝ C^a, so multiplying C by 100 multiplies N_opt by 100^a. Give the factor, "
        "not the exponent.",
    ),
    Question(
        "03.7",
        "Tokens per parameter of Llama 3 8B trained on 15T tokens",
        expected=lambda: 15e12 / _llama3_8b(),
        unit="",
        rtol=0.01,
        hint="Divide the training tokens by the exact parameter count, "
        "tm.param_count(tm.MODELS['llama-3-8b']).",
    ),
    Question(
        "03.8",
        "Epoch fit: Llama 3 8B's loss penalty vs the compute-optimal model of the same compute",
        expected=_llama3_penalty,
        unit="",
        rtol=0.03,
        hint="Fix C = 6 N D for Llama 3 8B on 15T tokens. The penalty is L(N, C/(6N)) minus the "
        "loss of the loss-optimal split of the same C, both with fit='epoch'.",
    ),
    Question(
        "03.9",
        "Epoch fit: inference tokens after which Llama 3 8B beats the compute-optimal model "
        "of the same loss",
        expected=_llama3_break_even,
        unit="tokens",
        rtol=0.03,
        hint="Find the compute-optimal model that reaches Llama 3 8B's predicted loss (no "
        "inference). The 8B model pays more for training, 6ND, and saves 2(N_big − N_small) FLOPs "
        "per inference token: divide the first by the second.",
    ),
    Question(
        "03.10",
        "Epoch fit: inference-aware model size for Chinchilla's loss and 20T inference tokens",
        expected=_inference_aware_n,
        unit="params",
        rtol=0.02,
        hint="The target loss is the fitted loss of Chinchilla (70B, 1.4T tokens). Minimise "
        "6 N D_train + 2 N D_inf over the models that reach it: tm.inference_aware_optimal.",
    ),
    Question(
        "03.11",
        "Order of magnitude: compute-optimal N for 10,000 H100 × 30 days at 40 % MFU",
        expected=_cluster_model,
        unit="params",
        rtol=0.5,
        hint="C = GPUs × peak × MFU × seconds, with the H100's dense bf16 peak of about 1e15 "
        "FLOP/s; then N = sqrt(C / 120). Within 50 % counts.",
    ),
]
