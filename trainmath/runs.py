"""Published training runs with their layouts: what the step-time and memory models must meet.

Each :class:`PublishedLayout` keeps a run as its paper prints it: the model's shape, the
accelerators, the parallel layout (tensor, pipeline, data and context parallel sizes), the
global batch, recomputation, and the throughput the paper reports in its own FLOP count.
:attr:`PublishedLayout.step_time` turns that throughput into seconds per optimizer step with
the same count, so a model's predicted step time can be compared with it directly
(:func:`trainmath.planner.reproduce`, next to the model it checks). What a paper leaves
unpublished (the micro-batch size, the number of interleaved pipeline chunks) is listed as the
choices a run may have used; a comparison reports the best of them, and says which.

Sources: Narayanan et al. 2021 ("Efficient Large-Scale Language Model Training on GPU Clusters
Using Megatron-LM", SC'21, arXiv:2104.04473), Table 1 and Sec. 5.1, the weak-scaling runs on
Selene (DGX A100 80 GB nodes, 8 x 200 Gb/s HDR InfiniBand per node); Grattafiori et al. 2024
("The Llama 3 Herd of Models", arXiv:2407.21783), Table 4 and Sec. 3.3 (H100 80 GB, RoCE at
400 Gb/s per GPU).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from trainmath import _validate as v
from trainmath.activations import RECOMPUTE
from trainmath.compute import flops_per_token, megatron_model_flops
from trainmath.models import MODELS, ModelConfig

__all__ = ["FLOP_COUNTS", "PublishedLayout", "PUBLISHED_LAYOUTS"]

#: How a paper counted the FLOPs behind its throughput:
#:
#: * ``"megatron-eq3"``: Narayanan et al. 2021, Eq. 3,
#:   ``96 B s l h^2 (1 + s/(6h) + V/(16 l h))`` per iteration: the model's matmuls and the
#:   recomputed forward pass of full recomputation (a hardware count);
#: * ``"palm-causal"``: ``6 N_matmul + 6 L H Q s`` per token (PaLM's App. B count with the
#:   attention term halved for causal masking): the count that turns Llama 3's Table 4
#:   TFLOP/s into its 16M-token steps (the non-causal 12 L H Q s gives 4 % more).
FLOP_COUNTS = ("megatron-eq3", "palm-causal")


@dataclass(frozen=True)
class PublishedLayout:
    """One published run and its layout (a row of :data:`PUBLISHED_LAYOUTS`).

    Attributes
    ----------
    name : str
    cfg : ModelConfig
        The model's shape.
    accelerator : str
        A key of :data:`trainmath.ACCELERATORS`.
    n_gpus, tp, pp, dp, cp : int
        The layout (``n_gpus = tp * cp * pp * dp``).
    seq_len : int
    global_batch : int
        Sequences per optimizer step.
    recompute : {"none", "selective", "full"}
    sequence_parallel : bool
    zero_stage : int
        0-3, over the dp x cp ranks.
    reshard_after_forward : bool
        With ``zero_stage=3``: False is Llama 3's mode (weights gathered once per micro-batch
        and kept through its backward pass).
    layer : {"korthikanti", "modern"}
        How attention ran (:data:`trainmath.activations.ACTIVATION_LAYERS`).
    dp_overlap : bool
        Whether the data-parallel gradient reduction overlapped the backward pass.
    network : str
        The fabric (a key of :data:`trainmath.parallelism.BUS_BANDWIDTH` for inside a node)
        and ``nic_bandwidth`` the network's rate per GPU, bytes/s.
    tflops_per_gpu : float
        The throughput the paper prints, TFLOP/s per GPU, in its count ``flop_count``.
    micro_batches, interleaves : tuple of int
        The micro-batch sizes and interleaved pipeline chunks the run may have used (one
        value each where the paper gives it).
    source, note : str
    """

    name: str
    cfg: ModelConfig
    accelerator: str
    n_gpus: int
    tp: int
    pp: int
    dp: int
    cp: int
    seq_len: int
    global_batch: int
    recompute: str
    sequence_parallel: bool
    zero_stage: int
    reshard_after_forward: bool
    layer: str
    dp_overlap: bool
    network: str
    nic_bandwidth: float
    tflops_per_gpu: float
    flop_count: str
    micro_batches: tuple[int, ...]
    interleaves: tuple[int, ...]
    source: str = field(compare=False)
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        v.instance("cfg", self.cfg, ModelConfig)
        v.choice("recompute", self.recompute, RECOMPUTE)
        v.choice("flop_count", self.flop_count, FLOP_COUNTS)
        if self.tp * self.cp * self.pp * self.dp != self.n_gpus:
            raise ValueError(
                f"{self.name}: tp * cp * pp * dp must equal n_gpus, got {self.tp} * {self.cp} "
                f"* {self.pp} * {self.dp} != {self.n_gpus}"
            )
        v.divides("dp", self.dp, "global_batch", self.global_batch)

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len

    @property
    def flops_per_step(self) -> float:
        """FLOPs of one step in the paper's own count (:data:`FLOP_COUNTS`)."""
        cfg = self.cfg
        if self.flop_count == "megatron-eq3":
            return megatron_model_flops(self.global_batch, self.seq_len, cfg.n_layers,
                                        cfg.d_model, cfg.vocab_size, recompute=True)
        return self.tokens_per_step * flops_per_token(cfg, self.seq_len, causal=True)

    @property
    def step_time(self) -> float:
        """Seconds per step implied by the printed throughput: FLOPs / (TFLOP/s x GPUs)."""
        return self.flops_per_step / (self.tflops_per_gpu * 1e12 * self.n_gpus)


