"""Number formats used in training: bits, range and precision, read from ml_dtypes.

Floating-point formats store sign, exponent and mantissa bits. The exponent bits set
the range (largest finite value, smallest normal value); the mantissa bits set the
precision: ``eps = 2^-mantissa_bits`` is the gap between 1 and the next number.
Integers (int8, int4) have a fixed step of 1 and rely on a scale factor.

This module imports ml_dtypes; ``import trainmath`` loads it lazily on first use of
:data:`FORMATS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

__all__ = ["NumberFormat", "FORMATS", "get_format"]


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


FORMATS: dict[str, NumberFormat] = {
    "fp32": _float("fp32", np.float32, "IEEE 754 binary32, single precision"),
    "fp16": _float("fp16", np.float16, "IEEE 754 binary16, half precision"),
    "bf16": _float("bf16", ml_dtypes.bfloat16, "bfloat16: fp32's range, 8 bits of precision"),
    "fp8_e4m3": _float(
        "fp8_e4m3", ml_dtypes.float8_e4m3fn, "OCP FP8 E4M3 ('fn': no inf, one NaN pattern)"
    ),
    "fp8_e5m2": _float("fp8_e5m2", ml_dtypes.float8_e5m2, "OCP FP8 E5M2 (IEEE-like, has inf)"),
    "int8": _int("int8", np.int8, "two's-complement 8-bit integer"),
    "int4": _int("int4", ml_dtypes.int4, "two's-complement 4-bit integer (two per byte)"),
}


def get_format(name: str) -> NumberFormat:
    """A format by name, with a message listing the valid names."""
    from trainmath._validate import lookup

    return lookup("format", name, FORMATS)
