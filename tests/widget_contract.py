"""The contract every calculator widget keeps, as assertions shared by tests/test_widgets_*.py.

A calculator is registered in :data:`trainmath.widgets.CALCULATORS`, is created with no
arguments, and then shows a result and a plot; a good change of a control changes the
numbers (and the plot); a bad value shows a message naming the argument instead of a
traceback and keeps the last good result, and a good value clears the message again.

This is a plain module, not a test file: the test files import it as ``widget_contract``
(pytest puts ``tests/`` on ``sys.path``). Each helper only asserts; what to change, which
word the message must name and how to fix it stays in the test file, next to its data.
"""

from __future__ import annotations

from typing import Any

import trainmath as tm
from trainmath.widgets import CALCULATORS, Calculator


def assert_registered(calc: Calculator, key: str) -> None:
    """Assert that ``calc`` is a registered calculator, freshly made with no arguments.

    Parameters
    ----------
    calc
        A calculator just created with no arguments.
    key
        Its name in :data:`trainmath.widgets.CALCULATORS`.
    """
    cls = type(calc)
    assert CALCULATORS[key] is cls
    assert getattr(tm.widgets, cls.__name__) is cls
    assert calc.message.value == ""
    assert calc.last is not None
    assert bytes(calc.image.value).startswith(b"\x89PNG")


def assert_change_updates(calc: Calculator, change: dict[str, Any], *, plot: bool = True) -> None:
    """Assert that a good change is taken without a message and changes the numbers.

    Parameters
    ----------
    calc
        The calculator, showing a result.
    change
        Control values for :meth:`~trainmath.widgets.Calculator.set`.
    plot
        Whether the plot must change too; ``False`` checks only the numbers (the plot
        may stay the same).
    """
    html, png = calc.result.value, bytes(calc.image.value)
    assert calc.set(**change)
    assert calc.message.value == ""
    assert calc.result.value != html
    if plot:
        assert bytes(calc.image.value) != png


def assert_bad_value_refused(
    calc: Calculator, bad: dict[str, Any], word: str, fix: dict[str, Any]
) -> None:
    """Assert that a bad value shows a message and keeps the last result; a fix clears it.

    Parameters
    ----------
    calc
        The calculator, showing a good result.
    bad
        Control values for :meth:`~trainmath.widgets.Calculator.set` that must be refused.
    word
        What the message must name (usually the argument of the library function).
    fix
        Good control values set afterwards: the message must go away and the result
        change.
    """
    good_html, good_png, good = calc.result.value, bytes(calc.image.value), calc.last
    assert calc.set(**bad) is False
    assert word in calc.message.value
    assert "Traceback" not in calc.message.value
    assert calc.result.value == good_html
    assert bytes(calc.image.value) == good_png
    assert calc.last is good
    # A good value clears the message again.
    assert calc.set(**fix)
    assert calc.message.value == ""
    assert calc.last is not good
