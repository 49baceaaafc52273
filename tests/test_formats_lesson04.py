"""Lesson 04 functions of trainmath.formats: casting, bits, accumulation, quantisation.

The rounding is checked against an independent exact implementation (Python fractions,
round half to even) built from the format's bit counts alone, and the bit patterns
against published encodings (IEEE 754-2019, OCP OFP8 v1.0).
"""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainmath as tm

F = tm.formats
FLOATS = [name for name, f in tm.FORMATS.items() if f.is_float]
SMALL_FLOATS = [name for name in FLOATS if name != "fp32"]
settings.register_profile("lesson04", max_examples=80, deadline=None)
settings.load_profile("lesson04")


# --- an independent reference -----------------------------------------------------------------


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
        if saturate:
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
    uint = {1: np.uint8, 2: np.uint16}[f.dtype.itemsize]
    with np.errstate(invalid="ignore"):
        vals = codes.astype(uint).view(f.dtype).astype(np.float64)
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


# --- the format table ---------------------------------------------------------------------------


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


# --- cast and round_trip ------------------------------------------------------------------------


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


# --- spacing ------------------------------------------------------------------------------------


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


# --- encode and decode --------------------------------------------------------------------------


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


# --- accumulate ---------------------------------------------------------------------------------


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
    st.sampled_from(SMALL_FLOATS),
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


# --- absmax quantisation ------------------------------------------------------------------------


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


# --- scaled casts (fp8, loss scaling) -------------------------------------------------------------


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


# --- memory -------------------------------------------------------------------------------------


def test_weight_memory_of_presets():
    n = 8_030_261_248  # Llama-3-8B, reference-figures Sec. 4
    assert F.weight_memory("llama-3-8b", "bf16") == 2 * n
    assert F.weight_memory("llama-3-8b", "int4") == n / 2
    assert F.weight_memory(tm.MODELS["llama-3-8b"], "fp32") == 4 * n
    assert F.weight_memory(7e9, "fp32") == 28e9  # seed 001's 7B example: 28 GB
    assert np.allclose(F.weight_memory(np.array([1e9, 2e9]), "fp8_e4m3"), [1e9, 2e9])
    for name in tm.FORMATS:
        assert F.weight_memory("gpt2", name) == tm.model_memory(124_439_808, name)


def test_weight_memory_bad_input():
    with pytest.raises(ValueError, match="model"):
        F.weight_memory("llama-9", "bf16")
    with pytest.raises(ValueError, match="model"):
        F.weight_memory(-1.0, "bf16")
    with pytest.raises(ValueError, match="format"):
        F.weight_memory("gpt2", "fp64")


# --- validation ---------------------------------------------------------------------------------


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
