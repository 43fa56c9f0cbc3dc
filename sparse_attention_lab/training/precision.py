"""Numerical precision of training: float32, TF32 matrix products, or bfloat16 autocast.

- ``"fp32"``: float32 everywhere (the default, and what every cached result used).
- ``"tf32"``: float32 tensors, with matrix products in TF32 on CUDA GPUs that have it
  (Ampere and later); no effect on a CPU.
- ``"bf16"``: the training forward pass under bfloat16 autocast (matrix products and
  attention in bfloat16, losses in float32), TF32 elsewhere; on a CPU, torch's CPU autocast.

Evaluations run outside the autocast region, so test curves are measured in float32 (TF32
for the matrix products under ``"tf32"`` and ``"bf16"``). Whether a precision may become a
default depends on the device check (``benchmarks/device_check.py``): plateau lengths must
not move beyond seed noise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "tf32", "bf16")


def check_precision(precision: str, dev: torch.device) -> None:
    """``ValueError`` (naming ``precision``) for an unknown precision, or bf16 on a GPU without it."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if precision == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision 'bf16' needs a GPU with bfloat16; {torch.cuda.get_device_name(dev)} has none.")


@contextlib.contextmanager
def matmul_precision(precision: str, dev: torch.device) -> Iterator[None]:
    """TF32 matrix products inside the block for ``"tf32"`` and ``"bf16"`` on CUDA (restored after)."""
    check_precision(precision, dev)
    if dev.type != "cuda" or precision == "fp32":
        yield
        return
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")  # "high": TF32 where the GPU has it
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def autocast(precision: str, dev: torch.device) -> torch.autocast:
    """The autocast region of a training forward pass: bfloat16 for ``"bf16"``, else off."""
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")
