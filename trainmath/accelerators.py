"""Accelerator presets: dense peak FLOP/s per dtype, memory and bandwidth.

Peaks are the dense (not 2:4-sparse) tensor-core figures of the vendors' data sheets;
marketing pages often print sparse figures, twice as large. Memory is the marketed figure
read as decimal GB: an "80 GB" H100 counts as 80e9 bytes (74.5 GiB) here, a conservative
choice, since nvidia-smi reports 81,559 MiB (79.6 GiB) for the card.
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
    peak_flops : mapping dtype -> dense peak FLOP/s ("fp32", "tf32", "bf16", "fp16", "fp8")
    memory_bytes : float
    bandwidth : float or None
        Memory bandwidth in bytes/s.
    source : str
    """

    name: str
    peak_flops: MappingProxyType
    memory_bytes: float
    bandwidth: float | None
    source: str = field(default="", compare=False)

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


def _acc(name, peaks_tflops, memory_gb, bandwidth_gbs, source) -> Accelerator:
    peaks = MappingProxyType({k: t * 1e12 for k, t in peaks_tflops.items()})
    bw = None if bandwidth_gbs is None else bandwidth_gbs * 1e9
    return Accelerator(name, peaks, memory_gb * 1e9, bw, source)


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
    "H200": _acc(
        "H200",
        {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989, "fp8": 1979}, 141, 4800,
        "NVIDIA H200 data sheet (SXM, dense)",
    ),
    "TPU v4": _acc(
        "TPU v4", {"bf16": 275}, 32, 1200,
        "Jouppi et al. 2023 (TPU v4), Table 1; Google Cloud TPU v4 docs",
    ),
})


def get_accelerator(name_or_acc) -> Accelerator:
    """A preset by name (see :data:`ACCELERATORS`), or an :class:`Accelerator` passed through."""
    if isinstance(name_or_acc, Accelerator):
        return name_or_acc
    return v.lookup("accelerator", name_or_acc, ACCELERATORS)
