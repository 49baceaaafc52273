"""Sharding model states (ZeRO / FSDP) and the pipeline bubble.

ZeRO (Rajbhandari et al. 2019, arXiv:1910.02054, Sec. 5 and Fig. 1) removes the
redundant copies that plain data parallelism keeps on every GPU. With Psi parameters,
K bytes of optimizer state per parameter and data-parallel degree N_d:

* stage 0 (plain DP):            (2 + 2 + K) Psi
* stage 1, P_os (optimizer):     (2 + 2) Psi + K Psi / N_d
* stage 2, P_os+g (+ gradients): 2 Psi + (2 + K) Psi / N_d
* stage 3, P_os+g+p (+ weights): (2 + 2 + K) Psi / N_d   (= PyTorch FSDP "full shard")
"""

from __future__ import annotations

import numpy as np

from trainmath import _validate as v

__all__ = ["zero_memory_per_gpu", "pipeline_bubble_fraction"]


def zero_memory_per_gpu(n_params, dp, stage, *, param_bytes=2, grad_bytes=2, optimizer_bytes=12):
    """Model-state bytes per GPU (weights + gradients + optimizer) under ZeRO.

    Rajbhandari et al. 2019, Fig. 1: Psi = 7.5e9, N_d = 64 gives 120 GB (stage 0),
    31.4 GB (1), 16.6 GB (2) and 1.88 GB (3).

    Parameters
    ----------
    n_params : float or array
        Psi, the number of parameters (on this model-parallel shard).
    dp : int or array
        Data-parallel degree N_d over which states are sharded.
    stage : int or array
        ZeRO stage 0, 1, 2 or 3.
    param_bytes, grad_bytes, optimizer_bytes : float
        Bytes per parameter of each state (2, 2, 12 for mixed-precision AdamW).

    Assumptions: even sharding; temporary buffers (gathered weights, communication
    buckets) and fragmentation are ignored.
    """
    n = v.nonnegative("n_params", n_params)
    d = v.positive_int("dp", dp)
    st = v.positive_int("stage", stage, minimum=0)
    if np.any(np.asarray(st) > 3):
        raise ValueError(f"stage must be a ZeRO stage 0, 1, 2 or 3, got {stage!r}")
    p = v.nonnegative("param_bytes", param_bytes)
    g = v.nonnegative("grad_bytes", grad_bytes)
    o = v.nonnegative("optimizer_bytes", optimizer_bytes)
    st = np.asarray(st)
    d = np.asarray(d, dtype=float)
    # Each state is divided by N_d once the stage reaches the one that shards it.
    per_param = (
        np.where(st >= 3, p / d, p) + np.where(st >= 2, g / d, g) + np.where(st >= 1, o / d, o)
    )
    return v.result(n * per_param)


def pipeline_bubble_fraction(pp, n_microbatches, interleave=1):
    """Idle share of a 1F1B pipeline: (p - 1) / (v m).

    Narayanan et al. 2021 (arXiv:2104.04473), Sec. 2.2: the bubble time divided by the
    ideal compute time, for p stages, m micro-batches per batch and v model chunks per
    device (interleaved schedule). It is relative to the useful time, so it can exceed 1
    when m < p - 1.
    """
    p = v.positive_int("pp", pp)
    m = v.positive_int("n_microbatches", n_microbatches)
    i = v.positive_int("interleave", interleave)
    return v.result((np.asarray(p, dtype=float) - 1) / (np.asarray(i) * np.asarray(m)))
