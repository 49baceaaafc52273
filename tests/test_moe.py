"""Mixtures of experts and latent attention: shapes, exact counts, FLOPs, published figures.

The same counts against Hugging Face transformers' implementations: tests/test_reference.py.
"""

from __future__ import annotations

import math
import re

import numpy as np
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
    # replace derives them again from the new sizes
    smaller = tm.MOE_MODELS["deepseek-v3"].replace(n_heads=4, qk_nope_head_dim=32,
                                                   qk_rope_head_dim=16)
    assert smaller.head_dim == 48 and smaller.n_kv_heads == 4


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


# --- memory: parameter buckets, expert parallelism, MoE and MLA activations ---------------------

@pytest.mark.parametrize("name", sorted(tm.MOE_MODELS))
def test_buckets_on_one_gpu_add_up_to_the_model(name):
    cfg = tm.MOE_MODELS[name]
    b = tm.param_buckets(cfg)
    assert b.total == tm.param_count(cfg) == tm.params_per_gpu(cfg)
    assert b.expert == cfg.n_moe_layers * cfg.n_experts * tm.expert_params(cfg)


def test_expert_parallelism_spreads_only_the_routed_experts():
    cfg = tm.MOE_MODELS["mixtral-8x7b"]
    one, eight = tm.param_buckets(cfg), tm.param_buckets(cfg, ep=8)
    assert eight.expert * 8 == one.expert
    assert (eight.tensor_parallel, eight.replicated) == (one.tensor_parallel, one.replicated)
    # Expert tensor parallelism splits each expert; etp defaults to tp.
    tp2 = tm.param_buckets(cfg, tp=2, ep=4)
    assert tp2.expert == one.expert / 8
    assert tm.param_buckets(cfg, tp=2, ep=4, etp=1).expert == one.expert / 4
    assert tp2.replicated == one.replicated  # norms and routers stay whole


def test_mla_down_projections_are_replicated_across_tensor_parallel_ranks():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    down = 7168 * 1536 + 1536 + 7168 * (512 + 64) + 512  # W^DQ, its norm, W^DKV;W^KR, its norm
    norms_and_router = 2 * 7168 + 256 * 7168
    one_moe_layer = tm.param_buckets(cfg.replace(n_layers=5), tp=8).replicated - \
        tm.param_buckets(cfg.replace(n_layers=4), tp=8).replicated
    assert one_moe_layer == down + norms_and_router


@pytest.mark.parametrize("kw, words", [
    (dict(ep=3), "ep must divide n_experts"),
    (dict(ep=8, etp=5), "etp must divide moe_d_ff"),
    (dict(ep=8, dp=4), "ep * etp must divide dp * cp * tp"),
    (dict(dualpipe=True, pp=3), "pp must be even"),
    (dict(term_bytes={"expert_inputs": 1}), "term_bytes names 'expert_inputs'"),
    (dict(term_bytes={"q": -1}), "term_bytes['q'] must be"),
    (dict(tp=2, ep=2, dp=2), "needs sequence_parallel=True"),
    (dict(layer="korthikanti"), "pass layer='modern'"),
])
def test_moe_memory_arguments_are_checked(kw, words):
    cfg = tm.MOE_MODELS["qwen3-30b-a3b"]
    with pytest.raises(ValueError, match=re.escape(words)):
        tm.memory_per_gpu(cfg, **{"layer": "modern", **kw})


def test_ep_on_a_dense_model_is_refused():
    with pytest.raises(ValueError, match="ep and etp apply to mixtures of experts"):
        tm.memory_per_gpu(tm.MODELS["llama-3-8b"], ep=2, dp=2)


