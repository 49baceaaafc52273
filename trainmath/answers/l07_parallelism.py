"""Answer key of lesson 07, "Parallelism" (``exercises/07_parallelism.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use, and a draw that
makes a variant from the model presets and layouts that a real run could use (degrees that
divide the heads, layers and GPUs; enough micro-batches for the pipeline). The question's
text and its solution read those inputs; every expected value is computed from them with
:mod:`trainmath` functions (``data_parallel_comm_bytes``, ``zero_memory_per_gpu``,
``params_per_gpu``, ``tensor_parallel_comm_bytes``, ``memory_per_gpu``,
``context_parallel_comm_bytes``, ``pipeline_bubble_fraction``, ``layout_gpus``,
``training_flops``), never typed in.

The lesson works the ZeRO paper's 7.5B example, Llama 3 8B on 64 GPUs, GPT-3 with t = 8,
Llama 3 405B's Table 4 layouts; the questions use other models, clusters and layouts.
"""

from __future__ import annotations

import random

import trainmath as tm
from trainmath.answers import Question, sig

__all__ = ["QUESTIONS"]

_GB = 1e9
_MB = 1e6

# Presets whose heads a tensor-parallel degree of 2, 4 or 8 divides (gpt2-xl has 25 heads).
_TP_MODELS = sorted(k for k in tm.MODELS if tm.MODELS[k].n_kv_heads % 2 == 0)
# Grouped-query models trained on long sequences: the ones context parallelism is for.
_GQA_MODELS = ["llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-405b", "mistral-7b"]
# Large models that pipeline parallelism is used for.
_PIPELINE_MODELS = ["gopher-280b", "gpt3-175b", "llama-2-70b", "llama-3-70b", "chinchilla-70b"]


def _n(model: str) -> int:
    return tm.param_count(tm.MODELS[model])


def _tp_choices(model: str) -> list[int]:
    cfg = tm.MODELS[model]
    return [t for t in (2, 4, 8) if cfg.n_kv_heads % t == 0 and cfg.n_heads % t == 0]


# --- draws -------------------------------------------------------------------------------------


def _draw_fsdp_ratio(rng: random.Random) -> dict:
    # ratio 3m/2; not m = 2 (3: the nudge names section 3), nor m whose ratio is within the
    # tolerance of a number the lesson prints
    return {"m": rng.choice([3, 4, 5, 8, 11, 14])}


def _draw_zero_memory(rng: random.Random) -> dict:
    # presets, not the ZeRO paper's 7.5B / 128B / 1T that the lesson tabulates; GPT-2 small
    # is too small to need sharding
    model = rng.choice(sorted(k for k in tm.MODELS if k != "gpt2"))
    return {
        "model": model,
        "dp": rng.choice([8, 12, 24, 32, 48, 96, 128, 192, 384, 512]),
        "stage": rng.choice([1, 2, 3]),
    }


def _draw_dp_sync(rng: random.Random) -> dict:
    model = rng.choice(sorted(k for k in tm.MODELS if k not in ("gpt2", "llama-3-8b")))
    return {
        "model": model,
        "dp": rng.choice([16, 24, 32, 48, 96, 128, 256, 512]),
        "stage": rng.choice([0, 1, 2]),
        "bw": rng.choice([12.5, 25, 100, 200]),  # 100, 200, 800 Gb/s and 1.6 Tb/s ports
    }


# Llama-style presets (RMSNorm, no biases, untied LM head) for the weights per GPU.
_LLAMA_MODELS = ["llama-2-13b", "llama-2-70b", "llama-2-7b", "llama-3-70b", "llama-3-8b",
                 "llama-3.1-405b", "mistral-7b"]


