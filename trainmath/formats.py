"""Number formats used in training: bits, range and precision, read from ml_dtypes.

Floating-point formats store sign, exponent and mantissa bits. The exponent bits set
the range (largest finite value, smallest normal value); the mantissa bits set the
precision: ``eps = 2^-mantissa_bits`` is the gap between 1 and the next number.
Integers (int8, int4) have a fixed step of 1 and rely on a scale factor.

A normal float with sign bit ``s``, stored exponent ``E`` (neither all zeros nor, except in
E4M3, all ones: those encode subnormals and inf/NaN) and mantissa
``M`` (an ``m``-bit integer) is ``(-1)^s · 2^(E - bias) · (1 + M / 2^m)`` with
``bias = 2^(e-1) - 1``; a subnormal (``E = 0``) is ``(-1)^s · 2^(1 - bias) · (M / 2^m)``
(IEEE 754-2019, Sec. 3.4; OCP 8-bit Floating Point Specification (OFP8) v1.0, 2023,
Tables 1 and 2, for the fp8 formats).

Besides the format table this module has the real arithmetic lesson 04 uses:
:func:`cast` (correctly rounded conversion), :func:`round_trip`, :func:`spacing`,
:func:`encode` / :func:`decode` (bit strings), :func:`accumulate` (a running sum kept in
a low-precision format), :func:`absmax_quantize` (int8/int4 with a scale) and
:func:`scaled_cast` (per-tensor scaling into fp8 or fp16, as fp8 training and loss
scaling do), plus :func:`weight_memory`.

The table :data:`FORMATS` holds every format: fp32, tf32 (emulated), fp16, bf16, the two
fp8s, fp6 E2M3 and E3M2, fp4 E2M1, int8, int4 and the E8M0 scale format. The block-scaled
formats built from them are in :data:`BLOCK_FORMATS` (MXFP8, MXFP6, MXFP4, MXINT8 from the OCP
Microscaling spec, NVIDIA's NVFP4, DeepSeek-V3's 1x128 / 128x128 fp8 tiles), quantised and
dequantised for real by :func:`block_quantize` / :func:`block_dequantize`, with their storage
cost from :func:`bits_per_value`; :func:`quantization_error` compares them with per-tensor
fp8 and int8 on the same tensor, and :func:`stochastic_round` is the unbiased rounding that
lets 16-bit weights take updates smaller than half their spacing.

This module imports ml_dtypes; ``import trainmath`` loads it lazily on first use of
:data:`FORMATS` or ``tm.formats``.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import ml_dtypes
import numpy as np

from trainmath import _validate as v
from trainmath.models import ModelConfig, get_model, param_count

__all__ = [
    "NumberFormat",
    "FORMATS",
    "get_format",
    "parse_number",
    "bit_layout",
    "cast",
    "RoundTrip",
    "round_trip",
    "spacing",
    "Encoding",
    "encode",
    "decode",
    "accumulate",
    "Quantized",
    "absmax_quantize",
    "absmax_dequantize",
    "ScaledCast",
    "scaled_cast",
    "weight_memory",
    "BlockFormat",
    "BLOCK_FORMATS",
    "get_block_format",
    "BlockQuantized",
    "block_quantize",
    "block_dequantize",
    "bits_per_value",
    "QuantizationError",
    "quantization_error",
    "stochastic_round",
    "representable_values",
    "stochastic_accumulate",
    "BlockExample",
    "block_example",
]


@dataclass(frozen=True)
class NumberFormat:
    """One storage format.

    Attributes
    ----------
    name : str
    dtype : numpy.dtype
        The numpy (or ml_dtypes) dtype that does real arithmetic in this format.
    bits, bytes : storage size (int4 is 0.5 bytes when packed two per byte).
    max, min : largest and most negative finite value.
    is_float : bool
    exponent_bits, mantissa_bits : float layout (0 for integers).
    min_normal, min_subnormal, eps : float range and precision (0 for integers).
    has_inf : whether the format can represent infinity (fp8 E4M3 "fn" cannot).
    description : str
    has_nan : whether the format has a NaN encoding (fp6 and fp4 have neither NaN nor inf).
    signed : whether the format has a sign bit (E8M0, a scale format, has none).
    """

    name: str
    dtype: np.dtype
    bits: int
    bytes: float
    max: float
    min: float
    is_float: bool
    exponent_bits: int = 0
    mantissa_bits: int = 0
    min_normal: float = 0.0
    min_subnormal: float = 0.0
    eps: float = 0.0
    has_inf: bool = False
    description: str = ""
    has_nan: bool = False
    signed: bool = True

    @property
    def sign_bits(self) -> int:
        """Sign bits: 1, or 0 for E8M0 (a scale format, no sign); ``sign/exponent/mantissa``
        is ``f"{f.sign_bits}/{f.exponent_bits}/{f.mantissa_bits}"`` (E8M0: 0/8/0)."""
        return 1 if self.signed else 0

    @property
    def bias(self) -> int:
        """Exponent bias ``2^(e-1) - 1`` (fp32 127, fp16 15, E4M3 7); 0 for integers."""
        return 2 ** (self.exponent_bits - 1) - 1 if self.is_float else 0

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number, ``1 - bias`` (fp16 -14); 0 for integers.

        E8M0 has no subnormals (its all-zeros exponent is ``2^-127``, not a subnormal), so
        its ``emin`` is ``-bias = -127`` (OCP MX v1.0, E8M0 scale format).
        """
        return int(np.frexp(self.min_normal)[1]) - 1 if self.is_float else 0

    @property
    def emax(self) -> int:
        """Exponent of the largest finite number (fp16 15, E4M3 8); 0 for integers.

        E4M3 ("fn") reaches one binade above ``bias`` because it gives the all-ones
        exponent to normal numbers (OFP8 v1.0, Table 2).
        """
        return int(np.frexp(self.max)[1]) - 1 if self.is_float else 0

    @property
    def significand_bits(self) -> int:
        """Bits of precision: mantissa bits plus the implicit leading 1 (fp16 11, bf16 8).

        For integers, the value bits besides the sign (int8: 7).
        """
        return self.mantissa_bits + 1 if self.is_float else self.bits - 1


