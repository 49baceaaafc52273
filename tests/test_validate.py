"""Tests of trainmath._validate (the shared argument checks) and the library's import graph."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import trainmath as tm
from trainmath import _validate as v

PACKAGE = Path(tm.__file__).parent


def test_flag():
    assert v.flag("causal", True) is True
    assert v.flag("causal", np.bool_(False)) is False
    assert v.flag("master", None, allow_none=True) is None
    for bad in (0, 1, "False", None):
        with pytest.raises(TypeError, match="causal must be True or False"):
            v.flag("causal", bad)
    with pytest.raises(TypeError, match="master must be True, False or None"):
        v.flag("master", "yes", allow_none=True)


def test_scalar_int():
    assert v.scalar_int("seq_len", 2048) == 2048 and v.scalar_int("seq_len", 8.0) == 8
    assert v.scalar_int("seed", 0, minimum=0) == 0
    with pytest.raises(TypeError, match="seq_len must be a single integer"):
        v.scalar_int("seq_len", [1, 2])
    with pytest.raises(ValueError, match="seq_len"):
        v.scalar_int("seq_len", 0)


def test_zero_stage():
    assert v.zero_stage("zero_stage", 3) == 3
    assert list(v.zero_stage("zero_stage", [0, 1, 2, 3])) == [0, 1, 2, 3]
    for bad in (4, -1, [0, 4]):
        with pytest.raises(ValueError, match="zero_stage must be .*0, 1, 2 or 3"):
            v.zero_stage("zero_stage", bad)
    with pytest.raises(ValueError, match="zero_stage"):
        v.zero_stage("zero_stage", 1.5)


def test_divides():
    v.divides("tp", 8, "n_heads", 32)
    v.divides("tp", np.array([1, 2, 4]), "n_heads", 32)
    with pytest.raises(ValueError, match=r"tp must divide n_heads \(got tp=3, n_heads=32\)"):
        v.divides("tp", 3, "n_heads", 32)
    with pytest.raises(ValueError, match="unless head_dim is given"):
        v.divides("n_heads", 5, "d_model", 768, note="unless head_dim is given")


def test_instance_names_the_argument_and_how_to_get_one():
    cfg = tm.MODELS["gpt2"]
    assert v.instance("cfg", cfg, tm.ModelConfig) is cfg
    with pytest.raises(TypeError, match=r"cfg must be a trainmath.ModelConfig \(e.g. tm.MODELS"):
        v.instance("cfg", "gpt2", tm.ModelConfig)
    with pytest.raises(TypeError, match="accelerator must be a trainmath.Accelerator"):
        v.instance("accelerator", "H100-SXM", tm.Accelerator)


@pytest.mark.parametrize(
    "call",
    [
        lambda: tm.param_count("gpt2"),
        lambda: tm.flops_per_token("gpt2"),
        lambda: tm.recompute_flops_per_token("gpt2"),
        lambda: tm.recompute_flops_overhead("gpt2"),
        lambda: tm.params_per_gpu("gpt2"),
        lambda: tm.memory_per_gpu("gpt2"),
    ],
)
def test_every_cfg_check_says_how_to_get_a_config(call):
    with pytest.raises(TypeError, match=r"cfg must be a trainmath.ModelConfig \(e.g. "):
        call()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: tm.flops_per_token(tm.MODELS["gpt2"], causal=1), "causal"),
        (lambda: tm.megatron_model_flops(1, 2048, 96, 12288, 50257, recompute="yes"), "recompute"),
        (lambda: tm.activation_memory_per_layer(2048, 1, 4096, 32, sequence_parallel=0),
         "sequence_parallel"),
        (lambda: tm.activation_memory_breakdown(2048, 1, 4096, 32, dropout="no"), "dropout"),
        (lambda: tm.attention_score_crossover(4096, 32, sequence_parallel=None),
         "sequence_parallel"),
        (lambda: tm.ModelConfig(2, 64, 4, 100, bias=1), "bias"),
        (lambda: tm.ModelConfig(2, 64, 4, 100, tied_embeddings="True"), "tied_embeddings"),
    ],
)
def test_every_flag_check_is_the_shared_one(call, name):
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        call()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: tm.zero_memory_per_gpu(1e9, 8, 4), "stage"),
        (lambda: tm.data_parallel_comm_bytes(1e9, 8, 4), "zero_stage"),
        (lambda: tm.training_state_breakdown(1e9, zero_stage=4), "zero_stage"),
        (lambda: tm.min_gpus_to_fit(1e9, 80e9, zero_stage=4), "zero_stage"),
        (lambda: tm.memory_per_gpu(tm.MODELS["gpt2"], zero_stage=4), "zero_stage"),
        (lambda: tm.plan_layouts("gpt2", "H100-SXM", n_gpus=8, global_batch_tokens=2**20,
                                 zero_stages=(0, 4)), "zero_stages"),
    ],
)
def test_every_zero_stage_check_is_the_shared_one(call, name):
    with pytest.raises(ValueError, match=f"{name} must be a ZeRO stage 0, 1, 2 or 3"):
        call()


def _imports(path: Path) -> set[str]:
    """trainmath modules a file imports, at the top or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("trainmath"):
            if node.module == "trainmath":
                out |= {f"trainmath.{a.name}" for a in node.names}
            else:
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("trainmath.")}
    return out


def test_the_topic_modules_import_no_cycle():
    # The package __init__ and its lazy attributes are left out: they import everything.
    modules = {f"trainmath.{p.stem}": p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {m: {d for d in _imports(p) if d in modules and d != m} for m, p in modules.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join((*path, module)))
        if module in done:
            return
        for dep in graph[module]:
            visit(dep, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_compute_and_activations_are_one_way():
    assert "trainmath.compute" not in _imports(PACKAGE / "activations.py")
    assert tm.recompute_flops_overhead is tm.compute.recompute_flops_overhead


def test_flags_takes_a_bool_or_an_array_of_bools():
    import numpy as np

    from trainmath import _validate as v

    assert v.flags("x", True) is True
    arr = np.array([True, False])
    assert v.flags("x", arr) is arr
    with pytest.raises(TypeError, match="x must be True or False .or an array of them."):
        v.flags("x", np.array([0, 1]))
    with pytest.raises(TypeError, match="x must be True or False"):
        v.flags("x", 1)
