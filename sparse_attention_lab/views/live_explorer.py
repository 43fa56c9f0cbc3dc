"""Live what-if explorers for a running kernel: ipywidgets sliders over a matplotlib figure.

:class:`LiveExplorer` is the kernel-side twin of :func:`sparse_attention_lab.views.static_explorer.static_explorer`:
it takes the same ``compute(setting) -> Frame`` function and the same
:class:`~sparse_attention_lab.views.static_explorer.Panel` s, recomputes the frame whenever a slider moves
and redraws an existing figure in place (``set_data`` on its lines, no new figure). Any
chapter can build one for its own model (chapter 2's is :mod:`sparse_attention_lab.views.repetition`).

The figure is rendered by matplotlib's Agg canvas into an ``ipywidgets.Image``, so the
widget needs no interactive matplotlib backend. :func:`figure_png` and :func:`image_for` are
shared by every live widget of the book: images keep their natural pixel size (shrunk only
when the output area is narrower), and control rows wrap, so the widgets fit a 1024 px window
with JupyterLab's sidebar open. Everything here runs under ipywidgets 7.6+ (Colab) and 8.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from IPython.display import display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, LogLocator, MaxNLocator, NullLocator

from sparse_attention_lab.views.static_explorer import Frame, Panel

SLIDER_LAYOUT = {"width": "270px"}
"""Each slider's box (label, track, readout): in a row that wraps, two or three fit side by side in
JupyterLab at 1024 to 1280 px with the sidebar open, each track 110 to 160 px wide."""
SLIDER_STYLE = {"description_width": "initial"}
"""Labels as wide as their text: a one-letter name leaves the room to the track."""

MARKER_STYLES = ({"color": "k", "ls": "--"}, {"color": "C3", "ls": ":"}, {"color": "gray", "ls": "-."})
"""Line styles of the vertical markers, in the order of :attr:`Frame.markers`."""
MARKER_NAMES = ("black dashed", "red dotted", "gray dash-dotted")
"""How the status line names :data:`MARKER_STYLES` for the reader."""


def figure_png(figure: Figure) -> bytes:
    """``figure`` drawn by Agg and encoded as PNG (fast compression: the bytes only go to the browser)."""
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.canvas.print_png(buffer, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def image_for(figure: Figure, css_class: str = "") -> widgets.Image:
    """An empty PNG image widget shown at ``figure``'s natural size in CSS pixels.

    Narrower only when the output area is (``max-width: 100%``, aspect kept); never stretched
    to the output's width, which blurs the picture and pushes the controls off screen.
    """
    width = round(figure.get_figwidth() * figure.dpi)
    image = widgets.Image(format="png", layout=widgets.Layout(width=f"{width}px", max_width="100%", height="auto"))
    if css_class:
        image.add_class(css_class)
    return image


def wrapping_row(children: Sequence[widgets.Widget]) -> widgets.HBox:
    """A row of controls that wraps onto new lines instead of squeezing its children."""
    return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap"))


class LiveExplorer:
    """Sliders over ``params`` redrawing the frame ``compute(setting)`` in ``panels``.

    ``params`` maps each parameter name to the values its slider offers (in order);
    ``initial`` picks the starting values (nearest offered value; default: the middle).
    :meth:`update` recomputes and redraws; it runs on every slider change. While a slider
    moves, the x axis stays fixed: it spans the frames of every value of that slider (the others
    as set), so that plateau lengths compare by eye; frames are computed once and kept. A
    ``compute`` that raises ``ValueError`` or ``NotImplementedError`` for a setting shows the
    message instead of a drawing.
    """

    def __init__(
        self,
        params: Mapping[str, Sequence[float]],
        compute: Callable[[dict[str, float]], Frame],
        panels: Sequence[Panel],
        *,
        x_label: str,
        log_x: bool = True,
        initial: Mapping[str, float] | None = None,
        dpi: int = 80,
    ) -> None:
        if not params:
            raise ValueError("params: give at least one parameter with its values.")
        if not panels:
            raise ValueError("panels: give at least one Panel.")
        unknown = set(initial or {}) - set(params)
        if unknown:
            raise ValueError(f"initial names unknown parameters {sorted(unknown)}.")
        self.compute = compute
        self.panels = tuple(panels)
        self.log_x = log_x
        self._frames: dict[tuple, Frame] = {}
        self.held: str | None = None  # the slider moved last: the x axis spans the frames along it
        self.controls: dict[str, widgets.SelectionSlider] = {}
        for name, values in params.items():
            if len(values) == 0:
                raise ValueError(f"params[{name!r}] must list at least one value.")
            start = values[(len(values) - 1) // 2]
            if initial is not None and name in initial:
                start = min(values, key=lambda v, target=initial[name]: abs(v - target))
            self.controls[name] = widgets.SelectionSlider(
                options=[(f"{v:g}", v) for v in values], value=start, description=name, continuous_update=False,
                layout=widgets.Layout(**SLIDER_LAYOUT), style=SLIDER_STYLE,
            )
        self.figure = Figure(figsize=(3.4 * len(self.panels), 2.9), dpi=dpi)
        self.figure.subplots_adjust(left=0.08, right=0.99, bottom=0.17, top=0.9, wspace=0.36)
        FigureCanvasAgg(self.figure)
        self.axes = self.figure.subplots(1, len(self.panels), squeeze=False)[0]
        self.lines = {}
        for ax, panel in zip(self.axes, self.panels, strict=True):
            for curve in panel.curves:
                (self.lines[panel.title, curve],) = ax.plot([], [], lw=1.8, label=curve)
            ax.set(xlabel=x_label, ylabel=panel.y_label,
                   xscale="log" if log_x else "linear", yscale="log" if panel.log_y else "linear")
            # Text is most of a redraw: few ticks, and title and axis labels at fixed places
            # (matplotlib otherwise measures every tick label to place them, on every draw).
            ax.set_title(panel.title, y=1.0)
            ax.xaxis.set_label_coords(0.5, -0.12)
            ax.yaxis.set_label_coords(-0.27 if panel.log_y else -0.2, 0.5)
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_scale() == "log":
                    axis.set_major_locator(LogLocator(numticks=6))
                    axis.set_minor_locator(NullLocator())
                    axis.set_major_formatter(LogFormatter())  # plain text, no mathtext
                else:
                    axis.set_major_locator(MaxNLocator(4))
        self.markers: dict[tuple[str, str], object] = {}
        self.image = image_for(self.figure, "sal-figure")
        self.legend = image_for(self.figure, "sal-legend")
        self.legend.value = self._legend_png(dpi)
        self.status = widgets.HTML()
        self.status.add_class("sal-status")
        for name, control in self.controls.items():
            control.observe(lambda _change, moved=name: self.update(moved), names="value")
        self.widget = widgets.VBox([wrapping_row(self.controls.values()), self.legend, self.image, self.status])
        self.widget.add_class("sal-live-explorer")
        self.update()

    def settings(self) -> dict[str, float]:
        """The current slider values."""
        return {name: control.value for name, control in self.controls.items()}

    def frame(self, setting: Mapping[str, float]) -> Frame:
        """``compute(setting)``, computed once per setting."""
        key = tuple(sorted(setting.items()))
        if key not in self._frames:
            self._frames[key] = self.compute(dict(setting))
        return self._frames[key]

    def x_range(self) -> tuple[float, float] | None:
        """The x span of the frames along the slider moved last (``None`` before any move)."""
        if self.held is None:
            return None
        xs = []
        for value in (v for _, v in self.controls[self.held].options):
            try:
                x = np.asarray(self.frame(self.settings() | {self.held: value}).x, dtype=float)
            except (ValueError, NotImplementedError):
                continue
            xs.append(x[np.isfinite(x) & (x > 0)] if self.log_x else x[np.isfinite(x)])
        xs = np.concatenate(xs) if xs else np.array([])
        return (float(xs.min()), float(xs.max())) if xs.size else None

    def update(self, moved: str | None = None) -> Frame | None:
        """Recompute the frame of the current setting and redraw it; return it (``None`` if refused).
        ``moved`` names the slider that moved (the x axis then spans its frames, :meth:`x_range`)."""
        if moved is not None:
            self.held = moved
        try:
            frame = self.frame(self.settings())
        except (ValueError, NotImplementedError) as error:
            self.status.value = f"<b>Not available:</b> {error}"
            return None
        self.draw(frame)
        return frame

    def draw(self, frame: Frame) -> None:
        """Put ``frame`` on the existing figure (lines and markers updated in place) and render it."""
        x = np.asarray(frame.x, dtype=float)
        span = self.x_range()
        for ax, panel in zip(self.axes, self.panels, strict=True):
            for curve in panel.curves:
                self.lines[panel.title, curve].set_data(x, np.asarray(frame.curves[curve], dtype=float))
            for k, (name, value) in enumerate(frame.markers.items()):
                key = (panel.title, name)
                if key not in self.markers:
                    self.markers[key] = ax.axvline(math.nan, lw=1.2, **MARKER_STYLES[k % len(MARKER_STYLES)])
                finite = value is not None and math.isfinite(value)
                self.markers[key].set_xdata([value, value] if finite else [math.nan, math.nan])
            ax.relim()
            ax.autoscale_view()
            if span is not None and span[1] > span[0]:
                ax.set_xlim(*span)
        readout = [
            f"{name}: {value:.4g}" if value is not None and math.isfinite(value) else f"{name}: not reached"
            for name, value in frame.markers.items()
        ]
        self.status.value = "; ".join(
            f"{text} ({MARKER_NAMES[k % len(MARKER_NAMES)]} line)" for k, text in enumerate(readout)
        )
        self.image.value = self.render()

    def _legend_png(self, dpi: int) -> bytes:
        """The panels' legends as one strip above the figure, drawn once: the legends do not
        change with the sliders, and drawing them on every update would cost a fifth of it."""
        strip = Figure(figsize=(self.figure.get_figwidth(), 0.4), dpi=dpi)
        FigureCanvasAgg(strip)
        for k, ax in enumerate(self.axes):
            handles, labels = ax.get_legend_handles_labels()
            strip.legend(handles, labels, loc="center", ncol=len(labels), fontsize=9, frameon=False,
                         bbox_to_anchor=((k + 0.5) / len(self.axes), 0.5))
        return figure_png(strip)

    def render(self) -> bytes:
        """The figure drawn and encoded as PNG bytes."""
        return figure_png(self.figure)

    def _ipython_display_(self) -> None:
        display(self.widget)
