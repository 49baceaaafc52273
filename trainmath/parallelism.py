"""Parallel training: communication volumes and times, pipeline schedules, 4D layouts.

* Memory: ZeRO / FSDP partitioning of weights, gradients and optimizer states lives with
  the rest of the memory model in :mod:`trainmath.memory`
  (:func:`~trainmath.memory.zero_memory_per_gpu`, :func:`~trainmath.memory.memory_per_gpu`).
* Collectives: one table, :data:`COLLECTIVES`, of NVIDIA nccl-tests' bus-bandwidth factors
  and ring latency steps, used for the bytes one GPU sends (:func:`collective_bytes`), the
  alpha-beta time of a collective (:func:`collective_time`), the bus bandwidth nccl-tests
  would print (:func:`nccl_busbw`) and the time over a group that may span nodes
  (:func:`group_collective_time`). Achieved bus bandwidths from nccl-tests-style
  measurements are in :data:`BUS_BANDWIDTH`, per-step latencies in :data:`NVLINK_LATENCY`
  and :data:`NETWORK_LATENCY`.
* Traffic: data parallelism with or without ZeRO, consistent with the memory model's
  :data:`~trainmath.memory.ZERO_PARTITIONED_FROM` (:func:`data_parallel_collectives`,
  :func:`data_parallel_comm_bytes`), Megatron tensor parallelism
  (:func:`tensor_parallel_comm_bytes`), all-gather context parallelism
  (:func:`context_parallel_comm_bytes`), the all-to-all of expert parallelism
  (:func:`expert_parallel_comm_bytes`) and between pipeline stages
  (:func:`pipeline_p2p_bytes`).
* Pipelines: the bubble (p-1)/(v m) (:func:`pipeline_bubble_fraction`), the micro-batches
  a stage keeps in flight (:func:`pipeline_in_flight`) and a pass-by-pass simulation of
  the GPipe and 1F1B schedules (:func:`pipeline_schedule`).
* 4D layouts: GPUs and tokens per batch of a (tp, cp, pp, dp) layout
  (:func:`layout_gpus`, :func:`batch_tokens`; Llama 3 paper, Table 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from trainmath import _validate as v
from trainmath.activations import RECOMPUTE
from trainmath.models import _routed_copies

__all__ = [
    "pipeline_bubble_fraction",
    "Collective",
    "COLLECTIVES",
    "collective_bytes",
    "NVLINK_LATENCY",
    "NETWORK_LATENCY",
    "collective_time",
    "nccl_busbw",
    "BusBandwidth",
    "BUS_BANDWIDTH",
    "group_collective_time",
    "data_parallel_collectives",
    "data_parallel_comm_bytes",
    "tensor_parallel_comm_bytes",
    "context_parallel_comm_bytes",
    "expert_parallel_comm_bytes",
    "pipeline_p2p_bytes",
    "pipeline_in_flight",
    "SCHEDULES",
    "pipeline_schedule",
    "layout_gpus",
    "batch_tokens",
]

Array = float | np.ndarray

_GIB = 2**30
_NETWORK_README = (
    "stas00/ml-engineering @744d01e18b79512572f64a6bbd8b5f4a725203a7, network/README.md"
)


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


# --- collectives: one table of factors ------------------------------------------------------

#: How traffic leaves a node when a group spans nodes (see :class:`Collective`).
_TRAFFIC = ("ring", "all-to-all", "point-to-point")


@dataclass(frozen=True)
class Collective:
    """How one collective's traffic and latency grow with the group size n.

    One row of :data:`COLLECTIVES`. For n > 1 ranks (n = 1 sends nothing and takes no
    time):

    * bus-bandwidth factor ``per_rank * (n - 1) / n + whole``: the bytes each rank sends
      (and receives), per byte of the message, in a bandwidth-optimal algorithm; the factor
      by which nccl-tests turns the algorithm bandwidth ``M / t`` into its "busbw";
    * latency steps ``ring_steps * (n - 1) + fixed_steps``: the sequential sends of a ring
      (NVIDIA NCCL, ``src/graph/tuning.cc``, ``nsteps``: 2(n-1) for all-reduce, n-1 for
      all-gather and reduce-scatter).

    Attributes
    ----------
    per_rank, whole : float
        The two terms of the bus-bandwidth factor.
    ring_steps, fixed_steps : float
        The two terms of the latency steps.
    traffic : {"ring", "all-to-all", "point-to-point"}
        What crosses the network when the group spans nodes (:func:`group_collective_time`):
        ``"ring"``, every node sends out the ring's per-link bytes once, spread over the
        NICs of its ranks; ``"all-to-all"``, each rank sends the share of its buffer meant
        for other nodes through its own NIC; ``"point-to-point"``, the whole message
        through one NIC.
    """

    per_rank: float
    whole: float
    ring_steps: float
    fixed_steps: float
    traffic: str

    def __post_init__(self) -> None:
        v.choice("traffic", self.traffic, _TRAFFIC)

    def bus_factor(self, n_ranks: ArrayLike) -> Array:
        """nccl-tests' bus-bandwidth factor for ``n_ranks`` ranks (0 for one rank)."""
        n = np.asarray(v.positive_int("n_ranks", n_ranks), dtype=float)
        return v.result(np.where(n > 1, self.per_rank * (n - 1) / n + self.whole, 0.0))

    def steps(self, n_ranks: ArrayLike) -> Array:
        """Sequential steps, each paying one latency, for ``n_ranks`` ranks (0 for one)."""
        n = np.asarray(v.positive_int("n_ranks", n_ranks), dtype=float)
        return v.result(np.where(n > 1, self.ring_steps * (n - 1) + self.fixed_steps, 0.0))


