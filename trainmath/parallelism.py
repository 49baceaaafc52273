"""Parallel training: communication volumes, pipeline schedules, 4D layouts.

* Memory: ZeRO / FSDP partitioning of weights, gradients and optimizer states lives with
  the rest of the memory model in :mod:`trainmath.memory`
  (:func:`~trainmath.memory.zero_memory_per_gpu`, :func:`~trainmath.memory.memory_per_gpu`).
* Communication: bytes one GPU sends in a ring collective (:func:`collective_bytes`), for
  data parallelism with or without ZeRO (:func:`data_parallel_comm_bytes`), Megatron
  tensor parallelism (:func:`tensor_parallel_comm_bytes`), all-gather context
  parallelism (:func:`context_parallel_comm_bytes`) and between pipeline stages
  (:func:`pipeline_p2p_bytes`).
* Pipelines: the bubble (p-1)/(v m) (:func:`pipeline_bubble_fraction`), the micro-batches
  a stage keeps in flight (:func:`pipeline_in_flight`) and a pass-by-pass simulation of
  the GPipe and 1F1B schedules (:func:`pipeline_schedule`).
* 4D layouts: GPUs and tokens per batch of a (tp, cp, pp, dp) layout
  (:func:`layout_gpus`, :func:`batch_tokens`; Llama 3 paper, Table 4).
"""

from __future__ import annotations

import numpy as np

from trainmath import _validate as v
from trainmath.activations import RECOMPUTE

__all__ = [
    "pipeline_bubble_fraction",
    "COLLECTIVES",
    "collective_bytes",
    "data_parallel_comm_bytes",
    "tensor_parallel_comm_bytes",
    "context_parallel_comm_bytes",
    "pipeline_p2p_bytes",
    "pipeline_in_flight",
    "SCHEDULES",
    "pipeline_schedule",
    "layout_gpus",
    "batch_tokens",
]


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


# --- communication volumes ------------------------------------------------------------------

#: Collective operations whose ring algorithms :func:`collective_bytes` models.
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter")


def collective_bytes(op: str, message_bytes, n_ranks):
    """Bytes each rank sends (and receives) in a ring collective over ``n_ranks`` ranks.

    * ``"reduce-scatter"`` and ``"all-gather"``: ``(n - 1) / n * M``. The full tensor of
      M bytes is cut into n pieces; in n - 1 steps every rank passes one piece to its
      neighbour.
    * ``"all-reduce"`` = reduce-scatter + all-gather: ``2 (n - 1) / n * M``
      (Patarasuk & Yuan 2009, the bandwidth-optimal ring all-reduce; NCCL's
      "bus bandwidth" uses the same factors).

    Parameters
    ----------
    op : {"all-reduce", "all-gather", "reduce-scatter"}
    message_bytes : float or array
        M, the size of the whole tensor (the all-gather's output, the reduce-scatter's
        input, the all-reduce's buffer), in bytes.
    n_ranks : int or array
        Ranks in the group; 1 means no communication.

    Assumptions: a ring (or any bandwidth-optimal) algorithm, bandwidth-bound messages
    (latency ignored, so small messages are too optimistic).
    """
    v.choice("op", op, COLLECTIVES)
    m = v.nonnegative("message_bytes", message_bytes)
    n = np.asarray(v.positive_int("n_ranks", n_ranks), dtype=float)
    factor = 2.0 if op == "all-reduce" else 1.0
    return v.result(factor * (n - 1) / n * m)


