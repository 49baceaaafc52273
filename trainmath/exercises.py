"""Generate exercise notebooks from solution notebooks: ``python -m trainmath.exercises``.

The solution notebook ``solutions/NN_name.ipynb`` is the single source; its exercise
``exercises/NN_name.ipynb`` is derived from it:

* in code cells, each block from a line ``### BEGIN SOLUTION`` to a line
  ``### END SOLUTION`` (both included) becomes
  ``raise NotImplementedError("Replace this line with your answer")`` at the indentation
  of the ``BEGIN`` line, and the cell gets the tag ``raises-exception``;
* in markdown cells, text from ``<!-- BEGIN SOLUTION -->`` to ``<!-- END SOLUTION -->``
  becomes ``*Write your answer here.*``;
* outputs of the solution are dropped, notebook metadata ``trainmath.lesson`` is set;
* the exercise is executed top to bottom in a fresh kernel (only cells tagged
  ``raises-exception`` may fail, and each of them must) and saved with its outputs.

Question cells are rendered from the answer key. A markdown cell whose metadata is
``{"trainmath": {"question": "01.3"}}`` shows that question's heading and text, and one with
``{"trainmath": {"question": "01.3", "part": "discussion"}}`` its discussion; both are
templates of the question's inputs (:func:`trainmath.answers.render`). A code line
``use_variant(N)`` (the setup cell's) states the variant. So one solution notebook yields
any variant: ``--variant SEED --out DIR [--lesson NN ...] [--solutions]`` writes the
exercise (or worked solution) notebooks of variant SEED into DIR, executed, with the seed
in the notebook metadata ``trainmath.variant``. Variant 0 is what ``exercises/`` and
``solutions/`` ship; a plain run also re-renders the question cells of ``solutions/``.

``--check`` writes nothing and exits 1 if a committed exercise differs from a fresh one in
anything but outputs and execution counts, or a solution's question cell is stale.

Learners practise with new numbers from a notebook cell::

    from trainmath.exercises import practice; practice("01")
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from trainmath.answers import check_variant, question, render
from trainmath.grade import (
    DEFAULT_TIMEOUT,
    KERNEL_ARGS,
    KERNEL_NAME,
    answer_calls,
    kernel_env,
    lesson_of_notebook,
    parse_with_timeout,
)

__all__ = [
    "make_exercise",
    "render_variant",
    "nbgrader_structure",
    "is_test_cell",
    "practice",
    "differences",
    "execute_exercise",
    "build_exercise",
    "build_solution",
    "ExerciseError",
    "main",
]

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
CODE_PLACEHOLDER = 'raise NotImplementedError("Replace this line with your answer")'
MARKDOWN_BEGIN = "<!-- BEGIN SOLUTION -->"
MARKDOWN_END = "<!-- END SOLUTION -->"
MARKDOWN_PLACEHOLDER = "*Write your answer here.*"
RAISES_TAG = "raises-exception"
_USE_VARIANT = re.compile(r"^(\s*)use_variant\(\s*\d+\s*\)", flags=re.MULTILINE)
# nbgrader: after each answer cell, a locked test cell worth the question's points.
TEST_CELL = 'grade("{qid}", {expr})'
_NBGRADER_SCHEMA = 3

_MARKDOWN_BLOCK = re.compile(
    re.escape(MARKDOWN_BEGIN) + r".*?" + re.escape(MARKDOWN_END), flags=re.DOTALL
)
_ROOT = Path(__file__).resolve().parent.parent


class ExerciseError(Exception):
    """A solution notebook cannot be turned into a working exercise notebook."""


# --- the pure transform ----------------------------------------------------------------------


def _strip_code_solutions(source: str, where: str) -> tuple[str, int]:
    """Replace the solution blocks of a code cell; return the new source and block count."""
    out: list[str] = []
    blocks = 0
    inside = False
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if inside:
                raise ValueError(f"{where}, line {number}: {BEGIN_SOLUTION!r} inside a block")
            inside = True
            blocks += 1
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + CODE_PLACEHOLDER)
        elif marker == END_SOLUTION:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END_SOLUTION!r} without a BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN_SOLUTION!r} without a matching {END_SOLUTION!r}")
    return "\n".join(out), blocks


def _strip_markdown_solutions(source: str, where: str) -> str:
    stripped = _MARKDOWN_BLOCK.sub(MARKDOWN_PLACEHOLDER, source)
    if MARKDOWN_BEGIN in stripped or MARKDOWN_END in stripped:
        raise ValueError(f"{where}: unmatched {MARKDOWN_BEGIN!r} / {MARKDOWN_END!r}")
    return stripped


def _question_source(cell: Mapping, variant: int, where: str) -> str | None:
    """The rendered source of a question cell, or None for any other cell."""
    meta = cell.get("metadata", {}).get("trainmath", {})
    qid = meta.get("question") if isinstance(meta, Mapping) else None
    if qid is None:
        return None
    try:
        q = question(qid)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    values = q.inputs_for(variant)
    part = meta.get("part", "text")
    if part == "text":
        return f"{q.heading(variant)}\n\n{render(q.text, values).strip()}"
    if part == "discussion":
        return render(q.discussion, values).strip()
    raise ValueError(f"{where}: part must be 'text' or 'discussion', got {part!r}")


def _slug(qid: str) -> str:
    return qid.replace(".", "_")  # nbgrader ids allow letters, digits, "_" and "-" only


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": _NBGRADER_SCHEMA, "solution": solution}
    if points is not None:
        meta["points"] = points
    return meta


def is_test_cell(cell: Mapping) -> bool:
    """Whether ``cell`` is one of nbgrader's autograded test cells."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def nbgrader_structure(nb: nbformat.NotebookNode) -> None:
    """Give a course solution notebook nbgrader's structure, in place (idempotent).

    Every answer cell (a code cell with a solution block) becomes an nbgrader solution cell
    and is followed by a locked test cell ``grade("NN.k", answer)`` worth the question's
    points; a Markdown answer (``<!-- BEGIN SOLUTION -->``) becomes a manually graded cell
    of 0 points; every other cell is locked (read-only). Ids follow nbgrader's rules
    (``answer_01_1``, ``test_01_1``, ``question_01_1``, ``setup``, ``text_N``).
    """
    old_tests = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if is_test_cell(c)}
    cells = []
    texts = 0
    for index, cell in enumerate(nb.cells):
        if is_test_cell(cell):
            continue
        source = _text(cell.source)
        qid = cell.metadata.get("trainmath", {}).get("question")
        if cell.cell_type == "code" and BEGIN_SOLUTION in source:
            calls = list(dict(answer_calls(source)).items())
            if not calls:
                raise ValueError(f"cell {index}: an answer cell must end with check(\"NN.k\", ...)")
            cell.metadata["nbgrader"] = _nbgrader(f"answer_{_slug(calls[0][0])}", solution=True)
            cells.append(cell)
            for test_qid, expr in calls:
                grade_id = f"test_{_slug(test_qid)}"
                test = old_tests.get(grade_id) or nbformat.v4.new_code_cell(id=grade_id)
                test.source = TEST_CELL.format(qid=test_qid, expr=expr)
                test.metadata["nbgrader"] = _nbgrader(
                    grade_id, grade=True, locked=True, points=question(test_qid).points
                )
                cells.append(test)
            continue
        if cell.cell_type == "markdown" and MARKDOWN_BEGIN in source:
            name = f"discussion_{_slug(qid)}" if qid else f"answer_text_{index}"
            cell.metadata["nbgrader"] = _nbgrader(name, solution=True, grade=True, points=0)
        else:
            if qid and cell.metadata["trainmath"].get("part", "text") == "text":
                name = f"question_{_slug(qid)}"
            elif cell.cell_type == "code" and _USE_VARIANT.search(source):
                name = "setup"
            else:
                texts += 1
                name = f"text_{texts}"
            cell.metadata["nbgrader"] = _nbgrader(name, locked=True)
        cells.append(cell)
    nb.cells = cells


