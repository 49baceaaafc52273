"""Bytes per parameter for weights, gradients and optimizer states.

The course's convention (ZeRO, Rajbhandari et al. 2019, Sec. 3.1) counts the fp32
master copy of the weights as part of the optimizer state: mixed-precision AdamW keeps
fp32 master weights, momentum and variance = 4 + 4 + 4 = 12 bytes per parameter, on
top of 2-byte (bf16/fp16) weights and 2-byte gradients, 16 bytes in all.
"""

from __future__ import annotations

from types import MappingProxyType

from trainmath import _validate as v

__all__ = [
    "DTYPE_BYTES",
    "OPTIMIZER_STATES",
    "OPTIMIZER_BYTES_PER_PARAM",
    "bytes_per_param",
    "model_memory",
    "training_state_memory",
]

#: Storage bytes per value of each dtype (int4 packs two values per byte). The same
#: numbers follow from ``tm.FORMATS[name].bytes`` (tested); kept here so that memory
#: arithmetic does not need ml_dtypes.
DTYPE_BYTES = MappingProxyType(
    {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1,
     "int8": 1, "int4": 0.5}
)

#: Optimizer state per parameter, by component, in bytes. "master" is the fp32 copy of
#: the weights that mixed-precision training updates (Micikevicius et al. 2018).
OPTIMIZER_STATES = MappingProxyType({
    # Loshchilov & Hutter 2019; moments m and v in fp32.
    "adamw": MappingProxyType({"master": 4, "momentum": 4, "variance": 4}),
    # Dettmers et al. 2022 (bitsandbytes): block-wise 8-bit moments.
    "adamw-8bit": MappingProxyType({"master": 4, "momentum": 1, "variance": 1}),
    # SGD with heavy-ball momentum in fp32.
    "sgd-momentum": MappingProxyType({"master": 4, "momentum": 4}),
    # Plain SGD still needs the fp32 master copy in mixed precision.
    "sgd": MappingProxyType({"master": 4}),
    # Chen et al. 2023 (Lion): a single momentum buffer.
    "lion": MappingProxyType({"master": 4, "momentum": 4}),
    # bf16 weights updated directly, fp32 moments, no master copy (the "10 B/param" count).
    "adamw-no-master": MappingProxyType({"momentum": 4, "variance": 4}),
})

#: Total optimizer bytes per parameter (fp32 master copy included where kept).
OPTIMIZER_BYTES_PER_PARAM = MappingProxyType(
    {name: sum(parts.values()) for name, parts in OPTIMIZER_STATES.items()}
)


def bytes_per_param(dtype: str) -> float:
    """Storage bytes of one value in ``dtype`` (fp32 4, bf16/fp16 2, fp8/int8 1, int4 0.5)."""
    return v.lookup("dtype", dtype, DTYPE_BYTES)


def model_memory(n_params, dtype: str = "bf16"):
    """Bytes to hold ``n_params`` weights in ``dtype``: N x bytes per value."""
    n = v.nonnegative("n_params", n_params)
    return v.result(n * bytes_per_param(dtype))


def training_state_memory(
    n_params, *, param_dtype: str = "bf16", grad_dtype: str = "bf16", optimizer: str = "adamw"
) -> dict:
    """Model-state bytes of training without sharding: weights + gradients + optimizer.

    Returns a dict with ``params``, ``grads``, ``optimizer`` and ``total`` in bytes.
    Mixed-precision AdamW (bf16 weights and gradients) gives 2 + 2 + 12 = 16 B/param
    (Rajbhandari et al. 2019, Sec. 3.1). Activations are separate (see
    :mod:`trainmath.activations`).
    """
    n = v.nonnegative("n_params", n_params)
    opt = v.lookup("optimizer", optimizer, OPTIMIZER_BYTES_PER_PARAM)
    out = {
        "params": v.result(n * bytes_per_param(param_dtype)),
        "grads": v.result(n * bytes_per_param(grad_dtype)),
        "optimizer": v.result(n * opt),
    }
    out["total"] = v.result(out["params"] + out["grads"] + out["optimizer"])
    return out
