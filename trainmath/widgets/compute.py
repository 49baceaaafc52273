"""Lesson 01 calculator: training compute, wall-clock time and GPU-hours of a run.

``tm.widgets.ComputeCalculator()`` takes a model (a preset or a custom parameter count),
a number of training tokens, an accelerator, a dtype, a GPU count, an MFU and a sequence
length, and shows C = 6ND, C with the attention term, PFLOP/s-days, days of wall clock,
GPU-hours and the cluster's throughput. The plot shows training days against the number
of GPUs (log-log) at the chosen MFU and at peak, with the current choice marked.

Every number comes from :mod:`trainmath` (``training_flops``, ``flops_per_token``,
``delivered_flop_rate``, ``training_time``, ``gpu_hours``, ...); this module only wires
controls to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

import trainmath as tm
from trainmath import fmt
from trainmath.widgets._base import Calculator, accelerator_control, mfu_slider, table_html

__all__ = ["ComputeCalculator", "ComputeResult", "CUSTOM"]

#: Dropdown entry that switches the model to the parameter-count box.
CUSTOM = "custom (enter N)"
#: Dtypes offered; an accelerator without a peak for the chosen one gives a message.
DTYPES = ("bf16", "fp16", "fp8", "tf32", "fp32")

_STYLE = {"description_width": "11em"}
_WIDE = W.Layout(width="26em")


@dataclass(frozen=True)
class ComputeResult:
    """Everything one update of :class:`ComputeCalculator` computed (SI units).

    ``flops_attention``, ``attention_share`` and ``seq_len`` are None for a custom model,
    whose shape (layers, heads) is unknown; the time then rests on C = 6ND alone.
    """

    name: str
    n_params: float
    n_matmul: float | None
    n_tokens: float
    flops_6nd: float
    flops_attention: float | None
    attention_share: float | None
    seq_len: float | None
    accelerator: str
    dtype: str
    peak_flops: float
    n_gpus: int
    mfu: float
    flops_used: float  # the count the time is based on (with attention when known)
    seconds: float
    gpu_hours: float
    flops_per_gpu: float  # delivered per GPU, peak * MFU
    cluster_flops: float  # tau = n_gpus * peak * MFU


def _pf_days(flops: float) -> str:
    pf_days = tm.to_pflop_days(flops)
    return f"{pf_days:,.0f} PFLOP/s-days" if pf_days >= 100 else f"{pf_days:.3g} PFLOP/s-days"


class ComputeCalculator(Calculator):
    """Training compute and time of a run on a cluster (lesson 01).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.ComputeCalculator()
    >>> calc.set(model="llama-3-8b", tokens=15e12, accelerator="H100-SXM", n_gpus=1024)
    True
    >>> round(calc.last.seconds / tm.SECONDS_PER_DAY)
    21
    """

    title = "Compute calculator: C = 6ND, time = C / (n_gpus × peak × MFU)"
    figsize = (6.4, 3.6)

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        return {
            "model": W.Dropdown(
                options=[*tm.MODELS, CUSTOM], value="gpt3-175b", description="model", **common
            ),
            "n_params": W.FloatText(
                value=175e9, description="N params (custom)", **common
            ),
            "tokens": W.FloatText(value=300e9, description="training tokens D", **common),
            "accelerator": accelerator_control("A100-80GB", **common),
            "dtype": W.Dropdown(options=DTYPES, value="bf16", description="dtype", **common),
            "n_gpus": W.IntText(value=1024, description="number of GPUs", **common),
            "mfu": mfu_slider(0.4, **common),
            "seq_len": W.IntText(
                value=2048, description="sequence length s (attention)", **common
            ),
        }

    def update(self) -> bool:
        # The parameter box only matters for a custom model; grey it out otherwise.
        self.inputs["n_params"].disabled = self.inputs["model"].value != CUSTOM
        return super().update()

    # -- numbers ----------------------------------------------------------------------
    def compute(self, model, n_params, tokens, accelerator, dtype, n_gpus, mfu, seq_len):
        acc = tm.get_accelerator(accelerator)
        peak = acc.peak(dtype)  # ValueError naming the dtypes it has: a message
        if model == CUSTOM:
            name, n, n_matmul = "custom model", n_params, None
            flops_6nd = tm.training_flops(n, tokens)
            flops_attention = share = s = None
            flops_used = flops_6nd
        else:
            cfg = tm.get_model(model)
            name, n, n_matmul = cfg.name, tm.param_count(cfg), tm.matmul_params(cfg)
            flops_6nd = tm.training_flops(n, tokens)
            s = seq_len
            flops_attention = tm.flops_per_token(cfg, s) * tokens
            share = tm.attention_flops_fraction(cfg, s)
            flops_used = flops_attention
        seconds = tm.training_time(flops_used, n_gpus, peak, mfu)
        return ComputeResult(
            name=name, n_params=n, n_matmul=n_matmul, n_tokens=tokens,
            flops_6nd=flops_6nd, flops_attention=flops_attention, attention_share=share,
            seq_len=s, accelerator=acc.name, dtype=dtype, peak_flops=peak, n_gpus=n_gpus,
            mfu=mfu, flops_used=flops_used, seconds=seconds,
            gpu_hours=tm.gpu_hours(flops_used, peak, mfu),
            flops_per_gpu=tm.delivered_flop_rate(1, peak, mfu),
            cluster_flops=tm.delivered_flop_rate(n_gpus, peak, mfu),
        )

    def render(self, out: ComputeResult) -> str:
        n_text = f"{fmt.count(out.n_params)} parameters"
        if out.n_matmul is not None:
            n_text += f" ({fmt.count(out.n_matmul)} in matmuls)"
        rows = [
            ("Model", f"{out.name}: {n_text}"),
            ("Training tokens D", fmt.count(out.n_tokens)),
            ("C = 6ND", f"{fmt.flops(out.flops_6nd)} = {_pf_days(out.flops_6nd)}"),
        ]
        if out.flops_attention is None:
            rows.append(("C with attention", "needs the model's shape (pick a preset)"))
        else:
            rows.append((
                f"C with attention (s = {out.seq_len:,.0f})",
                f"{fmt.flops(out.flops_attention)} = {_pf_days(out.flops_attention)} "
                f"(attention {fmt.percent(out.attention_share)})",
            ))
        days = out.seconds / tm.SECONDS_PER_DAY
        wall = fmt.duration(out.seconds)
        if not wall.endswith("days"):
            wall += f" ({days:.3g} days)"
        basis = "6ND" if out.flops_attention is None else "C with attention"
        rows += [
            (
                f"Peak of one {out.accelerator}, {out.dtype}",
                fmt.flop_rate(out.peak_flops),
            ),
            (
                f"Cluster throughput τ ({out.n_gpus:,} × peak × {out.mfu:.2f})",
                f"{fmt.flop_rate(out.cluster_flops)} ({fmt.flop_rate(out.flops_per_gpu)} per GPU)",
            ),
            (f"Wall clock ({basis})", wall),
            ("GPU-hours", f"{fmt.count(out.gpu_hours)} GPU-hours"),
        ]
        return table_html(rows)

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.minorticks_off()  # minor log ticks cost ~10 ms a redraw and add little here
        ax.set_xlabel("number of GPUs")
        ax.set_ylabel("training time (days)")
        ax.grid(True, which="major", alpha=0.3)
        for days, label in ((1, "1 day"), (30, "1 month"), (365, "1 year")):
            ax.axhline(days, color="0.55", lw=0.8, ls=":")
            ax.text(
                0.01, days, f" {label}", transform=ax.get_yaxis_transform(), va="bottom",
                fontsize=8, color="0.4", clip_on=True,
            )
        (self._line,) = ax.plot([], [], color="C0", label="at the chosen MFU")
        (self._bound,) = ax.plot([], [], color="C0", ls="--", alpha=0.5, label="at peak (MFU = 1)")
        (self._marker,) = ax.plot([], [], "o", color="C3", zorder=3, label="your choice")
        legend = ax.legend(loc="upper right", fontsize=8)
        self._note = legend.get_texts()[-1]  # "your choice: ..." is rewritten by draw()
        self._title = ax.set_title("", fontsize=10)
        self._ax = ax

    def draw(self, out: ComputeResult) -> None:
        x_max = max(1e5, 10.0 * out.n_gpus)
        n = np.unique(np.geomspace(1, x_max, 90).round().astype(np.int64))
        day = tm.SECONDS_PER_DAY
        days = tm.training_time(out.flops_used, n, out.peak_flops, out.mfu) / day
        bound = tm.training_time(out.flops_used, n, out.peak_flops, 1.0) / day
        here = out.seconds / day
        self._line.set_data(n, days)
        self._bound.set_data(n, bound)
        self._marker.set_data([out.n_gpus], [here])
        self._note.set_text(f"your choice: {out.n_gpus:,} GPUs, {fmt.duration(out.seconds)}")
        self._title.set_text(
            f"{out.name}, {fmt.count(out.n_tokens)} tokens on {out.accelerator} "
            f"({out.dtype}, MFU {out.mfu:.2f})"
        )
        self._ax.set_xlim(1, x_max)
        self._ax.set_ylim(bound[-1] / 2, days[0] * 2)
