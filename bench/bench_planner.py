"""Benchmark: how many parallel layouts :func:`trainmath.plan_layouts` evaluates per second.

Usage: ``python bench/bench_planner.py [--repeat N]``. For a few planning problems of
lesson 07 it times ``plan_layouts`` (best of N runs after a warm-up) and prints the layouts
evaluated (every row of the returned table: memory and step time are computed for all of
them, fitting or not), the seconds per call and the layouts per second. The target is
1e5 layouts/s; the exit status is 1 if any case falls below it. The planner's widget
update (planning + drawing) is timed too: the target there is a median below 50 ms.

This is a benchmark, not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")

import trainmath as tm  # noqa: E402

TARGET = 1e5  # layouts per second
WIDGET_TARGET = 0.050  # seconds per widget update (median)

CASES = [
    ("llama-3-8b", "H100-SXM", 64, {}),
    ("llama-3-70b", "H100-SXM", 256, {"seq_len": 8192, "global_batch_tokens": 4 * 2**20}),
    ("llama-3.1-405b", "H100-SXM", 8192, {"seq_len": 8192, "global_batch_tokens": 16 * 2**20}),
    ("llama-3.1-405b", "H100-SXM", 16384,
     {"seq_len": 131072, "global_batch_tokens": 16 * 2**20}),
    ("gpt3-175b", "A100-80GB", 1024, {"seq_len": 2048, "global_batch_tokens": 1536 * 2048}),
]


def bench_planner(repeat: int) -> bool:
    ok = True
    print(f"{'case':48s} {'layouts':>8s} {'fit':>7s} {'ms/call':>8s} {'layouts/s':>10s}")
    for model, acc, n, kw in CASES:
        tm.plan_layouts(model, acc, n, **kw)  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            layouts = tm.plan_layouts(model, acc, n, **kw)
            times.append(time.perf_counter() - start)
        best = min(times)
        rate = len(layouts) / best
        ok &= rate >= TARGET
        case = f"{model} on {n:,} {acc}, s={kw.get('seq_len', 'default')}"
        print(f"{case:48s} {len(layouts):8,d} {layouts.n_fit:7,d} {best * 1e3:8.2f} {rate:10.3g}")
    return ok


def timed_update(calc) -> float:
    """Seconds one full ``calc.update()`` takes."""
    start = time.perf_counter()
    calc.update()
    return time.perf_counter() - start


def bench_widget(repeat: int) -> bool:
    calc = tm.widgets.PlannerCalculator()
    timed_update(calc)  # warm-up
    median = statistics.median(timed_update(calc) for _ in range(repeat))
    print(f"PlannerCalculator update (default settings): median {median * 1e3:.1f} ms "
          f"(target < {WIDGET_TARGET * 1e3:.0f} ms)")
    return median < WIDGET_TARGET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per case")
    args = parser.parse_args(argv)
    planner_ok = bench_planner(args.repeat)
    widget_ok = bench_widget(args.repeat)
    print(f"planner target {TARGET:.0e} layouts/s: {'met' if planner_ok else 'MISSED'}; "
          f"widget target: {'met' if widget_ok else 'MISSED'}")
    return 0 if planner_ok else 1


if __name__ == "__main__":
    sys.exit(main())