def _float(name: str, dtype, description: str) -> NumberFormat:
    dtype = np.dtype(dtype)
    fi = ml_dtypes.finfo(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        has_inf = bool(np.isinf(np.array(np.inf).astype(dtype)))
        has_nan = bool(np.isnan(np.array(np.nan).astype(dtype)))
    return NumberFormat(
        name=name, dtype=dtype, bits=int(fi.bits), bytes=fi.bits / 8, max=float(fi.max),
        min=float(fi.min), is_float=True, exponent_bits=int(fi.nexp),
        mantissa_bits=int(fi.nmant), min_normal=float(fi.smallest_normal),
        min_subnormal=float(fi.smallest_subnormal), eps=float(fi.eps), has_inf=has_inf,
        description=description, has_nan=has_nan, signed=bool(fi.min < 0),
    )


def _float32_narrowed(name: str, mantissa_bits: int, description: str) -> NumberFormat:
    """A format with fp32's sign and exponent and fewer mantissa bits, held in a float32.

    No numpy or ml_dtypes type exists for it: :func:`cast` rounds the float32 mantissa to
    ``mantissa_bits`` (nearest, ties to even). Range and precision follow from fp32's
    ``finfo`` and the shorter mantissa.
    """
    fi = ml_dtypes.finfo(np.float32)
    m = mantissa_bits
    return NumberFormat(
        name=name, dtype=np.dtype(np.float32), bits=1 + int(fi.nexp) + m, bytes=fi.bits / 8,
        max=float(np.ldexp(2.0 - 2.0**-m, int(fi.maxexp) - 1)),
        min=-float(np.ldexp(2.0 - 2.0**-m, int(fi.maxexp) - 1)), is_float=True,
        exponent_bits=int(fi.nexp), mantissa_bits=m, min_normal=float(fi.smallest_normal),
        min_subnormal=float(np.ldexp(float(fi.smallest_normal), -m)), eps=2.0**-m,
        has_inf=True, description=description, has_nan=True,
    )


def _int(name: str, dtype, description: str) -> NumberFormat:
    dtype = np.dtype(dtype)
    ii = ml_dtypes.iinfo(dtype)
    return NumberFormat(
        name=name, dtype=dtype, bits=int(ii.bits), bytes=ii.bits / 8, max=float(ii.max),
        min=float(ii.min), is_float=False, description=description,
    )


def _narrowed_bits(f: NumberFormat) -> int:
    """Low mantissa bits a float32-held format drops (tf32: 13); 0 for a real dtype."""
    if f.is_float and f.dtype == np.float32:
        return 8 * f.dtype.itemsize - f.bits
    return 0


#: Every number format of the course, in one table: the floats from widest to narrowest
#: (within a width, the one with more mantissa bits first: fp16 before bf16, E4M3 before
#: E5M2, E2M3 before E3M2), then the integers, then E8M0, the one format that holds no
#: weights, only the power-of-two scales of the MX block formats.
#:
#: tf32 is NVIDIA's tensor-core input format (A100 whitepaper, 2020: 1 sign, 8 exponent,
#: 10 mantissa bits, fp32's range) and has no numpy type: it is held in a float32 whose
#: mantissa :func:`cast` rounds to 10 bits, nearest, ties to even (PTX's
#: ``cvt.rna.tf32.f32`` rounds ties away from zero instead: an exact tie can differ by one
#: tf32 step); it occupies 4 bytes, as in registers and memory. fp6 E2M3 / E3M2 and fp4
#: E2M1 are the OCP Microscaling (MX) v1.0 element types (no inf, no NaN; max 7.5, 28 and
#: 6), E8M0 its scale type (8 exponent bits, no sign, no mantissa: ``2^-127`` to ``2^127``
#: and one NaN code, 0xFF). All but tf32 are numpy or ml_dtypes types, whose ``finfo`` /
#: ``iinfo`` give the ranges. E8M0 is a scale-only format (``signed`` is False):
#: :func:`bit_layout`, :func:`encode` (powers of two) and :func:`decode` take it, the
#: arithmetic functions (:func:`cast`, :func:`weight_memory`, ...) do not.
FORMATS: Mapping[str, NumberFormat] = MappingProxyType({
    "fp32": _float("fp32", np.float32, "IEEE 754 binary32, single precision"),
    "tf32": _float32_narrowed(
        "tf32", 10, "NVIDIA TensorFloat-32: fp32's range, fp16's 10 mantissa bits (emulated)"
    ),
    "fp16": _float("fp16", np.float16, "IEEE 754 binary16, half precision"),
    "bf16": _float("bf16", ml_dtypes.bfloat16, "bfloat16: fp32's range, 8 bits of precision"),
    "fp8_e4m3": _float(
        "fp8_e4m3", ml_dtypes.float8_e4m3fn, "OCP FP8 E4M3 ('fn': no inf, one NaN pattern)"
    ),
    "fp8_e5m2": _float("fp8_e5m2", ml_dtypes.float8_e5m2, "OCP FP8 E5M2 (IEEE-like, has inf)"),
    "fp6_e2m3": _float(
        "fp6_e2m3", ml_dtypes.float6_e2m3fn, "OCP MX FP6 E2M3 (no inf, no NaN; max 7.5)"
    ),
    "fp6_e3m2": _float(
        "fp6_e3m2", ml_dtypes.float6_e3m2fn, "OCP MX FP6 E3M2 (no inf, no NaN; max 28)"
    ),
    "fp4_e2m1": _float(
        "fp4_e2m1", ml_dtypes.float4_e2m1fn, "OCP MX FP4 E2M1 (no inf, no NaN; max 6)"
    ),
    "int8": _int("int8", np.int8, "two's-complement 8-bit integer"),
    "int4": _int("int4", ml_dtypes.int4, "two's-complement 4-bit integer (two per byte)"),
    "e8m0": _float(
        "e8m0", ml_dtypes.float8_e8m0fnu,
        "OCP MX E8M0 scale: powers of two 2^-127..2^127 and NaN; no sign, no mantissa",
    ),
})


def get_format(name: str) -> NumberFormat:
    """A format of :data:`FORMATS` by name.

    The error message lists the valid names.
    """
    return v.lookup("format", name, FORMATS)


# --- argument checking ---------------------------------------------------------------------


def _format(
    fmt: str | NumberFormat, *, floats_only: bool = False, scale_ok: bool = False
) -> NumberFormat:
    """``fmt`` as a NumberFormat; E8M0 (no sign: a scale format) only with ``scale_ok``."""
    f = fmt if isinstance(fmt, NumberFormat) else get_format(fmt)
    if not scale_ok and not f.signed:
        raise ValueError(
            f"fmt {f.name!r} is a scale-only format (powers of two, no sign); it holds the "
            "block scales of block_quantize, and only bit_layout, encode and decode take it"
        )
    if floats_only and not f.is_float:
        floats = ", ".join(n for n, g in FORMATS.items() if g.is_float and g.signed)
        raise ValueError(f"fmt must be a floating-point format ({floats}), got {f.name!r}")
    return f


def _real(name: str, x: Any) -> np.ndarray:
    """``x`` as a float64 array (0-d for a scalar); finite real numbers only.

    Arrays and scalars of the ml_dtypes types (bf16, fp8, int4) are accepted too.
    """
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "V":
        x = np.asarray(x, dtype=np.float64)
    return np.asarray(v._as_numeric(name, x), dtype=np.float64)


def parse_number(text: Any, name: str = "value") -> float:
    """A number typed by a learner (``"0.1"``, ``"65504"``, ``"1e-8"``) as a float.

    Parameters
    ----------
    text : str or real number
        Python's ``float()`` syntax; surrounding spaces and ``_`` digit separators are
        fine.
    name : str
        The argument name used in error messages.

    Raises
    ------
    ValueError
        If ``text`` is not a finite number; the message names ``name``.
    """
    if isinstance(text, str):
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError(
                f"{name} must be a number such as 0.1, -65504 or 1e-8, got {text!r}"
            ) from None
    elif isinstance(text, numbers.Real) and not isinstance(text, bool):
        value = float(text)
    else:
        raise TypeError(f"{name} must be a number or a str, got {type(text).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {text!r}")
    return value


# --- layout and conversion -----------------------------------------------------------------


def bit_layout(fmt: str | NumberFormat) -> tuple[tuple[str, int], ...]:
    """The bit fields of a format, most significant first, as ``(name, n_bits)``.

    Floats: ``sign``, ``exponent``, ``mantissa`` (fp32 1/8/23, fp16 1/5/10, bf16 1/8/7,
    E4M3 1/4/3, E5M2 1/5/2; IEEE 754-2019 Table 3.5, OFP8 v1.0 Table 1; tf32 1/8/10, fp6
    1/2/3 and 1/3/2, fp4 1/2/1, OCP MX v1.0 element types). E8M0, the MX scale format, is
    ``exponent`` alone (8 bits). Integers: ``sign`` and ``integer`` (two's complement: the
    sign bit weighs ``-2^(n-1)``).
    """
    f = _format(fmt, scale_ok=True)
    if not f.signed:
        return (("exponent", f.exponent_bits),)
    if f.is_float:
        return (("sign", 1), ("exponent", f.exponent_bits), ("mantissa", f.mantissa_bits))
    return (("sign", 1), ("integer", f.bits - 1))


def _to_float32_round_to_odd(x: np.ndarray) -> np.ndarray:
    """float64 -> float32 with round-to-odd (truncate, then set the last bit if inexact).

    Rounding to odd into a format with at least two more bits than the target, then to
    nearest-even into the target, gives the correctly rounded target value (Boldo &
    Melquiond 2008, "Emulation of FMA and correctly rounded sums", Thm. 5). A plain
    float64 -> float32 -> bf16 double rounding does not: 1 + 2^-8 + 2^-30 would become 1.
    """
    with np.errstate(over="ignore"):
        nearest = x.astype(np.float32)
    back = nearest.astype(np.float64)
    inexact = back != x
    away = inexact & (np.abs(back) > np.abs(x))
    bits = nearest.view(np.uint32)
    # The bit pattern of a float is sign-magnitude: minus one step is one ulp towards zero
    # (and turns +-inf into +-max).
    bits = np.where(away, bits - np.uint32(1), bits)
    bits = np.where(inexact, bits | np.uint32(1), bits).astype(np.uint32)
    return bits.view(np.float32)


def _round_float32_mantissa(x32: np.ndarray, drop: int) -> np.ndarray:
    """float32 values rounded to ``23 - drop`` mantissa bits, nearest, ties to even.

    Integer arithmetic on the bit pattern: add half a step (minus one unless the kept last
    bit is odd, which makes ties go to even), then clear the dropped bits. A carry into
    the exponent is the correct rounding up to the next binade, and into the all-ones
    exponent an overflow to infinity.
    """
    bits = np.array(x32, dtype=np.float32).view(np.uint32).astype(np.uint64)
    finite = np.isfinite(x32)
    half = np.uint64(1 << (drop - 1))
    odd = (bits >> np.uint64(drop)) & np.uint64(1)
    rounded = (bits + half - np.uint64(1) + odd) & ~np.uint64((1 << drop) - 1)
    rounded = np.where(finite, rounded, bits).astype(np.uint32)
    return rounded.view(np.float32)


def _cast(x: np.ndarray, f: NumberFormat, saturate: bool) -> np.ndarray:
    """Core of :func:`cast` on a validated float64 array."""
    if not f.is_float:
        return np.clip(np.rint(x), f.min, f.max).astype(f.dtype)
    if saturate or not (f.has_inf or f.has_nan):
        x = np.clip(x, -f.max, f.max)
    with np.errstate(over="ignore"):
        if f.dtype == np.float32:
            drop = _narrowed_bits(f)
            if drop:
                return _round_float32_mantissa(_to_float32_round_to_odd(x), drop)
            return x.astype(np.float32)
        return _to_float32_round_to_odd(x).astype(f.dtype)


def _overflows(x: np.ndarray, f: NumberFormat) -> np.ndarray:
    """Whether each value rounds beyond the largest finite value of ``f``.

    For fp6/fp4, which have neither inf nor NaN to overflow to, "beyond" means that
    rounding with an unbounded exponent would pass ``max``: ``|x| >= max + gap/2``, where
    ``gap = 2^(emax - m)`` is the spacing at ``max`` (the tie goes up, to the even
    neighbour, because the mantissa of ``max`` is all ones).
    """
    if not f.is_float:
        r = np.rint(x)
        return (r > f.max) | (r < f.min)
    if not (f.has_inf or f.has_nan):
        return np.abs(x) >= f.max + np.ldexp(1.0, f.emax - f.mantissa_bits - 1)
    return ~np.isfinite(_cast(x, f, saturate=False).astype(np.float64))


def cast(x: Any, fmt: str | NumberFormat, *, saturate: bool = False) -> Any:
    """``x`` stored in ``fmt``: a numpy value of the format's dtype, ready for arithmetic.

    Floats are rounded to nearest, ties to even (IEEE 754-2019, Sec. 4.3.1), correctly
    from float64 (see Notes). Out-of-range values overflow the way ml_dtypes and IEEE
    do: to ``inf``, or to NaN for E4M3, which has no infinity (OFP8 v1.0's
    non-saturating mode); with ``saturate=True`` they clamp to ``±max`` instead (OFP8's
    saturating mode, the default of NVIDIA's fp8 conversions).

    fp6 and fp4 have neither inf nor NaN (OCP MX v1.0 element types), so they always clamp
    to ``±max``, as ml_dtypes does. tf32 is emulated: the float32 mantissa is rounded to 10
    bits (nearest, ties to even) and the result is returned as a float32.

    Integers (int8, int4) round to nearest, ties to even, and always clamp to
    ``[min, max]``: that is what a quantiser does (numpy's ``astype`` truncates instead and
    wraps out-of-range values: ``np.float64(-9.0).astype(ml_dtypes.int4)`` is 7). Real int8
    weights also carry a scale; see :func:`absmax_quantize`.

    Parameters
    ----------
    x : float or array_like
        Finite real numbers.
    fmt : str or NumberFormat
        A name in :data:`FORMATS` (not the scale format E8M0).
    saturate : bool
        Clamp overflowing floats to ``±max``.

    Returns
    -------
    numpy scalar (for a scalar ``x``) or array of ``get_format(fmt).dtype`` (float32 for
    tf32).

    Notes
    -----
    ml_dtypes converts float64 to bf16 and fp8 through float32, rounding twice, which
    is wrong in rare ties: ``np.float64(1 + 2**-8 + 2**-30)`` becomes 1 in bf16 instead of
    1 + 2^-7. This function rounds to odd into float32 first, which makes the second
    rounding correct (Boldo & Melquiond 2008).

    Examples
    --------
    >>> float(cast(1 + 2**-8, "bf16")), float(cast(70000.0, "fp16", saturate=True))
    (1.0, 65504.0)
    """
    f = _format(fmt)
    out = _cast(_real("x", x), f, bool(saturate))
    return out[()] if out.ndim == 0 else out


class RoundTrip(NamedTuple):
    """What a format keeps of a number: ``stored`` value(s) and the ``rel_error``."""

    stored: Any
    rel_error: Any


def round_trip(x: Any, fmt: str | NumberFormat, *, saturate: bool = False) -> RoundTrip:
    """Store ``x`` in ``fmt`` and read it back: the stored value and the relative error.

    ``rel_error = |stored - x| / |x|`` (0 for ``x = 0``; ``inf`` when ``x`` overflows to
    inf or NaN). For a normal float it is at most ``eps / 2 = 2^-(m+1)``, the unit
    roundoff (Higham 2002, "Accuracy and Stability of Numerical Algorithms", Thm. 2.2);
    subnormals and integers without a scale lose more.

    Parameters
    ----------
    x : float or array_like
    fmt : str or NumberFormat
    saturate : bool
        See :func:`cast`.

    Returns
    -------
    RoundTrip
        ``(stored, rel_error)`` as floats (scalar ``x``) or float64 arrays.

    Examples
    --------
    >>> round_trip(0.1, "fp16").stored
    0.0999755859375
    >>> round_trip([1 + 2**-8, 257.0], "bf16").stored.tolist()
    [1.0, 256.0]
    """
    f = _format(fmt)
    x64 = _real("x", x)
    stored = _cast(x64, f, bool(saturate)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(stored - x64) / np.abs(x64)
    err = np.where(x64 == 0, 0.0, err)
    err = np.where(np.isfinite(stored), err, np.inf)
    return RoundTrip(v.result(stored), v.result(err))


def spacing(x: Any, fmt: str | NumberFormat) -> Any:
    """Gap between ``x`` (once stored in ``fmt``) and the next number of larger magnitude.

    For a float stored as ``s`` with ``2^k <= |s| < 2^(k+1)`` the gap is ``2^(k - m)``
    (``m`` mantissa bits), so it doubles at every power of two; below the smallest
    normal number it stays at the smallest subnormal, ``2^(emin - m)`` (IEEE 754-2019,
    Sec. 3.3). ``spacing(1, f) == f.eps``. Integers: 1. NaN where ``x`` overflows.

    A number closer to ``s`` than half this gap is stored as ``s``: ``1 + 2^-8`` is 1 in
    bf16 because ``spacing(1, "bf16") = 2^-7``.

    Parameters
    ----------
    x : float or array_like
    fmt : str or NumberFormat

    Returns
    -------
    float or numpy.ndarray
    """
    f = _format(fmt)
    x64 = _real("x", x)
    if not f.is_float:
        out = np.where(_overflows(x64, f), np.nan, 1.0)
        return v.result(out)
    s = np.abs(_cast(x64, f, saturate=False).astype(np.float64))
    finite = np.isfinite(s) & ~_overflows(x64, f)
    _, exp = np.frexp(np.where(finite, s, 1.0))
    k = np.where(s == 0, f.emin, np.maximum(exp - 1, f.emin))
    out = np.where(finite, np.ldexp(1.0, k - f.mantissa_bits), np.nan)
    return v.result(out)


# --- bit strings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoding:
    """How one number is stored in one format (see :func:`encode`).

    Attributes
    ----------
    format : str
    value : float
        The number asked for.
    stored : float
        The number the format holds (inf or NaN after an overflow without saturation).
    bits : str
        All bits, most significant first (``"0011110000000000"`` for 1.0 in fp16).
    fields : tuple of (name, bits)
        ``bits`` split as in :func:`bit_layout`.
    abs_error, rel_error : float
        ``|stored - value|`` and that divided by ``|value|`` (0 for 0; inf on overflow).
    overflow : bool
        ``value`` rounds beyond the largest finite number (stored as inf, NaN, or
        ``±max`` when saturating).
    underflow : bool
        A nonzero ``value`` is stored as zero.
    subnormal : bool
        The stored value is a nonzero subnormal (exponent bits all zero).
    """

    format: str
    value: float
    stored: float
    bits: str
    fields: tuple[tuple[str, str], ...]
    abs_error: float
    rel_error: float
    overflow: bool
    underflow: bool
    subnormal: bool

    def field(self, name: str) -> str:
        """The bits of one field (``"sign"``, ``"exponent"``, ``"mantissa"``, ``"integer"``)."""
        return v.lookup("field", name, dict(self.fields))

    def bits_text(self, sep: str = "|") -> str:
        """The bits with the fields separated: ``"0|01111|0000000000"``."""
        return sep.join(bits for _, bits in self.fields)

    @property
    def exact(self) -> bool:
        """Whether the format holds ``value`` exactly."""
        return self.abs_error == 0


_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32}


def _uint_view(arr: np.ndarray, f: NumberFormat) -> int:
    """The format's code: the low ``f.bits`` bits of the stored value (ml_dtypes keeps
    sub-byte codes there), or, for tf32, the top 19 bits of its float32."""
    code = int(arr.view(_UINT[arr.dtype.itemsize]))
    return (code >> _narrowed_bits(f)) & ((1 << f.bits) - 1)


def encode(value: Any, fmt: str | NumberFormat, *, saturate: bool = False) -> Encoding:
    """The bits a format stores for ``value``, the stored value and its error.

    The bits come from the real stored value (``cast(value, fmt).view(uint)``), split into
    sign / exponent / mantissa (floats) or sign / integer (two's complement) fields.

    Parameters
    ----------
    value : float
        One finite number.
    fmt : str or NumberFormat
    saturate : bool
        See :func:`cast`.

    Returns
    -------
    Encoding

    Raises
    ------
    TypeError, ValueError
        If ``value`` is not one finite real number (the message names ``value``); for E8M0,
        a scale format, if it is not a power of two from ``2^-127`` to ``2^127``.

    Examples
    --------
    >>> encode(-2.5, "fp16").bits_text()
    '1|10000|0100000000'
    >>> encode(2.0**-3, "e8m0").bits, encode(3.0, "fp4_e2m1").bits_text()
    ('01111100', '0|10|1')
    """
    f = _format(fmt, scale_ok=True)
    x = _real("value", value)
    if x.ndim != 0:
        raise TypeError(f"value must be a single number, got an array of shape {x.shape}")
    if not f.signed:
        mant, _ = np.frexp(float(x))
        if not (mant == 0.5 and f.min_normal <= float(x) <= f.max):
            raise ValueError(
                f"value must be a power of two from 2^{f.emin} to 2^{f.emax} for {f.name} "
                f"(a scale format: no sign, no mantissa), got {value!r}"
            )
    stored_arr = np.asarray(_cast(x, f, bool(saturate)))
    code = _uint_view(stored_arr, f)
    bits = format(code, f"0{f.bits}b")
    fields, start = [], 0
    for name, n in bit_layout(f):
        fields.append((name, bits[start:start + n]))
        start += n
    stored = float(stored_arr.astype(np.float64))
    value_f = float(x)
    finite = bool(np.isfinite(stored))
    abs_err = abs(stored - value_f) if finite else float("inf")
    rel_err = 0.0 if value_f == 0 else (abs_err / abs(value_f) if finite else float("inf"))
    return Encoding(
        format=f.name, value=value_f, stored=stored, bits=bits, fields=tuple(fields),
        abs_error=abs_err, rel_error=rel_err, overflow=bool(_overflows(x, f)),
        underflow=value_f != 0 and stored == 0,
        subnormal=f.is_float and finite and 0 < abs(stored) < f.min_normal,
    )


def decode(bits: str, fmt: str | NumberFormat) -> float:
    """The number a bit pattern stands for in ``fmt`` (the inverse of :func:`encode`).

    Parameters
    ----------
    bits : str
        ``FORMATS[fmt].bits`` characters 0/1, most significant first; spaces, ``|`` and
        ``_`` between fields are ignored (``"0 10001 1000000000"``).
    fmt : str or NumberFormat

    Returns
    -------
    float
        May be inf or NaN for the special patterns (all-ones exponent in fp16, bf16,
        tf32, fp32 and E5M2; ``S.1111.111`` in E4M3; ``11111111`` in E8M0).

    Examples
    --------
    >>> decode("0 10001 1000000000", "fp16")
    6.0
    >>> decode("0 11 1", "fp4_e2m1"), decode("10000001", "e8m0")
    (6.0, 4.0)
    """
    f = _format(fmt, scale_ok=True)
    if not isinstance(bits, str):
        raise TypeError(f"bits must be a str of 0s and 1s, got {type(bits).__name__}")
    digits = "".join(ch for ch in bits if ch not in " |_")
    if len(digits) != f.bits or set(digits) - {"0", "1"}:
        raise ValueError(
            f"bits must be {f.bits} characters 0/1 for {f.name} "
            f"(spaces, | and _ between fields are ignored), got {bits!r}"
        )
    code = int(digits, 2) << _narrowed_bits(f)
    with np.errstate(invalid="ignore"):
        return float(
            np.array(code, dtype=_UINT[f.dtype.itemsize]).view(f.dtype).astype(np.float64)
        )


# --- arithmetic in a format ----------------------------------------------------------------


def accumulate(
    values: Any, fmt: str | NumberFormat, *, accumulator: str | NumberFormat | None = None
) -> np.ndarray:
    """Running sum of ``values`` stored in ``fmt``, with the sum kept in ``accumulator``.

    Each value is first rounded to ``fmt`` (it is stored in that format); the running
    sum is rounded to ``accumulator`` (default: ``fmt``) after every addition, as a loop
    ``s = round(s + x_i)`` in that format does. Once ``x_i`` is smaller than half the
    :func:`spacing` of ``s`` the sum stops growing ("stagnation"): adding 1e-4 ten
    thousand times gives 1.00005 in fp32 but 0.25 in fp16 and 0.03125 in bf16. This is
    why matrix multiplications and reductions accumulate in fp32 even when their inputs
    are 16-bit (Micikevicius et al. 2018, "Mixed Precision Training", Sec. 3.3).

    Parameters
    ----------
    values : array_like, 1-D
        The numbers to add, in order.
    fmt : str or NumberFormat
        Floating-point format the values are stored in.
    accumulator : str or NumberFormat, optional
        Floating-point format of the running sum (e.g. ``"fp32"`` for bf16 inputs).

    Returns
    -------
    numpy.ndarray
        float64 array of the running sums, ``out[i] = round(out[i-1] + x_i)``.

    Notes
    -----
    Each addition is exact and then rounded once to the accumulator format: numpy and
    ml_dtypes add 16- and 8-bit floats in float32 and round the result, and a float32
    intermediate (24 bits) rounds correctly to any format of at most 11 bits
    (Figueroa 1995, "When is double rounding innocuous?": 24 >= 2·11 + 2).
    """
    f = _format(fmt, floats_only=True)
    acc = f if accumulator is None else _format(accumulator, floats_only=True)
    x = _real("values", values)
    if x.ndim != 1:
        raise ValueError(f"values must be a 1-D sequence of numbers, got shape {x.shape}")
    if np.any(_overflows(x, f)):
        raise ValueError(f"values must fit in {f.name} (|x| <= {f.max:g}); some overflow")
    stored = _cast(x, f, saturate=False).astype(np.float64)
    in_acc = _cast(stored, acc, saturate=False)
    if _narrowed_bits(acc):
        # tf32 has no numpy type: round every partial sum explicitly. The float64 sum of
        # two tf32 numbers rounds innocuously on to 11 bits (53 >= 2·11 + 2).
        sums, total = np.empty(x.size), np.float64(0.0)
        for i, term in enumerate(in_acc.astype(np.float64)):
            total = _cast(np.asarray(total + term), acc, saturate=False).astype(np.float64)
            sums[i] = total
        return sums
    with np.errstate(over="ignore", invalid="ignore"):
        sums = np.add.accumulate(in_acc, dtype=acc.dtype)
    return sums.astype(np.float64)


@dataclass(frozen=True)
class Quantized:
    """Result of :func:`absmax_quantize` (arrays broadcast against the input).

    Attributes
    ----------
    q : numpy.ndarray
        The integer codes in ``[-qmax, qmax]``, ``qmax = 2^(bits-1) - 1`` (int8 array for
        ``bits <= 8``, int16 above).
    scale : float or numpy.ndarray
        Value of one integer step, ``absmax / qmax`` (per tensor, or per slice along
        ``axis`` with the reduced axis kept). LLM.int8() writes the inverse,
        ``s = qmax / absmax``.
    dequantized : numpy.ndarray
        ``q * scale``: what the quantised tensor stands for.
    error : numpy.ndarray
        ``dequantized - x``; ``|error| <= scale / 2``.
    bits : int
    """

    q: np.ndarray
    scale: Any
    dequantized: np.ndarray
    error: np.ndarray
    bits: int

    @property
    def max_abs_error(self) -> float:
        """The largest ``|dequantized - x|``."""
        return float(np.max(np.abs(self.error))) if self.error.size else 0.0


def absmax_quantize(x: Any, bits: int = 8, *, axis: int | None = None) -> Quantized:
    """Symmetric absmax quantisation: ``q = round(x / scale)``, ``scale = max|x| / qmax``.

    The largest magnitude maps to ``qmax = 2^(bits-1) - 1`` (127 for int8, 7 for int4)
    and every other value to the nearest integer step (ties to even). The code -128
    (-8 for int4) is left unused so that the grid is symmetric. One outlier makes the
    step large for every value sharing its scale; a scale per row (``axis=-1``) or per
    column confines the damage (Dettmers et al. 2022, "LLM.int8()", Sec. 2.1 absmax
    quantisation, Sec. 3.1 vector-wise quantisation).

    Parameters
    ----------
    x : array_like
        Finite real numbers (at least one).
    bits : int
        2 to 16 (8 for int8, 4 for int4).
    axis : int, optional
        Compute one scale per slice along this axis (``None``: one scale per tensor).

    Returns
    -------
    Quantized

    Examples
    --------
    >>> qz = absmax_quantize([0.3, -1.7, 2.54, 0.01])
    >>> qz.q.tolist(), round(qz.scale, 4)
    ([15, -85, 127, 0], 0.02)
    """
    x64 = _real("x", x)
    if x64.size == 0:
        raise ValueError("x must contain at least one number")
    b = v.positive_int("bits", bits, minimum=2)
    if not isinstance(b, int) or b > 16:
        raise ValueError(f"bits must be a single integer from 2 to 16, got {bits!r}")
    if axis is not None:
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"axis must be an int or None, got {type(axis).__name__}")
        if not -x64.ndim <= axis < x64.ndim:
            raise ValueError(f"axis must be in [-{x64.ndim}, {x64.ndim - 1}], got {axis}")
    qmax = 2 ** (b - 1) - 1
    absmax = np.max(np.abs(x64), axis=axis, keepdims=axis is not None)
    scale = absmax / qmax
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(scale > 0, np.rint(x64 / scale), 0.0)
    q = np.clip(q, -qmax, qmax).astype(np.int8 if b <= 8 else np.int16)
    deq = q * scale
    return Quantized(q=q, scale=v.result(scale), dequantized=deq, error=deq - x64, bits=b)