#: The collectives the library models, read-only: name -> :class:`Collective`.
#:
#: Bus-bandwidth factors from NVIDIA nccl-tests, ``doc/PERFORMANCE.md``, "Summary":
#: all-reduce 2(n-1)/n, reduce-scatter, all-gather and all-to-all (n-1)/n, broadcast 1;
#: a point-to-point send ("p2p") moves the whole message once (nccl-tests' sendrecv reports
#: busbw = algbw). Latency steps of a ring as NCCL's tuning model counts them
#: (``src/graph/tuning.cc``, ``nsteps``): all-reduce 2(n-1) (a reduce-scatter then an
#: all-gather, Patarasuk & Yuan 2009), all-gather and reduce-scatter n-1; a pipelined
#: broadcast down a chain n-1; all-to-all n-1 (the rounds of a pairwise exchange: an upper
#: bound, since NCCL issues the n-1 sends together); p2p 1. For "p2p", ``n_ranks`` is the
#: length of a chain of ranks each sending the message to its neighbour at once (pipeline
#: stages): 1 means no send, any n >= 2 one send per rank.
COLLECTIVES = MappingProxyType({
    "all-reduce": Collective(per_rank=2, whole=0, ring_steps=2, fixed_steps=0, traffic="ring"),
    "all-gather": Collective(per_rank=1, whole=0, ring_steps=1, fixed_steps=0, traffic="ring"),
    "reduce-scatter": Collective(per_rank=1, whole=0, ring_steps=1, fixed_steps=0,
                                 traffic="ring"),
    "all-to-all": Collective(per_rank=1, whole=0, ring_steps=1, fixed_steps=0,
                             traffic="all-to-all"),
    "broadcast": Collective(per_rank=0, whole=1, ring_steps=1, fixed_steps=0, traffic="ring"),
    "p2p": Collective(per_rank=0, whole=1, ring_steps=0, fixed_steps=1,
                      traffic="point-to-point"),
})


def _collective(op: str) -> Collective:
    return COLLECTIVES[v.choice("op", op, COLLECTIVES)]


def collective_bytes(op: str, message_bytes, n_ranks):
    """Bytes each rank sends (and receives) in a collective over ``n_ranks`` ranks.

    ``message_bytes x`` the bus-bandwidth factor of :data:`COLLECTIVES`:

    * ``"reduce-scatter"``, ``"all-gather"``: ``(n - 1) / n * M``. The full tensor of
      M bytes is cut into n pieces; in n - 1 steps every rank passes one piece to its
      neighbour.
    * ``"all-reduce"`` = reduce-scatter + all-gather: ``2 (n - 1) / n * M``
      (Patarasuk & Yuan 2009, the bandwidth-optimal ring all-reduce).
    * ``"all-to-all"``: ``(n - 1) / n * M``: each rank keeps the 1/n of its buffer that is
      its own.
    * ``"broadcast"``, ``"p2p"``: ``M`` (for n >= 2).

    >>> collective_bytes("all-reduce", 1e9, 8) / 1e9
    1.75
    >>> collective_bytes("all-gather", 1e9, np.array([1, 2, 64])) / 1e9
    array([0.      , 0.5     , 0.984375])

    Parameters
    ----------
    op : {"all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "p2p"}
    message_bytes : float or array
        M, the size of the whole tensor (the all-gather's output, the reduce-scatter's
        input, the all-reduce's buffer, one rank's all-to-all buffer), in bytes.
    n_ranks : int or array
        Ranks in the group; 1 means no communication.

    Source: NVIDIA nccl-tests, ``doc/PERFORMANCE.md`` (the bus-bandwidth factors).
    Assumptions: a bandwidth-optimal algorithm (a ring); latency is not counted here (see
    :func:`collective_time`).
    """
    c = _collective(op)
    m = v.nonnegative("message_bytes", message_bytes)
    n = v.positive_int("n_ranks", n_ranks)
    return v.result(np.asarray(c.bus_factor(n)) * m)


# --- collectives: alpha-beta time -----------------------------------------------------------

#: Latency of one ring step inside a node (NVLink), seconds. Fitted to the A100 sweep of
#: :data:`BUS_BANDWIDTH` (nccl-tests ``all_reduce_perf -g 8``; stas00/ml-engineering,
#: network/README.md, "Real network throughput"): at 8 MiB it took 133.5 us, of which the
#: bandwidth term at 234.89 GB/s is 62.5 us, leaving 71 us for 2(8-1) = 14 steps: 5.1 us.
#: NCCL's own tuning model (``src/graph/tuning.cc`` @b6475625, tables ``baseLat`` and
#: ``hwLat``, Ring/Simple over NVLink) gives 8.4 us + 3.4 us per step: 4.0 us per step for
#: 14 steps. Protocols for small messages (LL, LL128) have shorter steps: below ~4 MiB this
#: latency is pessimistic (1.6x the measured time at 32 KiB).
NVLINK_LATENCY = 5e-6

#: Latency of one ring step that crosses nodes, seconds. Fitted to the 4-node B200 sweep
#: (4 x 8 B200, EFA v4 8 x 400 Gb/s per node, all_reduce_bench.py; stas00/ml-engineering,
#: network/README.md, "Inter-node speed depends on intra-node speed"): with the 2(4-1) = 6
#: node-crossing steps at 25 us and the other 56 at :data:`NVLINK_LATENCY`, the model is
#: within 2.1 % of the busbw measured at 8 and 16 MiB. NCCL's tuning model charges 14 us per
#: network step for Ring/Simple, plus the network's own latency (twice, for the flush).
NETWORK_LATENCY = 25e-6


