"""What chapter 4 measures on associative-recall runs (Figs. 4, 5, 16, 17): emergence, repetition,
the late rise.

- :func:`emergence_law`: the paper's power law ``C N_tokens^a N_pairs^b`` fitted on the emergence
  steps (App. D.2), with a bootstrap over seeds;
- :func:`threshold_steps`, :func:`threshold_fits`, :func:`emergence_by_threshold`: the emergence
  step of every run, or every setting, at several test-accuracy thresholds (:data:`THRESHOLDS`,
  ours around the paper's 5%), and the Fig. 4 law at each;
- :func:`plateau_levels`: the accuracy reached on the plateau, against chance, and the steps to
  the paper's 5% and to a later threshold;
- :func:`repetition_speedups`: per ``(B, p)``, the emergence step of ``B = 1, p = 0`` over the
  setting's, paired by seed, with its bootstrap error (:func:`~.verdicts.paired_ratio`);
  :func:`repetition_summary`: the same as ratios of means on test data and on the training
  distribution, with the train-test gap and the final test accuracy;
- :func:`query_kind_steps`, :func:`query_kind_ratios`: test accuracy on the repeated queries
  against the others (records of
  :func:`~sparse_attention_lab.experiments.recall_summary.run_with_query_kinds`);
- :func:`half_rise_step`: when an attention probe covers half of its rise (copy against selection);
- :func:`largest_drop`: how far a curve ever falls below its running maximum (a dip to recover from);
- :func:`rate_ratios`: Fig. 4's learning-rate tuning, each rate's emergence step over the
  reference rate's, paired by seed (a run that never emerged counts at its last step, a bound);
- :func:`cost_left`: the CPU time a grid's missing runs will take, from a law (the paper's, or
  one fitted on the finished runs) scaled to the finished runs;
- :func:`late_rise`: the paper's grokking-like pattern under strong repetition, "test accuracy
  eventually starts to increase late in training" (Sec. 3.2), read on a mean curve by one rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.analysis.measurement import EMERGENCE_ACCURACY
from sparse_attention_lab.analysis.paper import law as paper_law
from sparse_attention_lab.analysis.verdicts import Ratio, paired_ratio, ratio_of_means
from sparse_attention_lab.experiments import recall
from sparse_attention_lab.experiments.recall_summary import setting_of
from sparse_attention_lab.fitting import PowerLawFit, bootstrap_stderr, fit_power_law
from sparse_attention_lab.measure import escape_step, first_crossing
from sparse_attention_lab.runs.results import missing_runs

THRESHOLDS = (EMERGENCE_ACCURACY, 0.1, 0.2, 0.3, 0.5)
"""Test-accuracy levels at which emergence is read: the paper's 5%, then ours up to the CPU
chapter's 50%."""

REPETITION_THRESHOLDS = (EMERGENCE_ACCURACY, 0.1, 0.2, 0.3, 0.4, 0.5)
"""Test-accuracy levels at which chapter 4 reads the speed-ups of repetition (ours, around the paper's 5%)."""


def emergence_rows(records: Iterable[dict], accuracy: float, curve: str = "test") -> list[dict]:
    """One row per record: its config merged with :data:`~sparse_attention_lab.experiments.recall.DEFAULTS`, seed, and emergence step.

    ``emergence`` is the interpolated step at which accuracy (``curve``: ``"test"``, without
    repetition, or ``"train"``, the training distribution) first reaches ``accuracy``,
    ``math.inf`` if never within the run.
    """
    return [
        {**recall.full_config(r), "seed": r["seed"], "diverged": r["diverged"],
         "emergence": escape_step(r, accuracy=accuracy, curve=curve)}
        for r in records
    ]


def law_thresholds(chapter: float) -> tuple[float, ...]:
    """The test-accuracy levels chapter 4 fits Fig. 4's law at: the paper's 5%, then ours (30%, the
    chapter's own emergence criterion ``chapter``, 80%)."""
    return (EMERGENCE_ACCURACY, 0.3, chapter, 0.8)


