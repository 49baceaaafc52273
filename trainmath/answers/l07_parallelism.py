"""Answer key of lesson 07, "Parallelism" (``exercises/07_parallelism.ipynb``).

Every expected value is computed lazily from :mod:`trainmath` functions with the published
inputs cited in the question (ZeRO, Megatron-LM, the Llama 3 paper's Table 4), so the key
follows the library and never a hand-copied number.
"""

from __future__ import annotations

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]

_GB = 1e9


def _zero2_gb() -> float:
    # Rajbhandari et al. 2019, Table 1 / Fig. 1: Psi = 7.5B, N_d = 64, P_os+g.
    return tm.zero_memory_per_gpu(7.5e9, 64, 2) / _GB


def _allreduce_gb() -> float:
    n = tm.param_count(tm.MODELS["llama-3-8b"])
    return tm.data_parallel_comm_bytes(n, 64, 0, grad_bytes=2) / _GB


def _zero3_ratio() -> float:
    psi, n = 70e9, 256
    return (tm.data_parallel_comm_bytes(psi, n, 3, n_microbatches=4)
            / tm.data_parallel_comm_bytes(psi, n, 0))


def _tp_gb() -> float:
    gpt3 = tm.MODELS["gpt3-175b"]  # Brown et al. 2020, Table 2.1: h = 12288, 96 layers
    return tm.tensor_parallel_comm_bytes(2048, 1, gpt3.d_model, 8, n_layers=gpt3.n_layers) / _GB


def _cp_memory_gb() -> float:
    # Llama 3 paper, Table 4, last row: TP 8, CP 16, PP 16, DP 8, s = 131,072, 16 per replica.
    mem = tm.memory_per_gpu(
        tm.MODELS["llama-3.1-405b"], seq_len=131072, micro_batch=1, n_microbatches=16,
        zero_stage=3, dp=8, tp=8, pp=16, cp=16, sequence_parallel=True, recompute="selective",
    )
    return mem.total / _GB


def _table4_dp() -> int:
    # GPUs = TP * CP * PP * DP: 16384 / (8 * 16 * 16)
    return 16384 // tm.layout_gpus(8, 16, 16, 1)


def _plain_dp_gb() -> float:
    return tm.zero_memory_per_gpu(7.5e9, 64, 0) / _GB


def _step_seconds() -> float:
    # Table 4, row 1: 8,192 GPUs at 430 TFLOP/s, 2^24 tokens per step, 6N FLOPs per token.
    return tm.training_time(tm.training_flops(405e9, tm.batch_tokens(64, 32, 8192)), 8192, 430e12)


QUESTIONS: list[Question] = [
    Question(
        "07.1",
        "ZeRO stage 2 (P_os+g): model states per GPU for Psi = 7.5B on N_d = 64 GPUs, in GB",
        expected=_zero2_gb,
        unit="GB",
        rtol=0.01,
        hint="Stage 2 shards the optimizer states and the gradients but keeps the 2-byte weights: "
        "2·Ψ + (2 + 12)·Ψ / N_d bytes. GB here means 10^9 bytes.",
    ),
    Question(
        "07.2",
        "Bytes one GPU sends to all-reduce Llama 3 8B's bf16 gradients over 64 GPUs, in GB",
        expected=_allreduce_gb,
        unit="GB",
        rtol=0.02,
        hint="A ring all-reduce is a reduce-scatter plus an all-gather: each GPU sends "
        "2·(N-1)/N times the buffer. The buffer is 2 bytes per parameter; use the exact "
        "parameter count of the preset.",
    ),
    Question(
        "07.3",
        "ZeRO-3 with 4 micro-batches per step: traffic per GPU relative to plain data parallelism",
        expected=_zero3_ratio,
        unit="",
        rtol=0.01,
        hint="Plain DP all-reduces the gradients once: 2Ψ values. ZeRO-3 reduce-scatters the "
        "gradients once (Ψ) but all-gathers the weights for the forward and for the backward "
        "pass of every micro-batch (2Ψ each time).",
    ),
    Question(
        "07.4",
        "Tensor parallelism, t = 8: bytes one GPU sends for one 2048-token sequence through all "
        "96 layers of GPT-3 175B, in GB",
        expected=_tp_gb,
        unit="GB",
        rtol=0.02,
        hint="Megatron does 4 all-reduces per layer (2 forward, 2 backward), each of the layer's "
        "s·b·h activations in bf16, and a ring all-reduce sends 2·(t-1)/t of the buffer.",
    ),
    Question(
        "07.5",
        "Pipeline bubble of Llama 3 405B's first Table 4 layout (p = 16, m = 32) with v = 4 "
        "interleaved chunks, as a fraction of the compute time",
        expected=lambda: tm.pipeline_bubble_fraction(16, 32, 4),
        unit="",
        rtol=0.01,
        hint="Interleaving divides the plain 1F1B bubble (p - 1)/m by the number of chunks v. "
        "Answer as a fraction, not a percentage.",
    ),
    Question(
        "07.6",
        "Memory of the most loaded GPU, Llama 3 405B at s = 131,072 in Table 4's layout (TP 8, "
        "CP 16, PP 16, DP 8), ZeRO-3, selective recomputation, sequence parallelism, in GB",
        expected=_cp_memory_gb,
        unit="GB",
        rtol=0.02,
        hint="Use tm.memory_per_gpu with the layout's four sizes, 16 micro-batches of one "
        "sequence, zero_stage=3, sequence_parallel=True and recompute='selective', and give the "
        "total.",
    ),
    Question(
        "07.7",
        "MFU of Llama 3 405B's 128k-token layout from its 380 TFLOP/s per H100",
        expected=lambda: 380e12 / tm.ACCELERATORS["H100-SXM"].peak("bf16"),
        unit="",
        rtol=0.01,
        hint="MFU is the delivered FLOP/s over the dense bf16 peak of the GPU (not the sparse "
        "figure of the marketing page). Answer as a fraction.",
    ),
    Question(
        "07.8",
        "Find the error: the data-parallel size that makes Table 4's long-context row consistent",
        expected=_table4_dp,
        unit="",
        rtol=0.0,
        hint="Every GPU is in one group of each kind, so GPUs = TP·CP·PP·DP; the tokens per "
        "batch are DP × (sequences per replica) × sequence length.",
    ),
    Question(
        "07.9",
        "Find the error: model states per GPU under plain data parallelism, Psi = 7.5B on 64 GPUs, "
        "in GB",
        expected=_plain_dp_gb,
        unit="GB",
        rtol=0.01,
        hint="Plain data parallelism shards nothing: every GPU keeps its own copy of the weights, "
        "gradients and optimizer states, 2 + 2 + 12 bytes per parameter.",
    ),
    Question(
        "07.10",
        "Order of magnitude: seconds per optimizer step of Llama 3 405B in Table 4's first row",
        expected=_step_seconds,
        unit="s",
        rtol=0.3,
        hint="A step processes the tokens per batch at about 6N FLOPs each; the cluster delivers "
        "(number of GPUs) × (TFLOP/s per GPU). Time = FLOPs / (FLOP/s).",
    ),
]
