"""Setup stays coherent: pins agree, import stays light, the two commands exist."""

import re
import subprocess
import sys
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
    code = (
        "import sys, trainmath as tm\n"
        "mods = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = mods & {'matplotlib', 'ipywidgets', 'ml_dtypes', 'IPython', 'scipy'}\n"
        "print(sorted(heavy))\n"
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