def data_parallel_comm_bytes(
    n_params, dp, zero_stage=0, *, n_microbatches=1, param_bytes=2, grad_bytes=2
):
    """Bytes one GPU sends per optimizer step to synchronise a data-parallel group.

    Rajbhandari et al. 2019 (ZeRO), Sec. 7, with Psi parameters on N_d ranks:

    * stage 0 (plain DP): all-reduce of the gradients, ``2 (N_d-1)/N_d Psi`` values;
    * stages 1 and 2: reduce-scatter of the gradients (each rank keeps the part whose
      optimizer state it owns), then all-gather of the updated weights: the same
      ``2 (N_d-1)/N_d Psi`` values, so sharding the optimizer and gradients is free;
    * stage 3 (FSDP "full shard"): the weights are all-gathered once in the forward and
      once more in the backward pass, plus the gradient reduce-scatter:
      ``3 (N_d-1)/N_d Psi`` values, 1.5 x plain DP.

    ZeRO counts values (2 Psi and 3 Psi for large N_d); this function returns bytes,
    with gradients at ``grad_bytes`` and gathered weights at ``param_bytes`` per value.
    With gradient accumulation over m micro-batches, stages 0-2 still communicate once
    per step, but stage 3 must gather the weights for every micro-batch's forward and
    backward pass (PyTorch FSDP with ``reshard_after_forward``): ``(2m + 1)(N_d-1)/N_d Psi``.

    Parameters
    ----------
    n_params : float or array
        Psi, the parameters each data-parallel rank holds before ZeRO sharding (after
        tensor and pipeline parallelism).
    dp : int or array
        N_d, ranks that hold the same weights (data x context parallel ranks).
    zero_stage : int or array
        0, 1, 2 or 3.
    n_microbatches : int or array
        m, micro-batches accumulated per step (only stage 3 depends on it).
    param_bytes, grad_bytes : float
        Bytes per communicated weight and gradient value (2 for bf16).

    Assumptions: ring collectives (:func:`collective_bytes`); no gradient compression;
    gradients are reduced once per step, after the last micro-batch.
    """
    n = v.nonnegative("n_params", n_params)
    d = v.positive_int("dp", dp)
    st = np.asarray(v.zero_stage("zero_stage", zero_stage))
    m = np.asarray(v.positive_int("n_microbatches", n_microbatches))
    p = v.nonnegative("param_bytes", param_bytes)
    g = v.nonnegative("grad_bytes", grad_bytes)
    share = collective_bytes("all-gather", n, d)  # (N_d - 1)/N_d * Psi, in values
    grads = np.where(st == 0, 2 * share * g, share * g)
    params = np.where(st == 0, 0.0, np.where(st >= 3, 2 * m * share * p, share * p))
    return v.result(grads + params)


