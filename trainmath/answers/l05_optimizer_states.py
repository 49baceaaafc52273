"""Answer key of lesson 05, "Optimizer states" (``exercises/05_optimizer_states.ipynb``).

Every expected value is computed lazily from :mod:`trainmath` functions with the published
inputs cited in the question, so the key follows the library and never a hand-copied number.
"""

from __future__ import annotations

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]

_GB = 1e9
_GIB = 2**30


def _n(name: str) -> int:
    return tm.param_count(tm.MODELS[name])


def _memory(name: str) -> float:
    return tm.ACCELERATORS[name].memory_bytes


QUESTIONS: list[Question] = [
    Question(
        "05.1",
        "Training bytes per parameter of SGD with momentum in bf16 mixed precision",
        expected=lambda: tm.training_bytes_per_param(optimizer="sgd-momentum")["total"],
        unit="B/param",
        rtol=0.0,
        hint="Add up everything training keeps per parameter: the bf16 weight, its bf16 "
        "gradient, the fp32 master copy mixed precision updates, and one fp32 momentum "
        "buffer. SGD has no second moment.",
    ),
    Question(
        "05.2",
        "Llama 3 8B weights in bf16, in GiB",
        expected=lambda: tm.model_memory(_n("llama-3-8b"), "bf16") / _GIB,
        unit="GiB",
        rtol=0.01,
        hint="Weights = N × bytes per value, with N = 8,030,261,248 and 2 bytes for bf16. "
        "A GiB is 2^30 bytes, not 10^9.",
    ),
    Question(
        "05.3",
        "Model states of Llama 2 7B with mixed-precision AdamW (16 B/param), in GB",
        expected=lambda: tm.training_state_breakdown(_n("llama-2-7b"))["total"] / _GB,
        unit="GB",
        rtol=0.01,
        hint="2 B weights + 2 B gradients + 12 B of AdamW state (fp32 master, momentum, "
        "variance) for each of the 6,738,415,616 parameters; 1 GB = 10^9 bytes.",
    ),
    Question(
        "05.4",
        "Memory 8-bit Adam saves over 32-bit AdamW for Llama 3 8B (mixed precision), in GB",
        expected=lambda: (
            tm.training_state_breakdown(_n("llama-3-8b"))["total"]
            - tm.training_state_breakdown(_n("llama-3-8b"), optimizer="adamw-8bit")["total"]
        ) / _GB,
        unit="GB",
        rtol=0.01,
        hint="Only the two moments change: 4 + 4 bytes become 1 + 1. The weights, the "
        "gradients and the fp32 master copy stay as they are.",
    ),
    Question(
        "05.5",
        "Llama 2 7B, bf16 weights + fp32 gradients, Megatron's distributed optimizer over 8 "
        "GPUs: GB per GPU",
        expected=lambda: tm.training_state_breakdown(
            _n("llama-2-7b"), zero_stage=1, dp=8, grad_dtype="fp32"
        )["total"] / _GB,
        unit="GB",
        rtol=0.01,
        hint="Megatron's distributed optimizer shards only the optimizer states (ZeRO stage 1): "
        "every GPU keeps the 2-byte weights and 4-byte fp32 gradients whole, and 1/8 of the "
        "12 bytes of master copy, momentum and variance.",
    ),
    Question(
        "05.6",
        "Find the error: model states of a 7B model trained in pure fp32 with AdamW, in GB",
        expected=lambda: tm.training_state_breakdown(7e9, param_dtype="fp32")["total"] / _GB,
        unit="GB",
        rtol=0.01,
        hint="In pure fp32 the weights are already fp32. Which of the optimizer's three "
        "4-byte buffers does AdamW then not need?",
    ),
    Question(
        "05.7",
        "Largest model whose mixed-precision AdamW states fit on one H200 (141 GB)",
        expected=lambda: _memory("H200") / tm.training_bytes_per_param()["total"],
        unit="params",
        rtol=0.01,
        hint="Divide the GPU's memory in bytes (141 × 10^9) by the bytes each parameter costs "
        "in training. Activations are ignored here.",
    ),
    Question(
        "05.8",
        "Fewest 80 GB H100s that hold Llama 3 70B's model states under ZeRO-3",
        expected=lambda: tm.min_gpus_to_fit(_n("llama-3-70b"), _memory("H100-SXM"), zero_stage=3),
        unit="GPUs",
        rtol=0.0,
        hint="Under ZeRO-3 every part is split d ways, so each GPU holds 16 N / d bytes. Find "
        "the smallest whole d with 16 N / d ≤ 80 × 10^9 (N = 70,553,706,496): round up.",
    ),
    Question(
        "05.9",
        "Which bytes-per-parameter convention gives 1.27 TB for Llama 3 70B?",
        expected=lambda: tm.BYTES_PER_PARAM_CONVENTIONS["megatron-bf16-18"].total,
        unit="B/param",
        rtol=0.02,
        hint="Divide the tool's total in bytes (1.27 × 10^12) by Llama 3 70B's parameter "
        "count, then compare with the table of conventions in section 6 of the lesson.",
    ),
    Question(
        "05.10",
        "Order of magnitude: 80 GB GPUs needed just to hold Llama 3.1 405B's model states",
        expected=lambda: tm.min_gpus_to_fit(405e9, _memory("H100-SXM"), zero_stage=3),
        unit="GPUs",
        rtol=0.3,
        hint="16 bytes per parameter for about 4 × 10^11 parameters, spread over GPUs of "
        "8 × 10^10 bytes each. Activations would need more on top.",
    ),
]
