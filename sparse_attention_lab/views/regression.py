"""Chapter 3's figures and tables: Transformers on single-location regression (Figs. 3, 11-15).

Every table is a :class:`~sparse_attention_lab.views.tables.Table` (rendered Markdown, printed as
the same text); every figure function draws with matplotlib and returns its figure. The numbers
come from :mod:`sparse_attention_lab.analysis.regression` (fits, conclusions, speed-ups) and
:mod:`sparse_attention_lab.analysis.steps` (measures); the cached runs from
:func:`~sparse_attention_lab.runs.book_data.load_cached`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sparse_attention_lab.analysis import paper
from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION, grid_fraction
from sparse_attention_lab.analysis.mechanism import loss_rise, sparse_heads
from sparse_attention_lab.analysis.regression import RepetitionCell, conclusion
from sparse_attention_lab.analysis.steps import MEASURES, StepFit, mean_steps, step_rows
from sparse_attention_lab.analysis.verdicts import Ratio, paired_ratio
from sparse_attention_lab.experiments import regression
from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.hardware import STEP_CAP_VAR, capped_steps
from sparse_attention_lab.measure import ATTENTION_LEVEL, strongest_attention
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.views.scorecard import Scorecard
from sparse_attention_lab.views.style import SMALL_FONT, book_figure, panels
from sparse_attention_lab.views.tables import Table

PAPER_LAWS: dict[str, dict[str, float]] = {name: law.values for name, law in paper.LAWS.items()}
"""The paper's fitted laws as ``{"C": ..., exponent: ...}`` (:data:`~sparse_attention_lab.analysis.paper.LAWS`
holds them with their sources)."""

NAMES = {"d": "d", "T": "T", "B": "B", "f": "f", "n_layers": "L", "n_heads": "H"}


# --------------------------------------------------------------------------- tables


def summary_table(findings: Sequence[tuple[str, str, Mapping[str, StepFit], str, str]]) -> Table:
    """One row per ``(what, paper, fits by measure, feature, larger)``: each measure's exponent of
    ``feature`` with its standard error, and :func:`conclusion`."""
    header = ["exponent", "paper", *MEASURES.values(), "conclusion"]
    rows = [[what, paper, *(fits[m].exponent(feature) for m in MEASURES), conclusion(fits, feature, larger)]
            for what, paper, fits, feature, larger in findings]
    return Table(header, rows, caption="Exponent ± the larger of the fit's standard error and a bootstrap over "
                 "seeds; a sign counts when resolved beyond two standard errors.")


def _step_cap_text(max_steps: int) -> str:
    """The page's step cap, and the smaller one ``$SAL_MAX_STEPS`` imposes on a trial run."""
    capped = capped_steps(max_steps)
    return f"{max_steps:g}" if capped == max_steps else f"{capped:g} (a trial: {STEP_CAP_VAR} caps the {max_steps:g})"


