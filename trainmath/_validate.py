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
    "scalar_int",
    "fraction",
    "flag",
    "zero_stage",
    "divides",
    "choice",
    "lookup",
    "instance",
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


def scalar_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """A single integer >= ``minimum`` (not an array): a shape, a seed, a cluster size."""
    out = positive_int(name, value, minimum=minimum)
    if not isinstance(out, int):
        raise TypeError(f"{name} must be a single integer >= {minimum}, got an array ({value!r})")
    return out


def flag(name: str, value: Any, *, allow_none: bool = False) -> bool | None:
    """``True`` or ``False`` (or ``None`` with ``allow_none``); 0, 1 and "False" are refused."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        allowed = "True, False or None" if allow_none else "True or False"
        raise TypeError(f"{name} must be {allowed}, got {type(value).__name__} ({value!r})")
    return bool(value)


def flags(name: str, value: Any) -> bool | np.ndarray:
    """``True``/``False``, or an array of them (one choice per layout); 0/1 and strings refused."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if value.dtype != np.bool_:
            raise TypeError(f"{name} must be True or False (or an array of them), got an array "
                            f"of dtype {value.dtype}")
        return value
    return flag(name, value)


def zero_stage(name: str, value: Any) -> int | np.ndarray:
    """A ZeRO stage (Rajbhandari et al. 2019) 0, 1, 2 or 3, or an array of them.

    0 is plain data parallelism; 1 shards the optimizer states, 2 also the gradients, 3 also
    the weights. 1.5, -1 and 4 get the same message.
    """
    try:
        out = positive_int(name, value, minimum=0)
        ok = not np.any(np.asarray(out) > 3)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a ZeRO stage 0, 1, 2 or 3, got {value!r}") from None
    return out


def divides(name: str, value: Any, of_name: str, of_value: Any, *, note: str = "") -> None:
    """Check that the integer(s) ``value`` divide ``of_value`` (elementwise for arrays).

    ``note`` is added to the message, e.g. ``"unless head_dim is given"``.
    """
    if np.any(np.asarray(of_value) % np.asarray(value)):
        extra = f" {note}" if note else ""
        raise ValueError(
            f"{name} must divide {of_name}{extra} (got {name}={value!r}, {of_name}={of_value!r})"
        )


def instance(name: str, value: Any, cls: type) -> Any:
    """``value`` itself when it is a ``cls`` (a ModelConfig, an Accelerator), else a TypeError.

    The message says how to get one when the class has an ``EXAMPLE`` attribute, e.g.
    ``"tm.get_model('gpt2')"``.
    """
    if not isinstance(value, cls):
        example = getattr(cls, "EXAMPLE", "")
        how = f" (e.g. {example})" if example else ""
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise TypeError(
            f"{name} must be a trainmath.{cls.__name__}{how}, got {type(value).__name__} ({shown})"
        )
    return value


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
