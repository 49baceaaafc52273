"""Tests of trainmath.widgets.throughput: ThroughputCalculator (lesson 08)."""

from __future__ import annotations

import numpy as np
import pytest

import trainmath as tm
from trainmath.widgets.contract import (
    PythonView,
    check_change,
    check_recipe,
    check_refused,
    check_registered,
)
from trainmath.widgets.recipes import RECIPES, Step
from trainmath.widgets.throughput import RAMP_M, ThroughputCalculator, dtypes_of

A100 = "A100-80GB"


@pytest.fixture
def calc() -> ThroughputCalculator:
    return ThroughputCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "throughput")


def test_registered_between_the_planner_and_the_capstone():
    keys = list(tm.widgets.CALCULATORS)
    assert keys.index("planner") + 1 == keys.index("throughput")
    assert keys.index("throughput") + 1 == keys.index("moe")  # lesson 11's, then the capstone
    assert keys.index("throughput") < keys.index("capstone")


def test_default_is_seed_002s_mlp_matmul_compute_bound(calc):
    assert calc.values() == {"m": 8192, "k": 1600, "n": 6400, "accelerator": A100,
                             "dtype": "bf16"}
    out = calc.last
    assert out.flops == 2 * 8192 * 1600 * 6400
    assert out.bytes_moved == (8192 * 1600 + 1600 * 6400 + 8192 * 6400) * 2
    assert out.intensity == pytest.approx(1107.0, abs=0.5)
    assert out.ridge == pytest.approx(312e12 / 2.039e12)
    assert out.bound == "compute"
    assert out.attainable == 312e12 and out.share == 1.0
    # time = FLOPs / peak when compute bound (the library's 538 us for the fp16 case)
    assert out.seconds == pytest.approx(out.flops / 312e12)
    assert out.seconds * 1e6 == pytest.approx(538, abs=0.5)
    text = calc.result.value
    for shown in ("1.68e+11 FLOPs", "152 MB", "1,107 FLOP/B", "153 FLOP/B", "compute bound",
                  "538 µs", "a lower bound", "312 TFLOP/s = 100% of the dense bf16 peak",
                  "Real kernels fall below this bound"):
        assert shown in text, shown


def test_small_batch_is_memory_bound_as_the_library_says(calc):
    assert calc.set(m=32, dtype="fp16")
    out = calc.last
    assert out.intensity == tm.matmul_intensity(32, 1600, 6400, "fp16")
    assert round(out.intensity, 1) == 31.2
    assert out.attainable == tm.matmul_attainable_flops(32, 1600, 6400, A100, "fp16")
    assert round(out.attainable / 1e12, 1) == 63.7
    assert out.bound == "memory"
    assert out.bytes_moved == tm.matmul_bytes(32, 1600, 6400, "fp16") == 20_992_000
    assert out.seconds == pytest.approx(out.bytes_moved / 2.039e12)  # bandwidth bound
    assert out.share == pytest.approx(63.66e12 / 312e12, rel=1e-3)
    text = calc.result.value
    assert "31.2 FLOP/B" in text and "memory bound" in text
    assert "63.7 TFLOP/s = 20.4% of the dense fp16 peak" in text


@pytest.mark.parametrize(
    ("shape", "accelerator", "dtype"),
    [((8192, 1600, 6400), "H100-SXM", "fp8"), ((1, 4096, 4096), "H200", "bf16"),
     ((4096, 8192, 4096), "A100-40GB", "tf32"), ((512, 1024, 4096), "V100", "fp32"),
     ((64, 8192, 28672), "MI300X", "fp16"), ((128, 5120, 5120), "TPU v4", "bf16")],
)
def test_numbers_follow_the_library(calc, shape, accelerator, dtype):
    m, k, n = shape
    assert calc.set(m=m, k=k, n=n, accelerator=accelerator, dtype=dtype)
    out = calc.last
    assert out.flops == tm.matmul_flops(m, k, n)
    assert out.bytes_moved == tm.matmul_bytes(m, k, n, dtype)
    assert out.intensity == tm.matmul_intensity(m, k, n, dtype)
    assert out.ridge == tm.ridge_point(accelerator, dtype)
    assert out.bound == tm.bound(out.intensity, accelerator, dtype)
    assert out.seconds == tm.roofline_time(out.flops, out.bytes_moved, accelerator, dtype)
    assert out.attainable == tm.matmul_attainable_flops(m, k, n, accelerator, dtype)
    assert out.peak_flops == tm.get_accelerator(accelerator).peak(dtype)
    assert out.attainable <= out.peak_flops


