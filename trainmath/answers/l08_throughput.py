"""Answer key of lesson 08, "Throughput" (``exercises/08_throughput.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use (variant 0), and a
draw that makes a variant from the model and accelerator presets and sensible ranges. The
question's text and its solution read those inputs; every expected value is computed from them
with :mod:`trainmath` functions (``matmul_intensity``, ``compute_bound_rows``,
``elementwise_time``, ``roofline_time``, ``mfu_from_hfu``, ``share_of_peak``, ``bound``,
``flops_per_token``, ``model_memory``), never typed in. Peaks and bandwidths are the presets'
data-sheet figures (``tm.ACCELERATORS``), dense.

The lesson works seed 002's 1600 x 6400 weight (32 and 8192 rows) on A100s, H100s and B200s,
a ReLU over 8192 x 6400 values, Megatron-LM's 1T run, Llama 4's fp8 figure on the H100 and seed
003's floor on the A100; the questions use other shapes, models, runs and accelerators, and the
draws leave the lesson's own cases out.
"""

from __future__ import annotations

import random

import trainmath as tm
from trainmath.answers import Question, sig

__all__ = ["QUESTIONS"]

# The lesson's worked weight (seed 002's GPT-2 XL MLP): its numbers are printed there.
_LESSON_MODEL = "gpt2-xl"
# GeLU models (GPT-2, GPT-3, Chinchilla, Gopher): the element-wise questions use their MLPs.
_GELU_MODELS = sorted(k for k, c in tm.MODELS.items() if c.mlp == "gelu" and k != _LESSON_MODEL)
# GPT-style models as Megatron-LM trains and counts them (d_ff = 4h, no GQA).
_MEGATRON_MODELS = ["gpt2-xl", "gpt3-175b", "gopher-280b", "chinchilla-70b"]
# Accelerators with an fp8 peak (the fp8 questions) and every GPU with a bf16 peak.
_FP8_GPUS = sorted(k for k, a in tm.ACCELERATORS.items() if "fp8" in a.peak_flops)
_BF16_GPUS = sorted(k for k, a in tm.ACCELERATORS.items()
                    if "bf16" in a.peak_flops and a.vendor != "Google")


def _peak(gpu: str, dtype: str = "bf16") -> float:
    return tm.get_accelerator(gpu).peak(dtype)


def _preset(rng: random.Random, choices=None, exclude: tuple[str, ...] = (_LESSON_MODEL,)) -> str:
    pool = sorted(tm.MODELS) if choices is None else list(choices)
    return rng.choice([k for k in pool if k not in exclude])


# --- expected values ------------------------------------------------------------------------


def _intensity(model, m, k, n, dtype):
    return tm.matmul_intensity(m, k, n, dtype)


def _rows(model, k, n, gpu, dtype):
    return tm.compute_bound_rows(k, n, gpu, dtype)


def _elementwise_us(op, what, rows, cols, gpu, dtype):
    return tm.elementwise_time(op, rows * cols, gpu, dtype) * 1e6


def _gelu_share(model, d, d_ff, tokens, gpu):
    matmuls = 2 * tm.roofline_time(tm.matmul_flops(tokens, d, d_ff),
                                   tm.matmul_bytes(tokens, d, d_ff, "bf16"), gpu, "bf16")
    gelu = tm.elementwise_time("gelu", tokens * d_ff, gpu, "bf16")
    return gelu / (matmuls + gelu)


def _mfu_from_log(model, seq_len, gpu, tflops):
    hfu = tm.share_of_peak(tflops * 1e12, _peak(gpu))
    return tm.mfu_from_hfu(hfu, cfg=tm.MODELS[model], seq_len=seq_len, recompute="full",
                           convention="korthikanti")


def _fp8_share(gpu, tflops, claimed):
    return tm.share_of_peak(tflops * 1e12, _peak(gpu, "fp8"))


def _floor(gpu, floor_tflops, ref_gpu):
    mfu = tm.share_of_peak(floor_tflops * 1e12, _peak(ref_gpu))
    return tm.delivered_flop_rate(1, _peak(gpu), mfu)


def _bound(m, k, n, gpu, dtype):
    return tm.bound(tm.matmul_intensity(m, k, n, dtype), gpu, dtype)


