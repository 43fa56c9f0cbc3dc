"""Tables and reports of the "Inside the Transformer" sections (chapters 3 and 4).

Each function takes cached run records, or what an analysis made of them, and returns a
rendered :class:`~.tables.Table` (or shows a short report); the measures come from
:mod:`sparse_attention_lab.analysis.mechanism`, the fits from
:mod:`sparse_attention_lab.analysis.regression`, :mod:`~sparse_attention_lab.analysis.scale`,
:mod:`~sparse_attention_lab.analysis.tuning` and :mod:`~sparse_attention_lab.analysis.recall`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from sparse_attention_lab.analysis import paper
from sparse_attention_lab.analysis.measurement import (
    EMERGENCE_ACCURACY,
    ESCAPE_FRACTION,
    grid_fraction,
)
from sparse_attention_lab.analysis.mechanism import loss_rise
from sparse_attention_lab.analysis.recall import (
    THRESHOLDS,
    CostLeft,
    late_rise,
    rate_ratios,
    rate_reading,
    threshold_fits,
    threshold_steps,
)
from sparse_attention_lab.analysis.scale import ScaleExponents, ScaleRows
from sparse_attention_lab.analysis.steps import StepFit
from sparse_attention_lab.analysis.tuning import Tuning
from sparse_attention_lab.experiments import SWEEPS, recall, recall_layers
from sparse_attention_lab.experiments import regression as regression_runs
from sparse_attention_lab.measure import escape_step, strongest_attention
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.runs.results import config_key
from sparse_attention_lab.views import mechanism as mechanism_views
from sparse_attention_lab.views import recall_layers as recall_layer_views
from sparse_attention_lab.views.regression import PAPER_LAWS
from sparse_attention_lab.views.tables import Table


def _relative(rows: dict, key: tuple) -> str:
    return f"{rows[key]['relative']:+.2f} ± {rows[key]['relative_sd']:.2f}" if key in rows else "-"


def lead_table(rows: Sequence[dict], caption: str) -> Table:
    """The weight side's lead over the attention (:func:`~sparse_attention_lab.analysis.mechanism.lead_rows`), in steps and plateaus."""
    return Table(
        ["T", "d", "seeds", "lead (steps)", "lead / plateau", "toy model: lead / plateau"],
        [[r["T"], r["d"], r["seeds"], f"{r['lead']:+.0f} ± {r['lead_sd']:.0f}",
          f"{r['relative']:+.2f} ± {r['relative_sd']:.2f}", f"{r['toy_relative']:+.2f}"] for r in rows],
        caption=caption)


def lead_comparison(sgd: Sequence[dict], adam1: Sequence[dict], adam2: Sequence[dict]) -> Table:
    """Lead / plateau under SGD and Adam (1 layer, 1 head) and Adam (2 layers), beside the toy model."""
    by_setting = [{(r["T"], r["d"]): r for r in rows} for rows in (sgd, adam1, adam2)]
    return Table(
        ["T", "d", "toy model", "SGD, 1 layer, 1 head", "Adam, 1 layer, 1 head", "Adam, 2 layers, 2 heads"],
        [[r["T"], r["d"], f"{r['toy_relative']:+.2f}", *(_relative(rows, (r["T"], r["d"])) for rows in by_setting)]
         for r in sgd],
        caption="Lead / plateau length (mean ± sd over 3 seeds): the same 1-layer, 1-head model under SGD "
                "(lr 0.03) and Adam (lr 3e-4), evaluated every 10 steps, beside the toy model and the 2-layer runs.")


def shortcut_table(records: Sequence[dict]) -> Table:
    """The test-loss rise and escape step with the repeated token's targets as sampled or zero-mean."""
    config = [regression_runs.full_config(r) for r in records]
    fraction = grid_fraction(c["p"] for c in config)
    rows = []
    for signed in (False, True):
        for p in sorted({c["p"] for c in config if c["p"] > 0}):
            for d in sorted({c["d"] for c in config}):
                runs = [r for r, c in zip(records, config, strict=True)
                        if c["p"] == p and c["d"] == d and c.get("signed_repeat", False) == signed]
                base = np.mean([escape_step(r, fraction=fraction) for r, c in zip(records, config, strict=True)
                                if c["p"] == 0 and c["d"] == d])
                steps = np.mean([escape_step(r, fraction=fraction) for r in runs])
                rise = np.mean([loss_rise(r)[0] for r in runs])
                rows.append(["zero-mean (ablation)" if signed else "as sampled", f"{p:g}", d, f"{rise:.2f}",
                             f"{steps:.0f}", f"{steps / base:.2f}"])
    return Table(["repeated targets", "p", "d", "highest / initial test loss", f"escape step ({fraction:g})",
                  "escape step / at p = 0"], rows,
                 caption="Cross-sample repetition with the repeated token's targets as sampled or made zero-mean "
                         "(mean over seeds).")


