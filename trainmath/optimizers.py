"""Bytes per parameter for weights, gradients and optimizer states.

The course's convention (ZeRO, Rajbhandari et al. 2019, Sec. 3.1) counts the fp32
master copy of the weights as part of the optimizer state: mixed-precision AdamW keeps
fp32 master weights, momentum and variance = 4 + 4 + 4 = 12 bytes per parameter, on
top of 2-byte (bf16/fp16) weights and 2-byte gradients, 16 bytes in all.

Lesson 05 adds the state by part (:func:`training_bytes_per_param`, which keeps a master
copy only when the weights are narrower than fp32), its split over data-parallel GPUs
under ZeRO (:func:`training_state_breakdown`), the smallest number of GPUs that holds it
(:func:`min_gpus_to_fit`) and the published conventions side by side
(:data:`BYTES_PER_PARAM_CONVENTIONS`: 12, 16, 18, 20, 10 and pure fp32's 16).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from trainmath import _validate as v

__all__ = [
    "DTYPE_BYTES",
    "OPTIMIZER_STATES",
    "OPTIMIZER_BYTES_PER_PARAM",
    "bytes_per_param",
    "model_memory",
    "training_state_memory",
    # lesson 05: training state by part, the competing conventions, "will it fit?"
    "STATE_PARTS",
    "training_bytes_per_param",
    "training_state_breakdown",
    "min_gpus_to_fit",
    "BytesConvention",
    "BYTES_PER_PARAM_CONVENTIONS",
    "convention_memory",
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

    The optimizer term always includes the optimizer's fp32 master copy when it lists one
    (``OPTIMIZER_BYTES_PER_PARAM``), also for fp32 weights, where the copy is redundant;
    :func:`training_bytes_per_param` decides as mixed-precision training does.
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


# --- lesson 05: training state by part, conventions, "will it fit?" -------------------------

#: The parts of the training state, in the order the course stacks them. "grad_buffer"
#: is a separate fp32 copy of the gradients (Megatron-LM's "main grads" for fp16
#: weights); the last three are the optimizer's (see :data:`OPTIMIZER_STATES`).
STATE_PARTS = ("weights", "gradients", "grad_buffer", "master", "momentum", "variance")

_FP32_BYTES = DTYPE_BYTES["fp32"]


def training_bytes_per_param(
    *,
    param_dtype: str = "bf16",
    grad_dtype: str | None = None,
    optimizer: str = "adamw",
    master: bool | None = None,
    grad_buffer: bool = False,
) -> dict:
    """Bytes each parameter costs in training, by part (activations excluded).

    Parameters
    ----------
    param_dtype : str
        Dtype the weights are stored (and used by forward/backward) in.
    grad_dtype : str, optional
        Dtype of the gradients; by default the weights' dtype (frameworks store a
        parameter's gradient in the parameter's own dtype).
    optimizer : str
        A key of :data:`OPTIMIZER_STATES`; its moments are counted as listed there.
    master : bool or None
        Whether an fp32 master copy of the weights is kept. ``None`` (default) decides as
        mixed-precision training does (Micikevicius et al. 2018, Sec. 3.1): a copy is
        kept when the weights are narrower than fp32 and the optimizer keeps one, and not
        when they already are fp32 (the weights *are* the fp32 copy). ``True`` forces
        one (redundant in pure fp32); ``False`` updates the stored weights directly.
    grad_buffer : bool
        A separate fp32 gradient buffer on top of 16-bit gradients, as Megatron-LM keeps
        for fp16 weights (its "main grads", README "Distributed Optimizer" table).

    Returns
    -------
    dict
        Bytes per parameter for each of :data:`STATE_PARTS` (0 where absent) and
        ``"total"``.

    Examples
    --------
    Mixed-precision AdamW, ZeRO's count (Rajbhandari et al. 2019, Sec. 3.1), 16 B/param:

    >>> training_bytes_per_param()["total"]
    16.0

    Pure fp32 AdamW keeps no separate master copy: 4 + 4 + 4 + 4 = 16 B/param too, but
    made of different parts (Megatron-LM README, "fp32 param, fp32 grads": 16):

    >>> b = training_bytes_per_param(param_dtype="fp32")
    >>> b["master"], b["total"]
    (0.0, 16.0)

    Assumptions: optimizer moments in the dtype :data:`OPTIMIZER_STATES` lists (fp32, or
    1 byte for 8-bit Adam, whose per-block scales, ~0.004 B/param, are not counted).
    """
    p = float(bytes_per_param(param_dtype))
    g = p if grad_dtype is None else float(bytes_per_param(grad_dtype))
    states = v.lookup("optimizer", optimizer, OPTIMIZER_STATES)
    master = v.flag("master", master, allow_none=True)
    grad_buffer = v.flag("grad_buffer", grad_buffer)
    if master is None:
        keep_master = "master" in states and p < _FP32_BYTES
    elif master and "master" not in states:
        raise ValueError(
            f"master=True needs an optimizer that keeps a master copy; {optimizer!r} "
            "updates the stored weights directly (choose 'adamw' for AdamW with a copy)"
        )
    else:
        keep_master = master
    if grad_buffer and g >= _FP32_BYTES:
        raise ValueError(
            f"grad_buffer=True adds a separate fp32 gradient buffer, but grad_dtype "
            f"{grad_dtype or param_dtype!r} is already {g:g} bytes: the gradients are the "
            "fp32 buffer (use grad_buffer=False)"
        )
    out = {
        "weights": p,
        "gradients": g,
        "grad_buffer": float(_FP32_BYTES) if grad_buffer else 0.0,
        "master": float(states["master"]) if keep_master else 0.0,
        "momentum": float(states.get("momentum", 0)),
        "variance": float(states.get("variance", 0)),
    }
    out["total"] = sum(out.values())
    return out


#: ZeRO stage from which each part is sharded over the data-parallel group.
_SHARDED_FROM = {
    "weights": 3, "gradients": 2, "grad_buffer": 1, "master": 1, "momentum": 1, "variance": 1,
}


def training_state_breakdown(
    n_params,
    *,
    zero_stage=0,
    dp=1,
    param_dtype: str = "bf16",
    grad_dtype: str | None = None,
    optimizer: str = "adamw",
    master: bool | None = None,
    grad_buffer: bool = False,
) -> dict:
    """Bytes of training state on one GPU, by part, under ZeRO data parallelism.

    ZeRO (Rajbhandari et al. 2019, Sec. 5) splits a state over the ``dp`` data-parallel
    GPUs once the stage reaches it: stage 1 the optimizer states (fp32 master copy,
    moments), stage 2 also the gradients, stage 3 also the weights (= PyTorch FSDP's
    full sharding). A separate fp32 gradient buffer counts as optimizer state and is split
    from stage 1, as Megatron-LM's distributed optimizer does (README table: fp16 weights
    4 + 16/d, bf16 weights with fp32 gradients 6 + 12/d, fp32 8 + 8/d bytes per
    parameter, all reproduced by ``zero_stage=1``).

    Parameters
    ----------
    n_params : float or array
        Parameters of the model (or of one tensor/pipeline-parallel shard).
    zero_stage : int or array
        0 (plain data parallelism, every GPU holds everything) to 3.
    dp : int or array
        Data-parallel GPUs the states are sharded over.
    param_dtype, grad_dtype, optimizer, master, grad_buffer
        As in :func:`training_bytes_per_param`.

    Returns
    -------
    dict
        Bytes per GPU for each of :data:`STATE_PARTS` and ``"total"`` (floats, or arrays
        when an input is an array).

    With the default dtypes it equals :func:`trainmath.parallelism.zero_memory_per_gpu`
    (tested): Rajbhandari et al. 2019, Fig. 1, Psi = 7.5e9 and N_d = 64 give 120, 31.4,
    16.6 and 1.88 GB for stages 0-3.

    Assumptions: even sharding; activations (lesson 06), temporary buffers (gathered
    weights under stage 3, communication buckets) and allocator fragmentation are not
    counted.
    """
    n = v.nonnegative("n_params", n_params)
    stage = np.asarray(v.zero_stage("zero_stage", zero_stage))
    d = np.asarray(v.positive_int("dp", dp), dtype=float)
    per_param = training_bytes_per_param(
        param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer, master=master,
        grad_buffer=grad_buffer,
    )
    out = {}
    for part in STATE_PARTS:
        divisor = np.where(stage >= _SHARDED_FROM[part], d, 1.0)
        out[part] = v.result(n * per_param[part] / divisor)
    out["total"] = v.result(sum(np.asarray(out[part]) for part in STATE_PARTS))
    return out


def min_gpus_to_fit(
    n_params,
    memory_bytes,
    *,
    zero_stage=3,
    usable_fraction=1.0,
    param_dtype: str = "bf16",
    grad_dtype: str | None = None,
    optimizer: str = "adamw",
    master: bool | None = None,
    grad_buffer: bool = False,
):
    """Fewest data-parallel GPUs whose memory holds the training state under ZeRO.

    Per GPU the state is ``N (R + S / d)`` bytes, with ``R`` the bytes per parameter
    every GPU keeps whole and ``S`` those sharded at ``zero_stage`` (see
    :func:`training_state_breakdown`). The answer is the smallest whole ``d`` with
    ``N (R + S / d) <= usable_fraction * memory_bytes``: 1 if one GPU suffices, else
    ``ceil(N S / (budget - N R))``, and ``inf`` when no ``d`` is enough because the
    replicated part alone does not fit (stage 0 beyond one GPU, or stage 1/2 for large
    models): then use a higher stage, tensor/pipeline parallelism or offloading.

    Parameters
    ----------
    n_params : float or array
    memory_bytes : float or array
        Memory of one GPU, e.g. ``tm.ACCELERATORS["H100-SXM"].memory_bytes`` (80e9).
    zero_stage : int or array
        0-3 (default 3, which always has an answer).
    usable_fraction : float
        Share of the memory the state may take, in (0, 1]; leave room for activations
        and buffers with e.g. 0.8.
    param_dtype, grad_dtype, optimizer, master, grad_buffer
        As in :func:`training_bytes_per_param`.

    Returns
    -------
    float or array
        A whole number of GPUs, or ``inf``.

    Examples
    --------
    Llama 3 70B (70.55e9 parameters) at 16 B/param on 80 GB GPUs under ZeRO-3:
    16 x 70.55e9 / 80e9 = 14.1, so 15 GPUs.

    Assumptions: model states only (a lower bound: activations are lesson 06); even
    sharding over data parallelism alone.
    """
    n = np.asarray(v.nonnegative("n_params", n_params))
    mem = np.asarray(v.positive("memory_bytes", memory_bytes))
    budget = mem * np.asarray(v.fraction("usable_fraction", usable_fraction))
    stage = np.asarray(v.zero_stage("zero_stage", zero_stage))
    per_param = training_bytes_per_param(
        param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer, master=master,
        grad_buffer=grad_buffer,
    )
    sharded = sum(
        np.where(stage >= _SHARDED_FROM[part], per_param[part], 0.0) for part in STATE_PARTS
    )
    replicated = per_param["total"] - sharded
    need_r, need_s = n * replicated, n * sharded
    room = budget - need_r
    with np.errstate(divide="ignore", invalid="ignore"):
        # The relative nudge keeps an exact fit (e.g. 16 x 5e9 on 80e9 B) from rounding up.
        d = np.ceil(need_s / room * (1 - 1e-12))
    out = np.where(
        need_r + need_s <= budget * (1 + 1e-12), 1.0, np.where(room > 0, d, np.inf)
    )
    return v.result(out)


@dataclass(frozen=True)
class BytesConvention:
    """One published way of counting training bytes per parameter.

    Attributes
    ----------
    name : str
        Short label, e.g. ``"16 (ZeRO)"``.
    settings : mapping
        Arguments of :func:`training_bytes_per_param` that describe the setup counted.
    counted : tuple of str
        Which of :data:`STATE_PARTS` the convention includes.
    source : str
        Who counts this way, with a citation.
    note : str
        What the number means and when it is right.
    """

    name: str
    settings: MappingProxyType
    counted: tuple[str, ...]
    source: str
    note: str = field(default="", compare=False)

    @property
    def parts(self) -> dict:
        """Bytes per parameter by part (0 for parts the convention leaves out)."""
        full = training_bytes_per_param(**self.settings)
        return {part: (full[part] if part in self.counted else 0.0) for part in STATE_PARTS}

    @property
    def total(self) -> float:
        """The convention's bytes per parameter."""
        return float(sum(self.parts.values()))


