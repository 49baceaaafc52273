"""Answer key of lesson 09, "Capstone: plan a training run" (``exercises/09_capstone.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use, and a draw that
makes a variant from real presets, published runs and sensible ranges. Every question plans a
different run from the lesson's worked examples (Llama 3 405B's 3.8e25 FLOPs on 16,384 H100s,
$50M at $2.00, the 563B Chinchilla plan), so the lesson teaches the method and the exercise
makes the learner use it. The question's text and its solution read those inputs; every
expected value is computed from them with :mod:`trainmath` functions, never typed in. Prices
per GPU-hour are the questions' stated assumptions, not quotes.
"""

from __future__ import annotations

import random

import trainmath as tm
from trainmath import capstone
from trainmath.answers import Question, log_uniform, sig
from trainmath.answers._published import runs

__all__ = ["QUESTIONS"]

# Accelerators a plan may rent, with the range of prices per GPU-hour a draw picks from
# (assumptions for the exercise, not quotes) and the training dtype whose peak is used.
_RENT = {"A100-80GB": (1.2, 2.2), "H100-SXM": (1.9, 3.5), "H200": (2.5, 4.2)}
_MFUS = [0.32, 0.35, 0.38, 0.42, 0.45, 0.48]

_RUNS = runs(
    "Chinchilla", "Gopher", "GPT-3 175B", "OPT-175B", "BLOOM", "LLaMA 65B", "Llama 2 70B",
    "Llama 3 8B", "Llama 3 70B",
)
# Splits whose tokens-per-parameter ratio 09.12 borrows: the runs above, and the split that
# Llama 3's own scaling-law fit chose for its budget (the lesson's section 2 prints that one).
_RATIOS = {
    **_RUNS,
    "Llama 3's scaling-law choice": (402e9, 16.55e12, "Llama 3 paper, arXiv:2407.21783, "
                                     "Sec. 3.2.1"),
}

# Model cards with pre-training GPU-hours: (preset with the same shape, display name,
# training tokens D, GPU-hours, accelerator, source).
_CARDS = {
    "Llama 2 7B": ("llama-2-7b", 2e12, 184_320, "A100-80GB",
                   "Touvron et al. 2023 (Llama 2), Tables 1 and 2"),
    "Llama 2 13B": ("llama-2-13b", 2e12, 368_640, "A100-80GB",
                    "Touvron et al. 2023 (Llama 2), Tables 1 and 2"),
    "Llama 2 70B": ("llama-2-70b", 2e12, 1_720_320, "A100-80GB",
                    "Touvron et al. 2023 (Llama 2), Tables 1 and 2"),
    "Llama 3 8B": ("llama-3-8b", 15e12, 1_300_000, "H100-SXM", "Llama 3 model card"),
    "Llama 3 70B": ("llama-3-70b", 15e12, 6_400_000, "H100-SXM", "Llama 3 model card"),
    "Llama 3.1 8B": ("llama-3-8b", 15e12, 1_460_000, "H100-SXM", "Llama 3.1 model card"),
    "Llama 3.1 70B": ("llama-3-70b", 15e12, 7_000_000, "H100-SXM", "Llama 3.1 model card"),
}

# Presets with the Llama recipe (SwiGLU, RMSNorm, rotary positions, no biases, untied head),
# whose per-GPU parameters follow the lesson's formula of section 4. 09.5 leaves out
# Llama 3 405B, whose Table 4 layout the lesson works through.
_LLAMA_STYLE = ("llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b",
                "mistral-7b")
_MEMORY = ("A100-40GB", "A100-80GB", "H100-SXM", "H200")


def _peak(gpu: str) -> float:
    return tm.ACCELERATORS[gpu].peak("bf16")


def _price(rng: random.Random, gpu: str) -> float:
    low, high = _RENT[gpu]
    return round(rng.uniform(low, high), 2)


def _usd(rng: random.Random, low: float, high: float) -> int:
    return int(log_uniform(rng, low, high, 2))


# --- draws ----------------------------------------------------------------------------------


def _draw_money(rng: random.Random) -> dict:
    gpu = rng.choice(sorted(_RENT))
    return {"usd": _usd(rng, 3e6, 40e6), "price": _price(rng, gpu), "gpu": gpu,
            "mfu": rng.choice(_MFUS)}


