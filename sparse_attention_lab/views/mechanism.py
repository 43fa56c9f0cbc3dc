"""Figures of the mechanism inside the Transformer (chapter 3; measures in
:mod:`sparse_attention_lab.analysis.mechanism`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from sparse_attention_lab.analysis import mechanism
from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION, grid_fraction
from sparse_attention_lab.experiments.regression import full_config
from sparse_attention_lab.measure import escape_step, strongest_attention
from sparse_attention_lab.theory.reduced import reduced_dynamics
from sparse_attention_lab.views.style import book_figure, panels


@book_figure
def alignment_and_attention(records: Sequence[dict], settings: Sequence[tuple[int, int]]) -> Figure:
    """One panel per ``(T, d)`` of ``settings``: the weight side ``m / alpha`` and the strongest
    readout attention on the relevant token, each over its final value, against steps (every
    seed of ``records`` at that setting), and a last panel with the toy model's ``w`` and
    ``alpha`` (reduced dynamics, gradient-flow time) for the first setting."""
    fig, axes = panels(len(settings) + 1)
    for ax, (T, d) in zip(axes, settings, strict=False):
        runs = [r for r in records if (full_config(r)["T"], full_config(r)["d"]) == (T, d)]
        if not runs:
            raise ValueError(f"records: no run at T = {T}, d = {d}.")
        for i, record in enumerate(runs):
            w, alpha = mechanism.weight_side(record), strongest_attention(record)
            label = (lambda name: name) if i == 0 else (lambda name: None)
            ax.plot(record["steps"], w / w[-1], color="C0", lw=1.2, label=label("weights: $m/\\alpha$"))
            ax.plot(record["steps"], alpha / alpha[-1], color="C3", lw=1.2, label=label("attention $\\alpha$"))
        ax.axhline(mechanism.LEAD_FRACTION, color="gray", lw=0.8, ls=":")
        ax.set(title=f"Transformer, T = {T}, d = {d}", xlabel="training step", ylim=(-0.1, 1.15))
    axes[0].set_ylabel("value / final value")
    axes[0].legend(loc="upper left")
    T, d = settings[0]
    trajectory = reduced_dynamics(T, d, n_points=600)
    ax = axes[-1]
    ax.plot(trajectory.times, trajectory.w / trajectory.w[-1], color="C0", label="weights $w$")
    ax.plot(trajectory.times, trajectory.alpha / trajectory.alpha[-1], color="C3", label="attention $\\alpha$")
    ax.axhline(mechanism.LEAD_FRACTION, color="gray", lw=0.8, ls=":")
    ax.set(title=f"toy model, T = {T}, d = {d}", xlabel="gradient-flow time", ylim=(-0.1, 1.15))
    ax.legend(loc="upper left")
    return fig


@book_figure
def lead_figure(rows: Sequence[dict]) -> Figure:
    """The lead over the plateau length against ``d``, one colour per ``T``: Transformer (dots,
    mean +- sd over seeds) and toy model (line); ``rows`` of
    :func:`~sparse_attention_lab.analysis.mechanism.lead_rows`."""
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for i, T in enumerate(sorted({row["T"] for row in rows})):
        sub = [row for row in rows if row["T"] == T]
        d = [row["d"] for row in sub]
        ax.errorbar(d, [row["relative"] for row in sub], yerr=[row["relative_sd"] for row in sub], fmt="o",
                    color=f"C{i}", capsize=3, label=f"Transformer, T = {T}")
        ax.plot(d, [row["toy_relative"] for row in sub], color=f"C{i}", ls="--", label=f"toy model, T = {T}")
    ax.axhline(0, color="gray", lw=0.8)
    ds = sorted({row["d"] for row in rows})
    ax.set(xscale="log", xlabel="d (token dimension)", ylabel="lead / plateau length",
           title="> 0: the weights move before the attention")
    ax.set_xticks(ds, [str(d) for d in ds])
    ax.minorticks_off()
    ax.legend(ncol=2)
    fig.tight_layout()
    return fig


def _mean_over(records: Sequence[dict], value, **where) -> float:
    runs = [r for r in records if all(full_config(r).get(k, False) == v for k, v in where.items())]
    return float(np.mean([value(r) for r in runs])) if runs else math.nan


@book_figure
def shortcut_figure(records: Sequence[dict], d: int) -> Figure:
    """Left: test loss (no repetition, over its initial value) against steps at ``d``, for each
    ``p``, with the repeated targets as sampled (solid) and made zero-mean (dashed, the
    ``signed_repeat`` ablation). Middle and right, against ``p`` for every ``d`` (seed means):
    the highest test loss over the initial one, and the escape step (App. D.1's threshold of a
    grid with repetition, :func:`~sparse_attention_lab.analysis.measurement.grid_fraction`)."""
    fig, (left, middle, right) = panels(3)
    ps = sorted({full_config(r)["p"] for r in records})
    for i, p in enumerate(ps):
        for signed, style in ((False, "-"), (True, "--")):
            if p == 0 and signed:
                continue
            runs = [r for r in records if full_config(r)["p"] == p and full_config(r)["d"] == d
                    and full_config(r).get("signed_repeat", False) == signed]
            for j, record in enumerate(runs):
                label = (f"p = {p}" + (", zero-mean repeat" if signed else "")) if j == 0 else None
                losses = np.asarray(record["test_loss"]) / record["test_loss"][0]
                left.plot(record["steps"], losses, color=f"C{i}", ls=style, lw=1.1, label=label)
    left.set(xlabel="training step", ylabel="test loss / initial", title=f"T = {full_config(records[0])['T']}, d = {d}")
    left.legend()
    fraction = grid_fraction(ps)
    measures = ((middle, lambda r: mechanism.loss_rise(r)[0]), (right, lambda r: escape_step(r, fraction=fraction)))
    for ax, value in measures:
        for i, dd in enumerate(sorted({full_config(r)["d"] for r in records})):
            for signed, style in ((False, "-"), (True, "--")):
                ys = [_mean_over(records, value, p=p, d=dd, signed_repeat=signed and p > 0) for p in ps]
                ax.plot(ps, ys, marker="s" if signed else "o", ls=style, color=f"C{i}",
                        label=f"d = {dd}" + (", zero-mean repeat" if signed else ""))
    middle.axhline(1, color="gray", lw=0.8)
    middle.set(xlabel="p (cross-sample repetition)", ylabel="highest / initial test loss")
    right.set(xlabel="p (cross-sample repetition)", ylabel=f"escape step (test loss {fraction:g} x initial)")
    right.legend()
    return fig


@book_figure
def attention_against_B(records: Sequence[dict]) -> Figure:
    """Strongest readout attention on the (one, flagged) relevant test token against the training
    ``B``, per seed: at the escape step (test loss :data:`~sparse_attention_lab.analysis.measurement.ESCAPE_FRACTION` x initial, open) and at the end of training
    (filled), with the attention a model spreading evenly over ``B`` copies would put on one (``1 / B``)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.3))
    Bs = sorted({full_config(r)["B"] for r in records})
    for i, B in enumerate(Bs):
        runs = [r for r in records if full_config(r)["B"] == B]
        finals = [strongest_attention(r)[-1] for r in runs]
        at_escape = [np.interp(escape_step(r, fraction=ESCAPE_FRACTION), r["steps"], strongest_attention(r)) for r in runs]
        ax.scatter([B * 0.95] * len(runs), at_escape, facecolors="none", edgecolors="C0", zorder=3,
                   label="at the escape step" if i == 0 else None)
        ax.scatter([B * 1.05] * len(runs), finals, color="C0", zorder=3, label="end of training" if i == 0 else None)
    ax.plot(Bs, [1 / B for B in Bs], color="gray", ls="--", label="1 / B")
    ax.set(xscale="log", xlabel="B (copies of the relevant token in training)",
           ylabel="readout attention on the relevant token", ylim=(0, 1.05))
    ax.set_xticks(Bs, [str(B) for B in Bs])
    ax.minorticks_off()
    ax.legend()
    fig.tight_layout()
    return fig


