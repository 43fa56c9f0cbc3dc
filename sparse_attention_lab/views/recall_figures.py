"""Figures of chapter 4: associative recall (Figs. 4, 5, 16, 17 of the paper).

Each figure function draws one figure from run records (as :func:`~sparse_attention_lab.experiments.recall.run`
returns them, or loaded from a cached sweep) and returns the matplotlib ``Figure``;
:func:`add_repetition_rows` writes the scorecard rows of Figs. 5 and 16 (paired speed-ups, the one verdict rule).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from sparse_attention_lab.analysis.recall import repetition_speedups
from sparse_attention_lab.experiments.recall_summary import setting_of
from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.tasks import AssociativeRecall
from sparse_attention_lab.views.scorecard import Scorecard
from sparse_attention_lab.views.style import book_figure, column_axes, panels


def sequence_text(tokens: Sequence[int]) -> str:
    """A sequence as letters, pairs then the query after a bar: ``"TU DS QZ | Q"``."""
    letters = [chr(ord("A") + int(t)) if int(t) < 26 else f"<{int(t)}>" for t in tokens]
    pairs = " ".join(letters[i] + letters[i + 1] for i in range(0, len(letters) - 1, 2))
    return f"{pairs} | {letters[-1]}"


@book_figure
def live_run_figure(records: Sequence[dict], task: AssociativeRecall, threshold: float) -> Figure:
    """Test accuracy of every seed, then the copy, selection and induction probes of every head of
    the first seed (dashed: layer 1; the dotted line marks where accuracy passes ``threshold``)."""
    record = records[0]
    steps = np.array(record["steps"])
    fig, axes = panels(4)
    for r in records:
        axes[0].plot(r["steps"], r["test_acc"], color=f"C{r['seed']}", label=f"seed {r['seed']}")
    axes[0].axhline(1 / task.n_pairs, color="gray", ls=":", lw=1, label="1 / N_pairs")
    axes[0].axhline(1 / task.n_tokens, color="gray", ls="--", lw=1, label="1 / N_tokens (chance)")
    axes[0].set(xlabel="training step", ylabel="test accuracy", title="Accuracy", ylim=(0, 1))
    axes[0].legend()
    escape = record["escape_step"]
    for ax, name in zip(axes[1:], ("copy", "selection", "induction"), strict=True):
        values = np.array(record["probes"][name])  # (evaluations, layers, heads)
        for layer in range(values.shape[1]):
            for head in range(values.shape[2]):
                ax.plot(steps, values[:, layer, head], color=f"C{layer + 2}", ls="-" if layer else "--",
                        lw=1, label=f"layer {layer + 1}" if head == 0 else None)
        if name == "selection":
            ax.axhline(1 / task.seq_len, color="gray", lw=0.8, ls=":", label="uniform")
        if escape is not None and math.isfinite(escape):
            ax.axvline(escape, color="k", lw=0.8, ls=":")
        ax.set(xlabel="training step", ylabel="mean attention weight", title=f"{name} (seed {record['seed']}, every head)",
               ylim=(0, 1))
        ax.legend()
    return fig


@book_figure
def grid_curves_figure(records: Sequence[dict], threshold: float, n_tokens: int, n_pairs: int) -> Figure:
    """Fig. 4 left and middle: test accuracy of seed 0 against steps, varying ``n_pairs`` at
    ``n_tokens`` (left) and ``n_tokens`` at ``n_pairs`` (middle); the dashed line is ``threshold``."""
    fig, axes = panels(2, sharey=True)
    for ax, key, fixed_key, fixed in ((axes[0], "n_pairs", "n_tokens", n_tokens), (axes[1], "n_tokens", "n_pairs", n_pairs)):
        chosen = sorted((r for r in records if r["config"][fixed_key] == fixed and r["seed"] == 0),
                        key=lambda r: r["config"][key])
        for i, r in enumerate(chosen):
            ax.plot(r["steps"], r["test_acc"], color=f"C{i}", label=f"{key} = {r['config'][key]}")
        ax.axhline(threshold, color="gray", lw=0.8, ls="--")
        ax.set(xlabel="training step", title=f"{fixed_key} = {fixed} (seed 0)")
        ax.legend()
    axes[0].set_ylabel("test accuracy")
    return fig


@book_figure
def emergence_grid_figure(rows: Sequence[dict], law: PowerLawFit, threshold: float) -> Figure:
    """Fig. 4 right: emergence steps (dots, one per run; ``rows`` from
    :func:`~sparse_attention_lab.analysis.recall.emergence_rows`) against ``N_pairs`` and
    against ``N_tokens``, with the joint fit ``law`` (lines)."""
    found = [r for r in rows if math.isfinite(r["emergence"])]
    fig, axes = panels(2, columns=1, row_height=3.0)
    for ax, key, other in ((axes[0], "n_pairs", "n_tokens"), (axes[1], "n_tokens", "n_pairs")):
        for i, value in enumerate(sorted({r[other] for r in found})):
            mine = [r for r in found if r[other] == value]
            xs = np.array(sorted({r[key] for r in mine}), dtype=float)
            ax.scatter([r[key] for r in mine], [r["emergence"] for r in mine], color=f"C{i}", s=14)
            names = {"n_pairs": "N_pairs", "n_tokens": "N_tokens"}
            ax.plot(xs, law.predict(**{names[key]: xs, names[other]: np.full(len(xs), value)}), color=f"C{i}",
                    label=f"{other} = {value}")
        ax.set(xscale="log", yscale="log", xlabel=key.replace("n_", "N_"), ylabel=f"steps to {threshold:.0%} test accuracy",
               title=f"Emergence vs {key.replace('n_', 'N_')} (lines: joint fit)")
        ticks = sorted({r[key] for r in found})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        steps = [r["emergence"] for r in found]
        y_ticks = [t for t in (100, 200, 500, 1000, 2000, 5000, 10000) if min(steps) / 2 <= t <= 2 * max(steps)]
        ax.set_yticks(y_ticks, [str(t) for t in y_ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.legend()
    return fig


def _repetition_panels(settings: Sequence[tuple[float, float]]) -> list[tuple[str, list[tuple[float, float]]]]:
    return [("in-context repetition B", [s for s in settings if s[1] == 0]),
            ("cross-sample repetition p", [s for s in settings if s[0] == 1])]


def _label(setting: tuple[float, float], title: str) -> str:
    return f"B = {setting[0]:g}" if title.startswith("in-context") else f"p = {setting[1]:g}"


@book_figure
def repetition_curves_figure(records: Sequence[dict]) -> Figure:
    """Figs. 5 and 16: accuracy (mean of seeds) on test data without repetition (top) and on the
    training distribution (bottom), varying ``B`` at ``p = 0`` (left) and ``p`` at ``B = 1`` (right)."""
    settings = sorted({setting_of(r) for r in records})
    fig, axes = panels(4, sharex=True, sharey=True)
    axes = np.reshape(axes, (2, 2))
    for col, (title, chosen) in enumerate(_repetition_panels(settings)):
        for i, s in enumerate(chosen):
            mine = [r for r in records if setting_of(r) == s]
            for row, curve in enumerate(("test_acc", "train_acc")):
                axes[row, col].plot(mine[0]["steps"], np.mean([r[curve] for r in mine], axis=0), color=f"C{i}",
                                    label=_label(s, title))
        axes[0, col].set_title(title)
        axes[0, col].legend()
        axes[1, col].set_xlabel("training step")
    axes[0, 0].set_ylabel("test accuracy\n(no repetition)")
    axes[1, 0].set_ylabel("accuracy on the\ntraining distribution")
    n_seeds = len(records) // max(len(settings), 1)
    fig.suptitle(f"Mean of {n_seeds} seeds; top: Fig. 5, bottom: Fig. 16")
    return fig


@book_figure
def threshold_figure(test: Mapping[tuple[float, float], Sequence[float]], train: Mapping[tuple[float, float], Sequence[float]],
                     thresholds: Sequence[float]) -> Figure:
    """Emergence step against the accuracy threshold, for each ``B`` (left) and ``p`` (right):
    on test data without repetition (solid) and on the training distribution (dotted); a
    setting that never reached a threshold leaves a gap. ``test``/``train`` map ``(B, p)`` to the
    step at each threshold (:func:`~sparse_attention_lab.analysis.recall.emergence_by_threshold`)."""
    fig, axes = panels(2, sharey=True, row_height=3.2)
    x = 100 * np.asarray(thresholds, dtype=float)
    for ax, (title, chosen) in zip(axes, _repetition_panels(sorted(test)), strict=True):
        for i, s in enumerate(chosen):
            for curves, style in ((test, "-"), (train, ":")):
                steps = np.asarray(curves[s], dtype=float)
                ax.plot(x, np.where(np.isfinite(steps), steps, np.nan), style, color=f"C{i}", marker="o", ms=3,
                        label=_label(s, title) if style == "-" else None)
        ax.set(xlabel="accuracy threshold (%)", yscale="log", title=title)
        ax.legend(title="solid: test data\ndotted: training data")
    axes[0].set_ylabel("emergence step (mean of seeds)")
    return fig


@book_figure
def query_kind_figure(records: Sequence[dict]) -> Figure:
    """Test accuracy on queries that are one of the two repeated tokens (solid) and on the other
    queries (dashed), mean of seeds, one colour per ``p`` (records with a ``QueryKindProbe``)."""
    fig, ax = column_axes(4.0)
    for i, p in enumerate(sorted({setting_of(r)[1] for r in records})):
        mine = [r for r in records if setting_of(r)[1] == p]
        for name, style in (("repeated", "-"), ("other", "--")):
            ax.plot(mine[0]["steps"], np.mean([r["probes"][name] for r in mine], axis=0), style, color=f"C{i}",
                    label=f"p = {p:g}, {name} queries")
    ax.set(xlabel="training step", ylabel="test accuracy (no repetition)", ylim=(0, 1),
           title="Accuracy by kind of query (mean of seeds)")
    ax.legend(ncol=2)
    return fig


TEST_CLAIM = {
    "B": '"a factor of 4 for in-context repetition" (Sec. 3.2; threshold not stated); Fig. 5: '
         '"significant benefits of small amount of repetition"',
    "p": '"a factor of 2 for cross-sample repetition" (Sec. 3.2; threshold not stated); Fig. 5: '
         '"significant benefits of small amount of repetition"',
}
TRAIN_CLAIM = '"repetition always speeds up learning on the train loss" (Sec. 3.2, Fig. 16)'


def _kind(setting: tuple[float, float]) -> str:
    return "B" if setting[1] == 0 else "p"


def _ratio_text(setting: tuple[float, float], ratio) -> str:
    name = f"B = {setting[0]:g}" if _kind(setting) == "B" else f"p = {setting[1]:g}"
    return f"{name}: " + ("-" if ratio is None else ratio.plus_minus())


def add_repetition_rows(card: Scorecard, records: Sequence[dict], threshold: float, section: str, scale: str) -> None:
    """Scorecard rows of Figs. 5 and 16, by the one rule of
    :func:`~sparse_attention_lab.analysis.verdicts.direction` on paired speed-ups
    (:func:`~sparse_attention_lab.analysis.recall.repetition_speedups`):

    - test data (Fig. 5): the paper finds "significant benefits of small amount of repetition", so
      the smallest repetition of each kind is judged; the others are listed beside it;
    - training distribution (Fig. 16): "always faster", so it holds when every setting is resolved
      faster, does not hold when one is resolved slower, and is unresolved otherwise."""
    for kind, what in (("B", "in-context repetition B"), ("p", "cross-sample repetition p")):
        for curve, where in (("test", "test data"), ("train", "the training distribution")):
            speedups = {s: r for s, r in repetition_speedups(records, threshold, curve).items() if _kind(s) == kind}
            if not speedups:
                raise ValueError(f"records hold no setting of {what}.")
            listed = "; ".join(_ratio_text(s, r) for s, r in speedups.items())
            found = {s: r.direction() if r is not None else "unresolved" for s, r in speedups.items()}
            if curve == "test":
                smallest = min(speedups, key=lambda s: s[0] if kind == "B" else s[1])
                card.directions(f"Fig. 5: the smallest {what} speeds learning on {where}", TEST_CLAIM[kind],
                                [found[smallest]], "above", listed, scale, section)
            else:
                card.directions(f"Fig. 16: {what} speeds learning on {where}", TRAIN_CLAIM, list(found.values()),
                                "above", listed, scale, section)
