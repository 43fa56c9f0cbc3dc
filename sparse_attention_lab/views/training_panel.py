"""The what-if training panel of chapter 3: pick a setting, watch a Transformer train live.

Sliders choose ``T``, ``d``, ``B``, ``p``, the learning rate, layers and heads. The plateau
predicted by a fitted power law (the chapter's ``C d^a T^b B^c``) is drawn as a dashed line as
soon as a setting is chosen, before any training. **Run** trains one Transformer on
single-location regression and redraws the test-loss curve as evaluations come in; the measured
escape is marked when it happens; **Stop** ends the run within one training step.

Threads: the training runs in a worker thread, and every widget update happens on the kernel's
main thread, in an asyncio task on the kernel's event loop that polls the worker (some front
ends, Colab's among them, drop widget messages sent from other threads). Works under
ipywidgets 7.6+ and 8.

:func:`draw_run` is the panel's drawing on a matplotlib axis, so the static book can show a
recorded run exactly as the panel draws it.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any

import ipywidgets as widgets
from IPython.display import display
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sparse_attention_lab.analysis.measurement import escape_measure
from sparse_attention_lab.experiments.regression import build
from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.hardware import current_profile
from sparse_attention_lab.measure import escape_step
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.training.trainer import train
from sparse_attention_lab.views.live_explorer import figure_png, image_for, wrapping_row

REDRAW_INTERVAL_S = 0.3
"""Redraw at most this often while training (rendering the figure costs tens of ms)."""
POLL_INTERVAL_S = 0.05
"""How often the kernel's main thread looks at the training thread for new evaluations."""
ZERO_PREDICTION_LOSS = 0.5
"""Loss of predicting ``y = 0``, ``1/2 E|W* x|^2 = 1/2`` (teacher entries and tokens of variance
``1/d``, App. B.1): where every run starts, so the y axis before the first evaluation."""
PREDICTION_MARGIN = 1.25
"""The x axis reaches this multiple of the predicted plateau, so the reader sees the run approach it."""
CURVES = ("steps", "test_loss", "train_loss")
"""The record entries the panel draws."""


def predicted_plateau(law: PowerLawFit | None, settings: dict) -> float | None:
    """The law's plateau (steps) at ``settings``; ``None`` without a law or a needed feature."""
    if law is None or not set(law.exponents) <= set(settings):
        return None
    return float(law.predict(**{k: settings[k] for k in law.exponents}))


def draw_run(
    ax: Axes, record: dict | None, predicted: float | None, fraction: float, title: str = "",
    show_train: bool = False, curve: str = "test", budget: int | None = None,
) -> None:
    """Test loss of one run (and, if ``show_train`` or ``curve == "train"``, the
    training-distribution loss), the predicted plateau, and the plateau measured as
    ``fraction`` x the initial value of ``curve`` (:func:`~sparse_attention_lab.analysis.measurement.escape_measure`).

    The x axis starts at step 0 and reaches past the prediction (:data:`PREDICTION_MARGIN`) and
    the last step; with neither, it spans the training ``budget`` (steps) when given. The y axis
    runs from 0 to 1.1 x the largest loss, before the first evaluation the starting loss
    (:data:`ZERO_PREDICTION_LOSS`).
    """
    ax.clear()
    has_points = record is not None and bool(record["steps"])
    ends = []
    if has_points:
        steps = record["steps"]
        ends.append(steps[-1])
        ax.plot(steps, record["test_loss"], color="C0", label="test loss (no repetition)")
        if show_train or curve == "train":
            ax.plot(steps, record["train_loss"], color="C1", alpha=0.6, label="loss on training distribution")
        name = "test loss" if curve == "test" else "training-distribution loss"
        ax.axhline(fraction * record[f"{curve}_loss"][0], color="gray", lw=0.8, ls=":",
                   label=f"{fraction:g} x initial {name}")
        measured = escape_step(record, fraction=fraction, curve=curve)
        if math.isfinite(measured):
            ax.axvline(measured, color="C3", lw=1.5, label=f"measured plateau: {measured:.0f} steps")
    if predicted is not None:
        ends.append(PREDICTION_MARGIN * predicted)
        ax.axvline(predicted, color="k", ls="--", lw=1.2, label=f"fitted law predicts {predicted:.0f} steps")
    if not ends and budget is not None:
        ends.append(budget)
    if ends:
        ax.set_xlim(0, max(ends))
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (1/2 squared error)")
    losses = record["test_loss"] + record["train_loss"] if has_points else []
    top = max((v for v in losses if math.isfinite(v)), default=0.0) or ZERO_PREDICTION_LOSS
    ax.set_ylim(0, 1.1 * top)
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower left")  # free until the escape, which comes later than 0