@book_figure
def fig14_figure(records: Sequence[dict]) -> Figure:
    """Escape step (test loss below :data:`~sparse_attention_lab.analysis.measurement.ESCAPE_FRACTION` x initial) against ``d`` at a fixed position, with the
    relevant-token feature (solid) or without (dashed), one panel per learning rate."""
    lrs = sorted({full_config(r)["lr"] for r in records}, reverse=True)
    fig, axes = panels(len(lrs), sharey=True)
    for ax, lr in zip(np.atleast_1d(axes), lrs, strict=True):
        for i, T in enumerate(sorted({full_config(r)["T"] for r in records})):
            for feature, style in ((True, "-"), (False, "--")):
                runs = [r for r in records if full_config(r)["lr"] == lr and full_config(r)["T"] == T
                        and full_config(r)["feature"] == feature]
                ds = sorted({full_config(r)["d"] for r in runs})
                means = [np.mean([escape_step(r, fraction=ESCAPE_FRACTION) for r in runs if full_config(r)["d"] == d]) for d in ds]
                color = f"C{2 * i + (not feature)}"
                ax.plot(ds, means, marker="o", ls=style, color=color,
                        label=f"T = {T}, " + ("feature" if feature else "no feature") + " (mean; dots: seeds)")
                ax.scatter([full_config(r)["d"] for r in runs], [escape_step(r, fraction=ESCAPE_FRACTION) for r in runs],
                           color=color, s=10, alpha=0.6)
        ax.set(xscale="log", yscale="log", xlabel="d (token dimension)", title=f"fixed position, lr = {lr:g}")
        ds = sorted({full_config(r)["d"] for r in records})
        ax.set_xticks(ds, [str(d) for d in ds])
        ax.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
    np.atleast_1d(axes)[0].set_ylabel(f"escape step (test loss < {ESCAPE_FRACTION:g} x initial)")
    np.atleast_1d(axes)[0].legend()
    return fig


