"""Lesson 11 calculator: a mixture of experts on a cluster, parameters to memory per GPU.

``tm.widgets.MoECalculator()`` takes a model (the mixtures of experts of
``tm.MOE_MODELS`` first, then the dense presets of ``tm.MODELS`` to compare with), an
accelerator, the sequence length, the micro-batch, the tensor-, pipeline-, expert- and
data-parallel sizes, a ZeRO stage, the capacity factor and whether DeepSeek-V3's
activation choices apply. It shows the total and active parameters, the training FLOPs
per token (6 x active parameters, the full count with attention, and 6 x all parameters),
the parameters of the busiest GPU by bucket (tensor-parallel, replicated, experts), its
memory by part against the accelerator's, the bytes one GPU sends in the expert-parallel
all-to-alls per micro-batch, and the KV cache of one sequence. The plot is one horizontal
bar of the busiest GPU's memory by part, with the accelerator's memory as a line.

The layout is DeepSeek-V3's by default (2,048 H800 GPUs: 16 pipeline stages, 64-way expert
parallelism, ZeRO-1 over 128 data-parallel ranks; DeepSeek-V3 Technical Report,
arXiv:2412.19437, Sec. 3.2). Assumptions, as in :func:`trainmath.plan_layouts`: routed
experts are kept whole on each GPU (``etp = 1``, DeepSeek-V3's and Megatron-Core's
"parallel folding"); sequence parallelism wherever ``tp > 1``; no context parallelism;
the 1F1B schedule with ``pp`` micro-batches per step; no recomputation beyond DeepSeek-V3's
choices.

- **ep** follows the model: a dense model shows 1, greyed out (it has no experts to
  spread; the library refuses ``ep > 1``); a mixture of experts shows the ep last asked
  for, or the largest divisor of its experts below it (DeepSeek-V3's 64 becomes 8 on
  Mixtral's 8 experts, and 64 again on DeepSeek-V3), and says so. An ep typed in that does
  not divide the experts, or an ``ep`` that does not divide ``dp x tp``, shows the
  library's message.
- **DeepSeek-V3's activation choices** (:data:`trainmath.DEEPSEEK_V3_TERM_BYTES`: norms and
  latent-attention up-projections recomputed, the experts' inputs and SwiGLU inputs cached
  in fp8; and the all-to-all's dispatch sent in fp8, Sec. 3.3.3) name terms of latent
  attention and MoE layers, so the box applies to DeepSeek-V3 only: for another model it
  is unticked and greyed out, and ticks again (if it was) when DeepSeek-V3 comes back.
- **capacity factor** is greyed out for a dense model (nothing to route).

Every number comes from :mod:`trainmath` (``param_count``, ``active_param_count``,
``flops_per_token``, ``param_buckets``, ``memory_per_gpu``, ``expert_parallel_comm_bytes``,
``kv_cache_bytes``, ``layers_per_stage``); this module only wires controls to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import trainmath as tm
from trainmath import fmt
from trainmath.widgets._base import Calculator, accelerator_control, table_html
from trainmath.widgets._experts import FollowsModel, model_options, takes_deepseek_v3_terms

__all__ = ["MoECalculator", "MoEResult", "MEMORY_PARTS"]

_STYLE = {"description_width": "13em"}
_WIDE = W.Layout(width="27em")
#: The parts of the bar, in stacking order: (attribute of MemoryBreakdown, label, colour).
MEMORY_PARTS = (
    ("weights", "weights", "#4C72B0"),
    ("gradients", "gradients", "#55A868"),
    ("optimizer", "optimizer states", "#C44E52"),
    ("activations", "activations", "#DD8452"),
)
_STAGES = [("0: none", 0), ("1: optimizer states", 1), ("2: + gradients", 2),
           ("3: + weights", 3)]
#: Bytes per value of the dispatch all-to-all with DeepSeek-V3's choices (fp8, Sec. 3.3.3).
_FP8 = 1


@dataclass(frozen=True)
class MoEResult:
    """Everything one update of :class:`MoECalculator` computed (SI units).

    ``ep_asked`` is the ep last asked for; ``ep`` the one used, which differs when the
    model's experts are not divisible by it (or the model is dense). ``deepseek_v3`` says
    whether DeepSeek-V3's activation choices (and fp8 dispatch) were applied.
    """

    cfg: tm.ModelConfig
    accelerator: str
    capacity: float  # accelerator memory, bytes
    seq_len: int
    micro_batch: int
    tp: int
    pp: int
    ep: int
    ep_asked: int
    dp: int
    zero_stage: int
    capacity_factor: float
    deepseek_v3: bool
    total_params: int
    active_params: int
    flops_per_token: float  # active matmuls + attention, forward and backward
    buckets: tm.Breakdown  # parameters of the busiest GPU by bucket
    memory: tm.MemoryBreakdown
    layers_on_stage: int  # layers of the busiest pipeline stage
    moe_layers_on_stage: int  # MoE layers of the pipeline stage with the most
    all_to_all_layer: float  # bytes one GPU sends per MoE layer and micro-batch
    all_to_all: float  # the same for the MoE layers of its stage
    kv_cache: float  # one sequence of seq_len tokens, bf16
    kv_per_token: float
    kv_decompressed: float | None  # latent attention: every head's keys and values instead

    @property
    def n_gpus(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def fits(self) -> bool:
        return bool(self.memory.total <= self.capacity)


class MoECalculator(FollowsModel, Calculator):
    """A mixture of experts on a cluster: parameters, FLOPs, memory per GPU (lesson 11).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.MoECalculator()  # DeepSeek-V3 on 2,048 H800
    >>> round(calc.last.active_params / 1e9, 1), calc.last.fits
    (37.6, True)
    >>> calc.set(deepseek_v3=False)  # every activation kept in bf16
    True
    >>> calc.last.fits
    False
    """

    title = ("Mixture-of-experts calculator: total vs active parameters, "
             "memory per GPU with expert parallelism")
    figsize = (6.4, 2.0)

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        controls = {
            "model": W.Dropdown(options=model_options(moe_first=True), value="deepseek-v3",
                                description="model", **common),
            "accelerator": accelerator_control("H800", **common),
            "seq_len": W.IntText(value=4096, description="sequence length s", **common),
            "micro_batch": W.IntText(value=1, description="micro-batch b", **common),
            "tp": W.IntText(value=1, description="tensor parallel t", **common),
            "pp": W.IntText(value=16, description="pipeline parallel p", **common),
            "ep": W.IntText(value=64, description="expert parallel e", **common),
            "dp": W.IntText(value=128, description="data parallel d", **common),
            "zero_stage": W.Dropdown(options=_STAGES, value=1, description="ZeRO stage",
                                     **common),
            "capacity_factor": W.FloatSlider(
                value=1.0, min=1.0, max=2.0, step=0.05, readout_format=".2f",
                description="capacity factor", continuous_update=False, **common),
            "deepseek_v3": W.Checkbox(
                value=True, description="DeepSeek-V3's activation choices", indent=True,
                layout=W.Layout(width="40em"), style=_STYLE),
        }
        self._follow(controls)
        return controls

    # -- numbers ----------------------------------------------------------------------
    def compute(self, model, accelerator, seq_len, micro_batch, tp, pp, ep, dp, zero_stage,
                capacity_factor, deepseek_v3) -> MoEResult:
        cfg = tm.get_model(model)
        acc = tm.get_accelerator(accelerator)
        layers = int(tm.layers_per_stage(cfg.n_layers, pp))  # validates pp first
        moe = dict(ep=ep, etp=1 if cfg.is_moe else None, capacity_factor=capacity_factor)
        # 1F1B with pp micro-batches per step; sequence parallelism wherever tp > 1.
        layout = dict(tp=tp, pp=pp, dp=dp, zero_stage=zero_stage,
                      sequence_parallel=tp > 1, n_microbatches=pp)
        memory = tm.memory_per_gpu(
            cfg, seq_len=seq_len, micro_batch=micro_batch, layer=None,
            term_bytes=tm.DEEPSEEK_V3_TERM_BYTES if deepseek_v3 else None, **layout, **moe,
        )
        buckets = tm.param_buckets(cfg, tp=tp, pp=pp, ep=ep, etp=moe["etp"])
        # The stage with the most MoE layers: a full stage of them, or all there are.
        moe_layers = min(layers, cfg.n_moe_layers)
        a2a_layer = a2a = 0.0
        if cfg.is_moe:
            kw = dict(experts_per_token=cfg.experts_per_token, tp=tp, etp=1,
                      capacity_factor=capacity_factor,
                      dispatch_bytes=_FP8 if deepseek_v3 else None)
            a2a_layer = tm.expert_parallel_comm_bytes(seq_len, micro_batch, cfg.d_model, ep,
                                                      **kw)
            a2a = tm.expert_parallel_comm_bytes(seq_len, micro_batch, cfg.d_model, ep,
                                                n_layers=moe_layers, **kw)
        return MoEResult(
            cfg=cfg, accelerator=acc.name, capacity=acc.memory_bytes, seq_len=seq_len,
            micro_batch=micro_batch, tp=tp, pp=pp, ep=ep, ep_asked=self._wanted["ep"], dp=dp,
            zero_stage=zero_stage, capacity_factor=capacity_factor, deepseek_v3=deepseek_v3,
            total_params=tm.param_count(cfg), active_params=tm.active_param_count(cfg),
            flops_per_token=tm.flops_per_token(cfg, seq_len), buckets=buckets,
            memory=memory, layers_on_stage=layers, moe_layers_on_stage=moe_layers,
            all_to_all_layer=a2a_layer, all_to_all=a2a,
            kv_cache=tm.kv_cache_bytes(cfg, seq_len), kv_per_token=tm.kv_cache_bytes(cfg, 1),
            kv_decompressed=tm.kv_cache_bytes(cfg, seq_len, decompressed=True)
            if cfg.attention == "mla" else None,
        )

    def render(self, out: MoEResult) -> str:
        cfg, mem, b = out.cfg, out.memory, out.buckets
        return table_html([
            ("Model", _describe(cfg)),
            ("Parameters: total / active per token",
             f"{fmt.count(out.total_params)} / {fmt.count(out.active_params)} "
             f"({fmt.percent(out.active_params / out.total_params)} active)"),
            ("Training FLOPs per token: 6 × active parameters",
             fmt.flops(6 * out.active_params)),
            (f"Training FLOPs per token, full count (active matmuls + attention at "
             f"s = {out.seq_len:,})", fmt.flops(out.flops_per_token)),
            ("Training FLOPs per token if every expert ran (6 × all parameters)",
             f"{fmt.flops(6 * out.total_params)} "
             f"({6 * out.total_params / out.flops_per_token:.3g} × the full count)"),
            ("Layout", _layout(out)),
            ("Parameters on the busiest GPU",
             f"{fmt.count(b.total)} = tensor-parallel {fmt.count(b.tensor_parallel)} + "
             f"replicated {fmt.count(b.replicated)} + experts {fmt.count(b.expert)}"),
            ("Weights (bf16)", fmt.bytes_(mem.weights)),
            ("Gradients (bf16)", fmt.bytes_(mem.gradients)),
            (f"Optimizer states, AdamW 12 B/param (ZeRO-{out.zero_stage})",
             fmt.bytes_(mem.optimizer)),
            (f"Activations ({_activation_choices(out)})", fmt.bytes_(mem.activations)),
            (f"Total per GPU vs {out.accelerator} ({fmt.bytes_(out.capacity)})",
             f"{fmt.bytes_(mem.total)}: {'fits' if out.fits else 'does NOT fit'} "
             f"({fmt.percent(mem.total / out.capacity)} of memory)"),
            ("Expert all-to-all sent per GPU and micro-batch", _all_to_all(out)),
            ("KV cache of one sequence (bf16, decoding)", _kv_cache(out)),
        ])

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        # Fixed margins: the labels below change length, the axes stay put.
        fig.set_layout_engine(None)
        fig.subplots_adjust(left=0.03, right=0.97, top=0.86, bottom=0.36)
        ax = fig.add_subplot()
        self._bars = {key: ax.barh([0], [0], color=color, label=label, height=0.6)[0]
                      for key, label, color in MEMORY_PARTS}
        self._limit = ax.axvline(0, color="k", ls="--", lw=1.2)
        # inside the axes, above the bar, left of the line
        self._limit_text = ax.text(0, 0.96, "", transform=ax.get_xaxis_transform(),
                                   ha="right", va="top", fontsize=7)
        self._total_text = ax.text(0, 0, "", ha="left", va="center", fontsize=8,
                                   fontweight="bold")
        ax.set_ylim(-0.5, 0.5)
        ax.set_yticks([])
        ax.set_xlabel("memory of the busiest GPU (GB)", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(6))  # fewer labels to draw: faster
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", alpha=0.3)
        self.freeze(fig.legend(loc="lower center", ncol=4, fontsize=7, frameon=False,
                               handlelength=1.2, columnspacing=1.2))
        self._title = ax.set_title("", fontsize=8.5)
        self._ax = ax

    def draw(self, out: MoEResult) -> None:
        left = 0.0
        for key, _, _ in MEMORY_PARTS:
            width = float(getattr(out.memory, key)) / 1e9
            self._bars[key].set_x(left)
            self._bars[key].set_width(width)
            left += width
        total = float(out.memory.total) / 1e9
        limit = out.capacity / 1e9
        self._limit.set_xdata([limit, limit])
        self._limit_text.set_x(limit)
        self._limit_text.set_text(f"{out.accelerator}: {limit:.0f} GB ")
        self._total_text.set_position((left, 0))
        self._total_text.set_text(f" {total:.0f} GB" if total >= 10 else f" {total:.2g} GB")
        self._ax.set_xlim(0, max(limit, total) * 1.15)
        ep = f", EP{out.ep}" if out.cfg.is_moe else ""
        self._title.set_text(
            f"{out.cfg.name}: TP{out.tp}·PP{out.pp}·DP{out.dp}{ep} = {out.n_gpus:,} GPUs, "
            f"s = {out.seq_len:,}, b = {out.micro_batch}: "
            f"{'fits' if out.fits else 'does NOT fit'}"
        )


def _describe(cfg: tm.ModelConfig) -> str:
    """The model's shape in words: dense, or its experts, MoE layers and attention."""
    if not cfg.is_moe:
        return f"{cfg.name}: dense, {cfg.n_layers} layers (every parameter works on every token)"
    shared = f" + {cfg.n_shared_experts} shared" if cfg.n_shared_experts else ""
    attention = "; latent attention (MLA)" if cfg.attention == "mla" else ""
    return (f"{cfg.name}: {cfg.n_experts} routed{shared} experts of d_ff {cfg.moe_d_ff:,}, "
            f"{cfg.experts_per_token} routed per token; {cfg.n_moe_layers} of "
            f"{cfg.n_layers} layers MoE{attention}")


