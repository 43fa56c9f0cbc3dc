"""Figures of 4-layer associative recall (chapter 4; runs of
:mod:`sparse_attention_lab.experiments.recall_layers`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from sparse_attention_lab.analysis.recall import THRESHOLDS, threshold_steps
from sparse_attention_lab.experiments import recall
from sparse_attention_lab.experiments.recall_layers import attention_at
from sparse_attention_lab.views.style import SMALL_FONT, book_figure, column_axes, panels


@book_figure
def emergence_against_threshold(records: Sequence[dict], thresholds: Sequence[float] = THRESHOLDS) -> Figure:
    """Emergence step (first step with test accuracy >= the threshold, mean over seeds) against
    the threshold, one line per ``(n_pairs, n_tokens)``; runs that never reached a threshold are
    left out of that point's mean and counted in the legend."""
    rows = threshold_steps(records, thresholds)
    settings = sorted({(row["n_pairs"], row["n_tokens"]) for row in rows})
    fig, ax = column_axes(3.8)
    for i, (n_pairs, n_tokens) in enumerate(settings):
        sub = [row for row in rows if (row["n_pairs"], row["n_tokens"]) == (n_pairs, n_tokens)]
        means, never = [], 0
        for level in thresholds:
            steps = [row[f"acc_{level:g}"] for row in sub]
            finite = [s for s in steps if math.isfinite(s)]
            never = max(never, len(steps) - len(finite))
            means.append(np.mean(finite) if finite else np.nan)
        label = f"N_pairs = {n_pairs}, N_tokens = {n_tokens}" + (f" ({never} never)" if never else "")
        ax.plot([100 * t for t in thresholds], means, marker="o", color=f"C{i % 10}",
                ls="-" if n_pairs <= 8 else "--", label=label)
    ax.set(xlabel="threshold on test accuracy (%)", ylabel="emergence step (mean over seeds)", yscale="log")
    ax.legend(ncol=2)
    return fig


@book_figure
def layer_head_attention(record: dict, step: float, title: str = "") -> Figure:
    """Copy attention (each value token on its key) and selection attention (the query on the
    matching value), as layers x heads heat maps, at the first evaluation at or after ``step``."""
    at = attention_at(record, step)
    fig, axes = panels(2, row_height=3.0)
    for ax, name in zip(axes, ("copy", "selection"), strict=True):
        image = ax.imshow(at[name], vmin=0, vmax=1, cmap="viridis")
        n_layers, n_heads = at[name].shape
        ax.set(xticks=range(n_heads), xticklabels=[str(h + 1) for h in range(n_heads)], xlabel="head",
               yticks=range(n_layers), yticklabels=[str(layer + 1) for layer in range(n_layers)], ylabel="layer",
               title=f"{name} attention")
        for layer in range(n_layers):
            for head in range(n_heads):
                ax.text(head, layer, f"{at[name][layer, head]:.2f}", ha="center", va="center", fontsize=SMALL_FONT,
                        color="w" if at[name][layer, head] < 0.6 else "k")
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title)
    return fig


@book_figure
def attention_by_layer(record: dict) -> Figure:
    """Over training: for each layer, the strongest head's copy and selection attention, beside
    the test accuracy."""
    steps = record["steps"]
    fig, axes = panels(3)
    for ax, name in zip(axes[:2], ("copy", "selection"), strict=True):
        values = np.asarray(record["probes"][name], dtype=float).max(-1)  # (evals, layers)
        for layer in range(values.shape[1]):
            ax.plot(steps, values[:, layer], color=f"C{layer}", label=f"layer {layer + 1}")
        ax.set(xlabel="training step", ylabel=f"{name} attention (strongest head)", ylim=(0, 1.02))
    axes[0].legend()
    axes[2].plot(steps, record["test_acc"], color="k")
    axes[2].set(xlabel="training step", ylabel="test accuracy", ylim=(0, 1.02))
    return fig


@book_figure
def long_runs(records: Sequence[dict]) -> Figure:
    """Test accuracy (no repetition) and training-distribution accuracy against steps for each
    ``(B, p)`` of ``records``, every seed."""
    fig, axes = panels(2, columns=1, row_height=2.6, sharey=True)
    settings = sorted({(recall.full_config(r)["B"], recall.full_config(r)["p"]) for r in records})
    for i, (B, p) in enumerate(settings):
        for j, record in enumerate(r for r in records if (recall.full_config(r)["B"], recall.full_config(r)["p"]) == (B, p)):
            label = f"B = {B:g}, p = {p:g}" if j == 0 else None
            axes[0].plot(record["steps"], record["test_acc"], color=f"C{i}", lw=1, label=label)
            axes[1].plot(record["steps"], record["train_acc"], color=f"C{i}", lw=1, label=label)
    axes[0].set(xlabel="training step", ylabel="test accuracy (no repetition)")
    axes[1].set(xlabel="training step", ylabel="accuracy on the training distribution")
    axes[0].legend()
    return fig
