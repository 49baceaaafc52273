"""Tests of trainmath.exercises (test_kernel_* start kernels: -k "not kernel" skips them)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import demo_key  # noqa: F401  (registers the 99_demo key; tests/conftest.py finds it)
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from trainmath.exercises import (
    CODE_PLACEHOLDER,
    MARKDOWN_PLACEHOLDER,
    ExerciseError,
    build_exercise,
    differences,
    main,
    make_exercise,
)
from trainmath.grade import grade_notebook

DATA = Path(__file__).parent / "data"
SOLUTION = DATA / "99_demo.ipynb"

RAISES = "raises-exception"


def solution() -> nbformat.NotebookNode:
    return nbformat.read(SOLUTION, as_version=4)


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def make_root(base: Path, *notebooks: tuple[str, nbformat.NotebookNode]) -> Path:
    """A course root with solutions/ and exercises/ (holding the demo key)."""
    (base / "solutions").mkdir(parents=True)
    (base / "exercises").mkdir()
    shutil.copy(DATA / "demo_key.py", base / "exercises")
    for name, nb in notebooks:
        nbformat.write(nb, base / "solutions" / name)
    return base


# --- make_exercise ----------------------------------------------------------------------------


def test_code_blocks_become_placeholders():
    ex = make_exercise(solution(), lesson="99_demo")
    assert ex.cells[3].source == (f'N, D = 1e9, 20e9\n{CODE_PLACEHOLDER}\ncheck("99.1", flop);')
    # indentation of the BEGIN line, lines after the block kept
    assert ex.cells[7].source.splitlines() == [
        "def training_hours(flop, peak_flops, mfu):",
        '    """Wall-clock hours to do `flop` at `peak_flops` FLOP/s and utilisation `mfu`."""',
        f"    {CODE_PLACEHOLDER}",
        "",
        "",
        'check("99.3", training_hours(1.2e20, 1e15, 0.4));',
    ]
    assert ex.cells[9].source == f'{CODE_PLACEHOLDER}\ncheck("99.4", fmt)\ncheck("99.5", linear);'
    assert [i for i, cell in enumerate(ex.cells) if RAISES in tags(cell)] == [3, 5, 7, 9]


def test_markdown_blocks_and_metadata():
    ex = make_exercise(solution(), lesson="99_demo")
    assert ex.cells[10].source == (
        f"**Discuss.** Why is bf16 preferred over fp16?\n\n{MARKDOWN_PLACEHOLDER}"
    )
    assert ex.metadata["trainmath"] == {"lesson": "99_demo", "variant": 0}
    assert ex.metadata["kernelspec"]["name"] == "python3"
    assert [c.id for c in ex.cells] == [c.id for c in solution().cells]
    text = nbformat.writes(ex)
    for leaked in ("SOLUTION", "6 * N * D", "params * 2", "peak_flops * mfu", "keeps fp32"):
        assert leaked not in text


def test_transform_is_pure_and_clears_outputs():
    nb = solution()
    nb.cells[3].outputs = [new_output("stream", name="stdout", text="✅ 99.1 correct")]
    nb.cells[3].execution_count = 2
    nb.cells[3].metadata["execution"] = {"iopub.status.busy": "2024-01-01"}
    nb.cells[1].metadata["tags"] = ["keep-me"]
    before = copy.deepcopy(nb)
    ex = make_exercise(nb, lesson="99_demo")
    assert nb == before
    assert ex.cells[3].outputs == [] and ex.cells[3].execution_count is None
    assert "execution" not in ex.cells[3].metadata
    assert tags(ex.cells[1]) == ["keep-me"]
    assert make_exercise(ex) == ex  # lesson from metadata; nothing left to strip
    nbformat.validate(ex)


def test_marker_lines_may_have_spaces_and_repeat():
    nb = new_notebook(
        cells=[
            new_code_cell(
                "a = 1\n  ### BEGIN SOLUTION  \nb = 2\n### END SOLUTION\n"
                "if a:\n    ### BEGIN SOLUTION\n    c = 3\n    ### END SOLUTION\nprint(a)"
            )
        ]
    )
    ex = make_exercise(nb, lesson="99_demo")
    assert ex.cells[0].source == (
        f"a = 1\n  {CODE_PLACEHOLDER}\nif a:\n    {CODE_PLACEHOLDER}\nprint(a)"
    )
    assert tags(ex.cells[0]) == [RAISES]


def test_existing_raises_tag_is_not_duplicated():
    cell = new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    cell.metadata["tags"] = [RAISES]
    ex = make_exercise(new_notebook(cells=[cell]), lesson="99_demo")
    assert tags(ex.cells[0]) == [RAISES]


@pytest.mark.parametrize(
    ("cell", "match"),
    [
        (new_code_cell("### BEGIN SOLUTION\nx = 1"), "without a matching"),
        (new_code_cell("x = 1\n### END SOLUTION"), "without a BEGIN"),
        (new_code_cell("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"), "inside"),
        (new_markdown_cell("a <!-- BEGIN SOLUTION --> b"), "unmatched"),
        (new_markdown_cell("a <!-- END SOLUTION --> b"), "unmatched"),
    ],
)
def test_unbalanced_markers(cell, match):
    with pytest.raises(ValueError, match=f"cell 1.*{match}"):
        make_exercise(new_notebook(cells=[new_code_cell("1"), cell]), lesson="99_demo")


def test_bad_notebooks():
    with pytest.raises(TypeError, match="nb must be a notebook"):
        make_exercise("99_demo.ipynb")
    old = new_notebook()
    old.nbformat = 3
    with pytest.raises(ValueError, match="nbformat 4"):
        make_exercise(old, lesson="99_demo")
    with pytest.raises(ValueError, match="lesson"):
        make_exercise(new_notebook())


# --- differences ------------------------------------------------------------------------------


def test_differences_ignore_outputs_and_counts():
    fresh = make_exercise(solution(), lesson="99_demo")
    committed = copy.deepcopy(fresh)
    committed.cells[11].outputs = [new_output("stream", name="stdout", text="1.20e+20 FLOP\n")]
    committed.cells[11].execution_count = 6
    committed.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    assert differences(committed, fresh) == []


def test_differences_report_sources_tags_types_counts_and_metadata():
    fresh = make_exercise(solution(), lesson="99_demo")
    stale = copy.deepcopy(fresh)
    stale.cells[3].source += "\n# edited"
    stale.cells[5].metadata["tags"] = []
    stale.cells[0].cell_type = "raw"
    stale.cells.append(new_code_cell("extra"))
    stale.metadata["trainmath"] = {"lesson": "98_old"}
    found = differences(stale, fresh)
    assert any("trainmath" in line and "98_old" in line for line in found)
    assert "13 cells, expected 12" in found
    assert "cell 0: is raw, expected markdown" in found
    assert "cell 3: source differs" in found
    assert "cell 5: tags are [], expected ['raises-exception']" in found
    assert len(found) == 5


# --- command line without kernels -------------------------------------------------------------


@pytest.fixture
def checked_root(tmp_path):
    """A root whose committed exercise is an up-to-date (unexecuted) generation."""
    root = make_root(tmp_path, ("99_demo.ipynb", solution()))
    nbformat.write(make_exercise(solution(), "99_demo"), root / "exercises" / "99_demo.ipynb")
    return root


def test_check_up_to_date(checked_root, capsys):
    assert main(["--check", "--root", str(checked_root)]) == 0
    assert "up to date: exercises/99_demo.ipynb" in capsys.readouterr().out
    assert main(["--check", "--root", str(checked_root), "99_demo.ipynb", "99_demo"]) == 0


def test_check_detects_stale_exercise(checked_root, capsys):
    path = checked_root / "solutions" / "99_demo.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].source = nb.cells[3].source.replace("N, D = 1e9, 20e9", "N, D = 2e9, 20e9")
    nbformat.write(nb, path)
    before = (checked_root / "exercises" / "99_demo.ipynb").read_text()
    assert main(["--check", "--root", str(checked_root)]) == 1
    captured = capsys.readouterr()
    assert "stale: exercises/99_demo.ipynb" in captured.out
    assert "cell 3: source differs" in captured.out
    assert "out of date" in captured.err
    assert (checked_root / "exercises" / "99_demo.ipynb").read_text() == before  # untouched


def test_check_detects_missing_exercise(checked_root, capsys):
    (checked_root / "exercises" / "99_demo.ipynb").unlink()
    assert main(["--check", "--root", str(checked_root)]) == 1
    assert "missing" in capsys.readouterr().out


def test_check_cli_module_exit_code(checked_root):
    (checked_root / "exercises" / "99_demo.ipynb").write_text(
        nbformat.writes(make_exercise(new_notebook(cells=[new_code_cell("1")]), "99_demo"))
    )
    result = subprocess.run(
        [sys.executable, "-m", "trainmath.exercises", "--check", "--root", str(checked_root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "stale: exercises/99_demo.ipynb" in result.stdout


def test_usage_errors(tmp_path, checked_root, capsys):
    assert main(["--check", "--root", str(tmp_path / "nowhere")]) == 2
    assert "no solutions/ folder" in capsys.readouterr().err
    assert main(["--check", "--root", str(checked_root), "01_nothing"]) == 2
    assert "valid lessons: 99_demo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--timeout", "-1"])


def test_malformed_solution_is_reported(tmp_path, capsys):
    bad = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1")])
    root = make_root(tmp_path, ("99_demo.ipynb", bad))
    assert main(["--check", "--root", str(root)]) == 1
    assert "without a matching" in capsys.readouterr().err
    assert main(["--root", str(root)]) == 1  # fails before starting a kernel
    assert not (root / "exercises" / "99_demo.ipynb").exists()


# --- generation with kernels ------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = make_root(tmp_path_factory.mktemp("course"), ("99_demo.ipynb", solution()))
    assert main(["--root", str(root)]) == 0
    return root


def test_kernel_generated_exercise_is_executed_and_saved(generated, capsys):
    path = generated / "exercises" / "99_demo.ipynb"
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n "cells": [\n  {\n   "cell_type": "markdown",')  # 1-space indent
    assert text.endswith("}\n")
    assert "✅" not in text and "❌" not in text  # no check() ran in the exercise
    ex = nbformat.read(path, as_version=4)
    for cell in ex.cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None
        if RAISES in tags(cell):
            (error,) = [out for out in cell.outputs if out.output_type == "error"]
            assert (error.ename, error.evalue) == (
                "NotImplementedError",
                "Replace this line with your answer",
            )
    assert ex.cells[-1].outputs[0].text == "1.20e+20 FLOP\n"
    assert ex.metadata["trainmath"] == {"lesson": "99_demo", "variant": 0}
    assert differences(ex, make_exercise(solution(), "99_demo")) == []
    assert main(["--check", "--root", str(generated)]) == 0


def test_kernel_generated_exercise_grades_zero(generated):
    report = grade_notebook(generated / "exercises" / "99_demo.ipynb")
    assert (report["score"], report["max_score"]) == (0, 6)
    assert not any(q["passed"] for q in report["questions"])


def test_kernel_generated_exercise_passes_strict_nbval(generated):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q"]
        + ["-o", "addopts=", "exercises/99_demo.ipynb"],
        cwd=generated,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_kernel_check_in_a_separate_cell_is_rejected(tmp_path, capsys):
    nb = new_notebook(
        cells=[
            new_code_cell("import demo_key\n\nfrom trainmath.check import check"),
            new_code_cell("### BEGIN SOLUTION\nflop = 1.2e20\n### END SOLUTION"),
            new_code_cell('check("99.1", flop)'),  # NameError in an untagged exercise cell
        ]
    )
    root = make_root(tmp_path, ("99_demo.ipynb", nb))
    assert main(["--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "executing the exercise failed" in err and "NameError" in err
    assert not (root / "exercises" / "99_demo.ipynb").exists()


def test_kernel_tagged_cell_must_raise(tmp_path):
    nb = new_notebook(
        cells=[
            new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
        ]
    )
    root = make_root(tmp_path, ("99_demo.ipynb", nb))
    with pytest.raises(ExerciseError, match="cell 0 is tagged 'raises-exception' but ran"):
        build_exercise(root / "solutions" / "99_demo.ipynb", root / "exercises" / "99_demo.ipynb")


# --- variants of the real course (issue 11) ------------------------------------------------------

COURSE = Path(__file__).resolve().parents[1]


def test_variant_rendering_is_deterministic_and_changes_the_numbers():
    sol = nbformat.read(COURSE / "solutions" / "01_compute.ipynb", as_version=4)
    a, b = make_exercise(sol, variant=7), make_exercise(sol, variant=7)
    assert [c.source for c in a.cells] == [c.source for c in b.cells]
    assert a.metadata["trainmath"] == {"lesson": "01_compute", "variant": 7}
    shipped = make_exercise(sol, variant=0)
    pairs = zip(a.cells, shipped.cells, strict=True)
    changed = [i for i, (x, y) in enumerate(pairs) if x.source != y.source]
    assert len(changed) >= 8  # question cells and the use_variant line
    assert "use_variant(7)" in a.cells[1].source


def test_committed_solutions_are_variant_zero_of_their_key():
    from trainmath.exercises import render_variant

    for path in sorted((COURSE / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        fresh = render_variant(nb, 0)
        assert [c.source for c in nb.cells] == [c.source for c in fresh.cells], path.name


def test_a_question_cell_of_an_unknown_question_is_an_error():
    nb = new_notebook(cells=[new_markdown_cell("", metadata={"trainmath": {"question": "01.99"}})])
    nb.metadata["trainmath"] = {"lesson": "01_compute"}
    with pytest.raises(ValueError, match="cell 0: unknown question id '01.99'"):
        make_exercise(nb)


def test_variant_usage_errors(capsys):
    for argv, text in [
        (["--variant", "3"], "--variant SEED and --out DIR go together"),
        (["--solutions"], "--solutions needs --variant"),
        (["--variant", "-1", "--out", "x"], "--variant must be an int >= 0"),
        (["--check", "--variant", "1", "--out", "x"], "--check compares the committed"),
    ]:
        with pytest.raises(SystemExit):
            main(argv)
        assert text in capsys.readouterr().err
    assert main(["--variant", "1", "--out", "x", "--lesson", "42"]) == 2
    assert "no lesson named '42'" in capsys.readouterr().err


def test_practice_writes_a_new_variant(tmp_path, capsys):
    from trainmath.exercises import practice

    path = practice("01", variant=12, folder=tmp_path)
    assert path == tmp_path / "01_compute_v12.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["trainmath"] == {"lesson": "01_compute", "variant": 12}
    assert "use_variant(12)" in nb.cells[1].source
    assert "variant 12" in capsys.readouterr().out
    random_path = practice("01_compute", folder=tmp_path)
    assert random_path.name.startswith("01_compute_v")


def test_kernel_variant_cli_round_trip(tmp_path):
    """--variant writes executed exercises and solutions; the grader honours a roster's seed."""
    ex_dir, sol_dir = tmp_path / "ex", tmp_path / "sol"
    assert main(["--variant", "5", "--out", str(ex_dir), "--lesson", "01"]) == 0
    assert main(["--variant", "5", "--out", str(sol_dir), "--lesson", "01", "--solutions"]) == 0
    solution, exercise = sol_dir / "01_compute.ipynb", ex_dir / "01_compute.ipynb"
    assert nbformat.read(solution, as_version=4).metadata["trainmath"]["variant"] == 5
    full = grade_notebook(solution)
    assert full["variant"] == 5 and full["score"] == full["max_score"]
    assert grade_notebook(exercise)["score"] == 0
    other = grade_notebook(solution, variant=6)
    assert other["variant"] == 6 and other["score"] < other["max_score"] / 2
