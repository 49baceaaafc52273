"""Pasting an artist's pixels instead of laying it out again (a calculator's legend).

Laying a legend out costs about a third of a redraw (12 ms of 35 for the planner's seven
entries); pasting its pixels costs well under one. :class:`Paster` draws each artist live
once, copies its pixels from the canvas into a ``FigureImage``, and from then on hides the
artist and shows the image, until the artist's ``key`` (what it shows) changes: then the
artist is drawn live again and recaptured.

The rule pasting depends on: **the artist covers no axes** (data that changes under it
would show through the pasted pixels as it was when captured), unless it is registered with
``over_axes=True`` for a place where nothing ever changes. A broken rule raises
:class:`PasteError`; :class:`~trainmath.widgets.Calculator` shows it as the widget's
message and draws that artist live from then on, so the picture stays right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.image import FigureImage
from matplotlib.legend import Legend

__all__ = ["Paster", "PasteError", "legend_key"]


class PasteError(ValueError):
    """A pasting rule is broken (the artist is then drawn live; the widget says why)."""


def legend_key(legend: Legend) -> Hashable:
    """What a legend shows: its entries' texts and which entries are visible."""
    return (
        tuple(t.get_text() for t in legend.get_texts()),
        tuple(t.get_visible() for t in legend.get_texts()),
        tuple(h.get_visible() for h in legend.legend_handles if h is not None),
    )


@dataclass
class Pasted:
    """An artist drawn once and then pasted as pixels."""

    artist: Artist
    key: Callable[[], Hashable]
    over_axes: bool = False
    shown: Hashable = None  # key of the pixels in ``image``; None: not captured yet
    image: FigureImage | None = None


class Paster:
    """The pasted artists of one figure (see the module docstring).

    Use: :meth:`add` while the figure is set up; around every ``savefig`` call
    :meth:`before_draw` (shows stale artists live) and :meth:`after_draw` (captures them
    from the canvas just drawn at the figure's own dpi).
    """

    def __init__(self, figure: Figure) -> None:
        self.figure = figure
        self.items: list[Pasted] = []

    def add(self, artist: Artist, key: Callable[[], Hashable] | None = None, *,
            over_axes: bool = False) -> None:
        """Paste ``artist`` from its second draw on; ``key`` says what it shows.

        ``key`` defaults to :func:`legend_key` for a legend and is required otherwise
        (TypeError).
        """
        if key is None:
            if not isinstance(artist, Legend):
                raise TypeError(f"key is required for a {type(artist).__name__}")
            key = partial(legend_key, artist)
        self.items.append(Pasted(artist, key, over_axes))

    def before_draw(self) -> list[Pasted]:
        """Show live the artists whose pixels are stale; returns them, for :meth:`after_draw`."""
        stale = [p for p in self.items if p.shown is None or p.key() != p.shown]
        for p in stale:
            p.artist.set_visible(True)
            if p.image is not None:
                p.image.set_visible(False)
        return stale

    def after_draw(self, stale: list[Pasted]) -> None:
        """Capture the stale artists from the canvas just drawn.

        Raises :class:`PasteError` (after dropping the artist, which stays live) when an
        artist breaks the rule of the module docstring.
        """
        broken = []
        for p in stale:
            try:
                self._capture(p)
            except PasteError as exc:
                self.items.remove(p)
                p.artist.set_visible(True)
                broken.append(str(exc))
        if broken:
            raise PasteError("; ".join(broken))

    def _capture(self, p: Pasted) -> None:
        fig = self.figure
        renderer = fig.canvas.get_renderer()
        box = p.artist.get_window_extent(renderer)
        if not p.over_axes and any(box.overlaps(ax.get_window_extent(renderer))
                                   for ax in fig.axes):
            raise PasteError(
                f"freeze: the {type(p.artist).__name__} overlaps an axes, where changing "
                "data would show through its pasted pixels; it is drawn live instead "
                "(move it off the axes, or pass over_axes=True if nothing under it changes)"
            )
        pixels = np.asarray(fig.canvas.buffer_rgba())
        height, width = pixels.shape[:2]
        x0, x1 = max(0, math.floor(box.x0)), min(width, math.ceil(box.x1))
        y0, y1 = max(0, math.floor(box.y0)), min(height, math.ceil(box.y1))
        patch = pixels[height - y1:height - y0, x0:x1].copy()  # rows run top down
        if p.image is None:
            p.image = fig.figimage(patch, xo=x0, yo=y0, origin="upper",
                                   zorder=p.artist.get_zorder())
        else:
            p.image.set_data(patch)
            p.image.ox, p.image.oy = x0, y0
            p.image.set_visible(True)
        p.artist.set_visible(False)
        p.shown = p.key()
