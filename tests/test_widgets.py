"""Live explorers: sliders redraw the same figure; chapter 2's frame follows the reduced flow;
the attention viewer redraws only what moves."""

from __future__ import annotations

import io

import numpy as np
import PIL.Image
import pytest

from sparse_attention_lab.theory.reduced import plateau_length
from sparse_attention_lab.views.attention_maps import AttentionViewer
from sparse_attention_lab.views.live_explorer import LiveExplorer
from sparse_attention_lab.views.repetition import (
    repetition_explorer,
    repetition_frame,
)
from sparse_attention_lab.views.static_explorer import Frame, Panel

PANELS = [Panel("loss", ("loss",), "loss")]


def drop_at(setting: dict) -> Frame:
    t = np.linspace(0.0, 100.0, 50)
    return Frame(t, {"loss": 0.5 / (1 + np.exp(t - setting["T"]))}, {"drop": setting["T"]})


def refuse_large(setting: dict) -> Frame:
    if setting["T"] > 20:
        raise NotImplementedError("T above 20 is not modelled")
    return drop_at(setting)


def test_slider_redraws_the_same_figure_in_place():
    explorer = LiveExplorer({"T": [10, 30, 60]}, drop_at, PANELS, x_label="time", initial={"T": 31})
    assert explorer.settings() == {"T": 30}
    figure, line, first_image = explorer.figure, explorer.lines["loss", "loss"], bytes(explorer.image.value)
    legend = bytes(explorer.legend.value)
    assert legend.startswith(b"\x89PNG") and explorer.legend in explorer.widget.children
    explorer.controls["T"].value = 60
    assert bytes(explorer.legend.value) == legend  # drawn once, not on every update
    assert explorer.figure is figure and explorer.lines["loss", "loss"] is line
    image = bytes(explorer.image.value)
    assert image != first_image and image.startswith(b"\x89PNG")
    assert explorer.markers["loss", "drop"].get_xdata()[0] == 60
    assert "drop: 60" in explorer.status.value


def stretch(setting: dict) -> Frame:
    t = np.linspace(0.0, 10.0 * setting["T"], 50)
    return Frame(t, {"loss": 0.5 / (1 + np.exp(t - setting["T"]))}, {"drop": setting["T"]})


def test_x_axis_stays_fixed_while_a_slider_moves():
    """Issue 23: the x axis spans every frame of the slider that moves, so plateaus compare by eye."""
    explorer = LiveExplorer({"T": [10, 30, 60], "d": [1, 2]}, stretch, PANELS, x_label="time", log_x=False,
                            initial={"T": 10})
    explorer.controls["T"].value = 30
    ax = explorer.axes[0]
    span = ax.get_xlim()
    assert span[0] <= 0 and span[1] >= 600  # the frame at T = 60 ends at 600
    explorer.controls["T"].value = 10
    assert ax.get_xlim() == span


def test_refused_setting_shows_the_reason():
    explorer = LiveExplorer({"T": [10, 30]}, refuse_large, PANELS, x_label="time", initial={"T": 10})
    explorer.controls["T"].value = 30
    assert "not modelled" in explorer.status.value


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="initial"):
        LiveExplorer({"T": [10]}, drop_at, PANELS, x_label="time", initial={"d": 3})
    with pytest.raises(ValueError, match="panels"):
        LiveExplorer({"T": [10]}, drop_at, [], x_label="time")
    with pytest.raises(ValueError, match="params"):
        LiveExplorer({"T": []}, drop_at, PANELS, x_label="time")


@pytest.mark.parametrize("B, p", [(1, 0.0), (4, 0.0), (1, 0.5)])
def test_repetition_frame_measures_the_reduced_plateau(B, p):
    setting = {"T": 256, "d": 16, "B": B, "p": p, "threshold": 0.2}
    frame = repetition_frame(setting)
    measured = frame.markers["measured plateau"]
    assert measured == pytest.approx(plateau_length(256, 16, B, p), rel=1e-3)
    assert measured < frame.markers["predicted (linearization)"]  # the feedback speeds the escape (Fig. 7)
    loss = np.asarray(frame.curves["test loss (p = 0)"])
    assert loss[0] == pytest.approx(0.5) and loss[-1] < 0.1
    alpha = np.asarray(frame.curves["alpha"])
    assert alpha[0] == pytest.approx(1 / 256) and alpha[-1] > 0.5 / B
    if p > 0:  # the repeated direction learns first (Fig. 10)
        half = int(np.argmax(np.asarray(frame.curves["other directions"]) > 0.5))
        assert frame.curves["repeated direction"][half] > 0.5


def test_repetition_explorer_starts_at_fig10_and_moves():
    explorer = repetition_explorer()
    assert explorer.settings() == {"T": 512, "d": 64, "B": 1, "p": 0.0, "threshold": 0.2}
    before = explorer.markers["loss", "measured plateau"].get_xdata()[0]
    explorer.controls["B"].value = 4
    after = explorer.markers["loss", "measured plateau"].get_xdata()[0]
    assert after < before / 2


def test_repetition_frame_extends_its_horizon_when_the_plateau_outlasts_the_prediction():
    frame = repetition_frame({"T": 128, "d": 16, "B": 1, "p": 0.9, "threshold": 0.2})
    measured, predicted = frame.markers["measured plateau"], frame.markers["predicted (linearization)"]
    assert predicted < measured < frame.x[-1]
    assert measured == pytest.approx(plateau_length(128, 16, 1, 0.9), rel=1e-3)


def test_controls_wrap_and_images_keep_their_natural_size():
    explorer = LiveExplorer({"T": [10, 30, 60], "d": [1, 2]}, drop_at, PANELS, x_label="time")
    row = explorer.widget.children[0]
    assert row.layout.flex_flow == "row wrap" and list(row.children) == list(explorer.controls.values())
    width = round(explorer.figure.get_figwidth() * explorer.figure.dpi)
    for image in (explorer.image, explorer.legend):
        assert (image.layout.width, image.layout.max_width) == (f"{width}px", "100%")


def test_viewer_redraws_only_what_moves_and_matches_a_full_drawing():
    rng = np.random.default_rng(0)
    maps = rng.dirichlet(np.ones(7), size=(5, 2, 2, 7))  # (checkpoints, layers, heads, T, T)
    record = {"steps": [0, 10, 20, 30, 40], "test_acc": [0.1, 0.2, 0.5, 0.8, 0.9],
              "train_acc": [0.1, 0.3, 0.6, 0.9, 0.95], "probes": {"maps": maps.tolist()}}
    viewer = AttentionViewer(record, [1, 5, 2, 6, 3, 7, 2])
    viewer.slider.value = 4  # the marker at the right end, away from the legend it is drawn over
    blitted = np.asarray(PIL.Image.open(io.BytesIO(viewer.image.value)))
    full = io.BytesIO()
    viewer.title.set_animated(False)  # matplotlib leaves animated figure titles out of a full drawing
    viewer.figure.savefig(full, format="png", dpi=viewer.figure.dpi)  # every artist drawn afresh
    assert np.array_equal(blitted, np.asarray(PIL.Image.open(full)))
    assert viewer.status.value == "step 40: test accuracy 0.90, training distribution 0.95"
