"""The run record: one training run (one seed of one config), as the trainer writes it.

:func:`~sparse_attention_lab.training.trainer.train` returns one :class:`RunRecord` per seed;
an experiment's ``run`` returns them unchanged; a sweep appends each to a results file with one
more field, ``provenance`` (see :mod:`sparse_attention_lab.runs.provenance`). Every value is
JSON-able; results files store non-finite numbers as ``null``.

Two fields describe the run, each written once, by the trainer:

- ``config``: the flat, JSON-able config the run was asked for (an experiment's config dict,
  see :mod:`sparse_attention_lab.experiments`). Together with ``seed`` it is the key a sweep
  resumes on. ``None`` only when :func:`~sparse_attention_lab.training.trainer.train` is called
  without one.
- ``settings``: every field the trainer used, ``{"task": ..., "model": ..., "train": ...}`` (the
  task's dataclass fields, :class:`~sparse_attention_lab.models.TransformerConfig` and
  :class:`~sparse_attention_lab.training.trainer.TrainConfig`, defaults filled in), and
  ``data_stream`` (:func:`~sparse_attention_lab.hardware.data_stream`): where the training
  batches were drawn, since one seed draws different batches on a CPU and on each GPU model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict


class _Run(TypedDict):
    config: dict[str, Any] | None
    seed: int
    settings: dict[str, Any]
    device: str
    """The device the run trained on (``hardware.device_name``: ``cpu``, ``cuda (NVIDIA H200)``)."""
    steps: list[int]
    """The evaluation steps."""
    test_loss: list[float | None]
    """Loss on fresh test data without repetition, at each evaluation step."""
    train_loss: list[float | None]
    """Loss on a fixed set from the training distribution (with its repetition)."""
    escape_step: float | None
    """The plateau length: the interpolated first crossing of the escape criterion, ``None`` if never."""
    escaped: bool
    diverged: bool
    diverged_at: int | None
    """The step at which the loss was first non-finite (``None`` unless ``diverged``)."""
    task_changes: list[list[Any]]
    """``[step, {field: value}]`` for each change a schedule made to the task."""
    probes: dict[str, list[Any]]
    """Each probe's values, one entry per evaluation step."""
    wall_time_s: float
    """Wall time of the batched run (all seeds trained together)."""


class RunRecord(_Run, total=False):
    """One training run; the fields above always, these when they apply."""

    test_acc: list[float | None]
    """Cross-entropy objective only: accuracy on the test data."""
    train_acc: list[float | None]
    """Cross-entropy objective only: accuracy on the training-distribution set."""
    provenance: dict[str, Any]
    """Added by a sweep: how and where the run was made (``runs.provenance.Provenance``)."""


RunFunction = Callable[..., list[RunRecord]]
"""An experiment's ``run(config, seeds, *, probe=None, callback=None, device=None)``: one record
per seed (a sweep needs only ``run(config, seeds)``, and passes ``device`` when it is given one)."""
