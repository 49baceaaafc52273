"""Grade a class's notebooks: ``python -m trainmath.grade PATH... [--jobs N] [--csv FILE]``.

The grader decides, outside the learner's kernel. Each notebook runs top to bottom in a fresh
``python3`` kernel, in a scratch copy of its folder, with errors allowed (an unanswered
question must not stop the later ones). Right after a cell that calls ``check("NN.k", expr)``
the grader's own kernel client asks for ``expr`` as a user expression, serialised in the
kernel to JSON (type name and value; never an unpickled object), and judges it in the grader's
process with the grader's own copy of the answer key. So nothing the notebook prints, logs,
patches (``check``, ``evaluate``, the key, builtins) or writes can change a score, and an
answer that is not a plain number, string or boolean (a float subclass, an object whose
``__eq__`` is always true, an array) scores 0 with a reason. ``check`` in the notebook only
gives the learner feedback.

* The lesson is the notebook metadata ``trainmath.lesson`` if present, else the file stem.
* The variant is ``--variant SEED``, else the notebook's row in ``--roster CSV``
  (columns ``notebook,variant``), else the notebook metadata ``trainmath.variant`` (0).
* A question checked several times counts its last check; one never checked scores 0.
* Limits: ``--timeout`` per cell (the cell is interrupted, later cells still run),
  ``--notebook-timeout`` per notebook and ``--memory GB`` for the kernel's process tree
  (a data-segment limit in the kernel plus a watchdog on its resident memory); a notebook
  that passes one loses the questions it had not answered, with a warning naming the cell.
  Outputs are not kept, so a flood of output costs nothing but time.

Writes a table per notebook (or ``--json``), and with ``--csv FILE`` one row per notebook,
with ``--feedback DIR`` one Markdown file per notebook for its learner (never the answers).

Exit status: 0 when every notebook was graded (whatever the score), 2 when some path could
not be graded at all (not a notebook, no answer key); the others are still graded.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from trainmath import _validate as v
from trainmath.answers import Question, check_variant, questions_for, render
from trainmath.check import evaluate

__all__ = [
    "grade_notebook",
    "grade_many",
    "lesson_of_notebook",
    "variant_of_notebook",
    "answer_calls",
    "kernel_env",
    "Limits",
    "GradeError",
    "main",
]

DEFAULT_TIMEOUT = 120.0
DEFAULT_NOTEBOOK_TIMEOUT = 900.0
KERNEL_NAME = "python3"
# The kernel's own log (e.g. ipykernel's "running over TCP without encryption" warning)
# is noise on the grader's terminal; errors still show.
KERNEL_ARGS = ("--IPKernelApp.log_level=ERROR",)
# Files copied next to the notebook into its scratch folder (a helper module, a data file).
_SIBLING_MAX_BYTES = 16 * 2**20
_SIBLINGS_MAX_BYTES = 64 * 2**20
_ANSWER_MAX_CHARS = 10_000
# Types an answer may have in the kernel; anything else (a subclass too) scores 0.
_PLAIN = {("builtins", t) for t in ("int", "float", "str", "bool")}
_NUMPY_SCALARS = {
    "float16", "float32", "float64", "longdouble", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool", "bool_", "ndarray",
}
# Evaluated in the kernel on the learner's expression: type name and value, as JSON text.
# json writes a float or int subclass by its true value, and raises on other objects.
_SERIALISE = (
    "(lambda _v: __import__('json').dumps([type(_v).__module__, type(_v).__qualname__, "
    "_v.item() if type(_v).__module__ == 'numpy' else _v]))({expr})"
)


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


class GradeError(Exception):
    """A notebook cannot be graded (unreadable, not a notebook, no answer key)."""


def _default_memory() -> int:
    """A sensible share of this machine's memory for one kernel: a quarter, 1 to 8 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        total = 8 * 2**30
    return int(min(max(total / 4, 2**30), 8 * 2**30))


