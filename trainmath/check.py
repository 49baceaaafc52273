"""Check a learner's answer against the answer key: ``check("01.3", answer)``.

:func:`check` prints exactly one line (and returns None, so a cell shows only that line):

* ``✅ 01.3 correct: 3.15e+23 FLOP (1/1 point)``
* ``❌ 01.3 not correct: 2.9e+23 FLOP is off by more than the 2% tolerance. Hint: ... (0/1 point)``
* ``❌ 01.3 units slip: 3.15e+08 FLOP looks like PFLOP where FLOP is wanted ... (0/1 point)``
* ``❌ 01.3 no answer: got None ... (0/1 point)`` and similar lines for answers of the
  wrong type or that are not finite.

A fail line never shows the expected value. Hints come in two levels: the first wrong
answer to a question shows its *nudge* (which idea or lesson section), later ones its
*hint* (the formula); neither gives the number. Before calling a number wrong, the answer
is tested for the usual units slips (GB vs GiB, seconds vs hours, bits vs bytes, percent vs
fraction, SI prefixes, ...), each in the direction that fits the unit asked for; a slip
still scores 0, but the line names it.

Variants: an exercise notebook states its variant in its setup cell, ``use_variant(7)``.
From then on :func:`inputs` returns that variant's numbers for a question and
:func:`check` judges against that variant's key.

``check`` is feedback for the learner and nothing more: ``python -m trainmath.grade`` reads
each answer back from the kernel and judges it in its own process with its own copy of the
key, so nothing a notebook does to ``check`` can change a score.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from trainmath.answers import Question, check_variant, question

__all__ = [
    "check",
    "evaluate",
    "inputs",
    "use_variant",
    "current_variant",
    "agree",
    "grade",
    "Result",
    "UNITS_SLIPS",
]

# The variant this process's notebook works on, and wrong answers so far per question
# (for the two-level hints).
_state: dict[str, int] = {"variant": 0}
_misses: dict[tuple[int, str], int] = {}

PASS_MARK = "✅"
FAIL_MARK = "❌"

# Rounding an answer to k >= 2 significant figures is accepted, but never with more slack
# than this multiple of the question's rtol (so tight questions still want precise answers).
_ROUNDING_CAP = 2.5


@dataclass(frozen=True)
class _Slip:
    """A known unit confusion: the answer is ``factor`` times too large (or too small).

    Each direction is named only where it fits the unit the question wants:
    ``large_if(unit)`` says whether an answer ``factor`` times too large is this slip (for
    "GB vs GiB": GiB is wanted and the learner gave GB), ``small_if(unit)`` the same for an
    answer ``factor`` times too small.
    """

    name: str
    factor: float
    too_large: str  # what the learner probably did when answer / expected == factor
    too_small: str  # ... and when answer / expected == 1 / factor
    large_if: Callable[[str], bool] = field(default=lambda unit: True)
    small_if: Callable[[str], bool] = field(default=lambda unit: True)


def _words(unit: str) -> list[str]:
    return re.split(r"[\s/·*-]+", unit.strip())


def _wants_bytes(unit: str) -> bool:
    return bool(re.search(r"(\b[kKMGTP]i?B\b|\bB\b|byte)", unit))


def _wants_bits(unit: str) -> bool:
    return bool(re.search(r"\bbits?\b", unit))


def _wants_days(unit: str) -> bool:
    return any(w in ("day", "days", "d") for w in _words(unit)) and "FLOP" not in unit


def _wants_hours(unit: str) -> bool:
    return any(w in ("h", "hour", "hours") for w in _words(unit))


def _wants_seconds(unit: str) -> bool:
    return unit.strip() in ("s", "seconds", "second", "sec")


def _wants_pflop_days(unit: str) -> bool:
    return "PFLOP" in unit and "day" in unit


def _wants_flop(unit: str) -> bool:
    return unit.strip() in ("FLOP", "FLOPs")


def _wants_fraction(unit: str) -> bool:
    return unit.strip() in ("", "fraction")


def _wants_percent(unit: str) -> bool:
    return unit.strip() in ("%", "percent")


_SI = [("k", "kilo"), ("M", "mega"), ("G", "giga"), ("T", "tera"), ("P", "peta")]

#: Unit confusions that :func:`check` recognises, most specific first.
UNITS_SLIPS: tuple[_Slip, ...] = (
    # decimal vs binary byte multiples: GB vs GiB, MB vs MiB, TB vs TiB
    *(
        _Slip(
            f"{dec} vs {bin_}",
            2 ** (10 * k) / 10 ** (3 * k),
            f"looks like {dec} (10^{3 * k} B) where {bin_} (2^{10 * k} B) is wanted",
            f"looks like {bin_} (2^{10 * k} B) where {dec} (10^{3 * k} B) is wanted",
            large_if=lambda unit, bin_=bin_: bin_ in unit,
            small_if=lambda unit, dec=dec: bool(re.search(rf"\b{dec}\b", unit)),
        )
        for dec, bin_, k in (("GB", "GiB", 3), ("MB", "MiB", 2), ("TB", "TiB", 4))
    ),
    _Slip(
        "FLOP vs PFLOP/s-day",
        8.64e19,
        "looks like FLOP where PFLOP/s-days are wanted (1 PFLOP/s-day = 8.64e19 FLOP)",
        "looks like PFLOP/s-days where FLOP are wanted (1 PFLOP/s-day = 8.64e19 FLOP)",
        large_if=_wants_pflop_days,
        small_if=_wants_flop,
    ),
    _Slip(
        "seconds vs days",
        86400.0,
        "looks like seconds where days are wanted (1 day = 86400 s)",
        "looks like days where seconds are wanted (1 day = 86400 s)",
        large_if=_wants_days,
        small_if=_wants_seconds,
    ),
    _Slip(
        "seconds vs hours",
        3600.0,
        "looks like seconds where hours are wanted (1 h = 3600 s)",
        "looks like hours where seconds are wanted (1 h = 3600 s)",
        large_if=_wants_hours,
        small_if=_wants_seconds,
    ),
    _Slip(
        "hours vs days",
        24.0,
        "looks like hours where days are wanted (1 day = 24 h)",
        "looks like days where hours are wanted (1 day = 24 h)",
        large_if=_wants_days,
        small_if=_wants_hours,
    ),
    _Slip(
        "bits vs bytes",
        8.0,
        "looks like bits where bytes are wanted (1 B = 8 bit)",
        "looks like bytes where bits are wanted (1 B = 8 bit)",
        # a factor of 8 on an answer that is neither bits nor bytes is no units slip
        large_if=_wants_bytes,
        small_if=_wants_bits,
    ),
    _Slip(
        "percent vs fraction",
        100.0,
        "looks like a percentage where a fraction is wanted (write 0.4, not 40)",
        "looks like a fraction where a percentage is wanted (write 40, not 0.4)",
        large_if=_wants_fraction,
        small_if=_wants_percent,
    ),
    *(
        _Slip(
            f"SI prefix {symbol} ({name})",
            1000.0**power,
            f"is 10^{3 * power} ({symbol}, {name}) times too large: an SI-prefix slip",
            f"is 10^{3 * power} ({symbol}, {name}) times too small: an SI-prefix slip",
        )
        for power, (symbol, name) in enumerate(_SI, start=1)
    ),
)


@dataclass(frozen=True)
class Result:
    """The verdict on one answer.

    Attributes
    ----------
    qid : str
        Question id.
    passed : bool
        Whether the answer is correct.
    points, max_points : int
        Points scored (``max_points`` when passed, else 0) and available.
    line : str
        The one line that :func:`check` prints.
    slip : str or None
        Name of the detected units slip (e.g. ``"bits vs bytes"``), if any.
    """

    qid: str
    passed: bool
    points: int
    max_points: int
    line: str
    slip: str | None = None


def use_variant(variant: int) -> None:
    """Work on ``variant`` from now on: :func:`inputs` and :func:`check` follow it.

    Exercise notebooks call this once, in their setup cell; variant 0 is the one the course
    ships. ``python -m trainmath.exercises --variant SEED`` writes notebooks of another.
    """
    variant = check_variant(variant)
    if variant != _state["variant"]:
        _misses.clear()
    _state["variant"] = variant


def current_variant() -> int:
    """The variant set by :func:`use_variant` (0 until it is called)."""
    return _state["variant"]


def inputs(qid: str) -> tuple:
    """The numbers of question ``qid`` in this notebook's variant, as a named tuple.

    It unpacks in the order the question lists them, so an answer cell can start with
    ``m, k, n = inputs("01.1")``; ``inputs("01.1").m`` works too.

    Raises
    ------
    ValueError
        If ``qid`` is not a question of the course.
    """
    return question(qid).inputs_for(_state["variant"])


def agree(mine: float, library: float, rtol: float = 1e-6, what: str = "the library") -> None:
    """Print that a hand computation agrees with the library, or raise if it does not.

    Solutions compute an answer by hand first and then call this with the library's value,
    so the arithmetic and the function are checked against each other.

    Raises
    ------
    AssertionError
        If ``mine`` and ``library`` differ by more than ``rtol`` (relative).
    """
    a, b = float(mine), float(library)
    if not math.isclose(a, b, rel_tol=rtol, abs_tol=0.0):
        raise AssertionError(f"by hand {a:.6g} but {what} gives {b:.6g}")
    print(f"agrees with {what}: {b:.6g}")


def check(qid: str, answer: object) -> None:
    """Check ``answer`` to question ``qid`` and print one verdict line.

    Parameters
    ----------
    qid : str
        Question id such as ``"01.3"``.
    answer : object
        The learner's answer: a number (Python or numpy scalar, or a 0-d array), a str,
        or a bool, depending on the question. Bad answers (``None``, NaN, a str where a
        number is wanted, ...) give a fail line; they never raise.

    Returns
    -------
    None
        Nothing, so that a notebook cell ending in ``check(...)`` shows only the verdict
        line (a returned bool would add an ``Out:`` that nbval compares). Use
        :func:`evaluate` for a programmatic verdict.

    Raises
    ------
    ValueError
        If ``qid`` is not a question of the course (a bug in the notebook, not in the
        learner's answer).
    """
    variant = _state["variant"]
    key = (variant, qid)
    result = evaluate(qid, answer, variant=variant, attempt=_misses.get(key, 0) + 1)
    if not result.passed:
        _misses[key] = _misses.get(key, 0) + 1
    print(result.line)


def grade(qid: str, answer: object) -> None:
    """nbgrader's test of question ``qid``: silent when ``answer`` is right, else it raises.

    The solution notebooks are nbgrader source notebooks; after each answer cell a locked
    test cell calls this, so ``nbgrader autograde`` scores with the same key as ``check``.

    Raises
    ------
    AssertionError
        With the learner-facing line of :func:`check` (never the expected value), when the
        answer is wrong in this notebook's variant.
    """
    result = evaluate(qid, answer, variant=_state["variant"], attempt=1)
    if not result.passed:
        raise AssertionError(result.line)


def evaluate(qid: str, answer: object, variant: int = 0, attempt: int = 2) -> Result:
    """Judge ``answer`` to ``qid`` in ``variant`` without printing or recording anything.

    ``attempt`` picks the hint level of a wrong answer: the nudge on the first attempt,
    the formula hint from the second on.
    """
    q = question(qid)
    expected = q.expected_value(variant)
    if isinstance(expected, bool):
        passed, reason, slip = _judge_bool(expected, answer)
    elif isinstance(expected, str):
        passed, reason, slip = _judge_str(expected, answer)
    else:
        passed, reason, slip = _judge_number(q, float(expected), answer)
    hint = q.nudge if attempt <= 1 and q.nudge else q.hint
    if not passed and reason.startswith("not correct") and hint:
        reason = f"{reason} Hint: {hint}"
    points = q.points if passed else 0
    noun = "point" if q.points == 1 else "points"
    score = f"({points}/{q.points} {noun})"
    if passed:
        line = f"{PASS_MARK} {q.id} correct: {_show(answer, q.unit)} {score}"
    else:
        line = f"{FAIL_MARK} {q.id} {reason} {score}"
    return Result(q.id, passed, points, q.points, " ".join(line.split()), slip)


# --- judging -------------------------------------------------------------------------------

_Verdict = tuple[bool, str, "str | None"]


def _judge_bool(expected: bool, answer: object) -> _Verdict:
    if answer is None:
        return False, _NO_ANSWER, None
    if not isinstance(answer, (bool, np.bool_)):
        return False, f"wrong type: expected True or False, got {_describe(answer)}.", None
    if bool(answer) == expected:
        return True, "", None
    return False, f"not correct: {bool(answer)}.", None


def _judge_str(expected: str, answer: object) -> _Verdict:
    if answer is None:
        return False, _NO_ANSWER, None
    if not isinstance(answer, str):
        return False, f"wrong type: expected text (a str), got {_describe(answer)}.", None
    if answer.strip().casefold() == expected.strip().casefold():
        return True, "", None
    return False, f"not correct: {_show(answer, '')}.", None


_NO_ANSWER = "no answer: got None (did you forget to assign or return your result?)."


def _as_number(answer: object, wanted: str) -> float | int | str:
    """The answer as a Python int/float, or a fail reason saying why it is not a number."""
    if answer is None:
        return _NO_ANSWER
    if isinstance(answer, np.ndarray):
        if answer.ndim != 0:
            return f"wrong type: expected {wanted}, got an array of shape {answer.shape}."
        answer = answer[()]
    if isinstance(answer, np.generic):
        answer = answer.item()  # numpy scalar -> Python scalar (np.bool_ -> bool)
    if isinstance(answer, bool):
        return f"wrong type: expected {wanted}, got a bool ({answer})."
    if isinstance(answer, numbers.Integral):
        return int(answer)
    if isinstance(answer, (numbers.Real, Decimal)):
        try:
            return float(answer)
        except OverflowError:
            return "not a valid answer: the number is too large for a float."
    return f"wrong type: expected {wanted}, got {_describe(answer)}."


def _judge_number(q: Question, expected: float, answer: object) -> _Verdict:
    value = _as_number(answer, f"a number (in {q.unit})" if q.unit else "a number")
    if isinstance(value, str):
        return False, value, None
    try:
        x = float(value)
    except OverflowError:
        return False, "not a valid answer: the number is too large for a float.", None
    if not math.isfinite(x):
        return False, f"not a valid answer: got {x}; the answer must be a finite number.", None
    slack = _rounding_slack(value)
    if _close(x, expected, q, slack):
        return True, "", None
    if x != 0 and expected != 0:
        for slip in UNITS_SLIPS:
            for ratio, what, fits in (
                (slip.factor, slip.too_large, slip.large_if),
                (1 / slip.factor, slip.too_small, slip.small_if),
            ):
                if fits(q.unit) and _close(x / ratio, expected, q, slack):
                    want = f" Give the answer in {q.unit}." if q.unit else ""
                    return False, f"units slip: {_show(value, '')} {what}.{want}", slip.name
    return False, f"not correct: {_show(value, q.unit)} {_miss(q)}.", None


def _close(x: float, expected: float, q: Question, slack: float) -> bool:
    """Within ``atol + rtol*|expected|``; for rounded answers, within ``slack*|x|``.

    ``slack`` is the relative rounding slack of the learner's answer (see
    :func:`_rounding_slack`); it scales with ``x`` so that it also applies to an answer
    corrected for a units slip.
    """
    rounding = min(slack * abs(x), _ROUNDING_CAP * q.rtol * abs(expected))
    return abs(x - expected) <= (q.atol + max(q.rtol * abs(expected), rounding)) * (1 + 1e-9)


def _rounding_slack(value: float | int) -> float:
    """Relative half-unit in the last significant digit of ``value``, if it has k >= 2 digits.

    An answer written as 1.1e23 (two significant figures) is accepted for an expected
    1.05e23, even though that is 4.8% off, because it is the correctly rounded value.
    One significant figure is too coarse to count; :func:`_close` caps the slack at
    ``_ROUNDING_CAP * rtol`` so that questions with a tight tolerance want precise answers.
    """
    if value == 0:
        return 0.0
    digits = Decimal(value if isinstance(value, int) else repr(value)).normalize().as_tuple()
    if len(digits.digits) < 2 or not isinstance(digits.exponent, int):
        return 0.0
    return 0.5 * 10.0**digits.exponent / abs(float(value))


def _miss(q: Question) -> str:
    """How a wrong number missed, without giving the expected value away."""
    unit = f" {q.unit}" if q.unit else ""
    if q.rtol > 0 and q.atol > 0:
        return f"is off by more than the {q.rtol * 100:.3g}% + {q.atol:g}{unit} tolerance"
    if q.rtol > 0:
        return f"is off by more than the {q.rtol * 100:.3g}% tolerance"
    if q.atol > 0:
        return f"is off by more than the ±{q.atol:g}{unit} tolerance"
    return "is not exact (an exact answer is wanted)"


# --- formatting ----------------------------------------------------------------------------


def _show(answer: object, unit: str) -> str:
    """Short display of an answer, with the question's unit for numbers."""
    if isinstance(answer, (np.ndarray, np.generic)) and np.ndim(answer) == 0:
        answer = answer.item() if isinstance(answer, np.generic) else answer[()].item()
    if isinstance(answer, str):
        text = answer if len(answer) <= 60 else answer[:57] + "..."
        return repr(text)
    if isinstance(answer, bool):
        return str(answer)
    if isinstance(answer, numbers.Integral) and abs(int(answer)) < 10**6:
        text = str(int(answer))
    elif isinstance(answer, (numbers.Real, Decimal)):
        x = float(answer)
        text = f"{x:.6g}" if 1e-3 <= abs(x) < 1e6 or x == 0 else f"{x:.4g}"
    else:
        text = _describe(answer)
    return f"{text} {unit}" if unit else text


def _describe(answer: object) -> str:
    """``type (repr)`` of a wrong-type answer, shortened to keep the line short."""
    text = repr(answer)
    if len(text) > 40:
        text = text[:37] + "..."
    if isinstance(answer, np.ndarray):
        return f"an array of shape {answer.shape}"
    return f"{type(answer).__name__} ({text})"
