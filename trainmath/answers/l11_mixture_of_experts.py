"""Answer key of lesson 11, "Mixture of experts" (``exercises/11_mixture_of_experts.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use (variant 0), and a
draw that makes a variant from sensible ranges. Every expected value is computed from the
inputs with :mod:`trainmath` functions (``active_param_count``, ``flops_per_token``,
``param_buckets``, ``expert_parallel_comm_bytes``, ``kv_cache_bytes``, ``max_load_estimate``,
``mfu``), never typed in.

The lesson works DeepSeek-V3 end to end (its counts, compute, GPU-hours, memory, layout and
KV cache) and prints the total and active counts of the five MoE presets; the questions use
shapes of their own (hypothetical mixtures of experts, drawn), other presets with token
counts and clusters the lesson does not use, and the draws leave the lesson's cases out.
"""

from __future__ import annotations

import random

import trainmath as tm
from trainmath.answers import Question, log_uniform, sig

__all__ = ["QUESTIONS"]

# The lesson's worked model: its numbers are printed there.
_LESSON_MODEL = "deepseek-v3"
_OTHER_MOE = sorted(k for k in tm.MOE_MODELS if k != _LESSON_MODEL)
_GPUS = ["A100-80GB", "H100-SXM", "H200", "B200"]


def _moe_shape(n_layers, d_model, n_heads, n_kv_heads, vocab_size, n_experts,
               experts_per_token, moe_d_ff, n_shared_experts=0, n_dense_layers=0, d_ff=None):
    """A Llama-style mixture of experts (RMSNorm, RoPE, SwiGLU experts, no biases, untied)."""
    return tm.ModelConfig(
        n_layers, d_model, n_heads, vocab_size, d_ff=d_ff or moe_d_ff, n_kv_heads=n_kv_heads,
        mlp="swiglu", norm="rmsnorm", bias=False, tied_embeddings=False, position="rope",
        n_experts=n_experts, experts_per_token=experts_per_token, moe_d_ff=moe_d_ff,
        n_shared_experts=n_shared_experts, n_dense_layers=n_dense_layers,
    )


def _mla_shape(n_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim):
    return tm.ModelConfig(
        24, 2048, n_heads, 32000, mlp="swiglu", norm="rmsnorm", bias=False,
        tied_embeddings=False, position="rope", attention="mla", kv_lora_rank=kv_lora_rank,
        qk_nope_head_dim=qk_nope_head_dim, qk_rope_head_dim=qk_rope_head_dim,
        v_head_dim=v_head_dim,
    )


# --- expected values ------------------------------------------------------------------------


def _active(n_layers, d_model, n_heads, n_kv_heads, vocab_size, n_experts, experts_per_token,
            moe_d_ff):
    cfg = _moe_shape(n_layers, d_model, n_heads, n_kv_heads, vocab_size, n_experts,
                     experts_per_token, moe_d_ff)
    return tm.active_param_count(cfg)


def _compute(model, tokens_t):
    return tm.training_flops(tm.active_param_count(tm.get_model(model)), tokens_t * 1e12)


def _mfu(model, tokens_t, gpu_hours_m, gpu):
    flops = tm.training_flops(tm.active_param_count(tm.get_model(model)), tokens_t * 1e12)
    seconds = gpu_hours_m * 1e6 * 3600
    return tm.mfu(flops / seconds, 1.0, 1, tm.get_accelerator(gpu).peak("bf16"))


def _wrong_mfu(model, tokens_t, gpu_hours_m, gpu, claimed):
    return _mfu(model, tokens_t, gpu_hours_m, gpu)


def _expert_gb(model, ep, tp):
    cfg = tm.get_model(model)
    return tm.param_buckets(cfg, tp=tp, ep=ep, etp=1).expert * 2 / 1e9


def _all_to_all_gb(model, seq_len, ep, layers):
    cfg = tm.get_model(model)
    return tm.expert_parallel_comm_bytes(seq_len, 1, cfg.d_model, ep,
                                         experts_per_token=cfg.experts_per_token,
                                         n_layers=layers) / 1e9


