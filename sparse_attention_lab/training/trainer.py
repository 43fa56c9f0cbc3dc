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
and trained ``stop_margin`` x its escape step longer; with ``stop_accuracy`` set, ``stop_margin`` x
the step at which test accuracy reaches that level instead (a level above the plateau, where
the paper's 5% may be crossed on the plateau itself), while ``escape_step`` still reports
``escape_accuracy``. In an ensemble of several configs (a packed sweep job) each config's seeds
stop as they would alone: their records stop growing, and the ensemble trains on until the last
config stops. A model whose loss becomes non-finite is recorded as diverged; nothing is raised.

On a GPU a step never waits for the host: each seed's batch is drawn on the device by its own
generator, divergence is read only at evaluations, Adam is fused. ``torch.compile`` and CUDA
graphs are not used: every config of a sweep has its own shapes (compiling costs tens of
seconds per shape, about what a short run takes), and a graph needs static inputs and rules
out the per-member schedules. Whether the host time left would make them pay is what the
``host_ms_per_step`` of ``benchmarks/device_check.py`` measures. On a CPU the allocator keeps
freed memory for the next step and evaluation (:func:`~sparse_attention_lab.hardware.reuse_freed_memory`).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION
from sparse_attention_lab.hardware import capped_steps, data_stream, device_name, reuse_freed_memory
from sparse_attention_lab.hardware import device as pick_device
from sparse_attention_lab.measure import escape_step
from sparse_attention_lab.models import Transformer, TransformerConfig
from sparse_attention_lab.tasks import checks
from sparse_attention_lab.training.precision import PRECISIONS, autocast, matmul_precision
from sparse_attention_lab.training.record import RunRecord

OPTIMIZERS = ("adam", "sgd")
MAX_MEMBERS = 4096
"""Models (seeds, or packed configs) that :func:`train` trains as one ensemble at most."""
OBJECTIVES = ("mse", "ce")
REDUCTIONS = ("sum", "mean")

Schedule = Callable[[int, dict], dict]
Callback = Callable[[int, list[dict]], bool | None]
Probe = Callable[[Transformer, int], dict[str, torch.Tensor]]


class Task(Protocol):
    """What :func:`train` needs from a task (both samplers of :mod:`sparse_attention_lab.tasks`)."""

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...  # drawn on the generator's device

    def test_task(self) -> Task: ...


@dataclass(frozen=True)
class TrainConfig:
    """How to train (App. B: Adam, constant learning rate 1e-4, batch 32, fresh samples).

    ``test_seed`` fixes the test and training-distribution evaluation sets, which are the
    same for every seed so that seeds differ only by initialisation and training batches.
    ``stop_margin=None`` trains to ``max_steps``.

    ``device``: where the model trains (default :func:`~sparse_attention_lab.hardware.device`).
    ``data_device``: where training batches are drawn, default the training device (each
    seed's generator lives there, so a GPU draws its own batches); ``"cpu"`` draws the CPU
    stream of batches, the same on every device (slower on a GPU: the CPU-vs-CUDA check uses
    it). ``precision`` (see :mod:`sparse_attention_lab.training.precision`): ``"fp32"``,
    ``"tf32"`` (TF32 matrix products on CUDA) or ``"bf16"`` (bfloat16 autocast of the
    training forward pass, TF32 elsewhere; evaluations stay in float32).

    ``output_reduction`` (``mse`` only): the training loss ``1/2 ||y - y*||^2`` ``"sum"``-s the
    squared errors over the ``d`` outputs (ours) or takes their ``"mean"``; the paper leaves it
    open, and under Adam it matters only through ``eps``. Evaluated losses always sum.
    ``escape_reference``: the escape threshold is ``escape_fraction`` x this loss instead of the
    initial test loss (see :func:`~sparse_attention_lab.measure.escape_step`).
    """

    optimizer: str = "adam"
    lr: float = 1e-4
    batch_size: int = 32
    max_steps: int = 50_000
    eval_every: int = 100
    eval_size: int = 512
    objective: str = "mse"
    output_reduction: str = "sum"
    escape_fraction: float = ESCAPE_FRACTION
    escape_reference: float | None = None
    escape_accuracy: float | None = None
    stop_accuracy: float | None = None
    stop_margin: float | None = 0.5
    test_seed: int = 0
    device: str | None = None
    data_device: str | None = None
    precision: str = "fp32"
    progress: bool = True

    def __post_init__(self) -> None:
        checked = {
            "optimizer": checks.choice("optimizer", self.optimizer, OPTIMIZERS),
            "objective": checks.choice("objective", self.objective, OBJECTIVES),
            "output_reduction": checks.choice("output_reduction", self.output_reduction, REDUCTIONS),
            "lr": checks.real("lr", self.lr, above=0),
            **{name: checks.positive_int(name, getattr(self, name))
               for name in ("batch_size", "max_steps", "eval_every", "eval_size")},
            "escape_fraction": checks.real("escape_fraction", self.escape_fraction, above=0, below=1),
            "test_seed": checks.seed("test_seed", self.test_seed),
            "precision": checks.choice("precision", self.precision, PRECISIONS),
            "progress": checks.boolean("progress", self.progress),
        }
        if self.escape_reference is not None:
            checked["escape_reference"] = checks.real("escape_reference", self.escape_reference, above=0)
        if self.escape_accuracy is not None:
            if self.objective != "ce":
                raise ValueError("escape_accuracy needs objective 'ce' (accuracy is defined for classes).")
            checked["escape_accuracy"] = checks.real("escape_accuracy", self.escape_accuracy, above=0, at_most=1)
        if self.stop_accuracy is not None:
            if self.escape_accuracy is None:
                raise ValueError("stop_accuracy needs escape_accuracy (a cross-entropy run timed by accuracy).")
            checked["stop_accuracy"] = checks.real("stop_accuracy", self.stop_accuracy, above=0, at_most=1)
        if self.stop_margin is not None:
            checked["stop_margin"] = checks.real("stop_margin", self.stop_margin, at_least=0, why="or None")
        for name in ("batch_size", "eval_size"):
            checks.elements(name, checked[name], f"{name} sequences")
        for name, value in checked.items():
            object.__setattr__(self, name, value)


def stream_seed(seed: int, stream: int) -> int:
    """A seed for one of a run's independent random streams (initialisation, data, ...), never
    ``seed`` itself (the one home of the rule, for the Transformer and the toy model alike)."""
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


EVAL_ELEMENTS = 2**26
"""Activation elements (256 MB of float32) an evaluation holds at once; longer inputs go in chunks."""


def eval_chunk(model: Transformer, tokens: int) -> int:
    """Sequences per evaluation chunk for inputs of ``tokens`` positions: the whole set at CPU
    sizes, fewer at the paper's width and long ``T`` (the MLP's hidden layer or one layer's
    attention scores, whichever is wider, for every member)."""
    c = model.config
    per_sequence = model.n_models * tokens * max(c.mlp_factor * c.d_model, c.n_heads * tokens)
    return max(1, EVAL_ELEMENTS // per_sequence)


class _Evaluator:
    """Fixed evaluation sets: the test set (shared by all members) and one per member's training task."""

    def __init__(self, task: Task, tasks: list[Task], config: TrainConfig, dev: torch.device) -> None:
        self.config, self.device = config, dev
        generator = torch.Generator().manual_seed(stream_seed(config.test_seed, 0))
        x, y = task.test_task().sample(config.eval_size, generator)
        self.test = (x.to(dev), y.to(dev))
        self.train_sets = [self._train_set(t) for t in tasks]

    def _train_set(self, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(stream_seed(self.config.test_seed, 1))
        x, y = task.sample(self.config.eval_size, generator)
        return x.to(self.device), y.to(self.device)

    def refresh(self, member: int, task: Task) -> None:
        """Redraw member ``member``'s training-distribution set after its task changed."""
        self.train_sets[member] = self._train_set(task)

    def _losses(self, model: Transformer, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-member loss and accuracy on ``x`` ``(E, n, ...)``, in chunks of :func:`eval_chunk` sequences."""
        n = x.shape[1]
        size = eval_chunk(model, x.shape[2] + (x.dim() == 4))
        if size >= n:
            return _losses(self.config.objective, model(x), y)
        parts = [(_losses(self.config.objective, model(x[:, i:i + size]), y[:, i:i + size]), min(size, n - i))
                 for i in range(0, n, size)]
        loss = sum(part[0] * count for part, count in parts) / n
        accuracy = None if parts[0][0][1] is None else sum(part[1] * count for part, count in parts) / n
        return loss, accuracy

    @torch.no_grad()
    def __call__(self, model: Transformer) -> dict[str, torch.Tensor]:
        E, objective = model.n_models, self.config.objective
        x, y = self.test
        test_loss, test_acc = self._losses(model, x.expand(E, *x.shape), y.expand(E, *y.shape))
        xs, ys = (torch.stack(parts) for parts in zip(*self.train_sets, strict=True))
        train_loss, train_acc = self._losses(model, xs, ys)
        out = {"test_loss": test_loss, "train_loss": train_loss}
        if objective == "ce":
            out |= {"test_acc": test_acc, "train_acc": train_acc}
        return out


def draw_batch(
    tasks: Sequence[Task], generators: Sequence[torch.Generator], batch_size: int, dev: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """One training batch per member, drawn on each generator's device and stacked on ``dev``:
    ``x`` ``(E, batch, ...)`` and ``y`` ``(E, batch, ...)``."""
    batches = [t.sample(batch_size, g) for t, g in zip(tasks, generators, strict=True)]
    x = torch.stack([b[0] for b in batches]).to(dev)
    y = torch.stack([b[1] for b in batches]).to(dev)
    return x, y


def _members(
    task: Task | Sequence[Task], config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None, n: int
) -> tuple[list[Task], list[dict | None]]:
    """One task and one config per ensemble member (see :func:`train`), checked."""
    tasks = list(task) if isinstance(task, Sequence) else [task] * n
    if len(tasks) != n:
        raise ValueError(f"task: {len(tasks)} tasks for {n} seeds (give one task, or one per seed).")
    test = _describe(tasks[0].test_task())
    if any(_describe(t.test_task()) != test for t in tasks[1:]):
        raise ValueError("task: packed tasks must share their test task (differ only in repetition, B and p).")
    if config is None or isinstance(config, Mapping):
        return tasks, [None if config is None else dict(config) for _ in range(n)]
    configs = [dict(c) for c in config]
    if len(configs) != n:
        raise ValueError(f"config: {len(configs)} configs for {n} seeds (give one config, or one per seed).")
    return tasks, configs


def _stop_groups(configs: Sequence[dict | None]) -> list[int]:
    """For each member, the index of its group: the members that share a config (the seeds of one
    run of a sweep). A group stops, and its records stop growing, once each of its members has
    escaped and trained ``stop_margin`` longer (or diverged), exactly as when trained alone; a
    packed ensemble trains on until its last group stops."""
    keys = [json.dumps(config, sort_keys=True, default=str) for config in configs]
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    return [index[key] for key in keys]


def train(
    task: Task | Sequence[Task],
    model_config: TransformerConfig,
    train_config: TrainConfig,
    seeds: Sequence[int],
    schedule: Schedule | None = None,
    callback: Callback | None = None,
    probe: Probe | None = None,
    config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> list[RunRecord]:
    """Train one Transformer per seed, all at once; return one :class:`RunRecord` per seed.

    Seed ``s`` sets the model's initialisation and its stream of training batches, so a seed
    gives the same run alone or among others (up to float rounding).

    ``task`` and ``config`` may also be sequences, one entry per seed: member ``e`` then trains
    ``task[e]`` under ``seeds[e]`` (a *packed* ensemble: the runs of several configs that share
    every shape, the model, the training settings and the test set, such as different ``B`` or
    ``p``, trained as one batched computation; a seed may then repeat). Each member's curve is
    the one it gets trained alone, up to float rounding, as far as that run goes: the ensemble
    trains on until every member has met the stop rule.

    ``schedule(step, history) -> overrides`` (e.g. ``{"p": 0.3}``) is called at every
    evaluation with that model's history (its record so far); a change is applied with
    :func:`dataclasses.replace` on the task. Each model gets its own deep copy of the
    schedule, so stateful controllers are safe. ``callback(step, records)`` is called after
    every evaluation; returning ``True`` stops training. ``probe(model, step)`` returns named
    tensors with a leading model dimension, logged at every evaluation under
    ``record["probes"]``.

    ``config`` is the flat JSON-able config the caller describes the run by (an experiment's
    config: the key a sweep resumes on), stored as the records' ``config``; the records'
    ``settings`` hold every task, model and training field used. The fields are documented in
    :mod:`sparse_attention_lab.training.record`.
    """
    seeds = checks.seed_list("seeds", seeds, distinct=not isinstance(task, Sequence))
    if len(seeds) > MAX_MEMBERS:
        raise ValueError(f"seeds: at most {MAX_MEMBERS:,} models train as one ensemble, got {len(seeds):,} "
                         "(every evaluation holds all of them at once); train them in groups.")
    checks.elements("seeds", len(seeds) * (model_config.parameters + train_config.eval_size * model_config.d_model),
                    "one model per seed and its evaluation (seeds x (parameters + eval_size x d_model))")
    tasks, configs = _members(task, config, len(seeds))
    start = time.perf_counter()
    c = replace(train_config, max_steps=capped_steps(train_config.max_steps))
    dev = pick_device(c.device)
    data_dev = pick_device(c.data_device) if c.data_device is not None else dev
    if dev.type == "cpu":  # no page faults for every large activation (the paper's width, long T)
        reuse_freed_memory()
    E = len(seeds)
    model = Transformer(model_config, E, [stream_seed(s, 0) for s in seeds]).to(dev)
    if c.optimizer == "adam":  # fused: one kernel for the whole update on CUDA
        optimizer = torch.optim.Adam(model.parameters(), lr=c.lr, fused=dev.type == "cuda")
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=c.lr)
    generators = [torch.Generator(device=data_dev).manual_seed(stream_seed(s, 1)) for s in seeds]
    schedules = [copy.deepcopy(schedule) for _ in seeds] if schedule is not None else None
    evaluate = _Evaluator(tasks[0], tasks, c, dev)
    curves = ("test_loss", "train_loss") + (("test_acc", "train_acc") if c.objective == "ce" else ())
    shared = {"model": model_config.to_dict(), "train": asdict(c), "data_stream": data_stream(data_dev)}
    records: list[RunRecord] = [
        {"config": member_config, "seed": s, "settings": {"task": _describe(member_task), **shared},
         "device": device_name(dev), "steps": [], **{k: [] for k in curves}, "escape_step": None,
         "escaped": False, "diverged": False, "diverged_at": None, "task_changes": [], "probes": {},
         "wall_time_s": 0.0}
        for s, member_task, member_config in zip(seeds, tasks, configs, strict=True)
    ]
    live = torch.ones(E, dtype=torch.bool, device=dev)
    diverged_at = torch.full((E,), -1, dtype=torch.long, device=dev)  # first non-finite step
    group_of = _stop_groups(configs)
    finished = [False] * (max(group_of) + 1)  # a group's records are complete: they stop growing

    def done(record: RunRecord, step: int) -> bool:
        if record["diverged"]:
            return True
        if c.stop_margin is None:
            return False
        if c.stop_accuracy is None:
            return record["escaped"] and step >= (1 + c.stop_margin) * record["escape_step"]
        reached = escape_step(record, accuracy=c.stop_accuracy)  # the stop level, above the plateau
        return math.isfinite(reached) and step >= (1 + c.stop_margin) * reached

    def log(step: int) -> bool:
        """Evaluate, update records and schedules; return True when training should stop."""
        dead = torch.nonzero(~live).flatten().tolist()  # the one host sync for divergence
        for e, at in zip(dead, diverged_at[dead].tolist(), strict=True):
            if not finished[group_of[e]]:
                records[e]["diverged"], records[e]["diverged_at"] = True, at
        values = evaluate(model)
        probes = probe(model, step) if probe is not None else {}
        for e, record in enumerate(records):
            if record["diverged"] or finished[group_of[e]]:
                continue
            record["steps"].append(step)
            for name, value in values.items():
                record[name].append(float(value[e]))
            for name, value in probes.items():
                record["probes"].setdefault(name, []).append(value[e].tolist())
            if not record["escaped"]:
                if c.escape_accuracy is not None:
                    escape = escape_step(record, accuracy=c.escape_accuracy)
                else:
                    escape = escape_step(record, fraction=c.escape_fraction, reference=c.escape_reference)
                record["escaped"] = math.isfinite(escape)
                record["escape_step"] = escape if record["escaped"] else None  # JSON: null for never
            if schedules is not None:
                overrides = schedules[e](step, record)
                changed = {k: v for k, v in overrides.items() if getattr(tasks[e], k) != v}
                if changed:
                    tasks[e] = replace(tasks[e], **changed)
                    evaluate.refresh(e, tasks[e])
                    record["task_changes"].append([step, changed])
            record["wall_time_s"] = time.perf_counter() - start
        for group in range(len(finished)):
            finished[group] = finished[group] or all(
                done(records[e], step) for e in range(E) if group_of[e] == group)
        stop = all(r["diverged"] for r in records) or (callback is not None and bool(callback(step, records)))
        return stop or all(finished)

    bar = tqdm(total=c.max_steps, disable=not c.progress, desc="training", leave=False)
    with matmul_precision(c.precision, dev):
        for step in range(c.max_steps + 1):
            if (step % c.eval_every == 0 or step == c.max_steps) and (log(step) or step == c.max_steps):
                break
            x, y = draw_batch(tasks, generators, c.batch_size, dev)
            with autocast(c.precision, dev):
                prediction = model(x)
            loss, _ = _losses(c.objective, prediction.float(), y)
            if c.output_reduction == "mean" and c.objective == "mse":
                loss = loss / prediction.shape[-1]
            # A member whose loss is not finite stops learning here; the records learn it at the
            # next evaluation, so no step waits for the device.
            finite = torch.isfinite(loss)
            diverged_at = torch.where(live & ~finite, step, diverged_at)
            live &= finite
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