def _convention(name, settings, counted, source, note) -> BytesConvention:
    return BytesConvention(name, MappingProxyType(dict(settings)), tuple(counted), source, note)


_ALL = STATE_PARTS
_OPTIMIZER_PARTS = ("grad_buffer", "master", "momentum", "variance")

#: The byte counts for AdamW training that circulate, side by side, each computed from
#: its setup by :func:`training_bytes_per_param` (reference-figures Sec. 13). The course
#: uses "zero-16" (2 + 2 + 12 = 16 B/param) for mixed-precision training.
BYTES_PER_PARAM_CONVENTIONS = MappingProxyType({
    "adamw-states-12": _convention(
        "12 (AdamW states)", {"param_dtype": "bf16"}, ("master", "momentum", "variance"),
        "Rajbhandari et al. 2019 (ZeRO), Sec. 3.1: optimizer states K = 12 for "
        "mixed-precision Adam",
        "optimizer only (fp32 master + momentum + variance); weights and gradients come "
        "on top",
    ),
    "zero-16": _convention(
        "16 (ZeRO, mixed precision)", {"param_dtype": "bf16"}, _ALL,
        "Rajbhandari et al. 2019 (ZeRO), Sec. 3.1 and Fig. 1: 2 + 2 + 12 = 16 bytes per "
        "parameter; this course's convention",
        "16-bit weights and gradients, fp32 master, momentum and variance",
    ),
    "megatron-bf16-18": _convention(
        "18 (bf16 weights, fp32 gradients)", {"param_dtype": "bf16", "grad_dtype": "fp32"},
        _ALL,
        "Megatron-LM README, 'Distributed Optimizer' table: bf16 param, fp32 grads = 18 "
        "(6 + 12/d when distributed); DeepSpeed's ZeRO-3 estimator also charges 18 B/param",
        "gradients accumulated in fp32, which is what large bf16 runs do",
    ),
    "megatron-fp16-20": _convention(
        "20 (fp16 + fp32 gradient buffer)", {"param_dtype": "fp16", "grad_buffer": True},
        _ALL,
        "Megatron-LM README, 'Distributed Optimizer' table: fp16 param, fp16 grads = 20 "
        "(4 + 16/d when distributed)",
        "fp16 gradients plus a separate fp32 copy for accumulation and the update",
    ),
    "fp32-16": _convention(
        "16 (pure fp32)", {"param_dtype": "fp32"}, _ALL,
        "Megatron-LM README: fp32 param, fp32 grads = 16 (8 + 8/d); Hugging Face's "
        "model-memory estimator: training with Adam ~ 4x the fp32 model size",
        "fp32 weights, gradients and moments; no master copy, the weights are fp32 already",
    ),
    "no-master-10": _convention(
        "10 (bf16 weights + fp32 moments)", {"param_dtype": "bf16", "master": False},
        ("weights", "momentum", "variance"),
        "'weights + optimizer' estimates of pure-bf16 training: bf16 weights updated in "
        "place, fp32 Adam moments, no master copy, no gradient term",
        "leaves out gradients: right only if whole gradients are never held (update fused "
        "into the backward pass, as in LOMO, Lv et al. 2023); otherwise add 2 for 12",
    ),
})


def convention_memory(n_params, convention: str):
    """Bytes of ``n_params`` parameters under a named convention: N x its bytes/param.

    ``convention`` is a key of :data:`BYTES_PER_PARAM_CONVENTIONS`, e.g. ``"zero-16"``
    (Rajbhandari et al. 2019, Sec. 3.1: 16 B/param; 7.5e9 parameters -> 120 GB).
    """
    n = v.nonnegative("n_params", n_params)
    conv = v.lookup("convention", convention, BYTES_PER_PARAM_CONVENTIONS)
    return v.result(n * conv.total)
