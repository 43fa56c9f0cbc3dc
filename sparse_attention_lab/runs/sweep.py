"""Sweeps: grids of training runs, written one finished run at a time, with provenance and resume.

A sweep is a list of flat JSON-able config dicts crossed with a list of seeds. The unit of
work is an experiment's ``run(config, seeds) -> list[RunRecord]`` (one record per seed, whose
``config`` is the config; the experiment may train the seeds together as one batched
computation). Named sweeps (the grids behind the figures) come from the registry
:data:`sparse_attention_lab.experiments.SWEEPS`::

    python -m sparse_attention_lab list
    python -m sparse_attention_lab sweep fig3 --profile laptop --seeds 3

or, from Python (a notebook, say), ``records = run_sweep("fig3", profile="ci", seeds=2)``.

- Results file, crash safety, resume: :mod:`sparse_attention_lab.runs.results` (by default
  ``./sal_results/<name>_<profile>.jsonl``; the book's ``book/data`` only when named as ``out``).
- What each record's ``provenance`` holds, and the sentence a chapter prints from it:
  :mod:`sparse_attention_lab.runs.provenance`.
- The steps and time ahead, printed before the sweep starts: :mod:`sparse_attention_lab.runs.estimate`.
- Where jobs run (``inline``, ``process``, ``submitit``): :mod:`sparse_attention_lab.runs.executors`.
  A job is one config, training all its missing seeds, or, packed (``pack``), the missing runs
  of the configs that differ only in ``B`` and ``p``.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import os
import pickle
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sparse_attention_lab import experiments
from sparse_attention_lab.experiments import DEFAULT_SEEDS, step_cap, with_step_cap
from sparse_attention_lab.experiments.packing import PACKABLE, pack_key
from sparse_attention_lab.hardware import STEP_CAP_VAR, current_profile, data_stream
from sparse_attention_lab.hardware import device as check_device
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.runs.estimate import Speed, describe_estimate, recorded_speed
from sparse_attention_lab.runs.executors import check_executor, default_workers, make_executor
from sparse_attention_lab.runs.provenance import (
    run_job,
    sweep_provenance,
    with_provenance,
)
from sparse_attention_lab.runs.results import ResultsFile, config_key, load_results, run_key
from sparse_attention_lab.tasks.checks import is_integer, positive_int, seed_list
from sparse_attention_lab.training.record import RunFunction


def named_sweep(name: str) -> experiments.Sweep:
    """The registered sweep ``name``; ``ValueError`` listing the known names."""
    if name not in experiments.SWEEPS:
        raise ValueError(f"unknown sweep {name!r}; known sweeps: {', '.join(sorted(experiments.SWEEPS))}.")
    return experiments.SWEEPS[name]


LOCAL_OUTPUT = "sal_results"
"""The folder, in the working directory, where a sweep writes when no ``out`` is given."""


def default_output(name: str, profile: Profile) -> Path:
    """``./sal_results/<name>_<profile>.jsonl`` in the working directory: never the book's
    committed ``book/data``, which a sweep writes only when asked by name (``out``)."""
    return Path.cwd() / LOCAL_OUTPUT / f"{name}_{profile.name}.jsonl"


def _stream_of(record: Mapping[str, Any]) -> str:
    """A record's data stream (older records without one: the device they trained on)."""
    settings = record.get("settings")
    stream = settings.get("data_stream") if isinstance(settings, Mapping) else None
    return str(stream or record.get("device", "unknown"))


def _note_other_streams(plan: _Plan, earlier: Mapping[tuple[str, int], dict], device: str | None) -> None:
    """Say so when the runs to come draw their batches from another stream than runs in the file
    (another device kind or GPU model): their seeds name other runs, which is fine statistically."""
    ours = data_stream(check_device(device))
    others: dict[str, int] = {}
    for record in earlier.values():
        stream = _stream_of(record)
        if stream != ours:
            others[stream] = others.get(stream, 0) + 1
    if others:
        which = ", ".join(f"{count} on {stream}" for stream, count in sorted(others.items()))
        print(f"Note: {plan.out} holds runs whose batches were drawn on another device ({which}); "
              f"the new runs draw theirs on {ours}, so the same seed is not the same run across them.")


