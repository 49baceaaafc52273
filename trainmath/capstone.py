"""Plan a training run end to end: budget -> N and D -> shape -> memory -> time and cost.

The capstone (lesson 09) strings the course together. A plan starts from a budget (FLOPs,
days on a cluster, or money), splits it into parameters N and tokens D (Chinchilla's
D = k N, the loss-optimal frontier of a fitted loss law, or the inference-aware optimum of
Sardana et al. 2023), gives the model a plausible Llama-style shape so that memory and
parallel layouts can be checked (:func:`trainmath.planner.plan_layouts`), and turns the
compute into days, GPU-hours and money.

Every function composes the course's own formulas (:mod:`trainmath.compute`,
:mod:`trainmath.units`, :mod:`trainmath.chinchilla`, :mod:`trainmath.models`); nothing here
is new physics, only bookkeeping, with its assumptions written down.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from trainmath import _validate as v
from trainmath import fmt
from trainmath.accelerators import Accelerator, get_accelerator
from trainmath.chinchilla import (
    LossFit,
    chinchilla_loss,
    chinchilla_optimal,
    inference_aware_optimal,
    loss_optimal,
)
from trainmath.compute import training_flops
from trainmath.models import ffn_hidden_dim, llama_like_config
from trainmath.units import (
    SECONDS_PER_DAY,
    budget_to_flops,
    cost,
    delivered_flop_rate,
    flops_in_days,
    gpu_hours,
    training_time,
)

# ffn_hidden_dim, llama_like_config (model shapes) and flops_in_days (the compute/time/cost
# core of trainmath.units) live in models and units; they stay importable from here, where
# lesson 09 first used them. Lessons call them as tm.<name>.
__all__ = [
    "PLAN_RULES",
    "LLAMA3_405B_RUN",
    "TrainingPlan",
    "ffn_hidden_dim",
    "llama_like_config",
    "flops_in_days",
    "plan_run",
    "plan_training_run",
]

#: Ways :func:`plan_training_run` splits a budget into N and D.
PLAN_RULES = ("chinchilla", "loss-optimal", "inference-aware")

#: What Meta published about the pre-training of Llama 3 405B, for the reality check.
#: Llama 3 paper (Dubey et al. 2024, arXiv:2407.21783): Sec. 3.2.1 (15.6T tokens, 3.8e25
#: FLOPs; the paper's own scaling-law fit picked 402B parameters on 16.55T tokens for that
#: budget), Sec. 3.3 and Table 4 (16,384 H100 GPUs, BF16 MFU 38-43 %, 16M tokens per batch,
#: TP 8 x PP 16 x DP 128 at sequence length 8192). Llama 3.1 model card: 30.84M H100-80GB
#: GPU-hours for the 405B model. ``n_params`` is the exact count of the released weights
#: (``tm.param_count(tm.MODELS["llama-3.1-405b"])``).
LLAMA3_405B_RUN = MappingProxyType({
    "n_params": 405_853_388_800,
    "n_tokens": 15.6e12,
    "flops": 3.8e25,
    "n_gpus": 16384,
    "mfu_range": (0.38, 0.43),
    "gpu_hours": 30.84e6,
    "global_batch_tokens": 16 * 2**20,
    "seq_len": 8192,
    "layout": MappingProxyType({"tp": 8, "cp": 1, "pp": 16, "dp": 128}),
    "scaling_law_n_params": 402e9,
    "scaling_law_n_tokens": 16.55e12,
})


@dataclass(frozen=True)
class TrainingPlan:
    """A training run, planned: model, data, compute, time, GPU-hours and cost (SI units).

    Fields may be numpy arrays when a budget sweep was planned.

    Attributes
    ----------
    rule : str
        How N and D were chosen (one of :data:`PLAN_RULES`, or ``"given"``).
    budget_flops : float or array
        The compute budget the plan started from (``flops`` for a given N, D).
    n_params, n_tokens : float or array
        Model size N and training tokens D.
    flops : float or array
        Training compute 6ND. Equal to the budget except for the inference-aware rule,
        whose longer training reaches the same loss with fewer lifetime FLOPs.
    fit : str
        Loss law (:data:`trainmath.FITS`) used for ``loss`` and the loss-based rules.
    loss : float or array
        Predicted final loss under ``fit`` (only for comparing plans with each other).
    inference_tokens : float or array
        Lifetime inference tokens assumed (0 unless the rule is inference-aware).
    accelerator, dtype : str
    peak_flops : float
        Dense peak FLOP/s of one accelerator in ``dtype``.
    n_gpus : int or array
    mfu : float or array
    seconds : float or array
        Wall-clock training time.
    gpu_hours : float or array
    price_per_gpu_hour, cost : float or array
        Price of one accelerator-hour and the total (same currency).
    """

    rule: str
    budget_flops: float | np.ndarray
    n_params: float | np.ndarray
    n_tokens: float | np.ndarray
    flops: float | np.ndarray
    fit: str
    loss: float | np.ndarray
    inference_tokens: float | np.ndarray
    accelerator: str
    dtype: str
    peak_flops: float
    n_gpus: int | np.ndarray
    mfu: float | np.ndarray
    seconds: float | np.ndarray
    gpu_hours: float | np.ndarray
    price_per_gpu_hour: float | np.ndarray
    cost: float | np.ndarray

    @property
    def days(self):
        """Wall-clock days."""
        return v.result(np.asarray(self.seconds) / SECONDS_PER_DAY)

    @property
    def tokens_per_param(self):
        """D / N."""
        return v.result(np.asarray(self.n_tokens) / np.asarray(self.n_params))

    @property
    def cluster_flops(self):
        """Delivered FLOP/s of the whole cluster, n_gpus x peak x MFU."""
        return delivered_flop_rate(self.n_gpus, self.peak_flops, self.mfu)

    @property
    def lifetime_flops(self):
        """Training plus inference FLOPs, 6ND + 2N D_inf (Sardana et al. 2023, Sec. 2)."""
        return v.result(
            np.asarray(self.flops)
            + 2.0 * np.asarray(self.n_params) * np.asarray(self.inference_tokens)
        )

    def summary(self) -> str:
        """The plan in a few formatted lines (a single plan, not a sweep)."""
        if np.ndim(self.n_params):
            raise TypeError("summary() describes one plan; this plan holds arrays (a sweep)")
        return "\n".join([
            f"rule        {self.rule}",
            f"model       N = {fmt.count(self.n_params)} parameters, "
            f"D = {fmt.count(self.n_tokens)} tokens ({self.tokens_per_param:.3g} tokens/param)",
            f"compute     {fmt.flops(self.flops)}",
            f"cluster     {self.n_gpus:,} x {self.accelerator} ({self.dtype}) at MFU "
            f"{fmt.percent(self.mfu)} = {fmt.flop_rate(self.cluster_flops)}",
            f"time        {self.days:.3g} days",
            f"GPU-hours   {fmt.count(self.gpu_hours)}",
            f"cost        {fmt.money(self.cost)} at ${self.price_per_gpu_hour:.2f} per GPU-hour",
        ])


def _cluster(accelerator, dtype, n_gpus, mfu, price_per_gpu_hour):
    acc: Accelerator = get_accelerator(accelerator)
    peak = acc.peak(dtype)
    n = v.positive_int("n_gpus", n_gpus)
    u = v.fraction("mfu", mfu)
    price = v.nonnegative("price_per_gpu_hour", price_per_gpu_hour)
    return acc, peak, n, u, price


def _fit_name(fit) -> str:
    return fit.source if isinstance(fit, LossFit) else fit


def plan_run(
    n_params,
    n_tokens,
    *,
    accelerator: str | Accelerator = "H100-SXM",
    n_gpus=1024,
    mfu=0.4,
    dtype: str = "bf16",
    price_per_gpu_hour=2.0,
    fit: str | LossFit = "epoch",
    inference_tokens=0.0,
    rule: str = "given",
    budget_flops=None,
) -> TrainingPlan:
    """Plan a run whose model size N and tokens D are already chosen.

    ``C = 6ND`` (:func:`trainmath.training_flops`), then the compute/time/cost core of
    :mod:`trainmath.units`: ``T = C / (n_gpus * peak * MFU)``
    (:func:`trainmath.training_time`), GPU-hours ``C / (peak * MFU) / 3600``
    (:func:`trainmath.gpu_hours`) and cost GPU-hours x price (:func:`trainmath.cost`).

    Parameters
    ----------
    n_params, n_tokens : float or array
        N and D.
    accelerator : str or Accelerator
        A key of :data:`trainmath.ACCELERATORS` or an :class:`~trainmath.Accelerator`.
    n_gpus : int or array
        Accelerators used.
    mfu : float or array
        Model FLOPs utilisation in (0, 1]; Llama 3 405B reached 0.38-0.43 (Table 4).
    dtype : str
        Training dtype whose dense peak is used.
    price_per_gpu_hour : float or array
        Price of one accelerator-hour, >= 0. The default 2.0 is an assumption for
        illustration, not a quote: rental prices vary by provider, contract and year.
    fit : str or LossFit
        Loss law for the ``loss`` field (default: the Epoch AI replication, Besiroglu
        et al. 2024, which recovers about 20 tokens per parameter).
    inference_tokens : float or array
        Lifetime inference tokens, for ``lifetime_flops``.
    rule, budget_flops
        Recorded in the plan (used by :func:`plan_training_run`).

    Assumptions
    -----------
    C = 6ND (no attention term, no recomputation: model FLOPs, which is what MFU counts);
    one flat price per GPU-hour; MFU holds for the whole run (fold restarts and
    interruptions into it).
    """
    acc, peak, n_gpu, u, price = _cluster(accelerator, dtype, n_gpus, mfu, price_per_gpu_hour)
    n = v.positive("n_params", n_params)
    d = v.positive("n_tokens", n_tokens)
    d_inf = v.nonnegative("inference_tokens", inference_tokens)
    c = training_flops(n, d)
    hours = gpu_hours(c, peak, u)
    return TrainingPlan(
        rule=rule,
        budget_flops=c if budget_flops is None else budget_flops,
        n_params=v.result(n), n_tokens=v.result(d), flops=c, fit=_fit_name(fit),
        loss=chinchilla_loss(n, d, fit), inference_tokens=v.result(d_inf),
        accelerator=acc.name, dtype=dtype, peak_flops=peak, n_gpus=n_gpu, mfu=v.result(u),
        seconds=training_time(c, n_gpu, peak, u), gpu_hours=hours,
        price_per_gpu_hour=v.result(price), cost=cost(hours, price),
    )


def plan_training_run(
    flops=None,
    *,
    days=None,
    usd=None,
    accelerator: str | Accelerator = "H100-SXM",
    n_gpus=1024,
    mfu=0.4,
    dtype: str = "bf16",
    price_per_gpu_hour=2.0,
    rule: str = "chinchilla",
    tokens_per_param=20.0,
    fit: str | LossFit = "epoch",
    inference_tokens=0.0,
) -> TrainingPlan:
    """Plan a run from a budget: choose N and D, then time, GPU-hours and cost.

    The budget is exactly one of ``flops`` (compute C), ``days`` (wall clock on the cluster:
    C = n_gpus * peak * MFU * days, :func:`trainmath.flops_in_days`) or ``usd`` (money:
    C = usd / price * 3600 * peak * MFU, :func:`trainmath.budget_to_flops`). Then:

    * ``"chinchilla"``: D = k N with k = ``tokens_per_param`` (20 in Hoffmann et al.
      2022, Table 3), N = sqrt(C / (6k)) (:func:`trainmath.chinchilla_optimal`);
    * ``"loss-optimal"``: the minimum of the fitted loss law at C = 6ND (Hoffmann et al.
      2022, Eq. 4; :func:`trainmath.loss_optimal`);
    * ``"inference-aware"``: the budget fixes the quality, not the spend. The target is the
      loss the loss-optimal split of C reaches; the plan is the model that reaches that
      loss with the fewest training + inference FLOPs for ``inference_tokens`` served
      (Sardana et al. 2023, arXiv:2401.00448, Sec. 2; :func:`trainmath.inference_aware_optimal`).
      It is smaller and trained longer, so its ``flops`` exceed the budget.

    Parameters
    ----------
    flops, days, usd : float or array, keyword ``days``/``usd``
        The budget (give exactly one).
    accelerator, n_gpus, mfu, dtype, price_per_gpu_hour
        The cluster, as in :func:`plan_run`.
    rule : {"chinchilla", "loss-optimal", "inference-aware"}
    tokens_per_param : float or array
        k of the Chinchilla rule.
    fit : str or LossFit
        Loss law of the loss-based rules and of the ``loss`` field (default ``"epoch"``,
        the replication that agrees with k of about 20; ``"hoffmann"``'s printed constants
        give about 140 tokens per parameter at 1e25 FLOPs).
    inference_tokens : float or array
        Lifetime inference tokens D_inf (inference-aware rule only; 0 gives back the
        loss-optimal model).

    Returns
    -------
    TrainingPlan

    Assumptions
    -----------
    As :func:`plan_run`; the loss laws were fitted on models up to 16 B parameters, so
    frontier-scale splits are extrapolations.
    """
    given = {k: x for k, x in (("flops", flops), ("days", days), ("usd", usd)) if x is not None}
    if len(given) != 1:
        named = ", ".join(given) or "none"
        raise ValueError(f"give exactly one budget: flops, days or usd (got {named})")
    v.choice("rule", rule, PLAN_RULES)
    acc, peak, n_gpu, u, price = _cluster(accelerator, dtype, n_gpus, mfu, price_per_gpu_hour)
    if flops is not None:
        budget = v.result(v.positive("flops", flops))
    elif days is not None:
        budget = flops_in_days(days, n_gpu, peak, u)
    else:
        budget = budget_to_flops(v.positive("usd", usd), peak, u, price_per_gpu_hour)
    d_inf = 0.0
    if rule == "chinchilla":
        n, d = chinchilla_optimal(budget, tokens_per_param)
    elif rule == "loss-optimal":
        n, d = loss_optimal(budget, fit)
    else:
        d_inf = v.nonnegative("inference_tokens", inference_tokens)
        target = chinchilla_loss(*loss_optimal(budget, fit), fit)
        n, d, _ = inference_aware_optimal(target, d_inf, fit)
    return plan_run(
        n, d, accelerator=acc, n_gpus=n_gpu, mfu=u, dtype=dtype, price_per_gpu_hour=price,
        fit=fit, inference_tokens=d_inf, rule=rule, budget_flops=budget,
    )
