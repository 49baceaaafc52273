"""Lesson 02 units: rates vs counts, unit conversions, implied utilisation, sparse peaks, GB/GiB."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainmath as tm

settings.register_profile("course", max_examples=60, deadline=None)
settings.load_profile("course")

A100 = tm.ACCELERATORS["A100-80GB"].peak("bf16")
H100 = tm.ACCELERATORS["H100-SXM"].peak("bf16")

# Brown et al. 2020 (GPT-3), Table 2.1 shapes (n_layers, d_model) and Table D.1 compute
# (PF-days, FLOPs), reference-figures Sec. 3. Table 2.1 prints d_model 5140 for 13B; the
# arithmetically consistent 40 x 128 = 5120 is used (see test_gpt3_13b_d_model_misprint).
GPT3_D1 = {
    "Small": (12, 768, 2.60, 2.25e20),
    "Medium": (24, 1024, 7.42, 6.41e20),
    "Large": (24, 1536, 15.8, 1.37e21),
    "XL": (24, 2048, 27.5, 2.38e21),
    "2.7B": (32, 2560, 55.2, 4.77e21),
    "6.7B": (32, 4096, 139, 1.20e22),
    "13B": (40, 5120, 268, 2.31e22),
    "175B": (96, 12288, 3640, 3.14e23),
}


def _gpt3_params(n_layers: int, d_model: int) -> int:
    # Parameter count does not depend on the head split while H * head_dim = d_model.
    cfg = tm.ModelConfig(n_layers, d_model, d_model // 128, 50257, seq_len=2048)
    return tm.param_count(cfg)


# --- rate x time = count ---------------------------------------------------------------------


def test_flops_from_rate_is_rate_times_time():
    # An A100 at its dense bf16 peak (312 TFLOP/s) for one hour.
    assert tm.flops_from_rate(312e12, 3600) == pytest.approx(1.1232e18, rel=1e-12)
    # One PFLOP/s for one day is the PF-day of GPT-3, Table D.1.
    assert tm.flops_from_rate(1e15, tm.SECONDS_PER_DAY) == tm.PFLOP_DAY == 8.64e19
    out = tm.flops_from_rate(np.array([1e12, 2e12]), np.array([[1.0], [10.0]]))
    assert out.shape == (2, 2) and out[1, 1] == 2e13


def test_seed_002_rate_written_as_count():
    # Seed 002 writes "312 teraFLOPs = 3.12e14 FLOPs" for a rate. As a rate it gives the
    # HyperCLOVA bound of 2.67 days (reference-figures Sec. 11): 82e9, 150e9, 1024 A100.
    c = tm.training_flops(82e9, 150e9)
    assert c / tm.flops_from_rate(1024 * 312e12, tm.SECONDS_PER_DAY) == pytest.approx(
        2.67, rel=2e-3
    )
    # One A100 for one day at peak = 0.312 PFLOP/s-days.
    assert tm.to_pflop_days(tm.flops_from_rate(312e12, 86400)) == pytest.approx(0.312)


# --- GPT-3 Table D.1 -------------------------------------------------------------------------


@pytest.mark.parametrize("row", list(GPT3_D1))
def test_gpt3_table_d1_every_row(row):
    L, d, pf_days, flops = GPT3_D1[row]
    c = tm.training_flops(_gpt3_params(L, d), 300e9)
    assert c == pytest.approx(flops, rel=1e-2)
    assert tm.to_pflop_days(c) == pytest.approx(pf_days, rel=1e-2)
    assert tm.convert_compute(c, "FLOP", "PFLOP/s-day") == pytest.approx(pf_days, rel=1e-2)
    # The paper's two columns agree with each other through 8.64e19.
    assert tm.to_pflop_days(flops) == pytest.approx(pf_days, rel=6e-3)


def test_gpt3_d1_quoted_parameter_counts():
    # Table D.1 quotes N for Medium (356M), XL (1,320M) and 175B (174,600M).
    assert _gpt3_params(24, 1024) / 1e6 == pytest.approx(356, abs=0.5)
    assert _gpt3_params(24, 2048) / 1e6 == pytest.approx(1320, rel=5e-3)
    assert _gpt3_params(96, 12288) / 1e6 == pytest.approx(174_600, abs=50)
    assert _gpt3_params(96, 12288) == tm.param_count(tm.MODELS["gpt3-175b"])


def test_gpt3_13b_d_model_misprint():
    # d_model 5120 reproduces D.1 to 0.2 %; Table 2.1's 5140 to only 0.8 %.
    good = tm.training_flops(_gpt3_params(40, 5120), 300e9) / 2.31e22 - 1
    cfg = tm.ModelConfig(40, 5140, 40, 50257, seq_len=2048, head_dim=128)
    bad = tm.training_flops(tm.param_count(cfg), 300e9) / 2.31e22 - 1
    assert abs(good) < 2e-3 < 5e-3 < abs(bad)


# --- GPU-hours: what model cards imply -------------------------------------------------------


def test_llama2_7b_implied_utilisation_independent_arithmetic():
    # Llama 2 model card: 184,320 A100-80GB GPU-hours, 2.0T tokens; exact N 6,738,415,616.
    c = tm.training_flops(tm.param_count(tm.MODELS["llama-2-7b"]), 2.0e12)
    by_hand = 6 * 6_738_415_616 * 2.0e12 / (184_320 * 3600) / 312e12
    assert tm.implied_utilisation(c, 184_320, A100) == pytest.approx(by_hand, rel=1e-12)
    assert tm.achieved_flops_per_gpu(c, 1, 184_320 * 3600) == pytest.approx(121.9e12, rel=1e-3)
    assert by_hand == pytest.approx(0.3906, abs=1e-4)


def test_llama31_405b_model_card_vs_paper():
    # Llama 3 paper: 405B on 15.6T tokens is 3.8e25 FLOPs; 30.84M H100 GPU-hours (model
    # card). The hours imply ~35 % on 6ND, below the paper's 38-43 % MFU (Table 4):
    # the card's hours include everything, the paper's MFU only steady training.
    n = tm.param_count(tm.MODELS["llama-3.1-405b"])
    c = tm.training_flops(n, 15.6e12)
    assert c == pytest.approx(3.8e25, rel=1e-2)
    u = tm.implied_utilisation(c, 30.84e6, H100)
    assert u == pytest.approx(0.346, abs=1e-3)
    assert u < 0.38
    with_attention = tm.flops_per_token(tm.MODELS["llama-3.1-405b"]) * 15.6e12
    assert u < tm.implied_utilisation(with_attention, 30.84e6, H100) < 0.38


def test_implied_utilisation_broadcasts():
    hours = np.array([184_320, 368_640, 1_720_320])
    c = np.array([8.086e22, 1.562e23, 8.277e23])
    out = tm.implied_utilisation(c, hours, A100)
    assert out.shape == (3,)
    assert np.allclose(out, c / (hours * 3600 * A100))


# --- conversions -----------------------------------------------------------------------------


def test_convert_compute_known_values():
    assert tm.convert_compute(1, "PFLOP/s-day", "FLOP") == 8.64e19
    # One A100 GPU-hour at peak = 312e12 * 3600 FLOPs.
    assert tm.convert_compute(1, "GPU-hour", "FLOP", peak_flops=A100) == pytest.approx(
        1.1232e18
    )
    # $2 per GPU-hour: $1000 buys 500 GPU-hours.
    hours = tm.convert_compute(1000, "USD", "GPU-hour", peak_flops=A100, mfu=0.4,
                               price_per_gpu_hour=2.0)
    assert hours == pytest.approx(500)
    usd = tm.flops_to_cost(1e24, H100, 0.4, 2.0)
    assert usd == pytest.approx(1e24 / (H100 * 0.4) / 3600 * 2.0)
    assert tm.budget_to_flops(usd, H100, 0.4, 2.0) == pytest.approx(1e24)


def test_gpu_hours_depend_on_accelerator_dtype_and_utilisation():
    c = 1e23
    hours = {
        acc: tm.convert_compute(c, "FLOP", "GPU-hour", peak_flops=tm.ACCELERATORS[acc].peak(dt),
                                mfu=0.4)
        for acc, dt in (("V100", "fp16"), ("A100-80GB", "bf16"), ("H100-SXM", "bf16"))
    }
    assert hours["V100"] / hours["H100-SXM"] == pytest.approx(989 / 125)
    assert tm.convert_compute(c, "FLOP", "GPU-hour", peak_flops=H100, mfu=0.2) == pytest.approx(
        2 * hours["H100-SXM"]
    )


money = st.floats(1e-3, 1e3)


@given(
    st.floats(1e-6, 1e30), st.sampled_from(tm.COMPUTE_UNITS), st.sampled_from(tm.COMPUTE_UNITS),
    st.floats(1e12, 1e16), st.floats(0.01, 1.0), money,
)
def test_convert_compute_round_trips(x, a, b, peak, u, price):
    kw = {"peak_flops": peak, "mfu": u, "price_per_gpu_hour": price}
    y = tm.convert_compute(x, a, b, **kw)
    assert np.isclose(tm.convert_compute(y, b, a, **kw), x, rtol=1e-12)
    assert np.isclose(tm.to_flops(y, b, **kw), tm.to_flops(x, a, **kw), rtol=1e-12)


@given(st.floats(1.0, 1e9), st.floats(1e12, 1e16), st.floats(0.01, 1.0))
def test_implied_utilisation_inverts_gpu_hours_to_flops(hours, peak, u):
    c = tm.gpu_hours_to_flops(hours, peak, u)
    assert np.isclose(tm.implied_utilisation(c, hours, peak), u, rtol=1e-12)


@given(st.floats(1e15, 1e30), st.floats(1e12, 1e16), st.floats(0.01, 1.0), money,
       st.floats(1.01, 10))
def test_more_utilisation_or_a_faster_gpu_costs_less(c, peak, u, price, k):
    base = tm.flops_to_cost(c, peak, u, price)
    assert tm.flops_to_cost(c, peak * k, u, price) < base
    assert tm.flops_to_cost(c, peak, u / k, price) > base
    assert np.isclose(tm.flops_to_cost(c * k, peak, u, price), k * base, rtol=1e-12)


def test_units_arrays_agree_with_scalars():
    xs = np.array([1.0, 10.0, 1e4])
    for a, b in itertools.permutations(tm.COMPUTE_UNITS, 2):
        kw = {"peak_flops": H100, "mfu": 0.4, "price_per_gpu_hour": 2.0}
        arr = tm.convert_compute(xs, a, b, **kw)
        assert np.allclose(arr, [tm.convert_compute(float(x), a, b, **kw) for x in xs], rtol=0)


# --- dense vs sparse peaks -------------------------------------------------------------------


def test_sparse_is_twice_dense_on_the_h100_data_sheet():
    # H100 SXM data sheet: bf16 1,979 and fp8 3,958 TFLOP/s "with sparsity".
    h100 = tm.ACCELERATORS["H100-SXM"]
    assert tm.sparse_peak_flops(h100.peak("bf16")) == pytest.approx(1979e12, rel=1e-3)
    assert tm.dense_peak_flops(3958e12) == pytest.approx(h100.peak("fp8"), rel=1e-3)
    # A100: 624 TFLOP/s bf16 with sparsity.
    assert tm.sparse_peak_flops(A100) == pytest.approx(624e12)
    arr = tm.dense_peak_flops(tm.sparse_peak_flops(np.array([1e12, 5e14])))
    assert np.allclose(arr, [1e12, 5e14])


# --- GB vs GiB -------------------------------------------------------------------------------


def test_gb_and_gib():
    assert tm.gb_to_gib(80) == pytest.approx(74.50580596923828, rel=1e-15)
    assert tm.gib_to_gb(80) == pytest.approx(85.89934592, rel=1e-15)
    assert tm.bytes_to_gb(16e9) == 16.0
    assert tm.bytes_to_gib(2**30) == 1.0
    # nvidia-smi on an "80GB" A100 reports 81,920 MiB: exactly 80 GiB, 85.9 GB.
    assert tm.bytes_to_gib(81_920 * tm.MiB) == 80.0
    assert tm.bytes_to_gb(81_920 * tm.MiB) == pytest.approx(85.899, rel=1e-5)
    # ... and an H100 81,559 MiB = 79.6 GiB, 85.5 GB.
    assert tm.bytes_to_gib(81_559 * tm.MiB) == pytest.approx(79.647, rel=1e-4)
    # Llama 2 7B weights in bf16: 13.48 GB = 12.55 GiB.
    w = 2 * tm.param_count(tm.MODELS["llama-2-7b"])
    assert tm.bytes_to_gb(w) == pytest.approx(13.477, rel=1e-4)
    assert tm.bytes_to_gib(w) == pytest.approx(12.551, rel=1e-4)


def test_binary_prefix_ratio():
    assert tm.binary_prefix_ratio(1) == pytest.approx(1.024, rel=1e-15)
    assert tm.binary_prefix_ratio(3) == pytest.approx(tm.GiB / tm.GB, rel=1e-15)
    assert tm.binary_prefix_ratio(4) == pytest.approx(tm.TiB / tm.TB, rel=1e-15)
    out = tm.binary_prefix_ratio(np.arange(1, 7))
    assert np.all(np.diff(out) > 0)


@given(st.floats(0, 1e6))
def test_gb_gib_round_trip(x):
    assert np.isclose(tm.gib_to_gb(tm.gb_to_gib(x)), x, rtol=1e-12)
    assert tm.gb_to_gib(x) <= x


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.flops_from_rate(-1, 10), "flop_rate"),
        (lambda: tm.flops_from_rate(1e12, "1h"), "seconds"),
        (lambda: tm.implied_flops_per_gpu(1e20, 0), "gpu_hours"),
        (lambda: tm.implied_utilisation(1e20, 10, 0), "peak_flops"),
        (lambda: tm.implied_utilisation(-1e20, 10, 1e15), "flops"),
        (lambda: tm.flops_to_cost(1e20, 1e15, 40, 2.0), "mfu"),
        (lambda: tm.budget_to_flops(1e6, 1e15, 0.4, 0), "price_per_gpu_hour"),
        (lambda: tm.budget_to_flops(-1, 1e15, 0.4, 2), "budget"),
        (lambda: tm.convert_compute(1, "PFLOPs", "FLOP"), "from_unit"),
        (lambda: tm.convert_compute(1, "FLOP", "GPU-hours"), "to_unit"),
        (lambda: tm.convert_compute(1, "FLOP", "GPU-hour"), "peak_flops"),
        (lambda: tm.convert_compute(1, "USD", "FLOP", peak_flops=1e15), "price_per_gpu_hour"),
        (lambda: tm.convert_compute(1, "USD", "FLOP", peak_flops=1e15,
                                    price_per_gpu_hour=0), "price_per_gpu_hour"),
        (lambda: tm.convert_compute(-1, "FLOP", "PFLOP/s-day"), "value"),
        (lambda: tm.to_flops(1, 3), "unit"),
        (lambda: tm.from_flops(float("inf"), "FLOP"), "flops"),
        (lambda: tm.sparse_peak_flops(0), "dense_peak_flops"),
        (lambda: tm.dense_peak_flops(-1), "sparse_peak_flops"),
        (lambda: tm.bytes_to_gb(-1), "n_bytes"),
        (lambda: tm.bytes_to_gib(True), "n_bytes"),
        (lambda: tm.gb_to_gib("80"), "gb"),
        (lambda: tm.gib_to_gb(float("nan")), "gib"),
        (lambda: tm.binary_prefix_ratio(0), "power"),
        (lambda: tm.binary_prefix_ratio(1.5), "power"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()


def test_new_names_are_exported():
    import trainmath.units as units

    for name in units.__all__:
        assert getattr(tm, name) is getattr(units, name)
