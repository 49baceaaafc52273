"""Lesson 05 calculator: training-state memory by part, optimizer, dtypes and ZeRO stage.

``tm.widgets.OptimizerCalculator()`` takes a model (a preset or a parameter count), an
optimizer, the dtypes of weights and gradients, whether an fp32 master copy and a
separate fp32 gradient buffer are kept, a ZeRO stage, the number of data-parallel GPUs
and an accelerator. It shows the bytes per parameter by part, the model states with and
without sharding, whether they fit in the accelerator's memory and the fewest GPUs that
hold them at the chosen stage.

The plot stacks the parts (weights, gradients, fp32 gradient buffer, master copy,
momentum, variance) in one bar per ZeRO stage, at the chosen number of GPUs, with the
accelerator's memory as a line: ZeRO's Fig. 1 for your own setup.

The mixtures of experts of ``tm.MOE_MODELS`` follow the dense presets in the model list:
their model states follow every parameter, every expert's, not only the active ones
(``active_param_count``, shown next to the total), here over plain data parallelism (expert
parallelism: the planner, lesson 07, and the MoE calculator, lesson 11).

Every number comes from :mod:`trainmath` (``training_bytes_per_param``,
``training_state_breakdown``, ``min_gpus_to_fit``); this module only wires controls to
them. Activations are not included (lesson 06).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

import trainmath as tm
from trainmath import fmt
from trainmath.widgets._base import Calculator, accelerator_control, table_html

__all__ = ["OptimizerCalculator", "OptimizerResult", "CUSTOM", "SAME_AS_WEIGHTS"]

#: Dropdown entry that switches the model to the parameter-count box.
CUSTOM = "custom (enter N)"
#: Gradient-dtype entry meaning "the weights' dtype" (the frameworks' default).
SAME_AS_WEIGHTS = "same as weights"

_PARAM_DTYPES = ("bf16", "fp16", "fp32")
_GRAD_DTYPES = (SAME_AS_WEIGHTS, "bf16", "fp16", "fp32")
# String values: a Dropdown whose value is None shows an empty box (ipywidgets 8 reads
# None as "nothing selected"), so "auto" is mapped to master=None in compute().
_MASTER = [("auto (if weights 16-bit)", "auto"), ("yes", "yes"), ("no", "no")]
_MASTER_ARG = {"auto": None, "yes": True, "no": False}
_STAGES = [
    ("0: plain data parallelism", 0),
    ("1: shard optimizer states", 1),
    ("2: + gradients", 2),
    ("3: + weights (FSDP)", 3),
]
_STAGE_TICKS = ["stage 0\nplain DP", "stage 1\noptimizer", "stage 2\n+ gradients",
                "stage 3\n+ weights"]

#: Display names and colours of the parts, in stacking order (tm.STATE_PARTS).
PART_LABELS = {
    "weights": "weights",
    "gradients": "gradients",
    "grad_buffer": "fp32 gradient buffer",
    "master": "fp32 master copy",
    "momentum": "momentum m",
    "variance": "variance v",
}
_COLORS = {
    "weights": "#4C72B0", "gradients": "#55A868", "grad_buffer": "#8DD3A0",
    "master": "#C44E52", "momentum": "#DD8452", "variance": "#CCB974",
}

_STYLE = {"description_width": "12em"}
_WIDE = W.Layout(width="28em")


@dataclass(frozen=True)
class OptimizerResult:
    """Everything one update of :class:`OptimizerCalculator` computed (bytes, SI).

    ``per_param`` is bytes per parameter by part (:func:`trainmath.training_bytes_per_param`);
    ``per_gpu`` the bytes on one GPU at the chosen stage; ``by_stage`` the same for stages
    0-3 (arrays of 4). ``min_gpus`` is ``inf`` when no number of GPUs is enough at the
    chosen stage. ``active_params`` is the parameters one token uses, for a mixture of
    experts (None otherwise).
    """

    name: str
    n_params: float
    optimizer: str
    param_dtype: str
    grad_dtype: str
    master: bool | None
    grad_buffer: bool
    zero_stage: int
    dp: int
    per_param: tm.Breakdown
    unsharded: float
    per_gpu: tm.MemoryBreakdown
    by_stage: tm.MemoryBreakdown
    accelerator: str
    memory_bytes: float
    fits: bool
    min_gpus: float
    min_gpus_stage3: float
    active_params: float | None = None


def _gb(x: float) -> str:
    return fmt.bytes_(x)


class OptimizerCalculator(Calculator):
    """Training-state memory per GPU by part, optimizer, dtypes and ZeRO stage (lesson 05).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.OptimizerCalculator()
    >>> calc.set(model=CUSTOM, n_params=7.5e9, dp=64, zero_stage=0)   # ZeRO, Fig. 1
    True
    >>> [round(float(x) / 1e9, 2) for x in calc.last.by_stage["total"]]
    [120.0, 31.41, 16.64, 1.88]
    """

    title = "Optimizer-state calculator: training bytes per GPU by part and ZeRO stage"
    figsize = (6.6, 3.5)

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        return {
            "model": W.Dropdown(
                options=[*tm.MODELS, *tm.MOE_MODELS, CUSTOM], value="llama-3-8b",
                description="model", **common,
            ),
            "n_params": W.FloatText(value=7.5e9, description="N params (custom)", **common),
            "optimizer": W.Dropdown(
                options=list(tm.OPTIMIZER_STATES), value="adamw", description="optimizer",
                **common,
            ),
            "param_dtype": W.Dropdown(
                options=_PARAM_DTYPES, value="bf16", description="weights dtype", **common
            ),
            "grad_dtype": W.Dropdown(
                options=_GRAD_DTYPES, value=SAME_AS_WEIGHTS, description="gradients dtype",
                **common,
            ),
            "master": W.Dropdown(
                options=_MASTER, value="auto", description="fp32 master copy", **common
            ),
            "grad_buffer": W.Checkbox(
                value=False, description="separate fp32 gradient buffer", indent=False,
                layout=_WIDE,
            ),
            "zero_stage": W.Dropdown(
                options=_STAGES, value=1, description="ZeRO stage", **common
            ),
            "dp": W.IntText(value=8, description="data-parallel GPUs", **common),
            "accelerator": accelerator_control("H100-SXM", **common),
        }

    def update(self) -> bool:
        # The parameter box only matters for a custom model; grey it out otherwise.
        self.inputs["n_params"].disabled = self.inputs["model"].value != CUSTOM
        return super().update()

    # -- numbers ----------------------------------------------------------------------
    def compute(self, model, n_params, optimizer, param_dtype, grad_dtype, master,
                grad_buffer, zero_stage, dp, accelerator):
        active = None
        if model == CUSTOM:
            name, n = "custom model", n_params
        else:
            cfg = tm.get_model(model)
            name, n = cfg.name, tm.param_count(cfg)
            if cfg.is_moe:
                active = float(tm.active_param_count(cfg))
        master = _MASTER_ARG[master]
        acc = tm.get_accelerator(accelerator)
        kw = dict(
            param_dtype=param_dtype,
            grad_dtype=None if grad_dtype == SAME_AS_WEIGHTS else grad_dtype,
            optimizer=optimizer, master=master, grad_buffer=grad_buffer,
        )
        per_param = tm.training_bytes_per_param(**kw)
        by_stage = tm.training_state_breakdown(n, zero_stage=np.arange(4), dp=dp, **kw)
        per_gpu = tm.training_state_breakdown(n, zero_stage=zero_stage, dp=dp, **kw)
        return OptimizerResult(
            name=name, n_params=float(n), optimizer=optimizer, param_dtype=param_dtype,
            grad_dtype=param_dtype if grad_dtype == SAME_AS_WEIGHTS else grad_dtype,
            master=master, grad_buffer=grad_buffer, zero_stage=zero_stage, dp=dp,
            per_param=per_param, unsharded=float(by_stage["total"][0]), per_gpu=per_gpu,
            by_stage=by_stage, accelerator=acc.name, memory_bytes=acc.memory_bytes,
            fits=per_gpu["total"] <= acc.memory_bytes,
            min_gpus=tm.min_gpus_to_fit(n, acc.memory_bytes, zero_stage=zero_stage, **kw),
            min_gpus_stage3=tm.min_gpus_to_fit(n, acc.memory_bytes, zero_stage=3, **kw),
            active_params=active,
        )

    def render(self, out: OptimizerResult) -> str:
        parts = [p for p in tm.STATE_PARTS if out.per_param[p] > 0]
        sum_text = " + ".join(f"{out.per_param[p]:g}" for p in parts)
        names = " + ".join(PART_LABELS[p] for p in parts)
        master = "kept" if out.per_param["master"] else "none"
        if out.master is None:
            master += " (auto)"
        buffer = ", separate fp32 gradient buffer" if out.grad_buffer else ""
        model = f"{out.name}: {fmt.count(out.n_params)} parameters"
        if out.active_params is not None:
            model += (f" ({fmt.count(out.active_params)} active per token; every expert has "
                      f"its own states)")
        rows = [
            ("Model", model),
            ("Setup", f"{out.optimizer}; weights {out.param_dtype}, gradients "
                      f"{out.grad_dtype}{buffer}; fp32 master copy: {master}"),
            ("Bytes per parameter",
             f"{sum_text} = {out.per_param['total']:g} B/param ({names})"),
            ("Model states, one full copy", _gb(out.unsharded)),
        ]
        where = f"Per GPU, ZeRO stage {out.zero_stage} over {out.dp:,} GPUs"
        rows += [
            (f"  {PART_LABELS[p]}", _gb(out.per_gpu[p])) for p in parts
        ]
        rows.append((where, _gb(out.per_gpu["total"])))
        mem = out.memory_bytes
        if out.fits:
            verdict = f"fits: {_gb(out.per_gpu['total'])} of {_gb(mem)}, " \
                      f"{_gb(mem - out.per_gpu['total'])} left for activations"
        else:
            verdict = f"does not fit: {_gb(out.per_gpu['total'] - mem)} over {_gb(mem)}"
        rows.append((f"On one {out.accelerator}", verdict))
        if math.isinf(out.min_gpus):
            fewest = (f"none: what stage {out.zero_stage} keeps whole on every GPU is more than "
                      f"{_gb(mem)}; stage 3 needs {out.min_gpus_stage3:,.0f}")
        else:
            fewest = f"{out.min_gpus:,.0f}"
            if out.zero_stage != 3:
                fewest += f" (stage 3: {out.min_gpus_stage3:,.0f})"
        rows.append((f"Fewest GPUs at stage {out.zero_stage}", fewest))
        rows.append(("Not counted", "activations (lesson 06), buffers, fragmentation"))
        return table_html(rows)

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        ax = fig.add_subplot()
        x = np.arange(4)
        self._bars = {
            part: ax.bar(x, np.zeros(4), width=0.62, color=_COLORS[part],
                         label=PART_LABELS[part], edgecolor="white", linewidth=0.5)
            for part in tm.STATE_PARTS
        }
        self._totals = [
            ax.text(i, 0, "", ha="center", va="bottom", fontsize=8) for i in range(4)
        ]
        self._capacity = ax.axhline(0, color="#b00020", ls="--", lw=1.2, label="GPU memory")
        ax.set_xticks(x, _STAGE_TICKS, fontsize=8)
        ax.set_xlim(-0.5, 3.5)
        ax.set_ylabel("model states per GPU", fontsize=9)
        # Tick labels as "40 GB" / "1.2 TB" keep their width whatever the model, so the
        # layout solved on the first draw (see Calculator._refresh_image) stays right.
        ax.yaxis.set_major_formatter(lambda y, _: _gb(y * 1e9))
        ax.grid(axis="y", alpha=0.3)
        handles = [*self._bars.values(), self._capacity]
        legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                           fontsize=8, frameon=False)
        self._capacity_text = legend.get_texts()[-1]  # "<GPU> memory: 80 GB", set by draw()
        self.freeze(legend)  # redrawn live only when the accelerator (its text) changes
        self._title = ax.set_title("", fontsize=9)
        self._ax = ax

    def draw(self, out: OptimizerResult) -> None:
        bottom = np.zeros(4)
        for part in tm.STATE_PARTS:
            heights = np.asarray(out.by_stage[part]) / 1e9
            for i, rect in enumerate(self._bars[part]):
                rect.set_y(bottom[i])
                rect.set_height(heights[i])
                rect.set_alpha(1.0 if i == out.zero_stage else 0.35)
            bottom += heights
        for i, text in enumerate(self._totals):
            text.set_position((i, bottom[i]))
            text.set_text(_gb(bottom[i] * 1e9))
            text.set_fontweight("bold" if i == out.zero_stage else "normal")
        cap = out.memory_bytes / 1e9
        self._capacity.set_ydata([cap, cap])
        self._capacity_text.set_text(f"{out.accelerator}\nmemory: {_gb(out.memory_bytes)}")
        self._ax.set_ylim(0, max(bottom.max(), cap) * 1.15)
        self._title.set_text(
            f"{out.name}, {out.optimizer}, {out.param_dtype} weights, {out.dp:,} GPUs "
            "(no activations)"
        )
