"""nbgrader for the course: ``from trainmath.instructor import configure; configure(c)``.

The solution notebooks are nbgrader source notebooks (schema 3, see
:func:`trainmath.exercises.nbgrader_structure`): each answer cell is a solution cell,
followed by a locked test cell ``grade("NN.k", answer)`` worth the question's points and
judged by the same key as ``check``; every other cell is read-only. With this configuration
``nbgrader generate_assignment`` writes the same student notebook as
``python -m trainmath.exercises`` (same placeholders, same ``raises-exception`` tags), and
``nbgrader autograde`` scores a solution full and an untouched notebook 0.

In the course's ``nbgrader_config.py``::

    from trainmath.instructor import configure

    c = get_config()
    c.CourseDirectory.course_id = "llm-training-math"
    configure(c)

Then copy ``solutions/01_compute.ipynb`` to ``source/ps01/`` and run
``nbgrader generate_assignment ps01`` and, on the submissions, ``nbgrader autograde ps01``.
nbgrader is in the ``instructor`` extra: ``pip install -e ".[instructor]"``.

Notes
-----
nbgrader overwrites locked cells from the source when it autogrades, so every learner is
graded on the source's variant (0): per-learner variants are graded with
``python -m trainmath.grade --roster``.
"""

from __future__ import annotations

from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from trainmath.exercises import CODE_PLACEHOLDER, MARKDOWN_PLACEHOLDER, RAISES_TAG

__all__ = ["configure", "TagRaisesException", "CELL_TIMEOUT"]

#: Seconds per cell when nbgrader executes a notebook (its own default, 30 s, is too short
#: for lesson 10's PyTorch imports on a slow machine); the same as ``trainmath.grade``'s.
CELL_TIMEOUT = 120


class TagRaisesException(Preprocessor):
    """Tag answer and test code cells ``raises-exception``, as the course's exercises are.

    An unanswered question raises in both, so nbval (and "Run All") carry on past it.
    """

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):  # noqa: D102
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade")):
            tags = cell.metadata.setdefault("tags", [])
            if RAISES_TAG not in tags:
                tags.append(RAISES_TAG)
        return cell, resources


def configure(c: Any) -> None:
    """Set up an nbgrader configuration object ``c`` for this course's notebooks.

    Parameters
    ----------
    c : traitlets.config.Config
        The object ``get_config()`` returns in ``nbgrader_config.py``.
    """
    from nbgrader.converters import GenerateAssignment

    # The course's placeholders instead of nbgrader's "# YOUR CODE HERE". nbgrader finds
    # "BEGIN SOLUTION" / "END SOLUTION" anywhere in a line, so "### BEGIN SOLUTION" in code
    # and "<!-- BEGIN SOLUTION -->" in Markdown work as they are.
    c.ClearSolutions.code_stub = {"python": CODE_PLACEHOLDER}
    c.ClearSolutions.text_stub = MARKDOWN_PLACEHOLDER
    defaults = GenerateAssignment.class_traits()["preprocessors"].default()
    c.GenerateAssignment.preprocessors = [*defaults, TagRaisesException]
    c.Execute.timeout = CELL_TIMEOUT