def _layout(out: MoEResult) -> str:
    """The split of the GPUs, and where the experts go."""
    text = f"TP{out.tp} × PP{out.pp} × DP{out.dp} = {out.n_gpus:,} GPUs"
    cfg = out.cfg
    if not cfg.is_moe:
        return text + "; ep = 1 (a dense model has no experts to spread)"
    text += (f"; EP{out.ep}: {cfg.n_experts // out.ep} of the {cfg.n_experts} experts of "
             f"each MoE layer per GPU, whole (etp = 1), their states shared by "
             f"{out.dp * out.tp // out.ep:,} GPUs")
    if out.ep != out.ep_asked:
        text += f" (ep {out.ep_asked} asked: it does not divide {cfg.n_experts} experts)"
    return text


def _activation_choices(out: MoEResult) -> str:
    """How the activations are kept: all in bf16, or DeepSeek-V3's choices."""
    where = f"{out.layers_on_stage} layers per stage, 1F1B with {out.pp} micro-batches"
    if out.deepseek_v3:
        return (f"DeepSeek-V3's: norms and MLA up-projections recomputed, experts' inputs "
                f"in fp8; {where}")
    if takes_deepseek_v3_terms(out.cfg):
        return f"all kept in bf16; {where}"
    return f"all kept in bf16 (DeepSeek-V3's choices need its layers); {where}"


