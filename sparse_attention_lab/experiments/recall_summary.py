"""What chapter 4 measures on associative-recall runs (Figs. 4, 5, 16, 17 of the paper).

- :func:`emergence_law`: the paper's power law ``C N_tokens^a N_pairs^b`` fitted on the emergence
  steps (App. D.2), with a bootstrap over seeds;
- :func:`emergence_by_threshold`: the emergence step of every setting as the accuracy threshold
  moves (the paper's 5% is one choice among many);
- :func:`repetition_summary`: speed-ups of in-context and cross-sample repetition on test data and
  on the training distribution, the train-test gap and the final test accuracy;
- :func:`half_rise_step`: when an attention probe covers half of its rise (copy against selection);
- :func:`plateau_levels`: the accuracy reached on the plateau, against chance, and the steps to
  the paper's 5% and to a later threshold;
- :func:`largest_drop`: how far a curve ever falls below its running maximum (a dip to recover from);
- :func:`run_with_query_kinds`, :func:`ar_query_kind`, :func:`query_kind_steps`: the cross-sample
  repetition runs again, with their test accuracy split between the repeated queries and the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from sparse_attention_lab.experiments import recall
from sparse_attention_lab.fitting import PowerLawFit, bootstrap_stderr, fit_power_law
from sparse_attention_lab.measure import escape_step, first_crossing
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.training.probes import QueryKindProbe
from sparse_attention_lab.training.trainer import Callback, Probe


def setting_of(record: dict) -> tuple[float, float]:
    """``(B, p)`` of a run (missing keys: the paper's defaults)."""
    config = recall.full_config(record)
    return float(config["B"]), float(config["p"])


def emergence_law(records: Iterable[dict], accuracy: float, curve: str = "test") -> tuple[PowerLawFit, dict[str, float]]:
    """``T_emergence = C N_tokens^a N_pairs^b`` over the runs that reached ``accuracy`` after step 0
    (one point per seed), and the bootstrap standard error of each exponent over seeds."""
    rows = [r for r in recall.emergence_rows(records, accuracy, curve) if 0 < r["emergence"] < math.inf]
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
    if (1.0, 0.0) not in steps:
        raise ValueError("records must contain the reference setting B = 1, p = 0.")
    summary = {}
    for setting in steps:
        mine = [r for r in records if setting_of(r) == setting]
        summary[setting] = {
            "test": steps[setting][0], "train": train_steps[setting][0],
            "test_speedup": steps[(1.0, 0.0)][0] / steps[setting][0],
            "train_speedup": train_steps[(1.0, 0.0)][0] / train_steps[setting][0],
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


def plateau_levels(records: Iterable[dict], accuracy: float, early: float = recall.PAPER_ESCAPE_ACCURACY) -> list[dict]:
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




def run_with_query_kinds(
    config: dict, seeds: list[int], *, probe: Probe | None = None, callback: Callback | None = None,
    device: str | None = None,
) -> list[dict]:
    """:func:`~sparse_attention_lab.experiments.recall.run` with a
    :class:`~sparse_attention_lab.training.probes.QueryKindProbe` (its ``repeated`` and ``other``
    accuracies land in ``record["probes"]``); ``probe`` must be ``None``."""
    if probe is not None:
        raise ValueError("probe must be None: this run sets its own QueryKindProbe.")
    task = recall.build(config)[0]
    return recall.run(config, seeds, probe=QueryKindProbe(task), callback=callback, device=device)


def ar_query_kind(profile: Profile) -> list[dict]:
    """The cross-sample repetition runs of ``ar_repetition`` (``B = 1``, every ``p`` including 0),
    to be trained by :func:`run_with_query_kinds`."""
    return [c for c in recall.ar_repetition(profile) if c["B"] == 1.0]


def query_kind_steps(records: Iterable[dict], accuracy: float) -> dict[float, tuple[float, float]]:
    """Per ``p``: the mean over seeds of the step at which test accuracy on the repeated queries,
    and on the other queries, first reaches ``accuracy`` (``math.inf`` when a seed never did);
    records trained by :func:`run_with_query_kinds`."""
    records = list(records)
    out = {}
    for p in sorted({setting_of(r)[1] for r in records}):
        mine = [r for r in records if setting_of(r)[1] == p]
        out[p] = tuple(float(np.mean([first_crossing(r["steps"], r["probes"][kind], accuracy, direction="above") for r in mine]))
                       for kind in ("repeated", "other"))
    return out


def _repetition_seeds(profile: Profile) -> int:
    return int(profile.sizes("ar_repetition")["seeds"])


SWEEPS = {"ar_query_kind": (ar_query_kind, run_with_query_kinds, _repetition_seeds)}
"""Chapter 4's named sweep of the query-kind accuracies: name -> (configs, run, seeds per config)."""
