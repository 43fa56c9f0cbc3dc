"""Tables and reports of the "Inside the Transformer" sections (chapters 3 and 4).

Each function takes cached run records and returns a rendered :class:`~.tables.Table` (or
shows a short report); the measures come from :mod:`sparse_attention_lab.experiments.mechanism`,
:mod:`~sparse_attention_lab.experiments.scaling` and :mod:`~sparse_attention_lab.experiments.recall_layers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from sparse_attention_lab.analysis import paper
from sparse_attention_lab.analysis.recall import late_rise
from sparse_attention_lab.analysis.tuning import Tuning, tune_rates
from sparse_attention_lab.experiments import mechanism, recall, recall_layers, scaling
from sparse_attention_lab.experiments import regression as regression_runs
from sparse_attention_lab.measure import escape_step
from sparse_attention_lab.profiles import PROFILES, Profile
from sparse_attention_lab.runs.book_data import load_cached
from sparse_attention_lab.runs.results import config_key
from sparse_attention_lab.views import mechanism as mechanism_views
from sparse_attention_lab.views import recall_layers as recall_layer_views
from sparse_attention_lab.views.regression import PAPER_LAWS
from sparse_attention_lab.views.tables import Table


def cached_records(name: str, profile: Profile, scale: str = "ci") -> list[dict] | None:
    """The records of cached sweep ``name`` with their provenance sentence printed, or ``None``
    (and the command that makes them) when the file is missing."""
    try:
        cached = load_cached(name, profile, scale)
    except FileNotFoundError as missing:
        print(missing)
        return None
    print(cached.describe())
    return cached.records


def _relative(rows: dict, key: tuple) -> str:
    return f"{rows[key]['relative']:+.2f} ± {rows[key]['relative_sd']:.2f}" if key in rows else "-"


def lead_table(rows: Sequence[dict], caption: str) -> Table:
    """The weight side's lead over the attention (:func:`~.mechanism.lead_rows`), in steps and plateaus."""
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
    rows = []
    for signed in (False, True):
        for p in sorted({c["p"] for c in config if c["p"] > 0}):
            for d in sorted({c["d"] for c in config}):
                runs = [r for r, c in zip(records, config, strict=True)
                        if c["p"] == p and c["d"] == d and c.get("signed_repeat", False) == signed]
                base = np.mean([escape_step(r, fraction=0.4) for r, c in zip(records, config, strict=True)
                                if c["p"] == 0 and c["d"] == d])
                steps = np.mean([escape_step(r, fraction=0.4) for r in runs])
                rise = np.mean([regression_runs.loss_rise(r)[0] for r in runs])
                rows.append(["zero-mean (ablation)" if signed else "as sampled", f"{p:g}", d, f"{rise:.2f}",
                             f"{steps:.0f}", f"{steps / base:.2f}"])
    return Table(["repeated targets", "p", "d", "highest / initial test loss", "escape step (0.4)",
                  "escape step / at p = 0"], rows,
                 caption="Cross-sample repetition with the repeated token's targets as sampled or made zero-mean "
                         "(mean over seeds).")


def attention_B_table(records: Sequence[dict]) -> Table:
    """Strongest readout attention on the one flagged test copy, at the escape and at the end, per B."""
    rows = []
    for B in sorted({r["config"]["B"] for r in records}):
        runs = [r for r in records if r["config"]["B"] == B]
        escapes = [escape_step(r, fraction=0.2) for r in runs]
        strongest = [mechanism.strongest_attention(r) for r in runs]
        at_escape = [np.interp(e, r["steps"], s) for e, r, s in zip(escapes, runs, strongest, strict=True)]
        lengths = [r["steps"][-1] / e for e, r in zip(escapes, runs, strict=True)]
        rows.append([B, len(runs), f"{np.mean(at_escape):.3f}", f"{np.mean([s[-1] for s in strongest]):.3f}",
                     f"{np.mean(lengths):.1f}"])
    return Table(["B (training)", "seeds", "attention at escape", "final attention", "trained / escape step"], rows,
                 caption="Strongest readout attention on the one flagged relevant token at test.")


