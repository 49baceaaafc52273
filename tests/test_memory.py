"""Tests of trainmath.memory: ZeRO, training state by part, fewest GPUs, memory_per_gpu."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

GPT2 = tm.MODELS["gpt2"]
L405 = tm.MODELS["llama-3.1-405b"]
DTYPES = ["fp32", "bf16", "fp16"]
OPTIMIZERS = sorted(tm.OPTIMIZER_STATES)


# --- ZeRO's partitioning -------------------------------------------------------------------------


def test_zero_figure1():
    # Rajbhandari et al. 2019, Fig. 1: Psi = 7.5B, N_d = 64 -> 120, 31.4, 16.6, 1.88 GB.
    got = tm.zero_memory_per_gpu(7.5e9, 64, np.arange(4))
    assert np.allclose(got, [120e9, 31.40625e9, 16.640625e9, 1.875e9], rtol=1e-12)


def test_zero_table1_reproduced():
    # Rajbhandari et al. 2019, Table 1 / Fig. 1 (reference-figures Sec. 6): Psi = 7.5B,
    # N_d = 64: 120 GB baseline, 31.4, 16.6, 1.88 GB. The rest of the table follows the
    # closed forms 4 Psi + 12 Psi/N_d, 2 Psi + 14 Psi/N_d, 16 Psi/N_d.
    got = tm.zero_memory_per_gpu(7.5e9, 64, np.arange(4)) / 1e9
    assert np.allclose(got, [120, 31.4, 16.6, 1.88], rtol=1e-2)
    psi = np.array([[7.5e9], [128e9], [1e12]])
    nd = np.array([1, 4, 16, 64, 256, 1024])
    table = tm.zero_memory_per_gpu(psi, nd, np.array([1, 2, 3])[:, None, None])
    assert table.shape == (3, 3, 6)
    assert np.allclose(table[0], 4 * psi + 12 * psi / nd)
    assert np.allclose(table[1], 2 * psi + 14 * psi / nd)
    assert np.allclose(table[2], 16 * psi / nd)
    assert table[2, 2, -1] / 1e9 == pytest.approx(15.625)  # 1T on 1024 GPUs with P_os+g+p


def test_zero_formulas_general():
    psi, nd, k = 1e9, 8, 12
    assert tm.zero_memory_per_gpu(psi, nd, 1) == pytest.approx(4 * psi + k * psi / nd)
    assert tm.zero_memory_per_gpu(psi, nd, 2) == pytest.approx(2 * psi + (2 + k) * psi / nd)
    assert tm.zero_memory_per_gpu(psi, nd, 3) == pytest.approx(16 * psi / nd)
    assert tm.zero_memory_per_gpu(psi, 1, 3) == tm.zero_memory_per_gpu(psi, 1, 0)
    assert tm.zero_memory_per_gpu(psi, nd, 0, optimizer_bytes=6) == 10 * psi


@given(st.floats(1e6, 1e13), st.integers(1, 100_000))
def test_zero_stages_ordered(n, dp):
    m = [tm.zero_memory_per_gpu(n, dp, s) for s in range(4)]
    assert m[3] <= m[2] <= m[1] <= m[0]


@given(st.floats(1e6, 1e13), st.integers(1, 1000), st.integers(2, 10))
def test_zero_decreases_with_dp(n, dp, k):
    for s in (1, 2, 3):
        assert tm.zero_memory_per_gpu(n, dp * k, s) < tm.zero_memory_per_gpu(n, dp, s)


@pytest.mark.parametrize("part,first", [("weights", 3), ("gradients", 2), ("master", 1),
                                        ("grad_buffer", 1), ("optimizer", 1)])
def test_zero_partitions_is_the_one_rule(part, first):
    got = tm.zero_partitions(part, np.arange(4), 8)
    assert list(got) == [8.0 if s >= first else 1.0 for s in range(4)]
    with pytest.raises(ValueError, match="unknown part"):
        tm.zero_partitions("activations", 1, 8)


# --- training state by part ----------------------------------------------------------------------


def test_mixed_precision_is_16_bytes():
    assert tm.training_state_breakdown(1).total == 16
    assert tm.model_memory(1e9, "int4") == 0.5e9


def test_zero_figure_1_by_part():
    # Rajbhandari et al. 2019, Fig. 1: Psi = 7.5B, N_d = 64 -> 120, 31.4, 16.6, 1.88 GB.
    out = tm.training_state_breakdown(7.5e9, zero_stage=np.arange(4), dp=64)
    assert np.allclose(out["total"], [120e9, 31.40625e9, 16.640625e9, 1.875e9], rtol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 8, 64, 1000])
def test_megatron_distributed_optimizer_table(d):
    # Megatron-LM README, "Distributed Optimizer": non-distributed 20 / 18 / 16 and
    # distributed 4 + 16/d, 6 + 12/d, 8 + 8/d bytes per parameter.
    rows = [
        (dict(param_dtype="fp16", grad_buffer=True), 20, 4 + 16 / d),
        (dict(param_dtype="bf16", grad_dtype="fp32"), 18, 6 + 12 / d),
        (dict(param_dtype="fp32"), 16, 8 + 8 / d),
    ]
    for kw, plain, distributed in rows:
        assert tm.training_state_breakdown(1, zero_stage=0, dp=d, **kw)["total"] == plain
        assert tm.training_state_breakdown(1, zero_stage=1, dp=d, **kw)["total"] == (
            pytest.approx(distributed, rel=1e-12)
        )


@given(
    n=st.floats(0, 1e12),
    dp=st.integers(1, 4096),
    stage=st.integers(0, 3),
    param=st.sampled_from(DTYPES),
    grad=st.sampled_from(DTYPES),
    optimizer=st.sampled_from(OPTIMIZERS),
)
def test_breakdown_agrees_with_zero_memory_per_gpu(n, dp, stage, param, grad, optimizer):
    kw = dict(param_dtype=param, grad_dtype=grad, optimizer=optimizer, master=None)
    b = tm.training_bytes_per_param(**kw)
    out = tm.training_state_breakdown(n, zero_stage=stage, dp=dp, **kw)
    ref = tm.zero_memory_per_gpu(
        n, dp, stage, param_bytes=b["weights"], grad_bytes=b["gradients"],
        optimizer_bytes=b["grad_buffer"] + b["master"] + b["momentum"] + b["variance"],
    )
    assert out["total"] == pytest.approx(ref, rel=1e-12, abs=1e-6)
    assert out["total"] == pytest.approx(sum(out[p] for p in tm.STATE_PARTS), rel=1e-12)


@pytest.mark.parametrize("name", ["gpt2", "llama-3-8b"])
def test_breakdown_agrees_with_memory_per_gpu(name):
    cfg = tm.MODELS[name]
    for stage in range(4):
        m = tm.memory_per_gpu(cfg, zero_stage=stage, dp=16)
        b = tm.training_state_breakdown(tm.param_count(cfg), zero_stage=stage, dp=16)
        assert b.parts() == pytest.approx({**m.parts(), "activations": 0.0})
        assert b.optimizer == pytest.approx(m.optimizer)


def test_stage_0_is_n_times_the_bytes_per_parameter():
    for opt in ["adamw", "adamw-8bit", "sgd-momentum", "lion"]:
        per_param = tm.training_bytes_per_param(optimizer=opt)
        new = tm.training_state_breakdown(1e9, optimizer=opt)
        assert new.total == 1e9 * per_param.total
        assert new.total == 1e9 * (4 + tm.OPTIMIZER_BYTES_PER_PARAM[opt])


def test_breakdown_broadcasts():
    out = tm.training_state_breakdown(np.array([1e9, 7e9])[:, None], zero_stage=[0, 1, 2, 3],
                                      dp=8)
    assert out["total"].shape == (2, 4)
    assert np.all(np.diff(out["total"], axis=1) < 0)  # each stage saves more
    assert isinstance(tm.training_state_breakdown(1e9)["total"], float)


# --- will it fit? --------------------------------------------------------------------------------


def test_llama3_70b_on_h100():
    # 16 x 70,553,706,496 / 85.52e9 (an "80 GB" H100's 81,559 MiB) = 13.2 -> 14 GPUs under
    # ZeRO-3; stages 0-2 keep at least the 2-byte weights (141 GB) on every GPU, more than
    # the GPU holds: no number of GPUs helps.
    n = tm.param_count(tm.MODELS["llama-3-70b"])
    mem = tm.ACCELERATORS["H100-SXM"].memory_bytes
    got = tm.min_gpus_to_fit(n, mem, zero_stage=np.arange(4))
    assert list(got[:3]) == [math.inf] * 3
    assert got[3] == 14


def test_exact_fits_do_not_round_up():
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=0) == 1      # 16 x 5e9 = 80e9 exactly
    assert tm.min_gpus_to_fit(10e9, 80e9, zero_stage=3) == 2
    assert tm.min_gpus_to_fit(1e9, 8e9, zero_stage=1) == 3       # 4 + 12/3 = 8 B/param
    assert tm.min_gpus_to_fit(0, 1e9) == 1


def test_usable_fraction_and_zero_stage_0():
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=0, usable_fraction=0.9) == math.inf
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=3, usable_fraction=0.5) == 2


@given(
    n=st.floats(1e6, 1e12),
    mem=st.floats(1e9, 2e11),
    stage=st.integers(0, 3),
    param=st.sampled_from(DTYPES),
    optimizer=st.sampled_from(OPTIMIZERS),
)
def test_min_gpus_is_the_smallest_that_fits(n, mem, stage, param, optimizer):
    kw = dict(zero_stage=stage, param_dtype=param, optimizer=optimizer)
    d = tm.min_gpus_to_fit(n, mem, **kw)
    per_gpu = lambda k: tm.training_state_breakdown(n, dp=k, **kw)["total"]  # noqa: E731
    if math.isinf(d):
        assert per_gpu(10**9) > mem * (1 - 1e-9)
        return
    assert d == int(d) >= 1
    assert per_gpu(int(d)) <= mem * (1 + 1e-9)
    if d > 1:
        assert per_gpu(int(d) - 1) > mem * (1 - 1e-9)
    if stage == 3:
        assert not math.isinf(d)


def test_min_gpus_broadcasts_over_models_and_accelerators():
    n = np.array([tm.param_count(tm.MODELS[k]) for k in ["gpt2-xl", "llama-2-7b", "llama-3-70b"]])
    mem = np.array([a.memory_bytes for a in tm.ACCELERATORS.values()])
    grid = tm.min_gpus_to_fit(n[:, None], mem[None, :], zero_stage=3)
    assert grid.shape == (3, len(mem))
    assert np.all(grid[0] == 1)  # GPT-2 XL: 24.9 GB fits every accelerator
    # More memory never needs more GPUs.
    order = np.argsort(mem)
    assert np.all(np.diff(grid[:, order], axis=1) <= 0)


def test_memory_floor_is_min_gpus_to_fit_at_zero_3():
    # The lesson's floor: model states of mixed-precision AdamW (16 B/param) spread over every
    # GPU, ZeRO stage 3. 405.85B x 16 B = 6.49 TB over "80 GB" H100s of 81,559 MiB (85.52e9
    # bytes): 75.9 -> 76 GPUs (82 if the label's 80 GB were read as 80e9 bytes).
    h100 = tm.ACCELERATORS["H100-SXM"].memory_bytes
    assert tm.min_gpus_to_fit(tm.param_count(L405), h100, zero_stage=3) == 76
    assert tm.min_gpus_to_fit(tm.param_count(L405), 80e9, zero_stage=3) == 82
    # ZeRO, Fig. 1: 7.5B x 16 B = 120 GB -> two 80 GB GPUs; exactly full -> 1.
    assert tm.min_gpus_to_fit(7.5e9, 80e9, zero_stage=3) == 2
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=3) == 1
    assert tm.min_gpus_to_fit(5e9, 80e9, zero_stage=3, usable_fraction=0.9) == 2
    out = tm.min_gpus_to_fit(np.array([7.5e9, 405.85e9]), 80e9, zero_stage=3)
    assert out.tolist() == [2, 82]


@given(st.floats(1e6, 1e14), st.floats(1e9, 2e11), st.floats(0.05, 1.0))
def test_memory_floor_is_ceil_16n_over_usable_memory(n, mem, fraction):
    k = tm.min_gpus_to_fit(n, mem, zero_stage=3, usable_fraction=fraction)
    need, usable = 16 * n, fraction * mem
    assert k >= 1 and k == int(k)
    assert k * usable >= need * (1 - 1e-9)
    assert (k - 1) * usable < need * (1 + 1e-9)


# --- memory_per_gpu reduces to its special cases -------------------------------------------------


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


def test_fp32_weights_keep_no_master_copy_here_either():
    m = tm.memory_per_gpu(GPT2, param_dtype="fp32")
    n = tm.param_count(GPT2)
    assert m.master == 0 and m.model_states == 16 * n
    assert tm.memory_per_gpu(GPT2, param_dtype="fp32", master=True).model_states == 20 * n


# --- parallelism inside memory_per_gpu -----------------------------------------------------------


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


def test_memory_per_gpu_broadcasts():
    tp = np.array([1, 2, 4])
    m = tm.memory_per_gpu(GPT2, tp=tp, zero_stage=np.array([[0], [3]]), dp=8)
    assert np.shape(m.total) == (2, 3)
    for i, z in enumerate([0, 3]):
        for j, t in enumerate(tp):
            assert m.total[i, j] == pytest.approx(
                tm.memory_per_gpu(GPT2, tp=int(t), zero_stage=z, dp=8).total)


# --- the modern layer, the logits, Llama 3's FSDP ------------------------------------------------

L8B = tm.MODELS["llama-3-8b"]


def test_new_options_default_to_the_old_results():
    for cfg in (GPT2, L8B, L405):
        kw = dict(seq_len=2048, tp=8 if cfg is L405 else 1, pp=4, n_microbatches=8, dp=4,
                  zero_stage=3)
        old = tm.memory_per_gpu(cfg, **kw)
        same = tm.memory_per_gpu(cfg, layer="korthikanti", logits=False,
                                 reshard_after_forward=True, gathered_layers=0, **kw)
        assert dict(old) == dict(same)
        assert old.gathered_weights == old.logits == 0
        per_layer = tm.activation_memory_per_layer(2048, 1, cfg.d_model, cfg.n_heads,
                                                   tp=kw["tp"])
        assert old.activations == per_layer * tm.layers_per_stage(cfg.n_layers, 4) * 4


@pytest.mark.parametrize("tp,sp", [(1, False), (2, False), (4, True), (8, True)])
@pytest.mark.parametrize("rc", ["none", "selective", "full"])
def test_modern_layer_in_memory_per_gpu(tp, sp, rc):
    m = tm.memory_per_gpu(L8B, seq_len=8192, micro_batch=2, tp=tp, sequence_parallel=sp,
                          recompute=rc, layer="modern")
    per_layer = tm.layer_activation_bytes(L8B, 8192, 2, tp=tp, sequence_parallel=sp,
                                          recompute=rc, layer="modern")
    assert m.activations == 32 * per_layer
    assert dict(tm.memory_per_gpu(L8B, seq_len=8192, micro_batch=2, tp=tp,
                                  sequence_parallel=sp, recompute=rc, layer=None)) == dict(m)
    # context parallelism: every term is per token, the local s/cp tokens
    cp = tm.memory_per_gpu(L8B, seq_len=8192, micro_batch=2, tp=tp, sequence_parallel=sp,
                           recompute=rc, layer="modern", cp=4)
    assert cp.activations == pytest.approx(m.activations / 4, rel=1e-12)


def test_logits_on_one_stage():
    base = tm.memory_per_gpu(L8B, seq_len=8192, layer="modern")
    with_logits = tm.memory_per_gpu(L8B, seq_len=8192, layer="modern", logits=True)
    loss = tm.logits_activation_bytes(L8B, 8192)
    assert with_logits.logits == loss
    assert with_logits.total == pytest.approx(base.total + loss, rel=1e-15)
    assert with_logits.activations == base.activations
    split = tm.memory_per_gpu(L8B, seq_len=8192, tp=8, cp=2, sequence_parallel=True,
                              layer="modern", logits=True)
    assert split.logits == tm.logits_activation_bytes(L8B, 4096, tp=8, sequence_parallel=True)


def _stage(params, acts, logits, dp):
    """Bytes of one pipeline stage by hand: mixed-precision AdamW, ZeRO-1 over dp."""
    return params * (2 + 2 + 12 / dp) + acts + logits


def test_busiest_stage_with_logits():
    # Llama 3 8B, pp 4, 8 layers per stage; the first stage holds 4 micro-batches (1F1B),
    # the last one micro-batch and the logits. Model states: ZeRO-1 over dp 8.
    kw = dict(seq_len=8192, tp=2, pp=4, dp=8, zero_stage=1, n_microbatches=8,
              sequence_parallel=True, layer="modern")
    m = tm.memory_per_gpu(L8B, logits=True, **kw)
    layer = tm.layer_activation_bytes(L8B, 8192, tp=2, sequence_parallel=True)
    loss = tm.logits_activation_bytes(L8B, 8192, tp=2, sequence_parallel=True)
    # 8 layers: 32 stages of one layer each hold one layer + the head (V d / t) + final norm
    layers = 8 * (tm.params_per_gpu(L8B, tp=2, pp=32) - 128256 * 4096 / 2 - 4096)
    first = _stage(layers + 128256 * 4096 / 2, 4 * 8 * layer, 0, dp=8)  # + embedding
    last = _stage(layers + 128256 * 4096 / 2 + 4096, 8 * layer, loss, dp=8)  # + head, norm
    assert first > last
    assert m.total == pytest.approx(first, rel=1e-12) and m.logits == 0
    # one micro-batch in flight: the last stage (same layers, plus the logits) is the busiest
    one = tm.memory_per_gpu(L8B, logits=True, **{**kw, "n_microbatches": 1})
    assert one.logits == loss and one.activations == 8 * layer
    assert one.total == pytest.approx(last, rel=1e-12)


def test_interleaved_last_stage_holds_its_warm_up_chunks():
    # Megatron's interleaved schedule: the last rank runs (v - 1) p warm-up chunk forwards
    # before its first backward, so it holds ((v - 1) p + 1) / v stages' worth.
    kw = dict(seq_len=4096, pp=4, n_microbatches=8, layer="modern", logits=True)
    cfg = L8B.replace(n_layers=8)
    layer = tm.layer_activation_bytes(cfg, 4096)
    big_vocab = cfg.replace(vocab_size=4_000_000)  # make the last stage the busiest
    m = tm.memory_per_gpu(big_vocab, interleave=2, **kw)
    assert m.logits > 0
    assert m.activations == pytest.approx(2 * layer * (4 + 1) / 2, rel=1e-12)


def test_llama3_fsdp_keeps_the_weights_whole():
    kw = dict(seq_len=8192, tp=8, pp=16, dp=64, n_microbatches=16, sequence_parallel=True,
              layer="modern", grad_dtype="fp32")
    z3 = tm.memory_per_gpu(L405, zero_stage=3, **kw)
    llama3 = tm.memory_per_gpu(L405, zero_stage=3, reshard_after_forward=False, **kw)
    z2 = tm.memory_per_gpu(L405, zero_stage=2, **kw)
    n = tm.params_per_gpu(L405, tp=8, pp=16)
    assert llama3.weights == z2.weights == 2 * n  # bf16 weights unsharded
    assert z3.weights == 2 * n / 64
    for part in ("gradients", "master", "momentum", "variance", "activations"):
        assert llama3[part] == z3[part] == z2[part]
    assert llama3.gradients == 4 * n / 64  # fp32 gradients, sharded
    # below stage 3 it changes nothing
    assert dict(tm.memory_per_gpu(L405, zero_stage=2, reshard_after_forward=False,
                                  **kw)) == dict(z2)


def test_llama3_405b_at_8k_fits_80gb_with_the_fused_swiglu():
    # Llama 3 405B's 8K layout (TP 8, PP 16, DP 64, FSDP without resharding, no
    # recomputation): the first stage holds 16 micro-batches of its 8 layers. The modern
    # layer's default fused SwiGLU keeps 520,712 / 8 bytes per token and layer (eager
    # PyTorch's SiLU output would add 2f = 106,496 / 8 more: 90.0 GB, over 80 GB).
    kw = dict(seq_len=8192, micro_batch=1, n_microbatches=32, tp=8, pp=16, dp=64,
              zero_stage=3, reshard_after_forward=False, sequence_parallel=True,
              recompute="none", layer="modern", logits=True, grad_dtype="fp32")
    m = tm.memory_per_gpu(L405, **kw)
    layer = tm.layer_activation_bytes(L405, 8192, tp=8, sequence_parallel=True)
    assert layer == 8192 * 520_712 / 8
    assert m.activations == 8 * 16 * layer == 68_250_763_264
    assert m.logits == 0  # the first stage is the busiest
    assert m.total == pytest.approx(76.0146e9, rel=1e-6) and m.total < 80e9
    eager = tm.layer_activation_bytes(L405, 8192, tp=8, sequence_parallel=True,
                                      fused_mlp=False)
    assert m.total - m.activations + 8 * 16 * eager == pytest.approx(89.9733e9, rel=1e-6)


def test_zero3_gathered_weight_buffers():
    kw = dict(seq_len=4096, tp=8, pp=4, dp=16, zero_stage=3)
    m = tm.memory_per_gpu(L405, gathered_layers=2, **kw)
    layer = tm.params_per_gpu(L405.replace(n_layers=1), tp=8) - (
        2 * 128256 * 16384 / 8 + 16384)  # one layer's tp-local weights
    assert m.gathered_weights == pytest.approx(2 * 2 * layer, rel=1e-12)  # two bf16 layers
    assert m.total == pytest.approx(tm.memory_per_gpu(L405, **kw).total + m.gathered_weights)
    # nothing to gather when the weights are whole: no resharding, or stages 0-2
    assert tm.memory_per_gpu(L405, gathered_layers=2, reshard_after_forward=False,
                             **kw).gathered_weights == 0
    assert tm.memory_per_gpu(L405, gathered_layers=2, **{**kw, "zero_stage": 2}
                             ).gathered_weights == 0
    arr = tm.memory_per_gpu(L405, gathered_layers=2, **{**kw, "zero_stage": np.arange(4)})
    assert np.count_nonzero(arr.gathered_weights) == 1


def test_fp32_weights_and_gradients_are_16_bytes_not_20():
    # fp32 weights are their own master copy: 4 + 4 + 4 + 4, not 4 + 4 + 12
    n = tm.param_count(GPT2)
    m = tm.memory_per_gpu(GPT2, param_dtype="fp32", grad_dtype="fp32")
    assert m.model_states == 16 * n and m.master == 0
    assert tm.training_bytes_per_param(param_dtype="fp32", grad_dtype="fp32").total == 16
    assert tm.zero_memory_per_gpu(n, 1, 0, param_bytes=4, grad_bytes=4) == 16 * n
    assert tm.zero_memory_per_gpu(n, 1, 0) == 16 * n  # 2 + 2 + 12
    assert tm.zero_memory_per_gpu(n, 1, 0, param_bytes=4, grad_bytes=4,
                                  optimizer_bytes=12) == 20 * n  # K given: as given
    np.testing.assert_array_equal(
        tm.zero_memory_per_gpu(1, 1, 0, param_bytes=np.array([2, 4]), grad_bytes=2), [16, 14])


# --- one breakdown type --------------------------------------------------------------------------


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


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.zero_memory_per_gpu(1e9, 8, 4), "zero_stage"),
        (lambda: tm.zero_memory_per_gpu(1e9, 8, -1), "zero_stage"),
        (lambda: tm.zero_memory_per_gpu(1e9, 0, 1), "dp"),
        (lambda: tm.zero_memory_per_gpu(-1, 8, 1), "n_params"),
        (lambda: tm.zero_memory_per_gpu(1e9, 8, 1, optimizer_bytes="12"), "optimizer_bytes"),
        (lambda: tm.training_state_breakdown(1e9, optimizer="adam9"), "adamw"),
        (lambda: tm.training_state_breakdown(-1), "n_params"),
        (lambda: tm.training_state_breakdown(1e9, zero_stage=4), "zero_stage"),
        (lambda: tm.training_state_breakdown(1e9, zero_stage=1.5), "zero_stage"),
        (lambda: tm.training_state_breakdown(1e9, dp=0), "dp"),
        (lambda: tm.min_gpus_to_fit(1e9, 0), "memory_bytes"),
        (lambda: tm.min_gpus_to_fit(1e9, "80GB"), "memory_bytes"),
        (lambda: tm.min_gpus_to_fit(1e9, 80e9, usable_fraction=80), "usable_fraction"),
        (lambda: tm.min_gpus_to_fit(1e9, 80e9, zero_stage=-1), "zero_stage"),
        (lambda: tm.memory_per_gpu(GPT2, zero_stage=4), "zero_stage"),
        (lambda: tm.memory_per_gpu(GPT2, tp=5), "tp"),
        (lambda: tm.memory_per_gpu(GPT2, cp=3, seq_len=1024), "cp must divide"),
        (lambda: tm.memory_per_gpu(GPT2, pp=13), "pp"),
        (lambda: tm.memory_per_gpu(GPT2, optimizer="adagrad"), "adamw"),
        (lambda: tm.memory_per_gpu(GPT2, recompute="all"), "recompute"),
        (lambda: tm.memory_per_gpu(GPT2, micro_batch=0), "micro_batch"),
        (lambda: tm.memory_per_gpu(GPT2, param_dtype="fp64"), "dtype"),
        (lambda: tm.memory_per_gpu(GPT2, layer="flash"), "layer must be one of"),
        (lambda: tm.memory_per_gpu(tm.MODELS["gopher-280b"], layer="modern"), "relative"),
        (lambda: tm.memory_per_gpu(GPT2, logits=1), "logits must be True or False"),
        (lambda: tm.memory_per_gpu(GPT2, reshard_after_forward="no"),
         "reshard_after_forward must be True or False"),
        (lambda: tm.memory_per_gpu(GPT2, gathered_layers=-1), "gathered_layers"),
        (lambda: tm.memory_per_gpu(GPT2, gathered_layers=1.5), "gathered_layers"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()


def test_memory_per_gpu_passes_fused_mlp_to_the_modern_layer():
    cfg = tm.MODELS["llama-3-8b"]
    fused = tm.memory_per_gpu(cfg, seq_len=8192, layer="modern")
    eager = tm.memory_per_gpu(cfg, seq_len=8192, layer="modern", fused_mlp=False)
    # eager PyTorch keeps SiLU's output too: 2 s b d_ff more bytes per layer
    assert eager.activations - fused.activations == 32 * 2 * 8192 * 14336
    with pytest.raises(TypeError, match="fused_mlp"):
        tm.memory_per_gpu(cfg, fused_mlp="yes")