@dataclass(frozen=True)
class Limits:
    """What one notebook may use.

    Attributes
    ----------
    cell_timeout : float
        Seconds per cell before it is interrupted.
    notebook_timeout : float
        Seconds for the whole notebook before its kernel is stopped.
    memory_bytes : int
        Memory of the kernel's process tree.
    """

    cell_timeout: float = DEFAULT_TIMEOUT
    notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT
    memory_bytes: int = field(default_factory=_default_memory)

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "notebook_timeout", "memory_bytes"):
            v.positive(name, getattr(self, name))


def kernel_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a notebook kernel started by the course tools.

    The kernel must import the same ``trainmath`` as this process, so its parent folder
    is put first on ``PYTHONPATH`` unless it is an installed ``site-packages``.
    """
    env = dict(os.environ)
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


# --- reading a submission -------------------------------------------------------------------------


def _read_notebook(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook's well-formed code cells (original indices kept), and warnings."""
    if not path.is_file():
        raise GradeError(f"{path}: no such file")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GradeError(f"{path}: not a readable Jupyter notebook ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise GradeError(f"{path}: not a Jupyter notebook (no list of cells)")
    warnings: list[str] = []
    cells = []
    for index, cell in enumerate(raw["cells"]):
        source = cell.get("source") if isinstance(cell, dict) else None
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(cell, dict) or "cell_type" not in cell or not isinstance(source, str):
            warnings.append(f"cell {index} is corrupt (no cell type or source); it was skipped")
            continue
        if cell["cell_type"] == "code":
            code = nbformat.v4.new_code_cell(source)
            code.metadata["trainmath_index"] = index
            cells.append(code)
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"trainmath": meta.get("trainmath", {})})
    if not cells:
        warnings.append("the notebook has no code cells")
    return nb, warnings


def _load(path: Path) -> tuple[nbformat.NotebookNode, str, list[Question], list[str]]:
    """Read ``path`` and find its lesson's questions, or raise :class:`GradeError`."""
    nb, warnings = _read_notebook(path)
    lesson = lesson_of_notebook(nb, path)
    try:
        questions = questions_for(lesson)
    except (TypeError, ValueError) as exc:
        raise GradeError(
            f"{path}: cannot grade lesson {lesson!r}: {exc}. Name the notebook after its "
            'lesson or set notebook metadata {"trainmath": {"lesson": "NN_name"}}.'
        ) from exc
    if lesson != path.stem and path.stem[:3] != lesson[:3] and path.stem[:2].isdigit():
        warnings.append(f"the file is named {path.name} but holds lesson {lesson}")
    return nb, lesson, questions, warnings


#: ``ast`` is not thread-safe in CPython 3.11 (gh-106905: concurrent parses can raise
#: "SystemError: AST constructor recursion depth mismatch"); ``grade_many --jobs`` grades
#: notebooks in threads, so every ``ast`` call of the grader takes this lock.
_AST_LOCK = threading.Lock()


def answer_calls(source: str) -> list[tuple[str, str]]:
    """``(question id, expression)`` of each top-level ``check("NN.k", expr)`` in a cell.

    >>> answer_calls('x = 2\\ncheck("01.1", x * 3)')
    [('01.1', 'x * 3')]
    """
    with _AST_LOCK:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            try:  # IPython syntax (magics, !commands): let IPython turn it into Python first
                from IPython.core.inputtransformer2 import TransformerManager

                source = TransformerManager().transform_cell(source)
                tree = ast.parse(source)
            except (ImportError, SyntaxError, ValueError):
                return []
    calls = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "check"
            and len(call.args) == 2
            and not call.keywords
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        ):
            expr = ast.get_source_segment(source, call.args[1])
            if expr is not None:
                calls.append((call.args[0].value, expr))
    return calls


# --- running one notebook -----------------------------------------------------------------------


