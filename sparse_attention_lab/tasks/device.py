"""Where a task draws its batches: the device of the generator (or the one asked for).

A sampler draws on the device its ``generator`` lives on, so a CUDA generator gives batches
on the GPU with no copy from the host; a CPU generator draws the same numbers on every
machine. The task's fixed tensors (``W*``, the special token, ...) are copied to a device
once and kept.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def sampling_device(generator: torch.Generator | None, device: torch.device | str | None) -> torch.device:
    """The device a batch is drawn on: ``generator``'s, else ``device``, else the CPU.

    ``ValueError`` (naming ``device``) when both are given and disagree: torch draws with a
    generator only on its own device.
    """
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}.")
    try:
        wanted = None if device is None else torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}.") from None
    if generator is None:
        return wanted or torch.device("cpu")
    if wanted is not None and wanted.type != generator.device.type:
        raise ValueError(
            f"device {str(wanted)!r} differs from the generator's device {str(generator.device)!r}; "
            "pass a generator made on that device, e.g. torch.Generator(device='cuda')."
        )
    return generator.device


def on_device(owner: object, name: str, device: torch.device, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``make()`` on ``device``, made once per ``owner`` (a frozen task) and device, then reused."""
    copies = owner.__dict__.setdefault("_device_copies", {})
    key = (name, str(device))
    if key not in copies:
        copies[key] = make().to(device)
    return copies[key]
