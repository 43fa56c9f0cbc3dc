"""Compute profiles: selection by argument, environment and hardware; clear errors."""

import pytest
import torch

from sparse_attention_lab import profiles
from sparse_attention_lab.profiles import PROFILES, current_profile, device


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


def test_missing_profile_entry_falls_back_to_laptop():
    assert PROFILES["paper"].sizes("intro_gradient") == PROFILES["laptop"].sizes("intro_gradient")


def test_every_sizes_entry_has_a_laptop_fallback():
    for name, table in profiles.SIZES.items():
        assert "laptop" in table, name
        assert set(table) <= set(PROFILES), name


def test_device_is_cpu_without_cuda():
    if not torch.cuda.is_available():
        assert device().type == "cpu"
        with pytest.raises(ValueError, match="CUDA"):
            device("cuda")


def test_banner_names_profile_and_device():
    text = PROFILES["ci"].banner()
    assert "'ci'" in text and "device" in text
