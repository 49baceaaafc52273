"""Lesson 06 additions to trainmath.activations: the term-by-term breakdown of a layer's
activations, the selective-recomputation saving, the score crossover length and the FLOPs
overhead of recomputation (Korthikanti et al. 2022, arXiv:2205.05198)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainmath as tm

settings.register_profile("course", max_examples=60, deadline=None)
settings.load_profile("course")

GPT3 = tm.MODELS["gpt3-175b"]  # Brown et al. 2020, Table 2.1: L 96, h 12288, a 96, s 2048
LAYOUTS = [(t, sp) for t in (1, 2, 4, 8) for sp in (False, True)]


# --- the breakdown ------------------------------------------------------------------------


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


# --- saving, crossover, FLOPs ---------------------------------------------------------------


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


def test_recompute_overhead_two_conventions_for_gpt3():
    # Korthikanti et al. 2022 quote 2.7 % for selective recomputation: the whole attention
    # term s/(6h) of Eq. 7 again. The forward QK^T and AV redone are a third of that: 0.9 %.
    paper = tm.recompute_flops_overhead(GPT3, 2048, "selective", convention="korthikanti")
    redone = tm.recompute_flops_overhead(GPT3, 2048, "selective")
    assert paper == pytest.approx(0.027, abs=5e-4)
    s_6h = 2048 / (6 * 12288)
    assert paper == pytest.approx(s_6h / (1 + s_6h + 50257 / (12 * 12288 * 96)))
    assert redone == pytest.approx(0.009, abs=5e-4)
    assert redone == pytest.approx(
        tm.recompute_flops_per_token(GPT3, 2048, "selective") / tm.flops_per_token(GPT3, 2048))
    # Full recomputation: one more forward of the layers, about a third (96/72 - 1).
    for convention in tm.RECOMPUTE_CONVENTIONS:
        full = tm.recompute_flops_overhead(GPT3, 2048, "full", convention=convention)
        assert full == pytest.approx(1 / 3, abs=0.01)
        assert tm.recompute_flops_overhead(GPT3, 2048, "none", convention=convention) == 0


def test_recompute_overhead_broadcasts_and_grows_with_s():
    s = np.array([1024, 4096, 16384])
    over = tm.recompute_flops_overhead(GPT3, s)
    assert over.shape == (3,) and np.all(np.diff(over) > 0)
    assert over[1] == pytest.approx(tm.recompute_flops_overhead(GPT3, 4096))


@pytest.mark.parametrize(
    ("call", "words"),
    [
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
        (lambda: tm.recompute_flops_overhead("gpt3-175b"), "cfg"),
        (lambda: tm.recompute_flops_overhead(GPT3, 0), "seq_len"),
        (lambda: tm.recompute_flops_overhead(GPT3, recompute="some"), "recompute"),
        (lambda: tm.recompute_flops_overhead(GPT3, convention="paper"), "convention"),
    ],
)
def test_bad_input(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()


# --- properties -----------------------------------------------------------------------------

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


@given(st.integers(128, 1 << 17))
def test_paper_convention_is_about_three_times_the_work_redone(s):
    paper = tm.recompute_flops_overhead(GPT3, s, convention="korthikanti")
    redone = tm.recompute_flops_overhead(GPT3, s)
    assert 0 < redone < paper
    # Both are the same attention work, counted once (forward) or three times (fwd + bwd);
    # the denominators differ slightly (PaLM's 6N with LM head vs Eq. 7), hence the tolerance.
    assert paper / redone == pytest.approx(3, rel=0.05)