def _check_same_sweep(plan: _Plan, earlier: Mapping[tuple[str, int], dict]) -> None:
    """``ValueError`` when the file holds runs that another named sweep made and that are not runs of
    this one (a sweep may reuse another's runs of the same configs, as ``fig3_p_tuned`` does)."""
    if plan.name is None:
        return
    ours = set(plan.keys)
    foreign: dict[str, int] = {}
    for (key, _), record in earlier.items():
        made_by = (record.get("provenance") or {}).get("sweep")
        if made_by is not None and made_by != plan.name and key not in ours:
            foreign[made_by] = foreign.get(made_by, 0) + 1
    if foreign:
        which = ", ".join(f"{count} of sweep {name!r}" for name, count in sorted(foreign.items()))
        raise ValueError(f"{plan.out} holds runs of another sweep ({which}), not of {plan.name!r}: "
                         f"give this sweep its own --out.")


MAX_SEEDS = 1000
"""Seeds per config a sweep accepts (a sweep's plan and records grow with them; the paper uses 3-5)."""


def _check_seeds(seeds: int | Iterable[int]) -> list[int]:
    """A count of seeds (``0..n-1``) or a list of seeds, as a list (the rules of :mod:`.tasks.checks`),
    at most :data:`MAX_SEEDS` of them."""
    if is_integer(seeds):
        count = positive_int("seeds", seeds)
        if count > MAX_SEEDS:
            raise ValueError(f"seeds must be at most {MAX_SEEDS} per config, got {seeds}.")
        return list(range(count))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds!r}.")
    chosen = seed_list("seeds", itertools.islice(seeds, MAX_SEEDS + 1))
    if len(chosen) > MAX_SEEDS:
        raise ValueError(f"seeds must be at most {MAX_SEEDS} per config, got more.")
    return chosen


def _check_configs(configs: Sequence[Any]) -> list[str]:
    """Canonical keys of ``configs``; ``ValueError`` for a non-dict, non-JSON or repeated config."""
    if not configs:
        raise ValueError("configs must not be empty.")
    keys: dict[str, int] = {}
    for i, config in enumerate(configs):
        if not isinstance(config, Mapping):
            raise ValueError(f"configs[{i}] must be a dict, got {type(config).__name__}.")
        try:
            key = config_key(config)
        except (TypeError, ValueError) as error:
            raise ValueError(f"configs[{i}] is not JSON-serialisable: {error}.") from None
        if key in keys:
            raise ValueError(f"configs[{i}] repeats configs[{keys[key]}].")
        keys[key] = i
    return list(keys)


@dataclass
class _Job:
    """Runs trained together: the missing seeds of one config, or, packed, of several configs."""

    configs: list[dict]  # one per run
    keys: list[str]
    seeds: list[int]

    @property
    def packed(self) -> bool:
        return len(set(self.keys)) > 1

    def arguments(self) -> tuple[dict | list[dict], list[int]]:
        """``run``'s first two arguments: the config (a list of them, one per seed, when packed) and the seeds."""
        return (list(self.configs) if self.packed else self.configs[0]), list(self.seeds)

    def describe(self) -> str:
        return f"{len(set(self.keys))} packed configs" if self.packed else str(self.configs[0])


def _pending_jobs(
    configs: list[dict], keys: list[str], seeds: list[int], done: set, pack: Callable[[dict], str] | None = None
) -> list[_Job]:
    """The missing runs as jobs: one per config, or with ``pack`` (a config's pack key) one per
    group of configs that share it (in the order the groups first appear)."""
    jobs: dict[str, _Job] = {}
    for config, key in zip(configs, keys, strict=True):
        missing = [seed for seed in seeds if (key, seed) not in done]
        if missing:
            job = jobs.setdefault(key if pack is None else pack(config), _Job([], [], []))
            job.configs += [config] * len(missing)
            job.keys += [key] * len(missing)
            job.seeds += missing
    return list(jobs.values())


