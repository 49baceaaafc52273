"""Answer key of lesson 06, "Activation memory" (``exercises/06_activations.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use (variant 0), and a
draw that makes a variant from the presets in ``tm.MODELS`` and sensible ranges. The question's
text and its solution read those inputs; every expected value is computed from them with
:mod:`trainmath` functions, never typed in. Activation accounting: Korthikanti et al. 2022
(arXiv:2205.05198), Sec. 4 and Table 2, applied with h = ``d_model`` and a = ``n_heads`` (for
Llama-style presets an approximation, as the lesson says in section 3).

The lesson works GPT-3 175B (s = 2048, t = 8) and the seed article's "7B" example; the defaults
below use other models, sizes and layouts, and the draws leave the lesson's own cases out.
"""

from __future__ import annotations

import math
import random

import trainmath as tm
from trainmath.answers import Question, sig

__all__ = ["QUESTIONS"]

# The lesson's worked model (sections 2, 4, 5 and 6): its own numbers are printed there.
_LESSON_MODEL = "gpt3-175b"


def _preset(rng: random.Random, exclude: tuple[str, ...] = ()) -> str:
    return rng.choice(sorted(k for k in tm.MODELS if k not in exclude))


def _context(rng: random.Random, model: str, choices: list[int]) -> int:
    """A sequence length for ``model``: learned position tables (GPT-2, GPT-3) stop at the
    preset's context; rotary and relative positions can be trained longer."""
    cfg = tm.MODELS[model]
    if cfg.position == "learned":
        choices = [s for s in choices if s <= cfg.seq_len] or [cfg.seq_len]
    return rng.choice(choices)


def _divisors(n: int, choices: tuple[int, ...]) -> list[int]:
    return [t for t in choices if n % t == 0]


def _tp_choice(rng: random.Random, model: str, choices: tuple[int, ...] = (2, 4, 8)) -> int:
    """A tensor-parallel size that divides the heads and the key/value heads (Megatron)."""
    cfg = tm.MODELS[model]
    return rng.choice(_divisors(math.gcd(cfg.n_heads, cfg.n_kv_heads), choices))


# Models that admit tensor parallelism t >= 2 (GPT-2 XL's 25 heads do not).
def _tp_models(exclude: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        k for k, c in tm.MODELS.items()
        if k not in exclude and _divisors(math.gcd(c.n_heads, c.n_kv_heads), (2, 4, 8))
    )


def _busiest_gib(model, L, h, a, s, b, t, p, m):
    return tm.memory_per_gpu(
        tm.MODELS[model], seq_len=s, micro_batch=b, n_microbatches=m, tp=t, pp=p,
        sequence_parallel=True,
    ).activations / 2**30


def _layout_total_mib(model, s, b, m, t, p, d, zero, recompute):
    return tm.memory_per_gpu(
        tm.MODELS[model], seq_len=s, micro_batch=b, n_microbatches=m, tp=t, pp=p, dp=d,
        zero_stage=zero, sequence_parallel=True, recompute=recompute,
    ).total / 2**20


def _seed_true_mb(model, L, h, a, s, b, t, claim):
    return L * tm.activation_memory_per_layer(s, b, h, a, tp=t) / 1e6


def _score_bytes(model, a, s, b, t):
    parts = tm.activation_memory_breakdown(s, b, tm.MODELS[model].d_model, a, tp=t)
    return sum(parts[k] for k, term in tm.ACTIVATION_TERMS.items() if term.shape == "as2b")


# GPT-style presets (d_ff = 4h, every head with its own keys and values): Korthikanti et al.'s
# FLOP count (Eq. 7) is theirs; the lesson works GPT-3.
_GPT_STYLE = sorted(k for k, c in tm.MODELS.items()
                    if c.d_ff == 4 * c.d_model and c.n_kv_heads == c.n_heads
                    and c.mlp == "gelu" and k != _LESSON_MODEL)


