"""Compute profiles: how big each experiment of the book runs, and on which device.

A profile is chosen, in this order, by an explicit argument, by the environment variable
``SAL_PROFILE``, or from the hardware (``gpu`` when CUDA is present, else ``laptop``).
``paper`` is never chosen automatically: its runs take hours.

Every experiment reads its sizes from :data:`SIZES`, the one place that says how big each
experiment runs under each profile::

    profile = current_profile()
    sizes = profile.sizes("fig1c")
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Any

import torch

ENV_VAR = "SAL_PROFILE"


@dataclass(frozen=True)
class Profile:
    """A named compute budget."""

    name: str
    hardware: str
    description: str

    def sizes(self, experiment: str) -> dict[str, Any]:
        """The sizes of ``experiment`` (a key of :data:`SIZES`) under this profile."""
        if experiment not in SIZES:
            known = ", ".join(sorted(SIZES))
            raise KeyError(f"Unknown experiment {experiment!r}; known experiments: {known}.")
        table = SIZES[experiment]
        return dict(table[self.name] if self.name in table else table["laptop"])

    def banner(self) -> str:
        """One line for the top of a chapter: profile, device and hardware."""
        dev = device()
        return (
            f"Profile '{self.name}' ({self.description}); device: {device_name(dev)}; "
            f"host: {platform.machine()} with {os.cpu_count()} CPU cores; "
            f"torch {torch.__version__}."
        )


PROFILES: dict[str, Profile] = {
    "ci": Profile("ci", "2 CPU cores", "small enough for the whole book under nbval in CI"),
    "laptop": Profile("laptop", "a few CPU cores", "minutes per chapter on a CPU"),
    "gpu": Profile("gpu", "a Colab-class GPU", "minutes per chapter, larger than laptop"),
    "paper": Profile("paper", "a recent GPU, hours", "the paper's sizes"),
}


def current_profile(name: str | None = None) -> Profile:
    """The profile named ``name``, else ``$SAL_PROFILE``, else one chosen from the hardware."""
    source = "argument"
    if name is None:
        name, source = os.environ.get(ENV_VAR), f"environment variable {ENV_VAR}"
    if name is None or name == "":
        return PROFILES["gpu" if torch.cuda.is_available() else "laptop"]
    key = name.strip().lower()
    if key not in PROFILES:
        known = ", ".join(PROFILES)
        raise ValueError(
            f"Unknown compute profile {name!r} (from the {source}); "
            f"use one of: {known}, e.g. `export {ENV_VAR}=laptop`."
        )
    return PROFILES[key]


def device(prefer: str | None = None) -> torch.device:
    """CUDA when present, else CPU; ``prefer`` forces a device (``"cpu"``, ``"cuda"``)."""
    if prefer is not None:
        if prefer.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {prefer!r} was asked for but CUDA is not available.")
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(dev: torch.device | None = None) -> str:
    """A human name for a device, e.g. ``cuda (NVIDIA H200)`` or ``cpu``."""
    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return "cpu"


# How big each experiment runs under each profile. A profile missing from an entry falls
# back to that entry's ``laptop`` sizes. Each chapter's experiments keep their entries here.
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "intro_gradient": {
        "ci": {"T": [4, 8, 16, 32, 64, 128, 256, 512, 1024], "d": 16, "samples": 4096},
        "laptop": {"T": [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048], "d": 32, "samples": 8192},
    },
}
