"""Answer key of the demo lesson ``99_demo`` used by the tests (not part of the package).

Importing this module registers the key, both in the test process and in the kernel that
runs ``99_demo.ipynb`` (whose first cell imports it from the notebook's folder).
"""

from trainmath.answers import Question, register

LESSON = "99_demo"

QUESTIONS = [
    Question(
        "99.1",
        "Training FLOPs of a 1B-parameter model on 20B tokens",
        lambda: 6 * 1e9 * 20e9,  # a callable, evaluated lazily like a real key would
        unit="FLOP",
        hint="Use C ≈ 6·N·D.",
    ),
    Question(
        "99.2",
        "Memory of the bf16 weights of a 7B model",
        7e9 * 2 / 2**30,
        unit="GiB",
        hint="2 bytes per parameter, and 1 GiB = 2^30 bytes.",
    ),
    Question(
        "99.3",
        "Hours to train 1.2e20 FLOP at 1 PFLOP/s and 40% MFU",
        1.2e20 / (1e15 * 0.4) / 3600,
        unit="h",
        hint="time = FLOP / (peak FLOP/s × MFU).",
        points=2,
    ),
    Question("99.4", "The usual 16-bit training format", "bf16", hint="Not fp16."),
    Question("99.5", "Is training compute linear in the number of tokens?", True),
]

register(LESSON, QUESTIONS)