def _draw_weights_per_gpu(rng: random.Random) -> dict:
    model = rng.choice(_LLAMA_MODELS)
    cfg = tm.MODELS[model]
    t = rng.choice(_tp_choices(model))
    pp = rng.choice([p for p in (2, 3, 4, 6, 8, 12, 16) if p <= cfg.n_layers // 2])
    if model == "llama-3.1-405b" and t == 8 and pp == 16:  # the lesson's Table 4 layout
        pp = 12
    return {"model": model, "t": t, "pp": pp}


def _draw_tp_traffic(rng: random.Random) -> dict:
    # not GPT-3, the lesson's example, nor GPT-2 small, too small to split
    model = rng.choice([k for k in _TP_MODELS if k not in ("gpt3-175b", "gpt2")])
    cfg = tm.MODELS[model]
    t = rng.choice(_tp_choices(model))
    s = rng.choice([cfg.seq_len // 2, cfg.seq_len])  # the model's context, or half of it
    b = rng.choice([b for b in (1, 2, 3, 4, 6) if s * b <= 16384])  # at most 16k tokens
    return {"model": model, "t": t, "s": s, "b": b}


def _draw_stage_activations(rng: random.Random) -> dict:
    model = rng.choice([k for k in _TP_MODELS if not k.startswith("gpt2")])  # 7B and up
    cfg = tm.MODELS[model]
    t = rng.choice(_tp_choices(model))
    s = rng.choice([s for s in (2048, 4096, 8192) if s <= max(cfg.seq_len, 2048)])
    if model == "gpt3-175b" and s == 2048 and t == 8:  # the lesson's worked example
        t = 4
    pp = rng.choice([p for p in (2, 3, 4, 6, 8, 12, 16) if p <= cfg.n_layers // 2])
    m = rng.choice([max(1, pp // 2), pp, pp + pp // 2, 2 * pp, 4 * pp])
    return {"model": model, "s": s, "b": rng.choice([1, 1, 2, 3]), "t": t, "pp": pp, "m": m}


def _draw_cp_traffic(rng: random.Random) -> dict:
    model = rng.choice(_GQA_MODELS)
    cfg = tm.MODELS[model]
    s = rng.choice([32768, 65536, 131072, 262144])
    cp = rng.choice([2, 4, 8, 16])
    t = rng.choice([1, 2, 4, 8])
    pp = rng.choice([p for p in (1, 2, 3, 4, 6, 8, 12, 16) if p <= cfg.n_layers // 4])
    if model == "llama-3.1-405b" and s == 131072 and cp == 16 and t == 8:  # the lesson's
        s = 262144
    return {"model": model, "s": s, "cp": cp, "t": t, "pp": pp}


def _bubble_inputs(model: str, t: int, pp: int, v: int, dp: int, b: int, m: int) -> dict:
    batch = dp * b * m  # sequences per step
    claimed_m = batch // b
    return {
        "model": model, "n_gpus": t * pp * dp, "t": t, "pp": pp, "v": v, "batch": batch,
        "b": b, "claimed_m": claimed_m,
        "claimed": sig(100 * (pp - 1) / (v * claimed_m), 2),
    }


def _draw_bubble(rng: random.Random) -> dict:
    model = rng.choice(_PIPELINE_MODELS)
    layers = tm.MODELS[model].n_layers
    v = rng.choice([1, 2, 2, 4])
    # Megatron's interleaved schedule needs L divisible by p·v and m a multiple of p
    pp = rng.choice([p for p in (3, 4, 5, 6, 8, 10, 12, 16) if layers % (p * v) == 0])
    dp = rng.choice([8, 12, 16, 24, 32, 48, 64])
    b = rng.choice([1, 2])
    m = pp * rng.choice([1, 2, 3, 4, 6])
    return _bubble_inputs(model, rng.choice([4, 8]), pp, v, dp, b, m)


def _draw_plain_dp(rng: random.Random) -> dict:
    # not Llama 3 8B (128 GB) and 405B (6.49 TB), whose plain-DP states the lesson prints, nor
    # GPT-3, whose 2,794 GB is within the tolerance of a duration the lesson prints
    not_these = ("llama-3-8b", "llama-3.1-405b", "gpt3-175b")
    model = rng.choice(sorted(k for k in tm.MODELS if k not in not_these))
    return {"model": model, "dp": rng.choice([16, 32, 48, 64, 128, 256, 512])}


_STEP_GPUS = {"H100-SXM": (330, 450), "A100-80GB": (130, 180)}
# Models with the data-parallel degrees that give a cluster of a sensible size for them.
_STEP_MODELS = {
    "gopher-280b": (8, 16, 24, 32, 48), "gpt3-175b": (8, 12, 16, 24, 32, 48, 64),
    "llama-3.1-405b": (8, 16, 24, 32, 48, 64), "llama-2-70b": (4, 8, 12, 16, 24, 32),
    "llama-3-70b": (4, 8, 12, 16, 24, 32), "llama-2-13b": (8, 12, 16, 24, 32, 48, 64),
    "llama-3-8b": (8, 12, 16, 24, 32, 48, 64),
}


def _draw_throughput(rng: random.Random) -> dict:
    model = rng.choice(sorted(_STEP_MODELS))
    cfg = tm.MODELS[model]
    gpu = rng.choice(sorted(_STEP_GPUS))
    lo, hi = _STEP_GPUS[gpu]
    small = _n(model) < 20e9  # an 8B or 13B model: no pipeline
    while True:  # a cluster sized to the model: 0.4 to 1.1 million tokens per second
        t = rng.choice(_tp_choices(model))
        cp = rng.choice([1, 1, 2, 4])
        pp = 1 if small else rng.choice([p for p in (2, 4, 8, 16) if p <= cfg.n_layers // 4])
        dp = rng.choice(_STEP_MODELS[model])
        tflops = 10 * rng.randint(lo // 10, hi // 10)
        gpus = tm.layout_gpus(t, cp, pp, dp)
        if 4e5 <= gpus * tflops * 1e12 / tm.training_flops(_n(model), 1) <= 1.1e6:
            break
    return {"model": model, "gpu": gpu, "t": t, "cp": cp, "pp": pp, "dp": dp, "tflops": tflops}


# --- expected values ---------------------------------------------------------------------------


def _fsdp_ratio(m):
    psi, n_d = 1e9, 64  # any model and group: the ratio depends on neither
    zero3 = tm.data_parallel_comm_bytes(psi, n_d, 3, n_microbatches=m)
    return zero3 / tm.data_parallel_comm_bytes(psi, n_d, 0)


def _stage_activations(model, s, b, t, pp, m):
    mem = tm.memory_per_gpu(
        tm.MODELS[model], seq_len=s, micro_batch=b, n_microbatches=m, tp=t, pp=pp,
        sequence_parallel=True, recompute="selective",
    )
    return mem.activations / _GB


def _cp_traffic(model, s, cp, t, pp):
    cfg = tm.MODELS[model]
    layers = tm.layers_per_stage(cfg.n_layers, pp)
    return tm.context_parallel_comm_bytes(s, 1, cfg.kv_dim / t, cp, n_layers=layers) / _MB


def _bubble(model, n_gpus, t, pp, v, batch, b, claimed_m, claimed):
    dp = n_gpus // tm.layout_gpus(tp=t, pp=pp)
    return tm.pipeline_bubble_fraction(pp, batch // (dp * b), v)


def _throughput(model, gpu, t, cp, pp, dp, tflops):
    gpus = tm.layout_gpus(t, cp, pp, dp)
    return gpus * tflops * 1e12 / tm.training_flops(_n(model), 1)


QUESTIONS: list[Question] = [
    Question(
        "07.1",
        "What FSDP costs with gradient accumulation",
        expected=_fsdp_ratio,
        unit="",
        rtol=0.002,
        kind="recall",
        text=(
            "ZeRO stage 3 (PyTorch's FSDP) keeps only a shard of the weights on each GPU and\n"
            "gathers them just before it uses them (Rajbhandari et al. 2019, Sec. 5). A run\n"
            "accumulates gradients over $m = {{m}}$ micro-batches per optimizer step,\n"
            "re-shards the weights after every forward and every backward pass, and, like\n"
            "ZeRO-2, keeps only its shard of the gradients. How many times the bytes that plain\n"
            "data parallelism sends per GPU and step does ZeRO-3 send? Answer as a **ratio**."
        ),
        inputs={"m": 3},
        draw=_draw_fsdp_ratio,
        nudge="Section 3 of the lesson, 'What the sharding costs in communication': count how "
        "often per step the weights travel, and how often the gradients.",
        hint="Plain data parallelism all-reduces the gradients once per step: a reduce-scatter "
        "plus an all-gather, two passes over Ψ values. ZeRO-3 all-gathers the weights before "
        "every micro-batch's forward and backward pass (2m times Ψ) and, since no rank keeps "
        "the whole gradient, reduce-scatters it after every backward pass (m times Ψ): 3mΨ "
        "against 2Ψ.",
    ),
    Question(
        "07.2",
        "ZeRO stage {{stage}} on {{dp}} GPUs",
        expected=lambda model, dp, stage: tm.zero_memory_per_gpu(_n(model), dp, stage) / _GB,
        unit="GB",
        rtol=0.002,
        kind="apply",
        text=(
            'A team trains `tm.MODELS["{{model}}"]` ($\\Psi$ = `tm.param_count`) with\n'
            "mixed-precision AdamW (2 + 2 + 12 bytes per parameter of weights, gradients and\n"
            "optimizer states) and data parallelism over $N_d = {{dp}}$ GPUs with ZeRO stage\n"
            "{{stage}}. How many bytes of model states does each GPU hold? Answer in **GB**\n"
            "($10^9$ bytes)."
        ),
        inputs={"model": "llama-2-13b", "dp": 96, "stage": 2},
        draw=_draw_zero_memory,
        nudge="Section 3 of the lesson: which of the three states does this stage divide by "
        "N_d, and which stay whole on every GPU?",
        hint="Stage 1: 4Ψ + 12Ψ/N_d bytes; stage 2: 2Ψ + (2 + 12)Ψ/N_d; stage 3: "
        "(2 + 2 + 12)Ψ/N_d. Divide by 1e9 for GB.",
    ),
    Question(
        "07.3",
        "Synchronising the gradients",
        expected=lambda model, dp, stage, bw: tm.data_parallel_comm_bytes(_n(model), dp, stage)
        / (bw * _GB),
        unit="s",
        rtol=0.002,
        kind="apply",
        text=(
            'A data-parallel run of `tm.MODELS["{{model}}"]` over $N_d = {{dp}}$ GPUs uses ZeRO\n'
            "stage {{stage}} (stage 0 is plain data parallelism) with bf16 weights and gradients\n"
            "and one micro-batch per step. Each GPU has one network port of {{bw}} GB/s per\n"
            "direction, and the ring collectives run at that speed. If none of the traffic\n"
            "overlapped with computation, how long would each step wait for the gradients to be\n"
            "synchronised (and, for ZeRO, the updated weights gathered)? Answer in **seconds**."
        ),
        inputs={"model": "mistral-7b", "dp": 48, "stage": 1, "bw": 25},
        draw=_draw_dp_sync,
        nudge="Sections 2 and 3 of the lesson: what does a ring all-reduce send per GPU, and "
        "what do ZeRO's first stages send instead?",
        hint="Each GPU sends 2(N_d - 1)/N_d × 2Ψ bytes (bf16) in stages 0, 1 and 2 alike: "
        "reduce-scatter + all-gather. Time = bytes / bandwidth.",
    ),
    Question(
        "07.4",
        "Weights on the busiest GPU",
        expected=lambda model, t, pp: tm.params_per_gpu(tm.MODELS[model], tp=t, pp=pp),
        unit="params",
        rtol=0.002,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` (Llama-style: RMSNorm, no biases, an LM head not tied to\n'
            "the embedding) is split with Megatron tensor parallelism $t = {{t}}$ and a pipeline\n"
            "of $p = {{pp}}$ stages. Tensor parallelism splits every weight matrix $t$ ways, the\n"
            "input embedding and the LM head too (by vocabulary), and copies the norms on every\n"
            "rank (Shoeybi et al. 2019, Sec. 3). Take every stage to hold $\\lceil L/p \\rceil$\n"
            "layers (the most that any stage holds); the first stage also holds the input\n"
            "embedding, the last one the final norm and the LM head. How many parameters does\n"
            "the busiest GPU hold? Answer in **parameters**."
        ),
        inputs={"model": "llama-2-70b", "t": 8, "pp": 6},
        draw=_draw_weights_per_gpu,
        nudge="Sections 4 and 5 of the lesson (and lesson 01's parameter count): what does one "
        "layer hold, which of it does tensor parallelism split, and which stage has more "
        "than its layers?",
        hint="Per layer: matrices 2·d·(H·h_d) + 2·d·(H_kv·h_d) + 3·d·d_ff, split t ways, plus "
        "two norms of d, copied. Busiest GPU = the last stage: ⌈L/p⌉ layers + the final norm "
        "(d) + the LM head (V·d/t).",
    ),
    Question(
        "07.5",
        "Tensor-parallel traffic of one micro-batch",
        expected=lambda model, t, s, b: tm.tensor_parallel_comm_bytes(
            s, b, tm.MODELS[model].d_model, t, n_layers=tm.MODELS[model].n_layers
        )
        / _GB,
        unit="GB",
        rtol=0.002,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` is split with Megatron tensor parallelism over $t = {{t}}$\n'
            "GPUs (Shoeybi et al. 2019). How many bytes does each GPU send for one micro-batch\n"
            "(micro-batch size $b = {{b}}$, sequence length $s = {{s:tex}}$), forward and\n"
            "backward through all of the model's layers, with bf16 activations and no\n"
            "recomputation? Leave out the embedding and the LM head. Answer in **GB**."
        ),
        inputs={"model": "llama-2-70b", "t": 4, "s": 4096, "b": 2},
        draw=_draw_tp_traffic,
        nudge="Section 4 of the lesson: how many all-reduces does a Megatron layer need, "
        "forward and backward, and how big is each one?",
        hint="4 all-reduces per layer (2 forward, 2 backward), each of s·b·h bf16 values, and a "
        "ring all-reduce sends 2(t - 1)/t of the buffer: L × 4 × 2(t-1)/t × s·b·h × 2 bytes.",
    ),
    Question(
        "07.6",
        "Activations on the first pipeline stage",
        expected=_stage_activations,
        unit="GB",
        rtol=0.002,
        kind="apply",
        text=(
            'A run of `tm.MODELS["{{model}}"]` uses tensor parallelism $t = {{t}}$ with sequence\n'
            "parallelism, selective recomputation, and a pipeline of $p = {{pp}}$ stages with the\n"
            "1F1B schedule (the layers split as evenly as they go; take the first stage to hold\n"
            "$\\lceil L/p \\rceil$ of them). Each optimizer step runs $m = {{m}}$ micro-batches\n"
            "per data-parallel replica, with micro-batch size $b = {{b}}$ and sequence length\n"
            "$s = {{s:tex}}$.\n"
            "With Korthikanti et al.'s (2022, Table 2) count for a GPT-style layer, how many\n"
            "bytes of activations does a GPU of the **first** stage hold at its peak? Answer in\n"
            "**GB**."
        ),
        inputs={"model": "llama-2-13b", "s": 4096, "b": 1, "t": 4, "pp": 4, "m": 12},
        draw=_draw_stage_activations,
        nudge="Sections 4 and 5 of the lesson: what does one layer keep per micro-batch under "
        "t-way tensor and sequence parallelism, and how many micro-batches does the first "
        "stage of a 1F1B pipeline hold before its first backward pass?",
        hint="Per layer and micro-batch 34·s·b·h/t bytes (selective recomputation, sequence "
        "parallel); the first stage has ⌈L/p⌉ layers and holds min(p, m) micro-batches.",
    ),
    Question(
        "07.7",
        "Context-parallel traffic",
        expected=_cp_traffic,
        unit="MB",
        rtol=0.002,
        kind="apply",
        text=(
            'A long-context run of `tm.MODELS["{{model}}"]` trains on sequences of\n'
            "$s = {{s:tex}}$ tokens with tensor parallelism $t = {{t}}$, context parallelism\n"
            "$cp = {{cp}}$ as in Llama 3 (all-gather the keys and values, reduce-scatter their\n"
            "gradients; Llama 3 paper, Sec. 3.3.2) and a pipeline of $p = {{pp}}$ stage(s), the\n"
            "layers split as evenly as they go ($\\lceil L/p \\rceil$ on the busiest stage).\n"
            "How many bytes does a GPU of the busiest stage send for context parallelism for one\n"
            "micro-batch of one sequence, forward and backward, in bf16 without recomputation?\n"
            "Answer in **MB**."
        ),
        inputs={"model": "llama-3-70b", "s": 65536, "cp": 8, "t": 4, "pp": 8},
        draw=_draw_cp_traffic,
        nudge="Section 6 of the lesson: what does a context-parallel GPU gather before "
        "attention, and how wide are the keys and values on one tensor-parallel rank?",
        hint="Per layer: an all-gather of K and V (2·s·b·H_kv·h_d/t values) forward and a "
        "reduce-scatter of their gradients backward, each (cp - 1)/cp of the message, 2 bytes "
        "per value; times ⌈L/p⌉ layers.",
    ),
    Question(
        "07.8",
        "A bubble that looks too small",
        expected=_bubble,
        unit="",
        rtol=0.002,
        kind="find the error",
        text=(
            'A team plans to train `tm.MODELS["{{model}}"]` on {{n_gpus:,}} GPUs with tensor\n'
            "parallelism $t = {{t}}$, a pipeline of $p = {{pp}}$ stages with the interleaved\n"
            "schedule ($v = {{v}}$ model chunks per GPU; $v = 1$ is plain 1F1B) and data\n"
            "parallelism over the remaining GPUs. The global batch is $B = {{batch:tex}}$\n"
            "sequences per optimizer step, with micro-batch size $b = {{b}}$. Their planning\n"
            "document says:\n"
            "*\"$m = B/b = {{claimed_m:tex}}$ micro-batches, so the bubble $(p-1)/(v\\,m)$ is\n"
            '{{claimed}} % of the compute: negligible."*\n\n'
            "What is the pipeline bubble of this layout, as a **fraction** of the compute time\n"
            "(Narayanan et al. 2021, Sec. 2.2)? Then, in the cell below, say what the document\n"
            "got wrong."
        ),
        discussion=(
            "**What did the planning document get wrong?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "It counted the micro-batches of the whole cluster. The global batch is first split\n"
            "over the $N_d = {{n_gpus:tex}} / ({{t}} \\cdot {{pp}})$ data-parallel replicas, and\n"
            "each replica's pipeline runs only its own share of $B / N_d$ sequences, in\n"
            "$m = B / (N_d\\, b)$ micro-batches; the bubble $(p-1)/(v\\,m)$ is $N_d$ times what\n"
            "the document claims. Data parallelism does not fill the pipeline: to shrink the\n"
            "bubble the team needs more sequences per replica (a larger batch or fewer replicas),\n"
            "smaller micro-batches, more interleaving or fewer stages.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs=_bubble_inputs("gpt3-175b", t=8, pp=12, v=2, dp=16, b=2, m=24),
        draw=_draw_bubble,
        nudge="Section 5 of the lesson: m is the number of micro-batches that one pipeline "
        "runs per step. Which sequences does one pipeline see?",
        hint="N_d = GPUs / (t·p); each replica gets B/N_d sequences, so m = B/(N_d·b); the "
        "bubble is (p - 1)/(v·m).",
    ),
    Question(
        "07.9",
        '"Fully Shared Data Parallelism"',
        expected=lambda model, dp: tm.zero_memory_per_gpu(_n(model), dp, 0) / _GB,
        unit="GB",
        rtol=0.002,
        kind="find the error",
        text=(
            "The Transformer Math notes in the course's source texts describe the fourth\n"
            "dimension of Llama 3's parallelism like this: *\"Data parallelism: also known\n"
            "as Fully Shared Data Parallelism (FSDP), it shards model's parameters across data\n"
            "parallel workers.\"* Earlier, the same notes define data parallelism as splitting\n"
            "the data among replicas of the model.\n\n"
            'Take the plain data parallelism of that first definition: `tm.MODELS["{{model}}"]`\n'
            "($\\Psi$ = `tm.param_count`) with mixed-precision AdamW (2 + 2 + 12 bytes per\n"
            "parameter) on $N_d = {{dp}}$ GPUs. How many bytes of model states does **each GPU**\n"
            "hold? Answer in **GB**. Then say, in the cell below, what is wrong with the quoted\n"
            "sentence."
        ),
        discussion=(
            "**What is wrong with the quoted sentence?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "Two things. The name is *Fully **Sharded** Data Parallel*, and it is not another\n"
            "name for data parallelism: plain data parallelism replicates everything, $16\\Psi$\n"
            "bytes on every one of the ${{dp}}$ GPUs here, ${{dp}}$ identical copies, however\n"
            "many GPUs are added. FSDP is data parallelism **plus** ZeRO-3 sharding of the\n"
            "weights, gradients and optimizer states, which brings each GPU down to\n"
            "$16\\Psi/N_d$ at the price of 1.5 times the communication (the weights are\n"
            "all-gathered before they are used). Llama 3 does shard its data-parallel dimension\n"
            "with FSDP, which is what the notes meant to say.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"model": "gopher-280b", "dp": 128},
        draw=_draw_plain_dp,
        nudge="Section 2 of the lesson: what does each GPU keep under plain data parallelism, "
        "and does adding GPUs change it?",
        hint="Plain data parallelism shards nothing: every GPU keeps its own weights, gradients "
        "and optimizer states, (2 + 2 + 12)·Ψ bytes, whatever N_d is.",
    ),
    Question(
        "07.10",
        "Order of magnitude: the throughput of a 4D layout",
        expected=_throughput,
        unit="tokens/s",
        rtol=0.3,
        kind="estimate",
        text=(
            'A run of `tm.MODELS["{{model}}"]` ($N$ = `tm.param_count`) uses the 4D layout\n'
            "TP {{t}} · CP {{cp}} · PP {{pp}} · DP {{dp}} on {{gpu}} GPUs, each of which delivers\n"
            "{{tflops}} TFLOP/s of model FLOPs. Counting $6N$ FLOPs per token, roughly how many\n"
            "tokens per second does the whole run train on? Any answer within 30 % counts.\n"
            "Answer in **tokens/s**."
        ),
        inputs={"model": "llama-3-70b", "gpu": "H100-SXM", "t": 8, "cp": 2, "pp": 4, "dp": 8,
                "tflops": 390},
        draw=_draw_throughput,
        nudge="Section 7 of the lesson: how many GPUs does the layout use? Then lesson 01: "
        "what does one token cost?",
        hint="GPUs = TP·CP·PP·DP; tokens/s = GPUs × FLOP/s per GPU / (6N).",
    ),
]

