"""Provenance: how and where each run of a results file was made; written by sweeps, described for pages.

A sweep adds one field to every record it writes, ``provenance`` (:class:`Provenance`): what
made the sweep, measured where it is launched, and where the job ran, measured on the worker
itself (on a cluster, a compute node). :func:`describe_provenance` turns a results file's
provenance into the sentence a chapter prints next to a figure drawn from it.

This module is imported by every worker process before its first job (it holds
:func:`run_job`), so it leaves torch to the experiments: workers then start in a fraction of a
second.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypedDict

from sparse_attention_lab import __version__
from sparse_attention_lab.runs.results import json_ready, load_results

REPOSITORY = Path(__file__).resolve().parents[2]
"""The checkout this package runs from (when it is one): its git state is recorded."""


class Provenance(TypedDict):
    """How a run was made: the sweep's fields, then the job's (measured on its worker)."""

    command: str  # the command line, or a description of the Python call
    profile: str
    sweep: str | None  # the sweep's name; None for a list of configs
    step_cap: int | None  # the cap --max-steps put on every config (None: the configs' own caps)
    git_commit: str | None  # None outside a git checkout
    git_dirty: bool | None  # tracked files had uncommitted changes
    package_version: str
    python_version: str
    sweep_started_at: str  # ISO 8601, UTC
    device: str | None  # the device the run trained on (the record's ``device``)
    torch_version: str | None  # None for a run without torch
    torch_threads: int | None
    hostname: str
    cpu: str
    cpu_count: int | None
    finished_at: str
    job_wall_time_s: float  # of the job that trained the run, with the seeds below
    job_seeds: list[int]  # the seeds of the runs trained together (one per run; repeats in a pack)
    job_configs: int  # how many configs the job packed (1 unless packed)


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


def sweep_provenance(command: str, profile: str, sweep: str | None, step_cap: int | None = None) -> dict[str, Any]:
    """What made a sweep, on the machine that launches it: command, profile, step cap (``--max-steps``),
    git state, versions."""
    commit, dirty = _git_state()
    return {
        "command": command,
        "profile": profile,
        "sweep": sweep,
        "step_cap": step_cap,
        "git_commit": commit,
        "git_dirty": dirty,
        "package_version": __version__,
        "python_version": platform.python_version(),
        "sweep_started_at": _now(),
    }


def _worker_provenance() -> dict[str, Any]:
    """The machine a job ran on, measured there (the torch fields are ``None`` without torch)."""
    torch = sys.modules.get("torch")
    return {
        "torch_version": torch.__version__ if torch else None,
        "torch_threads": torch.get_num_threads() if torch else None,
        "hostname": socket.gethostname(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
    }


def run_job(run: Callable[..., list[dict]], config: dict, seeds: list[int], device: str | None = None) -> dict[str, Any]:
    """Train ``seeds`` of ``config`` with ``run`` (on ``device`` when given) and time it: what an
    executor's worker executes. Returns the records with the job's provenance."""
    start = time.perf_counter()
    records = run(config, list(seeds)) if device is None else run(config, list(seeds), device=device)
    return {
        "records": records,
        "wall_time_s": time.perf_counter() - start,
        "finished_at": _now(),
        "worker": _worker_provenance(),
    }


def with_provenance(record: Mapping[str, Any], sweep: Mapping[str, Any], job: Mapping[str, Any],
                    seeds: list[int], configs: int = 1) -> dict:
    """``record`` with its ``provenance`` (the sweep's fields, then the job's) as it is written
    to the results file: strict JSON, non-finite numbers as ``None``."""
    provenance = {
        **sweep,
        "device": record.get("device"),
        **job["worker"],
        "finished_at": job["finished_at"],
        "job_wall_time_s": round(job["wall_time_s"], 3),
        "job_seeds": list(seeds),
        "job_configs": configs,
    }
    return json_ready({**record, "provenance": provenance})


def capped(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` was trained under a step cap that is not its sweep's own: ``--max-steps``
    (the provenance's ``step_cap``; for files written before that field, ``--max-steps`` or
    ``max_steps=N`` in its command) or ``$SAL_MAX_STEPS`` (the trainer's step cap below the
    config's). Such runs are trials, never results."""
    provenance = record.get("provenance") or {}
    command = provenance.get("command") or ""
    if provenance.get("step_cap") is not None or "--max-steps" in command or re.search(r"max_steps=\d", command):
        return True
    asked = (record.get("config") or {}).get("max_steps")
    used = ((record.get("settings") or {}).get("train") or {}).get("max_steps")
    return isinstance(asked, int) and isinstance(used, int) and used < asked


