"""Published training runs that the exercise variants draw from, with their sources.

One table, so that a correction reaches every lesson's key. Each key picks the runs it uses
with :func:`runs` (its selection fixes which variants it draws).
"""

from __future__ import annotations

__all__ = ["RUNS", "MEGATRON_TABLE1", "runs"]

#: name -> (parameters N, training tokens D, source), as the papers and model cards state them.
RUNS: dict[str, tuple[float, float, str]] = {
    "GPT-3 175B": (175e9, 300e9, "Brown et al. 2020, Table 2.1"),
    "Gopher": (280e9, 300e9, "Hoffmann et al. 2022, Table 1"),
    "Chinchilla": (70e9, 1.4e12, "Hoffmann et al. 2022, Table 1"),
    "OPT-175B": (175e9, 180e9, "Zhang et al. 2022 (OPT)"),
    "BLOOM": (176e9, 366e9, "BigScience 2022 (BLOOM)"),
    "LLaMA 7B": (6.7e9, 1.0e12, "Touvron et al. 2023 (LLaMA), Table 2"),
    "LLaMA 13B": (13.0e9, 1.0e12, "Touvron et al. 2023 (LLaMA), Table 2"),
    "LLaMA 65B": (65.2e9, 1.4e12, "Touvron et al. 2023 (LLaMA), Table 2"),
    "Llama 2 70B": (70e9, 2.0e12, "Touvron et al. 2023 (Llama 2), Table 1"),
    "Llama 3 8B": (8e9, 15e12, "Llama 3 model card"),
    "Llama 3 70B": (70e9, 15e12, "Llama 3 model card"),
}

#: Megatron-LM's weak-scaling runs on A100s (Narayanan et al. 2021, Table 1): billions of
#: parameters, GPUs, TFLOP/s per GPU (counted with full recomputation, their Eq. 3).
MEGATRON_TABLE1: tuple[tuple[float, int, int], ...] = (
    (1.7, 32, 137), (3.6, 64, 138), (7.5, 128, 142), (18.4, 256, 135), (39.1, 512, 138),
    (76.1, 1024, 140), (145.6, 1536, 148), (310.1, 1920, 155), (529.6, 2520, 163),
    (1008.0, 3072, 163),
)


def runs(*names: str) -> dict[str, tuple[float, float, str]]:
    """The named rows of :data:`RUNS`, in the order given."""
    unknown = [name for name in names if name not in RUNS]
    if unknown:
        raise KeyError(f"no published run {unknown}; known: {sorted(RUNS)}")
    return {name: RUNS[name] for name in names}
