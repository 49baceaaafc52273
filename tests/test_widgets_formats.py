"""Tests of trainmath.widgets.formats: FormatsCalculator (lesson 04) and draw_bit_fields."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

import trainmath as tm
from trainmath.widgets.contract import PythonView, check_change, check_refused, check_registered
from trainmath.widgets.formats import FIELD_COLORS, FormatsCalculator, draw_bit_fields


@pytest.fixture
def calc() -> FormatsCalculator:
    return FormatsCalculator()


def test_registered_and_created_with_no_arguments(calc):
    check_registered(calc, "formats")


def test_default_shows_0_1_and_llama_3_8b(calc):
    out = calc.last
    assert out.value == 0.1 and out.formats == tuple(tm.FORMATS)
    by_name = dict(zip(out.formats, out.encodings, strict=True))
    assert by_name["fp16"].stored == 0.0999755859375
    assert by_name["fp32"].bits == format(0x3DCCCCCD, "032b")
    assert by_name["int8"].underflow
    assert out.n_params == 8_030_261_248
    assert dict(zip(out.formats, out.memory, strict=True))["bf16"] == 2 * 8_030_261_248
    html = calc.result.value
    assert "0 | 01111011 | 10011001100110011001101" in html  # fp32 bits of 0.1
    assert "0.0999755859375" in html and "16.1 GB" in html


@pytest.mark.parametrize(
    "change", [{"value": "65520"}, {"value": "-3.7"}, {"model": "llama-3.1-405b"},
               {"model": "gpt2", "value": "1e-8"}],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"value": "448"})  # typed in the box
    assert calc.last.value == 448
    check_change(PythonView(calc, by_hand=True), {"model": "llama-2-70b"})  # picked
    assert calc.last.model == "Llama 2 70B"


def test_overflow_and_underflow_are_flagged(calc):
    assert calc.set(value="70000")
    enc = dict(zip(calc.last.formats, calc.last.encodings, strict=True))
    assert math.isinf(enc["fp16"].stored) and enc["fp16"].overflow
    assert math.isnan(enc["fp8_e4m3"].stored)
    assert enc["bf16"].stored == 70144 and not enc["bf16"].overflow
    assert enc["int8"].stored == 127
    html = calc.result.value
    assert "overflow → inf" in html and "overflow → NaN" in html and "clamped to 127" in html
    assert calc.set(value="1e-6")
    assert "subnormal" in calc.result.value and "underflow → 0" in calc.result.value


@pytest.mark.parametrize("bad", ["abc", "", "1,5", "inf", "nan"])
def test_bad_value_shows_message_and_keeps_last_result(calc, bad):
    check_refused(calc, {"value": bad}, "value", fix={"value": "2.5"})
    assert calc.last.value == 2.5


def test_plot_updates_artists_in_place(calc):
    axes = list(calc.figure.axes)
    collections = [list(ax.collections) for ax in axes]
    texts = [len(ax.texts) for ax in axes]
    calc.set(value="-2", model="gpt2")
    calc.set(value="1e30", model="llama-3-70b")
    assert calc.figure.axes == axes
    assert [list(ax.collections) for ax in axes] == collections
    assert [len(ax.texts) for ax in axes] == texts
    heights = [bar.get_height() for bar in calc._bars]
    assert heights == pytest.approx([m / 1e9 for m in calc.last.memory])


def test_bit_boxes_follow_the_bits(calc):
    calc.set(value="-2.5")  # fp16: 1 10000 0100000000
    row = calc._rows[list(tm.FORMATS).index("fp16")]
    faces = row.boxes.get_facecolors()
    ones = np.array([b == "1" for b in "1100000100000000"])
    assert np.allclose(faces[ones], row._full[ones])
    assert np.allclose(faces[~ones], row._pale[~ones])
    assert row.value_text.get_text() == "= -2.5"


def test_draw_bit_fields_helper():
    fig = Figure()
    ax = fig.add_subplot()
    row = draw_bit_fields(ax, "bf16", 1.0)
    assert len(row.boxes.get_paths()) == 16
    assert "".join(t.get_text() for t in row.digits) == "0011111110000000"
    assert row.value_text.get_text() == "= 1"
    assert row.label.get_text() == "bf16"
    row.show(None)
    assert row.value_text.get_text() == "" and row.digits[0].get_text() == ""
    blank = draw_bit_fields(ax, "int4", y=2, digits=False, label=False)
    assert blank.digits == [] and blank.label.get_text() == ""
    assert set(FIELD_COLORS) == {"sign", "exponent", "mantissa", "integer"}
    with pytest.raises(ValueError, match="format"):
        draw_bit_fields(ax, "fp64")
