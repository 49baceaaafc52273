"""Tests of trainmath.answers: questions, the registry of answer keys, rendering their text."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import trainmath.answers as answers
from trainmath.answers import Question, lesson_of, question, questions_for, register
from trainmath.check import evaluate

pytestmark = pytest.mark.usefixtures("answer_registry")  # the demo key, restored afterwards

# A lesson registered, then replaced by a shorter key.
KEY_98 = [Question("98.1", "A byte count", 1.0, unit="B"), Question("98.2", "A FLOP count", 2.0),
          Question("98.3", "Rounded", 3.0)]


# --- Question ---------------------------------------------------------------------------------


def test_question_defaults():
    q = Question("01.3", "t", 1.0)
    assert (q.unit, q.rtol, q.atol, q.hint, q.points) == ("", 0.02, 0.0, "", 1)
    assert q.lesson_number == "01"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"id": "1.3"}, ValueError, "id"),
        ({"id": "01-3"}, ValueError, "id"),
        ({"id": 13}, ValueError, "id"),
        ({"title": None}, TypeError, "title"),
        ({"unit": 1}, TypeError, "unit"),
        ({"expected": None}, TypeError, "expected"),
        ({"expected": [1, 2]}, TypeError, "expected"),
        ({"expected": float("nan")}, ValueError, "finite"),
        ({"rtol": -0.1}, ValueError, "rtol"),
        ({"atol": float("inf")}, ValueError, "atol"),
        ({"rtol": "2%"}, TypeError, "rtol"),
        ({"points": 0}, ValueError, "points"),
        ({"points": 1.5}, TypeError, "points"),
        ({"points": True}, TypeError, "points"),
    ],
)
def test_question_rejects_bad_fields(kwargs, error, match):
    fields = {"id": "01.1", "title": "t", "expected": 1.0} | kwargs
    with pytest.raises(error, match=match):
        Question(**fields)


def test_question_is_frozen():
    with pytest.raises(AttributeError):
        Question("01.1", "t", 1.0).points = 2  # type: ignore[misc]


def test_expected_callable_is_lazy_and_validated():
    calls = []
    q = Question("97.1", "t", lambda: calls.append(1) or 2.0)
    assert calls == []
    assert q.expected_value() == 2.0 and calls == [1]
    assert Question("97.1", "t", lambda: np.float32(2.5)).expected_value() == 2.5
    with pytest.raises(TypeError, match="97.1"):
        Question("97.1", "t", lambda: None).expected_value()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kind": "quiz"}, ValueError, "kind of 95.1 must be one of"),
        ({"inputs": {"m": [1, 2]}}, TypeError, "must be a plain int, float, str or bool"),
        ({"inputs": {"m": float("nan")}}, ValueError, "must be finite"),
        ({"inputs": {"2m": 1}}, ValueError, "identifiers"),
        ({"text": "{{missing}}"}, ValueError, "not one of its inputs"),
        ({"draw": 3}, TypeError, "draw of 95.1 must be a callable"),
        ({"expected": lambda other: 1}, TypeError, "must take its inputs"),
        ({"expected": 4.0}, TypeError, "must be a callable of its inputs"),
    ],
)
def test_bad_question_declarations_are_refused(kwargs, error, match):
    fields = {
        "expected": lambda m: 2 * m,
        "inputs": {"m": 3},
        "draw": lambda rng: {"m": rng.randint(4, 9)},
    }
    fields.update(kwargs)
    with pytest.raises(error, match=match):
        Question("95.1", "A question", **fields)


def test_a_draw_with_the_wrong_keys_is_reported():
    q = Question("95.1", "Q", lambda m: m, inputs={"m": 3}, draw=lambda rng: {"n": 4})
    with pytest.raises(ValueError, match=r"draw of 95.1 must return the keys \['m'\]"):
        q.inputs_for(1)


def test_render_fills_placeholders_and_formats():
    from trainmath.answers import render

    values = {"m": 16384, "N": 175e9, "x": 0.4}
    assert render("$m = {{m:tex}}$, {{m:,}}, {{N:count}}, {{x:.0%}}, {{ m }}", values) == (
        "$m = 16{,}384$, 16,384, 175B, 40%, 16384"
    )
    assert render("\\frac{a}{b} stays", values) == "\\frac{a}{b} stays"
    with pytest.raises(KeyError, match="not an input"):
        render("{{nope}}", values)


# --- the registry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lesson", "questions", "error", "match"),
    [
        ("1_x", [Question("01.1", "t", 1)], ValueError, "lesson"),
        (1, [Question("01.1", "t", 1)], TypeError, "lesson"),
        ("97_x", [], ValueError, "empty"),
        ("97_x", ["97.1"], TypeError, "Question"),
        ("97_x", [Question("96.1", "t", 1)], ValueError, "does not belong"),
        ("97_x", [Question("97.1", "t", 1), Question("97.1", "u", 2)], ValueError, "duplicate"),
        ("99_other", [Question("99.1", "t", 1)], ValueError, "already used"),
    ],
)
def test_register_rejects(lesson, questions, error, match):
    with pytest.raises(error, match=match):
        register(lesson, questions)


def test_register_replaces_and_lookups_work():
    register("98_checks", KEY_98)
    register("98_checks", KEY_98[:2])
    assert [q.id for q in questions_for("98_checks")] == ["98.1", "98.2"]
    assert lesson_of("99.3") == "99_demo"
    assert question("99.3").points == 2
    assert "99_demo" in answers.lessons()


def test_unknown_lessons_and_ids_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid lessons: .*99_demo"):
        questions_for("97_nothing")
    with pytest.raises(ValueError, match="lessons: .*99_demo"):
        lesson_of("97.1")
    with pytest.raises(ValueError, match="99.1, 99.2, 99.3, 99.4, 99.5"):
        question("99.9")
    with pytest.raises(ValueError, match="NN.k"):
        lesson_of("99")
    with pytest.raises(TypeError, match="question id"):
        lesson_of(99.1)


@pytest.fixture
def key_dir(tmp_path, monkeypatch):
    """Point the registry at a temporary folder of key modules."""
    monkeypatch.setattr(answers, "_PACKAGE_DIR", tmp_path)
    monkeypatch.setattr(answers, "__path__", [str(tmp_path)])
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("trainmath.answers.l97_")]:
        del sys.modules[name]


def test_key_modules_are_imported_lazily(key_dir):
    (key_dir / "l97_lazy.py").write_text(
        "from trainmath.answers import Question\n"
        "CALLS = []\n"
        "QUESTIONS = [Question('97.1', 'lazy', lambda: CALLS.append(1) or 42.0, unit='s')]\n"
    )
    assert lesson_of("97.1") == "97_lazy"
    assert "trainmath.answers.l97_lazy" not in sys.modules
    assert [q.id for q in questions_for("97_lazy")] == ["97.1"]
    module = sys.modules["trainmath.answers.l97_lazy"]
    assert module.CALLS == []  # the expected value is computed only when checked
    assert evaluate("97.1", 42.0).passed and module.CALLS == [1]
    assert "97_lazy" in answers.lessons()


def test_ambiguous_or_broken_key_modules(key_dir):
    (key_dir / "l97_a.py").write_text("QUESTIONS = []\n")
    (key_dir / "l97_b.py").write_text("QUESTIONS = []\n")
    with pytest.raises(ValueError, match="ambiguous"):
        lesson_of("97.1")
    (key_dir / "l96_nokey.py").write_text("X = 1\n")
    with pytest.raises(ValueError, match="QUESTIONS"):
        questions_for("96_nokey")
