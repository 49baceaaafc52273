"""``make bench``: the course's performance figures, measured in one run on this machine.

Prints, with its target next to each figure:

1. calculator update latency, per calculator of ``trainmath.widgets.CALCULATORS``: the
   time from a control's new value to new numbers and a new PNG (the observer path a
   browser change takes), Agg backend, (a) in the full sweep of
   ``trainmath.widgets.recipes.sweep``: every control across its range, several values
   each, once, as a learner trying everything would (fresh calculator, first visit of each
   value); (b) replaying the browser tests' interaction recipes
   (``trainmath.widgets.recipes.RECIPES``) back and forth; median < 50 ms, p95 < 150 ms
   for each calculator in each; before (b), each calculator's contract
   (``trainmath.widgets.contract``: registered, good changes update, a bad value is
   refused and recovered from) is checked along its recipe, and must be kept by all;
2. each lesson notebook's execution time in a fresh kernel (kernel start to shutdown, best
   of 3), and the whole course's, next to the floor measured in the same run (a fresh
   kernel that only runs the lessons' setup imports: trainmath, numpy, matplotlib.pyplot,
   ipywidgets; best of 3), times the number of notebooks; whole course < 2x that floor;
3. ``python -c "import trainmath"`` wall time; median < 0.3 s;
4. planner layouts evaluated per second (the cases of ``bench/bench_planner.py``);
   slowest case >= 1e5 layouts/s.

Timings depend on the machine and its load: the load average before and after is printed
with the figures. Exit status 1 when a target is missed (0 with ``--no-fail``).

Usage: ``python bench/run.py [--rounds N] [--calculators KEYS] [--skip-notebooks] [--no-fail]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]

UPDATE_MEDIAN_S = 0.050
UPDATE_P95_S = 0.150
COURSE_FLOOR_RATIO = 2.0
IMPORT_S = 0.3
LAYOUTS_PER_S = 1e5

#: What the floor kernel runs: the lessons' setup imports, and the widget library.
FLOOR_SOURCE = (
    "import matplotlib.pyplot as plt\nimport numpy as np\nimport ipywidgets\n\n"
    "import trainmath as tm\nfrom trainmath import fmt"
)


def p95(values: list[float]) -> float:
    """95th percentile, nearest rank (no interpolation: an observed value)."""
    ordered = sorted(values)
    rank = max(1, -(-95 * len(ordered) // 100))  # ceil(0.95 n)
    return ordered[rank - 1]


@dataclass
class Row:
    what: str
    value: str
    target: str
    met: bool


# -- 1. calculator latency ------------------------------------------------------------------

def timed_update(calc) -> float:
    """Seconds one full ``calc.update()`` takes (compute, render, draw, PNG)."""
    start = time.perf_counter()
    calc.update()
    return time.perf_counter() - start


def _stats(wall: list[float], cpu: list[float], failed: int) -> dict:
    return {
        "n": len(wall),
        "median": statistics.median(wall),
        "p95": p95(wall),
        "max": max(wall),
        "cpu_median": statistics.median(cpu),
        "failed": failed,
    }


def calculator_sweep(key: str) -> tuple[dict, str]:
    """One pass of :func:`trainmath.widgets.recipes.sweep` over a fresh calculator, timed.

    Returns the statistics and the slowest control with its slowest change.
    """
    from trainmath.widgets import CALCULATORS
    from trainmath.widgets.recipes import sweep

    calc = CALCULATORS[key]()
    wall, cpu, failed = [], [], 0
    worst = (0.0, "")
    moves = sweep(calc)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            name, value = next(moves)  # sets the control: observer -> update()
        except StopIteration:
            break
        t1, c1 = time.perf_counter(), time.process_time()
        wall.append(t1 - t0)
        cpu.append(c1 - c0)
        failed += calc.message.value != ""
        worst = max(worst, (t1 - t0, f"{name} = {value!r}"))
    return _stats(wall, cpu, failed), f"{worst[1]} ({worst[0] * 1e3:.0f} ms)"


def calculator_latency(key: str, rounds: int) -> dict:
    """Time ``rounds`` passes over the recipe's good changes, each there and back again."""
    from trainmath.widgets import CALCULATORS
    from trainmath.widgets.recipes import python_value, recipe_for

    calc = CALCULATORS[key]()
    recipe = recipe_for(key, calc)
    steps = [s for s in (*recipe.changes, recipe.fix) if s.control in calc.inputs]
    # Each step toggles its control between the step's value and the value before it.
    toggles = []
    for step in steps:
        control = calc.inputs[step.control]
        toggles.append((control, python_value(control, step), control.value))
    wall, cpu, failed = [], [], 0
    for r in range(rounds + 1):  # round 0 warms caches up and is not counted
        for control, new, old in toggles:
            for value in (new, old):
                if control.value == value:
                    continue
                t0, c0 = time.perf_counter(), time.process_time()
                control.value = value  # observer -> update(): compute, render, draw, PNG
                t1, c1 = time.perf_counter(), time.process_time()
                if r:
                    wall.append(t1 - t0)
                    cpu.append(c1 - c0)
                    failed += calc.message.value != ""
    return _stats(wall, cpu, failed)


