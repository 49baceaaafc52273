"""Setup stays coherent: pins agree, import stays light, the two commands exist."""

import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11; the check needs to run on one version

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ ;\[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(req: str) -> str:
    return req.strip()[len(_name(req)):].replace(" ", "")


def _environment_yml() -> dict[str, str]:
    deps, in_deps = {}, False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
        elif in_deps and re.match(r"^  - [A-Za-z]", line):
            req = line[4:].strip()
            deps[_name(req)] = _spec(req)
    return deps


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    want = {_name(r): _spec(r) for r in reqs}
    env = _environment_yml()
    env.pop("pip", None)
    env.pop("pip:", None)
    assert env.pop("python") == ">=" + project["requires-python"].lstrip(">=")
    assert env == want


def test_environment_yml_installs_the_package_editable():
    assert re.search(r"^\s+- -e \.$", (ROOT / "environment.yml").read_text(), re.M)


def test_import_loads_only_numpy_and_stdlib():
    # Every topic module (trainmath.throughput included) is imported by `import trainmath`.
    code = (
        "import sys, trainmath as tm\n"
        "mods = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(m for m in mods - set(sys.stdlib_module_names) - {'numpy', 'trainmath'}"
        " if not m.startswith('_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_attributes_load():
    import trainmath as tm

    assert tm.FORMATS["bf16"].bits == 16
    assert "FORMATS" in dir(tm)


def test_readme_shows_the_two_commands_first():
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make lab") < readme.index("conda env create")
    assert readme.index("make test") < readme.index("conda env create")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make (the conda route has none)")
def test_make_lab_serves_the_whole_course(tmp_path):
    # `make lab` opens lesson 00, and the server's root must be the course: a notebook path
    # alone makes its folder the root, and exercises/ would be out of the learner's reach.
    dry = subprocess.run(["make", "-n", "-s", "lab"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    line = [ln for ln in dry.stdout.splitlines() if "jupyter lab" in ln][-1]
    args = shlex.split(line.split("jupyter lab", 1)[1])
    assert args[-1] == "notebooks/00_start_here.ipynb"
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", *args, "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    env = {**os.environ, **{name: str(tmp_path / name) for name in (
        "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
        "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")}}
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/exercises?token={token}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    listing = json.load(reply)
                break
            except urllib.error.HTTPError as exc:  # the server runs but does not serve it
                raise AssertionError(f"exercises/ not served by `make lab`: {exc}") from None
            except OSError:  # not listening yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "lab.log").read_text()) from None
                time.sleep(0.5)
        assert "01_compute.ipynb" in {item["name"] for item in listing["content"]}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