class _LimitedKernelManager(AsyncKernelManager):
    """Starts the kernel with a data-segment limit (``RLIMIT_DATA``) where the OS has one."""

    memory_bytes = 0

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if not self.memory_bytes or sys.platform == "win32":
            return cmd
        wrapper = (
            "import os, resource, sys; n = int(sys.argv[1]); "
            "resource.setrlimit(resource.RLIMIT_DATA, (n, n)); os.execvp(sys.argv[2], sys.argv[2:])"
        )
        return [sys.executable, "-c", wrapper, str(self.memory_bytes), *cmd]


class _SilentClient(NotebookClient):
    """Keeps no outputs: the grader needs none, and a flood must not fill its memory."""

    def output(self, outs, msg, display_id, cell_index):  # noqa: D102
        return None


class _Watchdog(threading.Thread):
    """Stops the kernel when its process tree passes the memory limit or the notebook its time."""

    def __init__(self, km: AsyncKernelManager, limits: Limits) -> None:
        super().__init__(daemon=True)
        self.km, self.limits = km, limits
        self.reason: str | None = None
        self.done = threading.Event()

    def _tree_rss(self, pid: int) -> int:
        import psutil  # ships with ipykernel

        proc = psutil.Process(pid)
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def _kill(self, pid: int) -> None:
        import psutil

        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            for p in [*proc.children(recursive=True), proc]:
                with contextlib.suppress(psutil.Error):
                    p.kill()

    def run(self) -> None:
        start = time.monotonic()
        while not self.done.wait(0.2):
            provisioner = getattr(self.km, "provisioner", None)
            pid = getattr(getattr(provisioner, "process", None), "pid", None)
            if pid is None:
                continue
            try:
                rss = self._tree_rss(pid)
            except Exception:  # the kernel is gone already
                continue
            if rss > self.limits.memory_bytes:
                self.reason = f"it used more than the {_gb(self.limits.memory_bytes)} memory limit"
            elif time.monotonic() - start > self.limits.notebook_timeout:
                self.reason = f"it ran past the {self.limits.notebook_timeout:g} s notebook limit"
            if self.reason:
                self._kill(pid)
                return


def _gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


@dataclass
class _Answer:
    """What the grader read back for one question."""

    value: object = None
    problem: str | None = None  # why the value could not be used; None when it can
    cell: int | None = None


def _decode(reply: Mapping[str, Any]) -> _Answer:
    """A plain value from a user-expression reply, or why there is none."""
    if reply.get("status") != "ok":
        name = reply.get("ename", "an error")
        return _Answer(problem=f"the answer could not be read ({name}: a plain number, "
                       "string or boolean is wanted)")
    text = reply.get("data", {}).get("text/plain", "")
    if not isinstance(text, str) or len(text) > _ANSWER_MAX_CHARS:
        return _Answer(problem="the answer is too long")
    try:
        with _AST_LOCK:
            literal = ast.literal_eval(text)
        module, name, value = json.loads(literal)
    except (ValueError, SyntaxError, TypeError):
        return _Answer(problem="the answer could not be read")
    plain = (module, name) in _PLAIN or (module == "numpy" and name in _NUMPY_SCALARS)
    if not plain or isinstance(value, (list, dict)) or value is None:
        return _Answer(problem=f"the answer is a {module}.{name}, not a plain number, string "
                       "or boolean")
    return _Answer(value=value)


def _fetch(client: NotebookClient, calls: list[tuple[str, str]]) -> dict[str, _Answer]:
    """Ask the kernel for the value of each call's expression, as user expressions."""
    exprs = {f"q{i}": _SERIALISE.format(expr=expr) for i, (_, expr) in enumerate(calls)}
    msg_id = client.kc.execute("", silent=True, store_history=False, user_expressions=exprs)
    reply = client.wait_for_reply(msg_id)
    results = (reply or {}).get("content", {}).get("user_expressions", {})
    return {qid: _decode(results.get(f"q{i}", {})) for i, (qid, _) in enumerate(calls)}


