"""Answer key of lesson 05, "Optimizer states" (``exercises/05_optimizer_states.ipynb``).

Every expected value is computed from the question's inputs with :mod:`trainmath` functions,
so the key follows the library and never a hand-copied number. Variant 0 (the shipped
notebooks) uses models, setups and clusters that the lesson does not work; ``draw`` makes
new variants from the presets (``tm.MODELS``, ``tm.ACCELERATORS``), the published runs cited
in the question text, and the conventions of the lesson's section 6.
"""

from __future__ import annotations

import random

import trainmath as tm
from trainmath.answers import Question, sig

__all__ = ["QUESTIONS"]

_GB = 1e9
_MB = 1e6
_MIB = 2**20


def _n(model: str) -> int:
    return tm.param_count(tm.MODELS[model])


def _memory(gpu: str) -> float:
    return tm.ACCELERATORS[gpu].memory_bytes


# --- training setups, described in words in the question and given as the arguments of
# tm.training_bytes_per_param (the lesson's section 6 conventions, plus 8-bit Adam) ---------

_SETUPS: dict[str, dict] = {
    "zero-16": {
        "setup": "mixed-precision AdamW (bf16 weights and gradients, an fp32 master copy and "
        "fp32 moments)",
        "param_dtype": "bf16", "grad_dtype": "bf16", "optimizer": "adamw", "grad_buffer": False,
    },
    "megatron-bf16-18": {
        "setup": "AdamW with bf16 weights and fp32 gradients (as Megatron-LM accumulates "
        "them), an fp32 master copy and fp32 moments",
        "param_dtype": "bf16", "grad_dtype": "fp32", "optimizer": "adamw", "grad_buffer": False,
    },
    "megatron-fp16-20": {
        "setup": "fp16 mixed-precision AdamW (fp16 weights and gradients plus Megatron-LM's "
        "separate fp32 gradient buffer, an fp32 master copy and fp32 moments)",
        "param_dtype": "fp16", "grad_dtype": "fp16", "optimizer": "adamw", "grad_buffer": True,
    },
    "fp32-16": {
        "setup": "AdamW in pure fp32 (fp32 weights, gradients and moments)",
        "param_dtype": "fp32", "grad_dtype": "fp32", "optimizer": "adamw", "grad_buffer": False,
    },
    "adamw-8bit": {
        "setup": "8-bit Adam in bf16 mixed precision (bf16 weights and gradients, an fp32 "
        "master copy and 1-byte moments; block scales not counted)",
        "param_dtype": "bf16", "grad_dtype": "bf16", "optimizer": "adamw-8bit",
        "grad_buffer": False,
    },
}


def _setup(key: str) -> dict:
    return dict(_SETUPS[key])


def _bytes(param_dtype: str, grad_dtype: str, optimizer: str, grad_buffer: bool) -> dict:
    return tm.training_bytes_per_param(
        param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer,
        grad_buffer=grad_buffer,
    )


def _runs_on(gpu: str, key: str) -> bool:
    """A 16-bit setup needs an accelerator with that 16-bit format (no bf16 on a V100)."""
    dtype = _SETUPS[key]["param_dtype"]
    return dtype == "fp32" or dtype in tm.ACCELERATORS[gpu].peak_flops


def _state_kwargs(param_dtype, grad_dtype, optimizer, grad_buffer) -> dict:
    return {"param_dtype": param_dtype, "grad_dtype": grad_dtype, "optimizer": optimizer,
            "grad_buffer": grad_buffer}


# Models of at least a billion parameters (the GPT-2 family is too small to need a plan).
_BIG = tuple(k for k in tm.MODELS if tm.param_count(tm.MODELS[k]) >= 1e9)

# --- 05.1: what each optimizer keeps -------------------------------------------------------

_OPTIMIZERS = {
    "adamw": "AdamW",
    "adamw-8bit": "8-bit Adam (Dettmers et al. 2022)",
    "sgd-momentum": "SGD with momentum",
    "lion": "Lion (Chen et al. 2023)",
}


