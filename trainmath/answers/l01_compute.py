"""Answer key of lesson 01, "Training compute" (``exercises/01_compute.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use, and a draw that
makes a variant from real presets, published runs and sensible ranges. The question's text
and its solution read those inputs; every expected value is computed from them with
:mod:`trainmath` functions, never typed in.
"""

from __future__ import annotations

import random

import trainmath as tm
from trainmath.answers import Question, sig
from trainmath.answers._published import MEGATRON_TABLE1, runs

__all__ = ["QUESTIONS"]

_RUNS = runs("Chinchilla", "Gopher", "OPT-175B", "BLOOM", "LLaMA 65B", "Llama 2 70B", "Llama 3 70B")
_MEGATRON = list(MEGATRON_TABLE1)

# Presets whose training tokens D the model cards state (Llama 2: 2.0 T; Llama 3: 15 T).
_TOKENS = {
    "llama-2-7b": 2e12, "llama-2-13b": 2e12, "llama-2-70b": 2e12,
    "llama-3-8b": 15e12, "llama-3-70b": 15e12,
}
_GPUS = {"A100-80GB": "bf16", "H100-SXM": "bf16"}
# 01.4: not the lesson's examples (GPT-2, Llama 3 8B, GPT-3 in Table D.1), and not the
# relative-position models (their extra projection of the encodings is lesson 10's topic).
_NOT_IN_01_4 = ("gpt2", "llama-3-8b", "gpt3-175b", "chinchilla-70b", "gopher-280b")


def _run(rng: random.Random) -> dict:
    name = rng.choice(sorted(_RUNS))
    n, d, source = _RUNS[name]
    return {"name": name, "source": source, "N": n, "D": d}


def _preset(rng: random.Random, exclude: tuple[str, ...] = ()) -> str:
    return rng.choice(sorted(k for k in tm.MODELS if k not in exclude))


def _draw_layer(rng: random.Random) -> dict:
    model = _preset(rng, exclude=("llama-2-7b",))  # lesson section 1 works that one
    cfg = tm.MODELS[model]
    m = rng.choice([512, 1024, 2048, 8192, 16384])
    return {"model": model, "m": m, "k": cfg.d_model, "n": cfg.d_ff}


def _draw_attention(rng: random.Random) -> dict:
    model = _preset(rng, exclude=("gpt3-175b", "llama-3.1-405b"))  # the lesson's examples
    return {"model": model, "s": rng.choice([1024, 2048, 4096, 16384, 32768])}


def _draw_days(rng: random.Random) -> dict:
    model = rng.choice(sorted(_TOKENS))
    return {
        "model": model,
        "D": _TOKENS[model],
        "n_gpus": rng.choice([1024, 2048, 3072, 4096, 6144]),
        "tflops": rng.choice([330, 350, 370, 390, 410, 450]),
    }


def _draw_mfu(rng: random.Random) -> dict:
    model = rng.choice(sorted(_TOKENS))
    gpu = rng.choice(sorted(_GPUS))
    n_gpus = rng.choice([128, 256, 512, 1024])
    peak = tm.ACCELERATORS[gpu].peak(_GPUS[gpu])
    n = tm.param_count(tm.MODELS[model])
    # a throughput that a real run could log: MFU between 30 % and 55 %
    rate = tm.delivered_flop_rate(n_gpus, peak, rng.uniform(0.30, 0.55))
    tps = sig(rate / tm.training_flops(n, 1), 2)
    return {"model": model, "gpu": gpu, "n_gpus": n_gpus, "tokens_per_s": tps}


def _draw_recompute(rng: random.Random) -> dict:
    billions, n_gpus, tflops = rng.choice(_MEGATRON)
    return {
        "N_billion": billions,
        "D": rng.choice([100e9, 300e9, 450e9, 1e12]),
        "n_gpus": n_gpus,
        "tflops": tflops,
    }


def _draw_long_context(rng: random.Random) -> dict:
    model = rng.choice(["llama-2-70b", "llama-3-70b", "llama-3-8b", "mistral-7b", "gopher-280b"])
    return {
        "model": model,
        "d": tm.MODELS[model].d_model,
        "s": rng.choice([65536, 131072, 262144]),
    }


