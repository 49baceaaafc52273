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

This module imports ml_dtypes; ``import trainmath`` loads it lazily on first use of
:data:`FORMATS` or ``tm.formats``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

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

    @property
    def bias(self) -> int:
        """Exponent bias ``2^(e-1) - 1`` (fp32 127, fp16 15, E4M3 7); 0 for integers."""
        return 2 ** (self.exponent_bits - 1) - 1 if self.is_float else 0

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number, ``1 - bias`` (fp16 -14); 0 for integers."""
        return 1 - self.bias if self.is_float else 0

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
    has_inf = bool(np.isinf(np.array(np.inf).astype(dtype)))
    return NumberFormat(
        name=name, dtype=dtype, bits=int(fi.bits), bytes=fi.bits / 8, max=float(fi.max),
        min=float(fi.min), is_float=True, exponent_bits=int(fi.nexp),
        mantissa_bits=int(fi.nmant), min_normal=float(fi.smallest_normal),
        min_subnormal=float(fi.smallest_subnormal), eps=float(fi.eps), has_inf=has_inf,
        description=description,
    )


def _int(name: str, dtype, description: str) -> NumberFormat:
    dtype = np.dtype(dtype)
    ii = ml_dtypes.iinfo(dtype)
    return NumberFormat(
        name=name, dtype=dtype, bits=int(ii.bits), bytes=ii.bits / 8, max=float(ii.max),
        min=float(ii.min), is_float=False, description=description,
    )


FORMATS: Mapping[str, NumberFormat] = MappingProxyType({
    "fp32": _float("fp32", np.float32, "IEEE 754 binary32, single precision"),
    "fp16": _float("fp16", np.float16, "IEEE 754 binary16, half precision"),
    "bf16": _float("bf16", ml_dtypes.bfloat16, "bfloat16: fp32's range, 8 bits of precision"),
    "fp8_e4m3": _float(
        "fp8_e4m3", ml_dtypes.float8_e4m3fn, "OCP FP8 E4M3 ('fn': no inf, one NaN pattern)"
    ),
    "fp8_e5m2": _float("fp8_e5m2", ml_dtypes.float8_e5m2, "OCP FP8 E5M2 (IEEE-like, has inf)"),
    "int8": _int("int8", np.int8, "two's-complement 8-bit integer"),
    "int4": _int("int4", ml_dtypes.int4, "two's-complement 4-bit integer (two per byte)"),
})


def get_format(name: str) -> NumberFormat:
    """A format by name, with a message listing the valid names."""
    return v.lookup("format", name, FORMATS)


# --- argument checking ---------------------------------------------------------------------


def _format(fmt: str | NumberFormat, *, floats_only: bool = False) -> NumberFormat:
    f = fmt if isinstance(fmt, NumberFormat) else get_format(fmt)
    if floats_only and not f.is_float:
        floats = ", ".join(n for n, g in FORMATS.items() if g.is_float)
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
    E4M3 1/4/3, E5M2 1/5/2; IEEE 754-2019 Table 3.5, OFP8 v1.0 Table 1). Integers:
    ``sign`` and ``integer`` (two's complement: the sign bit weighs ``-2^(n-1)``).
    """
    f = _format(fmt)
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


def _cast(x: np.ndarray, f: NumberFormat, saturate: bool) -> np.ndarray:
    """Core of :func:`cast` on a validated float64 array."""
    if not f.is_float:
        return np.clip(np.rint(x), f.min, f.max).astype(f.dtype)
    if saturate:
        x = np.clip(x, -f.max, f.max)
    with np.errstate(over="ignore"):
        if f.dtype == np.float32:
            return x.astype(np.float32)
        return _to_float32_round_to_odd(x).astype(f.dtype)


def _overflows(x: np.ndarray, f: NumberFormat) -> np.ndarray:
    """Whether each value rounds beyond the largest finite value of ``f``."""
    if not f.is_float:
        r = np.rint(x)
        return (r > f.max) | (r < f.min)
    return ~np.isfinite(_cast(x, f, saturate=False).astype(np.float64))


def cast(x: Any, fmt: str | NumberFormat, *, saturate: bool = False) -> Any:
    """``x`` stored in ``fmt``: a numpy value of the format's dtype, ready for arithmetic.

    Floats are rounded to nearest, ties to even (IEEE 754-2019, Sec. 4.3.1), correctly
    from float64 (see Notes). Out-of-range values overflow the way ml_dtypes and IEEE
    do: to ``inf``, or to NaN for E4M3, which has no infinity (OFP8 v1.0's
    non-saturating mode); with ``saturate=True`` they clamp to ``±max`` instead (OFP8's
    saturating mode, the default of NVIDIA's fp8 conversions).

    Integers (int8, int4) round to nearest, ties to even, and always clamp to
    ``[min, max]``: that is what a quantiser does (numpy's ``astype`` truncates instead and
    wraps out-of-range values: ``np.float64(-9.0).astype(ml_dtypes.int4)`` is 7). Real int8
    weights also carry a scale; see :func:`absmax_quantize`.

    Parameters
    ----------
    x : float or array_like
        Finite real numbers.
    fmt : str or NumberFormat
        A name in :data:`FORMATS`.
    saturate : bool
        Clamp overflowing floats to ``±max``.

    Returns
    -------
    numpy scalar (for a scalar ``x``) or array of ``FORMATS[fmt].dtype``.

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
    finite = np.isfinite(s)
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


def _uint_view(arr: np.ndarray, f: NumberFormat) -> int:
    uint = {1: np.uint8, 2: np.uint16, 4: np.uint32}[arr.dtype.itemsize]
    return int(arr.view(uint)) & ((1 << f.bits) - 1)


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
        If ``value`` is not one finite real number (the message names ``value``).

    Examples
    --------
    >>> encode(-2.5, "fp16").bits_text()
    '1|10000|0100000000'
    """
    f = _format(fmt)
    x = _real("value", value)
    if x.ndim != 0:
        raise TypeError(f"value must be a single number, got an array of shape {x.shape}")
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
        fp32 and E5M2; ``S.1111.111`` in E4M3).

    Examples
    --------
    >>> decode("0 10001 1000000000", "fp16")
    6.0
    """
    f = _format(fmt)
    if not isinstance(bits, str):
        raise TypeError(f"bits must be a str of 0s and 1s, got {type(bits).__name__}")
    digits = "".join(ch for ch in bits if ch not in " |_")
    if len(digits) != f.bits or set(digits) - {"0", "1"}:
        raise ValueError(
            f"bits must be {f.bits} characters 0/1 for {f.name} "
            f"(spaces, | and _ between fields are ignored), got {bits!r}"
        )
    uint = {1: np.uint8, 2: np.uint16, 4: np.uint32}[f.dtype.itemsize]
    with np.errstate(invalid="ignore"):
        return float(np.array(int(digits, 2), dtype=uint).view(f.dtype).astype(np.float64))


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
    stored = _cast(x, f, saturate=False).astype(np.float64)
    if not np.all(np.isfinite(stored)):
        raise ValueError(f"values must fit in {f.name} (|x| <= {f.max:g}); some overflow")
    in_acc = _cast(stored, acc, saturate=False)
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


def weight_memory(model: Any, fmt: str | NumberFormat) -> float:
    """Bytes to hold a model's weights in ``fmt``: parameters x bytes per value.

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
    """
    f = _format(fmt)
    if isinstance(model, (str, ModelConfig)):
        n = param_count(get_model(model))
    else:
        n = v.nonnegative("model (a parameter count)", model)
    return v.result(n * f.bytes)