def collective_time(op: str, message_bytes, n_ranks, bus_bandwidth, *, latency=NVLINK_LATENCY):
    """Seconds a collective takes by the alpha-beta model: ``steps x latency + bytes / busbw``.

    ``t = steps(n) * latency + M * factor(n) / bus_bandwidth``, with the ring steps and the
    bus-bandwidth factor of :data:`COLLECTIVES` (e.g. all-reduce: ``2 (n-1) alpha +
    2 (n-1)/n M / B``). Because nccl-tests defines its busbw with the same factor, the
    busbw it prints for large messages is the ``bus_bandwidth`` to put in, and it is about
    the same for any n (:data:`BUS_BANDWIDTH`).

    Accuracy against the A100 sweep (nccl-tests, 8 GPUs, 32 KiB to 16 GiB; see
    :data:`BUS_BANDWIDTH`) with the default latency and the 16 GiB busbw: the model's busbw
    is within 1 % of the measured one at 4 and 8 MiB and within 4 % from 512 MiB up, but
    17-42 % too high from 16 to 256 MiB (the measured curve dips at 16 MiB and climbs more
    slowly than any alpha-beta curve: NCCL changes protocol and channel count with the
    size, which this model has no term for), and from -38 % to +31 % below 4 MiB (other
    protocols, other latencies). So: good for the large gradient buckets and weight
    gathers of data parallelism, an optimistic bound for mid-sized messages.

    >>> t = collective_time("all-reduce", 2**30, 8, 234.89e9)  # A100 node, 1 GiB
    >>> round(t * 1e3, 2)  # milliseconds; nccl-tests measured 8.20
    8.07
    >>> round(collective_time("p2p", 64e6, 2, 50e9, latency=NETWORK_LATENCY) * 1e3, 3)  # ms
    1.305

    Parameters
    ----------
    op : {"all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "p2p"}
    message_bytes : float or array
        M, bytes (as in :func:`collective_bytes`).
    n_ranks : int or array
        Ranks in the group; 1 takes no time.
    bus_bandwidth : float or array
        Achieved bus bandwidth, bytes/s (nccl-tests' busbw, not a wire spec; see
        :data:`BUS_BANDWIDTH`).
    latency : float or array
        Seconds per step (alpha): :data:`NVLINK_LATENCY` inside a node,
        :data:`NETWORK_LATENCY` across nodes.

    Source: Hockney's alpha-beta model, with the ring costs of Thakur, Rabenseifner & Gropp
    2005 (Int. J. HPC Appl. 19(1)) and NVIDIA nccl-tests' ``doc/PERFORMANCE.md`` factors
    ("time ... is roughly equal to overhead + size / bw"). Assumptions: one algorithm (a
    ring) at every size; no NVLink SHARP (NVLS) or in-network reduction; no contention with
    other traffic; every step pays the same latency.
    """
    c = _collective(op)
    m = v.nonnegative("message_bytes", message_bytes)
    n = v.positive_int("n_ranks", n_ranks)
    bw = v.positive("bus_bandwidth", bus_bandwidth)
    alpha = v.nonnegative("latency", latency)
    return v.result(np.asarray(c.steps(n)) * alpha + np.asarray(c.bus_factor(n)) * m / bw)


def nccl_busbw(op: str, message_bytes, n_ranks, seconds):
    """The bus bandwidth nccl-tests prints for a collective that took ``seconds``: bytes/s.

    ``busbw = algbw * factor(n)`` with ``algbw = M / t`` (NVIDIA nccl-tests,
    ``doc/PERFORMANCE.md``). Applied to :func:`collective_time` it gives the model's busbw
    curve, which rises with the message size towards the ``bus_bandwidth`` put in.

    >>> round(nccl_busbw("all-reduce", 2**30, 8, 8203.9e-6) / 1e9, 2)  # the A100 row at 1 GiB
    229.04

    Parameters
    ----------
    op, message_bytes, n_ranks
        As in :func:`collective_time`.
    seconds : float or array
        Time the collective took (> 0).

    Source: NVIDIA nccl-tests, ``doc/PERFORMANCE.md``, "Bus bandwidth". Assumptions: the
    factor of a ring; with NVLS or in-network reduction the number no longer describes a
    wire (it can exceed the link's rate).
    """
    c = _collective(op)
    m = v.nonnegative("message_bytes", message_bytes)
    n = v.positive_int("n_ranks", n_ranks)
    t = v.positive("seconds", seconds)
    return v.result(m / t * np.asarray(c.bus_factor(n)))


# --- achieved bus bandwidths ----------------------------------------------------------------


