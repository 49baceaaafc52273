"""Tests of trainmath.fmt: suffixes never show as '1e+03B', huge values fall back to 1.2e15."""

import pytest

from trainmath import fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (124_439_808, "124M"),
        (175e9, "175B"),
        (1.4e12, "1.4T"),
        (999.96e9, "1T"),  # rounding reaches the next suffix
        (999.4e3, "999k"),
        (999.96e12, "1e15"),
        (3.2e15, "3.2e15"),
        (-2.5e9, "-2.5B"),
        (42, "42"),
    ],
)
def test_count(value, text):
    assert fmt.count(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5, "$1.50"), (250, "$250"), (4.6e6, "$4.6M"), (999.99e6, "$1B"), (2e12, "$2T"),
     (5e16, "$5e16")],
)
def test_money(value, text):
    assert fmt.money(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(16e9, "16 GB"), (999.7e12, "1 PB"), (2**30 * 15.5, "15.5 GiB"),
     (1023.9 * 2**30, "1,024 GiB")],
)
def test_bytes(value, text):
    binary = "GiB" in text
    assert fmt.bytes_(value, binary=binary) == text


def test_non_finite_values_print_as_such():
    assert fmt.count(float("inf")) == "inf"
    assert fmt.money(float("nan")) == "$nan"
