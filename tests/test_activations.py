"""Tests of trainmath.activations: Korthikanti et al. 2022's activation memory, term by term."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

LAYOUTS = [(t, sp) for t in (1, 2, 4, 8) for sp in (False, True)]

# Korthikanti et al. 2022, Table 2, with s, b, h, a, t chosen to avoid accidental equalities.
S, B, H, A, T = 2048, 4, 12288, 96, 8
SBH = S * B * H
ints = st.integers(1, 4096)


# --- per layer: Korthikanti et al. 2022, Table 2 -------------------------------------------------


@pytest.mark.parametrize(
    "tp,sp,rc,expected",
    [
        (1, False, "none", SBH * (34 + 5 * A * S / H)),
        (T, False, "none", SBH * (10 + 24 / T + 5 * A * S / (H * T))),
        (T, True, "none", SBH * (34 / T + 5 * A * S / (H * T))),
        (T, False, "selective", SBH * (10 + 24 / T)),
        (T, True, "selective", SBH * 34 / T),
        (1, False, "full", 2 * SBH),
        (T, False, "full", 2 * SBH),
    ],
)
def test_korthikanti_table2(tp, sp, rc, expected):
    got = tm.activation_memory_per_layer(S, B, H, A, tp=tp, sequence_parallel=sp, recompute=rc)
    assert got == pytest.approx(expected, rel=1e-12)


def test_korthikanti_gpt3_numbers():
    # GPT-3: 5as/h = 80; selective recomputation saves ~70 % of activation memory (t = 8, SP).
    assert 5 * 96 * 2048 / 12288 == 80
    full = tm.activation_memory_per_layer(2048, 1, 12288, 96, tp=8, sequence_parallel=True)
    sel = tm.activation_memory_per_layer(2048, 1, 12288, 96, tp=8, sequence_parallel=True,
                                         recompute="selective")
    assert 1 - sel / full == pytest.approx(0.70, abs=0.01)


def test_seed_001_activation_example_is_wrong():
    # Seed 001 prints ~67.51 GB for s=128, b=512, h=4096, L=24, a=16; its inputs give ~235 GB.
    per_layer = tm.activation_memory_per_layer(128, 512, 4096, 16)
    assert 24 * per_layer / 1e9 == pytest.approx(235.15, rel=1e-3)


def test_activation_term_by_term():
    s, b, h, a = 1024, 2, 1024, 16
    attention = 11 * s * b * h + 5 * a * s * s * b
    mlp = 19 * s * b * h
    norms = 4 * s * b * h
    assert tm.activation_memory_per_layer(s, b, h, a) == attention + mlp + norms


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


def test_per_layer_scalar_and_array_calls_agree():
    s = np.array([128, 1024, 8192])
    mem = tm.activation_memory_per_layer(s, 2, 4096, 32)
    assert np.allclose(mem, [tm.activation_memory_per_layer(int(x), 2, 4096, 32) for x in s])


# --- the breakdown -------------------------------------------------------------------------------


def test_terms_are_korthikanti_section_4_1():
    # Attention 11sbh + 5as^2b, MLP 19sbh, LayerNorms 4sbh; 24 sbh split by TP, 10 not.
    terms = tm.ACTIVATION_TERMS
    assert len(terms) == 14
    sbh = {k: t.values * (1 if t.mask else 2) for k, t in terms.items() if t.shape == "sbh"}
    scores = {k: t.values * (1 if t.mask else 2) for k, t in terms.items() if t.shape == "as2b"}
    by_block = {
        block: sum(n for k, n in sbh.items() if terms[k].block == block)
        for block in ("attention", "MLP", "LayerNorm")
    }
    assert by_block == {"attention": 11, "MLP": 19, "LayerNorm": 4}
    assert sum(sbh.values()) == 34 and sum(scores.values()) == 5
    assert sum(n for k, n in sbh.items() if terms[k].tp_split) == 24
    assert all(terms[k].tp_split for k in scores)
    assert [t.formula() for t in terms.values()] == [
        "2sbh", "2sbh", "4sbh", "2as²b", "as²b", "2as²b", "2sbh", "2sbh", "sbh", "2sbh",
        "2sbh", "8sbh", "8sbh", "sbh",
    ]
    assert terms["fc1_output"].formula(act_bytes=4) == "16sbh"
    assert terms["mlp_dropout_mask"].formula(act_bytes=4) == "sbh"


def test_breakdown_sums_exactly_to_the_per_layer_formula_at_t1():
    # Powers of two keep every float exact, so the sum must be equal, not just close.
    for s, b, h, a in [(1024, 2, 1024, 16), (128, 512, 4096, 16), (2048, 1, 12288, 96)]:
        for rc in tm.RECOMPUTE:
            d = tm.activation_memory_breakdown(s, b, h, a, recompute=rc)
            assert list(d) == [*tm.ACTIVATION_TERMS, "total"]
            assert d.total == tm.activation_memory_per_layer(s, b, h, a, recompute=rc)


@pytest.mark.parametrize(("tp", "sp"), LAYOUTS)
@pytest.mark.parametrize("rc", ["none", "selective", "full"])
def test_breakdown_sums_to_table2_under_parallelism(tp, sp, rc):
    d = tm.activation_memory_breakdown(2048, 1, 12288, 96, tp=tp, sequence_parallel=sp,
                                       recompute=rc)
    expected = tm.activation_memory_per_layer(2048, 1, 12288, 96, tp=tp, sequence_parallel=sp,
                                              recompute=rc)
    assert d.total == pytest.approx(expected, rel=1e-12)


def test_breakdown_gpt3_values_by_hand():
    s, b, h, a = 2048, 1, 12288, 96
    d = tm.activation_memory_breakdown(s, b, h, a)
    assert d["softmax_output"] == 2 * a * s * s * b == 805_306_368
    assert d["softmax_dropout_mask"] == a * s * s * b
    assert d["fc1_output"] == d["gelu_output"] == 8 * s * b * h
    assert d["projection_dropout_mask"] == s * b * h
    # Korthikanti et al. 2022, Sec. 4.1: 5as/h = 80 for GPT-3.
    scores = d["softmax_output"] + d["softmax_dropout_mask"] + d["softmax_dropout_output"]
    assert scores / (s * b * h) == 80


def test_full_recompute_keeps_only_the_layer_input():
    for sp, t in [(False, 8), (True, 8)]:
        d = tm.activation_memory_breakdown(2048, 1, 12288, 96, tp=t, sequence_parallel=sp,
                                           recompute="full")
        assert [k for k, x in d.parts().items() if x] == ["attn_norm_input"]
        assert d["attn_norm_input"] == 2 * 2048 * 12288 / (t if sp else 1)


def test_selective_drops_exactly_the_scores():
    none = tm.activation_memory_breakdown(4096, 2, 4096, 32, tp=4, sequence_parallel=True)
    sel = tm.activation_memory_breakdown(4096, 2, 4096, 32, tp=4, sequence_parallel=True,
                                         recompute="selective")
    for key, term in tm.ACTIVATION_TERMS.items():
        assert sel[key] == (0 if term.shape == "as2b" else none[key])


def test_fp32_activations_and_no_dropout():
    s, b, h, a = 128, 512, 4096, 16
    sbh = s * b * h
    # 16 values per sbh at 4 bytes + two 1-byte masks; scores 2 values at 4 B + 1-byte mask.
    fp32 = tm.activation_memory_breakdown(s, b, h, a, act_bytes=4)
    assert fp32.total == sbh * (66 + 9 * a * s / h)
    # Without dropout: no masks and no separate dropout output: sbh(32 + 2as/h).
    nodrop = tm.activation_memory_breakdown(s, b, h, a, dropout=False)
    assert nodrop.total == sbh * (32 + 2 * a * s / h)
    assert nodrop["softmax_dropout_output"] == nodrop["mlp_dropout_mask"] == 0


def test_seed_001_example_gives_235_gb_not_67_51():
    # Seed 001: s=128, b=512, h=4096, L=24, a=16, t=1 printed "~67.51 GB".
    total = 24 * tm.activation_memory_breakdown(128, 512, 4096, 16).total
    assert total == 128 * 512 * 4096 * 24 * 36.5 == 235_149_459_456
    # Neither the printed expression (s left out), nor GiB, nor one layer, nor the formula
    # without the score term gives 67.51.
    for wrong in (total / 128, total / 2**30, total / 24, 128 * 512 * 4096 * 24 * 34 / 1e9):
        assert abs(wrong / (1e9 if wrong > 1e6 else 1) - 67.51) > 1


def test_breakdown_broadcasts():
    s = np.array([512, 2048, 8192])
    d = tm.activation_memory_breakdown(s, 1, 4096, 32, tp=2, sequence_parallel=True)
    for key, arr in d.items():
        assert arr.shape == (3,)
        one = tm.activation_memory_breakdown(2048, 1, 4096, 32, tp=2, sequence_parallel=True)
        assert arr[1] == pytest.approx(one[key])


# --- saving and crossover ------------------------------------------------------------------------


def test_selective_saves_70_percent_for_gpt3():
    # Korthikanti et al. 2022, Sec. 5: selective recomputation saves 70 % at GPT-3 size.
    saving = tm.selective_recompute_saving(2048, 12288, 96, tp=8, sequence_parallel=True)
    assert saving == pytest.approx(80 / 114)
    assert round(saving, 2) == 0.70
    assert tm.selective_recompute_saving(2048, 12288, 96) == pytest.approx(saving)
    # Without SP the unsplit 10 sbh dilutes the saving: 10/(10 + 3 + 10).
    assert tm.selective_recompute_saving(2048, 12288, 96, tp=8) == pytest.approx(10 / 23)


def test_crossover_is_6_8_head_dims():
    assert tm.attention_score_crossover(12288, 96) == pytest.approx(6.8 * 128)
    assert tm.attention_score_crossover(12288, 96, tp=8, sequence_parallel=True) == (
        pytest.approx(870.4))
    assert tm.attention_score_crossover(12288, 96, tp=8) == pytest.approx(13 * 12288 * 8 / 480)
    # At the crossover the saving is exactly one half.
    for t, sp in LAYOUTS:
        s = tm.attention_score_crossover(4096, 32, tp=t, sequence_parallel=sp)
        if float(s).is_integer():
            assert tm.selective_recompute_saving(int(s), 4096, 32, tp=t,
                                                 sequence_parallel=sp) == pytest.approx(0.5)


# --- properties ----------------------------------------------------------------------------------


layouts = st.sampled_from(LAYOUTS)
recomputes = st.sampled_from(["none", "selective", "full"])


@given(st.integers(1, 65536), st.integers(1, 64), st.sampled_from([64, 128]),
       st.sampled_from([8, 16, 32]), layouts, recomputes)
def test_breakdown_always_sums_to_the_formula(s, b, hd, a, layout, rc):
    t, sp = layout
    h = a * hd
    d = tm.activation_memory_breakdown(s, b, h, a, tp=t, sequence_parallel=sp, recompute=rc)
    assert all(x >= 0 for x in d.values())
    expected = tm.activation_memory_per_layer(s, b, h, a, tp=t, sequence_parallel=sp,
                                              recompute=rc)
    assert d.total == pytest.approx(expected, rel=1e-12)


@given(st.integers(1, 65536), st.integers(1, 64), st.sampled_from([8, 16, 32]), layouts)
def test_breakdown_linear_in_b_and_sbh_terms_linear_in_s(s, b, a, layout):
    t, sp = layout
    h = 128 * a
    one = tm.activation_memory_breakdown(s, 1, h, a, tp=t, sequence_parallel=sp)
    many = tm.activation_memory_breakdown(s, b, h, a, tp=t, sequence_parallel=sp)
    double = tm.activation_memory_breakdown(2 * s, 1, h, a, tp=t, sequence_parallel=sp)
    for key, term in tm.ACTIVATION_TERMS.items():
        assert many[key] == pytest.approx(b * one[key])
        growth = 2 if term.shape == "sbh" else 4
        assert double[key] == pytest.approx(growth * one[key])


@given(st.integers(1, 1 << 20), st.sampled_from([8, 16, 32, 64]), layouts)
def test_saving_is_a_share_that_grows_with_s_and_crosses_half_at_crossover(s, a, layout):
    t, sp = layout
    h = 128 * a
    saving = tm.selective_recompute_saving(s, h, a, tp=t, sequence_parallel=sp)
    assert 0 < saving < 1
    assert tm.selective_recompute_saving(s + 1, h, a, tp=t, sequence_parallel=sp) > saving
    crossover = tm.attention_score_crossover(h, a, tp=t, sequence_parallel=sp)
    assert (saving > 0.5) == (s > crossover) or s == pytest.approx(crossover)


# --- a ModelConfig's layer: Korthikanti's and the modern one -------------------------------------

LLAMA3_8B = tm.MODELS["llama-3-8b"]
LLAMA3_405B = tm.MODELS["llama-3.1-405b"]


def _per_token_modern(cfg, act=2, fused_mlp=True):
    """Bytes per token of the modern SwiGLU/RMSNorm layer at t = 1, written out by hand."""
    h, hq, hkv, f, a = cfg.d_model, cfg.attn_dim, cfg.kv_dim, cfg.d_ff, cfg.n_heads
    norms = 2 * (act * h + 4)  # two RMSNorms: input + fp32 1/rms
    linear_inputs = act * h + act * h  # Q/K/V input, gate/up input
    attention = act * hq + 2 * act * hkv + act * hq + 4 * a  # Q, K, V, output, fp32 lse
    # fused SwiGLU: gate out, up out, product; eager PyTorch also keeps the SiLU output
    mlp = (3 if fused_mlp else 4) * act * f
    return norms + linear_inputs + attention + mlp


def test_modern_terms_table():
    terms = tm.MODERN_ACTIVATION_TERMS
    assert set(terms) >= {"attn_norm_input", "attn_norm_rstd", "qkv_input", "q", "k", "v",
                          "attention_output", "softmax_lse", "mlp_norm_input", "mlp_norm_rstd",
                          "mlp_input", "gate_output", "silu_output", "up_output", "down_input"}
    assert all(t.shape in tm.ACTIVATION_UNITS for t in (*terms.values(),
                                                        *tm.ACTIVATION_TERMS.values(),
                                                        *tm.LOGITS_TERMS.values()))
    assert not any(t.shape == "as2b" or t.dropout or t.mask for t in terms.values())
    assert [k for k, t in terms.items() if t.selective] == ["softmax_lse"]
    # one term exists only with an eager (unfused) SwiGLU: the SiLU output
    assert [k for k, t in terms.items() if t.unfused_mlp] == ["silu_output"]
    assert not any(t.unfused_mlp for t in (*tm.ACTIVATION_TERMS.values(),
                                           *tm.LOGITS_TERMS.values()))
    assert {k for k, t in terms.items() if not t.tp_split} == {
        "attn_norm_input", "attn_norm_mean", "attn_norm_rstd", "qkv_input", "mlp_norm_input",
        "mlp_norm_mean", "mlp_norm_rstd", "mlp_input"}
    assert {k: t.formula() for k, t in terms.items()} == {
        "attn_norm_input": "2sbh", "attn_norm_mean": "4sb", "attn_norm_rstd": "4sb",
        "qkv_input": "2sbh", "q": "2sbh_q", "k": "2sbh_kv", "v": "2sbh_kv",
        "attention_output": "2sbh_q", "softmax_lse": "4sba", "mlp_norm_input": "2sbh",
        "mlp_norm_mean": "4sb", "mlp_norm_rstd": "4sb", "mlp_input": "2sbh",
        "gate_output": "2sbf", "silu_output": "2sbf", "up_output": "2sbf", "down_input": "2sbf",
    }
    # fp32 statistics stay 4 bytes with fp32 activations; Korthikanti's terms unchanged
    assert terms["softmax_lse"].formula(act_bytes=4) == "4sba"
    assert terms["q"].formula(act_bytes=4) == "4sbh_q"
    assert tm.LOGITS_TERMS["logits"].formula() == "4sbV"
    assert tm.LOGITS_TERMS["targets"].formula() == "8sb"


@pytest.mark.parametrize("fused_mlp", [True, False])
@pytest.mark.parametrize("name", ["llama-3-8b", "llama-2-7b", "llama-3.1-405b", "mistral-7b"])
def test_modern_layer_by_hand(name, fused_mlp):
    cfg = tm.MODELS[name]
    s, b = 4096, 2
    m = tm.layer_activation_breakdown(cfg, s, b, layer="modern", fused_mlp=fused_mlp)
    assert list(m) == [*tm.MODERN_ACTIVATION_TERMS, "total"]
    assert m.total == s * b * _per_token_modern(cfg, fused_mlp=fused_mlp)  # exact
    assert m["attn_norm_mean"] == m["mlp_norm_mean"] == 0  # RMSNorm keeps no mean
    assert m["k"] == m["v"] == 2 * s * b * cfg.kv_dim  # K and V at n_kv_heads
    assert m["silu_output"] == (0 if fused_mlp else 2 * s * b * cfg.d_ff)
    assert tm.layer_activation_bytes(cfg, s, b, layer="modern",
                                     fused_mlp=fused_mlp) == m.total
    if fused_mlp:  # the default: fused, as at scale
        assert dict(tm.layer_activation_breakdown(cfg, s, b, layer="modern")) == dict(m)
        assert tm.layer_activation_bytes(cfg, s, b) == m.total  # rotary -> modern by default


def test_llama3_8b_is_34_sbh_against_korthikantis_354():
    s, h = 8192, 4096
    modern = tm.layer_activation_bytes(LLAMA3_8B, s, layer="modern")
    assert modern / (s * h) == pytest.approx(34.033, abs=1e-3)  # fused SwiGLU
    eager = tm.layer_activation_bytes(LLAMA3_8B, s, layer="modern", fused_mlp=False)
    assert eager / (s * h) == pytest.approx(41.033, abs=1e-3)
    assert eager - modern == 2 * s * 14336  # the SiLU output, 2 s b f
    gpt = tm.layer_activation_bytes(LLAMA3_8B, s, layer="korthikanti")
    assert gpt == s * h * (34 + 5 * 32 * s / h) == tm.activation_memory_per_layer(s, 1, h, 32)


@pytest.mark.parametrize(("tp", "sp"), LAYOUTS)
@pytest.mark.parametrize("rc", ["none", "selective", "full"])
@pytest.mark.parametrize("name", ["gpt2-medium", "gpt3-175b"])
def test_korthikanti_layer_of_a_config_is_table2_exactly(name, tp, sp, rc):
    cfg = tm.MODELS[name]
    s, b = 2048, 3
    got = tm.layer_activation_bytes(cfg, s, b, tp=tp, sequence_parallel=sp, recompute=rc,
                                    layer="korthikanti")
    expected = tm.activation_memory_per_layer(s, b, cfg.d_model, cfg.n_heads, tp=tp,
                                              sequence_parallel=sp, recompute=rc)
    assert got == expected  # exactly
    for fused_mlp in (True, False):  # the modern layer's switch leaves Korthikanti alone
        assert tm.layer_activation_bytes(cfg, s, b, tp=tp, sequence_parallel=sp,
                                         recompute=rc, layer="korthikanti",
                                         fused_mlp=fused_mlp) == expected
    assert tm.layer_activation_bytes(cfg, s, b, tp=tp, sequence_parallel=sp,
                                     recompute=rc) == expected  # the default for GPT-style
    d = tm.layer_activation_breakdown(cfg, s, b, tp=tp, sequence_parallel=sp, recompute=rc,
                                      layer="korthikanti")
    assert list(d) == [*tm.ACTIVATION_TERMS, "total"]
    assert d.total == pytest.approx(expected, rel=1e-12)


def test_default_layer_rule():
    assert {name: tm.default_activation_layer(cfg) for name, cfg in tm.MODELS.items()} == {
        name: ("modern" if cfg.position == "rope" else "korthikanti")
        for name, cfg in tm.MODELS.items()
    }
    assert tm.default_activation_layer(tm.MODELS["gpt3-175b"]) == "korthikanti"
    assert tm.default_activation_layer(tm.MODELS["chinchilla-70b"]) == "korthikanti"
    assert tm.default_activation_layer(LLAMA3_405B) == "modern"


@pytest.mark.parametrize(("tp", "sp"), LAYOUTS)
def test_modern_layer_tensor_and_sequence_parallel(tp, sp):
    cfg = LLAMA3_405B
    s, b = 8192, 1
    one = tm.layer_activation_breakdown(cfg, s, b, layer="modern")
    split = tm.layer_activation_breakdown(cfg, s, b, tp=tp, sequence_parallel=sp,
                                          layer="modern")
    for key, term in tm.MODERN_ACTIVATION_TERMS.items():
        assert split[key] == one[key] / (tp if term.tp_split or sp else 1), key
    # whole on every rank without SP: the norms and the two shared linear inputs, 8h + 8
    whole = s * b * (8 * cfg.d_model + 8)
    assert split.total == pytest.approx(
        (one.total - whole) / tp + (whole / tp if sp else whole), rel=1e-12)


def test_llama3_405b_layer_at_tp8_with_sp():
    # per token, fused SwiGLU: (8h + 4h_q + 4h_kv + 6f + 4a + 8) / 8 = 520,712 / 8 bytes;
    # x 8192 tokens. Eager SwiGLU: 8f instead of 6f, 627,208 / 8.
    cfg = LLAMA3_405B
    per_token = 8 * 16384 + 4 * 16384 + 4 * 1024 + 6 * 53248 + 4 * 128 + 8
    assert per_token == 520_712
    got = tm.layer_activation_bytes(cfg, 8192, 1, tp=8, sequence_parallel=True)
    assert got == 8192 * per_token / 8 == 533_209_088
    eager = tm.layer_activation_bytes(cfg, 8192, 1, tp=8, sequence_parallel=True,
                                      fused_mlp=False)
    assert eager == 8192 * (per_token + 2 * 53248) / 8 == 642_260_992


def test_modern_recomputation():
    cfg = LLAMA3_8B
    kw = dict(tp=4, sequence_parallel=True, layer="modern")
    none = tm.layer_activation_breakdown(cfg, 8192, 2, **kw)
    sel = tm.layer_activation_breakdown(cfg, 8192, 2, recompute="selective", **kw)
    full = tm.layer_activation_breakdown(cfg, 8192, 2, recompute="full", **kw)
    # selective recomputation frees only FlashAttention's logsumexp: 4a of 34h bytes per
    # token, 0.09 % of the layer
    assert none.total - sel.total == none["softmax_lse"] == 4 * 32 * 8192 * 2 / 4
    assert 1 - sel.total / none.total == pytest.approx(128 / 139_400, rel=1e-9)
    assert 1 - sel.total / none.total < 0.001
    assert [k for k, x in full.parts().items() if x] == ["attn_norm_input"]
    assert full.total == 2 * 8192 * 2 * 4096 / 4
    # the GPT layer's selective saving, for contrast: most of the layer
    gpt = tm.selective_recompute_saving(8192, 4096, 32, tp=4, sequence_parallel=True)
    assert gpt > 0.85


def test_modern_layer_follows_the_config():
    base = tm.ModelConfig(1, 512, 8, 1000, d_ff=1536, n_kv_heads=2, mlp="swiglu",
                          norm="rmsnorm", bias=False, position="rope")
    sw = tm.layer_activation_breakdown(base, 128, 2)
    gelu = tm.layer_activation_breakdown(base.replace(mlp="gelu"), 128, 2)
    assert gelu["gate_output"] == gelu["silu_output"] == 0
    assert sw.total - gelu.total == 2 * 128 * 2 * 1536  # one f-wide tensor fewer (fused)
    eager = tm.layer_activation_breakdown(base, 128, 2, fused_mlp=False)
    assert eager.total - gelu.total == 2 * 2 * 128 * 2 * 1536  # two fewer than eager SwiGLU
    # a GeLU MLP keeps up_output and down_input, fused or not
    assert dict(tm.layer_activation_breakdown(base.replace(mlp="gelu"), 128, 2,
                                              fused_mlp=False)) == dict(gelu)
    ln = tm.layer_activation_breakdown(base.replace(norm="layernorm"), 128, 2)
    assert ln.total - sw.total == 2 * 4 * 128 * 2  # an fp32 mean per token and norm
    wide = tm.layer_activation_breakdown(base.replace(head_dim=128), 128, 2)  # h_q = 1024
    assert wide["q"] == wide["attention_output"] == 2 * 128 * 2 * 1024
    assert wide["k"] == 2 * 128 * 2 * 256
    fp32 = tm.layer_activation_breakdown(base, 128, 2, act_bytes=4)
    assert fp32["softmax_lse"] == sw["softmax_lse"] and fp32["q"] == 2 * sw["q"]


def test_modern_layer_broadcasts():
    s = np.array([1024, 4096, 8192])
    d = tm.layer_activation_breakdown(LLAMA3_8B, s, 1, tp=2, sequence_parallel=True)
    for key, arr in d.items():
        assert np.shape(arr) == (3,)
        one = tm.layer_activation_breakdown(LLAMA3_8B, 4096, 1, tp=2, sequence_parallel=True)
        assert arr[1] == pytest.approx(one[key])
    assert np.shape(tm.layer_activation_bytes(LLAMA3_8B, 4096, np.array([1, 2]))) == (2,)


def test_logits_term_is_4_2_gb_per_8k_sequence_at_llama3_vocab():
    m = tm.logits_activation_breakdown(LLAMA3_8B, 8192)
    assert list(m) == [*tm.LOGITS_TERMS, "total"]
    assert m["logits"] == 4 * 8192 * 128_256 == 4_202_692_608  # one fp32 copy
    assert m["targets"] == 8 * 8192
    assert m["final_norm_input"] == m["head_input"] == 2 * 8192 * 4096
    assert m["final_norm_rstd"] == 4 * 8192 and m["final_norm_mean"] == 0
    assert m.total == tm.logits_activation_bytes(LLAMA3_8B, 8192)
    assert round(m.total / 1e9, 3) == 4.337


@pytest.mark.parametrize(("tp", "sp"), LAYOUTS)
def test_logits_split_over_the_vocabulary(tp, sp):
    one = tm.logits_activation_breakdown(LLAMA3_405B, 8192, 2)
    split = tm.logits_activation_breakdown(LLAMA3_405B, 8192, 2, tp=tp, sequence_parallel=sp)
    assert split["logits"] == one["logits"] / tp
    assert split["targets"] == one["targets"]  # every rank needs all targets
    for key in ("final_norm_input", "final_norm_rstd", "head_input"):
        assert split[key] == one[key] / (tp if sp else 1)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tm.activation_memory_per_layer(2048, 1, 4096, 32, tp=3), "tp must divide"),
        (lambda: tm.activation_memory_per_layer(2048, 1, 4096, 32, recompute="some"), "recompute"),
        (lambda: tm.activation_memory_per_layer(0, 1, 4096, 32), "seq_len"),
        (lambda: tm.activation_memory_per_layer(2048, 1.5, 4096, 32), "micro_batch"),
        (lambda: tm.activation_memory_per_layer(2048, 1, 4096, 32, sequence_parallel=1),
         "sequence_parallel"),
        (lambda: tm.activation_memory_breakdown(0, 1, 4096, 32), "seq_len"),
        (lambda: tm.activation_memory_breakdown(2048, 0, 4096, 32), "micro_batch"),
        (lambda: tm.activation_memory_breakdown(2048, 1, 4096.5, 32), "d_model"),
        (lambda: tm.activation_memory_breakdown(2048, 1, 4096, 32, tp=3), "tp must divide"),
        (lambda: tm.activation_memory_breakdown(2048, 1, 4096, 32, recompute="half"),
         "recompute"),
        (lambda: tm.activation_memory_breakdown(2048, 1, 4096, 32, act_bytes=0), "act_bytes"),
        (lambda: tm.activation_memory_breakdown(2048, 1, 4096, 32, dropout=0), "dropout"),
        (lambda: tm.activation_memory_breakdown(2048, 1, 4096, 32, sequence_parallel="yes"),
         "sequence_parallel"),
        (lambda: tm.selective_recompute_saving(-1, 4096, 32), "seq_len"),
        (lambda: tm.selective_recompute_saving(2048, 4096, 32, tp=5), "tp must divide"),
        (lambda: tm.attention_score_crossover(4096, 0), "n_heads"),
        (lambda: tm.attention_score_crossover(4096, 32, tp=3), "tp must divide"),
        (lambda: tm.attention_score_crossover(4096, 32, sequence_parallel=1),
         "sequence_parallel"),
        (lambda: tm.layer_activation_bytes(LLAMA3_8B, layer="flash"), "layer must be one of"),
        (lambda: tm.layer_activation_bytes("llama-3-8b"), "cfg must be a trainmath.ModelConfig"),
        (lambda: tm.layer_activation_bytes(LLAMA3_8B, tp=16), "tp must divide n_kv_heads"),
        (lambda: tm.layer_activation_bytes(LLAMA3_8B, tp=64, layer="korthikanti"),
         "tp must divide n_heads"),
        (lambda: tm.layer_activation_bytes(tm.MODELS["chinchilla-70b"], layer="modern"),
         "relative"),
        (lambda: tm.layer_activation_breakdown(LLAMA3_8B, 0), "seq_len"),
        (lambda: tm.layer_activation_breakdown(LLAMA3_8B, 8, recompute="all"), "recompute"),
        (lambda: tm.layer_activation_breakdown(LLAMA3_8B, 8, act_bytes=0), "act_bytes"),
        (lambda: tm.layer_activation_breakdown(LLAMA3_8B, 8, fused_mlp=1),
         "fused_mlp must be True or False"),
        (lambda: tm.layer_activation_bytes(LLAMA3_8B, 8, fused_mlp="no"),
         "fused_mlp must be True or False"),
        (lambda: tm.logits_activation_bytes(LLAMA3_8B, 8, 0), "micro_batch"),
        (lambda: tm.logits_activation_bytes(LLAMA3_8B, 8, sequence_parallel="no"),
         "sequence_parallel"),
        (lambda: tm.default_activation_layer(None), "cfg"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
