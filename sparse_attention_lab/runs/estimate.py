"""The time a sweep will take, estimated before it starts from the speed its results file records.

The steps ahead are the sum of the runs' step caps (their configs' ``max_steps``: an upper
bound, since runs stop a margin after they escape the plateau). The speed is read from the
records already in the file (training steps per second of wall time per worker, each seed of a
batched job counted, and the fraction of the step cap earlier runs used). With no earlier run
in the file the sweep prints the estimate after its first job, measured on it. Job wall time is
measured inside the worker, so the start-up of worker processes (importing torch: seconds per
job with submitit's local executor) and cluster queueing are not in the estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sparse_attention_lab import hardware
from sparse_attention_lab.experiments import step_cap
from sparse_attention_lab.hardware import duration, timed
from sparse_attention_lab.tasks import checks


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


MAX_PLAUSIBLE_STEPS = 10**12
"""A step count beyond this (a forged or corrupt record) takes no part in an estimate."""


def _plausible(steps: object) -> bool:
    return isinstance(steps, (int, float)) and not isinstance(steps, bool) and 0 <= steps <= MAX_PLAUSIBLE_STEPS


def recorded_speed(records: Iterable[Mapping[str, Any]]) -> Speed | None:
    """Speed from records written by sweeps: steps trained over each run's share of its job's
    wall time (a job trains several seeds at once), and the fraction of the step cap used."""
    steps = seconds = capped_steps = caps = 0.0
    runs = 0
    for record in records:
        provenance, trained = record.get("provenance"), _steps_trained(record)
        if not isinstance(provenance, Mapping) or not _plausible(trained):
            continue
        wall, seeds = provenance.get("job_wall_time_s"), provenance.get("job_seeds")
        if not isinstance(wall, (int, float)) or not isinstance(seeds, list) or not seeds:
            continue
        steps, seconds, runs = steps + trained, seconds + wall / len(seeds), runs + 1
        cap = step_cap(record["config"])
        if cap and _plausible(cap):
            capped_steps, caps = capped_steps + trained, caps + cap
    if runs == 0 or seconds <= 0 or steps <= 0:
        return None
    return Speed(steps / seconds, capped_steps / caps if caps else None, runs)


def describe_estimate(step_caps: Sequence[int | None], speed: Speed | None, parallel: int) -> str:
    """The steps and wall time ahead for runs with these step caps, at ``speed`` with
    ``parallel`` jobs at a time."""
    if not step_caps:
        return "Nothing left to run."
    known = [cap for cap in step_caps if cap is not None]
    if not known:
        return "The configs have no max_steps field: no step or time estimate."
    if not all(_plausible(cap) for cap in known):
        return f"Some step caps exceed {MAX_PLAUSIBLE_STEPS:,} steps: no step or time estimate."
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
        f"): expect about {expected:,.0f} steps, {duration(expected * seconds_per_step)} of wall "
        f"time, at most {duration(total * seconds_per_step)}."
    )


def training_estimate(train: Callable[[int], object], max_steps: int, cached: Iterable[Mapping[str, Any]] = (),
                      probe_steps: int = 100) -> str:
    """How long training capped at ``max_steps`` (or ``$SAL_MAX_STEPS``) takes here: ``train(n)``
    trains the same runs for ``n`` steps; a trial of ``probe_steps`` is timed on this machine and
    scaled to the steps the ``cached`` runs of the same settings trained (they stop once they
    escape the plateau), and to the step cap, the most it can take."""
    cap = hardware.capped_steps(checks.positive_int("max_steps", max_steps))
    probe = min(checks.positive_int("probe_steps", probe_steps), cap)
    _, seconds = timed(lambda: train(probe))
    per_step = seconds / probe
    trained = [steps for steps in map(_steps_trained, cached) if _plausible(steps)]
    text = f"at most {duration(per_step * cap)} here at its step cap of {cap:,} (a {probe}-step trial took {duration(seconds)})"
    if not trained:
        return text
    expected = min(cap, sum(trained) / len(trained))
    return f"about {duration(per_step * expected)} ({expected:,.0f} steps, as the cached runs of these settings took), {text}"