def attention_B_table(records: Sequence[dict]) -> Table:
    """Strongest readout attention on the one flagged test copy, at the escape and at the end, per B."""
    rows = []
    for B in sorted({r["config"]["B"] for r in records}):
        runs = [r for r in records if r["config"]["B"] == B]
        escapes = [escape_step(r, fraction=ESCAPE_FRACTION) for r in runs]
        strongest = [strongest_attention(r) for r in runs]
        at_escape = [np.interp(e, r["steps"], s) for e, r, s in zip(escapes, runs, strongest, strict=True)]
        lengths = [r["steps"][-1] / e for e, r in zip(escapes, runs, strict=True)]
        rows.append([B, len(runs), f"{np.mean(at_escape):.3f}", f"{np.mean([s[-1] for s in strongest]):.3f}",
                     f"{np.mean(lengths):.1f}"])
    return Table(["B (training)", "seeds", "attention at escape", "final attention", "trained / escape step"], rows,
                 caption="Strongest readout attention on the one flagged relevant token at test.")


def fig14_tables(records: Sequence[dict], fits: Sequence[dict]) -> tuple[Table, Table]:
    """Fixed position: exponents of d with and without the feature per learning rate
    (``fits``: :func:`~sparse_attention_lab.analysis.regression.fig14_fits` of ``records``), and
    the step offset."""
    ds = sorted({r["config"]["d"] for r in records})
    rows = [[f"{f['lr']:g}", f["task"], f["loss"].exponent("d"), f"{f['loss'].fit.r2:.3f}", f["attention"].exponent("d"),
             f"{PAPER_LAWS[f['task']]['d']:.2f}"] for f in fits]
    offsets = []
    for lr in dict.fromkeys(f["lr"] for f in fits):
        cells = []
        for d in ds:
            mean = {f: np.mean([escape_step(r, fraction=ESCAPE_FRACTION) for r in records if r["config"]["lr"] == lr
                                and r["config"]["d"] == d and r["config"]["feature"] == f]) for f in (True, False)}
            cells.append(f"{mean[True]:.0f} / {mean[False]:.0f} (+{mean[False] - mean[True]:.0f})")
        offsets.append([f"{lr:g}", *cells])
    return (Table(["lr", "task", f"exponent of d (test loss {ESCAPE_FRACTION:g})", "R²", "exponent of d (attention step)",
                   "paper"], rows, caption="Fixed position, T = 64: the plateau against d."),
            Table(["lr", *[f"d = {d}" for d in ds]], offsets,
                  caption="Escape step with / without the feature (mean over seeds), and the difference."))


def sweep_progress(name: str, records: Sequence[dict], profile: str = "laptop") -> None:
    """How many of sweep ``name``'s planned runs under ``profile`` are in ``records``, and the
    command that resumes it."""
    sweep = SWEEPS[name]
    plan = {config_key(c) for c in sweep.configs(PROFILES[profile])}
    done = sum(config_key(r["config"]) in plan for r in records)
    print(f"{name}: {done} of its {len(plan) * sweep.seeds(PROFILES[profile])} planned runs are in the file so far "
          f"(resume: python -m sparse_attention_lab sweep {name} --profile {profile})")


def beyond_width(scale: ScaleRows) -> None:
    """Print, per ``T``, the runs of :func:`~sparse_attention_lab.analysis.scale.scale_rows` whose
    ``d`` exceeds the width, beside the largest fitted ``d`` (they are left out of the fits)."""
    for b in scale.beyond:
        print(f"d = {b['d']} > width {b['width']} at T = {b['T']}: mean escape {b['mean']:.0f} "
              f"steps ({b['runs']} runs) against {b['mean_below']:.0f} at d = {b['d_top']} (left out of the fits)")


