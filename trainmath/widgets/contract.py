"""The contract every calculator keeps, written once for the unit tests, browser tests and bench.

1. **Registered**: a calculator of :data:`trainmath.widgets.CALCULATORS` is made with no
   arguments, is exported as ``tm.widgets.<ClassName>``, and at once shows numbers, no
   message and (when it has a figure) its plot.
2. **A good change updates**: it is taken without a message and changes the numbers, and
   the plot unless the change legitimately leaves it alone (e.g. the MFU on a plot of loss
   against model size).
3. **A bad value is refused**: a message names the argument (no traceback); the last good
   numbers, plot and result stay; then a good value clears the message and changes the
   numbers again.

The checks look at a calculator through a :class:`View`: what a person sees (numbers,
message, plot) and how they change a control. :class:`PythonView` is the calculator object
itself (unit tests, ``bench/run.py``, the recipe self-check); ``tests/browser/lab_harness.py``
shows the same calculator in a real JupyterLab page. :func:`check_recipe` replays a
:class:`~trainmath.widgets.recipes.Recipe` (the changes of ``trainmath.widgets.recipes``)
against the whole contract. A broken promise raises :class:`ContractError` (an
``AssertionError``, so pytest reports it as a failed assertion) saying which one.

This module imports no test framework: the benchmark uses it too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from trainmath.widgets._base import Calculator
from trainmath.widgets.recipes import Recipe, Step, python_value

__all__ = ["ContractError", "View", "PythonView", "as_view", "describe", "check_registered",
           "check_change", "check_refused", "check_recipe"]

#: A change: a :class:`~trainmath.widgets.recipes.Step` (one action of a person on one
#: control) or, for the Python side only, ``{control: value}`` for
#: :meth:`~trainmath.widgets.Calculator.set`.
Change = Step | Mapping[str, Any]


class ContractError(AssertionError):
    """A calculator broke its contract (the message says how)."""


class View(Protocol):
    """A calculator as a person sees and uses it (the Python object or a browser page)."""

    def numbers(self) -> str:
        """The text of the numbers (the result)."""

    def message(self) -> str:
        """The text of the message line ("" when there is none)."""

    def plot(self) -> bytes | None:
        """The plot's picture (``None``: the calculator has no plot)."""

    def last(self) -> object | None:
        """The last good result object, where one can be seen (``None``: not visible)."""

    def apply(self, change: Change) -> bool | None:
        """Make ``change``; return whether the calculator took it, where that is known."""

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        """Return once ``predicate()`` holds; raise :class:`ContractError` (``what``) if it
        does not (at once in Python, after a timeout in a browser)."""

    def settle(self) -> None:
        """Give a late update the time to show (a browser waits; Python has none)."""

    def stage(self, name: str) -> None:
        """A stage of :func:`check_recipe` is reached (a browser takes a screenshot)."""


class PythonView:
    """The calculator object itself as a :class:`View`.

    A :class:`~trainmath.widgets.recipes.Step` is performed on its control, which fires the
    observer as a browser change does. A mapping of values goes through
    :meth:`~trainmath.widgets.Calculator.set` (one update, whose result is known), or, with
    ``by_hand=True``, is set control by control through the observers, as a learner would.
    """

    def __init__(self, calc: Calculator, *, by_hand: bool = False) -> None:
        self.calc = calc
        self.by_hand = by_hand

    def numbers(self) -> str:
        return self.calc.result.value

    def message(self) -> str:
        """The message as a person reads it (the browser's text: no style, no tags)."""
        return _text(self.calc.message.value)

    def plot(self) -> bytes | None:
        return bytes(self.calc.image.value) if self.calc.figure is not None else None

    def last(self) -> object | None:
        return self.calc.last

    def apply(self, change: Change) -> bool | None:
        if isinstance(change, Step):
            control = self.calc.inputs[change.control]
            _require(not getattr(control, "disabled", False),
                     f"{change.describe()}: the control is disabled")
            control.value = python_value(control, change)  # fires the observer
            return None
        if self.by_hand:
            for name, value in change.items():
                self.calc.inputs[name].value = value
            return None
        return self.calc.set(**change)

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        _require(predicate(), f"{type(self.calc).__name__}: {what}")

    def settle(self) -> None:
        pass

    def stage(self, name: str) -> None:
        pass


