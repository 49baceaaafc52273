"""Lesson 04 calculator and bit-field drawing: how each number format stores a number.

``tm.widgets.FormatsCalculator()`` takes a number (typed as text), a model preset and a
block format. It shows, for every format of :data:`trainmath.FORMATS` (fp32, tf32, fp16,
bf16, fp8 E4M3 and E5M2, fp6 E2M3 and E3M2, fp4 E2M1, int8, int4 and the E8M0 scale), the
bits the format stores (sign | exponent | mantissa), the stored value, the relative error
and what went wrong (overflow, underflow, subnormal; E8M0 holds powers of two only, and
says so for any other number), plus the weight memory of the model in each format that
holds weights (the chart: one bar per size in bytes). For the block format (MXFP8/6/4,
MXINT8, NVFP4, DeepSeek-V3's fp8 tiles) it puts the number into one block of standard
normal values and shows the block's scale, what the number and the other values come back
as, the bits per value and the model's weights in that format. The plot draws the bits as
coloured boxes, the weight memory as bars and the block's values before and after
quantisation.

:func:`draw_bit_fields` is the plotting helper the lesson uses for its bit-layout figure.
Every number comes from :mod:`trainmath.formats` (``encode``, ``weight_memory``,
``block_example``, ``representable_values``); this module only draws and formats.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

import trainmath as tm
from trainmath import fmt
from trainmath.formats import (
    BLOCK_FORMATS,
    FORMATS,
    BlockExample,
    Encoding,
    NumberFormat,
    bit_layout,
    block_example,
    encode,
    get_block_format,
    get_format,
    representable_values,
)
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
_SHOWN = 32  # values of the block drawn (the first row of a 2-D tile)
_MAX_LEVELS = 64  # draw the element grid of the block only when it is this coarse
_BLOCK_COLOR = "#d35400"


def _refusal(f: NumberFormat) -> str:
    """Why a scale format (E8M0) holds no number but a power of two in its range."""
    return (f"not representable: {f.name.upper()} holds powers of two only "
            f"(2^{f.emin} to 2^{f.emax}; no sign, no mantissa)")


def _encode_or_none(value: float, f: NumberFormat) -> Encoding | None:
    """:func:`encode`, or None where a scale format refuses ``value`` (not a power of two)."""
    if f.signed:
        return encode(value, f)
    try:
        return encode(value, f)
    except ValueError:
        return None


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

    def show(self, value: float | Encoding | None, *, refused: bool = False) -> Encoding | None:
        """Colour the boxes for ``value`` (None: field colours only) and write its stored value.

        A number a scale format (E8M0) cannot hold, or ``refused=True`` with ``value=None``,
        leaves the field colours and writes why instead of a value.
        """
        if value is not None and not isinstance(value, Encoding):
            value = _encode_or_none(value, self.format)
            refused = value is None
        if value is None:
            self.boxes.set_facecolors(self._mid)
            for t in self.digits:
                t.set_text("")
            self.value_text.set_text(
                f"not representable ({self.format.name.upper()}: powers of two only)"
                if refused else "")
            return None
        enc = value
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
        For E8M0, a number that is not a power of two in its range leaves the field
        colours and the words "not representable" instead of a stored value.
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

    ``encodings`` and ``memory`` (bytes) follow the order of ``formats``: an encoding is None
    where the format cannot hold the value (E8M0: powers of two only), a memory NaN for a
    format that holds no weights (E8M0, the scale format). ``block`` is the chosen block
    format's block holding the value, ``block_memory`` the model's weights in that format
    (bytes, scales included).
    """

    value: float
    formats: tuple[str, ...]
    encodings: tuple[Encoding | None, ...]
    model: str
    n_params: int
    memory: tuple[float, ...]
    block: BlockExample
    block_memory: float


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
        if f.has_inf:
            return "overflow → inf"
        if f.has_nan:
            return f"overflow → NaN ({f.name} has no inf)"
        return f"overflow: clamped to ±{f.max:g} ({f.name} has no inf or NaN)"
    if enc.underflow:
        return "underflow → 0" if f.is_float else "rounds to 0 (an integer needs a scale)"
    if enc.subnormal:
        return "subnormal (fewer bits of precision)"
    if enc.exact:
        return "exact"
    return "" if f.is_float else "rounded to an integer (no scale)"