def exponents_against_scale(rows: Sequence[dict], result: ScaleExponents) -> Table:
    """The joint fit and local exponents on 2 x 2 sub-grids of ``rows``
    (:func:`~sparse_attention_lab.analysis.scale.scale_exponents`), drawn against the paper's; their
    trend printed; the sub-grids of the width-64 sweep drawn beside them and listed."""
    joint, law = result.joint, paper.law("Fig. 3").exponents
    Ts, ds = sorted({r["T"] for r in rows}), sorted({r["d"] for r in rows})
    print(f"joint fit over {len(rows)} runs (T {Ts[0]}-{Ts[-1]}, d {ds[0]}-{ds[-1]}): {joint}; "
          f"d: {joint.exponent('d')}, T: {joint.exponent('T')}; paper: d^{law['d']:.2f} T^{law['T']:.2f}")
    for width, trends in (("32", result.trends), ("64", result.wide_trends)):
        for name, (slope, se) in trends.items():
            print(f"width {width}: change of the local exponent of {name} per doubling of {name}: {slope:+.3f} ± {se:.3f}")
    mechanism_views.exponent_against_scale(result.local, PAPER_LAWS["Fig. 3"], {
        k: (joint.fit.exponents[k], joint.stderr(k)) for k in ("d", "T")}, wide=result.wide)
    plt.show()
    return Table(["width", "T pair", "d pair", "runs", "exponent of d", "exponent of T"],
                 [[width, f"{p['T_pair'][0]}-{p['T_pair'][1]}", f"{p['d_pair'][0]}-{p['d_pair'][1]}", p["runs"],
                   f"{p['a']:.2f} ± {p['a_se']:.2f}", f"{p['b']:.2f} ± {p['b_se']:.2f}"]
                  for width, points in (("32", result.local), ("64", result.wide)) for p in points],
                 caption="Local exponents on 2 x 2 sub-grids (± the larger of the fit's and a seed-bootstrap SE).")


def width_table(fits: Sequence[tuple[str, int, StepFit]]) -> Table:
    """The same sub-grid at width 32 and 64 (:func:`~sparse_attention_lab.analysis.scale.same_cell_fits`)."""
    return Table(["width (d_model)", "runs", "law", "exponent of d", "exponent of T"],
                 [[width, n, str(fit), fit.exponent("d"), fit.exponent("T")] for width, n, fit in fits],
                 caption="The same sub-grid (the cells the width-64 sweep has reached) at two widths.")


def tuning_table(tuning: Tuning, tuning_ds: Sequence[int], caption: str) -> Table:
    """The candidates of a :class:`~sparse_attention_lab.analysis.tuning.Tuning`, the chosen rate
    marked after each ``p``'s candidates."""
    table = []
    for p in sorted({c.p for c in tuning.candidates}):
        for c in (c for c in tuning.candidates if c.p == p):
            table.append([f"{p:g}", f"{c.lr:g}", ", ".join(f"{n} at {d}" for d, n in c.seeds.items()) or "none yet",
                          f"{c.mean:.0f}" if c.complete else "", "yes" if c.complete else "no (still running)"])
        if p in tuning.chosen:
            table.append([f"{p:g}", f"**{tuning.chosen[p]:g}** (tuned)", "", "", ""])
    fraction = grid_fraction(c.p for c in tuning.candidates)
    return Table(["p", "lr", "seeds at d", f"mean plateau ({fraction:g}) at d = {', '.join(map(str, tuning_ds))}",
                  "complete there"], table, caption=caption)


def tuned_lr_table(tuning: Tuning, tuning_ds: Sequence[int]) -> Table:
    """Fig. 3 right at T = 256 with the learning rate tuned per p on "the shortest average plateau
    length" (App. D.3, :func:`~sparse_attention_lab.analysis.tuning.tune_sweep`); with two or more
    p tuned, Eq. 22 over every d at the tuned rates is printed."""
    fit = tuning.fit()
    if fit is not None:
        print(f"at the tuned learning rates: {fit}; g = {fit.exponent('f')} (theory: -1)")
    return tuning_table(tuning, tuning_ds, "Fig. 3 right at T = 256: the learning rate per p (App. D.3), "
                                           "compared at the d values both rates ran.")


def _mean_or_never(steps: Sequence[float]) -> str:
    finite = [s for s in steps if math.isfinite(s)]
    if not finite:
        return "never"
    return f"{np.mean(finite):.0f}" + (f" ({len(steps) - len(finite)} never)" if len(finite) < len(steps) else "")


