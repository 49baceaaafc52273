"""Property tests: monotonicity, orderings, identities, scalar/array agreement."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import trainmath as tm

pos = st.floats(1e3, 1e15, allow_nan=False, allow_infinity=False)
big = st.floats(1e15, 1e30, allow_nan=False, allow_infinity=False)
ints = st.integers(1, 4096)
settings.register_profile("course", max_examples=60, deadline=None)
settings.load_profile("course")


@given(pos, pos, st.floats(1.01, 10))
def test_training_flops_monotone(n, d, k):
    assert tm.training_flops(n * k, d) > tm.training_flops(n, d)
    assert tm.training_flops(n, d * k) > tm.training_flops(n, d)


@given(big, st.floats(1, 1000))
def test_chinchilla_optimal_spends_the_budget(c, k):
    n, d = tm.chinchilla_optimal(c, k)
    assert np.isclose(6 * n * d, c, rtol=1e-9) and np.isclose(d / n, k, rtol=1e-9)


@given(big)
def test_loss_optimal_spends_the_budget(c):
    for fit in tm.FITS:
        n, d = tm.loss_optimal(c, fit)
        assert np.isclose(6 * n * d, c, rtol=1e-9)


@given(big, st.floats(1.01, 100))
def test_more_compute_lower_optimal_loss(c, k):
    for fit in tm.FITS:
        assert tm.chinchilla_loss(*tm.loss_optimal(c * k, fit), fit) < tm.chinchilla_loss(
            *tm.loss_optimal(c, fit), fit
        )


@given(st.floats(1e6, 1e13), st.integers(1, 100_000))
def test_zero_stages_ordered(n, dp):
    m = [tm.zero_memory_per_gpu(n, dp, s) for s in range(4)]
    assert m[3] <= m[2] <= m[1] <= m[0]


@given(st.floats(1e6, 1e13), st.integers(1, 1000), st.integers(2, 10))
def test_zero_decreases_with_dp(n, dp, k):
    for s in (1, 2, 3):
        assert tm.zero_memory_per_gpu(n, dp * k, s) < tm.zero_memory_per_gpu(n, dp, s)


@given(ints, ints, st.sampled_from([64, 128, 256]), st.sampled_from([1, 2, 4, 8]),
       st.booleans(), st.sampled_from(["none", "selective", "full"]))
def test_activations_monotone_and_ordered(s, b, hd, t, sp, rc):
    a = 16
    h = a * hd
    kw = dict(tp=t, sequence_parallel=sp)
    base = tm.activation_memory_per_layer(s, b, h, a, recompute=rc, **kw)
    assert tm.activation_memory_per_layer(s + 1, b, h, a, recompute=rc, **kw) > base
    assert tm.activation_memory_per_layer(s, b + 1, h, a, recompute=rc, **kw) > base
    none, sel, full = (tm.activation_memory_per_layer(s, b, h, a, recompute=r, **kw)
                       for r in ("none", "selective", "full"))
    assert full <= sel <= none


@given(st.integers(1, 64), st.sampled_from([64, 128]), st.integers(1, 16), st.integers(1, 8))
def test_param_count_monotone_in_every_size(L, hd, heads, kv_div):
    kv = max(1, heads // kv_div)
    while heads % kv:
        kv -= 1
    cfg = tm.ModelConfig(L, heads * hd, heads, 1000, n_kv_heads=kv)
    n = tm.param_count(cfg)
    assert tm.param_count(cfg.replace(n_layers=L + 1)) > n
    assert tm.param_count(cfg.replace(vocab_size=1001)) > n
    assert tm.param_count(cfg.replace(d_ff=cfg.d_ff + 1)) > n
    assert tm.param_count(cfg.replace(d_model=cfg.d_model + heads, head_dim=hd)) > n
    assert isinstance(n, int)


@given(big, st.floats(1e12, 1e16), st.floats(0.05, 1.0))
def test_unit_round_trips(c, peak, u):
    assert np.isclose(tm.from_pflop_days(tm.to_pflop_days(c)), c, rtol=1e-12)
    assert np.isclose(tm.gpu_hours_to_flops(tm.gpu_hours(c, peak, u), peak, u), c, rtol=1e-12)


@given(st.lists(pos, min_size=1, max_size=5), pos)
def test_scalar_and_array_calls_agree(ns, d):
    arr = tm.training_flops(np.array(ns), d)
    assert np.allclose(arr, [tm.training_flops(n, d) for n in ns], rtol=0)
    s = np.array([128, 1024, 8192])
    cfg = tm.MODELS["llama-2-7b"]
    assert np.allclose(tm.flops_per_token(cfg, s), [tm.flops_per_token(cfg, int(x)) for x in s])
    mem = tm.activation_memory_per_layer(s, 2, 4096, 32)
    assert np.allclose(mem, [tm.activation_memory_per_layer(int(x), 2, 4096, 32) for x in s])
    days = tm.training_time(np.array(ns) * 1e9, 8, 1e15)
    assert np.allclose(days, [tm.training_time(n * 1e9, 8, 1e15) for n in ns])


@given(st.integers(1, 64), st.integers(1, 1024), st.integers(1, 8))
def test_bubble_decreases_with_microbatches_and_interleave(p, m, v):
    f = tm.pipeline_bubble_fraction(p, m, v)
    assert tm.pipeline_bubble_fraction(p, m + 1, v) <= f
    assert tm.pipeline_bubble_fraction(p, m, v + 1) <= f