@book_figure
def exponent_against_scale(local: Sequence[dict], paper: dict[str, float],
                           joint: dict[str, tuple[float, float]] | None = None,
                           widths: tuple[str, str] = ("width 32", "width 64"),
                           wide: Sequence[dict] = ()) -> Figure:
    """Left: the exponent of ``d`` on each 2 x 2 sub-grid against the sub-grid's ``d`` (one colour
    per ``T`` pair); right: the exponent of ``T`` against ``T`` (one colour per ``d`` pair); filled
    circles for ``local`` (the first of ``widths``), open squares for ``wide`` (the sub-grids of a
    second width, if any); the paper's exponents as lines, the joint fit over the whole grid at the
    first width (``{"d": (a, se), "T": (b, se)}``) as a band."""
    fig, axes = panels(2, columns=1, row_height=3.2)
    for ax, exponent, scale, group in ((axes[0], "a", "d", "T_pair"), (axes[1], "b", "T", "d_pair")):
        pairs = sorted({tuple(p[group]) for p in [*local, *wide]})
        for series, (width, points) in enumerate(zip(widths, (local, wide), strict=True)):
            for i, pair in enumerate(pairs):
                sub = sorted((p for p in points if tuple(p[group]) == pair), key=lambda p: p[scale])
                if not sub:
                    continue
                shift = 1 + 0.03 * (i - (len(pairs) - 1) / 2) + 0.015 * series  # side by side
                ax.errorbar([p[scale] * shift for p in sub], [p[exponent] for p in sub],
                            yerr=[2 * p[f"{exponent}_se"] for p in sub], marker="os"[series], capsize=3,
                            color=f"C{i}", mfc=None if series == 0 else "none", ls="-" if series == 0 else ":",
                            label=f"{width}, {'T' if group == 'T_pair' else 'd'} = {pair[0]}-{pair[1]}")
        name = "d" if exponent == "a" else "T"
        ax.axhline(paper[name], color="k", ls="--", lw=1, label=f"paper: {paper[name]:.2f}")
        if joint is not None:
            value, se = joint[name]
            ax.axhspan(value - 2 * se, value + 2 * se, color="gray", alpha=0.2,
                       label=f"joint fit, {widths[0]}: {value:.2f}")
        ax.set(xscale="log", xlabel=f"{scale} at the sub-grid's centre (geometric mean)",
               ylabel=f"local exponent of {name} (error bars: 2 SE)")
        centres = sorted({round(p[scale], 1) for p in [*local, *wide]})
        ax.set_xticks(centres, [f"{c:g}" for c in centres])
        ax.minorticks_off()
        ax.legend(ncol=2)
    return fig
