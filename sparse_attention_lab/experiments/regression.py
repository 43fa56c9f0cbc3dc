"""Transformers on single-location linear regression (Section 2.4, App. B.1, Figs. 3, 11-15).

A run is described by one flat, JSON-able config dict: task fields (``T``, ``d``, ``B``,
``p``, ``position``, ``feature``, ``task_seed``, ``signed_repeat``), model fields (those of
:class:`~sparse_attention_lab.models.TransformerConfig` but ``d_in``/``d_out``, which follow
from the task), training fields (those of :class:`~sparse_attention_lab.training.trainer.TrainConfig`)
and ``probe_attention`` (log :func:`relevant_attention_probe` at every evaluation).
Missing fields take the paper's values (:data:`DEFAULTS`: Table 1 and App. B)::

    records = run({"T": 64, "d": 8, "d_model": 32, "n_heads": 2, "d_qk": 16, "lr": 3e-4}, seeds=[0, 1])

:data:`SWEEPS` maps the figure grids to config lists for a compute profile; their sizes live
in ``profiles.SIZES`` (entry ``regression_transformer`` for the model and training, one entry
per sweep for the grid and the seeds). What the runs measure (escape steps, fits) is in
:mod:`sparse_attention_lab.analysis.steps`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace

from sparse_attention_lab.analysis.measurement import REPEATED_ESCAPE_FRACTION
from sparse_attention_lab.experiments.packing import build_members
from sparse_attention_lab.models import TransformerConfig
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.tasks import SingleLocationRegression, checks
from sparse_attention_lab.training.probes import relevant_attention_probe
from sparse_attention_lab.training.record import RunRecord
from sparse_attention_lab.training.trainer import Callback, Probe, TrainConfig, train

TASK_FIELDS = ("T", "d", "B", "p", "position", "feature", "task_seed", "signed_repeat")
MODEL_FIELDS = tuple(f.name for f in fields(TransformerConfig) if f.name not in ("d_in", "d_out"))
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))
RUN_FIELDS = ("probe_attention",)

TABLE1_MODEL = ("n_layers", "n_heads", "d_model", "d_qk", "mlp_factor", "layer_norm", "skip", "mlp", "positional",
                "causal")
TABLE1_TRAINING = ("optimizer", "lr", "batch_size", "max_steps")
"""The model and training fields of Table 1 (linear regression): their defaults in
:class:`~sparse_attention_lab.models.TransformerConfig` and
:class:`~sparse_attention_lab.training.trainer.TrainConfig` are the paper's (one home)."""

DEFAULTS: dict = {
    "T": 256, "d": 16, "B": 1, "p": 0.0, "position": "random", "feature": True, "task_seed": 0, "signed_repeat": False,
    **{f.name: f.default for f in fields(TransformerConfig) if f.name in TABLE1_MODEL},
    **{f.name: f.default for f in fields(TrainConfig) if f.name in TABLE1_TRAINING},
    "progress": False,
}
"""The paper's linear-regression setting (Table 1, App. B); the sweeps override sizes per profile."""


def full_config(record: dict) -> dict:
    """A run's flat config with the keys it left out filled from :data:`DEFAULTS`."""
    return {**DEFAULTS, **record["config"]}


def build(config: dict) -> tuple[SingleLocationRegression, TransformerConfig, TrainConfig]:
    """Task, model config and training config of a flat config dict (missing keys: :data:`DEFAULTS`)."""
    checks.known_keys("config", config, task=TASK_FIELDS, model=MODEL_FIELDS, training=TRAIN_FIELDS,
                      run=RUN_FIELDS)
    merged = {**DEFAULTS, **config}
    task = SingleLocationRegression(
        T=merged["T"], d=merged["d"], B=merged["B"], p=merged["p"], position=merged["position"],
        feature=merged["feature"], seed=merged["task_seed"], signed_repeat=merged["signed_repeat"],
    )
    model = TransformerConfig(
        d_in=task.input_dim, d_out=task.d, **{k: merged[k] for k in MODEL_FIELDS if k in merged}
    )
    return task, model, train_config(merged)


def train_config(merged: dict) -> TrainConfig:
    """The :class:`TrainConfig` of a config merged with its experiment's defaults (its
    :data:`TRAIN_FIELDS`; the others belong to the task, the model or the run)."""
    return TrainConfig(**{k: merged[k] for k in TRAIN_FIELDS if k in merged})


