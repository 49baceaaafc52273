"""Lesson 08 calculator: one matmul on one accelerator, by the roofline.

``tm.widgets.ThroughputCalculator()`` takes the shape of a matmul (m x k)(k x n), an
accelerator and a dtype (the inputs', the output's and the peak's; the choices are the
dtypes the accelerator has a dense peak for). It shows the FLOPs (2mkn), the least bytes
the matmul must move, its arithmetic intensity, the accelerator's ridge point, whether the
matmul is memory or compute bound, the roofline time (a lower bound) and the attainable
FLOP/s (an upper bound) with its share of the dense peak (Williams, Waterman & Patterson
2009). The plot is the accelerator's roofline (log-log), the matmul as a point on it, and
the "ramp": the same k and n with m from 1 to 16384 rows, memory bound for small m.

Every number comes from :mod:`trainmath` (``matmul_flops``, ``matmul_bytes``,
``matmul_intensity``, ``ridge_point``, ``roofline_time``, ``attainable_flops``, ``bound``,
``compute_bound_rows``,
``share_of_peak``; ``Accelerator.peak``); this module only wires controls to them.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

import trainmath as tm
from trainmath import fmt
from trainmath.widgets._base import (
    INPUT_ERRORS,
    Calculator,
    accelerator_control,
    error_html,
    table_html,
)

__all__ = ["ThroughputCalculator", "ThroughputResult", "RAMP_M", "dtypes_of"]

_STYLE = {"description_width": "13em"}
_WIDE = W.Layout(width="27em")
#: Rows m of the ramp: the same k and n, m from 1 to 16384 (powers of two).
RAMP_M = 2 ** np.arange(15)
#: Ramp points labelled on the plot (larger m crowd together where the ramp flattens).
_RAMP_LABELS = (1, 32, 1024)
#: Intensities (FLOP/B) the plot always covers (widened to include the matmul).
_X_RANGE = (0.1, 1e4)
#: The course's order of dtypes: the families of ``tm.FORMATS`` (fp32, tf32, fp16, bf16,
#: fp8, fp6, fp4, ...), the way lesson 04 lists them.
_FAMILIES = tuple(dict.fromkeys(name.split("_")[0] for name in tm.FORMATS))
#: What a change of accelerator falls back to when the chosen dtype has no peak there:
#: the 16-bit training dtype (bf16, or fp16 on a device without bf16 such as the V100).
_FALLBACK = ("bf16", "fp16")


def dtypes_of(accelerator: str | tm.Accelerator) -> tuple[str, ...]:
    """The dtypes ``accelerator`` has a dense peak for, in the course's order of formats.

    >>> dtypes_of("A100-80GB")
    ('fp32', 'tf32', 'fp16', 'bf16')
    >>> dtypes_of("B200")
    ('fp32', 'tf32', 'fp16', 'bf16', 'fp8', 'fp6', 'fp4')
    """
    peaks = tm.get_accelerator(accelerator).peak_flops
    return (*(d for d in _FAMILIES if d in peaks), *(d for d in peaks if d not in _FAMILIES))


@dataclass(frozen=True)
class ThroughputResult:
    """Everything one update of :class:`ThroughputCalculator` computed (SI units).

    ``dtype`` is the dtype shown; ``requested`` the one last picked, which differs when the
    accelerator has no peak for it (the calculator then shows the 16-bit one).
    """

    m: int
    k: int
    n: int
    accelerator: str
    dtype: str
    requested: str
    dtypes: tuple[str, ...]  # those the accelerator has a dense peak for
    bytes_per_value: float
    peak_flops: float  # dense, in dtype
    bandwidth: float  # bytes/s
    flops: float  # 2mkn
    bytes_moved: float  # A and B read once, C written once
    intensity: float  # FLOP/B
    ridge: float  # FLOP/B
    bound: str  # "memory" or "compute"
    compute_bound_rows: float  # the m from which this k x n is compute bound (inf: never)
    seconds: float  # roofline time: a lower bound
    attainable: float  # FLOP/s: an upper bound
    share: float  # attainable / dense peak
    roof_intensity: np.ndarray  # x of the roofline
    roof_flops: np.ndarray
    ramp_m: np.ndarray
    ramp_intensity: np.ndarray
    ramp_flops: np.ndarray


class ThroughputCalculator(Calculator):
    """One matmul on one accelerator by the roofline: FLOPs, bytes, intensity, time (lesson 08).

    The dtype dropdown follows the accelerator: it offers the dtypes the accelerator has a
    dense peak for. A change to an accelerator without the chosen dtype shows the 16-bit one
    (bf16, or fp16) and says so; the chosen dtype comes back with an accelerator that has it.

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.ThroughputCalculator()
    >>> calc.set(m=32, dtype="fp16")  # seed 002's small batch against the MLP weight
    True
    >>> calc.last.bound, round(calc.last.intensity, 1), round(calc.last.attainable / 1e12, 1)
    ('memory', 31.2, 63.7)

    Source: the roofline model (Williams, Waterman & Patterson 2009, Commun. ACM 52(4));
    the matmul's FLOPs and traffic as in NVIDIA's "Matrix Multiplication Background User's
    Guide" (:func:`trainmath.matmul_bytes`).
    """

    title = ("Throughput calculator: one matmul on the roofline, "
             "time ≥ max(FLOPs / peak, bytes / bandwidth)")
    figsize = (6.4, 3.8)

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        self._syncing = False  # True while the dtype choices follow the accelerator
        self._wanted = "bf16"  # the dtype last picked (shown whenever the device has it)
        accelerator = accelerator_control("A100-80GB", **common)
        dtype = W.Dropdown(options=dtypes_of(accelerator.value), value=self._wanted,
                           description="dtype (A, B, C, peak)", **common)
        # Registered before the base class's observers, so they run first.
        accelerator.observe(self._follow_accelerator, names="value")
        dtype.observe(self._remember_dtype, names="value")
        return {
            "m": W.IntText(value=8192, description="m (rows of A: tokens)", **common),
            "k": W.IntText(value=1600, description="k (shared dimension)", **common),
            "n": W.IntText(value=6400, description="n (columns of B)", **common),
            "accelerator": accelerator,
            "dtype": dtype,
        }

    def _follow_accelerator(self, change: dict) -> None:
        """Offer the new accelerator's dtypes; keep the picked one where it has a peak."""
        choices = dtypes_of(change["new"])
        control = self.inputs["dtype"]
        fallback = next((d for d in _FALLBACK if d in choices), choices[0])
        value = self._wanted if self._wanted in choices else fallback
        self._syncing = True
        try:
            if tuple(control.options) != choices:
                control.options = choices  # resets the value to the first entry
            control.value = value
        finally:
            self._syncing = False

    def _remember_dtype(self, change: dict) -> None:
        if not self._syncing:
            self._wanted = change["new"]

    def _on_change(self, change: dict) -> None:
        if not self._syncing:  # the accelerator's own change updates once for both
            super()._on_change(change)

    def set(self, **values: Any) -> bool:
        """Change controls programmatically (one update at the end); returns update().

        The accelerator is set first (the dtype choices follow it). A value no control can
        hold is refused with the library's message, as a bad number is: a dtype the
        accelerator has no peak for, an unknown accelerator, an m, k or n that is not a
        whole number.
        """
        values = dict(sorted(values.items(), key=lambda item: item[0] != "accelerator"))
        try:
            self._check(values)
        except INPUT_ERRORS as exc:
            self.message.value = error_html(exc)
            return False
        if "dtype" in values:
            self._wanted = values["dtype"]  # asked for, even if already shown
        return super().set(**values)

    def _check(self, values: dict[str, Any]) -> None:
        """Raise the library's error for a value the controls cannot hold."""
        shape = {name: values.get(name, self.inputs[name].value) for name in "mkn"}
        if any(not isinstance(x, numbers.Integral) or isinstance(x, bool)
               for x in shape.values()):
            tm.matmul_flops(**shape)  # "m must be a whole number >= 1, got 1.5"
        accelerator = values.get("accelerator", self.inputs["accelerator"].value)
        if "accelerator" in values or "dtype" in values:
            acc = tm.get_accelerator(accelerator)  # "unknown accelerator ..., valid names"
            if "dtype" in values:
                acc.peak(values["dtype"])  # "dtype ... not available on ... (it has ...)"

    # -- numbers ----------------------------------------------------------------------
    def compute(self, m, k, n, accelerator, dtype) -> ThroughputResult:
        acc = tm.get_accelerator(accelerator)
        peak = acc.peak(dtype)
        flops = tm.matmul_flops(m, k, n)  # validates m, k, n
        bytes_moved = tm.matmul_bytes(m, k, n, dtype)
        intensity = tm.matmul_intensity(m, k, n, dtype)
        ridge = tm.ridge_point(acc, dtype)
        attainable = tm.attainable_flops(intensity, acc, dtype)
        ramp_intensity = tm.matmul_intensity(RAMP_M, k, n, dtype)
        lo = min(_X_RANGE[0], ramp_intensity.min() / 2, intensity / 2)
        hi = max(_X_RANGE[1], ramp_intensity.max() * 3, intensity * 3, ridge * 3)
        # The roofline is two straight lines on log-log axes: its ends and the ridge.
        roof_intensity = np.array([lo, ridge, hi])
        return ThroughputResult(
            m=m, k=k, n=n, accelerator=acc.name, dtype=dtype, requested=self._wanted,
            dtypes=dtypes_of(acc), bytes_per_value=tm.bytes_per_param(dtype),
            peak_flops=peak, bandwidth=acc.bandwidth, flops=flops, bytes_moved=bytes_moved,
            intensity=intensity, ridge=ridge, bound=tm.bound(intensity, acc, dtype),
            compute_bound_rows=tm.compute_bound_rows(k, n, acc, dtype),
            seconds=tm.roofline_time(flops, bytes_moved, acc, dtype),
            attainable=attainable, share=tm.share_of_peak(attainable, peak),
            roof_intensity=roof_intensity,
            roof_flops=tm.attainable_flops(roof_intensity, acc, dtype),
            ramp_m=RAMP_M, ramp_intensity=ramp_intensity,
            ramp_flops=tm.attainable_flops(ramp_intensity, acc, dtype),
        )

    def render(self, out: ThroughputResult) -> str:
        device = f"{out.accelerator}, {out.dtype} (dense peaks for {', '.join(out.dtypes)})"
        if out.requested != out.dtype:
            device += f"; the {out.accelerator} has no {out.requested} peak, so {out.dtype}"
        if out.bound == "memory":
            verdict = "memory bound: below the ridge point, bandwidth limits it"
        else:
            verdict = "compute bound: at or above the ridge point, the peak limits it"
        rows = [
            ("Matmul (m × k)(k × n)",
             f"({out.m:,} × {out.k:,})({out.k:,} × {out.n:,}), "
             f"{out.bytes_per_value:g} B per value"),
            ("Accelerator", device),
            ("FLOPs 2mkn", fmt.flops(out.flops)),
            ("Least bytes moved (read A and B, write C, once each)", fmt.bytes_(out.bytes_moved)),
            ("Arithmetic intensity (FLOPs / bytes)", _per_byte(out.intensity)),
            (f"Ridge point of the {out.accelerator} in {out.dtype} (peak / bandwidth)",
             f"{_per_byte(out.ridge)} ({fmt.flop_rate(out.peak_flops)} / "
             f"{fmt.si(out.bandwidth, 'B/s')})"),
            ("Bound", verdict),
            (f"Rows m from which a {out.k:,} × {out.n:,} weight is compute bound",
             f"m ≥ {out.compute_bound_rows:,.1f}" if np.isfinite(out.compute_bound_rows)
             else "never: the weight is too small for the ridge point"),
            ("Roofline time (a lower bound)", fmt.si(out.seconds, "s")),
            ("Attainable throughput (an upper bound)",
             f"{fmt.flop_rate(out.attainable)} = {fmt.percent(out.share)} of the dense "
             f"{out.dtype} peak"),
        ]
        note = ("<div>Real kernels fall below this bound, most for small shapes: kernel "
                "launch time, too few thread blocks to fill every SM, tiles padded past a "
                "small m.</div>")
        return table_html(rows) + note

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        # Fixed margins, wide enough for every tick label ("0.01" to "10000"): the layout
        # solved on the first draw would clip a wider label after a change of accelerator.
        fig.set_layout_engine("none")
        grid = fig.add_gridspec(1, 1, left=0.13, right=0.96, bottom=0.13, top=0.92)
        ax = fig.add_subplot(grid[0, 0])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("arithmetic intensity (FLOP/B)    [roofline: Williams et al. 2009]")
        ax.set_ylabel("attainable TFLOP/s")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(LogLocator(base=10, numticks=12))
            axis.set_minor_locator(NullLocator())  # minor log ticks cost time, add nothing
            axis.set_major_formatter(FuncFormatter(_tick))
        ax.grid(True, which="major", alpha=0.3)
        (self._roof,) = ax.plot([], [], color="C0", lw=2, label="roofline")
        self._ridge_line = ax.axvline(1.0, color="0.4", ls=":", lw=1)
        (self._ridge,) = ax.plot([], [], "D", color="C0", ms=5, label="ridge point")
        (self._ramp,) = ax.plot([], [], "o-", color="C1", ms=3, lw=1, alpha=0.9,
                                label="m = 1 … 16384 (k, n fixed)")
        (self._marker,) = ax.plot([], [], "o", color="k", ms=7, zorder=4, label="your matmul")
        self._ramp_text = {
            m: ax.annotate(f"m={m}", (1, 1), xytext=(3, -11), textcoords="offset points",
                           fontsize=7, color="C1")
            for m in _RAMP_LABELS
        }
        # above-left of the ridge point: over the sloped part, where nothing is drawn
        self._ridge_text = ax.annotate("", (1, 1), xytext=(-5, 5), textcoords="offset points",
                                       fontsize=7, color="0.3", ha="right", va="bottom")
        ax.legend(loc="lower right", fontsize=7.5)
        self._title = ax.set_title("", fontsize=9)
        self._ax = ax

    def draw(self, out: ThroughputResult) -> None:
        tera = 1e12
        self._roof.set_data(out.roof_intensity, out.roof_flops / tera)
        self._ridge_line.set_xdata([out.ridge, out.ridge])
        self._ridge.set_data([out.ridge], [out.peak_flops / tera])
        self._ridge_text.xy = (out.ridge, out.peak_flops / tera)
        self._ridge_text.set_text(f"ridge {_per_byte(out.ridge)}")
        self._ramp.set_data(out.ramp_intensity, out.ramp_flops / tera)
        for m, text in self._ramp_text.items():
            i = int(np.flatnonzero(out.ramp_m == m)[0])
            text.xy = (out.ramp_intensity[i], out.ramp_flops[i] / tera)
        self._marker.set_data([out.intensity], [out.attainable / tera])
        self._title.set_text(
            f"{out.m:,} × {out.k:,} × {out.n:,} in {out.dtype} on the {out.accelerator}: "
            f"{out.bound} bound, {fmt.flop_rate(out.attainable)} at most"
        )
        self._ax.set_xlim(out.roof_intensity[0], out.roof_intensity[-1])
        self._ax.set_ylim(out.roof_flops[0] / tera / 2, out.peak_flops / tera * 4)


def _tick(x: float, _pos) -> str:
    """A log-axis label: 0.1, 1, 10, 1000, 10000, then 1e5."""
    return f"{x:g}" if x < 1e5 else f"1e{np.log10(x):.0f}"


def _per_byte(x: float) -> str:
    """An intensity: '31.2 FLOP/B', '1,107 FLOP/B'."""
    return f"{x:,.0f} FLOP/B" if x >= 100 else f"{x:.3g} FLOP/B"
