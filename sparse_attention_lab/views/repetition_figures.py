"""Figures of chapter 2: repetition in the reduced dynamics (Figs. 2 and 10 of the paper).

Each function draws one figure from results the chapter computed and returns the ``Figure``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.theory.reduced import Trajectory
from sparse_attention_lab.views.style import book_figure, panels


def _integer_ticks(ax, values: Sequence[float]) -> None:
    ax.set_xticks(list(values), [f"{v:g}" for v in values])
    ax.xaxis.set_minor_locator(NullLocator())


@book_figure
def in_context_figure(B: np.ndarray, d: np.ndarray, plateau: np.ndarray, fit: PowerLawFit, T: int) -> Figure:
    """Fig. 2 left: plateau lengths at one ``T`` against ``d``, one line per ``B`` (dots), with the
    fitted law (dashes). ``B``, ``d``, ``plateau`` are flat arrays of the same length."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    d_line = np.geomspace(d.min(), d.max(), 50)
    for k, B_value in enumerate(np.unique(B)):
        rows = B == B_value
        ax.loglog(d[rows], plateau[rows], "o", color=f"C{k}", label=f"B = {B_value:g}")
        ax.loglog(d_line, fit.predict(T=T, B=B_value, d=d_line), "--", color=f"C{k}", lw=1)
    ax.set(xlabel="token dimension d", ylabel="plateau length (gradient-flow time)",
           title=f"In-context repetition, T = {T} (Fig. 2 left)")
    _integer_ticks(ax, np.unique(d))
    ax.legend(title="dots: reduced flow\ndashes: fitted law")
    return fig


@book_figure
def reduction_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], slopes: Sequence[float] = (-1.0, -0.5, -0.8)) -> Figure:
    """Plateau / plateau at ``B = 1`` against ``B`` for each labelled curve ``(B, plateau)``
    (first: circles, second: squares, third: crosses), with guide lines ``B^slope``."""
    styles, guides = ("o-", "s-", "kx"), (":", "-.", "--")
    if not 1 <= len(curves) <= len(styles) or len(slopes) > len(guides):
        raise ValueError(f"curves must hold 1 to {len(styles)} curves and slopes at most {len(guides)} values.")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    all_B = np.unique(np.concatenate([np.asarray(B, dtype=float) for B, _ in curves.values()]))
    for style, (label, (B, plateau)) in zip(styles[: len(curves)], curves.items(), strict=True):
        plateau = np.asarray(plateau, dtype=float)
        extra = {"ms": 9, "mew": 2} if style == "kx" else {}
        ax.loglog(B, plateau / plateau[0], style, label=label, **extra)
    B_line = np.geomspace(1, all_B.max(), 20)
    for slope, style in zip(slopes, guides[: len(slopes)], strict=True):
        ax.loglog(B_line, B_line**slope, style, color="gray", lw=1)
        ax.annotate(f"$B^{{{slope:g}}}$", (B_line[-1], B_line[-1] ** slope), color="gray",
                    xytext=(3, 0), textcoords="offset points", va="center")
    ax.set(xlabel="in-context repetition B (copies of the relevant token)", ylabel="plateau / plateau at B = 1",
           title="Which reduction does the toy model follow?")
    _integer_ticks(ax, all_B)
    ax.legend()
    return fig


