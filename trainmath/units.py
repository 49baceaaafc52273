"""Units of compute, time, memory and money, and the conversions between them.

FLOPs is a count of operations; FLOP/s a rate. A rate times a time is a count again,
so "PFLOP/s-days" (1e15 FLOP/s sustained for 86,400 s = 8.64e19 FLOPs) is a count,
used by Brown et al. 2020 (GPT-3), Table D.1. A GPU-hour is one accelerator busy for
an hour: it only becomes FLOPs once you know the accelerator, the dtype and the
utilisation actually achieved (:func:`convert_compute` converts between FLOP, PFLOP/s-day,
GPU-hour and money; :func:`implied_utilisation` reads a model card's GPU-hours backwards).
Data-sheet peaks "with sparsity" are 2x the dense peaks that training can use. Bytes come
in decimal (GB = 1e9) and binary (GiB = 2**30) multiples; tools mix them up.

The compute/time/cost core
--------------------------
One equation links a count of FLOPs, a cluster and a time (Kaplan et al. 2020, Sec. 2.1;
PaLM, Chowdhery et al. 2022, App. B):

    C = tau * T,    tau = n_gpus * peak_flops * MFU.

Every function below solves it for one quantity, and all of them name and order their
arguments the same way: the quantity converted first, then ``n_gpus``, ``peak_flops``,
``mfu`` and ``price_per_gpu_hour`` (those it needs, in that order; all but the first may be
passed by keyword). The two that read a finished run backwards take what was measured in
place of what it determines: ``achieved_flops_per_gpu(flops, n_gpus, seconds)`` is
:func:`training_time` with the time given and ``peak_flops * mfu`` returned, and
``implied_utilisation(flops, gpu_hours, peak_flops)`` returns the ``mfu`` of
:func:`gpu_hours`. ``mfu`` defaults to 1, the peak (a lower bound on time), except where a
price follows it. Each formula is written once; the rest call it.

    delivered_flop_rate(n_gpus, peak_flops, mfu=1)        tau = n peak MFU           FLOP/s
    flops_from_rate(flop_rate, seconds)                   C = tau T                  FLOP
    training_time(flops, n_gpus, peak_flops, mfu=1)       T = C / tau                s
    flops_in_days(days, n_gpus, peak_flops, mfu=1)        C = tau days 86400         FLOP
    gpu_hours(flops, peak_flops, mfu=1)                   n T / 3600                 GPU-hour
    gpu_hours_to_flops(gpu_hours, peak_flops, mfu=1)      its inverse                FLOP
    cost(gpu_hours, price_per_gpu_hour)                   GPU-hours x price          money
    flops_to_cost(flops, peak_flops, mfu, price_per_gpu_hour)     cost of gpu_hours  money
    budget_to_flops(budget, peak_flops, mfu, price_per_gpu_hour)  its inverse        FLOP
    achieved_flops_per_gpu(flops, n_gpus, seconds)        C / (n T) = peak MFU       FLOP/s
    implied_utilisation(flops, gpu_hours, peak_flops)     C / (C of the hours at peak)

:func:`trainmath.compute.mfu` reads the same equation from a throughput log (tokens/s x
FLOPs per token over ``delivered_flop_rate`` at peak). :func:`implied_flops_per_gpu` is an
alias kept for older code.
"""

from __future__ import annotations

import numpy as np

from trainmath import _validate as v

__all__ = [
    "SECONDS_PER_HOUR",
    "SECONDS_PER_DAY",
    "PFLOP_DAY",
    "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB",
    "to_pflop_days",
    "from_pflop_days",
    "delivered_flop_rate",
    "flops_from_rate",
    "training_time",
    "flops_in_days",
    "gpu_hours",
    "gpu_hours_to_flops",
    "cost",
    "flops_to_cost",
    "budget_to_flops",
    "achieved_flops_per_gpu",
    "implied_utilisation",
    "implied_flops_per_gpu",
    "COMPUTE_UNITS",
    "SPARSITY_2_4_SPEEDUP",
    "to_flops",
    "from_flops",
    "convert_compute",
    "sparse_peak_flops",
    "dense_peak_flops",
    "bytes_to_gb",
    "bytes_to_gib",
    "gb_to_gib",
    "gib_to_gb",
    "binary_prefix_ratio",
]

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400
#: One petaFLOP/s sustained for one day, in FLOPs (GPT-3, Table D.1 footnote).
PFLOP_DAY = 1e15 * SECONDS_PER_DAY