def _draw_optimizer(rng: random.Random) -> dict:
    optimizer = rng.choice(sorted(_OPTIMIZERS))
    return {"optimizer": optimizer, "opt_name": _OPTIMIZERS[optimizer]}


def _optimizer_state(optimizer: str, opt_name: str) -> float:
    b = tm.training_bytes_per_param(param_dtype="bf16", optimizer=optimizer)
    return b["master"] + b["momentum"] + b["variance"]


# --- 05.2: weights in GiB ------------------------------------------------------------------


def _draw_weights(rng: random.Random) -> dict:
    model = rng.choice(sorted(k for k in _BIG if k != "llama-3-8b"))  # the lesson's
    return {"model": model, "dtype": rng.choice(["fp32", "bf16", "fp8", "int4"])}


# --- 05.3: model states with another optimizer ---------------------------------------------

_FINE_TUNE_OPTIMIZERS = {
    "lion": "Lion (Chen et al. 2023), one fp32 momentum",
    "sgd-momentum": "SGD with momentum, one fp32 momentum buffer",
    "adamw-8bit": "8-bit Adam (Dettmers et al. 2022), two 1-byte moments, block scales "
    "not counted",
    "sgd": "plain SGD, no momentum",
}


def _draw_fine_tune(rng: random.Random) -> dict:
    optimizer = rng.choice(sorted(_FINE_TUNE_OPTIMIZERS))
    return {"model": rng.choice(sorted(_BIG)), "optimizer": optimizer,
            "opt_name": _FINE_TUNE_OPTIMIZERS[optimizer]}


# --- 05.4: the scales of 8-bit Adam ----------------------------------------------------------


def _draw_scales(rng: random.Random) -> dict:
    return {"model": rng.choice(sorted(_BIG)),
            "block": rng.choice([64, 128, 256, 512, 1024, 2048])}


# --- 05.5: Megatron's distributed optimizer -------------------------------------------------

_MEGATRON_SETUPS = ("megatron-bf16-18", "megatron-fp16-20", "fp32-16")


def _distributed(model, setup, param_dtype, grad_dtype, optimizer, grad_buffer, dp):
    return tm.training_state_breakdown(
        _n(model), zero_stage=1, dp=dp,
        **_state_kwargs(param_dtype, grad_dtype, optimizer, grad_buffer),
    )["total"] / _GB


def _draw_distributed(rng: random.Random) -> dict:
    while True:
        inputs = {"model": rng.choice(sorted(_BIG)),
                  **_setup(rng.choice(_MEGATRON_SETUPS)),
                  "dp": rng.choice([4, 8, 16, 32, 64, 128])}
        if 8 <= _distributed(**inputs) <= 141:  # a run that fits on some accelerator
            return inputs


# --- 05.6: the source text's pure-fp32 example, another model -------------------------------

# How the source text lists each optimizer's state, fp32 master copy included.
_BLOG_OPTIMIZERS = {
    "adamw": ("AdamW", "fp32 copy of parameters 4 + momentum 4 + variance 4"),
    "sgd-momentum": ("SGD with momentum", "fp32 copy of parameters 4 + momentum 4"),
    "adamw-8bit": ("an 8-bit Adam (bitsandbytes)", "fp32 copy of parameters 4 + momentum 1 + "
                   "variance 1"),
}
# Model sizes written the way the source text writes "7B" (round sizes such as OPT's); not
# 7B (the lesson's example), nor 13B, whose 16 B/param total the lesson prints for Llama 2
# 13B, nor 1.3B, whose 10 B/param total is a number the lesson prints.
_BLOG_SIZES = (2.7, 6.7, 20, 30, 40, 66)


