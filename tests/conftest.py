"""What every test module shares: the Hypothesis profile and the demo answer key.

- One Hypothesis profile, ``course``, for every property test: 60 examples, no deadline
  (a shared 2-core machine makes timings meaningless) and derandomized, so that a run in
  CI tries the same examples as the run on a laptop. A test that needs another number of
  examples says so with its own ``@settings`` and a comment why. Set
  ``HYPOTHESIS_PROFILE=explore`` to search with fresh random examples (and more of them).
- ``tests/data`` on ``sys.path``: ``import demo_key`` registers the ``99_demo`` lesson that
  the check, grading and exercise tests (and their kernels) use.
- ``answer_registry``: the registry of answer keys with the demo key registered, restored
  after the test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

DATA = Path(__file__).parent / "data"

settings.register_profile("course", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "course"))

if str(DATA) not in sys.path:
    sys.path.insert(0, str(DATA))


@pytest.fixture
def answer_registry():
    """The answer-key registry with the demo key registered; restored afterwards."""
    import demo_key

    import trainmath.answers as answers

    saved = dict(answers._REGISTRY)
    answers.register(demo_key.LESSON, demo_key.QUESTIONS)
    yield answers
    answers._REGISTRY.clear()
    answers._REGISTRY.update(saved)
