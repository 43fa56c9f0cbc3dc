"""Compute profiles: selection by argument, environment and hardware; clear errors."""

import platform
import resource
from pathlib import Path

import pytest
import torch

from sparse_attention_lab import hardware, profiles
from sparse_attention_lab.hardware import banner, current_profile, device, device_name
from sparse_attention_lab.profiles import PROFILES


def test_explicit_name_wins_over_environment(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "laptop")
    assert current_profile("ci").name == "ci"


def test_environment_variable_selects(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, " CI ")
    assert current_profile().name == "ci"


def test_default_follows_hardware_and_is_never_paper(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    expected = "gpu" if torch.cuda.is_available() else "laptop"
    assert current_profile().name == expected


def test_typo_in_environment_names_variable_and_choices(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "lapton")
    with pytest.raises(ValueError, match="SAL_PROFILE") as info:
        current_profile()
    for name in PROFILES:
        assert name in str(info.value)


def test_unknown_experiment_lists_known_ones():
    with pytest.raises(KeyError, match="intro_gradient"):
        PROFILES["ci"].sizes("no_such_experiment")


def test_an_entry_names_each_profile_or_says_others_and_why():
    """Issues 26 and 28: no silent fallback to the laptop sizes. Each entry names every profile, or
    states the sizes of the profiles it does not name under "others" and why they share them."""
    for name, table in profiles.SIZES.items():
        assert set(table) <= {*PROFILES, profiles.OTHERS, profiles.WHY}, name
        assert profiles.OTHERS in table or set(PROFILES) <= set(table), name
        if profiles.OTHERS in table:
            assert set(table) != set(PROFILES) | {profiles.OTHERS, profiles.WHY}, f"{name}: 'others' covers no profile"
            reason = table.get(profiles.WHY)
            assert isinstance(reason, str) and reason.strip(), f"{name}: 'others' without a 'why'"
        else:
            assert profiles.WHY not in table, f"{name}: a 'why' with no 'others'"
    assert PROFILES["paper"].sizes("intro_gradient") == profiles.SIZES["intro_gradient"][profiles.OTHERS]
    assert profiles.WHY not in PROFILES["gpu"].sizes("fig1c")


def test_the_gpu_monte_carlo_fits_a_colab_cpu_runtime():
    """Issue 28: chapter 0's Monte-Carlo runs on the CPU whatever the device; under gpu it fell back
    to the laptop sizes (8.7 GB). Its sampled sequences, copied about five times, stay under 4 GB."""
    sizes = PROFILES["gpu"].sizes("intro_gradient")
    assert 5 * sizes["samples"] * max(sizes["T"]) * sizes["d"] * 4 <= 4e9
    assert max(sizes["T"]) >= max(PROFILES["ci"].sizes("intro_gradient")["T"])


def test_an_entry_without_the_profile_or_others_is_refused(monkeypatch):
    monkeypatch.setitem(profiles.SIZES, "partial", {"ci": {"T": 8}, "laptop": {"T": 16}})
    assert PROFILES["ci"].sizes("partial") == {"T": 8}
    with pytest.raises(KeyError, match="no 'gpu' sizes and no 'others' entry"):
        PROFILES["gpu"].sizes("partial")


def test_device_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device().type == "cpu"
    assert device_name() == "cpu"
    with pytest.raises(ValueError, match="CUDA"):
        device("cuda")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_freed_memory_is_reused_without_page_faults():
    assert hardware.reuse_freed_memory() and hardware.reuse_freed_memory()  # idempotent
    size = 2**24  # 64 MiB of float32: above glibc's default 32 MiB, below HEAP_BYTES

    def faults(rounds: int) -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(rounds):
            torch.zeros(size)  # 16,384 fresh pages each time when mapped anew
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults(20)  # the heap grows, by a few blocks, to those it keeps
    assert faults(5) < 2**14


def test_freed_memory_is_left_alone_without_glibc(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert hardware.reuse_freed_memory() is False


def test_device_rejects_unknown_names():
    with pytest.raises(ValueError, match="device"):
        device("tpu")


def test_default_profile_is_gpu_with_cuda(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert current_profile().name == "gpu"


def test_banner_names_profile_device_and_torch(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    text = banner(PROFILES["ci"])
    assert text.startswith("Profile 'ci'")
    assert "device: cpu" in text
    assert f"torch {torch.__version__}" in text


def test_profiles_module_does_not_import_torch():
    import ast

    tree = ast.parse(Path(profiles.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "torch" not in imported


def test_a_profile_name_must_be_a_string():
    """Issue 17 item 6: current_profile(5) was an AttributeError."""
    with pytest.raises(ValueError, match=r"^name must be a profile name \(ci, laptop, gpu, paper\) or None, got 5"):
        current_profile(5)