def _draw_days(rng: random.Random) -> dict:
    return {
        "gpu": rng.choice(sorted(_RENT)),
        "n_gpus": rng.choice([512, 768, 1024, 1536, 2048, 3072, 4096, 6144]),
        "days": rng.choice([21, 30, 35, 45, 50, 60, 75, 90]),
        "mfu": rng.choice(_MFUS),
        "k": rng.choice([20, 20, 25, 30]),
    }


def _draw_ffn(rng: random.Random) -> dict:
    # Widths in whole KV groups of 8 x 128; not the lesson's 4096, 8192, 16,384 or 17,408.
    d = 1024 * rng.choice([3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 18, 20, 24])
    return {"d": d, "mult": rng.choice([1.0, 1.2, 1.3, 1.5]),
            "multiple": rng.choice([256, 1024, 4096])}


def _draw_floor(rng: random.Random) -> dict:
    # A plan of the frontier's size (the lesson's are 563B and 405B on H100s with all the
    # memory), and a floor of at least a hundred GPUs, so the ceiling matters.
    for _ in range(200):
        x = {"N": sig(log_uniform(rng, 300e9, 2.5e12), 2), "gpu": rng.choice(_MEMORY),
             "bytes_per_param": 16, "fraction": rng.choice([0.8, 0.85, 0.9])}
        if _floor(**x) >= 100:
            return x
    raise RuntimeError("no plan found")  # pragma: no cover


def _layout_gb(model, tp, pp, dp, micro_batch, n_micro, zero, recompute) -> float:
    m = tm.memory_per_gpu(
        tm.MODELS[model], micro_batch=micro_batch, n_microbatches=n_micro, zero_stage=zero,
        dp=dp, tp=tp, pp=pp, sequence_parallel=True, recompute=recompute,
    )
    return tm.bytes_to_gb(m.total)


def _draw_layout(rng: random.Random) -> dict:
    # A layout a team could run: TP inside a node, whole KV groups per rank, and a busiest
    # GPU that needs between 20 and 76 GB (fits in 80 GB with a little headroom).
    for _ in range(200):
        model = rng.choice(_LLAMA_STYLE)
        cfg = tm.MODELS[model]
        tp = rng.choice([t for t in (2, 4, 8) if cfg.n_kv_heads % t == 0])
        pp = rng.choice([p for p in (1, 2, 4, 8) if p <= cfg.n_layers])
        x = {"model": model, "tp": tp, "pp": pp, "dp": rng.choice([8, 16, 32, 64, 128]),
             "micro_batch": rng.choice([1, 1, 2]), "n_micro": pp * rng.choice([1, 2, 4]),
             "zero": rng.choice([1, 2, 3]), "recompute": rng.choice(["selective", "full"])}
        if 20 <= _layout_gb(**x) <= 76:
            return x
    raise RuntimeError("no layout found")  # pragma: no cover


def _draw_deadline(rng: random.Random) -> dict:
    gpu = rng.choice(sorted(_RENT))
    return {"usd": _usd(rng, 2e6, 30e6), "price": _price(rng, gpu), "gpu": gpu,
            "days": rng.choice([28, 30, 40, 45, 50, 60, 75, 90])}


def _draw_mfu_gain(rng: random.Random) -> dict:
    name = rng.choice(sorted(_RUNS))
    n, d, source = _RUNS[name]
    gpu = rng.choice(sorted(_RENT))
    low = rng.choice([0.25, 0.3, 0.32, 0.35])
    return {"name": name, "source": source, "N": n, "D": d, "gpu": gpu,
            "price": _price(rng, gpu), "mfu_low": low,
            "mfu_high": round(low + rng.choice([0.08, 0.1, 0.12, 0.15]), 2)}


def _draw_card(rng: random.Random) -> dict:
    name = rng.choice(sorted(_CARDS))
    model, d, hours, gpu, source = _CARDS[name]
    return {"name": name, "model": model, "D": d, "gpu_hours": hours, "gpu": gpu,
            "source": source}


def _draw_corollary(rng: random.Random) -> dict:
    return {"N1": rng.choice([7e9, 8e9, 13e9, 30e9, 34e9, 65e9, 70e9]),
            "f": rng.choice([1.5, 2, 2.5, 3, 4]),
            "n1": 8 * rng.randrange(40, 500)}


def _draw_inference(rng: random.Random) -> dict:
    return {"C": log_uniform(rng, 3e23, 3e25, 2), "d_inf": log_uniform(rng, 2e12, 2e14, 1)}


