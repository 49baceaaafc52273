"""Answer key of lesson 02, "Units" (``exercises/02_units.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use, and a draw that
makes a variant from real presets, published runs and sensible ranges. The question's text
and its solution read those inputs; every expected value is computed from them with
:mod:`trainmath` functions, never typed in. The lesson works GPT-3, the Llama 2 and Llama 3.1
model cards, Llama 3 405B's 430 TFLOP/s and the A100's 81,920 MiB; the questions use other
runs, models and cards, so that the lesson teaches the method and the exercise applies it.
"""

from __future__ import annotations

import math
import random

import trainmath as tm
from trainmath.answers import Question, sig
from trainmath.answers._published import MEGATRON_TABLE1, runs

__all__ = ["QUESTIONS"]

_RUNS = runs("Chinchilla", "Gopher", "OPT-175B", "BLOOM", "LLaMA 65B", "Llama 2 70B", "Llama 3 70B")

# GPU-hours on A100-80GB that Touvron et al. 2023 (LLaMA), Table 15 report, with N and D from
# LLaMA's Table 2 and the OPT and BLOOM papers. (LLaMA 7B, 82,432 hours, is left out: its
# implied utilisation rounds to the 43.5 % MFU that the lesson prints for Llama 3 405B.)
_CARDS = {
    "LLaMA 13B": (13.0e9, 1.0e12, 135_168, "LLaMA paper, Table 2"),
    "LLaMA 33B": (32.5e9, 1.4e12, 530_432, "LLaMA paper, Table 2"),
    "LLaMA 65B": (65.2e9, 1.4e12, 1_022_362, "LLaMA paper, Table 2"),
    "OPT-175B": (175e9, 180e9, 809_472, "Zhang et al. 2022"),
    "BLOOM": (176e9, 366e9, 1_082_880, "BigScience 2022"),
}

# GPT-2 (Radford et al. 2019, Table 2) as it lists the four sizes, in millions; the presets
# hold the shapes (GPT-2 architecture, n_ctx 1024, V 50,257, tied head).
_GPT2_LISTED = {"gpt2": 117, "gpt2-medium": 345, "gpt2-large": 762, "gpt2-xl": 1542}

# Throughput per GPU of published runs, in TFLOP/s: Megatron-LM's weak-scaling runs on A100s
# (Narayanan et al. 2021, Table 1; the 18.4 B row, 135 TFLOP/s, is left out because its sparse
# MFU rounds to the lesson's 21.7 %) and Llama 3 405B's 16,384-H100 runs (Llama 3 paper,
# Table 4; its 8,192-GPU row, 430 TFLOP/s, is the lesson's example).
_THROUGHPUT = [
    *(
        (f"Megatron-LM's {b} B model on {n:,} A100s", "Narayanan et al. 2021, Table 1",
         "A100-80GB", t)
        for b, n, t in MEGATRON_TABLE1
        if b not in (18.4, 1008.0)
    ),
    ("Llama 3 405B on 16,384 H100s", "Llama 3 paper, arXiv:2407.21783, Table 4",
     "H100-SXM", 400),
    ("Llama 3 405B's long-context stage on 16,384 H100s",
     "Llama 3 paper, arXiv:2407.21783, Table 4", "H100-SXM", 380),
]

# Rental prices per GPU-hour (USD) that the money questions draw from: assumptions in the
# range public clouds list, not published figures.
_PRICES = {"A100-80GB": (1.2, 2.5), "H100-SXM": (2.5, 4.0)}
_BYTES = {"fp32": 4, "bf16": 2, "fp8": 1}
_MFUS = [0.3, 0.33, 0.35, 0.38, 0.4, 0.42, 0.45, 0.48, 0.5]


def _peak(gpu: str, dtype: str = "bf16") -> float:
    return tm.ACCELERATORS[gpu].peak(dtype)


def _seconds_at_peak(name, source, N, D, n_gpus, gpu):
    return tm.training_time(tm.training_flops(N, D), n_gpus, _peak(gpu))