# ----------------------------------------------------------------------------- describing it

SESSION_FIELDS = ("sweep_started_at", "command", "git_commit", "git_dirty", "hostname", "cpu", "cpu_count",
                  "device", "torch_version")
"""The provenance fields that tell one sweep session (a launch of the command) from another."""


def sessions(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per sweep session that wrote ``records`` (in the order they started): its
    :data:`SESSION_FIELDS`, ``runs`` (how many of the records it wrote) and ``training_s``
    (the wall time of its jobs, each job's time shared among the seeds it trained)."""
    rows: dict[tuple, dict[str, Any]] = {}
    for record in records:
        provenance = record.get("provenance") or {}
        key = tuple(json_ready(provenance.get(name)) for name in SESSION_FIELDS)
        row = rows.setdefault(key, {**dict(zip(SESSION_FIELDS, key, strict=True)), "runs": 0, "training_s": 0.0})
        row["runs"] += 1
        seeds = provenance.get("job_seeds") or [None]
        row["training_s"] += (provenance.get("job_wall_time_s") or 0.0) / len(seeds)
    return sorted(rows.values(), key=lambda row: row["sweep_started_at"] or "")


def _session_text(row: Mapping[str, Any], count: bool) -> str:
    commit = (row["git_commit"] or "unknown")[:8]
    changes = " with uncommitted changes" if row["git_dirty"] else ""
    started = (row["sweep_started_at"] or "?")[:16].replace("T", " ")
    torch = f", torch {row['torch_version']}" if row["torch_version"] else ""
    who = f"{row['runs']} runs by" if count else "made by"
    return (f"{who} `{row['command']}` on {row['cpu_count']} x {row['cpu']} "
            f"({row['device'] or 'no torch device'}{torch}), started {started} UTC at commit "
            f"{commit}{changes}")


def describe_provenance(path: str | os.PathLike, records: list[dict] | None = None) -> str:
    """Where the runs of the results file at ``path`` come from, as one Markdown sentence:
    runs, sweep and profile, then each session's command, machine, start and commit, and the
    training time. ``records``: the file's records when already loaded. ``FileNotFoundError``
    (with the command that makes the file) if it holds no run."""
    path = Path(path)
    records = load_results(path) if records is None else records
    if not records:
        raise FileNotFoundError(
            f"{path} holds no runs: make it with `python -m sparse_attention_lab sweep NAME --out {path}` "
            "(`python -m sparse_attention_lab list` names the sweeps)."
        )
    rows = sessions(records)
    first = records[0].get("provenance") or {}
    sweeps = [name for name in dict.fromkeys((r.get("provenance") or {}).get("sweep") for r in records) if name]
    names = " and ".join(f"`{name}`" for name in sweeps)
    what = f" of sweep{'s' if len(sweeps) > 1 else ''} {names}" if sweeps else ""
    profile = f" (profile `{first['profile']}`)" if first.get("profile") else ""
    made = "; ".join(_session_text(row, count=len(rows) > 1) for row in rows)
    minutes = sum(row["training_s"] for row in rows) / 60
    return f"`{path.name}`: {len(records)} runs{what}{profile}: {made}; {minutes:.1f} min of training."
