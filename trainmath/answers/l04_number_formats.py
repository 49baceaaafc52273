"""Answer key of lesson 04, "Number formats" (``exercises/04_number_formats.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use, and a draw that
makes a variant from the real formats of :data:`trainmath.FORMATS` (ml_dtypes), the model and
accelerator presets and published runs. The question's text and its solution read those
inputs; every expected value is computed from them with :mod:`trainmath.formats` (real
rounding) or the presets, never typed in.
"""

from __future__ import annotations

import math
import random

import numpy as np

import trainmath as tm
from trainmath.answers import Question, log_uniform, sig

__all__ = ["QUESTIONS"]

_FLOATS = ("fp32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2")


def _fmt(name: str) -> tm.formats.NumberFormat:
    return tm.get_format(name)


def _power_of_two(x: float) -> bool:
    return x != 0 and math.frexp(abs(x))[0] == 0.5


# --- 04.1, 04.2: recall ----------------------------------------------------------------------


def _draw_format(choices: tuple[str, ...]):
    return lambda rng: {"fmt": rng.choice(choices)}


# --- 04.3: decode a bit pattern ----------------------------------------------------------------


def _draw_bits(rng: random.Random) -> dict:
    fmt = rng.choice(["fp16", "bf16", "fp8_e4m3", "fp8_e5m2"])
    f = _fmt(fmt)
    e, m = f.exponent_bits, f.mantissa_bits
    if m >= 7:
        # A normal number within a few binades of 1 (E neither all zeros nor all ones), with
        # at least three mantissa bits set: an odd-looking significand.
        exponent = rng.randint(max(1, f.bias - 6), min(2**e - 2, f.bias + 9))
        mantissa = rng.choice([k for k in range(2**m) if bin(k).count("1") >= 3])
    else:
        # fp8's few mantissa bits make round numbers near 1 and above; stay below 1/2, with
        # the last mantissa bit set.
        exponent = rng.randint(f.bias - 6, f.bias - 2)
        mantissa = rng.randrange(1, 2**m, 2)
    sign = rng.randint(0, 1)
    return {"fmt": fmt, "bits": f"{sign} {exponent:0{e}b} {mantissa:0{m}b}"}


# --- 04.4: position indices in 16 bits (find the error) ----------------------------------------


def _draw_position(rng: random.Random) -> dict:
    fmt = rng.choice(["bf16", "fp16"])
    lo, hi = (300, 131_000) if fmt == "bf16" else (2_100, 65_000)
    while True:
        p = int(log_uniform(rng, lo, hi, 4))
        stored = tm.formats.round_trip(float(p), fmt).stored
        if stored != p and not _power_of_two(stored):  # rounded, not onto a power of two
            return {"fmt": fmt, "p": p}


# --- 04.5: 16-bit values, fp32 sum -------------------------------------------------------------

_SUM_RANGES = {"bf16": (2e-4, 0.9), "fp16": (2e-4, 0.9), "fp8_e4m3": (0.02, 0.9)}


def _draw_sum(rng: random.Random) -> dict:
    fmt = rng.choice(sorted(_SUM_RANGES))
    lo, hi = _SUM_RANGES[fmt]
    while True:
        x = log_uniform(rng, lo, hi, 3)
        stored, rel_error = tm.formats.round_trip(x, fmt)
        # rounding x must matter beyond the 0.01 % tolerance (or n·x would pass), and a
        # stored power of two would make the sum a round number
        if rel_error > 3e-4 and not _power_of_two(stored):
            break
    n = rng.choice([1500, 2500, 3000, 4000, 5000, 6000, 7500])
    return {"fmt": fmt, "x": x, "n": n}


def _fp32_sum(fmt: str, x: float, n: int) -> float:
    return float(tm.formats.accumulate(np.full(n, x), fmt, accumulator="fp32")[-1])


# --- 04.6: a value in fp8 ----------------------------------------------------------------------


def _odd_significand(x: float, fmt: str) -> bool:
    """Whether the last mantissa bit of ``x`` (a normal number of ``fmt``) is set."""
    return tm.formats.encode(x, fmt).bits[-1] == "1"


