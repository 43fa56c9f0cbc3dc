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
per sweep for the grid and the seeds).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F

from sparse_attention_lab.experiments.packing import build_members
from sparse_attention_lab.fitting import PowerLawFit, bootstrap_stderr, fit_power_law
from sparse_attention_lab.measure import ATTENTION_LEVEL, attention_step, escape_step
from sparse_attention_lab.models import Transformer, TransformerConfig
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.runs.results import config_key
from sparse_attention_lab.tasks import SingleLocationRegression, checks
from sparse_attention_lab.theory.reduced import plateau_lengths, repetition_speedup
from sparse_attention_lab.training.record import RunRecord
from sparse_attention_lab.training.trainer import Callback, Probe, TrainConfig, eval_chunk, train

TASK_FIELDS = ("T", "d", "B", "p", "position", "feature", "task_seed", "signed_repeat")
MODEL_FIELDS = tuple(f.name for f in fields(TransformerConfig) if f.name not in ("d_in", "d_out"))
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))
RUN_FIELDS = ("probe_attention",)

DEFAULTS: dict = {
    "T": 256, "d": 16, "B": 1, "p": 0.0, "position": "random", "feature": True, "task_seed": 0, "signed_repeat": False,
    "n_layers": 2, "n_heads": 4, "d_model": 256, "d_qk": 64, "mlp_factor": 4, "layer_norm": False,
    "skip": True, "mlp": True, "positional": True, "causal": False,
    "optimizer": "adam", "lr": 1e-4, "batch_size": 32, "max_steps": 50_000, "progress": False,
}
"""The paper's linear-regression setting (Table 1, App. B); the sweeps override sizes per profile."""

REPEATED_ESCAPE_FRACTION = 0.4
"""Escape threshold under cross-sample repetition (App. D.1: 0.4 x the initial test loss)."""



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
    mask = mask.float()  # (n, T); padded with zeros to the model's positions (an appended readout)

    @torch.no_grad()
    def probe(model: Transformer, step: int) -> dict[str, torch.Tensor]:
        device = next(model.parameters()).device
        size = eval_chunk(model, x.shape[1] + 1)
        parts = []
        for start in range(0, n_sequences, size):  # chunks bound the memory at long T
            inputs = x[start:start + size].to(device).expand(model.n_models, -1, -1, -1)
            _, rows = model(inputs, readout_attention=True)  # per layer (E, n, H, 1, T+1)
            readout_rows = torch.stack([m[:, :, :, 0, :] for m in rows], dim=2)  # (E, n, L, H, T+1)
            chunk_mask = F.pad(mask[start:start + size], (0, readout_rows.shape[-1] - task.T))
            chunk_mask = chunk_mask.to(device)[:, None, None, :]
            parts.append((readout_rows * chunk_mask).sum(-1))  # (E, n, L, H)
        return {"readout_attention": torch.cat(parts, dim=1).mean(1).cpu()}

    return probe


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



def plateau_measure(B: int, p: float) -> tuple[float, str]:
    """One reading of App. D.1 for a run trained with ``B`` and ``p``: ``(fraction, curve)``.

    App. D.1 fixes the thresholds (0.4 x the initial loss under cross-sample repetition, 0.2
    otherwise) but names the loss only for the toy model ("with the same B value as during
    training" under in-context repetition). This reading carries the toy model's rule over:
    ``"train"`` (held-out data from the training distribution) when ``B > 1``, the test loss
    without repetition (``"test"``) otherwise. Chapter 3 reports both losses for every run
    (:data:`MEASURES`); the training panel uses this one.
    """
    if p > 0:
        return REPEATED_ESCAPE_FRACTION, "test"
    return 0.2, "train" if B > 1 else "test"


def _row(record: dict, plateau: float) -> dict:
    row = {**full_config(record), "seed": record["seed"], "diverged": record["diverged"], "plateau": plateau}
    if "readout_attention" in record.get("probes", {}):
        row["attention_step"] = attention_step(record)
    return row


def plateau_rows(records: Iterable[dict], fraction: float = 0.2, curve: str = "test") -> list[dict]:
    """One row per record: its config merged with :data:`DEFAULTS`, seed, and plateau length.

    ``plateau`` is the interpolated step at which the loss (``curve``: ``"test"``, without
    repetition, or ``"train"``, the training distribution) first falls below ``fraction`` x
    its initial value, ``math.inf`` if never (App. D.1); ``attention_step`` is
    :func:`~sparse_attention_lab.measure.attention_step`, present for runs with the attention probe.
    """
    return [_row(r, escape_step(r, fraction=fraction, curve=curve)) for r in records]


def paper_plateau_rows(records: Iterable[dict]) -> list[dict]:
    """:func:`plateau_rows` with each run measured by :func:`plateau_measure` (one reading of App. D.1)."""
    rows = []
    for r in records:
        config = full_config(r)
        fraction, curve = plateau_measure(config["B"], config["p"])
        rows.append(_row(r, escape_step(r, fraction=fraction, curve=curve)))
    return rows


