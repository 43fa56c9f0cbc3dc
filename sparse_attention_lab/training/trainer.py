"""Training Transformers with fresh samples each step, and measuring when they escape the plateau.

:func:`train` trains one model per seed, all at once (an ensemble with stacked parameters,
see :mod:`sparse_attention_lab.models`), with Adam or SGD at a constant learning rate and a
fresh batch from the task at every step (App. B of the paper). Every ``eval_every`` steps it
evaluates each model on a fixed test set drawn from ``task.test_task()`` (no repetition) and
on a fixed set from the training distribution.

The *plateau length* (App. D.1) is the first step at which the test loss falls below
``escape_fraction`` x its initial value (0.2 in the paper; 0.4 under cross-sample
repetition), interpolated linearly between evaluations; with a cross-entropy objective and
``escape_accuracy`` set, it is the first step at which test accuracy reaches that level
(5% for associative recall). Training stops at ``max_steps`` or once every model has escaped
and trained ``stop_margin`` x its escape step longer. A model whose loss becomes non-finite is
recorded as diverged; nothing is raised.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, is_dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from sparse_attention_lab.hardware import device as pick_device
from sparse_attention_lab.measure import escape_step
from sparse_attention_lab.models import Transformer, TransformerConfig

OPTIMIZERS = ("adam", "sgd")
OBJECTIVES = ("mse", "ce")

Schedule = Callable[[int, dict], dict]
Callback = Callable[[int, list[dict]], bool | None]
Probe = Callable[[Transformer, int], dict[str, torch.Tensor]]


class Task(Protocol):
    """What :func:`train` needs from a task (both samplers of :mod:`sparse_attention_lab.tasks`)."""

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]: ...

    def test_task(self) -> Task: ...


@dataclass(frozen=True)
class TrainConfig:
    """How to train (App. B: Adam, constant learning rate 1e-4, batch 32, fresh samples).

    ``test_seed`` fixes the test and training-distribution evaluation sets, which are the
    same for every seed so that seeds differ only by initialisation and training batches.
    ``stop_margin=None`` trains to ``max_steps``.
    """

    optimizer: str = "adam"
    lr: float = 1e-4
    batch_size: int = 32
    max_steps: int = 50_000
    eval_every: int = 100
    eval_size: int = 512
    objective: str = "mse"
    escape_fraction: float = 0.2
    escape_accuracy: float | None = None
    stop_margin: float | None = 0.5
    test_seed: int = 0
    device: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}.")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        for name in ("batch_size", "max_steps", "eval_every", "eval_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not 0 < self.escape_fraction < 1:
            raise ValueError(f"escape_fraction must lie in (0, 1), got {self.escape_fraction!r}.")
        if self.escape_accuracy is not None:
            if self.objective != "ce":
                raise ValueError("escape_accuracy needs objective 'ce' (accuracy is defined for classes).")
            if not 0 < self.escape_accuracy <= 1:
                raise ValueError(f"escape_accuracy must lie in (0, 1], got {self.escape_accuracy!r}.")
        if self.stop_margin is not None and self.stop_margin < 0:
            raise ValueError(f"stop_margin must be non-negative or None, got {self.stop_margin!r}.")


def _stream_seed(seed: int, stream: int) -> int:
    """A seed for one of a run's independent random streams (initialisation, data, ...)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def _losses(objective: str, prediction: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-member mean loss (and accuracy for ``ce``): ``1/2 ||y - y*||^2`` or cross-entropy."""
    if objective == "mse":
        return 0.5 * (prediction - target).pow(2).sum(-1).mean(-1), None
    E, batch, classes = prediction.shape
    loss = F.cross_entropy(prediction.reshape(-1, classes), target.reshape(-1), reduction="none")
    accuracy = (prediction.argmax(-1) == target).float().mean(-1)
    return loss.reshape(E, batch).mean(-1), accuracy


def _describe(task: Any) -> Any:
    """A JSON-able description of a task (its dataclass fields, else its repr)."""
    return asdict(task) if is_dataclass(task) else repr(task)