def _mfu_without_attention(model, seq_len, mfu):
    # The same tokens/s with 6N FLOPs per token instead of 6N_matmul + 12 L H Q T (PaLM).
    cfg = tm.MODELS[model]
    return mfu * tm.training_flops(tm.param_count(cfg), 1) / tm.flops_per_token(cfg, seq_len)


def _decode_tokens_per_s(model, gpu, batch, dtype):
    n = tm.param_count(tm.MODELS[model])
    t = tm.roofline_time(tm.forward_flops(n, batch), tm.model_memory(n, dtype), gpu, dtype)
    return batch / t


# --- draws ----------------------------------------------------------------------------------


def _draw_intensity(rng: random.Random) -> dict:
    model = _preset(rng)
    cfg = tm.MODELS[model]
    return {"model": model, "m": rng.choice([16, 64, 256, 512, 1024, 2048, 4096, 16384]),
            "k": cfg.d_model, "n": cfg.d_ff, "dtype": rng.choice(["fp32", "bf16", "fp8"])}


def _draw_rows(rng: random.Random) -> dict:
    model = _preset(rng)
    cfg = tm.MODELS[model]
    gpu = rng.choice(_BF16_GPUS)
    dtype = rng.choice([d for d in ("tf32", "bf16", "fp8") if d in tm.ACCELERATORS[gpu].peak_flops])
    return {"model": model, "k": cfg.d_model, "n": cfg.d_ff, "gpu": gpu, "dtype": dtype}


def _draw_elementwise(rng: random.Random) -> dict:
    model = rng.choice(_GELU_MODELS)
    cfg = tm.MODELS[model]
    tokens = rng.choice([2, 4, 8]) * cfg.seq_len
    op = rng.choice(["gelu", "layernorm", "add"])
    what, cols = {
        "gelu": ("its MLP's hidden activation", cfg.d_ff),
        "layernorm": ("a LayerNorm over the residual stream", cfg.d_model),
        "add": ("a residual addition", cfg.d_model),
    }[op]
    return {"op": op, "what": f'`tm.MODELS["{model}"]`: {what}', "rows": tokens, "cols": cols,
            "gpu": rng.choice(_BF16_GPUS), "dtype": rng.choice(["bf16", "fp32"])}


def _draw_gelu_share(rng: random.Random) -> dict:
    model = rng.choice(_GELU_MODELS)
    cfg = tm.MODELS[model]
    return {"model": model, "d": cfg.d_model, "d_ff": cfg.d_ff,
            "tokens": rng.choice([1, 2, 4, 8]) * cfg.seq_len, "gpu": rng.choice(_BF16_GPUS)}


def _draw_mfu_from_log(rng: random.Random) -> dict:
    model = rng.choice([k for k in _MEGATRON_MODELS if k != _LESSON_MODEL])
    gpu = rng.choice(["A100-80GB", "A100-40GB"])  # Megatron-LM's and BLOOM's era
    # a hardware rate a real log could print: 40 % to 60 % of the peak
    tflops = rng.choice(range(125, 190, 5))
    return {"model": model, "seq_len": tm.MODELS[model].seq_len, "gpu": gpu, "tflops": tflops}


def _draw_fp8_share(rng: random.Random) -> dict:
    gpu = rng.choice([g for g in _FP8_GPUS if g != "H100-SXM"])
    tflops = sig(_peak(gpu, "fp8") / 1e12 * rng.uniform(0.18, 0.35), 2)
    claimed = round(100 * tm.share_of_peak(tflops * 1e12, _peak(gpu)))
    return {"gpu": gpu, "tflops": tflops, "claimed": claimed}


def _draw_floor(rng: random.Random) -> dict:
    return {"gpu": rng.choice([g for g in _BF16_GPUS if not g.startswith("A100")]),
            "floor_tflops": rng.choice([100, 115, 120, 130, 140]), "ref_gpu": "A100-80GB"}


def _draw_bound(rng: random.Random) -> dict:
    model = _preset(rng)
    cfg = tm.MODELS[model]
    gpu = rng.choice(_FP8_GPUS)
    dtype = rng.choice(["bf16", "fp8"])
    rows = tm.compute_bound_rows(cfg.d_model, cfg.d_ff, gpu, dtype)
    # half the draws below the crossing, half above it, within a factor of 4
    m = int(round(rows * rng.choice([0.25, 0.5, 0.7, 1.5, 2, 4]) / 8)) * 8 or 8
    return {"m": m, "k": cfg.d_model, "n": cfg.d_ff, "gpu": gpu, "dtype": dtype}