# --------------------------------------------------------------------------- measures and fits

MEASURES: dict[str, str] = {
    "train": "training-distribution loss",
    "test": "test loss without repetition",
    "attention": "attention step",
}
"""The three clocks of an escape (chapter 3): the loss crossing ``fraction`` x its initial value
on held-out data drawn like the training data (with its ``B`` and ``p``), the same on test data
without repetition, and :func:`attention_step`. For the Transformer, App. D.1 gives the
threshold but not which loss; for ``B = 1, p = 0`` the two losses are one distribution."""


def unique_runs(records: Iterable[dict]) -> list[dict]:
    """``records`` without repeated (config, seed) pairs, the first kept (sweeps may share settings).

    Configs are compared with their left-out keys filled from :data:`DEFAULTS`, so a config that
    says ``"B": 1`` and one that leaves ``B`` out name the same run."""
    seen: dict[tuple[str, int], dict] = {}
    for record in records:
        seen.setdefault((config_key(full_config(record)), record["seed"]), record)
    return list(seen.values())


def step_rows(records: Iterable[dict], measure: str = "test", fraction: float = 0.2) -> list[dict]:
    """:func:`plateau_rows` with ``plateau`` timed by ``measure`` (a key of :data:`MEASURES`;
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


def reduced_speedup(T: int, d: int, p: float, threshold: float = REPEATED_ESCAPE_FRACTION) -> float:
    """The reduced flow's own speed-up from cross-sample repetition (App. A.4, chapter 2): its
    test-loss plateau at ``p = 0`` over the one at ``p``, same ``T``, ``d`` and threshold."""
    lengths = plateau_lengths(T, d, 1, np.array([0.0, p]), threshold)
    return float(lengths[0] / lengths[1])


def shortcut_offset(config: dict) -> float:
    """Test-loss cost of the attention-free shortcut under cross-sample repetition: the mean
    training target is ``p W* x~`` (``x~`` the special token), and outputting it on every
    sequence adds ``p^2 |W* x~|^2 / 2`` to the loss of a test sequence without repetition (0 when
    ``signed_repeat`` makes the repeated targets zero-mean)."""
    task = build(config)[0]
    if task.signed_repeat:
        return 0.0
    return task.p**2 * float((task.W_star @ task.special_token).square().sum()) / 2


def loss_rise(record: dict) -> tuple[float, float]:
    """``(highest / initial test loss, 1 + shortcut_offset / initial test loss)`` of one run (Fig. 12)."""
    initial = record["test_loss"][0]
    return max(record["test_loss"]) / initial, 1 + shortcut_offset(record["config"]) / initial


def ablation_fits(rows: dict[str, Sequence[dict]]) -> dict[str, StepFit]:
    """Figs. 13-15 from the :func:`step_rows` of sweeps ``fig13``, ``fig14`` and ``fig15``: one law
    over layers and heads, one per task variant (:data:`TASK_VARIANTS`), one per optimizer."""
    fits = {"layers and heads": fit_steps(rows["fig13"], ("d", "T", "n_layers", "n_heads"))}
    for variant, settings in TASK_VARIANTS.items():
        mine = [r for r in rows["fig14"] if all(r[k] == v for k, v in settings.items())]
        fits[variant] = fit_steps(mine, ("d", "T"))
    for optimizer in ("adam", "sgd"):
        fits[optimizer] = fit_steps([r for r in rows["fig15"] if r["optimizer"] == optimizer], ("d", "T"))
    return fits


def final_attention(record: dict) -> np.ndarray:
    """Readout attention on the relevant token at the last evaluation, ``(layers, heads)``, on test
    sequences without repetition (:func:`relevant_attention_probe`)."""
    attention = record.get("probes", {}).get("readout_attention")
    if not attention:
        raise ValueError("record has no readout_attention probe (train with probe_attention=True).")
    return np.asarray(attention[-1], dtype=float)


def sparse_heads(record: dict, level: float = ATTENTION_LEVEL) -> int:
    """How many heads end training with at least ``level`` of the readout's attention on the
    relevant token (:func:`final_attention`)."""
    return int((final_attention(record) >= level).sum())


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
    "fig3": fig3, "fig3_B": fig3_B, "fig3_p": fig3_p, "fig3_p_long": fig3_p_long, "fig3_p_sgd": fig3_p_sgd,
    "fig3_scale": fig3_scale, "fig3_scale_wide": fig3_scale_wide, "fig3_p_tuned": fig3_p_tuned,
    "fig13": fig13, "fig14": fig14, "fig15": fig15,
    "fig3_w256": fig3_w256, "fig3_B_w256": fig3_B_w256, "fig3_p_w256": fig3_p_w256,
}