def _scratch_copy(path: Path, scratch: Path) -> Path:
    """Copy the notebook's small sibling files into ``scratch``; the originals stay untouched."""
    budget = _SIBLINGS_MAX_BYTES
    for sibling in sorted(path.parent.iterdir()):
        with contextlib.suppress(OSError):
            if sibling.is_file() and sibling.suffix != ".ipynb" and not sibling.is_symlink():
                size = sibling.stat().st_size
                if size <= min(_SIBLING_MAX_BYTES, budget):
                    shutil.copy2(sibling, scratch / sibling.name)
                    budget -= size
    return scratch / path.name


def _run(
    nb: nbformat.NotebookNode, path: Path, limits: Limits
) -> tuple[dict[str, _Answer], list[str]]:
    """Run ``nb`` (the well-formed code cells of ``path``) and read back its answers."""
    answers: dict[str, _Answer] = {}
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="trainmath-grade-") as tmp:
        _scratch_copy(path, Path(tmp))
        km = _LimitedKernelManager(kernel_name=KERNEL_NAME)
        km.memory_bytes = int(limits.memory_bytes)
        client = _SilentClient(
            nb,
            km=km,
            timeout=limits.cell_timeout,
            kernel_name=KERNEL_NAME,
            extra_arguments=list(KERNEL_ARGS),
            allow_errors=True,
            interrupt_on_timeout=True,  # a stuck cell costs its question, not the notebook
            record_timing=False,
            resources={"metadata": {"path": tmp}},
        )
        replies: dict[int, Mapping[str, Any]] = {}
        client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.update(
            {cell_index: execute_reply.get("content", {})}
        )
        watchdog = _Watchdog(km, limits)
        cell_no = None
        try:
            with client.setup_kernel(env=kernel_env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL):
                watchdog.start()
                for index, cell in enumerate(nb.cells):
                    cell_no = cell.metadata["trainmath_index"]
                    client.execute_cell(cell, index)
                    reply = replies.get(index, {})
                    calls = answer_calls(cell.source)
                    if reply.get("status") == "error":
                        problem = _cell_error(reply, cell_no, limits)
                        if calls:
                            for qid, _ in calls:
                                answers[qid] = _Answer(problem=problem, cell=cell_no)
                        if reply.get("ename") in ("KeyboardInterrupt", "MemoryError"):
                            warnings.append(problem)  # the limits are the notebook's business
                        continue
                    if calls:
                        for qid, answer in _fetch(client, calls).items():
                            answer.cell = cell_no
                            answers[qid] = answer
        except (DeadKernelError, CellTimeoutError, RuntimeError) as exc:
            why = watchdog.reason or _kernel_death(exc)
            warnings.append(
                f"the kernel stopped in cell {cell_no} ({why}); the questions not answered "
                "by then score 0"
            )
        except Exception as exc:  # the kernel could not start: nothing was graded
            raise GradeError(f"could not run the notebook: {type(exc).__name__}: {exc}") from exc
        finally:
            watchdog.done.set()
    return answers, warnings


def _cell_error(reply: Mapping[str, Any], cell_no: int, limits: Limits) -> str:
    """Why an answer cell gave no answer, naming the cell."""
    name = reply.get("ename", "an error")
    if name == "KeyboardInterrupt":
        return f"cell {cell_no} ran past the {limits.cell_timeout:g} s cell limit"
    if name == "MemoryError":
        return f"cell {cell_no} ran out of memory (MemoryError, limit {_gb(limits.memory_bytes)})"
    if name == "NotImplementedError":
        return f"cell {cell_no} still holds the placeholder (NotImplementedError)"
    return f"cell {cell_no} raised {name}"


def _kernel_death(exc: Exception) -> str:
    if isinstance(exc, CellTimeoutError):
        return "a cell ran past its time limit and could not be interrupted"
    return "the kernel died, for example by os._exit or running out of memory"


# --- grading ---------------------------------------------------------------------------------


