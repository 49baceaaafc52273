"""Tests of trainmath.check: verdicts, hints, units slips, inputs and variants (no kernels)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainmath.answers import Question, register
from trainmath.check import (
    UNITS_SLIPS,
    agree,
    check,
    current_variant,
    evaluate,
    inputs,
    use_variant,
)


def checked(qid, answer) -> bool:
    """check() as a notebook calls it (prints, logs, returns None), plus its verdict."""
    assert check(qid, answer) is None
    return evaluate(qid, answer).passed

# A second test-only lesson with one question per kind of answer.
BYTES = 12_345_678_901.0  # B; many digits, so no rounding slack interferes
CHECKS = [
    Question("98.1", "A byte count", BYTES, unit="B", hint="Count the bytes."),
    Question("98.2", "A FLOP count", lambda: 3.15e23, unit="FLOP"),
    Question("98.3", "Rounded", 1.05e23, unit="FLOP"),
    Question("98.4", "Exact count", 1_234_567_890, unit="params", rtol=0.0),
    Question("98.5", "Absolute tolerance", 0.0, rtol=0.0, atol=0.01),
    Question("98.6", "A name", "bf16", hint="Brain float."),
    Question("98.7", "A yes/no", False, points=3),
    Question("98.8", "A fraction", 0.4),
    Question("98.9", "HBM of one GPU", 80.0, unit="GB"),
]


@pytest.fixture(autouse=True)
def keys(answer_registry):
    """Register the test lessons (the demo key and the one above); restored afterwards."""
    register("98_checks", CHECKS)


def one_line(capsys) -> str:
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    return out.rstrip("\n")


# --- check(): correct answers ---------------------------------------------------------------


def test_pass_line_format(capsys):
    assert checked("99.1", 1.2e20) is True
    assert one_line(capsys) == "✅ 99.1 correct: 1.2e+20 FLOP (1/1 point)"
    assert checked("99.3", 83.3333) is True
    assert one_line(capsys) == "✅ 99.3 correct: 83.3333 h (2/2 points)"
    assert checked("98.6", "bf16") is True
    assert one_line(capsys) == "✅ 98.6 correct: 'bf16' (1/1 point)"


@pytest.mark.parametrize(
    "answer",
    [
        1.2e20,
        int(1.2e20),
        1.2e20 * 1.0199,  # inside the 2% tolerance
        1.2e20 * 0.9801,
        np.float64(1.2e20),
        np.float32(1.2e20),
        np.array(1.2e20),
        np.longdouble(1.2e20),
    ],
)
def test_numbers_within_tolerance_pass(answer):
    assert evaluate("99.1", answer).passed


def test_correctly_rounded_answers_pass():
    assert evaluate("98.3", 1.1e23).passed  # 1.05e23 to 2 significant figures (4.8% off)
    assert not evaluate("98.3", 1e23).passed  # 1 significant figure is too coarse
    assert not evaluate("98.3", 1.13e23).passed
    # a tight tolerance wants a precise answer, rounded or not
    assert evaluate("98.4", 1_234_567_890).passed
    assert evaluate("98.4", np.int64(1_234_567_890)).passed
    assert not evaluate("98.4", 1.2e9).passed
    assert not evaluate("98.4", 1_234_567_891).passed


def test_absolute_tolerance():
    assert evaluate("98.5", 0.009).passed
    assert evaluate("98.5", -0.01).passed
    assert not evaluate("98.5", 0.02).passed


def test_strings_and_bools():
    assert evaluate("98.6", "  BF16\n").passed
    assert not evaluate("98.6", "fp16").passed
    assert evaluate("98.7", False).passed
    assert evaluate("98.7", np.bool_(False)).passed
    assert evaluate("98.7", True).points == 0
    assert evaluate("98.7", False).points == 3


@given(
    expected=st.floats(min_value=1e-12, max_value=1e30),
    rel=st.floats(min_value=-0.0199, max_value=0.0199),
)
def test_any_answer_within_rtol_passes(expected, rel):
    register("97_prop", [Question("97.1", "p", expected, unit="FLOP")])
    assert evaluate("97.1", expected * (1 + rel)).passed


# --- check(): wrong answers -------------------------------------------------------------------


def _hidden(line: str, expected: float) -> bool:
    shown = {repr(expected), f"{expected:g}", f"{expected:.3g}", f"{expected:.4g}", f"{expected:e}"}
    return not any(text in line for text in shown)


def test_wrong_number_gives_hint_not_answer(capsys):
    assert checked("98.1", BYTES * 1.5) is False
    line = one_line(capsys)
    assert line.startswith("❌ 98.1 not correct: ")
    assert "off by more than the 2% tolerance" in line
    assert "Hint: Count the bytes." in line
    assert line.endswith("(0/1 point)")
    assert _hidden(line, BYTES)


def test_exact_and_atol_wording():
    assert "an exact answer is wanted" in evaluate("98.4", 1).line
    assert "±0.01 tolerance" in evaluate("98.5", 1).line


# The unit a question must want for each direction of each slip to be named.
SLIP_UNITS = {
    "GB vs GiB": ("GiB", "GB"),
    "MB vs MiB": ("MiB", "MB"),
    "TB vs TiB": ("TiB", "TB"),
    "FLOP vs PFLOP/s-day": ("PFLOP/s-day", "FLOP"),
    "seconds vs days": ("days", "s"),
    "seconds vs hours": ("h", "s"),
    "hours vs days": ("days", "h"),
    "bits vs bytes": ("B", "bit"),
    "percent vs fraction": ("", "%"),
}
SLIP_CASES = [
    pytest.param(slip, direction, id=f"{slip.name}-{direction}")
    for slip in UNITS_SLIPS
    for direction in ("too large", "too small")
]


def _unit_for(slip, direction: str) -> str:
    large, small = SLIP_UNITS.get(slip.name, ("B", "B"))  # SI prefixes: any unit
    return large if direction == "too large" else small


@pytest.mark.parametrize(("slip", "direction"), SLIP_CASES)
def test_units_slips_are_named_in_both_directions(slip, direction, capsys):
    unit = _unit_for(slip, direction)
    register("97_slips", [Question("97.1", "A quantity", BYTES, unit=unit, hint="Think.")])
    factor = slip.factor if direction == "too large" else 1 / slip.factor
    answer = BYTES * factor
    assert checked("97.1", answer) is False
    line = one_line(capsys)
    result = evaluate("97.1", answer)
    assert result.slip == slip.name
    assert result.points == 0
    assert line.startswith("❌ 97.1 units slip: ")
    assert (slip.too_large if direction == "too large" else slip.too_small) in line
    assert f"Give the answer in {unit}." in line or not unit
    assert _hidden(line, BYTES)


@pytest.mark.parametrize(
    ("slip", "direction"),
    [case for case in SLIP_CASES if case.values[0].name in SLIP_UNITS],
)
def test_a_slip_is_named_only_in_the_direction_that_fits_the_unit(slip, direction):
    """An answer 7 % high when GB is wanted is no GiB slip (the learner's GiB would be low)."""
    other = "too small" if direction == "too large" else "too large"
    unit = _unit_for(slip, other)  # the unit of the other direction
    register("97_slips", [Question("97.1", "A quantity", BYTES, unit=unit, hint="Think.")])
    factor = slip.factor if direction == "too large" else 1 / slip.factor
    assert evaluate("97.1", BYTES * factor).slip != slip.name


def test_gb_answer_seven_percent_high_is_not_called_gib():
    line = evaluate("98.9", 80.0 * 2**30 / 1e9).line  # 85.9 for an expected 80 GB
    assert "units slip" not in line and "GiB" not in line
    assert "not correct" in line


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (BYTES / 1e9, "10^9 (G, giga) times too small"),
        (BYTES * 8, "bits where bytes"),
    ],
)
def test_named_slips_read_well(answer, text):
    assert text in evaluate("98.1", answer).line


