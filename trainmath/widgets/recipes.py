"""How a person plays with each calculator: the one place that says which control to change.

A :class:`Recipe` is a list of good changes, one bad value (with ``expect``, what the
message must name) and a fix (a good value for the same control). What the calculator must
do along it is the calculator contract, :mod:`trainmath.widgets.contract`
(:func:`~trainmath.widgets.contract.check_recipe`), which the browser tests
(``tests/browser/test_lessons.py``), a browser-free replay (``tests/test_widgets_recipes.py``)
and the benchmark (``bench/run.py``) all check.

A :class:`Step` is written the way a person acts, so the browser tests can replay it:

- ``text``: type this into a box (FloatText, IntText, Text) and press Enter; for a
  dropdown or toggle buttons, pick the entry with this label;
- ``keys``: press these keys on a slider's handle (e.g. ``("ArrowRight",) * 5``);
- ``click``: click a checkbox.

``plot=False`` marks a change that legitimately leaves the plot alone (e.g. the MFU on a
loss-against-size plot).

:func:`python_value` turns a step into the value the control holds afterwards, so the
same recipes drive the Python side (the benchmark, the replay) without a browser.

:func:`sweep` goes further than the recipes, as a learner trying everything would: every
control of a calculator across its range, several values each, then back (``make bench``
times it).

Calculators without an entry in :data:`RECIPES` get :func:`generic_recipe`: pick the
next entry of the first dropdown, type twice the value of the first enabled number box,
then a negative number (which must be refused), then the original value back.

This module imports only ipywidgets (no Playwright, no matplotlib): the browser tests and
``bench/run.py`` import it as ``trainmath.widgets.recipes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as W

__all__ = ["Step", "Recipe", "RECIPES", "recipe_for", "generic_recipe", "python_value",
           "kind_of", "sweep_values", "sweep"]


@dataclass(frozen=True)
class Step:
    """One action on one control (see the module docstring)."""

    control: str
    text: str | None = None
    keys: tuple[str, ...] = ()
    click: bool = False
    expect: str | None = None  # bad steps: text the message must contain
    #: Must this change redraw the plot differently? None: not required (generic recipe);
    #: every recipe must change the plot at least once when the calculator has one.
    plot: bool | None = True

    def describe(self) -> str:
        if self.text is not None:
            return f"{self.control} <- {self.text!r}"
        if self.keys:
            return f"{self.control}: press {'+'.join(self.keys)}"
        return f"{self.control}: click"


@dataclass(frozen=True)
class Recipe:
    changes: tuple[Step, ...]
    bad: Step
    fix: Step
    notes: str = field(default="", compare=False)


def _type(control: str, text: str) -> Step:
    return Step(control, text=text)


def _pick(control: str, label: str) -> Step:
    return Step(control, text=label)


def _keys(control: str, key: str, times: int, plot: bool = True) -> Step:
    return Step(control, keys=(key,) * times, plot=plot)


def _bad(control: str, text: str, expect: str) -> Step:
    return Step(control, text=text, expect=expect)


#: Recipes by key of ``trainmath.widgets.CALCULATORS``.
RECIPES: dict[str, Recipe] = {
    "compute": Recipe(
        changes=(
            _type("n_gpus", "2048"),
            _keys("mfu", "ArrowRight", 5),
            _pick("accelerator", "H100-SXM"),
        ),
        bad=_bad("n_gpus", "-8", "n_gpus"),
        fix=_type("n_gpus", "512"),
    ),
    "units": Recipe(
        changes=(
            _pick("unit", "PFLOP/s-day"),
            _type("value", "3640"),  # GPT-3's budget (Brown et al. 2020, Table D.1)
            _keys("mfu", "ArrowRight", 20),
        ),
        bad=_bad("price", "-1", "price"),
        fix=_type("price", "3"),
    ),
    "chinchilla": Recipe(
        changes=(
            _type("flops", "1e24"),
            _pick("fit", "Hoffmann et al. 2022, printed constants"),
            _keys("mfu", "ArrowLeft", 5, plot=False),  # the plot is loss against N
        ),
        bad=_bad("flops", "-1", "flops"),
        fix=_type("flops", "3e23"),
    ),
    "formats": Recipe(
        changes=(
            _type("value", "65504"),
            _pick("model", "gpt3-175b"),
        ),
        bad=_bad("value", "abc", "value"),
        fix=_type("value", "1e-8"),
    ),
    "capstone": Recipe(
        changes=(
            _type("budget", "1e24"),
            _pick("rule", "loss-optimal (Epoch AI fit)"),
            _type("n_gpus", "8192"),
        ),
        bad=_bad("n_gpus", "-1", "n_gpus"),
        fix=_type("n_gpus", "4096"),
    ),
    "optimizers": Recipe(
        changes=(
            _pick("optimizer", "adamw-8bit"),
            _pick("zero_stage", "3: + weights (FSDP)"),
            _type("dp", "64"),
            Step("grad_buffer", click=True),
        ),
        bad=_bad("dp", "-4", "dp"),
        fix=_type("dp", "16"),
    ),
    "activations": Recipe(
        changes=(
            _type("seq_len", "4096"),
            _pick("recompute", "full"),
            Step("sequence_parallel", click=True),
        ),
        bad=_bad("tp", "-1", "tp"),
        fix=_type("tp", "4"),
    ),
    "planner": Recipe(
        changes=(
            _type("n_gpus", "512"),
            _pick("efficiency", "0.50"),
            _pick("rank", "2"),
        ),
        bad=_bad("n_gpus", "-256", "n_gpus"),
        fix=_type("n_gpus", "1024"),
    ),
    "throughput": Recipe(
        changes=(
            _type("m", "32"),  # seed 002's small batch: memory bound
            _pick("accelerator", "H100-SXM"),
            # a dtype the starting accelerator has too (the benchmark computes every step's
            # value before it changes anything)
            _pick("dtype", "tf32"),
        ),
        bad=_bad("m", "0", "m"),
        fix=_type("m", "4096"),
    ),
    "moe": Recipe(
        changes=(
            Step("deepseek_v3", click=True),  # every activation in bf16: no longer fits
            _keys("capacity_factor", "ArrowRight", 4),
            _type("ep", "16"),
            # ep follows the model: 16 does not divide Mixtral's 8 experts, so 8
            _pick("model", "Mixtral 8x7B (MoE)"),
        ),
        bad=_bad("ep", "3", "ep must divide n_experts"),
        fix=_type("ep", "4"),
    ),
}

_NUMBER_BOXES = (W.FloatText, W.IntText, W.BoundedFloatText, W.BoundedIntText)
_SLIDERS = (W.FloatSlider, W.IntSlider, W.FloatLogSlider)
_PICKERS = (W.Dropdown, W.ToggleButtons, W.RadioButtons, W.Select)


def kind_of(control: W.Widget) -> str:
    """'box', 'text', 'slider', 'picker', 'checkbox' or 'other' (how a person uses it)."""
    if isinstance(control, _NUMBER_BOXES):
        return "box"
    if isinstance(control, (W.Text, W.Textarea)):
        return "text"
    if isinstance(control, _SLIDERS):
        return "slider"
    if isinstance(control, _PICKERS):
        return "picker"
    if isinstance(control, (W.Checkbox, W.ToggleButton)):
        return "checkbox"
    return "other"


def _format_number(x: float, integer: bool) -> str:
    return str(int(x)) if integer else repr(float(x))


def generic_recipe(calc: Any) -> Recipe:
    """A recipe for a calculator nobody wrote one for (see the module docstring)."""
    changes: list[Step] = []
    for name, control in calc.inputs.items():
        if kind_of(control) == "picker" and not control.disabled and len(control.options) > 1:
            labels = list(control._options_labels)
            nxt = labels[(control.index + 1) % len(labels)]
            changes.append(Step(name, text=nxt, plot=None))
            break
    box = next(
        (name for name, c in calc.inputs.items() if kind_of(c) == "box" and not c.disabled),
        None,
    )
    if box is None:
        raise LookupError(
            f"{type(calc).__name__}: no enabled number box for the generic recipe; "
            "add a recipe to trainmath/widgets/recipes.py"
        )
    control = calc.inputs[box]
    integer = isinstance(control, (W.IntText, W.BoundedIntText))
    original = control.value
    doubled = original * 2 if original else 1
    changes.append(Step(box, text=_format_number(doubled, integer), plot=None))
    return Recipe(
        changes=tuple(changes),
        bad=_bad(box, "-1" if integer else "-1.5", box),
        fix=_type(box, _format_number(original, integer)),
        notes="generic",
    )


def recipe_for(key: str, calc: Any) -> Recipe:
    """The recipe of calculator ``key`` (``calc`` is an instance, for the generic one)."""
    return RECIPES.get(key) or generic_recipe(calc)


def python_value(control: W.Widget, step: Step) -> Any:
    """The value ``control`` holds after a person performs ``step`` on it."""
    kind = kind_of(control)
    if step.click:
        return not control.value
    if step.keys:
        if kind != "slider":
            raise ValueError(f"keys on a {type(control).__name__}: only sliders take keys")
        delta = sum(+1 if k in ("ArrowRight", "ArrowUp") else -1 for k in step.keys)
        value = control.value + delta * control.step
        value = min(max(value, control.min), control.max)
        return round(value, 12) if isinstance(control.value, float) else value
    if step.text is None:
        raise ValueError(f"step {step} does nothing")
    if kind == "picker":
        labels = list(control._options_labels)
        if step.text not in labels:
            raise ValueError(f"{step.control}: no entry {step.text!r} in {labels}")
        return control._options_values[labels.index(step.text)]
    if kind == "box":
        if isinstance(control, (W.IntText, W.BoundedIntText)):
            return int(float(step.text))
        return float(step.text)
    if kind == "text":
        return step.text
    raise ValueError(f"{step.control}: cannot type into a {type(control).__name__}")


#: Factors applied to a number box's starting value by :func:`sweep_values` (a box has no
#: range of its own: a learner tries a hundredth to a hundred times what it shows).
SWEEP_FACTORS = (0.01, 0.1, 0.5, 2.0, 10.0, 100.0)
#: What :func:`sweep_values` types into a free-text box (e.g. the formats calculator's number).
SWEEP_TEXTS = ("1e-8", "0.3", "65504", "-2.5", "1e10")
#: Values :func:`sweep_values` takes along a slider's range, ends included.
SWEEP_SLIDER_POINTS = 6


def sweep_values(control: W.Widget) -> list[Any]:
    """The values :func:`sweep` sets ``control`` to, across its range.

    A dropdown or toggle buttons: every entry. A checkbox: the other state. A slider:
    :data:`SWEEP_SLIDER_POINTS` values evenly from ``min`` to ``max`` (on its step). A
    number box: its value times each of :data:`SWEEP_FACTORS` (integers at least 1). A
    text box: :data:`SWEEP_TEXTS`. The control's own value is left out.
    """
    kind = kind_of(control)
    if kind == "picker":
        values = list(control._options_values)
    elif kind == "checkbox":
        values = [not control.value]
    elif kind == "slider":
        n = SWEEP_SLIDER_POINTS
        raw = [control.min + (control.max - control.min) * i / (n - 1) for i in range(n)]
        if isinstance(control.value, float):
            values = [round(round(x / control.step) * control.step, 12) for x in raw]
        else:
            values = [int(round(x)) for x in raw]
    elif kind == "box":
        start = control.value or 1
        if isinstance(control, (W.IntText, W.BoundedIntText)):
            values = list(dict.fromkeys(max(1, int(start * f)) for f in SWEEP_FACTORS))
        else:
            values = [float(start * f) for f in SWEEP_FACTORS]
    elif kind == "text":
        values = list(SWEEP_TEXTS)
    else:
        values = []
    return [x for x in values if x != control.value]


def sweep(calc: Any) -> Iterator[tuple[str, Any]]:
    """Set every control of ``calc`` to each of its :func:`sweep_values`, then back.

    One control at a time, in display order, through the observer (as a browser change
    goes); disabled controls too (a learner can switch them on). Yields ``(name, value)``
    after each change, so the caller can time it and look at the calculator.
    """
    for name, control in calc.inputs.items():
        start = control.value
        for value in [*sweep_values(control), start]:
            if control.value == value:
                continue
            control.value = value
            yield name, value
