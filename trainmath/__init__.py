"""trainmath: the math of training large language models, as small pure functions.

Import it as ``import trainmath as tm``. Quantities are SI floats or ints (FLOPs,
bytes, seconds) and functions broadcast over numpy arrays where a sweep is natural.
Importing the package loads only numpy and the standard library: :data:`FORMATS`
(ml_dtypes) and :mod:`trainmath.widgets` (ipywidgets, matplotlib) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each topic module lists its public names in __all__; all of them are re-exported here,
# so a function added to a module's __all__ is available as tm.<name>.
from trainmath import (
    accelerators,
    activations,
    capstone,
    chinchilla,
    compute,
    memory,
    models,
    moe,
    optimizers,
    parallelism,
    planner,
    runs,
    throughput,
    units,
)
from trainmath.accelerators import *  # noqa: F403
from trainmath.activations import *  # noqa: F403
from trainmath.capstone import *  # noqa: F403
from trainmath.chinchilla import *  # noqa: F403
from trainmath.compute import *  # noqa: F403
from trainmath.memory import *  # noqa: F403
from trainmath.models import *  # noqa: F403
from trainmath.moe import *  # noqa: F403
from trainmath.optimizers import *  # noqa: F403
from trainmath.parallelism import *  # noqa: F403
from trainmath.planner import *  # noqa: F403
from trainmath.runs import *  # noqa: F403
from trainmath.throughput import *  # noqa: F403
from trainmath.units import *  # noqa: F403

_TOPICS = (
    accelerators, activations, capstone, chinchilla, compute, memory, models, moe, optimizers,
    parallelism, planner, runs, throughput, units,
)

__version__ = "0.1.0"

# Loaded on first attribute access (PEP 562) so that `import trainmath` stays light.
_LAZY = {
    "FORMATS": ("trainmath.formats", "FORMATS"),
    "NumberFormat": ("trainmath.formats", "NumberFormat"),
    "get_format": ("trainmath.formats", "get_format"),
    "widgets": ("trainmath.widgets", None),
    "formats": ("trainmath.formats", None),
    "fmt": ("trainmath.fmt", None),
    "measure": ("trainmath.measure", None),  # needs PyTorch: pip install -e ".[measure]"
    "reference": ("trainmath.reference", None),  # needs transformers too (the same extra)
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


__all__ = sorted(
    {name for topic in _TOPICS for name in topic.__all__} | set(_LAZY) | {"fmt"}
)