def _grade(path: Path, limits: Limits, variant: int | None) -> dict[str, Any]:
    """Grade one notebook; the report also keeps what the table and feedback need."""
    nb, lesson, questions, warnings = _load(path)
    if variant is None:
        variant = variant_of_notebook(nb)
    try:
        answers, run_warnings = _run(nb, path, limits)
    except GradeError as exc:
        raise GradeError(f"{path}: {exc}") from exc
    warnings += run_warnings
    rows = []
    for q in questions:
        answer = answers.get(q.id)
        if answer is None:
            row = {"id": q.id, "passed": False, "points": 0, "status": "not answered",
                   "line": "no answer was checked"}
        elif answer.problem:
            status = "not answered" if answer.problem.startswith("cell ") else "wrong"
            row = {"id": q.id, "passed": False, "points": 0, "status": status,
                   "line": answer.problem}
        else:
            result = evaluate(q.id, answer.value, variant=variant, attempt=1)
            row = {"id": q.id, "passed": result.passed, "points": result.points,
                   "status": "correct" if result.passed else "wrong", "line": result.line,
                   "answer": answer.value}
        rows.append(row)
    return {
        "notebook": str(path),
        "lesson": lesson,
        "variant": variant,
        "score": sum(row["points"] for row in rows),
        "max_score": sum(q.points for q in questions),
        "questions": rows,
        "warnings": warnings,
    }


_PUBLIC_QUESTION_KEYS = ("id", "passed", "points")


def _public(report: dict[str, Any]) -> dict[str, Any]:
    """The report as ``--json`` prints it."""
    out = {k: report[k] for k in ("notebook", "variant", "score", "max_score", "warnings")}
    out["questions"] = [{k: row[k] for k in _PUBLIC_QUESTION_KEYS} for row in report["questions"]]
    return out


def grade_notebook(
    path: str | os.PathLike[str],
    timeout: float = DEFAULT_TIMEOUT,
    variant: int | None = None,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Execute a notebook in a fresh kernel and score its lesson's questions.

    Parameters
    ----------
    path : str or path-like
        The notebook. It runs in a scratch copy of its folder.
    timeout : float
        Per-cell time limit in seconds; a cell that runs longer is interrupted.
    variant : int, optional
        Grade against this variant instead of the one the notebook records.
    limits : Limits, optional
        Memory and whole-notebook time limits (its ``cell_timeout`` is replaced by
        ``timeout``).

    Returns
    -------
    dict
        ``{"notebook": str, "variant": int, "score": int, "max_score": int,
        "warnings": [str, ...], "questions": [{"id": str, "passed": bool, "points": int},
        ...]}``, questions in answer-key order.

    Raises
    ------
    GradeError
        If the file cannot be read, is not a notebook, or its lesson has no answer key.
    """
    timeout = float(v.positive("timeout", timeout))
    if variant is not None:
        variant = check_variant(variant)
    base = limits or Limits()
    limits = Limits(timeout, base.notebook_timeout, base.memory_bytes)
    return _public(_grade(Path(path), limits, variant))


def grade_many(
    paths: Iterable[Path],
    limits: Limits,
    variants: Mapping[Path, int] | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Grade many notebooks, ``jobs`` at a time; a notebook that cannot be graded is a row
    with an ``error`` and no score, never a crash."""
    paths = list(paths)
    variants = variants or {}
    done = 0
    lock = threading.Lock()

    def one(path: Path) -> dict[str, Any]:
        nonlocal done
        try:
            report = _grade(path, limits, variants.get(path))
        except GradeError as exc:
            report = {"notebook": str(path), "error": str(exc), "warnings": [str(exc)]}
        with lock:
            done += 1
            if progress:
                _progress(done, len(paths))
        return report

    if progress:
        _progress(0, len(paths))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        reports = list(pool.map(one, paths))
    if progress:
        print(file=sys.stderr)
    return reports


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "." * (width - filled)
    print(f"\rgrading [{bar}] {done}/{total}", end="", file=sys.stderr, flush=True)


# --- output --------------------------------------------------------------------------------------


def _score(score: int, max_score: int) -> str:
    percent = f" ({100 * score / max_score:.0f}%)" if max_score else ""
    return f"{score}/{max_score} points{percent}"


def _title(qid: str, variant: int) -> str:
    from trainmath.answers import question

    q = question(qid)
    return render(q.title, q.inputs_for(variant))


def _table(report: dict[str, Any]) -> str:
    """A readable per-question table for one notebook."""
    lines = [f"{report['notebook']}  (lesson {report['lesson']}, variant {report['variant']})"]
    width = max((len(row["id"]) for row in report["questions"]), default=4)
    points = {q.id: q.points for q in questions_for(report["lesson"])}
    for row in report["questions"]:
        got = f"{row['points']}/{points[row['id']]}"
        title = _title(row["id"], report["variant"])
        lines.append(f"  {row['id']:<{width}}  {row['status']:<12}  {got:>5}  {title}")
    lines.append(f"  score: {_score(report['score'], report['max_score'])}")
    return "\n".join(lines)


def _write_csv(reports: list[dict[str, Any]], target: Path) -> None:
    ids: list[str] = []
    for report in reports:
        for row in report.get("questions", []):
            if row["id"] not in ids:
                ids.append(row["id"])
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["notebook", "lesson", "variant", *ids, "total", "maximum", "warnings"])
        for report in reports:
            points = {row["id"]: row["points"] for row in report.get("questions", [])}
            writer.writerow([
                report["notebook"], report.get("lesson", ""), report.get("variant", ""),
                *(points.get(qid, "") for qid in ids),
                report.get("score", ""), report.get("max_score", ""),
                " | ".join(report.get("warnings", [])),
            ])


