"""Answer key of lesson 03, "Chinchilla scaling" (``exercises/03_chinchilla.ipynb``).

Each question declares its inputs once: the values the shipped notebooks use, and a draw that
makes a variant from real presets, published runs and sensible ranges. The question's text
and its solution read those inputs; every expected value is computed from them with
:mod:`trainmath` functions, never typed in. The lesson works Gopher's budget, the 200 B-token
floor, Gopher vs Chinchilla and Llama 3 8B; the questions use other budgets, runs and models.
"""

from __future__ import annotations

import math
import random

import trainmath as tm
from trainmath.answers import Question, log_uniform
from trainmath.answers._published import runs

__all__ = ["QUESTIONS"]

_RUNS = runs(
    "GPT-3 175B", "Gopher", "Chinchilla", "OPT-175B", "BLOOM", "LLaMA 7B", "LLaMA 13B",
    "LLaMA 65B", "Llama 2 70B", "Llama 3 70B",
)

# 03.8: presets trained on more tokens than compute-optimal, with the tokens their papers
# state. Llama 3 8B is the lesson's worked example, so it is not drawn.
_OVERTRAINED = {
    "llama-2-7b": (2.0e12, "Touvron et al. 2023 (Llama 2), Table 1"),
    "llama-2-13b": (2.0e12, "Touvron et al. 2023 (Llama 2), Table 1"),
    "llama-2-70b": (2.0e12, "Touvron et al. 2023 (Llama 2), Table 1"),
    "llama-3-70b": (15e12, "Llama 3 paper, arXiv:2407.21783, Sec. 1"),
    "llama-3.1-405b": (15.6e12, "Llama 3 paper, arXiv:2407.21783, Sec. 1"),
}

# 03.9: over-training scenarios, a preset on D tokens (at least 40 per parameter). Not Llama 3 8B
# (the lesson's example) and not 15 T tokens (break-even points near the lesson's 11.4 T).
_SCENARIO_MODELS = ("llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-70b", "mistral-7b")
_SCENARIO_TOKENS = (1e12, 2e12, 3e12, 5e12, 8e12, 10e12, 12e12)

_FIT_LABELS = {
    "epoch": 'Epoch AI refit (Besiroglu et al. 2024; `fit="epoch"`)',
    "hoffmann": 'printed constants (Hoffmann et al. 2022, Eq. 10; `fit="hoffmann"`)',
}

# 03.6: the three Chinchilla approaches of Hoffmann et al. 2022, Table 2.
_APPROACHES = [k for k in tm.SCALING_EXPONENTS if k.startswith("Chinchilla")]
_KAPLAN = "Kaplan et al. 2020"

# 03.7: presets whose embeddings are more than a rounding error of the total.
_EMBEDDING_MODELS = (
    "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3-175b", "llama-2-7b", "llama-2-13b",
    "llama-2-70b", "llama-3-8b", "llama-3-70b", "mistral-7b",
)
_GPUS = ("A100-80GB", "H100-SXM", "H200")


def _fit(rng: random.Random) -> dict:
    fit = rng.choice(sorted(_FIT_LABELS))
    return {"fit": fit, "fit_label": _FIT_LABELS[fit]}


def _near(x: float, y: float, rel: float = 0.05) -> bool:
    return abs(math.log(x / y)) < rel


def _draw_budget(rng: random.Random) -> dict:
    return {"C": log_uniform(rng, 1e21, 1e26, 2)}


def _draw_floor(rng: random.Random) -> dict:
    return {"D_floor": rng.choice([100e9, 150e9, 250e9, 300e9, 400e9, 500e9, 800e9, 1e12])}


def _draw_printed_ratio(rng: random.Random) -> dict:
    while True:  # not the lesson's Gopher budget
        c = log_uniform(rng, 1e22, 1e27, 2)
        if not _near(c, tm.GOPHER_FLOPS, 0.3):
            return {"C": c}


def _loss(n: float, d: float, fit: str) -> float:
    return float(tm.chinchilla_loss(n, d, fit))


def _draw_two_runs(rng: random.Random) -> dict:
    while True:
        a, b = rng.sample(sorted(_RUNS), 2)
        if {a, b} == {"Gopher", "Chinchilla"}:  # the lesson's comparison
            continue
        drawn = _fit(rng)
        (n1, d1, s1), (n2, d2, s2) = _RUNS[a], _RUNS[b]
        if _loss(n1, d1, drawn["fit"]) < _loss(n2, d2, drawn["fit"]):
            (a, n1, d1, s1), (b, n2, d2, s2) = (b, n2, d2, s2), (a, n1, d1, s1)
        if _loss(n1, d1, drawn["fit"]) - _loss(n2, d2, drawn["fit"]) > 0.01:
            return {"name1": a, "src1": s1, "N1": n1, "D1": d1,
                    "name2": b, "src2": s2, "N2": n2, "D2": d2, **drawn}