def test_gib_slip_reads_well():
    line = evaluate("98.9", 80e9 / 2**30).line
    assert line == (
        "❌ 98.9 units slip: 74.5058 looks like GiB (2^30 B) where GB (10^9 B) is wanted. "
        "Give the answer in GB. (0/1 point)"
    )


def test_slips_in_time_flop_and_percent_questions():
    assert evaluate("99.3", 83.3333 * 3600).slip == "seconds vs hours"
    assert evaluate("99.3", 83.3333 / 24).slip == "hours vs days"
    assert evaluate("99.1", 1.2e20 / 8.64e19).slip == "FLOP vs PFLOP/s-day"
    assert evaluate("99.1", 1.2e20 / 1e15).slip == "SI prefix P (peta)"
    assert evaluate("98.8", 40).slip == "percent vs fraction"


def test_gib_slip_only_for_byte_units():
    # 7% off a FLOP count is a plain miss, not a GB/GiB confusion
    result = evaluate("98.2", 3.15e23 * 2**30 / 1e9)
    assert result.slip is None and "not correct" in result.line


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (None, "no answer: got None"),
        (float("nan"), "got nan"),
        (float("inf"), "got inf"),
        (-np.inf, "got -inf"),
        (np.float64("nan"), "got nan"),
        ("1.2e20", "expected a number (in FLOP), got str ('1.2e20')"),
        (True, "got a bool (True)"),
        (np.bool_(True), "got a bool (True)"),
        (np.array([1.2e20]), "got an array of shape (1,)"),
        ([1.2e20], "got list"),
        (1.2e20 + 0j, "got complex"),
        (10**400, "too large for a float"),
        (object(), "got object"),
    ],
)
def test_bad_answers_fail_with_one_clear_line(answer, text, capsys):
    assert checked("99.1", answer) is False
    line = one_line(capsys)
    assert line.startswith("❌ 99.1 ")
    assert text in line
    assert line.endswith("(0/1 point)")