def absmax_dequantize(q: Any, scale: Any) -> Any:
    """The real values integer codes stand for: ``q * scale`` (see :func:`absmax_quantize`)."""
    codes = _real("q", q)
    s = np.asarray(v.nonnegative("scale", scale), dtype=np.float64)
    return v.result(codes * s)


@dataclass(frozen=True)
class ScaledCast:
    """Result of :func:`scaled_cast`.

    Attributes
    ----------
    values : numpy.ndarray
        What the scaled tensor stands for, ``stored / scale`` (float64).
    stored : numpy.ndarray
        The numbers in the format (its dtype), ``round(x · scale)``.
    scale : float
    rel_error : numpy.ndarray
        ``|values - x| / |x|`` (0 where ``x = 0``, inf where it overflowed to inf/NaN).
    underflow : float
        Fraction of the nonzero inputs stored as zero.
    overflow : float
        Fraction of the inputs that rounded beyond ``max`` (clamped when saturating).
    """

    values: np.ndarray
    stored: np.ndarray
    scale: float
    rel_error: np.ndarray
    underflow: float
    overflow: float


def scaled_cast(
    x: Any, fmt: str | NumberFormat, *, scale: float | None = None, saturate: bool = True
) -> ScaledCast:
    """Multiply by a scale, store in ``fmt``, and divide again: per-tensor scaling.

    fp8 has so little range (E4M3: 2^-9 to 448) that tensors are stored as
    ``round(x · scale)`` with one fp32 scale per tensor, chosen so that the largest
    magnitude lands on the format's maximum: ``scale = max / amax(x)`` (Micikevicius
    et al. 2022, "FP8 Formats for Deep Learning": per-tensor scaling). Loss scaling in fp16 is the
    same idea with a fixed power of two applied to the loss, hence to every gradient
    (Micikevicius et al. 2018, Sec. 3.2): pass it as ``scale``.

    Parameters
    ----------
    x : array_like
        Finite real numbers.
    fmt : str or NumberFormat
        A floating-point format.
    scale : float, optional
        Positive multiplier; default ``FORMATS[fmt].max / max|x|`` (1 if ``x`` is all
        zeros).
    saturate : bool
        Clamp overflows to ``±max`` (default, as fp8 training does); ``False`` lets them
        become inf/NaN, which is how loss scaling detects an overflow and skips a step.

    Returns
    -------
    ScaledCast

    Notes
    -----
    ``x · scale`` is computed in float64 before the single rounding to ``fmt``; a
    power-of-two scale is exact in any binary format.
    """
    f = _format(fmt, floats_only=True)
    x64 = _real("x", x)
    if scale is None:
        amax = float(np.max(np.abs(x64))) if x64.size else 0.0
        s = f.max / amax if amax > 0 else 1.0
    else:
        if np.ndim(scale) != 0:
            raise TypeError("scale must be a single number (one scale per tensor)")
        s = float(v.positive("scale", scale))
    with np.errstate(over="ignore"):
        scaled = x64 * s
    if not (np.isfinite(s) and np.all(np.isfinite(scaled))):
        raise ValueError(
            f"x * scale overflows float64 (scale = {s:g}); choose a smaller scale, or "
            "x is too close to zero to be scaled to the format's maximum"
        )
    stored = _cast(scaled, f, bool(saturate))
    values = stored.astype(np.float64) / s
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(values - x64) / np.abs(x64)
    err = np.where(x64 == 0, 0.0, err)
    err = np.where(np.isfinite(values), err, np.inf)
    nonzero = x64 != 0
    n_nonzero = int(np.count_nonzero(nonzero))
    underflow = float(np.count_nonzero(nonzero & (values == 0)) / n_nonzero) if n_nonzero else 0.0
    overflow = float(np.mean(_overflows(scaled, f))) if x64.size else 0.0
    return ScaledCast(
        values=values, stored=stored, scale=s, rel_error=err, underflow=underflow,
        overflow=overflow,
    )


