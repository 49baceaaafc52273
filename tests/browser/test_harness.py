"""The browser checks can fail: a broken lesson is caught (so a green run means something).

Builds a one-notebook course in a temporary folder whose notebook shows a widget that
cannot be displayed and then raises, serves it with its own JupyterLab, and checks that
the report the lesson tests assert on sees both.
"""

from __future__ import annotations

import json
import os

from lab_harness import LabServer, LessonPage


def _notebook(*sources: str) -> dict:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
             "outputs": [], "source": src}
            for i, src in enumerate(sources)
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


BROKEN = _notebook(
    "import ipywidgets as W\nW.Dropdown(options=['a', 'b'], value=None, description='pick')",
    "from IPython.display import display\n"
    "display({'application/vnd.jupyter.widget-view+json':\n"
    "         {'model_id': 'no-such-model', 'version_major': 2, 'version_minor': 0}}, raw=True)",
    "1 / 0",
    "print('never runs')",
)


def test_a_broken_lesson_is_caught(lab_browser, tmp_path):
    source = tmp_path / "course-src"
    (source / "notebooks").mkdir(parents=True)
    (source / "notebooks" / "99_broken.ipynb").write_text(json.dumps(BROKEN))
    with LabServer(tmp_path / "lab", source=source) as server:
        page = LessonPage(server, lab_browser, "99_broken")
        try:
            page.open()
            report = page.run_all()
        finally:
            page.close()
    assert any("ZeroDivisionError" in text for text in report.error_outputs), report
    assert report.prompts[-1] == "[ ]:", "Run All stops at the error"
    assert report.widget_errors, "the undisplayable widget is reported"
    assert report.blank_choices == ["pick"], report.blank_choices


def test_browser_lookup_order(monkeypatch, tmp_path):
    import lab_harness
    import pytest

    pytest.importorskip("playwright")
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv(lab_harness.BROWSER_ENV, str(fake))
    assert lab_harness.find_browser()[0] == str(fake)  # 1. the environment variable

    monkeypatch.setenv(lab_harness.BROWSER_ENV, str(tmp_path / "missing"))
    with pytest.raises(LookupError, match="not an executable"):
        lab_harness.find_browser()

    monkeypatch.delenv(lab_harness.BROWSER_ENV)
    monkeypatch.setattr(lab_harness, "_SYSTEM_BROWSERS", ("my-chromium",))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert lab_harness.find_browser()[0] == str(fake)  # 2. a system browser on PATH

    monkeypatch.setattr(lab_harness, "_SYSTEM_BROWSERS", ())
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-downloads"))
    with pytest.raises(LookupError, match="apt-get install chromium"):
        lab_harness.find_browser()  # 3. Playwright's own: none here, so say how to install
