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

import collections
import importlib
import inspect
import math
import numbers
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "Expected",
    "Question",
    "KINDS",
    "check_variant",
    "render",
    "sig",
    "log_uniform",
    "register",
    "questions_for",
    "lesson_of",
    "question",
    "lessons",
]

#: What ``Question.expected`` may be: a value, or a callable of the question's inputs
#: (as keyword arguments) returning one.
Expected = float | int | str | bool | Callable[..., float | int | str | bool]

#: What a question asks of the learner. At most two "recall" questions per lesson may ask
#: for a value the lesson states; every other kind must use inputs the lesson does not work.
KINDS = ("recall", "apply", "units", "find the error", "estimate", "concept")

#: An input value: a number, a str (a preset name, a format), or a bool.
InputValue = int | float | str | bool

# A draw that keeps returning the defaults is retried this often before we give up on
# changing the question (a draw with a single choice, say).
_REDRAWS = 32

_LESSON_RE = re.compile(r"^(\d{2})_[A-Za-z0-9_]+$")
_ID_RE = re.compile(r"^(\d{2})\.[A-Za-z0-9_]+$")
_PACKAGE_DIR = Path(__file__).resolve().parent

# lesson name -> its questions, in the order of the key module.
_REGISTRY: dict[str, tuple[Question, ...]] = {}


@dataclass(frozen=True)
class Question:
    """One checked question of a lesson, with the inputs that make its variants.

    Parameters
    ----------
    id : str
        ``"NN.k"``, where ``NN`` is the two-digit lesson number, e.g. ``"01.3"``.
    title : str
        Short name of the question, shown as its heading and by the grader. A template
        (see :func:`render`), so it may name inputs; it must not give the answer away.
    expected : float, int, str, bool or callable
        The right answer, or a callable that computes it from the question's inputs,
        passed as keyword arguments (``lambda m, k, n: 4 * m * k * n``). Callables are
        evaluated only when an answer is checked (see :meth:`expected_value`).
    unit : str
        Unit the answer is wanted in (``"FLOP"``, ``"GiB"``, ``"h"``, ...); ``""``
        for dimensionless numbers, strings and booleans.
    rtol, atol : float
        Relative and absolute tolerance for numeric answers.
    hint : str
        The second-level hint, shown from the second wrong answer on: the formula or the
        method, never the number.
    points : int
        Points for a correct answer.
    nudge : str
        The first-level hint, shown after the first wrong answer: which idea or lesson
        section to look at. When empty, the first wrong answer already shows ``hint``.
    kind : str
        One of :data:`KINDS`.
    text : str
        The question as the notebook shows it (Markdown with LaTeX), a template of the
        inputs. The notebook's question cell is rendered from it, for every variant.
    discussion : str
        Optional Markdown template of a cell that follows the answer cell (for example the
        worked explanation of a find-the-error question, inside solution markers).
    inputs : mapping of str to int, float, str or bool
        The question's inputs with the values that the shipped notebooks use (variant 0),
        in the order in which ``inputs(qid)`` unpacks them.
    draw : callable, optional
        ``draw(rng) -> dict`` with the same keys as ``inputs``: new inputs for a variant,
        drawn with the :class:`random.Random` it is given (from real presets and sensible
        ranges). Without it every variant uses the defaults.
    """

    id: str
    title: str
    expected: Expected
    unit: str = ""
    rtol: float = 0.02
    atol: float = 0.0
    hint: str = ""
    points: int = 1
    nudge: str = ""
    kind: str = "apply"
    text: str = ""
    discussion: str = ""
    inputs: Mapping[str, InputValue] = field(default_factory=dict)
    draw: Callable[[random.Random], Mapping[str, InputValue]] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise ValueError(f"id must look like 'NN.k' (e.g. '01.3'), got {self.id!r}")
        for name in ("title", "unit", "hint", "nudge", "kind", "text", "discussion"):
            if not isinstance(getattr(self, name), str):
                value = getattr(self, name)
                raise TypeError(f"{name} must be a str, got {type(value).__name__} ({value!r})")
        if self.kind not in KINDS:
            raise ValueError(f"kind of {self.id} must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.inputs, Mapping):
            raise TypeError(f"inputs of {self.id} must be a mapping of name to value")
        for name, value in self.inputs.items():
            _check_input(self.id, name, value)
        # Frozen and read-only: a key is shared by every notebook in the process.
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))
        if self.draw is not None and not callable(self.draw):
            raise TypeError(f"draw of {self.id} must be a callable draw(rng) -> dict or None")
        if self.draw is not None and not self.inputs:
            raise ValueError(f"{self.id} has a draw but no inputs to draw")
        if not callable(self.expected):
            if self.inputs:
                raise TypeError(f"expected of {self.id} must be a callable of its inputs")
            _validate_expected(self.id, self.expected)
        else:
            _check_signature(self.id, self.expected, tuple(self.inputs))
        for name in ("title", "text", "discussion"):
            _placeholders_known(self.id, name, getattr(self, name), self.inputs)
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

    def inputs_for(self, variant: int = 0) -> tuple:
        """The inputs of ``variant`` as a named tuple (unpacks in declaration order).

        Variant 0 is the defaults. Any other variant calls ``draw`` with a
        :class:`random.Random` seeded by the variant and the question id, so the same
        variant always gives the same inputs, and redraws (a bounded number of times) until
        the inputs differ from the defaults.
        """
        variant = check_variant(variant)
        values = dict(self.inputs)
        if variant and self.draw is not None:
            rng = random.Random(f"trainmath:{variant}:{self.id}")
            for _ in range(_REDRAWS):
                drawn = self.draw(rng)
                if not isinstance(drawn, Mapping) or set(drawn) != set(self.inputs):
                    got = sorted(drawn) if isinstance(drawn, Mapping) else type(drawn).__name__
                    raise ValueError(
                        f"draw of {self.id} must return the keys {sorted(self.inputs)}, got {got}"
                    )
                for name, value in drawn.items():
                    _check_input(self.id, name, value)
                if dict(drawn) != values:
                    values = {name: drawn[name] for name in self.inputs}
                    break
        return _inputs_type(self.id, tuple(self.inputs))(**values)

    def expected_value(self, variant: int = 0) -> float | int | str | bool:
        """The expected answer for ``variant``, from ``expected`` and that variant's inputs.

        Raises
        ------
        TypeError
            If the callable returns something other than a number, str or bool.
        """
        if not callable(self.expected):
            return _validate_expected(self.id, self.expected)
        return _validate_expected(self.id, self.expected(**self.inputs_for(variant)._asdict()))

    def heading(self, variant: int = 0) -> str:
        """The Markdown heading of the question: ``### 01.3 — Title (kind)``."""
        return f"### {self.id} — {render(self.title, self.inputs_for(variant))} ({self.kind})"


