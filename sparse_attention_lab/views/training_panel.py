"""The what-if training panel of chapter 3: pick a setting, watch a Transformer train live.

Sliders choose ``T``, ``d``, ``B``, ``p``, the learning rate, layers and heads; **Run** trains
one Transformer on single-location regression in a background thread (so **Stop** stays
responsive), redrawing the test-loss curve at every evaluation. Before training starts, the
plateau predicted by a fitted power law (the chapter's ``C d^a T^b B^c``) is drawn as a
dashed line; the measured escape is marked when it happens.

:func:`draw_run` is the panel's drawing on a matplotlib axis, so the static book can show a
recorded run exactly as the panel draws it.
"""

from __future__ import annotations

import io
import threading
import time

import ipywidgets as widgets
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sparse_attention_lab.experiments.regression import build, plateau_measure
from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.hardware import current_profile
from sparse_attention_lab.measure import escape_step
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.training.trainer import train

REDRAW_INTERVAL_S = 0.3
"""Redraw at most this often while training (rendering the figure costs tens of ms)."""


def predicted_plateau(law: PowerLawFit | None, settings: dict) -> float | None:
    """The law's plateau (steps) at ``settings``; ``None`` without a law or a needed feature."""
    if law is None or not set(law.exponents) <= set(settings):
        return None
    return float(law.predict(**{k: settings[k] for k in law.exponents}))


def draw_run(
    ax: Axes, record: dict | None, predicted: float | None, fraction: float, title: str = "",
    show_train: bool = False, curve: str = "test",
) -> None:
    """Test loss of one run (and, if ``show_train`` or ``curve == "train"``, the
    training-distribution loss), the predicted plateau, and the plateau measured as
    ``fraction`` x the initial value of ``curve`` (:func:`~.experiments.regression.plateau_measure`)."""
    ax.clear()
    if record is not None and record["steps"]:
        steps = record["steps"]
        ax.plot(steps, record["test_loss"], color="C0", label="test loss (no repetition)")
        if show_train or curve == "train":
            ax.plot(steps, record["train_loss"], color="C1", alpha=0.6, label="loss on training distribution")
        name = "test loss" if curve == "test" else "training-distribution loss"
        ax.axhline(fraction * record[f"{curve}_loss"][0], color="gray", lw=0.8, ls=":",
                   label=f"{fraction:g} x initial {name}")
        measured = escape_step(record, fraction=fraction, curve=curve)
        if measured is not None:
            ax.axvline(measured, color="C3", lw=1.5, label=f"measured plateau: {measured:.0f} steps")
    if predicted is not None:
        ax.axvline(predicted, color="k", ls="--", lw=1.2, label=f"fitted law predicts {predicted:.0f} steps")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (1/2 squared error)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper right")


class TrainingPanel:
    """The live panel: ``display(TrainingPanel(law).widget)`` in a notebook.

    ``law`` is the fitted plateau law used for the prediction; ``profile`` gives the model
    size and training budget (``profiles.SIZES["regression_transformer"]``).
    """

    def __init__(self, law: PowerLawFit | None = None, profile: Profile | None = None) -> None:
        self.law = law
        self.base = (profile or current_profile()).sizes("regression_transformer")
        self.record: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_draw = 0.0
        slider = {"continuous_update": False, "style": {"description_width": "initial"}}
        self.controls = {
            "T": widgets.SelectionSlider(options=[8, 16, 32, 64, 128], value=32, description="T", **slider),
            "d": widgets.SelectionSlider(options=[2, 4, 8, 16, 32], value=8, description="d", **slider),
            "B": widgets.SelectionSlider(options=[1, 2, 4, 8], value=1, description="B", **slider),
            "p": widgets.FloatSlider(min=0.0, max=0.9, step=0.05, value=0.0, description="p", **slider),
            "lr": widgets.SelectionSlider(options=[1e-4, 3e-4, 1e-3, 3e-3], value=self.base["lr"],
                                          description="learning rate", **slider),
            "n_layers": widgets.IntSlider(min=1, max=4, value=self.base["n_layers"], description="layers", **slider),
            "n_heads": widgets.SelectionSlider(options=[1, 2, 4], value=self.base["n_heads"],
                                               description="heads", **slider),
        }
        self.run_button = widgets.Button(description="Run", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.status = widgets.Label("Choose a setting and press Run.")
        self.image = widgets.Image(format="png")
        self.figure = Figure(figsize=(6.5, 3.6), dpi=90)
        self.axis = self.figure.add_subplot()
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self._stop.set())
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox(list(self.controls.values())[:4]),
                          widgets.VBox(list(self.controls.values())[4:])]),
            widgets.HBox([self.run_button, self.stop_button, self.status]),
            self.image,
        ])
        self._redraw(force=True)

    def settings(self) -> dict:
        """The current slider values."""
        return {name: control.value for name, control in self.controls.items()}

    def measure(self) -> tuple[float, str]:
        """How the plateau of the current setting is measured: ``(fraction, curve)`` (App. D.1)."""
        s = self.settings()
        return plateau_measure(s["B"], s["p"])

    def config(self) -> dict:
        """The flat run config (see :mod:`sparse_attention_lab.experiments.regression`) of the sliders."""
        return {**self.base, **self.settings(), "escape_fraction": self.measure()[0]}

    def _redraw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_draw < REDRAW_INTERVAL_S:
            return
        self._last_draw = now
        s = self.settings()
        title = ", ".join(f"{k}={v:g}" for k, v in s.items())
        fraction, curve = self.measure()
        draw_run(self.axis, self.record, predicted_plateau(self.law, s), fraction, title,
                 show_train=s["p"] > 0, curve=curve)
        buffer = io.BytesIO()
        FigureCanvasAgg(self.figure).print_png(buffer)
        self.image.value = buffer.getvalue()

    def _callback(self, step: int, records: list[dict]) -> bool:
        self.record = records[0]
        self.status.value = f"step {step}: test loss {self.record['test_loss'][-1]:.3f}"
        self._redraw()
        return self._stop.is_set()

    def run(self) -> dict | None:
        """Train the current setting in this thread (what **Run** does in the background)."""
        self.record = None
        try:
            task, model, training = build(self.config())
        except ValueError as error:
            self.status.value = f"Invalid setting: {error}"
            return None
        self._redraw(force=True)
        (self.record,) = train(task, model, training, seeds=[0], callback=self._callback)
        fraction, curve = self.measure()
        measured = escape_step(self.record, fraction=fraction, curve=curve)
        self.status.value = (
            f"Escaped the plateau at step {measured:.0f}." if measured is not None
            else f"Stopped at step {self.record['steps'][-1]} without escaping."
        )
        self._redraw(force=True)
        return self.record

    def start(self) -> None:
        """Start training in a background thread (the **Run** button)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.run_button.disabled, self.stop_button.disabled = True, False

        def work() -> None:
            try:
                self.run()
            finally:
                self.run_button.disabled, self.stop_button.disabled = False, True

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()