# Decimal (SI) and binary (IEC) byte multiples. Vendors print GB; tools often mean GiB.
KB, MB, GB, TB = 10**3, 10**6, 10**9, 10**12
KiB, MiB, GiB, TiB = 2**10, 2**20, 2**30, 2**40

#: Units that :func:`convert_compute` converts between. ``"FLOP"`` is a count of operations;
#: ``"PFLOP/s-day"`` is 1e15 FLOP/s for a day (a count too, 8.64e19 FLOP); ``"GPU-hour"`` is
#: one accelerator busy for an hour (FLOPs only given its peak and utilisation);
#: ``"USD"`` is money at a price per GPU-hour (any currency works if used consistently).
COMPUTE_UNITS = ("FLOP", "PFLOP/s-day", "GPU-hour", "USD")

#: Factor by which 2:4 structured sparsity raises a tensor-core peak on the data sheets of
#: NVIDIA's Ampere and Hopper GPUs (A100, H100, H200): 2 of every 4 weights are zero and
#: skipped. Dense training cannot use it, so the course always works with dense peaks.
SPARSITY_2_4_SPEEDUP = 2.0


def to_pflop_days(flops):
    """FLOPs -> PFLOP/s-days (divide by 8.64e19)."""
    return v.result(v.nonnegative("flops", flops) / PFLOP_DAY)


def from_pflop_days(pflop_days):
    """PFLOP/s-days -> FLOPs (multiply by 8.64e19)."""
    return v.result(v.nonnegative("pflop_days", pflop_days) * PFLOP_DAY)


# --- the compute/time/cost core: C = n_gpus * peak * MFU * T ---------------------------------


def delivered_flop_rate(n_gpus, peak_flops, mfu=1.0):
    """FLOP/s a cluster delivers: ``tau = n_gpus * peak_flops * mfu``.

    The one place the course forms the rate tau of ``C = tau T``; every time, GPU-hour and
    cost conversion below goes through it.

    Parameters
    ----------
    n_gpus : int or array
        Accelerators (1 for the rate of one GPU).
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.
    mfu : float or array
        Model FLOPs utilisation in (0, 1]; the default 1 gives the peak rate.

    Returns
    -------
    float or array
        A rate in FLOP/s. Arrays broadcast.

    Source: Transformer Math 101 (Anthony et al. 2023), ``C = tau T``; MFU as defined by PaLM
    (Chowdhery et al. 2022, App. B). Assumptions: every accelerator sustains the same
    fraction ``mfu`` of its dense (not 2:4-sparse) peak.
    """
    n = v.positive_int("n_gpus", n_gpus)
    peak = v.positive("peak_flops", peak_flops)
    u = v.fraction("mfu", mfu)
    return v.result(n * peak * u)


def flops_from_rate(flop_rate, seconds):
    """FLOPs done at ``flop_rate`` FLOP/s for ``seconds``: rate x time = count (C = tau T).

    Parameters
    ----------
    flop_rate : float or array
        A rate in FLOP/s (e.g. 312e12 for an A100's dense bf16 peak, or a cluster's
        :func:`delivered_flop_rate`).
    seconds : float or array
        Duration in seconds. Arrays broadcast.

    Returns
    -------
    float or array
        A count of FLOPs. What seed texts call "FLOP-seconds" is this product: the unit of
        (FLOP/s) x s is FLOP, not FLOP x s.

    Source: the identity C = tau * T (Kaplan et al. 2020, Sec. 2.1 uses PF-days the same way).
    Assumptions: the rate is sustained for the whole duration.
    """
    r = v.nonnegative("flop_rate", flop_rate)
    t = v.nonnegative("seconds", seconds)
    return v.result(r * t)