def _draw_frontier(rng: random.Random) -> dict:
    while True:
        c = log_uniform(rng, 1e21, 1e27, 2)
        if not _near(c, tm.GOPHER_FLOPS, 0.3):
            return {"C": c, **_fit(rng)}


def _draw_exponents(rng: random.Random) -> dict:
    # Factors whose answers are not numbers the lesson prints (100^0.27 = 10^0.54 is its
    # "10x compute -> D x 3.47", 5000^0.27 is about 10).
    return {"approach": rng.choice(_APPROACHES),
            "factor": rng.choice([200, 1000, 2000, 3000, 10000, 20000, 30000, 50000])}


def _draw_penalty(rng: random.Random) -> dict:
    model = rng.choice(sorted(_OVERTRAINED))
    d, source = _OVERTRAINED[model]
    return {"model": model, "D": d, "source": source, **_fit(rng)}


def _draw_scenario(rng: random.Random) -> dict:
    while True:
        model, d = rng.choice(_SCENARIO_MODELS), rng.choice(_SCENARIO_TOKENS)
        if d / _n(model) >= 40:
            return {"model": model, "D": d}


def _draw_inference(rng: random.Random) -> dict:
    name = rng.choice(sorted(_RUNS))
    n, d, source = _RUNS[name]
    return {"name": name, "source": source, "N": n, "D": d,
            # lifetime demands whose optimal sizes are not numbers the lesson prints
            "D_inf": rng.choice([2e12, 3e12, 4e12, 7e12, 2e13, 4e13, 5e13, 2e14, 3e14])}


def _draw_gpu_hours(rng: random.Random) -> dict:
    return {"N": log_uniform(rng, 2e10, 3e11, 2), "gpu": rng.choice(_GPUS),
            "mfu": rng.choice([0.3, 0.35, 0.4, 0.45, 0.5])}


def _n(model: str) -> int:
    return tm.param_count(tm.MODELS[model])


def _break_even(model: str, D: float) -> float:
    n = _n(model)
    n_big, d_big, _ = tm.inference_aware_optimal(_loss(n, D, "epoch"), 0.0, "epoch")
    return float(tm.break_even_inference_tokens(n, D, n_big, d_big))


