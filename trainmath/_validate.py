"""Argument checking shared by every public function.

Each helper returns the value as a float/int or a numpy array and raises a
``TypeError`` or ``ValueError`` whose message names the argument and the allowed
range, so that a learner who types something odd sees what went wrong.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "positive",
    "nonnegative",
    "positive_int",
    "fraction",
    "choice",
    "lookup",
    "result",
]


def _as_numeric(name: str, value: Any) -> float | np.ndarray:
    """Return ``value`` as a float or float array, rejecting non-numbers."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got a bool ({value!r})")
    if isinstance(value, numbers.Real):
        out: float | np.ndarray = float(value)
    elif isinstance(value, (np.ndarray, list, tuple)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            raise TypeError(
                f"{name} must be a number or an array of numbers, got dtype {arr.dtype}"
            )
        out = arr.astype(float)
    else:
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def positive(name: str, value: Any) -> float | np.ndarray:
    """A finite number (or array) > 0."""
    out = _as_numeric(name, value)
    if not np.all(out > 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return out


def nonnegative(name: str, value: Any) -> float | np.ndarray:
    """A finite number (or array) >= 0."""
    out = _as_numeric(name, value)
    if not np.all(out >= 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return out


def fraction(name: str, value: Any, *, allow_zero: bool = False) -> float | np.ndarray:
    """A number in (0, 1] (or [0, 1] with ``allow_zero``), e.g. a utilisation."""
    out = _as_numeric(name, value)
    low_ok = out >= 0 if allow_zero else out > 0
    if not np.all(low_ok & (out <= 1)):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(
            f"{name} must be in {interval} (a fraction, not a percentage), got {value!r}"
        )
    return out


def positive_int(name: str, value: Any, *, minimum: int = 1) -> int | np.ndarray:
    """An integer (or integer array) >= ``minimum``; integral floats such as 8.0 are accepted."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got a bool ({value!r})")
    if isinstance(value, numbers.Integral):
        out: int | np.ndarray = int(value)
    elif isinstance(value, numbers.Real):
        if not np.isfinite(value) or float(value) != int(value):
            raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
        out = int(value)
    elif isinstance(value, (np.ndarray, list, tuple)):
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError(f"{name} must contain whole numbers >= {minimum}, got {value!r}")
            arr = arr.astype(np.int64)
        elif arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an integer or an integer array, got dtype {arr.dtype}")
        out = arr.astype(np.int64)
    else:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} ({value!r})")
    if not np.all(np.asarray(out) >= minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return out


def choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """One of a fixed set of strings."""
    allowed = tuple(allowed)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {allowed}, got {type(value).__name__} ({value!r})")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def lookup(name: str, value: Any, table: Mapping[str, Any]) -> Any:
    """``table[value]`` with a message listing the valid keys when it is missing."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a name (str), got {type(value).__name__} ({value!r})")
    try:
        return table[value]
    except KeyError:
        valid = ", ".join(sorted(table))
        raise ValueError(f"unknown {name} {value!r}; valid names: {valid}") from None


def result(x: Any) -> float | np.ndarray:
    """A Python float for 0-d results (scalar in, scalar out); arrays pass through."""
    return float(x) if np.ndim(x) == 0 else x
