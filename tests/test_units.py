"""Units: PFLOP/s-days, GPU-hours, cost, decimal vs binary bytes, and the compute/time/cost
core (C = n_gpus x peak x MFU x T)."""

import inspect

import numpy as np
import pytest

import trainmath as tm


def test_pflop_day_constant():
    assert tm.PFLOP_DAY == 8.64e19 == 1e15 * 24 * 3600


def test_round_trips():
    assert tm.from_pflop_days(tm.to_pflop_days(3.14e23)) == pytest.approx(3.14e23)
    h = tm.gpu_hours(1e24, 989e12, 0.4)
    assert tm.gpu_hours_to_flops(h, 989e12, 0.4) == pytest.approx(1e24)


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


@pytest.mark.parametrize(
    "call,words",
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
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()


# --- the compute/time/cost core --------------------------------------------------------------


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