def _blog(n_billion: float, optimizer: str) -> dict:
    name, parts = _BLOG_OPTIMIZERS[optimizer]
    k_blog = tm.OPTIMIZER_BYTES_PER_PARAM[optimizer]
    w, opt, g = 4 * n_billion, k_blog * n_billion, 4 * n_billion
    return {"N_billion": n_billion, "optimizer": optimizer, "opt_name": name,
            "opt_parts": parts, "k_blog": k_blog, "w_gb": w, "opt_gb": opt, "g_gb": g,
            "total_gb": w + opt + g}


def _draw_blog(rng: random.Random) -> dict:
    return _blog(rng.choice(_BLOG_SIZES), rng.choice(sorted(_BLOG_OPTIMIZERS)))


def _blog_right(N_billion, optimizer, opt_name, opt_parts, k_blog, w_gb, opt_gb, g_gb,
                total_gb) -> float:
    b = tm.training_bytes_per_param(param_dtype="fp32", optimizer=optimizer)["total"]
    return b * N_billion * 1e9 / _GB


# --- 05.7: reverse-engineer a memory calculator ---------------------------------------------


def _calculator(tool_model: str, convention: str, model: str) -> dict:
    """The calculator's figure for ``tool_model``; the convention itself stays hidden."""
    return {"tool_model": tool_model,
            "tool_bytes": float(tm.convention_memory(_n(tool_model), convention)),
            "model": model}


# Not the 16-byte counts: the lesson's table prints every preset's 16 B/param total (and GPT-3
# under every convention), so the learner must find a count it does not tabulate.
_CALCULATOR_CONVENTIONS = tuple(
    k for k, c in tm.BYTES_PER_PARAM_CONVENTIONS.items() if c.total != 16
)


def _draw_calculator(rng: random.Random) -> dict:
    tool_model, model = rng.sample(sorted(k for k in _BIG if k != "gpt3-175b"), 2)
    return _calculator(tool_model, rng.choice(_CALCULATOR_CONVENTIONS), model)


def _calculator_says(tool_model: str, tool_bytes: float, model: str) -> float:
    # Every convention charges a whole number of bytes per parameter (10, 12, 16, 18, 20).
    per_param = round(tool_bytes / _n(tool_model))
    return per_param * _n(model) / _GB


# --- 05.8 - 05.10: will it fit? ----------------------------------------------------------


def _draw_one_gpu(rng: random.Random) -> dict:
    while True:
        gpu = rng.choice(sorted(tm.ACCELERATORS))
        key = rng.choice(sorted(_SETUPS))
        # a measured peak of activations and buffers: 10-40 % of the memory, 3 digits
        reserve = sig(rng.uniform(0.1, 0.4) * _memory(gpu) / _GB, 3)
        if _runs_on(gpu, key):
            return {"gpu": gpu, "reserve": reserve, **_setup(key)}


def _largest(gpu, reserve, setup, param_dtype, grad_dtype, optimizer, grad_buffer):
    usable = _memory(gpu) - reserve * _GB
    return usable / _bytes(param_dtype, grad_dtype, optimizer, grad_buffer)["total"]


_FIT_SETUPS = ("zero-16", "megatron-bf16-18", "megatron-fp16-20")


def _fewest(model, gpu, stage, frac, setup, param_dtype, grad_dtype, optimizer, grad_buffer):
    return float(tm.min_gpus_to_fit(
        _n(model), _memory(gpu), zero_stage=stage, usable_fraction=frac,
        **_state_kwargs(param_dtype, grad_dtype, optimizer, grad_buffer),
    ))


def _draw_fewest(rng: random.Random) -> dict:
    while True:
        inputs = {"model": rng.choice(sorted(_BIG)),
                  "gpu": rng.choice(sorted(tm.ACCELERATORS)),
                  "stage": rng.choice([1, 2, 3]),
                  "frac": rng.choice([0.7, 0.75, 0.8, 0.85, 0.9])}
        key = rng.choice(_FIT_SETUPS)
        if not _runs_on(inputs["gpu"], key):
            continue
        inputs.update(_setup(key))
        # a multi-node job (not one GPU, not infinitely many, not absurdly many)
        if 17 <= _fewest(**inputs) <= 512:
            return inputs


