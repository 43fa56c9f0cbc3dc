"""Experiments: plain JSON-able configs -> trained runs, and the named grids behind the figures.

A config is a flat, JSON-able dict (the fields of each module's docstring); its ``max_steps``
field is its step cap. Each module has a ``run(config, seeds, *, probe=None, callback=None,
device=None)`` returning one :class:`~sparse_attention_lab.training.record.RunRecord` per seed:
:func:`.regression.run`, :func:`.recall.run`, and :func:`.schedules.run_scheduled` (an
experiment's config under a repetition schedule).

:data:`SWEEPS` is the registry of named sweeps that :mod:`sparse_attention_lab.runs.sweep`
and the command line run: the figure grids of :mod:`.regression`, :mod:`.recall` and
:mod:`.mechanism`, :mod:`.recall_layers` and :mod:`.ablation`, trained by their module's ``run``, chapter 5's runs from :mod:`.schedules`, and chapter 1's Fig. 9 at the paper's size from
:mod:`.toy_sgd`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sparse_attention_lab.experiments import (
    ablation,
    mechanism,
    recall,
    recall_layers,
    recall_summary,
    regression,
    schedules,
    toy_sgd,
)
from sparse_attention_lab.experiments.packing import PACKABLE
from sparse_attention_lab.profiles import SIZES, Profile
from sparse_attention_lab.training.record import RunFunction

DEFAULT_SEEDS = 3
"""Seeds per config when neither the caller nor the sweep says (the paper used 5 for regression
and 3 for associative recall)."""


class Sweep(NamedTuple):
    """A named sweep: its configs under a profile, the run that trains them, seeds per config."""

    name: str
    make_configs: Callable[[Profile], list[dict]]
    run: RunFunction
    make_seeds: Callable[[Profile], int] | None = None  # None: profiles.SIZES[name]["seeds"]
    packable: tuple[str, ...] = ()  # config fields that may differ inside one packed ensemble

    def configs(self, profile: Profile) -> list[dict]:
        return list(self.make_configs(profile))

    def seeds(self, profile: Profile) -> int:
        """Seeds per config: the sweep's own rule, else ``SIZES[name]["seeds"]``, else :data:`DEFAULT_SEEDS`."""
        if self.make_seeds is not None:
            return self.make_seeds(profile)
        if self.name in SIZES:
            return int(profile.sizes(self.name).get("seeds", DEFAULT_SEEDS))
        return DEFAULT_SEEDS

    @property
    def module(self) -> str:
        """Where the sweep's configs are defined."""
        return self.make_configs.__module__


def _registry(*tables: Mapping[str, Sweep]) -> dict[str, Sweep]:
    merged: dict[str, Sweep] = {}
    for table in tables:
        for name, sweep in table.items():
            if name in merged:
                raise ValueError(f"sweep name {name!r} is defined by both {merged[name].module} and {sweep.module}.")
            merged[name] = sweep
    return merged


SWEEPS: dict[str, Sweep] = _registry(
    {name: Sweep(name, configs, regression.run, packable=PACKABLE) for name, configs in regression.SWEEPS.items()},
    {name: Sweep(name, configs, regression.run, packable=PACKABLE) for name, configs in ablation.SWEEPS.items()},
    {name: Sweep(name, configs, recall.run, packable=PACKABLE) for name, configs in recall.SWEEPS.items()},
    {name: Sweep(name, configs, mechanism.run) for name, configs in mechanism.SWEEPS.items()},
    {name: Sweep(name, configs, recall_layers.run) for name, configs in recall_layers.SWEEPS.items()},
    {name: Sweep(name, *entry) for name, entry in schedules.SWEEPS.items()},
    {name: Sweep(name, *entry) for name, entry in recall_summary.SWEEPS.items()},
    {name: Sweep(name, configs, toy_sgd.run) for name, configs in toy_sgd.SWEEPS.items()},
)
"""Every named sweep, by name."""


def step_cap(config: Mapping[str, Any]) -> int | None:
    """A config's training-step cap (its ``max_steps`` field), ``None`` if it has none."""
    cap = config.get("max_steps")
    return cap if isinstance(cap, int) and not isinstance(cap, bool) else None


def with_step_cap(config: Mapping[str, Any], max_steps: int) -> dict:
    """A copy of ``config`` capped at ``max_steps`` training steps."""
    return {**config, "max_steps": max_steps}
