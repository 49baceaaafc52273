"""Lesson 07 calculator: plan a 4D-parallel layout that fits, and see where the memory goes.

``tm.widgets.PlannerCalculator()`` takes a model, an accelerator, a GPU count, a sequence
length, the tokens per optimizer step and a matmul efficiency (by default the accelerator's
measured large-GEMM rate, :func:`trainmath.matmul_efficiency`). It runs
:func:`trainmath.plan_layouts` over every (tp, cp, pp, interleave, dp, ZeRO stage,
micro-batch, recomputation, sequence parallelism) combination that uses all the GPUs, and
shows how many layouts it evaluated and how many fit, a table of the fastest distinct
layouts (:meth:`trainmath.planner.Layouts.distinct`), and for the chosen one (the best,
or another rank picked in the "layout shown" box) its memory and step-time breakdown.

The plot has two panels for the same top layouts: the memory of the most loaded GPU
(weights, gradients, optimizer states, activations; stacked bars against the
accelerator's memory) and the estimated step time (compute, pipeline bubble, exposed
communication). The chosen layout is outlined. Bars are updated in place.

The mixtures of experts of ``tm.MOE_MODELS`` follow the dense presets in the model list.
For them :func:`trainmath.plan_layouts` also searches expert parallelism (every divisor of
the experts that divides ``dp x cp x tp``, experts whole on each GPU), which multiplies the
layouts about nine times; to keep an update as fast as a dense model's, the calculator
searches a mixture of experts over fewer choices (:data:`MOE_SEARCH`): ZeRO stages 1-3
(stage 0 is never faster nor smaller than stage 1 in the model), no or full recomputation
(with FlashAttention's modern layer selective recomputation frees next to nothing),
micro-batches of 1 or 2 sequences and interleaving 1, 4, 6 or 8, about a ninth of the
layouts. The fastest layout found can then be a few per cent slower than the library's
full search finds (``tm.plan_layouts`` without these arguments); the table shows each
layout's ep.

Every number comes from :mod:`trainmath` (``plan_layouts``, ``step_time``,
``memory_per_gpu``); this module only wires controls to them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import trainmath as tm
from trainmath import fmt
from trainmath.widgets._base import Calculator, accelerator_control, table_html

__all__ = ["PlannerCalculator", "PlannerResult", "TOP", "MOE_SEARCH", "layout_label"]

#: Layouts shown in the table and the plot.
TOP = 6
#: What the calculator enumerates for a mixture of experts (arguments of
#: :func:`trainmath.plan_layouts`; see the module docstring): about a ninth of the full
#: search, as many layouts as a dense model's.
MOE_SEARCH = {"zero_stages": (1, 2, 3), "recomputes": ("none", "full"),
              "micro_batches": (1, 2), "interleaves": (1, 4, 6, 8)}

_STYLE = {"description_width": "12em"}
_WIDE = W.Layout(width="28em")
_MEMORY_PARTS = (
    ("weights", "weights", "#4C72B0"),
    ("gradients", "gradients", "#55A868"),
    ("optimizer", "optimizer", "#C44E52"),
    ("gathered_weights", "gathered weights", "#8C8C8C"),
    ("activations", "activations", "#DD8452"),
    ("logits", "logits", "#DA8BC3"),
)
_TIME_PARTS = (
    ("compute_time", "compute", "#64B5CD"),
    ("bubble_time", "bubble", "#8172B3"),
    ("comm_time", "communication", "#937860"),
    ("optimizer_time", "optimizer step", "#CCB974"),
)
#: The efficiency box: the accelerator's measured large-GEMM rate, or a fraction of the peak.
_EFFICIENCIES = (("measured (MAMF)", "measured"),
                 *((f"{x:.2f}", x) for x in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)))
#: Recomputation in the plot's labels (Z3 = ZeRO stage 3).
_RECOMPUTE_SHORT = {"none": "no-rc", "selective": "sel-rc", "full": "full-rc"}
_TABLE_CSS = (
    "<style>.tm-plan table{border-collapse:collapse;margin:4px 0;font-size:90%}"
    ".tm-plan th,.tm-plan td{padding:1px 7px;text-align:right}"
    ".tm-plan th{border-bottom:1px solid #999}.tm-plan tr.pick td{font-weight:700;"
    "background:#fff3cd}</style>"
)


def layout_label(row: dict, *, moe: bool = False) -> str:
    """Short name of a layout: 'TP8·CP1·PP16·DP64' (and 'PP16×v2' when interleaved; with
    ``moe``, the expert parallelism too: 'TP1·CP1·PP8·DP64 EP64')."""
    pp = f"PP{row['pp']}" + (f"×v{row['interleave']}" if row["interleave"] > 1 else "")
    label = f"TP{row['tp']}·CP{row['cp']}·{pp}·DP{row['dp']}"
    return f"{label} EP{row['ep']}" if moe else label


@dataclass(frozen=True)
class PlannerResult:
    """Everything one update of :class:`PlannerCalculator` computed (SI units).

    ``top`` holds up to :data:`TOP` rows (dicts from :meth:`trainmath.planner.Layouts.row`)
    of the fastest distinct fitting layouts, best first; ``chosen`` is the index into
    ``top`` of the layout whose breakdown is shown. ``n_experts`` is 0 for a dense model
    (then every row's ep is 1).
    """

    model: str
    accelerator: str
    n_gpus: int
    seq_len: int
    global_batch_tokens: int
    efficiency: float | str  # "measured": the accelerator's large-GEMM efficiency
    n_layouts: int
    n_fit: int
    memory_limit: float
    top: tuple[dict, ...]
    chosen: int
    n_experts: int = 0

    @property
    def layout(self) -> dict:
        """The chosen layout's row."""
        return self.top[self.chosen]

    @property
    def moe(self) -> bool:
        """Whether the model is a mixture of experts (the layouts then differ in ep)."""
        return self.n_experts > 0


def _sequences(n: int) -> str:
    return f"{n:,} sequence" if n == 1 else f"{n:,} sequences"


class PlannerCalculator(Calculator):
    """Parallel layouts that fit in memory, ranked by estimated step time (lesson 07).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.PlannerCalculator()
    >>> calc.set(model="llama-3.1-405b", n_gpus=8192, seq_len=8192,
    ...          global_batch_tokens=16 * 2**20)
    True
    >>> calc.last.n_fit > 0
    True
    """

    title = "Parallelism planner: 4D layouts that fit, ranked by estimated step time"
    figsize = (7.6, 3.3)

    def __init__(self) -> None:
        # the last plan and its inputs: changing only the rank shown does not plan again
        self._plan: tuple[tuple, tm.Layouts] | None = None
        super().__init__()

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        return {
            "model": W.Dropdown(
                options=[*tm.MODELS, *tm.MOE_MODELS], value="llama-3-70b",
                description="model", **common,
            ),
            "accelerator": accelerator_control("H100-SXM", options=tm.NODE_BUS_BANDWIDTH,
                                               **common),
            "n_gpus": W.IntText(value=256, description="number of GPUs", **common),
            "seq_len": W.IntText(value=8192, description="sequence length s", **common),
            "global_batch_tokens": W.IntText(
                value=4 * 2**20, description="tokens per step", **common
            ),
            "efficiency": W.Dropdown(
                options=_EFFICIENCIES, value="measured", description="matmul efficiency",
                **common,
            ),
            "rank": W.Dropdown(
                options=[(f"{i + 1}" + (" (best)" if i == 0 else ""), i) for i in range(TOP)],
                value=0, description="layout shown (rank)", **common,
            ),
        }

    # -- numbers ----------------------------------------------------------------------
    def compute(self, model, accelerator, n_gpus, seq_len, global_batch_tokens, efficiency,
                rank):
        key = (model, accelerator, n_gpus, seq_len, global_batch_tokens, efficiency)
        cfg = tm.get_model(model)
        if self._plan is not None and self._plan[0] == key:
            layouts = self._plan[1]
        else:
            layouts = tm.plan_layouts(
                cfg, accelerator, n_gpus, seq_len=seq_len,
                global_batch_tokens=global_batch_tokens,
                efficiency=None if efficiency == "measured" else efficiency,
                **(MOE_SEARCH if cfg.is_moe else {}),
            )
            self._plan = (key, layouts)
        acc = tm.get_accelerator(accelerator)
        if len(layouts) == 0:
            raise ValueError(
                f"n_gpus: no layout uses exactly {n_gpus:,} GPUs with "
                f"{global_batch_tokens // seq_len:,} sequences per step; try a power of two"
            )
        if layouts.n_fit == 0:
            need = float(np.min(layouts["total"]))
            raise ValueError(
                f"no layout fits: the smallest needs {fmt.bytes_(need)} per GPU, the "
                f"{acc.name} has {fmt.bytes_(acc.memory_bytes)}; add GPUs or shorten seq_len"
            )
        top = tuple(layouts.row(int(i)) for i in layouts.distinct(TOP))
        if rank >= len(top):
            raise ValueError(
                f"rank: only {len(top)} distinct layouts fit; pick a rank up to {len(top)}"
            )
        return PlannerResult(
            model=cfg.name, accelerator=acc.name, n_gpus=n_gpus,
            seq_len=seq_len, global_batch_tokens=global_batch_tokens, efficiency=efficiency,
            n_layouts=len(layouts), n_fit=layouts.n_fit, memory_limit=layouts.memory_limit,
            top=top, chosen=rank, n_experts=cfg.n_experts,
        )

    def render(self, out: PlannerResult) -> str:
        r = out.layout
        zero = f"ZeRO-{r['zero_stage']}" if r["zero_stage"] else "no ZeRO (plain DP)"
        sp = ", sequence parallel" if r["sequence_parallel"] else ""
        evaluated = f"{out.n_layouts:,} ({out.n_fit:,} fit in {fmt.bytes_(out.memory_limit)})"
        shown = f"{layout_label(r)} = {out.n_gpus:,} GPUs"
        if out.moe:
            evaluated += ("; for a mixture of experts: ZeRO 1-3, no or full recomputation, "
                          "micro-batches of 1-2, interleaving 1, 4, 6 or 8")
            shown += (f"; EP{r['ep']}: {out.n_experts // r['ep']} of the {out.n_experts} "
                      f"experts of each MoE layer per GPU, whole (etp = 1)")
        rows = [
            ("Layouts evaluated", evaluated),
            (f"Layout shown (rank {out.chosen + 1})", shown),
            ("Sharding and memory savers", f"{zero}, {r['recompute']} recomputation{sp}"),
            ("Micro-batches per DP replica and step",
             f"{r['n_microbatches']:,} × {_sequences(r['micro_batch'])}"),
            ("Memory of the most loaded GPU",
             f"{fmt.bytes_(r['total'])} = weights {fmt.bytes_(r['weights'])} + gradients "
             f"{fmt.bytes_(r['gradients'])} + optimizer {fmt.bytes_(r['optimizer'])} + "
             f"gathered weights {fmt.bytes_(r['gathered_weights'])} + activations "
             f"{fmt.bytes_(r['activations'])} + logits {fmt.bytes_(r['logits'])}"),
            ("Estimated step time",
             f"{fmt.duration(r['step_time'])} = compute {fmt.duration(r['compute_time'])} + "
             f"bubble {fmt.duration(r['bubble_time'])} + communication "
             f"{fmt.duration(r['comm_time'])}"
             + (f" (expert all-to-all {fmt.duration(r['ep_comm_time'])})" if out.moe else "")
             + f" + optimizer step {fmt.duration(r['optimizer_time'])}"),
            ("Implied MFU", fmt.percent(r["mfu"])),
        ]
        return table_html(rows) + self._top_table(out)

    @staticmethod
    def _top_table(out: PlannerResult) -> str:
        head = ("rank", "TP·CP·PP·DP", *(("EP",) if out.moe else ()), "ZeRO",
                "micro-batch × m", "recompute", "memory", "step", "MFU")
        body = []
        for i, r in enumerate(out.top):
            cells = (
                str(i + 1), layout_label(r), *((str(r["ep"]),) if out.moe else ()),
                str(r["zero_stage"]), f"{r['micro_batch']} × {r['n_microbatches']}",
                r["recompute"], fmt.bytes_(r["total"]), fmt.duration(r["step_time"]),
                fmt.percent(r["mfu"]),
            )
            tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            pick = " class='pick'" if i == out.chosen else ""
            body.append(f"<tr{pick}>{tds}</tr>")
        ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        return (f"{_TABLE_CSS}<div class='tm-plan'><table><tr>{ths}</tr>{''.join(body)}"
                "</table></div>")

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        # Fixed margins instead of constrained layout: a third of the update time saved.
        fig.set_layout_engine(None)
        fig.subplots_adjust(left=0.26, right=0.985, top=0.9, bottom=0.3, wspace=0.06)
        ax_mem, ax_time = fig.subplots(1, 2, sharey=True)
        y = np.arange(TOP)
        self._mem_bars = {
            key: ax_mem.barh(y, np.zeros(TOP), color=color, label=label, height=0.7)
            for key, label, color in _MEMORY_PARTS
        }
        self._time_bars = {
            key: ax_time.barh(y, np.zeros(TOP), color=color, label=label, height=0.7)
            for key, label, color in _TIME_PARTS
        }
        self._limit = ax_mem.axvline(0, color="k", ls="--", lw=1)
        self._limit_text = ax_mem.text(0, 1.0, "", transform=ax_mem.get_xaxis_transform(),
                                       ha="right", va="bottom", fontsize=7)
        self._outline = [
            ax.barh([0], [0], height=0.86, fill=False, edgecolor="k", lw=1.5)[0]
            for ax in (ax_mem, ax_time)
        ]
        ax_mem.set_yticks(y)
        ax_mem.invert_yaxis()
        ax_mem.set_xlabel("memory of the most loaded GPU (GB)", fontsize=8)
        ax_time.set_xlabel("estimated step time (s)", fontsize=8)
        for ax in (ax_mem, ax_time):
            ax.xaxis.set_major_locator(MaxNLocator(4))  # fewer labels to draw: faster
            ax.tick_params(labelsize=7)
            ax.grid(axis="x", alpha=0.3)
        handles = [b[0] for b in self._mem_bars.values()] + [
            b[0] for b in self._time_bars.values()]
        labels = [label for _, label, _ in _MEMORY_PARTS + _TIME_PARTS]
        self.freeze(fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=7,
                               frameon=False, handlelength=1.2, columnspacing=1.0))
        self._axes = (ax_mem, ax_time)
        self._label_size = 7  # of the layouts' names
        self._title = fig.suptitle("", fontsize=9)

    def draw(self, out: PlannerResult) -> None:
        ax_mem, ax_time = self._axes
        n = len(out.top)
        for bars, parts, scale in ((self._mem_bars, _MEMORY_PARTS, 1e-9),
                                   (self._time_bars, _TIME_PARTS, 1.0)):
            left = np.zeros(TOP)
            for key, _, _ in parts:
                width = np.zeros(TOP)
                width[:n] = [r[key] * scale for r in out.top]
                for rect, x0, w in zip(bars[key], left, width, strict=True):
                    rect.set_x(x0)
                    rect.set_width(w)
                left += width
            if bars is self._mem_bars:
                mem_right = left
            else:
                time_right = left
        limit = out.memory_limit * 1e-9
        self._limit.set_xdata([limit, limit])
        self._limit_text.set_x(limit)
        self._limit_text.set_text(f"{out.accelerator}: {limit:.0f} GB ")
        for rect, right in zip(self._outline, (mem_right, time_right), strict=True):
            rect.set_y(out.chosen - 0.43)
            rect.set_width(right[out.chosen])
        # short labels: drawing text is most of the update time (the table has the details);
        # a mixture of experts' labels name the ep too, a little smaller to fit the margin
        size = 6.5 if out.moe else 7
        if size != self._label_size:
            ax_mem.tick_params(axis="y", labelsize=size)
            self._label_size = size
        ax_mem.set_yticklabels(
            [f"{layout_label(r, moe=out.moe)} Z{r['zero_stage']} "
             f"{_RECOMPUTE_SHORT[r['recompute']]}" for r in out.top] + [""] * (TOP - n)
        )
        ax_mem.set_xlim(0, max(limit, mem_right.max()) * 1.08)
        ax_time.set_xlim(0, time_right[:n].max() * 1.12)
        self._title.set_text(
            f"{out.model}, {out.n_gpus:,} × {out.accelerator}, s = {out.seq_len:,}, "
            f"{fmt.count(out.global_batch_tokens)} tokens/step (rank {out.chosen + 1} outlined)"
        )
