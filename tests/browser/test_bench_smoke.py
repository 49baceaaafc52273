"""``make bench`` keeps working (bench/run.py): one quick pass, no timing asserted.

The benchmark is not a timed test; this runs the script as ``make bench`` does, in its own
process, with the notebooks left out and one round of everything else (import timing,
the planner cases, every calculator's full sweep, contract and recipe replay), so that a
renamed control or function shows up in ``make test`` rather than the next time someone
benchmarks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from trainmath.widgets import CALCULATORS

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_quickly_without_notebooks():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--skip-notebooks", "--rounds", "1",
         "--import-runs", "1", "--planner-repeat", "1", "--no-fail"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    sweep, recipes = out.split("## Calculator update latency, browser recipes")
    for key in CALCULATORS:
        assert f"| {key} |" in sweep, key  # swept
        line = recipes.split(f"| {key} |")[1].splitlines()[0]  # and its recipe replayed
        assert "refused" not in line, key
        assert line.endswith("| kept |"), line  # the contract, along the same recipe
    assert "planner layouts/s" in out and "import trainmath" in out
    assert f"| calculator contract | kept by all {len(CALCULATORS)} |" in out
