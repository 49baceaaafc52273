"""Compute-optimal model size and data (Hoffmann et al. 2022, "Chinchilla"), and beyond.

Two ways to split a compute budget C = 6 N D between parameters N and tokens D:

* the rule of thumb D = k N with k of about 20 (Hoffmann et al. 2022, Table 3,
  Approach 1), which gives N = sqrt(C / (6 k));
* the fitted loss law of Approach 3 (App. D.2, Eq. 10),
  L(N, D) = E + A / N^alpha + B / D^beta, minimised under C = 6 N D (Eq. 4).

And one way to go beyond them: when the model will also serve many tokens, minimise
training plus inference FLOPs, 6 N D_train + 2 N D_inference, at a fixed target loss
(Sardana et al. 2023, "Beyond Chinchilla-Optimal", arXiv:2401.00448, Sec. 2).

Every loss here is the fitted law's prediction of the final training loss on
DeepMind's MassiveText data (nats per token). The laws were fitted on models of 70 M to
16 B parameters trained on 5 B to 500 B tokens: values far outside that box are
extrapolations, and absolute losses do not transfer to other data sets or tokenisers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from trainmath import _validate as v

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: What the functions return: a float for scalar input, an array for array input.
Result = float | np.ndarray

__all__ = [
    "LossFit",
    "FITS",
    "GOPHER_FLOPS",
    "CHINCHILLA_TABLE3",
    "SCALING_EXPONENTS",
    "chinchilla_optimal",
    "chinchilla_loss",
    "loss_optimal",
    "frontier_exponents",
    "optimal_tokens_per_param",
    "isoflop_loss",
    "isoflop_loss_penalty",
    "min_params_for_loss",
    "tokens_for_loss",
    "inference_aware_optimal",
    "implied_inference_tokens",
    "break_even_inference_tokens",
]

#: Gopher's training compute, the "Gopher unit" of Hoffmann et al. 2022, Table 3.
GOPHER_FLOPS = 5.76e23

#: Hoffmann et al. 2022, Table 3 (Approach 1 projections), as printed:
#: (parameters, training FLOPs, training tokens). Every row satisfies C = 6 N D within
#: rounding (0.25 %; 0.9 % for 175 B, whose 3.7 T is C/(6N) = 3.67 T to two figures)
#: except the 67 B one: 6 * 67e9 * 1.5e12 = 6.03e23, 4.7 % above 5.76e23 (C/(6N) = 1.43 T).
CHINCHILLA_TABLE3: tuple[tuple[float, float, float], ...] = (
    (400e6, 1.92e19, 8.0e9),
    (1e9, 1.21e20, 20.2e9),
    (10e9, 1.23e22, 205.1e9),
    (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12),
    (280e9, 9.90e24, 5.9e12),
    (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
)

#: Exponents (a, b) of N_opt ∝ C^a and D_opt ∝ C^b, Hoffmann et al. 2022, Table 2.
#: Kaplan et al. 2020 put most of a larger budget into parameters; all three
#: Chinchilla approaches split it about evenly.
SCALING_EXPONENTS: Mapping[str, tuple[float, float]] = MappingProxyType({
    "Chinchilla Approach 1 (fixed model sizes)": (0.50, 0.50),
    "Chinchilla Approach 2 (IsoFLOP profiles)": (0.49, 0.51),
    "Chinchilla Approach 3 (parametric fit)": (0.46, 0.54),
    "Kaplan et al. 2020": (0.73, 0.27),
})


@dataclass(frozen=True)
class LossFit:
    """Constants of L(N, D) = E + A / N^alpha + B / D^beta.

    ``E`` is the loss of an ideal model (the entropy of text, in this fit's units),
    ``A / N^alpha`` what a finite model costs, ``B / D^beta`` what finite data costs.
    Functions that take ``fit=`` accept a name from :data:`FITS` or a ``LossFit``
    (to try other constants, e.g. the printed ones with a different rounding).
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str


FITS: Mapping[str, LossFit] = MappingProxyType({
    "hoffmann": LossFit(
        1.69, 406.4, 410.7, 0.34, 0.28,
        "Hoffmann et al. 2022, App. D.2, Eq. 10 (constants as printed, rounded)",
    ),
    "epoch": LossFit(
        1.8172, 482.01, 2085.43, 0.3478, 0.3658,
        "Besiroglu et al. 2024 (Epoch AI), arXiv:2404.10102, replication of Approach 3",
    ),
})


def chinchilla_optimal(
    flops: ArrayLike, tokens_per_param: ArrayLike = 20.0
) -> tuple[Result, Result]:
    """Split a budget C into (N, D) with D = k N and 6 N D = C.

    ``N = sqrt(C / (6 k))`` and ``D = k N``. k = 20 is the Chinchilla rule of thumb
    (Hoffmann et al. 2022, Table 3: 1 B params <-> 20.2 B tokens).

    Parameters
    ----------
    flops : float or array
        Training compute C in FLOPs.
    tokens_per_param : float or array
        k = D / N.

    Returns
    -------
    (n_params, n_tokens) : tuple of floats or arrays
    """
    c = v.positive("flops", flops)
    k = v.positive("tokens_per_param", tokens_per_param)
    n = np.sqrt(c / (6.0 * k))
    return v.result(n), v.result(k * n)


def _fit(fit: str | LossFit) -> LossFit:
    if isinstance(fit, LossFit):
        return fit
    return v.lookup("fit", fit, FITS)


def chinchilla_loss(
    n_params: ArrayLike, n_tokens: ArrayLike, fit: str | LossFit = "hoffmann"
) -> Result:
    """Predicted final training loss L(N, D) = E + A / N^alpha + B / D^beta.

    Hoffmann et al. 2022, Approach 3 (App. D.2); ``fit="epoch"`` uses the Epoch AI
    replication (Besiroglu et al. 2024). The loss is in nats per token on the
    MassiveText distribution: compare models with it, not with other data sets.
    """
    f = _fit(fit)
    n = v.positive("n_params", n_params)
    d = v.positive("n_tokens", n_tokens)
    return v.result(f.E + f.A / n**f.alpha + f.B / d**f.beta)


def frontier_exponents(fit: str | LossFit = "hoffmann") -> tuple[float, float]:
    """(a, b) with N_opt proportional to C^a and D_opt to C^b: a = beta/(alpha+beta)."""
    f = _fit(fit)
    return f.beta / (f.alpha + f.beta), f.alpha / (f.alpha + f.beta)


def loss_optimal(flops: ArrayLike, fit: str | LossFit = "hoffmann") -> tuple[Result, Result]:
    """(N_opt, D_opt) minimising :func:`chinchilla_loss` subject to 6 N D = C.

    Closed form (Hoffmann et al. 2022, Eq. 4): ``N_opt = G (C/6)^a``,
    ``D_opt = G^-1 (C/6)^b`` with ``G = (alpha A / (beta B))^(1/(alpha+beta))``,
    ``a = beta/(alpha+beta)``, ``b = alpha/(alpha+beta)``. With the printed (rounded)
    constants and C = 5.76e23 this gives N = 3.22e10, D = 2.98e12: about 93 tokens per
    parameter, not 20 (reference-figures Sec. 1); the Epoch fit gives about 20.
    """
    f = _fit(fit)
    c = v.positive("flops", flops)
    a, b = frontier_exponents(f)
    g = (f.alpha * f.A / (f.beta * f.B)) ** (1.0 / (f.alpha + f.beta))
    return v.result(g * (c / 6.0) ** a), v.result((c / 6.0) ** b / g)


def optimal_tokens_per_param(flops: ArrayLike, fit: str | LossFit = "hoffmann") -> Result:
    """D_opt / N_opt of the fitted frontier at budget C: ``(C/6)^(b - a) / G^2``.

    Source: Hoffmann et al. 2022, Eq. 4 (see :func:`loss_optimal`). Unlike the fixed
    rule D = 20 N, the ratio drifts with the budget unless alpha = beta: as
    C^((alpha - beta)/(alpha + beta)), i.e. C^0.097 for the printed constants (93 at the
    Gopher budget, 153 at 1e26 FLOPs) and C^-0.025 for the Epoch fit (20 at 1e22 FLOPs,
    18 at the Gopher budget, 16 at 1e26 FLOPs).

    Parameters
    ----------
    flops : float or array
        Training compute C in FLOPs.
    fit : str or LossFit
        ``"hoffmann"`` or ``"epoch"`` (:data:`FITS`), or a :class:`LossFit`.

    Returns
    -------
    float or array
        Tokens per parameter of the loss-minimising split.
    """
    n, d = loss_optimal(flops, fit)
    return v.result(np.asarray(d) / np.asarray(n))


def isoflop_loss(
    flops: ArrayLike, n_params: ArrayLike, fit: str | LossFit = "hoffmann"
) -> Result:
    """Loss of a model of N parameters trained with exactly C FLOPs: L(N, C / (6N)).

    One point of an IsoFLOP curve (Hoffmann et al. 2022, Sec. 3.2, Fig. 3): at fixed
    compute, a bigger model sees fewer tokens. Plotted against log N the curve is a
    valley whose floor is :func:`loss_optimal`.

    Parameters
    ----------
    flops : float or array
        Training compute C in FLOPs (broadcasts against ``n_params``).
    n_params : float or array
        Model sizes N; the tokens are D = C / (6N).
    fit : str or LossFit
        Loss law (:data:`FITS`).

    Assumptions
    -----------
    C = 6 N D exactly (no attention FLOPs); the fitted law holds at every (N, D).
    """
    c = v.positive("flops", flops)
    n = v.positive("n_params", n_params)
    return chinchilla_loss(n, c / (6.0 * n), fit)


def isoflop_loss_penalty(
    flops: ArrayLike, n_params: ArrayLike, fit: str | LossFit = "hoffmann"
) -> Result:
    """How much higher the loss is at N than at the compute-optimal N, for the same C.

    ``L(N, C/(6N)) - L(N_opt, D_opt)`` (>= 0): the price, in predicted loss, of training
    a smaller model for longer (or a bigger one for shorter) with the same training
    compute. Source: Hoffmann et al. 2022, Eq. 10 and Eq. 4; the framing of trading loss
    for a cheaper-to-serve model follows Sardana et al. 2023 (arXiv:2401.00448), Sec. 1.

    Parameters
    ----------
    flops : float or array
        Training compute C in FLOPs.
    n_params : float or array
        Model size N actually trained (with D = C / (6N) tokens).
    fit : str or LossFit
        Loss law (:data:`FITS`).

    Returns
    -------
    float or array
        Loss penalty in nats per token (0 at the optimum).
    """
    c = v.positive("flops", flops)
    here = isoflop_loss(c, n_params, fit)
    best = chinchilla_loss(*loss_optimal(c, fit), fit)
    return v.result(np.maximum(np.asarray(here) - np.asarray(best), 0.0))


def _target(target_loss: ArrayLike, f: LossFit) -> float | np.ndarray:
    ell = v.positive("target_loss", target_loss)
    if not np.all(ell > f.E):
        raise ValueError(
            f"target_loss must be > E = {f.E:g}, the irreducible loss of this fit "
            f"({f.source}), got {target_loss!r}"
        )
    return ell


def min_params_for_loss(target_loss: ArrayLike, fit: str | LossFit = "hoffmann") -> Result:
    """Smallest N that can reach ``target_loss`` even with unlimited data.

    With D -> infinity the law leaves E + A / N^alpha, so ``N_min = (A / (l - E))^(1/alpha)``
    (Hoffmann et al. 2022, Eq. 10, solved for N). Any model at or below N_min stays above
    the target however long it trains.

    Parameters
    ----------
    target_loss : float or array
        Loss l to reach; must exceed the fit's E.
    fit : str or LossFit
        Loss law (:data:`FITS`).
    """
    f = _fit(fit)
    ell = _target(target_loss, f)
    return v.result((f.A / (ell - f.E)) ** (1.0 / f.alpha))


def tokens_for_loss(
    n_params: ArrayLike, target_loss: ArrayLike, fit: str | LossFit = "hoffmann"
) -> Result:
    """Training tokens a model of N parameters needs to reach ``target_loss``.

    Solving L(N, D) = l for D (Hoffmann et al. 2022, Eq. 10):
    ``D = (B / (l - E - A / N^alpha))^(1/beta)``, defined when N > :func:`min_params_for_loss`.
    This is the iso-loss curve used by Sardana et al. 2023 (arXiv:2401.00448), Sec. 2.

    Parameters
    ----------
    n_params : float or array
        Model size N.
    target_loss : float or array
        Loss l to reach; must exceed the fit's E.
    fit : str or LossFit
        Loss law (:data:`FITS`).

    Raises
    ------
    ValueError
        If a model is too small to ever reach the target (the message gives N_min).
    """
    f = _fit(fit)
    ell = _target(target_loss, f)
    n = v.positive("n_params", n_params)
    room = ell - f.E - f.A / n**f.alpha
    if not np.all(room > 0):
        n_min = np.min((f.A / (ell - f.E)) ** (1.0 / f.alpha))
        raise ValueError(
            f"n_params must be > {n_min:.4g} to reach target_loss {target_loss!r} with this "
            f"fit (even unlimited data leaves E + A/N^alpha above it), got {n_params!r}"
        )
    return v.result((f.B / room) ** (1.0 / f.beta))


def implied_inference_tokens(
    n_params: ArrayLike, n_tokens: ArrayLike, fit: str | LossFit = "hoffmann"
) -> Result:
    """Inference tokens for which (N, D) is the cheapest way to reach its own loss.

    Minimising 6 N D + 2 N D_inf along the iso-loss curve L(N, D) = l (Sardana et al.
    2023, arXiv:2401.00448, Sec. 2) gives, at the optimum,
    ``D_inf = 3 D (alpha A N^-alpha / (beta B D^-beta) - 1)``. It is 0 for a model on the
    compute-optimal frontier (where alpha A / N^alpha = beta B / D^beta, Hoffmann et al.
    2022, Eq. 4) and grows as the model is made smaller and trained longer.

    Parameters
    ----------
    n_params, n_tokens : float or array
        Model size N and training tokens D.
    fit : str or LossFit
        Loss law (:data:`FITS`).

    Returns
    -------
    float or array
        D_inf in tokens. A negative value means the model is *larger* than the
        compute-optimal one for its loss (under-trained, like Gopher): no inference
        demand makes it optimal.

    Assumptions
    -----------
    Training costs 6N and inference 2N FLOPs per token (no attention, no KV-cache or
    batching effects); the fitted law holds at (N, D).
    """
    f = _fit(fit)
    n = v.positive("n_params", n_params)
    d = v.positive("n_tokens", n_tokens)
    ratio = (f.alpha * f.A * n ** (-f.alpha)) / (f.beta * f.B * d ** (-f.beta))
    return v.result(3.0 * d * (ratio - 1.0))


# Bracket of the bisection below: y = share of (l - E) left to the data term.
_Y_MIN = 1e-12
_BISECTIONS = 200


def inference_aware_optimal(
    target_loss: ArrayLike, inference_tokens: ArrayLike, fit: str | LossFit = "hoffmann"
) -> tuple[Result, Result, Result]:
    """Model that reaches ``target_loss`` with the fewest training + inference FLOPs.

    Minimise ``F(N) = 6 N D(N) + 2 N D_inf`` where ``D(N)`` is the training data that
    brings a model of N parameters to the target loss l (:func:`tokens_for_loss`):
    the formulation of Sardana et al. 2023 ("Beyond Chinchilla-Optimal", arXiv:2401.00448,
    Sec. 2), with Hoffmann et al. 2022's loss law. With ``D_inf = 0`` the answer is the
    compute-optimal model of Eq. 4; the more tokens the model will serve, the smaller
    and longer-trained it gets.

    Method: on the iso-loss curve write ``y = (B / D^beta) / (l - E)``, the share of the
    reducible loss left to finite data; ``y`` rises monotonically with log N. ``dF/dN = 0``
    reads ``D_inf = 3 D ((alpha/beta) (1 - y)/y - 1)`` (see
    :func:`implied_inference_tokens`), whose right side falls strictly from +infinity
    (y -> 0, N -> N_min) to 0 (y = alpha/(alpha+beta), the compute-optimal model), so
    the root is unique and bisection on log y (equivalently on log N) finds it. Pure
    numpy; broadcasts over ``target_loss`` and ``inference_tokens``.

    Parameters
    ----------
    target_loss : float or array
        Loss l to reach (nats/token on the fit's data); must exceed the fit's E.
    inference_tokens : float or array
        Tokens the model will process at inference over its lifetime, D_inf >= 0.
    fit : str or LossFit
        Loss law (:data:`FITS`).

    Returns
    -------
    (n_params, train_tokens, total_flops) : tuple of floats or arrays
        N, D_train and ``6 N D_train + 2 N D_inf`` in FLOPs.

    Assumptions
    -----------
    Training costs 6N and inference 2N FLOPs per token (attention, KV cache and the
    different utilisation of inference hardware are ignored; Sardana et al. also treat
    real costs separately). The loss law was fitted on MassiveText with at most ~500 B
    tokens, so very long training runs are an extrapolation (Sardana et al. find that
    loss keeps improving up to 10,000 tokens per parameter, but not exactly as fitted).
    """
    f = _fit(fit)
    ell = _target(target_loss, f)
    d_inf = v.nonnegative("inference_tokens", inference_tokens)
    ell, d_inf = np.broadcast_arrays(np.asarray(ell, float), np.asarray(d_inf, float))
    reducible = ell - f.E

    def tokens(y):
        return (f.B / (y * reducible)) ** (1.0 / f.beta)

    def excess(y):  # implied D_inf at y minus the wanted one; decreasing in y
        return 3.0 * tokens(y) * (f.alpha / f.beta * (1.0 - y) / y - 1.0) - d_inf

    lo = np.full(ell.shape, np.log(_Y_MIN))
    hi = np.full(ell.shape, np.log(f.alpha / (f.alpha + f.beta)))
    with np.errstate(over="ignore"):
        if not np.all(excess(np.exp(lo)) > 0):
            raise ValueError(
                f"inference_tokens is too large for this solver (the optimal model would "
                f"need more than {np.min(tokens(_Y_MIN)):.3g} training tokens), got "
                f"{inference_tokens!r}"
            )
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            above = excess(np.exp(mid)) > 0
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
            if np.all(hi - lo < 1e-14):
                break
    y = np.exp(0.5 * (lo + hi))
    n = (f.A / ((1.0 - y) * reducible)) ** (1.0 / f.alpha)
    d = tokens(y)
    total = 6.0 * n * d + 2.0 * n * d_inf
    return v.result(n), v.result(d), v.result(total)


def break_even_inference_tokens(
    n_small: ArrayLike, tokens_small: ArrayLike, n_large: ArrayLike, tokens_large: ArrayLike
) -> Result:
    """Inference tokens after which a smaller, longer-trained model has cost less in total.

    Lifetime FLOPs of a model are ``6 N D_train + 2 N D_inf`` (Sardana et al. 2023,
    arXiv:2401.00448, Sec. 2). The smaller model saves ``2 (N_large - N_small)`` FLOPs
    per inference token, so it repays its extra training compute after
    ``D_inf = (6 N_s D_s - 6 N_l D_l) / (2 (N_l - N_s))`` tokens.

    Parameters
    ----------
    n_small, tokens_small : float or array
        Size and training tokens of the smaller model.
    n_large, tokens_large : float or array
        Size and training tokens of the larger model (``n_large > n_small``).

    Returns
    -------
    float or array
        Break-even inference tokens; 0 when the smaller model is also cheaper to train.

    Assumptions
    -----------
    Both models are equally good (same loss) for the task, so only FLOPs differ;
    training 6N and inference 2N FLOPs per token.
    """
    ns = v.positive("n_small", n_small)
    ds = v.positive("tokens_small", tokens_small)
    nl = v.positive("n_large", n_large)
    dl = v.positive("tokens_large", tokens_large)
    if not np.all(np.asarray(nl) > np.asarray(ns)):
        raise ValueError(f"n_large must be > n_small, got n_large={n_large!r}, n_small={n_small!r}")
    extra = 6.0 * ns * ds - 6.0 * nl * dl
    return v.result(np.maximum(extra / (2.0 * (nl - ns)), 0.0))