def render_variant(nb: nbformat.NotebookNode, variant: int = 0) -> nbformat.NotebookNode:
    """A copy of a solution notebook with its question cells and variant set to ``variant``.

    Question cells (metadata ``trainmath.question``) are rendered from the answer key with
    the variant's inputs, the line ``use_variant(N)`` of the setup cell states the variant,
    and the notebook metadata ``trainmath.variant`` records it. Outputs are kept.

    Raises
    ------
    ValueError
        If a question cell names an unknown question or part, or no cell calls
        ``use_variant`` while the notebook has question cells.
    """
    variant = check_variant(variant)
    out = nbformat.from_dict(copy.deepcopy(dict(nb)))
    stated = False
    questions = False
    for index, cell in enumerate(out.cells):
        where = f"cell {index}"
        if cell.cell_type == "markdown":
            source = _question_source(cell, variant, where)
            if source is not None:
                cell.source = source
                questions = True
        elif cell.cell_type == "code":
            text = _text(cell.source)
            if _USE_VARIANT.search(text):
                cell.source = _USE_VARIANT.sub(rf"\g<1>use_variant({variant})", text)
                stated = True
    if questions and not stated:
        raise ValueError("no code cell calls use_variant(N); the setup cell must")
    if questions:
        nbgrader_structure(out)
    out.metadata.setdefault("trainmath", {})["variant"] = variant
    return out