@dataclass(frozen=True)
class BusBandwidth:
    """An achieved bus bandwidth, as nccl-tests measures it (one row of :data:`BUS_BANDWIDTH`).

    Attributes
    ----------
    bus_bandwidth : float
        nccl-tests' busbw, bytes/s (decimal GB/s x 1e9).
    collective : str
        The collective measured (a key of :data:`COLLECTIVES`).
    algorithm : str
        What NCCL ran: ``"ring"``, ``"NVLS"`` (NVLink SHARP: the switch reduces, so the
        busbw no longer describes a wire) or ``"not recorded"``.
    n_ranks, gpus_per_node : int
        Ranks of the measurement and GPUs per node (8 in these HGX/DGX nodes).
    message_bytes : float or None
        Message size of the row, bytes (nccl-tests' "size"); None where not stated.
    spec : float
        The per-direction wire rate it is compared with, bytes/s: NVLink per GPU inside a
        node; the node's NICs in total (8 x 50 GB/s) across nodes.
    source : str
        Where the number is printed, and how it was measured.

    >>> a100 = BUS_BANDWIDTH["A100 NVLink3 (DGX A100)"]
    >>> a100.bus_bandwidth / 1e9, round(a100.fraction_of_spec, 2)
    (234.89, 0.78)
    >>> round(BUS_BANDWIDTH["H200 4x8, EFA 8x400 Gb/s per node"].per_gpu / 1e9, 1)
    45.6
    """

    bus_bandwidth: float
    collective: str
    algorithm: str
    n_ranks: int
    gpus_per_node: int
    message_bytes: float | None
    spec: float
    source: str

    @property
    def nodes(self) -> int:
        """Nodes the measurement spanned."""
        return -(-self.n_ranks // self.gpus_per_node)

    @property
    def fraction_of_spec(self) -> float:
        """busbw / spec (above 1 only with in-switch reduction, NVLS)."""
        return self.bus_bandwidth / self.spec

    @property
    def per_gpu(self) -> float:
        """busbw / GPUs per node: for a measurement across nodes, the network busbw one GPU
        (one NIC) contributes: the ``inter_bandwidth`` of :func:`group_collective_time`."""
        return self.bus_bandwidth / self.gpus_per_node


def _bw(gbs, collective, algorithm, n_ranks, message_gib, spec_gbs, source) -> BusBandwidth:
    message = None if message_gib is None else message_gib * _GIB
    return BusBandwidth(gbs * 1e9, collective, algorithm, n_ranks, 8, message, spec_gbs * 1e9,
                        source)


#: Achieved bus bandwidths (bytes/s) from nccl-tests-style measurements, not wire specs:
#: read-only, name -> :class:`BusBandwidth`. All but the H800 row are from
#: stas00/ml-engineering @744d01e1, ``network/README.md`` (line numbers of that commit).
#:
#: Across nodes, use the rule of :func:`group_collective_time`: a flat ring's busbw is
#: bounded by the slower of NVLink's busbw and the NICs of the group's ranks in one node
#: (r x per-GPU network busbw, :attr:`BusBandwidth.per_gpu`); it does not fall with the
#: number of nodes. Both 4-node rows are EFA with 8 x 400 Gb/s per node: 91 % and 95 % of the
#: node's 400 GB/s. An InfiniBand or RoCE node with one 400 Gb/s NIC per GPU (Llama 3
#: paper Sec. 3.3.1; DeepSeek-V3's H800 cluster, IB at 50 GB/s per GPU, arXiv:2412.19437
#: Sec. 3.2.2) has the same NIC total; these rows are the closest measured stand-in
#: (an assumption: no IB measurement is tabulated here).
BUS_BANDWIDTH = MappingProxyType({
    "A100 NVLink3 (DGX A100)": _bw(
        234.89, "all-reduce", "ring", 8, 16, 300,
        f"{_NETWORK_README}, 'Real network throughput' (lines 1218-1241): nccl-tests "
        "all_reduce_perf -g 8 on one 8x A100 node, 16 GiB (78 % of 300 GB/s); the sweep "
        "8 MiB 109.93, 64 MiB 171.54, 256 MiB 194.07, 1 GiB 229.04, 4 GiB 233.88 GB/s. A100 "
        "has no NVLS, so this is a ring."),
    "H100/H200 NVLink4": _bw(
        367.61, "all-reduce", "ring", 8, 16, 450,
        f"{_NETWORK_README}, lines 972 and 1284: 8x H200 (same NVLink4 and NVSwitch as "
        "H100), all_reduce_bench.py with NCCL_NVLS_ENABLE=0 (ring), NCCL 2.27.7, 16 GiB "
        "(82 % of 450 GB/s)."),
    "H100/H200 NVLink4 all-gather": _bw(
        361.4, "all-gather", "ring", 8, 16, 450,
        f"{_NETWORK_README}, lines 980 and 990: nccl-tests all_gather_perf -g 8 on 8x H200, "
        "16 GiB (80 %)."),
    "H100/H200 NVLink4 reduce-scatter": _bw(
        362.9, "reduce-scatter", "ring", 8, 16, 450,
        f"{_NETWORK_README}, lines 981 and 991: nccl-tests reduce_scatter_perf -g 8 on "
        "8x H200, 16 GiB (81 %)."),
    "H100/H200 NVLink4 NVLS": _bw(
        482.26, "all-reduce", "NVLS", 8, 16, 450,
        f"{_NETWORK_README}, lines 972 and 1285: 8x H200, all_reduce_bench.py, NCCL's "
        "default (NVLink SHARP), 16 GiB: 107 % of the wire, because the switch reduces; "
        "all-reduce only (all-gather and reduce-scatter stay on the ring)."),
    "B200 NVLink5": _bw(
        682.2, "all-reduce", "ring", 8, 8, 900,
        f"{_NETWORK_README}, line 941: nccl-tests on 8x B200 (p6-b200.48xlarge), "
        "NCCL_NVLS_ENABLE=0, 8 GiB (76 % of 900 GB/s)."),
    "B200 NVLink5 NVLS": _bw(
        845.67, "all-reduce", "NVLS", 8, 16, 900,
        f"{_NETWORK_README}, 'Inter-node speed depends on intra-node speed' (line 1423): "
        "one 8x B200 node, all_reduce_bench.py, NCCL 2.27.7 default (NVLS from 6 GPUs up, "
        "line 941), 16 GiB."),
    "H200 4x8, EFA 8x400 Gb/s per node": _bw(
        364.87, "all-reduce", "ring", 32, 4, 400,
        f"{_NETWORK_README}, line 1182: 4 nodes x 8 H200 (p5en.48xlarge), EFA, NCCL "
        "2.27.7, 32 ranks, 4 GiB; NCCL selected Ring (forcing it gave 364.65). 91 % of the "
        "node's 8 x 50 GB/s."),
    "B200 4x8, EFA v4 8x400 Gb/s per node": _bw(
        381.80, "all-reduce", "not recorded", 32, 16, 400,
        f"{_NETWORK_README}, line 1423: 4 nodes x 8 B200 (p6-b200.48xlarge), EFA v4 "
        "8 x 50 GB/s per node, all_reduce_bench.py, NCCL 2.27.7, 32 ranks, 16 GiB (95 % of "
        "400 GB/s). The algorithm was not recorded (the README's hierarchical reading gives "
        "74 % of the NIC rate instead)."),
    "H800 NVLink (DeepSeek-V3)": _bw(
        160, "all-to-all", "not recorded", 8, None, 200,
        "DeepSeek-AI, DeepSeek-V3 Technical Report (arXiv:2412.19437), Sec. 3.2.2: 'NVLink "
        "offers a bandwidth of 160 GB/s, roughly 3.2 times that of IB (50 GB/s)', the "
        "bandwidth their all-to-all kernels plan with: a usable figure, not an nccl-tests "
        "busbw (message size not stated). Spec: H800 NVLink, 400 GB/s both ways."),
})


def group_collective_time(
    op: str, message_bytes, n_ranks, *, intra_bandwidth, inter_bandwidth, gpus_per_node=8,
    stride=1, ranks_per_node=None, intra_latency=NVLINK_LATENCY, inter_latency=NETWORK_LATENCY,
):
    """Seconds a collective takes over a group that may span nodes (flat ring, alpha-beta).

    The group is ``n_ranks`` ranks spaced ``stride`` apart (1: consecutive ranks; a
    data-parallel group of a [TP, CP, PP, DP] layout has stride tp * cp * pp), aligned
    with the nodes of ``gpus_per_node`` GPUs. Then ``r = min(gpus_per_node // stride, n)``
    of its ranks share a node (at least 1; or pass ``ranks_per_node`` for a group without
    one stride, such as the dp x cp ranks that share weights) and it spans
    ``k = ceil(n / r)`` nodes.

    * k = 1: :func:`collective_time` at ``intra_bandwidth`` and ``intra_latency``.
    * k > 1, bandwidth: the slower of the two fabrics,
      ``max(factor(n) M / intra_bandwidth, network bytes / inter_bandwidth)``, where the
      network bytes per GPU (NIC) are, by the collective's ``traffic``:
      ``"ring"`` ``factor(n) M / r``; ``"all-to-all"`` ``(n - r)/n M``;
      ``"point-to-point"`` ``M``.
    * k > 1, latency: ``steps(k)`` of the ``steps(n)`` cross nodes and pay
      ``inter_latency``; the rest ``intra_latency`` (NCCL ``src/graph/tuning.cc``: its
      ring latency is ``(nsteps - nInterSteps) intraLat + nInterSteps interLat``).

    **The ring rule.** In a ring every link carries ``factor(n) M``. A ring laid out node
    by node leaves each node once; NCCL runs several rings (channels) at once and lets them
    leave through different GPUs' NICs, so the node's exits, ``factor(n) M`` in all, are
    spread over the NICs of its r ranks: ``t >= factor(n) M / (r B_nic)``, i.e.
    ``busbw <= r B_nic``: the node's total NIC bandwidth when the whole node is in the
    group, whatever the number of nodes. Every other hop is NVLink, so also
    ``busbw <= intra_bandwidth``. Check with EFA, 8 x 50 GB/s per node: 4 x 8 H200 measured
    364.87 GB/s, min(367.61 NVLink, 400 NICs) = 367.61 (+0.8 %); 4 x 8 B200 measured 381.8,
    min(682.2, 400) = 400 (+4.8 %); and each predicts the other from its own per-GPU
    network busbw (:attr:`BusBandwidth.per_gpu`: 45.6 and 47.7 GB/s) within 5 %.

    **Where it fails.** (1) In-switch or in-network reduction (NVLS, IB SHARP/CollNet)
    beats it for all-reduce (482 GB/s on an H200 node against a 450 GB/s wire).
    (2) Hierarchical algorithms (NCCL's tree, NVLSTree; a two-level reduce-scatter in the
    node, all-reduce across nodes on 1/g of the data, all-gather in the node) send only
    ``2 (k-1)/k M / g`` per NIC, up to ``B_nic (n-1)/(k-1)`` busbw (516 GB/s for 4 x 8 at
    50 GB/s), which falls to the ring's ``g B_nic`` as k grows; run one phase after the
    other, that algorithm would take 36.5 ms for the H200 4 GiB row (22.8 ms measured, NCCL
    chose the ring) and 100 ms for the B200 16 GiB row even at full NIC rate (87.2 ms
    measured), which is why the ring is modelled here. (3) NICs per GPU other than one
    (B300: two; older clusters: one per node): scale ``inter_bandwidth``. (4) All-to-all
    does not share NICs this way: each rank's off-node bytes leave through its own NIC.
    (5) Small messages: see :data:`NVLINK_LATENCY`; at thousands of ranks NCCL switches to
    trees, whose latency grows as log k, not 2(n-1) steps. (6) Congestion in an
    oversubscribed or shared fabric is not modelled. The rule was checked at k = 4 only.

    >>> h200 = dict(intra_bandwidth=367.61e9, inter_bandwidth=45.6e9)
    >>> t = group_collective_time("all-reduce", 4 * 2**30, 32, **h200)  # 4 nodes x 8
    >>> round(t * 1e3, 1)  # ms: measured 22.8 (364.87 GB/s busbw)
    23.2
    >>> one_per_node = group_collective_time(  # dp ranks 8 apart: one GPU (NIC) per node
    ...     "all-gather", 1e9, np.array([8, 16, 64]), stride=8, **h200)
    >>> np.round(one_per_node * 1e3, 1)  # ms
    array([19.4, 20.9, 23.2])

    Parameters
    ----------
    op : {"all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "p2p"}
    message_bytes : float or array
        M, bytes (as in :func:`collective_bytes`).
    n_ranks : int or array
        Ranks in the group (for "p2p": ranks in the chain).
    intra_bandwidth : float or array
        Achieved busbw inside a node, bytes/s (an NVLink row of :data:`BUS_BANDWIDTH`).
    inter_bandwidth : float or array
        Achieved network busbw per GPU, bytes/s: a multi-node row's
        :attr:`BusBandwidth.per_gpu`, or about 0.9 x the NIC rate per GPU.
    gpus_per_node, stride : int or array
        GPUs per node (8 in HGX/DGX servers) and the rank distance between members.
    ranks_per_node : int or array, optional
        r directly (then ``stride`` is not used); capped at ``n_ranks``.
    intra_latency, inter_latency : float or array
        Seconds per step inside and across nodes.

    Source: the alpha-beta model of :func:`collective_time`; the measurements of
    :data:`BUS_BANDWIDTH`; NCCL ``src/graph/tuning.cc`` (ring latency split). Assumptions:
    NCCL's flat ring (the algorithm it chose on the 4-node H200 cluster), one NIC per GPU,
    every node's NICs free for this group; groups aligned with nodes (``stride`` divides
    ``gpus_per_node`` or is a multiple of it; otherwise an estimate).
    """
    c = _collective(op)
    m = v.nonnegative("message_bytes", message_bytes)
    n = np.asarray(v.positive_int("n_ranks", n_ranks))
    b_in = v.positive("intra_bandwidth", intra_bandwidth)
    b_out = v.positive("inter_bandwidth", inter_bandwidth)
    g = np.asarray(v.positive_int("gpus_per_node", gpus_per_node))
    s = np.asarray(v.positive_int("stride", stride))
    a_in = v.nonnegative("intra_latency", intra_latency)
    a_out = v.nonnegative("inter_latency", inter_latency)

    if ranks_per_node is None:
        per_node = np.minimum(np.maximum(g // s, 1), n)  # r: ranks of the group in one node
    else:
        per_node = np.minimum(v.positive_int("ranks_per_node", ranks_per_node), n)
    return v.result(_group_time(c, m, n, per_node, b_in, b_out, a_in, a_out))


def _group_time(c: Collective, m, n, per_node, b_in, b_out, a_in, a_out):
    """:func:`group_collective_time` on validated arrays, ``per_node`` ranks in each node
    (the planner's fast path: it validates a layout's arrays once, not per collective)."""
    nodes = -(-n // per_node)  # k
    factor = np.asarray(c.bus_factor(n))
    steps, cross = np.asarray(c.steps(n)), np.asarray(c.steps(nodes))
    if c.traffic == "ring":
        nic = factor * m / per_node
    elif c.traffic == "all-to-all":
        nic = m * (n - per_node) / n
    else:
        nic = factor * m
    network = np.where(nodes > 1, nic / b_out, 0.0)
    latency = (steps - cross) * a_in + cross * a_out
    return latency + np.maximum(factor * m / b_in, network)


# --- data parallelism and ZeRO --------------------------------------------------------------

#: ZeRO stage from which the optimizer states, gradients and weights are sharded: the rule of
#: :data:`trainmath.memory.ZERO_PARTITIONED_FROM`, restated because memory imports this
#: module (the package allows no import cycle); tests/test_parallelism.py checks they agree.
_SHARDED_FROM = MappingProxyType({"optimizer": 1, "gradients": 2, "weights": 3})


def data_parallel_collectives(
    n_params, zero_stage=0, *, n_microbatches=1, param_bytes=2, grad_bytes=2,
    reshard_after_forward: bool | np.ndarray = True,
) -> dict:
    """The collectives one data-parallel rank runs per optimizer step, by ZeRO stage.

    Consistent with the memory model: :data:`trainmath.memory.ZERO_PARTITIONED_FROM` says
    which stage shards the optimizer states (1), the gradients (2) and the weights (3), and
    the traffic follows from what stays resident. With m micro-batches per step:

    * **unsharded gradients** (stages 0, 1): each rank keeps the full gradients and
      accumulates them over the m micro-batches, then reduces them once per step: stage 0
      all-reduces them (PyTorch DDP with ``no_sync``, Li et al. 2020, Sec. 3.2.4); stage 1
      reduce-scatters them, each rank updates the weights whose optimizer states it owns,
      and all-gathers the updated weights (Megatron-LM's distributed optimizer,
      ``docs/source/api-guide/dist_optimizer.md``, "Key steps");
    * **sharded gradients** (stages 2, 3): the full gradient does not stay resident, so it
      is reduce-scattered after every micro-batch's backward pass (m times per step; PyTorch
      FSDP, Zhao et al. 2023, arXiv:2304.11277, Sec. 3 and Sec. 3.3.4, gradient accumulation
      "with communication", each rank keeping sharded gradients);
    * **weights**: stage 2 all-gathers the updated weights once after the step; stage 3
      keeps only a shard and all-gathers them before every forward and every backward pass
      (2m per step: FSDP's ``reshard_after_forward=True``, Zhao et al. 2023, Sec. 3 and
      Fig. 1), or, with ``reshard_after_forward=False``, once per micro-batch and keeps them
      through its backward (m per step: Llama 3 paper, arXiv:2407.21783, Sec. 3.3.2, "we
      do not reshard after forward computation to avoid an extra all-gather").

    With m = 1 these are ZeRO's volumes (Rajbhandari et al. 2019, Sec. 7, which assume no
    accumulation): 2 Psi for stages 0-2, 3 Psi for stage 3.

    >>> c = data_parallel_collectives(1e9, 2, n_microbatches=4)
    >>> c["reduce-scatter"], c["all-gather"], c["all-reduce"]
    ((4.0, 2000000000.0), (1.0, 2000000000.0), (0.0, 2000000000.0))

    Parameters
    ----------
    n_params : float or array
        Psi, the parameters each data-parallel rank holds before ZeRO sharding (after
        tensor and pipeline parallelism).
    zero_stage : int or array
        0, 1, 2 or 3.
    n_microbatches : int or array
        m, micro-batches accumulated per step.
    param_bytes, grad_bytes : float
        Bytes per communicated weight and gradient value (2 for bf16).
    reshard_after_forward : bool or array of bool
        Stage 3 only: free the gathered weights after the forward pass (True, FSDP's
        default and ZeRO-3) or keep them for the backward (False, Llama 3).

    Returns
    -------
    dict
        ``{"all-reduce": (calls, message_bytes), "reduce-scatter": (...), "all-gather":
        (...)}``: calls per step (float or array, 0 when the stage does not use it) and the
        whole message in bytes (gradients for the first two, weights for the all-gather).

    Source: as listed above. Assumptions: one collective per message (real runs split it
    into buckets, DDP's 25 MB or one FSDP unit per layer, which pay more latency, not more
    bytes); no gradient compression; the mode "sharded weights, unsharded gradients
    accumulated locally" (FSDP's ``no_sync``) is not a stage of the memory model and is not
    modelled.
    """
    n = v.nonnegative("n_params", n_params)
    st = np.asarray(v.zero_stage("zero_stage", zero_stage))
    m = np.asarray(v.positive_int("n_microbatches", n_microbatches), dtype=float)
    p = v.nonnegative("param_bytes", param_bytes)
    g = v.nonnegative("grad_bytes", grad_bytes)
    keep = v.flags("reshard_after_forward", reshard_after_forward)
    optimizer = st >= _SHARDED_FROM["optimizer"]
    gradients = st >= _SHARDED_FROM["gradients"]
    weights = st >= _SHARDED_FROM["weights"]
    all_reduce = np.where(optimizer, 0.0, 1.0)
    reduce_scatter = np.where(gradients, m, np.where(optimizer, 1.0, 0.0))
    gathers = np.where(keep, 2.0, 1.0) * m
    all_gather = np.where(weights, gathers, np.where(optimizer, 1.0, 0.0))
    grads = v.result(n * g)
    return {
        "all-reduce": (v.result(all_reduce), grads),
        "reduce-scatter": (v.result(reduce_scatter), grads),
        "all-gather": (v.result(all_gather), v.result(n * p)),
    }


def data_parallel_comm_bytes(
    n_params, dp, zero_stage=0, *, n_microbatches=1, param_bytes=2, grad_bytes=2,
    reshard_after_forward: bool | np.ndarray = True,
):
    """Bytes one GPU sends per optimizer step to synchronise a data-parallel group.

    The sum over :func:`data_parallel_collectives` of calls x :func:`collective_bytes`
    over ``dp`` ranks. With ``share = (N_d - 1)/N_d Psi`` values and m micro-batches:

    ========  ====================================  ===========================
    stage     collectives per step                  values sent (x bytes each)
    ========  ====================================  ===========================
    0         1 all-reduce of the gradients         2 share
    1         1 reduce-scatter + 1 all-gather       2 share
    2         m reduce-scatters + 1 all-gather      (m + 1) share
    3         m reduce-scatters + 2m all-gathers    3m share (2m share without
                                                    resharding after forward)
    ========  ====================================  ===========================

    A common shortcut reduces the gradients of stages 2 and 3 once per step too; that only
    holds when every rank keeps the full gradients, i.e. not with the sharded gradients
    these stages keep (the memory model's rule), so stage 2 costs (m + 1) shares, not 2, and
    stage 3 3m, not 2m + 1. For m = 1 nothing changed: ZeRO's 2 Psi and 3 Psi (Rajbhandari et al.
    2019, Sec. 7), and stage 3 is 1.5 x plain data parallelism (Zhao et al. 2023,
    Sec. 3.2.1).

    >>> round(data_parallel_comm_bytes(7.5e9, 64, 2, n_microbatches=4) / 1e9, 2)  # GB
    73.83
    >>> data_parallel_comm_bytes(1e9, 8, np.arange(4), n_microbatches=4) / 1.75e9
    array([ 2.,  2.,  5., 12.])

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
        m, micro-batches accumulated per step (stages 2 and 3 depend on it).
    param_bytes, grad_bytes : float
        Bytes per communicated weight and gradient value (2 for bf16).
    reshard_after_forward : bool
        Stage 3 only, see :func:`data_parallel_collectives`.

    Source: Rajbhandari et al. 2019, Sec. 7; Zhao et al. 2023 (PyTorch FSDP), Sec. 3 and
    3.3.4; Llama 3 paper, Sec. 3.3.2; Megatron-LM distributed optimizer. Assumptions: ring
    collectives (:func:`collective_bytes`); no gradient compression.
    """
    d = v.positive_int("dp", dp)
    calls = data_parallel_collectives(
        n_params, zero_stage, n_microbatches=n_microbatches, param_bytes=param_bytes,
        grad_bytes=grad_bytes, reshard_after_forward=reshard_after_forward,
    )
    total = sum(np.asarray(k) * np.asarray(collective_bytes(op, message, d))
                for op, (k, message) in calls.items())
    return v.result(total)


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


def expert_parallel_comm_bytes(
    seq_len, micro_batch, d_model, ep, *, experts_per_token, n_layers=1, tp=1, etp=1,
    capacity_factor=1.0, act_bytes=2, dispatch_bytes=None, recompute: str = "none",
):
    """Bytes one GPU sends for expert parallelism, per micro-batch.

    Every MoE layer sends each of this rank's tokens to the ``k = experts_per_token``
    experts the router chose, wherever they live, and brings the results back (Lepikhin et
    al. 2020, GShard, Sec. 2.2; Fedus et al. 2021, Sec. 2.2): an all-to-all **dispatch** of
    the token copies before the experts and an all-to-all **combine** after them, and the
    same two in the backward pass (the gradients flow the other way). Each is an all-to-all
    over the ``ep`` ranks of the rank's buffer of ``M = c k (s b / t) d`` values: its
    ``s b`` tokens, ``s b / t`` of them routed here under tensor parallelism (sequence
    parallel), times the ``k`` copies, times the capacity factor c. Of it the rank keeps the
    ``1/ep`` bound for its own experts and sends ``(ep - 1)/ep M``
    (:func:`collective_bytes`). Full recomputation repeats the forward dispatch and combine.

    Parameters
    ----------
    seq_len, micro_batch, d_model : int or array
        s (tokens per sequence on this GPU: s/cp under context parallelism), b, d.
    ep : int or array
        Expert-parallel ranks (1: the experts are local, nothing to send).
    experts_per_token : int
        k.
    n_layers : int or array
        MoE layers on this GPU.
    tp, etp : int or array
        Tensor and expert tensor parallelism: a rank routes ``s b / tp`` tokens, and its
        ``etp`` expert-tensor-parallel peers gather each other's copies (counted: the
        buffer grows etp-fold).
    capacity_factor : float or array
        Copies sent over a balanced router's (a capacity-limited router pads each expert's
        buffer to its capacity).
    act_bytes : float
        Bytes per value of the two combines, forward and backward (bf16: 2): the experts'
        outputs going back to their tokens, and the gradients going back the same way.
    dispatch_bytes : float, optional
        Bytes per value of the two dispatches, forward and backward (the token copies sent
        to the experts, and the gradients of the experts' outputs sent to them), when they
        travel in another format (DeepSeek-V3 sends them in fp8, 1 byte, Sec. 3.3.3: "we
        quantize the activation before MoE up-projections into FP8 and then apply
        dispatch components ... A similar strategy is applied to the activation gradient
        before MoE down-projections ... For both the forward and backward combine
        components, we retain them in BF16"). Default: ``act_bytes``.
    recompute : {"none", "selective", "full"}

    Returns
    -------
    float or array
        Bytes per micro-batch.

    Examples
    --------
    DeepSeek-V3: one 4,096-token sequence, 8 experts per token, d = 7,168, EP 64, fp8
    dispatch, 4 MoE layers per stage (61 layers over 16 stages), in GB:

    >>> round(expert_parallel_comm_bytes(4096, 1, 7168, 64, experts_per_token=8,
    ...                                  n_layers=4, dispatch_bytes=1) / 1e9, 2)
    5.55

    Assumptions: uniform routing (every destination equally likely; DeepSeek-V3's
    node-limited routing, at most 4 nodes per token, cuts what crosses the network but
    not these bytes), no token dropped, latency not counted (see
    :func:`group_collective_time` for times).
    """
    s = v.positive_int("seq_len", seq_len)
    b = v.positive_int("micro_batch", micro_batch)
    d = v.positive_int("d_model", d_model)
    e = v.positive_int("ep", ep)
    k = v.positive_int("experts_per_token", experts_per_token)
    layers = v.positive_int("n_layers", n_layers)
    t = v.positive_int("tp", tp)
    te = v.positive_int("etp", etp)
    c = v.positive("capacity_factor", capacity_factor)
    nbytes = v.positive("act_bytes", act_bytes)
    fp = nbytes if dispatch_bytes is None else v.positive("dispatch_bytes", dispatch_bytes)
    v.choice("recompute", recompute, RECOMPUTE)
    values = _routed_copies(np.asarray(s) * np.asarray(b), k, t, te, c) * np.asarray(d)
    # the two dispatches (fp), the two combines (act)
    per_layer = 2 * values * fp + 2 * values * nbytes
    if recompute == "full":
        per_layer = per_layer + values * fp + values * nbytes
    return v.result(np.asarray(layers) * collective_bytes("all-to-all", per_layer, e))


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