def test_expert_states_shard_over_the_expert_data_parallel_group():
    cfg = tm.MOE_MODELS["mixtral-8x7b"]
    per = tm.training_bytes_per_param()
    m = tm.memory_per_gpu(cfg, dp=16, ep=8, zero_stage=1, recompute="full", layer="modern")
    b = tm.param_buckets(cfg, ep=8)
    dense = b.tensor_parallel + b.replicated
    # dp 16 GPUs hold the same dense weights; 16 / 8 = 2 hold the same experts.
    assert m.master == pytest.approx(per["master"] * (dense / 16 + b.expert / 2))
    assert m.weights == pytest.approx(per["weights"] * b.total)


def test_moe_memory_on_one_gpu_is_the_states_plus_the_layers():
    cfg = tm.MOE_MODELS["qwen3-30b-a3b"]
    m = tm.memory_per_gpu(cfg, seq_len=1024, layer=None)
    states = tm.training_state_breakdown(tm.param_count(cfg))
    assert m.model_states == pytest.approx(states.total)
    assert m.activations == pytest.approx(48 * tm.layer_activation_bytes(cfg, 1024))


def test_moe_layer_terms():
    cfg = tm.MOE_MODELS["mixtral-8x7b"]
    s, k, d, f, E = 4096, 2, 4096, 14336, 8
    b = tm.layer_activation_breakdown(cfg, s)
    assert b.router_probs == 4 * s * E
    assert b.topk_weights == 4 * s * k
    assert b.expert_input == b.expert_output == 2 * k * s * d
    assert b.expert_gate_output == b.expert_up_output == b.expert_down_input == 2 * k * s * f
    assert b.shared_gate_output == 0 and b.expert_silu_output == 0
    # The busiest GPU of an unbalanced router holds more token copies.
    c = tm.layer_activation_breakdown(cfg, s, capacity_factor=1.25)
    assert c.expert_input == 1.25 * b.expert_input and c.router_probs == b.router_probs
    # A dense layer of a MoE model keeps the dense MLP's terms instead.
    dense = tm.layer_activation_breakdown(cfg, s, moe=False)
    assert "expert_input" not in dense and dense.up_output == 2 * s * f


def test_moe_terms_under_tensor_and_expert_tensor_parallelism():
    cfg = tm.MOE_MODELS["mixtral-8x7b"]
    one = tm.layer_activation_breakdown(cfg, 4096)
    kw = dict(tp=4, sequence_parallel=True)
    folded = tm.layer_activation_breakdown(cfg, 4096, etp=1, **kw)
    split = tm.layer_activation_breakdown(cfg, 4096, **kw)  # etp = tp
    # Each rank routes s/t tokens: its copies are 1/t of one GPU's; f-wide per copy whole
    # with etp = 1, gathered t ways and split t ways with etp = t.
    assert folded.expert_input == one.expert_input / 4
    assert split.expert_input == one.expert_input
    assert folded.expert_gate_output == split.expert_gate_output == one.expert_gate_output / 4


def test_mla_terms():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    s = 4096
    b = tm.layer_activation_breakdown(cfg, s)
    assert b.q == b.k == 2 * s * 128 * 192
    assert b.v == b.attention_output == 2 * s * 128 * 128
    assert b.kv_latent == b.kv_up_input == 2 * s * 512
    assert b.q_latent == 2 * s * 1536 and b.q_latent_rstd == 4 * s
    no_q = cfg.replace(q_lora_rank=None)
    assert tm.layer_activation_breakdown(no_q, s).q_latent == 0


def test_term_bytes_recompute_or_shrink_named_terms():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    full = tm.layer_activation_breakdown(cfg, 4096)
    lean = tm.layer_activation_breakdown(cfg, 4096, term_bytes=tm.DEEPSEEK_V3_TERM_BYTES)
    assert lean.q == lean.k == lean.v == lean.expert_output == 0
    assert lean.expert_input == full.expert_input / 2
    assert lean.attention_output == full.attention_output * 0.75
    assert lean.attn_norm_input == full.attn_norm_input
    assert lean.total < full.total / 3