def weight_memory(model: Any, fmt: str | NumberFormat | BlockFormat) -> float:
    """Bytes to hold a model's weights in ``fmt``: parameters x bytes per value.

    A block-scaled format (a key of :data:`BLOCK_FORMATS`) counts its scales too:
    parameters x :func:`bits_per_value` / 8 (NVFP4: 4.5 bits, not 4).

    Parameters
    ----------
    model : str, ModelConfig or number
        A preset name of :data:`trainmath.MODELS`, a ``ModelConfig`` (counted exactly
        with :func:`trainmath.param_count`), or a parameter count.
    fmt : str or NumberFormat
        int4 counts 0.5 bytes (two values packed per byte).

    Returns
    -------
    float
        Bytes (weights only: no quantisation scales, optimizer state or activations;
        an int8/int4 checkpoint also stores its scales, a few bytes per block or row).

    Examples
    --------
    >>> weight_memory("llama-3-8b", "bf16") / 1e9   # 8,030,261,248 params x 2 B
    16.060522496
    >>> weight_memory(8e9, "nvfp4") / 1e9           # 4-bit values + an E4M3 scale per 16
    4.5
    """
    if isinstance(fmt, BlockFormat) or (isinstance(fmt, str) and fmt in BLOCK_FORMATS):
        per_value = bits_per_value(fmt) / 8
    else:
        per_value = _format(fmt).bytes
    if isinstance(model, (str, ModelConfig)):
        n = param_count(get_model(model))
    else:
        n = v.nonnegative("model (a parameter count)", model)
    return v.result(n * per_value)