def _claimed_selective(model: str, s: int) -> float:
    """The paper's count, Eq. 8 over Eq. 7, in percent to three figures (what it would print)."""
    over = tm.recompute_flops_overhead(tm.MODELS[model], s, "selective", convention="korthikanti")
    return sig(100 * over, 3)


def _redone_selective(model, s, claimed):
    # the forward QK^T and (scores)V per token, over Eq. 7's model FLOPs per token
    cfg = tm.MODELS[model]
    eq7_per_token = tm.megatron_model_flops(1, s, cfg.n_layers, cfg.d_model, cfg.vocab_size) / s
    return tm.recompute_flops_per_token(cfg, s, "selective") / eq7_per_token


def _draw_eq8(rng: random.Random) -> dict:
    model = rng.choice(_GPT_STYLE)
    s = _context(rng, model, [1024, 2048, 4096, 8192])
    return {"model": model, "s": s, "claimed": _claimed_selective(model, s)}


# --- draws ----------------------------------------------------------------------------------


def _draw_scores(rng: random.Random) -> dict:
    model = _preset(rng, exclude=(_LESSON_MODEL,))
    a = tm.MODELS[model].n_heads
    return {
        "model": model,
        "a": a,
        "s": _context(rng, model, [1024, 2048, 4096, 8192]),
        "b": rng.choice([1, 2, 4, 8]),
        "t": rng.choice(_divisors(a, (1, 2, 4, 8))),
    }


def _draw_layer(rng: random.Random) -> dict:
    model = _preset(rng, exclude=(_LESSON_MODEL,))
    cfg = tm.MODELS[model]
    return {
        "model": model,
        "h": cfg.d_model,
        "a": cfg.n_heads,
        "s": _context(rng, model, [512, 1024, 2048, 4096]),
        "b": rng.choice([2, 4, 8, 16]),
    }


def _draw_crossover(rng: random.Random) -> dict:
    model = rng.choice(_tp_models())
    cfg = tm.MODELS[model]
    return {
        "model": model,
        "h": cfg.d_model,
        "a": cfg.n_heads,
        "t": rng.choice(_divisors(cfg.n_heads, (2, 4, 8, 16))),
    }


def _draw_busiest(rng: random.Random) -> dict:
    # A layout whose busiest GPU holds 5-150 GB of activations (some fit, some do not).
    while True:
        model = rng.choice(_tp_models(exclude=(_LESSON_MODEL,)))
        cfg = tm.MODELS[model]
        p = rng.choice(_divisors(cfg.n_layers, (2, 4, 8, 16)))
        drawn = {
            "model": model,
            "L": cfg.n_layers,
            "h": cfg.d_model,
            "a": cfg.n_heads,
            "s": _context(rng, model, [2048, 4096, 8192]),
            "b": rng.choice([1, 2]),
            "t": _tp_choice(rng, model),
            "p": p,
            "m": p * rng.choice([1, 2, 4, 8]),
        }
        if 5 <= _busiest_gib(**drawn) <= 150:
            return drawn


def _draw_saving(rng: random.Random) -> dict:
    model = rng.choice(_tp_models(exclude=(_LESSON_MODEL,)))
    cfg = tm.MODELS[model]
    return {
        "model": model,
        "h": cfg.d_model,
        "a": cfg.n_heads,
        "s": _context(rng, model, [1024, 2048, 4096, 8192, 16384]),
        "t": rng.choice(_divisors(cfg.n_heads, (2, 4, 8, 16))),
    }


def _draw_redone(rng: random.Random) -> dict:
    while True:
        model = _preset(rng)
        s = _context(rng, model, [2048, 4096, 8192, 16384, 32768])
        if (model, s) != (_LESSON_MODEL, tm.MODELS[_LESSON_MODEL].seq_len):
            return {"model": model, "s": s}