def test_dualpipe_holds_two_stages_and_pp_plus_one_micro_batches():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    kw = dict(seq_len=4096, pp=16, ep=64, dp=128, zero_stage=1, n_microbatches=60,
              layer="modern")
    plain = tm.memory_per_gpu(cfg, **kw)
    dual = tm.memory_per_gpu(cfg, dualpipe=True, **kw)
    moe_stage = 4 * tm.layer_activation_bytes(cfg, 4096)
    assert dual.activations == pytest.approx(17 * moe_stage)
    # 1F1B: the second stage (4 MoE layers, 15 micro-batches) outweighs the first (3 dense
    # layers and 1 MoE layer, 16 micro-batches)
    assert plain.activations == pytest.approx(15 * moe_stage)
    first = 16 * (3 * tm.layer_activation_bytes(cfg, 4096, moe=False)
                  + tm.layer_activation_bytes(cfg, 4096))
    assert first < plain.activations
    assert dual.weights > plain.weights * 1.5


def test_uneven_pipeline_split():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    kw = dict(seq_len=4096, pp=16, ep=64, dp=128, zero_stage=1, n_microbatches=60,
              layer="modern", dualpipe=True, logits=True)
    even = tm.memory_per_gpu(cfg, **kw)
    # 3 layers on the two end stages (with the embedding and the head), 62 - 6 = 56 over 14
    split = tm.memory_per_gpu(cfg, first_stage_layers=3, last_stage_layers=3, **kw)
    assert split.total < even.total
    moe_stage = 4 * tm.layer_activation_bytes(cfg, 4096)
    assert split.activations == pytest.approx(17 * moe_stage)  # the second GPU is busiest now
    with pytest.raises(ValueError, match="at most n_layers=61"):
        tm.memory_per_gpu(cfg, first_stage_layers=40, last_stage_layers=30, **kw)
    with pytest.raises(ValueError, match="need pp >= 2"):
        tm.memory_per_gpu(tm.MODELS["gpt2"], first_stage_layers=1)
    dense = tm.MODELS["llama-3-8b"]
    m = tm.memory_per_gpu(dense, pp=4, n_microbatches=8, first_stage_layers=5,
                          last_stage_layers=5)  # 22 layers over the two middle stages: 11
    per = tm.activation_memory_per_layer(8192, 1, 4096, 32)
    assert m.activations == pytest.approx(3 * 11 * per)  # stage 1: 3 micro-batches x 11


# --- time: MoE and MLA layers, expert-parallel all-to-all, the planner -------------------------

@pytest.mark.parametrize("name", sorted(tm.MOE_MODELS))
def test_layer_matmuls_are_the_active_weights(name):
    # The forward matmuls layer_time times do 2 x tokens x (the layer's active weights):
    # what flops_per_token counts, per layer (balanced router, one GPU).
    from trainmath.throughput import _layer_shapes

    cfg = tm.MOE_MODELS[name]
    tokens = 4096

    def flops(moe):
        return sum(2 * m * k * n * b for m, k, n, b in
                   _layer_shapes(cfg, tokens, 1, moe, ep=1, etp=1, capacity=1.0))

    head = cfg.vocab_size * cfg.d_model
    n_dense = cfg.n_layers - cfg.n_moe_layers
    total = n_dense * flops(False) + cfg.n_moe_layers * flops(True)
    assert total == pytest.approx(2 * tokens * (tm.matmul_params(cfg) - head), rel=1e-12)


def test_expert_parallelism_keeps_the_work_and_changes_the_shapes():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    base = tm.layer_time(cfg, 4096, 1, "H800")
    spread = tm.layer_time(cfg, 4096, 1, "H800", ep=64)
    # 256 experts of 128 copies each on one GPU, 4 of 8,192 on 64: same FLOPs, larger GEMMs
    assert spread.matmuls < base.matmuls
    assert spread.attention == base.attention and spread.elementwise == base.elementwise
    heavy = tm.layer_time(cfg, 4096, 1, "H800", ep=64, capacity_factor=1.5)
    assert heavy.matmuls > spread.matmuls


