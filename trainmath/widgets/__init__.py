"""Calculator widgets: thin ipywidgets views over :mod:`trainmath` functions.

Every calculator is created with no arguments (``tm.widgets.ComputeCalculator()``),
displays itself in a notebook, and shows a message instead of a traceback for bad
input. Importing this module loads ipywidgets and matplotlib (Agg only).
"""

from __future__ import annotations

from trainmath.widgets._base import Calculator

__all__ = ["Calculator", "CALCULATORS"]

#: Every calculator class of the course, by name (tests and the benchmark iterate it).
CALCULATORS: dict[str, type[Calculator]] = {}

from trainmath.widgets.compute import ComputeCalculator  # noqa: E402

CALCULATORS["compute"] = ComputeCalculator

from trainmath.widgets.units import UnitsCalculator  # noqa: E402

CALCULATORS["units"] = UnitsCalculator

from trainmath.widgets.chinchilla import ChinchillaCalculator  # noqa: E402

CALCULATORS["chinchilla"] = ChinchillaCalculator

from trainmath.widgets.formats import FormatsCalculator  # noqa: E402

CALCULATORS["formats"] = FormatsCalculator

from trainmath.widgets.optimizers import OptimizerCalculator  # noqa: E402

CALCULATORS["optimizers"] = OptimizerCalculator

from trainmath.widgets.activations import ActivationCalculator  # noqa: E402

CALCULATORS["activations"] = ActivationCalculator

from trainmath.widgets.parallelism import PlannerCalculator  # noqa: E402

CALCULATORS["planner"] = PlannerCalculator

from trainmath.widgets.throughput import ThroughputCalculator  # noqa: E402

CALCULATORS["throughput"] = ThroughputCalculator

from trainmath.widgets.moe import MoECalculator  # noqa: E402

CALCULATORS["moe"] = MoECalculator

from trainmath.widgets.capstone import CapstoneCalculator  # noqa: E402

CALCULATORS["capstone"] = CapstoneCalculator

from trainmath.widgets.measure import MeasureCalculator  # noqa: E402

CALCULATORS["measure"] = MeasureCalculator