def test_fp4_and_fp6_peaks_move_half_and_three_quarter_bytes(calc):
    # The peak dtypes "fp4"/"fp6" are families; their bytes are those of fp4_e2m1/fp6_e2m3.
    assert calc.set(m=32, accelerator="B200", dtype="fp4")
    out = calc.last
    assert out.bytes_per_value == 0.5
    assert out.bytes_moved == tm.matmul_bytes(32, 1600, 6400, "fp4_e2m1")
    assert out.attainable == tm.attainable_flops(out.intensity, "B200", "fp4")
    assert out.ridge == pytest.approx(9000e12 / 7.7e12)
    assert calc.set(dtype="fp6")
    assert calc.last.bytes_per_value == 0.75
    assert calc.last.intensity == tm.matmul_intensity(32, 1600, 6400, "fp6_e3m2")


def test_ramp_is_m_from_1_to_16384_on_the_roofline(calc):
    out = calc.last
    assert list(out.ramp_m) == [2**i for i in range(15)] and (out.ramp_m == RAMP_M).all()
    np.testing.assert_array_equal(out.ramp_intensity,
                                  tm.matmul_intensity(RAMP_M, 1600, 6400, "bf16"))
    np.testing.assert_array_equal(out.ramp_flops,
                                  tm.matmul_attainable_flops(RAMP_M, 1600, 6400, A100, "bf16"))
    bounds = tm.bound(out.ramp_intensity, A100, "bf16")
    assert bounds[0] == "memory" and bounds[-1] == "compute"  # small batches: memory bound
    assert (np.diff(out.ramp_flops) >= 0).all()
    # the roofline drawn: its ends and the ridge, from 0.1 to 10^4 FLOP/B
    assert out.roof_intensity[0] == 0.1 and out.roof_intensity[-1] == 1e4
    assert out.roof_intensity[1] == out.ridge
    np.testing.assert_array_equal(out.roof_flops,
                                  tm.attainable_flops(out.roof_intensity, A100, "bf16"))


def test_plot_marks_the_matmul_and_the_ridge(calc):
    assert calc.set(m=32)
    x, y = calc._marker.get_data()
    assert x[0] == calc.last.intensity and y[0] == pytest.approx(calc.last.attainable / 1e12)
    rx, ry = calc._ridge.get_data()
    assert rx[0] == calc.last.ridge and ry[0] == pytest.approx(312)
    ax = calc.figure.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "FLOP/B" in ax.get_xlabel() and "TFLOP/s" in ax.get_ylabel()
    assert ax.get_xlim() == pytest.approx((0.1, 1e4))
    # a larger intensity widens the axis
    assert calc.set(m=100_000, k=100_000, n=100_000)
    assert ax.get_xlim()[1] == pytest.approx(3 * calc.last.intensity)


def test_dtype_choices_follow_the_accelerator(calc):
    dtype = calc.inputs["dtype"]
    assert dtype.options == ("fp32", "tf32", "fp16", "bf16") == dtypes_of(A100)
    assert calc.set(accelerator="H100-SXM")
    assert dtype.options == ("fp32", "tf32", "fp16", "bf16", "fp8")
    assert calc.set(accelerator="B200")
    assert dtype.options[-3:] == ("fp8", "fp6", "fp4")
    assert calc.set(dtype="fp4")
    assert calc.last.dtype == "fp4" and calc.last.peak_flops == 9000e12
    # the V100 has no bf16 and no fp4: the 16-bit fp16 is shown, and the calculator says so
    assert calc.set(accelerator="V100")
    assert dtype.options == ("fp32", "fp16") and dtype.value == "fp16"
    assert calc.message.value == ""
    assert calc.last.dtype == "fp16" and calc.last.peak_flops == 125e12
    assert "the V100 has no fp4 peak, so fp16" in calc.result.value
    # the dtype picked comes back with an accelerator that has it
    assert calc.set(accelerator="GB200")
    assert dtype.value == "fp4" and calc.last.peak_flops == 10000e12
    assert "has no" not in calc.result.value
    # an accelerator without fp16 or bf16's fallback: TPU v4 has bf16 only
    assert calc.set(accelerator="TPU v4")
    assert dtype.options == ("bf16",) and dtype.value == "bf16"