def contract_kept(key: str) -> str:
    """"kept", or what broke: the calculator contract (``trainmath.widgets.contract``) on a
    fresh calculator, replaying the recipe the latency is timed with (timings of a
    calculator that refuses its own recipe would mean nothing)."""
    from trainmath.widgets import CALCULATORS
    from trainmath.widgets.contract import ContractError, check_recipe, check_registered
    from trainmath.widgets.recipes import recipe_for

    calc = CALCULATORS[key]()
    try:
        check_registered(calc, key)
        check_recipe(calc, recipe_for(key, calc))
    except ContractError as exc:
        return "broken: " + " ".join(str(exc).split()).replace("|", "/")
    return "kept"


def _met(s: dict) -> bool:
    return s["median"] < UPDATE_MEDIAN_S and s["p95"] < UPDATE_P95_S


def _row(key: str, s: dict, extra: str = "") -> str:
    ms = {k: v * 1e3 for k, v in s.items() if k not in ("n", "failed")}
    note = f" ({s['failed']} refused)" if s["failed"] else ""
    return (f"| {key} | {s['n']}{note} | {ms['median']:.1f} ms | {ms['p95']:.1f} ms | "
            f"{ms['max']:.1f} ms | {ms['cpu_median']:.1f} ms |{extra}")


def bench_sweep(keys: list[str]) -> list[Row]:
    print("\n## Calculator update latency, full sweep (Agg; every control across its range, "
          "once, fresh calculator)\n")
    print("Refused: changes the calculator answers with a message (a value out of range, a "
          "dtype the device lacks); they are timed too.\n")
    print("| calculator | updates | median | p95 | max | CPU median | slowest change |")
    print("|---|---:|---:|---:|---:|---:|---|")
    rows = []
    for key in keys:
        s, worst = calculator_sweep(key)
        print(_row(key, s, f" {worst} |"))
        rows.append(Row(f"sweep latency, {key}", f"median {s['median'] * 1e3:.0f} ms, "
                        f"p95 {s['p95'] * 1e3:.0f} ms", "< 50 ms, < 150 ms", _met(s)))
    return rows


def bench_calculators(keys: list[str], rounds: int) -> list[Row]:
    print(f"\n## Calculator update latency, browser recipes (Agg; {rounds} rounds of each "
          "recipe's changes, there and back)\n")
    print("Contract: the calculator's promises (trainmath/widgets/contract.py) along the same "
          "recipe, checked once before timing.\n")
    print("| calculator | updates | median | p95 | max | CPU median | contract |")
    print("|---|---:|---:|---:|---:|---:|---|")
    rows, broken = [], []
    for key in keys:
        contract = contract_kept(key)
        if contract != "kept":
            broken.append(key)
        s = calculator_latency(key, rounds)
        print(_row(key, s, f" {contract} |"))
        rows.append(Row(f"recipe latency, {key}", f"median {s['median'] * 1e3:.0f} ms, "
                        f"p95 {s['p95'] * 1e3:.0f} ms", "< 50 ms, < 150 ms", _met(s)))
    rows.append(Row("calculator contract", "broken: " + ", ".join(broken) if broken else
                    f"kept by all {len(keys)}", "kept by all", not broken))
    return rows