def _gpt2_pf_days(model, name, listed, n_layers, d_model, n_heads, D):
    cfg = tm.ModelConfig(n_layers, d_model, n_heads, 50257, seq_len=1024)
    return tm.to_pflop_days(tm.training_flops(tm.param_count(cfg), D))


def _card_utilisation(name, N, D, hours, source):
    return tm.implied_utilisation(tm.training_flops(N, D), hours, _peak("A100-80GB"))


def _tokens_from_hours(model, gpu, hours, mfu):
    flops = tm.gpu_hours_to_flops(hours, _peak(gpu), mfu)
    return flops / tm.training_flops(tm.param_count(tm.MODELS[model]), 1)


def _run_cost(name, source, N, D, gpu, mfu, price):
    return tm.flops_to_cost(tm.training_flops(N, D), _peak(gpu), mfu, price)


def _weights_gib(model, dtype):
    return tm.bytes_to_gib(_BYTES[dtype] * tm.param_count(tm.MODELS[model]))


def _flops_per_dollar(gpu, price, mfu):
    return tm.budget_to_flops(1.0, _peak(gpu), mfu, price)


# --- draws ---------------------------------------------------------------------------------


def _draw_rate(rng: random.Random) -> dict:
    gpu = rng.choice(sorted(tm.ACCELERATORS))
    dtype = rng.choice(sorted(tm.ACCELERATORS[gpu].peak_flops))
    return {
        "gpu": gpu,
        "dtype": dtype,
        "u": rng.choice([0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]),
        "hours": rng.choice([2, 3, 5, 6, 8, 10, 12, 18, 36, 48, 72, 168]),
    }


def _draw_blog(rng: random.Random) -> dict:
    name = rng.choice(sorted(_RUNS))
    n, d, source = _RUNS[name]
    gpu = rng.choice(["A100-80GB", "H100-SXM"])
    # a cluster on which the bound is between 2 days and 5 months, as real runs take
    sizes = [
        g for g in (256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 16384)
        if 2 <= _seconds_at_peak(name, source, n, d, g, gpu) / tm.SECONDS_PER_DAY <= 150
    ]
    return {
        "name": name,
        "source": source,
        "N": n,
        "D": d,
        "n_gpus": rng.choice(sizes),
        "gpu": gpu,
    }


def _draw_gpt2(rng: random.Random) -> dict:
    model = rng.choice(sorted(_GPT2_LISTED))
    cfg = tm.MODELS[model]
    return {
        "model": model,
        "name": cfg.name,
        "listed": _GPT2_LISTED[model],
        "n_layers": cfg.n_layers,
        "d_model": cfg.d_model,
        "n_heads": cfg.n_heads,
        "D": rng.choice([10e9, 15e9, 25e9, 30e9, 50e9, 60e9, 100e9, 120e9]),
    }


def _draw_card(rng: random.Random) -> dict:
    name = rng.choice(sorted(_CARDS))
    n, d, hours, source = _CARDS[name]
    return {"name": name, "N": n, "D": d, "hours": hours, "source": source}


def _draw_budget(rng: random.Random) -> dict:
    model = rng.choice(sorted(k for k in tm.MODELS if not k.startswith("gpt2")))
    gpu = rng.choice(["A100-80GB", "H100-SXM"])
    mfu = rng.choice(_MFUS)
    n = tm.param_count(tm.MODELS[model])
    while True:
        # a data set of 0.2 to 15 T tokens, and a grant for it rounded as grants are; at most
        # the 30.84 M H100-hours of Llama 3.1 405B (model card)
        tokens = math.exp(rng.uniform(math.log(2e11), math.log(1.5e13)))
        hours = sig(tm.gpu_hours(tm.training_flops(n, tokens), _peak(gpu), mfu), 2)
        if 1e4 <= hours <= 3e7:
            return {"model": model, "gpu": gpu, "hours": hours, "mfu": mfu}


