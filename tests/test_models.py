"""Exact parameter counts against released checkpoints and the closed forms."""

import dataclasses

import pytest

import trainmath as tm

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


def test_gpt3_175b_matches_table_d1():
    # Brown et al. 2020, Table D.1: N = 174,600M total parameters.
    assert tm.param_count(tm.MODELS["gpt3-175b"]) == pytest.approx(174_600e6, rel=1e-3)


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


# --- the GPT-3 family (Brown et al. 2020, Table 2.1) --------------------------------------------

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


def test_preset_tables_are_read_only():
    for table in (tm.MODELS, tm.GPT3_FAMILY, tm.ACCELERATORS, tm.FITS, tm.SCALING_EXPONENTS,
                  tm.FORMATS):
        with pytest.raises(TypeError):
            table["mine"] = None
    mine = dict(tm.MODELS)  # the documented way to extend them
    mine["tiny"] = tm.ModelConfig(2, 64, 4, 100)
    assert "tiny" not in tm.MODELS


def test_model_shape_helpers_live_in_models():
    from trainmath import capstone, models

    assert capstone.ffn_hidden_dim is models.ffn_hidden_dim is tm.ffn_hidden_dim
    assert capstone.llama_like_config is models.llama_like_config is tm.llama_like_config
    assert capstone.flops_in_days is tm.units.flops_in_days is tm.flops_in_days