def _draw_layout(rng: random.Random) -> dict:
    # A layout a team might try: its busiest GPU needs 20-200 GiB (some fit in 80 GB).
    while True:
        model = rng.choice(_tp_models(exclude=(_LESSON_MODEL,)))
        cfg = tm.MODELS[model]
        p = rng.choice(_divisors(cfg.n_layers, (2, 4, 8, 16)))
        drawn = {
            "model": model,
            "s": _context(rng, model, [2048, 4096, 8192]),
            "b": 1,
            "m": p * rng.choice([2, 4, 8]),
            "t": _tp_choice(rng, model),
            "p": p,
            "d": rng.choice([4, 8, 16, 32, 64]),
            "zero": rng.choice([0, 1, 2, 3]),
            "recompute": rng.choice(list(tm.RECOMPUTE)),
        }
        if 20 * 2**10 <= _layout_total_mib(**drawn) <= 200 * 2**10:
            return drawn


def _article_line(L, h, a, s, b, t) -> float:
    """The seed article's printed expression, evaluated as printed: no s in front, in MB."""
    return b * h * L * (10 + 24 / t + 5 * a * s / (h * t)) / 1e6


def _seed_inputs(model: str, s: int, b: int, t: int) -> dict:
    cfg = tm.MODELS[model]
    L, h, a = cfg.n_layers, cfg.d_model, cfg.n_heads
    return {
        "model": model, "L": L, "h": h, "a": a, "s": s, "b": b, "t": t,
        "claim": sig(_article_line(L, h, a, s, b, t), 3),
    }


