"""The registry of named sweeps: plain imports, one shape of run, chapter 5's sweeps matching their caches."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest

from sparse_attention_lab import experiments
from sparse_attention_lab.experiments import SWEEPS, Sweep, recall, regression, schedules
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.runs.results import config_key, load_results

DATA = Path(__file__).resolve().parent.parent / "book" / "data"
VARIANT_OF = {"sparse_attention_lab.experiments.recall_layers": recall.build,
              "sparse_attention_lab.experiments.mechanism": regression.build,
              "sparse_attention_lab.experiments.recall_summary": recall.build}
"""Experiment modules whose run trains another experiment's configs (with its own probe)."""
MODULES = [importlib.import_module(f"sparse_attention_lab.experiments.{m.name}")
           for m in pkgutil.iter_modules(experiments.__path__)]


def build(sweep: Sweep, config: dict) -> None:
    """Build ``config`` as ``sweep``'s run would (ValueError if it cannot)."""
    if sweep.run is schedules.run_scheduled:
        spec = {k: v for k, v in config.items() if k not in ("experiment", "schedule")}
        schedules.EXPERIMENTS[config["experiment"]].build(spec)
        schedules.schedule_from_config(config["schedule"])
    else:  # an experiment module's own build, or that of the experiment it varies
        module = sys.modules[sweep.run.__module__]
        (getattr(module, "build", None) or VARIANT_OF[module.__name__])(config)


def test_the_registry_holds_every_module_sweep_under_its_own_name():
    tables = [module.SWEEPS for module in MODULES if hasattr(module, "SWEEPS")]
    assert len(tables) >= 3 and sorted(SWEEPS) == sorted(name for table in tables for name in table)
    assert all(sweep.name == name for name, sweep in SWEEPS.items())
    assert SWEEPS["fig3"].run is regression.run and SWEEPS["ar_grid"].run is recall.run
    assert SWEEPS["beyond_ar"].run is schedules.run_scheduled
    with pytest.raises(ValueError, match="sweep name 'x' is defined by both"):
        experiments._registry({"x": SWEEPS["fig3"]}, {"x": SWEEPS["ar_grid"]})


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_every_run_takes_config_seeds_probe_callback_and_device(name):
    parameters = inspect.signature(SWEEPS[name].run).parameters
    assert list(parameters)[:2] == ["config", "seeds"]
    for keyword in ("probe", "callback", "device"):
        assert parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY, keyword


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_every_named_sweep_builds_under_every_profile(name, profile):
    sweep = SWEEPS[name]
    configs = sweep.configs(profile)
    assert configs and len({config_key(c) for c in configs}) == len(configs)
    assert sweep.seeds(profile) >= 1
    for config in configs:
        build(sweep, config)
        assert experiments.step_cap(config) is not None  # the estimate and --max-steps need it


@pytest.mark.parametrize("name", ["beyond_ar", "beyond_forecast_regression", "beyond_forecast_recall", "ar_query_kind"])
def test_named_sweeps_are_the_runs_of_their_cached_files(name):
    """Under ``ci`` the named sweeps resume the chapters' caches (at their default names): nothing is retrained."""
    records = load_results(DATA / f"{name}_ci.jsonl")
    sweep, ci = SWEEPS[name], PROFILES["ci"]
    cached = {(config_key(r["config"]), r["seed"]) for r in records}
    assert cached == {(config_key(c), s) for c in sweep.configs(ci) for s in range(sweep.seeds(ci))}


def test_step_caps():
    assert experiments.step_cap({"max_steps": 100}) == 100
    assert experiments.step_cap({"T": 2}) is None and experiments.step_cap({"max_steps": True}) is None
    assert experiments.with_step_cap({"T": 2, "max_steps": 100}, 10) == {"T": 2, "max_steps": 10}
