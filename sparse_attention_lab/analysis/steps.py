"""Escape steps of linear-regression runs, as rows, and the power laws fitted on them (App. D.1-D.2).

- :data:`MEASURES`: the three clocks of an escape (chapter 3);
- :func:`plateau_rows`, :func:`paper_plateau_rows`, :func:`step_rows`: one row per run, its
  config (missing keys: the paper's defaults) and its escape step by one clock;
- :func:`unique_runs`: the runs of several sweeps, each (config, seed) once;
- :class:`StepFit`, :func:`fit_steps`: a power law of the steps with a bootstrap over seeds;
- :func:`mean_steps`: the mean step of the rows at one setting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.analysis.measurement import escape_measure, grid_fraction
from sparse_attention_lab.experiments.regression import full_config
from sparse_attention_lab.fitting import PowerLawFit, bootstrap_stderr, fit_power_law
from sparse_attention_lab.measure import attention_step, escape_step
from sparse_attention_lab.runs.results import config_key
from sparse_attention_lab.theory.reduced import repetition_speedup

MEASURES: dict[str, str] = {
    "train": "training-distribution loss",
    "test": "test loss without repetition",
    "attention": "attention step",
}
"""The three clocks of an escape (chapter 3): the loss crossing ``fraction`` x its initial value
on held-out data drawn like the training data (with its ``B`` and ``p``), the same on test data
without repetition, and :func:`~sparse_attention_lab.measure.attention_step`. For the
Transformer, App. D.1 gives the threshold but not which loss; for ``B = 1, p = 0`` the two
losses are one distribution."""


def _row(record: dict, plateau: float) -> dict:
    row = {**full_config(record), "seed": record["seed"], "diverged": record["diverged"], "plateau": plateau}
    if "readout_attention" in record.get("probes", {}):
        row["attention_step"] = attention_step(record)
    return row


def plateau_rows(records: Iterable[dict], fraction: float | None = None, curve: str = "test") -> list[dict]:
    """One row per record: its config merged with the paper's defaults
    (:data:`~sparse_attention_lab.experiments.regression.DEFAULTS`), seed, and plateau length.

    ``plateau`` is the interpolated step at which the loss (``curve``: ``"test"``, without
    repetition, or ``"train"``, the training distribution) first falls below ``fraction`` x
    its initial value, ``math.inf`` if never; ``fraction`` defaults to App. D.1's threshold of the
    grid (:func:`~sparse_attention_lab.analysis.measurement.grid_fraction`). ``attention_step`` is
    :func:`~sparse_attention_lab.measure.attention_step`, present for runs with the attention probe.
    """
    records = list(records)
    if fraction is None:
        fraction = grid_fraction(full_config(r)["p"] for r in records)
    return [_row(r, escape_step(r, fraction=fraction, curve=curve)) for r in records]


def paper_plateau_rows(records: Iterable[dict]) -> list[dict]:
    """:func:`plateau_rows` with each run measured by its own
    :func:`~sparse_attention_lab.analysis.measurement.escape_measure` (one reading of App. D.1)."""
    rows = []
    for r in records:
        config = full_config(r)
        fraction, curve = escape_measure(config["B"], config["p"])
        rows.append(_row(r, escape_step(r, fraction=fraction, curve=curve)))
    return rows


def unique_runs(records: Iterable[dict]) -> list[dict]:
    """``records`` without repeated (config, seed) pairs, the first kept (sweeps may share settings).

    Configs are compared with their left-out keys filled from the paper's defaults, so a config
    that says ``"B": 1`` and one that leaves ``B`` out name the same run."""
    seen: dict[tuple[str, int], dict] = {}
    for record in records:
        seen.setdefault((config_key(full_config(record)), record["seed"]), record)
    return list(seen.values())


def step_rows(records: Iterable[dict], measure: str = "test", fraction: float | None = None) -> list[dict]:
    """:func:`plateau_rows` with ``plateau`` timed by ``measure`` (a key of :data:`MEASURES`;
    ``fraction``: the grid's App. D.1 threshold unless given;
    ``math.inf`` if never); each row also holds ``f = sqrt(p^2 d + (1-p)^2)``, the variable of Eq. 22.
    The attention step needs runs trained with the attention probe."""
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {sorted(MEASURES)}, got {measure!r}.")
    rows = plateau_rows(records, fraction, "test" if measure == "attention" else measure)
    for row in rows:
        row["f"] = repetition_speedup(row["d"], row["p"])
        if measure == "attention":
            if "attention_step" not in row:
                raise ValueError("records: the attention step needs runs trained with probe_attention=True.")
            row["plateau"] = row["attention_step"]
    return rows


@dataclass(frozen=True)
class StepFit:
    """A power law fitted to escape steps (App. D.2), with a bootstrap over seeds.

    ``bootstrap`` is :func:`~sparse_attention_lab.fitting.bootstrap_stderr` of each exponent
    (whole seeds resampled); ``never`` counts the runs left out because they never crossed.
    """

    fit: PowerLawFit
    bootstrap: dict[str, float]
    never: int

    def stderr(self, feature: str) -> float:
        """The larger of the fit's standard error and the bootstrap's for ``feature``."""
        if feature not in self.fit.exponents:
            raise ValueError(f"feature must be one of {sorted(self.fit.exponents)}, got {feature!r}.")
        return float(np.nanmax([self.fit.stderr[feature], self.bootstrap.get(feature, math.nan)]))

    def exponent(self, feature: str) -> str:
        """``"+0.88 ± 0.05"``: the exponent of ``feature`` with :meth:`stderr`."""
        return f"{self.fit.exponents[feature]:+.2f} ± {self.stderr(feature):.2f}"

    def __str__(self) -> str:
        return str(self.fit)


def fit_steps(rows: Sequence[dict], features: Sequence[str], n_boot: int = 200, **options) -> StepFit:
    """Power law of the rows' ``plateau`` on ``features`` over the runs that crossed, with a
    bootstrap over their ``seed`` (``options``: ``fixed``/``tied`` of ``fit_power_law``)."""
    crossed = [row for row in rows if math.isfinite(row["plateau"])]
    if not crossed:
        raise ValueError("rows: no run crossed, nothing to fit.")
    y = [row["plateau"] for row in crossed]
    columns = {k: [row[k] for row in crossed] for k in features}
    fit = fit_power_law(y, **options, **columns)
    seeds = [row["seed"] for row in crossed]
    return StepFit(fit, bootstrap_stderr(y, seeds, n_boot=n_boot, **options, **columns), len(rows) - len(crossed))


def mean_steps(rows: Iterable[dict], **where: float) -> float:
    """Mean ``plateau`` over the rows matching ``where`` (e.g. ``d=8, p=0.3``); ``math.inf`` if one
    of them never crossed, ``ValueError`` if none matches."""
    steps = [row["plateau"] for row in rows if all(row[k] == v for k, v in where.items())]
    if not steps:
        raise ValueError(f"where: no row has {where}.")
    return float(np.mean(steps))
