"""Accelerator presets: dense peak FLOP/s per dtype, memory and bandwidth.

Peaks are the dense (not 2:4-sparse) tensor-core figures of the vendors' data sheets;
NVIDIA's data sheets print the sparse figures, twice as large, and say so in a footnote, so
each ``source`` names the figures that were halved. fp8, fp6 and fp4 peaks are kept under
those dtype keys where the data sheet gives them (Blackwell: fp4, and fp6 at the fp8 rate).
Memory is the marketed figure read as decimal GB: an "80 GB" H100 counts as 80e9 bytes
(74.5 GiB) here, a conservative choice, since nvidia-smi reports 81,559 MiB (79.6 GiB) for
the card. A name or dtype that is not in the table raises an error that lists the ones that
are; nothing falls back to another preset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from trainmath import _validate as v

__all__ = ["Accelerator", "ACCELERATORS", "get_accelerator"]


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


def _acc(name, peaks_tflops, memory_gb, bandwidth_gbs, source, vendor="NVIDIA") -> Accelerator:
    peaks = MappingProxyType({k: t * 1e12 for k, t in peaks_tflops.items()})
    bw = None if bandwidth_gbs is None else bandwidth_gbs * 1e9
    return Accelerator(name, peaks, memory_gb * 1e9, bw, source, vendor)


#: Presets, read-only (copy with ``dict(tm.ACCELERATORS)`` to add your own).
ACCELERATORS: Mapping[str, Accelerator] = MappingProxyType({
    "V100": _acc(
        "V100", {"fp32": 15.7, "fp16": 125}, 32, 900,
        "NVIDIA V100 data sheet (SXM2 32 GB); no bf16 support",
    ),
    "A100-40GB": _acc(
        "A100-40GB", {"fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312}, 40, 1555,
        "NVIDIA A100 data sheet (SXM, dense)",
    ),
    "A100-80GB": _acc(
        "A100-80GB", {"fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312}, 80, 2039,
        "NVIDIA A100 data sheet (SXM, dense)",
    ),
    "H100-SXM": _acc(
        "H100-SXM",
        {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989, "fp8": 1979}, 80, 3350,
        "NVIDIA H100 data sheet (SXM5; dense = half the printed 2:4-sparse figures)",
    ),
    "H800": _acc(
        "H800",
        {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989, "fp8": 1979}, 80, 3350,
        "No NVIDIA data sheet found for the H800 (SXM5). Zhao et al. 2025 (DeepSeek, ISCA '25, "
        "arXiv:2505.09343), Sec. 4.1: Hopper like the H100, with only FP64 and NVLink "
        "(900 -> 400 GB/s) cut; so the H100 SXM data sheet's figures (dense = half the "
        "printed 2:4-sparse ones) and 80 GB. DeepSeek's FlashMLA deep dive (2025-04-22): "
        "3.35 TB/s and 990 TFLOP/s peak",
    ),
    "H200": _acc(
        "H200",
        {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989, "fp8": 1979}, 141, 4800,
        "NVIDIA H200 data sheet (SXM, dense)",
    ),
    "B200": _acc(
        "B200",
        {"fp32": 75, "tf32": 1100, "bf16": 2250, "fp16": 2250, "fp8": 4500, "fp6": 4500,
         "fp4": 9000}, 180, 7700,
        "NVIDIA Blackwell data sheet (2024-25), Individual Blackwell GPU Specifications, "
        "HGX B200 column: halved the printed FP4 18, FP8/FP6 9, FP16/BF16 4.5 and TF32 2.2 "
        "PFLOPS (footnote: Tensor Core specs are sparse, dense is one half; the 8-GPU NVFP4 "
        "total reads 144 | 72 PFLOPS sparse | dense); FP32 75 TFLOPS as printed; "
        "180 GB HBM3E, 7.7 TB/s",
    ),
    "GB200": _acc(
        "GB200",
        {"fp32": 80, "tf32": 1250, "bf16": 2500, "fp16": 2500, "fp8": 5000, "fp6": 5000,
         "fp4": 10000}, 186, 8000,
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
        192, 5300,
        "AMD Instinct MI300X data sheet (2023): peak FP32 163.4, TF32 653.7, FP16 and "
        "BF16 1,307.4, FP8 2,614.9 TFLOPS as printed (dense; the 2:4-sparse figures AMD "
        "also publishes are not used); 192 GB HBM3, 5.3 TB/s. Its fp8 is the FNUZ variant "
        "of E4M3/E5M2 (ROCm HIP docs: gfx942 has FNUZ, not OCP, FP8)",
        vendor="AMD",
    ),
    "TPU v4": _acc(
        "TPU v4", {"bf16": 275}, 32, 1200,
        "Jouppi et al. 2023 (TPU v4), Table 1; Google Cloud TPU v4 docs",
        vendor="Google",
    ),
})


def get_accelerator(name_or_acc) -> Accelerator:
    """A preset by name (see :data:`ACCELERATORS`), or an :class:`Accelerator` passed through."""
    if isinstance(name_or_acc, Accelerator):
        return name_or_acc
    return v.lookup("accelerator", name_or_acc, ACCELERATORS)