def _draw_throughput(rng: random.Random) -> dict:
    run, source, gpu, tflops = rng.choice(_THROUGHPUT)
    return {"run": run, "source": source, "gpu": gpu, "tflops": tflops}


def _draw_cost(rng: random.Random) -> dict:
    name = rng.choice(sorted(_RUNS))
    n, d, source = _RUNS[name]
    gpu = rng.choice(sorted(_PRICES))
    low, high = _PRICES[gpu]
    return {
        "name": name,
        "source": source,
        "N": n,
        "D": d,
        "gpu": gpu,
        "mfu": rng.choice(_MFUS),
        "price": round(rng.uniform(low, high), 2),
    }


# 02.9: not the lesson's two examples (Llama 2 7B and Llama 3.1 405B), nor two sizes that
# happen to match figures the lesson prints (Mistral 7B in bf16 is 13.49 GiB, GPT-3 in fp32
# 650 GiB).
_NOT_IN_02_9 = {
    ("llama-2-7b", "fp32"), ("llama-2-7b", "bf16"), ("llama-2-7b", "fp8"),
    ("llama-3.1-405b", "fp32"), ("llama-3.1-405b", "bf16"), ("llama-3.1-405b", "fp8"),
    ("mistral-7b", "bf16"), ("gpt3-175b", "fp32"),
}


def _draw_weights(rng: random.Random) -> dict:
    pairs = [(m, dt) for m in sorted(tm.MODELS) for dt in sorted(_BYTES)]
    model, dtype = rng.choice([p for p in pairs if p not in _NOT_IN_02_9])
    return {"model": model, "dtype": dtype}


def _draw_gb(rng: random.Random) -> dict:
    # a GPU that nvidia-smi reports on (not a TPU, not an AMD GPU)
    gpu = rng.choice(sorted(k for k, a in tm.ACCELERATORS.items() if a.vendor == "NVIDIA"))
    label_gb = tm.ACCELERATORS[gpu].memory_bytes / tm.GB
    return {"gpu": gpu, "gb": sig(rng.uniform(0.15, 0.95) * label_gb, 3)}


def _draw_dollar(rng: random.Random) -> dict:
    gpu = rng.choice(sorted(_PRICES))
    low, high = _PRICES[gpu]
    return {
        "gpu": gpu,
        "price": round(rng.uniform(low, high), 2),
        "mfu": rng.choice(_MFUS),
    }


