"""Tests of trainmath.widgets._base and _paste: drawing shortcuts give the same pixels."""

from __future__ import annotations

import io

import ipywidgets as W
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from trainmath.widgets import CALCULATORS, Calculator
from trainmath.widgets._paste import legend_key


def pixels(calc: Calculator) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes(calc.image.value))))


def drawn_without(shortcut: str, key: str, values: dict) -> Calculator:
    """A calculator of kind ``key`` showing ``values``, built with the method ``shortcut``
    of :class:`Calculator` switched off (so that part is drawn in full every time)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Calculator, shortcut, lambda self, *args, **kwargs: None)
        calc = CALCULATORS[key]()
        assert calc.set(**values)
        return calc


def drawn_live(key: str, values: dict) -> np.ndarray:
    """The PNG of a calculator of the same kind that freezes nothing, for ``values``."""
    calc = drawn_without("freeze", key, values)
    assert not calc._paster.items
    return pixels(calc)


@pytest.mark.parametrize(
    ("key", "changes"),
    [
        ("planner", [{"n_gpus": 512}, {"rank": 2}, {"model": "llama-3-8b", "n_gpus": 64},
                     {"efficiency": 0.3}]),
        # the accelerator changes the legend's text: drawn live once, then pasted again
        ("optimizers", [{"zero_stage": 2}, {"accelerator": "A100-40GB"}, {"dp": 64},
                        {"accelerator": "H100-SXM"}, {"model": "llama-2-70b"}]),
        # a legend over the axes of bits, above the rows (over_axes=True)
        ("formats", [{"value": "1e-8"}, {"model": "gpt3-175b"}, {"value": "70000"}]),
    ],
)
def test_frozen_legend_gives_the_same_pixels_as_a_live_one(key, changes):
    calc = CALCULATORS[key]()
    assert calc._paster.items, "this calculator should freeze its legend"
    assert np.array_equal(pixels(calc), drawn_live(key, calc.values()))
    for change in changes:
        assert calc.set(**change)
        frozen = calc._paster.items[0]
        assert frozen.image is not None and frozen.image.get_visible()
        assert not frozen.artist.get_visible()  # pasted, not laid out again
        assert np.array_equal(pixels(calc), drawn_live(key, calc.values())), change


class _Toy(Calculator):
    """A minimal calculator: one number, a line, a legend placed by ``where``."""

    title = "toy"
    where: dict = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0)}

    def controls(self):
        return {"x": W.FloatText(value=1.0, description="x")}

    def compute(self, x):
        if x <= 0:
            raise ValueError(f"x must be > 0, got {x}")
        return x

    def render(self, out):
        return f"{out}"

    def setup_figure(self, fig: Figure) -> None:
        ax = fig.subplots()
        (self._line,) = ax.plot([0, 1], [0, 1], label="line")
        self._legend = ax.legend(**self.where)
        self.freeze(self._legend)

    def draw(self, out):
        self._line.set_ydata([0, out])
        self._legend.get_texts()[0].set_text(f"line to {out:g}")


def test_changed_legend_text_is_drawn_live_then_recaptured():
    calc = _Toy()
    frozen = calc._paster.items[0]
    assert frozen.shown == legend_key(calc._legend)
    assert calc.set(x=2.0)
    assert frozen.shown[0] == ("line to 2",)
    assert not calc._legend.get_visible() and frozen.image.get_visible()


def test_freezing_a_legend_inside_the_axes_is_refused_in_the_widget():
    class Inside(_Toy):
        where = {"loc": "upper left"}

    calc = Inside()  # no traceback: the widget says why, and draws the legend live
    assert "overlaps an axes" in calc.message.value
    assert not calc._paster.items and calc._legend.get_visible()
    assert calc.set(x=2.0)  # from then on an ordinary live legend
    assert calc.message.value == "" and calc._legend.get_visible()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Calculator, "freeze", lambda self, *args, **kwargs: None)
        live = Inside()
        assert live.set(x=2.0)
    assert np.array_equal(pixels(calc), pixels(live))


def test_a_legend_over_the_axes_can_be_frozen_when_asked_for():
    class Over(_Toy):
        where = {"loc": "upper left"}

        def setup_figure(self, fig: Figure) -> None:
            super().setup_figure(fig)
            self._paster.items[0].over_axes = True

    calc = Over()
    assert calc._paster.items[0].image is not None and not calc._legend.get_visible()


def test_freezing_anything_but_a_legend_needs_a_key():
    calc = _Toy()
    with pytest.raises(TypeError, match="key is required for a Text"):
        calc.freeze(calc.figure.text(0, 0, "note"))


def _other_choices(calc: Calculator, most: int = 4) -> list[dict]:
    """Up to ``most`` changes: each dropdown's second option."""
    changes = []
    for name, control in calc.inputs.items():
        if isinstance(control, W.Dropdown) and len(control.options) > 1:
            option = control.options[1]
            changes.append({name: option[1] if isinstance(option, tuple) else option})
    return changes[:most]


@pytest.mark.parametrize("key", sorted(CALCULATORS))
def test_pinned_x_labels_give_the_same_pixels_as_automatic_ones(key):
    # After the first draw the layout is kept and x-axis labels stay where they were
    # put (Calculator._pin_axis_labels); a calculator that re-places them on every draw
    # must show the same picture.
    calc = CALCULATORS[key]()
    for change in _other_choices(calc):
        if not calc.set(**change):
            continue  # a combination this calculator refuses (tested in its own file)
        live = drawn_without("_pin_axis_labels", key, calc.values())
        assert np.array_equal(pixels(calc), pixels(live)), change
