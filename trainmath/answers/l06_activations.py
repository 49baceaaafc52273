"""Answer key of lesson 06, "Activation memory" (``exercises/06_activations.ipynb``).

Every expected value is computed lazily from :mod:`trainmath` functions with the published
inputs cited in the question, so the key follows the library and never a hand-copied number.
Shapes: GPT-3 from Brown et al. 2020, Table 2.1; GPT-2 XL from Radford et al. 2019; Llama
from the Llama 2 / Llama 3 papers (presets in ``tm.MODELS``). Activation accounting from
Korthikanti et al. 2022 (arXiv:2205.05198), Sec. 4 and Table 2.
"""

from __future__ import annotations

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]

# GPT-3 175B: L 96, h 12288, a 96, s 2048 (Brown et al. 2020, Table 2.1).
_GPT3 = "gpt3-175b"


def _gpt3_activations_gb() -> float:
    # First pipeline stage under 1F1B holds L layers' worth (Korthikanti Sec. 4.2.3);
    # with pp = 1 that is simply the 96 layers of one micro-batch.
    cfg = tm.MODELS[_GPT3]
    m = tm.memory_per_gpu(cfg, seq_len=2048, micro_batch=1, tp=8, sequence_parallel=True)
    return m.activations / 1e9


def _gpt3_total_gb() -> float:
    cfg = tm.MODELS[_GPT3]
    m = tm.memory_per_gpu(
        cfg, seq_len=2048, micro_batch=1, n_microbatches=8, tp=8, pp=8, dp=8, zero_stage=1,
        sequence_parallel=True, recompute="selective",
    )
    return m.total / 1e9


def _seed_total_gb() -> float:
    # Seed 001's "7B" example: fp32 weights (4 B), fp32 gradients (4 B), AdamW (12 B) for
    # 7e9 parameters, plus activations of L = 24 layers with s=128, b=512, h=4096, a=16, t=1.
    states = tm.training_state_memory(7e9, param_dtype="fp32", grad_dtype="fp32")["total"]
    activations = 24 * tm.activation_memory_per_layer(128, 512, 4096, 16)
    return (states + activations) / 1e9


QUESTIONS: list[Question] = [
    Question(
        "06.1",
        "Bytes per s·b·h that Megatron tensor parallelism leaves unsplit (no sequence parallelism)",
        expected=lambda: sum(
            term.values * (1 if term.mask else 2)
            for term in tm.ACTIVATION_TERMS.values()
            if term.shape == "sbh" and not term.tp_split
        ),
        unit="",
        rtol=0.0,
        atol=0.0,
        hint="Tensor parallelism splits only what is computed inside the split attention heads "
        "and the 4h-wide part of the MLP. Count the bytes per sbh of everything outside those "
        "regions: norms, the inputs of each block's first matmul, the dropouts after each block "
        "(tm.ACTIVATION_TERMS marks which tensors are split).",
    ),
    Question(
        "06.2",
        "Bytes of one GPT-3 175B layer's softmax output at s = 2048, b = 1",
        expected=lambda: tm.activation_memory_breakdown(2048, 1, 12288, 96)["softmax_output"],
        unit="B",
        rtol=1e-3,
        hint="Each of the a heads has an s x s matrix of probabilities per sequence, stored in "
        "16 bits (2 bytes per value). Only the softmax output, not the mask or dropout output.",
    ),
    Question(
        "06.3",
        "Activation memory of one GPT-2 XL layer at s = 1024, b = 8, no parallelism or "
        "recomputation, in GB",
        expected=lambda: tm.activation_memory_per_layer(1024, 8, 1600, 25) / 1e9,
        unit="GB",
        rtol=0.01,
        hint="sbh(34 + 5as/h) bytes with h = 1600 and a = 25 heads; GB means 1e9 bytes.",
    ),
    Question(
        "06.4",
        "Sequence length at which Llama 2 7B's attention scores equal the other terms (t = 1)",
        expected=lambda: tm.attention_score_crossover(4096, 32),
        unit="tokens",
        rtol=0.01,
        hint="Set the score term 5as/h equal to the per-token term 34 and solve for s. The "
        "answer depends only on the head size h/a.",
    ),
    Question(
        "06.5",
        "GPT-3 175B activations on one GPU: 96 layers, t = 8 with SP, s = 2048, b = 1, no "
        "recomputation, in GB",
        expected=_gpt3_activations_gb,
        unit="GB",
        rtol=0.01,
        hint="Per layer sbh(34/t + 5as/(ht)) with 5as/h = 80; multiply by the 96 layers (under "
        "1F1B the first pipeline stage holds L layers' worth whatever p is).",
    ),
    Question(
        "06.6",
        "Share of GPT-3 175B's activation memory that selective recomputation frees with t = 8 "
        "and no sequence parallelism",
        expected=lambda: tm.selective_recompute_saving(2048, 12288, 96, tp=8),
        unit="",
        rtol=0.01,
        hint="Without SP a layer keeps sbh(10 + 24/t + 5as/(ht)); selective recomputation "
        "removes the last term. Answer as a fraction, not a percentage.",
    ),
    Question(
        "06.7",
        "FLOPs actually redone by selective recomputation, GPT-3 175B at s = 8192, as a "
        "fraction of the model FLOPs per token",
        expected=lambda: tm.recompute_flops_overhead(tm.MODELS[_GPT3], 8192, "selective"),
        unit="",
        rtol=0.02,
        hint="The backward pass of QKᵀ and attention-over-V happens anyway; recomputation adds "
        "their forward pass, 4·L·(H·h_d)·s FLOPs per token. Divide by the training FLOPs per "
        "token at the same s (tm.flops_per_token).",
    ),
    Question(
        "06.8",
        "GPT-3 175B total memory per GPU: t = 8 + SP, p = 8, d = 8 with ZeRO-1, selective, "
        "s = 2048, b = 1, in GB",
        expected=_gpt3_total_gb,
        unit="GB",
        rtol=0.02,
        hint="tm.memory_per_gpu adds weights, gradients, optimizer states (sharded over d by "
        "ZeRO-1) and activations; give it n_microbatches >= p so that the first stage holds "
        "p micro-batches in flight.",
    ),
    Question(
        "06.9",
        "Find the error: corrected total training memory of the article's fp32 '7B' example, "
        "in GB",
        expected=_seed_total_gb,
        unit="GB",
        rtol=0.01,
        hint="Keep the article's weights (4 B/param), gradients (4 B/param) and AdamW states "
        "(12 B/param) for 7e9 parameters, and replace its activation figure by "
        "L·sbh(34 + 5as/h) with its own s, b, h, a and L.",
    ),
    Question(
        "06.10",
        "Order of magnitude: softmax output of one Llama 3.1 405B layer at s = 131,072, b = 1 "
        "if materialised, in TB",
        expected=lambda: tm.activation_memory_breakdown(131072, 1, 16384, 128)["softmax_output"]
        / 1e12,
        unit="TB",
        rtol=0.3,
        hint="2 bytes for each of the a·s² probabilities (128 heads); 1 TB = 1e12 bytes.",
    ),
]