def make_exercise(
    nb: nbformat.NotebookNode, lesson: str | None = None, variant: int = 0
) -> nbformat.NotebookNode:
    """The exercise version of a solution notebook (no execution; ``nb`` is not changed).

    Parameters
    ----------
    nb : NotebookNode
        A solution notebook (nbformat 4).
    lesson : str, optional
        Lesson name for the metadata ``trainmath.lesson``; by default the solution's own
        ``trainmath.lesson`` metadata.
    variant : int
        The variant whose inputs the question cells show (see :func:`render_variant`).

    Returns
    -------
    NotebookNode
        A copy with solution blocks replaced, code outputs and execution counts cleared,
        ``raises-exception`` tags on cells that had a code solution block, and
        ``metadata.trainmath.lesson`` set.

    Raises
    ------
    TypeError
        If ``nb`` is not a notebook.
    ValueError
        If it is not nbformat 4, has unbalanced solution markers, or no lesson is known.
    """
    if not isinstance(nb, Mapping) or not isinstance(nb.get("cells"), list):
        raise TypeError(f"nb must be a notebook (nbformat.NotebookNode), got {type(nb).__name__}")
    if nb.get("nbformat") != 4:
        raise ValueError(f"nb must be an nbformat 4 notebook, got nbformat {nb.get('nbformat')!r}")
    lesson = lesson or nb.get("metadata", {}).get("trainmath", {}).get("lesson")
    if not isinstance(lesson, str) or not lesson:
        raise ValueError("lesson is unknown: pass lesson= or set metadata trainmath.lesson")

    exercise = render_variant(nb, variant)
    for index, cell in enumerate(exercise.cells):
        where = f"cell {index}"
        if cell.cell_type == "code":
            cell.source, blocks = _strip_code_solutions(_text(cell.source), where)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)  # timing of the solution run
            if blocks or is_test_cell(cell):  # a test cell fails until its question is answered
                tags = cell.metadata.setdefault("tags", [])
                if RAISES_TAG not in tags:
                    tags.append(RAISES_TAG)
        elif cell.cell_type == "markdown":
            cell.source = _strip_markdown_solutions(_text(cell.source), where)
    exercise.metadata.setdefault("trainmath", {})["lesson"] = lesson
    return exercise