REFERENCE = (1.0, 0.0)
"""``(B, p)`` without repetition, the setting every speed-up is measured against."""


def repetition_speedups(records: Iterable[dict], accuracy: float, curve: str = "test") -> dict[tuple, Ratio | None]:
    """Per ``(B, p)`` other than :data:`REFERENCE`: the speed-up to ``accuracy`` on ``curve``,
    paired by seed; ``None`` where a seed never got there or fewer than two seeds pair."""
    steps: dict[tuple, dict[int, float]] = {}
    for record in records:
        steps.setdefault(setting_of(record), {})[record["seed"]] = escape_step(record, accuracy=accuracy, curve=curve)
    if REFERENCE not in steps:
        raise ValueError("records must contain the reference setting B = 1, p = 0.")
    out = {}
    for setting, mine in sorted(steps.items()):
        if setting == REFERENCE:
            continue
        out[setting] = paired_ratio(steps[REFERENCE], mine)
    return out


def rate_ratios(records: Iterable[dict], accuracy: float, reference: float) -> dict[tuple[int, int, float], Ratio | None]:
    """Per ``(n_pairs, n_tokens, lr)`` with ``lr != reference``: the emergence step at ``accuracy``
    over that of the ``reference`` rate in the same cell, paired by seed (a ratio above 1: the rate
    is slower). A run that never reached ``accuracy`` counts at its last step and marks the ratio
    ``censored``: a lower bound when only the other rate's runs never emerged, meaningless (``None``)
    when the reference's did not; ``None`` too with fewer than two paired seeds."""
    steps: dict[tuple, dict[int, tuple[float, bool]]] = {}
    for record in records:
        c = recall.full_config(record)
        step = escape_step(record, accuracy=accuracy)
        capped = not math.isfinite(step)
        steps.setdefault((c["n_pairs"], c["n_tokens"], c["lr"]), {})[record["seed"]] = (
            float(record["steps"][-1]) if capped else step, capped)
    out: dict[tuple[int, int, float], Ratio | None] = {}
    for (n_pairs, n_tokens, lr), mine in sorted(steps.items()):
        base = steps.get((n_pairs, n_tokens, reference))
        if lr == reference or base is None:
            continue
        seeds = sorted(set(mine) & set(base))
        if len(seeds) < 2 or any(base[s][1] for s in seeds):
            out[(n_pairs, n_tokens, lr)] = None
            continue
        ratio = ratio_of_means([[mine[s][0] for s in seeds]], [[base[s][0] for s in seeds]], paired=True)
        out[(n_pairs, n_tokens, lr)] = Ratio(ratio.value, ratio.log_stderr, censored=any(mine[s][1] for s in seeds))
    return out


def rate_reading(ratio: Ratio | None) -> str:
    """``"slower"``, ``"faster"`` or ``"unresolved"`` for a :func:`rate_ratios` ratio, by the
    two-SE rule; a censored ratio is a lower bound, so it can only read ``"slower"``."""
    if ratio is None:
        return "unresolved"
    side = ratio.direction()
    if side == "above":
        return "slower"
    return "faster" if side == "below" and not ratio.censored else "unresolved"


@dataclass(frozen=True)
class CostLeft:
    """What the missing runs of a grid will cost, forecast from its finished ones."""

    runs: int                      # runs missing
    steps: float                   # training steps they will take, all runs
    hours: float                   # CPU hours, one core, seeds trained together as the sweep does
    law_factor: float              # steps trained / the law, geometric mean over finished runs
    by_cell: dict[tuple[int, int], float]  # hours per (n_pairs, n_tokens), all its missing seeds