def run(
    config: dict | Sequence[dict], seeds: list[int], *, probe: Probe | None = None,
    callback: Callback | None = None, device: str | None = None,
) -> list[RunRecord]:
    """Train the run of ``config`` for every seed (all at once); one record per seed, whose
    ``config`` is ``config`` (see :mod:`sparse_attention_lab.training.record`). ``config`` may
    also be a list with one config per seed, differing only in ``B`` and ``p``: a packed
    ensemble (:mod:`sparse_attention_lab.experiments.packing`).

    ``probe`` is logged at every evaluation; without one, a config with ``probe_attention``
    logs :func:`relevant_attention_probe`. ``callback`` goes to the trainer (a live panel);
    ``device`` overrides the config's (where a run trains does not change what it is).
    """
    task, model, training = build_members(build, config, seeds)
    first = config if isinstance(config, Mapping) else config[0]
    if probe is None and first.get("probe_attention"):  # packed members share it and the test set
        probe = relevant_attention_probe(task if isinstance(config, Mapping) else task[0])
    if device is not None:
        training = replace(training, device=device)
    return train(task, model, training, seeds, probe=probe, callback=callback, config=config)


# --------------------------------------------------------------------------- named sweeps


def _base(profile: Profile) -> dict:
    return profile.sizes("regression_transformer")


def _grid(base: dict, **axes: list) -> list[dict]:
    """``base`` crossed with every combination of the values in ``axes``."""
    names = list(axes)
    return [{**base, **dict(zip(names, values, strict=True))} for values in itertools.product(*axes.values())]


def fig3(profile: Profile) -> list[dict]:
    """Fig. 3 left: plateau vs ``d`` for several ``T`` (``B = 1``), readout attention probed."""
    s = profile.sizes("fig3")
    return _grid({**_base(profile), "probe_attention": True}, T=s["T"], d=s["d"])


def fig3_B(profile: Profile) -> list[dict]:
    """Fig. 3 middle: plateau vs ``d`` for several in-context repetitions ``B`` at fixed ``T``."""
    s = profile.sizes("fig3_B")
    return _grid({**_base(profile), "T": s["T"], "probe_attention": True}, B=s["B"], d=s["d"])


def _p_grid(profile: Profile, entry: str) -> list[dict]:
    """The ``T`` (one or several) x ``p`` x ``d`` grid of ``profile.sizes(entry)``, threshold 0.4."""
    s = profile.sizes(entry)
    base = {**_base(profile), "escape_fraction": REPEATED_ESCAPE_FRACTION, "probe_attention": True}
    Ts = s["T"] if isinstance(s["T"], list) else [s["T"]]
    return _grid(base, T=Ts, p=s["p"], d=s["d"])


def fig3_p(profile: Profile) -> list[dict]:
    """Fig. 3 right and Fig. 12: plateau vs ``d`` for several ``p`` (threshold 0.4), at one or
    several ``T``."""
    return _p_grid(profile, "fig3_p")


def fig3_p_long(profile: Profile) -> list[dict]:
    """Fig. 3 right at the paper's sequence length, ``T = 256``, on a smaller ``p`` x ``d`` grid."""
    return _p_grid(profile, "fig3_p_long")


def fig3_p_paired(profile: Profile) -> list[dict]:
    """Fig. 3 right again where chapter 3 reads a direction (``T`` = 128 and 256), with 10 paired
    seeds: the same seed with and without repetition shares its initialisation and test set. Cheap
    settings first; its configs are those of ``fig3_p`` (``T`` = 128) and ``fig3_p_long``, so their
    runs count as its first seeds."""
    return _cheap_first(_p_grid(profile, "fig3_p_paired"))


def _cheap_first(configs: list[dict]) -> list[dict]:
    """``configs`` ordered by ``T x d`` (a run's cost grows with both), so that a sweep cut short
    holds every seed of the cheap settings."""
    return sorted(configs, key=lambda c: (c["T"] * c["d"], c["T"]))


def fig3_scale(profile: Profile) -> list[dict]:
    """Fig. 3 left over a factor 8 in ``T`` and ``d`` (cheap settings first), readout attention probed."""
    s = profile.sizes("fig3_scale")
    base = {**_base(profile), "max_steps": s["max_steps"], "probe_attention": True}
    return _cheap_first(_grid(base, T=s["T"], d=s["d"]))


def fig3_scale_wide(profile: Profile) -> list[dict]:
    """:func:`fig3_scale` at a second model width, on a sub-grid."""
    s = profile.sizes("fig3_scale_wide")
    base = {**_base(profile), "d_model": s["d_model"], "d_qk": s["d_qk"], "max_steps": s["max_steps"],
            "probe_attention": True}
    return _cheap_first(_grid(base, T=s["T"], d=s["d"]))