# --- the runs -------------------------------------------------------------------------------

_NARAYANAN = ("Narayanan et al. 2021 (arXiv:2104.04473), Table 1 (weak scaling, A100 80 GB, "
              "V = 51,200, s = 2048); the Megatron-LM README's cases_april2021.png agrees")
_NARAYANAN_NOTE = (
    "Full recomputation and interleaved 1F1B (Sec. 5.1). The paper leaves the micro-batch "
    "size and the number of chunks per GPU out of Table 1. Megatron-LM of 2021 reduced the "
    "gradients after the backward pass (no overlap), attention materialised its scores."
)


def _megatron_gpt(size: str, n_layers: int, d_model: int, n_heads: int) -> ModelConfig:
    return ModelConfig(n_layers=n_layers, d_model=d_model, n_heads=n_heads, vocab_size=51200,
                       seq_len=2048, name=f"Megatron-LM GPT {size}",
                       source="Narayanan et al. 2021, Table 1")


def _narayanan(size, n_layers, d_model, n_heads, tp, pp, n_gpus, batch, tflops):
    layers_per_stage = n_layers // pp
    return PublishedLayout(
        name=f"Megatron-LM {size} ({n_gpus:,} A100)",
        cfg=_megatron_gpt(size, n_layers, d_model, n_heads), accelerator="A100-80GB",
        n_gpus=n_gpus, tp=tp, pp=pp, dp=n_gpus // (tp * pp), cp=1, seq_len=2048,
        global_batch=batch, recompute="full", sequence_parallel=False, zero_stage=0,
        reshard_after_forward=True, layer="korthikanti", dp_overlap=False,
        network="A100 NVLink3 (DGX A100)", nic_bandwidth=25e9, tflops_per_gpu=tflops,
        flop_count="megatron-eq3", micro_batches=(1, 2, 4, 8),
        # Megatron-LM's interleaved schedule needs the stage's layers to divide into chunks
        interleaves=tuple(i for i in range(1, 9) if layers_per_stage % i == 0) if pp > 1 else (1,),
        source=_NARAYANAN, note=_NARAYANAN_NOTE,
    )


_LLAMA3 = ("Grattafiori et al. 2024 (arXiv:2407.21783), Table 4 (TP 8, PP 16; batch 16M tokens) "
           "and Sec. 3.3.2 (FSDP without resharding after forward, no recomputation at 8K)")


def _llama3(n_gpus, dp, cp, seq_len, tflops):
    return PublishedLayout(
        name=f"Llama 3 405B ({n_gpus:,} H100, s = {seq_len:,})", cfg=MODELS["llama-3.1-405b"],
        accelerator="H100-SXM", n_gpus=n_gpus, tp=8, pp=16, dp=dp, cp=cp, seq_len=seq_len,
        global_batch=16 * 2**20 // seq_len, recompute="none", sequence_parallel=True,
        zero_stage=3, reshard_after_forward=False, layer="modern", dp_overlap=True,
        network="H100/H200 NVLink4", nic_bandwidth=50e9, tflops_per_gpu=tflops,
        flop_count="palm-causal", micro_batches=(1,), interleaves=(1, 2, 4, 8),
        source=_LLAMA3,
        note="Micro-batch 1 sequence; the paper tunes the number of micro-batches and uses an "
             "interleaved schedule without printing the chunks per GPU. Its first and last "
             "stages hold one layer fewer, so that the first chunk holds only the embedding and "
             "the last only the output layer (Sec. 3.3.2): with 126 layers over 16 stages that "
             "reads as single-layer chunks, v = 8, the only interleaving that fits the memory "
             "model at 8K tokens. The memory model puts ceil(126/16) = 8 layers on every stage. "
             "The 131K row's recomputation is not stated (none assumed).",
    )


#: Published runs with their layouts, read-only, name -> :class:`PublishedLayout`:
#: Narayanan et al. 2021 Table 1 (ten Megatron-LM runs, 1.7B to 1T parameters on 32 to 3,072
#: A100s) and Llama 3 405B's three layouts (Table 4).
PUBLISHED_LAYOUTS: Mapping[str, PublishedLayout] = MappingProxyType({
    run.name: run for run in (
        _narayanan("1.7B", 24, 2304, 24, 1, 1, 32, 512, 137),
        _narayanan("3.6B", 30, 3072, 32, 2, 1, 64, 512, 138),
        _narayanan("7.5B", 36, 4096, 32, 4, 1, 128, 512, 142),
        _narayanan("18.4B", 40, 6144, 48, 8, 1, 256, 1024, 135),
        _narayanan("39.1B", 48, 8192, 64, 8, 2, 512, 1536, 138),
        _narayanan("76.1B", 60, 10240, 80, 8, 4, 1024, 1792, 140),
        _narayanan("145.6B", 80, 12288, 96, 8, 8, 1536, 2304, 148),
        _narayanan("310.1B", 96, 16384, 128, 8, 16, 1920, 2160, 155),
        _narayanan("529.6B", 105, 20480, 128, 8, 35, 2520, 2520, 163),
        _narayanan("1008B", 128, 25600, 160, 8, 64, 3072, 3072, 163),
        _llama3(8192, 64, 1, 8192, 430),
        _llama3(16384, 128, 1, 8192, 400),
        _llama3(16384, 8, 16, 131072, 380),
    )
})