def cost_left(records: Sequence[dict], plan: Sequence[dict], seeds: int,
              law: Callable[..., float] | None = None) -> CostLeft:
    """The cost of the runs of ``plan`` (configs, ``seeds`` each) not in ``records``: a missing
    run trains ``law_factor`` times ``law(n_tokens=..., n_pairs=...)`` steps (default: the paper's
    Fig. 4 law, 0.55 N_tokens^0.79 N_pairs^2.25), at most its cap, ``law_factor`` being what the
    finished runs trained over the law (their stop margin included); the seconds per step per run
    are a straight line in the sequence length ``2 N_pairs + 1`` through the finished runs' (from
    their job's wall time over its seeds)."""
    law = law or paper_law("Fig. 4 right").steps
    finished = [r for r in records if r["steps"]]
    if len({recall.full_config(r)["n_pairs"] for r in finished}) < 2:
        raise ValueError("cost_left needs finished runs at two values of n_pairs or more.")
    cells = [recall.full_config(r) for r in finished]
    factor = math.exp(np.mean([math.log(r["steps"][-1] / float(law(n_tokens=c["n_tokens"], n_pairs=c["n_pairs"])))
                               for r, c in zip(finished, cells, strict=True)]))
    length = np.array([2 * c["n_pairs"] + 1 for c in cells], float)
    per_step = np.array([r["provenance"]["job_wall_time_s"] / len(r["provenance"]["job_seeds"]) / r["steps"][-1]
                         for r in finished])
    slope, intercept = np.polyfit(length, per_step, 1)
    left = missing_runs(plan, seeds, records)
    steps = hours = 0.0
    runs, by_cell = 0, {}
    for config in plan:
        c = recall.full_config({"config": config})
        missing = sum(other is config for other, _ in left)
        run_steps = min(c["max_steps"], factor * float(law(n_tokens=c["n_tokens"], n_pairs=c["n_pairs"])))
        cell_hours = missing * run_steps * (intercept + slope * (2 * c["n_pairs"] + 1)) / 3600
        if missing:
            by_cell[(c["n_pairs"], c["n_tokens"])] = cell_hours
        runs, steps, hours = runs + missing, steps + missing * run_steps, hours + cell_hours
    return CostLeft(runs, steps, hours, factor, by_cell)


LEARNED = 0.9
"""Training-distribution accuracy at which a run has learned its own data."""
LOW = 0.2
"""How far below the training-distribution accuracy the test accuracy must then sit."""
RISE = 0.1
"""Test-accuracy gain that counts as a rise."""


@dataclass(frozen=True)
class LateRise:
    """The late-rise reading of one mean curve (see :func:`late_rise`)."""

    learned_at: float  # step at which the training-distribution accuracy reached LEARNED
    test_then: float  # test accuracy then
    early_gain: float  # test-accuracy gain over the first half of the rest of the run
    late_gain: float  # over the second half

    @property
    def low_period(self) -> bool:
        """Whether the test accuracy sat well below the training accuracy once the latter was learned."""
        return math.isfinite(self.learned_at) and self.test_then <= LEARNED - LOW

    @property
    def verdict(self) -> str:
        """"late rise", "no late rise", or "no low period" (the pattern's premise not reached)."""
        if not self.low_period:
            return "no low period"
        return "late rise" if self.late_gain >= RISE and self.late_gain > self.early_gain else "no late rise"


def late_rise(steps: Sequence[float], train_acc: Sequence[float], test_acc: Sequence[float]) -> LateRise:
    """Read the paper's late rise on one (mean) run: once the training-distribution accuracy has
    reached :data:`LEARNED`, is the test accuracy at least :data:`LOW` below, and does it gain at
    least :data:`RISE` over the second half of the remaining run, more than over the first?"""
    steps, train, test = (np.asarray(v, float) for v in (steps, train_acc, test_acc))
    if not (steps.size == train.size == test.size) or steps.size < 3:
        raise ValueError("steps, train_acc and test_acc must be curves of one length, at least 3 points.")
    reached = np.flatnonzero(train >= LEARNED)
    if reached.size == 0:
        return LateRise(math.inf, math.nan, math.nan, math.nan)
    start = int(reached[0])
    middle = (start + steps.size - 1) // 2
    return LateRise(float(steps[start]), float(test[start]), float(test[middle] - test[start]),
                    float(test[-1] - test[middle]))


