"""Lesson 03 calculator: how big a model a compute budget should buy, and for how long.

``tm.widgets.ChinchillaCalculator()`` takes a training budget C, a loss law (the Epoch AI
replication or Hoffmann et al.'s printed constants), a way to split C (the fitted
frontier or a fixed D = k N rule), optional lifetime inference tokens, and a cluster
(accelerator, GPU count, MFU). It shows the model size N, training tokens D, the predicted
loss and the training time; with inference tokens it adds the model that reaches the same
loss with the fewest training + inference FLOPs (Sardana et al. 2023) and what it saves.

The plot is the IsoFLOP curve of C (loss against N at fixed compute, Hoffmann et al.
2022, Fig. 3) with the chosen model and the frontier optimum marked; with inference tokens,
also the IsoFLOP curve of the longer training run of the inference-aware model.

Every number comes from :mod:`trainmath` (``loss_optimal``, ``chinchilla_optimal``,
``isoflop_loss``, ``inference_aware_optimal``, ``training_time``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

import trainmath as tm
from trainmath import fmt
from trainmath.widgets._base import Calculator, accelerator_control, mfu_slider, table_html

__all__ = ["ChinchillaCalculator", "ChinchillaResult", "FRONTIER", "RULE"]

#: Values of the "split" dropdown.
FRONTIER = "frontier"
RULE = "rule"

_FIT_LABELS = [
    ("Epoch AI replication (Besiroglu et al. 2024)", "epoch"),
    ("Hoffmann et al. 2022, printed constants", "hoffmann"),
]
_SPLIT_LABELS = [
    ("fitted frontier (minimise the loss law)", FRONTIER),
    ("rule of thumb D = k·N", RULE),
]
#: Training dtype: the 16-bit peak (bf16, or fp16 on devices without bf16 such as V100).
_DTYPES = ("bf16", "fp16")

_STYLE = {"description_width": "13em"}
_WIDE = W.Layout(width="30em")


@dataclass(frozen=True)
class ChinchillaResult:
    """Everything one update of :class:`ChinchillaCalculator` computed (SI units).

    The ``ia_*`` fields describe the inference-aware model (same loss, fewest lifetime
    FLOPs); they are None when ``inference_tokens`` is 0.
    """

    flops: float
    fit: str
    split: str
    tokens_per_param_rule: float
    n_params: float
    n_tokens: float
    loss: float
    n_opt: float  # the frontier optimum of the same budget (for the plot and the penalty)
    d_opt: float
    loss_opt: float
    penalty: float  # loss above the frontier optimum at the same C (0 on the frontier)
    accelerator: str
    dtype: str
    peak_flops: float
    n_gpus: int
    mfu: float
    seconds: float
    gpu_hours: float
    inference_tokens: float
    lifetime_flops: float  # C + 2 N D_inf of the chosen model
    ia_n_params: float | None = None
    ia_n_tokens: float | None = None
    ia_train_flops: float | None = None
    ia_lifetime_flops: float | None = None
    ia_seconds: float | None = None
    ia_break_even: float | None = None


def _per_param(ratio: float) -> str:
    return f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.3g}"


def _pf_days(flops: float) -> str:
    pf_days = tm.to_pflop_days(flops)
    return f"{pf_days:,.0f} PFLOP/s-days" if pf_days >= 100 else f"{pf_days:.3g} PFLOP/s-days"


class ChinchillaCalculator(Calculator):
    """Compute-optimal (and inference-aware) model size for a budget (lesson 03).

    Examples
    --------
    >>> import trainmath as tm
    >>> calc = tm.widgets.ChinchillaCalculator()
    >>> calc.set(flops=5.76e23, fit="hoffmann")
    True
    >>> round(calc.last.n_tokens / calc.last.n_params)
    93
    """

    title = "Chinchilla calculator: compute budget → model size, data, loss and time"
    figsize = (7.6, 3.4)

    # -- controls ---------------------------------------------------------------------
    def controls(self) -> dict[str, W.Widget]:
        common = {"style": _STYLE, "layout": _WIDE}
        return {
            "flops": W.FloatText(value=1e23, description="training compute C (FLOPs)", **common),
            "fit": W.Dropdown(options=_FIT_LABELS, value="epoch", description="loss law",
                              **common),
            "split": W.Dropdown(options=_SPLIT_LABELS, value=FRONTIER,
                                description="split C into N and D by", **common),
            "tokens_per_param": W.FloatText(value=20.0, description="k = D / N (rule only)",
                                            **common),
            "inference_tokens": W.FloatText(
                value=0.0, description="lifetime inference tokens", **common
            ),
            "accelerator": accelerator_control("H100-SXM", **common),
            "n_gpus": W.IntText(value=1024, description="number of GPUs", **common),
            "mfu": mfu_slider(0.4, **common),
        }

    def update(self) -> bool:
        # k only matters for the rule; grey it out on the frontier.
        self.inputs["tokens_per_param"].disabled = self.inputs["split"].value != RULE
        return super().update()

    # -- numbers ----------------------------------------------------------------------
    def compute(self, flops, fit, split, tokens_per_param, inference_tokens, accelerator,
                n_gpus, mfu):
        acc = tm.get_accelerator(accelerator)
        dtype = next(d for d in _DTYPES if d in acc.peak_flops)
        peak = acc.peak(dtype)
        n_opt, d_opt = tm.loss_optimal(flops, fit)
        if split == RULE:
            n, d = tm.chinchilla_optimal(flops, tokens_per_param)
        else:
            n, d = n_opt, d_opt
        loss = tm.chinchilla_loss(n, d, fit)
        loss_opt = tm.chinchilla_loss(n_opt, d_opt, fit)
        d_inf = inference_tokens  # validated by inference_aware_optimal when non-zero
        seconds = tm.training_time(flops, n_gpus, peak, mfu)
        extra: dict[str, float | None] = {}
        if d_inf != 0:
            n_ia, d_ia, life_ia = tm.inference_aware_optimal(loss, d_inf, fit)
            c_ia = tm.training_flops(n_ia, d_ia)
            extra = dict(
                ia_n_params=n_ia, ia_n_tokens=d_ia, ia_train_flops=c_ia,
                ia_lifetime_flops=life_ia,
                ia_seconds=tm.training_time(c_ia, n_gpus, peak, mfu),
                ia_break_even=(
                    tm.break_even_inference_tokens(n_ia, d_ia, n, d) if n_ia < n else None
                ),
            )
        return ChinchillaResult(
            flops=flops, fit=fit, split=split, tokens_per_param_rule=tokens_per_param,
            n_params=n, n_tokens=d, loss=loss, n_opt=n_opt, d_opt=d_opt, loss_opt=loss_opt,
            penalty=tm.isoflop_loss_penalty(flops, n, fit),
            accelerator=acc.name, dtype=dtype, peak_flops=peak, n_gpus=n_gpus, mfu=mfu,
            seconds=seconds, gpu_hours=tm.gpu_hours(flops, peak, mfu),
            inference_tokens=d_inf,
            lifetime_flops=(flops + tm.forward_flops(n, d_inf)) if d_inf else flops,
            **extra,
        )

    def render(self, out: ChinchillaResult) -> str:
        fit_name = dict((v, k) for k, v in _FIT_LABELS)[out.fit]
        how = (
            f"fitted frontier ({fit_name})" if out.split == FRONTIER
            else f"rule D = {out.tokens_per_param_rule:g}·N"
        )
        rows = [
            ("Training compute C", f"{fmt.flops(out.flops)} = {_pf_days(out.flops)}"),
            ("Split", how),
            ("Model size N", f"{fmt.count(out.n_params)} parameters"),
            ("Training tokens D", f"{fmt.count(out.n_tokens)} "
             f"({_per_param(out.n_tokens / out.n_params)} tokens per parameter)"),
            ("Predicted loss", f"{fmt.si(out.loss, digits=4)} nats/token"),
        ]
        if out.split == RULE:
            rows.append((
                "Frontier optimum of the same C",
                f"{fmt.count(out.n_opt)} on {fmt.count(out.d_opt)} tokens, loss "
                f"{fmt.si(out.loss_opt, digits=4)} (yours is {fmt.si(out.penalty, digits=2)} "
                f"higher)",
            ))
        rows += [
            (f"Training time on {out.n_gpus:,} × {out.accelerator} ({out.dtype}, MFU "
             f"{out.mfu:.2f})", f"{fmt.duration(out.seconds)}, "
             f"{fmt.count(out.gpu_hours)} GPU-hours"),
        ]
        if out.ia_n_params is not None:
            saved = out.lifetime_flops - out.ia_lifetime_flops
            rows += [
                ("Lifetime FLOPs, this model (6ND + 2N·D_inf)",
                 f"{fmt.flops(out.lifetime_flops)} for {fmt.count(out.inference_tokens)} "
                 "inference tokens"),
                ("Inference-aware model, same loss",
                 f"{fmt.count(out.ia_n_params)} on {fmt.count(out.ia_n_tokens)} tokens "
                 f"({_per_param(out.ia_n_tokens / out.ia_n_params)} tokens per parameter)"),
                ("  its training compute and time",
                 f"{fmt.flops(out.ia_train_flops)}, {fmt.duration(out.ia_seconds)}"),
                ("  its lifetime FLOPs",
                 f"{fmt.flops(out.ia_lifetime_flops)} "
                 f"({fmt.percent(saved / out.lifetime_flops)} less)"),
            ]
            if out.ia_break_even is not None:
                rows.append(("  pays back its extra training after",
                             f"{fmt.count(out.ia_break_even)} inference tokens"))
        rows.append(("Caveat", "loss law fitted on MassiveText (≤ 16 B params, ≤ 500 B "
                     "tokens); larger values are extrapolations"))
        return table_html(rows)

    # -- plot -------------------------------------------------------------------------
    def setup_figure(self, fig: Figure) -> None:
        # Fixed margins (legend to the right of the axes) instead of constrained layout:
        # the layout pass would otherwise cost as much as drawing on every update.
        fig.set_layout_engine("none")
        ax = fig.add_axes((0.095, 0.14, 0.53, 0.77))
        ax.set_xscale("log")
        ax.set_xlabel("model size N (parameters)")
        ax.set_ylabel("predicted loss (nats/token)")
        ax.grid(True, which="major", alpha=0.3)
        (self._curve,) = ax.plot([], [], color="C0", label="IsoFLOP curve of C")
        (self._opt,) = ax.plot([], [], "*", ms=13, color="C0", zorder=4, label="optimum")
        (self._here,) = ax.plot([], [], "o", color="C3", zorder=5, label="your model")
        (self._ia_curve,) = ax.plot([], [], color="C2", ls="--",
                                    label="IsoFLOP curve of its training")
        (self._ia,) = ax.plot([], [], "s", color="C2", zorder=5, label="inference-aware")
        self._level = ax.axhline(np.nan, color="0.5", lw=0.8, ls=":", label="same loss")
        legend = ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8,
                           frameon=False)
        keys = ("curve", "opt", "here", "ia_curve", "ia", "level")
        self._texts = dict(zip(keys, legend.get_texts(), strict=True))
        self._handles = dict(zip(keys, legend.legend_handles, strict=True))
        self._title = ax.set_title("", fontsize=9.5, loc="left")
        self._ax = ax

    def draw(self, out: ChinchillaResult) -> None:
        points = [out.n_opt, out.n_params]
        if out.ia_n_params is not None:
            points.append(out.ia_n_params)
        lo, hi = min(points) / 8.0, max(points) * 8.0
        n = np.geomspace(lo, hi, 160)
        self._curve.set_data(n, tm.isoflop_loss(out.flops, n, out.fit))
        self._opt.set_data([out.n_opt], [out.loss_opt])
        self._here.set_data([out.n_params], [out.loss])
        texts = self._texts
        texts["curve"].set_text(f"IsoFLOP curve of C = {fmt.flops(out.flops)}")
        texts["opt"].set_text(f"optimum: {fmt.count(out.n_opt)} on {fmt.count(out.d_opt)} tokens")
        texts["here"].set_text(
            f"your model: {fmt.count(out.n_params)} on {fmt.count(out.n_tokens)} tokens"
        )
        bottom = out.loss_opt
        if out.ia_n_params is not None:
            ia_loss = tm.isoflop_loss(out.ia_train_flops, n, out.fit)
            self._ia_curve.set_data(n, ia_loss)
            self._ia.set_data([out.ia_n_params], [out.loss])
            self._level.set_ydata([out.loss, out.loss])
            bottom = min(bottom, float(np.min(ia_loss)))
            texts["ia_curve"].set_text(f"IsoFLOP curve of {fmt.flops(out.ia_train_flops)}")
            texts["ia"].set_text(
                f"inference-aware: {fmt.count(out.ia_n_params)} on "
                f"{fmt.count(out.ia_n_tokens)} tokens"
            )
            texts["level"].set_text(f"same loss, {fmt.si(out.loss, digits=4)}")
            for key in ("ia_curve", "ia", "level"):
                self._handles[key].set_visible(True)
        else:
            self._ia_curve.set_data([], [])
            self._ia.set_data([], [])
            self._level.set_ydata([np.nan, np.nan])
            texts["ia_curve"].set_text("(enter lifetime inference tokens")
            texts["ia"].set_text(" to see the inference-aware model)")
            texts["level"].set_text("")
            for key in ("ia_curve", "ia", "level"):
                self._handles[key].set_visible(False)
        span = max(out.loss - bottom, 0.02)
        self._ax.set_xlim(lo, hi)
        self._ax.set_ylim(bottom - 0.5 * span, out.loss + 2.0 * span)
        fit = "Epoch AI fit" if out.fit == "epoch" else "Hoffmann et al. 2022 fit, printed"
        self._title.set_text(f"Loss against N at fixed compute ({fit})")
