"""memory_per_gpu reduces to its special cases; the planner finds Llama 3's layouts."""

import numpy as np
import pytest

import trainmath as tm

GPT2 = tm.MODELS["gpt2"]
L405 = tm.MODELS["llama-3.1-405b"]


@pytest.mark.parametrize("name", ["gpt2", "llama-2-7b", "llama-3-70b"])
@pytest.mark.parametrize("stage", [0, 1, 2, 3])
@pytest.mark.parametrize("dp", [1, 8, 64])
def test_reduces_to_zero_memory(name, stage, dp):
    cfg = tm.MODELS[name]
    m = tm.memory_per_gpu(cfg, zero_stage=stage, dp=dp)
    expected = tm.zero_memory_per_gpu(tm.param_count(cfg), dp, stage)
    assert m.model_states == pytest.approx(expected, rel=1e-12)
    assert m.weights + m.gradients + m.optimizer == pytest.approx(expected, rel=1e-12)
    assert m.total == m.model_states + m.activations


@pytest.mark.parametrize("master", [None, True])
def test_reduces_to_zero_memory_with_other_dtypes_and_optimizers(master):
    n = tm.param_count(GPT2)
    kw = dict(param_dtype="fp32", grad_dtype="fp32", optimizer="adamw-8bit", master=master)
    m = tm.memory_per_gpu(GPT2, zero_stage=2, dp=4, **kw)
    # pure fp32 keeps no master copy unless forced: 1 + 1 (8-bit moments) or 4 + 1 + 1
    k = 2 if master is None else 6
    assert m.model_states == pytest.approx(
        tm.zero_memory_per_gpu(n, 4, 2, param_bytes=4, grad_bytes=4, optimizer_bytes=k))
    assert m.model_states == pytest.approx(
        tm.training_state_breakdown(n, zero_stage=2, dp=4, **kw).total)


@pytest.mark.parametrize("tp,sp", [(1, False), (2, False), (4, True), (12, True)])
@pytest.mark.parametrize("rc", ["none", "selective", "full"])
def test_reduces_to_korthikanti(tp, sp, rc):
    m = tm.memory_per_gpu(GPT2, seq_len=1024, micro_batch=4, tp=tp, sequence_parallel=sp,
                          recompute=rc)
    per_layer = tm.activation_memory_per_layer(1024, 4, 768, 12, tp=tp, sequence_parallel=sp,
                                               recompute=rc)
    assert m.activations == pytest.approx(12 * per_layer, rel=1e-12)


def test_first_stage_holds_p_microbatches():
    # Korthikanti et al. 2022, Sec. 4.2.3: with 1F1B the first stage stores L layers' worth.
    one = tm.memory_per_gpu(L405, seq_len=8192, tp=8, sequence_parallel=True, n_microbatches=1)
    pp = tm.memory_per_gpu(L405, seq_len=8192, tp=8, pp=16, sequence_parallel=True,
                           n_microbatches=32)
    assert pp.activations == pytest.approx(one.activations * 16 * 8 / 126)
    few = tm.memory_per_gpu(L405, seq_len=8192, tp=8, pp=16, sequence_parallel=True,
                            n_microbatches=4)
    assert few.activations == pytest.approx(pp.activations / 4)


def test_tensor_and_pipeline_split_parameters():
    n = tm.param_count(L405)
    held = tm.params_per_gpu(L405, tp=8, pp=16)
    assert n / 128 < held < 1.15 * n / 128  # uneven stages and the embedding on stage 0
    assert tm.params_per_gpu(GPT2) == tm.param_count(GPT2)
    # a tied head is copied to the last stage: two stages hold more than one model
    assert 2 * tm.params_per_gpu(GPT2, pp=2) > tm.param_count(GPT2)


def test_context_parallel_splits_tokens():
    base = tm.memory_per_gpu(GPT2, seq_len=1024, recompute="selective")
    cp = tm.memory_per_gpu(GPT2, seq_len=1024, cp=4, recompute="selective")
    assert cp.activations == pytest.approx(base.activations / 4)
    full = tm.memory_per_gpu(GPT2, seq_len=1024, cp=4)
    scores_one = tm.memory_per_gpu(GPT2, seq_len=1024).activations - base.activations
    assert full.activations - cp.activations == pytest.approx(scores_one / 4)


