"""Mixtures of experts and latent attention: shapes, exact counts, FLOPs, published figures.

The same counts against Hugging Face transformers' implementations: tests/test_reference.py.
"""

from __future__ import annotations

import math
import re

import pytest

import trainmath as tm

# --- shapes and validation -----------------------------------------------------------------------

LLAMA_STYLE = dict(mlp="swiglu", norm="rmsnorm", bias=False, tied_embeddings=False,
                   position="rope")
MLA = dict(attention="mla", kv_lora_rank=16, qk_nope_head_dim=16, qk_rope_head_dim=8,
           v_head_dim=12)


def test_dense_presets_unchanged_by_the_new_fields():
    for cfg in {**tm.MODELS, **tm.GPT3_FAMILY}.values():
        assert not cfg.is_moe and cfg.n_moe_layers == 0 and cfg.attention == "mha"
        assert tm.active_param_count(cfg) == tm.param_count(cfg)
        assert cfg.qk_dim == cfg.v_dim == cfg.attn_dim


def test_get_model_finds_the_moe_presets():
    for name, cfg in tm.MOE_MODELS.items():
        assert tm.get_model(name) is cfg and cfg.is_moe and cfg.source
    assert set(tm.MOE_MODELS).isdisjoint(tm.MODELS)


def test_moe_defaults():
    cfg = tm.ModelConfig(4, 64, 4, 100, d_ff=96, n_experts=8, experts_per_token=2)
    assert cfg.moe_d_ff == 96 and cfg.n_moe_layers == 4 and cfg.n_shared_experts == 0
    cfg = cfg.replace(n_dense_layers=1, moe_d_ff=32)
    assert cfg.n_moe_layers == 3 and cfg.moe_d_ff == 32


def test_mla_fills_head_dim_and_kv_heads():
    cfg = tm.ModelConfig(2, 64, 4, 100, **LLAMA_STYLE, **MLA)
    assert cfg.head_dim == 24 and cfg.n_kv_heads == 4
    assert cfg.qk_dim == 4 * 24 and cfg.v_dim == 4 * 12


@pytest.mark.parametrize("changes, words", [
    (dict(n_experts=8), "experts_per_token must be an integer >= 1"),
    (dict(n_experts=8, experts_per_token=9), "experts_per_token must be 1..n_experts=8"),
    (dict(n_experts=-1), "n_experts must be an integer >= 0"),
    (dict(experts_per_token=2), "apply only to mixtures of experts"),
    (dict(n_shared_experts=1), "n_shared_experts apply only to mixtures of experts"),
    (dict(moe_d_ff=64), "moe_d_ff apply only"),
    (dict(n_experts=4, experts_per_token=1, n_dense_layers=4),
     "n_dense_layers must be 0..n_layers-1=3"),
    (dict(n_experts=4, experts_per_token=1, moe_d_ff=0), "moe_d_ff must be an integer >= 1"),
    (dict(attention="gqa"), "attention must be one of ('mha', 'mla')"),
    (dict(kv_lora_rank=16), "kv_lora_rank apply only to attention='mla'"),
    (dict(attention="mla", kv_lora_rank=16), "needs qk_nope_head_dim"),
    (dict(**MLA, head_dim=16), "head_dim is qk_nope_head_dim + qk_rope_head_dim = 24"),
    (dict(**MLA, n_kv_heads=2), "n_kv_heads must be None or n_heads=4"),
    (dict(**MLA, qk_norm=True), "qk_norm applies to attention='mha'"),
    (dict(**MLA, position="learned"), "position must be 'rope'"),
    (dict(**MLA, bias=True), "set bias=False"),
    (dict(qk_norm=1), "qk_norm must be True or False"),
])
def test_bad_combinations_name_the_argument(changes, words):
    base = dict(mlp="swiglu", norm="rmsnorm", bias=False, position="rope")
    base.update(changes)
    with pytest.raises((ValueError, TypeError), match=re.escape(words)):
        tm.ModelConfig(4, 64, 4, 100, **base)


def test_expert_params_needs_a_moe():
    with pytest.raises(ValueError, match="mixture of experts"):
        tm.expert_params(tm.MODELS["gpt2"])
    assert tm.expert_params(tm.MOE_MODELS["mixtral-8x7b"]) == 3 * 4096 * 14336
    assert tm.expert_params(tm.MOE_MODELS["deepseek-v3"]) == 3 * 7168 * 2048


# --- exact counts: closed forms and the published figures -----------------------------------------

def test_mixtral_closed_form():
    d, L, V, E, k, ff, kv = 4096, 32, 32000, 8, 2, 14336, 1024
    attention = 2 * d * d + 2 * d * kv
    per_layer = attention + E * d + E * 3 * d * ff + 2 * d
    total = 2 * V * d + L * per_layer + d
    active = total - L * (E - k) * 3 * d * ff
    cfg = tm.MOE_MODELS["mixtral-8x7b"]
    assert tm.param_count(cfg) == total == 46_702_792_704
    assert tm.active_param_count(cfg) == active == 12_879_925_248
    # The matmuls of a token: the router's E scores and k experts, not the embedding look-up.
    assert tm.matmul_params(cfg) == V * d + L * (attention + E * d + k * 3 * d * ff)


