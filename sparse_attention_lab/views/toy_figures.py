"""Figures of the toy model (the introduction and chapter 1: Figs. 1a-c, 6, 7, 8, 9 of the paper).

Each function draws one figure of the book from results the chapter computed (or, for curves
that only illustrate, computes them with :mod:`sparse_attention_lab.theory.reduced`) and returns
the matplotlib ``Figure``; the chapter keeps the computation that carries the idea.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.theory import reduced
from sparse_attention_lab.theory.gradient_signal import (
    InitialGradient,
    irrelevant_gradient_rms,
    relevant_gradient_norm,
)
from sparse_attention_lab.views.figures import plot_power_law
from sparse_attention_lab.views.style import book_figure, column_axes, panels


@book_figure
def initial_gradient_figure(results: Sequence[InitialGradient]) -> Figure:
    """Introduction: the sampled gradient on ``W`` at uniform attention against ``T``, relevant
    token and irrelevant tokens, with their closed forms (one ``d`` and batch size for all)."""
    if not results or len({(r.d, r.batch_size) for r in results}) != 1:
        raise ValueError("results must be a non-empty list sharing one d and one batch_size.")
    Ts = np.array([r.T for r in results])
    d, batch = results[0].d, results[0].batch_size
    signal = np.array([r.signal for r in results])
    T_line = np.unique(np.geomspace(Ts.min(), Ts.max(), 200).round().astype(int))
    fig, ax = column_axes(4.2)
    ax.loglog(Ts, signal, "o", color="C0", label="relevant token: mean gradient (sampled)")
    ax.loglog(T_line, [relevant_gradient_norm(int(T), d) for T in T_line], "-", color="C0",
              label=r"closed form $1/(T\sqrt{d})$")
    ax.loglog(Ts, [r.noise for r in results], "s", color="C3",
              label=f"irrelevant tokens: batch-of-{batch} noise (sampled)")
    ax.loglog(T_line, [irrelevant_gradient_rms(int(T), d, batch) for T in T_line], "-", color="C3",
              label=rf"closed form $\sqrt{{(T-1)/{batch}}}\,/\,T$")
    ax.loglog(T_line, 3 * signal[0] * Ts[0] / T_line, "k:", label=r"$\propto 1/T$ (guide)")
    ax.set(xlabel="sequence length $T$ (tokens)", ylabel=r"Frobenius norm of $\partial \mathcal{L} / \partial W$ at initialisation",
           title=f"Gradient reaching the weights at uniform attention (d = {d})")
    ax.legend()
    return fig


@book_figure
def plateau_figure(run: reduced.Trajectory, T: int, d: int, d_curves: Sequence[int] = (16, 64, 256)) -> Figure:
    """Figs. 1a and 1b: the loss for several ``d`` at sequence length ``T``; then ``w/sqrt(d)``
    and ``alpha`` of ``run`` (the reduced flow at ``T``, ``d``), on linear and log scales."""
    fig, axes = panels(3)
    for d_curve in d_curves:
        curve = reduced.reduced_dynamics(T, d_curve, t_max=1.5 * reduced.plateau_length(T, max(d_curves)), n_points=600)
        axes[0].plot(curve.times, curve.loss, label=f"d = {d_curve}")
    axes[0].set(xlabel="gradient-flow time", ylabel="loss", title=f"(1a) loss, T = {T}")
    for ax, scale in zip(axes[1:], ("linear", "log"), strict=True):
        ax.plot(run.times, run.w / math.sqrt(d), label=r"$w/\sqrt{d}$ (weights)")
        ax.plot(run.times, run.alpha, label=r"$\alpha$ (attention)")
        ax.set(xlabel="gradient-flow time", yscale=scale, ylabel="fraction of optimum" + (" (log)" if scale == "log" else ""))
    axes[1].axhline(1, color="gray", ls="--", lw=1, label="optimum of both")
    axes[2].axhline(1 / T, color="gray", ls=":", lw=1, label=r"$1/T$ (uniform attention)")
    axes[1].set_title(f"(1b) T = {T}, d = {d}")
    axes[2].set_title("(1b) the same, log scale")
    for ax in axes:
        ax.legend()
    return fig


@book_figure
def landscape_figure(run: reduced.Trajectory, T: int, d: int) -> Figure:
    """Fig. 6: the reduced loss over ``(w, Delta a)`` with the gradient-flow path of ``run`` and
    dots every eighth of the plateau length."""
    w_grid = np.linspace(-1, 1.15 * math.sqrt(d), 300)
    a_grid = np.linspace(-2, run.delta_a.max() + 1, 300)
    Wg, Ag = np.meshgrid(w_grid, a_grid)
    fig, ax = column_axes(4.6)
    levels = ax.contourf(Wg, Ag, reduced.reduced_loss(Wg, Ag, T, d), levels=np.linspace(0, 0.6, 25), cmap="viridis")
    fig.colorbar(levels, label="reduced loss")
    ax.plot(run.w, run.delta_a, color="white", lw=2, label="gradient flow from (0, 0)")
    marks = np.searchsorted(run.times, reduced.plateau_length(T, d) * np.arange(1, 13) / 8)
    marks = marks[marks < run.times.size]
    ax.plot(run.w[marks], run.delta_a[marks], "o", color="white", ms=4, label="every 1/8 of the plateau length")
    ax.plot(0, 0, "r*", ms=12, label="start (saddle)")
    ax.set(xlabel=r"alignment $w$", ylabel=r"score gap $\Delta a$", title=f"Fig. 6: T = {T}, d = {d}")
    ax.legend(loc="lower right")
    return fig


@book_figure
def linearization_figure(runs: Mapping[int, reduced.Trajectory], d: int) -> Figure:
    """Fig. 7: loss and ``w`` of the reduced flow (solid) and of its linearization (dashed) for
    each ``T`` of ``runs``, time in units of the linearized escape time."""
    fig, axes = panels(2, columns=1)
    for i, (T, run) in enumerate(runs.items()):
        escape = reduced.escape_time(T, d)
        w_lin, _, loss_lin = reduced.linearized(run.times, T, d)
        for ax, exact, linear in ((axes[0], run.loss, loss_lin), (axes[1], run.w, w_lin)):
            ax.plot(run.times / escape, exact, color=f"C{i}", label=f"T = {T}")
            ax.plot(run.times / escape, linear, "--", color=f"C{i}")
    axes[0].set(xlabel=r"gradient-flow time / linearized escape time $T_\varepsilon$", ylabel="loss",
                ylim=(0, 0.55), title=f"Fig. 7: loss, d = {d} (dashed: linearization)")
    axes[1].set(xlabel=r"gradient-flow time / $T_\varepsilon$", ylabel=r"alignment $w$ (log)", yscale="log",
                ylim=(1e-2, 2 * math.sqrt(d)), title=r"Fig. 7: $w$ (dashed: $\sinh(\lambda t)$)")
    for ax in axes:
        ax.axvline(1, color="gray", ls=":", lw=1)
        ax.legend()
    return fig


@book_figure
def power_law_figure(T: np.ndarray, d: np.ndarray, plateaus: np.ndarray, fit: PowerLawFit) -> Figure:
    """Fig. 1c: plateau lengths on a ``T x d`` grid (arrays indexed ``[i_T, j_d]``) against ``T``
    and against ``d``, with the fitted law."""
    if not (T.shape == d.shape == plateaus.shape and T.ndim == 2):
        raise ValueError("T, d and plateaus must be 2-d arrays of one shape, indexed [T, d].")
    fig, axes = panels(2, columns=1, row_height=3.2)
    for j in range(T.shape[1]):
        plot_power_law(axes[0], T[:, j], plateaus[:, j], fit, "T", d=d[0, j])
        axes[0].lines[-2].set_label(f"d = {d[0, j]:g}")
    for i in range(T.shape[0]):
        plot_power_law(axes[1], d[i, :], plateaus[i, :], fit, "d", T=T[i, 0])
        axes[1].lines[-2].set_label(f"T = {T[i, 0]:g}")
    axes[0].set(xlabel="sequence length T", ylabel="plateau length (gradient-flow time)",
                title="Fig. 1c: dots = reduced flow, lines = fit")
    axes[1].set(xlabel="token dimension d", ylabel="plateau length (gradient-flow time)", title=str(fit))
    for ax in axes:
        ax.legend(ncol=2)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    return fig


@book_figure
def late_phase_figure(run: reduced.Trajectory, T: int, d: int, T_values: Sequence[int] = (64, 256, 1024, 4096)) -> Figure:
    """Fig. 8: (a) ``w_inf(alpha)/sqrt(d)`` for several ``T`` (dots at uniform attention
    ``alpha = 1/T``), (b) ``w`` of ``run`` against ``w_inf(alpha(t))``, (c) the Hessian's extreme
    eigenvalues along ``run``."""
    fig, axes = panels(3)
    alpha = np.geomspace(1 / max(T_values), 1, 400)
    for k, T_value in enumerate(T_values):
        shown = alpha >= 1 / T_value
        axes[0].plot(alpha[shown], reduced.w_inf(alpha[shown], T_value, d) / math.sqrt(d), color=f"C{k}", label=f"T = {T_value}")
        axes[0].plot(1 / T_value, reduced.w_inf(1 / T_value, T_value, d) / math.sqrt(d), "o", color=f"C{k}", ms=4)
    axes[0].set(xlabel=r"attention $\alpha$ (log; dots: uniform, $1/T$)", ylabel=r"$w_\infty(\alpha)/\sqrt{d}$",
                xscale="log", yscale="log", title=rf"(a) equilibrium of $w$ at fixed $\alpha$, d = {d}")
    axes[0].legend()
    axes[1].plot(run.times, run.w, label=r"$w(t)$")
    axes[1].plot(run.times, reduced.w_inf(run.alpha, T, d), "--", label=r"$w_\infty(\alpha(t))$")
    axes[1].set(xlabel="gradient-flow time", ylabel="alignment", ylim=(0, 3 * math.sqrt(d)), title=f"(b) T = {T}, d = {d}")
    axes[1].legend()
    low, high = reduced.hessian_eigenvalues(run.w, run.delta_a, T, d)
    axes[2].plot(run.times, high, label="largest eigenvalue")
    axes[2].plot(run.times, np.abs(low), label="|smallest eigenvalue|")
    axes[2].axvline(reduced.plateau_length(T, d), color="gray", ls=":", lw=1, label="plateau end")
    axes[2].set(xlabel="gradient-flow time", ylabel="Hessian eigenvalue (abs)", yscale="log", title="(c) curvature along the flow")
    axes[2].legend()
    return fig


@book_figure
def sgd_figure(sgd: Mapping[str, np.ndarray], theory: reduced.Trajectory, lr: float, title: str) -> Figure:
    """Fig. 9: loss, attention and alignment of every SGD seed (``train_sgd``'s arrays, time =
    steps x ``lr``) against the reduced theory."""
    time_sgd = np.asarray(sgd["steps"]) * lr
    fig, axes = panels(3, columns=1, row_height=2.2, sharex=True)
    curves = (("loss", theory.loss, "loss (exact expectation)"),
              ("alpha", theory.alpha, r"attention $\alpha$ on the relevant token"),
              ("w", theory.w, r"alignment $w$"))
    for ax, (key, curve, label) in zip(axes, curves, strict=True):
        for k, values in enumerate(sgd[key]):
            ax.plot(time_sgd, values, color="C0", alpha=0.5, lw=1, label=f"SGD, {len(sgd[key])} seeds" if k == 0 else None)
        ax.plot(theory.times, curve, color="k", ls="--", lw=1.5, label="reduced theory")
        ax.set(xlabel="gradient-flow time (= SGD steps x learning rate)", ylabel=label)
        ax.label_outer()  # the shared time axis is labelled once, under the last panel
    axes[0].set_title(title)
    axes[0].legend()
    return fig