def _feedback_name(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root)
    except ValueError:
        rel = Path(path.name)
    return "__".join(rel.with_suffix("").parts) + ".md"


def _feedback(report: dict[str, Any]) -> str:
    """Markdown feedback for the learner: right or wrong, their value, the unit, a hint."""
    from trainmath.answers import question

    name = Path(report["notebook"]).name
    if "error" in report:
        return f"# Feedback on {name}\n\nThis notebook could not be graded: {report['error']}\n"
    lines = [
        f"# Feedback on {name}",
        "",
        f"Lesson {report['lesson']}, variant {report['variant']}: "
        f"**{_score(report['score'], report['max_score'])}**.",
        "",
    ]
    for warning in report["warnings"]:
        lines.append(f"> Note: {warning}")
    if report["warnings"]:
        lines.append("")
    for row in report["questions"]:
        q = question(row["id"])
        mark = "✅ right" if row["passed"] else "❌ not right"
        lines.append(f"## {q.id} — {_title(q.id, report['variant'])}: {mark}")
        lines.append("")
        if "answer" in row:
            lines.append(f"- Your answer: `{row['answer']!r}`")
        else:
            lines.append(f"- Your answer: none ({row['line']})")
        if q.unit:
            lines.append(f"- Wanted in: {q.unit}")
        if not row["passed"]:
            hint = q.nudge or q.hint
            if hint:
                lines.append(f"- Hint: {hint}")
        lines.append("")
    return "\n".join(lines)


# --- command line --------------------------------------------------------------------------------


def _collect(args: Sequence[str]) -> list[Path]:
    """Files as given and every ``*.ipynb`` below each folder (checkpoints skipped)."""
    paths: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            paths += sorted(
                p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
            )
        else:
            paths.append(path)
    return list(dict.fromkeys(paths))


