"""Compute-optimal model size and data (Hoffmann et al. 2022, "Chinchilla").

Two ways to split a compute budget C = 6 N D between parameters N and tokens D:

* the rule of thumb D = k N with k of about 20 (Hoffmann et al. 2022, Table 3,
  Approach 1), which gives N = sqrt(C / (6 k));
* the fitted loss law of Approach 3 (App. D.2, Eq. 10),
  L(N, D) = E + A / N^alpha + B / D^beta, minimised under C = 6 N D (Eq. 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainmath import _validate as v

__all__ = [
    "LossFit",
    "FITS",
    "GOPHER_FLOPS",
    "chinchilla_optimal",
    "chinchilla_loss",
    "loss_optimal",
    "frontier_exponents",
]

#: Gopher's training compute, the "Gopher unit" of Hoffmann et al. 2022, Table 3.
GOPHER_FLOPS = 5.76e23


@dataclass(frozen=True)
class LossFit:
    """Constants of L(N, D) = E + A / N^alpha + B / D^beta."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str


FITS: dict[str, LossFit] = {
    "hoffmann": LossFit(
        1.69, 406.4, 410.7, 0.34, 0.28,
        "Hoffmann et al. 2022, App. D.2, Eq. 10 (constants as printed, rounded)",
    ),
    "epoch": LossFit(
        1.8172, 482.01, 2085.43, 0.3478, 0.3658,
        "Besiroglu et al. 2024 (Epoch AI), arXiv:2404.10102, replication of Approach 3",
    ),
}


def chinchilla_optimal(flops, tokens_per_param=20.0):
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


def _fit(fit: str) -> LossFit:
    return v.lookup("fit", fit, FITS)


def chinchilla_loss(n_params, n_tokens, fit: str = "hoffmann"):
    """Predicted final training loss L(N, D) = E + A / N^alpha + B / D^beta.

    Hoffmann et al. 2022, Approach 3 (App. D.2); ``fit="epoch"`` uses the Epoch AI
    replication (Besiroglu et al. 2024). The loss is in nats per token on the
    MassiveText distribution: compare models with it, not with other data sets.
    """
    f = _fit(fit)
    n = v.positive("n_params", n_params)
    d = v.positive("n_tokens", n_tokens)
    return v.result(f.E + f.A / n**f.alpha + f.B / d**f.beta)


def frontier_exponents(fit: str = "hoffmann") -> tuple[float, float]:
    """(a, b) with N_opt proportional to C^a and D_opt to C^b: a = beta/(alpha+beta)."""
    f = _fit(fit)
    return f.beta / (f.alpha + f.beta), f.alpha / (f.alpha + f.beta)


def loss_optimal(flops, fit: str = "hoffmann"):
    """(N_opt, D_opt) minimising :func:`chinchilla_loss` subject to 6 N D = C.

    Closed form (Hoffmann et al. 2022, Eq. 4): ``N_opt = G (C/6)^a``,
    ``D_opt = G^-1 (C/6)^b`` with ``G = (alpha A / (beta B))^(1/(alpha+beta))``,
    ``a = beta/(alpha+beta)``, ``b = alpha/(alpha+beta)``. With the printed (rounded)
    constants and C = 5.76e23 this gives N = 3.22e10, D = 2.98e12: about 93 tokens per
    parameter, not 20 (reference-figures Sec. 1); the Epoch fit gives about 20.
    """
    f = _fit(fit)
    c = v.positive("flops", flops)
    a, b = frontier_exponents(fit)
    g = (f.alpha * f.A / (f.beta * f.B)) ** (1.0 / (f.alpha + f.beta))
    return v.result(g * (c / 6.0) ** a), v.result((c / 6.0) ** b / g)
