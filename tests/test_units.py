"""Tests of trainmath.units: PFLOP/s-days, GPU-hours, cost, the compute/time/cost core, bytes."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

A100 = tm.ACCELERATORS["A100-80GB"].peak("bf16")
H100 = tm.ACCELERATORS["H100-SXM"].peak("bf16")

# Brown et al. 2020 (GPT-3), Table 2.1 shapes (n_layers, d_model) and Table D.1 compute
# (PF-days, FLOPs), reference-figures Sec. 3. Table 2.1 prints d_model 5140 for 13B; the
# arithmetically consistent 40 x 128 = 5120 is used (test_models.py shows why).
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


pos = st.floats(1e3, 1e15, allow_nan=False, allow_infinity=False)
big = st.floats(1e15, 1e30, allow_nan=False, allow_infinity=False)
money = st.floats(1e-3, 1e3)


# --- constants, round trips, cost and bytes ------------------------------------------------------


def test_pflop_day_constant():
    assert tm.PFLOP_DAY == 8.64e19 == 1e15 * 24 * 3600


def test_round_trips():
    assert tm.from_pflop_days(tm.to_pflop_days(3.14e23)) == pytest.approx(3.14e23)
    h = tm.gpu_hours(1e24, 989e12, 0.4)
    assert tm.gpu_hours_to_flops(h, 989e12, 0.4) == pytest.approx(1e24)


@given(big, st.floats(1e12, 1e16), st.floats(0.05, 1.0))
def test_unit_round_trips(c, peak, u):
    assert np.isclose(tm.from_pflop_days(tm.to_pflop_days(c)), c, rtol=1e-12)
    assert np.isclose(tm.gpu_hours_to_flops(tm.gpu_hours(c, peak, u), peak, u), c, rtol=1e-12)


def test_gpu_hours_independent_of_cluster_size():
    c = tm.training_flops(82e9, 150e9)
    a100 = 312e12
    hours = tm.gpu_hours(c, a100)
    assert hours == pytest.approx(1024 * tm.training_time(c, 1024, a100) / 3600)


def test_llama2_7b_model_card_gpu_hours():
    # Llama 2 model card: 7B used 184,320 A100-80GB GPU-hours on 2.0T tokens.
    # 6ND with the exact count gives the utilisation those hours imply: about 40-45 %.
    c = tm.training_flops(tm.param_count(tm.MODELS["llama-2-7b"]), 2.0e12)
    implied_mfu = c / tm.gpu_hours_to_flops(184_320, 312e12)
    assert 0.35 < implied_mfu < 0.5


def test_cost_and_bytes():
    assert tm.cost(1000, 2.5) == 2500
    assert tm.GB == 1e9 and tm.GiB == 2**30 and tm.TB == 1e12 and tm.TiB == 2**40
    assert 80 * tm.GB / tm.GiB == pytest.approx(74.506, rel=1e-4)


def test_arrays():
    out = tm.to_pflop_days(np.array([8.64e19, 1.728e20]))
    assert np.allclose(out, [1, 2])


# --- the compute/time/cost core ------------------------------------------------------------------


def test_delivered_flop_rate_hyperclova():
    # Kim et al. 2021 (HyperCLOVA): 1024 A100s, 312 TFLOP/s dense fp16 each. At MFU 1 the
    # 7.38e22 FLOPs of 6ND take 2.67 days (lesson 01).
    tau = tm.delivered_flop_rate(1024, 312e12)
    assert tau == 1024 * 312e12
    assert tm.delivered_flop_rate(1024, 312e12, 0.2) == pytest.approx(0.2 * tau)
    c = tm.training_flops(82e9, 150e9)
    assert tm.training_time(c, 1024, 312e12) == c / tau
    assert tm.training_time(c, 1024, 312e12) / 86400 == pytest.approx(2.67, abs=0.01)
    assert tm.flops_from_rate(tau, tm.training_time(c, 1024, 312e12)) == pytest.approx(c)


def test_hyperclova_example():
    # Seed 002 / Kim et al. 2021: 82B params, 150B tokens, 1024 A100s, 13.4 days measured.
    c = tm.training_flops(82e9, 150e9)
    assert c == pytest.approx(7.38e22, rel=1e-3)
    days = tm.training_time(c, 1024, A100) / 86400
    assert days == pytest.approx(2.67, rel=1e-2)
    per_gpu = tm.achieved_flops_per_gpu(c, 1024, 13.4 * 86400)
    assert per_gpu == pytest.approx(62e12, rel=1e-2)
    assert per_gpu / A100 == pytest.approx(0.20, abs=0.005)


def test_megatron_training_time_eq4():
    # Narayanan et al. 2021, Eq. 4: GPT-3 175B, 300B tokens, 1024 A100s at 140 TFLOP/s
    # with recomputation counted (8TP/(nX)) gives "34 days".
    days = 8 * 300e9 * 175e9 / (1024 * 140e12) / 86400
    assert days == pytest.approx(34, abs=0.5)
    # The same with our functions: hardware FLOPs = 8/6 of the 6ND model FLOPs.
    t = tm.training_time(tm.training_flops(175e9, 300e9) * 8 / 6, 1024, 140e12)
    assert t / 86400 == pytest.approx(days)


def test_delivered_flop_rate_broadcasts():
    out = tm.delivered_flop_rate(np.array([8, 16]), 1e15, np.array([[0.5], [0.25]]))
    assert out.shape == (2, 2)
    assert np.allclose(out, [[4e15, 8e15], [2e15, 4e15]])


def test_core_functions_agree_with_each_other():
    # One equation, read five ways: 1e24 FLOPs on 2048 GPUs of 989 TFLOP/s at 40 % MFU.
    c, n, peak, u, price = 1e24, 2048, 989e12, 0.4, 2.5
    tau = tm.delivered_flop_rate(n, peak, u)
    t = tm.training_time(c, n, peak, u)
    assert t == pytest.approx(c / (n * peak * u), rel=1e-15)
    assert tm.flops_in_days(t / 86400, n, peak, u) == pytest.approx(c, rel=1e-12)
    assert tm.gpu_hours(c, peak, u) == pytest.approx(n * t / 3600, rel=1e-12)
    assert tm.achieved_flops_per_gpu(c, n, t) == pytest.approx(tau / n, rel=1e-12)
    hours = tm.gpu_hours(c, peak, u)
    assert tm.implied_utilisation(c, hours, peak) == pytest.approx(u, rel=1e-12)
    assert tm.flops_to_cost(c, peak, u, price) == pytest.approx(hours * price, rel=1e-12)
    assert tm.budget_to_flops(hours * price, peak, u, price) == pytest.approx(c, rel=1e-12)
    assert tm.mfu(c / t / 6e9, 6e9, n, peak) == pytest.approx(u, rel=1e-12)


def test_zero_work_takes_no_time():
    assert tm.training_time(0, 8, 1e15) == 0.0
    assert tm.gpu_hours(0, 1e15) == 0.0
    assert tm.convert_compute(0, "FLOP", "USD", peak_flops=1e15, price_per_gpu_hour=2) == 0.0


def test_implied_flops_per_gpu_is_an_alias():
    c = tm.training_flops(tm.param_count(tm.MODELS["llama-2-7b"]), 2.0e12)
    assert tm.implied_flops_per_gpu(c, 184_320) == tm.achieved_flops_per_gpu(c, 1, 184_320 * 3600)
    assert "Alias of" in tm.implied_flops_per_gpu.__doc__


def test_core_keywords_in_one_order():
    # The quantity first, then n_gpus, peak_flops, mfu, price_per_gpu_hour (those used),
    # every one of them accepted as a keyword.
    order = ["n_gpus", "peak_flops", "mfu", "price_per_gpu_hour"]
    for f in (tm.delivered_flop_rate, tm.training_time, tm.flops_in_days, tm.gpu_hours,
              tm.gpu_hours_to_flops, tm.flops_to_cost, tm.budget_to_flops, tm.to_flops,
              tm.from_flops):
        names = list(inspect.signature(f).parameters)
        used = [name for name in names if name in order]
        assert used == [name for name in order if name in used], f.__name__
        kinds = {p.kind for p in inspect.signature(f).parameters.values()}
        assert inspect.Parameter.POSITIONAL_ONLY not in kinds, f.__name__
    by_keyword = tm.budget_to_flops(1e6, price_per_gpu_hour=2.0, mfu=0.4, peak_flops=989e12)
    assert by_keyword == tm.budget_to_flops(1e6, 989e12, 0.4, 2.0)
    assert by_keyword == pytest.approx(1e6 / 2.0 * 3600 * 989e12 * 0.4)


def test_budget_to_flops_refuses_the_old_argument_order():
    # budget_to_flops(budget, price, peak, mfu) was the order before the core: a price where
    # the peak goes puts the peak where the MFU goes, which is refused, never misread.
    with pytest.raises(ValueError, match="mfu"):
        tm.budget_to_flops(1e6, 2.0, 989e12, 0.4)


@given(st.lists(pos, min_size=1, max_size=5))
def test_training_time_scalar_and_array_calls_agree(ns):
    days = tm.training_time(np.array(ns) * 1e9, 8, 1e15)
    assert np.allclose(days, [tm.training_time(n * 1e9, 8, 1e15) for n in ns])


# --- flops_in_days: a budget of days -------------------------------------------------------------


def test_flops_in_days_llama3_405b():
    # 16,384 H100 at 40 % MFU for 68 days is about Llama 3 405B's 3.8e25 FLOPs.
    c = tm.flops_in_days(68, 16384, H100, 0.4)
    assert c == pytest.approx(16384 * H100 * 0.4 * 68 * 86400)
    assert c == pytest.approx(3.8e25, rel=0.01)


@given(st.floats(0.01, 1e4), st.integers(1, 100_000), st.floats(1e12, 5e15), st.floats(0.01, 1.0))
def test_flops_in_days_inverts_training_time(days, n, peak, mfu):
    c = tm.flops_in_days(days, n, peak, mfu)
    assert tm.training_time(c, n, peak, mfu) / 86400 == pytest.approx(days, rel=1e-12)


def test_flops_in_days_broadcasts():
    out = tm.flops_in_days(np.array([1.0, 2.0]), 8, H100, 0.5)
    assert out.shape == (2,) and out[1] == pytest.approx(2 * out[0])


@pytest.mark.parametrize(
    ("args", "word"),
    [((0, 8, 1e15, 0.4), "days"), ((1, 0, 1e15, 0.4), "n_gpus"), ((1, 8, -1, 0.4), "peak_flops"),
     ((1, 8, 1e15, 40), "mfu")],
)
def test_flops_in_days_bad_input(args, word):
    with pytest.raises(ValueError, match=word):
        tm.flops_in_days(*args)


# --- rate x time = count -------------------------------------------------------------------------


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


# --- GPT-3 Table D.1 -----------------------------------------------------------------------------


@pytest.mark.parametrize("row", list(GPT3_D1))
def test_gpt3_table_d1_every_row(row):
    L, d, pf_days, flops = GPT3_D1[row]
    c = tm.training_flops(_gpt3_params(L, d), 300e9)
    assert c == pytest.approx(flops, rel=1e-2)
    assert tm.to_pflop_days(c) == pytest.approx(pf_days, rel=1e-2)
    assert tm.convert_compute(c, "FLOP", "PFLOP/s-day") == pytest.approx(pf_days, rel=1e-2)
    # The paper's two columns agree with each other through 8.64e19.
    assert tm.to_pflop_days(flops) == pytest.approx(pf_days, rel=6e-3)


# --- GPU-hours: what model cards imply -----------------------------------------------------------


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


# --- conversions ---------------------------------------------------------------------------------


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


# --- dense vs sparse peaks -----------------------------------------------------------------------


def test_sparse_is_twice_dense_on_the_h100_data_sheet():
    # H100 SXM data sheet: bf16 1,979 and fp8 3,958 TFLOP/s "with sparsity".
    h100 = tm.ACCELERATORS["H100-SXM"]
    assert tm.sparse_peak_flops(h100.peak("bf16")) == pytest.approx(1979e12, rel=1e-3)
    assert tm.dense_peak_flops(3958e12) == pytest.approx(h100.peak("fp8"), rel=1e-3)
    # A100: 624 TFLOP/s bf16 with sparsity.
    assert tm.sparse_peak_flops(A100) == pytest.approx(624e12)
    arr = tm.dense_peak_flops(tm.sparse_peak_flops(np.array([1e12, 5e14])))
    assert np.allclose(arr, [1e12, 5e14])


# --- GB vs GiB -----------------------------------------------------------------------------------


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


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.to_pflop_days(-1), "flops"),
        (lambda: tm.from_pflop_days("1"), "pflop_days"),
        (lambda: tm.gpu_hours(1e20, 0), "peak_flops"),
        (lambda: tm.gpu_hours(1e20, 1e15, mfu=0), "mfu"),
        (lambda: tm.gpu_hours_to_flops(float("nan"), 1e15), "gpu_hours"),
        (lambda: tm.cost(10, -1), "price_per_gpu_hour"),
        (lambda: tm.delivered_flop_rate(0, 1e15), "n_gpus"),
        (lambda: tm.delivered_flop_rate(8.5, 1e15), "n_gpus"),
        (lambda: tm.delivered_flop_rate(8, -1e15), "peak_flops"),
        (lambda: tm.delivered_flop_rate(8, 1e15, 40), "mfu"),
        (lambda: tm.delivered_flop_rate(8, "1e15"), "peak_flops"),
        (lambda: tm.training_time(-1, 8, 1e15), "flops"),
        (lambda: tm.flops_to_cost(1e20, 1e15, 0.4, -2), "price_per_gpu_hour"),
        (lambda: tm.budget_to_flops(1e6, 1e15, 1.5, 2.0), "mfu"),
        (lambda: tm.implied_utilisation(1e20, 0, 1e15), "gpu_hours"),
        (lambda: tm.achieved_flops_per_gpu(-1, 8, 10), "flops"),
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
        (lambda: tm.training_time(1e24, 0, 1e15), "n_gpus"),
        (lambda: tm.training_time(1e24, 8.5, 1e15), "n_gpus"),
        (lambda: tm.training_time(1e24, 8, 1e15, mfu=40), "mfu"),
        (lambda: tm.training_time(1e24, 8, -1e15), "peak_flops"),
        (lambda: tm.achieved_flops_per_gpu(1e24, 8, 0), "seconds"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()


def test_new_names_are_exported():
    import trainmath.units as units

    for name in units.__all__:
        assert getattr(tm, name) is getattr(units, name)