def _draw_estimate(rng: random.Random) -> dict:
    gpu = rng.choice(sorted(_RENT))
    return {"N": sig(log_uniform(rng, 1.5e12, 3e12, 2), 2), "gpu": gpu,
            "mfu": rng.choice(_MFUS), "price": _price(rng, gpu)}


def _ratio_inputs(name: str) -> dict:
    # In billions, as the papers print them (16,550 B tokens keeps all of 16.55 T's digits).
    n, d, source = _RATIOS[name]
    return {"name": name, "source": source, "N_B": sig(n / 1e9, 4), "D_B": sig(d / 1e9, 4)}


def _draw_ratio(rng: random.Random) -> dict:
    return {**_ratio_inputs(rng.choice(sorted(_RATIOS))), "C": log_uniform(rng, 1e23, 2e25, 2)}


# --- expected values ------------------------------------------------------------------------


def _floor(N, gpu, bytes_per_param, fraction):
    # The text states the bytes per parameter; tm.min_gpus_to_fit counts them from the
    # setup, mixed-precision AdamW by default (2 + 2 + 12 = 16), so the two must agree.
    if bytes_per_param != tm.training_bytes_per_param()["total"]:
        raise ValueError(
            f"09.4 counts mixed-precision AdamW (16 bytes per parameter, tm.min_gpus_to_fit's "
            f"default), got bytes_per_param={bytes_per_param!r}"
        )
    return tm.min_gpus_to_fit(
        N, tm.ACCELERATORS[gpu].memory_bytes, zero_stage=3, usable_fraction=fraction
    )


def _mfu_gain(name, source, N, D, gpu, price, mfu_low, mfu_high):
    low, high = (
        capstone.plan_run(N, D, accelerator=gpu, mfu=u, price_per_gpu_hour=price).cost
        for u in (mfu_low, mfu_high)
    )
    return low - high


def _card(name, model, D, gpu_hours, gpu, source):
    flops = tm.training_flops(tm.param_count(tm.MODELS[model]), D)
    return tm.implied_utilisation(flops, gpu_hours, _peak(gpu))


def _corollary(N1, f, n1):
    # Same wall clock, same throughput per GPU: GPUs scale with the compute 6ND, D = 20 N.
    small = capstone.plan_run(N1, 20 * N1, n_gpus=1).days
    big = capstone.plan_run(f * N1, 20 * f * N1, n_gpus=1).days
    return n1 * big / small


def _inference(C, d_inf):
    return capstone.plan_training_run(C, rule="inference-aware", inference_tokens=d_inf,
                                      fit="epoch").n_params


def _estimate(N, gpu, mfu, price):
    return capstone.plan_run(N, 20 * N, accelerator=gpu, mfu=mfu,
                             price_per_gpu_hour=price).cost


