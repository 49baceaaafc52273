"""Lesson 02 calculator: one amount of compute in FLOPs, PFLOP/s-days, GPU-hours and money.

``tm.widgets.UnitsCalculator()`` takes an amount in any of :data:`trainmath.COMPUTE_UNITS`
(FLOP, PFLOP/s-day, GPU-hour, USD), an accelerator, a dtype, the utilisation achieved and a
price per GPU-hour, and shows the same amount in every unit. The plot shows how many
GPU-hours that amount of compute takes against utilisation, one line per accelerator (same
dtype), with a cost axis on the right: the picture of why a GPU-hour means nothing until
you say which GPU, in which dtype, at what utilisation.

Every number comes from :mod:`trainmath` (``convert_compute``, ``to_flops``, ``gpu_hours``,
...); this module only wires controls to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

import trainmath as tm
from trainmath import fmt
from trainmath.widgets._base import Calculator, accelerator_control, mfu_slider, table_html

__all__ = ["UnitsCalculator", "UnitsResult"]

#: Dtypes offered; an accelerator without a peak for the chosen one gives a message.
DTYPES = ("bf16", "fp16", "fp8", "tf32", "fp32")

_STYLE = {"description_width": "12em"}
_WIDE = W.Layout(width="27em")
_U = np.linspace(0.05, 1.0, 60)  # utilisation grid of the plot


@dataclass(frozen=True)
class UnitsResult:
    """Everything one update of :class:`UnitsCalculator` computed (SI units, price currency)."""

    value: float
    unit: str
    accelerator: str
    dtype: str
    peak_flops: float  # dense peak of one accelerator in ``dtype``
    mfu: float
    price: float  # per GPU-hour
    flops: float
    pflop_days: float
    gpu_hours: float
    cost: float
    flops_per_gpu_hour: float  # what one GPU-hour delivers at this peak and utilisation
    flops_per_usd: float


def _number(x: float) -> str:
    """A plain amount: 3,640 or 0.0065 or 1.2e+07 (no unit)."""
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    return f"{x:.3g}"


class UnitsCalculator(Calculator):
    """Convert compute between FLOP, PFLOP/s-day, GPU-hour and USD (lesson 02).

    The default is GPT-3 175B's training compute (Brown et al. 2020, Table D.1: 3.14e23
    FLOPs) on V100s in fp16 at the 21.3 % MFU that PaLM (Chowdhery et al. 2022, Table 3)
    estimates for GPT-3; the price per GPU-hour is yours to set.

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.UnitsCalculator()
    >>> calc.set(value=1, unit="PFLOP/s-day")
    True
    >>> calc.last.flops
    8.64e+19
    """

    title = "Units calculator: FLOP ↔ PFLOP/s-day ↔ GPU-hours ↔ cost"
    figsize = (6.4, 4.0)

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        return {
            "value": W.FloatText(value=3.14e23, description="amount", **common),
            "unit": W.Dropdown(
                options=tm.COMPUTE_UNITS, value="FLOP", description="unit of the amount",
                **common,
            ),
            "accelerator": accelerator_control("V100", **common),
            "dtype": W.Dropdown(options=DTYPES, value="fp16", description="dtype", **common),
            "mfu": mfu_slider(0.213, minimum=0.01, step=0.001, readout_format=".3f",
                              description="utilisation (MFU)", **common),
            "price": W.FloatText(
                value=2.0, description="price per GPU-hour (USD)", **common
            ),
        }

    # -- numbers ----------------------------------------------------------------------
    def compute(self, value, unit, accelerator, dtype, mfu, price) -> UnitsResult:
        acc = tm.get_accelerator(accelerator)
        peak = acc.peak(dtype)  # ValueError naming the dtypes it has: a message
        if value == 0:
            raise ValueError("value (the amount to convert) must be > 0, got 0")
        args = {"peak_flops": peak, "mfu": mfu, "price_per_gpu_hour": price}
        # One USD's worth of compute validates the price (> 0) for every direction.
        flops_per_usd = tm.to_flops(1.0, "USD", **args)
        flops = tm.to_flops(value, unit, **args)
        return UnitsResult(
            value=float(value), unit=unit, accelerator=acc.name, dtype=dtype,
            peak_flops=peak, mfu=mfu, price=price, flops=flops,
            pflop_days=tm.from_flops(flops, "PFLOP/s-day"),
            gpu_hours=tm.from_flops(flops, "GPU-hour", **args),
            cost=tm.from_flops(flops, "USD", **args),
            flops_per_gpu_hour=tm.to_flops(1.0, "GPU-hour", **args),
            flops_per_usd=flops_per_usd,
        )

    def render(self, out: UnitsResult) -> str:
        hour = out.flops_per_gpu_hour
        price = f"${fmt.si(out.price)}"  # fmt.money rounds to whole dollars
        amount = {
            "FLOP": fmt.flops(out.value),
            "PFLOP/s-day": f"{_number(out.value)} PFLOP/s-days",
            "GPU-hour": f"{fmt.count(out.value)} GPU-hours",
            "USD": fmt.money(out.value),
        }[out.unit]
        rows = [
            ("Amount", amount),
            ("FLOPs (a count)", fmt.flops(out.flops)),
            ("PFLOP/s-days (1 = 8.64e19 FLOPs)", f"{_number(out.pflop_days)} PFLOP/s-days"),
            (
                f"GPU-hours on {out.accelerator}, {out.dtype}",
                f"{fmt.count(out.gpu_hours)} GPU-hours "
                f"(one GPU alone: {fmt.duration(out.gpu_hours * tm.SECONDS_PER_HOUR)})",
            ),
            (f"Cost at {price} per GPU-hour", fmt.money(out.cost)),
            (
                "Dense peak × utilisation",
                f"{fmt.flop_rate(out.peak_flops)} × {out.mfu:.3f} = "
                f"{fmt.flop_rate(tm.delivered_flop_rate(1, out.peak_flops, out.mfu))} per GPU",
            ),
            (
                "One GPU-hour here is",
                f"{fmt.flops(hour)} = {tm.to_pflop_days(hour):.3g} PFLOP/s-days",
            ),
            ("One USD buys", fmt.flops(out.flops_per_usd)),
        ]
        return table_html(rows)

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        # Fixed margins instead of the constrained layout, and no minor log ticks: together
        # they halve the time of one update (the layout pass re-measures every tick label).
        fig.set_layout_engine("none")
        ax = fig.add_axes((0.12, 0.35, 0.73, 0.58))
        ax.set_yscale("log")
        ax.set_xlim(0, 1.0)
        ax.set_xlabel("utilisation achieved (MFU)")
        ax.set_ylabel("GPU-hours")
        ax.grid(True, which="major", alpha=0.3)
        # One line per distinct peak in the chosen dtype (accelerators that share a peak,
        # such as H100, H800 and H200, share a line and a legend entry), plus a last legend
        # entry naming those without a peak in that dtype. Slots are made once, for the
        # most lines any dtype can need, and filled by draw().
        slots = len(tm.ACCELERATORS)
        self._lines = [
            ax.plot([], [], lw=1.3, color=f"C{i % 10}", label=" ")[0] for i in range(slots)
        ]
        (self._absent,) = ax.plot([], [], lw=0)
        (self._marker,) = ax.plot([], [], "o", color="black", zorder=4)
        self._note = ax.annotate(
            "", (0, 0), xytext=(6, 6), textcoords="offset points", fontsize=8
        )
        self._price = 1.0
        self._cost_axis = ax.secondary_yaxis(
            "right", functions=(lambda h: h * self._price, lambda c: c / self._price)
        )
        self._cost_axis.set_ylabel("cost (USD)")
        ax.yaxis.set_minor_locator(NullLocator())
        self._cost_axis.yaxis.set_minor_locator(NullLocator())
        self._title = ax.set_title("", fontsize=9)
        self._ax = ax

    def draw(self, out: UnitsResult) -> None:
        groups: dict[float, list[str]] = {}
        absent = []
        for name, acc in tm.ACCELERATORS.items():
            if out.dtype in acc.peak_flops:
                groups.setdefault(acc.peak(out.dtype), []).append(name)
            else:
                absent.append(name)
        hours_all = []
        shown, labels = [], []
        for i, line in enumerate(self._lines):
            if i >= len(groups):
                line.set_visible(False)
                continue
            peak, names = list(groups.items())[i]
            hours = tm.gpu_hours(out.flops, peak, _U)
            hours_all.append(hours)
            line.set_data(_U, hours)
            line.set_visible(True)
            line.set_linewidth(2.8 if out.accelerator in names else 1.3)
            shown.append(line)
            labels.append(f"{', '.join(names)} ({fmt.flop_rate(peak)})")
        if absent:
            shown.append(self._absent)
            labels.append(f"no {out.dtype} peak: {', '.join(absent)}")
        # Rebuilt with the entries this dtype needs (a fixed legend would keep empty rows),
        # below the axes: inside, it would cover curves.
        legend = self._ax.legend(shown, labels, loc="upper center", fontsize=7, ncol=2,
                                 handlelength=1.8, frameon=False,
                                 bbox_to_anchor=(0.5, -0.17))
        self._legend_texts = legend.get_texts()
        self._marker.set_data([out.mfu], [out.gpu_hours])
        self._note.xy = (out.mfu, out.gpu_hours)
        self._note.set_text(
            f"{fmt.count(out.gpu_hours)} GPU-hours\n{fmt.money(out.cost)}"
        )
        self._price = out.price
        low = min(h[-1] for h in hours_all)
        high = max(h[0] for h in hours_all)
        self._ax.set_ylim(low / 3, high * 3)
        self._title.set_text(
            f"{fmt.flops(out.flops)} ({_number(out.pflop_days)} PFLOP/s-days) in "
            f"{out.dtype}, dense peaks"
        )