def query_kind_ratios(records: Iterable[dict], accuracy: float) -> dict[float, Ratio | None]:
    """Per ``p > 0``: the step at which the other queries reach ``accuracy`` over the step at which
    the repeated queries do, paired by seed (above 1: the repeated queries come first); ``None``
    where a seed never got there. Records trained by
    :func:`~sparse_attention_lab.experiments.recall_summary.run_with_query_kinds`."""
    steps: dict[float, dict[str, dict[int, float]]] = {}
    for record in records:
        p = setting_of(record)[1]
        if p > 0:
            for kind in ("repeated", "other"):
                step = first_crossing(record["steps"], record["probes"][kind], accuracy, direction="above")
                steps.setdefault(p, {}).setdefault(kind, {})[record["seed"]] = step
    return {p: paired_ratio(kinds["other"], kinds["repeated"]) for p, kinds in sorted(steps.items())}


def threshold_steps(records: Iterable[dict], thresholds: Sequence[float] = THRESHOLDS) -> list[dict]:
    """One row per record: ``n_pairs``, ``n_tokens``, seed and the step at which test accuracy
    first reaches each threshold (``math.inf`` if never), keyed ``"acc_0.05"`` etc."""
    rows = []
    for record in records:
        config = recall.full_config(record)
        row = {"n_pairs": config["n_pairs"], "n_tokens": config["n_tokens"], "seed": record["seed"]}
        for level in thresholds:
            row[f"acc_{level:g}"] = escape_step(record, accuracy=level)
        rows.append(row)
    return rows


def threshold_fits(records: Iterable[dict], thresholds: Sequence[float] = THRESHOLDS) -> dict[float, PowerLawFit]:
    """Per threshold, the power law of the emergence step in ``n_pairs`` and ``n_tokens`` over the
    runs that reached it after step 0 (a run that starts above the threshold has nothing to time;
    App. D.2); thresholds with fewer than 4 such runs are left out."""
    rows = threshold_steps(records, thresholds)
    fits = {}
    for level in thresholds:
        reached = [row for row in rows if 0 < row[f"acc_{level:g}"] < math.inf]
        if len(reached) >= 4 and len({r["n_pairs"] for r in reached}) > 1 and len({r["n_tokens"] for r in reached}) > 1:
            fits[level] = fit_power_law([r[f"acc_{level:g}"] for r in reached],
                                        n_tokens=[r["n_tokens"] for r in reached],
                                        n_pairs=[r["n_pairs"] for r in reached])
    return fits


def emergence_law(records: Iterable[dict], accuracy: float, curve: str = "test") -> tuple[PowerLawFit, dict[str, float]]:
    """``T_emergence = C N_tokens^a N_pairs^b`` over the runs that reached ``accuracy`` after step 0
    (one point per seed), and the bootstrap standard error of each exponent over seeds."""
    rows = [r for r in emergence_rows(records, accuracy, curve) if 0 < r["emergence"] < math.inf]
    if not rows:
        raise ValueError(f"records: no run reached accuracy {accuracy} after step 0.")
    y = [r["emergence"] for r in rows]
    features = {"N_tokens": [r["n_tokens"] for r in rows], "N_pairs": [r["n_pairs"] for r in rows]}
    return fit_power_law(y, **features), bootstrap_stderr(y, [r["seed"] for r in rows], **features)


def emergence_by_threshold(records: Iterable[dict], thresholds: Sequence[float], curve: str = "test") -> dict[tuple[float, float], list[float]]:
    """For every ``(B, p)`` setting, the mean over seeds of the emergence step at each threshold
    (``math.inf`` when a seed never got there)."""
    records = list(records)
    out: dict[tuple[float, float], list[float]] = {}
    for setting in sorted({setting_of(r) for r in records}):
        mine = [r for r in records if setting_of(r) == setting]
        out[setting] = [float(np.mean([escape_step(r, accuracy=a, curve=curve) for r in mine])) for a in thresholds]
    return out


