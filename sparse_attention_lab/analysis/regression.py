"""Chapter 3's numbers from the cached linear-regression sweeps (Figs. 3, 12-15).

- :func:`fig3_laws`: the fits the chapter's Fig. 3 figures and tables draw, from one call;
- :func:`resolved_sign`, :func:`conclusion`: what the two losses say together about an exponent
  (a direction only beyond two standard errors, :data:`~.verdicts.RESOLVED_AT`);
- :func:`speedup`, :func:`repetition_cells`: the speed-up from cross-sample repetition, paired by
  seed, beside the reduced flow's (:func:`reduced_speedup`);
- :func:`threshold_laws`, :func:`per_T_exponents`, :func:`fig14_fits`: the same laws refitted at
  our own thresholds, per sequence length, and per learning rate at a fixed position;
- :func:`ablation_fits`: the laws of Figs. 13-15 (layers and heads, task variants, optimizers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.analysis import paper
from sparse_attention_lab.analysis.measurement import (
    OUR_FRACTIONS,
    REPEATED_ESCAPE_FRACTION,
    grid_fraction,
)
from sparse_attention_lab.analysis.steps import (
    MEASURES,
    StepFit,
    fit_steps,
    mean_steps,
    step_rows,
    unique_runs,
)
from sparse_attention_lab.analysis.verdicts import RESOLVED_AT, Ratio, paired_ratio
from sparse_attention_lab.experiments.regression import TASK_VARIANTS, full_config
from sparse_attention_lab.theory.reduced import plateau_lengths

FIG3_FINDINGS = (("d (Fig. 3 left and middle)", "joint", "d", "larger d"),
                 ("T (Fig. 3 left)", "joint", "T", "longer sequences"),
                 ("B (Fig. 3 middle)", "joint", "B", "more copies B"))
"""Fig. 3's exponents read in the chapter's summary: (what, fits, feature, what a larger value means)."""


def resolved_sign(fit: StepFit, feature: str) -> int:
    """+1 or -1 when the exponent's sign is resolved beyond two standard errors, else 0."""
    estimate = fit.fit.exponents[feature]
    return 0 if abs(estimate) <= RESOLVED_AT * fit.stderr(feature) else int(math.copysign(1, estimate))


def conclusion(fits: Mapping[str, StepFit], feature: str, larger: str) -> str:
    """What the two losses say together about ``feature`` (``larger``: what a larger value means,
    e.g. "longer sequences"): a direction only where both resolve the same sign of its exponent
    (the attention step is reported beside, not voted)."""
    train, test = resolved_sign(fits["train"], feature), resolved_sign(fits["test"], feature)
    if train == test != 0:
        return f"both losses: {'longer' if train > 0 else 'shorter'} plateau with {larger}"
    if 0 in (train, test):
        return "unresolved on " + " and ".join(MEASURES[m] for m, s in (("train", train), ("test", test)) if s == 0)
    return "the two losses disagree: no conclusion"


def speedup(rows: Sequence[dict], **where: float) -> Ratio | None:
    """The speed-up against ``p = 0`` at the setting ``where`` (``T``, ``d`` and ``p``):
    mean steps at ``p = 0`` over mean steps at ``where``, paired by seed
    (:func:`~sparse_attention_lab.analysis.verdicts.paired_ratio`); ``None`` when a run never
    crossed or the seeds do not pair."""
    def steps(**at: float) -> dict[int, float]:
        return {r["seed"]: r["plateau"] for r in rows if all(r[k] == v for k, v in at.items())}

    return paired_ratio(steps(**{**where, "p": 0.0}), steps(**where))


def fits_by_measure(rows_by: Mapping[str, Sequence[dict]], features: Sequence[str]) -> dict[str, StepFit]:
    """One :func:`~sparse_attention_lab.analysis.steps.fit_steps` per measure."""
    return {m: fit_steps(rows, features) for m, rows in rows_by.items()}


@dataclass(frozen=True)
class Fig3Laws:
    """Fig. 3's laws, each measure (:data:`MEASURES`) fitted on its own rows.

    ``runs``: the ``T`` and ``B`` sweeps' runs, each once; ``joint``: ``C d^a T^b B^c`` over them (Fig. 3 left and middle); ``p``: ``C d^a T^b f^g`` over the ``p`` grid; ``p_long``: ``C d^a f^g`` at ``T = 256``
    (Fig. 3 right, Eq. 22's variable ``f``). Each grid at App. D.1's threshold."""

    runs: list[dict]
    rows: dict[str, list[dict]]
    joint: dict[str, StepFit]
    p_rows: dict[str, list[dict]]
    p: dict[str, StepFit]
    p_long_rows: dict[str, list[dict]]
    p_long: dict[str, StepFit]

    def findings(self) -> list[tuple[str, str, Mapping[str, StepFit], str, str]]:
        """The chapter's summary rows, ``(what, paper's value, fits, feature, larger)``: the
        paper's exponents of Fig. 3 (:func:`~sparse_attention_lab.analysis.paper.law`) and the
        exponent of ``f`` that Fig. 3 right does not fit."""
        law = paper.law("Fig. 3").exponents
        rows = [(what, f"{law[feature]:+.2f}", getattr(self, fits), feature, larger)
                for what, fits, feature, larger in FIG3_FINDINGS]
        Ts = sorted({r["T"] for r in self.p_rows["test"]})
        long = sorted({r["T"] for r in self.p_long_rows["test"]})
        return [*rows,
                (f"g of f(p, d), T {_span(Ts)} (Fig. 3 right)", "no power law fitted", self.p, "f", "larger f(p, d)"),
                (f"g of f(p, d), T = {_span(long)} (Fig. 3 right)", "no power law fitted", self.p_long, "f",
                 "larger f(p, d)")]