def _records_by_run(job: _Job, records: Any) -> dict[tuple[str, int], dict]:
    """Match a job's returned records to its runs; ``RuntimeError`` unless there is one record
    per (config, seed) of the job."""
    if not isinstance(records, list) or len(records) != len(job.seeds):
        count = len(records) if isinstance(records, list) else type(records).__name__
        raise RuntimeError(f"run returned {count} records for the {len(job.seeds)} runs of seeds {job.seeds}.")
    matched = {}
    for record in records:
        if not isinstance(record, Mapping) or not isinstance(record.get("config"), Mapping):
            raise RuntimeError("run returned a record without a 'config' dict (the run record's key).")
        key = config_key(record["config"])
        if key not in job.keys:
            raise RuntimeError(f"run returned a record for config {record['config']}, not {job.describe()}.")
        matched[key, record.get("seed")] = dict(record)
    expected = set(zip(job.keys, job.seeds, strict=True))
    if set(matched) != expected:
        raise RuntimeError(f"run returned seeds {[r.get('seed') for r in records]}, expected {job.seeds}.")
    return matched


@dataclass(frozen=True)
class _Plan:
    """A sweep's inputs after validation."""

    name: str | None
    configs: list[dict]
    keys: list[str]
    run: RunFunction
    seeds: list[int]
    out: Path
    packable: tuple[str, ...]  # config fields that may differ inside a packed job


def _plan(
    name_or_configs: str | Sequence[dict],
    run: RunFunction | None,
    profile: Profile,
    seeds: int | Sequence[int] | None,
    out: str | os.PathLike | None,
    max_steps: int | None,
) -> _Plan:
    if isinstance(name_or_configs, str):
        name = name_or_configs
        sweep = named_sweep(name)
        configs, run = sweep.configs(profile), run or sweep.run
        packable = sweep.packable
        out = default_output(name, profile) if out is None else out
        seeds = sweep.seeds(profile) if seeds is None else seeds
    else:
        name, configs, packable = None, list(name_or_configs), PACKABLE
        if run is None or out is None:
            raise ValueError("run and out are required when name_or_configs is a list of configs.")
        seeds = DEFAULT_SEEDS if seeds is None else seeds
    if not callable(run):
        raise ValueError(f"run must be callable, got {run!r}.")
    seeds = _check_seeds(seeds)
    keys = _check_configs(configs)
    if max_steps is not None:
        max_steps = positive_int("max_steps", max_steps)
        if any(step_cap(c) is None for c in configs):
            raise ValueError("max_steps was given but some configs have no max_steps field to cap.")
        configs = [with_step_cap(c, max_steps) for c in configs]
        keys = _check_configs(configs)
    if not isinstance(out, (str, os.PathLike)):
        raise ValueError(f"out must be a path, got {out!r}.")
    return _Plan(name, configs, keys, run, seeds, Path(out), packable)


def _python_call(plan: _Plan, profile: Profile, max_steps: int | None) -> str:
    """How a sweep started from Python is recorded as its command."""
    what = repr(plan.name) if plan.name else f"<{len(plan.configs)} configs>"
    caller = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return f"{caller}: run_sweep({what}, profile={profile.name!r}, seeds={plan.seeds}, max_steps={max_steps})"


def _profile(profile: str | Profile | None) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if profile is not None and not isinstance(profile, str):
        raise ValueError(f"profile must be a profile name or a Profile, got {profile!r}.")
    return current_profile(profile)