# --- block-scaled formats ------------------------------------------------------------------

_MX_SOURCE = (
    "OCP Microscaling Formats (MX) Specification v1.0 (2023), Table 1; conversion: "
    "Rouhani et al. 2023, arXiv:2310.10537, Algorithm 1"
)
_NVFP4_SOURCE = (
    "NVIDIA 2025, 'Pretraining Large Language Models with NVFP4', arXiv:2509.25149, Sec. 2; "
    "Transformer Engine reference quantiser (custom_recipes/quantization_nvfp4.py)"
)
_DEEPSEEK_SOURCE = "DeepSeek-AI 2024, 'DeepSeek-V3 Technical Report', arXiv:2412.19437, Sec. 3.3.2"


@dataclass(frozen=True)
class BlockFormat:
    """A block-scaled format: small elements that share one scale per block.

    A value is stored as ``element × block scale`` (× a per-tensor scale for NVFP4). The
    block runs along one axis (``block = (32,)``) or tiles two (``(128, 128)``, rows ×
    columns).

    Attributes
    ----------
    name : str
    element : str
        The element format, a name of :data:`FORMATS`
        (``"fp8_e4m3"``, ``"fp4_e2m1"``, ``"int8"``, ...).
    block : tuple of int
        Elements per block along the last axis, or (rows, columns) for a 2-D tile; an int
        is read as a 1-tuple.
    scale : str
        Format of the block scales: ``"e8m0"`` (a power of two chosen by the MX rule, see
        :func:`block_quantize`), or a float format such as ``"fp8_e4m3"`` or ``"fp32"``
        (``amax / element max``, rounded to that format).
    tensor_scale : bool
        Whether a second, per-tensor fp32 scale keeps the block scales in range (NVFP4).
    element_scale : float
        A fixed power of two the integer codes are multiplied by (MXINT8: ``2^-6``, so that
        its codes -127..127 stand for -1.984375..1.984375); 1 for float elements.
    description, source : str
    """

    name: str
    element: str
    block: tuple[int, ...]
    scale: str
    tensor_scale: bool = False
    element_scale: float = 1.0
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")
        _format(self.element)  # a signed element format of the tables
        scale = get_format(self.scale)
        if not scale.is_float:
            raise ValueError(f"scale must be a floating-point format, got {self.scale!r}")
        block = (self.block,) if isinstance(self.block, numbers.Integral) else self.block
        if not isinstance(block, tuple) or len(block) not in (1, 2):
            raise ValueError(
                "block must be an int or a tuple of one or two ints (elements, or rows and "
                f"columns of a tile), got {self.block!r}"
            )
        block = tuple(v.scalar_int("block", b) for b in block)
        object.__setattr__(self, "block", block)
        v.flag("tensor_scale", self.tensor_scale)
        es = float(v.positive("element_scale", self.element_scale))
        if np.frexp(es)[0] != 0.5:
            raise ValueError(f"element_scale must be a power of two, got {self.element_scale!r}")
        object.__setattr__(self, "element_scale", es)

    @property
    def element_format(self) -> NumberFormat:
        """The element format's :class:`NumberFormat`."""
        return get_format(self.element)

    @property
    def scale_format(self) -> NumberFormat:
        """The block scale's :class:`NumberFormat`."""
        return get_format(self.scale)

    @property
    def block_size(self) -> int:
        """Elements that share one scale (32 for MX, 16 for NVFP4, 16384 for 128x128)."""
        return math.prod(self.block)

    @property
    def element_max(self) -> float:
        """Largest element value: 448 (E4M3), 6 (E2M1), 127 · 2^-6 = 1.984375 (MXINT8)."""
        return self.element_format.max * self.element_scale

    @property
    def emax_elem(self) -> int:
        """Exponent of the largest element value, ``emax_elem`` of the MX spec.

        E4M3 8, E5M2 15, E3M2 4, E2M3 2, E2M1 2, MXINT8 0 (1.984375 = 1.xxx · 2^0).
        """
        return int(np.frexp(self.element_max)[1]) - 1

    @property
    def power_of_two_scale(self) -> bool:
        """Whether the scale is E8M0, set by the MX rule (a power of two)."""
        return not self.scale_format.signed


def _mx_format(name: str, element: str, description: str) -> BlockFormat:
    """An OCP MX format: 32 elements of ``element`` sharing one E8M0 scale (MX v1.0, Table 1)."""
    return BlockFormat(name, element, (32,), "e8m0", description=description, source=_MX_SOURCE)


#: Block-scaled formats, read-only: the OCP MX family, NVIDIA's NVFP4 and DeepSeek-V3's fp8
#: tiles (:func:`block_quantize`, :func:`bits_per_value`).
BLOCK_FORMATS: Mapping[str, BlockFormat] = MappingProxyType({
    **{
        name: _mx_format(name, element, description)
        for name, element, description in (
            ("mxfp8_e4m3", "fp8_e4m3", "MXFP8, E4M3 elements"),
            ("mxfp8_e5m2", "fp8_e5m2", "MXFP8, E5M2 elements"),
            ("mxfp6_e2m3", "fp6_e2m3", "MXFP6, E2M3 elements"),
            ("mxfp6_e3m2", "fp6_e3m2", "MXFP6, E3M2 elements"),
            ("mxfp4", "fp4_e2m1", "MXFP4, E2M1 elements"),
        )
    },
    "mxint8": BlockFormat(
        "mxint8", "int8", (32,), "e8m0", element_scale=2.0**-6,
        description="MXINT8: int8 codes with an implicit 2^-6 (values up to 1.984375)",
        source=_MX_SOURCE,
    ),
    "nvfp4": BlockFormat(
        "nvfp4", "fp4_e2m1", (16,), "fp8_e4m3", tensor_scale=True,
        description="NVFP4: E2M1 elements, an E4M3 scale per 16, an fp32 scale per tensor",
        source=_NVFP4_SOURCE,
    ),
    "deepseek_fp8_1x128": BlockFormat(
        "deepseek_fp8_1x128", "fp8_e4m3", (1, 128), "fp32",
        description="DeepSeek-V3 activations: E4M3, one fp32 scale per token per 128 channels",
        source=_DEEPSEEK_SOURCE,
    ),
    "deepseek_fp8_128x128": BlockFormat(
        "deepseek_fp8_128x128", "fp8_e4m3", (128, 128), "fp32",
        description="DeepSeek-V3 weights: E4M3, one fp32 scale per 128x128 block",
        source=_DEEPSEEK_SOURCE,
    ),
})


