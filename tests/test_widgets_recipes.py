"""Tests of trainmath.widgets.recipes: every recipe keeps the contract without a browser."""

from __future__ import annotations

import ipywidgets as W
import pytest

from trainmath.widgets import CALCULATORS
from trainmath.widgets.contract import check_recipe
from trainmath.widgets.recipes import RECIPES, generic_recipe, kind_of, recipe_for, sweep

KEYS = sorted(CALCULATORS)


@pytest.mark.parametrize("key", KEYS)
def test_recipe_replays_in_python(key):
    """The values the browser sends, through the observers: a recipe that breaks the
    contract here would fail confusingly in the browser (tests/browser/test_lessons.py)."""
    calc = CALCULATORS[key]()
    check_recipe(calc, recipe_for(key, calc))


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
    recipe = generic_recipe(calc)
    assert recipe.changes[0].control == "model"  # first dropdown, next entry
    assert recipe.changes[-1].control == "tokens"  # first *enabled* number box
    assert recipe.bad.text.startswith("-")


def test_generic_recipe_keeps_the_contract():
    calc = CALCULATORS["compute"]()
    check_recipe(calc, generic_recipe(calc))


@pytest.mark.parametrize("key", KEYS)
def test_every_dropdown_shows_an_entry(key):
    """A dropdown whose value is no option (e.g. None) shows an empty box to the learner."""
    calc = CALCULATORS[key]()
    blank = [name for name, c in calc.inputs.items()
             if isinstance(c, W.Dropdown) and c.index is None]
    assert not blank, f"{key}: dropdowns showing no entry: {blank} (use a non-None value)"


@pytest.mark.parametrize("key", KEYS)
def test_sweep_of_every_control_shows_numbers_or_a_message(key):
    """``make bench``'s full sweep: every value either updates or is refused with a message."""
    calc = CALCULATORS[key]()
    swept = set()
    for name, _value in sweep(calc):
        swept.add(name)
        assert "Traceback" not in calc.message.value
    assert swept == set(calc.inputs), f"controls never changed: {set(calc.inputs) - swept}"
    assert calc.values() == CALCULATORS[key]().values(), "the sweep ends where it started"
