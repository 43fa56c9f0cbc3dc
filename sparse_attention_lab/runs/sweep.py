"""Sweeps: grids of training runs, written one finished run at a time, with provenance and resume.

A sweep is a list of plain JSON-able config dicts crossed with a list of seeds. The unit of
work is an experiment's ``run(config, seeds) -> list[dict]`` (one record per seed; the
experiment may train the seeds together as one batched computation). Named sweeps (the grids
behind Fig. 3 and Figs. 13-15 for regression, Figs. 4-5 for associative recall) come from the
``SWEEPS`` tables of :mod:`sparse_attention_lab.experiments.regression` and
:mod:`sparse_attention_lab.experiments.recall`::

    python -m sparse_attention_lab list
    python -m sparse_attention_lab sweep fig3 --profile laptop --seeds 3

or, from Python (a notebook, say), ``records = run_sweep("fig3", profile="ci", seeds=2)``.

**Results file, crash safety, resume.** One strict-JSON line per finished run, by default
``book/data/<name>_<profile>.jsonl``, with the run's provenance; runs already in the file are
skipped, so the same command finishes an interrupted sweep. See :mod:`sparse_attention_lab.runs.results`.

**Estimate.** Before starting, the sweep prints how many runs are left, the sum of their step
caps (the ``max_steps`` fields of the configs: an upper bound, since runs stop a margin after
they escape the plateau) and a wall-time estimate from the speed recorded in the results file
(training steps per second of wall time per worker, each seed of a batched job counted, and
the fraction of the step cap earlier runs used). With no earlier run in the file the estimate
is printed after the first job finishes, measured on it. Job wall time is measured inside the
worker, so the start-up of worker processes (importing torch: seconds per job with submitit's
local executor) and cluster queueing are not in the estimate.

**Executors.** Jobs (one per config, training all its missing seeds) go through a
:class:`concurrent.futures.Executor`: ``inline``, ``process`` or ``submitit``; see
:mod:`sparse_attention_lab.runs.executors`.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime
import os
import pickle
import platform
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparse_attention_lab import __version__
from sparse_attention_lab.runs.executors import (
    EXECUTORS,
    InlineExecutor,
    SubmititExecutor,
    check_executor,
    make_executor,
)
from sparse_attention_lab.runs.results import (
    ResultsFile,
    config_key,
    json_ready,
    load_results,
    run_key,
)

if TYPE_CHECKING:
    from sparse_attention_lab.profiles import Profile

# This module is imported by every worker process before its first job, so it leaves torch
# (through .profiles) to the experiments: workers then start in a fraction of a second.

RunFunction = Callable[[dict, list[int]], list[dict]]

SWEEP_MODULES = (
    "sparse_attention_lab.experiments.regression",
    "sparse_attention_lab.experiments.recall",
)
"""Modules whose ``SWEEPS`` table (name -> configs for a profile) and ``run`` make named sweeps."""

DEFAULT_SEEDS = 3
"""Seeds per config when neither the caller nor ``profiles.SIZES[name]["seeds"]`` says (the
paper used 5 for regression and 3 for associative recall)."""

REPOSITORY = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- named sweeps


@dataclass(frozen=True)
class SweepCatalog:
    """The named sweeps that can be imported now, and the modules that could not be."""

    sweeps: dict[str, str] = field(default_factory=dict)  # sweep name -> module name
    unavailable: dict[str, str] = field(default_factory=dict)  # module name -> reason

    def describe(self) -> str:
        """Known names, and why any module is missing, in one message."""
        names = ", ".join(sorted(self.sweeps)) or "none"
        text = f"known sweeps: {names}"
        for module, reason in self.unavailable.items():
            text += f"; {module} unavailable ({reason})"
        return text + "."


def sweep_catalog(modules: Sequence[str] | None = None) -> SweepCatalog:
    """Import each module of ``modules`` (default :data:`SWEEP_MODULES`) now, not when this
    module is imported, and list the names in its ``SWEEPS``."""
    catalog = SweepCatalog()
    modules = SWEEP_MODULES if modules is None else modules
    for module_name in modules:
        try:
            module = import_module(module_name)
        except ImportError as error:
            missing = isinstance(error, ModuleNotFoundError) and module_name.startswith(error.name or "?")
            catalog.unavailable[module_name] = "not written yet" if missing else f"import failed: {error}"
            continue
        table = getattr(module, "SWEEPS", None)
        if not isinstance(table, Mapping) or not callable(getattr(module, "run", None)):
            catalog.unavailable[module_name] = "it defines no SWEEPS table and run function"
            continue
        for name in table:
            if name in catalog.sweeps:
                raise ValueError(
                    f"sweep name {name!r} is defined by both {catalog.sweeps[name]} and {module_name}."
                )
            catalog.sweeps[name] = module_name
    return catalog


def named_sweep(name: str, profile: Profile) -> tuple[list[dict], RunFunction]:
    """The configs of sweep ``name`` under ``profile`` and the ``run`` function that trains them."""
    catalog = sweep_catalog()
    if name not in catalog.sweeps:
        raise ValueError(f"Unknown sweep {name!r}; {catalog.describe()}")
    module = import_module(catalog.sweeps[name])
    return list(module.SWEEPS[name](profile)), module.run


def default_seeds(name: str, profile: Profile) -> int:
    """Seeds per config: ``profiles.SIZES[name]["seeds"]`` when present, else :data:`DEFAULT_SEEDS`."""
    from sparse_attention_lab.profiles import SIZES

    if name in SIZES:
        return int(profile.sizes(name).get("seeds", DEFAULT_SEEDS))
    return DEFAULT_SEEDS


def default_output(name: str, profile: Profile) -> Path:
    """``book/data/<name>_<profile>.jsonl`` in a checkout of the repository, else in the cwd."""
    filename = f"{name}_{profile.name}.jsonl"
    book = REPOSITORY / "book"
    return book / "data" / filename if book.is_dir() else Path(filename)


# ----------------------------------------------------------------------------- configs and keys


def _find_step_caps(config: Any) -> list[int]:
    """Every ``max_steps`` value in a (nested) config."""
    if isinstance(config, Mapping):
        caps = [config["max_steps"]] if "max_steps" in config else []
        for key, value in config.items():
            if key != "max_steps":
                caps += _find_step_caps(value)
        return caps
    if isinstance(config, list):
        return [cap for item in config for cap in _find_step_caps(item)]
    return []


def step_cap(config: Mapping[str, Any]) -> int | None:
    """The training-step cap of a config (its ``max_steps`` field, at any depth), or ``None``."""
    caps = [cap for cap in _find_step_caps(config) if isinstance(cap, int) and not isinstance(cap, bool)]
    return max(caps) if caps else None


def with_step_cap(config: Any, max_steps: int) -> Any:
    """A copy of ``config`` with every ``max_steps`` field set to ``max_steps``."""
    if isinstance(config, Mapping):
        return {
            k: max_steps if k == "max_steps" else with_step_cap(v, max_steps) for k, v in config.items()
        }
    if isinstance(config, list):
        return [with_step_cap(item, max_steps) for item in config]
    return config


def _check_seeds(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds!r}.")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive number of seeds, got {seeds}.")
        return list(range(seeds))
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must not be empty.")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seeds must be non-negative integers, got {seed!r}.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat, got {seeds}.")
    return seeds


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
        except TypeError as error:
            raise ValueError(f"configs[{i}] is not JSON-serialisable: {error}.") from None
        if key in keys:
            raise ValueError(f"configs[{i}] repeats configs[{keys[key]}].")
        keys[key] = i
    return list(keys)


# ----------------------------------------------------------------------------- provenance


def _git_state() -> tuple[str | None, bool | None]:
    """(commit, working tree has uncommitted changes to tracked files), or ``None``s outside git."""
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPOSITORY), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    if not (REPOSITORY / ".git").exists():  # an installed package, not a checkout
        return None, None
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, dirty


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def sweep_provenance(command: str, profile: Profile) -> dict[str, Any]:
    """What made a sweep, on the machine that launches it: command, profile, git state, versions."""
    commit, dirty = _git_state()
    return {
        "command": command,
        "profile": profile.name,
        "git_commit": commit,
        "git_dirty": dirty,
        "package_version": __version__,
        "python_version": platform.python_version(),
        "sweep_started_at": _now(),
    }


def worker_provenance() -> dict[str, Any]:
    """Where a job ran, measured on the worker itself (on a cluster, a compute node). The torch
    fields are ``None`` when the run did not use torch."""
    torch = sys.modules.get("torch")
    device = None
    if torch is not None:
        from sparse_attention_lab.hardware import device_name

        device = device_name()
    return {
        "torch_version": torch.__version__ if torch else None,
        "device": device,
        "hostname": socket.gethostname(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads() if torch else None,
    }


def run_job(run: RunFunction, config: dict, seeds: list[int]) -> dict[str, Any]:
    """Train ``seeds`` of ``config`` with ``run`` and time it; what an executor worker executes."""
    start = time.perf_counter()
    records = run(config, list(seeds))
    return {
        "records": records,
        "wall_time_s": time.perf_counter() - start,
        "finished_at": _now(),
        "worker": worker_provenance(),
    }


# ----------------------------------------------------------------------------- estimate


@dataclass(frozen=True)
class Speed:
    """Training speed seen in finished runs: steps per second per worker, share of cap used."""

    steps_per_s: float
    cap_fraction: float | None
    runs: int


def _steps_trained(record: Mapping[str, Any]) -> int | None:
    steps = record.get("steps")
    if isinstance(steps, list) and steps:
        steps = steps[-1]
    return steps if isinstance(steps, (int, float)) and not isinstance(steps, bool) else None


def recorded_speed(records: Iterable[Mapping[str, Any]]) -> Speed | None:
    """Speed from records written by sweeps: steps trained over each run's share of its job's
    wall time (a job trains several seeds at once), and the fraction of the step cap used."""
    steps = seconds = capped_steps = caps = 0.0
    runs = 0
    for record in records:
        provenance, trained = record.get("provenance"), _steps_trained(record)
        if not isinstance(provenance, Mapping) or trained is None:
            continue
        wall, seeds = provenance.get("job_wall_time_s"), provenance.get("job_seeds")
        if not isinstance(wall, (int, float)) or not isinstance(seeds, list) or not seeds:
            continue
        steps, seconds, runs = steps + trained, seconds + wall / len(seeds), runs + 1
        cap = step_cap((record.get("sweep") or {}).get("config") or record.get("config") or {})
        if cap:
            capped_steps, caps = capped_steps + trained, caps + cap
    if runs == 0 or seconds <= 0 or steps <= 0:
        return None
    return Speed(steps / seconds, capped_steps / caps if caps else None, runs)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe_estimate(step_caps: Sequence[int | None], speed: Speed | None, parallel: int) -> str:
    """The steps and wall time ahead for runs with these step caps, at ``speed`` with
    ``parallel`` jobs at a time."""
    if not step_caps:
        return "Nothing left to run."
    known = [cap for cap in step_caps if cap is not None]
    if not known:
        return "The configs have no max_steps field: no step or time estimate."
    total = sum(known)
    text = f"Step caps add up to {total:,} training steps (runs stop earlier once they escape)"
    if len(known) < len(step_caps):
        text += f"; {len(step_caps) - len(known)} runs have no cap and are not counted"
    if speed is None:
        return text + "."
    expected = total * (speed.cap_fraction or 1.0)
    seconds_per_step = 1 / (speed.steps_per_s * parallel)
    text += (
        f". At {speed.steps_per_s:.1f} steps/s per run per worker (seeds trained together each "
        f"count; from {speed.runs} finished runs"
    )
    if speed.cap_fraction:
        text += f", which used {speed.cap_fraction:.0%} of their cap on average"
    return text + (
        f"): expect about {expected:,.0f} steps, {_duration(expected * seconds_per_step)} of wall "
        f"time, at most {_duration(total * seconds_per_step)}."
    )


# ----------------------------------------------------------------------------- the sweep


@dataclass
class _Job:
    config: dict
    key: str
    seeds: list[int]


def _pending_jobs(configs: list[dict], keys: list[str], seeds: list[int], done: set) -> list[_Job]:
    jobs = []
    for config, key in zip(configs, keys, strict=True):
        missing = [seed for seed in seeds if (key, seed) not in done]
        if missing:
            jobs.append(_Job(config, key, missing))
    return jobs


def _records_by_seed(job: _Job, records: Any) -> dict[int, dict]:
    """Match a job's returned records to its seeds (by their ``seed`` field, else in order)."""
    if not isinstance(records, list) or len(records) != len(job.seeds):
        count = len(records) if isinstance(records, list) else type(records).__name__
        raise RuntimeError(f"run returned {count} records for the {len(job.seeds)} seeds {job.seeds}.")
    if all(isinstance(r, Mapping) and "seed" in r for r in records):
        matched = {r["seed"]: dict(r) for r in records}
        if sorted(matched) != sorted(job.seeds):
            raise RuntimeError(f"run returned seeds {sorted(matched)}, expected {job.seeds}.")
        return matched
    return {seed: dict(r) for seed, r in zip(job.seeds, records, strict=True)}