def get_block_format(name: str) -> BlockFormat:
    """A format of :data:`BLOCK_FORMATS` by name, with a message listing the valid names."""
    return v.lookup("block format", name, BLOCK_FORMATS)


def _block_format(fmt: str | BlockFormat) -> BlockFormat:
    return fmt if isinstance(fmt, BlockFormat) else get_block_format(fmt)


def bits_per_value(fmt: str | BlockFormat, *, tensor_size: int | None = None) -> float:
    """Storage per value of a block format, scales included.

    ``element bits + scale bits / block size`` (+ 32 / ``tensor_size`` for NVFP4's fp32
    per-tensor scale): MXFP8 8 + 8/32 = 8.25, MXFP6 6.25, MXFP4 4.25, MXINT8 8.25
    (OCP MX v1.0, Table 1), NVFP4 4 + 8/16 = 4.5 (arXiv:2509.25149, Sec. 2), DeepSeek-V3's
    1x128 tiles 8 + 32/128 = 8.25 and 128x128 blocks 8 + 32/16384.

    Parameters
    ----------
    fmt : str or BlockFormat
        A name of :data:`BLOCK_FORMATS`.
    tensor_size : int, optional
        Values in the tensor, to spread a per-tensor scale over (ignored without one);
        default: a tensor so large that it costs nothing.

    Returns
    -------
    float
        Bits per value. Assumes the blocked length is a multiple of the block (a partial
        last block costs a whole scale).

    Examples
    --------
    >>> [bits_per_value(n) for n in ("mxfp8_e4m3", "mxfp6_e2m3", "mxfp4", "nvfp4")]
    [8.25, 6.25, 4.25, 4.5]
    """
    bf = _block_format(fmt)
    bits = bf.element_format.bits + bf.scale_format.bits / bf.block_size
    if tensor_size is not None:
        n = v.scalar_int("tensor_size", tensor_size)
        if bf.tensor_scale:
            bits += FORMATS["fp32"].bits / n
    return float(bits)


@dataclass(frozen=True)
class BlockQuantized:
    """Result of :func:`block_quantize`.

    Attributes
    ----------
    format : BlockFormat
    codes : numpy.ndarray
        The elements as stored, shape of the input: an array of the element format's dtype
        (ml_dtypes ``float4_e2m1fn``, ``float8_e4m3fn``, ...; int8 for MXINT8).
    scales : numpy.ndarray
        One scale per block (float64; NaN for an MX block with a NaN scale), shaped like
        the input with each blocked axis divided by the block, rounded up.
    tensor_scale : float or None
        NVFP4's fp32 per-tensor scale; None for formats without one.
    axis : int
        The (non-negative) axis the blocks run along (a 2-D tile's columns).
    """

    format: BlockFormat
    codes: np.ndarray
    scales: np.ndarray
    tensor_scale: float | None
    axis: int

    EXAMPLE: ClassVar[str] = "tm.formats.block_quantize(x, 'mxfp4')"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the quantised tensor."""
        return self.codes.shape

    @property
    def elements(self) -> np.ndarray:
        """The element values as float64 (codes × ``element_scale``)."""
        return self.codes.astype(np.float64) * self.format.element_scale

    @property
    def scale_codes(self) -> np.ndarray:
        """The scales stored in the scale format's dtype (E8M0, E4M3 or float32)."""
        f = self.format.scale_format
        with np.errstate(invalid="ignore"):
            return self.scales.astype(np.float32).astype(f.dtype)

    @property
    def dequantized(self) -> np.ndarray:
        """What the quantised tensor stands for: :func:`block_dequantize` of it."""
        return block_dequantize(self)


