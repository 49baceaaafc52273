"""Tests of trainmath.widgets.formats: FormatsCalculator (lesson 04) and draw_bit_fields."""

from __future__ import annotations

import math
from html import unescape

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
    # the block format: MXFP4 by default, 0.1 among 31 standard normal values
    ex = out.block
    assert ex.format is tm.formats.BLOCK_FORMATS["mxfp4"]
    lib = tm.formats.block_example(0.1, "mxfp4")  # the library's numbers, unchanged
    assert np.array_equal(ex.dequantized, lib.dequantized) and ex.stored == lib.stored
    assert (ex.block_scale, ex.others_rel_rms) == (lib.block_scale, lib.others_rel_rms)
    assert out.block_memory == 8_030_261_248 * 4.25 / 8
    assert "mxfp4: MXFP4, E2M1 elements" in html and "4.25" in html and "(e8m0)" in html


@pytest.mark.parametrize(
    "change", [{"value": "65520"}, {"value": "-3.7"}, {"model": "llama-3.1-405b"},
               {"model": "gpt2", "value": "1e-8"}, {"block": "nvfp4"},
               {"block": "deepseek_fp8_128x128"}, {"block": "mxfp8_e4m3", "value": "60"}],
)
def test_changing_a_control_changes_numbers_and_plot(calc, change):
    check_change(calc, change)


def test_change_through_the_widget_triggers_an_update(calc):
    check_change(PythonView(calc, by_hand=True), {"value": "448"})  # typed in the box
    assert calc.last.value == 448
    check_change(PythonView(calc, by_hand=True), {"model": "llama-2-70b"})  # picked
    assert calc.last.model == "Llama 2 70B"
    check_change(PythonView(calc, by_hand=True), {"block": "mxfp6_e2m3"})  # picked
    assert calc.last.block.format.name == "mxfp6_e2m3"


def test_an_outlier_in_a_block(calc):
    # OCP MX v1.0: X = 2^(floor(log2 60) - 2) = 8; 60 / 8 = 7.5 clamps to E2M1's 6 -> 48,
    # and the standard normal neighbours flush to zero below X / 4 = 2.
    assert calc.set(value="60", block="mxfp4")
    ex = calc.last.block
    assert (ex.block_scale, ex.stored) == (8.0, 48.0)
    html = calc.result.value
    assert "2^3 = 8 (e8m0)" in html and "48 (relative error 0.2)" in html
    assert f"{ex.others_flushed:.1%} flushed to zero" in html
    # fp8 elements keep the neighbours: none flushed
    assert calc.set(block="mxfp8_e4m3")
    assert calc.last.block.others_flushed == 0 and "0% flushed to zero" in calc.result.value
    # NVFP4's two scales
    assert calc.set(block="nvfp4")
    assert "(fp8_e4m3) ×" in calc.result.value and "(fp32 tensor scale)" in calc.result.value
    # DeepSeek-V3's 128x128 weight block: its fp32 scale, the first row drawn
    assert calc.set(block="deepseek_fp8_128x128")
    assert "(fp32)" in calc.result.value and "128×128 values" in calc.result.value
    assert "first 32 of 16,384" in calc._block_title.get_text()


def test_a_block_scale_beyond_e8m0_reads_nan(calc):
    # MX v1.0: a shared exponent above E8M0's 127 gives a NaN scale; the value is still a
    # good input for the other formats (fp16 overflows), so no message, a note instead
    assert calc.set(value="1e300", block="mxfp4")
    assert calc.message.value == ""
    assert np.isnan(calc.last.block.stored)
    assert "NaN: the shared exponent would pass E8M0's 2^127" in unescape(calc.result.value)


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
    memory = dict(zip(calc.last.formats, calc.last.memory, strict=True))
    assert heights == pytest.approx([memory[k] / 1e9 for k in ("fp32", "bf16", "int8",
                                                               "fp6_e2m3", "int4")])
    assert calc._block_bar.get_height() == pytest.approx(calc.last.block_memory / 1e9)
    calc.set(block="nvfp4")
    assert [t.get_text() for t in calc._ax_mem.get_xticklabels()][-1] == "nvfp4"
    assert [len(ax.texts) for ax in axes] == texts


