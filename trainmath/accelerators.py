"""Accelerator presets: dense peak FLOP/s per dtype, memory and bandwidth.

Peaks are the dense (not 2:4-sparse) tensor-core figures of the vendors' data sheets;
NVIDIA's data sheets print the sparse figures, twice as large, and say so in a footnote, so
each ``source`` names the figures that were halved. fp8, fp6 and fp4 peaks are kept under
those dtype keys where the data sheet gives them (Blackwell: fp4, and fp6 at the fp8 rate).
Memory is what the card holds, in bytes, where its NVML total is on record (nvidia-smi prints
it in MiB): an "80 GB" H100 holds 81,559 MiB = 85.52e9 bytes (79.65 GiB), an "80 GB" A100
81,920 MiB = 80 GiB. The marketed "GB" of these cards are roughly GiB, and reading them as
decimal would understate the memory by 7 %, enough to call Llama 3's own layout out of memory
(lesson 07). Leave headroom for the CUDA context, the allocator's fragmentation and the
communication buffers explicitly (``plan_layouts(memory_fraction=...)``). Where no NVML total
is on record (V100, B200, GB200, MI300X) the data sheet's GB are read as decimal, which may
understate them. The TPU v4's 32 GiB are Google's own unit. A name or dtype that is not in
the table raises an error that lists the ones that are; nothing falls back to another preset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from trainmath import _validate as v

__all__ = [
    "Accelerator",
    "ACCELERATORS",
    "get_accelerator",
    "MAX_ACHIEVABLE_MATMUL",
    "matmul_efficiency",
    "STREAMING_MULTIPROCESSORS",
]


@dataclass(frozen=True)
class Accelerator:
    """One accelerator.

    Attributes
    ----------
    name : str
    peak_flops : mapping dtype -> dense peak FLOP/s
        Keys among "fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "fp4": the ones the data
        sheet gives a peak for.
    memory_bytes : float
    bandwidth : float or None
        Memory bandwidth in bytes/s.
    source : str
        Data sheet (with its date or version) and which printed figures were halved.
    vendor : str
        "NVIDIA", "AMD" or "Google" (whose tools report the memory: nvidia-smi for NVIDIA).
    """

    name: str
    peak_flops: MappingProxyType
    memory_bytes: float
    bandwidth: float | None
    source: str = field(default="", compare=False)
    vendor: str = ""

    #: How to get one, for the message of a function given something else (not a field).
    EXAMPLE: ClassVar[str] = "tm.ACCELERATORS['H100-SXM'] or tm.get_accelerator('H100-SXM')"

    def peak(self, dtype: str = "bf16") -> float:
        """Dense peak FLOP/s in ``dtype``, the one place a peak is looked up.

        A dtype the device has no peak for (a V100 has no bf16) raises a ValueError that
        lists the dtypes it has.
        """
        have = ", ".join(self.peak_flops)
        if not isinstance(dtype, str):
            raise TypeError(
                f"dtype must be a str, one of {have} on the {self.name}, "
                f"got {type(dtype).__name__} ({dtype!r})"
            )
        if dtype not in self.peak_flops:
            raise ValueError(
                f"dtype {dtype!r} is not available on the {self.name} "
                f"(it has dense peaks for {have}); choose one of those"
            )
        return float(self.peak_flops[dtype])


def _acc(
    name, peaks_tflops, memory_bytes, bandwidth_gbs, source, vendor="NVIDIA"
) -> Accelerator:
    peaks = MappingProxyType({k: t * 1e12 for k, t in peaks_tflops.items()})
    bw = None if bandwidth_gbs is None else bandwidth_gbs * 1e9
    return Accelerator(name, peaks, float(memory_bytes), bw, source, vendor)


# NVML's totals in bytes (nvidia-smi prints MiB), as tabulated by Modal, "Why does an NVIDIA
# H100 80GB card offer 85.52 GB?" (Modal's engineering blog) and seen in public logs
# (lesson 02): A100 40GB 40,960, A100 80GB 81,920, H100 80GB HBM3 81,559, H200 143,771 MiB.
_NVML = {"A100-40GB": 40_960 * 2**20, "A100-80GB": 81_920 * 2**20,
         "H100-SXM": 81_559 * 2**20, "H200": 143_771 * 2**20}


#: Presets, read-only (copy with ``dict(tm.ACCELERATORS)`` to add your own).
ACCELERATORS: Mapping[str, Accelerator] = MappingProxyType({
    "V100": _acc(
        "V100", {"fp32": 15.7, "fp16": 125}, 32e9, 900,
        "NVIDIA V100 data sheet (SXM2 32 GB); no bf16 support",
    ),
    "A100-40GB": _acc(
        "A100-40GB", {"fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312},
        _NVML["A100-40GB"], 1555,
        "NVIDIA A100 data sheet (SXM, dense); memory: NVML's 40,960 MiB",
    ),
    "A100-80GB": _acc(
        "A100-80GB", {"fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312},
        _NVML["A100-80GB"], 2039,
        "NVIDIA A100 data sheet (SXM, dense); memory: NVML's 81,920 MiB",
    ),
    "H100-SXM": _acc(
        "H100-SXM",
        {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989, "fp8": 1979},
        _NVML["H100-SXM"], 3350,
        "NVIDIA H100 data sheet (SXM5; dense = half the printed 2:4-sparse figures); "
        "memory: NVML's 81,559 MiB for the 80 GB HBM3 card",
    ),
    "H800": _acc(
        "H800",
        {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989, "fp8": 1979},
        _NVML["H100-SXM"], 3350,
        "No NVIDIA data sheet found for the H800 (SXM5). Zhao et al. 2025 (DeepSeek, ISCA '25, "
        "arXiv:2505.09343), Sec. 4.1: Hopper like the H100, with only FP64 and NVLink "
        "(900 -> 400 GB/s) cut; so the H100 SXM data sheet's figures (dense = half the "
        "printed 2:4-sparse ones) and the H100's 80 GB (81,559 MiB). DeepSeek's FlashMLA "
        "deep dive (2025-04-22): 3.35 TB/s and 990 TFLOP/s peak",
    ),
    "H200": _acc(
        "H200",
        {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989, "fp8": 1979},
        _NVML["H200"], 4800,
        "NVIDIA H200 data sheet (SXM, dense); memory: NVML's 143,771 MiB for the 141 GB card",
    ),
    "B200": _acc(
        "B200",
        {"fp32": 75, "tf32": 1100, "bf16": 2250, "fp16": 2250, "fp8": 4500, "fp6": 4500,
         "fp4": 9000}, 180e9, 7700,
        "NVIDIA Blackwell data sheet (2024-25), Individual Blackwell GPU Specifications, "
        "HGX B200 column: halved the printed FP4 18, FP8/FP6 9, FP16/BF16 4.5 and TF32 2.2 "
        "PFLOPS (footnote: Tensor Core specs are sparse, dense is one half; the 8-GPU NVFP4 "
        "total reads 144 | 72 PFLOPS sparse | dense); FP32 75 TFLOPS as printed; "
        "180 GB HBM3E, 7.7 TB/s",
    ),
    "GB200": _acc(
        "GB200",
        {"fp32": 80, "tf32": 1250, "bf16": 2500, "fp16": 2500, "fp8": 5000, "fp6": 5000,
         "fp4": 10000}, 186e9, 8000,
        "One GPU of a GB200 NVL72. NVIDIA Blackwell data sheet (2024-25), Individual "
        "Blackwell GPU Specifications, GB200 NVL72 column: halved the printed FP4 20, "
        "FP8/FP6 10, FP16/BF16 5 and TF32 2.5 PFLOPS (footnote: sparse, dense is one half); "
        "FP32 80 TFLOPS; 186 GB HBM3E, 8 TB/s. Matches the GB200 NVL72 page's rack "
        "figures / 72 (NVFP4 1,440 | 720 PFLOPS sparse | dense, FP32 5,760 TFLOPS, "
        "13.4 TB HBM3E, 576 TB/s)",
    ),
    "MI300X": _acc(
        "MI300X",
        {"fp32": 163.4, "tf32": 653.7, "bf16": 1307.4, "fp16": 1307.4, "fp8": 2614.9},
        192e9, 5300,
        "AMD Instinct MI300X data sheet (2023): peak FP32 163.4, TF32 653.7, FP16 and "
        "BF16 1,307.4, FP8 2,614.9 TFLOPS as printed (dense; the 2:4-sparse figures AMD "
        "also publishes are not used); 192 GB HBM3, 5.3 TB/s. Its fp8 is the FNUZ variant "
        "of E4M3/E5M2 (ROCm HIP docs: gfx942 has FNUZ, not OCP, FP8)",
        vendor="AMD",
    ),
    "TPU v4": _acc(
        "TPU v4", {"bf16": 275}, 32 * 2**30, 1200,
        "Jouppi et al. 2023 (TPU v4), Table 1; Google Cloud TPU v4 docs (32 GiB of HBM)",
        vendor="Google",
    ),
})


def get_accelerator(name_or_acc) -> Accelerator:
    """A preset by name (see :data:`ACCELERATORS`), or an :class:`Accelerator` passed through."""
    if isinstance(name_or_acc, Accelerator):
        return name_or_acc
    return v.lookup("accelerator", name_or_acc, ACCELERATORS)


# --- what a matmul really reaches ------------------------------------------------------------

_MAMF_SOURCE = (
    "Bekman, Machine Learning Engineering (github.com/stas00/ml-engineering @744d01e), "
    "compute/accelerator/README.md, 'Maximum Achievable Matmul FLOPS comparison table': the "
    "best of a brute-force search over matmul shapes (mamf-finder.py), mean of 100 iterations"
)

#: Maximum achievable matmul FLOP/s (MAMF): the best dense matmul throughput measured on each
#: accelerator, in FLOP/s, by dtype, read-only. A data-sheet peak is never reached; the large-GEMM
#: efficiency ``MAMF / peak`` (:func:`matmul_efficiency`) is what a well-shaped matmul gets:
#: A100 SXM 271.2 of 312 (86.9 %), H100 SXM 794.5 of 989 (80.3 %; "H200 is the same"),
#: B200 1745 of 2250 (77.6 %), GB200 1822 of 2500 (72.9 %), MI300X 668.4 of 1300 (51.4 %,
#: PyTorch TunableOp on); fp8 (E4M3): H100 1402.6, H200 1453.4, B200 3432.5, GB200 3615.6 of
#: their 1979, 1979, 4500, 5000. Source: :data:`_MAMF_SOURCE` (measured with PyTorch 2.5-2.10;
#: software improves these, so they are a snapshot). The 40 GB A100 is the same chip as the
#: 80 GB one, and the H800 the H100's (Zhao et al. 2025, Sec. 4.1): they share its figures.
#: fp16 runs on the same tensor cores at the same rate as bf16 and shares its figure. No
#: measurement is recorded for the V100 and the TPU v4: pass an efficiency for them.
MAX_ACHIEVABLE_MATMUL: Mapping[str, Mapping[str, float]] = MappingProxyType({
    name: MappingProxyType({dtype: tflops * 1e12 for dtype, tflops in figures.items()})
    for name, figures in {
        "A100-40GB": {"bf16": 271.2, "fp16": 271.2},
        "A100-80GB": {"bf16": 271.2, "fp16": 271.2},
        "H100-SXM": {"bf16": 794.5, "fp16": 794.5, "fp8": 1402.6},
        "H800": {"bf16": 794.5, "fp16": 794.5, "fp8": 1402.6},
        "H200": {"bf16": 794.5, "fp16": 794.5, "fp8": 1453.4},
        "B200": {"bf16": 1745.0, "fp16": 1745.0, "fp8": 3432.5},
        "GB200": {"bf16": 1822.0, "fp16": 1822.0, "fp8": 3615.6},
        "MI300X": {"bf16": 668.4, "fp16": 668.4},
    }.items()
})


def matmul_efficiency(accelerator, dtype: str = "bf16") -> float:
    """Large-GEMM efficiency: :data:`MAX_ACHIEVABLE_MATMUL` over the dense peak.

    The share of the data-sheet peak that the best-shaped matmul reaches: the ceiling a
    training step's matmuls work against, before small shapes, memory-bound work,
    communication and bubbles (lesson 08; :func:`trainmath.throughput.matmul_time`).

    >>> round(matmul_efficiency("A100-80GB"), 3), round(matmul_efficiency("H100-SXM"), 3)
    (0.869, 0.803)
    >>> round(matmul_efficiency("H100-SXM", "fp8"), 3)
    0.709

    Parameters
    ----------
    accelerator : str or Accelerator
        A preset name (an :class:`Accelerator` of your own has no measurement here).
    dtype : str
        A dtype the accelerator has a peak for.

    Raises
    ------
    ValueError
        When no measurement is recorded for the pair: the message lists the pairs there are
        and says to pass an efficiency instead.

    Source: :data:`MAX_ACHIEVABLE_MATMUL`. Assumptions: the software stack of the
    measurement (cuBLAS/hipBLASLt through PyTorch).
    """
    acc = get_accelerator(accelerator)
    peak = acc.peak(dtype)
    figures = MAX_ACHIEVABLE_MATMUL.get(acc.name, {})
    if dtype not in figures:
        known = "; ".join(f"{name}: {', '.join(f)}" for name, f in MAX_ACHIEVABLE_MATMUL.items())
        raise ValueError(
            f"no measured matmul efficiency for the {acc.name} in {dtype!r} (recorded: {known}); "
            "pass efficiency= (a fraction of the dense peak) instead"
        )
    return figures[dtype] / peak


#: Streaming multiprocessors (NVIDIA) of each GPU, read-only: how many output tiles a matmul
#: kernel computes at once, the unit of wave quantisation (NVIDIA, "Matrix Multiplication
#: Background User's Guide", Wave Quantization). V100 80 (Volta whitepaper), A100 108 (A100
#: whitepaper; the 40 and 80 GB are the same chip), H100 SXM5 132 (H100 whitepaper; the H800
#: and H200 are the same die), B200 148 (CUDA's device query on B200 systems, as quoted by
#: public benchmark code; NVIDIA's data sheet does not print it). Absent: the GB200 (no
#: figure found), the MI300X (304 compute units, a different scheduler) and TPUs, for which
#: no wave quantisation is modelled.
STREAMING_MULTIPROCESSORS: Mapping[str, int] = MappingProxyType({
    "V100": 80, "A100-40GB": 108, "A100-80GB": 108, "H100-SXM": 132, "H800": 132, "H200": 132,
    "B200": 148,
})
