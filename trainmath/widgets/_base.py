"""The shared skeleton of every calculator: controls -> library call -> numbers + plot.

A calculator is a thin view. Subclasses declare controls, a ``compute`` method that
only calls :mod:`trainmath` functions, a ``render`` method that turns the result into
HTML, and optionally ``draw`` to update matplotlib artists in place. Bad input never
shows a traceback: ``ValueError``/``TypeError`` from the library become a message in
the widget and the last good result stays on screen.

The plot is an Agg-rendered PNG in an ``ipywidgets.Image`` (no ``Output`` widget), so
nothing leaks into the cell's stored outputs and nbval stays deterministic.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Hashable
from typing import Any

import ipywidgets as W
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from trainmath.widgets._paste import PasteError, Paster

__all__ = ["Calculator", "table_html", "error_html", "accelerator_control", "mfu_slider"]

_CSS = (
    "<style>.tm-calc table{border-collapse:collapse;margin:4px 0}"
    ".tm-calc td{padding:2px 10px 2px 0}.tm-calc td.v{font-weight:600;text-align:right}"
    ".tm-err{color:#b00020;font-weight:600}</style>"
)

#: What ``compute`` (and ``render``) may raise for bad input: shown as a message.
INPUT_ERRORS = (ValueError, TypeError, ZeroDivisionError, OverflowError)


def accelerator_control(value: str, *, description: str = "accelerator", options=None,
                        **common: Any) -> W.Dropdown:
    """The accelerator dropdown every calculator shows (presets of ``tm.ACCELERATORS``)."""
    if options is None:
        from trainmath.accelerators import ACCELERATORS

        options = ACCELERATORS
    return W.Dropdown(options=list(options), value=value, description=description, **common)


def mfu_slider(value: float = 0.4, *, minimum: float = 0.05, step: float = 0.01,
               readout_format: str = ".2f", description: str = "MFU", **common: Any
               ) -> W.FloatSlider:
    """The utilisation slider (a fraction in (0, 1], updated on release)."""
    return W.FloatSlider(value=value, min=minimum, max=1.0, step=step,
                         readout_format=readout_format, description=description,
                         continuous_update=False, **common)


def table_html(rows: list[tuple[str, str]]) -> str:
    """A two-column label/value table (values already formatted)."""
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='v'>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f"{_CSS}<div class='tm-calc'><table>{body}</table></div>"


def error_html(exc: BaseException) -> str:
    """A readable error line for bad input."""
    return f"{_CSS}<div class='tm-err'>⚠ {html.escape(str(exc))}</div>"


class Calculator:
    """Base class. Subclasses set ``title`` and implement ``controls``/``compute``/``render``.

    Attributes
    ----------
    widget : ipywidgets.VBox
        What the notebook displays (the object itself displays as this widget).
    result, message : ipywidgets.HTML
        The numbers, and the error line (empty when the input is valid).
    figure : matplotlib.figure.Figure or None
    last : Any
        The last successful ``compute`` result (for tests and benchmarks).
    """

    title: str = ""
    figsize: tuple[float, float] | None = (6.4, 3.4)

    def __init__(self) -> None:
        self.inputs: dict[str, W.Widget] = self.controls()
        self.result = W.HTML()
        self.message = W.HTML()
        self.last: Any = None
        self.figure: Figure | None = None
        self._layout_frozen = False
        self._paster: Paster | None = None
        children: list[W.Widget] = [W.HTML(f"<b>{html.escape(self.title)}</b>")]
        children += list(self.inputs.values())
        children += [self.message, self.result]
        if self.figsize is not None:
            self.figure = Figure(figsize=self.figsize, dpi=90, layout="constrained")
            FigureCanvasAgg(self.figure)
            self._paster = Paster(self.figure)
            self.setup_figure(self.figure)
            # align_self: not stretched to the box's width (an upscaled PNG looks blurred).
            self.image = W.Image(format="png",
                                 layout=W.Layout(max_width="100%", align_self="flex-start"))
            children.append(self.image)
        self.widget = W.VBox(children)
        for control in self.inputs.values():
            control.observe(self._on_change, names="value")
        self.update()

    # -- to implement -------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        """Named input widgets, in display order."""
        raise NotImplementedError

    def compute(self, **values: Any) -> Any:
        """Call the library with the control values; may raise ValueError/TypeError."""
        raise NotImplementedError

    def render(self, out: Any) -> str:
        """HTML for the numbers (use :func:`table_html`)."""
        raise NotImplementedError

    def setup_figure(self, fig: Figure) -> None:
        """Create axes and artists once; ``draw`` then updates them."""

    def draw(self, out: Any) -> None:
        """Update the plot's artists for a new result."""

    def freeze(self, artist: Artist, key: Callable[[], Hashable] | None = None, *,
               over_axes: bool = False) -> None:
        """Draw ``artist`` live once, then paste its pixels on later updates.

        For a legend outside every axes (see :mod:`trainmath.widgets._paste` for the cost
        and the rule). ``key`` says what the artist shows (default for legends:
        :func:`~trainmath.widgets._paste.legend_key`); when it changes, the artist is drawn
        live again and recaptured. Call from ``setup_figure``; the artist's own visibility
        is then the paster's to switch. An artist that overlaps an axes is drawn live and
        the widget says why, unless ``over_axes=True`` (nothing under it ever changes).
        """
        assert self._paster is not None, "freeze needs a figure (call it from setup_figure)"
        self._paster.add(artist, key, over_axes=over_axes)

    # -- machinery ----------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.inputs.items()}

    def set(self, **values: Any) -> bool:
        """Change controls programmatically (one update at the end); returns update()."""
        with self.widget.hold_trait_notifications():
            for name, value in values.items():
                control = self.inputs[name]
                control.unobserve(self._on_change, names="value")
                try:
                    control.value = value
                finally:
                    control.observe(self._on_change, names="value")
        return self.update()

    def _on_change(self, _change: dict) -> None:
        self.update()

    def update(self) -> bool:
        """Recompute and redraw; returns False (and shows a message) for bad input."""
        try:
            out = self.compute(**self.values())
            text = self.render(out)
        except INPUT_ERRORS as exc:
            self.message.value = error_html(exc)
            return False
        self.last = out
        self.message.value = ""
        self.result.value = text
        if self.figure is not None:
            self.draw(out)
            try:
                self._refresh_image()
            except PasteError as exc:  # the picture is right (drawn live); say why
                self.message.value = error_html(exc)
        return True

    def _refresh_image(self) -> None:
        stale = self._paster.before_draw()
        buf = io.BytesIO()
        # Fast zlib level: the PNG is a few tens of kB either way and this is the hot path.
        # dpi: the figure's own, so the canvas holds the pixels just saved (for pasting).
        self.figure.savefig(buf, format="png", dpi=self.figure.dpi,
                            pil_kwargs={"compress_level": 1})
        self.image.value = buf.getvalue()
        if not self._layout_frozen:
            self._layout_frozen = True
            # Solve the constrained layout once, on the first draw, then keep the axes where
            # they are: re-solving on every update costs ~40 ms of the latency budget.
            # Drop the engine (None, not "none": "none" leaves a placeholder engine, and
            # savefig then draws the whole figure twice, a dry run for the layout first).
            self.figure.set_layout_engine(None)
            if self.figure.get_layout_engine() is not None:  # rcParams asked for one
                self.figure.set_layout_engine("none")
            self._pin_axis_labels()
        self._paster.after_draw(stale)

    def _pin_axis_labels(self) -> None:
        """Keep each x-axis label where the first draw put it, as the layout is kept.

        An auto-placed label is moved clear of the tick labels on every draw, which
        measures all tick labels again (a few ms of an update). Horizontal tick labels
        keep their height whatever they say, so with the axes fixed the x label's place
        never changes (same pixels). Y labels stay automatic: tick labels there change
        width ("80" to "1500"), and a pinned label would collide with them.
        """
        for ax in self.figure.axes:
            label = ax.xaxis.label
            if label.get_text() and label.get_visible():
                where = label.get_transform().transform(label.get_position())
                ax.xaxis.set_label_coords(*ax.transAxes.inverted().transform(where))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
