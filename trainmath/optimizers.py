"""Bytes per parameter for weights, gradients and optimizer states.

The course's convention (ZeRO, Rajbhandari et al. 2019, Sec. 3.1) counts the fp32
master copy of the weights as part of the optimizer state: mixed-precision AdamW keeps
fp32 master weights, momentum and variance = 4 + 4 + 4 = 12 bytes per parameter, on
top of 2-byte (bf16/fp16) weights and 2-byte gradients, 16 bytes in all.

Lesson 05 adds the state by part (:func:`training_bytes_per_param`, which keeps a master
copy only when the weights are narrower than fp32) and the published conventions side by
side (:data:`BYTES_PER_PARAM_CONVENTIONS`: 12, 16, 18, 20, 10 and pure fp32's 16). What
those bytes come to on a GPU, partitioned by ZeRO or not, is :mod:`trainmath.memory`'s
(:func:`~trainmath.memory.training_state_breakdown`, :func:`~trainmath.memory.min_gpus_to_fit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from trainmath import _validate as v
from trainmath._breakdown import Breakdown

__all__ = [
    "DTYPE_BYTES",
    "OPTIMIZER_STATES",
    "OPTIMIZER_BYTES_PER_PARAM",
    "bytes_per_param",
    "model_memory",
    # lesson 05: training state by part, the competing conventions, "will it fit?"
    "STATE_PARTS",
    "training_bytes_per_param",
    "BytesConvention",
    "BYTES_PER_PARAM_CONVENTIONS",
    "convention_memory",
]

#: Storage bytes per value of each dtype: every format of ``tm.FORMATS`` (bits / 8: fp6
#: packs four values in three bytes, fp4 and int4 two per byte; tf32 travels in 4 bytes;
#: E8M0, a block scale, is 1 byte), plus "fp8", "fp6" and "fp4", the accelerators' names (as
#: in ``Accelerator.peak_flops``) for either format of each width. The same numbers are
#: ``tm.FORMATS[name].bytes`` (tested); kept here so that memory arithmetic does not need
#: ml_dtypes.
DTYPE_BYTES = MappingProxyType(
    {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1,
     "fp6": 6 / 8, "fp6_e2m3": 6 / 8, "fp6_e3m2": 6 / 8, "fp4": 4 / 8, "fp4_e2m1": 4 / 8,
     "int8": 1, "int4": 4 / 8, "e8m0": 1}
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
    # DeepSeek-AI 2024, DeepSeek-V3 Technical Report (arXiv:2412.19437), Sec. 3.3.3
    # "Low-Precision Optimizer States": AdamW's moments in bf16, the master weights in fp32.
    "adamw-bf16-moments": MappingProxyType({"master": 4, "momentum": 2, "variance": 2}),
})

#: Total optimizer bytes per parameter (fp32 master copy included where kept).
OPTIMIZER_BYTES_PER_PARAM = MappingProxyType(
    {name: sum(parts.values()) for name, parts in OPTIMIZER_STATES.items()}
)


def bytes_per_param(dtype: str) -> float:
    """Storage bytes of one value in ``dtype`` (fp32 4, bf16/fp16 2, fp8/int8 1, fp6 0.75,
    fp4/int4 0.5): a key of :data:`DTYPE_BYTES`, whose error message lists them."""
    return v.lookup("dtype", dtype, DTYPE_BYTES)


def model_memory(n_params, dtype: str = "bf16"):
    """Bytes to hold ``n_params`` weights in ``dtype``: N x bytes per value."""
    n = v.nonnegative("n_params", n_params)
    return v.result(n * bytes_per_param(dtype))


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
) -> Breakdown:
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
    Breakdown
        Bytes per parameter for each of :data:`STATE_PARTS` (0 where absent), then
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

    DeepSeek-V3's state (arXiv:2412.19437, Sec. 3.3.3): fp32 gradients and master weights,
    bf16 moments, here with a bf16 working copy of the weights: 2 + 4 + 4 + 2 + 2 = 14:

    >>> training_bytes_per_param(grad_dtype="fp32", optimizer="adamw-bf16-moments")["total"]
    14.0

    Assumptions: optimizer moments in the dtype :data:`OPTIMIZER_STATES` lists (fp32, bf16
    for ``adamw-bf16-moments``, or 1 byte for 8-bit Adam, whose per-block scales, ~0.004
    B/param, are not counted).
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
    return Breakdown({
        "weights": p,
        "gradients": g,
        "grad_buffer": float(_FP32_BYTES) if grad_buffer else 0.0,
        "master": float(states["master"]) if keep_master else 0.0,
        "momentum": float(states.get("momentum", 0)),
        "variance": float(states.get("variance", 0)),
    })


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
    def bytes_per_param(self) -> Breakdown:
        """Bytes per parameter by part (0 for parts the convention leaves out), and total."""
        full = training_bytes_per_param(**self.settings)
        return Breakdown(
            {part: (full[part] if part in self.counted else 0.0) for part in STATE_PARTS}
        )

    @property
    def parts(self) -> dict:
        """Bytes per parameter by part, without the total."""
        return self.bytes_per_param.parts()

    @property
    def total(self) -> float:
        """The convention's bytes per parameter."""
        return self.bytes_per_param.total


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