def fig14_tables(records: Sequence[dict]) -> tuple[Table, Table]:
    """Fixed position: exponents of d with and without the feature per learning rate, and the step offset."""
    lrs = sorted({r["config"]["lr"] for r in records}, reverse=True)
    ds = sorted({r["config"]["d"] for r in records})
    fits, offsets = [], []
    for lr in lrs:
        for feature, name in ((True, "feature, fixed position"), (False, "no feature, fixed position")):
            runs = [r for r in records if r["config"]["lr"] == lr and r["config"]["feature"] == feature]
            fit = regression_runs.fit_steps(regression_runs.plateau_rows(runs), ("d",))
            attention = regression_runs.fit_steps(regression_runs.step_rows(runs, "attention"), ("d",))
            fits.append([f"{lr:g}", name, fit.exponent("d"), f"{fit.fit.r2:.3f}", attention.exponent("d"),
                         f"{PAPER_LAWS[name]['d']:.2f}"])
        cells = []
        for d in ds:
            mean = {f: np.mean([escape_step(r, fraction=0.2) for r in records if r["config"]["lr"] == lr
                                and r["config"]["d"] == d and r["config"]["feature"] == f]) for f in (True, False)}
            cells.append(f"{mean[True]:.0f} / {mean[False]:.0f} (+{mean[False] - mean[True]:.0f})")
        offsets.append([f"{lr:g}", *cells])
    return (Table(["lr", "task", "exponent of d (test loss 0.2)", "R²", "exponent of d (attention step)", "paper"],
                  fits, caption="Fixed position, T = 64: the plateau against d."),
            Table(["lr", *[f"d = {d}" for d in ds]], offsets,
                  caption="Escape step with / without the feature (mean over seeds), and the difference."))


def _progress(name: str, records: Sequence[dict], planned_configs: Sequence[dict], seeds: int) -> None:
    plan = {config_key(c) for c in planned_configs}
    done = sum(config_key(r["config"]) in plan for r in records)
    print(f"{name}: {done} of its {len(plan) * seeds} planned runs are in the file so far "
          f"(resume: python -m sparse_attention_lab sweep {name} --profile laptop)")


def scale_rows(laptop_records: Sequence[dict], scale_records: Sequence[dict] | None) -> tuple[list[dict], list[dict]]:
    """Plateau rows of the laptop Fig. 3 grid and the ``fig3_scale`` sweep, one run per (T, d, seed)
    (the newer sweep's where both trained it), split into the fitted rows (d <= width) and those
    where d exceeds the width: a capacity limit of the residual stream, not the paper's law."""
    laptop = PROFILES["laptop"]
    if scale_records is not None:
        _progress("fig3_scale", scale_records, regression_runs.SWEEPS["fig3_scale"](laptop),
                  laptop.sizes("fig3_scale")["seeds"])
    merged = {(r["config"]["T"], r["config"]["d"], r["seed"]): r for r in [*laptop_records, *(scale_records or [])]}
    rows = regression_runs.plateau_rows(list(merged.values()))
    fitted, narrow = [r for r in rows if r["d"] <= r["d_model"]], [r for r in rows if r["d"] > r["d_model"]]
    d_top = max(r["d"] for r in fitted)
    for T in sorted({r["T"] for r in narrow}):
        beyond = [r["plateau"] for r in narrow if r["T"] == T]
        below = [r["plateau"] for r in fitted if r["T"] == T and r["d"] == d_top]
        print(f"d = {narrow[0]['d']} > width {narrow[0]['d_model']} at T = {T}: mean escape {np.mean(beyond):.0f} "
              f"steps ({len(beyond)} runs) against {np.mean(below):.0f} at d = {d_top} (left out of the fits)")
    return fitted, rows