def test_mla_fused_attention_counts_qk_and_v_widths():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    t = tm.layer_time(cfg, 4096, 1, "H800", causal=False)
    acc = tm.get_accelerator("H800")
    rate = tm.matmul_efficiency(acc, "bf16") * acc.peak("bf16")
    fwd = 2 * 4096 * 4096 * (192 + 128) * 128 / rate
    assert t.attention == pytest.approx(3.5 * fwd, rel=1e-12)  # forward + 2.5x backward


def test_layer_time_refuses_korthikanti_for_moe():
    with pytest.raises(ValueError, match="needs layer='modern'"):
        tm.layer_time(tm.MOE_MODELS["mixtral-8x7b"], 4096, 1, "H100-SXM", layer="korthikanti")


def test_all_to_all_of_the_token_copies():
    from trainmath.planner import step_time

    cfg = tm.MOE_MODELS["mixtral-8x7b"]
    acc = tm.get_accelerator("H100-SXM")
    kw = dict(n_gpus=64, tokens_per_step=64 * 4096, seq_len=4096, tp=1, pp=1, cp=1, dp=64,
              zero_stage=1, n_microbatches=1, recompute="none", micro_batch=1, etp=1)
    one = step_time(cfg, acc, ep=1, **kw)
    eight = step_time(cfg, acc, ep=8, **kw)
    assert one["ep_comm_time"] == 0
    # 8 ranks in one node: 4 all-to-alls per layer of 2 x 4096 copies x 4096 x 2 bytes
    message = 2 * 4096 * 4096 * 2
    per = tm.group_collective_time("all-to-all", message, 8, intra_bandwidth=367.61e9,
                                   inter_bandwidth=tm.NETWORK_BUS_BANDWIDTH)
    assert eight["ep_comm_time"] == pytest.approx(32 * 4 * per, rel=1e-9)
    hidden = step_time(cfg, acc, ep=8, ep_overlap=True, **kw)
    assert hidden["ep_comm_time"] == 0 and hidden["step_time"] < eight["step_time"]


def test_planner_searches_expert_parallelism():
    cfg = tm.MOE_MODELS["mixtral-8x7b"]
    L = tm.plan_layouts(cfg, "H100-SXM", 64, seq_len=4096, global_batch_tokens=256 * 4096,
                        micro_batches=(1,), zero_stages=(1,), interleaves=(1,),
                        recomputes=("none",))
    assert set(np.unique(L["ep"])) == {1, 2, 4, 8}
    assert np.all((L["dp"] * L["cp"] * L["tp"]) % L["ep"] == 0)
    assert np.all((L["ep"] > 1) == (L["ep_comm_time"] > 0))
    assert L.best() is not None and L.best()["ep"] > 1  # the experts do not fit replicated
    dense = tm.plan_layouts("llama-3-8b", "H100-SXM", 8)
    assert np.all(dense["ep"] == 1) and np.all(dense["ep_comm_time"] == 0)


# --- the all-to-all's bytes, routing balance, the KV cache --------------------------------

def test_expert_parallel_bytes():
    s, b, d, k = 4096, 1, 7168, 8
    copies = k * s * b * d
    one_layer = tm.expert_parallel_comm_bytes(s, b, d, 64, experts_per_token=k)
    assert one_layer == pytest.approx(4 * copies * 2 * 63 / 64)  # 4 all-to-alls, bf16
    fp8 = tm.expert_parallel_comm_bytes(s, b, d, 64, experts_per_token=k, dispatch_bytes=1)
    assert fp8 == pytest.approx(0.75 * one_layer)  # the two dispatches in fp8
    full = tm.expert_parallel_comm_bytes(s, b, d, 64, experts_per_token=k, recompute="full")
    assert full == pytest.approx(1.5 * one_layer)
    assert tm.expert_parallel_comm_bytes(s, b, d, 1, experts_per_token=k) == 0
    sp = tm.expert_parallel_comm_bytes(s, b, d, 8, experts_per_token=k, tp=4)
    assert sp == pytest.approx(tm.expert_parallel_comm_bytes(s, b, d, 8, experts_per_token=k) / 4)