def run_sweep(
    name_or_configs: str | Sequence[dict],
    run: RunFunction | None = None,
    profile: str | Profile | None = None,
    seeds: int | Sequence[int] | None = None,
    out: str | os.PathLike | None = None,
    executor: str | cf.Executor | None = None,
    workers: int | None = None,
    max_steps: int | None = None,
    progress: bool = True,
    command: str | Sequence[str] | None = None,
    device: str | None = None,
    pack: bool | None = None,
) -> list[dict]:
    """Run every (config, seed) of a sweep not yet in ``out``; return all its records.

    ``name_or_configs`` is a named sweep (a key of :data:`sparse_attention_lab.experiments.SWEEPS`:
    its configs for ``profile``, trained by its ``run``) or a list of config dicts (then ``run``
    and ``out`` are required). ``seeds`` is a count (seeds ``0..n-1``) or a list. ``executor`` is
    ``"inline"`` (default), ``"process"``, ``"submitit"`` or any ``concurrent.futures.Executor``;
    at most ``workers`` jobs are in flight (default: 1 inline, one per CPU core for process,
    all of them otherwise). ``max_steps`` overrides the configs' step caps. ``device`` (``"cpu"``,
    ``"cuda"``, ``"cuda:N"``) is passed to ``run`` (it is not part of the runs' key: a run is
    the same run on any device). ``command`` is the command line recorded in the provenance
    (default: a description of this call). ``pack`` trains the configs that differ only in the
    sweep's packable fields (``B`` and ``p`` for regression and recall) as one ensemble
    (:mod:`sparse_attention_lab.experiments.packing`; for a list of configs, ``run`` must accept
    a list of configs): default on where the runs train on CUDA, where an ensemble of a dozen
    members costs about one run, off on a CPU (a pack ends with its slowest member, and CPU
    time grows with the members). With ``process`` workers on a machine with several GPUs, each
    worker trains on its own GPU. Records come back in config-then-seed order. A job
    that raises is reported and the sweep goes on; a ``RuntimeError`` at the end lists the failed
    jobs (their runs are missing from the file, and the next sweep retries them).
    """
    if os.environ.get(STEP_CAP_VAR):
        raise ValueError(
            f"{STEP_CAP_VAR} is set: runs capped by it would be stored under their uncapped configs. "
            f"Unset it and pass max_steps (--max-steps) instead, which records the cap in each config."
        )
    profile = _profile(profile)
    plan = _plan(name_or_configs, run, profile, seeds, out, max_steps)
    if device is not None:
        check_device(device)
    kind = executor if isinstance(executor, cf.Executor) else executor or "inline"
    check_executor(kind, workers)
    if kind == "process":
        try:
            pickle.dumps(plan.run)
        except (pickle.PicklingError, AttributeError, TypeError):
            raise ValueError(
                f"run must be a module-level function to go to worker processes, got {plan.run!r}."
            ) from None
    if workers is None and kind in ("inline", "process"):
        workers = 1 if kind == "inline" else default_workers()
    if pack is None:
        pack = check_device(device).type == "cuda"
    elif not isinstance(pack, bool):
        raise ValueError(f"pack must be True, False or None (on CUDA only), got {pack!r}.")
    packing = (lambda config: pack_key(config, plan.packable)) if pack and plan.packable else None

    with ResultsFile(plan.out) as results:
        earlier = {run_key(r): r for r in load_results(plan.out)}
        _check_same_sweep(plan, earlier)
        jobs = _pending_jobs(plan.configs, plan.keys, plan.seeds, set(earlier), packing)
        if jobs:
            _note_other_streams(plan, earlier, device)
        parallel = min(workers or len(jobs), len(jobs)) or 1
        speed = _announce(plan, profile, jobs, parallel, earlier)
        if not jobs:
            return [earlier[key, seed] for key in plan.keys for seed in plan.seeds]

        if command is None:
            command = _python_call(plan, profile, max_steps)
        command = command if isinstance(command, str) else shlex.join(command)
        provenance = sweep_provenance(command, profile.name, plan.name, max_steps)
        pool = make_executor(kind, workers) if isinstance(kind, str) else kind
        new: dict[tuple[str, int], dict] = {}
        failures: list[tuple[_Job, Exception]] = []
        completed = False
        try:
            devices = _slot_devices(device, kind, workers)
            for job, outcome in _execute(pool, plan.run, jobs, workers, progress, devices):
                try:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    matched = _records_by_run(job, outcome["records"])
                except Exception as error:
                    failures.append((job, error))
                    print(f"Job {job.describe()} seeds {job.seeds} failed: {error!r}", file=sys.stderr)
                    continue
                for key, seed in zip(job.keys, job.seeds, strict=True):
                    record = with_provenance(matched[key, seed], provenance, outcome, job.seeds,
                                             len(set(job.keys)))
                    results.append(record)
                    new[key, seed] = record
                if speed is None:
                    speed = _announce_measured_speed(jobs, new, parallel)
            completed = True
        finally:
            if pool is not executor:
                pool.shutdown(wait=completed, cancel_futures=True)

    if failures:
        lines = "\n".join(f"  {job.describe()} seeds {job.seeds}: {error!r}" for job, error in failures)
        raise RuntimeError(f"{len(failures)} of {len(jobs)} jobs failed (finished runs are saved):\n{lines}")
    everything = {**earlier, **new}
    return [everything[key, seed] for key in plan.keys for seed in plan.seeds]