def test_arrays_broadcast():
    tp = np.array([1, 2, 4])
    m = tm.memory_per_gpu(GPT2, tp=tp, zero_stage=np.array([[0], [3]]), dp=8)
    assert np.shape(m.total) == (2, 3)
    for i, z in enumerate([0, 3]):
        for j, t in enumerate(tp):
            assert m.total[i, j] == pytest.approx(
                tm.memory_per_gpu(GPT2, tp=int(t), zero_stage=z, dp=8).total)


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"zero_stage": 4}, "zero_stage"),
        ({"tp": 5}, "tp"),
        ({"cp": 3, "seq_len": 1024}, "cp must divide"),
        ({"pp": 13}, "pp"),
        ({"optimizer": "adagrad"}, "adamw"),
        ({"recompute": "all"}, "recompute"),
        ({"micro_batch": 0}, "micro_batch"),
        ({"param_dtype": "fp64"}, "dtype"),
    ],
)
def test_bad_input(kwargs, words):
    with pytest.raises((ValueError, TypeError), match=words):
        tm.memory_per_gpu(GPT2, **kwargs)


@pytest.mark.parametrize(
    "gpus,tp,cp,pp,dp,seq",
    [(8192, 8, 1, 16, 64, 8192), (16384, 8, 1, 16, 128, 8192), (16384, 8, 16, 16, 8, 131072)],
)
def test_llama3_table4_layouts_fit_on_h100(gpus, tp, cp, pp, dp, seq):
    # Llama 3 paper, Table 4: 16M tokens per batch on H100-80GB.
    assert tp * cp * pp * dp == gpus
    layouts = tm.plan_layouts("llama-3.1-405b", "H100-SXM", gpus, seq_len=seq,
                              global_batch_tokens=16 * 2**20)
    rows = layouts.find(tp=tp, cp=cp, pp=pp, dp=dp)
    assert len(rows) and layouts["fits"][rows].any()
    assert layouts.best() is not None and layouts.best()["fits"]


def test_planner_orders_and_counts():
    layouts = tm.plan_layouts("llama-3-8b", "H100-SXM", 64, global_batch_tokens=2**22)
    fits = layouts["fits"]
    assert fits[: layouts.n_fit].all() and not fits[layouts.n_fit:].any()
    t = layouts["step_time"][: layouts.n_fit]
    assert np.all(np.diff(t) >= 0)
    prod = layouts["tp"] * layouts["pp"] * layouts["cp"] * layouts["dp"]
    assert np.all(prod == 64)
    tokens = layouts["dp"] * layouts["micro_batch"] * layouts["n_microbatches"] * 8192
    assert np.all(tokens == 2**22)
    assert np.all(layouts["total"][fits] <= 80e9)


def test_planner_bad_input():
    with pytest.raises(ValueError, match="global_batch_tokens"):
        tm.plan_layouts("llama-3-8b", "H100-SXM", 64, global_batch_tokens=1000)
    with pytest.raises(ValueError, match="accelerator"):
        tm.plan_layouts("llama-3-8b", "B300", 64)
    with pytest.raises(ValueError, match="n_gpus"):
        tm.plan_layouts("llama-3-8b", "H100-SXM", 0)
    with pytest.raises(ValueError, match="efficiency"):
        tm.plan_layouts("llama-3-8b", "H100-SXM", 8, efficiency=50)


def test_recompute_flops():
    cfg = tm.ModelConfig(96, 12288, 96, 51200, seq_len=2048)
    full = tm.recompute_flops_per_token(cfg, recompute="full") / tm.flops_per_token(cfg)
    eq3 = tm.megatron_model_flops(1, 2048, 96, 12288, 51200, recompute=True)
    eq7 = tm.megatron_model_flops(1, 2048, 96, 12288, 51200)
    assert 1 + full == pytest.approx(eq3 / eq7, rel=1e-12)
    assert tm.recompute_flops_per_token(cfg, recompute="none") == 0
    with pytest.raises(ValueError, match="recompute"):
        tm.recompute_flops_per_token(cfg, recompute="half")