def differences(committed: nbformat.NotebookNode, fresh: nbformat.NotebookNode) -> list[str]:
    """What differs between two exercise notebooks, ignoring outputs and execution counts.

    Compares cell types, sources, cell tags and the notebook-level ``trainmath`` metadata.
    Returns one human-readable line per difference (empty when they match).
    """
    found: list[str] = []
    meta_a = committed.get("metadata", {}).get("trainmath")
    meta_b = fresh.get("metadata", {}).get("trainmath")
    if meta_a != meta_b:
        found.append(f"notebook metadata 'trainmath' is {meta_a!r}, expected {meta_b!r}")
    cells_a, cells_b = committed.get("cells", []), fresh.get("cells", [])
    if len(cells_a) != len(cells_b):
        found.append(f"{len(cells_a)} cells, expected {len(cells_b)}")
    for index, (a, b) in enumerate(zip(cells_a, cells_b, strict=False)):
        if a.get("cell_type") != b.get("cell_type"):
            found.append(f"cell {index}: is {a.get('cell_type')}, expected {b.get('cell_type')}")
            continue
        if _text(a.get("source", "")) != _text(b.get("source", "")):
            found.append(f"cell {index}: source differs")
        tags_a = sorted(a.get("metadata", {}).get("tags", []))
        tags_b = sorted(b.get("metadata", {}).get("tags", []))
        if tags_a != tags_b:
            found.append(f"cell {index}: tags are {tags_a}, expected {tags_b}")
    return found


def _text(source: str | list[str]) -> str:
    # On disk a source may be a list of lines; nbformat.read joins them, raw JSON does not.
    return source if isinstance(source, str) else "".join(source)


# --- execution ---------------------------------------------------------------------------------


def _run(
    nb: nbformat.NotebookNode,
    folder: str | os.PathLike[str],
    timeout: float,
    kind: str = "exercise",
) -> None:
    """Execute ``nb`` in place in a fresh kernel in ``folder``; only tagged cells may fail."""
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        extra_arguments=list(KERNEL_ARGS),
        allow_errors=False,  # nbclient still lets cells tagged raises-exception fail
        record_timing=False,  # no timestamps in committed notebooks
        store_widget_state=False,  # widget models (random ids, PNG bytes) stay out of git
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute(env=kernel_env())
    except Exception as exc:  # CellExecutionError, timeouts, a dead kernel, ...
        raise ExerciseError(f"executing the {kind} failed: {exc}") from exc


def execute_exercise(
    nb: nbformat.NotebookNode, folder: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT
) -> nbformat.NotebookNode:
    """Run an exercise notebook in a fresh kernel (in ``folder``) and fill in its outputs.

    Only cells tagged ``raises-exception`` may raise, and every one of them must: an
    exercise cell that runs to the end without the learner's answer is a layout bug.

    Raises
    ------
    ExerciseError
        If another cell fails, or a tagged cell does not raise.
    """
    _run(nb, folder, timeout)
    for index, cell in enumerate(nb.cells):
        tagged = RAISES_TAG in cell.get("metadata", {}).get("tags", [])
        raised = any(out.get("output_type") == "error" for out in cell.get("outputs", []))
        if cell.cell_type == "code" and tagged and not raised:
            raise ExerciseError(
                f"cell {index} is tagged {RAISES_TAG!r} but ran without error; keep each "
                "solution block and its check(...) call in the same cell"
            )
    return nb


def build_exercise(
    solution: str | os.PathLike[str],
    exercise: str | os.PathLike[str],
    timeout: float = DEFAULT_TIMEOUT,
    variant: int = 0,
) -> nbformat.NotebookNode:
    """Generate, execute and write the exercise notebook of ``variant`` for one solution.

    Raises
    ------
    ExerciseError
        With the solution's path in the message, if anything goes wrong.
    """
    solution, exercise = Path(solution), Path(exercise)
    fresh = _fresh(solution, variant)
    exercise.parent.mkdir(parents=True, exist_ok=True)
    try:
        execute_exercise(fresh, exercise.parent, timeout)
    except ExerciseError as exc:
        raise ExerciseError(f"{solution}: {exc}") from exc
    nbformat.write(fresh, exercise)  # nbformat writes as Jupyter does: 1-space indent
    return fresh


def build_solution(
    solution: str | os.PathLike[str],
    out: str | os.PathLike[str],
    variant: int,
    timeout: float = DEFAULT_TIMEOUT,
) -> nbformat.NotebookNode:
    """Write the worked solution notebook of ``variant``, executed on a fresh kernel.

    Raises
    ------
    ExerciseError
        With the solution's path in the message, if anything goes wrong (a solution cell
        that fails for this variant's inputs, say).
    """
    solution, out = Path(solution), Path(out)
    nb = _read(solution)
    try:
        rendered = render_variant(nb, variant)
        rendered.metadata.setdefault("trainmath", {})["lesson"] = lesson_of_notebook(
            nb, solution
        )
    except (TypeError, ValueError) as exc:
        raise ExerciseError(f"{solution}: {exc}") from exc
    for cell in rendered.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run(rendered, out.parent, timeout, kind="solution")
    except ExerciseError as exc:
        raise ExerciseError(f"{solution} (variant {variant}): {exc}") from exc
    nbformat.write(rendered, out)
    return rendered