def _kv_ratio(n_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim):
    mla = _mla_shape(n_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim)
    # the same heads with every key and value cached, over the latent and the rotary key
    return tm.kv_cache_bytes(mla, 1, decompressed=True) / tm.kv_cache_bytes(mla, 1)


def _load(tokens, n_experts, experts_per_token):
    return tm.max_load_estimate(tokens, n_experts, experts_per_token)


def _mla_attention(n_layers, n_heads, qk_nope_head_dim, qk_rope_head_dim, v_head_dim, seq_len):
    cfg = tm.ModelConfig(
        n_layers, 4096, n_heads, 32000, mlp="swiglu", norm="rmsnorm", bias=False,
        tied_embeddings=False, position="rope", attention="mla", kv_lora_rank=512,
        qk_nope_head_dim=qk_nope_head_dim, qk_rope_head_dim=qk_rope_head_dim,
        v_head_dim=v_head_dim,
    )
    return tm.flops_per_token(cfg, seq_len) - 6 * tm.matmul_params(cfg)


# --- draws ----------------------------------------------------------------------------------


def _draw_active(rng: random.Random) -> dict:
    heads = rng.choice([16, 32, 48, 64])
    d = heads * 128
    e = rng.choice([8, 16, 32, 64, 128])
    k = rng.choice([k for k in (1, 2, 4, 6, 8) if k < e])
    return {"n_layers": rng.choice([24, 28, 32, 40, 48, 56]), "d_model": d, "n_heads": heads,
            "n_kv_heads": rng.choice([4, 8]), "vocab_size": rng.choice([32000, 65536, 100352,
                                                                         151936]),
            "n_experts": e, "experts_per_token": k,
            "moe_d_ff": rng.choice([512, 768, 1024, 1536, 2048, 4096, 8192, 14336])}


def _draw_compute(rng: random.Random) -> dict:
    return {"model": rng.choice(_OTHER_MOE), "tokens_t": rng.choice([2, 4, 8, 12, 18, 25, 30])}


def _draw_mfu(rng: random.Random) -> dict:
    model = rng.choice(_OTHER_MOE)
    tokens_t = rng.choice([3, 6, 9, 15, 20])
    gpu = rng.choice(_GPUS)
    # GPU-hours for an MFU between 25 % and 50 %
    flops = tm.training_flops(tm.active_param_count(tm.get_model(model)), tokens_t * 1e12)
    ideal = flops / tm.get_accelerator(gpu).peak("bf16") / 3600 / 1e6
    return {"model": model, "tokens_t": tokens_t,
            "gpu_hours_m": sig(ideal / rng.uniform(0.25, 0.5), 2), "gpu": gpu}


def _draw_wrong_mfu(rng: random.Random) -> dict:
    base = _draw_mfu(rng)
    total = tm.param_count(tm.get_model(base["model"]))
    flops = tm.training_flops(total, base["tokens_t"] * 1e12)
    seconds = base["gpu_hours_m"] * 1e6 * 3600
    claimed = 100 * tm.mfu(flops / seconds, 1.0, 1, tm.get_accelerator(base["gpu"]).peak("bf16"))
    return {**base, "claimed": round(claimed)}


def _draw_expert_gb(rng: random.Random) -> dict:
    model = rng.choice(_OTHER_MOE)
    e = tm.get_model(model).n_experts
    return {"model": model, "ep": rng.choice([x for x in (2, 4, 8, 16, 32, 64) if e % x == 0]),
            "tp": rng.choice([1, 2, 4])}


def _draw_all_to_all(rng: random.Random) -> dict:
    model = rng.choice(_OTHER_MOE)
    e = tm.get_model(model).n_experts
    return {"model": model, "seq_len": rng.choice([2048, 4096, 8192, 16384]),
            "ep": rng.choice([x for x in (4, 8, 16, 32, 64) if e % x == 0]),
            "layers": rng.choice([2, 3, 4, 6, 8])}


def _draw_kv(rng: random.Random) -> dict:
    return {"n_heads": rng.choice([16, 32, 64, 96, 128]),
            "kv_lora_rank": rng.choice([256, 384, 512, 768]),
            "qk_nope_head_dim": rng.choice([64, 96, 128]),
            "qk_rope_head_dim": rng.choice([32, 64]),
            "v_head_dim": rng.choice([64, 96, 128])}


