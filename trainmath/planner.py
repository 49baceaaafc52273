"""Search parallel layouts: which ones fit in memory, and which is fastest.

:func:`plan_layouts` enumerates every combination of tensor (tp), pipeline (pp), context
(cp) and data (dp) parallel sizes with ``tp * pp * cp * dp = n_gpus``, ZeRO stage,
micro-batch size, recomputation and sequence parallelism; evaluates the memory of the
most loaded GPU with :func:`trainmath.memory.memory_per_gpu` for all of them at once
(numpy arrays), and ranks the layouts that fit by an estimated step time.

Step-time model (documented assumptions, not a simulator):

* compute: the step's hardware FLOPs (model FLOPs :func:`trainmath.compute.flops_per_token`
  plus recomputation :func:`trainmath.compute.recompute_flops_per_token`) at a chosen
  fraction ``efficiency`` of the accelerator's dense peak;
* pipeline bubble: compute time x (pp - 1) / m, 1F1B without interleaving (Narayanan et
  al. 2021, Sec. 2.2);
* data-parallel communication, not overlapped (an upper bound): a ring all-reduce moves
  2 (dp'-1)/dp' of the gradient bytes per GPU, ZeRO-3 adds a parameter all-gather (1.5x the
  traffic, Rajbhandari et al. 2019, Sec. 7), over ``dp_bandwidth`` bytes/s per GPU, where
  dp' = dp * cp are the ranks that share weights. Tensor- and context-parallel traffic
  stays inside a node (NVLink) and is folded into ``efficiency``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainmath import _validate as v
from trainmath.accelerators import Accelerator, get_accelerator
from trainmath.activations import RECOMPUTE
from trainmath.compute import flops_per_token, recompute_flops_per_token
from trainmath.memory import memory_per_gpu, params_per_gpu
from trainmath.models import ModelConfig, get_model
from trainmath.optimizers import OPTIMIZER_BYTES_PER_PARAM, bytes_per_param

__all__ = ["Layouts", "plan_layouts", "step_time"]

_FIELDS = (
    "tp", "pp", "cp", "dp", "zero_stage", "micro_batch", "n_microbatches", "recompute",
    "sequence_parallel", "params", "grads", "optimizer", "activations", "total", "fits",
    "step_time", "compute_time", "bubble_time", "comm_time", "mfu",
)


@dataclass
class Layouts:
    """Evaluated layouts as columns (numpy arrays), fitting ones first, fastest first.

    Columns: tp, pp, cp, dp, zero_stage, micro_batch, n_microbatches, recompute (str),
    sequence_parallel, params, grads, optimizer, activations, total (bytes per GPU),
    fits (bool), step_time, compute_time, bubble_time, comm_time (s), mfu (model FLOPs
    utilisation implied by the step time).
    """

    columns: dict[str, np.ndarray]
    memory_limit: float

    def __len__(self) -> int:
        return len(self.columns["tp"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def n_fit(self) -> int:
        return int(np.count_nonzero(self.columns["fits"]))

    def row(self, i: int = 0) -> dict:
        """One layout as a dict of Python scalars (row 0 is the best that fits)."""
        return {k: c[i].item() for k, c in self.columns.items()}

    def best(self) -> dict | None:
        """The fastest layout that fits, or None when none fits."""
        return self.row(0) if self.n_fit else None

    def find(self, **where) -> np.ndarray:
        """Indices of rows whose columns equal the given values, e.g. ``find(tp=8, pp=16)``."""
        mask = np.ones(len(self), dtype=bool)
        for k, value in where.items():
            mask &= self.columns[k] == value
        return np.flatnonzero(mask)


def _powers_of_two(limit: int) -> list[int]:
    return [2**k for k in range(int(np.log2(limit)) + 1)] if limit >= 1 else []


def step_time(
    cfg: ModelConfig, accelerator: Accelerator, *, n_gpus, tokens_per_step, seq_len, tp, pp, cp,
    dp, zero_stage, n_microbatches, recompute: str, efficiency=0.5, dtype="bf16",
    grad_dtype="bf16", dp_bandwidth=50e9,
) -> dict:
    """Estimated seconds per optimizer step for layouts (arrays broadcast); see module doc.

    Returns ``step_time``, ``compute_time``, ``bubble_time``, ``comm_time`` and ``mfu``.
    """
    peak = accelerator.peak(dtype) * v.fraction("efficiency", efficiency)
    model = flops_per_token(cfg, seq_len) * tokens_per_step
    hardware = model + recompute_flops_per_token(cfg, seq_len, recompute) * tokens_per_step
    compute = hardware / (n_gpus * peak)
    bubble = compute * (np.asarray(pp) - 1) / np.asarray(n_microbatches)
    shard_params = np.asarray(params_per_gpu(cfg, tp=tp, pp=pp))  # before ZeRO sharding
    group = np.asarray(dp) * np.asarray(cp)
    traffic = 2 * (group - 1) / group * shard_params * bytes_per_param(grad_dtype)
    traffic = traffic * np.where(np.asarray(zero_stage) >= 3, 1.5, 1.0)
    comm = traffic / v.positive("dp_bandwidth", dp_bandwidth)
    total = compute + bubble + comm
    return {
        "step_time": total, "compute_time": compute, "bubble_time": bubble,
        "comm_time": comm, "mfu": model / (n_gpus * accelerator.peak(dtype) * total),
    }


def plan_layouts(
    model: str | ModelConfig = "llama-3-8b",
    accelerator: str | Accelerator = "H100-SXM",
    n_gpus=64,
    *,
    seq_len=None,
    global_batch_tokens=4 * 2**20,
    efficiency=0.5,
    optimizer: str = "adamw",
    param_dtype: str = "bf16",
    grad_dtype: str = "bf16",
    dtype: str = "bf16",
    max_tp: int = 8,
    max_cp: int = 16,
    micro_batches=(1, 2, 4, 8),
    zero_stages=(0, 1, 2, 3),
    recomputes=RECOMPUTE,
    memory_fraction=1.0,
    dp_bandwidth=50e9,
) -> Layouts:
    """Enumerate and rank parallel layouts for a training run.

    Parameters
    ----------
    model, accelerator : name or object
    n_gpus : int
        Total accelerators; every layout uses all of them (tp * pp * cp * dp = n_gpus).
    seq_len : int, optional
        Training sequence length (default ``cfg.seq_len``).
    global_batch_tokens : int
        Tokens per optimizer step; must be a whole number of sequences, split evenly over
        the dp ranks into micro-batches.
    efficiency : float
        Fraction of dense peak the executed FLOPs reach (bubble and DP comms excluded).
    max_tp, max_cp : int
        Largest tensor/context sizes tried (powers of two; tp must divide the KV heads).
    micro_batches, zero_stages, recomputes : sequences of choices to enumerate.
    memory_fraction : float
        Share of the accelerator's memory a layout may use (e.g. 0.9 for headroom).
    dp_bandwidth : float
        Bytes/s per GPU for data-parallel collectives (50e9 = one 400 Gb/s NIC per GPU).

    Returns
    -------
    Layouts
        Every valid layout, fitting ones first, each group sorted by step time.
    """
    cfg = get_model(model)
    acc = get_accelerator(accelerator)
    n = v.positive_int("n_gpus", n_gpus)
    if not isinstance(n, int):
        raise TypeError("n_gpus must be a single integer")
    s = cfg.seq_len if seq_len is None else v.positive_int("seq_len", seq_len)
    tokens = v.positive_int("global_batch_tokens", global_batch_tokens)
    if tokens % s:
        raise ValueError(
            f"global_batch_tokens must be a multiple of seq_len={s}, got {global_batch_tokens!r}"
        )
    n_seq = tokens // s
    v.fraction("efficiency", efficiency)
    limit = acc.memory_bytes * v.fraction("memory_fraction", memory_fraction)
    v.lookup("optimizer", optimizer, OPTIMIZER_BYTES_PER_PARAM)
    acc.peak(dtype)
    for r in recomputes:
        v.choice("recomputes", r, RECOMPUTE)
    mbs = [v.positive_int("micro_batches", b) for b in micro_batches]
    stages = [v.positive_int("zero_stages", z, minimum=0) for z in zero_stages]
    if any(z > 3 for z in stages):
        raise ValueError(f"zero_stages must be in 0..3, got {zero_stages!r}")

    tps = [t for t in _powers_of_two(min(max_tp, n)) if cfg.n_kv_heads % t == 0]
    pps = [p for p in _powers_of_two(n) if p <= cfg.n_layers]
    cps = [c for c in _powers_of_two(min(max_cp, n)) if s % c == 0]
    grid = np.array(np.meshgrid(tps, pps, cps, mbs, stages, indexing="ij")).reshape(5, -1)
    tp, pp, cp, mb, zs = grid
    model_parallel = tp * pp * cp
    ok = n % model_parallel == 0
    dp = np.where(ok, n // np.maximum(model_parallel, 1), 1)
    ok &= n_seq % (dp * mb) == 0
    tp, pp, cp, mb, zs, dp = (x[ok] for x in (tp, pp, cp, mb, zs, dp))
    m = n_seq // (dp * mb)

    parts = []
    for rc in recomputes:
        for sp in (False, True):
            sel = tp > 1 if sp else np.ones_like(tp, dtype=bool)
            if not np.any(sel):
                continue
            a = {k: x[sel] for k, x in dict(tp=tp, pp=pp, cp=cp, dp=dp, mb=mb, zs=zs, m=m).items()}
            mem = memory_per_gpu(
                cfg, seq_len=s, micro_batch=a["mb"], n_microbatches=a["m"],
                param_dtype=param_dtype, grad_dtype=grad_dtype, optimizer=optimizer,
                zero_stage=a["zs"], dp=a["dp"], tp=a["tp"], pp=a["pp"], cp=a["cp"],
                sequence_parallel=sp, recompute=rc,
            )
            t = step_time(
                cfg, acc, n_gpus=n, tokens_per_step=tokens, seq_len=s, tp=a["tp"], pp=a["pp"],
                cp=a["cp"], dp=a["dp"], zero_stage=a["zs"], n_microbatches=a["m"],
                recompute=rc, efficiency=efficiency, dtype=dtype, grad_dtype=grad_dtype,
                dp_bandwidth=dp_bandwidth,
            )
            k = len(a["tp"])
            parts.append({
                "tp": a["tp"], "pp": a["pp"], "cp": a["cp"], "dp": a["dp"],
                "zero_stage": a["zs"], "micro_batch": a["mb"], "n_microbatches": a["m"],
                "recompute": np.full(k, rc), "sequence_parallel": np.full(k, sp),
                **{key: np.broadcast_to(np.asarray(mem[key], dtype=float), (k,))
                   for key in ("params", "grads", "optimizer", "activations", "total")},
                **{key: np.broadcast_to(np.asarray(t[key], dtype=float), (k,))
                   for key in ("step_time", "compute_time", "bubble_time", "comm_time", "mfu")},
            })
    cols = {f: np.concatenate([p[f] for p in parts]) if parts else np.array([])
            for f in _FIELDS if f != "fits"}
    cols["fits"] = cols["total"] <= limit if parts else np.array([], dtype=bool)
    order = np.lexsort((cols["total"], cols["step_time"], ~cols["fits"])) if parts else []
    return Layouts({f: cols[f][order] for f in _FIELDS}, limit)
