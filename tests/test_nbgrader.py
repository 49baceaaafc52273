"""The solution notebooks are nbgrader source notebooks (issue 12): a temporary nbgrader
course generates the course's own exercise notebook from a solution, and autograding gives a
submitted solution full marks, one wrong answer one point less, an untouched notebook 0.

nbgrader comes with the ``instructor`` extra, which ``make test`` installs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from trainmath.answers import questions_for
from trainmath.exercises import differences, is_test_cell

nbgrader = pytest.importorskip("nbgrader", reason="pip install -e '.[instructor]'")

ROOT = Path(__file__).resolve().parents[1]
LESSON = "01_compute"
CONFIG = """\
from trainmath.instructor import configure

c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "trainmath-test"
configure(c)
"""


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    # nbgrader runs `alembic` (its gradebook migrations) from PATH: this interpreter's bin/
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "Exception while loading config file" not in log, log  # nbgrader only logs it
    return result


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("nbgrader-course")
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course)))
    source = course / "source" / "ps01"
    source.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{LESSON}.ipynb", source)
    _nbgrader(course, "generate_assignment", "ps01", "--force")
    return course


def test_the_solutions_follow_nbgraders_schema():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
        assert len(ids) == len(set(ids)), path.name
        tests = [c for c in nb.cells if is_test_cell(c)]
        points = sum(c.metadata["nbgrader"]["points"] for c in tests)
        assert points == sum(q.points for q in questions_for(path.stem)), path.name
        for cell in nb.cells:
            meta = cell.metadata["nbgrader"]
            assert meta["schema_version"] == 3
            assert meta["locked"] or meta["solution"], (path.name, meta)


def test_generate_assignment_gives_the_courses_exercise(course):
    release = nbformat.read(course / "release" / "ps01" / f"{LESSON}.ipynb", as_version=4)
    ours = nbformat.read(ROOT / "exercises" / f"{LESSON}.ipynb", as_version=4)
    assert differences(ours, release) == []


def _submit(course: Path, student: str, nb: nbformat.NotebookNode) -> None:
    folder = course / "submitted" / student / "ps01"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{LESSON}.ipynb")


def test_autograde_scores_solutions_full_and_untouched_notebooks_zero(course):
    solution = nbformat.read(course / "source" / "ps01" / f"{LESSON}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / "ps01" / f"{LESSON}.ipynb", as_version=4)
    _submit(course, "alice", solution)
    _submit(course, "bob", release)
    # carol answers 01.3 in FLOP where PFLOP/s-days are wanted
    carol = nbformat.from_dict(json.loads(json.dumps(solution)))
    for cell in carol.cells:
        if cell.cell_type == "code" and 'check("01.3"' in cell.source:
            cell.source = cell.source.replace('check("01.3", answer)', 'check("01.3", C)')
            cell.source += "\nanswer = C"
    _submit(course, "carol", carol)
    _nbgrader(course, "autograde", "ps01", "--force")

    from nbgrader.api import Gradebook

    total = sum(q.points for q in questions_for(LESSON))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission("ps01", s).score for s in ("alice", "bob", "carol")}
        carol_tests = gb.find_submission_notebook(LESSON, "ps01", "carol").grades
        failed = [g.name for g in carol_tests if g.auto_score == 0 and g.max_score > 0]
    assert scores == {"alice": total, "bob": 0, "carol": total - 1}
    assert failed == ["test_01_3"]
