"""Grade notebooks by running them: ``python -m trainmath.grade NOTEBOOK... [--variant SEED]``.

Each notebook is executed top to bottom in a fresh ``python3`` kernel, in its own folder,
with errors allowed (an unanswered question must not stop the later ones). Every
``check(...)`` call in the kernel appends its result to a temporary log (see
:mod:`trainmath.check`); the grader then scores the notebook's lesson:

* the lesson is the notebook metadata ``{"trainmath": {"lesson": "01_compute"}}`` if
  present, else the file name's stem (``01_compute.ipynb`` -> ``01_compute``);
* the maximum score is the sum of the points of all the lesson's questions, so a question
  that was never checked scores 0;
* if a question was checked several times, the last result counts;
* answers are judged against the notebook's variant, recorded in its metadata
  ``trainmath.variant`` (0 when absent), or against ``--variant SEED`` when given: an
  instructor's roster overrides what a student's file claims, and a ``use_variant(N)`` line
  the student edited changes nothing.

Exit status: 0 when every notebook was graded (whatever the score), 2 (with a message on
stderr) when a file cannot be read, is not a notebook, or has no answer key.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from trainmath.answers import Question, check_variant, questions_for, render
from trainmath.check import GRADE_LOG_ENV, GRADE_VARIANT_ENV

__all__ = [
    "grade_notebook",
    "lesson_of_notebook",
    "variant_of_notebook",
    "kernel_env",
    "GradeError",
    "main",
]

DEFAULT_TIMEOUT = 120.0


def parse_with_timeout(parser: argparse.ArgumentParser, argv: Sequence[str] | None):
    """Add ``--timeout SECONDS`` (per cell, > 0) to ``parser`` and parse ``argv``."""
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit per cell (default {DEFAULT_TIMEOUT:g})",
    )
    args = parser.parse_args(argv)
    if not args.timeout > 0:
        parser.error(f"--timeout must be > 0 seconds, got {args.timeout:g}")
    return args
KERNEL_NAME = "python3"
# The kernel's own log (e.g. ipykernel's "running over TCP without encryption" warning)
# is noise on the grader's terminal; errors still show.
KERNEL_ARGS = ("--IPKernelApp.log_level=ERROR",)


class GradeError(Exception):
    """A notebook cannot be graded (unreadable, not a notebook, no answer key)."""


def kernel_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a notebook kernel started by the course tools.

    The kernel must import the same ``trainmath`` as this process, so its parent folder
    is put first on ``PYTHONPATH`` unless it is an installed ``site-packages``. A grade
    log inherited from an outer run is dropped so that nested runs do not mix results.
    """
    env = dict(os.environ)
    env.pop(GRADE_LOG_ENV, None)
    env.pop(GRADE_VARIANT_ENV, None)
    # Silences ipykernel's debugger warning about frozen modules on the terminal.
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    root = Path(__file__).resolve().parent.parent
    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    if root not in installed:
        parts = [str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    env.update(extra or {})
    return env


def lesson_of_notebook(nb: nbformat.NotebookNode, path: str | os.PathLike[str]) -> str:
    """The lesson a notebook belongs to: metadata ``trainmath.lesson``, else the file stem."""
    meta = nb.get("metadata", {}).get("trainmath", {})
    lesson = meta.get("lesson") if isinstance(meta, Mapping) else None
    return lesson if isinstance(lesson, str) and lesson else Path(path).stem


def variant_of_notebook(nb: nbformat.NotebookNode) -> int:
    """The variant a notebook records in its metadata ``trainmath.variant`` (default 0)."""
    meta = nb.get("metadata", {}).get("trainmath", {})
    variant = meta.get("variant", 0) if isinstance(meta, Mapping) else 0
    try:
        return check_variant(variant)
    except (TypeError, ValueError):
        return 0  # a mangled field grades as the shipped variant


def _read_notebook(path: Path) -> nbformat.NotebookNode:
    if not path.is_file():
        raise GradeError(f"{path}: no such file")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises many types for a bad file
        raise GradeError(f"{path}: not a readable Jupyter notebook ({exc})") from exc
    if not isinstance(nb.get("cells"), list):
        raise GradeError(f"{path}: not a Jupyter notebook (no list of cells)")
    return nb


def _load(path: Path) -> tuple[nbformat.NotebookNode, str, list[Question]]:
    """Read ``path`` and find its lesson's questions, or raise :class:`GradeError`."""
    nb = _read_notebook(path)
    lesson = lesson_of_notebook(nb, path)
    try:
        questions = questions_for(lesson)
    except (TypeError, ValueError) as exc:
        raise GradeError(
            f"{path}: cannot grade lesson {lesson!r}: {exc}. Name the notebook after its "
            'lesson or set notebook metadata {"trainmath": {"lesson": "NN_name"}}.'
        ) from exc
    return nb, lesson, questions


def _execute(
    nb: nbformat.NotebookNode, folder: Path, timeout: float, log: Path, variant: int
) -> list[str]:
    """Run ``nb`` in a fresh kernel, logging checks of ``variant`` to ``log``; return warnings."""
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        extra_arguments=list(KERNEL_ARGS),
        allow_errors=True,
        interrupt_on_timeout=True,  # a stuck cell costs its question, not the notebook
        record_timing=False,
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        # The kernel's own stdout (not cell output) must not pollute --json output.
        env = kernel_env({GRADE_LOG_ENV: str(log), GRADE_VARIANT_ENV: str(variant)})
        client.execute(env=env, stdout=subprocess.DEVNULL)
    except (DeadKernelError, CellTimeoutError) as exc:
        return [f"the notebook stopped early ({type(exc).__name__}: {exc}); later cells score 0"]
    except Exception as exc:  # e.g. the kernel could not start: nothing was graded
        raise GradeError(f"could not run the notebook: {type(exc).__name__}: {exc}") from exc
    return []


def _read_log(log: Path, variant: int) -> dict[str, bool]:
    """Question id -> passed (judged in ``variant``), keeping the last result of each id."""
    results: dict[str, bool] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            if record.get("variant", variant) != variant:
                continue
            results[str(record["id"])] = bool(record["passed"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn line from a killed kernel
    return results


def _grade(
    path: Path, timeout: float, variant: int | None = None
) -> tuple[dict[str, Any], set[str], list[str]]:
    """Grade one notebook; also return the ids that were checked, and warnings."""
    nb, _lesson, questions = _load(path)
    if variant is None:
        variant = variant_of_notebook(nb)
    with tempfile.TemporaryDirectory(prefix="trainmath-grade-") as tmp:
        log = Path(tmp) / "checks.jsonl"
        log.touch()
        try:
            warnings = _execute(nb, path.resolve().parent, timeout, log, variant)
        except GradeError as exc:
            raise GradeError(f"{path}: {exc}") from exc
        results = _read_log(log, variant)
    rows = []
    for q in questions:
        passed = results.get(q.id, False)
        rows.append({"id": q.id, "passed": passed, "points": q.points if passed else 0})
    report = {
        "notebook": str(path),
        "variant": variant,
        "score": sum(row["points"] for row in rows),
        "max_score": sum(q.points for q in questions),
        "questions": rows,
    }
    return report, set(results) & {q.id for q in questions}, warnings


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, got {type(timeout).__name__}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    return float(timeout)


def grade_notebook(
    path: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT, variant: int | None = None
) -> dict[str, Any]:
    """Execute a notebook in a fresh kernel and score its lesson's questions.

    Parameters
    ----------
    path : str or path-like
        The notebook. It runs with its own folder as working directory.
    timeout : float
        Per-cell time limit in seconds; a cell that runs longer is interrupted.
    variant : int, optional
        Grade against this variant instead of the one the notebook records.

    Returns
    -------
    dict
        ``{"notebook": str, "variant": int, "score": int, "max_score": int,
        "questions": [{"id": str, "passed": bool, "points": int}, ...]}``, questions in
        answer-key order.

    Raises
    ------
    GradeError
        If the file cannot be read, is not a notebook, or its lesson has no answer key.
    """
    if variant is not None:
        variant = check_variant(variant)
    return _grade(Path(path), _check_timeout(timeout), variant)[0]


def _table(report: dict[str, Any], checked: set[str], lesson: str) -> str:
    """A readable per-question table for one notebook."""
    keys = {q.id: q for q in questions_for(lesson)}
    lines = [f"{report['notebook']}  (lesson {lesson}, variant {report['variant']})"]
    width = max(len(row["id"]) for row in report["questions"])
    for row in report["questions"]:
        q = keys[row["id"]]
        result = "correct" if row["passed"] else "wrong" if row["id"] in checked else "not checked"
        points = f"{row['points']}/{q.points}"
        title = render(q.title, q.inputs_for(report["variant"]))
        lines.append(f"  {row['id']:<{width}}  {result:<11}  {points:>5}  {title}")
    lines.append(f"  score: {_score(report['score'], report['max_score'])}")
    return "\n".join(lines)


def _score(score: int, max_score: int) -> str:
    percent = f" ({100 * score / max_score:.0f}%)" if max_score else ""
    return f"{score}/{max_score} points{percent}"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m trainmath.grade",
        description="Run notebooks in fresh kernels and score their check(...) answers.",
    )
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebook(s) to grade")
    parser.add_argument("--json", action="store_true", help="print a JSON list of reports only")
    parser.add_argument(
        "--variant",
        type=int,
        default=None,
        metavar="SEED",
        help="grade against this variant (default: the one each notebook records)",
    )
    args = parse_with_timeout(parser, argv)
    if args.variant is not None and args.variant < 0:
        parser.error(f"--variant must be an int >= 0, got {args.variant}")

    paths = [Path(p) for p in args.notebooks]
    try:  # fail fast, before spending minutes running kernels
        lessons = [_load(path)[1] for path in paths]
    except GradeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    reports = []
    for path, lesson in zip(paths, lessons, strict=True):
        try:
            report, checked, warnings = _grade(path, args.timeout, args.variant)
        except GradeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for warning in warnings:
            print(f"warning: {path}: {warning}", file=sys.stderr)
        reports.append(report)
        if not args.json:
            print(_table(report, checked, lesson), flush=True)
            print()

    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        total = sum(r["score"] for r in reports)
        max_total = sum(r["max_score"] for r in reports)
        noun = "notebook" if len(reports) == 1 else "notebooks"
        print(f"total: {_score(total, max_total)} in {len(reports)} {noun}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