# --- one memory model: interleaving inside it, one breakdown type ---------------------------


@pytest.mark.parametrize("pp,m,il", [(2, 8, 2), (4, 16, 2), (4, 16, 4), (8, 16, 2)])
def test_interleaving_scales_the_first_stage_activations(pp, m, il):
    cfg = tm.MODELS["llama-3-8b"]
    plain = tm.memory_per_gpu(cfg, pp=pp, n_microbatches=m)
    inter = tm.memory_per_gpu(cfg, pp=pp, n_microbatches=m, interleave=il)
    factor = tm.pipeline_in_flight(pp, m, il) / min(pp, m)
    assert factor > 1
    assert inter.activations == pytest.approx(plain.activations * factor, rel=1e-12)
    assert inter.model_states == plain.model_states  # the GPU still holds L/pp layers


def test_interleaving_needs_a_pipeline():
    with pytest.raises(ValueError, match="interleave > 1 needs pp > 1"):
        tm.memory_per_gpu(GPT2, interleave=2)


def test_planner_columns_are_memory_per_gpu():
    lay = tm.plan_layouts("llama-3-8b", "H100-SXM", 64, interleaves=(1, 2))
    cfg = tm.MODELS["llama-3-8b"]
    for i in [0, 1, len(lay) // 2, len(lay) - 1, *np.flatnonzero(lay["interleave"] > 1)[:3]]:
        r = lay.row(int(i))
        m = tm.memory_per_gpu(
            cfg, micro_batch=r["micro_batch"], n_microbatches=r["n_microbatches"],
            interleave=r["interleave"], zero_stage=r["zero_stage"], dp=r["dp"], tp=r["tp"],
            pp=r["pp"], cp=r["cp"], sequence_parallel=bool(r["sequence_parallel"]),
            recompute=r["recompute"],
        )
        for key in ("weights", "gradients", "optimizer", "activations", "total"):
            assert r[key] == pytest.approx(getattr(m, key), rel=1e-12), key


def test_fp32_weights_keep_no_master_copy_here_either():
    m = tm.memory_per_gpu(GPT2, param_dtype="fp32")
    n = tm.param_count(GPT2)
    assert m.master == 0 and m.model_states == 16 * n
    assert tm.memory_per_gpu(GPT2, param_dtype="fp32", master=True).model_states == 20 * n


def test_memory_breakdown_is_one_read_only_type():
    m = tm.memory_per_gpu(GPT2, tp=1, dp=2, zero_stage=1)
    assert list(m) == [*tm.MEMORY_PARTS, "total"]
    assert m.total == pytest.approx(sum(m.parts().values()), rel=1e-15)
    assert m.optimizer == m.grad_buffer + m.master + m.momentum + m.variance
    with pytest.raises(AttributeError, match="read-only"):
        m.total = 0
    with pytest.raises(TypeError):
        m["total"] = 0
    with pytest.raises(AttributeError, match="no part 'params'"):
        m.params  # noqa: B018
    with pytest.raises(ValueError, match="must not contain 'total'"):
        tm.Breakdown({"a": 1, "total": 1})
    with pytest.raises(ValueError, match="has the parts"):
        tm.MemoryBreakdown({"weights": 1})
    assert "MemoryBreakdown(weights=" in repr(m)
    # every breakdown of the library is a Breakdown with a total
    for b in (tm.training_bytes_per_param(), tm.training_state_breakdown(1e9),
              tm.activation_memory_breakdown(2048, 1, 4096, 32)):
        assert isinstance(b, tm.Breakdown) and b.total == sum(b.parts().values())


@pytest.mark.parametrize("part,first", [("weights", 3), ("gradients", 2), ("master", 1),
                                        ("grad_buffer", 1), ("optimizer", 1)])
def test_zero_partitions_is_the_one_rule(part, first):
    got = tm.zero_partitions(part, np.arange(4), 8)
    assert list(got) == [8.0 if s >= first else 1.0 for s in range(4)]
    with pytest.raises(ValueError, match="unknown part"):
        tm.zero_partitions("activations", 1, 8)