def _draw_fp8_value(rng: random.Random) -> dict:
    fmt = rng.choice(["fp8_e4m3", "fp8_e5m2"])
    while True:
        # Normal numbers below 1/2, where fp8's coarse grid has no round numbers, rounded
        # onto a stored value whose last mantissa bit is set.
        x = log_uniform(rng, 0.02, 0.49, 3) * rng.choice([1, -1])
        stored = tm.formats.round_trip(x, fmt).stored
        if stored != x and _odd_significand(stored, fmt):
            return {"fmt": fmt, "x": x}


# --- 04.7: absmax quantisation -----------------------------------------------------------------


def _values(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.split(",")])


def _dequantized(bits: int, values: str, xj: float) -> float:
    x = _values(values)
    j = int(np.flatnonzero(x == xj)[0])
    return float(tm.formats.absmax_quantize(x, bits=bits).dequantized[j])


def _draw_absmax(rng: random.Random) -> dict:
    while True:
        bits = rng.choice([8, 8, 4])
        x = [sig(rng.gauss(0.0, 1.0), 2) for _ in range(5)]
        outlier = rng.randrange(5)
        x[outlier] = sig(rng.choice([1, -1]) * rng.uniform(4.0, 40.0), 2)
        if len(set(x)) < 5 or 0 in x:
            continue
        j = rng.choice([i for i in range(5) if i != outlier])
        values = ", ".join(f"{v:g}" for v in x)
        got = _dequantized(bits, values, x[j])
        if got != 0 and abs(got - x[j]) > 1e-3 * abs(x[j]):
            return {"bits": bits, "values": values, "xj": x[j]}


# --- 04.8: loss-scale threshold ----------------------------------------------------------------

_GRADIENTS = {"fp16": (1e-11, 2e-8), "fp8_e5m2": (1e-9, 5e-6)}


def _threshold_scale(fmt: str, g: float) -> float:
    # Below half the smallest subnormal a value rounds to zero (the tie too: 0 is even).
    return _fmt(fmt).min_subnormal / 2 / g


def _draw_gradient(rng: random.Random) -> dict:
    fmt = rng.choice(["fp16", "fp16", "fp8_e5m2"])
    return {"fmt": fmt, "g": log_uniform(rng, *_GRADIENTS[fmt], 2)}


# --- 04.9: a float32 token counter -------------------------------------------------------------

# Global batch sizes in tokens as the papers state them.
_BATCHES = {
    "GPT-3 175B": (3.2e6, "Brown et al. 2020, Table 2.1"),
    "GPT-3 XL": (1e6, "Brown et al. 2020, Table 2.1"),
    "GPT-3 13B": (2e6, "Brown et al. 2020, Table 2.1"),
    "GPT-3 Small": (0.5e6, "Brown et al. 2020, Table 2.1"),
    "LLaMA 65B": (4e6, "Touvron et al. 2023 (LLaMA), Table 2"),
    "Chinchilla at the start of training": (1.5e6, "Hoffmann et al. 2022, Table 4"),
    "Gopher at the start of training": (3e6, "Hoffmann et al. 2022, Table 4"),
    "Llama 3 405B in its final stage": (16e6, "Llama 3 paper, arXiv:2407.21783, Sec. 3.4.1"),
}


def _fp32_stall(run: str, source: str, B: float) -> float:
    # The count freezes at the first power of two P where P + B rounds back to P.
    p = 1.0
    while tm.formats.round_trip(p + B, "fp32").stored != p:
        p *= 2
    return p


def _draw_batch(rng: random.Random) -> dict:
    run = rng.choice(sorted(_BATCHES))
    batch, source = _BATCHES[run]
    return {"run": run, "source": source, "B": batch}


# --- 04.10: quantised weights with their scales ------------------------------------------------

_LLAMA3_VOCAB = (
    "vocabulary 128,256 from the released configuration, the Hugging Face `config.json` of "
    "meta-llama/{repo}; the paper's Table 3 rounds it to 128,000"
)
_SOURCES = {
    "llama-3-8b": "Llama 3 paper, arXiv:2407.21783, Table 3; "
    + _LLAMA3_VOCAB.format(repo="Meta-Llama-3-8B"),
    "llama-3-70b": "Llama 3 paper, arXiv:2407.21783, Table 3; "
    + _LLAMA3_VOCAB.format(repo="Meta-Llama-3-70B"),
    "llama-3.1-405b": "Llama 3 paper, arXiv:2407.21783, Table 3; "
    + _LLAMA3_VOCAB.format(repo="Llama-3.1-405B"),
}