def deep_recall_report(records: Sequence[dict], sweep: str = "ar_deep") -> list[Table]:
    """4-layer recall (sweep ``sweep``): progress of the sweep and emergence against the threshold
    (figure, shown), then, returned for a cell of their own, the table of emergence steps and the
    power law of the emergence step at each threshold
    (:func:`~sparse_attention_lab.analysis.recall.threshold_fits`) beside the paper's."""
    sweep_progress(sweep, records)
    widths = "/".join(str(w) for w in sorted({recall.full_config(r)["d_model"] for r in records}))
    recall_layer_views.emergence_against_threshold(records)
    plt.show()
    rows = threshold_steps(records)
    table = []
    for n_pairs, n_tokens in sorted({(r["n_pairs"], r["n_tokens"]) for r in rows}):
        sub = [r for r in rows if (r["n_pairs"], r["n_tokens"]) == (n_pairs, n_tokens)]
        table.append([n_pairs, n_tokens, len(sub), f"{100 / n_pairs:.3g}%",
                      *(_mean_or_never([r[f"acc_{t:g}"] for r in sub]) for t in THRESHOLDS)])
    tables = [Table(["N_pairs", "N_tokens", "seeds", "1 / N_pairs", *[f"{100 * t:g}%" for t in THRESHOLDS]],
                    table, caption=f"Emergence step (mean over seeds) at each test-accuracy threshold, 4 layers, width {widths}.")]
    fig4 = paper.law("Fig. 4 right")
    law = fig4.values
    fits = [[f"{100 * t:g}%", str(fit), f"{fit.exponents['n_pairs']:.2f} ± {fit.stderr['n_pairs']:.2f}",
             f"{fit.exponents['n_tokens']:.2f} ± {fit.stderr['n_tokens']:.2f}", f"{fit.r2:.3f}"]
            for t, fit in threshold_fits(records).items()]
    if fits:
        tables.append(Table(["threshold", "law", "exponent of N_pairs", "exponent of N_tokens", "R²"],
                            [*fits, [f"{100 * EMERGENCE_ACCURACY:g}% (paper)",
                                     f"{law['C']} N_tokens^{law['n_tokens']} N_pairs^{law['n_pairs']}",
                                     f"{law['n_pairs']:.2f}", f"{law['n_tokens']:.2f}", f"{fig4.r2:.3f}"]],
                            caption="Power law of the emergence step at each threshold (over the runs that reached it)."))
    return tables


def _cell_rate(record: dict) -> tuple[int, int, float]:
    c = recall.full_config(record)
    return c["n_pairs"], c["n_tokens"], c["lr"]


def rate_table(records: Sequence[dict], reference: float, accuracies: Sequence[float]) -> Table:
    """Fig. 4's rate tuning: per cell and rate, the emergence step at each of ``accuracies`` (mean
    over seeds) and its ratio to the ``reference`` rate's, paired by seed, with the two-SE reading
    (:func:`~sparse_attention_lab.analysis.recall.rate_ratios`, :func:`~.rate_reading`)."""
    ratios = {a: rate_ratios(records, a, reference) for a in accuracies}
    cells = sorted({_cell_rate(r) for r in records},
                   key=lambda k: (k[0], k[1], k[2] != reference, -k[2]))
    rows = []
    for n_pairs, n_tokens, lr in cells:
        mine = [r for r in records if _cell_rate(r) == (n_pairs, n_tokens, lr)]
        row = [n_pairs, n_tokens, f"{lr:g}", len(mine)]
        for a in accuracies:
            row.append(_mean_or_never([escape_step(r, accuracy=a) for r in mine]))
            if lr == reference:
                row.append("reference")
            else:
                ratio = ratios[a].get((n_pairs, n_tokens, lr))
                row.append("-" if ratio is None else f"{'≥ ' if ratio.censored else ''}{ratio.plus_minus()}: "
                           f"{rate_reading(ratio)}")
        rows.append(row)
    head = [h for a in accuracies for h in (f"{100 * a:g}% at step", f"{100 * a:g}%: step / lr {reference:g}'s")]
    return Table(["N_pairs", "N_tokens", "lr", "seeds", *head], rows,
                 caption=f"Fig. 4's rates against {reference:g}: emergence step (mean over seeds; 'never' within the "
                         "cap) and the ratio to the reference, paired by seed (± one SE); slower or faster only "
                         "beyond two SE, and a run that never emerged makes the ratio a lower bound (≥).")