QUESTIONS: list[Question] = [
    Question(
        "03.1",
        "The rule of thumb",
        expected=lambda C: tm.chinchilla_optimal(C, 20.0)[0],
        unit="params",
        rtol=0.01,
        kind="apply",
        text=(
            "A lab has a training budget of $C$ = {{C:flops}} and follows the Chinchilla\n"
            "rule of thumb $D = 20N$ (Hoffmann et al. 2022, Table 3). How many parameters\n"
            "should the model have? Answer in **parameters**."
        ),
        inputs={"C": 1e24},
        draw=_draw_budget,
        nudge="Section 1 of the lesson: the budget fixes the product of N and D, and the rule "
        "fixes their ratio.",
        hint="Put D = 20N into C = 6ND: C = 120·N², so N = √(C / 120).",
    ),
    Question(
        "03.2",
        "A floor on training tokens",
        expected=lambda D_floor: tm.training_flops(D_floor / 20.0, D_floor),
        unit="FLOP",
        rtol=0.01,
        kind="apply",
        text=(
            "Section 1 quotes the advice not to train an LLM on fewer than 200 B tokens. A team\n"
            "sets its own floor at $D = {{D_floor:count}}$ tokens. For which training budget is\n"
            "exactly {{D_floor:count}} tokens the compute-optimal amount under $D = 20N$ (below\n"
            "it, the floor makes the team train a smaller model than the rule says)?\n"
            "Answer in **FLOP**."
        ),
        inputs={"D_floor": 300e9},
        draw=_draw_floor,
        nudge="Section 1, the \"200 B tokens\" paragraph: which model size is that many tokens "
        "20 tokens per parameter for?",
        hint="N = D / 20, then C = 6·N·D = 6·D²/20.",
    ),
    Question(
        "03.3",
        "Is D = 20N the optimum at every budget?",
        expected=lambda C: tm.optimal_tokens_per_param(C, "hoffmann"),
        unit="",
        rtol=0.005,
        kind="find the error",
        text=(
            "Our source slides state the trade-off as a law: *\"The optimal tradeoff between P\n"
            "and D is: D = 20P\"*. Test it on Hoffmann et al.'s own Approach 3 loss law with the\n"
            "constants as printed (App. D.2, Eq. 10: $E = 1.69$, $A = 406.4$, $B = 410.7$,\n"
            '$\\alpha = 0.34$, $\\beta = 0.28$; `fit="hoffmann"`). At a budget of\n'
            "$C$ = {{C:flops}}, how many tokens per parameter does the loss-minimising split\n"
            "use? Answer as a **plain number** (tokens per parameter). Then, in the cell below,\n"
            "say in a sentence or two what is wrong with stating $D = 20P$ as the optimum."
        ),
        discussion=(
            "**What is wrong with the claim?**\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "\"20\" is a fit to the budgets DeepMind measured (Approach 1, Table 3), not a law.\n"
            "The optimal ratio of a fitted loss law is\n"
            "$D_\\text{opt}/N_\\text{opt} = G^{-2}(C/6)^{(\\alpha-\\beta)/(\\alpha+\\beta)}$, a\n"
            "constant only if $\\alpha = \\beta$: with the printed constants it grows as\n"
            "$C^{0.097}$ and is far from 20 at this budget, and the printed digits are so coarse\n"
            "that anything from about 44 to 196 fits at Gopher's budget. The Epoch AI refit gives\n"
            "about 20 at $10^{22}$ FLOPs, drifting slowly down (about 16 at $10^{26}$). So\n"
            "$D \\approx 20N$ is a sound starting point near the budgets, data and tokenizer the\n"
            "paper studied, and only for training compute: a model that will serve many tokens\n"
            "should be smaller and trained longer (section 7).\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"C": 1e26},
        draw=_draw_printed_ratio,
        nudge="Section 5 of the lesson: divide the two halves of the efficient frontier.",
        hint="D_opt / N_opt = (C/6)^(b − a) / G² with G = (αA/(βB))^(1/(α+β)), a = β/(α+β) "
        "and b = α/(α+β), all from the printed constants.",
    ),
    Question(
        "03.4",
        "Two published runs by the loss law",
        expected=lambda name1, src1, N1, D1, name2, src2, N2, D2, fit, fit_label: _loss(
            N1, D1, fit
        )
        - _loss(N2, D2, fit),
        unit="",
        rtol=0.01,
        kind="apply",
        text=(
            "{{name1}} has $N = {{N1:count}}$ parameters and was trained on $D = {{D1:count}}$\n"
            "tokens ({{src1}}); {{name2}} has {{N2:count}} parameters and {{D2:count}} tokens\n"
            "({{src2}}). With the Approach 3 loss law and the {{fit_label}}, by how much is\n"
            "{{name1}}'s predicted final loss higher than {{name2}}'s? Answer in\n"
            "**nats per token**."
        ),
        inputs={
            "name1": "GPT-3 175B", "src1": _RUNS["GPT-3 175B"][2], "N1": 175e9, "D1": 300e9,
            "name2": "LLaMA 65B", "src2": _RUNS["LLaMA 65B"][2], "N2": 65.2e9, "D2": 1.4e12,
            "fit": "epoch", "fit_label": _FIT_LABELS["epoch"],
        },
        draw=_draw_two_runs,
        nudge="Section 2 of the lesson: evaluate the fitted law for each run.",
        hint="L(N, D) = E + A/N^α + B/D^β with the fit's constants (tm.FITS[fit]); subtract the "
        "second run's loss from the first's.",
    ),
    Question(
        "03.5",
        "The frontier in closed form",
        expected=lambda C, fit, fit_label: tm.loss_optimal(C, fit)[1],
        unit="tokens",
        rtol=0.005,
        kind="apply",
        text=(
            "Minimise the Approach 3 loss law with the {{fit_label}} under $C = 6ND$ for a\n"
            "budget of $C$ = {{C:flops}}. How many training tokens $D_\\text{opt}$ does the\n"
            "loss-minimising split use? Answer in **tokens**."
        ),
        inputs={"C": 3.8e25, "fit": "epoch", "fit_label": _FIT_LABELS["epoch"]},
        draw=_draw_frontier,
        nudge="Section 4 of the lesson: the efficient frontier, Hoffmann et al.'s Eq. 4.",
        hint="D_opt = (C/6)^b / G with G = (αA/(βB))^(1/(α+β)) and b = α/(α+β), from the "
        "fit's constants (tm.FITS[fit]).",
    ),
    Question(
        "03.6",
        "Kaplan's exponent against Chinchilla's",
        expected=lambda approach, factor: factor
        ** (tm.SCALING_EXPONENTS[_KAPLAN][0] - tm.SCALING_EXPONENTS[approach][0]),
        unit="",
        rtol=0.005,
        kind="recall",
        text=(
            "Hoffmann et al. 2022 (Table 2) list the exponent $a$ of $N_\\text{opt} \\propto C^a$\n"
            "for their three approaches and for Kaplan et al. 2020. If the compute budget grows\n"
            "{{factor:,}}-fold, by what factor does Kaplan et al.'s optimal model size grow more\n"
            "than that of \"{{approach}}\", i.e. what is the ratio of the two growth factors?\n"
            "Answer as a **plain number**."
        ),
        inputs={"approach": _APPROACHES[0], "factor": 1000},
        draw=_draw_exponents,
        nudge="Section 4 of the lesson, the table of exponents: how does N_opt grow with C?",
        hint="N_opt ∝ C^a, so f-fold compute multiplies N_opt by f^a; the ratio of Kaplan's "
        "growth to Chinchilla's is f^(a_Kaplan − a_Chinchilla).",
    ),
    Question(
        "03.7",
        "Which N? Kaplan's count against Hoffmann's",
        expected=lambda model: tm.embedding_params(tm.MODELS[model]) / _n(model),
        unit="",
        rtol=0.01,
        kind="apply",
        text=(
            "Kaplan et al. 2020 fit their laws to *non-embedding* parameters; Hoffmann et al.\n"
            "2022 count all of them. What fraction of all the parameters of\n"
            '`tm.MODELS["{{model}}"]` does Kaplan et al.\'s count leave out? Take as embedding\n'
            "parameters the token embedding, learned position embeddings if the model has them,\n"
            "and the LM head when it is not tied to the token embedding. Answer as a\n"
            "**fraction**."
        ),
        inputs={"model": "gpt2-medium"},
        draw=lambda rng: {"model": rng.choice(_EMBEDDING_MODELS)},
        nudge="Section 4 of the lesson, \"Which N?\": which parameters does a non-embedding count "
        "leave out, and which of them does this model have?",
        hint="Embedding parameters = V·d for the token embedding, + s·d for learned positions "
        "(GPT-2, GPT-3), + V·d for an untied LM head (Llama, Mistral). Divide by "
        "tm.param_count of the preset.",
    ),
    Question(
        "03.8",
        "The loss price of over-training",
        expected=lambda model, D, source, fit, fit_label: tm.isoflop_loss_penalty(
            tm.training_flops(_n(model), D), _n(model), fit
        ),
        unit="",
        rtol=0.01,
        kind="apply",
        text=(
            '`tm.MODELS["{{model}}"]` was pre-trained on $D = {{D:count}}$ tokens ({{source}}).\n'
            "Keep its training compute $C = 6ND$ fixed ($N$ = `tm.param_count`). With the\n"
            "{{fit_label}}, how much higher is its predicted loss than that of the\n"
            "compute-optimal model for the same $C$? Answer in **nats per token**."
        ),
        inputs={"model": "llama-2-7b", "D": 2.0e12, "source": _OVERTRAINED["llama-2-7b"][1],
                "fit": "epoch", "fit_label": _FIT_LABELS["epoch"]},
        draw=_draw_penalty,
        nudge="Section 7 of the lesson, the Llama 3 8B example: compare two points of the same "
        "IsoFLOP curve.",
        hint="Penalty = L(N, D) − L(N_opt, D_opt), where (N_opt, D_opt) is the loss-optimal "
        "split of the same C = 6ND (Eq. 4: N_opt = G (C/6)^a, D_opt = (C/6)^b / G).",
    ),
    Question(
        "03.9",
        "When does over-training pay off?",
        expected=lambda model, D: _break_even(model, D),
        unit="tokens",
        rtol=0.005,
        kind="apply",
        text=(
            "Now hold the **loss** fixed instead. A lab pre-trains a model of the shape\n"
            '`tm.MODELS["{{model}}"]` ($N$ = `tm.param_count`) on $D = {{D:count}}$ tokens,\n'
            "more than compute-optimal. With the Epoch fit, find the compute-optimal model (no\n"
            "inference) that reaches the same predicted loss, $N_\\text{big}$ on $D_\\text{big}$\n"
            "tokens. The smaller model spends more on training,\n"
            "$6ND - 6N_\\text{big}D_\\text{big}$ extra FLOPs, but saves\n"
            "$2(N_\\text{big} - N)$ FLOPs on every token it serves. After how many served tokens\n"
            "have the inference savings paid back its extra training compute?\n"
            "Answer in **tokens**."
        ),
        inputs={"model": "llama-2-7b", "D": 2.0e12},
        draw=_draw_scenario,
        nudge="Section 7 of the lesson: compare the extra FLOPs over-training costs in training "
        "with the FLOPs it saves on each served token.",
        hint="Extra training compute = 6·N·D − 6·N_big·D_big; saving per served token = "
        "2·(N_big − N); break-even = extra training compute ÷ saving per token. On the "
        "frontier the model term A/N^α gets β/(α+β) of ℓ − E and the data term B/D^β gets "
        "α/(α+β), which gives N_big and D_big.",
    ),
    Question(
        "03.10",
        "Sizing a model for its users",
        expected=lambda name, source, N, D, D_inf: tm.inference_aware_optimal(
            _loss(N, D, "epoch"), D_inf, "epoch"
        )[0],
        unit="params",
        rtol=0.005,
        kind="apply",
        text=(
            "You want a model as good as {{name}} ($N = {{N:count}}$ on $D = {{D:count}}$\n"
            "tokens, {{source}}), by the Epoch fit's predicted loss, and expect it to serve\n"
            "$D_\\text{inf} = {{D_inf:count}}$ tokens over its lifetime. Which model size\n"
            "reaches that loss with the fewest training plus inference FLOPs,\n"
            "$6ND_\\text{train} + 2ND_\\text{inf}$ (Sardana et al. 2023)? Answer in\n"
            "**parameters**."
        ),
        inputs={"name": "Llama 2 70B", "source": _RUNS["Llama 2 70B"][2], "N": 70e9,
                "D": 2.0e12, "D_inf": 5e13},
        draw=_draw_inference,
        nudge="Section 7 of the lesson: every model size above N_min needs its own amount of "
        "training data to reach the target loss.",
        hint="D_train(N) = (B / (ℓ − E − A/N^α))^(1/β) for N > N_min = (A/(ℓ − E))^(1/α); "
        "minimise F(N) = 6·N·D_train(N) + 2·N·D_inf over N (a fine grid in log N, or "
        "tm.inference_aware_optimal).",
    ),
    Question(
        "03.11",
        "GPU-hours for a compute-optimal model",
        expected=lambda N, gpu, mfu: tm.gpu_hours(
            tm.training_flops(N, 20.0 * N), tm.ACCELERATORS[gpu].peak("bf16"), mfu
        ),
        unit="GPU-hour",
        rtol=0.3,
        kind="estimate",
        text=(
            "A lab wants a compute-optimal model ($D = 20N$) with $N = {{N:count}}$ parameters\n"
            "and will train it in bf16 on {{gpu}} GPUs at {{mfu:.0%}} MFU. Roughly how many\n"
            "GPU-hours will the run take? Any answer within 30 % counts. Answer in\n"
            "**GPU-hours**."
        ),
        discussion=(
            "**What does this caveat mean?** Anthony et al. 2023 (\"Transformer Math 101\",\n"
            "EleutherAI blog) note that $D = 20P$ only holds *\"where using 1000 GPUs for 1 hour\n"
            "and 1 GPU for 1000 hours cost you the same amount\"*. What does the Chinchilla\n"
            "optimum hold fixed, and what do your GPU-hours leave out? Answer in two or three\n"
            "sentences.\n\n"
            "<!-- BEGIN SOLUTION -->\n"
            "The caveat is correct. The Chinchilla optimum minimises the loss for a fixed number\n"
            "of **training FLOPs**; GPU-hours measure that budget only at a fixed MFU, and then\n"
            "it does not matter how they are split between GPUs and hours. In practice MFU falls\n"
            "as a run spreads over more GPUs (communication, pipeline bubbles), so the same\n"
            "FLOPs cost more GPU-hours on a bigger cluster; and the optimum ignores wall-clock\n"
            "time (the same GPU-hours are a month on many GPUs or years on a few) and the cost of\n"
            "**inference** (section 7: a heavily used model should be smaller and trained\n"
            "longer).\n"
            "<!-- END SOLUTION -->"
        ),
        inputs={"N": 40e9, "gpu": "H100-SXM", "mfu": 0.4},
        draw=_draw_gpu_hours,
        nudge="Section 1 gives the compute of a compute-optimal model from its size; lesson 01 "
        "turns compute into GPU-hours.",
        hint="C = 6·N·D = 120·N² FLOPs; GPU-hours = C / (dense bf16 peak × MFU) / 3600.",
    ),
]
