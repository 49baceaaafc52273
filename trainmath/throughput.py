"""What throughput to expect: arithmetic intensity, the roofline, and MFU vs HFU.

An operation takes at least as long as its FLOPs at the accelerator's peak *and* at least as
long as its bytes at the memory bandwidth (the roofline, Williams, Waterman & Patterson 2009):

    t >= max(FLOPs / peak, bytes / bandwidth),    attainable FLOP/s = min(peak, I * bandwidth),

where the arithmetic intensity I = FLOPs / bytes moved. The ridge point peak / bandwidth is the
intensity at which the two limits meet: an A100-80GB needs 312e12 / 2.039e12 = 153 FLOP per
byte in bf16, an H100 SXM 989e12 / 3.35e12 = 295. Below the ridge an operation is bound by
memory bandwidth and cannot reach the peak however well it is written.

* A matmul (m x k)(k x n) does 2mkn FLOPs on at least (mk + kn) inputs and mn outputs:
  :func:`matmul_intensity`. When one side is small (a batch of m = 32 rows against a
  1600 x 6400 weight) the weight dominates the traffic and I is about m FLOP/byte in 16 bits:
  a small batch is memory bound (:func:`matmul_attainable_flops`).
* Element-wise operations (add, ReLU, GeLU, LayerNorm, softmax, a dtype cast) do a few FLOPs
  per element and move 4-6 bytes per element in 16 bits: I < 3, far below any ridge
  (:data:`ELEMENTWISE_OPS`, :func:`op_intensity`, :func:`elementwise_time`).

Utilisation is the achieved FLOP/s over a peak, and two choices change the number:

* which FLOPs: the model's own (MFU, PaLM, Chowdhery et al. 2022, App. B) or those the hardware
  executed, recomputed activations included (HFU): :func:`hfu_from_mfu`, :func:`mfu_from_hfu`,
  with the overhead of :func:`trainmath.compute.recompute_flops_overhead`;
* which peak: dense or 2:4-sparse, bf16 or fp8 (:func:`rebase_utilisation`).

:data:`PUBLISHED_MFU` holds published runs (GPT-3 to Llama 4) with the figure each source
prints; the MFU and HFU are computed from it (:class:`PublishedRun`). :data:`SEED_THROUGHPUTS`
holds the throughputs the course's seed texts quote, to be read as MFUs with
:func:`share_of_peak`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from trainmath import _validate as v
from trainmath._breakdown import Breakdown
from trainmath.accelerators import (
    STREAMING_MULTIPROCESSORS,
    Accelerator,
    get_accelerator,
    matmul_efficiency,
)
from trainmath.activations import ACTIVATION_LAYERS, RECOMPUTE, default_activation_layer
from trainmath.compute import flops_per_token, forward_flops, recompute_flops_overhead
from trainmath.models import MODELS, ModelConfig, _routed_copies
from trainmath.optimizers import DTYPE_BYTES, bytes_per_param
from trainmath.runs import PUBLISHED_LAYOUTS
from trainmath.units import achieved_flops_per_gpu

__all__ = [
    # matmuls and element-wise operations
    "matmul_flops",
    "matmul_bytes",
    "matmul_intensity",
    "matmul_attainable_flops",
    "compute_bound_rows",
    "ElementwiseOp",
    "ELEMENTWISE_OPS",
    "elementwise_intensity",
    "op_intensity",
    "elementwise_time",
    # the roofline
    "ridge_point",
    "roofline_time",
    "attainable_flops",
    "bound",
    # utilisation
    "share_of_peak",
    "hfu_from_mfu",
    "mfu_from_hfu",
    "rebase_utilisation",
    # a matmul and a transformer layer, timed
    "GEMM_TILE",
    "wave_efficiency",
    "matmul_time",
    "LayerTime",
    "layer_time",
    "lm_head_time",
    # this machine
    "MatmulTiming",
    "time_matmul",
    "time_copy",
    "measured_roofline",
    # published runs and the seeds' figures
    "FLOPS_COUNTS",
    "PublishedRun",
    "PUBLISHED_MFU",
    "SEED_THROUGHPUTS",
]

Array = float | np.ndarray


# --- matmuls -----------------------------------------------------------------------------------


def _shape(m, k, n):
    return (v.positive_int("m", m), v.positive_int("k", k), v.positive_int("n", n))


def _dtype_bytes(dtype, out_dtype):
    """Bytes per input and per output value (``out_dtype`` None: the inputs' dtype)."""
    b_in = bytes_per_param(dtype)
    b_out = b_in if out_dtype is None else v.lookup("out_dtype", out_dtype, DTYPE_BYTES)
    return b_in, b_out


def matmul_flops(m: ArrayLike, k: ArrayLike, n: ArrayLike) -> Array:
    """FLOPs of a matmul (m x k)(k x n): ``2 m k n`` (a multiply and an add per term).

    The same count as :func:`trainmath.compute.forward_flops` of a k x n weight applied to m
    tokens, which is how it is computed.

    >>> matmul_flops(4096, 8192, 4096)
    274877906944.0

    Parameters
    ----------
    m, k, n : int or array of int
        Rows of the left matrix, the shared (reduced) dimension, columns of the right
        matrix; each >= 1. Arrays broadcast.

    Source: the definition of matrix multiplication; NVIDIA, "Matrix Multiplication Background
    User's Guide" counts the same 2mkn. Assumptions: a dense matmul, a fused multiply-add
    counted as 2 FLOPs.
    """
    m, k, n = _shape(m, k, n)
    return forward_flops(np.asarray(k, dtype=float) * n, m)


def matmul_bytes(m: ArrayLike, k: ArrayLike, n: ArrayLike, dtype: str = "bf16", *,
                 out_dtype: str | None = None) -> Array:
    """Bytes a matmul must move at least: read A (m x k) and B (k x n) once, write C (m x n).

    ``(m k + k n) * bytes(dtype) + m n * bytes(out_dtype)``. This is the *minimum* traffic to
    and from memory (every operand touched exactly once); a real kernel moves more when its
    tiles do not fit in on-chip memory, so the intensity built on it is an upper bound.

    >>> matmul_bytes(32, 1600, 6400, "fp16")
    20992000.0

    Parameters
    ----------
    m, k, n : int or array of int
        The shapes, as in :func:`matmul_flops`.
    dtype : str
        Dtype of A and B (a key of :data:`trainmath.optimizers.DTYPE_BYTES`).
    out_dtype : str, optional
        Dtype of C; defaults to ``dtype`` (``"fp32"`` for an fp32 output).

    Source: NVIDIA, "Matrix Multiplication Background User's Guide" (the same count of A, B
    and C). Assumptions: no operand is already in cache; no bias or epilogue traffic.
    """
    m, k, n = _shape(m, k, n)
    b_in, b_out = _dtype_bytes(dtype, out_dtype)
    mf, kf, nf = (np.asarray(x, dtype=float) for x in (m, k, n))
    return v.result((mf * kf + kf * nf) * b_in + mf * nf * b_out)


def matmul_intensity(m: ArrayLike, k: ArrayLike, n: ArrayLike, dtype: str = "bf16", *,
                     out_dtype: str | None = None) -> Array:
    """Arithmetic intensity of a matmul in FLOPs per byte: flops / bytes (minimum traffic).

    For a square n x n x n matmul in 16 bits it is n / 3; when m is much smaller than k and n
    (a small batch against a weight matrix) it is about ``m`` in 16 bits, because the weight's
    2kn bytes dominate the traffic.

    >>> round(matmul_intensity(512, 1024, 4096, "fp16"))
    315
    >>> round(matmul_intensity(32, 1600, 6400, "fp16"), 1)
    31.2

    Parameters
    ----------
    m, k, n : int or array of int
        Shapes, as in :func:`matmul_flops`. Arrays broadcast.
    dtype, out_dtype : str
        As in :func:`matmul_bytes`.

    Source: roofline model (Williams, Waterman & Patterson 2009, Commun. ACM 52(4));
    NVIDIA, "GPU Performance Background User's Guide" (its 512 x 1024 x 4096 fp16 linear layer
    comes to 315 FLOP/B). Assumptions: the minimum traffic of :func:`matmul_bytes`, so an upper
    bound on the intensity a kernel achieves.
    """
    return v.result(np.asarray(matmul_flops(m, k, n))
                    / np.asarray(matmul_bytes(m, k, n, dtype, out_dtype=out_dtype)))


def matmul_attainable_flops(m: ArrayLike, k: ArrayLike, n: ArrayLike,
                            accelerator: str | Accelerator, dtype: str = "bf16", *,
                            out_dtype: str | None = None) -> Array:
    """The roofline's ceiling on a matmul's FLOP/s: :func:`attainable_flops` of its intensity.

    An upper bound: a 32 x 1600 x 6400 fp16 matmul on an A100-80GB may run at up to 64 TFLOP/s
    by the roofline (31 FLOP/B x 2.039 TB/s), an 8192-row one at the full 312.

    >>> round(matmul_attainable_flops(32, 1600, 6400, "A100-80GB", "fp16") / 1e12, 1)
    63.7

    Parameters
    ----------
    m, k, n : int or array of int
        Shapes, as in :func:`matmul_flops`. Arrays broadcast (sweep m to see the ramp).
    accelerator : str or Accelerator
        A key of :data:`trainmath.ACCELERATORS` or an :class:`~trainmath.Accelerator`.
    dtype, out_dtype : str
        Dtype of the inputs (and of the peak) and of the output.

    Source and assumptions: as :func:`attainable_flops` and :func:`matmul_intensity`. What the
    roofline leaves out (kernel launch time, too few thread blocks to fill every SM, tiles
    padded past a small m) only makes a real kernel slower than this.
    """
    intensity = matmul_intensity(m, k, n, dtype, out_dtype=out_dtype)
    return attainable_flops(intensity, accelerator, dtype)


def compute_bound_rows(k: ArrayLike, n: ArrayLike, accelerator: str | Accelerator,
                       dtype: str = "bf16", *, out_dtype: str | None = None) -> Array:
    """Rows m at which a matmul (m x k)(k x n) reaches the ridge point: compute bound from there.

    Solve :func:`matmul_intensity` = :func:`ridge_point` for m. With b bytes per input, c per
    output and the ridge R:

        2mkn = R (b mk + b kn + c mn)   =>   m* = R b k n / (2kn - R (b k + c n)).

    Few rows need about ``R b / 2`` (= R in 16 bits, the "m FLOP/B" rule); the exact m* is
    larger because A and C are traffic too. When ``2kn <= R (b k + c n)`` the weight is too
    small ever to be compute bound (its intensity tends to ``2kn / (b k + c n)`` < R): inf.

    >>> round(compute_bound_rows(1600, 6400, "A100-80GB", "fp16"), 1)
    173.8
    >>> compute_bound_rows(128, 128, "H100-SXM")  # a 128 x 128 weight never gets there
    inf

    Parameters
    ----------
    k, n : int or array of int
        The weight's shape (k x n), each >= 1. Arrays broadcast.
    accelerator : str or Accelerator
        A key of :data:`trainmath.ACCELERATORS` or an :class:`~trainmath.Accelerator`.
    dtype, out_dtype : str
        Dtype of the inputs (and of the peak) and of the output (default: ``dtype``).

    Returns
    -------
    float or array
        m*, not rounded (any m >= m* is compute bound), or inf.

    Source and assumptions: the roofline (Williams, Waterman & Patterson 2009) with the
    minimum traffic of :func:`matmul_bytes`.
    """
    k = np.asarray(v.positive_int("k", k), dtype=float)
    n = np.asarray(v.positive_int("n", n), dtype=float)
    b_in, b_out = _dtype_bytes(dtype, out_dtype)
    ridge = ridge_point(accelerator, dtype)
    denominator = 2 * k * n - ridge * (b_in * k + b_out * n)
    with np.errstate(divide="ignore"):
        rows = np.where(denominator > 0, ridge * b_in * k * n / np.where(denominator > 0,
                                                                          denominator, 1), np.inf)
    return v.result(rows)


# --- element-wise operations ------------------------------------------------------------------


@dataclass(frozen=True)
class ElementwiseOp:
    """FLOPs and memory traffic per element of an element-wise operation.

    Attributes
    ----------
    name : str
    flops : float
        FLOPs per output element.
    reads : int
        Tensors of the same shape read (in the input dtype).
    writes : int
        Tensors of the same shape written (in the output dtype).
    source : str
        How the FLOPs were counted.
    """

    name: str
    flops: float
    reads: int
    writes: int
    source: str = field(default="", compare=False)

    def bytes_per_element(self, dtype: str = "bf16", out_dtype: str | None = None) -> float:
        """``reads * bytes(dtype) + writes * bytes(out_dtype)``: bytes moved per element."""
        b_in, b_out = _dtype_bytes(dtype, out_dtype)
        return float(self.reads * b_in + self.writes * b_out)


#: Element-wise operations of a transformer layer, per element, with how each is counted. Each
#: is assumed to be one kernel that reads its inputs once and writes its output once (a fused
#: LayerNorm and softmax; unfused implementations read the input two or three times, which
#: only lowers the intensity). Per-row work (a square root, a division by the row sum) and
#: LayerNorm's per-column weights are neglected: rows are thousands of elements long.
ELEMENTWISE_OPS: Mapping[str, ElementwiseOp] = MappingProxyType({
    op.name: op for op in (
        ElementwiseOp("add", 1, 2, 1, "a + b (a residual connection): 1 add"),
        ElementwiseOp("relu", 1, 1, 1, "max(x, 0): 1 comparison (NVIDIA's GPU Performance "
                      "Background guide counts the same: 0.25 FLOP/B in fp16)"),
        ElementwiseOp("gelu", 9, 1, 1, "tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) "
                      "(x + 0.044715 x^3))) (Hendrycks & Gimpel 2016): 8 multiplies and adds "
                      "plus the tanh, counted as 1"),
        ElementwiseOp("layernorm", 8, 1, 1, "Ba et al. 2016: mean (1 add), variance (subtract, "
                      "square, add: 3), normalise (subtract, multiply: 2), gain and bias (2)"),
        ElementwiseOp("softmax", 5, 1, 1, "running max (1), subtract (1), exp (1), sum (1), "
                      "divide (1), in one pass (online softmax, Milakov & Gimelshein 2018)"),
        ElementwiseOp("cast", 0, 1, 1, "a dtype conversion, e.g. fp32 master weights to bf16 "
                      "in mixed precision (Micikevicius et al. 2018): no arithmetic"),
    )
})


def _op(op) -> ElementwiseOp:
    if isinstance(op, ElementwiseOp):
        return op
    return v.lookup("op", op, ELEMENTWISE_OPS)


def elementwise_intensity(flops_per_element: ArrayLike, bytes_per_element: ArrayLike) -> Array:
    """Arithmetic intensity of an element-wise operation: FLOPs per element / bytes per element.

    The size of the tensor cancels: an element-wise operation has the same intensity on ten
    elements as on ten billion, which is why a bigger batch does not help it (unlike a matmul).

    >>> elementwise_intensity(1, 4)  # ReLU in bf16: read 2 bytes, write 2 bytes
    0.25

    Parameters
    ----------
    flops_per_element : float or array
        FLOPs per element, >= 0 (0 for a copy or a cast).
    bytes_per_element : float or array
        Bytes read and written per element, > 0. Arrays broadcast.

    Source: roofline model (Williams, Waterman & Patterson 2009). Assumptions: each element is
    read and written once (one fused kernel).
    """
    f = v.nonnegative("flops_per_element", flops_per_element)
    b = v.positive("bytes_per_element", bytes_per_element)
    return v.result(f / b)


def op_intensity(op: str | ElementwiseOp, dtype: str = "bf16", *,
                 out_dtype: str | None = None) -> float:
    """Arithmetic intensity of a named element-wise operation (a key of :data:`ELEMENTWISE_OPS`).

    >>> op_intensity("relu")
    0.25
    >>> op_intensity("layernorm")
    2.0
    >>> op_intensity("cast", "fp32", out_dtype="bf16")
    0.0

    Parameters
    ----------
    op : str or ElementwiseOp
        ``"add"``, ``"relu"``, ``"gelu"``, ``"layernorm"``, ``"softmax"``, ``"cast"``, or your
        own :class:`ElementwiseOp`.
    dtype : str
        Dtype of the inputs (a key of :data:`trainmath.optimizers.DTYPE_BYTES`).
    out_dtype : str, optional
        Dtype of the output; defaults to ``dtype``.

    Source and assumptions: the counts of :data:`ELEMENTWISE_OPS` (one fused kernel). Every one
    of them lies below 3 FLOP/B, more than fifty times below an A100's ridge point:
    element-wise work is bound by memory bandwidth.
    """
    o = _op(op)
    return elementwise_intensity(o.flops, o.bytes_per_element(dtype, out_dtype))


def elementwise_time(op: str | ElementwiseOp, n_elements: ArrayLike,
                     accelerator: str | Accelerator, dtype: str = "bf16", *,
                     out_dtype: str | None = None) -> Array:
    """Roofline time of an element-wise operation over ``n_elements``: :func:`roofline_time`.

    >>> t = elementwise_time("relu", 8192 * 6400, "A100-80GB")  # an MLP activation, bf16
    >>> round(t * 1e6, 1)  # microseconds: 210 MB at 2.039 TB/s
    102.9

    Parameters
    ----------
    op : str or ElementwiseOp
        As in :func:`op_intensity`.
    n_elements : int or array
        Elements of the output tensor, >= 1. Arrays broadcast.
    accelerator : str or Accelerator
        A key of :data:`trainmath.ACCELERATORS` or an :class:`~trainmath.Accelerator`.
    dtype, out_dtype : str
        As in :func:`op_intensity`; ``dtype`` also selects the peak.

    Source and assumptions: as :func:`roofline_time` and :data:`ELEMENTWISE_OPS`; no kernel
    launch time (a few microseconds each, which dominates for small tensors).
    """
    o = _op(op)
    n = np.asarray(v.positive_int("n_elements", n_elements), dtype=float)
    return roofline_time(n * o.flops, n * o.bytes_per_element(dtype, out_dtype),
                         accelerator, dtype)


# --- the roofline ------------------------------------------------------------------------------


def _peak_and_bandwidth(accelerator, dtype) -> tuple[float, float]:
    """The one place the roofline reads a device: its dense peak in ``dtype`` and bandwidth."""
    acc = get_accelerator(accelerator)
    peak = acc.peak(dtype)
    if acc.bandwidth is None:
        raise ValueError(
            f"accelerator {acc.name!r} has no memory bandwidth (bandwidth=None); the roofline "
            "needs one: give the Accelerator a bandwidth in bytes/s"
        )
    return peak, float(acc.bandwidth)


def ridge_point(accelerator: str | Accelerator, dtype: str = "bf16") -> float:
    """The ridge point: dense peak FLOP/s / memory bandwidth, in FLOPs per byte.

    The arithmetic intensity an operation needs to be compute bound; below it, it is bound by
    memory bandwidth. A100-80GB: 312e12 / 2.039e12 = 153 FLOP/B; H100 SXM: 989e12 / 3.35e12 =
    295 FLOP/B (faster arithmetic, less faster memory: the ridge moves right every generation).

    >>> round(ridge_point("A100-80GB"), 1)
    153.0
    >>> round(ridge_point("H100-SXM"), 1)
    295.2

    Parameters
    ----------
    accelerator : str or Accelerator
        A key of :data:`trainmath.ACCELERATORS` or an :class:`~trainmath.Accelerator` (which
        must have a bandwidth).
    dtype : str
        The dtype of the peak (``Accelerator.peak``); lower precision moves the ridge right.

    Source: Williams, Waterman & Patterson 2009 (the roofline's "ridge point"); peaks and
    bandwidths from the vendors' data sheets (:mod:`trainmath.accelerators`). Assumptions:
    dense tensor-core peak and HBM bandwidth; caches ignored.
    """
    peak, bandwidth = _peak_and_bandwidth(accelerator, dtype)
    return peak / bandwidth


def roofline_time(flops: ArrayLike, bytes_moved: ArrayLike, accelerator: str | Accelerator,
                  dtype: str = "bf16") -> Array:
    """Least time for an operation: ``max(flops / peak, bytes_moved / bandwidth)`` seconds.

    >>> round(roofline_time(matmul_flops(8192, 1600, 6400),
    ...                     matmul_bytes(8192, 1600, 6400, "fp16"), "A100-80GB", "fp16") * 1e6)
    538

    Parameters
    ----------
    flops : float or array
        FLOPs the operation performs, >= 0.
    bytes_moved : float or array
        Bytes it reads and writes in memory, >= 0. Arrays broadcast.
    accelerator : str or Accelerator
        A key of :data:`trainmath.ACCELERATORS` or an :class:`~trainmath.Accelerator`.
    dtype : str
        Dtype of the peak.

    Source: roofline model (Williams, Waterman & Patterson 2009). Assumptions: compute and
    memory traffic overlap perfectly (the time is the larger of the two, not the sum); no
    launch or synchronisation time. A lower bound on the time.
    """
    peak, bandwidth = _peak_and_bandwidth(accelerator, dtype)
    f = v.nonnegative("flops", flops)
    b = v.nonnegative("bytes_moved", bytes_moved)
    return v.result(np.maximum(f / peak, b / bandwidth))


def attainable_flops(intensity: ArrayLike, accelerator: str | Accelerator,
                     dtype: str = "bf16") -> Array:
    """The roofline: ``min(peak, intensity * bandwidth)`` FLOP/s, an upper bound on throughput.

    >>> attainable_flops(0.25, "A100-80GB") / 1e12  # ReLU in bf16: 0.16 % of the peak
    0.50975

    Parameters
    ----------
    intensity : float or array
        Arithmetic intensity, FLOPs per byte, >= 0. Arrays broadcast (sweep it to draw the
        roofline).
    accelerator : str or Accelerator
        A key of :data:`trainmath.ACCELERATORS` or an :class:`~trainmath.Accelerator`.
    dtype : str
        Dtype of the peak.

    Source: Williams, Waterman & Patterson 2009. Assumptions: as :func:`roofline_time`.
    """
    peak, bandwidth = _peak_and_bandwidth(accelerator, dtype)
    i = v.nonnegative("intensity", intensity)
    return v.result(np.minimum(peak, i * bandwidth))


def bound(intensity: ArrayLike, accelerator: str | Accelerator,
          dtype: str = "bf16") -> str | np.ndarray:
    """``"memory"`` below the :func:`ridge_point`, ``"compute"`` at or above it.

    >>> bound(matmul_intensity(32, 1600, 6400, "fp16"), "A100-80GB", "fp16")
    'memory'
    >>> bound([31.2, 1107.0], "A100-80GB").tolist()
    ['memory', 'compute']

    Parameters
    ----------
    intensity : float or array
        Arithmetic intensity in FLOPs per byte, >= 0.
    accelerator : str or Accelerator
        A key of :data:`trainmath.ACCELERATORS` or an :class:`~trainmath.Accelerator`.
    dtype : str
        Dtype of the peak.

    Returns
    -------
    str or array of str
        A str for a scalar intensity, an array of str for an array.

    Source and assumptions: as :func:`ridge_point` (at exactly the ridge both limits bind; it
    is called compute bound here).
    """
    i = v.nonnegative("intensity", intensity)
    ridge = ridge_point(accelerator, dtype)
    out = np.where(np.asarray(i) >= ridge, "compute", "memory")
    return str(out) if out.ndim == 0 else out


# --- utilisation: which FLOPs, which peak -----------------------------------------------------


def share_of_peak(achieved_flops_per_gpu: ArrayLike, peak_flops: ArrayLike) -> Array:
    """Utilisation from a per-GPU rate: ``achieved_flops_per_gpu / peak_flops``.

    Both are in FLOP/s (SI: pass 163e12 for "163 TFLOP/s").
    It is the MFU when the achieved rate counts model FLOPs and the HFU when it counts the
    FLOPs the hardware executed, recomputation included (Megatron-LM's and BLOOM's logs):
    convert with :func:`mfu_from_hfu`.

    >>> round(share_of_peak(115e12, 312e12), 3)  # Transformer Math 101's floor
    0.369

    Parameters
    ----------
    achieved_flops_per_gpu : float or array
        FLOP/s one accelerator sustained, > 0 (:func:`trainmath.units.achieved_flops_per_gpu`).
    peak_flops : float or array
        Its peak FLOP/s in the dtype used (the denominator decides the number: see
        :func:`rebase_utilisation`). Arrays broadcast.

    Source: PaLM (Chowdhery et al. 2022), App. B: achieved over peak. Assumptions: the rate is
    averaged over the whole run or benchmark; it cannot exceed the peak.
    """
    achieved = v.positive("achieved_flops_per_gpu", achieved_flops_per_gpu)
    peak = v.positive("peak_flops", peak_flops)
    if np.any(achieved > peak):
        raise ValueError(
            "achieved_flops_per_gpu must be <= peak_flops (both in FLOP/s, e.g. 163e12 for "
            f"163 TFLOP/s), got {achieved_flops_per_gpu!r} and {peak_flops!r}"
        )
    return v.result(achieved / peak)


def _recompute_overhead(recompute_overhead, cfg, seq_len, recompute, convention):
    """The extra FLOPs fraction: given, or :func:`recompute_flops_overhead` of ``cfg``."""
    if (recompute_overhead is None) == (cfg is None):
        raise ValueError(
            "give either recompute_overhead (extra FLOPs / model FLOPs, e.g. 1/3 for full "
            "recomputation) or cfg (a ModelConfig, with seq_len, recompute and convention), "
            "not both or neither"
        )
    if cfg is not None:
        return np.asarray(recompute_flops_overhead(cfg, seq_len, recompute,
                                                   convention=convention))
    return v.nonnegative("recompute_overhead", recompute_overhead)


def hfu_from_mfu(mfu: ArrayLike, recompute_overhead: ArrayLike | None = None, *,
                 cfg: ModelConfig | None = None, seq_len: ArrayLike | None = None,
                 recompute: str = "selective", convention: str = "redone") -> Array:
    """Hardware FLOPs utilisation from MFU: ``HFU = MFU * (1 + recompute_overhead)``.

    Recomputed activations are FLOPs the hardware does but the model does not need: PaLM
    (Chowdhery et al. 2022, Sec. 4.1 and App. B) excludes them from MFU and includes them in
    HFU. Give the overhead (extra FLOPs / model FLOPs) directly, or a config and let
    :func:`trainmath.compute.recompute_flops_overhead` count it.

    >>> round(hfu_from_mfu(0.40, 1 / 3), 4)  # full recomputation: one more forward pass
    0.5333

    Parameters
    ----------
    mfu : float or array
        Model FLOPs utilisation in (0, 1].
    recompute_overhead : float or array, optional
        Extra FLOPs of recomputation as a fraction of the model FLOPs, >= 0 (0 without
        recomputation, about 1/3 for full recomputation).
    cfg : ModelConfig, optional
        Instead of ``recompute_overhead``: the model, with ``seq_len``, ``recompute``
        (``"none"``, ``"selective"``, ``"full"``) and ``convention`` (``"redone"``, the work
        actually repeated; ``"korthikanti"``, Korthikanti et al. 2022's count) passed on to
        :func:`~trainmath.compute.recompute_flops_overhead`.

    Returns
    -------
    float or array
        HFU; a ValueError if it would exceed 1 (the inputs contradict each other).

    Source: PaLM (Chowdhery et al. 2022), Sec. 4.1; Korthikanti et al. 2022, Table 5 (MFU
    56.3 %, HFU 57.0 % for 1T parameters with selective recomputation). Assumptions: the same
    time and peak in both; only recomputation separates hardware from model FLOPs.
    """
    u = v.fraction("mfu", mfu)
    over = _recompute_overhead(recompute_overhead, cfg, seq_len, recompute, convention)
    hfu = u * (1 + over)
    if np.any(hfu > 1):
        raise ValueError(
            f"mfu * (1 + recompute_overhead) exceeds 1 (got mfu={mfu!r}): no accelerator "
            "executes more than its peak; check the MFU and the overhead"
        )
    return v.result(hfu)


def mfu_from_hfu(hfu: ArrayLike, recompute_overhead: ArrayLike | None = None, *,
                 cfg: ModelConfig | None = None, seq_len: ArrayLike | None = None,
                 recompute: str = "selective", convention: str = "redone") -> Array:
    """MFU from hardware FLOPs utilisation: ``MFU = HFU / (1 + recompute_overhead)``.

    The inverse of :func:`hfu_from_mfu`, with the same arguments. Megatron-LM (Narayanan et al.
    2021, Eq. 3) and BLOOM's logs print hardware TFLOP/s with full recomputation, so their
    MFU is about 3/4 of their share of the peak.

    >>> round(mfu_from_hfu(163 / 312, 1 / 3), 3)  # Megatron-LM's 1T run, roughly
    0.392

    Parameters
    ----------
    hfu : float or array
        Hardware FLOPs utilisation in (0, 1].
    recompute_overhead, cfg, seq_len, recompute, convention
        As in :func:`hfu_from_mfu`.

    Source and assumptions: as :func:`hfu_from_mfu`.
    """
    u = v.fraction("hfu", hfu)
    over = _recompute_overhead(recompute_overhead, cfg, seq_len, recompute, convention)
    return v.result(u / (1 + over))


def rebase_utilisation(utilisation: ArrayLike, from_peak: ArrayLike,
                       to_peak: ArrayLike) -> Array:
    """The same achieved rate as a share of another peak: ``utilisation * from_peak / to_peak``.

    The denominator decides the number. Llama 4 Behemoth's 390 TFLOP/s per H100 in fp8 is
    19.7 % of the 1,979 TFLOP/s fp8 peak and 39.4 % of the 989 TFLOP/s bf16 peak; an MFU
    against a 2:4-sparse data-sheet peak (:func:`trainmath.units.sparse_peak_flops`) is half
    the MFU against the dense one.

    >>> round(rebase_utilisation(390e12 / 1979e12, 1979e12, 989e12), 3)
    0.394

    Parameters
    ----------
    utilisation : float or array
        MFU or HFU against ``from_peak``, in (0, 1].
    from_peak : float or array
        The peak FLOP/s it was computed against, > 0.
    to_peak : float or array
        The peak FLOP/s to express it against, > 0. Arrays broadcast.

    Returns
    -------
    float or array
        May exceed 1 when ``to_peak`` is the smaller peak (fp8 work faster than the bf16 peak).

    Source: definition; dense vs sparse peaks as in :data:`trainmath.units.SPARSITY_2_4_SPEEDUP`.
    Assumptions: the achieved rate is the same FLOPs counted the same way.
    """
    u = v.fraction("utilisation", utilisation)
    src = v.positive("from_peak", from_peak)
    dst = v.positive("to_peak", to_peak)
    return v.result(u * src / dst)


# --- a matmul and a transformer layer, timed from first principles ---------------------------

#: The output tile one streaming multiprocessor computes at a time in a GEMM kernel, rows x
#: columns. cuBLAS chooses among several tiles per shape (256 x 128 and 128 x 256 the most
#: efficient); NVIDIA's "Matrix Multiplication Background User's Guide" (Sec. 3.2, Wave
#: Quantization) works its A100 example with 256 x 128 tiles, one per SM, 108 per wave. Assumed
#: for every accelerator and shape: the real kernel choice can do better on awkward shapes.
GEMM_TILE = (256, 128)


def _efficiency(accelerator, dtype, efficiency):
    if efficiency is None:
        return matmul_efficiency(accelerator, dtype)
    return v.fraction("efficiency", efficiency)


def wave_efficiency(m: ArrayLike, n: ArrayLike, accelerator: str | Accelerator, *,
                    batch: ArrayLike = 1) -> Array:
    """Share of the SMs' tile slots that do useful work in an (m x k)(k x n) matmul.

    The output is cut into tiles of :data:`GEMM_TILE`; a tile is padded when m or n is not a
    multiple of its side (tile quantisation), and the tiles run in waves of one per SM, the
    last wave partly empty (wave quantisation; NVIDIA, "Matrix Multiplication Background
    User's Guide"). The useful share is ``m n batch / (waves x SMs x tile area)``, with
    ``waves = ceil(tiles / SMs)``: 1 for large, well-divided shapes, small for a few rows.

    >>> round(wave_efficiency(8192, 6400, "A100-80GB"), 3)  # 32 x 50 = 1600 tiles, 15 waves
    0.988
    >>> round(wave_efficiency(32, 6400, "A100-80GB"), 3)  # 50 tiles padded 8x, one wave
    0.058
    >>> wave_efficiency(32, 6400, "MI300X")  # no SM count recorded: no quantisation
    1.0

    Parameters
    ----------
    m, n : int or array
        Rows and columns of the output, >= 1. Arrays broadcast.
    accelerator : str or Accelerator
        Its SM count from :data:`trainmath.accelerators.STREAMING_MULTIPROCESSORS`; where none
        is recorded the share is 1 (no quantisation modelled; said in that table).
    batch : int or array
        Independent matmuls of the same shape in one kernel (attention heads), >= 1.

    Source: NVIDIA, "Matrix Multiplication Background User's Guide" (tile and wave
    quantisation). Assumptions: one tile per SM at a time, the tile of :data:`GEMM_TILE`.
    """
    m = np.asarray(v.positive_int("m", m), dtype=float)
    n = np.asarray(v.positive_int("n", n), dtype=float)
    batch = np.asarray(v.positive_int("batch", batch), dtype=float)
    sms = STREAMING_MULTIPROCESSORS.get(get_accelerator(accelerator).name)
    return v.result(_wave_share(m, n, batch, sms))


def _wave_share(m, n, batch, sms):
    """:func:`wave_efficiency` on validated float arrays (``sms`` None: no quantisation)."""
    if sms is None:
        return np.ones(np.broadcast(m, n, batch).shape)
    rows, cols = GEMM_TILE
    tiles = np.ceil(m / rows) * np.ceil(n / cols) * batch
    waves = np.ceil(tiles / sms)
    return m * n * batch / (waves * sms * rows * cols)


@dataclass(frozen=True)
class _Device:
    """What the timing functions read from an accelerator, validated once: the dense peak
    in the dtype, the achievable matmul rate, the bandwidth, the SM count, bytes per value."""

    peak: float
    rate: float
    bandwidth: float
    sms: int | None
    beta: float

    @classmethod
    def of(cls, accelerator, dtype, efficiency) -> _Device:
        peak, bandwidth = _peak_and_bandwidth(accelerator, dtype)
        eff = float(_efficiency(accelerator, dtype, efficiency))
        sms = STREAMING_MULTIPROCESSORS.get(get_accelerator(accelerator).name)
        return cls(peak, eff * peak, bandwidth, sms, bytes_per_param(dtype))

    def matmul(self, m, k, n, batch=1.0):
        """:func:`matmul_time` on validated shapes (floats or float arrays)."""
        m, k, n, batch = (np.asarray(x, dtype=float) for x in (m, k, n, batch))
        flops = 2.0 * m * k * n * batch
        moved = self.beta * (m * k + k * n + m * n) * batch
        return np.maximum(flops / (self.rate * _wave_share(m, n, batch, self.sms)),
                          moved / self.bandwidth)


def matmul_time(m: ArrayLike, k: ArrayLike, n: ArrayLike, accelerator: str | Accelerator,
                dtype: str = "bf16", *, batch: ArrayLike = 1,
                efficiency: float | None = None) -> Array:
    """Seconds of an (m x k)(k x n) matmul (``batch`` of them): the roofline at achievable rates.

    ``max(2mkn batch / (efficiency x wave_efficiency x peak), bytes / bandwidth)``: the
    roofline of lesson 08 with the compute roof lowered to what matmuls really reach (the
    large-GEMM efficiency of :func:`trainmath.accelerators.matmul_efficiency`, and the tile
    and wave quantisation of small shapes, :func:`wave_efficiency`).

    >>> round(matmul_time(8192, 1600, 6400, "A100-80GB", "fp16") * 1e6)  # vs 538 at the peak
    626
    >>> round(matmul_time(32, 1600, 6400, "A100-80GB", "fp16") * 1e6, 1)  # 50 padded tiles
    41.8

    Parameters
    ----------
    m, k, n : int or array
        Shapes, >= 1; arrays broadcast (the planner times thousands of layouts at once).
    accelerator : str or Accelerator
    dtype : str
        Inputs, output and peak.
    batch : int or array
        Independent matmuls of this shape in one kernel (e.g. attention heads x sequences).
    efficiency : float, optional
        Fraction of the dense peak a large matmul reaches; default the accelerator's measured
        :func:`~trainmath.accelerators.matmul_efficiency` (an error lists the accelerators
        with a measurement when there is none).

    Source and assumptions: roofline (Williams et al. 2009), least traffic
    (:func:`matmul_bytes`), measured large-GEMM efficiency (Bekman, MAMF table), tile and wave
    quantisation (NVIDIA's guide). No launch time; the kernel moves only the least bytes.
    """
    m, k, n = _shape(m, k, n)
    batch = v.positive_int("batch", batch)
    return v.result(_Device.of(accelerator, dtype, efficiency).matmul(m, k, n, batch))




class LayerTime(Breakdown):
    """Seconds of one layer's forward and backward (and recomputation) on one GPU, by part:
    ``matmuls`` (the weight matmuls), ``attention`` (the score and value products, and
    with ``"korthikanti"`` their softmax and dropout passes), ``elementwise`` (norms,
    activations, residuals, dropouts, rotary embeddings), then ``total``."""

    __slots__ = ()


# Element-wise passes of one layer: (name, tensor, forward reads, forward writes, backward
# reads, backward writes), in tensors of that shape, at the activations' bytes per value
# (a dropout mask: 1 byte per value, counted by the "+mask" passes below). Tensors: "h" the
# residual stream (tokens x d_model), "ff" the MLP's hidden (tokens x d_ff / tp), "qk" the
# rotated queries and keys (tokens x (H + KV) head_dim / tp), "scores" the attention scores
# (sequences x H/tp x s x s). Backward of an element-wise op reads the upstream gradient and
# what the forward saved, and writes one gradient per input. Sources: Megatron-LM's fused
# kernels (bias-GeLU, bias-dropout-add, scale-mask-softmax; Narayanan et al. 2021, Sec. 4.2),
# FlashAttention's fused softmax (Dao et al. 2022), and the saved tensors of Korthikanti et
# al. 2022, Sec. 4.1.
_NORM = ("norm", "h", 1, 1, 2, 1)
_RESIDUAL = ("residual add", "h", 2, 1, 1, 1)  # backward: the two gradient streams meet
_PASSES = {
    "korthikanti": (
        _NORM, _NORM,
        ("scale-mask-softmax", "scores", 1, 1, 2, 1),
        ("attention dropout", "scores", 1, 1, 1, 1),
        ("attention dropout mask", "scores+mask", 0, 1, 1, 0),
        ("bias-dropout-add (attention)", "h", 2, 1, 1, 2),
        ("bias-dropout-add mask", "h+mask", 0, 2, 2, 0),
        ("bias-dropout-add (MLP)", "h", 2, 1, 1, 2),
        ("bias-activation (MLP)", "ff", 1, 1, 2, 1),
    ),
    "modern": (
        _NORM, _NORM,
        ("rotary embedding", "qk", 1, 1, 1, 1),
        _RESIDUAL, _RESIDUAL,
        ("activation (MLP)", "ff", 1, 1, 2, 1),
    ),
}


# Latent attention's two extra norms, on the query and key-value latents.
_MLA_PASSES = (("latent norms", "latent", 1, 1, 2, 1),)
# A mixture of experts: gather each token's k copies into the experts' order (read the
# tokens, write the copies) and scatter-add the weighted outputs back (read the copies, write
# the tokens), and the reverse in the backward pass ("copies": k d per token on this GPU).
_MOE_PASSES = (
    ("permute (dispatch)", "copies", 1, 1, 1, 1),
    ("unpermute and combine", "copies", 1, 1, 2, 1),
)


def _mlp_shapes(cfg: ModelConfig, tokens, ff, batch=1.0):
    """An MLP of hidden width ``ff`` on ``tokens`` rows (``batch`` of them: experts)."""
    up = 2 * ff if cfg.mlp == "swiglu" else ff  # gate and up projections in one matmul
    return [(tokens, cfg.d_model, up, batch), (tokens, ff, cfg.d_model, batch)]


def _layer_shapes(cfg: ModelConfig, tokens, tp, moe=False, ep=1, etp=1, capacity=1.0):
    """Forward weight matmuls of one layer on one GPU: (m, k, n, batch) each."""
    hq = cfg.n_heads // tp
    h = cfg.d_model
    if cfg.attention == "mla":  # DeepSeek-V2 Sec. 2.1; down-projections on every rank
        qk, vh = cfg.head_dim, cfg.v_head_dim
        q = ([(tokens, h, cfg.q_lora_rank, 1), (tokens, cfg.q_lora_rank, hq * qk, 1)]
             if cfg.q_lora_rank else [(tokens, h, hq * qk, 1)])
        attention = q + [(tokens, h, cfg.kv_lora_rank + cfg.qk_rope_head_dim, 1),
                         (tokens, cfg.kv_lora_rank, hq * (cfg.qk_nope_head_dim + vh), 1),
                         (tokens, hq * vh, h, 1)]
    else:
        hk = np.maximum(cfg.n_kv_heads // tp, 1)  # fewer KV heads than ranks: replicated
        d = cfg.head_dim
        attention = [(tokens, h, (hq + 2 * hk) * d, 1), (tokens, hq * d, h, 1)]
    if not moe:
        return attention + _mlp_shapes(cfg, tokens, cfg.d_ff // tp)
    # router (replicated), shared experts (tensor parallel), and the local routed experts:
    # n_experts / ep of them, each with its share of the token copies, split etp ways
    local = cfg.n_experts / np.asarray(ep)
    per_expert = _routed_copies(tokens, cfg.experts_per_token, tp, etp, capacity) / local
    shared = _mlp_shapes(cfg, tokens, cfg.n_shared_experts * cfg.moe_d_ff // tp) \
        if cfg.n_shared_experts else []
    return (attention + [(tokens / tp, h, cfg.n_experts, 1)] + shared
            + _mlp_shapes(cfg, per_expert, cfg.moe_d_ff // etp, local))


def layer_time(cfg: ModelConfig, seq_len: ArrayLike, micro_batch: ArrayLike,
               accelerator: str | Accelerator, *, tp: ArrayLike = 1, cp: ArrayLike = 1,
               sequence_parallel: bool = False, recompute: str = "none",
               layer: str | None = None, dtype: str = "bf16", causal: bool = True,
               efficiency: float | None = None, moe: bool | None = None, ep: ArrayLike = 1,
               etp: ArrayLike | None = None, capacity_factor: ArrayLike = 1.0) -> LayerTime:
    """Seconds one GPU spends on one layer for one micro-batch: forward, backward, recomputation.

    Every operation at its own roofline (lesson 08): the weight matmuls and the attention
    products by :func:`matmul_time` (measured large-GEMM efficiency, tile and wave
    quantisation, memory bound when small); fused attention (``layer="modern"``) at the
    large-GEMM rate; element-wise passes at the memory bandwidth, bytes counted per pass.
    Backward matmuls are two per forward matmul (the input's and the weight's gradient);
    FlashAttention's backward does 2.5 times its forward FLOPs (it recomputes the scores:
    five matmuls against two, Dao et al. 2022, Sec. 3.1). Full recomputation runs the
    forward again; selective recomputation (Korthikanti et al. 2022, Sec. 5) the attention
    core again. Communication is not included (see :func:`trainmath.planner.step_time`).

    >>> gpt3 = MODELS["gpt3-175b"]
    >>> t = layer_time(gpt3, 2048, 1, "A100-80GB", tp=8, layer="korthikanti", recompute="full")
    >>> round(t.total * 1e3, 1), round(t.matmuls / t.total, 2)  # ms, and the matmuls' share
    (17.2, 0.87)

    Parameters
    ----------
    cfg : ModelConfig
    seq_len, micro_batch : int or array
        Sequence length s and sequences per micro-batch b.
    accelerator : str or Accelerator
    tp, cp : int or array
        Tensor- and context-parallel sizes: each GPU holds H/tp heads and d_ff/tp of the MLP,
        and s/cp of the tokens (its queries attend to all s keys).
    sequence_parallel : bool
        Norms, dropouts and residual additions on tokens/tp (Megatron's sequence parallelism);
        without it every tensor-parallel rank repeats them on all its tokens.
    recompute : {"none", "selective", "full"}
    layer : {"korthikanti", "modern"}, optional
        How attention and regularisation run (the memory model's
        :data:`trainmath.activations.ACTIVATION_LAYERS`): ``"korthikanti"``, the GPT layer
        as Megatron-LM ran it in 2021-22 (scores materialised: QK^T, a fused
        scale-mask-softmax, dropout, the product with V; dropout after the attention
        projection and the MLP); ``"modern"``, fused attention (FlashAttention, PyTorch SDPA)
        that never writes the s x s scores, no dropout. Default
        :func:`trainmath.activations.default_activation_layer` (modern for rotary models).
        The norm, the MLP (GeLU or SwiGLU), grouped-query attention and the head size come
        from ``cfg`` in both.
    dtype : str
        Activations, weights and peak.
    causal : bool
        Fused attention skips the masked half of the scores (FlashAttention does);
        materialised scores are always computed whole.
    efficiency : float, optional
        Large-GEMM efficiency; default :func:`~trainmath.accelerators.matmul_efficiency`.
    moe : bool, optional
        For a mixture of experts: an MoE layer (default) or one of its dense layers
        (False). An MoE layer runs its router on the rank's tokens / tp (sequence
        parallelism), its shared experts tensor-parallel, and ``n_experts / ep`` local
        routed experts as a grouped matmul over their share of the ``capacity_factor x k``
        token copies per token (``etp`` ways split, gathered; default ``tp``); dispatching
        and combining the copies are element-wise passes. The all-to-all between expert
        ranks is communication (:func:`trainmath.planner.step_time`).
    ep, etp, capacity_factor : int, int, float (or arrays)
        Expert parallelism, expert tensor parallelism, and the busiest GPU's token copies
        over a balanced router's, as in :func:`trainmath.memory.memory_per_gpu`.

    Latent attention (``attention="mla"``) runs its down- and up-projections as matmuls
    (the down-projections, replicated, on every tensor-parallel rank), scores of width
    ``qk_nope_head_dim + qk_rope_head_dim`` and values of ``v_head_dim``, and two more norms
    on the latents.

    Returns
    -------
    LayerTime
        ``matmuls``, ``attention``, ``elementwise``, ``total``.

    Sources: Narayanan et al. 2021, Sec. 4.2 (Megatron-LM's fused kernels); Korthikanti et
    al. 2022, Secs. 4-5 (the layer's tensors, selective recomputation); Dao et al. 2022
    (FlashAttention). Assumptions: the least traffic per operation; no kernel launch time;
    the fused kernels of the pass table in this module's source (``_PASSES``); FlashAttention at the
    large-GEMM efficiency (FlashAttention-2 reports 50-73 % of the A100's peak, Dao 2023,
    Sec. 4.1, close to its 87 %). Checked against Korthikanti et al. 2022, Table 4 (a 22B
    layer on A100s) in the tests.
    """
    v.instance("cfg", cfg, ModelConfig)
    layer = default_activation_layer(cfg) if layer is None else \
        v.choice("layer", layer, ACTIVATION_LAYERS)
    if layer == "korthikanti" and (cfg.is_moe or cfg.attention == "mla"):
        raise ValueError("layer='korthikanti' is the dense GPT layer; a mixture of experts or "
                         "latent attention needs layer='modern'")
    moe = cfg.is_moe if moe is None else v.flag("moe", moe)
    if moe and not cfg.is_moe:
        raise ValueError(f"moe=True needs a mixture of experts; {cfg.name or 'cfg'} is dense")
    ep = np.asarray(v.positive_int("ep", ep))
    etp = np.asarray(tp if etp is None else v.positive_int("etp", etp))
    capacity = v.positive("capacity_factor", capacity_factor)
    v.choice("recompute", recompute, RECOMPUTE)
    v.flag("sequence_parallel", sequence_parallel)
    v.flag("causal", causal)
    s = np.asarray(v.positive_int("seq_len", seq_len))
    b = np.asarray(v.positive_int("micro_batch", micro_batch))
    tp = np.asarray(v.positive_int("tp", tp))
    cp = np.asarray(v.positive_int("cp", cp))
    v.divides("tp", tp, "n_heads", cfg.n_heads)
    v.divides("cp", cp, "seq_len", s)
    dev = _Device.of(accelerator, dtype, efficiency)
    bandwidth, beta = dev.bandwidth, dev.beta
    s_q = s // cp
    tokens = b * s_q
    hq = cfg.n_heads // tp

    # weight matmuls: forward, then the backward's input gradient (m x n)(n x k) and weight
    # gradient (k x m)(m x n)
    fwd_mm = bwd_mm = 0.0
    for m, k, n, batch in _layer_shapes(cfg, tokens, tp, moe, ep, etp, capacity):
        fwd_mm = fwd_mm + dev.matmul(m, k, n, batch)
        bwd_mm = bwd_mm + dev.matmul(m, n, k, batch) \
            + dev.matmul(k, m, n, batch)

    # the attention core
    heads = b * hq
    d = cfg.head_dim
    if layer == "korthikanti":  # QK^T then (scores)V, per head and sequence
        fwd_att = dev.matmul(s_q, d, s, heads) \
            + dev.matmul(s_q, s, d, heads)
        bwd_att = (dev.matmul(s_q, s, d, heads)
                   + dev.matmul(d, s_q, s, heads)
                   + dev.matmul(s_q, d, s, heads)
                   + dev.matmul(s, s_q, d, heads))
    else:  # one fused kernel: 2 s_q s (d_qk + d_v) FLOPs per head forward, half when causal
        d_v = cfg.v_head_dim if cfg.attention == "mla" else d
        flops = 2.0 * s_q * s * (d + d_v) * heads * (0.5 if causal else 1.0)
        fwd_att = flops / dev.rate
        bwd_att = 2.5 * fwd_att

    # element-wise passes at the memory bandwidth
    if cfg.attention == "mla":  # RoPE on the queries' and the shared key's rotary parts
        rotary = (hq + 1) * cfg.qk_rope_head_dim
    else:
        rotary = (hq + np.maximum(cfg.n_kv_heads // tp, 1)) * d
    per_token = {"h": cfg.d_model, "ff": cfg.d_ff / tp, "qk": rotary,
                 "latent": (cfg.q_lora_rank or 0) + (cfg.kv_lora_rank or 0)}
    passes = _PASSES[layer] + (_MLA_PASSES if cfg.attention == "mla" else ())
    if moe:  # the activation runs on the copies' expert width and the shared experts'
        copies = _routed_copies(tokens, cfg.experts_per_token, tp, etp, capacity)
        per_token["ff"] = (copies / tokens * cfg.moe_d_ff / etp
                           + cfg.n_shared_experts * cfg.moe_d_ff / tp)
        per_token["copies"] = copies / tokens * cfg.d_model
        passes = passes + _MOE_PASSES
    norm_tokens = tokens / tp if sequence_parallel else tokens
    fwd_ew = bwd_ew = fwd_scores = bwd_scores = 0.0
    for _name, tensor, fr, fw, br, bw in passes:
        kind, _, mask = tensor.partition("+")
        if kind == "scores":
            values = heads * s_q * s
        else:
            values = (norm_tokens if kind in ("h", "latent") else tokens) * per_token[kind]
        width = 1.0 if mask else beta
        fwd_bytes, bwd_bytes = values * (fr + fw) * width, values * (br + bw) * width
        if kind == "scores":
            fwd_scores = fwd_scores + fwd_bytes / bandwidth
            bwd_scores = bwd_scores + bwd_bytes / bandwidth
        else:
            fwd_ew = fwd_ew + fwd_bytes / bandwidth
            bwd_ew = bwd_ew + bwd_bytes / bandwidth

    attention = fwd_att + bwd_att + fwd_scores + bwd_scores
    matmuls = fwd_mm + bwd_mm
    elementwise = fwd_ew + bwd_ew
    if recompute == "full":
        matmuls = matmuls + fwd_mm
        attention = attention + fwd_att + fwd_scores
        elementwise = elementwise + fwd_ew
    elif recompute == "selective":
        attention = attention + fwd_att + fwd_scores
    parts = {"matmuls": matmuls, "attention": attention, "elementwise": elementwise}
    return LayerTime({k: v.result(np.asarray(x, dtype=float)) for k, x in parts.items()})


def lm_head_time(cfg: ModelConfig, tokens: ArrayLike, accelerator: str | Accelerator, *,
                 tp: ArrayLike = 1, dtype: str = "bf16",
                 efficiency: float | None = None) -> Array:
    """Seconds of the output layer for ``tokens`` on one GPU: logits, loss, and their backward.

    The (tokens x d)(d x V/tp) matmul forward and its two backward matmuls (:func:`matmul_time`),
    and the softmax cross-entropy over the tokens x V/tp logits at the memory bandwidth:
    forward reads the 16-bit logits and writes fp32 probabilities, backward reads them and
    writes the 16-bit gradient (Megatron-LM's vocabulary-parallel cross-entropy; Hugging Face
    upcasts the logits to fp32 the same way).

    >>> round(lm_head_time(MODELS["llama-3-8b"], 8192, "H100-SXM") * 1e3, 1)
    36.7

    Parameters
    ----------
    cfg : ModelConfig
    tokens : int or array
        Tokens of the micro-batch on this GPU, >= 1.
    accelerator, tp, dtype, efficiency
        As in :func:`layer_time`; the vocabulary is split over tp ranks.

    Source: Megatron-LM's vocabulary-parallel cross-entropy (Shoeybi et al. 2019, Sec. 3).
    Assumptions: 12 bytes per logit and element-wise pass pair (16-bit logits, fp32
    probabilities), the matmuls as :func:`matmul_time`; the embedding lookup is neglected.
    """
    v.instance("cfg", cfg, ModelConfig)
    tokens = np.asarray(v.positive_int("tokens", tokens))
    tp = np.asarray(v.positive_int("tp", tp))
    dev = _Device.of(accelerator, dtype, efficiency)
    vocab = np.ceil(cfg.vocab_size / tp)
    h = cfg.d_model
    matmuls = (dev.matmul(tokens, h, vocab)
               + dev.matmul(tokens, vocab, h)
               + dev.matmul(h, tokens, vocab))
    loss = tokens * vocab * ((dev.beta + 4) + (4 + dev.beta)) / dev.bandwidth
    return v.result(np.asarray(matmuls + loss, dtype=float))


# --- this machine: numpy's matmul and copy, timed -----------------------------------------------

# Dtypes numpy multiplies with BLAS (float16 and ml_dtypes' formats fall back to slow loops).
_NUMPY_MATMUL = {"fp32": np.float32}


def _best_time(run, min_time: float, max_runs: int) -> tuple[float, int]:
    """Best (least) wall time of ``run()``: at least twice (a single run can be a stall),
    then until ``min_time`` seconds have passed, at most ``max_runs`` times."""
    best, runs, start = float("inf"), 0, time.perf_counter()
    while runs < max_runs and (runs < 2 or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return best, runs


@dataclass(frozen=True)
class MatmulTiming:
    """One matmul (m x k)(k x n) timed on this machine by :func:`time_matmul`.

    Attributes
    ----------
    m, k, n : int
    dtype : str
    seconds : float
        The best (least) wall time of the runs: noise only ever adds time.
    runs : int
        How many runs were timed.
    """

    m: int
    k: int
    n: int
    dtype: str
    seconds: float
    runs: int

    @property
    def flops(self) -> float:
        """``2 m k n`` (:func:`matmul_flops`)."""
        return matmul_flops(self.m, self.k, self.n)

    @property
    def flops_per_second(self) -> float:
        """Achieved FLOP/s: :attr:`flops` / :attr:`seconds`."""
        return self.flops / self.seconds

    @property
    def intensity(self) -> float:
        """Arithmetic intensity in FLOP/B (:func:`matmul_intensity`)."""
        return matmul_intensity(self.m, self.k, self.n, self.dtype)


def time_matmul(m: int, k: int, n: int, dtype: str = "fp32", *, min_time: float = 0.01,
                max_runs: int = 20) -> MatmulTiming:
    """Time numpy's ``A @ B`` for A (m x k) and B (k x n) on this machine (its CPU's BLAS).

    The inputs are ones: a dense BLAS matmul has no data-dependent path, so its time does not
    depend on the values (and random inputs of 10 million values would take longer to draw
    than the matmul takes to run). The output is allocated and touched before timing (a first
    write to fresh memory costs page faults, not arithmetic); the matmul then runs at least
    twice, and on until ``min_time`` seconds have passed (at most ``max_runs`` times), and the
    best run is kept.

    >>> t = time_matmul(64, 64, 64, min_time=0.0)
    >>> (t.flops, t.runs, t.seconds > 0)
    (524288.0, 2, True)

    Parameters
    ----------
    m, k, n : int
        The shapes, each >= 1.
    dtype : {"fp32"}
        Only float32: numpy has no BLAS for 16-bit or 8-bit formats (their matmul is a plain
        loop, hundreds of times slower, which would measure numpy rather than the machine).
    min_time : float
        Seconds to keep repeating, >= 0 (0: two runs).
    max_runs : int
        Most runs, >= 1 (1: a single run).

    Returns
    -------
    MatmulTiming

    Source and assumptions: best-of-N timing as in Python's ``timeit`` documentation ("the
    lowest value gives a lower bound for how fast your machine can run"); numpy's threads
    as configured (all cores by default). A measurement: it differs from machine to machine
    and from run to run.
    """
    m, k, n = _shape(m, k, n)
    if not isinstance(dtype, str) or dtype not in _NUMPY_MATMUL:
        raise ValueError(
            f"dtype must be one of {sorted(_NUMPY_MATMUL)} for time_matmul, got {dtype!r}: numpy "
            "multiplies other formats without BLAS, far slower than the machine can"
        )
    np_dtype = _NUMPY_MATMUL[dtype]
    min_time = float(v.nonnegative("min_time", min_time))
    max_runs = v.scalar_int("max_runs", max_runs)
    a = np.ones((m, k), dtype=np_dtype)
    b = np.ones((k, n), dtype=np_dtype)
    out = np.empty((m, n), dtype=np_dtype)
    out.fill(0)
    seconds, runs = _best_time(lambda: np.matmul(a, b, out=out), min_time, max_runs)
    return MatmulTiming(m, k, n, dtype, seconds, runs)


def time_copy(n_bytes: int = 2**26, *, min_time: float = 0.01, max_runs: int = 20) -> float:
    """This machine's memory bandwidth, in bytes/s: an array copy's bytes read + written / time.

    ``np.copyto`` reads ``n_bytes`` and writes ``n_bytes``, so the rate is ``2 n_bytes`` over
    the best time (the STREAM benchmark's "Copy" counts the same, McCalpin 1995). Pick
    ``n_bytes`` well above the caches (the default, 64 MiB, is above most last-level caches;
    twice that is in flight), or the rate is the cache's.

    >>> time_copy(2**20, min_time=0.0) > 0
    True

    Parameters
    ----------
    n_bytes : int
        Size of the array copied, >= 1 (rounded down to whole float32 values, at least one).
    min_time, max_runs
        As in :func:`time_matmul`.

    Source: McCalpin, "Memory Bandwidth and Machine Balance in Current High Performance
    Computers" (1995), the STREAM Copy kernel. Assumptions: one process, numpy's copy loop
    (single-threaded); a multi-threaded copy can reach more of the memory's bandwidth.
    """
    n_bytes = v.scalar_int("n_bytes", n_bytes)
    min_time = float(v.nonnegative("min_time", min_time))
    max_runs = v.scalar_int("max_runs", max_runs)
    src = np.ones(max(n_bytes // 4, 1), dtype=np.float32)
    dst = np.zeros_like(src)
    np.copyto(dst, src)  # fault the destination's pages in before timing
    seconds, _ = _best_time(lambda: np.copyto(dst, src), min_time, max_runs)
    return 2 * src.nbytes / seconds


def measured_roofline(timings: Iterable[MatmulTiming], bandwidth: float, *,
                      name: str = "this machine") -> Accelerator:
    """An :class:`~trainmath.Accelerator` for this machine, from measurements.

    Its peak (in the timings' dtype) is the best FLOP/s any of ``timings`` reached, and its
    bandwidth is ``bandwidth`` (from :func:`time_copy`); every roofline function accepts it.
    Both are *empirical* ceilings: the true peak (cores x clock x SIMD lanes x 2 FLOPs per
    fused multiply-add) is at least this, and cannot be read portably from Python.

    >>> fast = MatmulTiming(512, 512, 512, "fp32", 1e-3, 1)
    >>> machine = measured_roofline([fast], 20e9)
    >>> round(machine.peak("fp32") / 1e9, 1), round(ridge_point(machine, "fp32"), 2)
    (268.4, 13.42)

    Parameters
    ----------
    timings : iterable of MatmulTiming
        At least one, all in the same dtype.
    bandwidth : float
        Bytes/s, > 0.
    name : str
        A display name.

    Source and assumptions: the roofline (Williams, Waterman & Patterson 2009) with measured
    rather than data-sheet ceilings, as the paper's own "ceilings" are; caches are ignored.
    """
    timings = list(timings)
    if not timings or not all(isinstance(t, MatmulTiming) for t in timings):
        raise TypeError("timings must be a non-empty list of MatmulTiming (from time_matmul)")
    dtypes = sorted({t.dtype for t in timings})
    if len(dtypes) != 1:
        raise ValueError(f"timings must all have one dtype, got {dtypes}")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__} ({name!r})")
    bw = float(v.positive("bandwidth", bandwidth))
    peak = max(t.flops_per_second for t in timings)
    memory = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) \
        if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names else float("nan")
    return Accelerator(
        name, MappingProxyType({dtypes[0]: peak}), memory, bw,
        source=f"measured: best of {len(timings)} numpy matmuls, one numpy copy",
        vendor="",
    )


# --- published runs ----------------------------------------------------------------------------

#: How a run's achieved FLOP/s were counted: ``"model"`` (the model's forward and backward
#: FLOPs only, as MFU counts), ``"hardware"`` (recomputed activations included, as HFU counts),
#: ``"unknown"`` (the source does not say).
FLOPS_COUNTS = ("model", "hardware", "unknown")


@dataclass(frozen=True)
class PublishedRun:
    """One published training run (or benchmark) and the utilisation it reached.

    The source's own figure is kept as printed (``reported``, ``achieved_flops_per_gpu``, the
    ``printed_*`` fractions); :attr:`share_of_peak`, :attr:`mfu` and :attr:`hfu` are computed
    from it and the peak.

    Attributes
    ----------
    model, accelerator : str
        What was trained on what (``accelerator`` is a display name).
    n_gpus : int or None
        Accelerators (None where our sources do not give the number).
    dtype : str
        The dtype of the peak used as denominator.
    peak_flops : float or None
        The denominator, dense peak FLOP/s of one accelerator in ``dtype``.
    achieved_flops_per_gpu : float or None
        FLOP/s per accelerator in the source's count: as printed, or computed from a printed
        throughput (tokens/s, steps/s). None where the source prints only a utilisation.
    flops_counted : {"model", "hardware", "unknown"}
        Whether ``achieved_flops_per_gpu`` includes recomputation (:data:`FLOPS_COUNTS`).
    recompute : {"none", "selective", "full"} or None
        Activation recomputation of the run (None: not stated in our sources).
    recompute_overhead : float or None
        Extra FLOPs of that recomputation over the model FLOPs, from
        :func:`trainmath.compute.recompute_flops_overhead` (None when unknown).
    printed_mfu, printed_hfu : float or None
        Utilisations as the source prints them (a share of peak printed without saying which
        FLOPs is stored under the count of ``flops_counted``).
    reported : str
        The source's figure in its own words.
    source : str
        Paper and table or section.
    note : str
        Assumptions and disagreements.
    """

    model: str
    accelerator: str
    n_gpus: int | None
    dtype: str
    peak_flops: float | None
    achieved_flops_per_gpu: float | None
    flops_counted: str
    recompute: str | None
    recompute_overhead: float | None
    printed_mfu: float | None
    printed_hfu: float | None
    reported: str
    source: str = field(compare=False)
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        v.choice("flops_counted", self.flops_counted, FLOPS_COUNTS)
        if self.recompute is not None:
            v.choice("recompute", self.recompute, RECOMPUTE)
        if self.n_gpus is not None:
            v.scalar_int("n_gpus", self.n_gpus)
        for name in ("peak_flops", "achieved_flops_per_gpu"):
            if getattr(self, name) is not None:
                v.positive(name, getattr(self, name))
        if self.recompute_overhead is not None:
            v.nonnegative("recompute_overhead", self.recompute_overhead)
        for name in ("printed_mfu", "printed_hfu"):
            if getattr(self, name) is not None:
                v.fraction(name, getattr(self, name))

    @property
    def share_of_peak(self) -> float | None:
        """``achieved_flops_per_gpu / peak_flops`` in the source's own count (or None)."""
        if self.achieved_flops_per_gpu is None or self.peak_flops is None:
            return None
        return share_of_peak(self.achieved_flops_per_gpu, self.peak_flops)

    @property
    def mfu(self) -> float | None:
        """Model FLOPs utilisation, computed from the achieved rate and the peak.

        The share of peak when the source counts model FLOPs; the share of peak over
        ``1 + recompute_overhead`` when it counts hardware FLOPs; the printed MFU when the
        source prints only that; None when the count is unknown.
        """
        share = self.share_of_peak
        if self.flops_counted == "model":
            return self.printed_mfu if share is None else share
        if self.flops_counted == "hardware" and share is not None and \
                self.recompute_overhead is not None:
            return mfu_from_hfu(share, self.recompute_overhead)
        return None

    @property
    def hfu(self) -> float | None:
        """Hardware FLOPs utilisation (recomputation included), or None when not computable."""
        if self.flops_counted == "hardware":
            return self.share_of_peak
        if self.flops_counted == "model" and self.mfu is not None and \
                self.recompute_overhead is not None:
            return hfu_from_mfu(self.mfu, self.recompute_overhead)
        return None


def _peak(accelerator: str, dtype: str) -> float:
    return get_accelerator(accelerator).peak(dtype)


def _per_gpu(tokens_per_second: float, cfg: ModelConfig, n_gpus: int) -> float:
    """Model FLOP/s per accelerator from a throughput: ``tokens/s * FLOPs/token / n_gpus``."""
    return achieved_flops_per_gpu(tokens_per_second * flops_per_token(cfg), n_gpus, 1.0)


def _megatron(name: str, n_layers: int, d_model: int, n_heads: int, vocab_size: int,
              source: str) -> ModelConfig:
    """A GPT-style shape (d_ff = 4h, no GQA) as the Megatron-LM FLOP count assumes."""
    return ModelConfig(n_layers=n_layers, d_model=d_model, n_heads=n_heads,
                       vocab_size=vocab_size, seq_len=2048, name=name, source=source)


def _overhead(cfg: ModelConfig, recompute: str) -> float:
    """Megatron-LM's count of recomputation (Narayanan et al. 2021 Eq. 3 over Korthikanti Eq. 7)."""
    return recompute_flops_overhead(cfg, recompute=recompute, convention="korthikanti")


# Shapes the rows need. PaLM 540B: Chowdhery et al. 2022, Table 1 and Sec. 2 (SwiGLU with
# d_ff = 4d, multi-query attention, shared input/output embeddings, 256k vocabulary, no biases):
# 540,358,649,856 parameters, the 540.35B of Table 1.
_PALM = ModelConfig(n_layers=118, d_model=18432, n_heads=48, n_kv_heads=1, head_dim=256,
                    vocab_size=256000, d_ff=4 * 18432, mlp="swiglu", bias=False,
                    tied_embeddings=True, position="rope", name="PaLM 540B",
                    source="Chowdhery et al. 2022 (PaLM), Table 1")
_MT_NLG = _megatron("MT-NLG 530B", 105, 20480, 128, 51200,
                    "Smith et al. 2022 (105 layers, h 20480, 128 heads); GPT-2's "
                    "50,257-token vocabulary padded to 51,200 (an assumption; 0.1 % effect)")
# Runs whose printed figures (layout, TFLOP/s) trainmath.runs keeps, with their layouts: the
# rows below read them there rather than restate them.
_NARAYANAN_1T = PUBLISHED_LAYOUTS["Megatron-LM 1008B (3,072 A100)"]
_MEGATRON_1T = _NARAYANAN_1T.cfg
_BLOOM = _megatron("BLOOM 176B", 70, 14336, 112, 250880,
                   "BigScience tr11-176B-ml README (h 14336, 70 layers, 112 heads, "
                   "V 250,880 padded)")

_A100, _H100 = "A100-80GB", "H100-SXM"
_GOPHER_TOKENS_PER_STEP = 3072 * 2048  # "6M" tokens per batch (Rae et al. 2021, Table 1)
_MT_NLG_TOKENS_PER_SECOND = 1920 * 2048 / 60.1  # 65.43K tokens/s (PaLM, Sec. 4.1)
_LLAMA3 = "Grattafiori et al. 2024 (Llama 3), Table 4"
_LLAMA3_NOTE = ("MFU as the paper defines it ('Chowdhery et al.'; attention counting not "
                "published) over the dense bf16 peak; TFLOP/s printed to two figures, so "
                "400/989 = 40.4 % sits beside the printed 41 %")


def _llama3(run_name: str, printed_mfu: float, recompute: str | None) -> PublishedRun:
    """A Llama 3 405B row of Table 4 from its layout in :data:`trainmath.runs.PUBLISHED_LAYOUTS`."""
    run = PUBLISHED_LAYOUTS[run_name]
    layout = f"TP {run.tp}, " + (f"CP {run.cp}, " if run.cp > 1 else "") + \
        f"PP {run.pp}, DP {run.dp}"
    return PublishedRun(
        model=f"Llama 3 405B (seq {run.seq_len})", accelerator=_H100, n_gpus=run.n_gpus,
        dtype="bf16", peak_flops=_peak(_H100, "bf16"),
        achieved_flops_per_gpu=run.tflops_per_gpu * 1e12, flops_counted="model",
        recompute=recompute, recompute_overhead=0.0 if recompute == "none" else None,
        printed_mfu=printed_mfu, printed_hfu=None,
        reported=f"{run.tflops_per_gpu:g} TFLOP/s per GPU, BF16 MFU {printed_mfu:.0%} "
                 f"({layout})".replace("%", " %"),
        source=_LLAMA3, note=_LLAMA3_NOTE,
    )

#: Published training runs (and two Megatron-LM benchmarks) with the utilisation each reached,
#: read-only. Each row keeps the figure its source prints; :attr:`PublishedRun.mfu` and
#: :attr:`PublishedRun.hfu` compute the utilisations from it and the peak. The rows follow
#: ``../shared/reference-figures.md`` (Secs. 5, 7, 8, 9) and ``../shared/published-runs.md``;
#: rows marked "secondary" in their source were found through quotations of the primary text.
PUBLISHED_MFU: Mapping[str, PublishedRun] = MappingProxyType({
    "gpt3-175b": PublishedRun(
        model="GPT-3 175B", accelerator="V100", n_gpus=None, dtype="fp16",
        peak_flops=_peak("V100", "fp16"), achieved_flops_per_gpu=24.6e12,
        flops_counted="model", recompute=None, recompute_overhead=None,
        printed_mfu=0.213, printed_hfu=None,
        reported="24.6 non-attention model TFLOP/s per GPU; MFU 21.3 %",
        source="Chowdhery et al. 2022 (PaLM), Sec. 4.1 and Table 3, citing Patterson et al. "
               "2021 for the 24.6 TFLOP/s",
        note="24.6 / 125 (V100 dense fp16 peak) = 19.7 %, not PaLM's 21.3 %; with attention "
             "(+2.7 % for GPT-3 at s = 2048) 20.2 %. PaLM does not say which peak it divided "
             "by; 21.3 % implies 115.5 TFLOP/s. The GPU count is not in our sources.",
    ),
    "gopher-280b": PublishedRun(
        model="Gopher 280B", accelerator="TPU v3", n_gpus=4096, dtype="bf16",
        peak_flops=123e12,
        achieved_flops_per_gpu=_per_gpu(0.0152 * _GOPHER_TOKENS_PER_STEP,
                                        MODELS["gopher-280b"], 4096),
        flops_counted="model", recompute=None, recompute_overhead=None,
        printed_mfu=0.325, printed_hfu=None,
        reported="0.0152 training steps/s on 4096 TPU v3 chips; MFU 32.5 %",
        source="Chowdhery et al. 2022 (PaLM), Sec. 4.1 and Table 3 (steps/s by personal "
               "communication); batch of 6M tokens: Rae et al. 2021 (Gopher), Table 1; TPU v3 "
               "peak 123 TFLOP/s (bf16): Google Cloud TPU v3 documentation",
        note="'6M' tokens read as 3072 sequences of 2048 (M standing for a power of two, as "
             "in GPT-3's 3.2M = 1536 x 2048); exactly 6e6 tokens would give 31.0 %. FLOPs per "
             "token: tm.flops_per_token of the Gopher preset (6N + 12 L H Q T).",
    ),
    "mt-nlg-530b": PublishedRun(
        model="Megatron-Turing NLG 530B", accelerator=_A100, n_gpus=2240, dtype="bf16",
        peak_flops=_peak(_A100, "bf16"),
        achieved_flops_per_gpu=_per_gpu(_MT_NLG_TOKENS_PER_SECOND, _MT_NLG, 2240),
        flops_counted="model", recompute=None, recompute_overhead=None,
        printed_mfu=0.302, printed_hfu=None,
        reported="65.43K tokens/s (batch 1920 x 2048 tokens, 60.1 s per step on 2240 A100s); "
                 "MFU 30.2 % (29.7 % without attention)",
        source="Chowdhery et al. 2022 (PaLM), Sec. 4.1 and Table 3, from the step times of "
               "Smith et al. 2022, Sec. 2.4 (secondary for the 60.1 s)",
        note="PaLM truncates (30.24 % prints as 30.2 %). Smith et al. print 126 TFLOP/s per GPU "
             "for the same step, a hardware count (Megatron-LM Eq. 3, full recomputation).",
    ),
    "palm-540b": PublishedRun(
        model="PaLM 540B", accelerator="TPU v4", n_gpus=6144, dtype="bf16",
        peak_flops=_peak("TPU v4", "bf16"),
        achieved_flops_per_gpu=_per_gpu(238.3e3, _PALM, 6144),
        flops_counted="model", recompute=None, recompute_overhead=None,
        printed_mfu=0.462, printed_hfu=0.578,
        reported="238.3K tokens/s on 6144 TPU v4 chips; MFU 46.2 % (45.7 % without "
                 "attention), HFU 57.8 %",
        source="Chowdhery et al. 2022 (PaLM), Sec. 4.1, Table 3 and App. B",
        note="FLOPs per token 6N + 12 L H Q T (tm.flops_per_token of PaLM's Table 1 shape, "
             "non-causal attention). PaLM rematerialised part of the forward pass; its HFU "
             "implies 25 % extra FLOPs, an analytic count not reproduced here.",
    ),
    "megatron-1t": PublishedRun(
        model="Megatron-LM GPT 1T (benchmark)", accelerator=_A100,
        n_gpus=_NARAYANAN_1T.n_gpus, dtype="fp16", peak_flops=_peak(_A100, "fp16"),
        achieved_flops_per_gpu=_NARAYANAN_1T.tflops_per_gpu * 1e12,
        flops_counted="hardware", recompute="full",
        recompute_overhead=_overhead(_MEGATRON_1T, "full"),
        printed_mfu=None, printed_hfu=0.52,
        reported="163 TFLOP/s per GPU, 52 % of peak (Eq. 3, full recomputation)",
        source="Narayanan et al. 2021, Table 1 (1008B row: TP 8, PP 64, 3072 GPUs, batch 3072)",
        note="Eq. 3 counts a fourth (recomputed) forward pass: a hardware count, so 52 % is "
             "an HFU; the MFU (Korthikanti et al. 2022, Eq. 7) is 39 %.",
    ),
    "megatron-1t-selective": PublishedRun(
        model="Megatron-LM GPT 1T, selective recomputation (benchmark)", accelerator=_A100,
        n_gpus=None, dtype="bf16", peak_flops=_peak(_A100, "bf16"),
        achieved_flops_per_gpu=None, flops_counted="model", recompute="selective",
        recompute_overhead=_overhead(_MEGATRON_1T, "selective"),
        printed_mfu=0.563, printed_hfu=0.570,
        reported="MFU 56.3 %, HFU 57.0 % (data-parallel size 1)",
        source="Korthikanti et al. 2022, Table 5 (MFU); HFU from the Megatron-LM README (2022)",
        note="Only utilisations are printed, so the MFU is the printed one; the HFU is computed "
             "from it with Korthikanti et al.'s count of selective recomputation.",
    ),
    "bloom-176b": PublishedRun(
        model="BLOOM 176B", accelerator=_A100, n_gpus=384, dtype="bf16",
        peak_flops=_peak(_A100, "bf16"), achieved_flops_per_gpu=149.77e12,
        flops_counted="hardware", recompute="full",
        recompute_overhead=_overhead(_BLOOM, "full"),
        printed_mfu=None, printed_hfu=None,
        reported="'TFLOPs: 149.77' in the training log (iteration 85376, 104.70 s per step, "
                 "batch 2048 x 2048 tokens)",
        source="BigScience tr11-176B-ml README (bigscience-workshop/bigscience), 'Important "
               "checkpoints' log line and 'Throughput' section",
        note="The README says these are hardware TFLOPs (activation checkpointing; Megatron-LM "
             "Eq. 3 with V = 250,880 reproduces 149.77). MFU about 36 %.",
    ),
    "opt-175b": PublishedRun(
        model="OPT-175B", accelerator=_A100, n_gpus=992, dtype="fp16",
        peak_flops=_peak(_A100, "fp16"), achieved_flops_per_gpu=147e12,
        flops_counted="unknown", recompute=None, recompute_overhead=None,
        printed_mfu=None, printed_hfu=None,
        reported="'utilization of up to 147 TFLOP/s per GPU'",
        source="Zhang et al. 2022 (OPT), Sec. 2.4",
        note="How the FLOPs were counted is not stated, and 'up to' is a best case: 47 % of "
             "the fp16 peak, neither an MFU nor an HFU.",
    ),
    "llama3-405b-8k": _llama3("Llama 3 405B (8,192 H100, s = 8,192)", 0.43, "none"),
    "llama3-405b-16k": _llama3("Llama 3 405B (16,384 H100, s = 8,192)", 0.41, "none"),
    "llama3-405b-16k-long": _llama3("Llama 3 405B (16,384 H100, s = 131,072)", 0.38, None),
    "llama4-behemoth-fp8": PublishedRun(
        model="Llama 4 Behemoth (pre-training, fp8)", accelerator=_H100, n_gpus=None,
        dtype="fp8", peak_flops=_peak(_H100, "fp8"), achieved_flops_per_gpu=390e12,
        flops_counted="model", recompute=None, recompute_overhead=None,
        printed_mfu=None, printed_hfu=None,
        reported="'using FP8 and 32K GPUs, we achieved 390 TFLOPs/GPU'",
        source="Meta AI blog 'The Llama 4 herd' (April 2025), as quoted by secondary "
               "sources (the blog itself could not be checked here)",
        note="The blog names neither the GPU (H100 assumed) nor the FLOP count (stated in a "
             "sentence about model FLOPs utilisation). 19.7 % of the fp8 peak is 39.4 % of "
             "the bf16 peak: rebase_utilisation.",
    ),
})


# --- the seeds' figures ------------------------------------------------------------------------

#: Throughputs per A100 that the course's seed texts quote, in FLOP/s (read them as MFUs with
#: ``share_of_peak(x, tm.get_accelerator("A100-80GB").peak("fp16"))``):
#:
#: * ``nvidia-matmul``: "~250 teraFLOPs" for 4096 x 8192 x 4096 matmuls (NVIDIA's
#:   documentation, as seed 002 reports it);
#: * ``matmul``: 237, measured for pure matmuls; ``mlp-fp16``: 230, a training step of a
#:   linear fp16 MLP (d 1600, d_ff 6400, 8192 rows); ``mlp-mixed-precision``: 207.6 with fp32
#:   weights; ``mlp-relu-residual``: 185.7 with a ReLU and a residual connection;
#:   ``gpt2-huggingface``: 68, 8 layers of Hugging Face's GPT-2 at the same width;
#: * ``published-low``, ``published-high``: "between 50 and 150" from published runs;
#: * ``tm101-floor``: "under 115 TFLOP/s/A100 ... something is wrong" (seed 003).
#:
#: Seed 002 is "The FLOPs Calculus of Language Model Training" (Bahdanau 2022, Medium);
#: seed 003 is notes on "Transformer Math 101" (Anthony et al. 2023, EleutherAI blog). All are
#: weight-FLOP (model) rates without recomputation. They are measurements and rules of thumb,
#: kept so that lessons can check them, not figures from a paper.
SEED_THROUGHPUTS: Mapping[str, float] = MappingProxyType({
    "nvidia-matmul": 250e12,
    "matmul": 237e12,
    "mlp-fp16": 230e12,
    "mlp-mixed-precision": 207.6e12,
    "mlp-relu-residual": 185.7e12,
    "gpt2-huggingface": 68e12,
    "published-low": 50e12,
    "published-high": 150e12,
    "tm101-floor": 115e12,
})