def _text(markup: str) -> str:
    """The text of an HTML fragment, as a browser shows it."""
    markup = re.sub(r"<style.*?</style>", "", markup, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", markup)).split())


def as_view(calc_or_view: Calculator | View) -> View:
    """A :class:`View` of a calculator (a :class:`PythonView`), or the view itself."""
    if isinstance(calc_or_view, Calculator):
        return PythonView(calc_or_view)
    return calc_or_view


def describe(change: Change) -> str:
    """A change in words, for messages."""
    if isinstance(change, Step):
        return change.describe()
    return ", ".join(f"{name} <- {value!r}" for name, value in change.items()) or "no change"


def _require(ok: object, what: str) -> None:
    if not ok:
        raise ContractError(what)


def check_registered(calc: Calculator, key: str) -> None:
    """Promise 1: ``calc``, just made with no arguments, is the registered calculator ``key``.

    Parameters
    ----------
    calc
        A calculator just created with no arguments.
    key
        Its name in :data:`trainmath.widgets.CALCULATORS`.
    """
    from trainmath import widgets

    cls = type(calc)
    _require(widgets.CALCULATORS.get(key) is cls,
             f"{cls.__name__} is not registered as CALCULATORS[{key!r}]")
    _require(getattr(widgets, cls.__name__, None) is cls,
             f"{cls.__name__} is not exported as tm.widgets.{cls.__name__}")
    _require(calc.message.value == "", f"{key}: a message at start: {calc.message.value!r}")
    _require(calc.last is not None, f"{key}: no result at start")
    _require(calc.result.value, f"{key}: no numbers at start")
    if cls.figsize is not None:
        _require(calc.figure is not None and bytes(calc.image.value).startswith(b"\x89PNG"),
                 f"{key}: no plot at start")


def check_change(calc_or_view: Calculator | View, change: Change, *,
                 plot: bool | None = True) -> bool:
    """Promise 2: a good ``change`` is taken without a message and changes the numbers.

    Parameters
    ----------
    calc_or_view
        The calculator (or a view of it), showing a result.
    change
        A step or control values (see :class:`PythonView`).
    plot
        True: the plot (when there is one) must change too. False or None: it may stay
        the same (None: no one said; the generic recipe's changes).

    Returns
    -------
    bool
        Whether the plot changed.
    """
    view = as_view(calc_or_view)
    what = describe(change)
    numbers, picture = view.numbers(), view.plot()
    taken = view.apply(change)
    _require(taken is not False, f"{what} was refused: {view.message()!r}")
    view.wait_until(lambda: view.numbers() != numbers, f"the numbers change after {what}")
    _require(view.message() == "", f"{what}: unexpected message {view.message()!r}")
    if picture is None:
        return False
    if plot:
        view.wait_until(lambda: view.plot() != picture, f"the plot redraws after {what}")
        return True
    view.settle()
    return view.plot() != picture


def check_refused(calc_or_view: Calculator | View, bad: Change, word: str,
                  fix: Change) -> None:
    """Promise 3: a bad value shows a message and keeps the last result; a fix clears it.

    Parameters
    ----------
    calc_or_view
        The calculator (or a view of it), showing a good result.
    bad
        A change that must be refused.
    word
        What the message must name (usually the argument of the library function).
    fix
        A good change made afterwards: the message must go away and the numbers change.
    """
    view = as_view(calc_or_view)
    numbers, picture, result = view.numbers(), view.plot(), view.last()
    what = describe(bad)
    taken = view.apply(bad)
    _require(taken is not True, f"{what} was taken")
    view.wait_until(lambda: view.message() != "", f"a message after {what}")
    message = view.message()
    view.stage("2-bad-value")
    _require(word in message, f"{what}: message {message!r} does not name {word!r}")
    _require("Traceback" not in message, f"{what}: a traceback in the message")
    view.settle()
    _require(view.numbers() == numbers, f"{what}: the last good numbers were replaced")
    _require(view.plot() == picture, f"{what}: the last good plot was replaced")
    _require(view.last() is result, f"{what}: the last good result was replaced")
    # A good value clears the message again.
    what = describe(fix)
    taken = view.apply(fix)
    _require(taken is not False, f"{what} was refused: {view.message()!r}")
    view.wait_until(lambda: view.message() == "" and view.numbers() != numbers,
                    f"the message clears and the numbers update after {what}")
    _require(result is None or view.last() is not result,
             f"{what}: the result was not replaced")


def check_recipe(calc_or_view: Calculator | View, recipe: Recipe) -> None:
    """All three promises along a recipe: its changes, its bad value and its fix.

    Every change must change the numbers, and the plot where the step says so; at least one
    change must redraw the plot when there is one.
    """
    view = as_view(calc_or_view)
    view.stage("0-start")
    has_plot = view.plot() is not None
    redrawn = 0
    for step in recipe.changes:
        redrawn += check_change(view, step, plot=step.plot)
    _require(redrawn or not has_plot, "no change of the recipe redrew the plot")
    view.stage("1-changed")
    check_refused(view, recipe.bad, recipe.bad.expect or "", recipe.fix)
    view.stage("3-fixed")