def _span(values: Sequence[float]) -> str:
    return f"{values[0]:g}" if len(values) == 1 else f"{values[0]:g}-{values[-1]:g}"


def fig3_laws(fig3: Sequence[dict], fig3_B: Sequence[dict], p_grid: Sequence[dict], p_long: Sequence[dict]) -> Fig3Laws:
    """:class:`Fig3Laws` of the four Fig. 3 sweeps (``fig3``, ``fig3_B``, ``fig3_p``,
    ``fig3_p_long``); runs the ``T`` and ``B`` sweeps share are kept once."""
    joint = unique_runs([*fig3, *fig3_B])  # the B = 1 column of fig3_B repeats one T of fig3
    rows = {m: step_rows(joint, m) for m in MEASURES}
    p_rows = {m: step_rows(p_grid, m) for m in MEASURES}
    long_rows = {m: step_rows(p_long, m) for m in MEASURES}
    return Fig3Laws(joint, rows, fits_by_measure(rows, ("d", "T", "B")), p_rows, fits_by_measure(p_rows, ("d", "T", "f")),
                    long_rows, fits_by_measure(long_rows, ("d", "f")))


def threshold_laws(records: Sequence[dict], features: Sequence[str] = ("d", "T", "B"),
                   fractions: Sequence[float] = OUR_FRACTIONS) -> dict[str, StepFit]:
    """The law refitted on each loss at each of our thresholds (App. D.1 fixes one), keyed
    ``"<loss>, <fraction>"``."""
    return {f"{MEASURES[c]}, {fraction:g}": fit_steps(step_rows(records, c, fraction), features)
            for c in ("train", "test") for fraction in fractions}


def per_T_exponents(rows_by: Mapping[str, Sequence[dict]]) -> dict[str, dict[float, StepFit]]:
    """Per measure, Eq. 22 (``C d^a f^g``) fitted at each ``T`` separately."""
    Ts = sorted({r["T"] for rows in rows_by.values() for r in rows})
    return {label: {T: fit_steps([r for r in rows if r["T"] == T], ("d", "f")) for T in Ts}
            for label, rows in rows_by.items()}


def ablation_fits(rows: Mapping[str, Sequence[dict]]) -> dict[str, StepFit]:
    """Figs. 13-15 from the :func:`~sparse_attention_lab.analysis.steps.step_rows` of sweeps
    ``fig13``, ``fig14`` and ``fig15``: one law over layers and heads, one per task variant
    (:data:`~sparse_attention_lab.experiments.regression.TASK_VARIANTS`), one per optimizer."""
    fits = {"layers and heads": fit_steps(rows["fig13"], ("d", "T", "n_layers", "n_heads"))}
    for variant, settings in TASK_VARIANTS.items():
        mine = [r for r in rows["fig14"] if all(r[k] == v for k, v in settings.items())]
        fits[variant] = fit_steps(mine, ("d", "T"))
    for optimizer in ("adam", "sgd"):
        fits[optimizer] = fit_steps([r for r in rows["fig15"] if r["optimizer"] == optimizer], ("d", "T"))
    return fits


def fig14_fits(records: Sequence[dict]) -> list[dict]:
    """Fig. 14 at a fixed position, per learning rate (largest first) and task (feature or not):
    the law ``C d^a`` on the test loss at App. D.1's threshold and on the attention step."""
    out = []
    for lr in sorted({r["config"]["lr"] for r in records}, reverse=True):
        for feature, name in ((True, "feature, fixed position"), (False, "no feature, fixed position")):
            runs = [r for r in records if r["config"]["lr"] == lr and r["config"]["feature"] == feature]
            out.append({"lr": lr, "task": name, "loss": fit_steps(step_rows(runs), ("d",)),
                        "attention": fit_steps(step_rows(runs, "attention"), ("d",))})
    return out



def reduced_speedup(T: int, d: int, p: float, threshold: float = REPEATED_ESCAPE_FRACTION) -> float:
    """The reduced flow's own speed-up from cross-sample repetition (App. A.4, chapter 2): its
    test-loss plateau at ``p = 0`` over the one at ``p``, same ``T``, ``d`` and threshold."""
    lengths = plateau_lengths(T, d, 1, np.array([0.0, p]), threshold)
    return float(lengths[0] / lengths[1])


@dataclass(frozen=True)
class RepetitionCell:
    """One ``(T, d, p)`` of a cross-sample repetition grid: the mean steps of each measure, the
    speed-up of each against ``p = 0`` (:func:`speedup`; ``None`` at ``p = 0`` or where it is
    undefined), and the reduced flow's own test-loss speed-up at the same threshold."""

    T: int
    d: int
    p: float
    steps: dict[str, float]
    speedups: dict[str, Ratio | None]
    reduced: float


def repetition_cells(records: Sequence[dict], fraction: float | None = None) -> tuple[float, list[RepetitionCell]]:
    """``(threshold, cells)``: every ``(T, d, p)`` of ``records`` (Fig. 3 right) at ``fraction``
    (App. D.1's threshold of the grid unless given,
    :func:`~sparse_attention_lab.analysis.measurement.grid_fraction`)."""
    if fraction is None:
        fraction = grid_fraction(full_config(r)["p"] for r in records)
    rows_by = {m: step_rows(records, m, fraction) for m in MEASURES}
    cells = []
    for T, d, p in sorted({(r["T"], r["d"], r["p"]) for r in rows_by["test"]}):
        cells.append(RepetitionCell(
            T, d, p, {m: mean_steps(rows_by[m], T=T, d=d, p=p) for m in MEASURES},
            {m: None if p == 0 else speedup(rows_by[m], T=T, d=d, p=p) for m in MEASURES},
            reduced_speedup(T, d, p, fraction)))
    return fraction, cells