def training_time(flops, n_gpus, peak_flops, mfu=1.0):
    """Wall-clock seconds to do ``flops`` on a cluster: T = C / tau, tau = n * peak * MFU.

    Parameters
    ----------
    flops : float or array
        Total FLOPs C (a count, not a rate), >= 0.
    n_gpus : int or array
        Number of accelerators.
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.
    mfu : float or array
        Model FLOPs utilisation in (0, 1]; 1.0 gives the lower bound.

    Source: ``C = tau T`` (Kaplan et al. 2020, Sec. 2.1; Transformer Math 101).
    Assumptions: the cluster sustains :func:`delivered_flop_rate` for the whole run (fold
    restarts and idle time into ``mfu``).
    """
    c = v.nonnegative("flops", flops)
    return v.result(c / delivered_flop_rate(n_gpus, peak_flops, mfu))


def flops_in_days(days, n_gpus, peak_flops, mfu=1.0):
    """FLOPs a cluster delivers in ``days``: ``C = n_gpus * peak * MFU * days * 86400``.

    The inverse of :func:`training_time` with the time in days (C = tau T, Kaplan et al.
    2020, Sec. 2.1): what a time budget on a given cluster buys.

    Parameters
    ----------
    days : float or array
        Wall-clock days of training, > 0.
    n_gpus : int or array
        Accelerators.
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.
    mfu : float or array
        Model FLOPs utilisation in (0, 1].

    Assumptions: the utilisation holds for the whole time (no restarts or idle days unless
    folded into ``mfu``).
    """
    d = v.positive("days", days)
    return flops_from_rate(delivered_flop_rate(n_gpus, peak_flops, mfu), d * SECONDS_PER_DAY)


def gpu_hours(flops, peak_flops, mfu=1.0):
    """Accelerator-hours needed for ``flops`` at ``mfu`` of a ``peak_flops`` FLOP/s device.

    ``flops / (peak_flops * mfu) / 3600``: the :func:`training_time` of one GPU, in hours.
    Independent of how many GPUs share the work: twice the GPUs finish in half the time,
    for the same GPU-hours (if MFU holds).

    Parameters
    ----------
    flops : float or array
        Work, a count of FLOPs, >= 0.
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.
    mfu : float or array
        Utilisation achieved, in (0, 1].

    Source: definition (n GPUs for T hours are n T GPU-hours). Assumptions: as
    :func:`training_time`.
    """
    return v.result(training_time(flops, 1, peak_flops, mfu) / SECONDS_PER_HOUR)


def gpu_hours_to_flops(gpu_hours, peak_flops, mfu=1.0):
    """GPU-hours -> FLOPs actually delivered: ``gpu_hours * 3600 * peak_flops * mfu``.

    The inverse of :func:`gpu_hours`: one GPU at :func:`delivered_flop_rate` for
    ``gpu_hours * 3600`` seconds.

    Parameters
    ----------
    gpu_hours : float or array
        Accelerator-hours, >= 0.
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.
    mfu : float or array
        Utilisation achieved, in (0, 1].

    Source: definition; GPU-hours as the Llama model cards report them. Assumptions: every
    hour delivers ``peak_flops * mfu`` FLOP/s.
    """
    h = v.nonnegative("gpu_hours", gpu_hours)
    return flops_from_rate(delivered_flop_rate(1, peak_flops, mfu), h * SECONDS_PER_HOUR)


def cost(gpu_hours, price_per_gpu_hour):
    """Money for ``gpu_hours`` at a price per accelerator-hour (same currency out).

    Parameters
    ----------
    gpu_hours : float or array
        Accelerator-hours, >= 0.
    price_per_gpu_hour : float or array
        Price of one accelerator-hour, >= 0.

    Source: definition. Assumptions: one flat price per hour (no storage, network or staff
    costs).
    """
    h = v.nonnegative("gpu_hours", gpu_hours)
    p = v.nonnegative("price_per_gpu_hour", price_per_gpu_hour)
    return v.result(h * p)


def flops_to_cost(flops, peak_flops, mfu, price_per_gpu_hour):
    """Money to do ``flops`` on accelerators rented at ``price_per_gpu_hour``.

    ``flops / (peak_flops * mfu) / 3600 * price``: :func:`gpu_hours` then :func:`cost`.

    Parameters
    ----------
    flops : float or array
        Work, a count of FLOPs.
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.
    mfu : float or array
        Utilisation achieved, in (0, 1].
    price_per_gpu_hour : float or array
        Price of one accelerator-hour; the result is in the same currency.

    Source: definition. Assumptions: you pay for every hour at one flat price (no idle
    hours beyond what ``mfu`` already absorbs, no storage, network or staff costs).
    """
    return cost(gpu_hours(flops, peak_flops, mfu), price_per_gpu_hour)