def exponents_against_scale(rows: Sequence[dict], wide_records: Sequence[dict] | None = None) -> Table:
    """The joint fit and local exponents on 2 x 2 sub-grids, drawn against the paper's; their trend
    printed; the sub-grids of the width-64 sweep (``wide_records``) drawn beside them and listed."""
    local = scaling.local_exponents(rows)
    wide = scaling.local_exponents(regression_runs.plateau_rows(wide_records)) if wide_records else []
    joint = regression_runs.fit_steps(rows, ("d", "T"))
    Ts, ds = sorted({r["T"] for r in rows}), sorted({r["d"] for r in rows})
    print(f"joint fit over {len(rows)} runs (T {Ts[0]}-{Ts[-1]}, d {ds[0]}-{ds[-1]}): {joint}; "
          f"d: {joint.exponent('d')}, T: {joint.exponent('T')}; paper: d^1.29 T^0.80")
    for exponent, name in (("a", "d"), ("b", "T")):
        slope, se = scaling.weighted_trend(local, exponent, name)
        print(f"change of the local exponent of {name} per doubling of {name}: {slope:+.3f} ± {se:.3f}")
    mechanism_views.exponent_against_scale(local, PAPER_LAWS["Fig. 3"], {
        k: (joint.fit.exponents[k], joint.stderr(k)) for k in ("d", "T")}, wide=wide)
    plt.show()
    return Table(["width", "T pair", "d pair", "runs", "exponent of d", "exponent of T"],
                 [[width, f"{p['T_pair'][0]}-{p['T_pair'][1]}", f"{p['d_pair'][0]}-{p['d_pair'][1]}", p["runs"],
                   f"{p['a']:.2f} ± {p['a_se']:.2f}", f"{p['b']:.2f} ± {p['b_se']:.2f}"]
                  for width, points in (("32", local), ("64", wide)) for p in points],
                 caption="Local exponents on 2 x 2 sub-grids (± the larger of the fit's and a seed-bootstrap SE).")


def width_table(rows: Sequence[dict], wide_records: Sequence[dict]) -> Table:
    """The same sub-grid at width 32 (``rows``) and 64 (``wide_records``), where both have runs."""
    wide = regression_runs.plateau_rows(wide_records)
    cells = {(r["T"], r["d"]) for r in wide}
    table = []
    for width, sub in (("32", [r for r in rows if (r["T"], r["d"]) in cells]), ("64", wide)):
        if len({r["T"] for r in sub}) > 1 and len({r["d"] for r in sub}) > 1:
            fit = regression_runs.fit_steps(sub, ("d", "T"))
            table.append([width, len(sub), str(fit), fit.exponent("d"), fit.exponent("T")])
    return Table(["width (d_model)", "runs", "law", "exponent of d", "exponent of T"], table,
                 caption="The same sub-grid (the cells the width-64 sweep has reached) at two widths.")


def _tuning_plan() -> tuple[list[float], list[int]]:
    """The rates of the ``fig3_p_tuned`` sweep (laptop) and the d values every rate runs (the tuning d)."""
    sizes = PROFILES["laptop"].sizes("fig3_p_tuned")
    return list(sizes["lr"]), sorted(set.intersection(*(set(ds) for ds in sizes["d"])))


def _tuning(records: Sequence[dict], seeds_needed: int) -> Tuning:
    rates, tuning_ds = _tuning_plan()
    return tune_rates(records, rates, tuning_ds, seeds_needed)


def tuned_fit(records: Sequence[dict], seeds_needed: int = 5) -> regression_runs.StepFit | None:
    """Eq. 22 fitted over every d at the rates :func:`tuned_lr_table` chooses, once two or more p are tuned."""
    return _tuning(records, seeds_needed).fit()


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
    return Table(["p", "lr", "seeds at d", f"mean plateau (0.4) at d = {', '.join(map(str, tuning_ds))}",
                  "complete there"], table, caption=caption)


def tuned_lr_table(records: Sequence[dict], seeds_needed: int = 5) -> Table:
    """Fig. 3 right at T = 256 with the learning rate tuned per p on "the shortest average plateau
    length" (App. D.3, :mod:`~sparse_attention_lab.analysis.tuning`); with two or more p tuned,
    Eq. 22 over every d at the tuned rates is printed."""
    tuning = _tuning(records, seeds_needed)
    fit = tuning.fit()
    if fit is not None:
        print(f"at the tuned learning rates: {fit}; g = {fit.exponent('f')} (theory: -1)")
    return tuning_table(tuning, _tuning_plan()[1], "Fig. 3 right at T = 256: the learning rate per p (App. D.3), "
                                                    "compared at the d values both rates ran.")


def scale_fits(rows: Sequence[dict], wide_records: Sequence[dict] | None) -> dict[str, regression_runs.StepFit]:
    """The joint power law of the scale sweeps at each width: ``rows`` (width 32, from
    :func:`scale_rows`) and, where present, the width-64 sweep's runs, keyed by a label of the grid."""
    fits = {"width 32": regression_runs.fit_steps(rows, ("d", "T"))}
    wide = regression_runs.plateau_rows(wide_records or [])
    if len({r["T"] for r in wide}) > 1 and len({r["d"] for r in wide}) > 1:
        fits["width 64"] = regression_runs.fit_steps(wide, ("d", "T"))
    return fits


