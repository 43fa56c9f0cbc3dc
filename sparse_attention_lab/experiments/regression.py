"""Transformers on single-location linear regression (Section 2.4, App. B.1, Figs. 3, 11-15).

A run is described by one flat, JSON-able config dict: task fields (``T``, ``d``, ``B``,
``p``, ``position``, ``feature``, ``task_seed``), model fields (those of
:class:`~sparse_attention_lab.models.TransformerConfig` but ``d_in``/``d_out``, which follow
from the task), training fields (those of :class:`~sparse_attention_lab.training.trainer.TrainConfig`)
and ``probe_attention`` (log :func:`relevant_attention_probe` at every evaluation).
Missing fields take the paper's values (:data:`DEFAULTS`: Table 1 and App. B)::

    records = run({"T": 64, "d": 8, "d_model": 32, "n_heads": 2, "d_qk": 16, "lr": 3e-4}, seeds=[0, 1])

:data:`SWEEPS` maps the figure grids to config lists for a compute profile; their sizes live
in ``profiles.SIZES`` (entry ``regression_transformer`` for the model and training, one entry
per sweep for the grid and the seeds).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import fields

import torch

from sparse_attention_lab.measure import attention_step, escape_step
from sparse_attention_lab.models import Transformer, TransformerConfig
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.tasks import SingleLocationRegression
from sparse_attention_lab.training.trainer import TrainConfig, train

TASK_FIELDS = ("T", "d", "B", "p", "position", "feature", "task_seed")
MODEL_FIELDS = tuple(f.name for f in fields(TransformerConfig) if f.name not in ("d_in", "d_out"))
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))
RUN_FIELDS = ("probe_attention",)

DEFAULTS: dict = {
    "T": 256, "d": 16, "B": 1, "p": 0.0, "position": "random", "feature": True, "task_seed": 0,
    "n_layers": 2, "n_heads": 4, "d_model": 256, "d_qk": 64, "mlp_factor": 4, "layer_norm": False,
    "skip": True, "mlp": True, "positional": True, "causal": False,
    "optimizer": "adam", "lr": 1e-4, "batch_size": 32, "max_steps": 50_000, "progress": False,
}
"""The paper's linear-regression setting (Table 1, App. B); the sweeps override sizes per profile."""

REPEATED_ESCAPE_FRACTION = 0.4
"""Escape threshold under cross-sample repetition (App. D.1: 0.4 x the initial test loss)."""


def build(config: dict) -> tuple[SingleLocationRegression, TransformerConfig, TrainConfig]:
    """Task, model config and training config of a flat config dict (missing keys: :data:`DEFAULTS`)."""
    unknown = set(config) - set(TASK_FIELDS) - set(MODEL_FIELDS) - set(TRAIN_FIELDS) - set(RUN_FIELDS)
    if unknown:
        raise ValueError(
            f"config has unknown keys {sorted(unknown)}; known: task {TASK_FIELDS}, "
            f"model {MODEL_FIELDS}, training {TRAIN_FIELDS}, run {RUN_FIELDS}."
        )
    merged = {**DEFAULTS, **config}
    task = SingleLocationRegression(
        T=merged["T"], d=merged["d"], B=merged["B"], p=merged["p"], position=merged["position"],
        feature=merged["feature"], seed=merged["task_seed"],
    )
    model = TransformerConfig(
        d_in=task.input_dim, d_out=task.d, **{k: merged[k] for k in MODEL_FIELDS if k in merged}
    )
    training = TrainConfig(**{k: merged[k] for k in TRAIN_FIELDS if k in merged})
    return task, model, training