def _short_block(name: str) -> str:
    """A block format's name for a tick label (``deepseek_fp8_1x128`` -> ``DS 1x128``)."""
    return name.replace("deepseek_fp8_", "DS ")


def _scale_text(ex: BlockExample) -> str:
    """The block's scale in words: a power of two, or E4M3 × fp32, or fp32."""
    bf = ex.format
    if not np.isfinite(ex.block_scale):
        return (f"NaN: the shared exponent would pass {bf.scale_format.name.upper()}'s "
                f"2^{bf.scale_format.emax}, so the whole block reads NaN")
    if bf.power_of_two_scale:
        return f"2^{int(np.log2(ex.block_scale))} = {ex.block_scale:.6g} ({bf.scale})"
    if ex.tensor_scale is not None:
        return (f"{ex.block_scale:.6g} ({bf.scale}) × {ex.tensor_scale:.4g} (fp32 tensor "
                f"scale) = {ex.step:.4g}")
    return f"{ex.block_scale:.4g} ({bf.scale})"


def _byte_groups() -> list[tuple[list[str], str]]:
    """The formats that hold weights, grouped by bytes per value (most first).

    Each group is (short names, one format's full name): ``(["fp32", "tf32"], "fp32")``;
    a short name is the name before ``_`` (``fp8_e4m3`` -> ``fp8``), each once.
    """
    groups: dict[float, tuple[list[str], str]] = {}
    for name, f in FORMATS.items():
        if f.signed:
            short, first = groups.setdefault(f.bytes, ([], name))
            if name.split("_")[0] not in short:
                short.append(name.split("_")[0])
    return [groups[b] for b in sorted(groups, reverse=True)]


def _element_levels(bf) -> np.ndarray:
    """The element values of a block format (its grid before scaling), if coarse enough."""
    f = bf.element_format
    if 2**f.bits > 2 * _MAX_LEVELS:
        return np.empty(0)
    return representable_values(f) * bf.element_scale


