"""Answer key of lesson 08, "Capstone: plan a training run" (``exercises/08_capstone.ipynb``).

Every expected value is computed lazily from :mod:`trainmath` functions with the published
inputs cited in the question, so the key follows the library and never a hand-copied number.
Prices per GPU-hour are the questions' stated assumptions, not quotes.
"""

from __future__ import annotations

import trainmath as tm
from trainmath import capstone
from trainmath.answers import Question

__all__ = ["QUESTIONS"]

_H100 = "H100-SXM"
_LLAMA3 = capstone.LLAMA3_405B_RUN


def _peak() -> float:
    return tm.ACCELERATORS[_H100].peak("bf16")  # 989 TFLOP/s dense bf16


def _money_budget() -> float:
    # $25M at $2.00 per H100-hour, 40 % MFU.
    return tm.budget_to_flops(25e6, 2.0, _peak(), 0.4)


def _money_n() -> float:
    return tm.chinchilla_optimal(_money_budget(), 20.0)[0]


def _min_gpus() -> int:
    # 16 bytes per parameter (mixed-precision AdamW), 80 GB H100s with 10 % headroom.
    memory = tm.ACCELERATORS[_H100].memory_bytes
    return capstone.min_gpus_for_model_states(_money_n(), memory, memory_fraction=0.9)


def _llama3_layout_gb() -> float:
    # Llama 3 paper, Table 4, row 2: TP 8, PP 16, DP 128, 16 sequences of 8192 per DP rank
    # (micro-batch 1 -> 16 micro-batches). Sequence parallel, selective recompute, ZeRO-3.
    m = tm.memory_per_gpu(
        tm.MODELS["llama-3.1-405b"], micro_batch=1, n_microbatches=16, zero_stage=3, dp=128,
        tp=8, pp=16, sequence_parallel=True, recompute="selective",
    )
    return tm.bytes_to_gb(m.total)


def _gpus_for_deadline() -> float:
    # $25M at $2.00 buys 12.5M GPU-hours; spread over 60 days.
    return 25e6 / 2.0 / (60 * 24)


def _llama_budget_cost() -> float:
    plan = capstone.plan_training_run(
        _LLAMA3["flops"], accelerator=_H100, n_gpus=16384, mfu=0.4, price_per_gpu_hour=2.0
    )
    return plan.cost


def _model_card_days() -> float:
    return _LLAMA3["gpu_hours"] / _LLAMA3["n_gpus"] / 24


def _doubled_days() -> float:
    # Compute-optimal 140B (D = 20 N = 2.8T tokens) on 2,048 H100 at 40 % MFU.
    return capstone.plan_run(140e9, 2.8e12, accelerator=_H100, n_gpus=2048, mfu=0.4).days


def _inference_aware_n() -> float:
    plan = capstone.plan_training_run(
        _LLAMA3["flops"], rule="inference-aware", inference_tokens=1e13, fit="epoch"
    )
    return plan.n_params


def _trillion_days() -> float:
    flops = tm.training_flops(1e12, 20e12)
    return capstone.plan_training_run(flops, accelerator=_H100, n_gpus=16384, mfu=0.4).days


def _llama_ratio_n() -> float:
    k = _LLAMA3["scaling_law_n_tokens"] / _LLAMA3["scaling_law_n_params"]
    return tm.chinchilla_optimal(_LLAMA3["flops"], k)[0]


