"""Cheap stand-ins for an experiment's ``run(config, seeds)``, importable by worker processes.

Records follow the trainer's run record closely enough for the sweep machinery: the config, a
seed, the device, evaluation steps, a test-loss curve, an escape step and a divergence flag.
Every number is a function of the config and the seed, so any executor must return the same
records. This module imports no torch, so that worker processes start fast.
"""

from __future__ import annotations

import math
import os
import time


def fake_run(config: dict, seeds: list[int], *, device: str | None = None) -> list[dict]:
    """One record per seed after sleeping ``config["sleep"]`` seconds (default 0).

    ``config["diverge"]`` makes the loss non-finite, like a diverged training run; the record's
    ``device`` is ``device``, else ``config["device"]``, else ``"unspecified"``.
    """
    time.sleep(config.get("sleep", 0.0))
    records = []
    for seed in seeds:
        steps = config.get("max_steps", 100)
        escape = steps * config.get("T", 1) / (config.get("T", 1) + seed + 1)
        final = math.nan if config.get("diverge") else 0.1 / (seed + 1)
        records.append(
            {
                "config": config,
                "seed": seed,
                "device": device or config.get("device", "unspecified"),
                "steps": [0, steps // 2, steps],
                "test_loss": [0.5, 0.3, final],
                "train_loss": [0.5, 0.3, final],
                "escape_step": None if config.get("diverge") else escape,
                "escaped": not config.get("diverge"),
                "diverged": bool(config.get("diverge")),
                "diverged_at": steps if config.get("diverge") else None,
                "wall_time_s": config.get("sleep", 0.0),
            }
        )
    return records


def packable_run(config: dict | list[dict], seeds: list[int], *, device: str | None = None) -> list[dict]:
    """:func:`fake_run` that also takes a list of configs, one per seed (a packed job), and
    records in each record's ``packed_with`` how many runs its job trained."""
    configs = config if isinstance(config, list) else [config] * len(seeds)
    records = [fake_run(c, [s], device=device)[0] for c, s in zip(configs, seeds, strict=True)]
    return [{**r, "packed_with": len(seeds)} for r in records]


def failing_run(config: dict, seeds: list[int]) -> list[dict]:
    """Like :func:`fake_run`, but raises for configs with ``config["fail"]`` set."""
    if config.get("fail"):
        raise RuntimeError(f"failing on purpose for T={config.get('T')}")
    return fake_run(config, seeds)


def pid_run(config: dict, seeds: list[int]) -> list[dict]:
    """Like :func:`fake_run`, after writing this worker's pid to ``config["pid_dir"]``."""
    with open(os.path.join(config["pid_dir"], str(os.getpid())), "w"):
        pass
    return fake_run(config, seeds)


def fake_sweep(profile) -> list[dict]:
    """Three quick configs, with a step cap that depends on the profile."""
    cap = 50 if profile.name == "ci" else 100
    return [{"T": T, "max_steps": cap} for T in (2, 4, 8)]


def slow_sweep(profile) -> list[dict]:
    """Six configs of a third of a second each: long enough to kill a sweep in the middle."""
    return [{"T": T, "max_steps": 100, "sleep": 0.3} for T in (2, 4, 8, 16, 32, 64)]


def registry() -> dict:
    """The named sweeps "fake" and "slow", trained by :func:`fake_run`, in place of the experiments'."""
    from sparse_attention_lab.experiments import Sweep

    return {"fake": Sweep("fake", fake_sweep, fake_run), "slow": Sweep("slow", slow_sweep, fake_run)}