def settings_table(ours: Mapping[str, object], sweeps: Sequence[Sequence[dict]], profile: str) -> Table:
    """The paper's Table 1 (linear regression, Transformer) beside this chapter's live-run model
    (``ours``, the sizes of ``profile``) and the model of the cached ``sweeps`` the fits read (their
    profile, from the records: a ``gpu`` chapter may show ``ci`` fits); the rows Table 1 does not
    give are marked as ours."""
    paper = {**regression.DEFAULTS, **PROFILES["paper"].sizes("regression_transformer")}
    ours = {**regression.DEFAULTS, **ours}
    records = [r for sweep in sweeps for r in sweep]

    def cached(key: str) -> str:
        values = sorted({(r.get("config") or {}).get(key, regression.DEFAULTS.get(key)) for r in records} - {None})
        return " and ".join(map(shown, values)) or "unknown"

    def shown(value: object) -> str:
        return "yes" if value is True else "no" if value is False else f"{value:g}" if isinstance(value, (int, float)) else str(value)

    counts = sorted({len({r["seed"] for r in sweep}) for sweep in sweeps})
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]} per setting"
    both = [("layers", "n_layers"), ("heads", "n_heads"), ("embedding width", "d_model"),
            ("query/key width", "d_qk"), ("MLP factor", "mlp_factor"), ("learning rate (Adam)", "lr"),
            ("batch size", "batch_size")]
    rows = [["compute profile", "paper", profile, cached_profile(records)]]
    rows += [[label, f"{paper[key]:g}", f"{ours[key]:g}", cached(key)] for label, key in both]
    rows += [["positional encoding, layer norm, skips, MLPs", "sinusoidal, no, yes, yes",
              "sinusoidal, " + ", ".join(shown(ours[k]) for k in ("layer_norm", "skip", "mlp")),
              "sinusoidal, " + ", ".join(cached(k) for k in ("layer_norm", "skip", "mlp"))],
             ["seeds", f"{PROFILES['paper'].sizes('fig3')['seeds']}", "as each cell says", seeds],
             ["step cap per run (ours)", "not in Table 1 (App. D.3: 50,000 for the hardest settings)",
              _step_cap_text(ours["max_steps"]), cached("max_steps")],
             ["evaluation every (ours)", "not stated", f"{ours['eval_every']:g} steps", f"{cached('eval_every')} steps"],
             ["attention (ours)", "not stated", "causal" if ours["causal"] else "bidirectional",
              "causal" if cached("causal") == "yes" else "bidirectional"],
             ["readout (ours)", "not stated", "a zero token appended after the T tokens",
              "a zero token appended after the T tokens"]]
    return Table(["setting", "paper (Table 1)", "this chapter's live runs", "cached runs (the fits)"], rows)


def cached_profile(records: Sequence[dict]) -> str:
    """The profiles whose sizes made ``records`` (their provenance), e.g. ``ci`` or ``ci and laptop``."""
    found = sorted({(r.get("provenance") or {}).get("profile") or "unknown" for r in records})
    return " and ".join(found) or "unknown"


def steps_text(steps: float | None) -> str:
    """A step count, or "not reached" for a run that never crossed (``None`` in a record, ``inf`` measured)."""
    return "not reached" if steps is None or not math.isfinite(steps) else f"{steps:.0f}"


def runs_table(records: Sequence[dict]) -> Table:
    """One row per seed of a live run: initial test loss, plateau (test loss at the run's escape
    threshold), final test loss, and how many heads end with sparse attention on the relevant token."""
    rows = [[r["seed"], f"{r['test_loss'][0]:.3f}", steps_text(r["escape_step"]), f"{r['test_loss'][-1]:.3f}",
             sparse_heads(r)] for r in records]
    return Table(["seed", "initial test loss", "plateau (steps)", "final test loss",
                  f"heads with readout attention >= {ATTENTION_LEVEL} at the end"], rows)


def live_vs_cached(live: Sequence[dict], cached: Sequence[dict]) -> Table:
    """Plateau (test loss at the run's own threshold) of the runs trained on the page beside the cached run with the
    same ``T``, ``d`` and seed (the same config on the profile that made the cache)."""
    def key(r: dict) -> tuple:
        return r["config"]["T"], r["config"]["d"], r["seed"]

    by_key = {key(r): r for r in cached}
    rows = [[*key(r), f"{r['escape_step']:.1f}", f"{by_key[key(r)]['escape_step']:.1f}"] for r in live]
    return Table(["T", "d", "seed", "plateau, trained here (steps)", "plateau, cached sweep (steps)"], rows)