def budget_to_flops(budget, peak_flops, mfu, price_per_gpu_hour):
    """FLOPs a budget buys: ``budget / price * 3600 * peak_flops * mfu``.

    The inverse of :func:`flops_to_cost`, with the same arguments in the same order: the
    money buys ``budget / price`` GPU-hours (:func:`gpu_hours_to_flops`).

    Parameters
    ----------
    budget : float or array
        Money to spend (same currency as the price), >= 0.
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.
    mfu : float or array
        Utilisation achieved, in (0, 1].
    price_per_gpu_hour : float or array
        Price of one accelerator-hour, > 0.

    Source: inverse of :func:`flops_to_cost`. Assumptions: as :func:`flops_to_cost`.
    """
    b = v.nonnegative("budget", budget)
    p = v.positive("price_per_gpu_hour", price_per_gpu_hour)
    return gpu_hours_to_flops(b / p, peak_flops, mfu)


def achieved_flops_per_gpu(flops, n_gpus, seconds):
    """Average FLOP/s each accelerator delivered: ``C / (n_gpus * T)``.

    ``C = tau T`` read backwards: what a run that did ``flops`` on ``n_gpus`` in ``seconds``
    delivered per GPU, i.e. ``peak_flops * MFU`` when ``flops`` counts model FLOPs. For a
    model card's GPU-hours pass ``n_gpus=1, seconds=gpu_hours * 3600`` (one GPU for that
    long did the same work).

    Parameters
    ----------
    flops : float or array
        The work done, a count (usually 6ND), >= 0.
    n_gpus : int or array
        Accelerators the run used.
    seconds : float or array
        Wall-clock seconds it took, > 0. Arrays broadcast.

    Source: definition (HyperCLOVA's 13.4 days in lesson 01; Llama model cards in lesson 02).
    Assumptions: the time is spent entirely on ``flops``. Published times and hours usually
    also cover restarts, failures and evaluation, so the result is a lower bound on the
    rate achieved while training was actually running.
    """
    c = v.nonnegative("flops", flops)
    n = v.positive_int("n_gpus", n_gpus)
    t = v.positive("seconds", seconds)
    return v.result(c / (n * t))


def implied_utilisation(flops, gpu_hours, peak_flops):
    """Share of the peak that ``gpu_hours`` must have sustained to do ``flops``.

    ``flops / (gpu_hours * 3600 * peak_flops)``: the FLOPs done over what those hours could
    do at the peak (:func:`gpu_hours_to_flops` with MFU 1). It is MFU when ``flops`` counts
    model FLOPs (PaLM, Chowdhery et al. 2022, App. B), but averaged over every hour billed,
    idle ones included. It may exceed 1 when ``flops`` or ``gpu_hours`` are wrong: no
    clipping.

    Parameters
    ----------
    flops : float or array
        Model FLOPs of the run (6ND, or 6ND plus attention), >= 0.
    gpu_hours : float or array
        Accelerator-hours spent, > 0.
    peak_flops : float or array
        Dense peak FLOP/s of one accelerator in the training dtype.

    Source: definition of MFU (PaLM, App. B); Llama 3 paper (arXiv:2407.21783), Table 4,
    reports 38-43 % for 405B while the model card's hours imply less (see lesson 02).
    Assumptions: as :func:`achieved_flops_per_gpu`; a dense (not 2:4-sparse) peak.
    """
    c = v.nonnegative("flops", flops)
    h = v.positive("gpu_hours", gpu_hours)
    return v.result(c / gpu_hours_to_flops(h, peak_flops))


def implied_flops_per_gpu(flops, gpu_hours):
    """Alias of ``achieved_flops_per_gpu(flops, 1, gpu_hours * 3600)``.

    Average FLOP/s each accelerator delivered, from a model card's GPU-hours. It exists so
    that code written before the compute/time/cost core keeps working; lessons call
    :func:`achieved_flops_per_gpu` (or :func:`implied_utilisation` for the share of peak).
    """
    return achieved_flops_per_gpu(flops, 1, v.positive("gpu_hours", gpu_hours) * SECONDS_PER_HOUR)