def test_deepseek_v3_mla_closed_form():
    # DeepSeek-V2 Sec. 2.1 / V3 Sec. 2.1.1: W^DQ d x d'_c, W^UQ;W^QR d'_c x H(d_h + d_h^R),
    # W^DKV;W^KR d x (d_c + d_h^R), W^UK;W^UV d_c x H(d_h + d_h^v), W^O H d_h^v x d, two norms.
    d, H, qr, kr, nope, rope, vh = 7168, 128, 1536, 512, 128, 64, 128
    mla = d * qr + qr + qr * H * (nope + rope) + d * (kr + rope) + kr + kr * H * (nope + vh) \
        + H * vh * d
    cfg = tm.MOE_MODELS["deepseek-v3"]
    dense_layer = mla + 3 * d * 18432 + 2 * d
    moe_layer = mla + 256 * d + 257 * 3 * d * 2048 + 2 * d
    assert tm.param_count(cfg) == 2 * 129280 * d + 3 * dense_layer + 58 * moe_layer + d
    assert tm.active_param_count(cfg) == tm.param_count(cfg) - 58 * 248 * 3 * d * 2048


def _printed(n: float, unit: float, digits: int, rule: str) -> float:
    x = n / unit * 10**digits
    return (math.floor(x) if rule == "truncate" else round(x)) / 10**digits


# Published figures, as printed: Mistral rounds, DeepSeek and Qwen truncate.
PUBLISHED = [
    # name, total, active, digits, rule, source
    ("mixtral-8x7b", 46.7, 12.9, 1, "round", "Jiang et al. 2024, Sec. 2: 47B / 13B; HF card 46.7B"),
    ("mixtral-8x22b", 141, 39, 0, "round", "Mistral AI, Apr 2024: 141B total, 39B active"),
    ("deepseek-v3", 671, 37, 0, "truncate", "DeepSeek-V3 Technical Report, abstract"),
    ("qwen3-30b-a3b", 30.5, 3.3, 1, "truncate", "Qwen3 Technical Report, Table 2 / model card"),
    ("qwen3-235b-a22b", 235, 22, 0, "truncate", "Qwen3 Technical Report, Table 2 / model card"),
]


@pytest.mark.parametrize("name, total, active, digits, rule, source", PUBLISHED)
def test_published_totals_and_actives(name, total, active, digits, rule, source):
    cfg = tm.MOE_MODELS[name]
    assert _printed(tm.param_count(cfg), 1e9, digits, rule) == total
    assert _printed(tm.active_param_count(cfg), 1e9, digits, rule) == active


def test_truncation_is_what_the_publishers_did():
    # DeepSeek-V3's 37.55B would round to 38B, Qwen3-30B-A3B's 3.35B to 3.4B.
    ds, qw = tm.MOE_MODELS["deepseek-v3"], tm.MOE_MODELS["qwen3-30b-a3b"]
    assert round(tm.active_param_count(ds) / 1e9, 2) == 37.55
    assert round(tm.active_param_count(qw) / 1e9, 2) == 3.35
    # DeepSeek's weights README: 36.6B active without the input embedding.
    without_input = tm.active_param_count(ds) - ds.vocab_size * ds.d_model
    assert round(without_input / 1e9, 1) == 36.6


@pytest.mark.parametrize("name", sorted(tm.MOE_MODELS))
def test_active_matmuls_are_active_params_less_lookups_and_norms(name):
    # A token's matmul weights are its active parameters less the input embedding (a look-up)
    # and the norms' weights, so 6 x active is close to, but not, the weights' FLOPs.
    cfg = tm.MOE_MODELS[name]
    L, d = cfg.n_layers, cfg.d_model
    norms = (2 * L + 1) * d
    if cfg.qk_norm:
        norms += 2 * L * cfg.head_dim
    if cfg.attention == "mla":
        norms += L * (cfg.kv_lora_rank + (cfg.q_lora_rank or 0))
    assert tm.active_param_count(cfg) - tm.matmul_params(cfg) == cfg.vocab_size * d + norms
    assert tm.matmul_params(cfg) < tm.param_count(cfg) / 3


def test_mla_attention_term_uses_qk_and_v_widths():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    s = 4096
    attention = tm.flops_per_token(cfg, s) - 6 * tm.matmul_params(cfg)
    assert attention == 6 * 61 * s * 128 * (192 + 128)
    assert tm.recompute_flops_per_token(cfg, s, "selective") == 2 * 61 * s * 128 * (192 + 128)


def test_memory_and_time_models_refuse_what_they_do_not_model():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    for call in (lambda: tm.memory_per_gpu(cfg), lambda: tm.params_per_gpu(cfg),
                 lambda: tm.layer_activation_bytes(cfg),
                 lambda: tm.layer_time(cfg, 4096, 1, "H800"),
                 lambda: tm.plan_layouts(cfg, "H800", 64)):
        with pytest.raises(ValueError, match="n_experts=256 and attention='mla'"):
            call()
