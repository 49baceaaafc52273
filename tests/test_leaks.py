"""No exercise answer is printed where the learner reads before answering (issue 11).

For every lesson and for variant 0 and two other variants, each numeric question's expected
value is compared, within the question's own tolerance, with every number a learner reads
before answering: the lesson notebook's markdown and stored outputs, the exercise notebook of
that variant (every cell and output) and the question's title. Numbers are read the way a
person reads them: ``16.6 GB`` is both 16.6 and 16.6e9, ``11.7 %`` both 11.7 and 0.117,
``1,320 M`` 1.32e9, ``$8.64 \\times 10^{19}$`` 8.64e19, ``2^{30}`` 1073741824.

A question whose answer can be copied that way is "copyable". At most two per lesson may be,
at most 10 % of all numeric questions, and in the shipped variant only recall questions.

Run ``python tests/test_leaks.py [--lesson NN] [SEED ...]`` for the per-lesson report.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat
import pytest

from trainmath.answers import Question, questions_for, render
from trainmath.exercises import make_exercise

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
VARIANTS = (0, 1, 2)
MAX_PER_LESSON = 2
MAX_SHARE = 0.10

_SI = {
    "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Z": 1e21, "Y": 1e24,
}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+)"
    r"(?:[eE](?P<exp>[-+]?\d+))?"
    r"(?:\s*(?:\\times|×|\\cdot|·|x)\s*(?P<base>10|2)\s*\^\s*\{?\s*(?P<pow>[-+]?\d+)\s*\}?)?"
    r"(?:\^\s*\{?\s*(?P<pow2>[-+]?\d+)\s*\}?)?"
    r"(?P<space>[ \u00a0\u2009\u202f~]|\\,|\\ )?"
    r"(?P<suffix>\\%|%|percent|thousand|million|billion|trillion|"
    r"(?:Ki|Mi|Gi|Ti|Pi)(?=B)|[kKMGBTPEZY](?![a-z]))?"
)
# Citations and question ids are not numbers a learner would copy as an answer.
_CITATION = re.compile(
    r"\b(?:Tables?|Tab\.|Fig\.|Figs\.|Figure|Sec\.|Section|§|Eqs?\.|Equation|App\.|Appendix|"
    r"arXiv:?|version|v)\s*[A-Z]?\d+(?:\.\d+)*[a-z]?"
)
_IDS = re.compile(r"\b0\d\.\d{1,2}\b")  # question ids: "01.3", "09.12"


def numbers_in(text: str) -> list[tuple[float, str]]:
    """Every value a number in ``text`` can be read as, with the text it came from."""
    text = text.replace("{,}", ",").replace("\\!", "").replace("−", "-")
    text = _CITATION.sub(" ", text)
    text = _IDS.sub(" ", text)
    found: list[tuple[float, str]] = []
    for match in _NUMBER.finditer(text):
        raw = match.group("num").replace(",", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        if match.group("exp"):
            value *= 10.0 ** int(match.group("exp"))
        if match.group("pow2") is not None:
            power = int(match.group("pow2"))
            if abs(power) <= 64 and value in (2.0, 10.0):
                value = value**power
        if match.group("base"):
            value *= float(match.group("base")) ** int(match.group("pow"))
        token = match.group(0).strip()
        values = {value}
        suffix = match.group("suffix")
        if suffix in ("%", "\\%", "percent"):
            values.add(value / 100)
        elif suffix in _WORDS:
            values.add(value * _WORDS[suffix])
        elif suffix in _BINARY:
            values.update({value * _BINARY[suffix], value * _SI[suffix[0]]})
        elif suffix:
            values.add(value * _SI[suffix])
        found.extend((v, token) for v in values if math.isfinite(v))
    return found


def _cell_text(cell: dict, with_source: bool = True) -> str:
    parts = ["".join(cell.get("source", ""))] if with_source else []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        for mime in ("text/plain", "text/markdown", "text/latex", "text/html"):
            data = out.get("data", {}).get(mime)
            if data:
                parts.append("".join(data))
        if out.get("output_type") == "error":
            parts.append(out.get("evalue", ""))
    return "\n".join(parts)


def _measured(cell: dict) -> bool:
    """A cell whose outputs nbval ignores: a measurement of this machine (lesson 08 times numpy),
    different on every machine and every run, so no learner reads the stored numbers."""
    return cell["cell_type"] == "code" and any(
        line.strip() == "# NBVAL_IGNORE_OUTPUT" for line in "".join(cell["source"]).splitlines()
    )


@cache
def lesson_text(lesson: str) -> str:
    """The lesson notebook's markdown and its stored outputs (but a measurement's)."""
    cells = json.loads((ROOT / "notebooks" / f"{lesson}.ipynb").read_text())["cells"]
    return "\n".join(_cell_text(c, with_source=c["cell_type"] == "markdown")
                     for c in cells if not _measured(c))


@cache
def exercise_text(lesson: str, variant: int) -> str:
    """Every cell and output of the lesson's exercise notebook in ``variant``."""
    if variant == 0:
        nb = json.loads((ROOT / "exercises" / f"{lesson}.ipynb").read_text())
    else:
        solution = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
        nb = make_exercise(solution, lesson, variant)
    return "\n".join(_cell_text(c) for c in nb["cells"])


