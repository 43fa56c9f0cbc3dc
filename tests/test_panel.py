"""The what-if training panel: prediction drawn, a run recorded and drawn, bad settings reported."""

import asyncio
import threading
import time

from matplotlib.figure import Figure

from sparse_attention_lab.fitting import fit_power_law
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.views.training_panel import TrainingPanel, draw_run, predicted_plateau

LAW = fit_power_law([100.0, 200.0, 400.0, 800.0], d=[4, 8, 16, 32], T=[16, 16, 32, 32])


def small_panel() -> TrainingPanel:
    panel = TrainingPanel(LAW, PROFILES["ci"])
    panel.base = {**panel.base, "max_steps": 30, "eval_every": 10, "eval_size": 32, "d_model": 16, "d_qk": 8}
    panel.controls["T"].value, panel.controls["d"].value = 8, 2
    return panel


def test_prediction_uses_only_the_law_features():
    assert predicted_plateau(LAW, {"d": 8, "T": 16, "p": 0.3}) == float(LAW.predict(d=8, T=16))
    assert predicted_plateau(LAW, {"d": 8}) is None
    assert predicted_plateau(None, {"d": 8, "T": 16}) is None


def test_panel_trains_records_and_draws():
    panel = small_panel()
    before = panel.image.value
    record = panel.run()
    assert record["steps"] == [0, 10, 20, 30]
    assert panel.image.value != before and len(panel.image.value) > 1000
    assert "step" in panel.status.value.lower()


def test_stop_button_stops_a_background_run():
    panel = small_panel()
    panel.base = {**panel.base, "max_steps": 100_000}
    stopped = threading.Event()
    draw_and_check = panel._callback

    def stop_after_first(step, records):  # what a click on Stop does, during the first evaluation
        panel._stop.set()
        stopped.set()
        return draw_and_check(step, records)

    panel._callback = stop_after_first

    async def press_run():  # as a click does in a kernel: Run returns at once, training goes on
        await asyncio.wait_for(panel.start(), timeout=20)

    asyncio.run(press_run())
    assert stopped.is_set() and not panel.running
    assert panel.record["steps"][-1] < 100_000
    assert not panel.run_button.disabled


def test_invalid_setting_is_reported_not_raised():
    panel = small_panel()
    panel.controls["B"].value = 8  # B must be < T = 8
    assert panel.run() is None
    assert "B" in panel.status.value


def test_draw_run_marks_prediction_and_measurement():
    record = {"steps": [0, 10, 20], "test_loss": [0.5, 0.4, 0.05], "train_loss": [0.5, 0.3, 0.04]}
    ax = Figure().add_subplot()
    draw_run(ax, record, predicted=12.0, fraction=0.2)
    labels = ax.get_legend_handles_labels()[1]
    assert any("predicts 12" in label for label in labels)
    assert any("measured plateau" in label for label in labels)
    assert not any("training distribution" in label for label in labels)
    draw_run(ax, record, predicted=None, fraction=0.2, show_train=True)
    assert any("training distribution" in label for label in ax.get_legend_handles_labels()[1])
    draw_run(ax, record, predicted=None, fraction=0.2, curve="train")
    labels = ax.get_legend_handles_labels()[1]
    assert "0.2 x initial training-distribution loss" in labels
    assert "measured plateau: 18 steps" in labels  # train loss crosses 0.1 at 17.7 (test: 18.6)


def test_idle_setting_change_redraws_the_prediction():
    panel = small_panel()
    panel.run()
    before = panel.image.value
    panel.controls["T"].value = 16
    assert panel.record is None and "Press Run" in panel.status.value
    assert panel.image.value != before
    assert f"predicts {predicted_plateau(LAW, panel.settings()):.0f} steps" in panel.axis.get_legend_handles_labels()[1][0]
    assert panel.axis.get_title().startswith("T=16, d=2")


def test_empty_plot_spans_zero_to_past_the_prediction():
    ax = Figure().add_subplot()
    draw_run(ax, None, predicted=240.0, fraction=0.2)
    assert ax.get_xlim() == (0.0, 300.0)
    assert ax.get_ylim() == (0.0, 0.55)  # 1.1 x the loss of the zero prediction
    draw_run(ax, None, predicted=None, fraction=0.2, budget=4000)
    assert ax.get_xlim() == (0.0, 4000.0)


def test_stop_takes_effect_between_evaluations_and_widgets_change_on_the_main_thread():
    panel = small_panel()
    panel.base = {**panel.base, "max_steps": 2000, "eval_every": 2000, "stop_margin": None}
    threads = set()
    for widget in (panel.image, panel.status, panel.run_button, panel.stop_button):
        widget.observe(lambda _change: threads.add(threading.current_thread()))

    async def run_then_stop():
        task = panel.start()
        while panel._progress is None:  # the evaluation at step 0; the next one is 2000 steps away
            await asyncio.sleep(0.01)
        assert panel.running and panel.run_button.disabled and not panel.stop_button.disabled
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        panel.stop()  # what a click on Stop does
        await asyncio.wait_for(task, timeout=60)
        return time.perf_counter() - start

    stopped_after = asyncio.run(run_then_stop())
    assert stopped_after < 2.0  # within a few training steps, not at the next evaluation (seconds away)
    assert panel.status.value == "Stopped at step 0 without escaping."
    assert not panel.running and not panel.run_button.disabled and panel.stop_button.disabled
    assert threads == {threading.main_thread()}
