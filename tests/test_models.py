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
