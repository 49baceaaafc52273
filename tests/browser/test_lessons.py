"""The course as a learner sees it: every lesson in a real JupyterLab, in a real Chromium.

For every lesson notebook present: open it, Run > Run All Cells, wait for the kernel,
and check that no cell shows an error, every widget rendered (no "Error displaying
widget", no "Loading widget..." left, no widget shown as a text repr) and every figure
loaded; save a screenshot of the whole lesson. For every calculator a lesson shows: play
with it as a person would (type in a box and press Enter, press arrow keys on a slider,
pick a dropdown entry, click a checkbox) and check that numbers and plot change; type one
bad value and check for a clear message, the last good result kept, and recovery.

Which controls to touch lives in trainmath/widgets/recipes.py and what must happen in
trainmath/widgets/contract.py (each written once, for every calculator; the unit tests and
the benchmark check the same contract on the Python object).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lab_harness import lesson_names

from trainmath.widgets import CALCULATORS
from trainmath.widgets.contract import check_recipe
from trainmath.widgets.recipes import recipe_for

ROOT = Path(__file__).resolve().parents[2]
LESSONS = lesson_names()
KEY_OF_CLASS = {cls.__name__: key for key, cls in CALCULATORS.items()}


def calculators_in(lesson: str) -> list[str]:
    """Keys of the calculators a lesson shows (its code cells create them)."""
    nb = json.loads((ROOT / "notebooks" / f"{lesson}.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return [key for name, key in KEY_OF_CLASS.items() if re.search(rf"\b{name}\(", code)]


SHOWN = {lesson: calculators_in(lesson) for lesson in LESSONS}
CASES = [(lesson, key) for lesson in LESSONS for key in SHOWN[lesson]]
CASES += [
    pytest.param(None, key, marks=pytest.mark.skip(reason=f"no lesson shows {key!r} yet"))
    for key in CALCULATORS
    if not any(key in keys for keys in SHOWN.values())
]


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson(lessons, lesson):
    page, report = lessons.run(lesson)
    where = f"{lesson} (screenshot {lessons.shots / (lesson + '.png')})"

    assert report.prompts, f"{where}: no code cell ran"
    unrun = [p for p in report.prompts if not re.fullmatch(r"\[\d+\]:", p)]
    assert not unrun, f"{where}: cells not run after Run All: {unrun}"
    assert not report.error_outputs, f"{where}: cells show errors:\n" + "\n---\n".join(
        report.error_outputs)

    assert not report.widget_errors, f"{where}: {report.widget_errors}"
    assert report.loading_left == 0, f"{where}: 'Loading widget...' left on the page"
    assert report.widget_reprs == 0, f"{where}: widgets shown as text (untrusted?)"
    assert not report.blank_choices, f"{where}: dropdowns showing no entry: {report.blank_choices}"
    assert report.widgets_rendered >= report.widget_views, (
        f"{where}: {report.widget_views - report.widgets_rendered} widget outputs empty")
    broken = [img for img in report.images if not img["ok"] or img["w"] < 50]
    assert not broken, f"{where}: figures that did not load: {broken}"
    assert not report.page_errors, f"{where}: errors in the page: {report.page_errors}"

    for key in SHOWN[lesson]:
        calc = page.calculator(CALCULATORS[key]())
        assert calc.count() >= 1, f"{where}: calculator {key!r} not on the page"
        assert calc.root.is_visible(), f"{where}: calculator {key!r} is hidden"
        if CALCULATORS[key].figsize is not None:
            state = calc.plot_state()
            assert state["ok"] and state["visible"] and state["w"] > 200, (
                f"{where}: the plot of {key!r} is not visible: {state}")


@pytest.mark.parametrize(("lesson", "key"), CASES)
def test_calculator(lessons, lesson, key):
    page, _report = lessons.run(lesson)
    model = CALCULATORS[key]()  # the same calculator in Python: control kinds, the generic recipe
    calc = page.calculator(model, shots=lessons.shots / f"{lesson}--{key}")
    assert calc.count() >= 1, f"{lesson}: calculator {key!r} not on the page"
    check_recipe(calc, recipe_for(key, model))