# -- 2. notebooks -----------------------------------------------------------------------------

def execute_seconds(nb, cwd: Path) -> float:
    """Wall time to run ``nb`` in a fresh kernel, kernel start and shutdown included."""
    from nbclient import NotebookClient

    from trainmath.grade import kernel_env

    start = time.perf_counter()
    NotebookClient(
        nb, timeout=300, kernel_name="python3", record_timing=False,
        store_widget_state=False, resources={"metadata": {"path": str(cwd)}},
    ).execute(env=kernel_env(), stderr=subprocess.DEVNULL)  # the kernel's TCP warning
    return time.perf_counter() - start


def bench_notebooks(floor_runs: int, runs: int) -> list[Row]:
    """Best of ``runs`` per notebook against the best of ``floor_runs`` floor kernels.

    The same statistic on both sides of the ratio; "best of" because a shared machine
    only ever adds time (another process, the disk), never removes it.
    """
    import nbformat

    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    floor_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_SOURCE)])
    floor_nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    execute_seconds(nbformat.from_dict(floor_nb), ROOT / "notebooks")  # warm the disk cache
    floors = [execute_seconds(nbformat.from_dict(floor_nb), ROOT / "notebooks")
              for _ in range(floor_runs)]
    floor = min(floors)
    print(f"\n## Notebook execution (fresh kernel each, start to shutdown; best of {runs})\n")
    imports = "; ".join(line for line in FLOOR_SOURCE.splitlines() if line)
    print(f"Floor: a fresh kernel running only `{imports}`: best of {floor_runs} = "
          f"{floor:.2f} s ({', '.join(f'{f:.2f}' for f in floors)})\n")
    print("| notebook | seconds | / floor |")
    print("|---|---:|---:|")
    total = 0.0
    for path in lessons:
        nb = nbformat.read(path, as_version=4)
        seconds = min(execute_seconds(nbformat.from_dict(nb), path.parent) for _ in range(runs))
        total += seconds
        print(f"| {path.relative_to(ROOT)} | {seconds:.2f} | {seconds / floor:.2f} |")
    budget = floor * len(lessons)
    ratio = total / budget
    print(f"| **all {len(lessons)} lessons** | **{total:.1f}** | **{ratio:.2f} x "
          f"({len(lessons)} x floor = {budget:.1f} s)** |")
    return [Row(f"course: {len(lessons)} lessons", f"{total:.1f} s = {ratio:.2f} x "
                f"{len(lessons)} x floor {floor:.2f} s", "< 2 x", ratio < COURSE_FLOOR_RATIO)]


# -- 3. import time ---------------------------------------------------------------------------

