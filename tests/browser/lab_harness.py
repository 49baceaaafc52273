"""A real JupyterLab server and a real Chromium, driven the way a learner uses the course.

- :func:`find_browser` looks for a browser: ``$TRAINMATH_BROWSER``, else a system Chromium
  or Chrome on ``PATH``, else Playwright's own download.
- :class:`LabServer` copies the course into a temporary folder (outputs cleared), starts
  ``jupyter lab`` on 127.0.0.1 with a random free port, a random token and its own config,
  data, runtime, settings and workspace folders, and stops it (and its kernels) on exit.
- :class:`LessonPage` opens one lesson in its own workspace, runs all cells from the menu,
  waits for the kernel, inspects what a learner sees, and plays with a calculator.

Only the standard library is imported at module level; Playwright is imported by the
functions that need it, so the test modules can skip cleanly when it is not installed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BROWSER_ENV = "TRAINMATH_BROWSER"
OUT_ENV = "TRAINMATH_BROWSER_OUT"
DEFAULT_OUT = ROOT / "build" / "browser"

#: Flags a sandboxed machine without network or GPU needs (a fresh profile comes from the
#: persistent context's temporary user-data folder: ``launch()`` refuses --user-data-dir).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

HOW_TO_INSTALL = (
    "no browser for the real-browser tests: install Playwright (pip install -e '.[browser]') "
    "and a Chromium (Debian/Ubuntu: apt-get install chromium; or `playwright install "
    f"chromium`), or point ${BROWSER_ENV} at a Chromium/Chrome executable"
)

_SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Timeouts are generous: the course machine has 2 cores shared with other work.
SERVER_START_S = 120
LESSON_RUN_S = 300
WIDGET_S = 90
UPDATE_S = 45


def _playwright_own_chromium() -> str | None:
    """Where `playwright install chromium` puts its browser (asked in a thread of its own:
    the sync API refuses to start inside a running Playwright session)."""
    from playwright.sync_api import sync_playwright

    found: dict[str, str] = {}

    def ask() -> None:
        with suppress(Exception), sync_playwright() as p:
            found["path"] = p.chromium.executable_path

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout=60)
    return found.get("path")


def find_browser() -> tuple[str | None, str]:
    """(executable or None for Playwright's own, description); raises LookupError if none.

    Order: ``$TRAINMATH_BROWSER``, a system Chromium/Chrome on PATH, Playwright's browser.
    """
    try:
        import playwright  # noqa: F401
    except ImportError as exc:
        raise LookupError(HOW_TO_INSTALL + f" ({exc})") from None
    named = os.environ.get(BROWSER_ENV)
    if named:
        path = shutil.which(named) or named
        if not Path(path).is_file():
            raise LookupError(f"${BROWSER_ENV}={named!r} is not an executable file")
        return path, f"${BROWSER_ENV} ({path})"
    for name in _SYSTEM_BROWSERS:
        path = shutil.which(name)
        if path:
            return path, f"system {name} ({path})"
    own = _playwright_own_chromium()
    if own and Path(own).is_file():
        return None, f"Playwright's Chromium ({own})"
    raise LookupError(HOW_TO_INSTALL)


def lesson_names() -> list[str]:
    """Every lesson notebook present now (lessons appear as they are written)."""
    return sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def out_dir() -> Path:
    """Where screenshots go: ``$TRAINMATH_BROWSER_OUT`` or build/browser/ (git-ignored)."""
    path = Path(os.environ.get(OUT_ENV) or DEFAULT_OUT)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clear_outputs(path: Path) -> None:
    """Stored outputs already show numbered prompts: clear them so a run is visible."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nb.get("metadata", {}).pop("widgets", None)  # stale widget state of another kernel
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


#: JupyterLab user settings for the test server (its own settings folder).
LAB_SETTINGS = {
    # The news/update toast covers the page: no news, no update check, no toasts.
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    # Render every cell (the default virtualises off-screen cells), so that one
    # screenshot shows the whole lesson and every widget is in the page.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


class LabServer:
    """``jupyter lab`` over a temporary copy of the course; use as a context manager."""

    def __init__(self, workdir: Path, source: Path = ROOT,
                 folders: tuple[str, ...] = ("notebooks", "exercises", "solutions")) -> None:
        self.workdir = Path(workdir)
        self.source = Path(source)
        self.course = self.workdir / "course"
        self.folders = folders
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    # -- lifecycle --------------------------------------------------------------------
    def __enter__(self) -> LabServer:
        self._prepare()
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _prepare(self) -> None:
        for folder in self.folders:
            src = self.source / folder
            if src.is_dir():
                shutil.copytree(src, self.course / folder,
                                ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for nb in (self.course / "notebooks").glob("*.ipynb"):
            _clear_outputs(nb)
        settings = self.workdir / "lab-settings"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def env(self) -> dict[str, str]:
        from trainmath.grade import kernel_env

        env = kernel_env()
        j = self.workdir
        env.update({
            "JUPYTER_CONFIG_DIR": str(j / "config"),
            "JUPYTER_DATA_DIR": str(j / "data"),
            "JUPYTER_RUNTIME_DIR": str(j / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(j / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(j / "lab-workspaces"),
        })
        env.pop("JUPYTER_PATH", None)
        env.pop("JUPYTER_CONFIG_PATH", None)
        return env

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.course}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def _start(self) -> None:
        for sub in ("config", "data", "runtime", "lab-workspaces"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.command(), cwd=self.course, env=self.env(), stdout=self._log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            with suppress(OSError, ValueError):
                self.api("GET", "/api/status")
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer in {SERVER_START_S} s:\n"
                           + self.log_tail())

    def stop(self) -> None:
        """Shut down kernels and the server (its whole process group); idempotent."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with suppress(Exception):
                self.shutdown_kernels()
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self._log.close()

    def log_tail(self, n: int = 4000) -> str:
        with suppress(OSError):
            return self.log_path.read_text(errors="replace")[-n:]
        return ""

    # -- REST -------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def kernels(self) -> list[dict]:
        return self.api("GET", "/api/kernels")

    def shutdown_kernels(self) -> None:
        for kernel in self.kernels():
            with suppress(urllib.error.URLError, OSError):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def url(self, lesson: str) -> str:
        """A lesson in a fresh workspace of its own (?reset: no tabs left from before)."""
        workspace = re.sub(r"[^A-Za-z0-9_-]", "-", lesson)
        return (f"{self.base}/lab/workspaces/{workspace}/tree/notebooks/{lesson}.ipynb"
                f"?reset&token={self.token}")


@contextmanager
def browser_context(executable: str | None, profile: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile (a persistent context in ``profile``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1400}, device_scale_factor=1,
            timeout=SERVER_START_S * 1000,
        )
        ctx.set_default_timeout(WIDGET_S * 1000)
        try:
            yield ctx
        finally:
            ctx.close()


# -- what a learner sees --------------------------------------------------------------------

_KERNEL_READY_JS = """() => {
  const name = document.querySelector('.jp-Toolbar-kernelName');
  const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const bar = [...document.querySelectorAll('.jp-StatusBar-TextItem')]
    .map(e => e.textContent).join(' ');
  return !!name && name.textContent.trim() !== '' && !/No Kernel/.test(name.textContent)
    && !!ind && ind.getAttribute('data-status') === 'idle' && /\\| Idle/.test(bar);
}"""

_RUN_STATE_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  const prompts = [];
  for (const cell of cells) {
    const code = cell.querySelector('.cm-content');
    if (code && code.textContent.trim() === '') continue;  // empty cells do not run
    const p = cell.querySelector('.jp-InputPrompt');
    prompts.push(p ? p.textContent.trim() : '');
  }
  const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const dialog = document.querySelector('.jp-Dialog');
  return {
    status: ind ? ind.getAttribute('data-status') : null,
    dialog: dialog ? dialog.innerText : null,
    prompts,
    errors: document.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
  };
}"""

_WIDGET_STATE_JS = """() => {
  const outs = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')];
  const text = outs.map(o => o.innerText || '').join('\\n');
  const views = outs.filter(o => o.getAttribute('data-mime-type')
                                 === 'application/vnd.jupyter.widget-view+json');
  return {
    loading: (text.match(/Loading widget/g) || []).length,
    errors: (text.match(/Error displaying widget[^\\n]*/g) || []),
    views: views.length,
    rendered: views.filter(v => v.querySelector('.jupyter-widgets')).length,
    reprs: outs.filter(o => /^(VBox|HBox|Box|Image|HTML)\\(/.test((o.innerText || '').trim()))
               .length,
    blank_choices: [...document.querySelectorAll('.jp-Notebook .widget-dropdown')]
      .filter(d => { const s = d.querySelector('select');
                     return s && !s.disabled && s.selectedIndex < 0; })
      .map(d => (d.querySelector('label') || {}).textContent || '?'),
  };
}"""

_IMAGES_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img')]
  .map(img => ({cls: img.className, ok: img.complete && img.naturalWidth > 0,
                w: img.getBoundingClientRect().width, h: img.getBoundingClientRect().height}))"""


@dataclass
class RunReport:
    """What the learner sees after Run All."""

    seconds: float
    prompts: list[str]
    error_outputs: list[str]
    widget_errors: list[str]
    loading_left: int
    widget_views: int
    widgets_rendered: int
    widget_reprs: int
    blank_choices: list[str]  # dropdowns that show no entry (a value that is no option)
    images: list[dict]
    page_errors: list[str] = field(default_factory=list)


class LessonPage:
    """One lesson open in the browser, run top to bottom."""

    def __init__(self, server: LabServer, ctx: Any, lesson: str) -> None:
        self.server = server
        self.lesson = lesson
        self.page = ctx.new_page()
        self.page_errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def close(self) -> None:
        with suppress(Exception):
            self.page.close()
        with suppress(Exception):
            self.server.shutdown_kernels()

    # -- open and run -----------------------------------------------------------------
    def open(self) -> None:
        page = self.page
        page.goto(self.server.url(self.lesson), wait_until="domcontentloaded",
                  timeout=SERVER_START_S * 1000)
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell",
                               timeout=SERVER_START_S * 1000)
        # The execution indicator says "idle" before any kernel exists ("No Kernel"), and
        # Run All then asks to select a kernel: wait for the kernel itself to be idle.
        page.wait_for_function(_KERNEL_READY_JS, timeout=SERVER_START_S * 1000,
                               polling=250)
        # Fold the file browser away, as a reader would, to give the lesson the width.
        tab = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="filebrowser"]')
        if tab.count() and "lm-mod-current" in (tab.first.get_attribute("class") or ""):
            tab.first.click()

    def run_all(self) -> RunReport:
        """Run > Run All Cells from the menu bar, then wait for the kernel to go idle."""
        page = self.page
        start = time.monotonic()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        deadline = start + LESSON_RUN_S
        state: dict = {}
        stable = 0
        while time.monotonic() < deadline:
            state = page.evaluate(_RUN_STATE_JS)
            if state["dialog"]:
                raise AssertionError(f"{self.lesson}: a dialog covers the page: "
                                     f"{state['dialog']!r}")
            prompts = state["prompts"]
            running = any("*" in p for p in prompts)
            done = bool(prompts) and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
            idle = state["status"] == "idle"
            # Finished (or stopped at an error); seen twice in a row to be sure.
            stable = stable + 1 if idle and not running and (done or state["errors"]) else 0
            if stable >= 2:
                break
            page.wait_for_timeout(500)
        seconds = time.monotonic() - start
        widgets = self.wait_for_widgets()
        return RunReport(
            seconds=seconds,
            prompts=state.get("prompts", []),
            error_outputs=self.error_outputs(),
            widget_errors=widgets["errors"],
            loading_left=widgets["loading"],
            widget_views=widgets["views"],
            widgets_rendered=widgets["rendered"],
            widget_reprs=widgets["reprs"],
            blank_choices=widgets["blank_choices"],
            images=page.evaluate(_IMAGES_JS),
            page_errors=list(self.page_errors),
        )

    def wait_for_widgets(self) -> dict:
        """Wait until no "Loading widget..." is left (or the time runs out)."""
        deadline = time.monotonic() + WIDGET_S
        while True:
            state = self.page.evaluate(_WIDGET_STATE_JS)
            settled = state["rendered"] + len(state["errors"]) >= state["views"]
            if (state["loading"] == 0 and settled and self._plots_loaded()) \
                    or time.monotonic() > deadline:
                return state
            self.page.wait_for_timeout(500)

    def _plots_loaded(self) -> bool:
        return all(img["ok"] for img in self.page.evaluate(_IMAGES_JS))

    def error_outputs(self) -> list[str]:
        loc = self.page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        return [loc.nth(i).inner_text()[:2000] for i in range(loc.count())]

    # -- screenshots ------------------------------------------------------------------
    def screenshot_lesson(self, path: Path) -> None:
        """The whole lesson in one picture (the window is made as tall as the notebook)."""
        page = self.page
        # Height of the cells themselves (the scroller adds room to scroll past the end).
        height = page.evaluate("""() => {
            const nb = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')
                    || document.querySelector('.jp-NotebookPanel .jp-Notebook');
            const cells = nb ? nb.querySelectorAll('.jp-Cell') : [];
            if (!cells.length) return 0;
            const last = cells[cells.length - 1].getBoundingClientRect();
            return last.bottom - nb.getBoundingClientRect().top + nb.scrollTop + 40; }""")
        size = page.viewport_size
        tall = int(min(max(height + 160, size["height"]), 30000))
        page.set_viewport_size({"width": size["width"], "height": tall})
        page.wait_for_timeout(500)
        page.evaluate("""() => document.querySelectorAll(
            '.jp-NotebookPanel .jp-Notebook, .jp-NotebookPanel .jp-WindowedPanel-outer')
            .forEach(e => { e.scrollTop = 0; })""")
        page.wait_for_timeout(500)
        page.screenshot(path=str(path))
        page.set_viewport_size(size)
        page.wait_for_timeout(300)

    # -- calculators ------------------------------------------------------------------
    def calculator(self, model: Any, shots: Path | None = None) -> Calculator:
        """The on-page widget of a calculator like ``model`` (a Python instance of it).

        ``shots``: where the contract's stages are photographed (``<shots>-<stage>.png``).
        """
        return Calculator(self, model, shots)


#: Marks a calculator's parts with data-tm-* attributes, found by its title and the order
#: of the base class's children: title, the controls (in ``inputs`` order), message,
#: result, plot. (Nothing is added to the widgets themselves: a CSS class would change
#: their text repr, which the stored notebook outputs hold and nbval compares.)
_TAG_JS = """([cls, title, names]) => {
  const norm = t => (t || '').replace(/\\s+/g, ' ').trim();
  const boxes = [...document.querySelectorAll('.jp-Notebook .widget-vbox')].filter(b => {
    const first = b.firstElementChild;
    return first && first.classList.contains('widget-html')
      && norm(first.innerText) === norm(title);
  });
  for (const box of boxes) {
    box.setAttribute('data-tm-calc', cls);
    const kids = [...box.children];
    names.forEach((n, k) => kids[k + 1] && kids[k + 1].setAttribute('data-tm-input', n));
    const parts = ['message', 'result', 'plot'];
    parts.forEach((part, k) => {
      const el = kids[names.length + 1 + k];
      if (!el) return;
      const target = part === 'plot' ? (el.tagName === 'IMG' ? el : el.querySelector('img')) : el;
      if (target) target.setAttribute('data-tm-part', part);
    });
  }
  return boxes.length;
}"""


class Calculator:
    """A calculator's widget in the page (see _TAG_JS for how its parts are found).

    It is a view of ``trainmath.widgets.contract`` (numbers, message, plot, apply,
    wait_until, settle, stage), so the contract's checks run on the page as they run on the
    Python object.
    """

    #: How long a change that need not redraw the plot, or a refused value, is given to
    #: show a late update before the page is compared with what it showed before.
    SETTLE_MS = 1500

    def __init__(self, lesson: LessonPage, model: Any, shots: Path | None = None) -> None:
        self.page = lesson.page
        self.model = model
        self.shots = shots
        self.class_name = type(model).__name__
        self.found = self.page.evaluate(
            _TAG_JS, [self.class_name, model.title, list(model.inputs)])
        self.root = self.page.locator(f'[data-tm-calc="{self.class_name}"]').first

    def count(self) -> int:
        return self.found

    def result(self) -> str:
        return self.root.locator('[data-tm-part="result"]').inner_text()

    def message(self) -> str:
        return self.root.locator('[data-tm-part="message"]').inner_text().strip()

    def plot_locator(self) -> Any:
        return self.root.locator('img[data-tm-part="plot"]')

    def has_plot(self) -> bool:
        return self.plot_locator().count() > 0

    def plot(self) -> bytes | None:
        """The plot's pixels as the learner sees them (an element screenshot)."""
        if not self.has_plot():
            return None
        img = self.plot_locator()
        # Centred, not merely "in view": an image scrolled flush against the bottom of the
        # notebook panel loses its last pixel row under the status bar, and a message that
        # appears above it would then change the screenshot, not the plot.
        img.evaluate("el => el.scrollIntoView({block: 'center', inline: 'nearest'})")
        return img.screenshot(animations="disabled")

    def plot_state(self) -> dict:
        img = self.plot_locator()
        return img.evaluate("""img => ({ok: img.complete && img.naturalWidth > 0,
            visible: !!(img.offsetWidth || img.offsetHeight),
            w: img.getBoundingClientRect().width, h: img.getBoundingClientRect().height})""")

    def screenshot(self, path: Path) -> None:
        self.root.scroll_into_view_if_needed()
        self.root.screenshot(path=str(path), animations="disabled")

    def control(self, name: str) -> Any:
        return self.root.locator(f'[data-tm-input="{name}"]')

    def perform(self, step: Any, kind: str) -> None:
        """Do ``step`` (a recipes.Step) on a control of ``kind``, as a person would."""
        control = self.control(step.control)
        control.scroll_into_view_if_needed()
        if step.click:
            control.locator("input[type=checkbox], button").first.click()
        elif step.keys:
            handle = control.locator(".noUi-handle").first
            handle.focus()
            for key in step.keys:
                handle.press(key)
                self.page.wait_for_timeout(30)
        elif kind == "picker":
            select = control.locator("select")
            if select.count():
                select.first.select_option(value=step.text)  # value = label, plain spaces
            else:  # toggle buttons / radio buttons: click the entry
                control.get_by_text(step.text, exact=True).first.click()
        elif kind in ("box", "text"):
            box = control.locator("input, textarea").first
            box.click()
            box.press("ControlOrMeta+a")
            box.press_sequentially(step.text, delay=20)
            box.press("Enter")
        else:
            raise ValueError(f"do not know how to use {step.control} ({kind})")

    def wait_until(self, predicate, what: str, timeout_s: float = UPDATE_S) -> None:
        from trainmath.widgets.contract import ContractError

        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise ContractError(f"{self.class_name}: {what} within {timeout_s:.0f} s")
            self.page.wait_for_timeout(200)

    # -- the contract's view (trainmath.widgets.contract.View) ------------------------
    def numbers(self) -> str:
        return self.result()

    def last(self) -> None:
        return None  # the result object lives in the kernel

    def apply(self, change: Any) -> None:
        """Perform a recipe step (a dict of values cannot be typed into a page)."""
        from trainmath.widgets.recipes import kind_of

        self.perform(change, kind_of(self.model.inputs[change.control]))

    def settle(self) -> None:
        self.page.wait_for_timeout(self.SETTLE_MS)

    def stage(self, name: str) -> None:
        if self.shots is not None:
            self.screenshot(self.shots.with_name(f"{self.shots.name}-{name}.png"))
