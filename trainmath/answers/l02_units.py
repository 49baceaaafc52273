"""Answer key of lesson 02, "Units" (``exercises/02_units.ipynb``).

Every expected value is computed lazily from :mod:`trainmath` functions with the published
inputs cited in the question, so the key follows the library and never a hand-copied number.
"""

from __future__ import annotations

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]


def _peak(accelerator: str, dtype: str = "bf16") -> float:
    return tm.ACCELERATORS[accelerator].peak(dtype)


def _gpt3_2_7b_pf_days() -> float:
    # Brown et al. 2020, Table 2.1: 32 layers, d_model 2560, 32 heads of 80; GPT-2
    # architecture (V = 50,257, learned positions over n_ctx = 2048); D = 300e9.
    cfg = tm.ModelConfig(32, 2560, 32, 50257, seq_len=2048)
    return tm.to_pflop_days(tm.training_flops(tm.param_count(cfg), 300e9))


def _llama2_70b_utilisation() -> float:
    # Llama 2 model card / Touvron et al. 2023, Table 2: 1,720,320 A100-80GB GPU-hours, 2.0T tokens.
    c = tm.training_flops(tm.param_count(tm.MODELS["llama-2-70b"]), 2.0e12)
    return tm.implied_utilisation(c, 1_720_320, _peak("A100-80GB"))


def _llama31_405b_flops_per_gpu() -> float:
    # Llama 3.1 model card: 30.84M H100-80GB GPU-hours; Llama 3 paper: 15.6T tokens.
    c = tm.training_flops(tm.param_count(tm.MODELS["llama-3.1-405b"]), 15.6e12)
    return tm.implied_flops_per_gpu(c, 30.84e6)


def _gpt3_cost() -> float:
    # Brown et al. 2020, Table D.1: 3.14e23 FLOPs; A100 bf16, 40 % MFU, $1.50 per GPU-hour.
    return tm.flops_to_cost(3.14e23, _peak("A100-80GB"), 0.4, 1.5)


def _llama31_405b_weights_gib() -> float:
    return tm.bytes_to_gib(2 * tm.param_count(tm.MODELS["llama-3.1-405b"]))


def _one_h100_years() -> float:
    # Llama 3 paper: 3.8e25 FLOPs; one H100 at 40 % of its dense bf16 peak.
    hours = tm.gpu_hours(3.8e25, _peak("H100-SXM"), 0.4)
    return hours * tm.SECONDS_PER_HOUR / (365.25 * tm.SECONDS_PER_DAY)


QUESTIONS: list[Question] = [
    Question(
        "02.1",
        "FLOPs in one PFLOP/s-day (what seed 000 calls '10^15·24·3600 FLOP-seconds')",
        expected=lambda: tm.convert_compute(1, "PFLOP/s-day", "FLOP"),
        unit="FLOP",
        rtol=1e-3,
        hint="A PFLOP/s-day is a rate (10^15 FLOP/s) sustained for a time (one day, in seconds): "
        "rate × time is a count of FLOPs.",
    ),
    Question(
        "02.2",
        "FLOPs one H100 (dense bf16 peak) does in one hour at 40% utilisation",
        expected=lambda: tm.flops_from_rate(_peak("H100-SXM") * 0.4, tm.SECONDS_PER_HOUR),
        unit="FLOP",
        rtol=0.01,
        hint="Delivered rate = peak FLOP/s × utilisation (the dense bf16 peak is 989 TFLOP/s); "
        "multiply by the seconds in an hour.",
    ),
    Question(
        "02.3",
        "Find the error: one A100 at its 312 TFLOP/s peak for one day, in PFLOP/s-days",
        expected=lambda: tm.to_pflop_days(tm.flops_from_rate(312e12, tm.SECONDS_PER_DAY)),
        unit="PFLOP/s-day",
        rtol=0.01,
        hint="312 TFLOP/s is a rate: 0.312 PFLOP/s. Run it for a day and you have a count, which "
        "you then express in units of 10^15 FLOP/s × 86,400 s.",
    ),
    Question(
        "02.4",
        "GPT-3 2.7B training compute from its exact parameter count, in PFLOP/s-days",
        expected=_gpt3_2_7b_pf_days,
        unit="PFLOP/s-day",
        rtol=0.01,
        hint="Build tm.ModelConfig(n_layers=32, d_model=2560, n_heads=32, vocab_size=50257, "
        "seq_len=2048) (GPT-2 architecture), take tm.param_count, then 6ND with D = 300e9, "
        "then divide by 8.64e19.",
    ),
    Question(
        "02.5",
        "Utilisation implied by the Llama 2 70B model card's A100 GPU-hours (6ND)",
        expected=_llama2_70b_utilisation,
        unit="",
        rtol=0.02,
        hint="6ND with the exact tm.param_count of llama-2-70b and 2.0T tokens, divided by what "
        "the GPU-hours could deliver at peak: hours × 3600 × 312e12. Answer as a fraction.",
    ),
    Question(
        "02.6",
        "FLOP/s per GPU implied by Llama 3.1 405B's 30.84M H100 GPU-hours (6ND, 15.6T tokens)",
        expected=_llama31_405b_flops_per_gpu,
        unit="FLOP/s",
        rtol=0.02,
        hint="A count divided by a time is a rate: 6ND / (GPU-hours × 3600 s). Use the exact "
        "parameter count of llama-3.1-405b.",
    ),
    Question(
        "02.7",
        "MFU of 430 TFLOP/s per H100 if the data sheet's 2:4-sparse bf16 figure is taken as peak",
        expected=lambda: 430e12 / tm.sparse_peak_flops(_peak("H100-SXM")),
        unit="",
        rtol=0.01,
        hint="The headline bf16 figure 'with sparsity' is twice the dense peak of 989 TFLOP/s. "
        "Answer as a fraction.",
    ),
    Question(
        "02.8",
        "Cost of GPT-3's 3.14e23 FLOPs on A100s (bf16) at 40% MFU and $1.50 per GPU-hour",
        expected=_gpt3_cost,
        unit="USD",
        rtol=0.02,
        hint="GPU-hours = FLOPs / (312e12 FLOP/s × 0.4) / 3600; then multiply by the price.",
    ),
    Question(
        "02.9",
        "Llama 3.1 405B weights in bf16, in GiB",
        expected=_llama31_405b_weights_gib,
        unit="GiB",
        rtol=0.005,
        hint="2 bytes per parameter with the exact tm.param_count; 1 GiB = 2^30 bytes, not 10^9.",
    ),
    Question(
        "02.10",
        "An '80 GB' A100 that nvidia-smi shows as 81,920 MiB: its memory in (decimal) GB",
        expected=lambda: tm.bytes_to_gb(81_920 * tm.MiB),
        unit="GB",
        rtol=0.005,
        hint="1 MiB = 2^20 bytes; turn MiB into bytes first, then divide by 10^9.",
    ),
    Question(
        "02.11",
        "Order of magnitude: years one H100 at 40% MFU would need for Llama 3 405B's 3.8e25 FLOPs",
        expected=_one_h100_years,
        unit="years",
        rtol=0.3,
        hint="Round freely: an H100 delivers about 4e14 FLOP/s at 40 % of ~1e15, and a year is "
        "about 3.2e7 s.",
    ),
]
