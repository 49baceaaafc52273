"""Answer key of lesson 10, "Theory vs measurement" (``exercises/10_theory_vs_measurement.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use (variant 0) and a
draw that makes a variant from the course's presets and small, CPU-friendly shapes. Every
expected value is computed from the inputs with :mod:`trainmath` formulas, which lesson 10 shows
to equal what PyTorch measures (``tests/test_measure.py`` asserts each equality); the solution
notebook measures them again with :mod:`trainmath.measure`. The key itself does not import
PyTorch, so the course's key checks run without it.
"""

from __future__ import annotations

import random

import trainmath as tm
from trainmath.answers import Question

__all__ = ["QUESTIONS"]

# Presets with rotary positions: PyTorch's count equals tm.flops_per_token for any context and
# batch (Chinchilla's and Gopher's relative positions add a per-sequence projection).
_ROPE = ("llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b",
         "llama-3.1-405b", "mistral-7b")
# (preset, context) pairs the lesson's table in section 4 works through.
_IN_LESSON = {("llama-2-7b", 4096), ("llama-2-70b", 4096), ("llama-3-8b", 8192),
              ("llama-3.1-405b", 8192), ("mistral-7b", 8192), ("gpt2", 1024),
              ("gpt3-175b", 2048)}
_CONTEXTS = (2048, 4096, 8192, 16384, 32768)
# GPT-2-style presets (LayerNorm, learned positions) small enough to run on a laptop CPU.
_GPT2 = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
# Presets of 7 B parameters and more, for the estimate.
_LARGE = ("gpt3-175b", *_ROPE)


# --- small configurations built from the inputs -------------------------------------------


def _gpt(L: int, d: int, H: int, V: int, s_max: int) -> tm.ModelConfig:
    """A GPT-2-style config: learned positions, biases, LayerNorm, d_ff = 4d, tied head."""
    return tm.ModelConfig(n_layers=L, d_model=d, n_heads=H, vocab_size=V, seq_len=s_max)


def _llama(L: int, d: int, H: int, H_kv: int, d_ff: int, V: int, s: int) -> tm.ModelConfig:
    """A Llama-style config: RoPE, RMSNorm, SwiGLU, grouped-query attention, untied head."""
    return tm.ModelConfig(
        n_layers=L, d_model=d, n_heads=H, n_kv_heads=H_kv, d_ff=d_ff, vocab_size=V, seq_len=s,
        mlp="swiglu", norm="rmsnorm", bias=False, tied_embeddings=False, position="rope",
    )


def _draw_gpt_shape(rng: random.Random) -> dict:
    head = rng.choice([32, 64])
    d = rng.choice([d for d in (128, 192, 256, 320, 384, 448, 512, 640, 768) if d % head == 0])
    return {
        "L": rng.randint(2, 12),
        "d": d,
        "H": d // head,
        "V": rng.choice([2048, 4096, 5000, 8000, 10000, 16384, 32000, 50257]),
        "s_max": rng.choice([64, 128, 256, 512, 1024]),
    }


def _draw_forward(rng: random.Random) -> dict:
    shape = _draw_gpt_shape(rng)
    s = rng.choice([s for s in (32, 64, 128, 256, 512) if s <= shape["s_max"]])
    return {**shape, "b": rng.choice([1, 2, 3, 4, 6, 8, 16]), "s": s}


def _draw_gqa(rng: random.Random) -> dict:
    head = rng.choice([32, 64])
    H = rng.choice([4, 8, 16])
    d = H * head
    return {
        "L": rng.randint(2, 8),
        "d": d,
        "H": H,
        "H_kv": rng.choice([k for k in (1, 2, 4, 8) if k < H]),
        "d_ff": 64 * round(8 * d / 3 / 64),  # Llama's 8d/3, rounded to 64
        "V": rng.choice([4096, 8000, 32000]),
        "b": rng.choice([1, 2, 3, 4, 8]),
        "s": rng.choice([64, 128, 256, 512]),
    }


def _draw_rope_context(rng: random.Random) -> dict:
    pairs = [(m, s) for m in _ROPE for s in _CONTEXTS if (m, s) not in _IN_LESSON]
    model, s = rng.choice(pairs)
    return {"model": model, "s": s}


