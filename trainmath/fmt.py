"""Display formatting. The library computes in SI units; only these functions make text."""

from __future__ import annotations

import math

__all__ = ["si", "flops", "flop_rate", "bytes_", "duration", "count", "percent", "money"]

_PREFIXES = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"]
_SMALL = ["", "m", "µ", "n", "p"]


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``value`` with an SI prefix and ``digits`` significant figures: 3.14e23 -> '314 ZFLOP'."""
    if value is None or not math.isfinite(value):
        return f"{value} {unit}".strip()
    if value == 0:
        return f"0 {unit}".strip()
    if abs(value) < 1:
        exp3 = min(-int(math.floor(math.log10(abs(value)) / 3)), len(_SMALL) - 1)
        scaled = value * 10 ** (3 * exp3)
        if abs(float(f"{scaled:.{digits}g}")) >= 1000 and exp3 > 0:
            exp3 -= 1
            scaled = value * 10 ** (3 * exp3)
        return f"{scaled:.{digits}g} {_SMALL[exp3]}{unit}".strip()
    if abs(value) >= 1e27:  # past the largest prefix: plain scientific notation
        return f"{value:.{digits}g} {unit}".strip()
    exp3 = min(max(int(math.floor(math.log10(abs(value)) / 3)), 0), len(_PREFIXES) - 1)
    scaled = value / 10 ** (3 * exp3)
    if abs(float(f"{scaled:.{digits}g}")) >= 1000 and exp3 < len(_PREFIXES) - 1:
        exp3 += 1  # rounding reached the next prefix: 999.7 T -> 1 P
        scaled = value / 10 ** (3 * exp3)
    text = f"{scaled:.{digits}g}"
    if "e" in text:
        text = f"{scaled:.0f}"
    return f"{text} {_PREFIXES[exp3]}{unit}".strip()


def flops(value: float) -> str:
    """A FLOP count in scientific notation, the way papers print it: '3.14e+23 FLOPs'."""
    return f"{value:.3g} FLOPs"


def flop_rate(value: float) -> str:
    """A rate: '989 TFLOP/s'."""
    return si(value, "FLOP/s")


def bytes_(value: float, binary: bool = False) -> str:
    """Bytes in GB (decimal, default) or GiB (binary): '16.6 GB', '15.5 GiB'."""
    if binary:
        units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        i = 0 if value < 1 else min(int(math.log(value, 1024)), len(units) - 1)
        scaled = value / 1024**i
        text = f"{scaled:.3g}"
        return f"{scaled:,.0f} {units[i]}" if "e" in text else f"{text} {units[i]}"
    return si(value, "B")


def duration(seconds: float) -> str:
    """Seconds as the largest sensible unit: '2.67 days', '5.3 h', '41 s'."""
    for size, unit in ((365.25 * 86400, "years"), (86400, "days"), (3600, "h"), (60, "min")):
        if abs(seconds) >= size:
            value = seconds / size
            return f"{value:,.0f} {unit}" if abs(value) >= 1000 else f"{value:.3g} {unit}"
    return f"{seconds:.3g} s"


def _suffixed(value: float, steps: tuple[tuple[float, str], ...], limit: float) -> str | None:
    """``value`` over the largest step it reaches, 3 significant figures ('1.4T'), or None.

    Rounds first, so 999.96e9 becomes '1T', not '1e+03B'; at ``limit`` and beyond, plain
    scientific notation ('1.2e15'), where a suffix would need four digits.
    """
    rounded = float(f"{value:.3g}")
    if abs(rounded) >= limit:
        return f"{rounded:.3g}".replace("e+", "e")
    for size, suffix in steps:
        if abs(rounded) >= size:
            return f"{rounded / size:.3g}{suffix}"
    return None


def count(value: float) -> str:
    """Parameters or tokens the way the field says them: '175B', '1.4T', '124M', '3e15'."""
    if not math.isfinite(value):
        return f"{value}"
    steps = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
    return _suffixed(value, steps, limit=1e15) or f"{value:.3g}"


def percent(fraction: float, digits: int = 3) -> str:
    """A fraction as a percentage, ``digits`` significant figures: 0.462 -> '46.2%'."""
    value = 100 * fraction
    if value == 0 or not math.isfinite(value):
        return f"{value:g}%"
    decimals = max(digits - 1 - int(math.floor(math.log10(abs(value)))), 0)
    return f"{value:.{decimals}f}%"


def money(value: float, currency: str = "$") -> str:
    """'$1.23M' style amounts."""
    if not math.isfinite(value):
        return f"{currency}{value}"
    steps = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
    text = _suffixed(value, steps, limit=1e15)
    if text is not None:
        return f"{currency}{text}"
    return f"{currency}{value:,.2f}" if abs(value) < 100 else f"{currency}{value:,.0f}"