@dataclass(frozen=True)
class _Plan:
    """A sweep's inputs after validation."""

    name: str | None
    configs: list[dict]
    keys: list[str]
    run: RunFunction
    seeds: list[int]
    out: Path


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
        configs, sweep_run = named_sweep(name, profile)
        run = run or sweep_run
        out = default_output(name, profile) if out is None else out
        seeds = default_seeds(name, profile) if seeds is None else seeds
    else:
        name, configs = None, list(name_or_configs)
        if run is None or out is None:
            raise ValueError("run and out are required when name_or_configs is a list of configs.")
        seeds = DEFAULT_SEEDS if seeds is None else seeds
    if not callable(run):
        raise ValueError(f"run must be callable, got {run!r}.")
    seeds = _check_seeds(seeds)
    keys = _check_configs(configs)
    if max_steps is not None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}.")
        if any(step_cap(c) is None for c in configs):
            raise ValueError("max_steps was given but some configs have no max_steps field to cap.")
        configs = [with_step_cap(c, max_steps) for c in configs]
        keys = _check_configs(configs)
    return _Plan(name, configs, keys, run, seeds, Path(out))


def _python_call(plan: _Plan, profile: Profile, max_steps: int | None) -> str:
    """How a sweep started from Python is recorded as its command."""
    what = repr(plan.name) if plan.name else f"<{len(plan.configs)} configs>"
    caller = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return f"{caller}: run_sweep({what}, profile={profile.name!r}, seeds={plan.seeds}, max_steps={max_steps})"


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
) -> list[dict]:
    """Run every (config, seed) of a sweep not yet in ``out``; return all its records.

    ``name_or_configs`` is a named sweep (configs from the experiments' ``SWEEPS`` for
    ``profile``, trained by their ``run``) or a list of config dicts (then ``run`` and ``out``
    are required). ``seeds`` is a count (seeds ``0..n-1``) or a list. ``executor`` is
    ``"inline"`` (default), ``"process"``, ``"submitit"`` or any ``concurrent.futures.Executor``;
    at most ``workers`` jobs are in flight (default: 1 inline, one per CPU core for process,
    all of them otherwise). ``max_steps`` overrides the configs' step caps. ``command`` is the
    command line recorded in the provenance (default: a description of this call). Records come
    back in config-then-seed order. A job that raises is reported and the sweep goes on; a
    ``RuntimeError`` at the end lists the failed jobs (their runs are missing from the file, and
    the next sweep retries them).
    """
    from sparse_attention_lab.hardware import current_profile
    from sparse_attention_lab.profiles import Profile

    profile = profile if isinstance(profile, Profile) else current_profile(profile)
    plan = _plan(name_or_configs, run, profile, seeds, out, max_steps)
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
        workers = 1 if kind == "inline" else os.cpu_count() or 1

    with ResultsFile(plan.out) as results:
        earlier = {run_key(r): r for r in load_results(plan.out)}
        earlier.pop(None, None)
        jobs = _pending_jobs(plan.configs, plan.keys, plan.seeds, set(earlier))
        parallel = min(workers or len(jobs), len(jobs)) or 1
        speed = _announce(plan, profile, jobs, parallel, earlier)
        if not jobs:
            return [earlier[key, seed] for key in plan.keys for seed in plan.seeds]

        if command is None:
            command = _python_call(plan, profile, max_steps)
        provenance = sweep_provenance(command if isinstance(command, str) else shlex.join(command), profile)
        pool = make_executor(kind, workers) if isinstance(kind, str) else kind
        new: dict[tuple[str, int], dict] = {}
        failures: list[tuple[_Job, Exception]] = []
        completed = False
        try:
            for job, outcome in _execute(pool, plan.run, jobs, workers, progress):
                try:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    matched = _records_by_seed(job, outcome["records"])
                except Exception as error:
                    failures.append((job, error))
                    print(f"Job {job.config} seeds {job.seeds} failed: {error!r}", file=sys.stderr)
                    continue
                for seed in job.seeds:
                    record = _with_provenance(matched[seed], plan.name, job, seed, provenance, outcome)
                    results.append(record)
                    new[job.key, seed] = record
                if speed is None:
                    speed = _announce_measured_speed(jobs, new, parallel)
            completed = True
        finally:
            if pool is not executor:
                pool.shutdown(wait=completed, cancel_futures=True)

    if failures:
        lines = "\n".join(f"  {job.config} seeds {job.seeds}: {error!r}" for job, error in failures)
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
    caps = [step_cap(job.config) for job in jobs for _ in job.seeds]
    speed = recorded_speed(earlier.values())
    estimate = describe_estimate(caps, speed, parallel)
    if speed is None and any(cap is not None for cap in caps):
        estimate += f" No speed recorded in {plan.out} yet: an estimate follows the first job."
    print(estimate)
    return speed


