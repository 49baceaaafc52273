"""trainmath: the math of training large language models, as small pure functions.

Import it as ``import trainmath as tm``. Quantities are SI floats or ints (FLOPs,
bytes, seconds) and functions broadcast over numpy arrays where a sweep is natural.
Importing the package loads only numpy and the standard library: :data:`FORMATS`
(ml_dtypes) and :mod:`trainmath.widgets` (ipywidgets, matplotlib) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from trainmath.accelerators import ACCELERATORS, Accelerator, get_accelerator
from trainmath.activations import RECOMPUTE, activation_memory_per_layer
from trainmath.chinchilla import (
    FITS,
    GOPHER_FLOPS,
    LossFit,
    chinchilla_loss,
    chinchilla_optimal,
    frontier_exponents,
    loss_optimal,
)
from trainmath.compute import (
    achieved_flops_per_gpu,
    attention_flops_fraction,
    backward_flops,
    flops_per_token,
    forward_flops,
    megatron_model_flops,
    mfu,
    training_flops,
    training_time,
)
from trainmath.models import (
    MODELS,
    ModelConfig,
    embedding_params,
    get_model,
    matmul_params,
    non_embedding_params,
    param_count,
)
from trainmath.optimizers import (
    DTYPE_BYTES,
    OPTIMIZER_BYTES_PER_PARAM,
    OPTIMIZER_STATES,
    bytes_per_param,
    model_memory,
    training_state_memory,
)
from trainmath.parallelism import pipeline_bubble_fraction, zero_memory_per_gpu
from trainmath.units import (
    GB,
    PFLOP_DAY,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    TB,
    GiB,
    TiB,
    cost,
    from_pflop_days,
    gpu_hours,
    gpu_hours_to_flops,
    to_pflop_days,
)

__version__ = "0.1.0"

# Loaded on first attribute access (PEP 562) so that `import trainmath` stays light.
_LAZY = {
    "FORMATS": ("trainmath.formats", "FORMATS"),
    "NumberFormat": ("trainmath.formats", "NumberFormat"),
    "get_format": ("trainmath.formats", "get_format"),
    "check": ("trainmath.check", "check"),
    "widgets": ("trainmath.widgets", None),
    "formats": ("trainmath.formats", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'trainmath' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ACCELERATORS", "Accelerator", "DTYPE_BYTES", "FITS", "FORMATS", "GB", "GOPHER_FLOPS",
    "GiB", "LossFit", "MODELS", "ModelConfig", "NumberFormat", "OPTIMIZER_BYTES_PER_PARAM",
    "OPTIMIZER_STATES", "PFLOP_DAY", "RECOMPUTE", "SECONDS_PER_DAY", "SECONDS_PER_HOUR", "TB",
    "TiB", "achieved_flops_per_gpu", "activation_memory_per_layer", "attention_flops_fraction",
    "backward_flops", "bytes_per_param", "check", "chinchilla_loss", "chinchilla_optimal",
    "cost", "embedding_params", "flops_per_token", "forward_flops", "from_pflop_days",
    "frontier_exponents", "get_accelerator", "get_format", "get_model", "gpu_hours",
    "gpu_hours_to_flops", "loss_optimal", "matmul_params", "megatron_model_flops", "mfu",
    "model_memory", "non_embedding_params", "param_count", "pipeline_bubble_fraction",
    "to_pflop_days", "training_flops", "training_state_memory", "training_time", "widgets",
    "zero_memory_per_gpu",
]
