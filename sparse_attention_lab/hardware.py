"""The machine a chapter runs on: the device, its name, the profile it implies, a banner, and
how the CPU's memory allocator keeps freed memory (:func:`reuse_freed_memory`).

The only module that asks torch about the hardware; :mod:`sparse_attention_lab.profiles`
holds the sizes and stays free of torch.
"""

from __future__ import annotations

import ctypes
import math
import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from sparse_attention_lab.profiles import ENV_VAR, PROFILES, Profile, profile_named

DEVICE_VAR = "SAL_DEVICE"
"""Environment variable that forces the device (``cpu``, ``cuda``, ``cuda:N``)."""
STEP_CAP_VAR = "SAL_MAX_STEPS"
"""Environment variable that caps every training run's steps (smoke runs only)."""
R = TypeVar("R")

HEAP_BYTES = 2**29
"""Under :func:`reuse_freed_memory`, CPU blocks below this size (512 MiB) come from the process
heap, and the heap returns freed memory to the system only beyond this size."""
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def current_profile(name: str | None = None) -> Profile:
    """The profile named ``name``, else ``$SAL_PROFILE``, else ``gpu`` with CUDA and ``laptop`` without."""
    source = "argument"
    if name is not None and not isinstance(name, str):
        raise ValueError(f"name must be a profile name ({', '.join(PROFILES)}) or None, got {name!r}.")
    if name is None:
        name, source = os.environ.get(ENV_VAR), f"environment variable {ENV_VAR}"
    if name is None or name == "":
        return PROFILES["gpu" if torch.cuda.is_available() else "laptop"]
    return profile_named(name, source)


def device(prefer: str | None = None) -> torch.device:
    """CUDA when present, else CPU; ``prefer`` (else ``$SAL_DEVICE``) forces a device (``"cpu"``, ``"cuda"``)."""
    if prefer is None:
        prefer = os.environ.get(DEVICE_VAR) or None
    if prefer is not None:
        if not isinstance(prefer, str) or not re.fullmatch(r"cpu|cuda(:\d{1,3})?", prefer):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {prefer!r}.")
        if prefer.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {prefer!r} was asked for but CUDA is not available.")
        if ":" in prefer and int(prefer.split(":")[1]) >= torch.cuda.device_count():
            raise ValueError(f"device {prefer!r}: this machine has {torch.cuda.device_count()} CUDA devices.")
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def capped_steps(steps: int) -> int:
    """``steps``, or ``$SAL_MAX_STEPS`` when that is smaller: a cap for smoke runs of whole
    chapters (e.g. ``SAL_DEVICE=cpu SAL_MAX_STEPS=300`` to try the ``gpu`` profile on a CPU).
    Runs trained under a cap record it in their training config; their numbers are not results."""
    cap = os.environ.get(STEP_CAP_VAR)
    if not cap:
        return steps
    if not cap.isdigit() or int(cap) < 1:
        raise ValueError(f"{STEP_CAP_VAR} must be a positive integer, got {cap!r}.")
    return min(steps, int(cap))


def reuse_freed_memory() -> bool:
    """Have glibc's ``malloc`` keep freed CPU memory below :data:`HEAP_BYTES` for the next tensor;
    True where it took effect (Linux with glibc), False elsewhere. Process-wide and idempotent.

    By default glibc maps every block above 32 MiB afresh and unmaps it when freed, so the next
    tensor of that size pays one page fault per 4 KiB page. At the paper's width (``d_model``
    256) and ``T = 256`` the MLP's hidden activations of a batch of 32 are 34 MB and an
    evaluation chunk 256 MB: a training step pays about 30,000 faults and an evaluation with its
    attention probe about a million, 10% and 25% of their time on one core (section 6 of
    ``benchmarks/bench_transformer.py`` times both sides). Nothing computed changes; the process
    keeps freed memory instead of returning it (about 30% more resident memory there: 1.6 GB
    instead of 1.3 GB).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # pragma: no cover - a glibc system without the usual soname
        return False
    return all(libc.mallopt(option, HEAP_BYTES) == 1 for option in (_M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD))


def device_name(dev: torch.device | str | None = None) -> str:
    """A human name for a device, e.g. ``cuda (NVIDIA H200)`` or ``cpu``."""
    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return "cpu"


def data_stream(dev: torch.device | str | None = None) -> str:
    """Which stream of random batches a seed draws where its generator lives: ``cpu``, or the CUDA
    model and its SM count (CUDA's generators differ from the CPU's, and between GPU models), so
    seed ``s`` names a different run on a CPU, a T4 and an H100."""
    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        sms = torch.cuda.get_device_properties(dev).multi_processor_count
        return f"{device_name(dev)}, {sms} SMs"
    return device_name(dev)


def banner(profile: Profile) -> str:
    """One line for the top of a chapter: profile, device and hardware."""
    return (
        f"Profile '{profile.name}' ({profile.description}); device: {device_name()}; "
        f"host: {platform.machine()} with {os.cpu_count()} CPU cores; "
        f"torch {torch.__version__}."
    )


def duration(seconds: float) -> str:
    """``seconds`` as a reader reads a wait: ``12 s``, ``7 min`` or ``1.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 1.5 else f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def timed(work: Callable[[], R]) -> tuple[R, float]:
    """``work()`` and the wall-clock seconds it took on this machine."""
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def timed_map(work: Callable[..., R], items: Sequence, cost: Callable[..., float] | None = None) -> list[R]:
    """``[work(item) for item in items]``, printing after the first item how long all will take on
    this machine: the first item's time, scaled to the others by ``cost`` (equal without one). An
    estimate measured here, never a fixed string; put a representative item first."""
    if not items:
        return []
    costs = [float(cost(item)) if cost else 1.0 for item in items]
    if not all(math.isfinite(c) and c > 0 for c in costs):
        raise ValueError(f"cost must be positive and finite for every item, got {costs}.")
    first, seconds = timed(lambda: work(items[0]))
    print(f"(timed here: {duration(seconds)} for the first of {len(items)}, so about "
          f"{duration(seconds * sum(costs) / costs[0])} in all)", flush=True)
    return [first, *(work(item) for item in items[1:])]