def _unit(name: str, unit) -> str:
    return v.choice(name, unit, COMPUTE_UNITS)


def _needs(unit: str, peak_flops, price_per_gpu_hour):
    """The peak (and price) a unit needs to be turned into FLOPs, validated."""
    if unit in ("GPU-hour", "USD") and peak_flops is None:
        raise ValueError(f"peak_flops (FLOP/s of one accelerator) is needed to convert {unit}")
    if unit == "USD" and price_per_gpu_hour is None:
        raise ValueError("price_per_gpu_hour is needed to convert USD")


def to_flops(value, unit, peak_flops=None, mfu=1.0, price_per_gpu_hour=None):
    """A quantity of compute in ``unit`` (one of :data:`COMPUTE_UNITS`) -> FLOPs.

    Parameters
    ----------
    value : float or array
        The quantity, >= 0.
    unit : {"FLOP", "PFLOP/s-day", "GPU-hour", "USD"}
    peak_flops : float or array, optional
        Dense peak FLOP/s of one accelerator; needed for "GPU-hour" and "USD".
    mfu : float or array
        Utilisation in (0, 1] at which GPU-hours deliver FLOPs (default 1: peak).
    price_per_gpu_hour : float or array, optional
        Needed for "USD"; must then be > 0.

    Source: PFLOP/s-day as in Brown et al. 2020, Table D.1; GPU-hours as in the Llama model
    cards. Assumptions: every GPU-hour delivers ``peak_flops * mfu`` FLOP/s.
    """
    unit = _unit("unit", unit)
    _needs(unit, peak_flops, price_per_gpu_hour)
    if unit == "FLOP":
        return v.result(v.nonnegative("value", value))
    if unit == "PFLOP/s-day":
        return from_pflop_days(v.nonnegative("value", value))
    if unit == "GPU-hour":
        return gpu_hours_to_flops(v.nonnegative("value", value), peak_flops, mfu)
    return budget_to_flops(v.nonnegative("value", value), peak_flops, mfu, price_per_gpu_hour)


def from_flops(flops, unit, peak_flops=None, mfu=1.0, price_per_gpu_hour=None):
    """FLOPs -> a quantity in ``unit`` (one of :data:`COMPUTE_UNITS`); inverse of :func:`to_flops`.

    Parameters
    ----------
    flops : float or array
        A count of FLOPs, >= 0.
    unit : {"FLOP", "PFLOP/s-day", "GPU-hour", "USD"}
    peak_flops, mfu, price_per_gpu_hour
        As in :func:`to_flops` ("USD" accepts a price of 0, which gives 0).

    Source and assumptions: as :func:`to_flops`.
    """
    unit = _unit("unit", unit)
    _needs(unit, peak_flops, price_per_gpu_hour)
    c = v.nonnegative("flops", flops)
    if unit == "FLOP":
        return v.result(c)
    if unit == "PFLOP/s-day":
        return to_pflop_days(c)
    if unit == "GPU-hour":
        return gpu_hours(c, peak_flops, mfu)
    return flops_to_cost(c, peak_flops, mfu, price_per_gpu_hour)


def convert_compute(
    value, from_unit, to_unit, *, peak_flops=None, mfu=1.0, price_per_gpu_hour=None
):
    """Convert compute between FLOP, PFLOP/s-day, GPU-hour and USD.

    >>> convert_compute(1, "PFLOP/s-day", "FLOP")
    8.64e+19
    >>> round(convert_compute(1, "GPU-hour", "PFLOP/s-day", peak_flops=312e12, mfu=0.5), 4)
    0.0065

    Parameters
    ----------
    value : float or array
        The quantity in ``from_unit``, >= 0.
    from_unit, to_unit : {"FLOP", "PFLOP/s-day", "GPU-hour", "USD"}
    peak_flops : float or array, optional
        Dense peak FLOP/s of one accelerator in the training dtype; needed whenever
        GPU-hours or money are involved (a GPU-hour means nothing without it).
    mfu : float or array
        Utilisation in (0, 1] (default 1, the theoretical peak).
    price_per_gpu_hour : float or array, optional
        Price of one accelerator-hour, needed whenever USD is involved.

    Source: PFLOP/s-day = 1e15 FLOP/s x 86,400 s (Brown et al. 2020, Table D.1).
    Assumptions: every GPU-hour delivers ``peak_flops * mfu`` FLOP/s and costs one price.
    """
    _unit("to_unit", to_unit)
    flops = to_flops(value, _unit("from_unit", from_unit), peak_flops, mfu, price_per_gpu_hour)
    return from_flops(flops, to_unit, peak_flops, mfu, price_per_gpu_hour)