def relevant_attention_probe(task: SingleLocationRegression, n_sequences: int = 256, seed: int = 0):
    """A :func:`~sparse_attention_lab.training.trainer.train` probe: readout attention on the relevant token.

    Returns ``probe(model, step) -> {"readout_attention": (n_models, layers, heads)}``, the
    attention weight of the readout position on the relevant position(s), averaged over
    ``n_sequences`` fixed test sequences (uniform attention gives ``B / (T + 1)``).
    """
    if not (task.feature or task.position == "fixed"):
        raise ValueError("task must flag the relevant token (feature=True) or fix its position.")
    x, _ = task.test_task().sample(n_sequences, torch.Generator().manual_seed(seed))
    if task.feature:
        mask = x[..., -1] > 0.5
    else:
        mask = torch.zeros(n_sequences, task.T, dtype=torch.bool)
        mask[:, task.fixed_positions[:1]] = True
    mask = torch.cat([mask, torch.zeros(n_sequences, 1, dtype=torch.bool)], dim=1).float()

    @torch.no_grad()
    def probe(model: Transformer, step: int) -> dict[str, torch.Tensor]:
        inputs = x.to(next(model.parameters()).device).expand(model.n_models, *x.shape)
        _, maps = model(inputs, return_attention=True)
        readout_rows = torch.stack([m[:, :, :, -1, :] for m in maps], dim=2)  # (E, n, L, H, T+1)
        on_relevant = (readout_rows * mask.to(readout_rows.device)[:, None, None, :]).sum(-1)
        return {"readout_attention": on_relevant.mean(1).cpu()}

    return probe


def run(config: dict, seeds: list[int], probe_attention: bool = False) -> list[dict]:
    """Train the run of ``config`` for every seed (all at once); one record per seed.

    Each record is :func:`~sparse_attention_lab.training.trainer.train`'s, with ``config`` the dict
    given here (the sweep key) and ``settings`` the full task, model and training description.
    ``probe_attention`` (or the config's own ``probe_attention``) logs
    :func:`relevant_attention_probe` at every evaluation.
    """
    task, model, training = build(config)
    probe = relevant_attention_probe(task) if probe_attention or config.get("probe_attention") else None
    records = train(task, model, training, seeds, probe=probe)
    for record in records:
        record["settings"], record["config"] = record["config"], dict(config)
    return records


"""Attention on the relevant token that marks sparse attention (uniform is ``1 / (T + 1)``)."""


def plateau_measure(B: int, p: float) -> tuple[float, str]:
    """How App. D.1 measures the plateau of a run trained with ``B`` and ``p``: ``(fraction, curve)``.

    Cross-sample repetition (``p > 0``): 0.4 x the initial test loss, on test data without
    repetition (``"test"``). In-context repetition (``B > 1``): 0.2 x the initial loss on data
    "with the same B value as during training", i.e. held-out data from the training
    distribution (``"train"``, the trainer's ``train_loss``). Neither: 0.2 x the initial test loss.
    """
    if p > 0:
        return REPEATED_ESCAPE_FRACTION, "test"
    return 0.2, "train" if B > 1 else "test"


def _row(record: dict, plateau: float | None) -> dict:
    return {**DEFAULTS, **record["config"], "seed": record["seed"], "diverged": record["diverged"],
            "plateau": plateau, "attention_step": attention_step(record)}


def plateau_rows(records: Iterable[dict], fraction: float = 0.2, curve: str = "test") -> list[dict]:
    """One row per record: its config merged with :data:`DEFAULTS`, seed, and plateau length.

    ``plateau`` is the interpolated step at which the loss (``curve``: ``"test"``, without
    repetition, or ``"train"``, the training distribution) first falls below ``fraction`` x
    its initial value, ``None`` if never (App. D.1); ``attention_step`` is
    :func:`attention_step` (``None`` for runs without the attention probe).
    """
    return [_row(r, escape_step(r, fraction=fraction, curve=curve)) for r in records]


def paper_plateau_rows(records: Iterable[dict]) -> list[dict]:
    """:func:`plateau_rows` with each run measured as the paper does (:func:`plateau_measure`)."""
    rows = []
    for r in records:
        config = {**DEFAULTS, **r["config"]}
        fraction, curve = plateau_measure(config["B"], config["p"])
        rows.append(_row(r, escape_step(r, fraction=fraction, curve=curve)))
    return rows


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
    "fig3": fig3, "fig3_B": fig3_B, "fig3_p": fig3_p, "fig3_p_long": fig3_p_long, "fig3_p_sgd": fig3_p_sgd,
    "fig13": fig13, "fig14": fig14, "fig15": fig15,
}
