"""Tests of trainmath.formats: number formats, casting, bits, accumulation, quantisation."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

F = tm.formats
FLOATS = [name for name, f in tm.FORMATS.items() if f.is_float and f.signed]  # not E8M0
SMALL_FLOATS = [name for name in FLOATS if name != "fp32"]
# formats with inf or NaN to overflow to (fp6 and fp4 clamp instead)
OVERFLOWING = [name for name in SMALL_FLOATS
               if tm.FORMATS[name].has_inf or tm.FORMATS[name].has_nan]

# reference-figures Sec. 12: (sign/exp/mantissa, max, min normal, eps).
TABLE = {
    "fp32": (8, 23, 3.4028235e38, 1.1754944e-38, 1.1920929e-07),
    "fp16": (5, 10, 65504, 6.1035156e-05, 0.0009765625),
    "bf16": (8, 7, 3.3895314e38, 1.1754944e-38, 0.0078125),
    "fp8_e4m3": (4, 3, 448, 0.015625, 0.125),
    "fp8_e5m2": (5, 2, 57344, 6.1035156e-05, 0.25),
}


# The rounding is checked against an independent exact implementation (Python fractions,
# round half to even) built from the format's bit counts alone, and the bit patterns against
# published encodings (IEEE 754-2019, OCP OFP8 v1.0).

# --- an independent reference --------------------------------------------------------------------


def reference_round(x: float, name: str, saturate: bool = False) -> float:
    """Round ``x`` to nearest, ties to even, from the bit counts alone (exact arithmetic)."""
    f = tm.FORMATS[name]
    if not f.is_float:
        r = round(Fraction(x))  # Fraction rounds half to even
        return float(min(max(r, int(f.min)), int(f.max)))
    m = f.mantissa_bits
    emin = 2 - 2 ** (f.exponent_bits - 1)
    a = abs(Fraction(x))
    if a == 0:
        return math.copysign(0.0, x)
    e = max(math.frexp(x)[1] - 1, emin)  # floor(log2 |x|), exact for a float64
    ulp = Fraction(2) ** (e - m)
    r = round(a / ulp) * ulp
    if r > Fraction(f.max):
        if saturate or not (f.has_inf or f.has_nan):  # fp6 and fp4 always clamp
            r = Fraction(f.max)
        else:
            return math.copysign(math.inf if f.has_inf else math.nan, x)
    return math.copysign(float(r), x)


def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def all_finite_values(name: str) -> np.ndarray:
    f = tm.FORMATS[name]
    codes = np.arange(2**f.bits, dtype=np.uint32 if f.bits > 16 else np.uint16)
    uint = {1: np.uint8, 2: np.uint16, 4: np.uint32}[f.dtype.itemsize]
    # tf32's 19 bits are the top bits of its float32; ml_dtypes keeps sub-byte codes low
    shift = 8 * f.dtype.itemsize - f.bits if f.dtype == np.float32 else 0
    with np.errstate(invalid="ignore"):
        vals = (codes.astype(uint) << uint(shift)).view(f.dtype).astype(np.float64)
    return np.unique(vals[np.isfinite(vals)])


def values_near_grid(name: str) -> st.SearchStrategy[float]:
    """Representable values, midpoints (ties) and their float64 neighbours."""
    grid = all_finite_values(name)
    mids = (grid[1:] + grid[:-1]) / 2
    base = np.concatenate([grid, mids, [tm.FORMATS[name].max * 1.0625]])
    return st.builds(
        lambda v, k: float(np.nextafter(v, math.inf) if k == 1 else
                           np.nextafter(v, -math.inf) if k == -1 else v),
        st.sampled_from(base.tolist()), st.sampled_from([-1, 0, 1]),
    )


# --- the format table ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TABLE))
def test_float_formats(name):
    e, m, mx, mn, eps = TABLE[name]
    f = tm.FORMATS[name]
    assert (f.exponent_bits, f.mantissa_bits) == (e, m)
    assert 1 + e + m == f.bits == 8 * f.bytes
    assert f.max == pytest.approx(mx, rel=1e-7)
    assert f.min_normal == pytest.approx(mn, rel=1e-7)
    assert f.eps == 2.0**-m == pytest.approx(eps, rel=1e-7)
    # the range follows from the bits: min normal = 2^(1 - bias)
    assert f.min_normal == 2.0 ** (2 - 2 ** (e - 1))


def test_integer_formats():
    assert (tm.FORMATS["int8"].max, tm.FORMATS["int8"].min, tm.FORMATS["int8"].bytes) == (
        127, -128, 1)
    assert (tm.FORMATS["int4"].max, tm.FORMATS["int4"].min, tm.FORMATS["int4"].bytes) == (
        7, -8, 0.5)


def test_e4m3_has_no_inf_and_e5m2_does():
    assert not tm.FORMATS["fp8_e4m3"].has_inf and tm.FORMATS["fp8_e5m2"].has_inf
    assert tm.FORMATS["fp16"].has_inf


def test_real_arithmetic_matches_table():
    fp16 = tm.FORMATS["fp16"].dtype
    with np.errstate(over="ignore"):
        assert np.isinf(np.array(65520.0).astype(fp16))
    assert float(np.array(65504.0).astype(fp16)) == 65504
    bf16 = tm.FORMATS["bf16"].dtype
    assert float(np.array(1 + 2**-8, dtype=np.float32).astype(bf16)) == 1.0
    assert tm.FORMATS["bf16"].dtype == np.dtype(ml_dtypes.bfloat16)


@pytest.mark.parametrize(
    ("name", "bias", "emin", "emax", "sig"),
    [
        ("fp32", 127, -126, 127, 24),
        ("fp16", 15, -14, 15, 11),
        ("bf16", 127, -126, 127, 8),
        ("fp8_e4m3", 7, -6, 8, 4),  # OFP8 v1.0 Table 1: E4M3 bias 7, emax 8, emin -6
        ("fp8_e5m2", 15, -14, 15, 3),  # E5M2 bias 15, emax 15, emin -14
    ],
)
def test_exponent_parameters(name, bias, emin, emax, sig):
    f = tm.FORMATS[name]
    assert (f.bias, f.emin, f.emax, f.significand_bits) == (bias, emin, emax, sig)
    assert f.min_normal == 2.0**f.emin
    assert f.min_subnormal == 2.0 ** (f.emin - f.mantissa_bits)
    assert f.max == (2 - 2.0 ** -f.mantissa_bits * (2 if name == "fp8_e4m3" else 1)) * 2.0**emax


def test_integer_parameters():
    assert tm.FORMATS["int8"].significand_bits == 7 and tm.FORMATS["int8"].bias == 0
    assert F.bit_layout("int4") == (("sign", 1), ("integer", 3))
    assert F.bit_layout("fp8_e5m2") == (("sign", 1), ("exponent", 5), ("mantissa", 2))
    assert all(sum(n for _, n in F.bit_layout(k)) == f.bits for k, f in tm.FORMATS.items())


def test_unknown_format():
    with pytest.raises(ValueError, match="bf16"):
        tm.get_format("fp64")


# --- cast and round_trip -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL_FLOATS)
def test_cast_matches_exact_rounding(name):
    @given(values_near_grid(name), st.booleans())
    def check(x, saturate):
        got = float(np.float64(F.cast(x, name, saturate=saturate)))
        assert same(got, reference_round(x, name, saturate)), (x, got)

    check()


@given(st.floats(-1e39, 1e39, allow_nan=False), st.sampled_from(FLOATS + ["int8", "int4"]))
def test_cast_matches_exact_rounding_anywhere(x, name):
    got = float(np.float64(F.cast(x, name)))
    assert same(got, reference_round(x, name)), (x, got)


def test_double_rounding_of_ml_dtypes_is_avoided():
    # ml_dtypes goes float64 -> float32 -> bf16 and rounds twice: 1 + 2^-8 + 2^-30 -> 1.
    x = 1 + 2**-8 + 2**-30
    assert float(np.float64(x).astype(ml_dtypes.bfloat16)) == 1.0  # the library's pitfall
    assert float(F.cast(x, "bf16")) == 1 + 2**-7
    assert float(F.cast(1 + 2**-4 + 2**-40, "fp8_e4m3")) == 1.125


def test_cast_keeps_the_dtype_and_does_real_arithmetic():
    one, tiny = F.cast(1.0, "bf16"), F.cast(2.0**-8, "bf16")
    assert one.dtype == tm.FORMATS["bf16"].dtype
    assert float(one + tiny) == 1.0  # bf16 swallows 1 + 2^-8
    assert float(F.cast(1.0, "fp16") + F.cast(2.0**-8, "fp16")) == 1 + 2**-8
    arr = F.cast([300.0, 300.0], "fp16")
    with np.errstate(over="ignore"):
        assert np.isinf(float((arr * arr)[0]))  # 90,000 > 65,504


def test_overflow_behaviour():
    with np.errstate(invalid="ignore"):
        assert np.isnan(float(np.float64(F.cast(500.0, "fp8_e4m3"))))
    assert float(F.cast(464.0, "fp8_e4m3")) == 448  # a tie rounds to even: 448
    assert np.isinf(float(F.cast(65520.0, "fp16")))  # fp16 max 65504, rounds up to inf
    assert float(F.cast(65519.0, "fp16")) == 65504
    assert np.isinf(float(F.cast(61440.0, "fp8_e5m2")))
    assert float(F.cast(1e6, "fp8_e5m2", saturate=True)) == 57344
    assert float(F.cast(-1e6, "fp8_e4m3", saturate=True)) == -448
    assert int(F.cast(-9.0, "int4")) == -8 and int(F.cast(200, "int8")) == 127
    assert int(F.cast(2.5, "int8")) == 2 and int(F.cast(3.5, "int8")) == 4


def test_round_trip_published_examples():
    # bf16 holds integers exactly up to 2^8 = 256; fp16 up to 2^11 = 2048.
    assert F.round_trip(257.0, "bf16").stored == 256
    assert F.round_trip(2049.0, "fp16").stored == 2048
    assert F.round_trip(2047.0, "fp16").stored == 2047
    stored, err = F.round_trip(0.1, "fp8_e4m3")
    assert stored == 0.1015625 and err == pytest.approx(0.015625)
    assert F.round_trip(0.0, "fp16") == (0.0, 0.0)
    assert F.round_trip(1e5, "fp16").rel_error == math.inf
    out = F.round_trip(np.array([1.0, 1e-8, 65504.0]), "fp16")
    assert out.stored.tolist() == [1.0, 0.0, 65504.0]
    assert out.rel_error.tolist() == [0.0, 1.0, 0.0]


@given(st.floats(1e-30, 1e30), st.sampled_from(FLOATS))
def test_relative_error_at_most_half_eps_for_normal_numbers(x, name):
    f = tm.FORMATS[name]
    stored, err = F.round_trip(x, name)
    if f.min_normal <= x <= f.max:
        assert err <= f.eps / 2 * (1 + 1e-12)


@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=20), st.sampled_from(FLOATS))
def test_round_trip_scalar_and_array_agree(xs, name):
    arr = F.round_trip(np.array(xs), name)
    for i, x in enumerate(xs):
        one = F.round_trip(x, name)
        assert same(one.stored, arr.stored[i]) and same(one.rel_error, arr.rel_error[i])


# --- spacing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FLOATS)
def test_spacing_at_one_is_eps(name):
    assert F.spacing(1.0, name) == tm.FORMATS[name].eps
    assert F.spacing(0.0, name) == tm.FORMATS[name].min_subnormal


@pytest.mark.parametrize("name", SMALL_FLOATS)
def test_spacing_is_the_gap_to_the_next_value(name):
    grid = all_finite_values(name)
    positive = grid[(grid >= 0) & (grid < tm.FORMATS[name].max)]
    gaps = np.diff(grid[grid >= 0])
    assert np.array_equal(F.spacing(positive, name), gaps[: positive.size])


def test_spacing_integers_and_overflow():
    assert F.spacing(3.2, "int8") == 1.0
    assert math.isnan(F.spacing(1e6, "fp16"))
    assert F.spacing(65504.0, "fp16") == 32


# --- encode and decode ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name", "bits"),
    [
        (1.0, "fp16", "0011110000000000"),
        (0.1, "fp32", format(0x3DCCCCCD, "032b")),  # IEEE 754 single: 0.1 = 0x3DCCCCCD
        (0.1, "fp16", format(0x2E66, "016b")),
        (0.1, "bf16", format(0x3DCD, "016b")),  # the top half of fp32's, rounded
        (65504.0, "fp16", "0111101111111111"),
        (448.0, "fp8_e4m3", "01111110"),  # OFP8 v1.0 Table 2: max normal S.1111.110
        (57344.0, "fp8_e5m2", "01111011"),  # max normal S.11110.11
        (2.0**-9, "fp8_e4m3", "00000001"),  # min subnormal S.0000.001
        (-1.0, "int8", "11111111"),
        (-8.0, "int4", "1000"),
        (5.0, "int4", "0101"),
    ],
)
def test_encode_published_patterns(value, name, bits):
    e = F.encode(value, name)
    assert e.bits == bits
    assert F.decode(bits, name) == e.stored


def test_encode_fields_and_flags():
    e = F.encode(-2.5, "fp16")
    assert e.fields == (("sign", "1"), ("exponent", "10000"), ("mantissa", "0100000000"))
    assert e.bits_text() == "1|10000|0100000000" and e.field("exponent") == "10000"
    assert e.exact and not (e.overflow or e.underflow or e.subnormal)
    sub = F.encode(1e-6, "fp16")
    assert sub.subnormal and sub.field("exponent") == "00000" and not sub.underflow
    assert F.encode(1e-9, "fp16").underflow
    big = F.encode(70000.0, "fp16")
    assert big.overflow and big.stored == math.inf and big.rel_error == math.inf
    sat = F.encode(70000.0, "fp16", saturate=True)
    assert sat.overflow and sat.stored == 65504
    e4 = F.encode(1000.0, "fp8_e4m3")
    assert e4.overflow and math.isnan(e4.stored) and e4.bits == "01111111"
    i8 = F.encode(-3.7, "int8")
    assert i8.stored == -4 and i8.fields[1][0] == "integer" and not i8.overflow
    assert F.encode(300, "int8").overflow and F.encode(0.2, "int8").underflow


@pytest.mark.parametrize("name", SMALL_FLOATS + ["int8", "int4"])
def test_every_bit_pattern_round_trips(name):
    f = tm.FORMATS[name]
    for code in range(0, 2**f.bits, 1 if f.bits <= 8 else 97):
        bits = format(code, f"0{f.bits}b")
        value = F.decode(bits, name)
        if math.isfinite(value):
            assert F.encode(value, name).bits == bits


def test_decode_examples():
    assert F.decode("0 10001 1000000000", "fp16") == 6.0
    assert F.decode("1|10010|0100000000", "fp16") == -10.0
    assert F.decode("0_1111_111", "fp8_e4m3") != F.decode("0_1111_111", "fp8_e4m3")  # NaN
    assert F.decode("0 11111 00", "fp8_e5m2") == math.inf


# --- accumulate ----------------------------------------------------------------------------------


def test_adding_1e4_ten_thousand_times():
    xs = np.full(10_000, 1e-4)
    assert F.accumulate(xs, "fp16")[-1] == 0.25
    assert F.accumulate(xs, "bf16")[-1] == 0.03125
    # fp32: a plain float32 loop, computed independently.
    s = np.float32(0)
    for x in np.float32(xs):
        s = np.float32(s + x)
    assert F.accumulate(xs, "fp32")[-1] == float(s)
    # bf16 inputs, fp32 accumulator: close to 10,000 x bf16(1e-4).
    total = F.accumulate(xs, "bf16", accumulator="fp32")[-1]
    assert total == pytest.approx(1e4 * F.round_trip(1e-4, "bf16").stored, rel=1e-5)


@given(
    st.lists(st.floats(-100, 100), min_size=1, max_size=30),
    st.sampled_from(OVERFLOWING),  # accumulate refuses values beyond fp6's / fp4's max
    st.sampled_from([None, "fp32", "fp16"]),
)
def test_accumulate_matches_an_exact_loop(xs, name, acc):
    out = F.accumulate(xs, name, accumulator=acc)
    acc_name = acc or name
    s = 0.0
    for i, x in enumerate(xs):
        stored = reference_round(x, name)
        s = reference_round(float(Fraction(s) + Fraction(stored)), acc_name) if math.isfinite(
            s) else s
        # (the first sum is x_0 itself, so -0.0 may stay -0.0: compare with ==)
        assert out[i] == s or (math.isnan(out[i]) and math.isnan(s))


def test_accumulate_bad_input():
    with pytest.raises(ValueError, match="fmt"):
        F.accumulate([1.0], "int8")
    with pytest.raises(ValueError, match="values"):
        F.accumulate([[1.0]], "fp16")
    with pytest.raises(ValueError, match="values"):
        F.accumulate([1e6], "fp16")
    with pytest.raises(ValueError, match="format"):
        F.accumulate([1.0], "fp16", accumulator="fp64")


# --- absmax quantisation -------------------------------------------------------------------------


def test_absmax_worked_example():
    # Dettmers et al. 2022 (LLM.int8()), Sec. 2.1: X_i8 = round(127 X / max|X|).
    qz = F.absmax_quantize([0.3, -1.7, 2.54, 0.01])
    assert qz.q.tolist() == [15, -85, 127, 0] and qz.q.dtype == np.int8
    assert qz.scale == pytest.approx(2.54 / 127)
    assert qz.dequantized == pytest.approx(np.array([15, -85, 127, 0]) * 2.54 / 127)
    assert qz.max_abs_error == pytest.approx(0.01)
    assert F.absmax_dequantize(qz.q, qz.scale) == pytest.approx(qz.dequantized)
    four = F.absmax_quantize([0.3, -1.7, 2.54, 0.01], bits=4)
    assert four.q.tolist() == [1, -5, 7, 0]


def test_absmax_per_row_confines_an_outlier():
    x = np.array([[0.01, -0.02, 0.03, 0.02], [0.5, 60.0, -0.4, 0.1]])
    per_tensor = F.absmax_quantize(x)
    per_row = F.absmax_quantize(x, axis=-1)
    assert per_row.scale.shape == (2, 1)
    assert np.all(per_tensor.q[0] == 0)  # the small row is wiped out by the outlier's scale
    assert per_row.q[0].tolist() == [42, -85, 127, 85]
    assert np.abs(per_row.error[0]).max() < np.abs(per_tensor.error[0]).max() / 10


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50),
    st.integers(2, 16),
)
def test_absmax_error_is_at_most_half_a_step(xs, bits):
    qz = F.absmax_quantize(xs, bits=bits)
    qmax = 2 ** (bits - 1) - 1
    assert np.all(np.abs(qz.q.astype(int)) <= qmax)
    assert np.all(np.abs(qz.error) <= qz.scale / 2 * (1 + 1e-9) + 1e-300)
    if max(abs(x) for x in xs) > 0:
        assert np.abs(qz.q.astype(int)).max() == qmax


def test_absmax_all_zeros_and_bad_input():
    qz = F.absmax_quantize(np.zeros(3))
    assert qz.q.tolist() == [0, 0, 0] and qz.scale == 0.0 and qz.max_abs_error == 0.0
    for bad, word in [(1, "bits"), (17, "bits"), (2.5, "bits")]:
        with pytest.raises(ValueError, match=word):
            F.absmax_quantize([1.0], bits=bad)
    with pytest.raises(ValueError, match="axis"):
        F.absmax_quantize([1.0, 2.0], axis=1)
    with pytest.raises(ValueError, match="x"):
        F.absmax_quantize([])
    with pytest.raises(ValueError, match="x must be finite"):
        F.absmax_quantize([1.0, math.inf])
    with pytest.raises(ValueError, match="scale"):
        F.absmax_dequantize([1], -0.5)


# --- scaled casts (fp8, loss scaling) ------------------------------------------------------------


def test_scaled_cast_maps_amax_to_the_format_max():
    x = np.geomspace(1e-9, 1e-2, 8)
    direct = F.round_trip(x, "fp8_e4m3").stored
    assert np.count_nonzero(direct) == 2  # only 1.9e-3 (~2^-9) and 1e-2 survive unscaled
    sc = F.scaled_cast(x, "fp8_e4m3")
    assert sc.scale == pytest.approx(448 / 1e-2)
    assert float(sc.stored[-1]) == 448 and sc.values[-1] == pytest.approx(1e-2)
    assert sc.underflow == 0.25 and sc.overflow == 0.0
    assert np.all(sc.rel_error[sc.values != 0] < 0.13)


def test_loss_scaling_in_fp16():
    grads = np.array([1e-8, 3e-7, 2e-5, 1e-3])
    plain = F.scaled_cast(grads, "fp16", scale=1.0, saturate=False)
    assert plain.underflow == 0.25
    scaled = F.scaled_cast(grads, "fp16", scale=1024.0, saturate=False)
    assert scaled.underflow == 0.0
    # 1e-8 x 1024 is still subnormal in fp16 (coarser); the others are normal numbers.
    assert scaled.rel_error[0] < 2**-9 and np.all(scaled.rel_error[1:] < 2**-11 * 1.01)
    too_much = F.scaled_cast(grads, "fp16", scale=2.0**27, saturate=False)
    assert too_much.overflow == 0.25 and np.isinf(too_much.values[-1])
    assert too_much.rel_error[-1] == math.inf


tensor = st.lists(st.floats(-1e3, 1e3).filter(lambda x: x == 0 or abs(x) > 1e-30),
                  min_size=1, max_size=30)


@given(tensor, st.sampled_from(FLOATS))
def test_scaled_cast_error_bound(xs, name):
    f = tm.FORMATS[name]
    sc = F.scaled_cast(xs, name)
    x = np.asarray(xs)
    normal = np.abs(x * sc.scale) >= f.min_normal
    assert np.all(sc.rel_error[normal] <= f.eps / 2 * (1 + 1e-9))
    assert sc.overflow == 0.0


def test_scaled_cast_bad_input():
    with pytest.raises(ValueError, match="scale"):
        F.scaled_cast([1.0], "fp16", scale=-2)
    with pytest.raises(TypeError, match="scale"):
        F.scaled_cast([1.0], "fp16", scale=[1.0, 2.0])
    with pytest.raises(ValueError, match="fmt"):
        F.scaled_cast([1.0], "int8")
    with pytest.raises(ValueError, match="x"):
        F.scaled_cast([1e-307], "fp8_e4m3")


# --- memory --------------------------------------------------------------------------------------


def test_weight_memory_of_presets():
    n = 8_030_261_248  # Llama-3-8B, reference-figures Sec. 4
    assert F.weight_memory("llama-3-8b", "bf16") == 2 * n
    assert F.weight_memory("llama-3-8b", "int4") == n / 2
    assert F.weight_memory(tm.MODELS["llama-3-8b"], "fp32") == 4 * n
    assert F.weight_memory(7e9, "fp32") == 28e9  # seed 001's 7B example: 28 GB
    assert np.allclose(F.weight_memory(np.array([1e9, 2e9]), "fp8_e4m3"), [1e9, 2e9])
    for name, f in tm.FORMATS.items():
        if f.signed:
            assert F.weight_memory("gpt2", name) == tm.model_memory(124_439_808, name)
        else:  # E8M0 holds block scales, not weights
            with pytest.raises(ValueError, match="scale-only"):
                F.weight_memory("gpt2", name)


def test_weight_memory_bad_input():
    with pytest.raises(ValueError, match="model"):
        F.weight_memory("llama-9", "bf16")
    with pytest.raises(ValueError, match="model"):
        F.weight_memory(-1.0, "bf16")
    with pytest.raises(ValueError, match="format"):
        F.weight_memory("gpt2", "fp64")


# --- validation ----------------------------------------------------------------------------------


def test_parse_number():
    assert F.parse_number(" 1e-8 ") == 1e-8 and F.parse_number("65_504") == 65504
    assert F.parse_number(3) == 3.0
    for bad in ["abc", "", "1,5", "inf", "nan"]:
        with pytest.raises(ValueError, match="value"):
            F.parse_number(bad)
    with pytest.raises(TypeError, match="value"):
        F.parse_number(None)
    with pytest.raises(ValueError, match="weight"):
        F.parse_number("x", name="weight")


@pytest.mark.parametrize(
    ("call", "error", "word"),
    [
        (lambda: F.encode("0.1", "fp16"), TypeError, "value"),
        (lambda: F.encode([1.0, 2.0], "fp16"), TypeError, "value"),
        (lambda: F.encode(math.inf, "fp16"), ValueError, "value"),
        (lambda: F.encode(True, "fp16"), TypeError, "value"),
        (lambda: F.encode(1.0, "fp12"), ValueError, "format"),
        (lambda: F.cast(math.nan, "bf16"), ValueError, "x"),
        (lambda: F.round_trip("x", "bf16"), TypeError, "x"),
        (lambda: F.spacing(1.0, 16), TypeError, "format"),
        (lambda: F.decode("0101", "fp16"), ValueError, "bits"),
        (lambda: F.decode("0" * 15 + "2", "fp16"), ValueError, "bits"),
        (lambda: F.decode(5, "fp16"), TypeError, "bits"),
        (lambda: F.encode(1.0, "fp16").field("exp"), ValueError, "field"),
    ],
)
def test_bad_input_names_the_argument(call, error, word):
    with pytest.raises(error, match=word):
        call()


def test_ml_dtypes_arrays_are_accepted():
    x = np.array([1.0, 2.5], dtype=ml_dtypes.bfloat16)
    assert F.round_trip(x, "fp8_e4m3").stored.tolist() == [1.0, 2.5]
    assert F.encode(x[1], "fp16").stored == 2.5


def test_import_trainmath_does_not_load_ml_dtypes():
    code = "import sys, trainmath; print('ml_dtypes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- today's formats and block-scaled quantisation ---------------------------------------------
# Today's formats (tf32, fp6, fp4, E8M0) and block-scaled quantisation in trainmath.formats.
#
# Published figures: OCP Microscaling Formats (MX) v1.0 (element types, E8M0, Table 1: block 32,
# bits per value), OCP OFP8 v1.0 (E4M3 448, E5M2 57344), NVIDIA's NVFP4 (16-element blocks,
# E4M3 block scale, fp32 tensor scale: arXiv:2509.25149 Sec. 2), DeepSeek-V3 (arXiv:2412.19437
# Sec. 3.3.2: 1x128 and 128x128 tiles, scale = amax / 448). Expected values below are computed
# by hand from those rules; the property tests use independent arithmetic (np.frexp, np.rint).

MX = ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8"]


def _all_values(name):
    """Every finite value of a sub-byte/byte format, from its bit patterns."""
    f = F.get_format(name)
    vals = [F.decode(format(c, f"0{f.bits}b"), name) for c in range(2**f.bits)]
    return sorted({v for v in vals if np.isfinite(v)})


# --- the formats -------------------------------------------------------------------------------


def test_one_table_of_formats():
    # Every format in one table: floats from widest to narrowest, the integers, then E8M0.
    assert list(tm.FORMATS) == ["fp32", "tf32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2",
                                "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "int8", "int4", "e8m0"]
    assert not hasattr(F, "EXTRA_FORMATS") and "EXTRA_FORMATS" not in F.__all__
    with pytest.raises(TypeError):
        tm.FORMATS["mine"] = None
    with pytest.raises(TypeError):
        F.BLOCK_FORMATS["mine"] = None
    assert F.get_format("fp4_e2m1") is tm.FORMATS["fp4_e2m1"]
    # every element and scale format of a block format is in the table
    for bf in F.BLOCK_FORMATS.values():
        assert bf.element in tm.FORMATS and bf.scale in tm.FORMATS
    # sign/exponent/mantissa: E8M0 is 0/8/0, the others 1/e/m
    layouts = {k: (f.sign_bits, f.exponent_bits, f.mantissa_bits) for k, f in tm.FORMATS.items()}
    assert layouts["e8m0"] == (0, 8, 0) and layouts["tf32"] == (1, 8, 10)
    for k, f in tm.FORMATS.items():
        if f.is_float:
            assert dict(F.bit_layout(k)).get("sign", 0) == f.sign_bits
            assert sum(layouts[k]) == f.bits


def test_e2m1_values_ocp_mx():
    # OCP MX v1.0 FP4 E2M1: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives.
    assert [v for v in _all_values("fp4_e2m1") if v >= 0] == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert _all_values("fp4_e2m1") == sorted({-v for v in _all_values("fp4_e2m1")})


@pytest.mark.parametrize("name, bits, e, m, mx, min_normal, min_sub", [
    ("fp6_e2m3", 6, 2, 3, 7.5, 1.0, 0.125),
    ("fp6_e3m2", 6, 3, 2, 28.0, 0.25, 0.0625),
    ("fp4_e2m1", 4, 2, 1, 6.0, 1.0, 0.5),
])
def test_mx_element_types(name, bits, e, m, mx, min_normal, min_sub):
    f = F.get_format(name)
    assert (f.bits, f.exponent_bits, f.mantissa_bits) == (bits, e, m) and f.bytes == bits / 8
    assert (f.max, f.min, f.min_normal, f.min_subnormal) == (mx, -mx, min_normal, min_sub)
    assert not f.has_inf and not f.has_nan and f.signed
    assert max(_all_values(name)) == f.max
    # the ranges come from ml_dtypes, and follow from the bits (no inf/NaN codes: the
    # all-ones exponent holds numbers): max = 2^(2^e - 1 - bias) (2 - 2^-m)
    assert f.max == 2.0 ** (2**e - 1 - f.bias) * (2 - 2.0**-m)
    assert f.max == float(ml_dtypes.finfo(f.dtype).max)


def test_fp8_maxima_ofp8():
    assert F.get_format("fp8_e4m3").max == 448 and F.get_format("fp8_e5m2").max == 57344


def test_e8m0_scale_format():
    f = F.get_format("e8m0")
    assert (f.bits, f.exponent_bits, f.mantissa_bits, f.bias) == (8, 8, 0, 127)
    assert (f.min_normal, f.max, f.emin, f.emax) == (2.0**-127, 2.0**127, -127, 127)
    assert not f.signed and f.has_nan and not f.has_inf
    assert F.bit_layout("e8m0") == (("exponent", 8),)
    assert F.decode("00000000", "e8m0") == 2.0**-127
    assert F.decode("01111111", "e8m0") == 1.0
    assert F.decode("11111110", "e8m0") == 2.0**127
    assert math.isnan(F.decode("11111111", "e8m0"))
    assert F.encode(0.125, "e8m0").bits == format(127 - 3, "08b")


def test_tf32_layout_and_range():
    f = F.get_format("tf32")
    fp32 = tm.FORMATS["fp32"]
    assert (f.bits, f.exponent_bits, f.mantissa_bits, f.bytes) == (19, 8, 10, 4)
    assert f.min_normal == fp32.min_normal and f.eps == 2.0**-10 == tm.FORMATS["fp16"].eps
    assert f.max == (2 - 2.0**-10) * 2.0**127 and f.min_subnormal == 2.0**-136
    assert F.encode(-2.5, "tf32").bits_text() == "1|10000000|0100000000"
    assert F.decode("0 01111111 1000000000", "tf32") == 1.5


def test_tf32_rounds_to_nearest_even():
    # independent: keep 11 significant bits with np.rint (ties to even) on the frexp mantissa
    rng = np.random.default_rng(1)
    x = rng.normal(size=5000) * np.exp2(rng.integers(-60, 60, 5000))
    x32 = x.astype(np.float32).astype(np.float64)
    mant, exp = np.frexp(x32)
    expected = np.ldexp(np.rint(np.ldexp(mant, 11)), exp - 11)
    got = F.cast(x32, "tf32").astype(np.float64)
    np.testing.assert_array_equal(got, expected)
    assert np.all(F.cast(x32, "tf32").view(np.uint32) & 0x1FFF == 0)
    # ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 -> 1 (even); 1 + 3·2^-11 -> 1 + 2^-9
    assert F.cast([1 + 2**-11, 1 + 3 * 2**-11], "tf32").tolist() == [1.0, 1 + 2**-9]
    # one rounding from float64: 1 + 2^-11 + 2^-40 is above the tie
    assert float(F.cast(1 + 2**-11 + 2**-40, "tf32")) == 1 + 2**-10


def test_tf32_overflow_and_accumulate():
    f = F.get_format("tf32")
    assert np.isinf(F.cast(f.max * (1 + 2**-11), "tf32"))  # the tie rounds up to 2^128
    assert float(F.cast(f.max * (1 + 2**-11), "tf32", saturate=True)) == f.max
    # 1 + 2^-12 ten times: lost in a tf32 sum (half a step is 2^-11), kept in fp32
    assert F.accumulate([1.0] + [2**-12] * 10, "tf32")[-1] == 1.0
    assert F.accumulate([1.0] + [2**-12] * 10, "tf32", accumulator="fp32")[-1] == 1 + 10 * 2**-12


def test_fp4_always_clamps_and_reports_overflow():
    # no inf, no NaN: clamping is the only possibility, saturating or not
    assert F.cast([7.0, -100.0], "fp4_e2m1").astype(float).tolist() == [6.0, -6.0]
    e = F.encode(7.0, "fp4_e2m1")  # 7 would round to 8 with an unbounded exponent
    assert e.overflow and e.stored == 6.0 and e.bits_text() == "0|11|1"
    assert not F.encode(6.9, "fp4_e2m1").overflow
    assert F.spacing(6.9, "fp4_e2m1") == 2.0 and math.isnan(F.spacing(7.0, "fp4_e2m1"))
    assert F.scaled_cast([7.0, 1.0], "fp4_e2m1", scale=1.0).overflow == 0.5


def test_scale_format_refused_by_arithmetic():
    for call in (lambda: F.cast(1.0, "e8m0"), lambda: F.round_trip(1.0, "e8m0"),
                 lambda: F.weight_memory(1e9, "e8m0"), lambda: F.spacing(1.0, "e8m0")):
        with pytest.raises(ValueError, match="scale-only"):
            call()
    with pytest.raises(ValueError, match="power of two"):
        F.encode(3.0, "e8m0")
    with pytest.raises(ValueError, match="power of two"):
        F.encode(2.0**128, "e8m0")


def test_unknown_format_lists_all_names():
    with pytest.raises(ValueError, match="fp4_e2m1.*tf32"):
        F.get_format("fp3")


# --- block formats: table, emax, bits ----------------------------------------------------------


def test_emax_elem_ocp_mx():
    got = [F.BLOCK_FORMATS[n].emax_elem for n in MX]
    assert got == [8, 15, 2, 4, 2, 0]
    assert F.BLOCK_FORMATS["mxint8"].element_max == 127 * 2.0**-6 == 1.984375


def test_block_table():
    for name in MX:
        bf = F.BLOCK_FORMATS[name]
        assert bf.name == name and bf.block == (32,) and bf.scale == "e8m0"
        assert not bf.tensor_scale and bf.power_of_two_scale
    nv = F.BLOCK_FORMATS["nvfp4"]
    assert (nv.element, nv.block, nv.scale, nv.tensor_scale) == ("fp4_e2m1", (16,), "fp8_e4m3",
                                                                   True)
    assert F.BLOCK_FORMATS["deepseek_fp8_1x128"].block == (1, 128)
    assert F.BLOCK_FORMATS["deepseek_fp8_128x128"].block_size == 128 * 128


def test_bits_per_value_published():
    # OCP MX v1.0 Table 1 (k = 32, 8-bit E8M0) and NVFP4 (16 per E4M3 scale)
    got = {n: F.bits_per_value(n) for n in ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3",
                                            "mxfp6_e3m2", "mxfp4", "mxint8", "nvfp4")}
    assert got == {"mxfp8_e4m3": 8.25, "mxfp8_e5m2": 8.25, "mxfp6_e2m3": 6.25,
                   "mxfp6_e3m2": 6.25, "mxfp4": 4.25, "mxint8": 8.25, "nvfp4": 4.5}
    assert F.bits_per_value("deepseek_fp8_1x128") == 8 + 32 / 128
    assert F.bits_per_value("nvfp4", tensor_size=64) == 4.5 + 0.5
    assert F.bits_per_value("mxfp4", tensor_size=64) == 4.25  # no tensor scale to spread


def test_bits_per_value_follows_the_block():
    mine = dataclasses.replace(F.BLOCK_FORMATS["mxfp4"], name="mxfp4-16", block=(16,))
    assert F.bits_per_value(mine) == 4 + 8 / 16


# --- MX scale rule on hand-computed blocks -----------------------------------------------------


def test_mx_scale_rule_by_hand():
    # amax 0.3: floor(log2 0.3) = -2, E4M3 emax 8 -> X = 2^-10; 0.3·1024 = 307.2 -> 320
    q = F.block_quantize([0.3, -0.05, 0.01, 0.2], "mxfp8_e4m3")
    assert q.scales.tolist() == [2.0**-10]
    assert q.elements.tolist() == [320, -52, 10, 208]
    assert q.scale_codes.view(np.uint8).tolist() == [127 - 10]
    # MXFP4, amax 5: floor(log2 5) = 2 = emax -> X = 1; 5 is a tie between 4 and 6 -> 4 (even)
    q = F.block_quantize([5.0, -0.6, 0.25, 0.75], "mxfp4")
    assert q.scales.tolist() == [1.0] and q.elements.tolist() == [4.0, -0.5, 0.0, 1.0]
    # E5M2 emax 15: amax 1 -> X = 2^-15
    assert F.block_quantize([1.0, 0.5], "mxfp8_e5m2").scales.tolist() == [2.0**-15]
    # E3M2 emax 4: amax 100 -> floor(log2 100) = 6 -> X = 4; 100/4 = 25 -> 24
    q = F.block_quantize([100.0], "mxfp6_e3m2")
    assert q.scales.tolist() == [4.0] and q.elements.tolist() == [24.0]


def test_mx_saturates_the_block_maximum():
    # amax 7 -> X = 1 (the floor rule), and 7 exceeds E2M1's max 6: clamped, not rounded to 8
    q = F.block_quantize([7.0, -7.0, 1.0], "mxfp4")
    assert q.scales.tolist() == [1.0] and q.dequantized.tolist() == [6.0, -6.0, 1.0]
    # E4M3: amax 31 -> X = 2^-4, 31·16 = 496 > 448 -> 448, i.e. 28
    q = F.block_quantize(np.arange(32.0), "mxfp8_e4m3")
    assert q.scales.tolist() == [2.0**-4] and q.dequantized[-1] == 28.0


def test_mxint8_by_hand():
    # amax 2 -> floor(log2 2) = 1, emax 0 -> X = 2; codes round(P·64), 63.5 -> 64 (even)
    q = F.block_quantize([1.5, -0.75, 1.984375, -2.0], "mxint8")
    assert q.scales.tolist() == [2.0] and q.codes.dtype == np.int8
    assert q.codes.tolist() == [48, -24, 64, -64]
    # symmetric clamp at ±127 (±1.984375): -1.999 · 64 would round to -128
    q = F.block_quantize([-1.999, 1.0], "mxint8")
    assert q.codes.tolist() == [-127, 64] and q.scales.tolist() == [1.0]


@pytest.mark.parametrize("name", MX)
def test_mx_round_trip_exact_for_representable_blocks(name):
    # Blocks whose largest value sits in the element format's top binade, times 2^k: the
    # scale is exactly 2^k and every value comes back unchanged.
    bf = F.BLOCK_FORMATS[name]
    values = np.array(_all_values(bf.element), dtype=float) * bf.element_scale
    values = values[np.abs(values) <= bf.element_max]  # MXINT8 leaves the code -128 unused
    top = values[values >= 2.0**bf.emax_elem]
    rng = np.random.default_rng(7)
    blocks = rng.choice(values, size=(6, 32))
    blocks[:, 5] = rng.choice(top, size=6)
    k = rng.integers(-20, 20, size=(6, 1))
    x = blocks * np.exp2(k)
    q = F.block_quantize(x, name)
    np.testing.assert_array_equal(q.scales, np.exp2(k))
    np.testing.assert_array_equal(q.dequantized, x)


@pytest.mark.parametrize("name", MX + ["nvfp4", "deepseek_fp8_1x128"])
def test_error_bounded_by_half_a_step(name):
    # away from saturation and underflow, each value is within half an element step of x
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 256)) * np.exp2(rng.integers(-8, 8, size=(4, 1)))
    q = F.block_quantize(x, name)
    bf = q.format
    deq = q.dequantized
    # the effective scale of each value: dequantized / element where the element is nonzero
    el = q.elements
    nz = el != 0
    scale = np.where(nz, deq / np.where(nz, el, 1.0), np.nan)
    ulp = F.spacing(np.abs(el[nz]) / bf.element_scale, bf.element) * bf.element_scale
    below_max = np.abs(el[nz]) < bf.element_max
    err = np.abs(deq[nz] - x[nz])
    assert np.all(err[below_max] <= 0.5 * ulp[below_max] * scale[nz][below_max] * (1 + 1e-12))


def test_zero_block_gets_smallest_scale():
    q = F.block_quantize(np.zeros(40), "mxfp4")
    assert q.scales.tolist() == [2.0**-127] * 2
    assert q.scale_codes.view(np.uint8).tolist() == [0, 0]
    assert not np.any(q.dequantized)
    nv = F.block_quantize(np.zeros(16), "nvfp4")
    assert nv.scales.tolist() == [0.0] and nv.tensor_scale == 1.0 and not np.any(nv.dequantized)


def test_tiny_block_clamps_scale_at_2_pow_minus_127():
    q = F.block_quantize([2.0**-140, 2.0**-130], "mxfp8_e4m3")
    assert q.scales.tolist() == [2.0**-127]
    # 2^-130 / 2^-127 = 2^-3 is an E4M3 normal; 2^-140 -> 2^-13 underflows (min 2^-9)
    assert q.dequantized.tolist() == [0.0, 2.0**-130]


def test_nan_and_inf_poison_only_their_block():
    x = np.arange(64.0)
    x[35] = np.nan
    q = F.block_quantize(x, "mxfp8_e4m3")
    assert q.scales[0] == 2.0**-4 and math.isnan(q.scales[1])
    assert q.scale_codes.view(np.uint8).tolist() == [127 - 4, 255]
    assert np.all(np.isnan(q.dequantized[32:])) and np.all(np.isfinite(q.dequantized[:32]))
    assert not np.any(q.codes[32:].astype(float))
    q = F.block_quantize([1.0, -np.inf], "mxfp4")
    assert math.isnan(q.scales[0]) and np.all(np.isnan(q.dequantized))
    # a shared exponent beyond E8M0's 127 (float64 input past fp32's range) is NaN as well
    assert math.isnan(F.block_quantize([2.0**130], "mxfp4").scales[0])


def test_non_finite_refused_by_non_mx_formats():
    for name in ("nvfp4", "deepseek_fp8_1x128"):
        with pytest.raises(ValueError, match="x must be finite"):
            F.block_quantize(np.full((2, 16), np.nan), name)


# --- padding and axes --------------------------------------------------------------------------


def test_padding_with_zeros_and_dropped():
    rng = np.random.default_rng(5)
    x = rng.normal(size=40)
    q = F.block_quantize(x, "mxfp4")
    assert q.codes.shape == (40,) and q.scales.shape == (2,) and q.dequantized.shape == (40,)
    # the short last block behaves as a block of its own 8 values (zeros change no maximum)
    tail = F.block_quantize(x[32:], "mxfp4")
    assert q.scales[1] == tail.scales[0]
    np.testing.assert_array_equal(q.dequantized[32:], tail.dequantized)


def test_axis():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 3))
    along0 = F.block_quantize(x, "mxfp6_e3m2", axis=0)
    along_last = F.block_quantize(x.T, "mxfp6_e3m2")
    assert along0.scales.shape == (2, 3) and along0.axis == 0
    np.testing.assert_array_equal(along0.scales, along_last.scales.T)
    np.testing.assert_array_equal(along0.dequantized, along_last.dequantized.T)
    assert F.block_quantize(x, "mxfp4", axis=-2).axis == 0
    y = rng.normal(size=(2, 3, 64))
    np.testing.assert_array_equal(F.block_quantize(y, "mxfp4").scales.shape, (2, 3, 2))


# --- NVFP4: two-level scale --------------------------------------------------------------------


def test_nvfp4_two_level_scale_by_hand():
    # tensor amax 2688 = 6·448 -> tensor scale 1; block scales amax/6 rounded to E4M3
    x = np.array([2688.0] + [1.0] * 15 + [3.0] + [0.5] * 15 + [1.0] + [0.0] * 15)
    q = F.block_quantize(x, "nvfp4")
    assert q.tensor_scale == 1.0
    # 2688/6 = 448; 3/6 = 0.5; 1/6 = 0.1667 -> E4M3 step 2^-6 in [1/8, 1/4): 11/64 = 0.171875
    assert q.scales.tolist() == [448.0, 0.5, 0.171875]
    # 1/0.171875 = 5.82 -> 6 -> 6·0.171875 = 1.03125; 1/448 -> 0 in E2M1
    assert q.dequantized[[0, 1, 16, 17, 32]].tolist() == [2688.0, 0.0, 3.0, 0.5, 1.03125]


def test_nvfp4_tensor_scale_is_fp32_amax_over_2688():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(8, 64)) * 0.02
    q = F.block_quantize(x, "nvfp4")
    assert q.tensor_scale == float(np.float32(np.abs(x).max() / (6 * 448)))
    assert q.scales.shape == (8, 4)
    assert q.scales.max() == 448.0  # the block with the tensor's maximum uses E4M3's top
    stored = q.scale_codes
    assert stored.dtype == np.dtype(ml_dtypes.float8_e4m3fn)
    np.testing.assert_array_equal(stored.astype(float), q.scales)
    assert np.all(np.abs(q.elements) <= 6)


# --- DeepSeek-V3 tiles -------------------------------------------------------------------------


def test_deepseek_activation_tiles():
    x = np.ones((3, 300))
    x[1, 200] = 3 * 448.0
    q = F.block_quantize(x, "deepseek_fp8_1x128")
    assert q.scales.shape == (3, 3)  # per token per 128 channels (the last tile has 44)
    assert q.scales[1, 1] == 3.0  # amax / 448
    others = np.delete(q.scales.ravel(), 4)
    assert np.all(others == float(np.float32(1 / 448)))  # fp32, not float64
    np.testing.assert_allclose(q.dequantized, x, rtol=2**-4)
    assert q.dequantized[1, 200] == 3 * 448.0


def test_deepseek_weight_blocks():
    rng = np.random.default_rng(9)
    w = rng.normal(size=(300, 200)) * 0.02
    q = F.block_quantize(w, "deepseek_fp8_128x128")
    assert q.scales.shape == (3, 2)
    expected = np.array([[np.abs(w[i:i + 128, j:j + 128]).max() for j in (0, 128)]
                         for i in (0, 128, 256)]) / 448
    np.testing.assert_array_equal(q.scales, expected.astype(np.float32).astype(float))
    assert np.abs(q.elements).max() == 448.0
    assert F.bits_per_value("deepseek_fp8_128x128") == 8 + 32 / 16384


def test_deepseek_tile_needs_two_dims():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.block_quantize(np.ones(256), "deepseek_fp8_1x128")


# --- comparison --------------------------------------------------------------------------------


def test_quantization_error_compares_methods():
    rng = np.random.default_rng(10)
    x = rng.standard_t(3, size=(16, 256)) * 0.02
    x[3, 17] = 8.0  # one outlier
    err = {m: F.quantization_error(x, m) for m in ["int8", "fp8_e4m3", "mxfp8_e4m3", "mxint8",
                                                   "mxfp4", "nvfp4", "deepseek_fp8_1x128"]}
    assert err["int8"].method == "int8"
    # per-tensor int8 loses the small values to the outlier's step; blocks confine it
    assert err["mxint8"].rel_rms < err["int8"].rel_rms / 5
    assert err["nvfp4"].rel_rms < err["mxfp4"].rel_rms
    assert err["mxfp8_e4m3"].bits_per_value == 8.25
    assert err["nvfp4"].bits_per_value == 4.5 + 32 / x.size
    assert err["int8"].bits_per_value == 8 + 32 / x.size
    # the numbers are the library's own functions
    deq = F.block_quantize(x, "mxfp4").dequantized
    assert err["mxfp4"].max_abs_error == np.abs(deq - x).max()
    sc = F.scaled_cast(x, "fp8_e4m3").values
    assert err["fp8_e4m3"].rel_rms == pytest.approx(
        np.sqrt(np.sum((sc - x) ** 2) / np.sum(x**2)), rel=1e-12)


def test_quantization_error_zero_tensor():
    e = F.quantization_error(np.zeros(32), "mxfp4")
    assert (e.rel_rms, e.max_abs_error) == (0.0, 0.0)


# --- stochastic rounding -----------------------------------------------------------------------


@pytest.mark.parametrize("name, x", [
    ("bf16", 1 + 0.3 * 2**-7), ("fp16", -3.3), ("fp8_e4m3", 0.011), ("fp4_e2m1", 2.6),
    ("tf32", 1 + 0.7 * 2**-10), ("fp8_e5m2", 3e-6),  # last: between 0 and a subnormal
])
def test_stochastic_rounding_is_unbiased(name, x):
    n = 200_000
    out = F.stochastic_round(np.full(n, x), name, np.random.default_rng(11)).astype(float)
    lo, hi = min(out), max(out)
    assert set(np.unique(out)) <= {lo, hi} and lo <= x <= hi
    p = (x - lo) / (hi - lo)
    sd = (hi - lo) * math.sqrt(p * (1 - p) / n)  # standard deviation of the mean
    assert abs(out.mean() - x) < 5 * sd
    # the two values are the neighbours: round-to-nearest gives one of them
    assert float(F.cast(x, name)) in (lo, hi)


def test_stochastic_rounding_keeps_representable_values():
    for name in ("bf16", "fp4_e2m1", "fp8_e4m3"):
        bf16_max = tm.FORMATS["bf16"].max
        vals = np.array(_all_values(name) if name != "bf16" else [1.0, -2.5, 0.0, bf16_max])
        out = F.stochastic_round(vals, name, np.random.default_rng(0)).astype(float)
        np.testing.assert_array_equal(out, vals)
    assert float(F.stochastic_round(100.0, "fp4_e2m1", np.random.default_rng(0))) == 6.0


def test_stochastic_rounding_rescues_tiny_updates():
    # bf16 weight 1.0, update 1e-3 < half a step (2^-8): round-to-nearest loses every update
    steps, walkers, u = 200, 4000, 1e-3
    rng = np.random.default_rng(12)
    nearest = np.ones(walkers)
    sr = np.ones(walkers)
    for _ in range(steps):
        nearest = F.cast(nearest + u, "bf16").astype(float)
        sr = F.stochastic_round(sr + u, "bf16", rng).astype(float)
    assert np.all(nearest == 1.0)
    # E[w] = 1 + steps·u exactly; each step adds variance at most step^2/4
    sd = math.sqrt(steps * (2**-7) ** 2 / 4 / walkers)
    assert abs(sr.mean() - (1 + steps * u)) < 5 * sd


def test_stochastic_round_shapes_and_types():
    rng = np.random.default_rng(0)
    out = F.stochastic_round([[1.1, 2.2]], "fp16", rng)
    assert out.shape == (1, 2) and out.dtype == np.float16
    assert isinstance(F.stochastic_round(1.1, "bf16", rng), np.generic)


# --- bad input ---------------------------------------------------------------------------------


def test_unknown_block_format_lists_valid_names():
    with pytest.raises(ValueError, match="unknown block format 'mxfp5'.*mxfp4.*nvfp4"):
        F.block_quantize([1.0], "mxfp5")
    with pytest.raises(TypeError, match="name"):
        F.bits_per_value(32)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"block": 0}, ValueError, "block"),
    ({"block": (1, 2, 3)}, ValueError, "block"),
    ({"block": "32"}, ValueError, "block"),
    ({"element": "e8m0"}, ValueError, "scale-only"),
    ({"element": "fp5"}, ValueError, "valid names"),
    ({"scale": "int8"}, ValueError, "scale must be a floating-point"),
    ({"element_scale": 3.0}, ValueError, "power of two"),
    ({"tensor_scale": 1}, TypeError, "tensor_scale"),
])
def test_bad_block_format(kwargs, err, match):
    with pytest.raises(err, match=match):
        dataclasses.replace(F.BLOCK_FORMATS["mxfp4"], **kwargs)


@pytest.mark.parametrize("x, axis, err, match", [
    ([], -1, ValueError, "at least one"),
    (5.0, -1, ValueError, "at least 1 dimension"),
    ([1.0, 2.0], 1, ValueError, "axis must be in"),
    ([1.0, 2.0], 0.0, TypeError, "axis must be an int"),
    ([1.0, 2.0], True, TypeError, "axis must be an int"),
    (["a"], -1, TypeError, "x must be a number"),
    ([True], -1, TypeError, "x must be"),
    ("1.0", -1, TypeError, "x must be a number"),
])
def test_block_quantize_bad_input(x, axis, err, match):
    with pytest.raises(err, match=match):
        F.block_quantize(x, "mxfp4", axis=axis)


def test_other_bad_input():
    with pytest.raises(TypeError, match=r"q must be .*BlockQuantized \(e.g. tm.formats.block_q"):
        F.block_dequantize(np.ones(3))
    with pytest.raises(ValueError, match="tensor_size must be an integer >= 1"):
        F.bits_per_value("nvfp4", tensor_size=0)
    with pytest.raises(ValueError, match="unknown method 'fp64'; valid names: deepseek"):
        F.quantization_error([1.0], "fp64")
    with pytest.raises(ValueError, match="unknown method 'e8m0'"):
        F.quantization_error([1.0], "e8m0")
    with pytest.raises(TypeError, match="method must be a name"):
        F.quantization_error([1.0], 8)
    with pytest.raises(ValueError, match="x must be finite"):
        F.quantization_error([np.nan], "mxfp4")
    with pytest.raises(ValueError, match="too small"):
        F.block_quantize([1e-45], "nvfp4")
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        F.stochastic_round(1.0, "bf16", 0)
    with pytest.raises(ValueError, match="floating-point"):
        F.stochastic_round(1.0, "int8", rng)
    with pytest.raises(ValueError, match="scale-only"):
        F.stochastic_round(1.0, "e8m0", rng)
    with pytest.raises(ValueError, match="x must be finite"):
        F.stochastic_round(np.inf, "bf16", rng)


# --- representable_values and stochastic_accumulate (lesson 04, today's formats) ---------------


def test_representable_values_published_sets():
    # OCP MX v1.0, FP4 E2M1: ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}; 16 codes, -0 and +0 one value.
    e2m1 = F.representable_values("fp4_e2m1")
    assert e2m1.tolist() == [-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6]
    # fp6: 64 codes, no inf/NaN, one zero -> 63 values; max 7.5 (E2M3) and 28 (E3M2)
    for name, top, step_at_1 in [("fp6_e2m3", 7.5, 0.125), ("fp6_e3m2", 28.0, 0.25)]:
        vals = F.representable_values(name)
        assert vals.size == 63 and vals.max() == top and vals.min() == -top
        assert vals[np.searchsorted(vals, 1.0) + 1] - 1.0 == step_at_1  # eps = 2^-m
    # E8M0: the 255 powers of two 2^-127..2^127 (code 0xFF is NaN)
    e8m0 = F.representable_values("e8m0")
    assert e8m0.tolist() == [2.0**k for k in range(-127, 128)]
    assert F.representable_values("int4").tolist() == list(range(-8, 8))
    assert F.representable_values("int8").size == 256


@pytest.mark.parametrize("name, count", [
    ("fp8_e4m3", 256 - 2 - 1),  # two NaN codes (S.1111.111), one duplicate zero
    ("fp8_e5m2", 256 - 2 * 4 - 1),  # exponent 11111: ±inf and 3 NaN codes each sign
    ("fp16", 2**16 - 2 * 2**10 - 1),
    ("bf16", 2**16 - 2 * 2**7 - 1),
])
def test_representable_values_match_every_code(name, count):
    vals = F.representable_values(name)
    assert vals.size == count
    assert np.array_equal(vals, np.unique(all_finite_values(name) + 0.0))
    # every listed value is stored exactly, and the list is sorted without repeats
    assert np.array_equal(F.round_trip(vals, name).stored, vals)
    assert np.all(np.diff(vals) > 0)


def test_representable_values_refuses_wide_formats():
    for name in ("fp32", "tf32"):
        with pytest.raises(ValueError, match=rf"{name}.*too many to list.*fp4_e2m1"):
            F.representable_values(name)
    with pytest.raises(ValueError, match="valid names"):
        F.representable_values("fp5")


def test_stochastic_accumulate_rescues_updates_round_to_nearest_loses():
    # A bf16 weight of 1 with 1000 updates of 1e-4 (below half of bf16's 2^-7 gap at 1):
    # round-to-nearest never moves, stochastic rounding reaches 1 + 1000 x (1e-4 in fp32)
    # on average (Zamirai et al. 2020: nearest rounding cancels small updates).
    values = np.r_[1.0, np.full(1000, 1e-4)]
    nearest = F.accumulate(values, "fp32", accumulator="bf16")
    assert nearest[-1] == 1.0
    runs = F.stochastic_accumulate(values, "fp32", np.random.default_rng(1),
                                   accumulator="bf16", runs=2000)
    assert runs.shape == (2000, 1001)
    exact = 1.0 + 1000 * float(F.cast(1e-4, "fp32"))
    # each step adds at most one gap (2^-7) of rounding noise with mean zero: the spread of
    # the final value is at most 2^-7 · sqrt(1000 · 1/4); the mean of 2000 runs is within 5 sd
    sd = 2.0**-7 * math.sqrt(1000 / 4)
    assert abs(runs[:, -1].mean() - exact) < 5 * sd / math.sqrt(2000)
    # every stored sum is a bf16 number
    sample = runs[:5].ravel()
    assert np.array_equal(F.round_trip(sample, "bf16").stored, sample)


BF16_GRID = all_finite_values("bf16")


@given(st.floats(-100, 100), st.floats(-1, 1), st.integers(0, 2**32 - 1))
def test_stochastic_accumulate_steps_to_a_neighbour(start, step, seed):
    # Each new sum is one of the two bf16 numbers around (previous sum + value): the
    # largest at or below it and the smallest at or above it (from the list of all codes).
    values = [start, step, step]
    out = F.stochastic_accumulate(values, "bf16", np.random.default_rng(seed))
    prev = 0.0
    for x, s in zip(F.round_trip(values, "bf16").stored, out, strict=True):
        y = prev + x
        down = BF16_GRID[np.searchsorted(BF16_GRID, y, side="right") - 1]
        up = BF16_GRID[np.searchsorted(BF16_GRID, y, side="left")]
        assert s in (down, up), (prev, x, s)
        prev = s


def test_stochastic_accumulate_exact_sums_are_deterministic():
    # Sums that every format holds exactly are never rounded: the same as accumulate.
    values = [0.5, 0.25, 1.0, -0.75, 2.0]
    for seed in range(3):
        got = F.stochastic_accumulate(values, "fp8_e4m3", np.random.default_rng(seed))
        assert got.tolist() == F.accumulate(values, "fp8_e4m3").tolist() == [
            0.5, 0.75, 1.75, 1.0, 3.0]
    one = F.stochastic_accumulate([1.0, 2.0], "bf16", np.random.default_rng(0), runs=1)
    assert one.shape == (2,)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"values": [[1.0, 2.0]]}, ValueError, "1-D"),
    ({"values": []}, ValueError, "1-D"),
    ({"values": [1e6]}, ValueError, "fit in fp16"),
    ({"fmt": "int8"}, ValueError, "floating-point"),
    ({"accumulator": "e8m0"}, ValueError, "scale-only"),
    ({"runs": 0}, ValueError, "runs must be an integer >= 1"),
    ({"runs": 2.5}, ValueError, "runs"),
    ({"rng": 0}, TypeError, "rng must be a numpy.random.Generator"),
])
def test_stochastic_accumulate_bad_input(kwargs, err, match):
    args = {"values": [1.0, 2.0], "fmt": "fp16", "rng": np.random.default_rng(0), **kwargs}
    rng = args.pop("rng")
    with pytest.raises(err, match=match):
        F.stochastic_accumulate(args.pop("values"), args.pop("fmt"), rng, **args)


# --- block_example: one block holding a chosen value (the calculator's block view) -------------


@pytest.mark.parametrize("name", sorted(F.BLOCK_FORMATS))
def test_block_example_is_block_quantize_of_that_block(name):
    bf = F.BLOCK_FORMATS[name]
    ex = F.block_example(-3.7, name, seed=5)
    block = np.random.default_rng(5).standard_normal(bf.block)
    block.flat[0] = -3.7
    q = F.block_quantize(block, name)
    assert ex.values.shape == bf.block and np.array_equal(ex.values, block)
    assert np.array_equal(ex.dequantized, q.dequantized)
    assert ex.stored == q.dequantized.flat[0]
    assert ex.rel_error == pytest.approx(abs(ex.stored + 3.7) / 3.7, rel=1e-12)
    assert ex.block_scale == q.scales.flat[0] and ex.tensor_scale == q.tensor_scale
    assert ex.step == ex.block_scale * (q.tensor_scale or 1.0)
    assert ex.bits_per_value == F.bits_per_value(name)
    others = np.delete(block.ravel(), 0)
    deq = np.delete(q.dequantized.ravel(), 0)
    assert ex.others_rel_rms == pytest.approx(
        math.sqrt(np.sum((deq - others) ** 2) / np.sum(others**2)), rel=1e-12)
    assert ex.others_flushed == np.mean(deq == 0)


def test_block_example_outlier_in_mxfp4_by_hand():
    # MX rule (OCP MX v1.0): X = 2^(floor(log2 60) - 2) = 2^3; 60 / 8 = 7.5 clamps to E2M1's
    # 6, so 60 comes back as 48; the other values flush to zero below X/4 = 2 in magnitude.
    ex = F.block_example(60.0, "mxfp4")
    others = np.random.default_rng(0).standard_normal(32)[1:]
    assert (ex.block_scale, ex.step, ex.stored) == (8.0, 8.0, 48.0)
    assert ex.rel_error == pytest.approx(0.2)
    assert ex.others_flushed == np.mean(np.abs(others) < 2)
    # without the outlier the block keeps most values
    assert F.block_example(0.5, "mxfp4").others_flushed < ex.others_flushed
    # fp8 elements have the range to keep them all
    assert F.block_example(60.0, "mxfp8_e4m3").others_flushed == 0.0


def test_block_example_edges():
    zero = F.block_example(0.0, "nvfp4")
    assert zero.stored == 0.0 and zero.rel_error == 0.0
    # NVFP4: the block is the whole tensor, so its amax sets the fp32 tensor scale
    assert zero.tensor_scale == float(np.float32(np.abs(zero.values).max() / (6 * 448)))
    # an MX shared exponent beyond E8M0's 2^127 makes a NaN scale: the block is NaN
    huge = F.block_example(1e300, "mxfp4")
    assert math.isnan(huge.block_scale) and math.isnan(huge.stored)
    assert huge.rel_error == math.inf and huge.others_rel_rms == math.inf
    tile = F.block_example(1.0, "deepseek_fp8_128x128")
    assert tile.values.shape == (128, 128) and tile.bits_per_value == 8 + 32 / 128**2


@pytest.mark.parametrize("kwargs, err, match", [
    ({"value": [1.0, 2.0]}, TypeError, "value must be a single number"),
    ({"value": np.nan}, ValueError, "value must be finite"),
    ({"value": "1"}, TypeError, "value"),
    ({"fmt": "mxfp5"}, ValueError, "unknown block format"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, ValueError, "seed"),
])
def test_block_example_bad_input(kwargs, err, match):
    args = {"value": 1.0, "fmt": "mxfp4", **kwargs}
    with pytest.raises(err, match=match):
        F.block_example(args.pop("value"), args.pop("fmt"), **args)


@pytest.mark.parametrize("name", sorted(F.BLOCK_FORMATS))
def test_weight_memory_of_a_block_format_counts_its_scales(name):
    n = tm.param_count(tm.MODELS["llama-2-70b"])
    bf = F.get_block_format(name)
    assert F.weight_memory("llama-2-70b", name) == n * F.bits_per_value(name) / 8
    assert F.weight_memory(n, bf) == F.weight_memory("llama-2-70b", name)