class _Evaluator:
    """Fixed evaluation sets: the test set (shared by all members) and one per member's training task."""

    def __init__(self, task: Task, tasks: list[Task], config: TrainConfig, dev: torch.device) -> None:
        self.config, self.device = config, dev
        generator = torch.Generator().manual_seed(_stream_seed(config.test_seed, 0))
        x, y = task.test_task().sample(config.eval_size, generator)
        self.test = (x.to(dev), y.to(dev))
        self.train_sets = [self._train_set(t) for t in tasks]

    def _train_set(self, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(_stream_seed(self.config.test_seed, 1))
        x, y = task.sample(self.config.eval_size, generator)
        return x.to(self.device), y.to(self.device)

    def refresh(self, member: int, task: Task) -> None:
        """Redraw member ``member``'s training-distribution set after its task changed."""
        self.train_sets[member] = self._train_set(task)

    @torch.no_grad()
    def __call__(self, model: Transformer) -> dict[str, torch.Tensor]:
        E, objective = model.n_models, self.config.objective
        x, y = self.test
        test_loss, test_acc = _losses(objective, model(x.expand(E, *x.shape)), y.expand(E, *y.shape))
        xs, ys = (torch.stack(parts) for parts in zip(*self.train_sets, strict=True))
        train_loss, train_acc = _losses(objective, model(xs), ys)
        out = {"test_loss": test_loss, "train_loss": train_loss}
        if objective == "ce":
            out |= {"test_acc": test_acc, "train_acc": train_acc}
        return out


def train(
    task: Task,
    model_config: TransformerConfig,
    train_config: TrainConfig,
    seeds: Sequence[int],
    schedule: Schedule | None = None,
    callback: Callback | None = None,
    probe: Probe | None = None,
) -> list[dict]:
    """Train one Transformer per seed, all at once; return one JSON-able record per seed.

    Seed ``s`` sets the model's initialisation and its stream of training batches, so a seed
    gives the same run alone or among others (up to float rounding).

    ``schedule(step, history) -> overrides`` (e.g. ``{"p": 0.3}``) is called at every
    evaluation with that model's history (its record so far); a change is applied with
    :func:`dataclasses.replace` on the task. Each model gets its own deep copy of the
    schedule, so stateful controllers are safe. ``callback(step, records)`` is called after
    every evaluation; returning ``True`` stops training. ``probe(model, step)`` returns named
    tensors with a leading model dimension, logged at every evaluation under
    ``record["probes"]``.

    Record keys: ``config``, ``seed``, ``steps``, ``test_loss``, ``train_loss`` (and
    ``test_acc``, ``train_acc`` for ``ce``), ``escape_step`` (interpolated, or ``None``),
    ``escaped``, ``diverged``, ``task_changes``, ``probes``, ``wall_time_s`` (of the batched run).
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds!r}.")
    start = time.perf_counter()
    c = train_config
    dev = pick_device(c.device)
    E = len(seeds)
    model = Transformer(model_config, E, [_stream_seed(s, 0) for s in seeds]).to(dev)
    if c.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=c.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=c.lr)
    generators = [torch.Generator().manual_seed(_stream_seed(s, 1)) for s in seeds]
    tasks = [task] * E
    schedules = [copy.deepcopy(schedule) for _ in seeds] if schedule is not None else None
    evaluate = _Evaluator(task, tasks, c, dev)
    curves = ("test_loss", "train_loss") + (("test_acc", "train_acc") if c.objective == "ce" else ())
    config = {"task": _describe(task), "model": model_config.to_dict(), "train": asdict(c)}
    records = [
        {"config": config, "seed": s, "steps": [], **{k: [] for k in curves}, "escape_step": None,
         "escaped": False, "diverged": False, "task_changes": [], "probes": {}, "wall_time_s": 0.0}
        for s in seeds
    ]
    live = torch.ones(E, dtype=torch.bool, device=dev)

    def log(step: int) -> bool:
        """Evaluate, update records and schedules; return True when training should stop."""
        values = evaluate(model)
        probes = probe(model, step) if probe is not None else {}
        for e, record in enumerate(records):
            if record["diverged"]:
                continue
            record["steps"].append(step)
            for name, value in values.items():
                record[name].append(float(value[e]))
            for name, value in probes.items():
                record["probes"].setdefault(name, []).append(value[e].tolist())
            if not record["escaped"]:
                if c.escape_accuracy is not None:
                    record["escape_step"] = escape_step(record, accuracy=c.escape_accuracy)
                else:
                    record["escape_step"] = escape_step(record, fraction=c.escape_fraction)
                record["escaped"] = record["escape_step"] is not None
            if schedules is not None:
                overrides = schedules[e](step, record)
                changed = {k: v for k, v in overrides.items() if getattr(tasks[e], k) != v}
                if changed:
                    tasks[e] = replace(tasks[e], **changed)
                    evaluate.refresh(e, tasks[e])
                    record["task_changes"].append([step, changed])
            record["wall_time_s"] = time.perf_counter() - start
        stop = callback is not None and bool(callback(step, records))
        if c.stop_margin is not None:
            stop |= all(r["diverged"] or (r["escaped"] and step >= (1 + c.stop_margin) * r["escape_step"])
                        for r in records)
        return stop

    bar = tqdm(total=c.max_steps, disable=not c.progress, desc="training", leave=False)
    for step in range(c.max_steps + 1):
        if (step % c.eval_every == 0 or step == c.max_steps) and (log(step) or step == c.max_steps):
            break
        batches = [t.sample(c.batch_size, g) for t, g in zip(tasks, generators, strict=True)]
        x = torch.stack([b[0] for b in batches]).to(dev)
        y = torch.stack([b[1] for b in batches]).to(dev)
        loss, _ = _losses(c.objective, model(x), y)
        finite = torch.isfinite(loss)
        for e in torch.nonzero(live & ~finite).flatten().tolist():
            records[e]["diverged"] = True
        live &= finite
        if not live.any():
            break
        optimizer.zero_grad(set_to_none=True)
        torch.where(live, loss, torch.zeros_like(loss)).sum().backward()
        optimizer.step()
        bar.update(1)
        if step % c.eval_every == 0:
            bar.set_postfix(test_loss=f"{np.mean([r['test_loss'][-1] for r in records if r['test_loss']]):.3f}")
    bar.close()
    for record in records:
        record["wall_time_s"] = time.perf_counter() - start
    return records