QUESTIONS: list[Question] = [
    Question(
        "08.1",
        "Compute budget bought by $25M at $2.00 per H100-hour and 40% MFU",
        expected=_money_budget,
        unit="FLOP",
        rtol=0.02,
        hint="Money / price = GPU-hours; each GPU-hour delivers 3600 s × 989e12 FLOP/s × MFU. "
        "tm.budget_to_flops does exactly this.",
    ),
    Question(
        "08.2",
        "Chinchilla-optimal model size (D = 20 N) for the budget of 08.1",
        expected=_money_n,
        unit="params",
        rtol=0.02,
        hint="With D = 20 N, C = 6·N·20N = 120 N², so N = sqrt(C / 120).",
    ),
    Question(
        "08.3",
        "Llama 3 405B's MLP width by Meta's rule (d = 16,384, multiplier 1.2, multiple of 4096)",
        expected=lambda: capstone.ffn_hidden_dim(16384, 1.2, 4096),
        unit="",
        rtol=0.0,
        hint="Take int(2·4d/3), multiply by 1.2 and truncate to an integer, then round *up* to "
        "the next multiple of 4096.",
    ),
    Question(
        "08.4",
        "Fewest 80 GB H100s that hold the 16 B/param states of 08.2's model, using 90% of memory",
        expected=_min_gpus,
        unit="",
        rtol=0.0,
        hint="Bytes needed = 16 × N; bytes per GPU = 0.9 × 80e9. Divide and round up: a fraction "
        "of a GPU still needs a whole one.",
    ),
    Question(
        "08.5",
        "Memory of the busiest GPU, Llama 3 405B on its Table 4 layout (ZeRO-3, selective)",
        expected=_llama3_layout_gb,
        unit="GB",
        rtol=0.02,
        hint="tm.memory_per_gpu with the 405B preset, tp=8, pp=16, dp=128, micro_batch=1, "
        "n_microbatches=16, sequence_parallel=True, recompute='selective', zero_stage=3. "
        "Give decimal GB (1e9 bytes).",
    ),
    Question(
        "08.6",
        "H100s needed so that the $25M budget (at $2.00/GPU-hour) is spent in 60 days",
        expected=_gpus_for_deadline,
        unit="",
        rtol=0.01,
        hint="Money fixes the GPU-hours, whatever the MFU. GPU-hours = GPUs × days × 24.",
    ),
    Question(
        "08.7",
        "Cost of the Chinchilla plan for 3.8e25 FLOPs on H100s at 40% MFU and $2.00/GPU-hour",
        expected=_llama_budget_cost,
        unit="USD",
        rtol=0.02,
        hint="GPU-hours = C / (989e12 FLOP/s × MFU) / 3600; the number of GPUs does not change "
        "them. Then multiply by the price.",
    ),
    Question(
        "08.8",
        "Days on 16,384 GPUs that the model card's 30.84M H100-hours for Llama 3.1 405B amount to",
        expected=_model_card_days,
        unit="days",
        rtol=0.01,
        hint="GPU-hours ÷ number of GPUs = hours of wall clock; divide by 24 for days.",
    ),
    Question(
        "08.9",
        "Find the error: days for a compute-optimal 140B model on 2,048 H100 at 40% MFU",
        expected=_doubled_days,
        unit="days",
        rtol=0.02,
        hint="A compute-optimal 140B model also trains on twice the tokens (D = 20 N = 2.8T), so "
        "C = 6ND grows 4×, not 2×. Then T = C / (GPUs × peak × MFU).",
    ),
    Question(
        "08.10",
        "Epoch fit: inference-aware model size for the 3.8e25 budget and 1e13 inference tokens",
        expected=_inference_aware_n,
        unit="params",
        rtol=0.03,
        hint="capstone.plan_training_run(3.8e25, rule='inference-aware', inference_tokens=1e13, "
        "fit='epoch'): the same loss as the budget's loss-optimal model, fewest lifetime FLOPs.",
    ),
    Question(
        "08.11",
        "Order of magnitude: days for a 1T-parameter model on 20T tokens, 16,384 H100, 40% MFU",
        expected=_trillion_days,
        unit="days",
        rtol=0.3,
        hint="C = 6ND = 1.2e26 FLOPs; the cluster delivers 16,384 × 989e12 × 0.4 FLOP/s.",
    ),
    Question(
        "08.12",
        "Model size for 3.8e25 FLOPs with Llama 3's own tokens-per-parameter ratio (16.55T / 402B)",
        expected=_llama_ratio_n,
        unit="params",
        rtol=0.02,
        hint="First k = D / N of the paper's choice (about 41), then N = sqrt(C / (6k)).",
    ),
]
