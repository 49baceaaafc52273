"""Units of compute, time, memory and money, and the conversions between them.

FLOPs is a count of operations; FLOP/s a rate. A rate times a time is a count again,
so "PFLOP/s-days" (1e15 FLOP/s sustained for 86,400 s = 8.64e19 FLOPs) is a count,
used by Brown et al. 2020 (GPT-3), Table D.1. A GPU-hour is one accelerator busy for
an hour: it only becomes FLOPs once you know the accelerator, the dtype and the
utilisation actually achieved.
"""

from __future__ import annotations

from trainmath import _validate as v

__all__ = [
    "SECONDS_PER_HOUR",
    "SECONDS_PER_DAY",
    "PFLOP_DAY",
    "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB",
    "to_pflop_days",
    "from_pflop_days",
    "gpu_hours",
    "gpu_hours_to_flops",
    "cost",
]

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400
#: One petaFLOP/s sustained for one day, in FLOPs (GPT-3, Table D.1 footnote).
PFLOP_DAY = 1e15 * SECONDS_PER_DAY

# Decimal (SI) and binary (IEC) byte multiples. Vendors print GB; tools often mean GiB.
KB, MB, GB, TB = 10**3, 10**6, 10**9, 10**12
KiB, MiB, GiB, TiB = 2**10, 2**20, 2**30, 2**40


def to_pflop_days(flops):
    """FLOPs -> PFLOP/s-days (divide by 8.64e19)."""
    return v.result(v.nonnegative("flops", flops) / PFLOP_DAY)


def from_pflop_days(pflop_days):
    """PFLOP/s-days -> FLOPs (multiply by 8.64e19)."""
    return v.result(v.nonnegative("pflop_days", pflop_days) * PFLOP_DAY)


def gpu_hours(flops, peak_flops, mfu=1.0):
    """Accelerator-hours needed for ``flops`` at ``mfu`` of a ``peak_flops`` FLOP/s device.

    ``flops / (peak_flops * mfu) / 3600``. Independent of how many GPUs share the work:
    twice the GPUs finish in half the time, for the same GPU-hours (if MFU holds).
    """
    c = v.nonnegative("flops", flops)
    peak = v.positive("peak_flops", peak_flops)
    u = v.fraction("mfu", mfu)
    return v.result(c / (peak * u) / SECONDS_PER_HOUR)


def gpu_hours_to_flops(hours, peak_flops, mfu=1.0):
    """GPU-hours -> FLOPs actually delivered: ``hours * 3600 * peak_flops * mfu``."""
    h = v.nonnegative("hours", hours)
    peak = v.positive("peak_flops", peak_flops)
    u = v.fraction("mfu", mfu)
    return v.result(h * SECONDS_PER_HOUR * peak * u)


def cost(gpu_hours, price_per_gpu_hour):
    """Money for ``gpu_hours`` at a price per accelerator-hour (same currency out)."""
    h = v.nonnegative("gpu_hours", gpu_hours)
    p = v.nonnegative("price_per_gpu_hour", price_per_gpu_hour)
    return v.result(h * p)