def fits_table(fits: Mapping[str, StepFit], features: Sequence[str], paper: Mapping[str, float] | None = None,
               label: str = "fit") -> Table:
    """One row per fit (keys of :data:`MEASURES` named in full): prefactor, each exponent ±
    standard error, R^2, runs fitted and left out; with ``paper``, a last row of the paper's law."""
    header = [label, "C", *(f"exponent of {NAMES.get(k, k)}" for k in features), "R²", "n (never crossed)"]
    rows = [[MEASURES.get(name, name), f"{f.fit.prefactor:.3g}", *(f.exponent(k) for k in features), f"{f.fit.r2:.3f}",
             f"{f.fit.n} ({f.never})"] for name, f in fits.items()]
    if paper is not None:
        rows.append(["paper", f"{paper['C']:.3g}", *(f"{paper[k]:+.2f}" if k in paper else "-" for k in features),
                     "", ""])
    return Table(header, rows)


def compare_table(fits: Mapping[str, StepFit], features: Sequence[str]) -> Table:
    """Each fit beside the paper's law of the same name (:data:`PAPER_LAWS`): every exponent as
    ``ours ± SE (paper)``, and R^2."""
    rows = [[name, *(f"{f.exponent(k)} ({PAPER_LAWS[name][k]:+.2f})" if k in f.fit.exponents else "-" for k in features),
             f"{f.fit.r2:.3f}"] for name, f in fits.items()]
    return Table(["fit", *(f"exponent of {NAMES.get(k, k)}, ours (paper)" for k in features), "R²"], rows)


def steps_by_B(records: Sequence[dict], T: int) -> Table:
    """At sequence length ``T``: mean steps over seeds of each measure (App. D.1's threshold) and
    the strongest head's final attention on the one flagged token of test sequences, per ``d`` and ``B``."""
    mine = [r for r in records if r["config"]["T"] == T]
    rows_by = {m: step_rows(mine, m) for m in MEASURES}
    table = []
    for d, B in sorted({(r["d"], r["B"]) for r in rows_by["test"]}):
        final = [strongest_attention(r)[-1] for r in mine if (r["config"]["d"], r["config"].get("B", 1)) == (d, B)]
        table.append([d, B, *(f"{mean_steps(rows_by[m], d=d, B=B):.0f}" for m in MEASURES),
                      f"{np.mean(final):.3f}"])
    return Table(["d", "B", *(f"{MEASURES[m]} (steps)" for m in MEASURES),
                  "final attention of the strongest head, test"], table)


def heads_table(records: Sequence[dict]) -> Table:
    """How many runs end with 1, 2, ... heads at or above the attention level on the relevant token."""
    counts = Counter(sparse_heads(r) for r in records)
    total = sum(counts.values())
    return Table([f"heads with readout attention >= {ATTENTION_LEVEL} at the end", "runs"],
                 [[k, f"{counts[k]} of {total}"] for k in sorted(counts)])


def _speedup_text(ratio: Ratio | None) -> str:
    if ratio is None:
        return "-"
    word = {"above": ", faster", "below": ", slower"}.get(ratio.direction(), "")
    return ratio.plus_minus() + word


def speedup_table(fraction: float, cells: Sequence[RepetitionCell]) -> Table:
    """Cross-sample repetition (:func:`~sparse_attention_lab.analysis.regression.repetition_cells`):
    per ``T, d, p`` the mean steps of each measure with, in brackets, the speed-up against ``p = 0``
    (paired by seed, with its bootstrap error, and "faster" or "slower" only when resolved beyond
    two standard errors), and the reduced flow's own test-loss speed-up at the same threshold."""
    table = []
    for c in cells:
        steps = [f"{c.steps[m]:.0f}" if c.p == 0 else f"{c.steps[m]:.0f} ({_speedup_text(c.speedups[m])})"
                 for m in MEASURES]
        table.append([c.T, c.d, f"{c.p:g}", *steps, f"x{c.reduced:.2f}"])
    header = ["T", "d", "p", *(f"{MEASURES[m]}, {fraction:g}" if m != "attention" else MEASURES[m] for m in MEASURES),
              "reduced flow, test loss"]
    return Table(header, table, caption="Mean steps over seeds (speed-up against p = 0, the same seeds paired, "
                                        "± one bootstrap standard error; faster or slower only beyond two).")