def _announce(plan: _Plan, profile: Profile, jobs: list[_Job], parallel: int, earlier: dict) -> Speed | None:
    """Print what is left to run and the estimate from the speed recorded in the file; return it."""
    runs_left = sum(len(job.seeds) for job in jobs)
    label = f"Sweep {plan.name!r}" if plan.name else "Sweep"
    print(
        f"{label} (profile {profile.name}): {len(plan.configs)} configs x {len(plan.seeds)} seeds; "
        f"{len(plan.keys) * len(plan.seeds) - runs_left} runs already in {plan.out}, "
        f"{runs_left} to run as {len(jobs)} jobs, {parallel} at a time."
    )
    caps = [step_cap(config) for job in jobs for config in job.configs]
    speed = recorded_speed(earlier.values())
    estimate = describe_estimate(caps, speed, parallel)
    if speed is None and any(cap is not None for cap in caps):
        estimate += f" No speed recorded in {plan.out} yet: an estimate follows the first job."
    print(estimate)
    return speed


def _announce_measured_speed(jobs: list[_Job], new: dict, parallel: int) -> Speed | None:
    """After the first job of a sweep with no recorded speed: print the estimate for the rest."""
    speed = recorded_speed(new.values())
    rest = [step_cap(config) for job in jobs
            for config, key, seed in zip(job.configs, job.keys, job.seeds, strict=True) if (key, seed) not in new]
    if speed is not None and rest:
        estimate = describe_estimate(rest, speed, parallel)
        print(f"Measured on the first job (start-up included). {estimate}")
    return speed


def _slot_devices(device: str | None, kind: str | cf.Executor, workers: int | None) -> list[str | None]:
    """The device of each in-flight job slot: one GPU per slot (``cuda:0``, ``cuda:1``, ...) for
    ``process`` workers on a machine with several GPUs when ``device`` is unset or ``"cuda"``;
    else ``device`` for every slot."""
    gpus = torch.cuda.device_count()
    if kind == "process" and gpus > 1 and device in (None, "cuda"):
        return [f"cuda:{i % gpus}" for i in range(workers or gpus)]
    return [device]


def _execute(
    pool: cf.Executor, run: RunFunction, jobs: list[_Job], in_flight: int | None, progress: bool,
    devices: list[str | None],
) -> Iterator[tuple[_Job, Any]]:
    """Submit ``jobs`` keeping at most ``in_flight`` running, each on the device of a free slot
    (``devices``, cycled); yield (job, result or exception) as each finishes, with a progress
    bar counting runs."""
    from tqdm.auto import tqdm

    queue = iter(jobs)
    running: dict[cf.Future, tuple[_Job, int]] = {}
    limit = in_flight or len(jobs)
    free = list(range(limit))
    with tqdm(total=sum(len(j.seeds) for j in jobs), unit="run", disable=not progress) as bar:
        while True:
            for job in queue:
                slot = free.pop(0)
                config, seeds = job.arguments()
                running[pool.submit(run_job, run, config, seeds, devices[slot % len(devices)])] = job, slot
                if not free:
                    break
            if not running:
                return
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                job, slot = running.pop(future)
                free.append(slot)
                error = future.exception()
                bar.update(len(job.seeds))
                yield job, error if error is not None else future.result()