@pytest.mark.parametrize(
    ("qid", "answer", "text"),
    [
        ("98.6", 16, "expected text (a str), got int (16)"),
        ("98.6", None, "no answer"),
        ("98.7", 0, "expected True or False, got int (0)"),
        ("98.7", "False", "expected True or False, got str"),
        ("98.7", None, "no answer"),
    ],
)
def test_wrong_types_for_str_and_bool_questions(qid, answer, text):
    result = evaluate(qid, answer)
    assert not result.passed and text in result.line


def test_wrong_str_and_bool_show_hint():
    assert "Hint: Brain float." in evaluate("98.6", "fp16").line
    assert "bf16" not in evaluate("98.6", "fp16").line
    assert evaluate("98.7", True).line == "❌ 98.7 not correct: True. (0/3 points)"


def test_unknown_question_is_a_course_bug():
    with pytest.raises(ValueError, match="unknown question id '99.7'"):
        check("99.7", 1.0)
    with pytest.raises(ValueError, match="no lesson numbered 42"):
        check("42.1", 1.0)


def test_bad_expected_value_is_a_course_bug():
    register("97_bad", [Question("97.1", "t", lambda: "x" if False else None)])
    with pytest.raises(TypeError, match="97.1"):
        check("97.1", 1.0)


def test_check_writes_nothing_but_its_line(tmp_path, monkeypatch, capsys):
    """The grader reads answers itself; check is feedback only and logs nowhere."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRAINMATH_GRADE_LOG", str(tmp_path / "log.jsonl"))  # the old channel
    assert checked("99.1", 1.2e20) is True
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().err == ""


# --- inputs, variants and two-level hints (issue 11) -------------------------------------------

VARIANT_Q = Question(
    "96.1",
    "Backward FLOPs of a {{m}}-token batch",
    lambda m, k, n: 4 * m * k * n,
    unit="FLOP",
    kind="apply",
    text="X is ${{m:tex}} \\times {{k}}$, W is ${{k}} \\times {{n}}$.",
    inputs={"m": 2048, "k": 4096, "n": 11008},
    draw=lambda rng: {
        "m": rng.choice([512, 1024, 4096]), "k": 4096, "n": rng.choice([8192, 14336])
    },
    nudge="Which two gradients does the backward pass produce?",
    hint="dX = dY·Wᵀ and dW = Xᵀ·dY, each 2·m·k·n FLOPs.",
)


@pytest.fixture
def variant_key():
    register("96_variants", [VARIANT_Q])
    yield VARIANT_Q
    use_variant(0)


def test_inputs_follow_the_variant(variant_key):
    use_variant(0)
    m, k, n = inputs("96.1")
    assert (m, k, n) == (2048, 4096, 11008)
    assert inputs("96.1").m == 2048
    use_variant(5)
    assert inputs("96.1") == variant_key.inputs_for(5) != variant_key.inputs_for(0)
    assert current_variant() == 5


def test_variants_are_deterministic_and_differ_from_the_default(variant_key):
    for seed in range(1, 30):
        assert variant_key.inputs_for(seed) == variant_key.inputs_for(seed)
        assert variant_key.inputs_for(seed) != variant_key.inputs_for(0)


def test_check_grades_against_the_notebooks_variant(variant_key, capsys):
    use_variant(3)
    m, k, n = inputs("96.1")
    check("96.1", 4 * m * k * n)
    assert one_line(capsys).startswith("✅ 96.1 correct")
    same = variant_key.inputs_for(0) == (m, k, n)
    assert evaluate("96.1", 4 * m * k * n, variant=0).passed is same


def test_hints_come_in_two_levels(variant_key, capsys):
    use_variant(0)
    check("96.1", 1.0)
    first = one_line(capsys)
    assert "Hint: Which two gradients" in first and "2·m·k·n" not in first
    check("96.1", 2.0)
    second = one_line(capsys)
    assert "Hint: dX = dY·Wᵀ" in second
    check("96.1", 3.0)
    assert "Hint: dX = dY·Wᵀ" in one_line(capsys)
    use_variant(1)  # a new variant starts over
    check("96.1", 1.0)
    assert "Which two gradients" in one_line(capsys)


def test_agree_prints_or_raises(capsys):
    agree(6.0, 6.0 + 1e-9, what="tm.x")
    assert capsys.readouterr().out.strip() == "agrees with tm.x: 6"
    with pytest.raises(AssertionError, match="by hand 6 but tm.x gives 7"):
        agree(6.0, 7.0, what="tm.x")


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_use_variant_rejects_bad_seeds(bad):
    with pytest.raises((TypeError, ValueError), match="variant must be an int >= 0"):
        use_variant(bad)