@dataclass(frozen=True)
class Leak:
    qid: str
    kind: str
    expected: float
    token: str
    where: str


def _within(q: Question, expected: float, value: float) -> bool:
    return abs(value - expected) <= q.atol + q.rtol * abs(expected) + 1e-12 * abs(expected)


def leaks(lesson: str, variant: int) -> tuple[list[Leak], int]:
    """Copyable questions of ``lesson`` in ``variant``, and how many numeric questions."""
    sources = {
        "lesson": numbers_in(lesson_text(lesson)),
        "exercise notebook": numbers_in(exercise_text(lesson, variant)),
    }
    found, numeric = [], 0
    for q in questions_for(lesson):
        expected = q.expected_value(variant)
        if isinstance(expected, (bool, str)):
            continue
        numeric += 1
        title = numbers_in(render(q.title, q.inputs_for(variant)))
        for where, values in (*sources.items(), ("title", title)):
            hit = next((tok for v, tok in values if _within(q, float(expected), v)), None)
            if hit is not None:
                found.append(Leak(q.id, q.kind, float(expected), hit, where))
                break
    return found, numeric


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("lesson", LESSONS)
def test_at_most_two_copyable_questions_per_lesson(lesson, variant):
    found, _ = leaks(lesson, variant)
    shown = [f"{x.qid} ({x.kind}): {x.expected:.6g} printed as {x.token!r} in the {x.where}"
             for x in found]
    assert len(found) <= MAX_PER_LESSON, "\n".join(shown)
    if variant == 0:
        assert all(x.kind == "recall" for x in found), "\n".join(shown)


@pytest.mark.parametrize("variant", VARIANTS)
def test_at_most_a_tenth_copyable_in_all(variant):
    counts = [leaks(lesson, variant) for lesson in LESSONS]
    copyable = sum(len(found) for found, _ in counts)
    numeric = sum(n for _, n in counts)
    assert copyable <= MAX_SHARE * numeric, f"{copyable} of {numeric} copyable"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("the lesson prints 3.69e11 FLOP", 3.69e11),
        ("ZeRO-2 needs 16.6 GB", 16.6e9),
        ("a bubble of 11.7 %", 0.117),
        ("Table D.1 prints 1,320 M", 1.32e9),
        ("$8.64 \\times 10^{19}$ FLOP", 8.64e19),
        ("1 GiB = $2^{30}$ bytes", 2**30),
        ("175B parameters", 175e9),
        ("$16{,}384$ GPUs", 16384),
        ("80 GiB", 80 * 2**30),
        ("2 trillion tokens", 2e12),
    ],
)
def test_numbers_are_read_as_a_person_reads_them(text, value):
    assert any(math.isclose(v, value, rel_tol=1e-9) for v, _ in numbers_in(text)), numbers_in(
        text
    )


def test_citations_and_ids_are_not_numbers():
    assert numbers_in("Brown et al. 2020, Table 2.1; see 01.3 and Sec. 3.3.2") == [(2020.0, "2020")]


def report(variants: tuple[int, ...] = VARIANTS, only: str = "") -> None:
    """Print the copyable questions per lesson and variant (lessons starting with ``only``)."""
    for variant in variants:
        total = numeric_total = 0
        print(f"variant {variant}")
        for lesson in (name for name in LESSONS if name.startswith(only)):
            found, numeric = leaks(lesson, variant)
            total += len(found)
            numeric_total += numeric
            ids = ", ".join(f"{x.qid}={x.token!r}@{x.where}" for x in found)
            print(f"  {lesson:28} {len(found):2d} of {numeric:2d}  {ids}")
        print(f"  all: {total} of {numeric_total} ({100 * total / max(numeric_total, 1):.0f} %)")


if __name__ == "__main__":
    # python tests/test_leaks.py [--lesson NN] [SEED ...]
    args = sys.argv[1:]
    only = ""
    if args[:1] == ["--lesson"]:
        only, args = args[1], args[2:]
    report(tuple(int(a) for a in args) or (0,), only)
