"""Tests of trainmath.measure: the course's formulas against real PyTorch models (lesson 10)."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pytest

# Skipped as a whole when PyTorch is not installed (pip install -e ".[measure]").
torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import trainmath as tm  # noqa: E402
from trainmath import measure as M  # noqa: E402

# Fewer examples than the course profile (tests/conftest.py) for the property tests that
# build and run a PyTorch model per example (up to 0.15 s each): 12 random architectures
# cover both families and their mixtures; 60 would make these few tests 5 times slower.
FAST = settings(max_examples=12, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

GPT = tm.ModelConfig(2, 64, 4, 97, seq_len=32, name="tiny GPT")
LLAMA = tm.ModelConfig(
    2, 64, 4, 97, d_ff=160, n_kv_heads=2, seq_len=32, mlp="swiglu", norm="rmsnorm",
    bias=False, tied_embeddings=False, position="rope", name="tiny Llama",
)
NOT_RELATIVE = [name for name, cfg in tm.MODELS.items() if cfg.position != "relative"]


@st.composite
def configs(draw, positions=("learned", "rope", "relative")):
    """Small random configurations of both families and their mixtures."""
    n_kv = draw(st.sampled_from([1, 2, 4]))
    n_heads = n_kv * draw(st.integers(1, 3))
    head_dim = draw(st.sampled_from([4, 8, 16]))
    d_model = draw(st.sampled_from([16, 24, 32, 48]))
    return tm.ModelConfig(
        n_layers=draw(st.integers(1, 3)),
        d_model=d_model,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        vocab_size=draw(st.integers(5, 300)),
        d_ff=draw(st.integers(8, 128)),
        seq_len=draw(st.integers(4, 24)),
        mlp=draw(st.sampled_from(tm.models.MLP_KINDS)),
        norm=draw(st.sampled_from(tm.models.NORM_KINDS)),
        bias=draw(st.booleans()),
        tied_embeddings=draw(st.booleans()),
        position=draw(st.sampled_from(positions)),
    )


# --- the model ----------------------------------------------------------------------------------


def test_forward_returns_logits_and_blocks_are_reachable():
    model = M.build_model(GPT)
    idx = torch.randint(0, GPT.vocab_size, (3, 10))
    assert model(idx).shape == (3, 10, GPT.vocab_size)
    assert len(model.blocks) == GPT.n_layers
    assert isinstance(model.blocks[0], M.Block)
    assert model.training


def test_tied_head_is_the_embedding_matrix():
    tied = M.build_model(GPT)
    assert tied.head.weight is tied.tok_emb.weight
    untied = M.build_model(LLAMA)
    assert untied.head.weight is not untied.tok_emb.weight


def test_llama_style_has_no_biases_and_no_position_table():
    model = M.build_model(LLAMA)
    names = [n for n, _ in model.named_parameters()]
    assert not any(n.endswith(".bias") for n in names)
    assert not hasattr(model, "pos_emb")
    assert list(model.buffers()) == []  # rotary tables and the mask are made in forward


def test_dtype_device_and_seed():
    a, b = M.build_model(GPT, seed=3), M.build_model(GPT, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = M.build_model(GPT, seed=4)
    assert not torch.equal(a.blocks[0].attn.q_proj.weight, c.blocks[0].attn.q_proj.weight)
    state = torch.random.get_rng_state()
    M.build_model(GPT, seed=5)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is untouched
    bf16 = M.build_model(GPT, dtype="bf16")
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    assert M.build_model(GPT, dtype=torch.float16).tok_emb.weight.dtype == torch.float16
    meta = M.build_model(tm.MODELS["llama-2-70b"], device="meta")
    assert meta.head.weight.device.type == "meta"


@pytest.mark.parametrize("cfg", [GPT, LLAMA])
def test_sdpa_and_explicit_attention_agree(cfg):
    explicit = M.build_model(cfg).eval()
    fused = M.build_model(cfg, attention="sdpa").eval()
    idx = torch.randint(0, cfg.vocab_size, (2, 12))
    torch.testing.assert_close(explicit(idx), fused(idx), rtol=1e-4, atol=1e-5)


def test_relative_positions_run_and_stay_causal():
    cfg = GPT.replace(position="relative", norm="rmsnorm", bias=False)
    model = M.build_model(cfg).eval()
    idx = torch.randint(0, cfg.vocab_size, (1, 12))
    changed = idx.clone()
    changed[0, 6:] = (changed[0, 6:] + 1) % cfg.vocab_size
    torch.testing.assert_close(model(idx)[:, :6], model(changed)[:, :6])


def test_attention_is_causal():
    model = M.build_model(LLAMA).eval()
    idx = torch.randint(0, LLAMA.vocab_size, (1, 12))
    changed = idx.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % LLAMA.vocab_size
    torch.testing.assert_close(model(idx)[:, :8], model(changed)[:, :8])


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(tm.MODELS))
def test_param_count_of_every_preset_on_meta(name):
    cfg = tm.MODELS[name]
    assert M.count_params(M.build_model(cfg, device="meta")) == tm.param_count(cfg)


def test_published_counts():
    # reference-figures Sec. 4: GPT-2 small 124,439,808; Llama 2 7B 6,738,415,616 (no
    # rotary inv_freq buffers); Llama 3 8B 8,030,261,248.
    for name, n in [("gpt2", 124_439_808), ("llama-2-7b", 6_738_415_616),
                    ("llama-3-8b", 8_030_261_248)]:
        model = M.build_model(tm.MODELS[name], device="meta")
        assert M.count_params(model) == n
        assert sum(b.numel() for b in model.buffers()) == 0


@FAST
@given(configs())
def test_param_count_of_random_configs(cfg):
    model = M.build_model(cfg, device="meta")
    assert M.count_params(model) == tm.param_count(cfg)
    # A tied matrix is one Parameter, counted once; the plain sum over names would not.
    named = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    extra = cfg.vocab_size * cfg.d_model if cfg.tied_embeddings else 0
    assert named == tm.param_count(cfg) + extra


# --- FLOPs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [GPT, LLAMA])
@pytest.mark.parametrize(("batch", "seq_len"), [(1, 32), (3, 17)])
def test_flops_equal_the_formula_on_cpu(cfg, batch, seq_len):
    flops = M.measure_flops(M.build_model(cfg), batch, seq_len)
    predicted = tm.flops_per_token(cfg, seq_len) * batch * seq_len
    assert flops.total == int(predicted)  # integer equality
    assert flops.backward == 2 * flops.forward
    assert flops.tokens == batch * seq_len
    assert flops.per_token == tm.flops_per_token(cfg, seq_len)


def test_flops_split_into_weights_and_attention():
    cfg, b, s = GPT, 2, 32
    flops = M.measure_flops(M.build_model(cfg), b, s)
    # Linear layers run as addmm (with bias) or mm; attention's QKᵀ and AV are bmm.
    weights = flops.forward_by_op.get("addmm", 0) + flops.forward_by_op.get("mm", 0)
    assert weights == tm.forward_flops(tm.matmul_params(cfg), b * s)
    assert flops.forward_by_op["bmm"] == 4 * cfg.n_layers * cfg.attn_dim * s * b * s
    assert sum(flops.backward_by_op.values()) == flops.backward


@FAST
@given(configs(positions=("learned", "rope")), st.integers(1, 3))
def test_flops_of_random_configs(cfg, batch):
    flops = M.measure_flops(M.build_model(cfg, device="meta"), batch, cfg.seq_len)
    assert flops.total == int(tm.flops_per_token(cfg) * batch * cfg.seq_len)
    assert flops.backward == 2 * flops.forward


@FAST
@given(configs(positions=("relative",)), st.integers(1, 3))
def test_relative_positions_differ_by_a_closed_form(cfg, batch):
    # Transformer-XL: a third s x s matmul per layer, (q + v) (W_kR R)ᵀ, costs 2 b s² a
    # forward (6 b s² a with backward); the encodings R are projected once per sequence
    # length, 2 s d a, not per token, and need no input gradient (4 s d a in all, against
    # the 6 b s d a that matmul_params' per-token count implies).
    s, L, a, d = cfg.seq_len, cfg.n_layers, cfg.attn_dim, cfg.d_model
    flops = M.measure_flops(M.build_model(cfg, device="meta"), batch, s)
    predicted = tm.flops_per_token(cfg) * batch * s
    correction = L * (6 * batch * s * s * a + 4 * s * d * a - 6 * batch * s * d * a)
    assert flops.total == int(predicted) + correction


@pytest.mark.parametrize("name", NOT_RELATIVE)
def test_flops_of_every_preset_on_meta(name):
    cfg = tm.MODELS[name]
    flops = M.measure_config_flops(cfg)
    assert flops.total == int(tm.flops_per_token(cfg) * cfg.seq_len)
    assert flops.backward == 2 * flops.forward


def test_config_flops_extrapolate_exactly():
    cfg = LLAMA.replace(n_layers=5)
    direct = M.measure_flops(M.build_model(cfg, device="meta"), 2, 16)
    assert M.measure_config_flops(cfg, 2, 16) == direct
    small = GPT.replace(n_layers=2)
    assert M.measure_config_flops(small, 1, 8) == M.measure_flops(
        M.build_model(small, device="meta"), 1, 8)
    relative = GPT.replace(position="relative", norm="rmsnorm", bias=False, n_layers=3)
    assert M.measure_config_flops(relative, 2, 8) == M.measure_flops(
        M.build_model(relative, device="meta"), 2, 8)


@pytest.mark.parametrize("n_layers", [1, 3])
@pytest.mark.parametrize(
    "cfg",
    [GPT, LLAMA, LLAMA.replace(n_kv_heads=1),
     GPT.replace(position="relative", norm="rmsnorm", bias=False)],
    ids=["gpt", "llama", "mqa", "relative"],
)
def test_flop_parts_add_up_to_the_whole_model(cfg, n_layers):
    # outer + L x block, operator by operator, is what counting all L blocks gives.
    cfg = cfg.replace(n_layers=n_layers)
    parts = M.measure_flop_parts(cfg, 2, 9)
    direct = M.measure_flops(M.build_model(cfg, device="meta"), 2, 9)
    assert parts.total(n_layers) == direct == M.measure_config_flops(cfg, 2, 9)
    assert (parts.batch, parts.seq_len, parts.outer.tokens, parts.block.tokens) == (2, 9, 18, 18)
    assert parts.scalable == (cfg.position != "relative")
    assert "bmm" not in parts.outer.forward_by_op  # attention is all in the block


@FAST
@given(configs(positions=("learned", "rope")), st.integers(1, 4), st.integers(1, 24))
def test_flop_parts_rescale_exactly_to_any_shape(cfg, batch, seq_len):
    # The fast path of the lesson 10 calculator: one count at a small shape, rescaled.
    cfg = cfg.replace(seq_len=max(cfg.seq_len, seq_len, 8))
    rescaled = M.measure_flop_parts(cfg, 2, 8).at(batch, seq_len)
    assert rescaled == M.measure_flop_parts(cfg, batch, seq_len)
    assert rescaled.total(cfg.n_layers) == M.measure_flops(
        M.build_model(cfg, device="meta"), batch, seq_len)


@pytest.mark.parametrize("name", ["gpt2", "llama-2-7b", "mistral-7b", "llama-3.1-405b"])
@pytest.mark.parametrize(("batch", "seq_len"), [(1, 1), (1, 4096), (3, 1000)])
def test_rescaled_presets_equal_counting_again(name, batch, seq_len):
    cfg = tm.MODELS[name]
    seq_len = min(seq_len, cfg.seq_len)
    parts = M.measure_flop_parts(cfg, 2, 8)
    assert parts.at(batch, seq_len).total(cfg.n_layers) == M.measure_config_flops(
        cfg, batch, seq_len)


def test_flop_parts_that_do_not_rescale_say_so():
    relative = M.measure_flop_parts(GPT.replace(position="relative"), 2, 8)
    sdpa = M.measure_flop_parts(GPT, 2, 8, attention="sdpa")
    for parts in (relative, sdpa):
        assert not parts.scalable
        with pytest.raises(ValueError, match="rescale"):
            parts.at(1, 4)
    parts = M.measure_flop_parts(GPT, 2, 8)
    assert parts.at(2, 8) is parts
    # A count that is not a multiple of b s^k is no matmul of that shape: refused.
    odd = M.FlopCount(7, 14, MappingProxyType({"mm": 7}), MappingProxyType({"mm": 14}), 16)
    with pytest.raises(ValueError, match="multiple"):
        M.FlopParts(odd, parts.block, 2, 8, True).at(3, 8)
    other = M.FlopCount(16, 32, MappingProxyType({"conv": 16}),
                        MappingProxyType({"conv": 32}), 16)
    with pytest.raises(ValueError, match="conv"):
        M.FlopParts(other, parts.block, 2, 8, True).at(3, 8)
    with pytest.raises(ValueError, match="n_layers"):
        parts.total(0)
    with pytest.raises(ValueError, match="batch"):
        parts.at(0, 8)
    with pytest.raises(TypeError, match="cfg"):
        M.measure_flop_parts(M.build_model(GPT))


@pytest.mark.parametrize("name", list(tm.MODELS))
def test_config_params_equal_counting_the_whole_model(name):
    cfg = tm.MODELS[name]
    whole = M.count_params(M.build_model(cfg, device="meta", dtype="bf16"))
    assert M.count_config_params(cfg) == whole == tm.param_count(cfg)


@FAST
@given(configs())
def test_config_params_of_random_configs(cfg):
    assert M.count_config_params(cfg) == M.count_params(M.build_model(cfg, device="meta"))


def test_six_nd_misses_attention_and_counts_the_embedding():
    # GPT-3 175B (Brown et al. 2020, Table 2.1): 6N is 2.7 % below the exact count at
    # s = 2048 (attention, s/(6d)); Llama 3 8B: its 525M-value input table is in N but
    # does no matmul, while attention at s = 8192 adds 22 %.
    for name in ("gpt3-175b", "llama-3-8b"):
        cfg = tm.MODELS[name]
        exact = M.measure_config_flops(cfg).per_token
        six_n = tm.training_flops(tm.param_count(cfg), 1)
        attention = 12 * cfg.n_layers * cfg.attn_dim * cfg.seq_len
        embedding_only = tm.param_count(cfg) - tm.matmul_params(cfg)
        assert exact - six_n == attention - 6 * embedding_only


def test_sdpa_on_cpu_is_not_counted():
    # The CPU flash kernel behind scaled_dot_product_attention is unknown to FlopCounterMode:
    # only the weights' matmuls are counted. On the meta device sdpa decomposes into bmm.
    b, s = 2, 16
    cpu = M.measure_flops(M.build_model(GPT, attention="sdpa"), b, s)
    assert cpu.total == 6 * tm.matmul_params(GPT) * b * s
    meta = M.measure_flops(M.build_model(GPT, attention="sdpa", device="meta"), b, s)
    assert meta.total == tm.flops_per_token(GPT, s) * b * s


# --- activations --------------------------------------------------------------------------------

ACTIVATION_GRID = [  # (d_model, n_heads, seq_len, micro_batch)
    (128, 2, 64, 2), (128, 4, 32, 1), (128, 2, 128, 4), (256, 4, 128, 2), (256, 8, 64, 1),
    (512, 8, 64, 2),
]


def _gpt_block(h, a, s, *, dtype="bf16", dropout=0.1, device="cpu", fused_dropout=True):
    cfg = tm.ModelConfig(1, h, a, 50, seq_len=s)
    model = M.build_model(cfg, dropout=dropout, dtype=dtype, device=device,
                          fused_dropout=fused_dropout)
    return cfg, model


@pytest.mark.parametrize(("h", "a", "s", "b"), ACTIVATION_GRID)
def test_bf16_block_with_dropout_matches_korthikanti_plus_extras(h, a, s, b):
    cfg, model = _gpt_block(h, a, s)
    saved = M.block_saved_activations(model, b, s)
    korthikanti = tm.activation_memory_per_layer(s, b, h, a)
    # The CPU LayerNorm keeps mean and 1/σ in the weights' dtype: 2 bytes in bf16.
    extras = M.activation_extras(cfg, s, b, stats_bytes=2)
    assert extras == {"causal_mask": s * s, "norm_stats": 2 * 2 * 2 * s * b}
    assert saved.total == korthikanti + sum(extras.values())  # exact
    assert saved.total / korthikanti - 1 < 0.02  # within 2 % here (s <= bh/2 or ab >= 10)
    # Term by term, every one of Korthikanti's tensors is there with its exact size.
    by_term = saved.by_term()
    expected = tm.activation_memory_breakdown(s, b, h, a)
    for key, value in expected.parts().items():
        assert by_term[key] == value, key
    assert by_term["causal_mask"] == extras["causal_mask"]
    assert by_term["norm_stats"] == extras["norm_stats"]
    assert by_term["other"] == 0


def test_the_extras_bound():
    # Relative to sbh(34 + 5as/h) the mask is at most min(s/(34bh), 1/(5ab)) and the
    # statistics 16/(34h): below 2 % whenever s <= bh/2 and h >= 128.
    for h, a, s, b in ACTIVATION_GRID:
        cfg = tm.ModelConfig(1, h, a, 50, seq_len=s)
        ratio = sum(M.activation_extras(cfg, s, b).values()) / tm.activation_memory_per_layer(
            s, b, h, a)
        assert ratio <= min(s / (34 * b * h), 1 / (5 * a * b)) + 16 / (34 * h) + 1e-12
        assert ratio < 0.02
    # ... and it can exceed 2 % when s >> bh with few heads: the mask is then visible.
    cfg = tm.ModelConfig(1, 128, 2, 50, seq_len=512)
    extras = sum(M.activation_extras(cfg, 512, 1).values())
    assert extras / tm.activation_memory_per_layer(512, 1, 128, 2) > 0.05


def test_meta_device_keeps_fp32_statistics():
    h, a, s, b = 256, 4, 64, 2
    cfg, model = _gpt_block(h, a, s, device="meta")
    saved = M.block_saved_activations(model, b, s)
    extras = M.activation_extras(cfg, s, b, stats_bytes=4)
    assert saved.total == tm.activation_memory_per_layer(s, b, h, a) + sum(extras.values())
    assert saved.bytes_by(lambda t: t.dtype)["float32"] == extras["norm_stats"]


def test_gpt3_block_at_full_size_on_meta():
    # GPT-3 175B (Brown et al. 2020, Table 2.1), s = 2048, b = 1: Korthikanti's sbh(34 + 5as/h)
    # with 5as/h = 80 (Korthikanti et al. 2022, Sec. 5), plus 4 MiB of mask and 16 s b.
    cfg = tm.MODELS["gpt3-175b"].replace(n_layers=1)
    model = M.build_model(cfg, dropout=0.1, dtype="bf16", device="meta")
    saved = M.block_saved_activations(model, 1, 2048)
    korthikanti = tm.activation_memory_per_layer(2048, 1, 12288, 96)
    assert korthikanti == 2048 * 12288 * (34 + 80)
    assert saved.total == korthikanti + 2048**2 + 16 * 2048


@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_without_dropout(dtype):
    h, a, s, b = 128, 4, 32, 2
    cfg, model = _gpt_block(h, a, s, dtype=dtype, dropout=0.0)
    saved = M.block_saved_activations(model, b, s)
    act = 2 if dtype == "bf16" else 4
    expected = tm.activation_memory_breakdown(s, b, h, a, act_bytes=act, dropout=False)
    extras = M.activation_extras(cfg, s, b, stats_bytes=act)
    assert saved.total == expected.total + sum(extras.values())


def test_fp32_block_with_dropout():
    h, a, s, b = 128, 4, 32, 2
    cfg, model = _gpt_block(h, a, s, dtype="fp32")
    saved = M.block_saved_activations(model, b, s)
    expected = tm.activation_memory_breakdown(s, b, h, a, act_bytes=4)
    extras = M.activation_extras(cfg, s, b, stats_bytes=4)
    assert saved.total == expected.total + sum(extras.values())


def test_unfused_dropout_saves_noise_in_the_activation_dtype():
    # F.dropout on the CPU keeps a bf16 noise tensor (2 bytes per value) instead of a bool
    # mask: the three masks cost as²b + sbh + sbh more.
    h, a, s, b = 128, 4, 32, 2
    cfg, model = _gpt_block(h, a, s, fused_dropout=False)
    saved = M.block_saved_activations(model, b, s)
    fused = M.block_saved_activations(_gpt_block(h, a, s)[1], b, s)
    assert saved.total - fused.total == a * s * s * b + 2 * s * b * h
    assert saved.bytes_by(lambda t: t.dtype)["bool"] == s * s  # only the causal mask


def test_llama_block_saves_other_tensors_too():
    cfg = LLAMA.replace(d_model=128, n_heads=4, n_kv_heads=2, d_ff=352)
    model = M.build_model(cfg, dtype="bf16", device="meta")
    saved = M.block_saved_activations(model, 2, 32)
    terms = saved.by_term()
    assert terms["other"] > 0  # rotary tables, SwiGLU's products, RMSNorm intermediates
    assert terms["qkv_input"] == 2 * 32 * 2 * 128
    assert sum(terms.values()) == saved.total


@FAST
@given(st.sampled_from([64, 128, 256]), st.sampled_from([1, 2, 4]), st.integers(2, 40),
       st.integers(1, 3), st.booleans())
def test_activation_closed_form_property(h, a, s, b, dropout):
    cfg, model = _gpt_block(h, a, s, device="meta", dropout=0.1 if dropout else 0.0)
    saved = M.block_saved_activations(model, b, s)
    expected = tm.activation_memory_breakdown(s, b, h, a, dropout=dropout)
    extras = M.activation_extras(cfg, s, b, stats_bytes=4)
    assert saved.total == expected.total + sum(extras.values())


def test_measurement_leaves_no_hooks_and_counts_views_once():
    model = M.build_model(GPT)
    M.block_saved_activations(model, 1, 8)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    # The three projections read the same normalised input: one storage, three labels.
    saved = M.block_saved_activations(model, 1, 8)
    qkv = [t for t in saved.tensors if t.term == "qkv_input"]
    assert len(qkv) == 1 and len(qkv[0].saved_by) == 3


def test_activation_extras_broadcast():
    out = M.activation_extras(GPT, np.array([16, 32]), 2)
    np.testing.assert_array_equal(out["causal_mask"], [256, 1024])
    np.testing.assert_array_equal(out["norm_stats"], [2 * 2 * 4 * 32, 2 * 2 * 4 * 64])
    rms = M.activation_extras(LLAMA, 16, 1)
    assert rms["norm_stats"] == 2 * 1 * 4 * 16  # RMSNorm keeps one statistic


# --- the modern layer and the logits -------------------------------------------------------------

MODERN_GRID = [  # (d_model, n_heads, n_kv_heads, head_dim, d_ff, seq_len, micro_batch)
    (256, 8, 8, 32, 704, 128, 1),  # multi-head attention
    (128, 4, 2, 32, 352, 64, 2),  # grouped-query attention, b > 1
    (256, 8, 2, 32, 704, 64, 3),  # GQA with 4 query heads per KV head
    (192, 6, 1, 32, 512, 96, 2),  # multi-query attention
    (128, 4, 2, 64, 384, 64, 3),  # h_q = 256 != d_model
]


def _modern_cfg(h, a, kv, hd, f, s, **kw):
    return tm.ModelConfig(1, h, a, 97, d_ff=f, n_kv_heads=kv, head_dim=hd, seq_len=s,
                          mlp="swiglu", norm="rmsnorm", bias=False, tied_embeddings=False,
                          position="rope").replace(**kw)


@pytest.mark.parametrize("fused_mlp", [True, False])
@pytest.mark.parametrize(("h", "a", "kv", "hd", "f", "s", "b"), MODERN_GRID)
def test_modern_block_saves_exactly_the_modern_terms(h, a, kv, hd, f, s, b, fused_mlp):
    # fused_mlp=True: the fused SwiGLU (gate, up, product); False: eager, + the SiLU output
    cfg = _modern_cfg(h, a, kv, hd, f, s)
    model = M.build_model(cfg, dtype="bf16", attention="sdpa", fused_norm=True,
                          fused_mlp=fused_mlp)
    saved = M.block_saved_activations(model, b, s)
    formula = tm.layer_activation_breakdown(cfg, s, b, layer="modern", fused_mlp=fused_mlp)
    by_term = saved.by_term("modern")
    for key, value in formula.parts().items():
        assert by_term[key] == value, key  # every term, exactly
    assert by_term["other"] == 0
    assert (by_term["silu_output"] == 0) == fused_mlp
    assert [by_term[k] for k in ("gate_output", "up_output", "down_input")] == [2 * s * b * f] * 3
    # The block computes its rotary cos/sin tables (s x head_dim, bf16, two of them); a
    # model computes them once and shares them by all layers, so the formula leaves them out.
    assert by_term["rope_tables"] == 2 * s * hd * 2
    assert saved.total == formula.total + by_term["rope_tables"]
    assert abs(saved.total / formula.total - 1) < 0.02  # 4 head_dim / (b x bytes per token)


def test_modern_block_measurement_can_fail():
    # The same comparison at fp32 with the bf16 formula, or without GQA in the formula, is off.
    cfg = _modern_cfg(128, 4, 2, 32, 352, 64)
    saved = M.block_saved_activations(
        M.build_model(cfg, dtype="bf16", attention="sdpa", fused_norm=True, fused_mlp=True),
        2, 64)
    net = saved.total - saved.by_term("modern")["rope_tables"]
    assert net == tm.layer_activation_bytes(cfg, 64, 2, layer="modern")
    assert net != tm.layer_activation_bytes(cfg, 64, 2, layer="modern", fused_mlp=False)
    assert net != tm.layer_activation_bytes(cfg.replace(n_kv_heads=4), 64, 2, layer="modern")
    assert net != tm.layer_activation_bytes(cfg, 64, 2, layer="modern", act_bytes=4)
    assert net != tm.layer_activation_bytes(cfg, 64, 2, layer="korthikanti")


@FAST
@given(configs(positions=("learned", "rope")), st.integers(1, 3), st.booleans())
def test_modern_terms_of_random_configs(cfg, b, fused_mlp):
    # fp32, where the CPU LayerNorm keeps its statistics in fp32 as CUDA does
    cfg = cfg.replace(n_layers=1, head_dim=cfg.head_dim + cfg.head_dim % 2)
    model = M.build_model(cfg, dtype="fp32", attention="sdpa", fused_norm=True,
                          fused_mlp=fused_mlp)
    s = cfg.seq_len
    saved = M.block_saved_activations(model, b, s)
    by_term = saved.by_term("modern")
    formula = tm.layer_activation_breakdown(cfg, s, b, layer="modern", act_bytes=4,
                                            fused_mlp=fused_mlp)
    assert {k: by_term[k] for k in formula.parts()} == formula.parts()
    rope = 2 * s * cfg.head_dim * 4 if cfg.position == "rope" else 0
    assert by_term["rope_tables"] == rope and by_term["other"] == 0
    assert saved.total == formula.total + rope


def test_fused_rmsnorm_is_rmsnorm():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 64, dtype=torch.float64)
    plain = torch.nn.RMSNorm(64, eps=1e-5, dtype=torch.float64)
    fused = M.FusedRMSNorm(64, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        plain.weight.uniform_(0.5, 1.5)
        fused.weight.copy_(plain.weight)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = plain(xa), fused(xb)
    torch.testing.assert_close(ya, yb)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(plain.weight.grad, fused.weight.grad)
    assert torch.autograd.gradcheck(lambda t: fused(t), (x[:1, :2].clone().requires_grad_(),))


def _swiglu_inputs(dtype, shape=(3, 5, 16), seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [3 * torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)
            for _ in range(2)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_fused_swiglu_is_swiglu(dtype):
    gate, up = _swiglu_inputs(dtype)
    ge, ue = gate.clone().requires_grad_(), up.clone().requires_grad_()
    gf, uf = gate.clone().requires_grad_(), up.clone().requires_grad_()
    eager = torch.nn.functional.silu(ge) * ue
    fused = M.FusedSwiGLU.apply(gf, uf)
    assert fused.dtype == dtype
    torch.testing.assert_close(fused, eager, rtol=0, atol=0)  # the same forward ops
    grad = torch.randn(eager.shape, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64).to(dtype)
    eager.backward(grad)
    fused.backward(grad)
    assert gf.grad.dtype == uf.grad.dtype == dtype
    if dtype != torch.bfloat16:
        torch.testing.assert_close(gf.grad, ge.grad)
        torch.testing.assert_close(uf.grad, ue.grad)
        return
    # bf16: eager rounds SiLU's output and each product to bf16, the fused backward computes
    # in fp32 and rounds once: within one bf16 rounding (2^-8 relative) of the exact
    # gradient of the same inputs, and within a few roundings of eager PyTorch
    g64, u64 = gate.double().requires_grad_(), up.double().requires_grad_()
    (torch.nn.functional.silu(g64) * u64).backward(grad.double())
    for got, exact, ref in ((gf.grad, g64.grad, ge.grad), (uf.grad, u64.grad, ue.grad)):
        torch.testing.assert_close(got.double(), exact, rtol=2**-8, atol=1e-6)
        torch.testing.assert_close(got, ref, rtol=2**-6, atol=1e-2)


def test_fused_swiglu_gradcheck():
    gate, up = _swiglu_inputs(torch.float64, shape=(2, 3, 4))
    assert torch.autograd.gradcheck(
        M.FusedSwiGLU.apply, (gate.requires_grad_(), up.requires_grad_()))


def test_fused_swiglu_keeps_only_gate_and_up():
    gate, up = (t.requires_grad_() for t in _swiglu_inputs(torch.bfloat16))
    out = M.FusedSwiGLU.apply(gate, up)
    assert type(out.grad_fn).__name__ == "FusedSwiGLUBackward"
    kept = out.grad_fn.saved_tensors
    assert len(kept) == 2 and kept[0] is gate and kept[1] is up
    # in a block: one f-wide bf16 tensor fewer than eager PyTorch, the SiLU output
    cfg = _modern_cfg(128, 4, 2, 32, 352, 64)
    s, b = 64, 2
    kw = dict(dtype="bf16", attention="sdpa", fused_norm=True)
    fused = M.block_saved_activations(M.build_model(cfg, fused_mlp=True, **kw), b, s)
    eager = M.block_saved_activations(M.build_model(cfg, **kw), b, s)
    assert eager.total - fused.total == 2 * s * b * 352
    labels = {t.modern_term: t.saved_by for t in fused.tensors}
    assert labels["gate_output"] == ("FusedSwiGLUBackward.gate",)
    assert labels["up_output"] == ("FusedSwiGLUBackward.up",)
    assert "silu_output" not in labels
    assert "silu_output" in {t.modern_term for t in eager.tensors}


def test_fused_mlp_model_trains_like_the_eager_one():
    cfg = LLAMA.replace(n_layers=1)
    eager = M.build_model(cfg, attention="sdpa", fused_norm=True)
    fused = M.build_model(cfg, attention="sdpa", fused_norm=True, fused_mlp=True)
    assert fused.blocks[0].mlp.fused and not eager.blocks[0].mlp.fused
    assert "fused=True" in repr(fused.blocks[0].mlp)
    idx = torch.randint(0, cfg.vocab_size, (2, 16), generator=torch.Generator().manual_seed(0))
    outs = []
    for model in (eager, fused):
        logits = model(idx)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), idx.flatten()).backward()
        outs.append((logits, {n: p.grad for n, p in model.named_parameters()}))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=0, atol=0)
    for name, grad in outs[0][1].items():
        torch.testing.assert_close(outs[1][1][name], grad, msg=name)
    # a GELU MLP has nothing to fuse: the same module, the same saved tensors
    gpt = M.build_model(GPT, fused_mlp=True)
    assert not gpt.blocks[0].mlp.fused
    assert (M.block_saved_activations(gpt, 2, 16).total
            == M.block_saved_activations(M.build_model(GPT), 2, 16).total)


def test_unfused_rmsnorm_keeps_fp32_copies():
    # nn.RMSNorm on the CPU (like Hugging Face's LlamaRMSNorm) keeps an fp32 copy of its
    # input and its fp32 normalised values: 8h + 4 bytes per token instead of 2h + 4.
    cfg = _modern_cfg(128, 4, 2, 32, 352, 64)
    s, b = 64, 2
    fused = M.block_saved_activations(
        M.build_model(cfg, dtype="bf16", attention="sdpa", fused_norm=True), b, s)
    plain = M.block_saved_activations(M.build_model(cfg, dtype="bf16", attention="sdpa"), b, s)
    assert plain.total - fused.total == 2 * 6 * 128 * s * b
    assert plain.by_term("modern")["attn_norm_input"] == 0  # the bf16 input is not kept


def test_sdpa_keeps_k_and_v_at_the_kv_heads():
    cfg = _modern_cfg(128, 4, 1, 32, 352, 32)
    sdpa = M.block_saved_activations(M.build_model(cfg, attention="sdpa"), 2, 32)
    shapes = {t.modern_term: t.shape for t in sdpa.tensors}
    assert shapes["k"] == shapes["v"] == (2, 1, 32, 32)
    assert shapes["q"] == (2, 4, 32, 32)
    assert shapes["softmax_lse"] == (2, 4, 32)


@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
@pytest.mark.parametrize(("s", "b"), [(64, 1), (32, 3)])
def test_logits_term_measured(dtype, s, b):
    cfg = _modern_cfg(128, 4, 2, 32, 352, 64, vocab_size=1000)
    model = M.build_model(cfg, dtype=dtype, fused_norm=True)
    saved = M.logits_saved_activations(model, b, s)
    act = 2 if dtype == "bf16" else 4
    formula = tm.logits_activation_breakdown(cfg, s, b, act_bytes=act)
    by_term = saved.by_term("logits")
    assert {k: by_term[k] for k in formula.parts()} == formula.parts()
    assert by_term["logits"] == 4 * s * b * 1000  # fp32 log-softmax
    assert by_term["other"] == 4  # the loss's fp32 total weight, a scalar
    assert saved.total == formula.total + 4
    # the 16-bit logits themselves are not kept
    assert not [t for t in saved.tensors if t.shape[-1:] == (1000,) and t.dtype != "float32"]


def test_logits_of_a_layernorm_model():
    cfg = GPT.replace(vocab_size=500)
    saved = M.logits_saved_activations(M.build_model(cfg), 2, 16)
    formula = tm.logits_activation_breakdown(cfg, 16, 2, act_bytes=4)
    assert formula["final_norm_mean"] == 4 * 16 * 2
    assert saved.total == formula.total + 4


# --- optimizer state ----------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [GPT, LLAMA])
def test_adamw_keeps_8_bytes_per_fp32_parameter_plus_step_counters(cfg):
    state = M.measure_optimizer_state(M.build_model(cfg), "adamw", seq_len=16)
    n = tm.param_count(cfg)
    assert state.n_params == n
    assert state.states == {"exp_avg": 4 * n, "exp_avg_sq": 4 * n}
    assert state.step_counters == 4 * state.n_tensors  # one fp32 scalar per tensor
    assert state.optimizer == 8 * n + 4 * state.n_tensors
    assert state.weights == state.gradients == 4 * n
    # Lesson 05's convention: master + momentum + variance = 12; the fp32 weights are the master.
    adamw = tm.OPTIMIZER_STATES["adamw"]
    assert sum(state.states.values()) / n == adamw["momentum"] + adamw["variance"]
    assert (state.weights + sum(state.states.values())) / n == tm.OPTIMIZER_BYTES_PER_PARAM["adamw"]


def test_sgd_momentum_keeps_4_bytes_per_fp32_parameter():
    state = M.measure_optimizer_state(M.build_model(GPT), "sgd-momentum", seq_len=16)
    n = tm.param_count(GPT)
    assert state.states == {"momentum_buffer": 4 * n}
    assert state.step_counters == 0
    assert (state.weights + state.optimizer) / n == tm.OPTIMIZER_BYTES_PER_PARAM["sgd-momentum"]


def test_bf16_parameters_get_bf16_moments_and_no_master_copy():
    state = M.measure_optimizer_state(M.build_model(GPT, dtype="bf16"), "adamw", seq_len=16)
    per = state.per_param()
    assert per["weights"] == per["gradients"] == per["exp_avg"] == per["exp_avg_sq"] == 2
    assert state.step_counters == 4 * state.n_tensors


def test_tied_parameter_is_one_optimizer_entry():
    model = M.build_model(GPT)
    state = M.measure_optimizer_state(model, "sgd-momentum", seq_len=8)
    assert state.n_tensors == len(list(model.parameters()))
    assert all(p.grad is None for p in model.parameters())  # grads released afterwards


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"cfg": "gpt2"}, TypeError, "cfg"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"dropout": -0.1}, ValueError, "dropout"),
        ({"dtype": "int8"}, ValueError, "dtype"),
        ({"dtype": torch.int32}, ValueError, "dtype"),
        ({"device": "nowhere"}, ValueError, "device"),
        ({"attention": "flash"}, ValueError, "attention"),
        ({"fused_dropout": "yes"}, TypeError, "fused_dropout"),
        ({"fused_mlp": 1}, TypeError, "fused_mlp"),
        ({"seed": -1}, ValueError, "seed"),
        ({"cfg": GPT.replace(position="rope", head_dim=15)}, ValueError, "head_dim"),
    ],
)
def test_build_model_rejects_bad_input(kwargs, exc, word):
    args = {"cfg": GPT, **kwargs}
    cfg = args.pop("cfg")
    with pytest.raises(exc, match=word):
        M.build_model(cfg, **args)


def test_measurements_reject_bad_input():
    model = M.build_model(GPT)
    with pytest.raises(ValueError, match="batch"):
        M.measure_flops(model, 0)
    with pytest.raises(ValueError, match="seq_len"):
        M.measure_flops(model, 1, GPT.seq_len + 1)
    with pytest.raises(TypeError, match="model"):
        M.measure_flops(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="model"):
        M.count_params("gpt2")
    with pytest.raises(ValueError, match="block"):
        M.block_saved_activations(model, 1, 8, block=GPT.n_layers)
    with pytest.raises(TypeError, match="module"):
        M.measure_saved_activations("block", torch.zeros(1))
    with pytest.raises(TypeError, match=r"inputs\[0\]"):
        M.measure_saved_activations(model.blocks[0], [1, 2])
    with pytest.raises(ValueError, match="optimizer"):
        M.measure_optimizer_state(model, "lion")
    with pytest.raises(ValueError, match="lr"):
        M.measure_optimizer_state(model, lr=0)
    with pytest.raises(ValueError, match="stats_bytes"):
        M.activation_extras(GPT, 8, 1, stats_bytes=0)
    with pytest.raises(ValueError, match="micro_batch"):
        M.activation_extras(GPT, 8, 0)
    with pytest.raises(ValueError, match="idx"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match="cfg"):
        M.measure_config_flops(model)


def test_import_trainmath_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, trainmath; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
