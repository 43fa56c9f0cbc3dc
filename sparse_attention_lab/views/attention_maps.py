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
import PIL.Image
from IPython.display import display
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sparse_attention_lab.tasks.recall import query_slots
from sparse_attention_lab.views.live_explorer import image_for, wrapping_row
from sparse_attention_lab.views.style import BOOK_DPI, COLUMN_WIDTH_IN


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
    """Before / during / after the jump (rows of subfigures), each a layers x heads grid; a run
    that never reached ``accuracy`` (one cut short, e.g. by ``$SAL_MAX_STEPS``) shows its first,
    middle and last checkpoints, titled so."""
    maps = _checked_maps(record)
    jumped = max(record["test_acc"]) >= accuracy
    last = len(record["steps"]) - 1
    chosen = jump_checkpoints(record, accuracy) if jumped else {"start": 0, "middle": last // 2, "end": last}
    n_layers, n_heads = maps.shape[1:3]
    side = min(1.9, (COLUMN_WIDTH_IN - 0.8) / n_heads)  # each map's side, in inches: the grid fits the column
    fig = Figure(figsize=(side * n_heads + 0.8, side * n_layers * len(chosen) + 0.8), dpi=BOOK_DPI, layout="constrained")
    for sub, (name, index) in zip(fig.subfigures(len(chosen), 1), chosen.items(), strict=True):
        when = f"{name} the jump" if jumped else f"{name} of a run without a jump to {accuracy:.0%}"
        title = (f"{when}: step {record['steps'][index]}, "
                 f"test accuracy {record['test_acc'][index]:.2f}{member_label}")
        draw_checkpoint(sub, maps[index], tokens, title)
    return fig


VIEWER_DPI = 90
"""Resolution of the live viewer's picture (shown at its natural size)."""


class AttentionViewer:
    """A slider over the saved checkpoints of ``record``: accuracy curve and that step's maps.

    The figure is drawn once without its moving parts (the maps and what lies on them, the
    step marker, the title); a slider move restores that background and draws only the moving
    parts over it (blitting) before encoding the PNG: tens of milliseconds, where a new figure
    cost a second.
    """

    def __init__(self, record: dict, tokens) -> None:
        self.record, self.tokens, self.maps = record, tokens, _checked_maps(record)
        n_layers, n_heads = self.maps.shape[1:3]
        width, maps_height = 1.6 * n_heads + 1.0, 1.6 * n_layers + 0.6
        self.figure = Figure(figsize=(width, maps_height + 2.0), dpi=VIEWER_DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        top, bottom = self.figure.subfigures(2, 1, height_ratios=[2.0, maps_height])
        # Fixed margins in inches (no layout engine: the background is drawn once, as laid out).
        top.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, bottom=0.45 / 2.0, top=1 - 0.12 / 2.0)
        ax = top.subplots()
        ax.plot(record["steps"], record["test_acc"], label="test (no repetition)")
        ax.plot(record["steps"], record["train_acc"], ls="--", label="training distribution")
        self.marker = ax.axvline(record["steps"][0], color="k", lw=1)
        ax.set(xlabel="training step", ylabel="accuracy", ylim=(0, 1.02))
        ax.legend(fontsize=7, loc="upper left")
        axes = draw_checkpoint(bottom, self.maps[0], tokens)
        bottom.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, bottom=0.55 / maps_height,
                               top=1 - 0.45 / maps_height, wspace=0.15, hspace=0.3)
        self.map_images = [[cell.images[0] for cell in row] for row in axes]
        self.title = bottom.suptitle(" ", fontsize=10)
        cells = [cell for row in axes for cell in row]
        # Drawn in this order over the background: the maps, then what a full drawing puts on
        # top of them (their outlined cells, the frames around them), the marker and the title.
        self._moving = ([image for row in self.map_images for image in row]
                        + [patch for cell in cells for patch in cell.patches]
                        + [spine for cell in cells for spine in cell.spines.values()]
                        + [self.marker, self.title])
        for artist in self._moving:
            artist.set_animated(True)
        self.canvas.draw()  # everything that never moves
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.slider = widgets.IntSlider(
            value=0, min=0, max=len(self.maps) - 1, description="checkpoint", continuous_update=False,
            style={"description_width": "80px"}, layout=widgets.Layout(width="420px"),
        )
        self.status = widgets.Label()
        self.status.add_class("sal-status")
        self.image = image_for(self.figure, "sal-figure")
        self.slider.observe(lambda change: self.draw(), names="value")
        self.widget = widgets.VBox([wrapping_row([self.slider, self.status]), self.image])
        self.widget.add_class("sal-attention-viewer")
        self.draw()

    def draw(self) -> None:
        """Show the slider's checkpoint: new maps, marker and title over the background, as PNG."""
        index, r = self.slider.value, self.record
        step = r["steps"][index]
        for row, maps in zip(self.map_images, self.maps[index], strict=True):
            for image, cell in zip(row, maps, strict=True):
                image.set_data(cell)
        self.marker.set_xdata([step, step])
        self.title.set_text(f"attention maps at step {step}")
        self.canvas.restore_region(self._background)
        for artist in self._moving:
            self.figure.draw_artist(artist)
        self.status.value = (f"step {step}: test accuracy {r['test_acc'][index]:.2f}, "
                             f"training distribution {r['train_acc'][index]:.2f}")
        self.image.value = self._png()

    def _png(self) -> bytes:
        """The canvas as it is now, encoded as PNG (``print_png`` would redraw everything)."""
        buffer = io.BytesIO()
        PIL.Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def _ipython_display_(self) -> None:
        display(self.widget)