def _source(model: str) -> str:
    return _SOURCES.get(model, tm.MODELS[model].source)


def _quantised_gb(model: str, source: str, fmt: str, block: int) -> float:
    n = tm.param_count(tm.MODELS[model])
    scales = n / block * tm.FORMATS["fp16"].bytes
    return (tm.formats.weight_memory(model, fmt) + scales) / 1e9


def _draw_quantised(rng: random.Random) -> dict:
    model = rng.choice(sorted(tm.MODELS))
    fmt = rng.choice(["int4", "int4", "int8"])
    # int8 with big blocks: the scales would add less than the 1 % tolerance
    block = rng.choice([32, 64, 128] if fmt == "int4" else [32, 64])
    return {"model": model, "source": _source(model), "fmt": fmt, "block": block}


# --- 04.11: GPUs to hold the training state ----------------------------------------------------

_BIG = ("llama-2-70b", "llama-3-70b", "chinchilla-70b", "gopher-280b", "gpt3-175b",
        "llama-3.1-405b")
_GPUS = ("A100-40GB", "A100-80GB", "H100-SXM")  # bf16 GPUs (an H200 holds these in a few)


def _gpus_for_state(model: str, gpu: str, memory: float) -> int:
    state = tm.training_state_breakdown(
        tm.param_count(tm.MODELS[model]), param_dtype="bf16", optimizer="adamw"
    ).total
    return math.ceil(state / memory)


def _draw_state(rng: random.Random) -> dict:
    while True:
        model, gpu = rng.choice(_BIG), rng.choice(_GPUS)
        memory = tm.ACCELERATORS[gpu].memory_bytes
        if _gpus_for_state(model, gpu, memory) >= 20:  # a sharding question, not "one box"
            return {"model": model, "gpu": gpu, "memory": memory}


# --- 04.12: fp8 with a per-tensor scale --------------------------------------------------------

_FP8_TENSORS = {
    "fp8_e4m3": ("activation", (0.5, 30.0)),
    "fp8_e5m2": ("gradient", (1e-4, 0.05)),
}


def _scaled_value(fmt: str, tensor: str, amax: float, x: float) -> float:
    return float(tm.formats.scaled_cast(np.array([amax, x]), fmt).values[1])


def _draw_scaled(rng: random.Random) -> dict:
    fmt = rng.choice(sorted(_FP8_TENSORS))
    tensor, (lo, hi) = _FP8_TENSORS[fmt]
    amax = log_uniform(rng, lo, hi, 2)
    while True:
        x = sig(amax * 10 ** rng.uniform(-2.5, -0.05), 2) * rng.choice([1, -1])
        got = _scaled_value(fmt, tensor, amax, x)
        if abs(got - x) > 1e-3 * abs(x):
            return {"fmt": fmt, "tensor": tensor, "amax": amax, "x": x}



# --- 04.13: bits per value of a proposed block format -----------------------------------------

