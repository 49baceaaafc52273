"""Tests of trainmath.accelerators: peaks, memory, bandwidth (reference-figures Sec. 10)."""

import pytest

import trainmath as tm

MiB, GiB = 2**20, 2**30
TABLE = {  # name: (dtype, dense peak TFLOP/s, memory in bytes, bandwidth GB/s)
    "V100": ("fp16", 125, 32e9, 900),
    "A100-40GB": ("bf16", 312, 40_960 * MiB, 1555),  # NVML totals (nvidia-smi's MiB)
    "A100-80GB": ("bf16", 312, 81_920 * MiB, 2039),
    "H100-SXM": ("bf16", 989, 81_559 * MiB, 3350),
    "H800": ("bf16", 989, 81_559 * MiB, 3350),
    "H200": ("bf16", 989, 143_771 * MiB, 4800),
    "B200": ("bf16", 2250, 180e9, 7700),  # data sheets' GB, no NVML total on record
    "GB200": ("bf16", 2500, 186e9, 8000),
    "MI300X": ("bf16", 1307.4, 192e9, 5300),
    "TPU v4": ("bf16", 275, 32 * GiB, 1200),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_presets(name):
    dtype, tflops, mem, bw = TABLE[name]
    acc = tm.ACCELERATORS[name]
    assert acc.peak(dtype) == pytest.approx(tflops * 1e12, rel=1e-3)
    assert acc.memory_bytes == mem and acc.bandwidth == bw * 1e9 and acc.source


def test_an_80_gb_h100_holds_80_gib_less_what_nvml_keeps():
    # the label's "80 GB" is about 80 GiB: 7 % more than 80e9 bytes, 0.4 % less than 80 GiB
    h100 = tm.ACCELERATORS["H100-SXM"].memory_bytes
    assert h100 / 80e9 == pytest.approx(1.069, abs=1e-3)
    assert h100 / (80 * GiB) == pytest.approx(0.9956, abs=1e-4)


def test_table_and_presets_name_the_same_accelerators():
    assert set(TABLE) == set(tm.ACCELERATORS)
    for name, acc in tm.ACCELERATORS.items():
        assert acc.name == name and acc.vendor in ("NVIDIA", "AMD", "Google")


def test_h100_fp8_and_tf32():
    h100 = tm.ACCELERATORS["H100-SXM"]
    assert h100.peak("fp8") == pytest.approx(1979e12) and h100.peak("tf32") == pytest.approx(495e12)
    assert h100.peak("fp8") == pytest.approx(2 * h100.peak("bf16"), rel=1e-3)


# --- the new presets, each figure against its data sheet ------------------------------------

# NVIDIA Blackwell data sheet, "Individual Blackwell GPU Specifications" (per GPU, PFLOPS or
# TFLOPS as printed). Footnote: the Tensor Core rows are 2:4-sparse, dense is one half; FP32
# is a CUDA-core figure, printed dense. The 8-GPU HGX B200 NVFP4 total reads "144 | 72
# PFLOPS" (sparse | dense), the GB200 NVL72 rack "1,440 | 720 PFLOPS".
BLACKWELL_SPARSE_PFLOPS = {  # name: {dtype: printed sparse PFLOPS}
    "B200": {"fp4": 18, "fp6": 9, "fp8": 9, "bf16": 4.5, "fp16": 4.5, "tf32": 2.2},
    "GB200": {"fp4": 20, "fp6": 10, "fp8": 10, "bf16": 5, "fp16": 5, "tf32": 2.5},
}
BLACKWELL_FP32_TFLOPS = {"B200": 75, "GB200": 80}
BLACKWELL_FP4_TOTAL_DENSE = {"B200": (72, 8), "GB200": (720, 72)}  # PFLOPS, GPUs


@pytest.mark.parametrize("name", sorted(BLACKWELL_SPARSE_PFLOPS))
def test_blackwell_dense_is_half_the_printed_sparse(name):
    acc = tm.ACCELERATORS[name]
    for dtype, sparse in BLACKWELL_SPARSE_PFLOPS[name].items():
        assert acc.peak(dtype) == pytest.approx(sparse * 1e15 / 2), dtype
    assert acc.peak("fp32") == pytest.approx(BLACKWELL_FP32_TFLOPS[name] * 1e12)
    total, gpus = BLACKWELL_FP4_TOTAL_DENSE[name]
    assert acc.peak("fp4") == pytest.approx(total * 1e15 / gpus)
    assert set(acc.peak_flops) == {"fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "fp4"}
    assert "halved" in acc.source and "sparse" in acc.source


@pytest.mark.parametrize("name", ["B200", "GB200"])
def test_blackwell_ladder_fp4_twice_fp8_twice_bf16(name):
    acc = tm.ACCELERATORS[name]
    assert acc.peak("fp8") == pytest.approx(2 * acc.peak("bf16"))
    assert acc.peak("fp4") == pytest.approx(2 * acc.peak("fp8"))
    assert acc.peak("fp6") == acc.peak("fp8")  # "FP8/FP6 Tensor Core", one row
    assert acc.peak("fp16") == acc.peak("bf16")


def test_gb200_is_the_nvl72_rack_divided_by_72():
    # GB200 NVL72 page: FP32 5,760 TFLOPS, "13.4 TB HBM3E | 576 TB/s", 72 GPUs. 13.4 TB is
    # rounded: 186 GB x 72 = 13.39 TB.
    gb200 = tm.ACCELERATORS["GB200"]
    assert gb200.peak("fp32") == pytest.approx(5760e12 / 72)
    assert gb200.bandwidth == pytest.approx(576e12 / 72)
    assert gb200.memory_bytes == pytest.approx(13.4e12 / 72, rel=0.01)


def test_h800_is_an_h100_sxm_but_for_nvlink():
    # Zhao et al. 2025 (DeepSeek, ISCA '25), Sec. 4.1: only FP64 and NVLink are cut; FlashMLA's
    # deep dive: "peak memory bandwidth of 3.35 TB/s and peak FLOPs of 990 TFlops".
    h800, h100 = tm.ACCELERATORS["H800"], tm.ACCELERATORS["H100-SXM"]
    assert dict(h800.peak_flops) == dict(h100.peak_flops)
    assert (h800.memory_bytes, h800.bandwidth) == (h100.memory_bytes, h100.bandwidth)
    assert h800.peak("bf16") == pytest.approx(990e12, rel=2e-3)
    assert h800.bandwidth == 3.35e12
    assert tm.NVLINK_BANDWIDTH["H800"] == 400e9 / 2 < tm.NVLINK_BANDWIDTH["H100-SXM"]


def test_mi300x_against_the_amd_data_sheet():
    # AMD Instinct MI300X data sheet: peak FP32 163.4, TF32 653.7, FP16 / BF16 1,307.4, FP8
    # 2,614.9 TFLOPs (dense as printed; with structured sparsity twice these), 192 GB HBM3,
    # 5.3 TB/s.
    mi = tm.ACCELERATORS["MI300X"]
    printed = {"fp32": 163.4, "tf32": 653.7, "bf16": 1307.4, "fp16": 1307.4, "fp8": 2614.9}
    assert {k: v / 1e12 for k, v in mi.peak_flops.items()} == pytest.approx(printed)
    assert mi.peak("fp8") == pytest.approx(2 * mi.peak("bf16"), rel=1e-4)
    assert mi.peak("bf16") == pytest.approx(2 * mi.peak("tf32"), rel=1e-4)
    assert mi.vendor == "AMD" and "fp4" not in mi.peak_flops


def test_nvlink_presets_are_half_the_bidirectional_figures():
    # NVLink 5: 1.8 TB/s per GPU, both directions (Blackwell data sheet, "Interconnect").
    assert tm.NVLINK_BANDWIDTH["B200"] == tm.NVLINK_BANDWIDTH["GB200"] == 1.8e12 / 2
    assert set(tm.NVLINK_BANDWIDTH) <= set(tm.ACCELERATORS)
    assert "MI300X" not in tm.NVLINK_BANDWIDTH  # Infinity Fabric: no per-GPU figure sourced


# --- errors: never a silent fallback --------------------------------------------------------


def test_missing_dtype_and_unknown_name():
    with pytest.raises(ValueError, match="fp16"):
        tm.ACCELERATORS["V100"].peak("bf16")
    with pytest.raises(ValueError, match="H100-SXM"):
        tm.get_accelerator("B300")


def test_unknown_name_lists_every_preset():
    with pytest.raises(ValueError, match="unknown accelerator 'H20'") as err:
        tm.get_accelerator("H20")
    for name in tm.ACCELERATORS:
        assert name in str(err.value)
    with pytest.raises(TypeError, match="accelerator must be a name"):
        tm.get_accelerator(None)


@pytest.mark.parametrize(("name", "dtype", "has"), [
    ("H100-SXM", "fp4", "fp32, tf32, bf16, fp16, fp8"),
    ("H800", "fp6", "fp32, tf32, bf16, fp16, fp8"),
    ("MI300X", "fp4", "fp32, tf32, bf16, fp16, fp8"),
    ("B200", "int8", "fp32, tf32, bf16, fp16, fp8, fp6, fp4"),
    ("GB200", "FP4", "fp32, tf32, bf16, fp16, fp8, fp6, fp4"),
])
def test_peak_names_the_dtypes_the_device_has(name, dtype, has):
    with pytest.raises(ValueError, match=rf"dtype '{dtype}' is not available on the {name} "
                                         rf"\(it has dense peaks for {has}\)"):
        tm.ACCELERATORS[name].peak(dtype)


def test_peak_is_the_one_lookup_and_says_what_the_device_has():
    with pytest.raises(ValueError, match=r"dtype 'bf16' is not available on the V100 .*fp32, fp16"):
        tm.ACCELERATORS["V100"].peak("bf16")
    with pytest.raises(TypeError, match="dtype must be a str"):
        tm.ACCELERATORS["H100-SXM"].peak(16)
    with pytest.raises(ValueError, match="not available on the TPU v4"):
        tm.plan_training_run(1e23, accelerator="TPU v4", dtype="fp8")


def test_fp4_plans_on_blackwell_and_refuses_hopper():
    # The fp4 peak is used wherever a dtype is: a plan in fp4 on a B200 takes half the time
    # of one in fp8, and on an H100 it stops with the dtypes the H100 has.
    fp4 = tm.plan_training_run(1e24, accelerator="B200", dtype="fp4")
    fp8 = tm.plan_training_run(1e24, accelerator="B200", dtype="fp8")
    assert fp4.peak_flops == 9e15 and fp4.seconds == pytest.approx(fp8.seconds / 2)
    with pytest.raises(ValueError, match="not available on the H100-SXM"):
        tm.plan_training_run(1e24, accelerator="H100-SXM", dtype="fp4")


def test_planner_has_no_node_bandwidth_for_the_mi300x():
    with pytest.raises(ValueError, match=r"node_bandwidth: no NVLink preset for 'MI300X'"):
        tm.plan_layouts("llama-3-8b", "MI300X", 64)
    plan = tm.plan_layouts("llama-3-8b", "MI300X", 64, node_bandwidth=64e9)
    assert plan.n_fit > 0
