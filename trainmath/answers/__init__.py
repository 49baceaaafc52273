"""Answer keys for the exercise questions, one module per lesson.

A lesson ``NN_name`` (for example ``01_compute``) keeps its key in
``trainmath/answers/lNN_name.py``, which defines ``QUESTIONS: list[Question]``.
Question ids are ``"NN.k"``: the number before the dot is the lesson number, so
``"01.3"`` belongs to lesson ``01_compute``. Key modules are imported lazily, the
first time one of their questions is needed, so that expected values may be computed
with library functions without slowing down ``import trainmath``.

Keys that do not live in this package (the tests' demo lesson, say) can be added
with :func:`register`.

Examples
--------
>>> from trainmath.answers import Question, register, questions_for
>>> register("98_example", [Question("98.1", "Two plus two", 4)])
>>> [q.id for q in questions_for("98_example")]
['98.1']
"""

from __future__ import annotations

import importlib
import math
import numbers
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Expected",
    "Question",
    "register",
    "questions_for",
    "lesson_of",
    "question",
    "lessons",
]

#: What ``Question.expected`` may be: a value, or a zero-argument callable returning one.
Expected = float | int | str | bool | Callable[[], float | int | str | bool]

_LESSON_RE = re.compile(r"^(\d{2})_[A-Za-z0-9_]+$")
_ID_RE = re.compile(r"^(\d{2})\.[A-Za-z0-9_]+$")
_PACKAGE_DIR = Path(__file__).resolve().parent

# lesson name -> its questions, in the order of the key module.
_REGISTRY: dict[str, tuple[Question, ...]] = {}


@dataclass(frozen=True)
class Question:
    """One checked question of a lesson.

    Parameters
    ----------
    id : str
        ``"NN.k"``, where ``NN`` is the two-digit lesson number, e.g. ``"01.3"``.
    title : str
        Short description, shown by the grader.
    expected : float, int, str, bool or callable
        The right answer, or a zero-argument callable returning it. Callables are
        evaluated only when an answer is checked (see :meth:`expected_value`).
    unit : str
        Unit the answer is wanted in (``"FLOP"``, ``"GiB"``, ``"h"``, ...); ``""``
        for dimensionless numbers, strings and booleans.
    rtol, atol : float
        Relative and absolute tolerance for numeric answers.
    hint : str
        Shown when the answer is wrong; must not give the answer away.
    points : int
        Points for a correct answer.
    """

    id: str
    title: str
    expected: Expected
    unit: str = ""
    rtol: float = 0.02
    atol: float = 0.0
    hint: str = ""
    points: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise ValueError(f"id must look like 'NN.k' (e.g. '01.3'), got {self.id!r}")
        for name in ("title", "unit", "hint"):
            if not isinstance(getattr(self, name), str):
                value = getattr(self, name)
                raise TypeError(f"{name} must be a str, got {type(value).__name__} ({value!r})")
        if not callable(self.expected):
            _validate_expected(self.id, self.expected)
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if isinstance(self.points, bool) or not isinstance(self.points, numbers.Integral):
            raise TypeError(f"points must be an int, got {type(self.points).__name__}")
        if self.points < 1:
            raise ValueError(f"points must be >= 1, got {self.points!r}")

    @property
    def lesson_number(self) -> str:
        """The two-digit lesson number, ``"01"`` for ``"01.3"``."""
        return self.id.split(".", 1)[0]

    def expected_value(self) -> float | int | str | bool:
        """The expected answer, calling ``expected`` first if it is a callable.

        Raises
        ------
        TypeError
            If the callable returns something other than a number, str or bool.
        """
        value = self.expected() if callable(self.expected) else self.expected
        return _validate_expected(self.id, value)


def _validate_expected(qid: str, value: object) -> float | int | str | bool:
    """Return ``value`` as a plain Python answer, or raise: a bad key is a course bug."""
    if isinstance(value, (bool, str)):
        return value
    # numpy scalars are numbers.Real (np.bool_ is not, but has .item()).
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
        if isinstance(value, bool):
            return value
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise ValueError(f"expected value of {qid} must be finite, got {value!r}")
        return value if isinstance(value, int) else float(value)
    raise TypeError(
        f"expected value of {qid} must be a number, str or bool (or a callable returning one), "
        f"got {type(value).__name__} ({value!r})"
    )


