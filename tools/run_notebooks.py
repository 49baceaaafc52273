"""Execute notebooks in place on a fresh kernel each, top to bottom, and save outputs.

Usage: python tools/run_notebooks.py [NOTEBOOK ...]   (default: notebooks/ and solutions/;
exercises are executed by ``python -m trainmath.exercises``). Prints each notebook's
execution time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from trainmath.grade import kernel_env

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path, timeout: int = 120) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,  # no timestamps in committed notebooks
        store_widget_state=False,  # widget models (random ids, PNG bytes) stay out of git
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=kernel_env())
    nb.metadata.pop("widgets", None)  # widget state a Lab session may have saved earlier
    elapsed = time.perf_counter() - start
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(
        p for folder in ("notebooks", "solutions") for p in (ROOT / folder).glob("*.ipynb")
    )
    total = 0.0
    for path in paths:
        seconds = run(path)
        total += seconds
        print(f"{seconds:6.1f} s  {path.relative_to(ROOT) if path.is_absolute() else path}")
    print(f"{total:6.1f} s  total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