def _draw_dropout(rng: random.Random) -> dict:
    head = rng.choice([32, 64])
    h = rng.choice([h for h in (128, 192, 320, 384, 448, 512) if h % head == 0])
    return {"h": h, "a": h // head, "s": rng.choice([32, 48, 64, 96, 160]),
            "b": rng.choice([1, 2, 3, 4])}


def _draw_extras(rng: random.Random) -> dict:
    model = rng.choice([*_GPT2, "gpt3-175b"])
    cfg = tm.MODELS[model]
    s = rng.choice([s for s in (256, 512, 768, 1024, 1536, 2048) if s <= cfg.seq_len])
    return {"model": model, "s": s, "b": rng.choice([1, 2, 3, 4, 6, 8])}


def _draw_tutorial(rng: random.Random) -> dict:
    model = rng.choice(_GPT2)
    b, s = rng.choice([1, 2, 4, 8, 12, 16]), rng.choice([128, 256, 512, 1024])
    return {"model": model, "b": b, "s": s, "claimed": _claimed(model, b, s)}


def _draw_optimizer(rng: random.Random) -> dict:
    head = rng.choice([32, 64])
    d = rng.choice([d for d in (64, 96, 128, 192, 256) if d % head == 0])
    return {
        "L": rng.randint(1, 4),
        "d": d,
        "H": d // head,
        "V": rng.choice([500, 1000, 2000, 3000, 4096]),
        "s_max": rng.choice([32, 64, 128]),
        "dtype": rng.choice(["fp32", "bf16"]),
        "optimizer": rng.choice(["adamw", "adamw", "sgd-momentum"]),
    }


def _draw_estimate(rng: random.Random) -> dict:
    # Shapes for which 6N is within 20 % of the exact count, so that the 6N estimate holds.
    while True:
        model = rng.choice(_LARGE)
        cfg = tm.MODELS[model]
        s = rng.choice([s for s in (1024, 2048, 4096, 8192) if s <= cfg.seq_len])
        if (model, s) in _IN_LESSON:
            continue
        if _six_n_share(model, s) >= 0.8:
            return {"model": model, "b": rng.choice([1, 2, 4, 8, 16]), "s": s}


# --- expected values ----------------------------------------------------------------------


def _forward(L, d, H, V, s_max, b, s) -> float:
    # The forward pass is a third of the training FLOPs (backward = 2 x forward).
    return tm.flops_per_token(_gpt(L, d, H, V, s_max), s) / 3 * b * s


def _attention_bmm(L, d, H, H_kv, d_ff, V, b, s) -> float:
    cfg = _llama(L, d, H, H_kv, d_ff, V, s)
    # Attention's training FLOPs: the step minus the weight FLOPs, 12 L (H hd) s per token.
    return (tm.flops_per_token(cfg, s) - tm.training_flops(tm.matmul_params(cfg), 1)) * b * s


def _exact_over_six_n(model, s) -> float:
    cfg = tm.MODELS[model]
    return tm.flops_per_token(cfg, s) / tm.training_flops(tm.param_count(cfg), 1)


def _six_n_share(model, s) -> float:
    return 1 / _exact_over_six_n(model, s)


def _dropout_noise(h, a, s, b) -> float:
    # bf16 noise (2 bytes) instead of a bool mask (1 byte): one byte more per dropped value.
    masks = ("softmax_dropout_mask", "projection_dropout_mask", "mlp_dropout_mask")
    terms = tm.activation_memory_breakdown(s, b, h, a)
    return sum(terms[k] for k in masks)


def _extras(model, s, b) -> int:
    # causal mask: s^2 bools; LayerNorm statistics: 2 norms x (mean, 1/sigma) x 4 bytes x s b.
    return s * s + 2 * 2 * 4 * s * b


def _step(model, b, s) -> float:
    return tm.flops_per_token(tm.MODELS[model], s) * b * s


def _claimed(model, b, s) -> int:
    # What FlopCounterMode counts around model(idx) alone with CPU SDPA: 2 N_matmul per token.
    return int(tm.forward_flops(tm.matmul_params(tm.MODELS[model]), b * s))