def _left(model, gpu, n_gpus, stage, setup, param_dtype, grad_dtype, optimizer, grad_buffer):
    states = tm.training_state_breakdown(
        _n(model), zero_stage=stage, dp=n_gpus,
        **_state_kwargs(param_dtype, grad_dtype, optimizer, grad_buffer),
    )["total"]
    return (_memory(gpu) - states) / _GB


def _draw_left(rng: random.Random) -> dict:
    while True:
        inputs = {"model": rng.choice(sorted(_BIG)),
                  "gpu": rng.choice(sorted(tm.ACCELERATORS)),
                  "n_gpus": rng.choice([8, 16, 32, 64, 128, 256]),
                  "stage": rng.choice([1, 2, 3])}
        key = rng.choice(_FIT_SETUPS)
        if not _runs_on(inputs["gpu"], key):
            continue
        inputs.update(_setup(key))
        # the states must fit and take a real share of the memory: 15-70 % of it
        share = 1 - _left(**inputs) * _GB / _memory(inputs["gpu"])
        if 0.15 <= share <= 0.7:
            return inputs


# --- 05.11: order of magnitude for a published large run ------------------------------------

_LARGE_RUNS = {
    "GPT-3": (175e9, "Brown et al. 2020, Table 2.1"),
    "Gopher": (280e9, "Rae et al. 2021, Table 1"),
    "Llama 3.1 405B": (405e9, "Llama 3 herd paper, arXiv:2407.21783, Table 3"),
    "Megatron-Turing NLG": (530e9, "Smith et al. 2022, arXiv:2201.11990"),
    "PaLM": (540e9, "Chowdhery et al. 2022, Table 1"),
    "Megatron-LM's largest configuration": (1008e9, "Narayanan et al. 2021, Table 1"),
}


def _draw_large_run(rng: random.Random) -> dict:
    while True:
        name = rng.choice(sorted(_LARGE_RUNS))
        n, source = _LARGE_RUNS[name]
        inputs = {"name": name, "source": source, "N": n,
                  **_setup(rng.choice(sorted(_SETUPS)))}
        # keep the total in the thousands of GB: a frontier-scale question
        if _large_run(**inputs) >= 3000:
            return inputs


def _large_run(name, source, N, setup, param_dtype, grad_dtype, optimizer, grad_buffer):
    return N * _bytes(param_dtype, grad_dtype, optimizer, grad_buffer)["total"] / _GB


_SETUP_TEXT_HINT = (
    "Bytes per parameter of the setup = weights + gradients + any fp32 gradient buffer + "
    "fp32 master copy (only when the weights are 16-bit) + the optimizer's moments."
)


