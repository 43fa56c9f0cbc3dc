"""Associative recall with the paper's 4 layers: which layer copies, which selects? (Figs. 4, 5, 17)

The runs of :mod:`sparse_attention_lab.experiments.recall` with a
:class:`~sparse_attention_lab.training.probes.RecallProbe` at every evaluation, so each record
holds, per layer and head, the attention of the copy positions on the preceding key and of the
query on the matching value (``record["probes"]["copy"]`` and ``["selection"]``, each
``(evaluations, layers, heads)``). Two sweeps (sizes in ``profiles.SIZES``):

- ``ar_deep``: emergence over ``n_pairs`` x ``n_tokens`` with 4 layers, trained until test
  accuracy passes 50% so that every threshold from 5% to 50% is crossed in the same runs
  (:func:`~sparse_attention_lab.analysis.recall.threshold_steps`); cheap settings first.
- ``ar_deep_long``: one ``B > 1`` and one ``p > 0`` run (and the ``B = 1, p = 0`` baseline)
  trained a fixed, long number of steps, to see whether test accuracy dips and recovers (Fig. 5).
- ``ar_w256``: the same emergence grid with the paper's own model (Table 1: width 256, ``d_qk`` 64,
  Adam 1e-4), trained until 50% test accuracy; cheap settings first.
- ``ar_w256_lr``: Fig. 4's rate tuning, {1e-5, 3e-5, 1e-4}, raced on two cells of that grid with
  paired seeds, to ask whether a lower rate than the grid's 1e-4 would emerge sooner.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sparse_attention_lab.experiments import recall
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.training.probes import RecallProbe


def run(config: dict, seeds: list[int], *, probe=None, callback=None, device: str | None = None) -> list[dict]:
    """:func:`~sparse_attention_lab.experiments.recall.run` with a :class:`RecallProbe` (or
    ``probe``) logged; ``callback`` and ``device`` as there."""
    return recall.run(config, seeds, probe=probe or RecallProbe(recall.build(config)[0]), callback=callback,
                      device=device)


def attention_at(record: dict, step: float) -> dict[str, np.ndarray]:
    """The ``copy`` and ``selection`` attention, ``(layers, heads)``, at the first evaluation at or
    after ``step`` (the last one if none)."""
    steps = np.asarray(record["steps"], dtype=float)
    index = int(np.searchsorted(steps, step)) if step <= steps[-1] else len(steps) - 1
    return {name: np.asarray(record["probes"][name][index], dtype=float) for name in ("copy", "selection")}


# --------------------------------------------------------------------------- named sweeps


def _base(profile: Profile) -> dict:
    s = profile.sizes("ar_deep_model")
    return {**profile.sizes("recall_transformer"), **s}


def _emergence_grid(base: dict, sizes: dict) -> list[dict]:
    """``base`` over ``n_pairs`` x ``n_tokens`` of ``sizes`` (only ``n_pairs < n_tokens``), cheapest
    first (fewer pairs, then fewer tokens)."""
    configs = [{**base, "n_pairs": n_pairs, "n_tokens": n_tokens}
               for n_pairs in sizes["n_pairs"] for n_tokens in sizes["n_tokens"] if n_pairs < n_tokens]
    return sorted(configs, key=lambda c: (c["n_pairs"], c["n_tokens"]))


def ar_deep(profile: Profile) -> list[dict]:
    """Emergence over ``n_pairs`` x ``n_tokens`` (``n_pairs < n_tokens``) with 4 layers, cheap first."""
    s = profile.sizes("ar_deep")
    return _emergence_grid({**_base(profile), "max_steps": s["max_steps"]}, s)


def ar_deep_long(profile: Profile) -> list[dict]:
    """``B = 1, p = 0``, one ``B > 1`` and one ``p > 0``, trained ``max_steps`` without an early stop."""
    s = profile.sizes("ar_deep_long")
    base = {**_base(profile), "n_pairs": s["n_pairs"], "n_tokens": s["n_tokens"], "max_steps": s["max_steps"],
            "stop_margin": None}
    return [{**base, "B": 1.0, "p": 0.0}, {**base, "B": float(s["B"]), "p": 0.0}, {**base, "B": 1.0, "p": float(s["p"])}]


def _w256(profile: Profile) -> dict:
    return {**profile.sizes("recall_transformer"), **profile.sizes("ar_w256_model")}


def ar_w256(profile: Profile) -> list[dict]:
    """Fig. 4's emergence grid at the paper's width (``n_pairs < n_tokens``), cheapest first."""
    return _emergence_grid(_w256(profile), profile.sizes("ar_w256"))


def ar_w256_lr(profile: Profile) -> list[dict]:
    """Fig. 4's rates on the cells of ``ar_w256_lr``, cheapest cell first: the grid's own runs at
    its rate (the same configs as ``ar_w256``, so they can be copied in), then each lower rate
    with the sweep's own step cap; the lower rates are compared with the grid's, seed by seed."""
    s = profile.sizes("ar_w256_lr")
    grid = {(c["n_pairs"], c["n_tokens"]): c for c in ar_w256(profile)}
    configs = []
    for cell in map(tuple, s["cells"]):
        configs += [grid[cell]] + [{**grid[cell], "lr": lr, "max_steps": s["max_steps"]} for lr in s["lr"]]
    return configs


SWEEPS: dict[str, Callable[[Profile], list[dict]]] = {
    "ar_deep": ar_deep, "ar_deep_long": ar_deep_long, "ar_w256": ar_w256, "ar_w256_lr": ar_w256_lr,
}