def _optimizer_bytes(L, d, H, V, s_max, dtype, optimizer) -> int:
    n = tm.param_count(_gpt(L, d, H, V, s_max))
    per_value = {"fp32": 4, "bf16": 2}[dtype]
    states = {"adamw": 2, "sgd-momentum": 1}[optimizer]
    # AdamW also keeps one fp32 step counter per parameter tensor: token and position
    # tables, 16 tensors per block, the final norm's weight and bias (the head is tied).
    tensors = 2 + 16 * L + 2
    counters = 4 * tensors if optimizer == "adamw" else 0
    return n * states * per_value + counters


QUESTIONS: list[Question] = [
    Question(
        "10.1",
        "Count, then check",
        expected=lambda L, d, H, V, s_max: tm.param_count(_gpt(L, d, H, V, s_max)),
        unit="params",
        rtol=0.0,
        atol=0.5,
        kind="apply",
        text=(
            "A GPT-2-style model has $L = {{L}}$ layers, $d = {{d}}$, $H = {{H}}$ heads, a\n"
            "vocabulary of $V = {{V:tex}}$ tokens and learned positions for $s = {{s_max:tex}}$\n"
            "(biases, $d_\\text{ff} = 4d$, LM head tied to the token embedding). How many\n"
            "parameters does PyTorch report for it? Count them by hand first, then build it\n"
            'with `measure.build_model(cfg, device="meta")` and count with\n'
            "`measure.count_params`. Answer in **parameters** (exactly)."
        ),
        inputs={"L": 4, "d": 256, "H": 8, "V": 5000, "s_max": 128},
        draw=_draw_gpt_shape,
        nudge="Section 2 of the lesson: list the tables, the weight matrices and the vectors "
        "(biases, norm scales) of one block, and remember the tied head.",
        hint="N = V·d (tokens; the tied head adds nothing) + s·d (positions) + L·(12d² + 13d) "
        "+ 2d (final LayerNorm). Per block 12d² is W_q, W_k, W_v, W_o (4d²) and the two MLP "
        "matrices (8d²); 13d is their biases (4d + 4d + d) and two LayerNorms (4d).",
    ),
    Question(
        "10.2",
        "The forward pass, counted",
        expected=_forward,
        unit="FLOP",
        rtol=1e-9,
        kind="apply",
        text=(
            "Another GPT-2-style model (learned positions for $s_\\text{max} = {{s_max:tex}}$,\n"
            "biases, $d_\\text{ff} = 4d$, tied head) has $L = {{L}}$, $d = {{d}}$, $H = {{H}}$\n"
            "and $V = {{V:tex}}$. `measure.measure_flops(model, batch={{b}}, seq_len={{s}})`\n"
            "counts one training step on ${{b}}$ sequences of ${{s}}$ tokens with\n"
            "`FlopCounterMode`. How many FLOPs does it report for the **forward** pass (logits\n"
            "and loss)? Work it out by hand, then measure (the meta device is enough).\n"
            "Answer in **FLOP** (exactly)."
        ),
        inputs={"L": 6, "d": 384, "H": 6, "V": 8000, "s_max": 256, "b": 6, "s": 192},
        draw=_draw_forward,
        nudge="Section 3 of the lesson: which operations does FlopCounterMode count, and how "
        "do the weight matmuls and attention's two products each scale with the tokens?",
        hint="Forward = 2·N_matmul·b·s + 4·L·(H·h_d)·b·s². N_matmul = L·12d² + V·d: every "
        "weight matrix, the LM head included, no embedding or position table. The loss, "
        "softmax, norms and biases count zero.",
    ),
    Question(
        "10.3",
        "Attention's bmm with grouped-query heads",
        expected=_attention_bmm,
        unit="FLOP",
        rtol=1e-9,
        kind="apply",
        text=(
            "A Llama-style model (RoPE, RMSNorm, SwiGLU with $d_\\text{ff} = {{d_ff:tex}}$, no\n"
            "biases, untied head, $V = {{V:tex}}$) has $L = {{L}}$ layers, $d = {{d}}$ and\n"
            "$H = {{H}}$ query heads sharing $H_\\text{kv} = {{H_kv}}$ key/value heads\n"
            "(grouped-query attention). It trains on ${{b}}$ sequences of ${{s}}$ tokens with\n"
            "attention written out. How many FLOPs does `FlopCounterMode` file under the\n"
            "batched matmul `bmm` for one **training step**, forward and backward together?\n"
            "Answer in **FLOP** (exactly)."
        ),
        inputs={"L": 4, "d": 512, "H": 8, "H_kv": 2, "d_ff": 1408, "V": 4096, "b": 4,
                "s": 256},
        draw=_draw_gqa,
        nudge="Section 3 of the lesson: which products are the bmm ones, what are their "
        "shapes, and does sharing key/value heads change them? Then: how does backward "
        "compare with forward?",
        hint="QKᵀ and AV each cost 2·b·s²·(H·h_d) per layer in the forward pass, with H the "
        "query heads (K and V are repeated for each query head); the backward pass costs "
        "twice the forward. In all 3 × 4·L·(H·h_d)·b·s².",
    ),
    Question(
        "10.4",
        "How far off is 6ND for {{model}} at s = {{s}}?",
        expected=_exact_over_six_n,
        unit="",
        rtol=0.001,
        kind="apply",
        text=(
            'Measure the exact training FLOPs per token of `tm.MODELS["{{model}}"]` at a\n'
            "context of $s = {{s:tex}}$ tokens on the meta device\n"
            "(`measure.measure_config_flops`) and divide by $6N$ with $N$ = `tm.param_count`\n"
            "(all parameters). Predict it by hand first from the preset's shape. Answer as a\n"
            "**ratio** (exact ÷ 6N)."
        ),
        inputs={"model": "llama-2-13b", "s": 4096},
        draw=_draw_rope_context,
        nudge="Section 4 of the lesson: 6N counts parameters that do no matmul and leaves out "
        "attention. Which parameters of this model are those, and how big is attention at "
        "this context?",
        hint="Exact per token = 6·N_matmul + 12·L·(H·h_d)·s, with N_matmul = L·(2·d·H·h_d + "
        "2·d·H_kv·h_d + 3·d·d_ff) + V·d (the LM head, no input embedding); N also counts the "
        "input embedding V·d and the RMSNorm scales (2d per layer + d). Divide exact by 6N.",
    ),
    Question(
        "10.5",
        "Dropout that saves noise",
        expected=_dropout_noise,
        unit="B",
        rtol=1e-9,
        kind="apply",
        text=(
            "A GPT-style block with $h = {{h}}$, $a = {{a}}$ heads, bf16 weights and dropout\n"
            "0.1 runs on the **CPU** on $b = {{b}}$ sequences of $s = {{s}}$ tokens. Built with\n"
            "`fused_dropout=False`, it calls `F.dropout`, which keeps a bf16 noise tensor for\n"
            "the backward pass instead of a 1-byte mask. How many bytes more does the block\n"
            "save than the same block with 1-byte masks? Answer in **bytes**."
        ),
        inputs={"h": 320, "a": 5, "s": 48, "b": 3},
        draw=_draw_dropout,
        nudge="Section 5 of the lesson (the two traps): where in a GPT block does dropout "
        "act, and on tensors of which shapes?",
        hint="Three dropouts: on the attention probabilities (a·s²·b values) and after each "
        "residual branch (s·b·h values each). Each value costs 2 bytes of noise instead of "
        "1 byte of mask: a·s²·b + 2·s·b·h bytes more.",
    ),
    Question(
        "10.6",
        "What Korthikanti leaves out in a {{model}} layer",
        expected=_extras,
        unit="B",
        rtol=1e-9,
        kind="apply",
        text=(
            'Build one layer of `tm.MODELS["{{model}}"]` (`cfg.replace(n_layers=1)`) in bf16\n'
            "with dropout 0.1 on the **meta** device and measure what it saves for the\n"
            "backward pass on $b = {{b}}$ sequences of $s = {{s:tex}}$ tokens\n"
            "(`measure.block_saved_activations`). How many bytes more than Korthikanti's\n"
            "$sbh(34 + 5as/h)$ (Korthikanti et al. 2022, Sec. 4.1) is that? Answer in\n"
            "**bytes**, then say which tensors they are."
        ),
        discussion=(
            "**Which tensors are they?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "Two tensors that Korthikanti et al. leave out as small. The bool causal mask\n"
            "($s \\times s$, 1 byte each) that `masked_fill` keeps to zero the gradients of the\n"
            "masked scores: one per block, shared by the ${{b}}$ sequences and all heads, so it\n"
            "does not grow with $b$ or $a$. And the statistics of the two LayerNorms, mean and\n"
            "$1/\\sigma$ for every token, kept in fp32 on the meta device (and on CUDA):\n"
            "$2 \\times 2 \\times 4\\,sb$ bytes. Neither depends on $h$, so the wider the layer,\n"
            "the smaller their share; Megatron-LM's fused softmax does not keep the mask at all.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"model": "gpt2-large", "s": 768, "b": 3},
        draw=_draw_extras,
        nudge="Section 5 of the lesson: two small tensors that the paper does not list. Which "
        "ones, and what does each depend on (the heads? the batch? the width?)",
        hint="The bool causal mask masked_fill keeps (s² bytes, one per block, shared by the "
        "batch and the heads) and each LayerNorm's mean and 1/σ per token, in fp32 on the "
        "meta device: 2 norms × 2 × 4 bytes × s·b.",
    ),
    Question(
        "10.7",
        "The invisible kernel",
        expected=lambda model, s: tm.attention_flops_fraction(tm.MODELS[model], s),
        unit="",
        rtol=0.01,
        kind="apply",
        text=(
            'Suppose you measured a training step of `tm.MODELS["{{model}}"]` at\n'
            "$s = {{s:tex}}$ on the **CPU** with attention computed by\n"
            "`F.scaled_dot_product_attention`. What fraction of the step's true training FLOPs\n"
            "(attention written out, full $s \\times s$ square as PaLM counts it) would\n"
            "`FlopCounterMode` miss? Answer as a **fraction** between 0 and 1."
        ),
        inputs={"model": "llama-3-70b", "s": 16384},
        draw=_draw_rope_context,
        nudge="Section 3 of the lesson (a trap): which operator does the CPU's fused kernel "
        "replace, and what part of the FLOPs does that operator carry?",
        hint="On the CPU the fused kernel counts zero, so all of attention is missing: "
        "12·L·(H·h_d)·s per token, out of 6·N_matmul + 12·L·(H·h_d)·s.",
    ),
    Question(
        "10.8",
        "A tutorial's FLOP count",
        expected=lambda model, b, s, claimed: _step(model, b, s),
        unit="FLOP",
        rtol=1e-6,
        kind="find the error",
        text=(
            "A tutorial measures the training cost of `tm.MODELS[\"{{model}}\"]` on a laptop.\n"
            "It builds the model on the CPU with `F.scaled_dot_product_attention`, wraps\n"
            "`logits = model(idx)` for a batch of ${{b}}$ sequences of ${{s:tex}}$ tokens in\n"
            "`FlopCounterMode`, and gets ${{claimed:tex}}$ FLOPs. It concludes that a training\n"
            "step costs that much, $2N$ per token, so that \"the $6ND$ rule overestimates\n"
            'training compute three times".\n\n'
            "How many FLOPs does that training step really cost, forward and backward, with\n"
            "attention counted as PaLM does (full square)? Answer in **FLOP**. Then say, in\n"
            "the cell below, what went wrong in the tutorial's measurement."
        ),
        discussion=(
            "**What went wrong in the tutorial's measurement?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "Two things, both invisible in the count itself. First, it counted only the forward\n"
            "pass: a training step also runs the backward pass, which computes two gradients for\n"
            "every matrix product and costs twice the forward. Wrap `loss.backward()` in the\n"
            "counter too (`measure.measure_flops` does). Second, on the CPU\n"
            "`F.scaled_dot_product_attention` runs a fused kernel for which `FlopCounterMode`\n"
            "has no formula, so attention's $12\\,L\\,(H h_d)\\,s$ FLOPs per token are missing:\n"
            "`forward_by_op` shows no `bmm`. The measured $2N_\\text{matmul}$ per token is\n"
            "therefore a third of the weight FLOPs, and the true step is *more* than\n"
            "$6N_\\text{matmul}$ per token, not a third of it. Before trusting a FLOP count, look\n"
            "at the passes and the operators it saw.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"model": "gpt2-medium", "b": 12, "s": 512,
                "claimed": _claimed("gpt2-medium", 12, 512)},
        draw=_draw_tutorial,
        nudge="Section 3 of the lesson: which pass did the tutorial count, and which "
        "operators can FlopCounterMode see on the CPU?",
        hint="The tutorial's number is 2·N_matmul·b·s: the forward weight FLOPs only. The "
        "training step is 3 × that (backward = 2 × forward) plus attention's "
        "12·L·(H·h_d)·s per token, times b·s tokens.",
    ),
    Question(
        "10.9",
        "Optimizer state after a real step ({{optimizer}})",
        expected=_optimizer_bytes,
        unit="B",
        rtol=0.0,
        atol=0.5,
        kind="apply",
        text=(
            "A GPT-2-style model with $L = {{L}}$, $d = {{d}}$, $H = {{H}}$, $V = {{V:tex}}$ and\n"
            "learned positions for $s = {{s_max}}$ (biases, $d_\\text{ff} = 4d$, tied head) is\n"
            "built in **{{dtype}}** and trained for one real step with\n"
            '`measure.measure_optimizer_state(model, "{{optimizer}}")` (`torch.optim.AdamW`\n'
            'for "adamw", `torch.optim.SGD` with momentum 0.9 for "sgd-momentum"). How many\n'
            "bytes does `optimizer.state` then hold in all, per-parameter states and any\n"
            "per-tensor step counters together? Answer in **bytes** (exactly)."
        ),
        inputs={"L": 3, "d": 192, "H": 3, "V": 2000, "s_max": 64, "dtype": "bf16",
                "optimizer": "adamw"},
        draw=_draw_optimizer,
        nudge="Section 6 of the lesson: which buffers does each torch.optim optimizer keep, "
        "in which dtype, and is anything kept per tensor rather than per value?",
        hint="AdamW keeps exp_avg and exp_avg_sq in the weights' dtype (2 × N × bytes per "
        "value) plus one 4-byte fp32 step per parameter tensor; SGD with momentum keeps one "
        "momentum_buffer (N × bytes per value) and no counter. Count N as in 10.1 and the "
        "tensors: 2 tables, 16 per block, 2 for the final norm; the tied head is the "
        "embedding.",
    ),
    Question(
        "10.10",
        "Which part?",
        expected="master",
        unit="",
        kind="recall",
        text=(
            'Lesson 05 counts AdamW\'s state as `tm.OPTIMIZER_STATES["adamw"]`: master,\n'
            "momentum and variance, 4 bytes each. Which of the three does PyTorch not keep\n"
            "separately when the model itself is fp32? Answer with the **key** as a string."
        ),
        nudge="Section 6 of the lesson: compare the names in optimizer.state with the three "
        "keys.",
        hint="Answer with one key of tm.OPTIMIZER_STATES['adamw']: the part that is a copy of "
        "something an fp32 model already stores.",
    ),
    Question(
        "10.11",
        "Order of magnitude: a step of {{model}} without measuring",
        expected=lambda model, b, s: _step(model, b, s),
        unit="FLOP",
        rtol=0.3,
        kind="estimate",
        text=(
            "Without building anything, estimate the FLOPs `FlopCounterMode` would count for\n"
            'one training step (forward and backward) of `tm.MODELS["{{model}}"]` on ${{b}}$\n'
            "sequence(s) of ${{s:tex}}$ tokens, attention written out. Any answer within\n"
            "30 % counts. Answer in **FLOP**."
        ),
        inputs={"model": "llama-2-70b", "b": 16, "s": 2048},
        draw=_draw_estimate,
        nudge="Section 4 of the lesson: how far off is the quickest rule for a model of this "
        "size at this context?",
        hint="C ≈ 6·N·(tokens) with N = tm.param_count and tokens = b·s; at these shapes it "
        "is within 20 % of the exact count.",
    ),
]