def _check_input(qid: str, name: object, value: object) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"input names of {qid} must be Python identifiers, got {name!r}")
    ok = isinstance(value, (bool, str)) or (
        isinstance(value, numbers.Real) and type(value).__module__ == "builtins"
    )
    if not ok:
        raise TypeError(
            f"input {name!r} of {qid} must be a plain int, float, str or bool, "
            f"got {type(value).__name__} ({value!r})"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"input {name!r} of {qid} must be finite, got {value!r}")


def _check_signature(qid: str, func: Callable[..., Any], names: tuple[str, ...]) -> None:
    """``expected`` must accept exactly the inputs as keyword arguments."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return
    try:
        signature.bind(**dict.fromkeys(names))
    except TypeError as exc:
        raise TypeError(
            f"expected of {qid} must take its inputs {list(names)} as keyword arguments: {exc}"
        ) from None


_INPUT_TYPES: dict[tuple[str, tuple[str, ...]], type] = {}


def _inputs_type(qid: str, names: tuple[str, ...]) -> type:
    key = (qid, names)
    if key not in _INPUT_TYPES:
        _INPUT_TYPES[key] = collections.namedtuple("Inputs", names)  # type: ignore[misc]
    return _INPUT_TYPES[key]


def check_variant(variant: object) -> int:
    """``variant`` as an int >= 0, or a clear error (variant numbers are seeds)."""
    if isinstance(variant, bool) or not isinstance(variant, numbers.Integral):
        raise TypeError(f"variant must be an int >= 0, got {type(variant).__name__}")
    if variant < 0:
        raise ValueError(f"variant must be an int >= 0, got {variant!r}")
    return int(variant)


# --- templates ---------------------------------------------------------------------------------

# {{name}} or {{name:spec}}; spec is a Python format spec or a trainmath.fmt function name.
# Double braces keep LaTeX's single braces ($d_\text{ff}$, \frac{a}{b}) free to use.
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*(?::([^{}]*?))?\s*\}\}")
_FMT_SPECS = ("count", "si", "flops", "flop_rate", "bytes_", "duration", "percent", "money")


def render(template: str, inputs: Any) -> str:
    """Fill ``{{name}}`` and ``{{name:spec}}`` placeholders of ``template`` from ``inputs``.

    ``spec`` is a Python format spec (``{{m:,}}`` -> ``2,048``), ``tex`` for thousands
    grouped inside LaTeX math (``{{m:tex}}`` -> ``2{,}048``) or the name of a
    :mod:`trainmath.fmt` function (``{{N:count}}`` -> ``175B``). ``inputs`` is a mapping
    or the named tuple of :meth:`Question.inputs_for`.

    Examples
    --------
    >>> render("$m = {{m:,}}$ tokens of $d_\\text{model} = {{d}}$", {"m": 2048, "d": 512})
    '$m = 2,048$ tokens of $d_\\text{model} = 512$'
    """
    values = inputs._asdict() if hasattr(inputs, "_asdict") else dict(inputs)

    def fill(match: re.Match[str]) -> str:
        name, spec = match.group(1), (match.group(2) or "").strip()
        if name not in values:
            raise KeyError(f"template names {name!r}, which is not an input ({sorted(values)})")
        value = values[name]
        if spec in _FMT_SPECS:
            from trainmath import fmt

            return str(getattr(fmt, spec)(value))
        if spec == "tex":  # thousands grouped for LaTeX math: 16{,}384
            return format(value, ",").replace(",", "{,}")
        return format(value, spec)

    return _PLACEHOLDER.sub(fill, template)


def _placeholders_known(qid: str, field_name: str, template: str, inputs: Mapping) -> None:
    for match in _PLACEHOLDER.finditer(template):
        if match.group(1) not in inputs:
            raise ValueError(
                f"{field_name} of {qid} names {{{{{match.group(1)}}}}}, which is not one of its "
                f"inputs {sorted(inputs)}"
            )


# --- helpers for draws ---------------------------------------------------------------------


def sig(x: float, digits: int = 2) -> float | int:
    """``x`` rounded to ``digits`` significant figures (an int when it is whole).

    Draws use it so that a variant's numbers look like numbers a person would write.

    >>> sig(123456, 2), sig(0.0123456, 3)
    (120000, 0.0123)
    """
    if x == 0:
        return 0
    value = float(f"{x:.{digits - 1}e}")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def log_uniform(rng: random.Random, low: float, high: float, digits: int = 2) -> float | int:
    """A number between ``low`` and ``high``, uniform in log space, to ``digits`` figures."""
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low!r}, high={high!r}")
    return sig(math.exp(rng.uniform(math.log(low), math.log(high))), digits)


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