def _announce_measured_speed(jobs: list[_Job], new: dict, parallel: int) -> Speed | None:
    """After the first job of a sweep with no recorded speed: print the estimate for the rest."""
    speed = recorded_speed(new.values())
    rest = [step_cap(job.config) for job in jobs for seed in job.seeds if (job.key, seed) not in new]
    if speed is not None and rest:
        estimate = describe_estimate(rest, speed, parallel)
        print(f"Measured on the first job (start-up included). {estimate}")
    return speed


def _with_provenance(
    record: dict, name: str | None, job: _Job, seed: int, provenance: dict, outcome: dict
) -> dict:
    """A run's record with its resume key (``sweep``) and how it was made (``provenance``),
    as it is written to the results file (strict JSON: non-finite numbers become ``None``)."""
    record["sweep"] = {"name": name, "config": job.config, "seed": seed}
    record["provenance"] = {
        **provenance,
        **outcome["worker"],
        "finished_at": outcome["finished_at"],
        "job_wall_time_s": round(outcome["wall_time_s"], 3),
        "job_seeds": job.seeds,
    }
    return json_ready(record)


def _execute(
    pool: cf.Executor, run: RunFunction, jobs: list[_Job], in_flight: int | None, progress: bool
) -> Iterator[tuple[_Job, Any]]:
    """Submit ``jobs`` keeping at most ``in_flight`` running; yield (job, result or exception)
    as each finishes, with a progress bar counting runs."""
    from tqdm.auto import tqdm

    queue = iter(jobs)
    running: dict[cf.Future, _Job] = {}
    limit = in_flight or len(jobs)
    with tqdm(total=sum(len(j.seeds) for j in jobs), unit="run", disable=not progress) as bar:
        while True:
            for job in queue:
                running[pool.submit(run_job, run, job.config, job.seeds)] = job
                if len(running) >= limit:
                    break
            if not running:
                return
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                error = future.exception()
                bar.update(len(job.seeds))
                yield job, error if error is not None else future.result()


# Re-exported so that a notebook or script needs only this module to run and read sweeps.
__all__ = [
    "EXECUTORS",
    "InlineExecutor",
    "ResultsFile",
    "SubmititExecutor",
    "config_key",
    "load_results",
    "make_executor",
    "run_sweep",
    "sweep_catalog",
]
