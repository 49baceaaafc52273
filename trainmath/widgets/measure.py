"""Lesson 10 calculator: the course's formulas against a real PyTorch model.

``tm.widgets.MeasureCalculator()`` builds the model you describe (a preset, or a custom
GPT-2- or Llama-style shape) on PyTorch's meta device, where tensors have shapes but no
memory, and shows measured against predicted: parameters (``sum(p.numel())`` vs
``tm.param_count``), training FLOPs (``FlopCounterMode`` vs ``tm.flops_per_token`` and 6ND)
and the bytes one bf16 block saves for its backward pass (``saved_tensors_hooks`` vs
Korthikanti et al. 2022). The plot shows each measured/predicted ratio.

All measuring is done by :mod:`trainmath.measure`; results are cached per configuration,
so returning to a configuration is instant. The FLOPs are counted once per architecture
(one block and the rest of the model, at a small batch and sequence length); every depth,
batch and sequence length then follows exactly (:class:`trainmath.measure.FlopParts`), so
changing those controls costs one block's saved-bytes measurement, not a FLOP count.
PyTorch is imported on first use: without it the calculator shows how to install it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import ipywidgets as W
from matplotlib.figure import Figure

import trainmath as tm
from trainmath import _validate as v
from trainmath import fmt
from trainmath.widgets._base import Calculator, table_html

__all__ = ["MeasureCalculator", "MeasureResult", "CUSTOM_GPT", "CUSTOM_LLAMA"]

CUSTOM_GPT = "custom, GPT-2 style"
CUSTOM_LLAMA = "custom, Llama style"
#: Presets offered: those whose attention the PaLM count describes (no Transformer-XL).
PRESETS = tuple(name for name, cfg in tm.MODELS.items() if cfg.position != "relative")

_STYLE = {"description_width": "12em"}
_WIDE = W.Layout(width="26em")
_LABELS = (
    "parameters: param_count",
    "FLOPs: 6N + 12·L·(H·hd)·s",
    "FLOPs: 6N (6ND)",
    "block bytes: Korthikanti",
    "block bytes: + mask, norm stats",
)


@dataclass(frozen=True)
class MeasureResult:
    """One update of :class:`MeasureCalculator`: measured and predicted numbers (SI units)."""

    cfg: tm.ModelConfig
    batch: int
    seq_len: int
    dropout: bool
    params_measured: int
    params_predicted: int
    flops_measured: int  # forward + backward of one step, batch x seq_len tokens
    flops_predicted: float  # tm.flops_per_token x tokens
    flops_6nd: float  # 6 x param_count x tokens
    backward_over_forward: float
    saved_measured: int  # bytes one bf16 block keeps for backward
    saved_korthikanti: float
    saved_extras: float  # causal mask + normalisation statistics

    @property
    def ratios(self) -> tuple[float, ...]:
        """Measured / predicted for each row of the plot, in the order of its labels."""
        return (
            self.params_measured / self.params_predicted,
            self.flops_measured / self.flops_predicted,
            self.flops_measured / self.flops_6nd,
            self.saved_measured / self.saved_korthikanti,
            self.saved_measured / (self.saved_korthikanti + self.saved_extras),
        )


def _measure_module():
    try:
        from trainmath import measure
    except ImportError as exc:
        raise ValueError(f"this calculator needs PyTorch: {exc}") from None
    return measure


#: Batch and sequence length at which each architecture's FLOPs are counted once: the
#: counts of every other shape follow exactly (:meth:`trainmath.measure.FlopParts.at`).
_FLOP_SHAPE = (2, 8)


# Each measurement is cached on what it depends on, so that a control which does not change
# it does not repeat it. The caches are safe because a config is a frozen, hashable value and
# every measurement is a pure function of its arguments (meta device, no weights, no RNG
# state): the parameters depend on the model only, the FLOPs not on dropout, and one block's
# saved bytes not on the number of layers.
@functools.lru_cache(maxsize=64)
def _params(cfg: tm.ModelConfig) -> int:
    # One block counted and multiplied by L: equal to counting the whole model (tested), which
    # would take 0.2 s at 400 layers.
    return _measure_module().count_config_params(cfg)


@functools.lru_cache(maxsize=64)
def _flop_parts(arch: tm.ModelConfig):
    # Keyed on the architecture alone (one layer, no name, a fixed seq_len): the counts do not
    # depend on the depth, the name, or cfg.seq_len (which only sizes a learned position
    # table, whose look-up is no matmul), so every depth, batch and sequence length of one
    # architecture shares this one count.
    return _measure_module().measure_flop_parts(arch, *_FLOP_SHAPE)


@functools.lru_cache(maxsize=64)
def _flops(cfg: tm.ModelConfig, batch: int, seq_len: int):
    if cfg.position == "relative":  # no preset offered has them; they do not rescale
        return _measure_module().measure_config_flops(cfg, batch, seq_len)
    arch = cfg.replace(n_layers=1, seq_len=_FLOP_SHAPE[1], name="")
    # Exactly measure_config_flops(cfg, batch, seq_len), operator by operator (tested).
    return _flop_parts(arch).at(batch, seq_len).total(cfg.n_layers)


@functools.lru_cache(maxsize=64)
def _block_saved(one_layer: tm.ModelConfig, batch: int, seq_len: int, dropout: bool) -> int:
    measure = _measure_module()
    block = measure.build_model(one_layer, device="meta", dtype="bf16",
                                dropout=0.1 if dropout else 0.0)
    return measure.block_saved_activations(block, batch, seq_len).total


@functools.lru_cache(maxsize=64)
def _measure(cfg: tm.ModelConfig, batch: int, seq_len: int, dropout: bool) -> MeasureResult:
    flops = _flops(cfg, batch, seq_len)
    saved = _block_saved(cfg.replace(n_layers=1), batch, seq_len, dropout)
    korthikanti = tm.activation_memory_breakdown(
        seq_len, batch, cfg.d_model, cfg.n_heads, dropout=dropout
    )
    extras = _measure_module().activation_extras(cfg, seq_len, batch, stats_bytes=4)  # fp32 on meta
    tokens = batch * seq_len
    n = tm.param_count(cfg)
    return MeasureResult(
        cfg=cfg, batch=batch, seq_len=seq_len, dropout=dropout,
        params_measured=_params(cfg), params_predicted=n,
        flops_measured=flops.total, flops_predicted=tm.flops_per_token(cfg, seq_len) * tokens,
        flops_6nd=tm.training_flops(n, tokens),
        backward_over_forward=flops.backward / flops.forward,
        saved_measured=saved, saved_korthikanti=korthikanti.total,
        saved_extras=sum(extras.values()),
    )


def _llama_d_ff(d_model: int) -> int:
    # Llama's rule: 2/3 of 4d for the three SwiGLU matrices, rounded up to a multiple of 256
    # (4096 -> 11008, as in Llama 2 7B).
    return 256 * math.ceil(8 * d_model / 3 / 256)


class MeasureCalculator(Calculator):
    """Measured vs predicted parameters, FLOPs and activation bytes (lesson 10).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.MeasureCalculator()
    >>> calc.last.params_measured == calc.last.params_predicted
    True
    """

    title = "Theory vs measurement: a PyTorch model on the meta device"
    figsize = (6.4, 2.7)

    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        return {
            "model": W.Dropdown(
                options=[CUSTOM_GPT, CUSTOM_LLAMA, *PRESETS], value=CUSTOM_GPT,
                description="model", **common,
            ),
            "n_layers": W.IntText(value=4, description="layers L (custom)", **common),
            "d_model": W.IntText(value=256, description="hidden size d (custom)", **common),
            "n_heads": W.IntText(value=4, description="heads H (custom)", **common),
            "n_kv_heads": W.IntText(value=4, description="KV heads (Llama)", **common),
            "seq_len": W.IntText(value=256, description="sequence length s", **common),
            "batch": W.IntText(value=2, description="micro-batch b", **common),
            "dropout": W.Checkbox(value=True, description="dropout in the block", **common),
        }

    def update(self) -> bool:
        model = self.inputs["model"].value
        for name in ("n_layers", "d_model", "n_heads"):
            self.inputs[name].disabled = model not in (CUSTOM_GPT, CUSTOM_LLAMA)
        self.inputs["n_kv_heads"].disabled = model != CUSTOM_LLAMA
        return super().update()

    def compute(self, model, n_layers, d_model, n_heads, n_kv_heads, seq_len, batch, dropout):
        s = _whole("seq_len", seq_len)
        b = _whole("batch", batch)
        if model == CUSTOM_GPT:
            cfg = tm.ModelConfig(n_layers, d_model, n_heads, 50257, seq_len=s,
                                 name="custom GPT-2 style")
        elif model == CUSTOM_LLAMA:
            cfg = tm.ModelConfig(
                n_layers, d_model, n_heads, 32000, d_ff=_llama_d_ff(_whole("d_model", d_model)),
                n_kv_heads=n_kv_heads, seq_len=s, mlp="swiglu", norm="rmsnorm", bias=False,
                tied_embeddings=False, position="rope", name="custom Llama style",
            )
        else:
            cfg = tm.get_model(model)
            if cfg.position == "learned" and s > cfg.seq_len:
                raise ValueError(
                    f"seq_len must be <= {cfg.seq_len} for {cfg.name} (learned positions), "
                    f"got {s}"
                )
        if s * s * b * cfg.n_heads > 2**40:
            raise ValueError("seq_len and batch are too large for one block's s² score matrix")
        return _measure(cfg, b, s, bool(dropout))

    def render(self, out: MeasureResult) -> str:
        cfg = out.cfg

        def row(label: str, measured: str, predicted: str, ratio: float) -> tuple[str, str]:
            return label, f"{measured}  vs  {predicted}  (ratio {ratio:.4f})"

        r = out.ratios
        rows = [
            ("Model", f"{cfg.name}: L = {cfg.n_layers}, d = {cfg.d_model:,}, H = {cfg.n_heads}, "
                      f"H_kv = {cfg.n_kv_heads}, V = {cfg.vocab_size:,}"),
            ("Tokens per step", f"b × s = {out.batch} × {out.seq_len:,}"),
            row("Parameters: sum(numel) vs param_count", f"{out.params_measured:,}",
                f"{out.params_predicted:,}", r[0]),
            row("Training FLOPs: measured vs 6N + 12·L·(H·hd)·s", fmt.flops(out.flops_measured),
                fmt.flops(out.flops_predicted), r[1]),
            row("Training FLOPs: measured vs 6ND", fmt.flops(out.flops_measured),
                fmt.flops(out.flops_6nd), r[2]),
            ("Backward / forward FLOPs", f"{out.backward_over_forward:g}"),
            row("Bytes one bf16 block saves vs Korthikanti", fmt.bytes_(out.saved_measured),
                fmt.bytes_(out.saved_korthikanti), r[3]),
            ("  of which causal mask s² + norm statistics", fmt.bytes_(out.saved_extras)),
            ("  of which neither (SwiGLU, RMSNorm, RoPE, ...)",
             fmt.bytes_(out.saved_measured - out.saved_korthikanti - out.saved_extras)),
        ]
        return table_html(rows)

    def setup_figure(self, fig: Figure) -> None:
        ax = fig.add_subplot()
        y = list(range(len(_LABELS)))[::-1]
        self._bars = ax.barh(y, [1.0] * len(_LABELS), color="C0", height=0.6)
        self._texts = [
            ax.text(1.0, yi, "", va="center", ha="left", fontsize=8) for yi in y
        ]
        ax.set_yticks(y, labels=_LABELS, fontsize=8)
        ax.axvline(1.0, color="0.3", lw=0.8, ls="--")
        ax.set_xlabel("measured ÷ predicted   (green: exact, blue: within 2 %, orange: more)",
                      fontsize=8)
        self._title = ax.set_title("", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        self._ax = ax

    def draw(self, out: MeasureResult) -> None:
        ratios = out.ratios
        for bar, text, ratio in zip(self._bars, self._texts, ratios, strict=True):
            bar.set_width(ratio)
            bar.set_color("C2" if abs(ratio - 1) < 1e-9 else "C0" if abs(ratio - 1) < 0.02
                          else "C1")
            text.set_position((ratio, bar.get_y() + bar.get_height() / 2))
            text.set_text(f" {ratio:.4f}")
        self._ax.set_xlim(0, max(1.25, max(ratios) * 1.18))
        self._title.set_text(f"{out.cfg.name}, b = {out.batch}, s = {out.seq_len:,}")


def _whole(name: str, value) -> int:
    out = v.positive_int(name, value)
    if not isinstance(out, int):
        raise TypeError(f"{name} must be a single integer")
    return out