def shortcut_table(records: Sequence[dict]) -> Table:
    """Per ``p``: the highest test loss over the initial one, measured and as the shortcut predicts
    (:func:`~sparse_attention_lab.analysis.mechanism.loss_rise`), mean over runs."""
    rows = []
    for p in sorted({r["config"]["p"] for r in records}):
        rises = np.array([loss_rise(r) for r in records if r["config"]["p"] == p])
        rows.append([f"{p:g}", f"{rises[:, 0].mean():.2f}", f"{rises[:, 1].mean():.2f}"])
    return Table(["p", "highest / initial test loss, measured", "shortcut: 1 + p² |W* x̃|² / (2 L₀)"], rows)


def per_T_table(fits: Mapping[str, Mapping[float, StepFit]]) -> Table:
    """The exponent ``g`` of ``f`` fitted at each ``T`` separately (``C d^a f^g``), per measure
    (:func:`~sparse_attention_lab.analysis.regression.per_T_exponents`)."""
    Ts = sorted({T for by_T in fits.values() for T in by_T})
    table = [[MEASURES.get(label, label), *(by_T[T].exponent("f") for T in Ts)] for label, by_T in fits.items()]
    return Table(["measure", *(f"g at T = {T:g}" for T in Ts)], table)


def layers_heads_table(rows: Sequence[dict]) -> Table:
    """Geometric-mean plateau over the grid for each (layers, heads) of Fig. 13."""
    pairs = sorted({(r["n_layers"], r["n_heads"]) for r in rows})
    table = [[L, H, f"{np.exp(np.mean([np.log(r['plateau']) for r in rows if (r['n_layers'], r['n_heads']) == (L, H)])):.0f}"]
             for L, H in pairs]
    return Table(["layers", "heads", "geometric-mean plateau (steps)"], table)


def optimizer_ratio_table(rows: Sequence[dict]) -> Table:
    """Fig. 15: mean SGD plateau over mean Adam plateau at each ``T`` and ``d``, the seeds paired
    (one seed starts both optimizers from the same weights), ± one bootstrap standard error."""
    table = []
    for T, d in sorted({(r["T"], r["d"]) for r in rows}):
        steps = {o: {r["seed"]: r["plateau"] for r in rows if (r["T"], r["d"], r["optimizer"]) == (T, d, o)}
                 for o in ("adam", "sgd")}
        ratio = paired_ratio(steps["sgd"], steps["adam"])
        table.append([T, d, "-" if ratio is None else ratio.plus_minus()])
    return Table(["T", "d", "SGD plateau / Adam plateau"], table)


def grid_text(fit: StepFit, extra: str = "") -> str:
    """The range of each feature of a fit and its number of runs, e.g. ``"d 4-16, T 16-64; 36 runs"``."""
    ranges = ", ".join(f"{NAMES.get(k, k)} {min(v):.3g}-{max(v):.3g}" for k, v in fit.fit.grid.items())
    return f"{ranges}; {fit.fit.n} runs" + (f"; {extra}" if extra else "")


def score_exponents(card: Scorecard, what: str, fit: StepFit, paper: Mapping[str, float], section: str,
                    extra: str = "") -> None:
    """One scorecard row per exponent that ``paper`` and ``fit`` share, bootstrap included; the
    scale is :func:`grid_text` (plus ``extra``)."""
    for feature in (k for k in fit.fit.exponents if k in paper):
        card.exponent(f"{what}: exponent of {NAMES.get(feature, feature)}", paper[feature], fit.fit, feature,
                      scale=grid_text(fit, extra), section=section, bootstrap=fit.bootstrap.get(feature))


REPETITION_CLAIM = ('"this form of repetition accelerates emergence, with the effect becoming more '
                    'pronounced as d increases" (Sec. 2.4; no law fitted)')