QUESTIONS: list[Question] = [
    Question(
        "05.1",
        "The optimizer state of {{opt_name}}",
        expected=_optimizer_state,
        unit="B/param",
        rtol=0.0,
        kind="recall",
        text=(
            "In mixed-precision training (16-bit weights and gradients), how many bytes per\n"
            "parameter does **{{opt_name}}** keep as *optimizer state*, counted as ZeRO does\n"
            "(Rajbhandari et al. 2019, Sec. 3.1): the fp32 master copy of the weights\n"
            "included, the 16-bit weights and gradients not? Answer in **B/param**."
        ),
        inputs={"optimizer": "sgd-momentum", "opt_name": _OPTIMIZERS["sgd-momentum"]},
        draw=_draw_optimizer,
        nudge="Sections 2 and 3 of the lesson: which running averages does this optimizer "
        "keep, and what does mixed precision add on top of them?",
        hint="Optimizer state = the fp32 master copy (4 B) + the moments: 4 B for each fp32 "
        "moment, 1 B for each quantised one. Count how many moments this optimizer keeps.",
    ),
    Question(
        "05.2",
        "{{model}} weights in {{dtype}}, as nvidia-smi reports them",
        expected=lambda model, dtype: tm.model_memory(_n(model), dtype) / _MIB,
        unit="MiB",
        rtol=0.005,
        kind="units",
        text=(
            'How much memory do the weights of `tm.MODELS["{{model}}"]` take when stored in\n'
            "**{{dtype}}**, in the binary unit `nvidia-smi` reports them in? Use the exact\n"
            "parameter count, `tm.param_count`. Answer in **MiB** ($2^{20}$ bytes)."
        ),
        inputs={"model": "llama-2-13b", "dtype": "bf16"},
        draw=_draw_weights,
        nudge="Section 1 of the lesson: how many bytes does one value of this format take, "
        "and are nvidia-smi's units decimal or binary?",
        hint="Weights = N × bytes per value (fp32 4, bf16 2, fp8 1, int4 ½); a MiB is 2^20 "
        "bytes, so divide by 2^20, not by 10^6.",
    ),
    Question(
        "05.3",
        "Fine-tuning {{model}} with another optimizer",
        expected=lambda model, optimizer, opt_name: tm.training_state_breakdown(
            _n(model), param_dtype="bf16", optimizer=optimizer
        )["total"] / _GB,
        unit="GB",
        rtol=0.002,
        kind="apply",
        text=(
            'A team fine-tunes every weight of `tm.MODELS["{{model}}"]` in bf16 mixed\n'
            "precision (bf16 weights and gradients, an fp32 master copy of the weights) with\n"
            "{{opt_name}}. How much memory do its model states take in all, before any\n"
            "sharding over GPUs and without activations? Answer in **GB** ($10^9$ bytes)."
        ),
        inputs={"model": "mistral-7b", "optimizer": "lion",
                "opt_name": _FINE_TUNE_OPTIMIZERS["lion"]},
        draw=_draw_fine_tune,
        nudge="Sections 2 to 5 of the lesson: list every buffer training keeps per "
        "parameter, for this optimizer instead of AdamW.",
        hint="Bytes per parameter = 2 (bf16 weights) + 2 (bf16 gradients) + 4 (fp32 master) "
        "+ the optimizer's moments; multiply by N = tm.param_count and divide by 10^9.",
    ),
    Question(
        "05.4",
        "The scales of 8-bit Adam",
        expected=lambda model, block: 2 * _n(model) / block * tm.bytes_per_param("fp32") / _MB,
        unit="MB",
        rtol=0.005,
        kind="apply",
        text=(
            "8-bit Adam (Dettmers et al. 2022, *8-bit Optimizers via Block-wise\n"
            "Quantization*) stores the momentum and the variance as 1-byte codes. Each of\n"
            "the two moment tensors is cut into blocks of $B$ consecutive values, and each\n"
            "block also keeps one fp32 scale (its largest absolute value). The paper uses\n"
            "blocks of 2048 values; this run uses $B = {{block:tex}}$. How much memory do the\n"
            'scales of both moments take for `tm.MODELS["{{model}}"]` (one momentum and one\n'
            "variance value per parameter)? Answer in **MB** ($10^6$ bytes)."
        ),
        inputs={"model": "llama-2-70b", "block": 256},
        draw=_draw_scales,
        nudge="Section 2 of the lesson, on 8-bit Adam: what does each block store besides "
        "its 1-byte codes, and how many blocks are there?",
        hint="Scale bytes = 2 moments × (N values / B values per block) × 4 bytes per fp32 "
        "scale; divide by 10^6 for MB.",
    ),
    Question(
        "05.5",
        "Megatron's distributed optimizer on {{dp}} GPUs",
        expected=_distributed,
        unit="GB",
        rtol=0.002,
        kind="apply",
        text=(
            "Megatron-LM's distributed optimizer splits the optimizer state (fp32 master\n"
            "copy, moments and any separate fp32 gradient buffer) evenly over the\n"
            "data-parallel GPUs and keeps the weights and the gradients whole on every GPU:\n"
            'ZeRO stage 1 (Megatron-LM README, "Distributed Optimizer"). A run trains\n'
            '`tm.MODELS["{{model}}"]` with {{setup}}, over {{dp}} data-parallel GPUs.\n'
            "How much memory do the model states take on each GPU? Answer in **GB**."
        ),
        inputs={"model": "llama-2-13b", **_setup("megatron-fp16-20"), "dp": 16},
        draw=_draw_distributed,
        nudge="Sections 4 and 8 of the lesson: which parts does stage 1 split, and how many "
        "bytes per parameter does each part take in this setup?",
        hint="Per GPU = N × (weights + gradients) + N × (fp32 gradient buffer + master + "
        "moments) / d, with this setup's bytes per parameter; 10^9 bytes per GB.",
    ),
    Question(
        "05.6",
        "A pure-fp32 estimate for a {{N_billion}}B model",
        expected=_blog_right,
        unit="GB",
        rtol=0.002,
        kind="find the error",
        text=(
            "Section 7 of the lesson recomputes the source text's 7B example. A reader\n"
            "applies the same method to a {{N_billion}}-billion-parameter model trained in\n"
            "pure fp32 with {{opt_name}}, and writes:\n\n"
            "> - weights in fp32: 4 bytes/param × {{N_billion}} × 10⁹ params =\n"
            ">   {{w_gb:,.4g}} GB\n"
            "> - optimizer ({{opt_parts}}): {{k_blog}} bytes/param = {{opt_gb:,.4g}} GB\n"
            "> - gradients in fp32: 4 bytes/param = {{g_gb:,.4g}} GB\n"
            "> - **model states: {{total_gb:,.4g}} GB**\n\n"
            "The arithmetic is right, but one line counts memory such a run does not use.\n"
            "How much memory do these model states really take? Answer in **GB**. Then, in\n"
            "the cell below, say which line is wrong and why."
        ),
        discussion=(
            "**Which line is wrong, and why?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "The optimizer line. Its first 4 bytes per parameter are an fp32 *master copy* of\n"
            "the weights, which mixed-precision training keeps because its working weights are\n"
            "16-bit and small updates would vanish in them (section 3). Here the weights are\n"
            "fp32 already: they *are* the copy the optimizer updates. The optimizer needs only\n"
            "its moments, so the total drops by 4 bytes per parameter, from\n"
            "{{total_gb:,.4g}} GB to the answer above. The source text's 7B example makes the\n"
            "same mistake: 20 bytes per parameter where pure fp32 AdamW needs 16.\n"
            "<!-- END SOLUTION -->"
        ),
        inputs=_blog(30, "adamw"),
        draw=_draw_blog,
        nudge="Section 3 of the lesson: when does training keep a separate fp32 copy of the "
        "weights, and why?",
        hint="In pure fp32 the weights are the fp32 copy: count 4 (weights) + 4 (gradients) "
        "+ the optimizer's moments only, times N, divided by 10^9.",
    ),
    Question(
        "05.7",
        "Reverse-engineer a memory calculator",
        expected=_calculator_says,
        unit="GB",
        rtol=0.002,
        kind="apply",
        text=(
            "A memory calculator says that training `tm.MODELS[\"{{tool_model}}\"]` with\n"
            "Adam takes {{tool_bytes:bytes_}} (decimal units). Work out which\n"
            "bytes-per-parameter count it uses (section 6 of the lesson) and predict what the\n"
            'same calculator says for `tm.MODELS["{{model}}"]`. Answer in **GB**.'
        ),
        inputs=_calculator("llama-3-70b", "megatron-bf16-18", "llama-2-13b"),
        draw=_draw_calculator,
        nudge="Section 6 of the lesson: divide the calculator's figure by the model's "
        "parameter count. Which of the conventions charges that many bytes?",
        hint="bytes/param = the calculator's bytes / N (tm.param_count), rounded to the "
        "nearest convention; multiply by the other model's N and divide by 10^9.",
    ),
    Question(
        "05.8",
        "The largest model one {{gpu}} can train",
        expected=_largest,
        unit="params",
        rtol=0.002,
        kind="apply",
        text=(
            "A profile of one training step on a single {{gpu}}\n"
            '(`tm.ACCELERATORS["{{gpu}}"]`, memory as the vendor states it) shows that\n'
            "activations and temporary buffers peak at {{reserve}} GB. How many parameters can\n"
            "the rest of its memory train with {{setup}}? Answer in **parameters**."
        ),
        inputs={"gpu": "A100-80GB", "reserve": 12.7, **_setup("megatron-fp16-20")},
        draw=_draw_one_gpu,
        nudge="Sections 5 and 6 of the lesson: how many bytes per parameter does this setup "
        "cost, and how many bytes may the states use?",
        hint="N_max = (memory − reserve) in bytes / bytes per parameter. " + _SETUP_TEXT_HINT,
    ),
    Question(
        "05.9",
        "Fewest GPUs for {{model}} under ZeRO-{{stage}}",
        expected=_fewest,
        unit="GPUs",
        rtol=0.0,
        kind="apply",
        text=(
            'You train `tm.MODELS["{{model}}"]` with {{setup}}, on {{gpu}} GPUs\n'
            '(`tm.ACCELERATORS["{{gpu}}"]`) under ZeRO stage {{stage}} data parallelism, and\n'
            "the model states may use {{frac:.0%}} of each GPU's memory. What is the smallest\n"
            "number of data-parallel GPUs that holds them? Answer in **GPUs**."
        ),
        inputs={"model": "llama-2-13b", "gpu": "A100-40GB", "stage": 2, "frac": 0.8,
                **_setup("zero-16")},
        draw=_draw_fewest,
        nudge="Section 8 of the lesson: which parts does this ZeRO stage split over the "
        "GPUs, and which stay whole on every one of them?",
        hint="Per GPU: N·R + N·S/d bytes, with R the bytes per parameter kept whole and S "
        "those split at this stage. Solve N·R + N·S/d ≤ fraction × memory for the smallest "
        "whole d (round up).",
    ),
    Question(
        "05.10",
        "Room for activations on {{n_gpus}} GPUs",
        expected=_left,
        unit="GB",
        rtol=0.002,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` trains with {{setup}}, on {{n_gpus}} {{gpu}} GPUs\n'
            "(data parallelism only) under ZeRO stage {{stage}}. How much of each GPU's\n"
            "memory (`tm.ACCELERATORS[\"{{gpu}}\"]`) is left for activations, temporary\n"
            "buffers and fragmentation once the model states are in place? Answer in **GB**."
        ),
        inputs={"model": "chinchilla-70b", "gpu": "A100-80GB", "n_gpus": 32, "stage": 3,
                **_setup("megatron-bf16-18")},
        draw=_draw_left,
        nudge="Section 8 of the lesson: first find the model states on one GPU at this "
        "stage, then compare with the GPU's memory.",
        hint="Left = memory − N·(R + S/d), with R the bytes per parameter every GPU keeps "
        "whole at this stage and S those split over the d GPUs; 10^9 bytes per GB.",
    ),
    Question(
        "05.11",
        "Order of magnitude: the model states of {{name}}",
        expected=_large_run,
        unit="GB",
        rtol=0.3,
        kind="estimate",
        text=(
            "{{name}} has about {{N:count}} parameters ({{source}}). Had it been trained with\n"
            "{{setup}}, roughly how much memory would its model states take, summed over all\n"
            "the GPUs that hold a share (each byte counted once, activations not counted)?\n"
            "Any answer within 30 % counts. Answer in **GB**."
        ),
        inputs={"name": "PaLM", "source": _LARGE_RUNS["PaLM"][1], "N": _LARGE_RUNS["PaLM"][0],
                **_setup("megatron-bf16-18")},
        draw=_draw_large_run,
        nudge="Sections 5 and 6 of the lesson: how many bytes per parameter does this setup "
        "cost? Sharding does not change the total.",
        hint="Total ≈ N × bytes per parameter, divided by 10^9 for GB. " + _SETUP_TEXT_HINT,
    ),
]
