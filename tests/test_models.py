"""Tests of trainmath.models: exact parameter counts, closed forms, presets, shape helpers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainmath as tm

# --- exact counts and closed forms ---------------------------------------------------------------

# Reference-figures Sec. 4 (bold entries) and the released checkpoints' sum(p.numel()).
EXACT = {
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "llama-3-70b": 70_553_706_496,
    "llama-3.1-405b": 405_853_388_800,
    "mistral-7b": 7_241_732_096,
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_param_count_exact(name):
    assert tm.param_count(tm.MODELS[name]) == EXACT[name]


def gpt2_closed_form(L, d, V=50257, ctx=1024):
    return V * d + ctx * d + L * (12 * d * d + 13 * d) + 2 * d


def llama_closed_form(d, d_ff, L, H, kv, V):
    hd = d // H
    per_layer = d * (H * hd) + 2 * d * (kv * hd) + (H * hd) * d + 3 * d * d_ff + 2 * d
    return 2 * V * d + L * per_layer + d


@pytest.mark.parametrize("name", ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3-175b"])
def test_gpt_family_matches_closed_form(name):
    cfg = tm.MODELS[name]
    assert tm.param_count(cfg) == gpt2_closed_form(cfg.n_layers, cfg.d_model, ctx=cfg.seq_len)


@pytest.mark.parametrize("name", [n for n in tm.MODELS if n.startswith(("llama", "mistral"))])
def test_llama_family_matches_closed_form(name):
    c = tm.MODELS[name]
    expected = llama_closed_form(c.d_model, c.d_ff, c.n_layers, c.n_heads, c.n_kv_heads,
                                 c.vocab_size)
    assert tm.param_count(c) == expected


def test_megatron_eq2_parameter_formula():
    # Narayanan et al. 2021, Eq. 2: P = 12 l h^2 (1 + 13/(12h) + (V + s)/(12 l h)),
    # for a GPT-2-style model with untied head excluded (Megatron ties), d_ff = 4h.
    cfg = tm.ModelConfig(24, 2304, 24, 51200, seq_len=2048)
    L, h, V, s = 24, 2304, 51200, 2048
    eq2 = 12 * L * h**2 * (1 + 13 / (12 * h) + (V + s) / (12 * L * h))
    # Eq. 2 omits the final LayerNorm (2h).
    assert tm.param_count(cfg) == pytest.approx(eq2 + 2 * h, rel=1e-12)


@pytest.mark.parametrize("name,published", [("chinchilla-70b", 70e9), ("gopher-280b", 280e9)])
def test_deepmind_models_close_to_published(name, published):
    # Hoffmann et al. 2022, Table 4 shapes with Transformer-XL relative positions.
    assert tm.param_count(tm.MODELS[name]) == pytest.approx(published, rel=5e-3)


def test_kaplan_non_embedding_is_about_12_L_d2():
    cfg = tm.MODELS["gpt3-175b"]
    assert tm.non_embedding_params(cfg) == pytest.approx(12 * 96 * 12288**2, rel=1e-3)


def test_embedding_plus_non_embedding_is_total():
    for cfg in tm.MODELS.values():
        assert tm.embedding_params(cfg) + tm.non_embedding_params(cfg) == tm.param_count(cfg)


def test_tied_head_counted_once_and_untied_twice():
    tied = tm.MODELS["gpt2"]
    untied = tied.replace(tied_embeddings=False)
    assert tm.param_count(untied) - tm.param_count(tied) == 50257 * 768


def test_gqa_shrinks_kv_projections():
    base = tm.MODELS["llama-2-7b"]
    gqa = base.replace(n_kv_heads=8)
    assert tm.param_count(base) - tm.param_count(gqa) == 32 * 2 * 4096 * (32 - 8) * 128


def test_matmul_params_include_lm_head_exclude_embeddings():
    cfg = tm.MODELS["gpt2"]
    blocks = 12 * (12 * 768 * 768)
    assert tm.matmul_params(cfg) == blocks + 50257 * 768


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


# --- configurations and presets ------------------------------------------------------------------


def test_defaults():
    cfg = tm.ModelConfig(2, 64, 4, 100)
    assert cfg.d_ff == 256 and cfg.n_kv_heads == 4 and cfg.head_dim == 16
    assert cfg.attn_dim == 64 and cfg.kv_dim == 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_layers = 3


def test_every_preset_has_source_and_name():
    for key, cfg in tm.MODELS.items():
        assert cfg.source and cfg.name, key


@pytest.mark.parametrize(
    "kwargs,exc,words",
    [
        ({"n_layers": 0}, ValueError, "n_layers"),
        ({"d_model": -8}, ValueError, "d_model"),
        ({"n_heads": 5}, ValueError, "n_heads must divide d_model"),
        ({"n_kv_heads": 3}, ValueError, "n_kv_heads"),
        ({"vocab_size": 1.5}, ValueError, "vocab_size"),
        ({"n_layers": "12"}, TypeError, "n_layers"),
        ({"mlp": "relu"}, ValueError, "mlp"),
        ({"norm": "batchnorm"}, ValueError, "norm"),
        ({"position": "alibi"}, ValueError, "position"),
        ({"bias": 1}, TypeError, "bias"),
        ({"seq_len": float("nan")}, ValueError, "seq_len"),
        ({"d_ff": 0}, ValueError, "d_ff"),
    ],
)
def test_config_rejects_bad_input(kwargs, exc, words):
    base = {"n_layers": 2, "d_model": 64, "n_heads": 4, "vocab_size": 100}
    base.update(kwargs)
    with pytest.raises(exc, match=words):
        tm.ModelConfig(**base)


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match="llama-3-8b"):
        tm.get_model("llama-4")
    assert tm.get_model("gpt2") is tm.MODELS["gpt2"]


def test_param_count_rejects_non_config():
    with pytest.raises(TypeError, match="cfg"):
        tm.param_count("gpt2")


def test_preset_tables_are_read_only():
    for table in (tm.MODELS, tm.GPT3_FAMILY, tm.MOE_MODELS, tm.ACCELERATORS, tm.FITS,
                  tm.SCALING_EXPONENTS, tm.FORMATS):
        with pytest.raises(TypeError):
            table["mine"] = None
    mine = dict(tm.MODELS)  # the documented way to extend them
    mine["tiny"] = tm.ModelConfig(2, 64, 4, 100)
    assert "tiny" not in tm.MODELS


# --- the GPT-3 family (Brown et al. 2020, Table 2.1 and Table D.1) -------------------------------


# layers, d_model, heads (XL: 16 heads of 128, 13B: d_model 5120, see GPT3_FAMILY) and the
# exact counts lesson 02 prints, which Table D.1 rounds to 125, 356, 760, 1,320, 2,650, 6,660,
# 12,850 and 174,600 million.
GPT3 = {
    "gpt3-small": (12, 768, 12, 125_226_240),
    "gpt3-medium": (24, 1024, 16, 355_871_744),
    "gpt3-large": (24, 1536, 16, 760_300_032),
    "gpt3-xl": (24, 2048, 16, 1_315_723_264),
    "gpt3-2.7b": (32, 2560, 32, 2_651_553_280),
    "gpt3-6.7b": (32, 4096, 32, 6_658_404_352),
    "gpt3-13b": (40, 5120, 40, 12_853_386_240),
    "gpt3-175b": (96, 12288, 96, 174_604_259_328),
}


@pytest.mark.parametrize("key", GPT3)
def test_gpt3_family_is_table_2_1(key):
    L, d, H, exact = GPT3[key]
    cfg = tm.get_model(key)
    assert cfg is tm.GPT3_FAMILY[key]
    assert (cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_ff) == (L, d, H, 4 * d)
    assert (cfg.vocab_size, cfg.seq_len, cfg.position, cfg.tied_embeddings) == (
        50257, 2048, "learned", True)
    assert cfg == tm.ModelConfig(L, d, H, 50257, seq_len=2048, name=cfg.name)
    assert tm.param_count(cfg) == exact
    assert cfg.name.startswith("GPT-3 ") and "Table 2.1" in cfg.source


def test_gpt3_family_documents_the_two_misprints():
    assert "24 heads" in tm.GPT3_FAMILY["gpt3-xl"].source
    assert "5140" in tm.GPT3_FAMILY["gpt3-13b"].source
    assert tm.MODELS["gpt3-175b"] is tm.GPT3_FAMILY["gpt3-175b"]
    assert list(tm.GPT3_FAMILY) == list(GPT3)  # smallest first


def _gpt3_params(n_layers: int, d_model: int) -> int:
    # Parameter count does not depend on the head split while H * head_dim = d_model.
    cfg = tm.ModelConfig(n_layers, d_model, d_model // 128, 50257, seq_len=2048)
    return tm.param_count(cfg)


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


# --- ffn_hidden_dim: Meta's rounding rule --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "multiplier", "multiple_of"),
    [
        # (preset, ffn_dim_multiplier, multiple_of) of the released params.json files.
        ("llama-2-7b", 1.0, 256),
        ("llama-2-13b", 1.0, 256),
        ("llama-2-70b", 1.3, 4096),
        ("llama-3-8b", 1.3, 1024),
        ("llama-3-70b", 1.3, 4096),
        ("llama-3.1-405b", 1.2, 4096),
    ],
)
def test_ffn_hidden_dim_reproduces_released_models(model, multiplier, multiple_of):
    cfg = tm.MODELS[model]
    assert tm.ffn_hidden_dim(cfg.d_model, multiplier, multiple_of) == cfg.d_ff


def test_ffn_hidden_dim_by_hand_and_arrays():
    # 8B: int(2 * 16384 / 3) = 10922; int(1.3 * 10922) = 14198; up to a multiple of 1024: 14336.
    assert tm.ffn_hidden_dim(4096) == 14336
    out = tm.ffn_hidden_dim(np.array([4096, 8192]), 1.3, 4096)
    assert out.tolist() == [16384, 28672]


@given(st.integers(1, 40_000), st.floats(0.5, 2.0), st.sampled_from([64, 256, 1024, 4096]))
def test_ffn_hidden_dim_is_a_rounded_up_multiple(d, mult, m):
    h = tm.ffn_hidden_dim(d, mult, m)
    raw = int(mult * int(8 * d / 3))
    assert h % m == 0
    assert raw <= h < raw + m


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"d_model": 0}, "d_model"), ({"d_model": 4096, "ffn_multiplier": -1}, "ffn_multiplier"),
     ({"d_model": 4096, "multiple_of": 0}, "multiple_of"), ({"d_model": 40.5}, "d_model")],
)
def test_ffn_hidden_dim_bad_input(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        tm.ffn_hidden_dim(**kwargs)


# --- llama_like_config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        # Llama 3 paper, Table 3, with each model's own d/L and FFN settings.
        ("llama-3-8b", {}),
        ("llama-3-70b", {"aspect_ratio": 8192 / 80, "ffn_multiple": 4096}),
        ("llama-3.1-405b", {"aspect_ratio": 16384 / 126, "ffn_multiplier": 1.2,
                            "ffn_multiple": 4096}),
    ],
)
def test_llama_like_config_gives_back_the_real_llama3_shapes(model, kwargs):
    ref = tm.MODELS[model]
    cfg = tm.llama_like_config(tm.param_count(ref), **kwargs)
    for field in ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff",
                  "vocab_size", "mlp", "norm", "bias", "tied_embeddings", "position"):
        assert getattr(cfg, field) == getattr(ref, field), field
    assert tm.param_count(cfg) == tm.param_count(ref)


@given(st.floats(2e9, 5e12))
def test_llama_like_config_hits_the_target_count(n):
    cfg = tm.llama_like_config(n)
    assert tm.param_count(cfg) == pytest.approx(n, rel=0.025)
    assert cfg.head_dim == 128 and cfg.n_kv_heads == 8
    assert cfg.d_model % 1024 == 0 and cfg.n_heads * 128 == cfg.d_model
    assert cfg.d_ff == tm.ffn_hidden_dim(cfg.d_model)
    if n >= 5e10:  # wide enough that the 1024 granule of d no longer matters
        assert 80 <= cfg.d_model / cfg.n_layers <= 200


def test_llama_like_config_is_within_half_a_layer():
    n = 563e9
    cfg = tm.llama_like_config(n)
    per_layer = tm.param_count(cfg.replace(n_layers=2)) - tm.param_count(cfg.replace(n_layers=1))
    assert abs(tm.param_count(cfg) - n) <= per_layer / 2
    assert cfg.name == "Llama-like 563B"
    assert tm.llama_like_config(n, name="mine").name == "mine"


def test_llama_like_config_options():
    cfg = tm.llama_like_config(70e9, vocab_size=32000, seq_len=4096, n_kv_heads=4, head_dim=64)
    assert (cfg.vocab_size, cfg.seq_len, cfg.n_kv_heads, cfg.head_dim) == (32000, 4096, 4, 64)
    assert cfg.d_model % 256 == 0
    assert tm.param_count(cfg) == pytest.approx(70e9, rel=0.02)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "word"),
    [
        ((1e8,), {}, ValueError, "n_params"),  # smaller than the 128k-vocab embeddings
        ((-1.0,), {}, ValueError, "n_params"),
        (([1e10, 2e10],), {}, TypeError, "n_params"),
        ((1e10,), {"aspect_ratio": 0}, ValueError, "aspect_ratio"),
        ((1e10,), {"head_dim": 0}, ValueError, "head_dim"),
        ((1e10,), {"n_kv_heads": 2.5}, ValueError, "n_kv_heads"),
        ((1e10,), {"name": 5}, TypeError, "name"),
    ],
)
def test_llama_like_config_bad_input(args, kwargs, exc, word):
    with pytest.raises(exc, match=word):
        tm.llama_like_config(*args, **kwargs)


def test_model_shape_helpers_live_in_models():
    from trainmath import capstone, models

    assert capstone.ffn_hidden_dim is models.ffn_hidden_dim is tm.ffn_hidden_dim
    assert capstone.llama_like_config is models.llama_like_config is tm.llama_like_config
    assert capstone.flops_in_days is tm.units.flops_in_days is tm.flops_in_days
