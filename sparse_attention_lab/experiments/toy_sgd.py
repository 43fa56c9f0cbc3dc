"""Fig. 9 as a named sweep: SGD on the toy model at the paper's size, against the reduced theory.

Chapter 1 trains Fig. 9 live at its profile's size (``T = d = 64`` under ``ci``). The paper's
size, ``T = d = 256`` (App. A.3.4: batch 32, learning rate 1, ``W`` and ``W*`` from
``N(0, 1/d)``, 5 seeds), takes CPU-minutes per seed, so it is cached by the sweep ``fig9_T256``:
the paper's setting and the controls of chapter 1 that switch one departure from the reduced
theory off (a ``W = 0`` start first, the control that closes the gap at ``T = d = 64``).

A config holds ``T``, ``d``, ``batch_size`` (``None``: the exact expected loss), ``lr``,
``teacher``, ``init``, ``max_steps`` (the steps taken, all of them: SGD on the toy model does not
stop at the escape) and ``eval_every``. :func:`run` returns one record per seed with the exact
expected loss as ``test_loss`` and ``train_loss`` (the toy model has no train/test split), the
attention ``alpha`` to the relevant token and the alignment ``w`` as probes, and ``escape_step``
the plateau length by App. D.1's rule (0.2 of the initial loss).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from sparse_attention_lab.hardware import device as default_device
from sparse_attention_lab.hardware import device_name
from sparse_attention_lab.measure import plateau_time
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.training.record import RunRecord
from sparse_attention_lab.training.toy_sgd import train_sgd

CONTROLS: dict[str, dict[str, Any]] = {
    "as in Fig. 9": {},
    "W = 0 start": {"init": "zero"},
    "full batch (exact gradient)": {"batch_size": None},
    "unit-norm teacher": {"teacher": "unit_columns"},
    "all three": {"batch_size": None, "teacher": "unit_columns", "init": "zero"},
}
"""The paper's Fig. 9 setting and chapter 1's controls, each a change to it (App. A.3.4)."""

PAPER_SETTING = {"batch_size": 32, "lr": 1.0, "teacher": "gaussian", "init": "random"}
"""App. A.3.4's SGD: batch 32, learning rate 1, Gaussian teacher, random start."""


def control_of(config: Mapping[str, Any]) -> str:
    """The name in :data:`CONTROLS` of a config's setting."""
    for name, change in CONTROLS.items():
        if all(config.get(k, v) == v for k, v in {**PAPER_SETTING, **change}.items()):
            return name
    raise ValueError(f"config {dict(config)!r} is none of the Fig. 9 controls {list(CONTROLS)}.")


def build(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`train_sgd` for ``config`` (a ``ValueError`` if it is none of
    :data:`CONTROLS`, or misses a field)."""
    control_of(config)
    missing = sorted({"T", "d", "max_steps", "eval_every"} - set(config))
    if missing:
        raise ValueError(f"a Fig. 9 config needs the fields {missing}.")
    return {"T": config["T"], "d": config["d"], "steps": config["max_steps"], "batch_size": config["batch_size"],
            "lr": config["lr"], "eval_every": config["eval_every"], "teacher": config["teacher"], "init": config["init"]}


def run(config: Mapping[str, Any], seeds: Sequence[int], *, probe: None = None, callback: None = None,
        device: torch.device | str | None = None) -> list[RunRecord]:
    """Train ``config`` for every seed of ``seeds`` at once (:func:`train_sgd`); one record per seed.
    SGD on the toy model records its own measures: it takes no probe and no callback."""
    if probe is not None or callback is not None:
        raise ValueError("Fig. 9's SGD records the attention and the alignment itself: it takes no probe or callback.")
    dev = default_device() if device is None else torch.device(device)
    start = time.perf_counter()
    arrays = train_sgd(seeds=seeds, device=dev, **build(config))
    wall = time.perf_counter() - start
    steps = arrays["steps"].tolist()
    records: list[RunRecord] = []
    for i, seed in enumerate(seeds):
        loss = arrays["loss"][i].tolist()
        escape = plateau_time(steps, loss)
        records.append({
            "config": dict(config), "seed": seed, "settings": {"task": {"T": config["T"], "d": config["d"]},
                                                               "train": dict(config)},
            "device": device_name(dev), "steps": steps, "test_loss": loss, "train_loss": loss,
            "escape_step": None if escape == math.inf else escape, "escaped": escape != math.inf,
            "diverged": False, "diverged_at": None, "task_changes": [],
            "probes": {"alpha": arrays["alpha"][i].tolist(), "w": arrays["w"][i].tolist()},
            "wall_time_s": wall,
        })
    return records


def fig9_T256(profile: Profile) -> list[dict]:
    """Fig. 9 at the paper's ``T = d = 256``, the paper's setting first, then each control."""
    s = profile.sizes("fig9_T256")
    base = {"T": s["T"], "d": s["d"], **PAPER_SETTING, "max_steps": s["max_steps"], "eval_every": s["eval_every"]}
    return [{**base, **CONTROLS[name]} for name in s["controls"]]


SWEEPS = {"fig9_T256": fig9_T256}
"""Chapter 1's named sweep."""