def sparse_peak_flops(dense_peak_flops):
    """The 2:4-sparse figure a data sheet prints for a dense tensor-core peak (x2).

    Parameters
    ----------
    dense_peak_flops : float or array
        Dense peak FLOP/s (e.g. 989e12 for an H100 SXM in bf16).

    Source: NVIDIA H100 and A100 data sheets, whose headline tensor-core figures are "with
    sparsity" (H100 SXM bf16: 1,979 TFLOP/s sparse = 2 x 989 dense).
    Assumptions: the dtype runs on tensor cores that support 2:4 sparsity (tf32, bf16,
    fp16, fp8 on A100/H100/H200); plain fp32 and V100/TPU v4 have no sparse figure.
    """
    return v.result(v.positive("dense_peak_flops", dense_peak_flops) * SPARSITY_2_4_SPEEDUP)


def dense_peak_flops(sparse_peak_flops):
    """The dense peak behind a 2:4-sparse data-sheet figure (/2): what training can use.

    Parameters
    ----------
    sparse_peak_flops : float or array
        A peak printed "with sparsity" (e.g. 3,958e12 for H100 SXM fp8).

    Source and assumptions: as :func:`sparse_peak_flops`. Dense LLM training multiplies
    dense matrices, so MFU and training-time estimates use the dense peak.
    """
    return v.result(v.positive("sparse_peak_flops", sparse_peak_flops) / SPARSITY_2_4_SPEEDUP)


# --- bytes: decimal (SI) vs binary (IEC) prefixes ---------------------------------------------


def bytes_to_gb(n_bytes):
    """Bytes -> GB, decimal: ``n_bytes / 1e9`` (how vendors and disk makers count).

    Source: SI prefixes (giga = 10^9), IEC 80000-13. Assumptions: none.
    """
    return v.result(v.nonnegative("n_bytes", n_bytes) / GB)


def bytes_to_gib(n_bytes):
    """Bytes -> GiB, binary: ``n_bytes / 2**30`` (what many tools print, often as "GB").

    Source: IEC 80000-13 binary prefixes (gibi = 2^30). Assumptions: none.
    """
    return v.result(v.nonnegative("n_bytes", n_bytes) / GiB)


def gb_to_gib(gb):
    """Decimal GB -> binary GiB: ``gb * 1e9 / 2**30`` (x 0.9313).

    How an amount advertised in GB shows in a tool that counts in GiB: 80 GB is 74.5 GiB.

    >>> round(gb_to_gib(80), 2)
    74.51

    Source: SI and IEC 80000-13 prefixes. Assumptions: the "GB" really is 10^9 bytes.
    (For GPU memory it often is not: HBM comes in binary sizes, so an "80 GB" A100 has
    80 GiB, which nvidia-smi shows as 81,920 MiB; see lesson 02.)
    """
    return v.result(v.nonnegative("gb", gb) * GB / GiB)


def gib_to_gb(gib):
    """Binary GiB -> decimal GB: ``gib * 2**30 / 1e9`` (x 1.0737).

    Source: SI and IEC 80000-13 prefixes. Assumptions: none.
    """
    return v.result(v.nonnegative("gib", gib) * GiB / GB)


def binary_prefix_ratio(power):
    """How much larger the binary prefix is than the decimal one: ``1024**power / 1000**power``.

    ``power`` 1 is kilo/kibi (1.024), 2 mega/mebi (1.049), 3 giga/gibi (1.074), 4 tera/tebi
    (1.100), 5 peta/pebi (1.126): the gap grows with every prefix.

    Parameters
    ----------
    power : int or array of int
        Prefix step, >= 1 (3 for G/Gi). Arrays broadcast.

    Source: SI and IEC 80000-13 prefixes. Assumptions: none.
    """
    k = v.positive_int("power", power)
    return v.result(1.024 ** np.asarray(k, dtype=float))