def _read(path: Path) -> nbformat.NotebookNode:
    if not path.is_file():
        raise ExerciseError(f"{path}: no such file")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises many types for a bad file
        raise ExerciseError(f"{path}: not a readable Jupyter notebook ({exc})") from exc


def _fresh(solution: Path, variant: int = 0) -> nbformat.NotebookNode:
    """The unexecuted exercise for ``solution``; any problem raises :class:`ExerciseError`."""
    nb = _read(solution)
    try:
        return make_exercise(nb, lesson_of_notebook(nb, solution), variant)
    except (TypeError, ValueError) as exc:
        raise ExerciseError(f"{solution}: {exc}") from exc


def _stale_questions(solution: Path) -> list[str]:
    """How a committed solution differs from its key's variant 0 (question text, nbgrader)."""
    nb = _read(solution)
    try:
        fresh = render_variant(nb, 0)
    except (TypeError, ValueError) as exc:
        raise ExerciseError(f"{solution}: {exc}") from exc
    if len(nb.cells) != len(fresh.cells):
        return [f"{len(nb.cells)} cells, expected {len(fresh.cells)} (nbgrader test cells)"]
    found = []
    for index, (a, b) in enumerate(zip(nb.cells, fresh.cells, strict=True)):
        if _text(a.source) != _text(b.source):
            found.append(f"cell {index}: source differs from the answer key's (re-render it)")
        elif a.metadata.get("nbgrader") != b.metadata.get("nbgrader"):
            found.append(f"cell {index}: nbgrader metadata is stale (re-render it)")
    return found


def _rerender_solution(solution: Path) -> bool:
    """Write the key's variant-0 question text into ``solution``; True if it changed."""
    if not _stale_questions(solution):
        return False
    fresh = render_variant(_read(solution), 0)  # outputs kept; new test cells have none
    nbformat.write(fresh, solution)
    return True


# --- practice ----------------------------------------------------------------------------------


def _lesson_stem(name: str, stems: Sequence[str]) -> str:
    """``"01"``, ``"01_compute"`` or ``"01_compute.ipynb"`` -> ``"01_compute"``."""
    stem = Path(str(name)).stem
    matches = [s for s in stems if s == stem or (stem.isdigit() and s.split("_", 1)[0] == stem)]
    if len(matches) != 1:
        valid = ", ".join(stems) or "(none)"
        raise ExerciseError(f"no lesson named {name!r}; valid lessons: {valid}")
    return matches[0]


def practice(
    lesson: str, variant: int | None = None, folder: str | os.PathLike[str] | None = None
) -> Path:
    """Write an exercise notebook of ``lesson`` with new numbers, to practise again.

    Parameters
    ----------
    lesson : str
        ``"01"`` or ``"01_compute"``.
    variant : int, optional
        The variant (any int >= 1); by default a new random one.
    folder : path, optional
        Where to write it; by default ``practice/`` in the course folder.

    Returns
    -------
    Path
        The new notebook, ``practice/01_compute_v1234.ipynb``; open it in JupyterLab's file
        browser. It is not executed, and its ``check(...)`` lines grade its own numbers.
    """
    if variant is None:
        variant = random.SystemRandom().randint(1, 99_999)
    variant = check_variant(variant)
    solutions = _ROOT / "solutions"
    stems = sorted(p.stem for p in solutions.glob("*.ipynb"))
    stem = _lesson_stem(lesson, stems)
    nb = _fresh(solutions / f"{stem}.ipynb", variant)
    target = Path(folder) if folder is not None else _ROOT / "practice"
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{stem}_v{variant}.ipynb"
    nbformat.write(nb, path)
    shown = path.relative_to(_ROOT) if path.resolve().is_relative_to(_ROOT) else path
    print(f"Wrote {shown} (variant {variant}): open it from the file browser and answer away.")
    return path