QUESTIONS: list[Question] = [
    Question(
        "02.1",
        "How big is a PFLOP/s-day?",
        expected=lambda: tm.convert_compute(1, "PFLOP/s-day", "FLOP"),
        unit="FLOP",
        rtol=1e-3,
        kind="recall",
        text=(
            "One of the course's source texts lists the units of compute as \"FLOPs-seconds,\n"
            "which is [Floating Point Ops / Second] x [Seconds]\" and writes \"1 PFLOP-day =\n"
            "$10^{15} \\cdot 24 \\cdot 3600$ FLOP-seconds\". The arithmetic is right; the names\n"
            "are not (section 1 of the lesson says why). How many FLOPs is one PFLOP/s-day?\n"
            "Answer in **FLOP**. Then, in the cell below, say what is wrong with the names."
        ),
        discussion=(
            "**What is wrong with the names?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "$(\\text{FLOP}/\\text{s}) \\times \\text{s}$ is a count, FLOP; \"FLOP/s-seconds\" or\n"
            "\"PFLOP/s-day\" name it as a rate unit times a time unit, like a kilowatt-hour.\n"
            "\"FLOP-second\" and \"PFLOP-day\" drop the \"/s\" and so describe a count multiplied\n"
            "by a time, which is not an amount of work.\n"
            "<!-- END SOLUTION -->"
        ),
        nudge="Section 2 of the lesson: a PFLOP/s-day is a rate sustained for a time. What is "
        "the rate, and how long is a day?",
        hint="Multiply the rate, 10^15 FLOP/s, by the seconds in a day (24 × 3600): rate × time "
        "is a count of FLOPs.",
    ),
    Question(
        "02.2",
        "A rate sustained for {{hours}} hours",
        expected=lambda gpu, dtype, u, hours: tm.flops_from_rate(
            tm.delivered_flop_rate(1, _peak(gpu, dtype), u), hours * tm.SECONDS_PER_HOUR
        ),
        unit="FLOP",
        rtol=0.002,
        kind="units",
        text=(
            'One {{gpu}} runs for {{hours}} hours at {{u:.0%}} of its dense {{dtype}} peak\n'
            '(`tm.ACCELERATORS["{{gpu}}"].peak("{{dtype}}")`). How many floating-point\n'
            "operations does it do in that time? Answer in **FLOP**."
        ),
        inputs={"gpu": "H200", "dtype": "fp8", "u": 0.35, "hours": 6},
        draw=_draw_rate,
        nudge="Section 1 of the lesson: the peak is a rate (FLOP/s). What turns a rate into a "
        "count?",
        hint="C = τ·T: delivered rate (peak FLOP/s × utilisation) times the time in seconds "
        "(hours × 3600).",
    ),
    Question(
        "02.3",
        "A rate written as a count",
        expected=_seconds_at_peak,
        unit="s",
        rtol=0.002,
        kind="find the error",
        text=(
            "*The FLOPs Calculus of Language Model Training*, a blog post the course drew on,\n"
            "works an example like this: \"The peak float16 FLOPs throughput of A100 is\n"
            "$\\tau$ = 312 teraFLOPs = 3.12e14 FLOPs. […] The training must have taken at least\n"
            "$T = C / 1024\\tau / 86400$ days.\" Put the units of $\\tau$ right, then use the\n"
            "same bound for another run: {{name}} has $N = {{N:count}}$ parameters and was\n"
            "trained on $D = {{D:count}}$ tokens ({{source}}). With $C = 6ND$, how long would it\n"
            "take at least on {{n_gpus:,}} {{gpu}} GPUs running at their dense bf16 peak\n"
            '(`tm.ACCELERATORS["{{gpu}}"]`)? Answer in **seconds**, the unit that $C / \\tau$\n'
            "comes out in once $\\tau$ is a rate. Then, in the cell below, say what is wrong with\n"
            "the quoted line."
        ),
        discussion=(
            "**What is wrong with the quoted line?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "$\\tau$ is a throughput: 312 TFLOP/s $= 3.12 \\times 10^{14}$ FLOP/s, not \"FLOPs\".\n"
            "Written as FLOPs it becomes a count (what an A100 does in one second), and\n"
            "$C/\\tau$ would have no unit of time. With the \"/s\" restored the units work:\n"
            "$\\text{FLOP} / (\\text{FLOP/s}) = \\text{s}$, and dividing by 86,400 s per day\n"
            "gives days. At the peak it is a lower bound: real runs reach only part of it (the\n"
            "MFU).\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={
            "name": "Gopher",
            "source": _RUNS["Gopher"][2],
            "N": 280e9,
            "D": 300e9,
            "n_gpus": 2048,
            "gpu": "H100-SXM",
        },
        draw=_draw_blog,
        nudge="Section 1 of the lesson: which units must τ have for C / τ to be a time?",
        hint="T = 6ND / (GPUs × peak FLOP/s): FLOP / (FLOP/s) = s, so the bound comes out in "
        "seconds; dividing by 86,400 would give days.",
    ),
    Question(
        "02.4",
        "{{name}} counted exactly",
        expected=_gpt2_pf_days,
        unit="PFLOP/s-day",
        rtol=0.001,
        kind="apply",
        text=(
            "Radford et al. 2019 (GPT-2), Table 2, list {{name}} with {{n_layers}} layers,\n"
            "$d_\\text{model} = {{d_model}}$ and {{listed:,}} M parameters. The released model\n"
            "has {{n_heads}} heads, learned positions over 1024 tokens, a vocabulary of 50,257\n"
            "and an LM head tied to the embedding. Build its `tm.ModelConfig`, count its\n"
            "parameters exactly, and give the training compute $6ND$ of a replication trained on\n"
            "$D = {{D:count}}$ tokens. Answer in **PFLOP/s-days**."
        ),
        inputs={
            "model": "gpt2-medium",
            "name": "GPT-2 medium",
            "listed": 345,
            "n_layers": 24,
            "d_model": 1024,
            "n_heads": 16,
            "D": 40e9,
        },
        draw=_draw_gpt2,
        nudge="Section 2 of the lesson counts GPT-3's parameters exactly from its shape. Is the "
        "size the table lists the exact count?",
        hint="Per layer a GPT-2 block has 12·d² + 13·d weights and biases; add the token "
        "embedding V·d, the position table 1024·d and the final norm 2·d. Then 6·N·D, divided "
        "by 8.64e19 FLOP per PFLOP/s-day.",
    ),
    Question(
        "02.5",
        "What the {{name}} GPU-hours imply",
        expected=_card_utilisation,
        unit="",
        rtol=0.002,
        kind="apply",
        text=(
            "Touvron et al. 2023 (LLaMA), Table 15, report {{hours:,}} A100-80GB GPU-hours for\n"
            "{{name}}, which has $N = {{N:count}}$ parameters and was trained on\n"
            "$D = {{D:count}}$ tokens ({{source}}). With $C = 6ND$, what fraction of the A100's\n"
            'dense 16-bit peak (`tm.ACCELERATORS["A100-80GB"].peak("bf16")`; fp16 is the same)\n'
            "did those hours deliver on average? Answer as a **fraction**."
        ),
        inputs={
            "name": "BLOOM",
            "N": 176e9,
            "D": 366e9,
            "hours": 1_082_880,
            "source": "BigScience 2022",
        },
        draw=_draw_card,
        nudge="Section 6 of the lesson reads a model card's GPU-hours backwards. What could those "
        "hours have delivered at the peak?",
        hint="Utilisation = 6ND / (GPU-hours × 3600 s × peak FLOP/s), with the A100's 312e12 "
        "FLOP/s.",
    ),
    Question(
        "02.6",
        "Tokens from a GPU-hour budget",
        expected=_tokens_from_hours,
        unit="tokens",
        rtol=0.002,
        kind="apply",
        text=(
            "Your lab is granted {{hours:,}} {{gpu}} GPU-hours to pre-train\n"
            '`tm.MODELS["{{model}}"]` in bf16, and expects {{mfu:.0%}} MFU. On how many tokens\n'
            "can it train the model, counting $6N$ FLOPs per token ($N$ = `tm.param_count`)?\n"
            "Answer in **tokens**."
        ),
        inputs={"model": "mistral-7b", "gpu": "H100-SXM", "hours": 80_000, "mfu": 0.38},
        draw=_draw_budget,
        nudge="Section 3 of the lesson: a GPU-hour is time, not work. What three things turn it "
        "into FLOPs?",
        hint="C = GPU-hours × 3600 × peak (dense bf16) × MFU; then D = C / (6N).",
    ),
    Question(
        "02.7",
        "The sparse peak",
        expected=lambda run, source, gpu, tflops: tflops * 1e12
        / tm.sparse_peak_flops(_peak(gpu)),
        unit="",
        rtol=0.005,
        kind="apply",
        text=(
            "{{run}} delivered {{tflops}} TFLOP/s per GPU\n"
            "({{source}}). A colleague computes the run's MFU against the bf16 figure that\n"
            "NVIDIA's {{gpu}} data sheet prints in its headline, which is the 2:4-sparse one.\n"
            'What MFU do they report? Use the dense peak of `tm.ACCELERATORS["{{gpu}}"]` to\n'
            "find the sparse figure. Answer as a **fraction**."
        ),
        inputs={
            "run": "Megatron-LM's 310.1 B model on 1,920 A100s",
            "source": "Narayanan et al. 2021, Table 1",
            "gpu": "A100-80GB",
            "tflops": 155,
        },
        draw=_draw_throughput,
        nudge="Section 4 of the lesson: how does a data sheet's figure \"with sparsity\" relate "
        "to the dense peak?",
        hint="The 2:4-sparse figure is twice the dense peak; MFU = achieved FLOP/s / that figure.",
    ),
    Question(
        "02.8",
        "What {{name}} would cost on rented GPUs",
        expected=_run_cost,
        unit="USD",
        rtol=0.002,
        kind="apply",
        text=(
            "{{name}} has $N = {{N:count}}$ parameters and was trained on $D = {{D:count}}$\n"
            "tokens ({{source}}). Suppose you train it again on rented {{gpu}} GPUs at\n"
            "**\\${{price:.2f}} per GPU-hour** (an assumption) and reach {{mfu:.0%}} MFU in bf16.\n"
            "What does the $6ND$ training compute cost? Answer in **USD**."
        ),
        inputs={
            "name": "Chinchilla",
            "source": _RUNS["Chinchilla"][2],
            "N": 70e9,
            "D": 1.4e12,
            "gpu": "H100-SXM",
            "mfu": 0.42,
            "price": 2.4,
        },
        draw=_draw_cost,
        nudge="Section 5 of the lesson: money is GPU-hours times a price. How many GPU-hours "
        "does the compute take?",
        hint="GPU-hours = 6ND / (peak FLOP/s × MFU) / 3600 with the dense bf16 peak; cost = "
        "GPU-hours × price.",
    ),
    Question(
        "02.9",
        "Weights in GiB",
        expected=_weights_gib,
        unit="GiB",
        rtol=0.001,
        kind="units",
        text=(
            'How much memory do the weights of `tm.MODELS["{{model}}"]` take in {{dtype}}\n'
            "(exact parameter count, `tm.param_count`)? Answer in **GiB**."
        ),
        inputs={"model": "gopher-280b", "dtype": "bf16"},
        draw=_draw_weights,
        nudge="Section 7 of the lesson: how many bytes does one parameter take in this dtype, and "
        "how many bytes are in a GiB?",
        hint="Bytes = parameters × bytes per parameter (fp32 4, bf16 2, fp8 1); 1 GiB = 2^30 "
        "bytes, not 10^9.",
    ),
    Question(
        "02.10",
        "What nvidia-smi will show",
        expected=lambda gpu, gb: tm.GB * gb / tm.MiB,
        unit="MiB",
        rtol=0.002,
        kind="units",
        text=(
            "Your estimate says a training process will hold {{gb}} GB ($10^9$ bytes each) on one\n"
            "{{gpu}} GPU. `nvidia-smi` reports memory in MiB. What number should you expect it to\n"
            "show for the process? Answer in **MiB**."
        ),
        inputs={"gpu": "H100-SXM", "gb": 61.3},
        draw=_draw_gb,
        nudge="Section 7 of the lesson: is nvidia-smi's MiB a power of 2 or of 10?",
        hint="Turn GB into bytes (× 10^9), then divide by 1 MiB = 2^20 bytes.",
    ),
    Question(
        "02.11",
        "What a dollar buys",
        expected=_flops_per_dollar,
        unit="FLOP",
        rtol=0.3,
        kind="estimate",
        text=(
            "Without a calculator: you rent {{gpu}} GPUs at \\${{price:.2f}} per GPU-hour and\n"
            "reach {{mfu:.0%}} MFU in bf16. Roughly how many FLOPs does one dollar buy? Any\n"
            "answer within 30 % counts. Answer in **FLOP**."
        ),
        inputs={"gpu": "A100-80GB", "price": 1.8, "mfu": 0.45},
        draw=_draw_dollar,
        nudge="Section 5 of the lesson: a dollar buys a fraction of a GPU-hour. How much work is "
        "in one GPU-hour?",
        hint="FLOPs per dollar = peak FLOP/s × MFU × 3600 s / price per GPU-hour; round the peak "
        "to one or two figures.",
    ),
]
