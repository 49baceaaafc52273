"""Fixtures of the real-browser tests: one JupyterLab server and one Chromium per session.

The browser tests skip (with a message saying how to install one) when Playwright or a
Chromium is missing; ``.ci/run`` installs Debian's chromium, so in CI they always run.
Screenshots go to build/browser/ (or ``$TRAINMATH_BROWSER_OUT``).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest
from lab_harness import (
    DEFAULT_OUT,
    OUT_ENV,
    LabServer,
    LessonPage,
    RunReport,
    browser_context,
    find_browser,
    lesson_names,
    out_dir,
)

HERE = Path(__file__).resolve().parent
LESSON_TESTS = "test_lessons.py"
REQUIRE_ENV = "TRAINMATH_REQUIRE_BROWSER"
_LOADED_AT = time.time()


def pytest_collection_modifyitems(config, items):
    """Run each lesson's calculator tests right after the lesson, while its kernel lives."""
    mine = [i for i in items if i.path.name == LESSON_TESTS and i.path.parent == HERE]
    if not mine:
        return
    order = {name: n for n, name in enumerate(lesson_names())}

    def key(item):
        params = getattr(item, "callspec", None)
        lesson = params.params.get("lesson") if params else None
        return (order.get(lesson, len(order)), item.originalname != "test_lesson")

    ordered = iter(sorted(mine, key=key))
    ids = {id(i) for i in mine}
    items[:] = [next(ordered) if id(i) in ids else i for i in items]


@pytest.fixture(scope="session")
def browser_executable():
    """The browser to drive; skips without one (fails with $TRAINMATH_REQUIRE_BROWSER=1)."""
    try:
        path, how = find_browser()
    except LookupError as exc:
        if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
            pytest.fail(f"${REQUIRE_ENV} is set: {exc}", pytrace=False)
        pytest.skip(str(exc))
    return path, how


@pytest.fixture(scope="session")
def lab_server(browser_executable, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("jupyterlab")
    with LabServer(workdir) as server:
        yield server


@pytest.fixture(scope="session")
def lab_browser(browser_executable, tmp_path_factory):
    executable, _how = browser_executable
    with browser_context(executable, tmp_path_factory.mktemp("chromium-profile")) as ctx:
        yield ctx


@pytest.fixture(scope="session")
def shots() -> Path:
    path = out_dir()
    for old in path.glob("*.png"):  # pictures of an earlier run would mislead
        old.unlink()
    return path


class Lessons:
    """Opens and runs lessons on demand; keeps only the current one (and its kernel).

    A lesson that could not be run fails its own test and, at once, its calculator tests.
    """

    def __init__(self, server: LabServer, ctx, shots: Path) -> None:
        self.server, self.ctx, self.shots = server, ctx, shots
        self.current: tuple[str, LessonPage, RunReport | None, str] | None = None

    def run(self, lesson: str) -> tuple[LessonPage, RunReport]:
        if not (self.current and self.current[0] == lesson):
            self.close()
            page = LessonPage(self.server, self.ctx, lesson)
            report, failure = None, ""
            try:
                page.open()
                report = page.run_all()
            except Exception as exc:  # noqa: BLE001 - reported below and by each test
                failure = f"{type(exc).__name__}: {exc}"
            finally:
                with contextlib.suppress(Exception):
                    page.screenshot_lesson(self.shots / f"{lesson}.png")
            self.current = (lesson, page, report, failure)
        _, page, report, failure = self.current
        if report is None:
            pytest.fail(f"{lesson} could not be run in JupyterLab: {failure}\n"
                        f"server log (tail):\n{self.server.log_tail(1500)}", pytrace=False)
        return page, report

    def close(self) -> None:
        if self.current:
            self.current[1].close()
            self.current = None


@pytest.fixture(scope="session")
def lessons(lab_server, lab_browser, shots):
    cache = Lessons(lab_server, lab_browser, shots)
    yield cache
    cache.close()


def pytest_terminal_summary(terminalreporter, config):
    """Say where this run's screenshots are (when this process took or saw them)."""
    path = Path(os.environ.get(OUT_ENV) or DEFAULT_OUT)
    if path.is_dir() and any(p.stat().st_mtime >= _LOADED_AT for p in path.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {path}")