# --- command line ------------------------------------------------------------------------------


def _select(solutions: list[Path], names: Sequence[str]) -> list[Path]:
    if not names:
        return solutions
    by_stem = {path.stem: path for path in solutions}
    return [by_stem[_lesson_stem(name, list(by_stem))] for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status.

    0: all written (or, with ``--check``, all up to date); 1: some exercise is stale or
    could not be generated; 2: bad arguments (unknown name, no ``solutions/`` folder).
    """
    parser = argparse.ArgumentParser(
        prog="python -m trainmath.exercises",
        description="Generate exercises/NAME.ipynb from solutions/NAME.ipynb, or the "
        "exercises or solutions of another variant with --variant SEED --out DIR.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="lessons (default: all)")
    parser.add_argument(
        "--lesson", action="append", default=[], metavar="NN", help="a lesson, e.g. 01"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if an exercise is stale"
    )
    parser.add_argument(
        "--variant", type=int, default=None, metavar="SEED", help="variant to write (>= 0)"
    )
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="where to write")
    parser.add_argument(
        "--solutions", action="store_true", help="with --variant: write worked solutions"
    )
    parser.add_argument(
        "--root", type=Path, default=_ROOT, help="course root with solutions/ and exercises/"
    )
    args = parse_with_timeout(parser, argv)
    if args.variant is not None and args.variant < 0:
        parser.error(f"--variant must be an int >= 0, got {args.variant}")
    if (args.variant is None) != (args.out is None):
        parser.error("--variant SEED and --out DIR go together")
    if args.solutions and args.variant is None:
        parser.error("--solutions needs --variant SEED --out DIR")
    if args.check and args.variant is not None:
        parser.error("--check compares the committed notebooks; it takes no --variant")

    solutions_dir, exercises_dir = args.root / "solutions", args.root / "exercises"
    if not solutions_dir.is_dir():
        print(f"error: no solutions/ folder in {args.root}; pass --root", file=sys.stderr)
        return 2
    try:
        chosen = _select(sorted(solutions_dir.glob("*.ipynb")), [*args.names, *args.lesson])
    except ExerciseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if not chosen:
        print(f"no solution notebooks in {solutions_dir}", file=sys.stderr)
    failed = 0
    for solution in chosen:
        try:
            if args.variant is not None:
                target = args.out / solution.name
                if args.solutions:
                    build_solution(solution, target, args.variant, args.timeout)
                    print(f"wrote {target} (solutions, variant {args.variant})", flush=True)
                else:
                    build_exercise(solution, target, args.timeout, args.variant)
                    print(f"wrote {target} (exercises, variant {args.variant})", flush=True)
                continue
            exercise = exercises_dir / solution.name
            shown = _shown(exercise, args.root)
            if args.check:
                problems = [f"{solution.name}: {p}" for p in _stale_questions(solution)]
                problems += _check_one(solution, exercise)
                if problems:
                    failed += 1
                    print(f"stale: {shown}")
                    print("\n".join(f"  - {problem}" for problem in problems))
                else:
                    print(f"up to date: {shown}")
            else:
                if _rerender_solution(solution):
                    print(f"re-rendered the question cells of {_shown(solution, args.root)}")
                fresh = build_exercise(solution, exercise, args.timeout)
                count = sum(RAISES_TAG in c.metadata.get("tags", []) for c in fresh.cells)
                print(f"wrote {shown} ({count} exercise cells)", flush=True)
        except ExerciseError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)

    if failed and args.check:
        print(
            f"{failed} exercise notebook(s) out of date; regenerate with "
            "python -m trainmath.exercises",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _shown(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


def _check_one(solution: Path, exercise: Path) -> list[str]:
    """Differences between the committed exercise and a fresh one (no execution needed)."""
    fresh = _fresh(solution)
    if not exercise.is_file():
        return ["missing (never generated)"]
    return differences(_read(exercise), fresh)


if __name__ == "__main__":
    sys.exit(main())
