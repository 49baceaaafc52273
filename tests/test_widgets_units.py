"""Tests of trainmath.widgets.units: UnitsCalculator (lesson 02)."""

from __future__ import annotations

import pytest

import trainmath as tm
from trainmath.widgets.contract import PythonView, check_change, check_refused, check_registered
from trainmath.widgets.units import UnitsCalculator


@pytest.fixture
def calc() -> UnitsCalculator:
    return UnitsCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "units")


def test_default_is_gpt3_on_v100s(calc):
    out = calc.last
    # Brown et al. 2020, Table D.1: 3.14e23 FLOPs = 3,640 PF-days (3,634 from the rounded FLOPs).
    assert out.flops == 3.14e23
    assert out.pflop_days == pytest.approx(3634, abs=1)
    peak = tm.ACCELERATORS["V100"].peak("fp16")
    assert out.gpu_hours == pytest.approx(tm.gpu_hours(3.14e23, peak, 0.213))
    assert out.cost == pytest.approx(out.gpu_hours * 2.0)
    assert "3.14e+23 FLOPs" in calc.result.value
    assert "3,634 PFLOP/s-days" in calc.result.value


@pytest.mark.parametrize("unit", tm.COMPUTE_UNITS)
def test_every_unit_gives_the_same_amount_in_every_unit(calc, unit):
    calc.set(accelerator="H100-SXM", dtype="bf16", mfu=0.4, price=2.5)
    ref = calc.last
    value = {"FLOP": ref.flops, "PFLOP/s-day": ref.pflop_days, "GPU-hour": ref.gpu_hours,
             "USD": ref.cost}[unit]
    assert calc.set(value=value, unit=unit)
    out = calc.last
    for name in ("flops", "pflop_days", "gpu_hours", "cost"):
        assert getattr(out, name) == pytest.approx(getattr(ref, name), rel=1e-12)


def test_llama31_405b_card_hours(calc):
    # Llama 3.1 model card: 30.84M H100-80GB GPU-hours. At 38 % of the dense bf16 peak
    # they deliver 4.17e25 FLOPs.
    calc.set(value=30.84e6, unit="GPU-hour", accelerator="H100-SXM", dtype="bf16", mfu=0.38)
    assert calc.last.flops == pytest.approx(30.84e6 * 3600 * 989e12 * 0.38)
    assert "30.8M GPU-hours" in calc.result.value


def test_one_pflop_day(calc):
    assert calc.set(value=1, unit="PFLOP/s-day")
    assert calc.last.flops == 8.64e19


@pytest.mark.parametrize(
    "change",
    [
        {"value": 1e24},
        {"unit": "PFLOP/s-day"},
        {"accelerator": "A100-80GB"},
        {"dtype": "fp32"},
        {"mfu": 0.5},
        {"price": 3.0},
    ],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"mfu": 0.5})  # the slider moved
    assert calc.last.mfu == 0.5


@pytest.mark.parametrize(
    ("change", "word", "fix"),
    [
        ({"value": -1.0}, "value", {"value": 1e22}),
        ({"value": 0.0}, "value", {"value": 1e22}),
        ({"price": 0.0}, "price_per_gpu_hour", {"price": 1.5}),
        ({"price": -2.0}, "price_per_gpu_hour", {"price": 1.5}),
        ({"accelerator": "TPU v4"}, "dtype", {"dtype": "bf16"}),
        ({"dtype": "fp8"}, "dtype", {"dtype": "fp32"}),
    ],
)
def test_bad_value_shows_message_and_keeps_last_result(calc, change, word, fix):
    check_refused(calc, change, word, fix)


def test_plot_updates_artists_in_place(calc):
    ax = calc._ax
    lines = list(ax.lines)
    texts = list(ax.texts)
    calc.set(dtype="bf16", accelerator="H100-SXM", mfu=0.6)
    calc.set(dtype="fp32", accelerator="A100-80GB")
    assert list(ax.lines) == lines and list(ax.texts) == texts  # the legend is rebuilt
    x, y = calc._marker.get_data()
    assert list(x) == [calc.last.mfu]
    assert y[0] == pytest.approx(calc.last.gpu_hours)
    # One line per distinct fp32 peak; TPU v4 has none, and the last legend entry says so.
    peaks = {a.peak("fp32") for a in tm.ACCELERATORS.values() if "fp32" in a.peak_flops}
    assert sum(line.get_visible() for line in calc._lines) == len(peaks)
    assert "no fp32 peak: TPU v4" in calc._legend_texts[-1].get_text()
    # Accelerators that share a peak share a line: H100-SXM, H800 and H200 in bf16.
    calc.set(dtype="bf16")
    texts = [t.get_text() for t in calc._legend_texts]
    assert any(t.startswith("H100-SXM, H800, H200 (") for t in texts)


def test_cost_axis_follows_the_price(calc):
    calc.set(price=4.0)
    assert calc._price == 4.0
    png = bytes(calc.image.value)
    calc.set(price=0.5)
    assert bytes(calc.image.value) != png