def repetition_summary(records: Iterable[dict], accuracy: float) -> dict[tuple[float, float], dict[str, float]]:
    """Per ``(B, p)``: mean emergence step on test data and on the training distribution, the
    speed-ups over ``B = 1, p = 0`` (``test_speedup``, ``train_speedup``; 0 when never), the
    largest gap train - test accuracy of any seed during training, and the final test accuracy."""
    records = list(records)
    steps = emergence_by_threshold(records, [accuracy], "test")
    train_steps = emergence_by_threshold(records, [accuracy], "train")
    if REFERENCE not in steps:
        raise ValueError("records must contain the reference setting B = 1, p = 0.")
    summary = {}
    for setting in steps:
        mine = [r for r in records if setting_of(r) == setting]
        summary[setting] = {
            "test": steps[setting][0], "train": train_steps[setting][0],
            "test_speedup": steps[REFERENCE][0] / steps[setting][0],
            "train_speedup": train_steps[REFERENCE][0] / train_steps[setting][0],
            "gap": float(max(np.max(np.subtract(r["train_acc"], r["test_acc"])) for r in mine)),
            "final_test": float(np.mean([r["test_acc"][-1] for r in mine])),
        }
    return summary


def half_rise_step(record: dict, probe: str, layer: int) -> float:
    """First step at which the most-rising head of ``layer`` covers half of its rise (from the
    first evaluation to the last) in the attention probe ``probe`` (``"copy"``, ``"selection"``)."""
    values = np.array(record["probes"][probe])[:, layer]  # (evaluations, heads)
    head = int(np.argmax(values[-1] - values[0]))
    curve = values[:, head]
    return first_crossing(record["steps"], curve, (curve[0] + curve[-1]) / 2, direction="above")


def plateau_levels(records: Iterable[dict], accuracy: float, early: float = EMERGENCE_ACCURACY) -> list[dict]:
    """Per ``(n_pairs, n_tokens)`` of a grid, over the seeds that reached ``accuracy``: the test
    accuracy at mid-plateau (half the step at which it reached ``accuracy``), the mean step at which
    it reached ``early`` (the paper's 5%) and ``accuracy``, and how many seeds got there."""
    records = list(records)
    rows = []
    for n_pairs, n_tokens in sorted({(r["config"]["n_pairs"], r["config"]["n_tokens"]) for r in records}):
        mine = [r for r in records if (r["config"]["n_pairs"], r["config"]["n_tokens"]) == (n_pairs, n_tokens)]
        steps = [escape_step(r, accuracy=accuracy) for r in mine]
        reached = [(r, s) for r, s in zip(mine, steps, strict=True) if math.isfinite(s)]
        rows.append({
            "n_pairs": n_pairs, "n_tokens": n_tokens, "seeds": len(mine), "reached": len(reached),
            "plateau_accuracy": float(np.mean([np.interp(s / 2, r["steps"], r["test_acc"]) for r, s in reached])) if reached else math.nan,
            "early_step": float(np.mean([escape_step(r, accuracy=early) for r, _ in reached])) if reached else math.nan,
            "step": float(np.mean([s for _, s in reached])) if reached else math.nan,
        })
    return rows


def largest_drop(curve: Sequence[float]) -> float:
    """The largest fall of ``curve`` below its running maximum (0 for a curve that never falls)."""
    values = np.asarray(curve, dtype=float)
    if values.size == 0:
        raise ValueError("curve must not be empty.")
    return float(np.max(np.maximum.accumulate(values) - values))


def query_kind_steps(records: Iterable[dict], accuracy: float) -> dict[float, tuple[float, float]]:
    """Per ``p``: the mean over seeds of the step at which test accuracy on the repeated queries,
    and on the other queries, first reaches ``accuracy`` (``math.inf`` when a seed never did);
    records trained by :func:`~sparse_attention_lab.experiments.recall_summary.run_with_query_kinds`."""
    records = list(records)
    out = {}
    for p in sorted({setting_of(r)[1] for r in records}):
        mine = [r for r in records if setting_of(r)[1] == p]
        out[p] = tuple(float(np.mean([first_crossing(r["steps"], r["probes"][kind], accuracy, direction="above") for r in mine]))
                       for kind in ("repeated", "other"))
    return out
