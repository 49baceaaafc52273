"""Tests of trainmath.accelerators: peaks, memory, bandwidth (reference-figures Sec. 10)."""

import pytest

import trainmath as tm

TABLE = {  # name: (dtype, dense peak TFLOP/s, memory GB, bandwidth GB/s)
    "V100": ("fp16", 125, 32, 900),
    "A100-40GB": ("bf16", 312, 40, 1555),
    "A100-80GB": ("bf16", 312, 80, 2039),
    "H100-SXM": ("bf16", 989, 80, 3350),
    "H200": ("bf16", 989, 141, 4800),
    "TPU v4": ("bf16", 275, 32, 1200),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_presets(name):
    dtype, tflops, mem, bw = TABLE[name]
    acc = tm.ACCELERATORS[name]
    assert acc.peak(dtype) == pytest.approx(tflops * 1e12, rel=1e-3)
    assert acc.memory_bytes == mem * 1e9 and acc.bandwidth == bw * 1e9 and acc.source


def test_h100_fp8_and_tf32():
    h100 = tm.ACCELERATORS["H100-SXM"]
    assert h100.peak("fp8") == pytest.approx(1979e12) and h100.peak("tf32") == pytest.approx(495e12)
    assert h100.peak("fp8") == pytest.approx(2 * h100.peak("bf16"), rel=1e-3)


def test_missing_dtype_and_unknown_name():
    with pytest.raises(ValueError, match="fp16"):
        tm.ACCELERATORS["V100"].peak("bf16")
    with pytest.raises(ValueError, match="H100-SXM"):
        tm.get_accelerator("B200")


def test_peak_is_the_one_lookup_and_says_what_the_device_has():
    with pytest.raises(ValueError, match=r"dtype 'bf16' is not available on the V100 .*fp32, fp16"):
        tm.ACCELERATORS["V100"].peak("bf16")
    with pytest.raises(TypeError, match="dtype must be a str"):
        tm.ACCELERATORS["H100-SXM"].peak(16)
    with pytest.raises(ValueError, match="not available on the TPU v4"):
        tm.plan_training_run(1e23, accelerator="TPU v4", dtype="fp8")
