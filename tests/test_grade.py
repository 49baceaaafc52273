"""Tests of trainmath.grade (test_kernel_* start kernels: -k "not kernel" skips them)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import demo_key  # noqa: F401  (registers the 99_demo key; tests/conftest.py finds it)
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from trainmath.grade import (
    GradeError,
    Limits,
    answer_calls,
    grade_notebook,
    lesson_of_notebook,
    main,
)

DATA = Path(__file__).parent / "data"
SOLUTION = DATA / "99_demo.ipynb"

SETUP = "import demo_key\n\nfrom trainmath.check import check"
QUESTION_KEYS = {"id", "passed", "points"}


def write_notebook(folder: Path, name: str, *sources: str, lesson: str | None = None) -> Path:
    """A notebook of code cells in ``folder``, next to a copy of the demo key."""
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    if lesson:
        nb.metadata["trainmath"] = {"lesson": lesson}
    path = folder / name
    nbformat.write(nb, path)
    shutil.copy(DATA / "demo_key.py", folder)
    return path


# --- no kernel needed -------------------------------------------------------------------------


def test_lesson_from_metadata_else_stem():
    nb = new_notebook()
    assert lesson_of_notebook(nb, "x/01_compute.ipynb") == "01_compute"
    nb.metadata["trainmath"] = {"lesson": "99_demo"}
    assert lesson_of_notebook(nb, "x/anything.ipynb") == "99_demo"


def test_missing_file(tmp_path, capsys):
    with pytest.raises(GradeError, match="no such file"):
        grade_notebook(tmp_path / "nope.ipynb")
    assert main([str(tmp_path / "nope.ipynb")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error:" in captured.err and "no such file" in captured.err


@pytest.mark.parametrize("content", ["hello, not json", "{}", '{"cells": 3}', "[1, 2]"])
def test_not_a_notebook(tmp_path, capsys, content):
    path = tmp_path / "99_demo.ipynb"
    path.write_text(content)
    assert main([str(path)]) == 2
    assert "not a" in capsys.readouterr().err


def test_folder_without_notebooks(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no notebooks found" in capsys.readouterr().err


def test_unknown_lesson(tmp_path, capsys):
    path = write_notebook(tmp_path, "97_nokey.ipynb", "1 + 1")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "no answer key for lesson '97_nokey'" in err and "99_demo" in err
    renamed = write_notebook(tmp_path, "99_demo.ipynb", "1", lesson="97_nokey")
    with pytest.raises(GradeError, match="97_nokey"):
        grade_notebook(renamed)


def test_cli_module_exit_code(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "trainmath.grade", str(tmp_path / "missing.ipynb")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == "" and "no such file" in result.stderr


@pytest.mark.parametrize("argv", [[], ["--timeout", "0", "x.ipynb"], ["--timeout", "x", "y"]])
def test_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("timeout", "error"), [("10", TypeError), (True, TypeError), (0, ValueError)]
)
def test_bad_timeout(timeout, error):
    with pytest.raises(error, match="timeout"):
        grade_notebook(SOLUTION, timeout=timeout)


# --- with kernels -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def solution_report():
    return grade_notebook(SOLUTION)


def test_kernel_solution_grades_full(solution_report):
    assert solution_report["notebook"] == str(SOLUTION)
    assert solution_report["score"] == solution_report["max_score"] == 6
    assert [q["id"] for q in solution_report["questions"]] == [
        "99.1",
        "99.2",
        "99.3",
        "99.4",
        "99.5",
    ]
    assert all(q["passed"] for q in solution_report["questions"])
    assert [q["points"] for q in solution_report["questions"]] == [1, 1, 2, 1, 1]
    assert all(set(q) == QUESTION_KEYS for q in solution_report["questions"])


def test_kernel_partial_notebook_counts_last_result_and_unreached(tmp_path, capsys):
    path = write_notebook(
        tmp_path,
        "my attempt.ipynb",  # not named after the lesson: the metadata says which it is
        SETUP,
        'check("99.1", 1.2e20)\ncheck("99.1", 5.0)  # the last result counts',
        'check("99.2", 13.04)',
        'raise RuntimeError("an error must not stop the later cells")',
        'check("99.4", " BF16 ")',
        'check("99.5", 1)  # wrong type: fails, is recorded',
        lesson="99_demo",
    )
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  99.")}
    assert "wrong" in rows["99.1"] and "0/1" in rows["99.1"]
    assert "correct" in rows["99.2"] and "1/1" in rows["99.2"]
    assert "not answered" in rows["99.3"] and "0/2" in rows["99.3"]
    assert "correct" in rows["99.4"]
    assert "wrong" in rows["99.5"]
    assert f"{path}  (lesson 99_demo, variant 0)" in out
    assert "score: 2/6 points (33%)" in out
    assert out.rstrip().endswith("total: 2/6 points (33%) in 1 notebook")


def test_kernel_cli_json_prints_only_json():
    code = "import demo_key, runpy; runpy.run_module('trainmath.grade', run_name='__main__')"
    result = subprocess.run(
        [sys.executable, "-c", code, "--json", "99_demo.ipynb"],
        cwd=DATA,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout)
    assert isinstance(reports, list) and len(reports) == 1
    report = reports[0]
    assert set(report) == {"notebook", "variant", "score", "max_score", "questions", "warnings"}
    assert (report["notebook"], report["score"], report["max_score"]) == ("99_demo.ipynb", 6, 6)
    assert all(set(q) == QUESTION_KEYS for q in report["questions"])


def test_kernel_timeout_interrupts_only_the_stuck_cell(tmp_path):
    path = write_notebook(
        tmp_path,
        "99_demo.ipynb",
        SETUP,
        "import time\n\ntime.sleep(120)",
        'check("99.5", True)',
    )
    started = time.perf_counter()
    report = grade_notebook(path, timeout=2)
    assert time.perf_counter() - started < 60
    assert report["score"] == 1 and report["max_score"] == 6
    assert [q["id"] for q in report["questions"] if q["passed"]] == ["99.5"]


# --- the grader decides; a notebook cannot hurt the grading (issue 12) ----------------------------

HONEST = ['check("99.2", 7e9 * 2 / 2**30)', 'check("99.4", "bf16")']  # 2 honest points


def graded(tmp_path, *sources, **kwargs):
    path = write_notebook(tmp_path, "99_demo.ipynb", SETUP, *sources, *HONEST)
    return grade_notebook(path, **kwargs)


def passed(report) -> list[str]:
    return [q["id"] for q in report["questions"] if q["passed"]]


@pytest.mark.parametrize(
    "attack",
    [
        # a forged line in the old grade log, and anything else written to a file
        "import json, os, pathlib\n"
        "for name in ('TRAINMATH_GRADE_LOG', 'LOG'):\n"
        "    pathlib.Path(os.environ.get(name, 'log.jsonl')).write_text("
        "json.dumps({'id': '99.1', 'passed': True, 'points': 1}) + '\\n')\n"
        "check('99.1', 0)",
        # check, evaluate and the answer key patched in the kernel
        "import trainmath.answers as a, trainmath.check as c\n"
        "c.evaluate = lambda *args, **kw: c.Result('99.1', True, 1, 1, 'ok')\n"
        "a.question = lambda qid: a.Question(qid, 'x', 0.0)\n"
        "check = lambda qid, answer: print('✅', qid, 'correct (1/1 point)')\n"
        "check('99.1', 0.0)\ncheck('99.3', 0.0)",
        # printed pass marks
        "print('✅ 99.1 correct: 1.2e+20 FLOP (1/1 point)')\nprint('score: 6/6')",
        # an object that equals everything
        "class Liar:\n    def __eq__(self, other):\n        return True\n"
        "    def __float__(self):\n        return 1.2e20\n"
        "check('99.1', Liar())",
        # a float subclass with odd arithmetic and a lying repr
        "class Odd(float):\n    def __sub__(self, other):\n        return 0.0\n"
        "    __rsub__ = __sub__\n    def __repr__(self):\n        return '1.2e20'\n"
        "    def __eq__(self, other):\n        return True\n"
        "check('99.1', Odd(5.0))",
    ],
    ids=["forged-log", "patched-check-and-key", "printed-marks", "eq-always-true", "odd-float"],
)
def test_kernel_attacks_score_only_honest_answers(tmp_path, attack):
    report = graded(tmp_path, attack)
    assert passed(report) == ["99.2", "99.4"], report
    assert report["score"] == 2


def test_kernel_lying_objects_get_a_reason(tmp_path, capsys):
    path = write_notebook(
        tmp_path, "99_demo.ipynb", SETUP,
        "class Odd(float):\n    pass\ncheck('99.1', Odd(1.2e20))",
        "import numpy as np\ncheck('99.2', np.array([13.04, 1.0]))",
        "check('99.3', np.float64(83.3333))",  # numpy scalars are plain numbers
    )
    assert main([str(path), "--feedback", str(tmp_path / "fb")]) == 0
    feedback = (tmp_path / "fb" / "99_demo.md").read_text()
    assert "not a plain number, string or boolean" in feedback
    assert "99.3" in feedback and "✅ right" in feedback
    assert capsys.readouterr().out.count("correct") == 1


def test_kernel_stuck_cell_costs_only_its_question(tmp_path):
    started = time.perf_counter()
    report = graded(tmp_path, "while True:\n    pass", timeout=2)
    assert time.perf_counter() - started < 60
    assert passed(report) == ["99.2", "99.4"]
    assert any("cell 1 ran past the 2 s cell limit" in w for w in report["warnings"]), report


def test_kernel_exit_keeps_earlier_answers_and_warns(tmp_path):
    path = write_notebook(
        tmp_path, "99_demo.ipynb", SETUP, 'check("99.4", "bf16")',
        "import os\nos._exit(1)", 'check("99.5", True)',
    )
    report = grade_notebook(path)
    assert passed(report) == ["99.4"]
    (warning,) = report["warnings"]
    assert "kernel stopped in cell 2" in warning and "score 0" in warning


def test_kernel_memory_limit(tmp_path):
    path = write_notebook(
        tmp_path, "99_demo.ipynb", SETUP, 'check("99.4", "bf16")',
        "import numpy as np\nx = np.ones(6 * 2**30 // 8)\ncheck('99.1', 1.2e20)",
        'check("99.5", True)',
    )
    report = grade_notebook(path, limits=Limits(memory_bytes=2**30))
    assert passed(report) == ["99.4", "99.5"]
    assert any("cell 2 ran out of memory" in w for w in report["warnings"]), report


def test_kernel_notebook_time_limit_stops_the_kernel(tmp_path):
    path = write_notebook(
        tmp_path, "99_demo.ipynb", SETUP, 'check("99.4", "bf16")',
        "import time\ntime.sleep(60)", 'check("99.5", True)',
    )
    started = time.perf_counter()
    report = grade_notebook(path, limits=Limits(notebook_timeout=4))
    assert time.perf_counter() - started < 45
    assert passed(report) == ["99.4"]
    assert any("notebook limit" in w for w in report["warnings"]), report


def test_kernel_neighbours_are_never_touched(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "bob.ipynb").write_text("{}")
    (folder / "notes.txt").write_text("keep me")
    path = write_notebook(
        folder, "99_demo.ipynb", SETUP,
        "import os, shutil\nfor name in os.listdir('.'):\n"
        "    if os.path.isfile(name):\n        os.remove(name)\n"
        "open('99_demo.ipynb', 'w').write('gone')",
    )
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    grade_notebook(path)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_kernel_output_flood_is_not_kept(tmp_path):
    report = graded(tmp_path, "for _ in range(200):\n    print('x' * 500_000)")
    assert report["score"] == 2


def test_kernel_class_batch_with_bad_files(tmp_path, capsys):
    """One command grades a folder: good, bad and hostile notebooks side by side."""
    folder = tmp_path / "class"
    folder.mkdir()
    solution = json.loads(SOLUTION.read_text())
    solution["metadata"]["trainmath"] = {"lesson": "99_demo"}
    (folder / "ana.ipynb").write_text(json.dumps(solution))
    write_notebook(folder, "ben.ipynb", SETUP, 'check("99.4", "bf16")', lesson="99_demo")
    (folder / "notes.ipynb").write_text("not a notebook")
    nbformat.write(new_notebook(metadata={"trainmath": {"lesson": "99_demo"}}),
                   folder / "empty.ipynb")
    corrupt = json.loads(json.dumps(solution))
    corrupt["cells"][3] = {"source": 42}
    (folder / "corrupt.ipynb").write_text(json.dumps(corrupt))
    out = tmp_path / "grades.csv"
    status = main([str(folder), "--jobs", "2", "--csv", str(out), "--feedback",
                   str(tmp_path / "fb")])
    assert status == 2  # one file could not be graded at all; the others were
    rows = {Path(r["notebook"]).name: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"ana.ipynb", "ben.ipynb", "notes.ipynb", "empty.ipynb", "corrupt.ipynb"}
    assert (rows["ana.ipynb"]["total"], rows["ana.ipynb"]["maximum"]) == ("6", "6")
    assert rows["ben.ipynb"]["total"] == "1" and rows["ben.ipynb"]["99.4"] == "1"
    assert rows["empty.ipynb"]["total"] == "0"
    assert "no code cells" in rows["empty.ipynb"]["warnings"]
    assert "cell 3 is corrupt" in rows["corrupt.ipynb"]["warnings"]
    assert rows["notes.ipynb"]["total"] == "" and "not a" in rows["notes.ipynb"]["warnings"]
    feedback = {p.name for p in (tmp_path / "fb").iterdir()}
    assert {"ana.md", "ben.md", "notes.md"} <= feedback
    ben = (tmp_path / "fb" / "ben.md").read_text()
    assert "99.4" in ben and "Hint:" in ben and "1.2e+20" not in ben


def test_kernel_roster_and_variant_override_the_notebook(tmp_path):
    # The demo key has no inputs, so every variant has the same answers; the lesson-01
    # round trip (test_exercises.py) checks real variants. Here: the roster is read.
    path = write_notebook(tmp_path, "99_demo.ipynb", SETUP, 'check("99.4", "bf16")')
    roster = tmp_path / "roster.csv"
    roster.write_text("notebook,variant\n99_demo.ipynb,7\n")
    out = tmp_path / "g.csv"
    assert main([str(path), "--roster", str(roster), "--csv", str(out)]) == 0
    (row,) = csv.DictReader(out.open())
    assert row["variant"] == "7"
    assert grade_notebook(path, variant=3)["variant"] == 3


def test_bad_roster(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("who,which\na,1\n")
    assert main([str(SOLUTION), "--roster", str(roster)]) == 2
    assert "notebook,variant" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--jobs", "0", "x"], ["--memory", "-1", "x"], ["--notebook-timeout", "0", "x"],
     ["--variant", "1", "--roster", "r.csv", "x"]],
)
def test_bad_batch_arguments(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_answer_calls_reads_the_check_lines():
    src = 'x = 1\ncheck("01.1", x * 2)\nif x:\n    check("01.2", 3)\ncheck("01.3", f(a, b=2))'
    assert answer_calls(src) == [("01.1", "x * 2"), ("01.3", "f(a, b=2)")]
    assert answer_calls("%time x = 1\ncheck('01.1', x)") == [("01.1", "x")]
    assert answer_calls("def (:") == []


COURSE = Path(__file__).resolve().parents[1]


def test_kernel_the_whole_course_as_one_class(tmp_path):
    """Nine solutions and nine exercises in one batch, two at a time: full marks and 0."""
    notebooks = [
        *sorted((COURSE / "solutions").glob("*.ipynb")),
        *sorted((COURSE / "exercises").glob("*.ipynb")),
    ]
    out = tmp_path / "class.csv"
    assert main([*map(str, notebooks), "--jobs", "2", "--csv", str(out), "--json"]) == 0
    rows = {r["notebook"]: r for r in csv.DictReader(out.open())}
    assert len(rows) == len(notebooks) >= 18
    for path in notebooks:
        row = rows[str(path)]
        want = row["maximum"] if path.parent.name == "solutions" else "0"
        assert row["total"] == want, (path, row["warnings"])
        assert row["warnings"] == "", (path, row["warnings"])