def _check_lesson_name(lesson: object) -> str:
    if not isinstance(lesson, str):
        raise TypeError(f"lesson must be a str like '01_compute', got {type(lesson).__name__}")
    if not _LESSON_RE.match(lesson):
        raise ValueError(f"lesson must look like 'NN_name' (e.g. '01_compute'), got {lesson!r}")
    return lesson


def register(lesson: str, questions: Iterable[Question]) -> None:
    """Add (or replace) the answer key of ``lesson``.

    Parameters
    ----------
    lesson : str
        Lesson name ``"NN_name"``, e.g. ``"01_compute"``.
    questions : iterable of Question
        Its questions; every id must start with ``NN.`` and ids must be unique.

    Raises
    ------
    ValueError
        On a malformed lesson name, duplicate ids, ids of another lesson, or when a
        different lesson with the same number is already registered.
    TypeError
        If an item is not a :class:`Question`.
    """
    _check_lesson_name(lesson)
    number = lesson[:2]
    questions = tuple(questions)
    if not questions:
        raise ValueError(f"questions of lesson {lesson!r} must not be empty")
    seen: set[str] = set()
    for q in questions:
        if not isinstance(q, Question):
            raise TypeError(f"questions must be Question objects, got {type(q).__name__}")
        if q.lesson_number != number:
            raise ValueError(f"question id {q.id!r} does not belong to lesson {lesson!r}")
        if q.id in seen:
            raise ValueError(f"duplicate question id {q.id!r} in lesson {lesson!r}")
        seen.add(q.id)
    clash = [name for name in _REGISTRY if name[:2] == number and name != lesson]
    if clash:
        raise ValueError(f"lesson number {number} is already used by lesson {clash[0]!r}")
    _REGISTRY[lesson] = questions


def _modules_on_disk(number: str = "??") -> list[str]:
    """Lesson names with a key module ``lNN_name.py`` in this package."""
    return sorted(p.stem[1:] for p in _PACKAGE_DIR.glob(f"l{number}_*.py"))


def lessons() -> list[str]:
    """All lesson names that have an answer key (registered or in this package)."""
    return sorted(set(_REGISTRY) | set(_modules_on_disk()))


def questions_for(lesson: str) -> list[Question]:
    """The questions of ``lesson``, importing its key module on first use.

    Raises
    ------
    ValueError
        If the lesson has no answer key; the message lists the lessons that do.
    """
    _check_lesson_name(lesson)
    if lesson not in _REGISTRY:
        if not (_PACKAGE_DIR / f"l{lesson}.py").is_file():
            valid = ", ".join(lessons()) or "(none)"
            raise ValueError(f"no answer key for lesson {lesson!r}; valid lessons: {valid}")
        module = importlib.import_module(f"{__name__}.l{lesson}")
        if not hasattr(module, "QUESTIONS"):
            raise ValueError(f"answer module {module.__name__} does not define QUESTIONS")
        if lesson not in _REGISTRY:  # the module may have registered itself
            register(lesson, module.QUESTIONS)
    return list(_REGISTRY[lesson])


def lesson_of(qid: str) -> str:
    """The lesson that question ``qid`` belongs to, e.g. ``"01_compute"`` for ``"01.3"``.

    Raises
    ------
    ValueError
        If no lesson has that number (the message lists the lessons that exist) or
        if two key modules share it.
    """
    if not isinstance(qid, str):
        raise TypeError(f"question id must be a str like '01.3', got {type(qid).__name__}")
    match = _ID_RE.match(qid)
    if not match:
        raise ValueError(f"question id must look like 'NN.k' (e.g. '01.3'), got {qid!r}")
    number = match.group(1)
    candidates = sorted(
        {name for name in _REGISTRY if name[:2] == number} | set(_modules_on_disk(number))
    )
    if not candidates:
        valid = ", ".join(lessons()) or "(none)"
        raise ValueError(f"no lesson numbered {number} for question id {qid!r}; lessons: {valid}")
    if len(candidates) > 1:
        raise ValueError(f"lesson number {number} is ambiguous: {', '.join(candidates)}")
    return candidates[0]


def question(qid: str) -> Question:
    """The :class:`Question` with id ``qid``.

    Raises
    ------
    ValueError
        If there is no such question; the message lists the lesson's valid ids.
    """
    lesson = lesson_of(qid)
    for q in questions_for(lesson):
        if q.id == qid:
            return q
    valid = ", ".join(q.id for q in questions_for(lesson))
    raise ValueError(f"unknown question id {qid!r}; lesson {lesson} has: {valid}")
