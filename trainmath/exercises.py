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

``--check`` writes nothing and exits 1 if a committed exercise differs from a fresh one in
anything but outputs and execution counts.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from trainmath.grade import (
    DEFAULT_TIMEOUT,
    KERNEL_ARGS,
    KERNEL_NAME,
    kernel_env,
    lesson_of_notebook,
    parse_with_timeout,
)

__all__ = [
    "make_exercise",
    "differences",
    "execute_exercise",
    "build_exercise",
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


def make_exercise(nb: nbformat.NotebookNode, lesson: str | None = None) -> nbformat.NotebookNode:
    """The exercise version of a solution notebook (no execution; ``nb`` is not changed).

    Parameters
    ----------
    nb : NotebookNode
        A solution notebook (nbformat 4).
    lesson : str, optional
        Lesson name for the metadata ``trainmath.lesson``; by default the solution's own
        ``trainmath.lesson`` metadata.

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

    exercise = nbformat.from_dict(copy.deepcopy(dict(nb)))
    for index, cell in enumerate(exercise.cells):
        where = f"cell {index}"
        if cell.cell_type == "code":
            cell.source, blocks = _strip_code_solutions(_text(cell.source), where)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)  # timing of the solution run
            if blocks:
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
        raise ExerciseError(f"executing the exercise failed: {exc}") from exc
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
) -> nbformat.NotebookNode:
    """Generate, execute and write the exercise notebook for one solution notebook.

    Raises
    ------
    ExerciseError
        With the solution's path in the message, if anything goes wrong.
    """
    solution, exercise = Path(solution), Path(exercise)
    fresh = _fresh(solution)
    exercise.parent.mkdir(parents=True, exist_ok=True)
    try:
        execute_exercise(fresh, exercise.parent, timeout)
    except ExerciseError as exc:
        raise ExerciseError(f"{solution}: {exc}") from exc
    nbformat.write(fresh, exercise)  # nbformat writes as Jupyter does: 1-space indent
    return fresh


def _read(path: Path) -> nbformat.NotebookNode:
    if not path.is_file():
        raise ExerciseError(f"{path}: no such file")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises many types for a bad file
        raise ExerciseError(f"{path}: not a readable Jupyter notebook ({exc})") from exc


def _fresh(solution: Path) -> nbformat.NotebookNode:
    """The unexecuted exercise for ``solution``; any problem raises :class:`ExerciseError`."""
    nb = _read(solution)
    try:
        return make_exercise(nb, lesson_of_notebook(nb, solution))
    except (TypeError, ValueError) as exc:
        raise ExerciseError(f"{solution}: {exc}") from exc


# --- command line ------------------------------------------------------------------------------


def _select(solutions: list[Path], names: Sequence[str]) -> list[Path]:
    if not names:
        return solutions
    by_stem = {path.stem: path for path in solutions}
    chosen = []
    for name in names:
        stem = Path(name).stem
        if stem not in by_stem:
            valid = ", ".join(by_stem) or "(none)"
            raise ExerciseError(f"no solution notebook named {name!r}; valid names: {valid}")
        chosen.append(by_stem[stem])
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status.

    0: all written (or, with ``--check``, all up to date); 1: some exercise is stale or
    could not be generated; 2: bad arguments (unknown name, no ``solutions/`` folder).
    """
    parser = argparse.ArgumentParser(
        prog="python -m trainmath.exercises",
        description="Generate exercises/NAME.ipynb from solutions/NAME.ipynb.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="lessons (default: all)")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if an exercise is stale"
    )
    parser.add_argument(
        "--root", type=Path, default=_ROOT, help="course root with solutions/ and exercises/"
    )
    args = parse_with_timeout(parser, argv)

    solutions_dir, exercises_dir = args.root / "solutions", args.root / "exercises"
    if not solutions_dir.is_dir():
        print(f"error: no solutions/ folder in {args.root}; pass --root", file=sys.stderr)
        return 2
    try:
        chosen = _select(sorted(solutions_dir.glob("*.ipynb")), args.names)
    except ExerciseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if not chosen:
        print(f"no solution notebooks in {solutions_dir}", file=sys.stderr)
    failed = 0
    for solution in chosen:
        exercise = exercises_dir / solution.name
        shown = exercise.relative_to(args.root) if exercise.is_relative_to(args.root) else exercise
        try:
            if args.check:
                problems = _check_one(solution, exercise)
                if problems:
                    failed += 1
                    print(f"stale: {shown}")
                    print("\n".join(f"  - {problem}" for problem in problems))
                else:
                    print(f"up to date: {shown}")
            else:
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


def _check_one(solution: Path, exercise: Path) -> list[str]:
    """Differences between the committed exercise and a fresh one (no execution needed)."""
    fresh = _fresh(solution)
    if not exercise.is_file():
        return ["missing (never generated)"]
    return differences(_read(exercise), fresh)


if __name__ == "__main__":
    sys.exit(main())