def _wall(code: str) -> float:
    """Seconds ``python -c code`` takes, start to exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def bench_import(runs: int) -> list[Row]:
    _wall("import trainmath")  # warm-up (bytecode, disk cache)
    times = [_wall("import trainmath") for _ in range(runs)]
    bare = [_wall("pass") for _ in range(runs)]
    # Not a target: what the first calculator of a lesson adds to the lesson's own imports
    # (ml_dtypes among it: release 0.7.0 alone took 0.6 s here, hence the cap in pyproject).
    lesson = FLOOR_SOURCE.replace("\n\n", "\n")
    n = max(3, runs // 3)  # best of n each: a difference of two noisy medians can go negative
    extra = min(_wall(lesson + "\nimport trainmath.widgets") for _ in range(n)) - min(
        _wall(lesson) for _ in range(n))
    median = statistics.median(times)
    print("\n## `python -c \"import trainmath\"`\n")
    print(f"median {median:.3f} s, min {min(times):.3f} s over {runs} runs "
          f"(bare interpreter `python -c pass`: median {statistics.median(bare):.3f} s; "
          f"`import trainmath.widgets` after a lesson's setup imports adds {extra:.3f} s)")
    return [Row("python -c \"import trainmath\"", f"{median:.3f} s (median of {runs})",
                "< 0.3 s", median < IMPORT_S)]


# -- 4. planner -------------------------------------------------------------------------------

def bench_planner(repeat: int) -> list[Row]:
    import bench_planner as planner  # next to this script (its folder is on sys.path)

    import trainmath as tm
    print(f"\n## Planner throughput (`tm.plan_layouts`, cases of bench/bench_planner.py, "
          f"best of {repeat})\n")
    print("| case | layouts | seconds | layouts/s |")
    print("|---|---:|---:|---:|")
    rates = []
    for model, acc, n, kw in planner.CASES:
        tm.plan_layouts(model, acc, n, **kw)  # warm-up
        best, count = float("inf"), 0
        for _ in range(repeat):
            start = time.perf_counter()
            layouts = tm.plan_layouts(model, acc, n, **kw)
            best = min(best, time.perf_counter() - start)
            count = len(layouts)
        rates.append(count / best)
        print(f"| {model}, {n:,} x {acc}, s={kw.get('seq_len', 'default')} | {count:,} | "
              f"{best * 1e3:.1f} ms | {count / best:.3g} |")
    slowest = min(rates)
    return [Row("planner layouts/s (slowest case)", f"{slowest:.3g}", ">= 1e5",
                slowest >= LAYOUTS_PER_S)]


# -- main -------------------------------------------------------------------------------------

def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, matplotlib {matplotlib.__version__}")


def load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10,
                        help="passes over each calculator's recipe (default 10)")
    parser.add_argument("--calculators", default="",
                        help="comma-separated keys of CALCULATORS to time (default: all)")
    parser.add_argument("--floor-runs", type=int, default=3,
                        help="floor kernels to time (best of; default 3)")
    parser.add_argument("--notebook-runs", type=int, default=3,
                        help="runs of each lesson (best of; default 3, as the floor)")
    parser.add_argument("--import-runs", type=int, default=15)
    parser.add_argument("--planner-repeat", type=int, default=10)
    parser.add_argument("--skip-notebooks", action="store_true",
                        help="leave out the notebook timings (a minute or two)")
    parser.add_argument("--no-fail", action="store_true",
                        help="exit 0 even when a target is missed")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    print(f"# trainmath benchmark, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}\n")
    print(f"Machine: {machine()}")
    print(f"Load average (1, 5, 15 min) at start: {load()}")
    rows: list[Row] = []
    rows += bench_import(args.import_runs)
    rows += bench_planner(args.planner_repeat)
    from trainmath.widgets import CALCULATORS

    keys = [k for k in args.calculators.split(",") if k] or list(CALCULATORS)
    unknown = sorted(set(keys) - set(CALCULATORS))
    if unknown:
        parser.error(f"unknown calculators {unknown}; known: {', '.join(CALCULATORS)}")
    # The sweep first, in a process where no calculator has been used yet: each value it
    # sets is then a learner's first visit (no cache of an earlier pass helps).
    rows += bench_sweep(keys)
    rows += bench_calculators(keys, args.rounds)
    if not args.skip_notebooks:
        rows += bench_notebooks(args.floor_runs, args.notebook_runs)
    print(f"\nLoad average at the end: {load()}")

    print("\n## Summary\n")
    print("| figure | measured | target | |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row.what} | {row.value} | {row.target} | {'met' if row.met else 'MISSED'} |")
    missed = [row.what for row in rows if not row.met]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} targets met"
          + (f"; missed: {', '.join(missed)}" if missed else ""))
    return 1 if missed and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