class _Stopped(Exception):
    """Raised in the training thread by :class:`_Stoppable` once Stop was pressed."""


class _Stoppable:
    """``task`` as the trainer sees it, except that sampling raises :class:`_Stopped` after Stop.

    The trainer samples a batch at every step but calls back only at evaluations, which are
    seconds apart at large settings; checking here ends a run within one training step.
    """

    def __init__(self, task: Any, stop: threading.Event) -> None:
        self._task, self._stop = task, stop

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        if self._stop.is_set():
            raise _Stopped
        return self._task.sample(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # everything else is the task's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._task, name)

    def __repr__(self) -> str:
        return repr(self._task)


class TrainingPanel:
    """The live panel: ``display(TrainingPanel(law).widget)`` in a notebook.

    ``law`` is the fitted plateau law used for the prediction; ``profile`` gives the model
    size and training budget (``profiles.SIZES["regression_transformer"]``, kept in
    :attr:`base`). :meth:`start` is the **Run** button (non-blocking in a kernel);
    :meth:`run` trains in the calling thread (for scripts and for recording a run).
    """

    def __init__(self, law: PowerLawFit | None = None, profile: Profile | None = None) -> None:
        self.law = law
        self.base = (profile or current_profile()).sizes("regression_transformer")
        self.record: dict | None = None
        self._stop = threading.Event()
        self._progress: dict | None = None  # the curves at the last evaluation (written by the trainer's thread)
        self._drawn: dict | None = None
        self._running = False
        self._task: asyncio.Task | None = None
        self._last_draw = 0.0
        slider = {"continuous_update": False, "style": {"description_width": "90px"},
                  "layout": widgets.Layout(width="300px")}
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
        self.status.add_class("sal-status")
        self.figure = Figure(figsize=(6.4, 3.4), dpi=90)
        self.figure.subplots_adjust(left=0.11, right=0.98, bottom=0.15, top=0.91)
        self.axis = self.figure.add_subplot()
        self.image = image_for(self.figure, "sal-figure")
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        for control in self.controls.values():
            control.observe(self._setting_changed, names="value")
        self.widget = widgets.VBox([
            wrapping_row(self.controls.values()),
            wrapping_row([self.run_button, self.stop_button, self.status]),
            self.image,
        ])
        self.widget.add_class("sal-training-panel")
        self._redraw(force=True)

    def settings(self) -> dict:
        """The current slider values."""
        return {name: control.value for name, control in self.controls.items()}

    def measure(self) -> tuple[float, str]:
        """How the plateau of the current setting is measured: ``(fraction, curve)`` (App. D.1)."""
        s = self.settings()
        return escape_measure(s["B"], s["p"])

    def config(self) -> dict:
        """The flat run config (see :mod:`sparse_attention_lab.experiments.regression`) of the sliders."""
        return {**self.base, **self.settings(), "escape_fraction": self.measure()[0]}

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._running

    # --- drawing (always on the thread that owns the widgets) ----------------------------------

    def _redraw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_draw < REDRAW_INTERVAL_S:
            return
        self._last_draw, self._drawn = now, self.record
        s = self.settings()
        title = ", ".join(f"{k}={v:g}" for k, v in s.items())
        fraction, curve = self.measure()
        draw_run(self.axis, self.record, predicted_plateau(self.law, s), fraction, title,
                 show_train=s["p"] > 0, curve=curve, budget=self.base["max_steps"])
        self.image.value = figure_png(self.figure)

    def _setting_changed(self, _change: dict) -> None:
        """A control moved while idle: the last run belongs to the old setting; draw the new prediction."""
        if self._running:
            return
        self.record = None
        self.status.value = "Press Run to train this setting."
        self._redraw(force=True)

    def _show_progress(self) -> None:
        """Draw the curves of the latest evaluation, if not drawn yet (throttled)."""
        progress = self._progress
        if progress is None or progress is self._drawn:
            return
        self.record = progress
        self.status.value = f"step {progress['steps'][-1]}: test loss {progress['test_loss'][-1]:.3f}"
        self._redraw()

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.run_button.disabled, self.stop_button.disabled = running, not running
        for control in self.controls.values():
            control.disabled = running

    # --- training -------------------------------------------------------------------------------

    def _callback(self, step: int, records: list[dict]) -> bool:
        """The trainer's callback, in the training thread: copy the curves (the trainer keeps
        appending to its lists) for the drawing; return whether Stop was pressed."""
        record = records[0]
        self._progress = {key: list(record[key]) for key in CURVES}
        return self._stop.is_set()

    def _prepare(self) -> tuple | None:
        """Task, model and training configs of the sliders; ``None`` (and why, in the status) if invalid."""
        self._stop.clear()
        self.record = self._progress = None
        try:
            prepared = build(self.config())
        except ValueError as error:
            self.status.value = f"Invalid setting: {error}"
            return None
        self.status.value = "Training: waiting for the first evaluation..."
        self._redraw(force=True)
        return prepared

    def _train(self, task: Any, model: Any, training: Any, callback: Any) -> dict | None:
        """Train one seed; ``None`` when Stop interrupted it between two evaluations."""
        try:
            (record,) = train(_Stoppable(task, self._stop), model, training, seeds=[0], callback=callback,
                              config=self.config())
        except _Stopped:
            return None
        return record

    def _finish(self, record: dict | None) -> dict | None:
        """Show the end of a run (``record`` ``None``: stopped; keep the last evaluation's curves)."""
        self.record = record if record is not None else self._progress
        steps = self.record["steps"] if self.record is not None else []
        fraction, curve = self.measure()
        measured = escape_step(self.record, fraction=fraction, curve=curve) if steps else math.inf
        if math.isfinite(measured):
            self.status.value = f"Escaped the plateau at step {measured:.0f}."
        elif steps:
            self.status.value = f"Stopped at step {steps[-1]} without escaping."
        else:
            self.status.value = "Stopped before the first evaluation."
        self._redraw(force=True)
        return self.record

    def run(self) -> dict | None:
        """Train the current setting in this thread, redrawing after every evaluation; its record."""
        prepared = self._prepare()
        if prepared is None:
            return None

        def callback(step: int, records: list[dict]) -> bool:
            stop = self._callback(step, records)
            self._show_progress()
            return stop

        self._set_running(True)
        try:
            return self._finish(self._train(*prepared, callback))
        finally:
            self._set_running(False)

    def start(self) -> asyncio.Task | None:
        """The **Run** button: train without blocking the kernel; the asyncio task doing it.

        The training runs in a worker thread while a task on the kernel's event loop (its main
        thread) polls it every :data:`POLL_INTERVAL_S` and updates the widgets. Without a
        running event loop (a plain script) this is :meth:`run`, and returns ``None``.
        """
        if self._running or (self._task is not None and not self._task.done()):
            return self._task
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.run()
            return None
        self._task = asyncio.ensure_future(self._run_live())
        return self._task

    async def _run_live(self) -> dict | None:
        prepared = self._prepare()
        if prepared is None:
            return None
        self._set_running(True)
        try:
            worker = asyncio.get_running_loop().run_in_executor(None, self._train, *prepared, self._callback)
            while not worker.done():
                await asyncio.wait({worker}, timeout=POLL_INTERVAL_S)
                self._show_progress()
            return self._finish(worker.result())
        except Exception as error:
            self.status.value = f"Training failed: {error!r}"
            raise
        finally:
            self._set_running(False)

    def stop(self) -> None:
        """The **Stop** button: the run ends within one training step."""
        if self._running:
            self._stop.set()
            self.status.value = "Stopping..."

    def _ipython_display_(self) -> None:
        display(self.widget)
