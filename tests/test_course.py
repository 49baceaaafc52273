"""The course as a whole: every lesson has its parts, keys and calculators behave."""

import json
import math
import re
from pathlib import Path

import pytest

from trainmath.answers import lessons, questions_for

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TAUGHT = [name for name in LESSONS if not name.startswith("00_")]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(path: Path, kind: str | None = None) -> str:
    return "\n".join(
        "".join(c["source"]) for c in _cells(path) if kind is None or c["cell_type"] == kind
    )


def test_start_page_exists_and_maps_every_lesson():
    start = _text(ROOT / "notebooks" / "00_start_here.ipynb")
    for number in ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]:
        assert re.search(rf"\b{number}\b", start), number


@pytest.mark.parametrize("name", TAUGHT)
def test_lesson_has_its_parts(name):
    nb = ROOT / "notebooks" / f"{name}.ipynb"
    md = _text(nb, "markdown").lower()
    code = _text(nb, "code")
    assert "learning goals" in md or "you will be able to" in md
    assert "summary" in md
    assert f"exercises/{name}.ipynb" in _text(nb)
    assert "tm.widgets." in code, "the lesson shows its calculator"
    assert "$" in md, "equations in LaTeX"
    assert re.search(r"(et al\.|paper|model card|table)", md), "figures are cited"


@pytest.mark.parametrize("name", TAUGHT)
def test_exercises_and_solutions_are_paired(name):
    assert (ROOT / "solutions" / f"{name}.ipynb").exists()
    assert (ROOT / "exercises" / f"{name}.ipynb").exists()


@pytest.mark.parametrize("name", TAUGHT)
def test_answer_key_complete(name):
    assert name in lessons()
    questions = questions_for(name)
    assert len(questions) >= 8
    solution = _text(ROOT / "solutions" / f"{name}.ipynb", "code")
    for q in questions:
        value = q.expected_value()
        if isinstance(value, float):
            assert math.isfinite(value), q.id
        assert q.hint, f"{q.id} has no hint"
        assert re.search(rf'check\("{re.escape(q.id)}"', solution), f"{q.id} never checked"


@pytest.mark.parametrize("name", TAUGHT)
def test_solution_cells_hold_their_check(name):
    for cell in _cells(ROOT / "solutions" / f"{name}.ipynb"):
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in src:
            assert "check(" in src.split("### END SOLUTION")[-1]


def test_every_calculator_builds_with_no_arguments():
    from trainmath.widgets import CALCULATORS
    from trainmath.widgets.contract import check_registered

    assert CALCULATORS, "no calculators registered"
    for key, cls in CALCULATORS.items():
        check_registered(cls(), key)