def _draw_load(rng: random.Random) -> dict:
    e = rng.choice([16, 32, 64, 128])
    k = rng.choice([k for k in (1, 2, 4, 6, 8) if k < e])
    # 32 to 512 tokens per expert on average
    tokens = int(sig(log_uniform(rng, 32, 512) * e / k, 2))
    return {"tokens": tokens, "n_experts": e, "experts_per_token": k}


def _draw_mla_attention(rng: random.Random) -> dict:
    return {"n_layers": rng.choice([27, 30, 40, 48, 60]), "n_heads": rng.choice([16, 32, 64]),
            "qk_nope_head_dim": rng.choice([64, 128]), "qk_rope_head_dim": rng.choice([32, 64]),
            "v_head_dim": rng.choice([64, 128]), "seq_len": rng.choice([2048, 8192, 32768])}


# --- questions ------------------------------------------------------------------------------

_SHAPE = (
    "A hypothetical mixture of experts in the Mixtral style: {{n_layers}} layers, "
    "$d = {{d_model:,}}$,\n"
    "{{n_heads}} query heads of 128 and {{n_kv_heads}} key/value heads, a vocabulary of "
    "${{vocab_size:,}}$\n"
    "(untied input and output embeddings), RMSNorm, and in every layer a router over\n"
    "**{{n_experts}} SwiGLU experts** of hidden size ${{moe_d_ff:,}}$, each token going to "
    "**{{experts_per_token}}**\n"
    "of them (no shared experts, no biases)."
)

