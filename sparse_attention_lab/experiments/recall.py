"""Transformers on in-context associative recall (Section 3, App. C, Figs. 4, 5, 16, 17).

A run is one flat, JSON-able config dict: task fields (``n_pairs``, ``n_tokens``, ``B``,
``p``, ``placement``, ``task_seed``), model fields (those of
:class:`~sparse_attention_lab.models.TransformerConfig` but ``d_in``/``d_out``/``input_kind``,
which follow from the task) and training fields (those of
:class:`~sparse_attention_lab.training.trainer.TrainConfig`). Missing fields take the paper's values
(:data:`DEFAULTS`: Table 1, App. C, layer norm on as in PAPER.md decision 4)::

    records = run({"n_pairs": 4, "n_tokens": 16, "d_model": 64, "lr": 1e-3}, seeds=[0, 1])

:data:`SWEEPS` maps the figure grids to config lists for a compute profile; sizes live in
``profiles.SIZES`` (``recall_transformer`` for the model and training, ``ar_grid`` and
``ar_repetition`` for the grids and seeds).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import fields, replace

from sparse_attention_lab.analysis.measurement import EMERGENCE_ACCURACY
from sparse_attention_lab.experiments.packing import build_members
from sparse_attention_lab.experiments.regression import TRAIN_FIELDS, train_config
from sparse_attention_lab.models import TransformerConfig
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.tasks import AssociativeRecall, checks
from sparse_attention_lab.training.record import RunRecord
from sparse_attention_lab.training.trainer import Callback, Probe, TrainConfig, train

TASK_FIELDS = ("n_pairs", "n_tokens", "B", "p", "placement", "task_seed")
MODEL_FIELDS = tuple(
    f.name for f in fields(TransformerConfig) if f.name not in ("d_in", "d_out", "input_kind")
)

DEFAULTS: dict = {
    "n_pairs": 32, "n_tokens": 256, "B": 1.0, "p": 0.0, "placement": "at_least_once", "task_seed": 0,
    "n_layers": 4, "n_heads": 4, "d_model": 256, "d_qk": 64, "mlp_factor": 4, "layer_norm": True,
    "skip": True, "mlp": True, "positional": True, "causal": True,
    "optimizer": "adam", "lr": 1e-4, "batch_size": 32, "max_steps": 100_000, "objective": "ce",
    "escape_accuracy": EMERGENCE_ACCURACY, "progress": False,
}
"""The paper's associative-recall setting (Table 1, App. C); sweeps override sizes per profile."""



def full_config(record: dict) -> dict:
    """A run's flat config with the keys it left out filled from :data:`DEFAULTS`."""
    return {**DEFAULTS, **record["config"]}


def build(config: dict) -> tuple[AssociativeRecall, TransformerConfig, TrainConfig]:
    """Task, model config and training config of a flat config dict (missing keys: :data:`DEFAULTS`)."""
    checks.known_keys("config", config, task=TASK_FIELDS, model=MODEL_FIELDS, training=TRAIN_FIELDS)
    merged = {**DEFAULTS, **config}
    task = AssociativeRecall(
        n_pairs=merged["n_pairs"], n_tokens=merged["n_tokens"], B=merged["B"], p=merged["p"],
        placement=merged["placement"], seed=merged["task_seed"],
    )
    model = TransformerConfig(
        d_in=task.n_tokens, d_out=task.n_tokens, input_kind="onehot",
        **{k: merged[k] for k in MODEL_FIELDS if k in merged},
    )
    return task, model, train_config(merged)


def run(
    config: dict | Sequence[dict], seeds: list[int], *, probe: Probe | None = None,
    callback: Callback | None = None, device: str | None = None,
) -> list[RunRecord]:
    """:func:`.regression.run` for associative recall: every seed of ``config`` (or, packed, one
    config per seed) at once, one record per seed; ``probe`` (e.g. a
    :class:`~sparse_attention_lab.training.probes.RecallProbe`) is logged at every evaluation."""
    task, model, training = build_members(build, config, seeds)
    if device is not None:
        training = replace(training, device=device)
    return train(task, model, training, seeds, probe=probe, callback=callback, config=config)


# --------------------------------------------------------------------------- named sweeps


def _base(profile: Profile) -> dict:
    return profile.sizes("recall_transformer")


def ar_grid(profile: Profile) -> list[dict]:
    """Fig. 4: emergence over ``n_pairs`` x ``n_tokens`` (only ``n_pairs < n_tokens``)."""
    s = profile.sizes("ar_grid")
    return [
        {**_base(profile), "n_pairs": n_pairs, "n_tokens": n_tokens}
        for n_pairs, n_tokens in itertools.product(s["n_pairs"], s["n_tokens"])
        if n_pairs < n_tokens
    ]


def ar_repetition(profile: Profile) -> list[dict]:
    """Figs. 5 and 16: in-context repetition ``B`` (at ``p = 0``) and cross-sample ``p`` (at ``B = 1``).

    Runs last a fixed number of steps (no early stop) so the overfitting and any late recovery
    show; the ``B = 1``, ``p = 0`` baseline appears once.
    """
    s = profile.sizes("ar_repetition")
    base = {**_base(profile), "n_pairs": s["n_pairs"], "n_tokens": s["n_tokens"],
            "max_steps": s["max_steps"], "stop_margin": None}
    settings = [(float(B), 0.0) for B in s["B"]] + [(1.0, float(p)) for p in s["p"] if p > 0]
    return [{**base, "B": B, "p": p} for B, p in dict.fromkeys(settings)]


SWEEPS: dict[str, Callable[[Profile], list[dict]]] = {"ar_grid": ar_grid, "ar_repetition": ar_repetition}
