"""trainmath.reference: the course's counts against Hugging Face transformers' models.

Parameters on the meta device for the presets and random small shapes of every family the
reference implements; FLOPs against FlopCounterMode on small real models (forward +
backward, eager attention and experts, CPU).
"""

from __future__ import annotations

import random

import pytest

import trainmath as tm

pytest.importorskip("torch")
pytest.importorskip("transformers")
from trainmath import reference  # noqa: E402

LLAMA_STYLE = dict(mlp="swiglu", norm="rmsnorm", bias=False, tied_embeddings=False,
                   position="rope")


@pytest.mark.parametrize("name", sorted(tm.MOE_MODELS))
def test_presets_equal_transformers_on_meta(name):
    cfg = tm.MOE_MODELS[name]
    assert reference.count_hf_params(cfg) == tm.param_count(cfg)


@pytest.mark.parametrize("name", ["llama-3-8b", "llama-2-70b", "mistral-7b", "llama-3.1-405b"])
def test_dense_presets_equal_transformers_on_meta(name):
    assert reference.count_hf_params(tm.MODELS[name]) == tm.param_count(tm.MODELS[name])


def _random_config(rng: random.Random, family: str) -> tm.ModelConfig:
    """A small random shape of one family: dense, qwen3, mixtral, qwen3_moe, mla, mla_moe."""
    H = rng.choice([2, 4, 6])
    kw = dict(n_layers=rng.randint(1, 4), d_model=H * rng.choice([8, 12, 16]), n_heads=H,
              vocab_size=rng.randint(50, 300), d_ff=rng.randint(8, 128), seq_len=64,
              **{**LLAMA_STYLE, "tied_embeddings": rng.random() < 0.3})
    if family in ("mixtral", "qwen3_moe", "mla_moe"):
        E = rng.randint(2, 9)
        kw.update(n_experts=E, experts_per_token=rng.randint(1, E), moe_d_ff=rng.randint(4, 64))
    if family in ("qwen3_moe", "mla_moe"):
        kw.update(n_dense_layers=rng.randint(0, kw["n_layers"] - 1))
    if family.startswith("mla"):
        kw.update(attention="mla", q_lora_rank=rng.choice([None, rng.randint(4, 48)]),
                  kv_lora_rank=rng.randint(4, 32), qk_nope_head_dim=rng.choice([4, 8, 16]),
                  qk_rope_head_dim=rng.choice([2, 4, 8]), v_head_dim=rng.randint(4, 20))
        if family == "mla_moe":
            kw.update(n_shared_experts=rng.randint(0, 2))
    else:
        kw.update(n_kv_heads=rng.choice([k for k in (1, 2, 3, H) if H % k == 0]),
                  head_dim=rng.choice([4, 8, 16]), qk_norm=family in ("qwen3", "qwen3_moe"))
    return tm.ModelConfig(**kw)


FAMILIES = ["dense", "qwen3", "mixtral", "qwen3_moe", "mla", "mla_moe"]
RANDOM = [(f, i) for f in FAMILIES for i in range(6)]


@pytest.mark.parametrize("family, seed", RANDOM)
def test_random_shapes_equal_transformers_on_meta(family, seed):
    cfg = _random_config(random.Random(f"{family}-{seed}"), family)
    expected = {"dense": "llama", "qwen3": "qwen3", "mixtral": "mixtral",
                "qwen3_moe": "qwen3_moe"}.get(family, "deepseek_v3")
    assert reference.hf_config(cfg).model_type == expected
    assert reference.count_hf_params(cfg) == tm.param_count(cfg)


@pytest.mark.parametrize("family, seed", [(f, i) for f in FAMILIES for i in range(2)])
def test_flops_equal_flop_counter_on_real_models(family, seed):
    # Forward + backward on the CPU, eager attention and experts: every matmul counted.
    rng = random.Random(f"flops-{family}-{seed}")
    cfg = _random_config(rng, family)
    model = reference.build_hf_model(cfg, device="cpu", dtype="fp32", seed=seed)
    batch, s = 2, rng.randint(3, 12)
    counted = reference.measure_hf_flops(model, batch, s)
    assert counted.total == tm.flops_per_token(cfg, s) * batch * s
    assert counted.backward == 2 * counted.forward


def test_default_grouped_experts_are_invisible_to_the_flop_counter():
    # Why build_hf_model asks for eager experts: transformers' default grouped matmul is not
    # an operator FlopCounterMode counts, so the experts' FLOPs go missing.
    import transformers

    cfg = tm.ModelConfig(2, 32, 2, 64, d_ff=48, n_experts=4, experts_per_token=2,
                         **LLAMA_STYLE)
    eager = reference.measure_hf_flops(reference.build_hf_model(cfg, device="cpu",
                                                                dtype="fp32"))
    hf = reference.hf_config(cfg)
    model = transformers.MixtralForCausalLM._from_config(hf, attn_implementation="eager")
    default = reference.measure_hf_flops(model.float().train())
    assert model.config._experts_implementation != "eager"
    assert default.total < eager.total


@pytest.mark.parametrize("changes, words", [
    (dict(mlp="gelu"), "Llama-style"),
    (dict(n_experts=4, experts_per_token=1, n_shared_experts=1), "shared experts"),
    (dict(n_experts=4, experts_per_token=1, n_dense_layers=1), "leading dense layers"),
    (dict(head_dim=8, d_model=36), "n_heads to divide d_model"),
])
def test_shapes_without_a_reference_are_refused(changes, words):
    kw = {"d_model": 32, **LLAMA_STYLE, **changes}
    cfg = tm.ModelConfig(n_layers=2, n_heads=8 if "head_dim" in changes else 2, vocab_size=64,
                         **kw)
    with pytest.raises(ValueError, match=words):
        reference.hf_config(cfg)


def test_flops_need_a_real_model():
    model = reference.build_hf_model(tm.MOE_MODELS["mixtral-8x7b"].replace(n_layers=1))
    with pytest.raises(ValueError, match="device='cpu'"):
        reference.measure_hf_flops(model)
    with pytest.raises(TypeError, match="build_hf_model"):
        reference.measure_hf_flops(object())


def test_measure_refuses_what_only_reference_builds():
    from trainmath import measure

    with pytest.raises(ValueError, match="trainmath.reference.build_hf_model"):
        measure.build_model(tm.MOE_MODELS["mixtral-8x7b"], device="meta")