QUESTIONS: list[Question] = [
    Question(
        "09.1",
        "A money budget in FLOPs",
        expected=lambda usd, price, gpu, mfu: tm.budget_to_flops(usd, _peak(gpu), mfu, price),
        unit="FLOP",
        rtol=0.01,
        kind="apply",
        text=(
            "A lab is offered \\${{usd:,}} of {{gpu}} time at \\${{price:.2f}} per GPU-hour,\n"
            "and its training stack reaches {{mfu:.0%}} MFU in bf16 (the GPU's dense bf16 peak,\n"
            '`tm.ACCELERATORS["{{gpu}}"].peak("bf16")`). What compute budget $C$ does the money\n'
            "buy? Answer in **FLOP**."
        ),
        inputs={"usd": 18_000_000, "price": 2.65, "gpu": "H100-SXM", "mfu": 0.42},
        draw=_draw_money,
        nudge="Section 1 of the lesson: money buys GPU-hours; what does one GPU-hour deliver?",
        hint="GPU-hours = money / price; C = GPU-hours × 3600 s × peak FLOP/s × MFU.",
    ),
    Question(
        "09.2",
        "A time budget, split by the Chinchilla rule",
        expected=lambda gpu, n_gpus, days, mfu, k: tm.chinchilla_optimal(
            tm.flops_in_days(days, n_gpus, _peak(gpu), mfu), k
        )[0],
        unit="params",
        rtol=0.005,
        kind="apply",
        text=(
            "A team can use {{n_gpus:,}} {{gpu}} GPUs for {{days}} days of training at\n"
            "{{mfu:.0%}} MFU (dense bf16 peak). It splits the compute with $D = kN$,\n"
            "$k = {{k}}$ tokens per parameter. How many parameters should the model have?\n"
            "Answer in **parameters**."
        ),
        inputs={"gpu": "A100-80GB", "n_gpus": 3072, "days": 50, "mfu": 0.45, "k": 20},
        draw=_draw_days,
        nudge="Sections 1 and 2 of the lesson: first turn the days into a compute budget, then "
        "split it with D = kN.",
        hint="C = GPUs × peak × MFU × days × 86,400 s; with D = kN, C = 6kN², so "
        "N = sqrt(C / (6k)).",
    ),
    Question(
        "09.3",
        "A Llama MLP's width",
        expected=lambda d, mult, multiple: capstone.ffn_hidden_dim(d, mult, multiple),
        unit="",
        rtol=0.0,
        kind="apply",
        text=(
            "Meta's reference code sizes a Llama MLP from the hidden size $d$: start from $4d$,\n"
            "keep two thirds of it (truncating to an integer), multiply by `ffn_dim_multiplier`\n"
            "(truncating again) and round *up* to a multiple of `multiple_of`. A new model has\n"
            "$d = {{d:tex}}$, multiplier {{mult}} and `multiple_of` = {{multiple:,}}. What is its\n"
            "$d_\\text{ff}$? Answer as an **exact integer**."
        ),
        inputs={"d": 12288, "mult": 1.3, "multiple": 1024},
        draw=_draw_ffn,
        nudge="Section 4 of the lesson: the rule has three steps, two truncations and one "
        "rounding up.",
        hint="h = int(2·4d/3); h = int(multiplier·h); then the smallest multiple of "
        "`multiple_of` that is >= h.",
    ),
    Question(
        "09.4",
        "A memory floor",
        expected=_floor,
        unit="",
        rtol=0.0,
        kind="apply",
        text=(
            "A plan calls for a model of $N = {{N:count}}$ parameters, trained with\n"
            "mixed-precision AdamW: {{bytes_per_param}} bytes of model state per parameter, on\n"
            '{{gpu}} GPUs (`tm.ACCELERATORS["{{gpu}}"].memory_bytes`). Keeping\n'
            "{{fraction:.0%}} of each GPU's memory for the states and the rest for everything\n"
            "else, what is the fewest number of GPUs that could hold the states at all, sharded\n"
            "perfectly over all of them? Answer as an **exact integer**."
        ),
        inputs={"N": 1.1e12, "gpu": "H100-SXM", "bytes_per_param": 16, "fraction": 0.9},
        draw=_draw_floor,
        nudge="Section 5 of the lesson: a floor before any activation is stored. How many bytes "
        "do the states need, and how many can one GPU give them?",
        hint="GPUs = ceil(bytes per parameter × N / (fraction × memory per GPU)); a fraction of "
        "a GPU still needs a whole one.",
    ),
    Question(
        "09.5",
        "The busiest GPU of a layout",
        expected=_layout_gb,
        unit="GB",
        rtol=0.005,
        kind="apply",
        text=(
            'A team trains `tm.MODELS["{{model}}"]` on sequences of its pre-training context\n'
            "(its `seq_len`) with TP {{tp}} × PP {{pp}} × DP {{dp}}: micro-batches of\n"
            "{{micro_batch}} sequence(s), {{n_micro}} micro-batches per step, sequence\n"
            "parallelism, {{recompute}} recomputation and ZeRO stage {{zero}}, bf16 weights and\n"
            "gradients with AdamW.\n"
            "How much memory does the busiest GPU need, by the accounting of\n"
            "`tm.memory_per_gpu`? Answer in decimal **GB**."
        ),
        inputs={"model": "llama-3-70b", "tp": 8, "pp": 4, "dp": 32, "micro_batch": 1,
                "n_micro": 16, "zero": 1, "recompute": "selective"},
        draw=_draw_layout,
        nudge="Section 5 of the lesson: the busiest GPU holds its share of the model states "
        "and the activations of the micro-batches in flight on the first pipeline stage.",
        hint="Parameters on the last stage: ceil(L/pp) layers split t ways (norms replicated) "
        "plus the final norm and the V·d/t LM head. States: 2 + 2 + 12 bytes per parameter, "
        "each divided by dp once ZeRO shards it (stage 1: optimizer, 2: + gradients, "
        "3: + weights). Activations per layer: 34·s·b·d/t (selective, sequence parallel) or "
        "2·s·b·d/t (full), times ceil(L/pp) layers, times min(pp, micro-batches).",
    ),
    Question(
        "09.6",
        "Meeting a deadline with a money budget",
        expected=lambda usd, price, gpu, days: usd / price / (days * 24),
        unit="GPUs",
        rtol=0.005,
        kind="apply",
        text=(
            "A \\${{usd:,}} budget for {{gpu}} time at \\${{price:.2f}} per GPU-hour must be\n"
            "spent within {{days}} days of wall clock. How many GPUs must run side by side?\n"
            "Answer as a **number of GPUs** (no rounding needed). Does the MFU matter?"
        ),
        inputs={"usd": 7_500_000, "price": 2.8, "gpu": "H100-SXM", "days": 40},
        draw=_draw_deadline,
        nudge="Section 1 of the lesson: what does money fix, and what does the number of GPUs "
        "only spread over the calendar?",
        hint="Money / price = GPU-hours, whatever the MFU; GPU-hours = GPUs × days × 24.",
    ),
    Question(
        "09.7",
        "What a better MFU saves",
        expected=_mfu_gain,
        unit="USD",
        rtol=0.01,
        kind="apply",
        text=(
            "Suppose {{name}} ($N = {{N:count}}$ parameters on $D = {{D:count}}$ tokens,\n"
            "{{source}}) were trained again today on rented {{gpu}} GPUs at\n"
            "\\${{price:.2f}} per GPU-hour, with $C = 6ND$. How much money does raising the MFU\n"
            "from {{mfu_low:.0%}} to {{mfu_high:.0%}} save? Answer in **USD**."
        ),
        inputs={"name": "Llama 3 70B", "source": _RUNS["Llama 3 70B"][2], "N": 70e9,
                "D": 15e12, "gpu": "H100-SXM", "price": 2.2, "mfu_low": 0.35,
                "mfu_high": 0.45},
        draw=_draw_mfu_gain,
        nudge="Section 6 of the lesson: which assumptions move the cost, and how does the cost "
        "depend on the MFU?",
        hint="Cost = 6ND / (peak × MFU × 3600) × price, inversely proportional to the MFU; "
        "compute it at both MFUs and subtract.",
    ),
    Question(
        "09.8",
        "Reading a model card",
        expected=_card,
        unit="",
        rtol=0.003,
        kind="apply",
        text=(
            "Pre-training {{name}} on about $D = {{D:count}}$ tokens took {{gpu_hours:,}}\n"
            "{{gpu}} GPU-hours ({{source}}). Take $N$ from the preset with the\n"
            'same shape, `tm.MODELS["{{model}}"]` (`tm.param_count`), count $6ND$, and the\n'
            "GPU's dense bf16 peak. What average utilisation do the card's hours imply?\n"
            "Answer as a **fraction**."
        ),
        inputs={"name": "Llama 2 7B", "model": "llama-2-7b", "D": 2e12, "gpu_hours": 184_320,
                "gpu": "A100-80GB", "source": _CARDS["Llama 2 7B"][4]},
        draw=_draw_card,
        nudge="Section 7 of the lesson: the card gives GPU-hours of time held; compare them "
        "with what the model's FLOPs need at full peak.",
        hint="Utilisation = 6ND / (GPU-hours × 3600 s × peak FLOP/s).",
    ),
    Question(
        "09.9",
        "What the corollary assumes",
        expected=_corollary,
        unit="GPUs",
        rtol=0.005,
        kind="concept",
        text=(
            "A popular blog post, *The FLOPs Calculus of Language Model Training*, draws a\n"
            "corollary from $\\tau T = 6ND$: \"assuming constant\n"
            "throughput, the training time grows linearly with the model size\", so a model\n"
            "$f$ times larger needs $f$ times the GPUs or $f$ times the wall clock.\n\n"
            "A team trained a compute-optimal model of $N = {{N1:count}}$ parameters\n"
            "($D = 20N$ tokens) on {{n1:,}} GPUs. Its next model is {{f}} times larger, also\n"
            "compute-optimal, and must finish in the same wall-clock time on the same kind of\n"
            "GPU at the same throughput per GPU. How many GPUs does it need? Answer as a\n"
            "**number of GPUs**. Then, in the cell below, say what the corollary assumes."
        ),
        discussion=(
            "**What does the corollary assume?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "It holds the training data fixed. With $D$ fixed, $C = 6ND$ and the time at\n"
            "constant throughput grow in proportion to $N$, exactly as the post says: the same\n"
            "tokens on a model {{f}} times larger take {{f}} times the GPU-hours. A\n"
            "compute-optimal plan scales the data with the model ($D = 20N$), so\n"
            "$C = 120N^2$ and the compute grows with the *square* of the model size: {{f}}²\n"
            "times the GPUs for the same wall clock, not {{f}} times. The corollary is right\n"
            "about its own assumption; \"twice the model, twice the time\" describes a bigger\n"
            "model on the same data, which leaves it under-trained by the Chinchilla rule.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"N1": 13e9, "f": 2.5, "n1": 1112},
        draw=_draw_corollary,
        nudge="Section 6 of the lesson (and section 2's D = kN): what happens to D when a "
        "compute-optimal plan grows N?",
        hint="C = 6ND with D = 20N is 120N², so the compute grows by f²; at the same wall clock "
        "and throughput per GPU the GPU count grows by the same factor.",
    ),
    Question(
        "09.10",
        "A model that will be served",
        expected=_inference,
        unit="params",
        rtol=0.01,
        kind="apply",
        text=(
            "A budget of $C$ = {{C:.2g}} FLOPs fixes the target: the loss that the budget's\n"
            "loss-optimal model reaches under the Epoch AI fit (`tm.FITS[\"epoch\"]`, Besiroglu\n"
            "et al. 2024). The model will then serve $D_\\text{inf}$ = {{d_inf:.1g}} tokens over\n"
            "its life. Which model size reaches the target with the fewest training +\n"
            "inference FLOPs, $6ND + 2ND_\\text{inf}$ (Sardana et al. 2023, Sec. 2)?\n"
            "Answer in **parameters**."
        ),
        inputs={"C": 8e24, "d_inf": 2e13},
        draw=_draw_inference,
        nudge="Section 3 of the lesson: first the loss-optimal split of C and its loss, then "
        "every model that reaches that loss, each with its own training data.",
        hint="N_opt = G (C/6)^(β/(α+β)) with G = (αA/(βB))^(1/(α+β)); target ℓ = L(N_opt, "
        "C/(6 N_opt)). For each N, D(N) = (B / (ℓ − E − A/N^α))^(1/β); minimise "
        "6·N·D(N) + 2·N·D_inf over N.",
    ),
    Question(
        "09.11",
        "Order of magnitude: what a frontier model costs",
        expected=_estimate,
        unit="USD",
        rtol=0.3,
        kind="estimate",
        text=(
            "Roughly what does it cost to train a compute-optimal ($D = 20N$) model of\n"
            "$N = {{N:count}}$ parameters on {{gpu}} GPUs at {{mfu:.0%}} MFU (dense bf16 peak)\n"
            "and \\${{price:.2f}} per GPU-hour? Any answer within 30 % counts. Answer in **USD**."
        ),
        inputs={"N": 1.2e12, "gpu": "H100-SXM", "mfu": 0.42, "price": 2.1},
        draw=_draw_estimate,
        nudge="Section 6 of the lesson: the chain is N -> D -> C -> GPU-hours -> dollars.",
        hint="C = 6·N·20N = 120N²; GPU-hours = C / (peak × MFU × 3600); cost = GPU-hours × "
        "price.",
    ),
    Question(
        "09.12",
        "Planning with a published ratio",
        expected=lambda name, source, N_B, D_B, C: tm.chinchilla_optimal(C, D_B / N_B)[0],
        unit="params",
        rtol=0.005,
        kind="apply",
        text=(
            "{{name}} put $D = {{D_B:tex}}$ B tokens on $N = {{N_B:tex}}$ B parameters\n"
            "({{source}}). Take its tokens-per-parameter ratio $k = D/N$ as your planning\n"
            "rule and split a budget of exactly $C$ = {{C:.2g}} FLOPs with $D = kN$. How many\n"
            "parameters does that give? Answer in **parameters**."
        ),
        inputs={**_ratio_inputs("Llama 3's scaling-law choice"), "C": 1.2e25},
        draw=_draw_ratio,
        nudge="Section 2 of the lesson: a fixed ratio D = kN and C = 6ND leave one unknown.",
        hint="k = D/N of the run; C = 6kN², so N = sqrt(C / (6k)).",
    ),
]