def _kv_cache(out: MoEResult) -> str:
    """The KV cache of one sequence, and for latent attention what it saves."""
    text = (f"{fmt.bytes_(out.kv_cache)} for {out.seq_len:,} tokens "
            f"({fmt.bytes_(out.kv_per_token)} per token)")
    if out.kv_decompressed is None:
        return text
    cfg = out.cfg
    return (f"{text}: latent attention caches {cfg.kv_lora_rank + cfg.qk_rope_head_dim} values "
            f"per token and layer, every head's keys and values would take "
            f"{fmt.bytes_(out.kv_decompressed)} ({out.kv_decompressed / out.kv_cache:.3g} ×)")


def _all_to_all(out: MoEResult) -> str:
    """The expert-parallel traffic of one micro-batch, or why there is none."""
    if not out.cfg.is_moe:
        return "none: a dense model has no experts to reach"
    if out.ep == 1:
        return "none: ep = 1 keeps every expert on every GPU"
    dispatch = "fp8 dispatch, bf16 combine" if out.deepseek_v3 else "bf16"
    return (f"{fmt.bytes_(out.all_to_all)} = {out.moe_layers_on_stage} MoE layers of its "
            f"stage × {fmt.bytes_(out.all_to_all_layer)} (dispatch and combine, forward and "
            f"backward; {dispatch}; capacity factor {out.capacity_factor:.2f})")