def _read_roster(roster: Path, paths: list[Path]) -> tuple[dict[Path, int], list[str]]:
    """Map each notebook to the variant the roster gives it (by path, else by file name)."""
    try:
        with open(roster, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise GradeError(f"--roster {roster}: cannot read it ({exc})") from exc
    if not rows or not {"notebook", "variant"} <= set(rows[0]):
        raise GradeError(f"--roster {roster}: needs the columns notebook,variant")
    by_path: dict[Path, int] = {}
    by_name: dict[str, list[int]] = {}
    for number, row in enumerate(rows, start=2):
        try:
            variant = check_variant(int(row["variant"]))
        except (TypeError, ValueError) as exc:
            raise GradeError(f"--roster {roster}, line {number}: variant must be an int >= 0, "
                             f"got {row['variant']!r}") from exc
        entry = Path(row["notebook"])
        for candidate in (entry, roster.parent / entry):
            by_path[candidate.resolve()] = variant
        by_name.setdefault(entry.name, []).append(variant)
    variants, warnings = {}, []
    for path in paths:
        if path.resolve() in by_path:
            variants[path] = by_path[path.resolve()]
        elif len(by_name.get(path.name, [])) == 1:
            variants[path] = by_name[path.name][0]
        else:
            warnings.append(f"{path}: not in the roster; graded as the variant it records")
    return variants, warnings


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m trainmath.grade",
        description="Run notebooks in fresh kernels and score their answers.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="notebooks or folders of them")
    parser.add_argument("--json", action="store_true", help="print a JSON list of reports only")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write one row per notebook")
    parser.add_argument("--feedback", type=Path, metavar="DIR", help="one Markdown file each")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--variant", type=int, metavar="SEED", help="grade against this variant")
    group.add_argument("--roster", type=Path, metavar="CSV", help="columns notebook,variant")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="notebooks at a time")
    parser.add_argument(
        "--memory", type=float, default=None, metavar="GB",
        help=f"memory per notebook (default {_default_memory() / 1e9:.2g})",
    )
    parser.add_argument(
        "--notebook-timeout", type=float, default=DEFAULT_NOTEBOOK_TIMEOUT, metavar="SECONDS",
        help=f"time limit per notebook (default {DEFAULT_NOTEBOOK_TIMEOUT:g})",
    )
    args = parse_with_timeout(parser, argv)
    if args.variant is not None and args.variant < 0:
        parser.error(f"--variant must be an int >= 0, got {args.variant}")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.memory is not None and not args.memory > 0:
        parser.error(f"--memory must be > 0 GB, got {args.memory:g}")
    if not args.notebook_timeout > 0:
        parser.error(f"--notebook-timeout must be > 0 seconds, got {args.notebook_timeout:g}")
    memory = int(args.memory * 1e9) if args.memory is not None else _default_memory()
    limits = Limits(args.timeout, args.notebook_timeout, memory)

    paths = _collect(args.paths)
    if not paths:
        print("error: no notebooks found in " + ", ".join(args.paths), file=sys.stderr)
        return 2
    variants: dict[Path, int] = {}
    if args.variant is not None:
        variants = dict.fromkeys(paths, args.variant)
    elif args.roster is not None:
        try:
            variants, roster_warnings = _read_roster(args.roster, paths)
        except GradeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for warning in roster_warnings:
            print(f"warning: {warning}", file=sys.stderr)

    progress = sys.stderr.isatty() and len(paths) > 1
    reports = grade_many(paths, limits, variants, args.jobs, progress)

    failed = 0
    for report in reports:
        if "error" in report:
            failed += 1
            print(f"error: {report['error']}", file=sys.stderr)
            continue
        for warning in report["warnings"]:
            print(f"warning: {report['notebook']}: {warning}", file=sys.stderr)
        if not args.json:
            print(_table(report), flush=True)
            print()
    if args.csv:
        _write_csv(reports, args.csv)
    if args.feedback:
        args.feedback.mkdir(parents=True, exist_ok=True)
        root = Path(os.path.commonpath([p.resolve().parent for p in paths]))
        for path, report in zip(paths, reports, strict=True):
            (args.feedback / _feedback_name(path, root)).write_text(
                _feedback(report), encoding="utf-8"
            )
    graded = [r for r in reports if "error" not in r]
    if args.json:
        print(json.dumps([_public(r) for r in graded], indent=2))
    elif graded:
        total = sum(r["score"] for r in graded)
        max_total = sum(r["max_score"] for r in graded)
        noun = "notebook" if len(graded) == 1 else "notebooks"
        print(f"total: {_score(total, max_total)} in {len(graded)} {noun}")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
