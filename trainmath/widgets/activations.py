"""Lesson 06 calculator: activation memory and total training memory per GPU.

``tm.widgets.ActivationCalculator()`` takes a model preset, the sequence length, the
micro-batch, the tensor-parallel size with or without sequence parallelism, the
recomputation strategy, the pipeline and data-parallel sizes with a ZeRO stage, and an
accelerator. It shows the activations one layer keeps (Korthikanti et al. 2022, Table 2),
the activations of the most loaded GPU (the first pipeline stage, which holds ``pp``
micro-batches in flight under 1F1B), weights, gradients and optimizer states, the total
against the accelerator's memory, and the FLOPs that recomputation costs. The plot shows
the total per GPU against the sequence length for the three recomputation strategies.

The mixtures of experts of ``tm.MOE_MODELS`` follow the dense presets in the model list.
Their layers are counted as the library counts them (``layer="modern"``: FlashAttention,
no s x s scores kept, term by term, the MoE layer's router, dispatched token copies and
experts), with experts kept whole on each GPU (``etp = 1``, as the planner and DeepSeek-V3
do) and spread over ``ep`` GPUs, the "expert parallel" box; ``ep`` must divide the experts
and ``d x t``. For a dense model the box shows 1, greyed out (no experts to spread), and
every output is the GPT-style one above.

Every number comes from :mod:`trainmath` (``memory_per_gpu``,
``activation_memory_per_layer``, ``layer_activation_bytes``,
``selective_recompute_saving``, ``recompute_flops_overhead``); this module only wires
controls to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

import trainmath as tm
from trainmath import fmt
from trainmath.widgets._base import Calculator, accelerator_control, table_html
from trainmath.widgets._experts import FollowsModel, model_options

__all__ = ["ActivationCalculator", "ActivationResult"]

_STYLE = {"description_width": "13em"}
_WIDE = W.Layout(width="27em")
#: Sequence lengths the plot always covers (widened to include the chosen one).
_S_RANGE = (512, 131072)
_COLORS = {"none": "C3", "selective": "C0", "full": "C2"}
_LABELS = {"none": "no recomputation", "selective": "selective recomputation",
           "full": "full recomputation"}
_X_LABELS = {  # by whether the model is a mixture of experts
    False: "sequence length s (tokens)    [activations: Korthikanti et al. 2022, Table 2]",
    True: "sequence length s (tokens)    [activations: modern layer, FlashAttention]",
}


@dataclass(frozen=True)
class ActivationResult:
    """Everything one update of :class:`ActivationCalculator` computed (bytes unless noted).

    For a mixture of experts (``moe``) ``per_layer`` is one MoE layer's, ``score_share`` and
    ``flops_paper`` are None (no scores are kept; Korthikanti's count is for GPT layers).
    """

    name: str
    gpt_style: bool  # Korthikanti's layer shape (GeLU MLP with d_ff = 4h, no GQA)
    n_layers: int
    d_model: int
    n_heads: int
    seq_len: int
    micro_batch: int
    tp: int
    sequence_parallel: bool
    recompute: str
    pp: int
    dp: int
    zero_stage: int
    accelerator: str
    capacity: float  # accelerator memory
    per_layer: float  # one layer's activations on one GPU
    score_share: float | None  # share of per_layer (without recomputation) in attention scores
    layers_on_gpu: int  # layers of the first pipeline stage
    in_flight: int  # micro-batches the first stage holds (1F1B)
    activations: float
    weights: float
    gradients: float
    optimizer: float
    total: float
    flops_redone: float  # extra FLOPs, fraction of model FLOPs, work actually redone
    flops_paper: float | None  # the same in Korthikanti et al.'s count
    seq_grid: np.ndarray  # x of the plot
    totals: dict  # recompute strategy -> total bytes per GPU over seq_grid
    moe: bool = False  # a mixture of experts (the modern layer)
    ep: int = 1  # expert parallelism


class ActivationCalculator(FollowsModel, Calculator):
    """Activation memory and total training memory of the most loaded GPU (lesson 06).

    A mixture of experts takes the expert-parallel box (greyed out at 1 for a dense model;
    see the module docstring).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.ActivationCalculator()
    >>> calc.set(recompute="none", pp=1, dp=1, zero_stage=0)
    True
    >>> round(calc.last.activations / 1e9, 1)  # GPT-3 175B, s 2048, b 1, t 8 with SP
    34.4
    """

    title = "Activation calculator: Korthikanti per-layer activations + model states, per GPU"
    figsize = (6.4, 3.6)

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        controls = {
            "model": W.Dropdown(options=model_options(moe_first=False), value="gpt3-175b",
                                description="model", **common),
            "seq_len": W.IntText(value=2048, description="sequence length s", **common),
            "micro_batch": W.IntText(value=1, description="micro-batch b", **common),
            "tp": W.IntText(value=8, description="tensor parallel t", **common),
            "sequence_parallel": W.Checkbox(
                value=True, description="sequence parallelism", indent=True,
                layout=_WIDE, style=_STYLE,
            ),
            "recompute": W.ToggleButtons(
                options=list(tm.RECOMPUTE), value="selective", description="recomputation",
                style={**_STYLE, "button_width": "6.5em"},
            ),
            "pp": W.IntText(value=8, description="pipeline parallel p", **common),
            "dp": W.IntText(value=8, description="data parallel d", **common),
            "ep": W.IntText(value=1, description="expert parallel e (MoE)", **common),
            "zero_stage": W.Dropdown(
                options=[0, 1, 2, 3], value=1, description="ZeRO stage (over d)", **common
            ),
            "accelerator": accelerator_control("A100-80GB", **common),
        }
        self._follow(controls)
        return controls

    # -- numbers ----------------------------------------------------------------------
    def compute(self, model, seq_len, micro_batch, tp, sequence_parallel, recompute, pp, dp,
                ep, zero_stage, accelerator):
        cfg = tm.get_model(model)
        acc = tm.get_accelerator(accelerator)
        layers = int(tm.layers_per_stage(cfg.n_layers, pp))  # validates pp first
        # 1F1B with at least pp micro-batches per step: the first stage holds pp of them.
        layout = dict(
            micro_batch=micro_batch, n_microbatches=pp, tp=tp, pp=pp, dp=dp,
            zero_stage=zero_stage, sequence_parallel=sequence_parallel,
        )
        moe = cfg.is_moe
        layout["ep"] = ep  # on a dense model the library refuses ep > 1 and says why
        if moe:  # the library's MoE layer, experts whole on each GPU (as the planner)
            layout.update(layer="modern", etp=1)
        mem = tm.memory_per_gpu(cfg, seq_len=seq_len, recompute=recompute, **layout)
        h, a = cfg.d_model, cfg.n_heads
        split = dict(tp=tp, sequence_parallel=sequence_parallel)
        if moe:
            per_layer = tm.layer_activation_bytes(
                cfg, seq_len, micro_batch, recompute=recompute, layer="modern", etp=1, **split
            )
        else:
            per_layer = tm.activation_memory_per_layer(
                seq_len, micro_batch, h, a, recompute=recompute, **split
            )
        lo, hi = min(_S_RANGE[0], seq_len), max(_S_RANGE[1], seq_len)
        grid = np.unique(np.geomspace(lo, hi, 40).round().astype(np.int64))
        totals = {
            rc: np.asarray(tm.memory_per_gpu(cfg, seq_len=grid, recompute=rc, **layout).total)
            for rc in tm.RECOMPUTE
        }
        return ActivationResult(
            name=cfg.name, gpt_style=cfg.mlp == "gelu" and cfg.n_kv_heads == cfg.n_heads
            and cfg.d_ff == 4 * cfg.d_model,
            n_layers=cfg.n_layers, d_model=h, n_heads=a, seq_len=seq_len,
            micro_batch=micro_batch, tp=tp, sequence_parallel=sequence_parallel,
            recompute=recompute, pp=pp, dp=dp, zero_stage=zero_stage, accelerator=acc.name,
            capacity=acc.memory_bytes, per_layer=per_layer,
            score_share=None if moe else tm.selective_recompute_saving(seq_len, h, a, **split),
            layers_on_gpu=layers, in_flight=pp, activations=mem.activations,
            weights=mem.weights, gradients=mem.gradients, optimizer=mem.optimizer, total=mem.total,
            flops_redone=tm.recompute_flops_overhead(cfg, seq_len, recompute),
            flops_paper=None if moe else tm.recompute_flops_overhead(
                cfg, seq_len, recompute, convention="korthikanti"
            ),
            seq_grid=grid, totals=totals, moe=moe, ep=ep,
        )

    def render(self, out: ActivationResult) -> str:
        shape = f"{out.name}: L = {out.n_layers}, h = {out.d_model:,}, a = {out.n_heads} heads"
        if out.moe:
            shape += (" (mixture of experts: the modern layer with FlashAttention, counted "
                      "term by term)")
        elif not out.gpt_style:
            shape += " (SwiGLU/GQA: the GPT-style formula is an approximation)"
        sbh = out.seq_len * out.micro_batch * out.d_model
        sp = " + SP" if out.sequence_parallel and out.tp > 1 else ""
        ratio = out.total / out.capacity
        verdict = "fits" if ratio <= 1 else "does NOT fit"
        if out.recompute == "none":
            flops = "none (nothing is recomputed)"
        elif out.moe:
            flops = f"+{fmt.percent(out.flops_redone)} of the model FLOPs redone"
        else:
            flops = (
                f"+{fmt.percent(out.flops_redone)} of the model FLOPs redone "
                f"(+{fmt.percent(out.flops_paper)} in Korthikanti et al.'s count)"
            )
        if out.moe:
            scores = "none kept: FlashAttention recomputes them in the backward pass"
        else:
            scores = f"{fmt.percent(out.score_share)} of the layer without recomputation"
        experts = f", experts over e = {out.ep}" if out.moe else ""
        rows = [
            ("Model", shape),
            (
                f"One {'MoE ' if out.moe else ''}layer's activations (t = {out.tp}{sp}, "
                f"{out.recompute})",
                f"{fmt.bytes_(out.per_layer)} = sbh × {out.per_layer / sbh:.4g}",
            ),
            ("Attention scores 5as²b/t (what selective recomputation frees)", scores),
            (
                "Activations on the busiest GPU",
                f"{fmt.bytes_(out.activations)} ({out.layers_on_gpu} layers × "
                f"{out.in_flight} micro-batch{'es' if out.in_flight > 1 else ''} in flight)",
            ),
            ("Weights (bf16)", fmt.bytes_(out.weights)),
            ("Gradients (bf16)", fmt.bytes_(out.gradients)),
            (f"AdamW states, 12 B/param (ZeRO-{out.zero_stage}, d = {out.dp}{experts})",
             fmt.bytes_(out.optimizer)),
            (
                f"Total per GPU vs {out.accelerator} ({fmt.bytes_(out.capacity)})",
                f"{fmt.bytes_(out.total)}: {verdict} ({fmt.percent(ratio)} of memory)",
            ),
            ("Recomputation cost", flops),
        ]
        return table_html(rows)

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(_X_LABELS[False])
        ax.set_ylabel("memory per GPU")
        ax.xaxis.set_major_locator(LogLocator(base=2, numticks=12))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(_tokens))
        ax.yaxis.set_major_locator(LogLocator(base=10, numticks=12))
        ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost time, add nothing
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: fmt.bytes_(y)))
        ax.grid(True, which="major", alpha=0.3)
        self._lines = {
            rc: ax.plot([], [], color=_COLORS[rc], label=f"total, {_LABELS[rc]}")[0]
            for rc in tm.RECOMPUTE
        }
        (self._states,) = ax.plot([], [], color="0.4", ls="--", lw=1, label="model states only")
        self._capacity = ax.axhline(1.0, color="k", ls=":", lw=1.2, label="GPU memory")
        (self._marker,) = ax.plot([], [], "o", color="k", zorder=4, label="your choice")
        legend = ax.legend(loc="upper left", fontsize=7.5)
        self._capacity_text = legend.get_texts()[4]  # "<accelerator> memory", set by draw()
        self._title = ax.set_title("", fontsize=9)
        self._ax = ax

    def draw(self, out: ActivationResult) -> None:
        s = out.seq_grid
        for rc, line in self._lines.items():
            line.set_data(s, out.totals[rc])
            line.set_linewidth(2.6 if rc == out.recompute else 1.0)
        states = out.weights + out.gradients + out.optimizer
        self._states.set_data([s[0], s[-1]], [states, states])
        self._capacity.set_ydata([out.capacity, out.capacity])
        self._capacity_text.set_text(f"{out.accelerator} memory")
        self._marker.set_data([out.seq_len], [out.total])
        sp = " + SP" if out.sequence_parallel and out.tp > 1 else ""
        experts = f", e = {out.ep}" if out.moe else ""
        self._title.set_text(
            f"{out.name}: b = {out.micro_batch}, t = {out.tp}{sp}, p = {out.pp}, "
            f"d = {out.dp}{experts} (ZeRO-{out.zero_stage}), {out.recompute} recomputation"
        )
        if self._ax.get_xlabel() != _X_LABELS[out.moe]:
            self._ax.set_xlabel(_X_LABELS[out.moe])
        lows = [out.totals["full"].min(), states, out.capacity]
        highs = [out.totals["none"].max(), out.capacity]
        self._ax.set_xlim(s[0], s[-1])
        self._ax.set_ylim(min(lows) / 2, max(highs) * 2)


def _tokens(x: float, _pos) -> str:
    """Axis label for a power-of-two sequence length: 512, 2k, 128k."""
    return f"{x / 1024:.0f}k" if x >= 1024 else f"{x:.0f}"