def tensor_parallel_comm_bytes(
    seq_len, micro_batch, d_model, tp, *, n_layers=1, act_bytes=2, recompute: str = "none"
):
    """Bytes one GPU sends for Megatron tensor parallelism, per micro-batch.

    Shoeybi et al. 2019 (Megatron-LM), Sec. 3 and Fig. 4: splitting the attention block
    by heads and the MLP column- then row-wise leaves one all-reduce of the layer's
    activations (s x b x h values) at the end of each block in the forward pass and one
    at its start in the backward pass: 4 all-reduces per layer. Sequence parallelism
    (Korthikanti et al. 2022, Sec. 4.2.2) replaces each all-reduce by a reduce-scatter
    plus an all-gather, the same bytes. Full recomputation runs the forward again,
    adding its 2 all-reduces (6 per layer); selective recomputation adds none.

    Parameters
    ----------
    seq_len, micro_batch, d_model : int or array
        s (tokens of the sequence this GPU works on: s/cp under context parallelism),
        b and h.
    tp : int or array
        Tensor-parallel size t (1: nothing to send).
    n_layers : int or array
        Layers on this GPU (``ceil(L / pp)``).
    act_bytes : float
        Bytes per activation value (2 for bf16).
    recompute : {"none", "selective", "full"}

    Assumptions: ring all-reduce (:func:`collective_bytes`); the embedding's and LM
    head's vocabulary-parallel collectives are left out (once per model, not per layer).
    """
    s = v.positive_int("seq_len", seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    h = v.positive_int("d_model", d_model)
    t = v.positive_int("tp", tp)
    layers = v.positive_int("n_layers", n_layers)
    nbytes = v.positive("act_bytes", act_bytes)
    v.choice("recompute", recompute, RECOMPUTE)
    per_layer = 6 if recompute == "full" else 4
    message = np.asarray(s, dtype=float) * np.asarray(b) * np.asarray(h) * nbytes
    return v.result(per_layer * np.asarray(layers) * collective_bytes("all-reduce", message, t))


def context_parallel_comm_bytes(
    seq_len, micro_batch, kv_dim, cp, *, n_layers=1, act_bytes=2, recompute: str = "none"
):
    """Bytes one GPU sends for all-gather context parallelism, per micro-batch.

    Llama 3 paper (arXiv:2407.21783), Sec. 3.3.2: each of the cp ranks holds s/cp of the
    sequence's tokens (its queries); before attention it all-gathers the keys and values
    of the whole sequence (2 x s x b x kv_dim values per layer; small with grouped-query
    attention), and in the backward pass it reduce-scatters their gradients. Full
    recomputation repeats the forward all-gather.

    Parameters
    ----------
    seq_len, micro_batch : int or array
        The full sequence length s and the micro-batch b.
    kv_dim : int or array
        Width of the keys (= values) this GPU's heads use: ``H_kv * head_dim / tp``.
    cp : int or array
        Context-parallel size (1: nothing to send).
    n_layers : int or array
        Layers on this GPU.
    act_bytes : float
        Bytes per value (2 for bf16).
    recompute : {"none", "selective", "full"}

    Assumptions: ring all-gather and reduce-scatter; the gathered K and V are kept for
    the backward pass rather than gathered again; no overlap with attention (an upper
    bound: Llama 3 overlaps part of it).
    """
    s = v.positive_int("seq_len", seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    kv = v.positive("kv_dim", kv_dim)
    c = v.positive_int("cp", cp)
    layers = v.positive_int("n_layers", n_layers)
    nbytes = v.positive("act_bytes", act_bytes)
    v.choice("recompute", recompute, RECOMPUTE)
    per_layer = 3 if recompute == "full" else 2
    message = 2 * np.asarray(s, dtype=float) * np.asarray(b) * np.asarray(kv) * nbytes
    return v.result(per_layer * np.asarray(layers) * collective_bytes("all-gather", message, c))


def pipeline_p2p_bytes(
    seq_len, micro_batch, d_model, n_microbatches, *, pp, tp=1, interleave=1, act_bytes=2
):
    """Bytes one pipeline stage sends to its neighbours per optimizer step.

    For every micro-batch a stage sends its output activations (s x b x h values) to the
    next stage and the gradient of its input (the same size) to the previous one; with
    ``interleave`` model chunks per GPU this happens once per chunk (Narayanan et al.
    2021, Sec. 2.2.2: interleaving multiplies the point-to-point traffic by v). Megatron's
    scatter/gather optimisation sends only 1/t of the tensor from each tensor-parallel
    rank (Sec. 4.1).

    Parameters
    ----------
    seq_len, micro_batch, d_model : int or array
        s (tokens per sequence on this GPU: s/cp under context parallelism), b, h.
    n_microbatches : int or array
        m, micro-batches per step.
    pp : int or array
        Pipeline stages (1: nothing to send).
    tp, interleave : int or array
        Tensor-parallel size and model chunks per GPU.
    act_bytes : float
        Bytes per value (2 for bf16).

    Assumptions: the largest sender (a middle stage, which sends both ways); latency
    ignored.
    """
    s = v.positive_int("seq_len", seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    h = v.positive_int("d_model", d_model)
    m = v.positive_int("n_microbatches", n_microbatches)
    p = v.positive_int("pp", pp)
    t = v.positive_int("tp", tp)
    i = v.positive_int("interleave", interleave)
    nbytes = v.positive("act_bytes", act_bytes)
    message = np.asarray(s, dtype=float) * np.asarray(b) * np.asarray(h) * nbytes / np.asarray(t)
    sends = np.where(np.asarray(p) > 1, 2.0 * np.asarray(i) * np.asarray(m), 0.0)
    return v.result(sends * message)


# --- pipeline schedules ---------------------------------------------------------------------


def pipeline_in_flight(pp, n_microbatches, interleave=1):
    """Micro-batches' worth of one stage's activations the first stage holds at its peak.

    Multiply by the activations of ``ceil(L / pp)`` layers for one micro-batch to get the
    first stage's activation memory.

    * 1F1B (``interleave = 1``): ``min(pp, m)``. The first stage runs pp forward passes
      before its first backward, then frees one micro-batch per new one (Narayanan et
      al. 2021, Sec. 2.2.1). With m >= pp that is L layers' worth, whatever pp is
      (Korthikanti et al. 2022, Sec. 4.2.3).
    * interleaved, v = ``interleave`` > 1 chunks of L/(pp v) layers: Megatron-LM's
      schedule runs ``2 (pp - 1) + (v - 1) pp + 1`` chunk forward passes before the
      first backward (at most the m v it has), i.e. ``min(v pp + pp - 1, m v) / v``
      stage-micro-batches. For m >= pp that is ``pp (1 + (pp - 1)/(pp v))``: Korthikanti
      et al. 2022, Sec. 4.2.3, whose factor (1 + (p-1)/(pm)) names the chunks m.

    Parameters
    ----------
    pp, n_microbatches, interleave : int or array
        p, m and v.
    """
    p = np.asarray(v.positive_int("pp", pp), dtype=float)
    m = np.asarray(v.positive_int("n_microbatches", n_microbatches), dtype=float)
    i = np.asarray(v.positive_int("interleave", interleave), dtype=float)
    plain = np.minimum(p, m)
    interleaved = np.minimum(i * p + p - 1, m * i) / i
    return v.result(np.where((i > 1) & (p > 1), interleaved, plain))


#: Schedules that :func:`pipeline_schedule` simulates.
SCHEDULES = ("1f1b", "gpipe")


def pipeline_schedule(
    pp, n_microbatches, *, schedule: str = "1f1b", forward_time=1.0, backward_time=2.0
) -> dict:
    """Simulate a pipeline schedule: when each stage runs each micro-batch's passes.

    Every stage runs its list of passes in order, each as soon as the stage is free and
    its input is ready: the forward pass of micro-batch j on stage i needs stage i-1's
    forward of j; the backward needs stage i+1's backward of j (the last stage's
    backward follows its own forward).

    * ``"gpipe"`` (Huang et al. 2019): all m forward passes, then all m backward passes.
    * ``"1f1b"`` (PipeDream-Flush, Narayanan et al. 2021, Sec. 2.2.1): stage i runs
      ``min(p - 1 - i, m)`` warm-up forwards, then alternates one forward and one
      backward, then drains the remaining backwards.

    Both take ``(m + p - 1)(t_f + t_b)``: the idle time is ``(p - 1)(t_f + t_b)`` per
    stage, a fraction ``(p - 1)/m`` of the useful time (Narayanan et al. 2021,
    Sec. 2.2.1; :func:`pipeline_bubble_fraction`). They differ in memory: GPipe's stages
    hold all m micro-batches' activations at once, 1F1B's first stage at most p.

    Parameters
    ----------
    pp, n_microbatches : int
        Stages p and micro-batches m (a small picture: at most 64 each).
    schedule : {"1f1b", "gpipe"}
    forward_time, backward_time : float
        Time of one micro-batch's forward and backward pass on one stage (backward is
        about twice forward: two matmuls per weight instead of one).

    Returns
    -------
    dict
        ``stage``, ``microbatch`` (int arrays), ``forward`` (bool array), ``start``,
        ``end`` (float arrays): one entry per pass, in the order each stage runs them;
        ``makespan`` (float), ``bubble_fraction`` (idle / useful time, float) and
        ``peak_in_flight`` (per stage, the most micro-batches whose forward is done and
        backward is not, int array).

    Assumptions: no communication time, equal stages, a pass cannot be split.
    """
    p = v.scalar_int("pp", pp)
    m = v.scalar_int("n_microbatches", n_microbatches)
    for name, value in (("pp", p), ("n_microbatches", m)):
        if value > 64:
            raise ValueError(f"{name} must be a single integer in 1..64, got {value!r}")
    v.choice("schedule", schedule, SCHEDULES)
    tf = float(v.positive("forward_time", forward_time))
    tb = float(v.positive("backward_time", backward_time))

    orders: list[list[tuple[bool, int]]] = []
    for i in range(p):
        if schedule == "gpipe":
            order = [(True, j) for j in range(m)] + [(False, j) for j in range(m)]
        else:
            warm = min(p - 1 - i, m)
            order = [(True, j) for j in range(warm)]
            for k in range(m - warm):
                order += [(True, warm + k), (False, k)]
            order += [(False, j) for j in range(m - warm, m)]
        orders.append(order)

    done: dict[tuple[bool, int, int], float] = {}  # (forward, stage, micro-batch) -> end
    free = [0.0] * p
    nxt = [0] * p
    rows: list[tuple[int, int, bool, float, float]] = []
    remaining = 2 * p * m
    while remaining:
        progressed = False
        for i in range(p):
            while nxt[i] < len(orders[i]):
                fwd, j = orders[i][nxt[i]]
                dep = (True, i - 1, j) if fwd else ((False, i + 1, j) if i < p - 1 else None)
                if fwd and i == 0:
                    dep = None
                if dep is not None and dep not in done:
                    break
                start = max(free[i], done[dep] if dep is not None else 0.0)
                end = start + (tf if fwd else tb)
                done[(fwd, i, j)] = end
                free[i] = end
                rows.append((i, j, fwd, start, end))
                nxt[i] += 1
                remaining -= 1
                progressed = True
        if not progressed:  # pragma: no cover - the orders above never deadlock
            raise RuntimeError("pipeline schedule deadlocked")

    rows.sort(key=lambda r: (r[0], r[3]))  # by stage, then time
    stage = np.array([r[0] for r in rows], dtype=np.int64)
    forward = np.array([r[2] for r in rows], dtype=bool)
    makespan = max(r[4] for r in rows)
    peak = np.zeros(p, dtype=np.int64)
    for i in range(p):
        # in flight after each pass of stage i (passes of one stage never overlap)
        steps = np.where(forward[stage == i], 1, -1)
        peak[i] = int(np.max(np.cumsum(steps)))
    useful = m * (tf + tb)
    return {
        "stage": stage,
        "microbatch": np.array([r[1] for r in rows], dtype=np.int64),
        "forward": forward,
        "start": np.array([r[3] for r in rows]),
        "end": np.array([r[4] for r in rows]),
        "makespan": float(makespan),
        "bubble_fraction": float((makespan - useful) / useful),
        "peak_in_flight": peak,
    }


# --- 4D layouts -----------------------------------------------------------------------------


def layout_gpus(tp=1, cp=1, pp=1, dp=1):
    """GPUs a 4D layout uses: ``tp * cp * pp * dp``.

    Every GPU belongs to exactly one group of each kind, so the sizes multiply. Llama 3
    paper, Table 4: 8 x 1 x 16 x 64 = 8,192 and 8 x 16 x 16 x 8 = 16,384 H100s.
    """
    sizes = [v.positive_int(name, x) for name, x in (("tp", tp), ("cp", cp), ("pp", pp),
                                                       ("dp", dp))]
    out = np.asarray(sizes[0]) * np.asarray(sizes[1]) * np.asarray(sizes[2]) * np.asarray(sizes[3])
    return int(out) if np.ndim(out) == 0 else out


def batch_tokens(dp, seqs_per_replica, seq_len):
    """Tokens per optimizer step: ``dp * (sequences per data-parallel replica) * seq_len``.

    Context, tensor and pipeline ranks work on the same sequences, so only dp multiplies
    the batch. Llama 3 paper, Table 4: 64 x 32 x 8,192 = 16,777,216 tokens ("16M").
    """
    d = v.positive_int("dp", dp)
    b = v.positive_int("seqs_per_replica", seqs_per_replica)
    s = v.positive_int("seq_len", seq_len)
    out = np.asarray(d) * np.asarray(b) * np.asarray(s)
    return int(out) if np.ndim(out) == 0 else out