def _draw_attention(rng: random.Random) -> dict:
    model = rng.choice(["llama-3-8b", "llama-3-70b", "llama-2-70b", "mistral-7b"])
    return {"model": model, "seq_len": rng.choice([16384, 32768, 65536, 131072]),
            "mfu": rng.choice([0.30, 0.33, 0.36, 0.40, 0.42])}


def _draw_decode(rng: random.Random) -> dict:
    gpu = rng.choice(_FP8_GPUS)
    dtype = rng.choice(["bf16", "fp8"])
    # models whose weights fit in 90 % of the GPU's memory (one GPU serves them alone)
    fits = [k for k in sorted(tm.MODELS) if not k.startswith("gpt2") and
            tm.model_memory(tm.param_count(tm.MODELS[k]), dtype)
            < 0.9 * tm.ACCELERATORS[gpu].memory_bytes]
    return {"model": rng.choice(fits), "gpu": gpu, "batch": rng.choice([1, 2, 4, 8, 16, 32]),
            "dtype": dtype}


# --- questions ------------------------------------------------------------------------------

QUESTIONS: list[Question] = [
    Question(
        "08.1",
        "A matmul's arithmetic intensity",
        expected=_intensity,
        unit="FLOP/B",
        rtol=0.005,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` has $d = {{k:,}}$ and $d_\\text{ff} = {{n:,}}$. Its MLP\'s\n'
            "first projection multiplies the activations of $m = {{m:,}}$ tokens ($m \\times d$) "
            "by a\n"
            "$d \\times d_\\text{ff}$ weight, with inputs and output in **{{dtype}}**. Counting "
            "the\n"
            "least traffic (each operand read once, the output written once), what is the\n"
            "matmul's **arithmetic intensity**? Answer in **FLOP/B**."
        ),
        inputs={"model": "llama-3-8b", "m": 1024, "k": 4096, "n": 14336, "dtype": "fp8"},
        draw=_draw_intensity,
        nudge="Section 2 of the lesson: FLOPs of the matmul over the bytes of A, B and C.",
        hint="I = 2mkn / (β (mk + kn + mn)), with β the bytes per value of the dtype "
        "(tm.DTYPE_BYTES).",
    ),
    Question(
        "08.2",
        "The batch at which a weight becomes compute bound",
        expected=_rows,
        unit="tokens",
        rtol=0.005,
        kind="apply",
        text=(
            'Take the MLP weight of `tm.MODELS["{{model}}"]`, $k \\times n = {{k:,}} \\times '
            '{{n:,}}$,\n'
            "multiplied by $m$ rows of activations on an **{{gpu}}** in **{{dtype}}** (inputs and\n"
            "output in {{dtype}}, its dense peak and memory bandwidth from\n"
            '`tm.ACCELERATORS["{{gpu}}"]`). From how many rows $m$ on is the matmul compute\n'
            "bound by the roofline (its intensity at least the ridge point)? Answer in **tokens**\n"
            "(rows; it need not be a whole number)."
        ),
        inputs={"model": "llama-2-70b", "k": 8192, "n": 28672, "gpu": "H200", "dtype": "bf16"},
        draw=_draw_rows,
        nudge="Section 2 of the lesson: set the matmul's intensity equal to the ridge point "
        "and solve for m; the 'about m FLOP/B' rule is only a first guess.",
        hint="With β bytes per value and ridge R = peak / bandwidth: 2mkn = R β (mk + kn + mn), "
        "so m = R β k n / (2kn − R β (k + n)).",
    ),
    Question(
        "08.3",
        "The time of an element-wise pass",
        expected=_elementwise_us,
        unit="µs",
        rtol=0.005,
        kind="apply",
        text=(
            "{{what}}: `{{op}}` over a ${{rows:,}} \\times {{cols:,}}$ tensor in **{{dtype}}** on "
            "an\n"
            "**{{gpu}}**, as one fused kernel that reads its inputs once and writes its output "
            "once\n"
            '(FLOPs and tensors read and written per element: `tm.ELEMENTWISE_OPS["{{op}}"]`).\n'
            "By the roofline, at least how long does it take? Answer in **microseconds** (µs)."
        ),
        inputs={"op": "gelu", "what": '`tm.MODELS["gpt3-175b"]`: its MLP\'s hidden activation',
                "rows": 8192, "cols": 49152, "gpu": "H100-SXM", "dtype": "bf16"},
        draw=_draw_elementwise,
        nudge="Section 3 of the lesson: is it bound by the FLOPs or by the bytes? Compare its "
        "intensity with the ridge point.",
        hint="Bytes = elements × (reads + writes) × bytes per value; time = max(FLOPs / peak, "
        "bytes / bandwidth), which for any element-wise op is the bytes term.",
    ),
    Question(
        "08.4",
        "How much of an MLP's time its activation takes",
        expected=_gelu_share,
        unit="",
        rtol=0.05,
        kind="estimate",
        text=(
            'The forward pass of `tm.MODELS["{{model}}"]`\'s MLP on ${{tokens:,}}$ tokens is two '
            'matmuls\n'
            "($d = {{d:,}} \\to d_\\text{ff} = {{d_ff:,}}$ and back) and a GeLU over the\n"
            "${{tokens:,}} \\times {{d_ff:,}}$ hidden activation, everything in bf16 on an "
            "**{{gpu}}**,\n"
            "each as one kernel at its roofline time (least traffic, no fusion). What fraction\n"
            "of the MLP's time does the GeLU take? Any answer within 5 % counts. Answer as a\n"
            "**fraction**."
        ),
        inputs={"model": "chinchilla-70b", "d": 8192, "d_ff": 32768, "tokens": 4096,
                "gpu": "A100-40GB"},
        draw=_draw_gelu_share,
        nudge="Sections 2 and 3 of the lesson: which roof bounds each matmul, and which bounds "
        "the GeLU?",
        hint="Each matmul is compute bound here: 2·tokens·d·d_ff / peak. The GeLU is memory "
        "bound: tokens·d_ff·(2 + 2) bytes / bandwidth. Share = GeLU / (2 matmuls + GeLU).",
    ),
    Question(
        "08.5",
        "An MFU from a Megatron-style log",
        expected=_mfu_from_log,
        unit="",
        rtol=0.005,
        kind="apply",
        text=(
            'A run of `tm.MODELS["{{model}}"]` ($s = {{seq_len:,}}$) on {{gpu}} GPUs with full '
            'activation\n'
            "recomputation logs **{{tflops}} TFLOP/s per GPU**, counted as Megatron-LM counts\n"
            "(Narayanan et al. 2021, Eq. 3: the recomputed forward pass included). What is its\n"
            "**model** FLOPs utilisation against the dense bf16 peak? Answer as a **fraction**."
        ),
        inputs={"model": "gopher-280b", "seq_len": 2048, "gpu": "A100-80GB", "tflops": 144},
        draw=_draw_mfu_from_log,
        nudge="Section 6 of the lesson: is the logged rate a model or a hardware count?",
        hint="HFU = logged rate / peak; MFU = HFU / (1 + recomputation overhead), with full "
        "recomputation about one extra forward pass (1/3; slightly less, as the logits are not "
        "recomputed: tm.recompute_flops_overhead with convention='korthikanti').",
    ),
    Question(
        "08.6",
        "An fp8 MFU with the wrong peak",
        expected=_fp8_share,
        unit="",
        rtol=0.02,
        kind="find the error",
        text=(
            "A blog post reports: \"our fp8 pre-training on {{gpu}}s reached {{tflops}} TFLOP/s "
            "per\n"
            'GPU, an MFU of {{claimed}} %." The figure counts model FLOPs. What utilisation does\n'
            "the run reach against the dense peak **of the format it computed in**\n"
            '(`tm.ACCELERATORS["{{gpu}}"]`)? Answer as a **fraction**.'
        ),
        discussion=(
            "<!-- BEGIN SOLUTION -->\n"
            "**Where the post goes wrong.** {{claimed}} % is {{tflops}} TFLOP/s over the dense\n"
            "**bf16** peak: true as a comparison with a perfect bf16 run, but the tensor cores "
            "ran fp8,\n"
            "whose dense peak is twice as high. Against it the run used half as much of the chip.\n"
            "Both numbers are honest once the denominator is named; an MFU without it is not.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"gpu": "H200", "tflops": 450, "claimed": 45},
        draw=_draw_fp8_share,
        nudge="Section 6 of the lesson: which peak gives the post's number?",
        hint="Divide the rate by the fp8 dense peak, tm.get_accelerator(gpu).peak('fp8'); the "
        "post divided by the bf16 one (half as large).",
    ),
    Question(
        "08.7",
        "A rule of thumb carried to another GPU",
        expected=_floor,
        unit="FLOP/s",
        rtol=0.005,
        kind="units",
        text=(
            "A rule of thumb for the {{ref_gpu}} says that below **{{floor_tflops}} TFLOP/s per "
            "GPU**\n"
            "(model FLOPs, bf16) something is wrong with the run. Keep the same bar as a share of\n"
            "the dense bf16 peak. What is it on an **{{gpu}}**? Answer in **FLOP/s** per GPU."
        ),
        inputs={"gpu": "MI300X", "floor_tflops": 120, "ref_gpu": "A100-80GB"},
        draw=_draw_floor,
        nudge="Section 5 of the lesson: turn the rate into a utilisation first.",
        hint="MFU = floor / peak of the first GPU; floor on the second = MFU × its peak. "
        "Mind the prefix: 1 TFLOP/s = 1e12 FLOP/s.",
    ),
    Question(
        "08.8",
        "Memory or compute bound?",
        expected=_bound,
        unit="",
        kind="concept",
        text=(
            "A matmul $({{m:,}} \\times {{k:,}})({{k:,}} \\times {{n:,}})$ runs on an **{{gpu}}** "
            "in\n"
            "**{{dtype}}** (inputs and output in {{dtype}}). By the roofline, is it bound by "
            "memory\n"
            'or by compute? Answer `"memory"` or `"compute"` (a **str**).'
        ),
        inputs={"m": 96, "k": 8192, "n": 28672, "gpu": "B200", "dtype": "fp8"},
        draw=_draw_bound,
        nudge="Sections 1 and 2 of the lesson: compare the matmul's intensity with the ridge "
        "point in that dtype.",
        hint="I = 2mkn / (β(mk + kn + mn)); ridge = peak(dtype) / bandwidth. Memory bound when "
        "I < ridge.",
    ),
    Question(
        "08.9",
        "Which FLOPs: attention at long context",
        expected=_mfu_without_attention,
        unit="",
        rtol=0.005,
        kind="apply",
        text=(
            'A run of `tm.MODELS["{{model}}"]` on sequences of $s = {{seq_len:,}}$ tokens reports '
            'an MFU\n'
            "of **{{mfu}}**, counting FLOPs per token as PaLM does, $6N_\\text{matmul} + "
            "12\\,L\\,H\\,Q\\,s$\n"
            "(`tm.flops_per_token`). Another team divides the same tokens per second by the same\n"
            "peak but counts only $6N$ FLOPs per token ($N$ = `tm.param_count`, lesson 01's\n"
            "$6ND$). What MFU do they report? Answer as a **fraction**."
        ),
        inputs={"model": "llama-3-70b", "seq_len": 65536, "mfu": 0.38},
        draw=_draw_attention,
        nudge="Section 6 of the lesson: the tokens per second and the peak are the same; only "
        "the FLOPs per token change.",
        hint="MFU is proportional to FLOPs per token: MFU × 6N / (6N_matmul + 12·L·H·Q·s), with "
        "H·Q = n_heads × head_dim (cfg.attn_dim).",
    ),
    Question(
        "08.10",
        "Generating text one token at a time",
        expected=_decode_tokens_per_s,
        unit="tokens/s",
        rtol=0.005,
        kind="apply",
        text=(
            'One {{gpu}} serves `tm.MODELS["{{model}}"]` with its weights in **{{dtype}}**, '
            'generating\n'
            "one token for each of **{{batch}}** requests per step (each step is a forward pass "
            "of\n"
            "$2N$ FLOPs per token over all $N$ = `tm.param_count` weights). Ignore the KV cache "
            "and\n"
            "the activations (short prompts): a step reads every weight once. By the roofline,\n"
            "at most how many tokens per second does the GPU generate in all? Answer in\n"
            "**tokens/s**."
        ),
        inputs={"model": "mistral-7b", "gpu": "H100-SXM", "batch": 4, "dtype": "bf16"},
        draw=_draw_decode,
        nudge="Section 2 of the lesson: with a handful of rows, which ceiling binds?",
        hint="Step time = max(2N·batch / peak, N × bytes per weight / bandwidth); tokens/s = "
        "batch / step time.",
    ),
]