def test_block_panel_shows_the_values_and_the_grid(calc):
    calc.set(value="0.1", block="mxfp4")
    ex = calc.last.block
    xs, ys = calc._original.get_data()
    assert list(xs) == list(range(32)) and np.array_equal(ys, ex.values)
    assert np.array_equal(calc._quantised.get_data()[1], ex.dequantized)
    # grey lines: the E2M1 values times the block's scale, inside the y range
    top = calc._ax_block.get_ylim()[1]
    levels = sorted(seg[0][1] for seg in calc._levels.get_segments())
    grid = tm.formats.representable_values("fp4_e2m1") * ex.step
    assert levels == pytest.approx(sorted(grid[np.abs(grid) <= top]))
    calc.set(block="mxfp8_e4m3")  # 253 values: too fine to draw
    assert calc._levels.get_segments() == []
    assert "grid too fine to draw" in calc._block_title.get_text()


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


def test_every_format_has_a_row_and_e8m0_refuses_without_a_traceback(calc):
    # The default 0.1 is no power of two: E8M0 (OCP MX v1.0 scale) cannot hold it.
    out = calc.last
    assert out.formats == tuple(tm.FORMATS) and len(calc._rows) == len(tm.FORMATS)
    by_name = dict(zip(out.formats, out.encodings, strict=True))
    assert by_name["e8m0"] is None and all(e is not None for k, e in by_name.items()
                                           if k != "e8m0")
    memory = dict(zip(out.formats, out.memory, strict=True))
    assert math.isnan(memory["e8m0"]) and memory["fp6_e2m3"] == 0.75 * 8_030_261_248
    html = unescape(calc.result.value)
    assert "not representable: E8M0 holds powers of two only" in html
    assert "Traceback" not in html and calc.message.value == ""
    e8m0_row = calc._rows[list(tm.FORMATS).index("e8m0")]
    assert e8m0_row.value_text.get_text().startswith("not representable")
    assert by_name["tf32"].bits_text(" | ") in html and "1 | 10000000" not in html
    # a power of two in range is held exactly, bits and all
    assert calc.set(value="0.125")
    enc = dict(zip(calc.last.formats, calc.last.encodings, strict=True))["e8m0"]
    assert enc.bits == format(127 - 3, "08b") and enc.exact
    assert e8m0_row.value_text.get_text() == "= 0.125"
    assert calc.set(value="-0.125")  # no sign bit
    assert dict(zip(calc.last.formats, calc.last.encodings, strict=True))["e8m0"] is None


def test_memory_bars_one_per_size_in_bytes(calc):
    assert calc._tick_names == ["fp32/tf32", "fp16/bf16", "fp8/int8", "fp6", "fp4/int4"]
    heights = [bar.get_height() for bar in calc._bars]
    n = 8_030_261_248
    assert heights == pytest.approx([4 * n / 1e9, 2 * n / 1e9, n / 1e9, 0.75 * n / 1e9,
                                     0.5 * n / 1e9])


def test_draw_bit_fields_tf32_and_e8m0():
    fig = Figure()
    ax = fig.add_subplot()
    row = draw_bit_fields(ax, "tf32", -6.5)
    assert len(row.boxes.get_paths()) == 19
    assert "".join(t.get_text() for t in row.digits) == "1100000011010000000"
    e8m0 = draw_bit_fields(ax, "e8m0", -6.5, y=1)
    assert len(e8m0.boxes.get_paths()) == 8 and e8m0.digits[0].get_text() == ""
    assert "not representable" in e8m0.value_text.get_text()
    assert draw_bit_fields(ax, "e8m0", 4.0, y=2).value_text.get_text() == "= 4"


def test_overflow_notes_name_what_each_format_does():
    # fp8 E4M3 overflows to NaN, E5M2 to inf; fp6 and fp4 have neither and clamp.
    from trainmath.formats import encode
    from trainmath.widgets.formats import _note

    notes = {name: _note(encode(65504.0, name, saturate=False), tm.FORMATS[name])
             for name in ("fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp4_e2m1")}
    assert notes["fp8_e4m3"] == "overflow → NaN (fp8_e4m3 has no inf)"
    assert notes["fp8_e5m2"] == "overflow → inf"
    assert notes["fp6_e2m3"] == "overflow: clamped to ±7.5 (fp6_e2m3 has no inf or NaN)"
    assert notes["fp4_e2m1"] == "overflow: clamped to ±6 (fp4_e2m1 has no inf or NaN)"