def cost_table(costs: dict[str, CostLeft]) -> Table:
    """The CPU hours the missing runs of a grid will take, cell by cell, one column per forecast
    (:func:`~sparse_attention_lab.analysis.recall.cost_left` under each named law), side by side."""
    first = next(iter(costs.values()))
    rows = [[n_pairs, n_tokens, *(f"{cost.by_cell[(n_pairs, n_tokens)]:.1f}" for cost in costs.values())]
            for n_pairs, n_tokens in first.by_cell]
    rows.append([f"all ({first.runs} runs)", "", *(f"{cost.hours:.1f}" for cost in costs.values())])
    factors = "; ".join(f"{name}: ×{cost.law_factor:.2f}" for name, cost in costs.items())
    return Table(["N_pairs", "N_tokens", *(f"CPU hours, {name}" for name in costs)], rows,
                 caption=f"The runs left, forecast on one core of this machine: each law times what the finished runs "
                         f"trained over it ({factors}), at their seconds per step.")


def induction_head_table(records: Sequence[dict]) -> Table:
    """Where the strongest copy and selection heads sit at the end of training, run by run."""
    rows = []
    for record in records:
        at = recall_layers.attention_at(record, record["steps"][-1])
        places = [np.unravel_index(at[k].argmax(), at[k].shape) for k in ("copy", "selection")]
        rows.append([record["config"]["n_pairs"], record["config"]["n_tokens"], record["seed"],
                     *(f"layer {layer + 1}, head {head + 1}: {at[k].max():.2f}"
                       for k, (layer, head) in zip(("copy", "selection"), places, strict=True))])
    return Table(["N_pairs", "N_tokens", "seed", "strongest copy head", "strongest selection head"], rows,
                 caption="Where the induction head sits at the end of training, every run.")


def long_runs_table(records: Sequence[dict]) -> Table:
    """Runs trained long past emergence, read for the paper's late rise of test accuracy
    (:func:`~sparse_attention_lab.analysis.recall.late_rise`, each run on its own)."""
    rows = []
    for record in records:
        c = recall.full_config(record)
        emerged = escape_step(record, accuracy=0.5)
        rise = late_rise(record["steps"], record["train_acc"], record["test_acc"])
        then = "-" if not math.isfinite(rise.learned_at) else f"{rise.test_then:.2f} (step {rise.learned_at:.0f})"
        gains = "-" if not math.isfinite(rise.learned_at) else f"{rise.early_gain:+.2f} / {rise.late_gain:+.2f}"
        rows.append([f"{c['B']:g}", f"{c['p']:g}", record["seed"], f"{escape_step(record, accuracy=EMERGENCE_ACCURACY):.0f}",
                     f"{emerged:.0f}", f"{record['steps'][-1] / emerged:.1f}" if math.isfinite(emerged) else "-",
                     then, gains, f"{record['test_acc'][-1]:.2f}", rise.verdict])
    return Table(["B", "p", "seed", "5% at step", "50% at step", "trained / 50% step",
                  "test acc. once train acc. ≥ 0.9", "test-acc. gain, first / second half after", "final test acc.",
                  "reading"], rows,
                 caption="Long runs, read for a late rise: a low test accuracy once the run has learned its own data, "
                         "then a gain of 0.1 or more in the second half of the rest of the run, larger than in the first.")


def induction_head_run(records: Sequence[dict]) -> dict:
    """The run the induction-head figures follow: the largest setting's best seed."""
    return max(records, key=lambda r: (r["config"]["n_pairs"], r["config"]["n_tokens"], max(r["test_acc"])))


def induction_head_over_training(record: dict) -> None:
    """Each layer's strongest copy and selection head of ``record`` over training, beside its test accuracy."""
    recall_layer_views.attention_by_layer(record)
    plt.show()


def induction_head_at_end(record: dict) -> None:
    """The copy and selection attention of every head of ``record`` at the end of training."""
    c, last = record["config"], record["steps"][-1]
    recall_layer_views.layer_head_attention(record, last, f"N_pairs = {c['n_pairs']}, N_tokens = {c['n_tokens']}, "
                                            f"seed {record['seed']}: end of training (step {last}; 50% accuracy at "
                                            f"step {escape_step(record, accuracy=0.5):.0f})")
    plt.show()


def long_runs_report(records: Sequence[dict]) -> Table:
    """Test accuracy of the long-trained runs (figure, shown); their dip-and-recovery table, returned for a
    cell of its own."""
    recall_layer_views.long_runs(records)
    plt.show()
    return long_runs_table(records)
