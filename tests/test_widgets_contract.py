"""Tests of trainmath.widgets.contract: it passes a good calculator, catches each breakage."""

from __future__ import annotations

import ipywidgets as W
import pytest

from trainmath.widgets import Calculator
from trainmath.widgets._base import table_html
from trainmath.widgets.contract import (
    ContractError,
    PythonView,
    check_change,
    check_recipe,
    check_refused,
    check_registered,
)
from trainmath.widgets.recipes import Recipe, Step


class Toy(Calculator):
    """x is drawn and shown with ``digits`` digits; ``label`` changes nothing at all."""

    title = "A toy calculator"

    def controls(self) -> dict[str, W.Widget]:
        return {
            "x": W.FloatText(value=1.0, description="x"),
            "digits": W.IntText(value=2, description="digits"),
            "label": W.Dropdown(options=["a", "b"], value="a", description="label"),
            "off": W.FloatText(value=0.0, description="off", disabled=True),
        }

    def setup_figure(self, fig) -> None:
        ax = fig.add_subplot()
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 10)
        (self.line,) = ax.plot([0, 1], [0, 1])

    def compute(self, x: float, digits: int, label: str, off: float) -> tuple[float, int]:
        if x <= 0:
            raise ValueError(f"x must be > 0 (got {x})")
        return x, digits

    def render(self, out: tuple[float, int]) -> str:
        x, digits = out
        return table_html([("x", f"{x:.{digits}f}")])

    def draw(self, out: tuple[float, int]) -> None:
        self.line.set_data([0, out[0]], [0, out[0]])


class NoRedraw(Toy):
    def draw(self, out) -> None:
        pass


class Traceback(Toy):
    def compute(self, x, digits, label, off):
        if x <= 0:
            raise ValueError("Traceback (most recent call last): x")
        return super().compute(x, digits, label, off)


class ForgetsTheResult(Toy):
    def update(self) -> bool:
        ok = super().update()
        if not ok:
            self.result.value = ""
        return ok


RECIPE = Recipe(changes=(Step("x", text="4"), Step("digits", text="3", plot=False)),
                bad=Step("x", text="-1", expect="x"), fix=Step("x", text="5"))


def test_a_calculator_that_keeps_its_promises_passes():
    calc = Toy()
    assert check_change(calc, {"x": 2.0}) is True
    assert check_change(calc, {"digits": 4}, plot=False) is False
    assert check_change(PythonView(calc, by_hand=True), {"x": 3.0}) is True
    check_refused(calc, {"x": -1.0}, "x", {"x": 6.0})
    check_recipe(Toy(), RECIPE)


def test_an_unregistered_calculator_is_caught():
    with pytest.raises(ContractError, match="Toy is not registered"):
        check_registered(Toy(), "toy")


def test_a_change_that_shows_nothing_is_caught():
    with pytest.raises(ContractError, match="the numbers change after label <- 'b'"):
        check_change(Toy(), {"label": "b"})


def test_a_change_that_is_refused_is_caught():
    with pytest.raises(ContractError, match=r"x <- -2.0 was refused: .*x must be > 0"):
        check_change(Toy(), {"x": -2.0})


def test_a_plot_that_does_not_redraw_is_caught():
    with pytest.raises(ContractError, match="the plot redraws after x <- 2.0"):
        check_change(NoRedraw(), {"x": 2.0})
    assert check_change(NoRedraw(), {"x": 2.0}, plot=False) is False
    with pytest.raises(ContractError, match="no change of the recipe redrew the plot"):
        check_recipe(NoRedraw(), Recipe(changes=(Step("x", text="4", plot=False),),
                                        bad=RECIPE.bad, fix=RECIPE.fix))


def test_a_message_that_does_not_name_the_argument_is_caught():
    with pytest.raises(ContractError, match="does not name 'n_gpus'"):
        check_refused(Toy(), {"x": -1.0}, "n_gpus", {"x": 3.0})


def test_a_traceback_in_the_message_is_caught():
    with pytest.raises(ContractError, match="a traceback in the message"):
        check_refused(Traceback(), {"x": -1.0}, "x", {"x": 3.0})


def test_a_bad_value_that_replaces_the_last_result_is_caught():
    with pytest.raises(ContractError, match="the last good numbers were replaced"):
        check_refused(ForgetsTheResult(), {"x": -1.0}, "x", {"x": 3.0})


def test_a_bad_value_that_is_taken_is_caught():
    with pytest.raises(ContractError, match="x <- 2.0 was taken"):
        check_refused(Toy(), {"x": 2.0}, "x", {"x": 3.0})


def test_a_fix_that_changes_nothing_is_caught():
    with pytest.raises(ContractError, match="the message clears and the numbers update"):
        check_refused(Toy(), {"x": -1.0}, "x", {"x": 1.0})  # back to what was shown


def test_a_step_on_a_disabled_control_is_caught():
    with pytest.raises(ContractError, match="off <- '2': the control is disabled"):
        check_change(Toy(), Step("off", text="2"))


def test_contract_errors_are_assertion_errors():
    assert issubclass(ContractError, AssertionError)