class FormatsCalculator(Calculator):
    """How every format stores a number, and a model's weight memory per format (lesson 04).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.FormatsCalculator()
    >>> calc.set(value="65520", model="llama-3-70b")
    True
    >>> calc.last.encodings[calc.last.formats.index("fp16")].stored  # over 65504 + 16
    inf
    """

    title = ("Number formats: how each format stores your number, a model's weight memory, "
             "and a block format")
    figsize = (8.8, 5.6)

    def controls(self) -> dict[str, W.Widget]:
        style = {"description_width": "7em"}
        return {
            "value": W.Text(value="0.1", description="number", continuous_update=False,
                            style=style, layout=W.Layout(width="22em"),
                            placeholder="e.g. 0.1, 65504, 1e-8, -3.7"),
            "model": W.Dropdown(options=list(tm.MODELS), value="llama-3-8b", description="model",
                                style=style, layout=W.Layout(width="22em")),
            "block": W.Dropdown(options=list(BLOCK_FORMATS), value="mxfp4",
                                description="block format", style=style,
                                layout=W.Layout(width="22em")),
        }

    def compute(self, value, model, block) -> FormatsResult:
        x = tm.formats.parse_number(value, "value")
        cfg = tm.get_model(model)
        bf = get_block_format(block)
        names = tuple(FORMATS)
        n = tm.param_count(cfg)
        ex = block_example(x, bf)
        return FormatsResult(
            value=x, formats=names,
            encodings=tuple(_encode_or_none(x, FORMATS[f]) for f in names),
            model=cfg.name, n_params=n,
            memory=tuple(tm.formats.weight_memory(cfg, f) if FORMATS[f].signed else np.nan
                         for f in names),
            block=ex, block_memory=tm.formats.weight_memory(cfg, bf),
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
            weights = fmt.bytes_(mem) if np.isfinite(mem) else "— (holds scales)"
            if enc is None:
                rows.append(
                    f"<tr><td>{name}</td><td class='v'>{f.bytes:g}</td><td class='b'>—</td>"
                    f"<td class='v'>—</td><td class='v'>—</td>"
                    f"<td class='note'>{html.escape(_refusal(f))}</td>"
                    f"<td class='v'>{weights}</td></tr>"
                )
                continue
            # Relative errors span 1e-9 (fp32) to 1 (underflow): scientific notation reads best.
            err = f"{enc.rel_error:.3g}" if np.isfinite(enc.rel_error) else "—"
            rows.append(
                f"<tr><td>{name}</td><td class='v'>{f.bytes:g}</td>"
                f"<td class='b'>{enc.bits_text(' | ')}</td>"
                f"<td class='v'>{html.escape(repr(enc.stored))}</td><td class='v'>{err}</td>"
                f"<td class='note'>{html.escape(_note(enc, f))}</td>"
                f"<td class='v'>{weights}</td></tr>"
            )
        caption = (
            f"<div>Your number: <b>{html.escape(repr(out.value))}</b> (as float64). "
            f"{html.escape(out.model)}: {out.n_params:,} parameters. Integer rows store the "
            "nearest integer with no scale; real int8/int4 weights carry one (absmax). tf32 "
            "travels in 4 bytes; E8M0 holds the scales of MX blocks, not weights.</div>"
        )
        table = f"<table>{head}{''.join(rows)}</table>"
        return f"{_CSS}<div class='tm-fmt'>{caption}{table}{self._render_block(out)}</div>"

    @staticmethod
    def _render_block(out: FormatsResult) -> str:
        ex = out.block
        bf = ex.format
        size, others = ex.values.size, ex.values.size - 1
        tile = "×".join(str(b) for b in bf.block)
        err = f"{ex.rel_error:.3g}" if np.isfinite(ex.rel_error) else "—"
        rms = fmt.percent(ex.others_rel_rms) if np.isfinite(ex.others_rel_rms) else "—"
        rows = [
            ("format", f"{bf.name}: {bf.description}"),
            ("bits per value, scales included", f"{ex.bits_per_value:.4g}"),
            (f"scale of the block ({tile} values)", _scale_text(ex)),
            ("your number comes back as", f"{_short(ex.stored)} (relative error {err})"),
            (f"the other {others:,} values",
             f"relative RMS error {rms}, {fmt.percent(ex.others_flushed)} flushed to zero"),
            (f"weights of {out.model} in {bf.name}", fmt.bytes_(out.block_memory)),
        ]
        body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                       for k, v in rows)
        head = (f"<div><b>Block format</b>: your number as the first of {size:,} standard "
                "normal values (fixed seed) in one block.</div>")
        return f"{head}<table>{body}</table>"

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        # Fixed margins: constrained layout would re-measure every text on every update.
        fig.set_layout_engine("none")
        top = fig.add_gridspec(1, 2, width_ratios=[1.75, 1], left=0.0, right=0.985,
                               bottom=0.465, top=0.94, wspace=0.12)
        ax_bits, ax_mem = fig.add_subplot(top[0, 0]), fig.add_subplot(top[0, 1])
        bottom = fig.add_gridspec(1, 1, left=0.06, right=0.87, bottom=0.08, top=0.31)
        self._setup_block(fig.add_subplot(bottom[0, 0]))
        self._rows = []
        n = len(FORMATS)
        for i, name in enumerate(FORMATS):
            self._rows.append(draw_bit_fields(ax_bits, name, y=n - 1 - i, digits=False,
                                              fontsize=7.5))
        ax_bits.set_xlim(-9, 48)
        ax_bits.set_ylim(-0.3, n + 1.1)  # room above the rows for the frozen legend
        ax_bits.axis("off")
        bit_field_legend(ax_bits, loc="upper center", ncols=4, fontsize=7, frameon=False,
                         bbox_to_anchor=(0.5, 1.02))
        # above the rows of bits, where nothing else is ever drawn
        self.freeze(ax_bits.get_legend(), over_axes=True)
        self._bits_title = ax_bits.set_title("", fontsize=9.5, y=1.0)  # y: no auto-placement (ms)

        # One bar per size in bytes (fp32/tf32 4, fp16/bf16 2, fp8/int8 1, fp6 0.75,
        # fp4/int4 0.5): formats of one size hold the same weight memory.
        self._groups = _byte_groups()
        n = len(self._groups)
        self._bars = ax_mem.bar(range(n), np.zeros(n), color=FIELD_COLORS["exponent"],
                                alpha=0.85)
        (self._block_bar,) = ax_mem.bar([n], [0.0], color=_BLOCK_COLOR, alpha=0.85)
        self._tick_names = ["/".join(names) for names, _ in self._groups]
        self._block_tick = None
        ax_mem.set_xticks(range(n + 1), [*self._tick_names, ""], rotation=45, fontsize=8)
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
                          for i in range(n + 1)]
        self._mem_title = ax_mem.set_title("", fontsize=9.5, y=1.0)
        self._ax_mem = ax_mem

    def _setup_block(self, ax: Axes) -> None:
        """The block panel: the block's first values before and after quantisation."""
        self._levels = LineCollection([], colors="0.8", linewidths=0.6, zorder=0)
        ax.add_collection(self._levels)
        self._error_lines = LineCollection([], colors="0.55", linewidths=0.8, zorder=1)
        ax.add_collection(self._error_lines)
        (self._original,) = ax.plot([], [], "o", mfc="none", mec="0.15", ms=5, zorder=2,
                                    label="value")
        (self._quantised,) = ax.plot([], [], "s", color=_BLOCK_COLOR, ms=3.5, zorder=3,
                                     label="as stored")
        (self._yours,) = ax.plot([], [], "o", mfc="none", mec="#c0392b", ms=9, mew=1.6,
                                 zorder=4, label="your number")
        ax.axhline(0.0, color="0.4", lw=0.6, zorder=0)
        ax.set_xlim(-1, _SHOWN)
        ax.set_xlabel("position in the block", fontsize=8.5, labelpad=1)
        ax.tick_params(labelsize=7.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7.5, frameon=False,
                  borderaxespad=0.3, handletextpad=0.3)
        self.freeze(ax.get_legend())  # right of the block's axes, over nothing
        self._ax_block = ax
        self._block_title = ax.set_title("", fontsize=9.5, y=1.0)

    def _draw_block(self, ex: BlockExample) -> None:
        shown = min(ex.values.size, _SHOWN)
        x = np.arange(shown)
        before = ex.values.ravel()[:shown]
        after = ex.dequantized.ravel()[:shown]
        self._original.set_data(x, before)
        finite = np.isfinite(after)
        self._quantised.set_data(x[finite], after[finite])
        self._yours.set_data([0], [before[0]])
        self._error_lines.set_segments(
            [((i, a), (i, b)) for i, a, b in zip(x[finite], before[finite], after[finite],
                                                   strict=True)])
        top = max(np.abs(before).max(), np.abs(after[finite]).max(initial=0.0)) * 1.12 or 1.0
        self._ax_block.set_ylim(-top, top)
        levels = _element_levels(ex.format) * ex.step if np.isfinite(ex.step) else []
        levels = [y for y in levels if abs(y) <= top]
        self._levels.set_segments([((-1, y), (_SHOWN, y)) for y in levels])
        bf = ex.format
        grid = f"grey lines: the {len(levels)} values it can store" if levels else \
            f"{bf.element} grid too fine to draw"
        of = f"first {shown} of {ex.values.size:,}" if shown < ex.values.size else \
            f"all {shown}"
        self._block_title.set_text(f"{bf.name}: one block ({of} values shown; {grid})")

    def draw(self, out: FormatsResult) -> None:
        for row, enc in zip(self._rows, out.encodings, strict=True):
            row.show(enc, refused=enc is None)
        self._bits_title.set_text(f"bits stored for {_short(out.value)}")
        name = out.block.format.name
        if name != self._block_tick:
            self._block_tick = name
            self._ax_mem.xaxis.set_ticklabels([*self._tick_names, _short_block(name)])
        by_name = dict(zip(out.formats, out.memory, strict=True))
        gb = np.array([*(by_name[first] for _, first in self._groups), out.block_memory]) / 1e9
        bars = [*self._bars, self._block_bar]
        for bar, text, height, mem in zip(bars, self._bar_text, gb, gb * 1e9, strict=True):
            bar.set_height(height)
            text.set_position((bar.get_x() + bar.get_width() / 2, height))
            text.set_text(fmt.bytes_(mem).replace(" ", "\u2009"))
        self._draw_block(out.block)
        top = gb.max() * 1.2
        self._ax_mem.set_ylim(0, top)
        self._gpu_legend.set_visible(self._gpu_gb < top)
        self._mem_title.set_text(f"{out.model} ({fmt.count(out.n_params)} params)")