@book_figure
def cross_sample_figure(d: np.ndarray, p: np.ndarray, f: np.ndarray, plateau: np.ndarray, fit: PowerLawFit,
                        fit_label: str, paper: tuple[float, float], T: int) -> Figure:
    """Fig. 2 right: plateau lengths against ``d`` per ``p`` (left) and against the predicted scale
    ``f`` (right), with the tied fit ``fit`` (dashes, ``fit_label``) and the paper's law ``C f^g``
    (dots, ``paper = (C, g)``). ``d``, ``p``, ``f``, ``plateau`` are flat arrays of one length."""
    fig, axes = panels(2, columns=1, row_height=3.2)
    ps = np.unique(p)
    for color, p_value in zip(plt.cm.viridis(np.linspace(0, 0.9, len(ps))), ps, strict=True):
        rows = p == p_value
        axes[0].loglog(d[rows], plateau[rows], "o-", color=color, label=f"p = {p_value:g}")
        axes[1].loglog(f[rows], plateau[rows], "o", color=color)
    f_line = np.geomspace(f.min(), f.max(), 50)
    g = fit.exponents["T"]
    axes[1].loglog(f_line, fit.prefactor * f_line**g, "k--", lw=1, label=f"{fit_label}: {fit.prefactor:.2f} f^{g:.2f}")
    axes[1].loglog(f_line, paper[0] * f_line ** paper[1], ":", color="gray", label=f"paper: {paper[0]:g} f^{paper[1]:g}")
    axes[0].set(xlabel="token dimension d", ylabel="plateau length (gradient-flow time)",
                title=f"Cross-sample repetition, T = {T} (Fig. 2 right)")
    _integer_ticks(axes[0], np.unique(d))
    axes[1].set(xlabel="f(p, d) = sqrt(d) T / sqrt(p^2 d + (1-p)^2)", ylabel="plateau length (gradient-flow time)",
                title="The same points against the predicted scale f")
    axes[0].legend(ncol=2)
    axes[1].legend()
    return fig


@book_figure
def three_variable_figure(flows: Mapping[float, Trajectory], T: int, d: int) -> Figure:
    """Fig. 10: test and training loss, ``w1`` and ``w/sqrt(d-1)``, and ``alpha`` of the
    three-variable flow for each ``p`` of ``flows`` (``p = 0``: ``w/sqrt(d)``)."""
    fig, axes = panels(3)
    for k, (p, flow) in enumerate(flows.items()):
        c = f"C{k}"
        axes[0].plot(flow.times, flow.test_loss, color=c, label=f"p = {p:g}")
        if p > 0:
            axes[0].plot(flow.times, flow.loss, color=c, ls=":")
            axes[1].plot(flow.times, flow.w1, color=c, label=f"$w_1$, p = {p:g}")
            axes[1].plot(flow.times, flow.w / math.sqrt(d - 1), color=c, ls="--")
        else:
            axes[1].plot(flow.times, flow.w / math.sqrt(d), color=c, label="$w / \\sqrt{d}$, p = 0")
        axes[2].plot(flow.times, flow.alpha, color=c, label=f"p = {p:g}")
    axes[0].set(ylabel="loss", title="test loss (solid), training loss (dotted)")
    axes[1].set(ylabel="alignment per column", title="$w_1$ (solid) and $w/\\sqrt{d-1}$ (dashed)", ylim=(-0.1, 3))
    axes[2].set(ylabel="attention $\\alpha$ on the relevant token", title="attention")
    for ax in axes:
        ax.set_xlabel("gradient-flow time")
        ax.legend()
    fig.suptitle(f"Three-variable flow with cross-sample repetition, T = {T}, d = {d} (Fig. 10)")
    return fig


@book_figure
def settling_figure(late: Mapping[float, Trajectory], settling: Mapping[float, float], deep: float, T: int, d: int) -> Figure:
    """The long-run price of ``p``: test losses of ``late`` (left) and the time from the escape to
    ``deep`` x the initial test loss against ``1 - p`` (right; ``settling`` must contain ``p = 0``)."""
    if 0.0 not in settling:
        raise ValueError("settling must contain p = 0, the reference of the 1/(1 - p) guide.")
    fig, axes = panels(2, columns=1, row_height=3.2)
    for k, (p, flow) in enumerate(late.items()):
        axes[0].loglog(flow.times[1:], flow.test_loss[1:], color=plt.cm.viridis(k / len(late)), label=f"p = {p:g}")
    axes[0].axhline(deep * 0.5, color="gray", ls=":", lw=1)
    axes[0].set(xlabel="gradient-flow time", ylabel="test loss (no repetition)", ylim=(1e-7, 1),
                title=f"Test loss, T = {T}, d = {d}")
    axes[0].legend()
    ps = np.array(sorted(settling))
    axes[1].loglog(1 - ps, [settling[p] for p in ps], "o-", label="reduced flow")
    axes[1].loglog(1 - ps, settling[0.0] / (1 - ps), "k--", lw=1, label="(time at p = 0) / (1 - p)")
    axes[1].set(xlabel="1 - p (weight of the non-repeated directions)", ylabel="time from escape to deep level",
                title=f"Settling after the escape ({deep:g} x initial loss)")
    axes[1].legend()
    return fig
