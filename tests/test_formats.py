"""Number formats come from ml_dtypes and match the IEEE/OCP definitions."""

import ml_dtypes
import numpy as np
import pytest

import trainmath as tm

# reference-figures Sec. 12: (sign/exp/mantissa, max, min normal, eps).
TABLE = {
    "fp32": (8, 23, 3.4028235e38, 1.1754944e-38, 1.1920929e-07),
    "fp16": (5, 10, 65504, 6.1035156e-05, 0.0009765625),
    "bf16": (8, 7, 3.3895314e38, 1.1754944e-38, 0.0078125),
    "fp8_e4m3": (4, 3, 448, 0.015625, 0.125),
    "fp8_e5m2": (5, 2, 57344, 6.1035156e-05, 0.25),
}


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


def test_dtype_bytes_agree_with_formats():
    for name, f in tm.FORMATS.items():
        assert tm.bytes_per_param(name) == f.bytes


def test_unknown_format():
    with pytest.raises(ValueError, match="bf16"):
        tm.get_format("fp64")