"""The paper's words on cross-sample repetition in its Transformers (Fig. 3 right)."""


def score_repetition(card: Scorecard, what: str, fits: Mapping[str, StepFit], section: str, extra: str = "") -> None:
    """Fig. 3 right, once per measure: the paper states a direction, not a law
    (:data:`REPETITION_CLAIM`), so the row asks whether the exponent ``g`` of
    ``f(p, d) = sqrt(p^2 d + (1-p)^2)`` is resolved below zero (a shorter plateau where ``f`` is
    larger: with more repetition, more so at larger ``d``). The toy model's value of ``g`` is
    printed beside it, not scored: the paper fits it for the reduced dynamics only (Fig. 2 right)."""
    toy = PAPER_LAWS["Fig. 2 right"]["f"]
    for m, fit in fits.items():
        estimate, stderr = fit.fit.exponents["f"], fit.stderr("f")
        card.direction(f"{what}, {MEASURES[m]}: repetition shortens the plateau, more at larger d (g < 0)",
                       paper=REPETITION_CLAIM, estimate=estimate, stderr=stderr, expected="below",
                       ours=f"g = {estimate:+.2f} ± {stderr:.2f} (toy model: {toy:+.2f})",
                       scale=grid_text(fit, extra), section=section)


# --------------------------------------------------------------------------- figures


@book_figure
def run_figure(records: Sequence[dict], T: int) -> Figure:
    """Fig. 11: test loss of each seed with its plateau end, and the readout attention of every
    head on the relevant token for the first seed (log scale; uniform is ``1 / (T + 1)``)."""
    fig, (ax_loss, ax_attn) = panels(2, columns=1, row_height=3.0)
    for record in records:
        color = f"C{record['seed']}"
        ax_loss.plot(record["steps"], record["test_loss"], color=color, label=f"seed {record['seed']}")
        if record["escape_step"] is not None:  # a run cut short by a step cap may never escape
            ax_loss.axvline(record["escape_step"], color=color, ls=":", lw=1)
    fraction = records[0]["settings"]["train"]["escape_fraction"] if "settings" in records[0] else ESCAPE_FRACTION
    ax_loss.axhline(fraction * records[0]["test_loss"][0], color="gray", lw=0.8, ls="--",
                    label=f"{fraction:g} x initial test loss")
    ax_loss.set(xlabel="training step", ylabel="test loss (1/2 squared error)",
                title="Test loss: plateau, then a sudden drop")
    ax_loss.legend()
    record = records[0]
    attention = np.array(record["probes"]["readout_attention"])  # (evaluations, layers, heads)
    for layer in range(attention.shape[1]):
        for head in range(attention.shape[2]):
            ax_attn.plot(record["steps"], attention[:, layer, head], color=f"C{layer}",
                         ls=["-", "--", "-.", ":"][head % 4], label=f"layer {layer + 1}, head {head + 1}")
    ax_attn.axhline(1 / (T + 1), color="gray", lw=0.8, ls="--", label="uniform, 1/(T+1)")
    ax_attn.axvline(record["escape_step"], color="k", ls=":", lw=1, label=f"plateau end (seed {record['seed']})")
    ax_attn.set(xlabel="training step", ylabel="readout attention on the relevant token",
                title=f"Attention of the readout position (seed {record['seed']})", yscale="log")
    ax_attn.legend(ncol=2)
    return fig