def _draw_seed(rng: random.Random) -> dict:
    # A run whose true activations are 10-400 GB per GPU (the article's own: 235 GB).
    while True:
        model = _preset(rng, exclude=(_LESSON_MODEL,))
        a = tm.MODELS[model].n_heads
        s = _context(rng, model, [128, 256, 512, 1024, 2048, 4096])
        tokens = rng.choice([4096, 16384, 32768, 65536])  # s·b; the article has 65,536
        drawn = _seed_inputs(model, s, max(tokens // s, 1), rng.choice(_divisors(a, (1, 2, 4, 8))))
        if 10e3 <= _seed_true_mb(**drawn) <= 400e3:
            return drawn


def _softmax_outputs(model, a, L, s, t):
    """Bytes of the softmax outputs of all L layers on one GPU (b = 1, heads split t ways)."""
    return L * tm.activation_memory_breakdown(s, 1, tm.MODELS[model].d_model, a, tp=t)[
        "softmax_output"
    ]


def _draw_long(rng: random.Random) -> dict:
    # Long contexts of the models that train at them; 2 TB to 1 PB on one GPU, far beyond it.
    while True:
        model = rng.choice(["llama-3-8b", "llama-3-70b", "llama-3.1-405b", "mistral-7b",
                            "llama-2-70b", "gopher-280b"])
        cfg = tm.MODELS[model]
        drawn = {
            "model": model,
            "a": cfg.n_heads,
            "L": cfg.n_layers,
            "s": rng.choice([65536, 131072, 262144]),
            "t": _tp_choice(rng, model, (2, 4, 8)),
        }
        if 2e12 <= _softmax_outputs(**drawn) <= 1e15:
            return drawn


# --- the questions --------------------------------------------------------------------------

QUESTIONS: list[Question] = [
    Question(
        "06.1",
        "What tensor parallelism leaves whole",
        expected=lambda: sum(
            term.values * (1 if term.mask else 2)
            for term in tm.ACTIVATION_TERMS.values()
            if term.shape == "sbh" and not term.tp_split
        ),
        unit="",
        rtol=0.0,
        atol=0.0,
        kind="recall",
        text=(
            "A GPT-style layer stores $34$ bytes per $s \\cdot b \\cdot h$ value in per-token\n"
            "tensors (plus the attention scores). Megatron tensor parallelism over $t$ GPUs,\n"
            "*without* sequence parallelism, splits most of them $t$ ways. How many of the 34\n"
            "bytes per $sbh$ does every tensor-parallel rank still keep whole? Answer as a\n"
            "**number** (bytes per $sbh$)."
        ),
        nudge="Section 4 of the lesson: which regions of a layer lie outside the split "
        "attention heads and the split MLP columns?",
        hint="Add the bytes per sbh of the tensors outside the split regions: the two "
        "LayerNorm inputs, the two LayerNorm outputs that enter each block's first matmul "
        "(2 bytes each) and the two dropout masks after the blocks (1 byte each). "
        "tm.ACTIVATION_TERMS marks which tensors are split (tp_split).",
    ),
    Question(
        "06.2",
        "The score tensors of one layer on one GPU",
        expected=_score_bytes,
        unit="B",
        rtol=1e-3,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` has $a = {{a}}$ attention heads. It is trained on\n'
            "micro-batches of $b = {{b}}$ sequences of $s = {{s:tex}}$ tokens, with tensor\n"
            "parallelism $t = {{t}}$ (the heads are split over the $t$ GPUs), and the attention\n"
            "scores are materialised (no FlashAttention). How many bytes do **one layer's\n"
            "attention-score tensors** (all those of shape $a \\times s \\times s$ per sequence:\n"
            "the softmax output, its dropout mask and the dropout output) take on **one** GPU?\n"
            "Answer in **bytes** (B)."
        ),
        inputs={"model": "llama-2-13b", "a": 40, "s": 4096, "b": 2, "t": 4},
        draw=_draw_scores,
        nudge="Sections 2 and 4 of the lesson: how many bytes per score value do the three "
        "tensors store together, and what does tensor parallelism do to them?",
        hint="Softmax output 2 bytes, dropout mask 1 byte, dropout output 2 bytes per value: "
        "5·a·s²·b bytes per layer, divided by t because each GPU keeps only its a/t heads.",
    ),
    Question(
        "06.3",
        "One layer without parallelism",
        expected=lambda model, h, a, s, b: tm.activation_memory_per_layer(s, b, h, a),
        unit="B",
        rtol=0.005,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` has $h = {{h:tex}}$ and $a = {{a}}$ heads. With\n'
            "Korthikanti's accounting (16-bit activations, 1-byte dropout masks, scores\n"
            "materialised), how much activation memory does **one layer** keep for a micro-batch\n"
            "of $b = {{b}}$ sequences of $s = {{s:tex}}$ tokens, without any parallelism or\n"
            "recomputation? Answer in **bytes** (B)."
        ),
        inputs={"model": "gpt2-xl", "h": 1600, "a": 25, "s": 1024, "b": 8},
        draw=_draw_layer,
        nudge="Section 2 of the lesson: the per-layer total has a part that grows like s and "
        "a part that grows like s².",
        hint="sbh(34 + 5as/h) bytes per layer, with s·b·h the values of one s × b × h "
        "tensor.",
    ),
    Question(
        "06.4",
        "When the scores take over under tensor parallelism",
        expected=lambda model, h, a, t: tm.attention_score_crossover(h, a, tp=t),
        unit="tokens",
        rtol=0.01,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` has $h = {{h:tex}}$ and $a = {{a}}$ heads. It is trained\n'
            "with tensor parallelism $t = {{t}}$ **without** sequence parallelism. At what\n"
            "sequence length $s$ do the attention-score terms that one GPU keeps equal all the\n"
            "per-token terms it keeps? Use Korthikanti's accounting. Answer in **tokens** (it\n"
            "need not be a whole number)."
        ),
        inputs={"model": "gopher-280b", "h": 16384, "a": 128, "t": 8},
        draw=_draw_crossover,
        nudge="Sections 3 and 4 of the lesson: which per-token terms does tensor parallelism "
        "leave whole, and which does it divide by t?",
        hint="Per GPU a layer keeps sbh(10 + 24/t + 5as/(ht)). Set 5as/(ht) = 10 + 24/t and "
        "solve for s.",
    ),
    Question(
        "06.5",
        "Activations of the busiest GPU",
        expected=_busiest_gib,
        unit="GiB",
        rtol=0.005,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` ($L = {{L}}$, $h = {{h:tex}}$, $a = {{a}}$) is trained\n'
            "with tensor parallelism $t = {{t}}$ **with** sequence parallelism, $p = {{p}}$\n"
            "pipeline stages under the 1F1B schedule and $m = {{m}}$ micro-batches per step,\n"
            "each holding $b = {{b}}$ sequence(s) of $s = {{s:tex}}$ tokens, without\n"
            "recomputation.\n"
            "How much activation memory does the busiest GPU (the first pipeline stage) hold at\n"
            "its peak? Answer in **GiB** ($2^{30}$ bytes, the unit PyTorch's memory report\n"
            "uses)."
        ),
        inputs={"model": "llama-2-70b", "L": 80, "h": 8192, "a": 64, "s": 4096, "b": 1,
                "t": 8, "p": 4, "m": 16},
        draw=_draw_busiest,
        nudge="Section 4 of the lesson: what does sequence parallelism divide, and how many "
        "micro-batches of its layers does the first stage hold under 1F1B?",
        hint="Per layer sbh(34/t + 5as/(ht)) bytes with SP. The first stage has L/p layers and "
        "holds min(p, m) micro-batches of them: L layers' worth when m ≥ p, whatever p is. "
        "1 GiB = 2^30 bytes.",
    ),
    Question(
        "06.6",
        "What selective recomputation frees without sequence parallelism",
        expected=lambda model, h, a, s, t: tm.selective_recompute_saving(s, h, a, tp=t),
        unit="",
        rtol=0.005,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` ($h = {{h:tex}}$, $a = {{a}}$) is trained at\n'
            "$s = {{s:tex}}$ with tensor parallelism $t = {{t}}$ but **without** sequence\n"
            "parallelism. What share of one GPU's activation memory does selective\n"
            "recomputation free? Answer as a **fraction** between 0 and 1."
        ),
        inputs={"model": "chinchilla-70b", "h": 8192, "a": 64, "s": 4096, "t": 8},
        draw=_draw_saving,
        nudge="Section 5 of the lesson: which tensors does selective recomputation throw "
        "away, and what else stays on the GPU when there is no sequence parallelism?",
        hint="Without SP a layer keeps sbh(10 + 24/t + 5as/(ht)) per GPU; selective "
        "recomputation removes the 5as/(ht) term. The share is that term over the whole "
        "bracket (b and sbh cancel).",
    ),
    Question(
        "06.7",
        "FLOPs selective recomputation actually redoes",
        expected=lambda model, s: tm.recompute_flops_overhead(tm.MODELS[model], s, "selective"),
        unit="",
        rtol=0.01,
        kind="apply",
        text=(
            "Selective recomputation repeats the forward pass of $QK^\\top$ and of the product\n"
            'with $V$ in the backward pass. For `tm.MODELS["{{model}}"]` trained at\n'
            "$s = {{s:tex}}$ tokens, what fraction of the model's training FLOPs per token\n"
            "(PaLM's count, `tm.flops_per_token`: $6N_\\text{matmul} + 12L(Hh_d)s$) is\n"
            "**actually redone**? Answer as a **fraction**."
        ),
        inputs={"model": "llama-3-70b", "s": 16384},
        draw=_draw_redone,
        nudge="Section 5 of the lesson: the backward pass of QKᵀ and of the product with V "
        "happens anyway. What does recomputation add on top?",
        hint="The forward pass of those two products, 4·L·(H·h_d)·s FLOPs per token; divide "
        "by 6·N_matmul + 12·L·(H·h_d)·s at the same s (N_matmul = tm.matmul_params).",
    ),
    Question(
        "06.8",
        "Does it fit? Memory of the busiest GPU",
        expected=_layout_total_mib,
        unit="MiB",
        rtol=0.005,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` is trained with tensor parallelism $t = {{t}}$ (with\n'
            "sequence parallelism), $p = {{p}}$ pipeline stages (1F1B, $m = {{m}}$\n"
            "micro-batches per step) and $d = {{d}}$ data-parallel copies with ZeRO stage\n"
            "{{zero}} (stage 1 shards the optimizer states over the $d$ copies, stage 2 also the\n"
            "gradients, stage 3 also the weights; 0 shards nothing): bf16 weights and\n"
            "gradients, AdamW with its fp32 master copy (12 bytes per parameter),\n"
            "$s = {{s:tex}}$, $b = {{b}}$, activation recomputation: **{{recompute}}**. The\n"
            "busiest GPU holds\n"
            "`tm.params_per_gpu(cfg, tp={{t}}, pp={{p}})` parameters. What is its total training\n"
            "memory? Answer in **MiB** ($2^{20}$ bytes), the unit `nvidia-smi` shows."
        ),
        inputs={"model": "gopher-280b", "s": 2048, "b": 1, "m": 32, "t": 8, "p": 8, "d": 16,
                "zero": 1, "recompute": "selective"},
        draw=_draw_layout,
        nudge="Section 6 of the lesson: model states (bytes per parameter × parameters on the "
        "GPU, some sharded by ZeRO) plus the activations of the first pipeline stage.",
        hint="States: N_gpu × (2 + 2 + 12) bytes, with each part divided by d once the ZeRO "
        "stage reaches it. Activations: min(p, m) × (L/p) × the per-layer bytes with SP "
        "(34/t + 5as/(ht) per sbh; 34/t for selective; 2/t for full). 1 MiB = 2^20 bytes.",
    ),
    Question(
        "06.9",
        "The article's activation line, reused",
        expected=_seed_true_mb,
        unit="MB",
        rtol=0.005,
        kind="find the error",
        text=(
            "The article of the lesson's section 7 computes activation memory with the line\n"
            "$b \\times h \\times L \\times \\left(10 + \\frac{24}{t} + 5\\cdot\n"
            "\\frac{a\\,s}{h\\,t}\\right)$ bytes. A reader applies it to\n"
            '`tm.MODELS["{{model}}"]` ($L = {{L}}$,\n'
            "$h = {{h:tex}}$, $a = {{a}}$), trained on micro-batches of $b = {{b}}$ sequences of\n"
            "$s = {{s:tex}}$ tokens with tensor parallelism $t = {{t}}$ (no sequence\n"
            "parallelism, no pipeline, no recomputation):\n\n"
            "$${{b}} \\times {{h}} \\times {{L}} \\times \\left(10 + \\frac{24}{ {{t}} } + "
            "5\\cdot\\frac{ {{a}} \\times {{s}} }{ {{h}} \\times {{t}} }\\right)"
            " \\text{ bytes} \\approx {{claim:tex}} \\text{ MB per GPU.}$$\n\n"
            "Find the error. How much activation memory does one GPU of this run really hold?\n"
            "Answer in **MB** ($10^6$ bytes), the reader's unit. Then, in the cell below, say in\n"
            "a sentence or two what is wrong with the reader's line."
        ),
        discussion=(
            "**What is wrong with the reader's line?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "The bracket $(10 + 24/t + 5as/(ht))$ is in bytes per value of an $s \\times b\n"
            "\\times h$ tensor (Korthikanti et al. 2022, Table 2), so it must multiply\n"
            "$s\\,b\\,h\\,L$; the article's line leaves the sequence length out. What it computes\n"
            "is the memory of a single token per sequence, too small by the factor\n"
            "$s = {{s:tex}}$. The $5as/(ht)$ term carries one $s$ of its own, but the attention\n"
            "scores grow like $s^2$, and the per-token tensors like $s$: both need the $s$ in\n"
            "front. A sanity check catches it: a layer cannot keep less than its input,\n"
            "$2sbh$ bytes.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs=_seed_inputs("llama-2-7b", s=256, b=64, t=2),
        draw=_draw_seed,
        nudge="Section 7 of the lesson: compare the reader's line with Korthikanti's "
        "per-layer formula symbol by symbol.",
        hint="With tensor parallelism and no sequence parallelism one GPU keeps "
        "s·b·h·(10 + 24/t + 5as/(ht)) bytes per layer; multiply by L. Is every symbol of that "
        "product in the reader's line?",
    ),
    Question(
        "06.10",
        "Attention scores at long context",
        expected=_softmax_outputs,
        unit="B",
        rtol=0.3,
        kind="estimate",
        text=(
            'Suppose `tm.MODELS["{{model}}"]` ($a = {{a}}$ heads, $L = {{L}}$ layers)\n'
            "materialised its attention probabilities while training one sequence of\n"
            "$s = {{s:tex}}$ tokens, with the heads split over $t = {{t}}$ GPUs by tensor\n"
            "parallelism. Roughly how much memory would the **softmax outputs** (16-bit) of all\n"
            "its layers need on **one** GPU? Any answer within 30 % counts. Answer in\n"
            "**bytes** (B)."
        ),
        inputs={"model": "llama-3-70b", "a": 64, "L": 80, "s": 65536, "t": 8},
        draw=_draw_long,
        nudge="Section 3 of the lesson: how big is one head's score matrix, and how many "
        "heads does one GPU keep?",
        hint="2 bytes × (a/t) heads × s² values per layer, times L layers.",
    ),
    Question(
        "06.11",
        "What selective recomputation really redoes",
        expected=_redone_selective,
        unit="",
        rtol=0.02,
        kind="find the error",
        text=(
            "Korthikanti et al. 2022 charge selective recomputation with the whole attention term\n"
            "once more: their Eq. 8 (hardware FLOPs) turns the $s/(6h)$ of their Eq. 7 (model\n"
            "FLOPs, $72\\,B\\,L\\,s\\,h^2 (1 + s/(6h) + V/(12hL))$) into $s/(3h)$. For\n"
            '`tm.MODELS["{{model}}"]` at $s = {{s:tex}}$ that is **{{claimed}} %** more FLOPs. '
            'Their\n'
            "Appendix A says what is recomputed: the forward $QK^\\top$ and the product of the\n"
            "scores with $V$, nothing else. What fraction of the model FLOPs (Eq. 7) is really\n"
            "redone? Answer as a **fraction**."
        ),
        discussion=(
            "<!-- BEGIN SOLUTION -->\n"
            "**The slip.** The attention term $s/(6h)$ of Eq. 7 is the forward *and* backward of\n"
            "$QK^\\top$ and the product with $V$: $12\\,b\\,s^2 h$ FLOPs per layer. Recomputing "
            "them\n"
            "repeats only the forward, $4\\,b\\,s^2h$, as Appendix A itself counts; the backward\n"
            "runs once either way. Eq. 8 adds all $12\\,b\\,s^2h$, so its overhead is three times\n"
            "the work redone: {{claimed}} % against a third of it. Both are far below the time\n"
            "the recomputation costs (Table 4: 7 % for a 22B layer), which is memory traffic.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"model": "gopher-280b", "s": 2048, "claimed": _claimed_selective("gopher-280b",
                                                                                 2048)},
        draw=_draw_eq8,
        nudge="Section 5 of the lesson: which passes of QK^T and of the product with V run again, "
        "and which run once anyway?",
        hint="Per token and layer the forward of QK^T and of (scores)V is 4·s·h FLOPs; Eq. 7 per "
        "token is 72·L·h²·(1 + s/(6h) + V/(12hL)). Divide L·4·s·h by that.",
    ),
]