def _real_or_special(name: str, x: Any) -> np.ndarray:
    """``x`` as a float64 array like :func:`_real`, but NaN and ±inf are let through."""
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "V":
        x = np.asarray(x, dtype=np.float64)
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got a bool ({x!r})")
    if not isinstance(x, (numbers.Real, np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be a number, got {type(x).__name__} ({x!r})")
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a number or an array of numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _axis(axis: Any, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int, got {type(axis).__name__} ({axis!r})")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis must be in [-{ndim}, {ndim - 1}], got {axis}")
    return int(axis) % ndim


def _block_amax(y: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """max |y| over each block of the last ``len(block)`` axes, zero-padded at the end."""
    k = len(block)
    lead = y.shape[:-k]
    ends = zip(y.shape[-k:], block, strict=True)
    yp = np.pad(np.abs(y), [(0, 0)] * (y.ndim - k) + [(0, -n % b) for n, b in ends])
    split = tuple(d for n, b in zip(yp.shape[-k:], block, strict=True) for d in (n // b, b))
    inner = tuple(len(lead) + 2 * i + 1 for i in range(k))
    return np.max(yp.reshape(lead + split), axis=inner)


def _expand(s: np.ndarray, block: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Per-block values repeated over their blocks, cropped to ``shape`` (padding dropped)."""
    k = len(block)
    for i, b in enumerate(block):
        s = np.repeat(s, b, axis=s.ndim - k + i)
    return s[(Ellipsis, *(slice(0, n) for n in shape[-k:]))]


def block_quantize(x: Any, fmt: str | BlockFormat, *, axis: int = -1) -> BlockQuantized:
    """Quantise ``x`` to a block-scaled format: one scale per block, elements in between.

    **MX formats** (E8M0 scale; OCP MX v1.0, conversion algorithm = Rouhani et al. 2023,
    arXiv:2310.10537, Algorithm 1): for each block ``V`` of 32 values,
    ``X = 2^(floor(log2(max|V_i|)) - emax_elem)``, where ``emax_elem`` is the exponent of
    the element format's largest normal number (E4M3 8, E5M2 15, E3M2 4, E2M3 2, E2M1 2,
    MXINT8 0), stored as E8M0; then ``P_i = V_i / X`` rounded to the element format,
    nearest, ties to even, with values beyond its largest normal clamped to it (an MXFP4
    block whose largest value is 7 stores it as 6). The block maximum thus lands in the
    element format's top binade, which E4M3 and E2M1 only partly cover.

    **NVFP4** (arXiv:2509.25149, Sec. 2; formulas of NVIDIA Transformer Engine's reference
    quantiser): an fp32 per-tensor scale ``t = amax(x) / (6 · 448)`` and, per block of 16,
    ``s = amax_block / 6 / t`` rounded to E4M3 (saturating); elements ``x / (s · t)``
    rounded to E2M1 (saturating at ±6).

    **DeepSeek-V3 fine-grained fp8** (arXiv:2412.19437, Sec. 3.3.2): per 1x128 tile
    (activations: per token per 128 channels) or 128x128 block (weights),
    ``s = amax / 448`` kept in fp32, elements ``x / s`` rounded to E4M3 (saturating).

    Parameters
    ----------
    x : array_like
        Real numbers, at least one (at least 2-D for the DeepSeek 2-D tiles). MX formats
        accept NaN and ±inf (see Notes); the others need finite numbers.
    fmt : str or BlockFormat
        A name of :data:`BLOCK_FORMATS`, or your own :class:`BlockFormat`.
    axis : int
        The axis the blocks run along (default the last). A 2-D tile's columns run along
        ``axis`` and its rows along the last of the remaining axes, i.e. the tile covers
        the last two axes of ``np.moveaxis(x, axis, -1)``.

    Returns
    -------
    BlockQuantized
        Codes, per-block scales (and NVFP4's per-tensor scale); ``.dequantized`` gives the
        values back.

    Notes
    -----
    - A length that is not a multiple of the block is padded with zeros at the end (zeros
      change no block maximum), and the padding is dropped from the codes: the last block
      is shorter, its scale counts once. Microsoft's MX reference code (microxcaling) pads
      the same way.
    - An all-zero MX block gets the smallest scale, ``2^-127`` (E8M0 code 0), as in
      microxcaling; a shared exponent below -127 is clamped to -127 (tiny values then
      underflow in the elements). For the amax-scaled formats an all-zero block gets scale
      0 and zero elements.
    - NaN and inf (MX only): a block containing either gets a NaN scale (E8M0 code 0xFF),
      and a NaN scale makes every value of the block NaN (OCP MX v1.0: a NaN scale
      overrides the elements); so does a block whose shared exponent would pass 127 (only
      float64 inputs beyond fp32's range). Its element codes are stored as 0. The spec
      does not say whether a NaN element must reach the block maximum (an IEEE ``maxNum``
      would skip it); letting it, as microxcaling and PyTorch's torchao do, is our choice.
    - Rounding is correct: ``V_i / X`` is exact (X is a power of two) and rounds once.
      The MX spec leaves the rounding of elements to the implementation; microxcaling
      rounds half away from zero by default, hardware and this function to nearest even.

    Examples
    --------
    >>> q = block_quantize([0.3, -0.05, 0.01, 0.2], "mxfp8_e4m3")
    >>> q.scales.tolist(), q.elements.tolist()
    ([0.0009765625], [320.0, -52.0, 10.0, 208.0])
    >>> q.dequantized.tolist()
    [0.3125, -0.05078125, 0.009765625, 0.203125]
    """
    bf = _block_format(fmt)
    mx = bf.power_of_two_scale
    x64 = _real_or_special("x", x) if mx else _real("x", x)
    if x64.size == 0:
        raise ValueError("x must contain at least one number")
    k = len(bf.block)
    if x64.ndim < k:
        tile = "x".join(str(b) for b in bf.block)
        raise ValueError(
            f"x must have at least {k} dimension{'s' if k > 1 else ''} for {bf.name}'s "
            f"{tile} blocks, got shape {x64.shape}"
        )
    ax = _axis(axis, x64.ndim)
    y = np.moveaxis(x64, ax, -1)
    amax = _block_amax(y, bf.block)
    sf = bf.scale_format
    tensor_scale: float | None = None
    if mx:
        finite = np.isfinite(amax) & (amax > 0)
        exponent = np.frexp(np.where(finite, amax, 1.0))[1].astype(np.int64) - 1
        shared = np.where(amax == 0, sf.emin, np.maximum(exponent - bf.emax_elem, sf.emin))
        nan = ~np.isfinite(amax) | (shared > sf.emax)
        scales = np.where(nan, np.nan, np.ldexp(1.0, np.minimum(shared, sf.emax)))
    else:
        if bf.tensor_scale:
            amax_t = float(np.max(np.abs(x64)))
            tensor_scale = 1.0
            if amax_t > 0:
                ideal = amax_t / (bf.element_max * sf.max)
                tensor_scale = float(_cast(np.asarray(ideal), FORMATS["fp32"], True))
                if tensor_scale == 0:
                    raise ValueError(
                        f"x is too small for {bf.name}'s fp32 per-tensor scale "
                        f"(max|x| = {amax_t:g} gives a scale below fp32's smallest number)"
                    )
        ideal = amax / bf.element_max / (tensor_scale or 1.0)
        scales = _cast(ideal, sf, saturate=True).astype(np.float64)
    step = _expand(scales, bf.block, y.shape) * (tensor_scale or 1.0)
    ok = np.isfinite(step) & (step > 0)
    with np.errstate(invalid="ignore", over="ignore"):
        p = np.where(ok, y / np.where(ok, step, 1.0), 0.0)
    p = np.clip(p, -bf.element_max, bf.element_max)
    codes = _cast(p / bf.element_scale, bf.element_format, saturate=True)
    return BlockQuantized(
        format=bf, codes=np.moveaxis(codes, -1, ax), scales=np.moveaxis(scales, -1, ax),
        tensor_scale=tensor_scale, axis=ax,
    )


def block_dequantize(q: BlockQuantized) -> np.ndarray:
    """The values a :class:`BlockQuantized` stands for: element × block scale (× tensor scale).

    Parameters
    ----------
    q : BlockQuantized
        From :func:`block_quantize`.

    Returns
    -------
    numpy.ndarray
        float64, the shape of the quantised tensor; NaN over MX blocks with a NaN scale.
    """
    v.instance("q", q, BlockQuantized)
    elements = np.moveaxis(q.elements, q.axis, -1)
    step = _expand(np.moveaxis(q.scales, q.axis, -1), q.format.block, elements.shape)
    with np.errstate(invalid="ignore"):
        out = elements * (step * (q.tensor_scale or 1.0))
    return np.moveaxis(out, -1, q.axis)


class QuantizationError(NamedTuple):
    """How well one method stores one tensor (see :func:`quantization_error`)."""

    method: str
    rel_rms: float
    max_abs_error: float
    bits_per_value: float


def quantization_error(x: Any, method: str | BlockFormat, *, axis: int = -1) -> QuantizationError:
    """Error and storage of one quantisation method on a tensor, to compare methods.

    ``rel_rms = sqrt(sum((deq - x)^2) / sum(x^2))`` (0 for an all-zero ``x`` stored
    exactly) and ``max_abs_error = max|deq - x|``, where ``deq`` is what the stored tensor
    stands for. Methods:

    - a block format of :data:`BLOCK_FORMATS` (or a :class:`BlockFormat`):
      :func:`block_quantize` along ``axis``;
    - a float format (``"fp8_e4m3"``, ``"fp8_e5m2"``, ...): per-tensor scaling,
      :func:`scaled_cast` (scale = max / amax, saturating);
    - ``"int8"`` or ``"int4"``: per-tensor absmax, :func:`absmax_quantize`.

    ``bits_per_value`` counts what this tensor really stores: its elements, one scale per
    block (a partial block included), NVFP4's fp32 tensor scale, and one 32-bit scale for
    the per-tensor methods.

    Parameters
    ----------
    x : array_like
        Finite real numbers (at least one).
    method : str or BlockFormat
    axis : int
        Blocking axis for block formats (ignored by per-tensor methods).

    Returns
    -------
    QuantizationError
        ``(method, rel_rms, max_abs_error, bits_per_value)``.

    Examples
    --------
    >>> x = [0.01, -0.02, 0.015, 0.03] * 8 + [4.0] + [0.01] * 31  # one outlier
    >>> [f"{quantization_error(x, m).rel_rms:.2%}" for m in ("int8", "fp8_e4m3", "mxint8")]
    ['2.06%', '0.08%', '1.39%']
    >>> quantization_error(x, "mxfp8_e4m3").bits_per_value
    8.25
    """
    x64 = _real("x", x)
    if x64.size == 0:
        raise ValueError("x must contain at least one number")
    if isinstance(method, BlockFormat) or (isinstance(method, str) and method in BLOCK_FORMATS):
        q = block_quantize(x64, method, axis=axis)
        deq = q.dequantized
        bf = q.format
        stored = (x64.size * bf.element_format.bits + q.scales.size * bf.scale_format.bits
                  + (FORMATS["fp32"].bits if bf.tensor_scale else 0))
        name = bf.name
    elif isinstance(method, str) and method in FORMATS and FORMATS[method].signed:
        f = FORMATS[method]
        if f.is_float:
            deq = scaled_cast(x64, f).values
        else:
            deq = absmax_quantize(x64, bits=f.bits).dequantized
        stored = x64.size * f.bits + FORMATS["fp32"].bits
        name = f.name
    else:
        valid = sorted(BLOCK_FORMATS) + sorted(n for n, f in FORMATS.items() if f.signed)
        if not isinstance(method, str):
            raise TypeError(
                f"method must be a name (str) or a BlockFormat, got {type(method).__name__}"
            )
        raise ValueError(f"unknown method {method!r}; valid names: {', '.join(valid)}")
    err = deq - x64
    sq_err, sq_x = float(np.sum(err**2)), float(np.sum(x64**2))
    rel = math.sqrt(sq_err / sq_x) if sq_x > 0 else (0.0 if sq_err == 0 else math.inf)
    return QuantizationError(
        method=name, rel_rms=rel, max_abs_error=float(np.max(np.abs(err))),
        bits_per_value=stored / x64.size,
    )


def _next_magnitude(vals: np.ndarray, f: NumberFormat, away: bool) -> np.ndarray:
    """The representable number one step away from (or toward) zero from each ``vals``.

    ``vals`` are representable in ``f`` (float64, 1-D). Floats are sign-magnitude, so one
    step of the bit pattern is one step of the magnitude (one tf32 step is 2^13 float32
    codes). Zero has no sign to step away on: callers handle it.
    """
    stored = np.ascontiguousarray(_cast(vals, f, saturate=True))
    uint = _UINT[f.dtype.itemsize]
    delta = (1 << _narrowed_bits(f)) * (1 if away else -1)
    codes = stored.view(uint).astype(np.int64) + delta
    with np.errstate(invalid="ignore", over="ignore"):
        return codes.astype(uint).view(f.dtype).astype(np.float64)


def stochastic_round(x: Any, fmt: str | NumberFormat, rng: np.random.Generator) -> Any:
    """Round ``x`` to ``fmt`` up or down at random, so that on average nothing is lost.

    With ``lo <= x <= hi`` the two neighbouring numbers of the format, ``x`` becomes ``hi``
    with probability ``(x - lo) / (hi - lo)`` and ``lo`` otherwise, so
    ``E[round(x)] = x`` exactly (Gupta et al. 2015, "Deep Learning with Limited Numerical
    Precision", Sec. 2). A weight update smaller than half the spacing of the weight is
    lost every time by round-to-nearest (bf16 at 1: updates below 2^-8 vanish, the
    "stagnation" of :func:`accumulate`), but survives in expectation here; this is what
    lets bf16 weights be updated without an fp32 master copy (Zamirai et al. 2020,
    "Revisiting BFloat16 Training", arXiv:2010.06192; the master copy is Micikevicius et
    al. 2018, Sec. 3.1).

    Parameters
    ----------
    x : float or array_like
        Finite real numbers; values beyond ``±max`` are clamped to it (saturation).
    fmt : str or NumberFormat
        A floating-point format (fp16, bf16, tf32, fp8, fp6, fp4).
    rng : numpy.random.Generator
        The source of randomness, e.g. ``np.random.default_rng(0)``; one uniform number
        is drawn per value.

    Returns
    -------
    numpy scalar (for a scalar ``x``) or array of the format's dtype, like :func:`cast`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w = stochastic_round(np.full(10_000, 1.0 + 2**-10), "bf16", rng)
    >>> sorted(set(w.astype(float).tolist())), bool(abs(w.astype(float).mean() - 1.0009766) < 4e-4)
    ([1.0, 1.0078125], True)
    """
    f = _format(fmt, floats_only=True)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    x64 = _real("x", x)
    shape = x64.shape
    flat = np.clip(x64.reshape(-1), -f.max, f.max)
    nearest = _cast(flat, f, saturate=True).astype(np.float64)
    toward = np.where(np.abs(nearest) <= np.abs(flat), nearest,
                      _next_magnitude(nearest, f, away=False))
    away = np.where(toward == 0, np.copysign(f.min_subnormal, flat),
                    _next_magnitude(toward, f, away=True))
    exact = np.abs(toward) == np.abs(flat)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_away = np.where(exact, 0.0, (np.abs(flat) - np.abs(toward)) / np.abs(away - toward))
    u = rng.random(flat.size)
    out = _cast(np.where(u < p_away, away, toward), f, saturate=True).reshape(shape)
    return out[()] if out.ndim == 0 else out


# --- value sets and stochastic running sums (lesson 04, today's formats) --------------------

#: Formats wider than this have too many codes to list (fp32: 2^32).
_MAX_LISTED_BITS = 16


def representable_values(fmt: str | NumberFormat) -> np.ndarray:
    """Every finite value a format holds, in increasing order (formats of at most 16 bits).

    Decoded from all ``2^bits`` codes (the dtype's own bit patterns, as :func:`decode`
    reads them), NaN and inf dropped, ``-0`` and ``+0`` counted once. fp4 E2M1 holds
    ``±{0, 0.5, 1, 1.5, 2, 3, 4, 6}``: 15 values from 16 codes (OCP MX v1.0, FP4 E2M1
    element type); fp6 E2M3 63 values up to 7.5, E3M2 63 up to 28; E8M0 the 255 powers of
    two ``2^-127 .. 2^127`` (its 256th code is NaN); integers every whole number from
    ``min`` to ``max``.

    Parameters
    ----------
    fmt : str or NumberFormat
        A format of :data:`FORMATS` of at most 16 bits (fp32 and
        tf32, with 2^32 and 2^19 codes, are refused).

    Returns
    -------
    numpy.ndarray
        float64, sorted, no duplicates.

    Examples
    --------
    >>> representable_values("fp4_e2m1").tolist()
    [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
    >>> len(representable_values("fp8_e4m3")), len(representable_values("int4"))
    (253, 16)
    """
    f = _format(fmt, scale_ok=True)
    if f.bits > _MAX_LISTED_BITS:
        small = ", ".join(n for n, g in FORMATS.items() if g.bits <= _MAX_LISTED_BITS)
        raise ValueError(
            f"fmt {f.name!r} has 2^{f.bits} codes, too many to list; formats of at most "
            f"{_MAX_LISTED_BITS} bits: {small}"
        )
    if not f.is_float:
        return np.arange(f.min, f.max + 1, dtype=np.float64)
    uint = _UINT[f.dtype.itemsize]
    codes = np.arange(2**f.bits, dtype=np.int64).astype(uint)
    with np.errstate(invalid="ignore"):
        values = codes.view(f.dtype).astype(np.float64)
    return np.unique(values[np.isfinite(values)] + 0.0)  # + 0.0: -0 becomes 0


def stochastic_accumulate(
    values: Any,
    fmt: str | NumberFormat,
    rng: np.random.Generator,
    *,
    accumulator: str | NumberFormat | None = None,
    runs: int = 1,
) -> np.ndarray:
    """Running sum like :func:`accumulate`, but rounded stochastically after every addition.

    Each value is first stored in ``fmt`` (rounded to nearest, as :func:`accumulate` does);
    the running sum is kept in ``accumulator`` (default ``fmt``) and rounded with
    :func:`stochastic_round` after every addition: ``s_i = SR(s_(i-1) + x_i)``. Since
    ``E[SR(y)] = y``, the expected sum is the exact sum of the stored values, even when
    every ``x_i`` is below half the spacing of ``s`` and round-to-nearest would stall
    (Gupta et al. 2015, arXiv:1502.02551, abstract: 16-bit fixed-point training works with
    stochastic rounding). With ``values = [w, u, u, ...]`` this is a weight kept in a
    16-bit format taking updates ``u`` without an fp32 master copy (Zamirai et al. 2020,
    "Revisiting BFloat16 Training", arXiv:2010.06192).

    Parameters
    ----------
    values : array_like, 1-D
        The numbers to add, in order (at least one).
    fmt : str or NumberFormat
        Floating-point format the values are stored in.
    rng : numpy.random.Generator
        The source of randomness (one uniform number per run per addition).
    accumulator : str or NumberFormat, optional
        Floating-point format of the running sum (e.g. ``"bf16"`` for a bf16 weight).
    runs : int
        Independent runs with the same values (different random roundings).

    Returns
    -------
    numpy.ndarray
        float64 running sums, shape ``(len(values),)`` for ``runs=1``, else
        ``(runs, len(values))``.

    Notes
    -----
    Each ``s + x`` is computed in float64, which holds it exactly when the exponents of
    ``s`` and ``x`` differ by less than 29 (both have at most 24 significant bits); only
    then is the stochastic rounding unbiased. Values beyond the accumulator's range clamp
    to ``±max`` (as :func:`stochastic_round` does).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w = stochastic_accumulate([1.0] + [1e-4] * 1000, "fp32", rng, accumulator="bf16",
    ...                           runs=400)
    >>> bool(abs(w[:, -1].mean() - 1.1) < 0.01), float(accumulate([1.0] + [1e-4] * 1000,
    ...     "fp32", accumulator="bf16")[-1])
    (True, 1.0)
    """
    f = _format(fmt, floats_only=True)
    acc = f if accumulator is None else _format(accumulator, floats_only=True)
    n_runs = v.scalar_int("runs", runs)
    x = _real("values", values)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a 1-D sequence of numbers, got shape {x.shape}")
    if np.any(_overflows(x, f)):
        raise ValueError(f"values must fit in {f.name} (|x| <= {f.max:g}); some overflow")
    stored = _cast(x, f, saturate=False).astype(np.float64)
    sums = np.empty((n_runs, x.size))
    total = np.zeros(n_runs)
    for i, term in enumerate(stored):
        total = np.asarray(stochastic_round(total + term, acc, rng), dtype=np.float64)
        sums[:, i] = total
    return sums[0] if runs == 1 else sums


class BlockExample(NamedTuple):
    """One block of a block format, holding a chosen value (see :func:`block_example`).

    Attributes
    ----------
    format : BlockFormat
    values, dequantized : numpy.ndarray
        The block (shape ``format.block``, the chosen value first) and what it comes back as.
    block_scale : float
        The block's stored scale (E8M0, E4M3 or fp32; NaN for an MX block whose shared
        exponent would pass 2^127).
    tensor_scale : float or None
        NVFP4's fp32 per-tensor scale (set by this block alone); None for other formats.
    step : float
        What one element unit is worth in this block, ``block_scale × tensor_scale``.
    stored, rel_error : float
        The chosen value as it comes back and ``|stored - value| / |value|`` (0 for 0; inf
        when it comes back as NaN).
    others_rel_rms : float
        Relative RMS error of the block's other values (inf when they come back as NaN).
    others_flushed : float
        Fraction of the other values stored as zero.
    bits_per_value : float
        :func:`bits_per_value` of the format (a large tensor: a per-tensor scale costs
        nothing).
    """

    format: BlockFormat
    values: np.ndarray
    dequantized: np.ndarray
    block_scale: float
    tensor_scale: float | None
    step: float
    stored: float
    rel_error: float
    others_rel_rms: float
    others_flushed: float
    bits_per_value: float


@functools.lru_cache(maxsize=64)
def _standard_normal(shape: tuple[int, ...], seed: int) -> np.ndarray:
    out = np.random.default_rng(seed).standard_normal(shape)
    out.flags.writeable = False
    return out


def block_example(value: Any, fmt: str | BlockFormat, *, seed: int = 0) -> BlockExample:
    """Quantise one block of typical values that holds ``value``: what the block does to it.

    The block has the format's shape (32 values for MX, 16 for NVFP4, 1x128 or 128x128 for
    DeepSeek-V3's tiles), filled with standard normal values
    (``np.random.default_rng(seed)``), and ``value`` replaces its first element. It is
    quantised on its own with :func:`block_quantize` (so NVFP4's per-tensor scale is set by
    this block). A ``value`` far larger than the others is an outlier: it sets the block's
    scale, and the other values lose precision or flush to zero (lesson 04, sections 7 and
    11). Assumptions: the other values are standard normal; a real block has its own.

    Parameters
    ----------
    value : float
        One finite number.
    fmt : str or BlockFormat
        A name of :data:`BLOCK_FORMATS`, or your own :class:`BlockFormat`.
    seed : int
        Seed of the other values (>= 0).

    Returns
    -------
    BlockExample

    Examples
    --------
    An outlier in MXFP4: scale ``2^(5 - 2) = 8``, and ``60 / 8 = 7.5`` clamps to E2M1's 6:

    >>> ex = block_example(60.0, "mxfp4")
    >>> ex.block_scale, ex.stored, f"{ex.others_flushed:.0%}"
    (8.0, 48.0, '97%')
    >>> block_example(60.0, "mxfp8_e4m3").others_flushed
    0.0
    """
    bf = _block_format(fmt)
    x = _real("value", value)
    if x.ndim != 0:
        raise TypeError(f"value must be a single number, got an array of shape {x.shape}")
    block = _standard_normal(bf.block, v.scalar_int("seed", seed, minimum=0)).copy()
    block.flat[0] = float(x)
    q = block_quantize(block, bf)
    deq = q.dequantized
    others = np.ones(block.shape, dtype=bool)
    others.flat[0] = False
    o, od = block[others], deq[others]
    with np.errstate(invalid="ignore", over="ignore"):
        sq_err = float(np.sum((od - o) ** 2))
    others_rel_rms = math.sqrt(sq_err / float(np.sum(o**2))) if math.isfinite(sq_err) else math.inf
    stored = float(deq.flat[0])
    if not math.isfinite(stored):
        rel = math.inf
    else:
        rel = 0.0 if x == 0 else abs(stored - float(x)) / abs(float(x))
    block_scale = float(q.scales.flat[0])
    return BlockExample(
        format=bf, values=block, dequantized=deq, block_scale=block_scale,
        tensor_scale=q.tensor_scale, step=block_scale * (q.tensor_scale or 1.0),
        stored=stored, rel_error=rel, others_rel_rms=others_rel_rms,
        others_flushed=float(np.mean(od == 0)), bits_per_value=bits_per_value(bf),
    )