def _mean_or_never(steps: Sequence[float]) -> str:
    finite = [s for s in steps if math.isfinite(s)]
    if not finite:
        return "never"
    return f"{np.mean(finite):.0f}" + (f" ({len(steps) - len(finite)} never)" if len(finite) < len(steps) else "")


def deep_recall_report(records: Sequence[dict]) -> None:
    """4-layer recall: progress of the sweep, emergence against the threshold (figure and table), and the
    power law of the emergence step at each threshold beside the paper's."""
    laptop = PROFILES["laptop"]
    _progress("ar_deep", records, recall_layers.SWEEPS["ar_deep"](laptop), laptop.sizes("ar_deep")["seeds"])
    recall_layer_views.emergence_against_threshold(records)
    plt.show()
    rows = recall_layers.emergence_by_threshold(records)
    table = []
    for n_pairs, n_tokens in sorted({(r["n_pairs"], r["n_tokens"]) for r in rows}):
        sub = [r for r in rows if (r["n_pairs"], r["n_tokens"]) == (n_pairs, n_tokens)]
        table.append([n_pairs, n_tokens, len(sub), f"{100 / n_pairs:.0f}%",
                      *(_mean_or_never([r[f"acc_{t:g}"] for r in sub]) for t in recall_layers.THRESHOLDS)])
    display(Table(["N_pairs", "N_tokens", "seeds", "1 / N_pairs", *[f"{100 * t:g}%" for t in recall_layers.THRESHOLDS]],
                  table, caption="Emergence step (mean over seeds) at each test-accuracy threshold, 4 layers, width 64."))
    law = paper.law("Fig. 4 right").values
    fits = [[f"{100 * t:g}%", str(fit), f"{fit.exponents['n_pairs']:.2f} ± {fit.stderr['n_pairs']:.2f}",
             f"{fit.exponents['n_tokens']:.2f} ± {fit.stderr['n_tokens']:.2f}", f"{fit.r2:.3f}"]
            for t, fit in recall_layers.threshold_fits(records).items()]
    if fits:
        display(Table(["threshold", "law", "exponent of N_pairs", "exponent of N_tokens", "R²"],
                      [*fits, ["5% (paper)", f"{law['C']} N_tokens^{law['n_tokens']} N_pairs^{law['n_pairs']}",
                               f"{law['n_pairs']:.2f}", f"{law['n_tokens']:.2f}", f"{paper.law('Fig. 4 right').r2:.3f}"]],
                      caption="Power law of the emergence step at each threshold (over the runs that reached it)."))


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
        rows.append([f"{c['B']:g}", f"{c['p']:g}", record["seed"], f"{escape_step(record, accuracy=0.05):.0f}",
                     f"{emerged:.0f}", f"{record['steps'][-1] / emerged:.1f}" if math.isfinite(emerged) else "-",
                     then, gains, f"{record['test_acc'][-1]:.2f}", rise.verdict])
    return Table(["B", "p", "seed", "5% at step", "50% at step", "trained / 50% step",
                  "test acc. once train acc. ≥ 0.9", "test-acc. gain, first / second half after", "final test acc.",
                  "reading"], rows,
                 caption="Long runs, read for a late rise: a low test accuracy once the run has learned its own data, "
                         "then a gain of 0.1 or more in the second half of the rest of the run, larger than in the first.")


def induction_head_report(records: Sequence[dict]) -> None:
    """The largest setting's best seed: attention of every head at the copy and selection positions over
    training and at the end; then where the strongest heads sit in every run."""
    largest = max(records, key=lambda r: (r["config"]["n_pairs"], r["config"]["n_tokens"], max(r["test_acc"])))
    c, last = largest["config"], largest["steps"][-1]
    recall_layer_views.attention_by_layer(largest)
    plt.show()
    recall_layer_views.layer_head_attention(largest, last, f"N_pairs = {c['n_pairs']}, N_tokens = {c['n_tokens']}, "
                                            f"seed {largest['seed']}: end of training (step {last}; 50% accuracy at "
                                            f"step {escape_step(largest, accuracy=0.5):.0f})")
    plt.show()
    display(induction_head_table(records))


def long_runs_report(records: Sequence[dict]) -> None:
    """Test accuracy of the long-trained runs (figure) and their dip-and-recovery table."""
    recall_layer_views.long_runs(records)
    plt.show()
    display(long_runs_table(records))
