"""``make bench`` keeps working (bench/run.py): one quick pass, no timing asserted.

The benchmark is not a timed test; this only runs its code paths (import timing, the
planner cases, every calculator's recipe replay) so that a renamed control or function
shows up in ``make test`` rather than the next time someone benchmarks.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_quickly_without_notebooks(capsys):
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = bench  # dataclasses look their module up
    spec.loader.exec_module(bench)
    status = bench.main(["--skip-notebooks", "--rounds", "1", "--import-runs", "1",
                         "--planner-repeat", "1", "--no-fail"])
    out = capsys.readouterr().out
    assert status == 0
    from trainmath.widgets import CALCULATORS

    for key in CALCULATORS:
        assert f"| {key} |" in out
        assert "refused" not in out.split(f"| {key} |")[1].splitlines()[0], key
    assert "planner layouts/s" in out and "import trainmath" in out
