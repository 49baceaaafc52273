"""Tests of trainmath.grade.

Tests named ``test_kernel_*`` start Jupyter kernels (a few seconds each); deselect them
with ``-k "not kernel"``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from trainmath.grade import GradeError, grade_notebook, lesson_of_notebook, main

DATA = Path(__file__).parent / "data"
SOLUTION = DATA / "99_demo.ipynb"
sys.path.insert(0, str(DATA))
import demo_key  # noqa: E402, F401  (registers the 99_demo key in this process)

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


def test_directory_is_not_a_notebook(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_unknown_lesson(tmp_path, capsys):
    path = write_notebook(tmp_path, "97_nokey.ipynb", "1 + 1")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "no answer key for lesson '97_nokey'" in err and "99_demo" in err
    renamed = write_notebook(tmp_path, "99_demo.ipynb", "1", lesson="97_nokey")
    with pytest.raises(GradeError, match="97_nokey"):
        grade_notebook(renamed)


def test_bad_notebook_stops_before_running_any(tmp_path, capsys, monkeypatch):
    good = write_notebook(tmp_path, "99_demo.ipynb", "raise SystemExit('must not run')")

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started before every notebook was checked")

    monkeypatch.setattr("trainmath.grade._execute", no_kernel)
    assert main([str(good), str(tmp_path / "missing.ipynb")]) == 2
    assert capsys.readouterr().out == ""


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
    assert "not checked" in rows["99.3"] and "0/2" in rows["99.3"]
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
    assert set(report) == {"notebook", "variant", "score", "max_score", "questions"}
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
