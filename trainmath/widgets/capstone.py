"""Lesson 09 calculator: plan a training run end to end.

``tm.widgets.CapstoneCalculator()`` takes a budget (FLOPs, days on the cluster, or US
dollars), a rule that splits it into parameters N and tokens D (Chinchilla's D = k N, the
loss-optimal frontier, or the inference-aware optimum), and a cluster (accelerator, GPU
count, MFU, price per GPU-hour, global batch). It shows the model and data, a Llama-style
shape for N, the memory the model states need, the fastest parallel layout that fits
(:func:`trainmath.plan_layouts`), and the days, GPU-hours and cost, next to what Llama 3
405B actually used.

The plot puts the plan on the (N, D) plane with lines of constant compute C = 6ND, the
Chinchilla line D = k N, the loss-optimal frontier and published training runs.

Every number comes from :mod:`trainmath` (``capstone.plan_training_run``,
``capstone.llama_like_config``, ``min_gpus_to_fit``, ``plan_layouts``, ...); this module
only wires controls to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

import trainmath as tm
from trainmath import _validate as v
from trainmath import capstone, fmt
from trainmath.widgets._base import Calculator, accelerator_control, mfu_slider, table_html

__all__ = ["CapstoneCalculator", "CapstoneResult", "PUBLISHED_RUNS"]

_BUDGETS = [("FLOPs", "flops"), ("days on the cluster", "days"), ("US dollars", "usd")]
_RULES = [
    ("Chinchilla: D = k·N", "chinchilla"),
    ("loss-optimal (Epoch AI fit)", "loss-optimal"),
    ("inference-aware (Epoch AI fit)", "inference-aware"),
]
_FIT = "epoch"
_DTYPE = "bf16"

#: Published (N, D) of real runs drawn on the plot: (label, parameters, tokens, source).
PUBLISHED_RUNS: tuple[tuple[str, float, float, str], ...] = (
    ("GPT-3 175B", 174.6e9, 300e9, "Brown et al. 2020, Table D.1"),
    ("Chinchilla 70B", 70e9, 1.4e12, "Hoffmann et al. 2022, Table 1"),
    ("Llama 2 70B", 70e9, 2.0e12, "Touvron et al. 2023, Table 1"),
    ("Llama 3 8B", 8.03e9, 15e12, "Llama 3 paper, Sec. 3.1 (15T tokens)"),
    ("Llama 3 405B", 405.85e9, 15.6e12, "Llama 3 paper, Sec. 3.2.1"),
)
# Where each label sits relative to its marker (points), so that labels do not collide.
_LABEL_OFFSETS = {"Llama 2 70B": (-5, 2, "right"), "Chinchilla 70B": (5, -9, "left"),
                  "Llama 3 405B": (-5, 4, "right")}

_STYLE = {"description_width": "14em"}
_WIDE = W.Layout(width="31em")


@dataclass(frozen=True)
class CapstoneResult:
    """Everything one update of :class:`CapstoneCalculator` computed (SI units).

    ``layout`` is the planner's fastest fitting layout as a dict (None when none fits);
    ``n_layouts_fit`` how many of the enumerated layouts fit.
    """

    plan: capstone.TrainingPlan
    cfg: tm.ModelConfig
    shape_params: int
    memory_bytes: float
    state_bytes: float
    min_gpus: int
    batch_tokens: int
    layout: dict | None
    n_layouts: int
    n_layouts_fit: int


def _layout_text(row: dict) -> str:
    recompute = {"none": "no recompute", "selective": "selective recompute",
                 "full": "full recompute"}[row["recompute"]]
    sp = ", seq. parallel" if row["sequence_parallel"] else ""
    chunks = row.get("interleave", 1)
    pp = f"PP {row['pp']}" + (f" (interleave {chunks})" if chunks > 1 else "")
    return (f"TP {row['tp']} × {pp} × DP {row['dp']}, ZeRO-{row['zero_stage']}, "
            f"{recompute}{sp}, micro-batch {row['micro_batch']}")


class CapstoneCalculator(Calculator):
    """Plan a training run: budget → N, D → shape → memory → layout → days and cost (lesson 09).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.CapstoneCalculator()
    >>> round(calc.last.plan.n_params / 1e9)
    563
    >>> round(calc.last.plan.days)
    68
    """

    title = "Capstone planner: budget → model, data, shape, memory, layout, days and cost"
    figsize = (7.6, 4.0)

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        self._budget_by_unit: dict[str, float] = {}  # the box per unit, one budget
        common = {"style": _STYLE, "layout": _WIDE}
        return {
            "budget_unit": W.Dropdown(options=_BUDGETS, value="flops",
                                      description="budget given in", **common),
            "budget": W.FloatText(value=3.8e25, description="budget", **common),
            "rule": W.Dropdown(options=_RULES, value="chinchilla",
                               description="choose N and D by", **common),
            "tokens_per_param": W.FloatText(value=20.0, description="k = D / N (Chinchilla)",
                                            **common),
            "inference_tokens": W.FloatText(
                value=1e13, description="inference tokens", **common
            ),
            # the planner's accelerators: a measured NVLink bus bandwidth and matmul rate
            "accelerator": accelerator_control("H100-SXM", description="accelerator (bf16)",
                                               options=tm.NODE_BUS_BANDWIDTH, **common),
            "n_gpus": W.IntText(value=16384, description="number of GPUs", **common),
            "mfu": mfu_slider(0.4, **common),
            "price": W.FloatText(value=2.0, description="price per GPU-hour (USD)", **common),
            "batch_sequences": W.IntText(
                value=2048, description="sequences per step", **common
            ),
        }

    def _on_change(self, change: dict) -> None:
        # A learner who picks another unit for the budget means the same budget in that
        # unit: the box is rewritten to it (67.86 days, not 3.8e25 days), so the plan
        # stays and nothing needs searching again; going back shows the value typed there.
        # ``set`` does not come here: there the budget box holds what it is given.
        if change["owner"] is self.inputs["budget_unit"] and self.message.value == "":
            self._rewrite_budget(change["old"], change["new"])
        else:
            self._budget_by_unit = {}  # another budget now: earlier values are stale
        super()._on_change(change)

    def _rewrite_budget(self, old_unit: str, new_unit: str) -> None:
        p, budget = self.last.plan, self.inputs["budget"]
        self._budget_by_unit[old_unit] = budget.value
        value = self._budget_by_unit.get(new_unit)
        if value is None:
            c = p.budget_flops  # the same plan's budget, said in the new unit by the core
            value = {
                "flops": c,
                "days": tm.training_time(c, p.n_gpus, p.peak_flops, p.mfu) / tm.SECONDS_PER_DAY,
                "usd": tm.flops_to_cost(c, p.peak_flops, p.mfu, p.price_per_gpu_hour),
            }[new_unit]
            value = float(f"{value:.4g}")
        budget.unobserve(self._on_change, names="value")
        try:
            budget.value = value
        finally:
            budget.observe(self._on_change, names="value")

    def update(self) -> bool:
        rule = self.inputs["rule"].value
        self.inputs["tokens_per_param"].disabled = rule != "chinchilla"
        self.inputs["inference_tokens"].disabled = rule != "inference-aware"
        return super().update()

    # -- numbers ----------------------------------------------------------------------
    def compute(self, budget_unit, budget, rule, tokens_per_param, inference_tokens,
                accelerator, n_gpus, mfu, price, batch_sequences):
        plan = capstone.plan_training_run(
            **{budget_unit: budget}, accelerator=accelerator, n_gpus=n_gpus, mfu=mfu,
            dtype=_DTYPE, price_per_gpu_hour=price, rule=rule, tokens_per_param=tokens_per_param,
            fit=_FIT, inference_tokens=inference_tokens,
        )
        cfg = capstone.llama_like_config(plan.n_params)
        acc = tm.get_accelerator(accelerator)
        seqs = v.positive_int("batch_sequences", batch_sequences)
        # Context parallelism is left out at an 8k context, as in Llama 3's main run (Table 4).
        layouts = tm.plan_layouts(cfg, acc, n_gpus, global_batch_tokens=seqs * cfg.seq_len,
                                  max_cp=1, dtype=_DTYPE)
        n_shape = tm.param_count(cfg)
        return CapstoneResult(
            plan=plan, cfg=cfg, shape_params=n_shape, memory_bytes=acc.memory_bytes,
            state_bytes=16.0 * n_shape,
            # ZeRO-3 over every GPU: ceil(16 N / memory) for mixed-precision AdamW.
            min_gpus=int(tm.min_gpus_to_fit(n_shape, acc.memory_bytes, zero_stage=3)),
            batch_tokens=seqs * cfg.seq_len, layout=layouts.best(), n_layouts=len(layouts),
            n_layouts_fit=layouts.n_fit,
        )

    def render(self, out: CapstoneResult) -> str:
        p, cfg = out.plan, out.cfg
        rule = {value: label for label, value in _RULES}[p.rule]
        if p.rule == "chinchilla":
            rule = f"Chinchilla: D = {p.tokens_per_param:.3g}·N"
        rows = [
            ("Budget", f"{fmt.flops(p.budget_flops)} = "
                       f"{tm.to_pflop_days(p.budget_flops):,.0f} PFLOP/s-days"),
            ("Model and data (" + rule + ")",
             f"N = {fmt.count(p.n_params)} parameters on D = {fmt.count(p.n_tokens)} tokens "
             f"({p.tokens_per_param:.3g} tokens/param)"),
        ]
        if p.rule == "inference-aware":
            extra = p.flops / p.budget_flops - 1
            rows.append(("  training compute (same loss, longer run)",
                         f"{fmt.flops(p.flops)} ({fmt.percent(extra)} over the budget) for "
                         f"{fmt.count(p.inference_tokens)} inference tokens"))
        rows += [
            ("Llama-style shape",
             f"{cfg.n_layers} layers × d {cfg.d_model:,} ({cfg.n_heads} heads, "
             f"{cfg.n_kv_heads} KV), d_ff {cfg.d_ff:,} → {fmt.count(out.shape_params)} params"),
            ("Model states at 16 B/param",
             f"{fmt.bytes_(out.state_bytes)}: at least {out.min_gpus:,} × "
             f"{fmt.bytes_(out.memory_bytes)} GPUs just to hold them"),
        ]
        if out.layout is None:
            rows.append(("Fastest layout that fits",
                         f"none of {out.n_layouts:,} layouts fits (batch "
                         f"{fmt.count(out.batch_tokens)} tokens): more GPUs, a smaller model "
                         "or another batch"))
        else:
            row = out.layout
            rows += [
                ("Fastest layout that fits (planner, CP 1)", _layout_text(row)),
                ("  memory of the busiest GPU",
                 f"{fmt.bytes_(row['total'])} of {fmt.bytes_(out.memory_bytes)} "
                 f"({out.n_layouts_fit:,} of {out.n_layouts:,} layouts fit)"),
                ("  planner's estimated step time",
                 f"{row['step_time']:.3g} s per {fmt.count(out.batch_tokens)}-token step → MFU "
                 f"{fmt.percent(row['mfu'])} (a model: use measured MFUs for the calendar)"),
            ]
        rows += [
            (f"Wall clock on {p.n_gpus:,} × {p.accelerator} at MFU {p.mfu:.2f}",
             f"{p.days:.3g} days"),
            ("GPU-hours", fmt.count(p.gpu_hours)),
            ("Cost", f"{fmt.money(p.cost)} at ${p.price_per_gpu_hour:.2f} per GPU-hour"),
            ("Predicted loss (Epoch AI fit, relative only)", f"{p.loss:.4f} nats/token"),
            ("Llama 3 405B, for comparison",
             "405.9B on 15.6T tokens, 3.8e25 FLOPs, 16,384 H100, MFU 38–43 %, "
             "30.84M GPU-hours (Llama 3 paper; model card)"),
        ]
        return table_html(rows)

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        # Fixed margins (no layout engine): a layout pass on every update would cost as
        # much as the drawing itself.
        fig.set_layout_engine("none")
        ax = fig.add_axes((0.10, 0.12, 0.56, 0.80))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("model size N (parameters)")
        ax.set_ylabel("training tokens D")
        ax.grid(True, which="major", alpha=0.25)
        # One artist for all the iso-FLOP lines (NaN breaks the line between decades): fewer
        # artists and no minor ticks keep the redraw fast.
        n = np.append(np.geomspace(1e6, 1e15, 2), np.nan)
        iso = [(n, c / (6 * n)) for c in 10.0 ** np.arange(18, 31)]
        ax.plot(np.concatenate([x for x, _ in iso]), np.concatenate([y for _, y in iso]),
                color="0.75", lw=0.7, ls=":", label="C = 6ND, one line per decade")
        c_sweep = np.geomspace(1e18, 1e30, 60)
        ax.plot(*tm.loss_optimal(c_sweep, _FIT), color="C2", ls="--", lw=1.2,
                label="loss-optimal frontier (Epoch AI fit)")
        (self._budget_line,) = ax.plot([], [], color="0.35", lw=1.0, label="budget")
        (self._k_line,) = ax.plot([], [], color="C0", lw=1.2, label="D = k·N")
        ax.plot([r[1] for r in PUBLISHED_RUNS], [r[2] for r in PUBLISHED_RUNS], "k^", ms=5,
                zorder=4, label="published runs")
        for label, n_i, d_i, _src in PUBLISHED_RUNS:
            dx, dy, ha = _LABEL_OFFSETS.get(label, (5, -9, "left"))
            ax.annotate(label, (n_i, d_i), xytext=(dx, dy), textcoords="offset points",
                        fontsize=7, color="0.2", ha=ha, clip_on=True)
        (self._plan,) = ax.plot([], [], "o", color="C3", ms=8, zorder=5, label="your plan")
        ax.minorticks_off()
        legend = ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7.5,
                           frameon=False)
        texts = {t.get_text(): t for t in legend.get_texts()}
        self._budget_text = texts["budget"]
        self._k_text = texts["D = k·N"]
        self._plan_text = texts["your plan"]
        self._title = ax.set_title("", fontsize=9, loc="left")
        self._ax = ax

    def draw(self, out: CapstoneResult) -> None:
        p = out.plan
        n_lo = min(1e9, p.n_params / 5)
        n_hi = max(2e12, p.n_params * 5)
        d_lo = min(1e11, p.n_tokens / 5)
        d_hi = max(1e14, p.n_tokens * 5)
        n = np.array([n_lo, n_hi])
        self._budget_line.set_data(n, p.budget_flops / (6 * n))
        self._budget_text.set_text(f"budget C = {fmt.flops(p.budget_flops)}")
        k = p.tokens_per_param
        self._k_line.set_data(n, k * n)
        self._k_text.set_text(f"D = {k:.3g}·N (your plan's ratio)")
        self._plan.set_data([p.n_params], [p.n_tokens])
        self._plan_text.set_text(
            f"your plan: {fmt.count(p.n_params)} on {fmt.count(p.n_tokens)} tokens"
        )
        self._ax.set_xlim(n_lo, n_hi)
        self._ax.set_ylim(d_lo, d_hi)
        self._title.set_text(
            f"{p.n_gpus:,} × {p.accelerator} at MFU {p.mfu:.2f}: {p.days:.3g} days, "
            f"{fmt.count(p.gpu_hours)} GPU-hours, {fmt.money(p.cost)}"
        )
