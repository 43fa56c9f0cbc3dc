"""Figures and tables of chapter 5: schedules of repetition, and forecasts checked against runs.

Each figure function returns the matplotlib ``Figure`` it drew; the ``*_table`` functions return a
rendered :class:`~sparse_attention_lab.views.tables.Table` (:func:`forecasts_table` from
:func:`~sparse_attention_lab.forecast.forecast_table`'s rows); :func:`add_forecast_rows` writes the
forecasts' scorecard rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from sparse_attention_lab.analysis.on_demand import ScheduleOutcome
from sparse_attention_lab.forecast import Forecast, forecast_table
from sparse_attention_lab.views.scorecard import Scorecard
from sparse_attention_lab.views.style import SMALL_FONT, book_figure, column_axes, panels
from sparse_attention_lab.views.tables import Table


@book_figure
def reduced_schedules_figure(outcomes: Mapping[str, ScheduleOutcome], styles: Mapping[str, str], plateau_0: float,
                             T: int, d: int) -> Figure:
    """Test loss, attention and the ``p`` in force against time for the schedules named in
    ``styles`` (name -> matplotlib format); the grey line marks the plateau without repetition."""
    fig, axes = panels(3)
    for name, style in styles.items():
        f = outcomes[name].flow
        axes[0].loglog(f.times[1:], f.test_loss[1:], style, label=name)
        axes[1].semilogx(f.times[1:], f.alpha[1:], style)
        axes[2].step(f.times[1:], f.p[1:], style, where="post")
    axes[2].set_xscale("log")
    for ax in axes:
        ax.axvline(plateau_0, color="grey", lw=0.8)
        ax.set_xlabel("gradient-flow time")
    axes[0].set_ylabel("test loss (no repetition)")
    axes[1].set_ylabel(r"attention on the relevant token $\alpha$")
    axes[2].set_ylabel("repetition $p$ in force")
    axes[0].legend()
    fig.suptitle(f"Reduced dynamics (App. A.4), T = {T}, d = {d}; grey line: plateau without repetition", wrap=True)
    return fig


@book_figure
def schedule_runs_figure(groups: Mapping[str, Sequence[dict]], title: str, threshold: float) -> Figure:
    """Accuracy on test data without repetition (left) and on the current training distribution
    (right), mean over seeds with a min-max band, one colour per schedule label of ``groups``."""
    fig, axes = panels(2, columns=1, row_height=3.2, sharey=True)
    for k, (label, records) in enumerate(groups.items()):
        color = "k" if k == 0 else f"C{k - 1}"
        steps = np.array(records[0]["steps"])
        for ax, key in zip(axes, ["test_acc", "train_acc"], strict=True):
            curves = np.array([r[key] for r in records])
            ax.plot(steps, curves.mean(0), color=color, label=label)
            ax.fill_between(steps, curves.min(0), curves.max(0), color=color, alpha=0.15)
    axes[0].axhline(threshold, color="grey", lw=0.8)
    axes[0].set_ylabel("accuracy (mean over seeds; band: min to max)")
    axes[0].set_title("test data without repetition (B = 1)")
    axes[1].set_title("current training distribution")
    for ax in axes:
        ax.set_xlabel("training step")
    axes[0].legend()
    fig.suptitle(title, wrap=True)
    return fig


def _time(value: float | None) -> str:
    return "–" if value is None else "never" if math.isinf(value) else f"{value:.0f}"


def schedules_table(outcomes: Mapping[str, ScheduleOutcome], horizon_factor: float) -> Table:
    """Section 1's table: per schedule, escape time, speed-up, test loss at ``2 x`` the plain
    plateau and at the horizon (``horizon_factor`` x it), and when repetition stopped."""
    return Table(["schedule", "escape", "speed-up", "test loss at 2×", f"test loss at {horizon_factor:g}×", "p → 0 at"],
                 [[name, f"{o.escape:.0f}", f"{o.speedup:.2f}", f"{o.test_loss_at_2x:.1e}", f"{o.final_test_loss:.1e}",
                   _time(o.stops)] for name, o in outcomes.items()])


def robustness_table(rows: Sequence[Mapping[str, float]]) -> Table:
    """:func:`~sparse_attention_lab.analysis.on_demand.robustness_row` rows as a table."""
    return Table(["T", "d", "p = 0", "best constant p", "its escape", "adaptive (training loss, p = 1)",
                  "adaptive (test loss, p = 0.9)", "final ratio"],
                 [[r["T"], r["d"], f"{r['plateau_0']:.0f}", f"{r['best_p']:g}", f"{r['best_escape']:.0f}",
                   f"{r['adaptive_train']:.0f}", f"{r['adaptive_test']:.0f}", f"{r['final_ratio']:.2f}"] for r in rows])


def schedule_runs_table(groups: Mapping[str, Mapping], max_steps: int) -> Table:
    """:func:`~sparse_attention_lab.analysis.on_demand.schedule_run_rows` as a table (a seed that
    never emerged shows as ``>max_steps``)."""
    return Table(["schedule", "emergence step (per seed)", "test acc (mean ± std)", "train acc", "B → 1 at"],
                 [[label, " ".join(f"{s:.0f}" if math.isfinite(s) else f">{max_steps}" for s in g["emergence"]),
                   f"{g['test_acc']:.3f} ± {g['test_acc_std']:.3f}", f"{g['train_acc']:.3f}",
                   ",".join(f"{s:g}" for s in g["back_to_1"]) or "–"] for label, g in groups.items()])


def forecasts_table(forecasts: Sequence[Forecast], caption: str = "", lower_bounds: Sequence[bool] = ()) -> Table:
    """:func:`~sparse_attention_lab.forecast.forecast_table` rows as a rendered table: the setting,
    the prediction, its band, the measurement, the error ``measured / predicted - 1`` and whether it
    fell in the band. ``lower_bounds[i]`` marks a measurement that is only a lower bound (a seed had
    not emerged at the step cap): shown with ``>=`` and never counted as inside the band."""
    rows = forecast_table(forecasts)
    bounds = list(lower_bounds) + [False] * (len(rows) - len(lower_bounds))
    header = list(rows[0])
    header[header.index("measured / predicted")] = "error"
    cells = []
    for f, row, bound in zip(forecasts, rows, bounds, strict=True):
        at_least = ">= " if bound else ""
        n_setting = len(row) - 5
        setting = [v if isinstance(v, int) else f"{v:.4g}" for v in list(row.values())[:n_setting]]
        cells.append([*setting, f"{row['predicted']:.0f}", f"[{f.low:.0f}, {f.high:.0f}]",
                      f"{at_least}{row['measured']:.0f}", f"{at_least}{row['measured / predicted'] - 1:+.1%}",
                      "no" if bound else ("yes" if row["in band"] else "no")])
    return Table(header, cells, caption)


Family = Sequence[tuple[str, Forecast, bool]]
"""Measured forecasts of one kind: ``(setting label, forecast, lower_bound)`` each."""


@book_figure
def forecast_figure(families: Mapping[str, Family]) -> Figure:
    """Each forecast of each family (one colour per family) as its band relative to the prediction
    (bar) and the measurement (dot, or a triangle when it is only a lower bound)."""
    rows = [(f"{family}, {setting}" + (" (lower bound)" if bound else ""), f, f"C{k}", bound)
            for k, (family, members) in enumerate(families.items()) for setting, f, bound in members]
    fig, ax = column_axes(5.2)
    for i, (_, f, color, lower_bound) in enumerate(rows):
        ax.plot([f.low / f.predicted, f.high / f.predicted], [i, i], color=color, lw=6, alpha=0.35)
        ax.plot(f.ratio, i, ">" if lower_bound else "o", color=color)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=SMALL_FONT)
    ax.invert_yaxis()
    ax.set_xlabel("plateau / predicted plateau (dots: measured; triangle: lower bound; bars: 90% band)")
    ax.set_title("Forecasts made before the measurement")
    return fig


def add_forecast_rows(card: Scorecard, families: Mapping[str, Family], sections: Mapping[str, str]) -> None:
    """One scorecard row per family of measured forecasts: how many fell inside their band (a lower
    bound never counts as inside), and the range of errors; ``sections[family]`` is its anchor."""
    for label, members in families.items():
        if not members:
            raise ValueError(f"family {label!r} has no forecasts.")
        inside = sum(bool(f.covered) and not bound for _, f, bound in members)
        errors = [f.ratio - 1 for _, f, _ in members]
        card.check(f"Sec. 1: forecasts from cheap runs fall in their 90% band ({label})", paper="asked, not tested",
                   ours=f"{inside} of {len(members)}; errors {min(errors):+.0%} to {max(errors):+.0%}",
                   holds=inside == len(members), scale="extrapolated beyond the fitted grid", section=sections[label])