@book_figure
def plateau_panel(ax: Axes, rows: Sequence[dict], group: str, title: str, law: PowerLawFit | None = None,
                  fixed: Mapping[str, float] | None = None, ylabel: str = "plateau length (steps)") -> Axes:
    """Steps against ``d``, one colour per value of ``group``: seeds as dots, their mean as a line,
    and ``law`` (at the ``fixed`` values of its other features) dotted. Runs that never crossed are left out."""
    crossed = [r for r in rows if math.isfinite(r["plateau"])]
    for i, value in enumerate(sorted({r[group] for r in crossed})):
        mine = [r for r in crossed if r[group] == value]
        ds = sorted({r["d"] for r in mine})
        ax.scatter([r["d"] for r in mine], [r["plateau"] for r in mine], color=f"C{i}", s=14, alpha=0.7)
        ax.plot(ds, [np.mean([r["plateau"] for r in mine if r["d"] == d]) for d in ds], color=f"C{i}",
                label=f"{group} = {value:g}")
        if law is not None:
            grid = np.geomspace(min(ds), max(ds), 20)
            ax.plot(grid, law.predict(d=grid, **{**(fixed or {}), group: value}), color=f"C{i}", ls=":", lw=1)
    all_d = sorted({r["d"] for r in rows})
    ax.set(xscale="log", yscale="log", xlabel="token dimension d", ylabel=ylabel, title=title)
    ax.set_xticks(all_d, [f"{d:g}" for d in all_d], minor=False)
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.legend()
    return ax


@book_figure
def fig3_figure(rows_by: Mapping[str, Sequence[dict]], fits: Mapping[str, StepFit], T_B: int, caption: str,
                what: str = "plateau length") -> Figure:
    """Fig. 3 left and middle: steps against ``d`` for each ``T`` (``B = 1``, test loss), then for
    each ``B`` at ``T = T_B`` once per measure in ``rows_by``; dotted: each measure's joint law."""
    fig, axes = panels(1 + len(rows_by), sharey=True)
    first = next(iter(rows_by))
    plateau_panel(axes[0], [r for r in rows_by[first] if r["B"] == 1], "T", f"varying T (B = 1), {MEASURES[first]}",
                  fits[first].fit, {"B": 1}, ylabel=f"{what} (steps)")
    for ax, (m, rows) in zip(axes[1:], rows_by.items(), strict=True):
        plateau_panel(ax, [r for r in rows if r["T"] == T_B], "B", f"varying B (T = {T_B}), {MEASURES[m]}",
                      fits[m].fit, {"T": T_B}, ylabel=f"{what} (steps)")
    for ax in axes:
        ax.title.set_fontsize(9)
    fig.text(0.5, -0.03, caption, ha="center", fontsize=SMALL_FONT, wrap=True)
    return fig


@book_figure
def p_figure(records: Sequence[dict], optimizer: str) -> Figure:
    """Fig. 3 right once per loss (steps to App. D.1's threshold of the grid against ``d``, one
    line per ``p``) and Fig. 12 (both losses of seed 0 at the largest ``d``)."""
    fig, axes = panels(3)
    for ax, m in zip(axes[:2], ("train", "test"), strict=True):
        rows = step_rows(records, m)
        fraction = grid_fraction(r["p"] for r in rows)
        plateau_panel(ax, rows, "p", f"{MEASURES[m]} below {fraction:g} x initial", ylabel="steps")
    d_show, T = max(r["config"]["d"] for r in records), records[0]["config"]["T"]
    for i, p in enumerate(sorted({r["config"]["p"] for r in records})):
        record = next(r for r in records if (r["config"]["d"], r["config"]["p"], r["seed"]) == (d_show, p, 0))
        axes[2].plot(record["steps"], record["test_loss"], color=f"C{i}", label=f"p = {p:g}: test (no repetition)")
        if p > 0:
            axes[2].plot(record["steps"], record["train_loss"], color=f"C{i}", ls="--",
                         label=f"p = {p:g}: training distribution")
    axes[2].set(xlabel="training step", ylabel="loss (1/2 squared error)", title=f"Fig. 12: d = {d_show}, T = {T}, seed 0")
    axes[2].legend()
    for ax in axes:
        ax.title.set_fontsize(9)
    fig.suptitle(f"Cross-sample repetition, {optimizer}, T = {T}")
    return fig
