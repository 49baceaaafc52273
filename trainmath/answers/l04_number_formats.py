"""Answer key of lesson 04, "Number formats" (``exercises/04_number_formats.ipynb``).

Every expected value is computed lazily from :mod:`trainmath.formats` (real rounding
through ml_dtypes) or the model presets, with the inputs stated in the question.
"""

from __future__ import annotations

import math

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]


def _fp16_eps_over_fp32_eps() -> float:
    return tm.FORMATS["fp16"].eps / tm.FORMATS["fp32"].eps


def _smallest_loss_scale(grad: float = 1e-8, fmt: str = "fp16") -> int:
    # Smallest power of two S with round(grad * S) != 0 in fp16 (Micikevicius et al. 2018,
    # Sec. 3.2: the loss, hence every gradient, is multiplied by S).
    for k in range(64):
        if tm.formats.round_trip(grad * 2.0**k, fmt).stored != 0:
            return 2**k
    raise AssertionError("no power of two up to 2^63 keeps the gradient")


def _fp16_stall() -> float:
    return float(tm.formats.accumulate([1e-4] * 10_000, "fp16")[-1])


def _h100s_for_405b_bf16() -> int:
    weights = tm.formats.weight_memory("llama-3.1-405b", "bf16")
    return math.ceil(weights / tm.ACCELERATORS["H100-SXM"].memory_bytes)


QUESTIONS: list[Question] = [
    Question(
        "04.1",
        "Largest finite fp16 value",
        expected=lambda: tm.FORMATS["fp16"].max,
        unit="",
        rtol=0.0,
        hint="The largest exponent field that is not all ones is 11110 (2^15 after the bias of "
        "15); fill the 10 mantissa bits with ones.",
    ),
    Question(
        "04.2",
        "Machine epsilon of bf16 (gap between 1 and the next bf16 number)",
        expected=lambda: tm.FORMATS["bf16"].eps,
        unit="",
        rtol=1e-9,
        hint="eps = 2^-m, where m counts the stored mantissa bits (not the implicit leading 1).",
    ),
    Question(
        "04.3",
        "Value of the fp16 bit pattern 1 10010 0100000000",
        expected=lambda: tm.formats.decode("1 10010 0100000000", "fp16"),
        unit="",
        rtol=0.0,
        hint="(-1)^s · 2^(E - 15) · (1 + M/1024): read E and M as unsigned binary integers.",
    ),
    Question(
        "04.4",
        "Find the error: how many times larger is fp16's eps than fp32's?",
        expected=_fp16_eps_over_fp32_eps,
        unit="",
        rtol=0.0,
        hint="Precision is set by the mantissa bits, 10 in fp16 and 23 in fp32, not by the total "
        "number of bits.",
    ),
    Question(
        "04.5",
        "The value bf16 stores for the integer 257",
        expected=lambda: tm.formats.round_trip(257.0, "bf16").stored,
        unit="",
        rtol=0.0,
        hint="Between 256 and 512 bf16 numbers are 2^(8-7) = 2 apart; 257 is a tie, and ties go "
        "to the neighbour whose last mantissa bit is 0.",
    ),
    Question(
        "04.6",
        "The value fp8 E4M3 stores for 0.1",
        expected=lambda: tm.formats.round_trip(0.1, "fp8_e4m3").stored,
        unit="",
        rtol=1e-9,
        hint="0.1 = 1.6 × 2^-4. With 3 mantissa bits the significand is a multiple of 1/8 "
        "between 1 and 2: round 1.6 to the nearest one.",
    ),
    Question(
        "04.7",
        "int8 absmax code of -1.7 in the tensor [0.3, -1.7, 2.54, 0.01]",
        expected=lambda: int(tm.formats.absmax_quantize([0.3, -1.7, 2.54, 0.01]).q[1]),
        unit="",
        rtol=0.0,
        hint="q = round(127 · x / max|x|), with max|x| taken over the whole tensor.",
    ),
    Question(
        "04.8",
        "Smallest power-of-two loss scale that keeps a gradient of 1e-8 nonzero in fp16",
        expected=_smallest_loss_scale,
        unit="",
        rtol=0.0,
        hint="fp16's smallest subnormal is 2^-24 ≈ 5.96e-8, and anything below half of it "
        "rounds to zero. Try S = 1, 2, 4, ... with tm.formats.round_trip.",
    ),
    Question(
        "04.9",
        "Order of magnitude: where an fp16 running sum of 1e-4 increments stops growing",
        expected=_fp16_stall,
        unit="",
        rtol=0.5,
        hint="The sum stops growing once 1e-4 is less than half the gap between neighbouring "
        "fp16 numbers near the sum; that gap is the sum's size times about 2^-10.",
    ),
    Question(
        "04.10",
        "Weight memory of Llama 3 70B in int4, in GB",
        expected=lambda: tm.formats.weight_memory("llama-3-70b", "int4") / 1e9,
        unit="GB",
        rtol=0.01,
        hint="Exact parameter count (tm.param_count) × 0.5 bytes, in decimal GB (1e9 bytes).",
    ),
    Question(
        "04.11",
        "Fewest 80 GB H100 GPUs that hold Llama 3.1 405B's bf16 weights (weights only)",
        expected=_h100s_for_405b_bf16,
        unit="GPUs",
        rtol=0.0,
        hint="bf16 weights take 2 bytes per parameter; an H100 holds 80e9 bytes. Round up: a "
        "fraction of a GPU is a whole GPU.",
    ),
    Question(
        "04.12",
        "Per-tensor scale that maps a gradient tensor with amax 0.002 onto fp8 E5M2's maximum",
        expected=lambda: float(tm.FORMATS["fp8_e5m2"].max / 0.002),
        unit="",
        rtol=0.01,
        hint="scale = (largest finite E5M2 value) / amax, so that the largest gradient lands on "
        "the format's maximum.",
    ),
]