def _draw_gpu_hours(rng: random.Random) -> dict:
    model = rng.choice(sorted(_TOKENS))
    return {
        "model": model,
        "D": _TOKENS[model],
        "gpu": rng.choice(sorted(_GPUS)),
        "mfu": rng.choice([0.3, 0.35, 0.45, 0.5]),
    }


def _name(model: str) -> str:
    return tm.MODELS[model].name


def _peak(gpu: str) -> float:
    return tm.ACCELERATORS[gpu].peak(_GPUS[gpu])


QUESTIONS: list[Question] = [
    Question(
        "01.1",
        "The backward pass of one layer",
        expected=lambda model, m, k, n: tm.backward_flops(k * n, m),
        unit="FLOP",
        rtol=0.01,
        kind="apply",
        text=(
            "A linear layer $Y = XW$ receives a batch of $m = {{m:tex}}$ tokens: $X$ is\n"
            "${{m}} \\times {{k}}$ and $W$ is ${{k}} \\times {{n}}$, the shape of the MLP\n"
            'up-projection of `tm.MODELS["{{model}}"]`. How many FLOPs does the **backward**\n'
            "pass through this layer cost, counting both gradients it has to produce?\n"
            "Answer in **FLOP**."
        ),
        inputs={"model": "llama-2-13b", "m": 2048, "k": 5120, "n": 13824},
        draw=_draw_layer,
        nudge="Section 1 of the lesson: the backward pass of Y = XW has to produce two "
        "gradients. Which two, and how big is each matmul?",
        hint="dX = dY·Wᵀ and dW = Xᵀ·dY are each a matmul of 2·m·k·n FLOPs, so the backward "
        "pass costs 4·m·k·n: twice the forward pass.",
    ),
    Question(
        "01.2",
        "A published run's training compute",
        expected=lambda name, source, N, D: tm.training_flops(N, D),
        unit="FLOP",
        rtol=0.01,
        kind="apply",
        text=(
            "{{name}} has $N = {{N:count}}$ parameters and was trained on $D = {{D:count}}$\n"
            "tokens ({{source}}). What is its training compute $C = 6ND$? Answer in **FLOP**."
        ),
        inputs={"name": "Chinchilla", "source": _RUNS["Chinchilla"][2], "N": 70e9, "D": 1.4e12},
        draw=_run,
        nudge="Section 1: how many FLOPs does one weight cost per token, forward and backward "
        "together?",
        hint="C = 6·N·D with N in parameters and D in tokens; no unit conversion is needed.",
    ),
    Question(
        "01.3",
        "Compute in PFLOP/s-days",
        expected=lambda name, source, N, D: tm.to_pflop_days(tm.training_flops(N, D)),
        unit="PFLOP/s-day",
        rtol=0.01,
        kind="units",
        text=(
            "Papers often report compute in PFLOP/s-days: $10^{15}$ FLOP/s sustained for one\n"
            "day. {{name}} has $N = {{N:count}}$ parameters and was trained on\n"
            "$D = {{D:count}}$ tokens ({{source}}). What is its $6ND$ training compute in\n"
            "**PFLOP/s-days**?"
        ),
        inputs={"name": "OPT-175B", "source": _RUNS["OPT-175B"][2], "N": 175e9, "D": 180e9},
        draw=_run,
        nudge="Lesson section 5: how many FLOPs are in one PFLOP/s-day? Work out the rate and "
        "the length of a day in seconds.",
        hint="1 PFLOP/s-day = 1e15 FLOP/s × 86,400 s = 8.64e19 FLOP; divide 6ND by it.",
    ),
    Question(
        "01.4",
        "Weights that do matmuls",
        expected=lambda model: tm.matmul_params(tm.MODELS[model]),
        unit="params",
        rtol=1e-3,
        kind="apply",
        text=(
            'How many of the weights of `tm.MODELS["{{model}}"]` multiply an activation for\n'
            "every token, LM head included? The preset holds the shape (layers, $d$,\n"
            "$d_\\text{ff}$, query and key/value heads, head size, vocabulary, whether the head\n"
            "is tied to the embedding); its `source` says where each number comes from.\n"
            "Answer in **parameters**."
        ),
        inputs={"model": "mistral-7b"},
        draw=lambda rng: {"model": _preset(rng, exclude=_NOT_IN_01_4)},
        nudge="Section 2 of the lesson: which parameters are a table look-up, and which "
        "multiply an activation once per token?",
        hint="Per layer count W_q and W_o (d × H·h_d each), W_k and W_v (d × H_kv·h_d each) and "
        "the MLP matrices (3 for SwiGLU, 2 for GELU), times the layers; add the d × V LM head "
        "(also when it is tied). Leave out the input embedding, position tables, biases and "
        "norms.",
    ),
    Question(
        "01.5",
        "How much is attention?",
        expected=lambda model, s: tm.attention_flops_fraction(tm.MODELS[model], s),
        unit="",
        rtol=0.02,
        kind="apply",
        text=(
            'What fraction of the training FLOPs per token of `tm.MODELS["{{model}}"]` goes to\n'
            "attention ($QK^\\top$ and the weighted sum of values) at a sequence length of\n"
            "$s = {{s:tex}}$? Count the full $s \\times s$ square, as PaLM does (Chowdhery et al.\n"
            "2022, App. B). Answer as a **fraction** between 0 and 1."
        ),
        inputs={"model": "llama-2-70b", "s": 4096},
        draw=_draw_attention,
        nudge="Section 3 of the lesson: what does attention add per token, on top of the "
        "6·N_matmul weight FLOPs?",
        hint="Attention adds 12·L·(H·h_d)·s FLOPs per token (PaLM, App. B, full square); the "
        "share is that over 6·N_matmul + 12·L·(H·h_d)·s.",
    ),
    Question(
        "01.6",
        "Days on a cluster",
        expected=lambda model, D, n_gpus, tflops: tm.training_time(
            tm.training_flops(tm.param_count(tm.MODELS[model]), D), n_gpus, tflops * 1e12
        )
        / tm.SECONDS_PER_DAY,
        unit="days",
        rtol=0.02,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` was pre-trained on $D = {{D:count}}$ tokens (model card).\n'
            "Suppose it were trained on ${{n_gpus:tex}}$ GPUs that each deliver\n"
            "{{tflops}} TFLOP/s of model FLOPs. With $C = 6ND$ ($N$ = `tm.param_count`) and\n"
            "no interruptions, how long would the run take? Answer in **days**."
        ),
        inputs={"model": "llama-3-70b", "D": 15e12, "n_gpus": 6144, "tflops": 410},
        draw=_draw_days,
        nudge="Section 4 of the lesson: C = τT. What is τ for this cluster?",
        hint="T = C / τ with C = 6ND and τ = (number of GPUs) × (FLOP/s each delivers). The "
        "rate given is already achieved, so apply no MFU on top; divide seconds by 86,400.",
    ),
    Question(
        "01.7",
        "MFU from a throughput log",
        expected=lambda model, gpu, n_gpus, tokens_per_s: tm.mfu(
            tokens_per_s,
            tm.training_flops(tm.param_count(tm.MODELS[model]), 1),
            n_gpus,
            _peak(gpu),
        ),
        unit="",
        rtol=0.01,
        kind="apply",
        text=(
            'A team trains `tm.MODELS["{{model}}"]` on {{n_gpus:,}} {{gpu}} GPUs in bf16 and\n'
            "logs {{tokens_per_s:,}} tokens/s for the whole cluster. Counting $6N$ FLOPs per\n"
            "token ($N$ = `tm.param_count`, no attention term) and the GPU's dense bf16 peak\n"
            '(`tm.ACCELERATORS["{{gpu}}"]`), what is the run\'s model FLOPs utilisation?\n'
            "Answer as a **fraction**."
        ),
        inputs={"model": "llama-2-13b", "gpu": "A100-80GB", "n_gpus": 512,
                "tokens_per_s": 1050000},
        draw=_draw_mfu,
        nudge="Section 6 of the lesson: MFU compares the model FLOPs the run did per second "
        "with what the chips could do at peak.",
        hint="MFU = tokens/s × FLOPs per token / (GPUs × peak FLOP/s), with 6N FLOPs per token.",
    ),
    Question(
        "01.8",
        "The price of recomputation",
        expected=lambda N_billion, D, n_gpus, tflops: tm.training_time(
            tm.training_flops(N_billion * 1e9, D) + tm.forward_flops(N_billion * 1e9, D),
            n_gpus,
            tflops * 1e12,
        )
        / tm.SECONDS_PER_DAY,
        unit="days",
        rtol=0.02,
        kind="apply",
        text=(
            "To save memory, large runs recompute activations in the backward pass, which runs\n"
            "each forward pass twice; Narayanan et al. 2021 (Eq. 4) therefore estimate\n"
            "training time with $8N$ FLOPs per token instead of $6N$. One of their runs\n"
            "(Table 1) has $N = {{N_billion}}$ B parameters on {{n_gpus:,}} A100 GPUs, each\n"
            "delivering {{tflops}} TFLOP/s counted that way. How long would it take to train\n"
            "on $D = {{D:count}}$ tokens, counting the recomputation? Answer in **days**."
        ),
        inputs={"N_billion": 145.6, "D": 300e9, "n_gpus": 1536, "tflops": 148},
        draw=_draw_recompute,
        nudge="Recomputation adds one more forward pass. What does a forward pass cost per "
        "weight per token?",
        hint="Each token costs 6N + 2N = 8N FLOPs; T = 8·N·D / (GPUs × FLOP/s per GPU), then "
        "convert seconds to days.",
    ),
    Question(
        "01.9",
        "The FLOPs calculus at long context",
        expected=lambda model, d, s: tm.attention_flops_fraction(tm.MODELS[model], s),
        unit="",
        rtol=0.02,
        kind="find the error",
        text=(
            "A popular blog post, *The FLOPs Calculus of Language Model Training*, argues that\n"
            "attention can be left out of the count: it \"only adds $O(dL)$ FLOPs per token\n"
            "per layer\" ($L$ meaning the context length there), while the weight matmuls add\n"
            "$O(d^2)$, and \"$d$ tends to be considerably larger than $L$, and hence weight\n"
            'FLOPs dwarf attention FLOPs".\n\n'
            'Test the claim on `tm.MODELS["{{model}}"]` ($d = {{d:tex}}$) trained on sequences\n'
            "of $s = {{s:tex}}$ tokens. What fraction of its training FLOPs per token is\n"
            "attention, with PaLM's full-square count? Answer as a **fraction**. Then, in the\n"
            "cell below, say in a sentence or two what is wrong with the claim."
        ),
        discussion=(
            "**What is wrong with the claim?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "Per token and layer, attention costs $12\\,s\\,(H h_d)$ FLOPs and the weights about\n"
            "$72\\,d^2$ (for $H h_d = d$ and $d_\\text{ff} = 4d$), so the ratio is about\n"
            "$s/(6d)$. The argument holds only while the context is short compared with $6d$:\n"
            "true for GPT-3 ($2048 \\ll 6 \\times 12{,}288$), false here, where\n"
            "$s = {{s:tex}}$ and $6d = 6 \\times {{d:tex}}$. \"$d \\gg s$\" was a fact about\n"
            "2020's models, not a property of transformers; with the causal half that\n"
            "FlashAttention computes the share is smaller, but the conclusion stands.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"model": "llama-3-70b", "d": 8192, "s": 131072},
        draw=_draw_long_context,
        nudge="Section 3 of the lesson: how does the attention term grow with s, and the weight "
        "term with d?",
        hint="Attention adds 12·L·(H·h_d)·s FLOPs per token (PaLM, App. B, full square); divide "
        "by 6·N_matmul + 12·L·(H·h_d)·s.",
    ),
    Question(
        "01.10",
        "GPU-hours for a model card",
        expected=lambda model, D, gpu, mfu: tm.gpu_hours(
            tm.training_flops(tm.param_count(tm.MODELS[model]), D), _peak(gpu), mfu
        ),
        unit="GPU-hour",
        rtol=0.3,
        kind="estimate",
        text=(
            'Roughly how many {{gpu}} GPU-hours does it take to train `tm.MODELS["{{model}}"]`\n'
            "on $D = {{D:count}}$ tokens at {{mfu:.0%}} MFU in bf16? Use $C \\approx 6ND$. Any\n"
            "answer within 30 % counts. Answer in **GPU-hours**."
        ),
        inputs={"model": "llama-2-70b", "D": 2e12, "gpu": "A100-80GB", "mfu": 0.4},
        draw=_draw_gpu_hours,
        nudge="Section 4 of the lesson: GPU-hours do not depend on how many GPUs share the "
        "work. What does one GPU deliver per hour?",
        hint="GPU-hours = C / (peak × MFU) / 3600 with C = 6ND and the GPU's dense bf16 peak.",
    ),
]