def fig3_p_tuned(profile: Profile) -> list[dict]:
    """Fig. 3 right at one ``T`` with each learning rate of ``lr``, its step cap ``max_steps`` and
    its list of ``d`` (App. D.3 tunes the rate per ``p``): every ``(p, d)`` at the first rate,
    cheap settings first, then at the next."""
    s = profile.sizes("fig3_p_tuned")
    base = {**_base(profile), "T": s["T"], "escape_fraction": REPEATED_ESCAPE_FRACTION, "probe_attention": True}
    return [
        config
        for lr, cap, ds in zip(s["lr"], s["max_steps"], s["d"], strict=True)
        for config in _cheap_first(_grid({**base, "lr": lr, "max_steps": cap}, p=s["p"], d=ds))
    ]


def _w256(profile: Profile) -> dict:
    """The paper's Table 1 model and optimizer at the CPU evaluation cadence of ``w256_transformer``."""
    return {**profile.sizes("w256_transformer"), "probe_attention": True}


def fig3_w256(profile: Profile) -> list[dict]:
    """Fig. 3 left with the paper's own model (width 256), cheap settings first."""
    s = profile.sizes("fig3_w256")
    return _cheap_first(_grid(_w256(profile), T=s["T"], d=s["d"]))


def fig3_B_w256(profile: Profile) -> list[dict]:
    """Fig. 3 middle with the paper's own model (width 256) at one ``T``, cheap settings first."""
    s = profile.sizes("fig3_B_w256")
    return _cheap_first(_grid({**_w256(profile), "T": s["T"]}, B=s["B"], d=s["d"]))


def fig3_p_w256(profile: Profile) -> list[dict]:
    """Fig. 3 right with the paper's own model (width 256) at one ``T`` (threshold 0.4), at each
    learning rate of ``lr`` (App. D.3 tunes the rate per ``p``), cheap settings first."""
    s = profile.sizes("fig3_p_w256")
    base = {**_w256(profile), "T": s["T"], "escape_fraction": REPEATED_ESCAPE_FRACTION}
    return _cheap_first(_grid(base, lr=s["lr"], p=s["p"], d=s["d"]))


def fig3_p_sgd(profile: Profile) -> list[dict]:
    """Fig. 3 right under SGD: a 1-layer, 1-head model (Fig. 15's) for several ``p`` (threshold 0.4)."""
    s = profile.sizes("fig3_p_sgd")
    base = {**_base(profile), "n_layers": 1, "n_heads": 1, "optimizer": "sgd", "lr": s["lr"], "T": s["T"],
            "max_steps": s["max_steps"], "escape_fraction": REPEATED_ESCAPE_FRACTION, "probe_attention": True}
    return _grid(base, p=s["p"], d=s["d"])


def fig13(profile: Profile) -> list[dict]:
    """Fig. 13: layers and heads, over a small ``d`` x ``T`` grid."""
    s = profile.sizes("fig13")
    return [
        {**config, "n_layers": layers, "n_heads": heads}
        for layers, heads in s["layers_heads"]
        for config in _grid(_base(profile), T=s["T"], d=s["d"])
    ]


TASK_VARIANTS = {
    "feature, random position": {"feature": True, "position": "random"},
    "feature, fixed position": {"feature": True, "position": "fixed"},
    "no feature, fixed position": {"feature": False, "position": "fixed"},
}
"""Fig. 14's task variants (without the feature a random position cannot be found, so it is absent)."""


def fig14(profile: Profile) -> list[dict]:
    """Fig. 14: task variants (relevant-token feature, random or fixed position)."""
    s = profile.sizes("fig14")
    return [
        {**config, **variant}
        for variant in TASK_VARIANTS.values()
        for config in _grid(_base(profile), T=s["T"], d=s["d"])
    ]


def fig15(profile: Profile) -> list[dict]:
    """Fig. 15: a 1-layer, 1-head Transformer trained by SGD or by Adam."""
    s = profile.sizes("fig15")
    one_head = {**_base(profile), "n_layers": 1, "n_heads": 1}
    return [
        {**config, "optimizer": optimizer, "lr": s["lr"][optimizer], "max_steps": s["max_steps"][optimizer]}
        for optimizer in ("adam", "sgd")
        for config in _grid(one_head, T=s["T"], d=s["d"])
    ]


SWEEPS: dict[str, Callable[[Profile], list[dict]]] = {
    "fig3": fig3, "fig3_B": fig3_B, "fig3_p": fig3_p, "fig3_p_long": fig3_p_long, "fig3_p_paired": fig3_p_paired, "fig3_p_sgd": fig3_p_sgd,
    "fig3_scale": fig3_scale, "fig3_scale_wide": fig3_scale_wide, "fig3_p_tuned": fig3_p_tuned,
    "fig13": fig13, "fig14": fig14, "fig15": fig15,
    "fig3_w256": fig3_w256, "fig3_B_w256": fig3_B_w256, "fig3_p_w256": fig3_p_w256,
}