def test_routing_load_is_deterministic_and_falls_towards_one():
    small = tm.routing_load(1024, 64, 4)
    assert small == tm.routing_load(1024, 64, 4)  # seeded
    large = tm.routing_load(16384, 64, 4, trials=5)
    assert 1 < large < small
    # every token to every expert: perfectly balanced
    assert tm.routing_load(100, 8, 8) == 1.0


def test_dropped_fraction_falls_with_capacity():
    drops = tm.dropped_fraction([1.0, 1.25, 2.0], 2048, 32, 2)
    assert drops[0] > drops[1] > drops[2] == 0
    assert tm.dropped_fraction(1.0, 64, 4, 4) == 0  # all experts chosen: no imbalance


@pytest.mark.parametrize("kw, words", [
    (dict(n_tokens=10, n_experts=4, experts_per_token=5),
     "experts_per_token must be 1..n_experts=4"),
    (dict(n_tokens=10**6, n_experts=256, experts_per_token=8), "at most 5e7"),
    (dict(n_tokens=0, n_experts=4, experts_per_token=1), "n_tokens must be"),
])
def test_routing_arguments_are_checked(kw, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        tm.routing_load(**kw)
    with pytest.raises(ValueError, match="capacity_factor must be >= 1"):
        tm.dropped_fraction(0.5, 10, 4, 1)


def test_kv_cache_mha_and_mla():
    llama = tm.MODELS["llama-3-8b"]
    assert tm.kv_cache_bytes(llama, 8192) == 2 * 32 * 1024 * 8192 * 2  # 1 GiB per sequence
    ds = tm.MOE_MODELS["deepseek-v3"]
    assert tm.kv_cache_bytes(ds, 4096, 2, "fp8") == 61 * 576 * 4096 * 2
    as_mha = ds.replace(attention="mha", q_lora_rank=None, kv_lora_rank=None,
                        qk_nope_head_dim=None, qk_rope_head_dim=None, v_head_dim=None,
                        head_dim=128)
    assert tm.kv_cache_bytes(as_mha, 4096) / tm.kv_cache_bytes(ds, 4096) == 2 * 128 * 128 / 576


def test_max_load_estimate_errs_high_by_a_few_percent():
    for T, E, k in ((4096, 256, 8), (2048, 64, 4), (16384, 32, 2)):
        simulated = tm.routing_load(T, E, k, trials=5)
        estimate = tm.max_load_estimate(T, E, k)
        assert simulated < estimate < 1.1 * simulated
    mu = 2 * 16384 / 32
    assert tm.max_load_estimate(16384, 32, 2) == pytest.approx(
        1 + np.sqrt(2 * np.log(32) * (1 - 2 / 32) / mu))
    with pytest.raises(ValueError, match="experts_per_token must be 1..n_experts"):
        tm.max_load_estimate(100, 4, 8)


def test_too_many_stages_message_shows_the_number():
    with pytest.raises(ValueError, match=r"pp must be <= n_layers=12, got 16$"):
        tm.memory_per_gpu(tm.MODELS["gpt2"], pp=16)


def test_mtp_flops_are_one_more_block_a_projection_and_the_head():
    cfg = tm.MOE_MODELS["deepseek-v3"]
    s, d, V = 4096, 7168, 129280
    block = 6 * (tm.matmul_params(cfg.replace(n_layers=62)) - tm.matmul_params(cfg)) \
        + 6 * s * 128 * (192 + 128)
    assert tm.mtp_flops_per_token(cfg, s) == pytest.approx(block + 6 * (2 * d * d + V * d))
    assert tm.mtp_flops_per_token(cfg, s, depth=2) == 2 * tm.mtp_flops_per_token(cfg, s)
    with pytest.raises(ValueError, match="depth"):
        tm.mtp_flops_per_token(cfg, s, depth=0)
