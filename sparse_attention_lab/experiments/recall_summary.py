"""Chapter 4's associative-recall runs with the test accuracy split by query kind (Figs. 5, 16).

- :func:`setting_of`: the ``(B, p)`` of a run;
- :func:`run_with_query_kinds`, :func:`ar_query_kind`: the cross-sample repetition runs again,
  with their test accuracy split between the repeated queries and the others (the named sweep
  ``ar_query_kind``).

What chapter 4 measures on recall runs (emergence laws, repetition summaries, query kinds) is in
:mod:`sparse_attention_lab.analysis.recall`.
"""

from __future__ import annotations

from sparse_attention_lab.experiments import recall
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.training.probes import QueryKindProbe
from sparse_attention_lab.training.trainer import Callback, Probe


def setting_of(record: dict) -> tuple[float, float]:
    """``(B, p)`` of a run (missing keys: the paper's defaults)."""
    config = recall.full_config(record)
    return float(config["B"]), float(config["p"])


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


def _repetition_seeds(profile: Profile) -> int:
    return int(profile.sizes("ar_repetition")["seeds"])


SWEEPS = {"ar_query_kind": (ar_query_kind, run_with_query_kinds, _repetition_seeds)}
"""Chapter 4's named sweep of the query-kind accuracies: name -> (configs, run, seeds per config)."""
