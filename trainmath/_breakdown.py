"""One type for "a quantity by part, and its total", used across the library.

Memory by part (:class:`trainmath.memory.MemoryBreakdown`), bytes per parameter by part
(:func:`trainmath.optimizers.training_bytes_per_param`) and activations tensor by tensor
(:func:`trainmath.activations.activation_memory_breakdown`) are all a :class:`Breakdown`:
a read-only mapping of the parts followed by ``"total"`` (their sum), whose entries are
also attributes (``b.total`` is ``b["total"]``). Use ``b.total`` rather than summing
``b.values()``, which includes the total.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from trainmath import _validate as v


class Breakdown(Mapping):
    """Named parts (floats or numpy arrays) and their ``total``, read-only.

    Parameters
    ----------
    parts : mapping of str to float or array
        The parts, in the order they should be shown; ``"total"`` is added, not given.

    Examples
    --------
    >>> b = Breakdown({"weights": 2.0, "gradients": 2.0, "optimizer": 12.0})
    >>> b.total, b["weights"], list(b)
    (16.0, 2.0, ['weights', 'gradients', 'optimizer', 'total'])
    """

    __slots__ = ("_items",)

    def __init__(self, parts: Mapping[str, Any]) -> None:
        if "total" in parts:
            raise ValueError("parts must not contain 'total': a Breakdown adds it")
        items = {name: v.result(value) for name, value in parts.items()}
        total = sum((np.asarray(x, dtype=float) for x in items.values()), np.float64(0.0))
        items["total"] = v.result(total)
        object.__setattr__(self, "_items", items)

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no part {name!r}; parts: {', '.join(self._items)}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def parts(self) -> dict[str, Any]:
        """The parts without the total, as a plain dict."""
        return {k: x for k, x in self._items.items() if k != "total"}

    def __repr__(self) -> str:
        def show(x: Any) -> str:
            return f"{x:.6g}" if np.ndim(x) == 0 else f"array{np.shape(x)}"

        inner = ", ".join(f"{k}={show(x)}" for k, x in self._items.items())
        return f"{type(self).__name__}({inner})"
