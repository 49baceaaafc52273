"""What the calculators that take a mixture of experts share.

The model list (:func:`model_options`), and the controls that only a mixture of experts
gives a meaning to, which follow the model picked (:class:`FollowsModel`):

- ``ep``, expert parallelism: a dense model shows 1, greyed out (the library refuses
  ``ep > 1`` there: there are no experts to spread); a mixture of experts shows the ep last
  asked for, or, when that is no divisor of its experts, the largest divisor below it
  (:func:`expert_parallel_for`; the calculator says so);
- ``capacity_factor`` (where there is one): greyed out for a dense model (it changes
  nothing there);
- ``deepseek_v3``, DeepSeek-V3's activation choices (where there is one): they name terms
  of latent-attention and MoE layers (:data:`trainmath.DEEPSEEK_V3_TERM_BYTES`), so the box
  is unticked and greyed out for a model whose layers lack them
  (:func:`takes_deepseek_v3_terms`), and shows the choice last made for one that has them.

A value set programmatically (``calc.set``) goes to the library as it is: ``ep=8`` on a
dense model shows the library's message, as any bad value does.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

import ipywidgets as W

import trainmath as tm
from trainmath.widgets._base import INPUT_ERRORS, error_html

__all__ = ["model_options", "expert_parallel_for", "takes_deepseek_v3_terms", "FollowsModel"]

#: Controls whose value the learner asked for is remembered while the model hides it.
_REMEMBERED = ("ep", "deepseek_v3")


def model_options(*, moe_first: bool, labels: str = "name") -> list[tuple[str, str]]:
    """Dropdown entries ``(label, key)`` of the dense presets and the mixtures of experts.

    Parameters
    ----------
    moe_first : bool
        The mixtures of experts (:data:`trainmath.MOE_MODELS`) before the dense presets
        (:data:`trainmath.MODELS`), or after them.
    labels : {"name", "key"}
        Label entries by the model's name ("Llama 3 70B"; a mixture of experts gets
        " (MoE)") or by its key ("llama-3-70b").
    """
    def entries(table, suffix: str) -> list[tuple[str, str]]:
        return [(key if labels == "key" else f"{cfg.name}{suffix}", key)
                for key, cfg in table.items()]

    dense, moe = entries(tm.MODELS, ""), entries(tm.MOE_MODELS, " (MoE)")
    return [*moe, *dense] if moe_first else [*dense, *moe]


def expert_parallel_for(cfg: tm.ModelConfig, wanted: int) -> int:
    """The ep a model shows when ``wanted`` was asked for: 1 for a dense model; ``wanted``
    when it divides the experts (or is no positive integer: the library then says why);
    otherwise the largest divisor of ``n_experts`` below it.

    >>> import trainmath as tm
    >>> [expert_parallel_for(tm.get_model(m), 64) for m in ("deepseek-v3", "mixtral-8x7b",
    ...                                                      "llama-3-8b")]
    [64, 8, 1]
    """
    if not cfg.is_moe:
        return 1
    if not isinstance(wanted, int) or wanted < 1 or cfg.n_experts % wanted == 0:
        return wanted
    return max(d for d in range(1, min(wanted, cfg.n_experts) + 1) if cfg.n_experts % d == 0)


@cache
def takes_deepseek_v3_terms(cfg: tm.ModelConfig) -> bool:
    """Whether ``cfg``'s layers have every term :data:`trainmath.DEEPSEEK_V3_TERM_BYTES`
    names (the library's check: latent attention and MoE layers, as DeepSeek-V3's).

    >>> import trainmath as tm
    >>> [takes_deepseek_v3_terms(tm.get_model(m)) for m in ("deepseek-v3", "mixtral-8x7b")]
    [True, False]
    """
    try:
        tm.layer_activation_bytes(cfg, 1, layer="modern", term_bytes=tm.DEEPSEEK_V3_TERM_BYTES)
    except ValueError:
        return False
    return True


class FollowsModel:
    """Mixin for a :class:`~trainmath.widgets.Calculator` with ``model`` and ``ep`` controls
    (and optionally ``capacity_factor`` and ``deepseek_v3``): see the module docstring.

    A subclass calls :meth:`_follow` at the end of ``controls`` with its controls; a change
    of model then updates once for the model and the controls that follow it.
    """

    _syncing = False  # True while the controls follow a new model

    def _follow(self, controls: dict[str, W.Widget]) -> None:
        """Remember the starting values, set the controls for the starting model, and make
        them follow the model from now on (called from ``controls``)."""
        self._wanted: dict[str, Any] = {n: controls[n].value for n in _REMEMBERED
                                        if n in controls}
        self._set_for(controls, controls["model"].value)
        # Registered before the base class's observers, so they run first.
        controls["model"].observe(self._follow_model, names="value")
        for name in self._wanted:
            controls[name].observe(partial(self._remember, name), names="value")

    def _set_for(self, controls: dict[str, W.Widget], model: str) -> None:
        cfg = tm.get_model(model)
        moe = cfg.is_moe
        deepseek = takes_deepseek_v3_terms(cfg)
        self._syncing = True
        try:
            controls["ep"].value = expert_parallel_for(cfg, self._wanted["ep"])
            controls["ep"].disabled = not moe
            if "capacity_factor" in controls:
                controls["capacity_factor"].disabled = not moe
            if "deepseek_v3" in controls:
                controls["deepseek_v3"].value = deepseek and self._wanted["deepseek_v3"]
                controls["deepseek_v3"].disabled = not deepseek
        finally:
            self._syncing = False

    def _follow_model(self, change: dict) -> None:
        self._set_for(self.inputs, change["new"])

    def _remember(self, name: str, change: dict) -> None:
        if not self._syncing:
            self._wanted[name] = change["new"]

    def _on_change(self, change: dict) -> None:
        if not self._syncing:  # the model's own change updates once for all
            super()._on_change(change)

    def set(self, **values: Any) -> bool:
        """Change controls programmatically (one update at the end); returns update().

        The model is set first (the controls that follow it are set for it), then the
        others as given: an ``ep`` or ``deepseek_v3`` given is taken as asked for, even on
        a model that greys it out (the library's message then says why it does not apply).
        """
        values = dict(sorted(values.items(), key=lambda item: item[0] != "model"))
        if "model" in values:
            try:
                tm.get_model(values["model"])  # "unknown model ..., valid names"
            except INPUT_ERRORS as exc:
                self.message.value = error_html(exc)
                return False
        for name in _REMEMBERED:
            if name in values and name in self._wanted:
                self._wanted[name] = values[name]  # asked for, even if already shown
        return super().set(**values)