_ELEMENTS = ("fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "int8", "int4")
_SCALES = ("e8m0", "fp8_e4m3", "bf16", "fp16", "fp32")
_TILES = ((1, 16), (1, 48), (1, 64), (1, 128), (1, 256), (8, 8), (16, 16), (32, 32))


def _proposal(element: str, rows: int, cols: int, scale: str) -> tm.formats.BlockFormat:
    return tm.formats.BlockFormat("proposal", element, (rows, cols), scale)


def _proposal_bits(element: str, rows: int, cols: int, scale: str) -> float:
    return tm.formats.bits_per_value(_proposal(element, rows, cols, scale))


# Bits per value the lesson lists (the block formats of tm.formats.BLOCK_FORMATS): a proposal
# that lands on one of them would be answered by the lesson's table.
_LISTED_BITS = {tm.formats.bits_per_value(bf) for bf in tm.formats.BLOCK_FORMATS.values()}


def _draw_proposal(rng: random.Random) -> dict:
    while True:
        element, scale = rng.choice(_ELEMENTS), rng.choice(_SCALES)
        rows, cols = rng.choice(_TILES)
        bits = _proposal_bits(element, rows, cols, scale)
        # not a listed format's figure, and not a whole number of bits (a number the
        # lesson prints everywhere)
        if bits not in _LISTED_BITS and not bits.is_integer():
            return {"element": element, "rows": rows, "cols": cols, "scale": scale}


# --- 04.14: one value of an MX block -----------------------------------------------------------

_MX = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4")


def _mx_value(fmt: str, amax: float, x: float) -> float:
    # The block: its largest magnitude, x, and 30 zeros (which change no block maximum).
    block = np.zeros(tm.formats.get_block_format(fmt).block_size)
    block[:2] = amax, x
    return float(tm.formats.block_quantize(block, fmt).dequantized[1])


def _round_figure(x: float) -> bool:
    """Whether ``x`` is written with three significant digits or fewer (1.25, 0.0625)."""
    return float(f"{x:.3g}") == x


def _draw_mx_value(rng: random.Random) -> dict:
    fmt = rng.choice(_MX)
    amax = log_uniform(rng, 0.01, 50.0, 2)
    for _ in range(200):
        x = sig(amax * 10 ** rng.uniform(-1.5, -0.05), 2) * rng.choice([1, -1])
        got = _mx_value(fmt, amax, x)
        # rounding must matter, must not flush x to zero (0 is no number to compute), and
        # must not land on a short figure such as 1.25 (the lesson prints many of those)
        if got != 0 and abs(got - x) > 1e-3 * abs(x) and not _round_figure(abs(got)):
            return {"fmt": fmt, "amax": amax, "x": x}
    return _draw_mx_value(rng)  # this block maximum leaves no such x: another one


# --- 04.15: NVFP4 weights (find the error) -----------------------------------------------------


def _nvfp4_gb(model: str, source: str) -> float:
    return tm.formats.weight_memory(tm.MODELS[model], "nvfp4") / 1e9


def _draw_nvfp4(rng: random.Random) -> dict:
    model = rng.choice(sorted(tm.MODELS))
    return {"model": model, "source": _source(model)}


# --- 04.16: a bf16 weight with stochastic rounding (estimate) ---------------------------------


def _expected_weight(w0: float, u: float, k: int) -> float:
    # E[SR(y)] = y at every step, so the expected weight is what an fp32 master copy holds.
    return float(tm.formats.accumulate(np.r_[w0, np.full(k, u)], "fp32", accumulator="fp32")[-1])


def _draw_weight(rng: random.Random) -> dict:
    while True:
        w0 = log_uniform(rng, 0.05, 3.0, 3)
        k = rng.choice([250, 350, 450, 600, 750, 900])
        gap = float(tm.formats.spacing(w0, "bf16"))
        lo = max(0.3 * w0 / k, gap / 20)  # the weight must move by 30 % or more
        if lo < 0.4 * gap:
            u = log_uniform(rng, lo, 0.4 * gap, 2)
            if u < gap / 2:  # below half the gap: round-to-nearest loses every update
                return {"w0": w0, "u": u, "k": k}


QUESTIONS: list[Question] = [
    Question(
        "04.1",
        "The largest finite {{fmt}} number",
        expected=lambda fmt: _fmt(fmt).max,
        unit="",
        rtol=0.0,
        kind="recall",
        text=(
            "What is the largest finite number {{fmt}} can hold? Work it out from its bits\n"
            "(`tm.formats.bit_layout(\"{{fmt}}\")` gives the field sizes, the bias is\n"
            "$2^{e-1} - 1$), minding which exponent pattern is reserved for inf and NaN, then\n"
            "compare with `tm.FORMATS`. Exact answer, **dimensionless**."
        ),
        inputs={"fmt": "fp16"},
        draw=_draw_format(("fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp32")),
        nudge="Section 2 of the lesson: the largest number has the largest usable exponent "
        "and as many mantissa bits set as the format allows. Which exponent is usable?",
        hint="(2 - 2^-m) · 2^(E_max - bias), with E_max = 2^e - 2 when the all-ones exponent "
        "is reserved. E4M3 uses the all-ones exponent for numbers too and reserves only the "
        "all-ones mantissa there (S.1111.111) for NaN.",
    ),
    Question(
        "04.2",
        "{{fmt}}'s machine epsilon",
        expected=lambda fmt: _fmt(fmt).eps,
        unit="",
        rtol=1e-9,
        kind="recall",
        text=(
            "What is the gap between 1 and the next larger {{fmt}} number (machine epsilon)?\n"
            "Exact answer, **dimensionless**."
        ),
        inputs={"fmt": "bf16"},
        draw=_draw_format(_FLOATS),
        nudge="Section 2: which bits set the precision of a float, the exponent or the "
        "mantissa?",
        hint="eps = 2^-m, where m counts the stored mantissa bits (not the implicit leading 1).",
    ),
    Question(
        "04.3",
        "Read the {{fmt}} bits",
        expected=lambda fmt, bits: tm.formats.decode(bits, fmt),
        unit="",
        rtol=0.0,
        kind="apply",
        text=(
            "Which number does the {{fmt}} bit pattern `{{bits}}` stand for (sign, exponent,\n"
            "mantissa)? Decode it by hand with $(-1)^s \\cdot 2^{E-\\text{bias}} \\cdot\n"
            "(1 + M/2^m)$, $\\text{bias} = 2^{e-1} - 1$, then check with `tm.formats.decode`.\n"
            "Exact answer, **dimensionless**."
        ),
        inputs={"fmt": "fp16", "bits": "1 10010 0100000000"},
        draw=_draw_bits,
        nudge="Section 1 of the lesson works a decoding by hand: read the three fields as "
        "unsigned integers first.",
        hint="(-1)^s · 2^(E - bias) · (1 + M/2^m), with E and M the exponent and mantissa "
        "fields read as unsigned binary integers, m the number of mantissa bits and bias "
        "2^(e-1) - 1.",
    ),
    Question(
        "04.4",
        "Position indices in {{fmt}}",
        expected=lambda fmt, p: tm.formats.round_trip(float(p), fmt).stored,
        unit="",
        rtol=0.0,
        kind="find the error",
        text=(
            "A colleague computes rotary position angles from position indices that were cast\n"
            "to {{fmt}}, and argues that this is safe: \"{{fmt}} reaches far beyond any context\n"
            "length, so every position is represented.\" Test the claim: which value does\n"
            "{{fmt}} store for the position $p = {{p:tex}}$? Exact answer, **dimensionless**.\n"
            "Then, in the cell below, say in a sentence or two what is wrong with the argument."
        ),
        discussion=(
            "**What is wrong with the argument?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "It confuses range with precision. The exponent bits set how large a number can\n"
            "be; the mantissa bits set how finely numbers are spaced. A format with $m$\n"
            "mantissa bits holds every integer only up to $2^{m+1}$ (256 in bf16, 2,048 in\n"
            "fp16); above that the gap between neighbours is\n"
            "$2^{\\lfloor \\log_2 p \\rfloor - m}$, so nearby positions are rounded to the\n"
            "same value and get the same rotary angle:\n"
            "the model can no longer tell them apart. Position indices (and the angles\n"
            "computed from them) belong in fp32 or in integers.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"fmt": "bf16", "p": 5000},
        draw=_draw_position,
        nudge="Section 2 of the lesson: range and precision come from different bits. How "
        "far apart are neighbouring numbers near p?",
        hint="Find k with 2^k <= p < 2^(k+1); the gap there is 2^(k - m) (m = 7 for bf16, 10 "
        "for fp16). Round p to the nearest multiple of the gap, ties to the even multiple.",
    ),
    Question(
        "04.5",
        "{{fmt}} values, fp32 sum",
        expected=lambda fmt, x, n: _fp32_sum(fmt, x, n),
        unit="",
        rtol=1e-4,
        kind="apply",
        text=(
            "A reduction adds up ${{n:tex}}$ values, all equal to $x = {{x}}$. The values are\n"
            "stored in {{fmt}}, but the running sum is kept in fp32, as the tensor cores and\n"
            "mixed-precision reductions do (Micikevicius et al. 2018, Sec. 3.3). What is the\n"
            "sum? Answer **dimensionless**, within 0.01 %."
        ),
        inputs={"fmt": "bf16", "x": 0.00731, "n": 3000},
        draw=_draw_sum,
        nudge="Section 4 of the lesson: with an fp32 accumulator the sum does not stall. What "
        "happens to each value before it is added?",
        hint="Each x is first rounded to the storage format; the fp32 sum of n equal values is "
        "then n × (x as stored), with a negligible fp32 error. Round x with the format's "
        "spacing (or tm.formats.round_trip) and multiply by n.",
    ),
    Question(
        "04.6",
        "{{x}} in {{fmt}}",
        expected=lambda fmt, x: tm.formats.round_trip(x, fmt).stored,
        unit="",
        rtol=0.0,
        kind="apply",
        text=(
            "What value does {{fmt}} store for ${{x}}$, with no scale? Find the power of two\n"
            "below $|x|$, the gap between {{fmt}} numbers there, and round to the nearest\n"
            "multiple (ties to even); then check with `tm.formats.round_trip`. Exact answer,\n"
            "**dimensionless**; print the relative error as well."
        ),
        inputs={"fmt": "fp8_e4m3", "x": 0.1},
        draw=_draw_fp8_value,
        nudge="Section 2 of the lesson: the spacing of a format's numbers doubles at every "
        "power of two. How many mantissa bits does this format have?",
        hint="With 2^k <= |x| < 2^(k+1) (k no lower than the smallest normal exponent), the "
        "gap is 2^(k - m); the stored value is round(x / gap) × gap, ties to even.",
    ),
    Question(
        "04.7",
        "int{{bits}} absmax: what comes back",
        expected=_dequantized,
        unit="",
        rtol=1e-6,
        kind="apply",
        text=(
            "The tensor $x = [{{values}}]$ is quantised to int{{bits}} with one absmax scale\n"
            "for the whole tensor (Dettmers et al. 2022, LLM.int8(), Sec. 2.1; lesson section\n"
            "7). Which value does the element ${{xj}}$ come back as after dequantisation,\n"
            "$\\hat{x} = q\\,\\Delta$? Answer **dimensionless**, to 6 significant figures."
        ),
        inputs={"bits": 8, "values": "0.41, -1.23, 0.07, 9.6, -0.88", "xj": -1.23},
        draw=_draw_absmax,
        nudge="Section 7 of the lesson: which value of the tensor sets the step, and how many "
        "steps does int8 (or int4) have on each side of zero?",
        hint="Δ = max|x| / q_max with q_max = 2^(b-1) - 1 (127 for int8, 7 for int4); "
        "q = round(x / Δ); the value that comes back is q · Δ.",
    ),
    Question(
        "04.8",
        "The loss scale that saves a gradient in {{fmt}}",
        expected=lambda fmt, g: _threshold_scale(fmt, g),
        unit="",
        rtol=1e-3,
        kind="apply",
        text=(
            "A gradient component `g = {{g}}` is stored in {{fmt}} after loss scaling has\n"
            "multiplied it by $S$ (Micikevicius et al. 2018, Sec. 3.2). Above which value\n"
            "$S^*$ of the scale is it stored as a nonzero number? Give $S^*$ (for every\n"
            "$S > S^*$ the gradient survives, for $S \\le S^*$ it is flushed to zero).\n"
            "**Dimensionless**, within 0.1 %."
        ),
        inputs={"fmt": "fp16", "g": 2.7e-9},
        draw=_draw_gradient,
        nudge="Section 5 of the lesson: which is the smallest positive number of the format, "
        "and what happens to a value below half of it?",
        hint="The smallest subnormal is 2^(emin - m) (tm.FORMATS[fmt].min_subnormal); S·g "
        "rounds to zero up to half of it (the tie goes to the even neighbour, 0), so "
        "S* = min_subnormal / (2 g).",
    ),
    Question(
        "04.9",
        "A float32 token counter",
        expected=_fp32_stall,
        unit="tokens",
        rtol=0.5,
        kind="estimate",
        text=(
            "A training script counts the tokens seen so far in a float32 variable, adding\n"
            "the global batch of $B$ = {{B:count}} tokens every step: the batch size of\n"
            "{{run}} ({{source}}).\n"
            "Without running a loop: at roughly which count does the total stop growing?\n"
            "Estimate it from the spacing of fp32 numbers near the count (section 4). Any\n"
            "answer within 50 % counts. Answer in **tokens**."
        ),
        inputs={"run": "GPT-3 175B", "source": _BATCHES["GPT-3 175B"][1], "B": 3.2e6},
        draw=_draw_batch,
        nudge="Section 4 of the lesson: a running sum stops moving once each addition is "
        "smaller than half the gap between neighbouring numbers near the sum.",
        hint="Near S the fp32 gap is about |S| · 2^-23, so additions of B are lost once "
        "B < |S| · 2^-24, i.e. near S ≈ 2^24 · B (the real sum freezes at the next power of "
        "two above that).",
    ),
    Question(
        "04.10",
        "{{model}} in {{fmt}}, scales included",
        expected=_quantised_gb,
        unit="GB",
        rtol=1e-3,
        kind="apply",
        text=(
            'The weights of `tm.MODELS["{{model}}"]` are quantised to {{fmt}} with absmax\n'
            "scales per block of {{block}} weights: one fp16 scale per block (lesson section 7),\n"
            "{{fmt}} codes packed without gaps. How much memory do the codes and scales take\n"
            "together? Use the preset's exact parameter count $N$ (`tm.param_count`) and\n"
            "$N/{{block}}$ blocks. Answer in **GB** (1 GB = $10^9$ bytes).\n\n"
            "The preset's shape: {{source}}."
        ),
        inputs={"model": "llama-3-70b", "source": _source("llama-3-70b"), "fmt": "int4",
                "block": 64},
        draw=_draw_quantised,
        nudge="Section 8 of the lesson gives the bytes per value; section 7 says what else a "
        "quantised tensor has to store.",
        hint="N × (bytes per code: 1 for int8, 0.5 for int4) + (N / block) × 2 bytes for the "
        "fp16 scales; divide by 1e9 for GB.",
    ),
    Question(
        "04.11",
        "GPUs to hold {{model}}'s training state",
        expected=_gpus_for_state,
        unit="GPUs",
        rtol=0.0,
        kind="apply",
        text=(
            'Mixed-precision training of `tm.MODELS["{{model}}"]` with Adam keeps, for every\n'
            "parameter, bf16 weights and gradients, an fp32 master copy and Adam's two fp32\n"
            "moments (lesson section 9). The whole state is sharded evenly over {{gpu}} GPUs\n"
            "with {{memory:,.0f}} bytes of memory each (`tm.ACCELERATORS[\"{{gpu}}\"]`). What is\n"
            "the fewest GPUs that can hold the state alone (no activations, no buffers)?\n"
            "Use the preset's exact parameter count. Answer in **GPUs** (an integer)."
        ),
        inputs={"model": "llama-3.1-405b", "gpu": "H100-SXM",
                "memory": tm.ACCELERATORS["H100-SXM"].memory_bytes},
        draw=_draw_state,
        nudge="Section 9 of the lesson adds up the bytes each parameter costs in "
        "mixed-precision training.",
        hint="Bytes per parameter = 2 (bf16 weights) + 2 (bf16 gradients) + 4 (fp32 master) + "
        "4 + 4 (Adam's m and v); multiply by N, divide by the bytes of one GPU and round up.",
    ),
    Question(
        "04.12",
        "An fp8 {{tensor}} with a per-tensor scale",
        expected=_scaled_value,
        unit="",
        rtol=1e-6,
        kind="apply",
        text=(
            "In fp8 training a {{tensor}} tensor is stored in {{fmt}} with one scale per\n"
            "tensor, chosen so that its largest magnitude (amax) lands on the format's largest\n"
            'finite value (Micikevicius et al. 2022, "FP8 Formats for Deep Learning"; lesson\n'
            "section 6). The tensor has `amax = {{amax}}`. Which value does its element\n"
            "`x = {{x}}` come back as, stored value divided by the scale? Answer\n"
            "**dimensionless**, to 6 significant figures."
        ),
        inputs={"fmt": "fp8_e5m2", "tensor": "gradient", "amax": 0.0031, "x": 0.00047},
        draw=_draw_scaled,
        nudge="Section 6 of the lesson: first the scale, then the rounding of the scaled value "
        "in the fp8 format, then back.",
        hint="scale = max_format / amax; y = x · scale; round y to the nearest multiple of the "
        "format's gap at y, 2^(floor(log2|y|) - m); the answer is round(y) / scale.",
    ),
    Question(
        "04.13",
        "Bits per value of a proposed block format",
        expected=_proposal_bits,
        unit="bits",
        rtol=1e-9,
        kind="apply",
        text=(
            "A proposed block-scaled format stores {{element}} elements in tiles of\n"
            "${{rows}} \\times {{cols}}$ values that share one scale, stored in {{scale}}\n"
            "(lesson section 11). How many bits does it take per value, the scales included?\n"
            "Take a tensor whose shape is a multiple of the tile, and look the bit counts up in\n"
            "`tm.get_format`. Exact answer, in **bits** per value."
        ),
        inputs={"element": "fp6_e3m2", "rows": 1, "cols": 128, "scale": "bf16"},
        draw=_draw_proposal,
        nudge="Section 11 of the lesson: a block format stores every element, and one scale "
        "for each block of values.",
        hint="bits per value = element bits + scale bits / (values per tile); a tile of r × c "
        "holds r · c values. tm.get_format(name).bits gives each format's bits.",
    ),
    Question(
        "04.14",
        "One value of an MX block ({{fmt}})",
        expected=_mx_value,
        unit="",
        rtol=1e-6,
        kind="apply",
        text=(
            "A block of 32 values is stored in {{fmt}} (OCP MX v1.0; lesson section 11). The\n"
            "largest magnitude in the block is {{amax}}. Which value does its element\n"
            "$x = {{x}}$ come back as, element times the shared scale $X$? Find $X$ with the MX\n"
            "rule, then round $x / X$ to the element format (nearest, ties to even). Answer\n"
            "**dimensionless**, to 6 significant figures."
        ),
        inputs={"fmt": "mxfp8_e4m3", "amax": 13.5, "x": 0.0871},
        draw=_draw_mx_value,
        nudge="Section 11 of the lesson: the shared scale is a power of two set by the "
        "block's largest magnitude and the element format's largest exponent.",
        hint="X = 2^(floor(log2 amax) - emax_elem), emax_elem the exponent of the element "
        "format's largest value (E4M3 8, E5M2 15, E3M2 4, E2M3 2, E2M1 2); y = x / X rounded "
        "to the element format (its gap at y is 2^(floor(log2|y|) - m), no finer than its "
        "smallest subnormal; beyond its max, clamp); the answer is X · round(y).",
    ),
    Question(
        "04.15",
        "{{model}} in NVFP4",
        expected=_nvfp4_gb,
        unit="GB",
        rtol=1e-3,
        kind="find the error",
        text=(
            'A colleague sizes the weights of `tm.MODELS["{{model}}"]` in NVFP4: "its\n'
            'elements are E2M1, 4 bits, so the weights take $N/2$ bytes." What do they really\n'
            "take, with NVFP4's scales (lesson section 11)? Use the preset's exact parameter\n"
            "count $N$ (`tm.param_count`) and leave out the one fp32 scale per weight matrix\n"
            "(a few bytes each). Answer in **GB** (1 GB = $10^9$ bytes). Then, in the cell\n"
            "below, say what the colleague left out and how much it adds.\n\n"
            "The preset's shape: {{source}}."
        ),
        discussion=(
            "**What did the colleague leave out?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "The scales. A block format stores one scale per block besides the elements:\n"
            "NVFP4 gives every 16 values an 8-bit E4M3 scale, half a bit per value, so it\n"
            "costs $4 + 8/16 = 4.5$ bits per value, 12.5 % more than the 4 bits of the\n"
            "elements (plus one fp32 scale per tensor, which is negligible). MXFP4 pays\n"
            "$8/32$ bit for its E8M0 scales (4.25 bits). Counting only the element bits\n"
            "underestimates every block format.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"model": "llama-2-70b", "source": _source("llama-2-70b")},
        draw=_draw_nvfp4,
        nudge="Section 11 of the lesson: what does a block format store besides its elements?",
        hint="bits per value = 4 (E2M1) + 8 / 16 (one E4M3 scale per block of 16) = "
        "tm.formats.bits_per_value('nvfp4'); bytes = N × bits per value / 8; divide by 1e9.",
    ),
    Question(
        "04.16",
        "A bf16 weight with stochastic rounding",
        expected=_expected_weight,
        unit="",
        rtol=0.005,
        kind="estimate",
        text=(
            "A weight is kept in bf16 with no fp32 master copy. It starts at $w_0 = {{w0}}$\n"
            "and takes $k = {{k}}$ updates of $+{{u}}$ each (learning rate times gradient),\n"
            "and after every update the weight is rounded back to bf16 *stochastically*\n"
            "(lesson section 14). Without simulating: what do you expect the weight to be\n"
            "after the $k$ updates, on average over many runs? Answer **dimensionless**,\n"
            "within 0.5 %."
        ),
        inputs={"w0": 0.437, "u": 0.00037, "k": 600},
        draw=_draw_weight,
        nudge="Section 14 of the lesson: what is the expected value of a stochastically "
        "rounded number?",
        hint="E[SR(y)] = y for every y, so each update adds u on average, however small u is "
        "compared with the bf16 gap: E[w_k] = w_0 + k · u (round-to-nearest would keep w_0 "
        "here, since u is below half the gap).",
    ),
]
