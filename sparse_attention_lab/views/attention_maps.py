"""Attention maps of an associative-recall run over training (Fig. 17 of the paper).

A run trained with ``RecallProbe(task, keep_maps=True)`` stores, at every evaluation, the
attention maps of one test sequence (``record["probes"]["maps"]``: per checkpoint, layers x
heads x ``T`` x ``T``). This module draws them:

- :func:`draw_checkpoint`: one checkpoint, a grid of layers x heads, with the two cells an
  induction head needs outlined (copy: the relevant value looks at its key; selection: the
  query looks at the relevant value);
- :func:`jump_checkpoints` and :func:`snapshot_figure`: checkpoints before, during and after
  the jump, for the static book;
- :class:`AttentionViewer`: a slider over every saved checkpoint, for the live notebook.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sparse_attention_lab.tasks.recall import query_slots


def token_labels(tokens) -> list[str]:
    """Axis labels: ``k<id>`` for keys, ``v<id>`` for values, ``q<id>`` for the query."""
    ids = [int(t) for t in tokens]
    return [f"{'kv'[i % 2]}{t}" for i, t in enumerate(ids[:-1])] + [f"q{ids[-1]}"]


def _checked_maps(record: dict) -> np.ndarray:
    maps = record.get("probes", {}).get("maps")
    if not maps:
        raise ValueError("record has no saved attention maps: train with RecallProbe(..., keep_maps=True).")
    return np.asarray(maps)  # (checkpoints, layers, heads, T, T)


def draw_checkpoint(fig: Figure, maps: np.ndarray, tokens, title: str = "") -> list[list[Axes]]:
    """Draw one checkpoint's maps (``(layers, heads, T, T)``) on ``fig`` as a layers x heads grid."""
    maps = np.asarray(maps)
    if maps.ndim != 4:
        raise ValueError(f"maps must have shape (layers, heads, T, T), got {maps.shape}.")
    n_layers, n_heads, length, _ = maps.shape
    labels = token_labels(tokens)
    relevant = [2 * s for s, hit in enumerate(query_slots(np.asarray(tokens)[None])[0]) if hit]
    axes = fig.subplots(n_layers, n_heads, squeeze=False)
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer][head]
            ax.imshow(maps[layer, head], vmin=0, vmax=1, cmap="viridis")
            for key in relevant:  # copy cell (value -> key), selection cell (query -> value)
                for row, col, colour in ((key + 1, key, "tab:orange"), (length - 1, key + 1, "tab:red")):
                    ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, lw=1.5, ec=colour))
            ax.set_xticks(range(length), labels if layer == n_layers - 1 else [], rotation=90, fontsize=6)
            ax.set_yticks(range(length), labels if head == 0 else [], fontsize=6)
            ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=8)
    fig.supxlabel("attended token (key side)", fontsize=9)
    fig.supylabel("attending token (query side)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return axes


def jump_checkpoints(record: dict, accuracy: float) -> dict[str, int]:
    """Checkpoint indices before, during and after the jump of the test accuracy.

    With ``e`` the step at which test accuracy first reaches ``accuracy``: *before* is the
    checkpoint nearest ``e / 2`` (on the plateau), *during* the one nearest ``e``, *after* the
    last one. Raises ``ValueError`` when the run never reached ``accuracy``.
    """
    steps = np.asarray(record["steps"], dtype=float)
    acc = np.asarray(record["test_acc"])
    reached = np.nonzero(acc >= accuracy)[0]
    if reached.size == 0:
        raise ValueError(f"the run never reached accuracy {accuracy}: no jump to show.")
    jump = steps[reached[0]]
    return {
        "before": int(np.abs(steps - jump / 2).argmin()),
        "during": int(reached[0]),
        "after": len(steps) - 1,
    }


def snapshot_figure(record: dict, tokens, accuracy: float, member_label: str = "") -> Figure:
    """Before / during / after the jump (rows of subfigures), each a layers x heads grid."""
    maps = _checked_maps(record)
    chosen = jump_checkpoints(record, accuracy)
    n_layers, n_heads = maps.shape[1:3]
    fig = Figure(figsize=(1.9 * n_heads + 0.8, 1.9 * n_layers * len(chosen) + 0.8), layout="constrained")
    for sub, (name, index) in zip(fig.subfigures(len(chosen), 1), chosen.items(), strict=True):
        title = (f"{name} the jump: step {record['steps'][index]}, "
                 f"test accuracy {record['test_acc'][index]:.2f}{member_label}")
        draw_checkpoint(sub, maps[index], tokens, title)
    return fig


class AttentionViewer:
    """A slider over the saved checkpoints of ``record``: accuracy curve and that step's maps."""

    def __init__(self, record: dict, tokens) -> None:
        self.record, self.tokens, self.maps = record, tokens, _checked_maps(record)
        self.slider = widgets.IntSlider(
            value=0, min=0, max=len(self.maps) - 1, description="checkpoint", continuous_update=False
        )
        self.image = widgets.Image(format="png")
        self.slider.observe(lambda change: self.draw(), names="value")
        self.widget = widgets.VBox([self.slider, self.image])
        self.draw()

    def figure(self, index: int) -> Figure:
        """The viewer's picture at checkpoint ``index``."""
        r = self.record
        n_layers, n_heads = self.maps.shape[1:3]
        fig = Figure(figsize=(1.9 * n_heads + 0.8, 1.9 * n_layers + 2.4), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.9 * n_layers / 2.2])
        ax = top.subplots()
        ax.plot(r["steps"], r["test_acc"], label="test (no repetition)")
        ax.plot(r["steps"], r["train_acc"], ls="--", label="training distribution")
        ax.axvline(r["steps"][index], color="k", lw=1)
        ax.set(xlabel="training step", ylabel="accuracy", ylim=(0, 1.02))
        ax.legend(fontsize=7)
        draw_checkpoint(bottom, self.maps[index], self.tokens, f"step {r['steps'][index]}")
        return fig

    def draw(self) -> None:
        """Render the current checkpoint into the image widget."""
        buffer = io.BytesIO()
        FigureCanvasAgg(self.figure(self.slider.value)).print_png(buffer)
        self.image.value = buffer.getvalue()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