def test_accelerator_change_through_the_widget_updates_once(calc, monkeypatch):
    updates = []
    update = ThroughputCalculator.update
    monkeypatch.setattr(ThroughputCalculator, "update",
                        lambda self: updates.append(1) or update(self))
    calc.inputs["accelerator"].value = "V100"  # as a browser change: options and value follow
    assert len(updates) == 1
    assert calc.last.accelerator == "V100" and calc.last.dtype == "fp16"
    calc.inputs["dtype"].value = "fp32"  # picked by hand
    calc.inputs["accelerator"].value = "H100-SXM"
    assert calc.inputs["dtype"].value == "fp32" and calc.last.peak_flops == 67e12
    assert len(updates) == 3


def test_explicit_dtype_equal_to_the_fallback_is_no_fallback(calc):
    assert calc.set(accelerator="V100", dtype="fp16")  # fp16 was asked for: no note
    assert "has no" not in calc.result.value
    assert calc.set(accelerator=A100)
    assert calc.inputs["dtype"].value == "fp16"


@pytest.mark.parametrize(
    "change",
    [{"m": 32}, {"k": 8192}, {"n": 1024}, {"accelerator": "H100-SXM"}, {"dtype": "fp32"},
     {"accelerator": "V100"}, {"accelerator": "MI300X", "dtype": "fp8"}],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"m": 64})  # typed in the box
    assert calc.last.m == 64
    check_change(PythonView(calc, by_hand=True), {"dtype": "tf32"})  # picked
    assert calc.last.dtype == "tf32"
    check_change(calc, Step("accelerator", text="H200"))


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"m": 0}, "m must be an integer >= 1"),
        ({"m": -32}, "m must be an integer >= 1"),
        ({"k": 0}, "k must be"),
        ({"n": -1}, "n must be"),
        ({"m": 1.5}, "m must be a whole number >= 1"),
        ({"m": "abc"}, "m must be an integer, got str"),
        ({"dtype": "fp64"}, "dtype 'fp64' is not available on the A100-80GB (it has dense "
                            "peaks for fp32, tf32, bf16, fp16)"),
        ({"accelerator": "V100", "dtype": "bf16"}, "dtype 'bf16' is not available on the V100"),
        ({"accelerator": "TPU v5"}, "unknown accelerator 'TPU v5'; valid names: A100-40GB"),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word):
    fix = {"m": 64, "k": 4096, "n": 2048, "dtype": "fp32", "accelerator": "H100-SXM"}
    check_refused(calc, change, word, fix={name: fix[name] for name in change})
    assert "Traceback" not in calc.message.value


def test_bad_value_typed_in_the_box_shows_message(calc):
    check_refused(PythonView(calc, by_hand=True), {"m": 0}, "m", {"m": 16})
    assert calc.last.m == 16


def test_refused_value_leaves_the_controls_alone(calc):
    before = calc.values()
    assert not calc.set(accelerator="V100", dtype="bf16")
    assert calc.values() == before and calc.inputs["dtype"].options == dtypes_of(A100)


def test_recipe_keeps_the_contract(calc):
    check_recipe(calc, RECIPES["throughput"])


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    lines = list(axes[0].lines)
    calc.set(accelerator="B200", dtype="fp4")
    calc.set(m=1)
    assert calc.figure.axes == axes
    assert list(axes[0].lines) == lines


def test_shows_the_rows_from_which_the_weight_is_compute_bound(calc):
    assert calc.set(m=32, dtype="fp16")
    assert calc.last.compute_bound_rows == tm.compute_bound_rows(1600, 6400, A100, "fp16")
    assert "m ≥ 173.8" in calc.result.value
    assert calc.set(k=128, n=128, accelerator="H100-SXM", dtype="bf16")
    assert calc.last.compute_bound_rows == np.inf
    assert "never: the weight is too small" in calc.result.value