QUESTIONS: list[Question] = [
    Question(
        "11.1",
        "Active parameters from a model's shape",
        expected=_active,
        unit="params",
        rtol=0.001,
        kind="apply",
        text=(
            _SHAPE + " How many parameters does **one token use** (the published\n"
            "\"active\" count: embeddings, LM head, attention, norms and routers, and the\n"
            "chosen experts)? Answer in **parameters**."
        ),
        inputs={"n_layers": 40, "d_model": 4096, "n_heads": 32, "n_kv_heads": 8,
                "vocab_size": 65536, "n_experts": 16, "experts_per_token": 2,
                "moe_d_ff": 8192},
        draw=_draw_active,
        nudge="Section 2 of the lesson: everything but the experts is used by every token; "
        "count the non-expert parameters, then add the experts a token visits.",
        hint="Per layer: attention 2d·(H·128) + 2d·(H_kv·128), router E·d, two norms 2d; "
        "each SwiGLU expert 3·d·f. Active = 2·V·d + d + L·(attention + router + 2d + "
        "k·3·d·f).",
    ),
    Question(
        "11.2",
        "A mixture of experts' training compute",
        expected=_compute,
        unit="FLOP",
        rtol=0.01,
        kind="apply",
        text=(
            '`tm.MOE_MODELS["{{model}}"]` is trained on **{{tokens_t}} trillion tokens**. By '
            "$C = 6ND$ with the\n"
            "right $N$ (attention's term left out), how much training compute is that? "
            "Answer in **FLOP**."
        ),
        inputs={"model": "mixtral-8x7b", "tokens_t": 8},
        draw=_draw_compute,
        nudge="Section 3 of the lesson: which N does a token's matmuls see?",
        hint="C = 6 · N_active · D with N_active = tm.active_param_count(cfg), not "
        "tm.param_count(cfg).",
    ),
    Question(
        "11.3",
        "MFU from GPU-hours",
        expected=_mfu,
        unit="",
        rtol=0.01,
        kind="apply",
        text=(
            'Suppose `tm.MOE_MODELS["{{model}}"]` were trained on {{tokens_t}} trillion tokens '
            "in **{{gpu_hours_m}} million\n"
            "{{gpu}} GPU-hours**. Counting the model's FLOPs as $6 N_\\text{active} D$, what "
            "model FLOPs\n"
            "utilisation does that imply against the dense **bf16** peak\n"
            '(`tm.get_accelerator("{{gpu}}").peak("bf16")`)? Answer as a **fraction**.'
        ),
        inputs={"model": "mixtral-8x22b", "tokens_t": 12, "gpu_hours_m": 2.2,
                "gpu": "H100-SXM"},
        draw=_draw_mfu,
        nudge="Section 7 of the lesson: the FLOPs done over the FLOPs the GPU-hours could "
        "have done.",
        hint="MFU = 6·N_active·D / (GPU-hours · 3600 s · peak).",
    ),
    Question(
        "11.4",
        "An MoE's MFU with the wrong N",
        expected=_wrong_mfu,
        unit="",
        rtol=0.01,
        kind="find the error",
        text=(
            "A report says: \"we trained {{model}} on {{tokens_t}}T tokens in {{gpu_hours_m}}M "
            "{{gpu}}\n"
            "GPU-hours, an MFU of {{claimed}} %.\" It computed the training FLOPs as "
            "$6ND$ with\n"
            '$N$ = `tm.param_count(tm.MOE_MODELS["{{model}}"])`. What is the run\'s MFU '
            "(dense bf16\n"
            "peak)? Answer as a **fraction**."
        ),
        discussion=(
            "<!-- BEGIN SOLUTION -->\n"
            "**Where the report goes wrong.** A token goes through the attention, the router "
            "and\n"
            "only its chosen experts: the others do no work for it. $6ND$ holds with $N$ the\n"
            "**active** parameters; with all of them it counts the FLOPs of every expert for "
            "every\n"
            "token, {{claimed}} % here, more than the cluster's peak allows when the model is "
            "sparse\n"
            "enough. An impossible MFU is the tell.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"model": "qwen3-235b-a22b", "tokens_t": 9, "gpu_hours_m": 1.6,
                "gpu": "H200", "claimed": 223},
        draw=_draw_wrong_mfu,
        nudge="Section 3 of the lesson: does every parameter of a mixture of experts do "
        "work for every token?",
        hint="Redo it with N = tm.active_param_count(cfg): MFU = 6·N_active·D / "
        "(GPU-hours · 3600 · peak).",
    ),
    Question(
        "11.5",
        "Routed experts' weights on one GPU",
        expected=_expert_gb,
        unit="GB",
        rtol=0.005,
        kind="apply",
        text=(
            '`tm.MOE_MODELS["{{model}}"]` is trained with **{{ep}}-way expert parallelism** '
            "and\n"
            "{{tp}}-way tensor parallelism, whole experts on each GPU (no expert tensor "
            "parallelism)\n"
            "and no pipeline. How many bytes of **routed experts' bf16 weights** does one "
            "GPU hold\n"
            "(all layers)? Answer in **GB** ($10^9$ bytes)."
        ),
        inputs={"model": "qwen3-235b-a22b", "ep": 16, "tp": 2},
        draw=_draw_expert_gb,
        nudge="Section 6 of the lesson: which bucket do routed experts fall in, and which "
        "parallelism splits it?",
        hint="Experts per GPU = E / ep in each MoE layer; bytes = n_moe_layers · (E/ep) · "
        "tm.expert_params(cfg) · 2. Tensor parallelism does not split them here.",
    ),
    Question(
        "11.6",
        "The all-to-all of expert parallelism",
        expected=_all_to_all_gb,
        unit="GB",
        rtol=0.005,
        kind="apply",
        text=(
            'A GPU holds {{layers}} MoE layers of `tm.MOE_MODELS["{{model}}"]` under '
            "**{{ep}}-way expert\n"
            "parallelism** (no tensor parallelism) and processes micro-batches of **one\n"
            "sequence of ${{seq_len:,}}$ tokens**. Each MoE layer dispatches every token's "
            "copies to\n"
            "their experts and combines the results, forward and backward, as all-to-alls "
            "in bf16\n"
            "(a balanced router, no recomputation). How many bytes does the GPU **send** "
            "per\n"
            "micro-batch? Answer in **GB**."
        ),
        inputs={"model": "mixtral-8x7b", "seq_len": 8192, "ep": 8, "layers": 8},
        draw=_draw_all_to_all,
        nudge="Section 6 of the lesson: how big is one all-to-all's buffer, and how many "
        "all-to-alls does a layer run?",
        hint="Buffer = k·s·d values at 2 bytes; an all-to-all sends (ep−1)/ep of it; four "
        "per layer (dispatch and combine, forward and backward).",
    ),
    Question(
        "11.7",
        "How much latent attention shrinks the KV cache",
        expected=_kv_ratio,
        unit="",
        rtol=0.005,
        kind="apply",
        text=(
            "A model with multi-head latent attention has {{n_heads}} heads, a key-value "
            "latent of\n"
            "$d_c = {{kv_lora_rank}}$, $d_h = {{qk_nope_head_dim}}$ plain and "
            "$d_h^R = {{qk_rope_head_dim}}$ rotary\n"
            "dimensions per query/key head and $d_h^v = {{v_head_dim}}$ per value head. How "
            "many times\n"
            "smaller is its KV cache than caching every head's keys and values at the same "
            "sizes?\n"
            "Answer as a **ratio**."
        ),
        inputs={"n_heads": 64, "kv_lora_rank": 384, "qk_nope_head_dim": 96,
                "qk_rope_head_dim": 32, "v_head_dim": 96},
        draw=_draw_kv,
        nudge="Section 5 of the lesson: what does latent attention keep per token and layer?",
        hint="Full: H·(d_h + d_h^R + d_h^v) values per token and layer; latent: d_c + d_h^R "
        "(the latent and the shared rotary key). Ratio = full / latent.",
    ),
    Question(
        "11.8",
        "The busiest expert of a random router",
        expected=_load,
        unit="",
        rtol=0.005,
        kind="estimate",
        text=(
            "A micro-batch of ${{tokens:,}}$ tokens goes through an MoE layer of "
            "**{{n_experts}} experts**,\n"
            "each token to **{{experts_per_token}}** distinct experts chosen uniformly at "
            "random.\n"
            "By the normal approximation of the lesson, how many times the mean load does "
            "the\n"
            "**busiest** expert receive (the capacity factor the layer needs to drop "
            "nothing)?\n"
            "Answer as a **ratio**."
        ),
        inputs={"tokens": 16384, "n_experts": 32, "experts_per_token": 2},
        draw=_draw_load,
        nudge="Section 4 of the lesson: each expert's load is binomial; how far above its "
        "mean is the largest of E of them?",
        hint="Mean μ = k·T/E, spread σ = sqrt(μ(1 − k/E)); the largest of E is about "
        "μ + σ·sqrt(2 ln E); the ratio is that over μ.",
    ),
    Question(
        "11.9",
        "Latent attention's attention FLOPs",
        expected=_mla_attention,
        unit="FLOP",
        rtol=0.005,
        kind="find the error",
        text=(
            "A model with latent attention has {{n_layers}} layers of {{n_heads}} heads, "
            "queries and\n"
            "keys of $d_h + d_h^R = {{qk_nope_head_dim}} + {{qk_rope_head_dim}}$ and values of "
            "$d_h^v = {{v_head_dim}}$. A\n"
            "calculator adds PaLM's $12\\,L\\,H\\,d_\\text{head}\\,s$ per token for attention, "
            "with\n"
            "$d_\\text{head}$ the query/key head size. What is the right attention term per "
            "token\n"
            "(forward and backward, the full $s \\times s$ square) at $s = {{seq_len:,}}$? "
            "Answer in\n"
            "**FLOP**."
        ),
        discussion=(
            "<!-- BEGIN SOLUTION -->\n"
            "**Where the calculator goes wrong.** PaLM's 12 is 6 (forward and backward) × 2 "
            "products\n"
            "× 2 FLOPs per multiply-add, with one head size for both products. Latent "
            "attention's\n"
            "scores $QK^T$ run over $d_h + d_h^R$ dimensions, its output $PV$ over $d_h^v$: "
            "the term\n"
            "is $6\\,L\\,H\\,(d_h + d_h^R + d_h^v)\\,s$, not twice the query/key width.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"n_layers": 27, "n_heads": 16, "qk_nope_head_dim": 128,
                "qk_rope_head_dim": 64, "v_head_dim": 128, "seq_len": 8192},
        draw=_draw_mla_attention,
        nudge="Section 5 of the lesson: are the two products of attention the same width in "
        "latent attention?",
        hint="Forward: 2·s·H·(d_h + d_h^R) for QKᵀ and 2·s·H·d_h^v for PV, per layer and "
        "token; training is three times the forward.",
    ),
]
