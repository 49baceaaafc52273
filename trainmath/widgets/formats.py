"""Lesson 04 calculator and bit-field drawing: how each number format stores a number.

``tm.widgets.FormatsCalculator()`` takes a number (typed as text) and a model preset. It
shows, for fp32, fp16, bf16, fp8 E4M3, fp8 E5M2, int8 and int4, the bits the format
stores (sign | exponent | mantissa), the stored value, the relative error and what went
wrong (overflow, underflow, subnormal), plus the weight memory of the model in each
format. The plot draws the bits as coloured boxes and the weight memory as bars.

:func:`draw_bit_fields` is the plotting helper the lesson uses for its bit-layout figure.
Every number comes from :mod:`trainmath.formats` (``encode``, ``weight_memory``); this
module only draws and formats.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

import trainmath as tm
from trainmath import fmt
from trainmath.formats import FORMATS, Encoding, NumberFormat, bit_layout, encode, get_format
from trainmath.widgets._base import Calculator

__all__ = [
    "FormatsCalculator",
    "FormatsResult",
    "BitFields",
    "draw_bit_fields",
    "bit_field_legend",
    "FIELD_COLORS",
]

#: Colour of each bit field (a 1 bit is drawn in the full colour, a 0 bit in a pale tint).
FIELD_COLORS = {
    "sign": "#c0392b",
    "exponent": "#1f5f9e",
    "mantissa": "#1e8449",
    "integer": "#7d3c98",
}
_PALE = 0.22  # how much of the field colour a 0 bit keeps
_GPU = "H100-SXM"  # reference line on the memory chart


def _tint(color: str, amount: float) -> tuple[float, float, float, float]:
    r, g, b, _ = to_rgba(color)
    return (1 - amount * (1 - r), 1 - amount * (1 - g), 1 - amount * (1 - b), 1.0)


def _short(x: float) -> str:
    """A stored value to 10 significant digits (enough to see fp32's error); inf/NaN spelt out."""
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "-inf" if x < 0 else "inf"
    return f"{x:.10g}"


class BitFields:
    """One row of bit boxes for one format, drawn by :func:`draw_bit_fields`.

    Attributes
    ----------
    format : NumberFormat
    boxes : matplotlib.collections.PatchCollection
        One box per bit, most significant first, coloured by field.
    digits : list of matplotlib.text.Text
        The 0/1 written in each box (empty list without digits).
    label, value_text : matplotlib.text.Text
        The format name on the left and the stored value on the right.
    """

    def __init__(self, ax: Axes, fmt_: str | NumberFormat, *, y: float, digits: bool,
                 label: bool, fontsize: float) -> None:
        f = fmt_ if isinstance(fmt_, NumberFormat) else get_format(fmt_)
        self.format = f
        self.ax = ax
        colors = [FIELD_COLORS[name] for name, n in bit_layout(f) for _ in range(n)]
        self._full = np.array([to_rgba(c) for c in colors])
        self._pale = np.array([_tint(c, _PALE) for c in colors])
        self._mid = np.array([_tint(c, 0.55) for c in colors])
        rects = [Rectangle((i, y), 0.9, 0.8) for i in range(f.bits)]
        self.boxes = PatchCollection(rects, facecolors=self._mid, edgecolors="none")
        ax.add_collection(self.boxes)
        self.digits = []
        if digits:
            self.digits = [
                ax.text(i + 0.45, y + 0.4, "", ha="center", va="center", fontsize=fontsize,
                        family="monospace")
                for i in range(f.bits)
            ]
        self.label = ax.text(-0.6, y + 0.4, f.name if label else "", ha="right", va="center",
                             fontsize=fontsize + 1)
        self.value_text = ax.text(f.bits + 0.5, y + 0.4, "", ha="left", va="center",
                                  fontsize=fontsize + 1)

    def show(self, value: float | Encoding | None) -> Encoding | None:
        """Colour the boxes for ``value`` (None: field colours only) and write its stored value."""
        if value is None:
            self.boxes.set_facecolors(self._mid)
            for t in self.digits:
                t.set_text("")
            self.value_text.set_text("")
            return None
        enc = value if isinstance(value, Encoding) else encode(value, self.format)
        ones = np.array([b == "1" for b in enc.bits])
        self.boxes.set_facecolors(np.where(ones[:, None], self._full, self._pale))
        for t, b in zip(self.digits, enc.bits, strict=False):
            t.set_text(b)
            t.set_color("white" if b == "1" else "0.25")
        note = ""
        if enc.overflow:
            note = "  (overflow)"
        elif enc.underflow:
            note = "  (underflow)" if self.format.is_float else "  (rounds to 0)"
        elif enc.subnormal:
            note = "  (subnormal)"
        self.value_text.set_text(f"= {_short(enc.stored)}{note}")
        return enc


def draw_bit_fields(ax: Axes, fmt_: str | NumberFormat, value: float | None = None, *,
                    y: float = 0.0, digits: bool = True, label: bool = True,
                    fontsize: float = 7.0) -> BitFields:
    """Draw a format's bits as a row of coloured boxes: sign, exponent, mantissa.

    One box per bit, most significant on the left, one unit wide, at height ``y`` (so
    several formats can share an axis, one row each). With a ``value`` the boxes show
    the bits :func:`trainmath.formats.encode` gives (1 = full colour, 0 = pale), the
    digits, and the stored value on the right. The axis limits are left to the caller.

    Parameters
    ----------
    ax : matplotlib Axes
    fmt_ : str or NumberFormat
        A name of :data:`trainmath.FORMATS`.
    value : float, optional
    y : float
        Bottom of the row (rows are 0.8 high).
    digits, label : bool
        Write the 0/1 digits in the boxes; write the format name on the left.
    fontsize : float

    Returns
    -------
    BitFields
        The row's artists; ``.show(new_value)`` updates them in place.
    """
    row = BitFields(ax, fmt_, y=y, digits=digits, label=label, fontsize=fontsize)
    row.show(value)
    return row


def bit_field_legend(ax: Axes, **kwargs) -> None:
    """A legend naming the field colours (sign, exponent, mantissa, integer bits)."""
    handles = [
        Patch(color=FIELD_COLORS[k], label=text)
        for k, text in (("sign", "sign"), ("exponent", "exponent"), ("mantissa", "mantissa"),
                        ("integer", "integer (two's complement)"))
    ]
    ax.legend(handles=handles, **{"loc": "upper right", "fontsize": 8, "ncols": 4, **kwargs})


@dataclass(frozen=True)
class FormatsResult:
    """Everything one update of :class:`FormatsCalculator` computed.

    ``encodings`` and ``memory`` (bytes) follow the order of ``formats``.
    """

    value: float
    formats: tuple[str, ...]
    encodings: tuple[Encoding, ...]
    model: str
    n_params: int
    memory: tuple[float, ...]


_CSS = (
    "<style>.tm-fmt table{border-collapse:collapse;margin:4px 0;font-size:0.92em}"
    ".tm-fmt th{text-align:left;padding:2px 10px 2px 0;border-bottom:1px solid #ccc}"
    ".tm-fmt td{padding:2px 10px 2px 0}.tm-fmt td.v{text-align:right}"
    ".tm-fmt td.b{font-family:monospace}.tm-fmt .note{color:#b00020}</style>"
)


def _note(enc: Encoding, f: NumberFormat) -> str:
    if enc.overflow:
        if not f.is_float:
            return f"overflow: clamped to {f.max:.0f}" if enc.value > 0 else \
                f"overflow: clamped to {f.min:.0f}"
        return "overflow → NaN (E4M3 has no inf)" if not f.has_inf else "overflow → inf"
    if enc.underflow:
        return "underflow → 0" if f.is_float else "rounds to 0 (an integer needs a scale)"
    if enc.subnormal:
        return "subnormal (fewer bits of precision)"
    if enc.exact:
        return "exact"
    return "" if f.is_float else "rounded to an integer (no scale)"


class FormatsCalculator(Calculator):
    """How every format stores a number, and a model's weight memory per format (lesson 04).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.FormatsCalculator()
    >>> calc.set(value="65520", model="llama-3-70b")
    True
    >>> calc.last.encodings[1].stored   # fp16 overflows above 65504 + 16
    inf
    """

    title = "Number formats: how each format stores your number, and a model's weight memory"
    figsize = (8.8, 3.6)

    def controls(self) -> dict[str, W.Widget]:
        style = {"description_width": "7em"}
        return {
            "value": W.Text(value="0.1", description="number", continuous_update=False,
                            style=style, layout=W.Layout(width="22em"),
                            placeholder="e.g. 0.1, 65504, 1e-8, -3.7"),
            "model": W.Dropdown(options=list(tm.MODELS), value="llama-3-8b", description="model",
                                style=style, layout=W.Layout(width="22em")),
        }

    def compute(self, value, model) -> FormatsResult:
        x = tm.formats.parse_number(value, "value")
        cfg = tm.get_model(model)
        names = tuple(FORMATS)
        return FormatsResult(
            value=x, formats=names, encodings=tuple(encode(x, f) for f in names),
            model=cfg.name, n_params=tm.param_count(cfg),
            memory=tuple(tm.formats.weight_memory(cfg, f) for f in names),
        )

    def render(self, out: FormatsResult) -> str:
        head = (
            "<tr><th>format</th><th>bytes</th><th>bits (sign | exponent | mantissa)</th>"
            "<th>stored value</th><th>relative error</th><th></th>"
            f"<th>weights of {html.escape(out.model)}</th></tr>"
        )
        rows = []
        for name, enc, mem in zip(out.formats, out.encodings, out.memory, strict=True):
            f = FORMATS[name]
            # Relative errors span 1e-9 (fp32) to 1 (underflow): scientific notation reads best.
            err = f"{enc.rel_error:.3g}" if np.isfinite(enc.rel_error) else "—"
            rows.append(
                f"<tr><td>{name}</td><td class='v'>{f.bytes:g}</td>"
                f"<td class='b'>{enc.bits_text(' | ')}</td>"
                f"<td class='v'>{html.escape(repr(enc.stored))}</td><td class='v'>{err}</td>"
                f"<td class='note'>{html.escape(_note(enc, f))}</td>"
                f"<td class='v'>{fmt.bytes_(mem)}</td></tr>"
            )
        caption = (
            f"<div>Your number: <b>{html.escape(repr(out.value))}</b> (as float64). "
            f"{html.escape(out.model)}: {out.n_params:,} parameters. Integer rows store the "
            "nearest integer with no scale; real int8/int4 weights carry one (absmax).</div>"
        )
        return f"{_CSS}<div class='tm-fmt'>{caption}<table>{head}{''.join(rows)}</table></div>"

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        # Fixed margins: constrained layout would re-measure every text on every update.
        fig.set_layout_engine("none")
        ax_bits, ax_mem = fig.subplots(
            1, 2, width_ratios=[1.75, 1],
            gridspec_kw={"left": 0.0, "right": 0.985, "bottom": 0.17, "top": 0.9, "wspace": 0.12},
        )
        self._rows = []
        n = len(FORMATS)
        for i, name in enumerate(FORMATS):
            self._rows.append(draw_bit_fields(ax_bits, name, y=n - 1 - i, digits=False,
                                              fontsize=7.5))
        ax_bits.set_xlim(-9, 48)
        ax_bits.set_ylim(-0.3, n + 0.5)
        ax_bits.axis("off")
        bit_field_legend(ax_bits, loc="upper center", ncols=4, fontsize=7, frameon=False,
                         bbox_to_anchor=(0.5, 1.02))
        # above the rows of bits, where nothing else is ever drawn
        self.freeze(ax_bits.get_legend(), over_axes=True)
        self._bits_title = ax_bits.set_title("", fontsize=9.5)

        names = list(FORMATS)
        colors = [FIELD_COLORS["integer"] if not FORMATS[k].is_float else FIELD_COLORS["exponent"]
                  for k in names]
        self._bars = ax_mem.bar(range(n), np.zeros(n), color=colors, alpha=0.85)
        ax_mem.set_xticks(range(n), [k.replace("fp8_", "") for k in names], rotation=45,
                          fontsize=8)
        ax_mem.set_ylabel("weight memory (GB)", fontsize=8.5)
        ax_mem.tick_params(axis="y", labelsize=8)
        ax_mem.grid(axis="y", alpha=0.3)
        gpu = tm.ACCELERATORS[_GPU]
        self._gpu_gb = gpu.memory_bytes / 1e9
        gpu_line = ax_mem.axhline(self._gpu_gb, color="0.3", lw=0.9, ls="--")
        self._gpu_legend = ax_mem.legend(
            [gpu_line], [f"memory of one {gpu.name} ({self._gpu_gb:.0f} GB)"],
            loc="upper right", fontsize=7, frameon=False,
        )
        self._bar_text = [ax_mem.text(i, 0, "", ha="center", va="bottom", fontsize=6.5)
                          for i in range(n)]
        self._mem_title = ax_mem.set_title("", fontsize=9.5)
        self._ax_mem = ax_mem

    def draw(self, out: FormatsResult) -> None:
        for row, enc in zip(self._rows, out.encodings, strict=True):
            row.show(enc)
        self._bits_title.set_text(f"bits stored for {_short(out.value)}")
        gb = np.array(out.memory) / 1e9
        for bar, text, height, mem in zip(self._bars, self._bar_text, gb, out.memory,
                                          strict=True):
            bar.set_height(height)
            text.set_position((bar.get_x() + bar.get_width() / 2, height))
            text.set_text(fmt.bytes_(mem).replace(" ", "\u2009"))
        top = gb.max() * 1.2
        self._ax_mem.set_ylim(0, top)
        self._gpu_legend.set_visible(self._gpu_gb < top)
        self._mem_title.set_text(f"{out.model} ({fmt.count(out.n_params)} params)")
