"""The calculator recipes make sense without a browser (fast; runs even with no Chromium).

Replays each recipe through the Python side of the calculator (the same values the
browser sends): every good change changes the numbers, and the plot when there is one;
the bad value shows a message naming the argument and keeps the last good result; the
fix clears the message. A recipe that is wrong here would fail confusingly in the browser.
"""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from trainmath.widgets import CALCULATORS  # noqa: E402
from trainmath.widgets.recipes import RECIPES, kind_of, python_value, recipe_for  # noqa: E402

KEYS = sorted(CALCULATORS)


def _apply(calc, step) -> None:
    control = calc.inputs[step.control]
    assert not getattr(control, "disabled", False), f"{step.describe()}: control is disabled"
    control.value = python_value(control, step)  # fires the observer, as the browser does


def _plot(calc) -> bytes | None:
    return calc.image.value if calc.figure is not None else None


@pytest.mark.parametrize("key", KEYS)
def test_recipe_replays_in_python(key):
    calc = CALCULATORS[key]()
    recipe = recipe_for(key, calc)
    plot_changes = 0
    for step in recipe.changes:
        before, plot = calc.result.value, _plot(calc)
        _apply(calc, step)
        assert calc.message.value == "", f"{step.describe()}: {calc.message.value}"
        assert calc.result.value != before, f"{step.describe()} left the numbers unchanged"
        if plot is not None:
            changed = bytes(_plot(calc)) != bytes(plot)
            plot_changes += changed
            assert changed or step.plot is not True, f"{step.describe()} left the plot unchanged"
    assert calc.figure is None or plot_changes, "no change redrew the plot"
    good, plot = calc.result.value, _plot(calc)
    _apply(calc, recipe.bad)
    assert recipe.bad.expect in calc.message.value, (
        f"{recipe.bad.describe()}: message {calc.message.value!r} does not name "
        f"{recipe.bad.expect!r}"
    )
    assert calc.result.value == good, "the last good result stays on screen"
    assert plot is None or bytes(_plot(calc)) == bytes(plot), "the last good plot stays"
    _apply(calc, recipe.fix)
    assert calc.message.value == "", f"{recipe.fix.describe()}: {calc.message.value}"
    assert calc.result.value != good, f"{recipe.fix.describe()} left the numbers unchanged"


def test_recipes_name_registered_calculators_and_real_controls():
    unknown = set(RECIPES) - set(CALCULATORS)
    assert not unknown, f"recipes for calculators that are not registered: {unknown}"
    for key, recipe in RECIPES.items():
        calc = CALCULATORS[key]()
        for step in (*recipe.changes, recipe.bad, recipe.fix):
            assert step.control in calc.inputs, f"{key}: no control {step.control!r}"
            assert kind_of(calc.inputs[step.control]) != "other", step


def test_generic_recipe_covers_a_calculator_without_one():
    calc = CALCULATORS["compute"]()
    from trainmath.widgets.recipes import generic_recipe

    recipe = generic_recipe(calc)
    assert recipe.changes[0].control == "model"  # first dropdown, next entry
    assert recipe.changes[-1].control == "tokens"  # first *enabled* number box
    assert recipe.bad.text.startswith("-")


@pytest.mark.parametrize("key", KEYS)
def test_every_dropdown_shows_an_entry(key):
    """A dropdown whose value is no option (e.g. None) shows an empty box to the learner."""
    import ipywidgets as W

    calc = CALCULATORS[key]()
    blank = [name for name, c in calc.inputs.items()
             if isinstance(c, W.Dropdown) and c.index is None]
    assert not blank, f"{key}: dropdowns showing no entry: {blank} (use a non-None value)"


@pytest.mark.parametrize("key", KEYS)
def test_sweep_of_every_control_shows_numbers_or_a_message(key):
    """``make bench``'s full sweep: every value either updates or is refused with a message."""
    from trainmath.widgets.recipes import sweep

    calc = CALCULATORS[key]()
    swept = set()
    for name, _value in sweep(calc):
        swept.add(name)
        assert "Traceback" not in calc.message.value
    assert swept == set(calc.inputs), f"controls never changed: {set(calc.inputs) - swept}"
    assert calc.values() == CALCULATORS[key]().values(), "the sweep ends where it started"
