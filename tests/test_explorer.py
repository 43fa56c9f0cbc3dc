"""The kernel-free explorer: contract elements, data round trip, one frame per grid point, size."""

from __future__ import annotations

import math
import re
from importlib.resources import files

import numpy as np
import pytest

from sparse_attention_lab.views.static_explorer import (
    SCRIPT,
    Frame,
    Panel,
    downsample,
    grid_settings,
    read_data,
    static_explorer,
)

PARAMS = {"T": [16, 64, 256], "d": [4, 16]}
PANELS = [Panel("loss", ("loss",), "loss"), Panel("weights", ("w",), "w", log_y=True)]


def plateau_like(setting: dict) -> Frame:
    """A sigmoid drop at T sqrt(d), with a marker there and one never reached."""
    t = np.geomspace(1.0, 1e5, 1000)
    tau = setting["T"] * math.sqrt(setting["d"])
    loss = 0.5 / (1 + (t / tau) ** 3)
    return Frame(t, {"loss": loss, "w": 1 - 2 * loss + 1e-6}, {"predicted": tau, "measured": math.inf})


@pytest.fixture(scope="module")
def html() -> str:
    return static_explorer(PARAMS, plateau_like, PANELS, x_label="time", title="demo").data


def test_html_has_the_contract_elements(html):
    assert html.startswith('<div class="sal-explorer"')
    assert html.count('<svg class="sal-explorer-plot"') == 1
    sliders = re.findall(r'<input type="range" min="0" max="(\d+)"[^>]*data-param="(\w+)"', html)
    assert sliders == [("2", "T"), ("1", "d")]
    assert "addEventListener(\"input\"" in html
    assert "http" not in html.replace("http://www.w3.org/2000/svg", ""), "no external resource"


def test_two_explorers_have_different_ids():
    first = static_explorer(PARAMS, plateau_like, PANELS, x_label="time").data
    second = static_explorer(PARAMS, plateau_like, PANELS, x_label="time").data
    ids = [re.search(r'class="sal-explorer" id="([\w-]+)"', h).group(1) for h in (first, second)]
    assert ids[0] != ids[1]


def test_data_round_trips_with_one_frame_per_grid_point(html):
    data = read_data(html)
    assert data["params"] == {"T": [16.0, 64.0, 256.0], "d": [4.0, 16.0]}
    assert [p["title"] for p in data["panels"]] == ["loss", "weights"]
    assert data["panels"][1]["logy"] is True
    assert len(data["frames"]) == 6
    # Frames follow grid_settings: the last parameter varies fastest.
    for setting, frame in zip(grid_settings(PARAMS), data["frames"], strict=True):
        tau = setting["T"] * math.sqrt(setting["d"])
        assert frame["m"]["predicted"] == pytest.approx(tau, rel=1e-3)
        assert frame["m"]["measured"] is None  # infinity becomes JSON null
        assert len(frame["x"]) <= 101
        assert set(frame["y"]) == {"loss", "w"}


def test_curves_are_rounded_and_keep_their_shape(html):
    frame = read_data(html)["frames"][0]
    x, loss = np.array(frame["x"]), np.array(frame["y"]["loss"])
    assert np.all(np.diff(x) > 0)
    assert x[0] == 1.0 and x[-1] == pytest.approx(1e5)
    tau = 16 * 2
    np.testing.assert_allclose(loss, 0.5 / (1 + (x / tau) ** 3), rtol=3e-3, atol=1e-9)  # x and y both keep 4 digits


def test_size_stays_small(html):
    assert len(html) < 40_000  # 6 frames of 2 curves x 101 points, 4 digits
    big = {"a": list(range(40)), "b": list(range(30))}
    with pytest.raises(ValueError, match="bytes"):
        static_explorer(
            big,
            lambda s: plateau_like({"T": s["a"] + 1, "d": s["b"] + 1}),
            PANELS,
            x_label="time",
            max_points=200,
            digits=8,
        )


def test_downsample_is_even_in_log_x():
    x = np.concatenate([[0.0], np.geomspace(1e-2, 1e4, 5000)])
    idx = downsample(x, 50, log_x=True)
    assert idx.size <= 52 and idx[-1] == x.size - 1
    steps = np.diff(np.log10(x[idx][1:]))
    assert steps.max() < 2.5 * 6 / 49


def test_initial_picks_the_nearest_grid_value():
    html = static_explorer(PARAMS, plateau_like, PANELS, x_label="time", initial={"T": 70, "d": 100}).data
    values = re.findall(r'value="(\d+)" data-param="(\w+)"', html)
    assert values == [("1", "T"), ("1", "d")]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"panels": []}, "panels"),
        ({"panels": [Panel("x", ("missing",), "y")]}, "missing"),
        ({"initial": {"B": 2}}, "initial"),
        ({"max_points": 1}, "max_points"),
        ({"digits": 1}, "digits"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    arguments = {"panels": PANELS, "x_label": "time"} | kwargs
    with pytest.raises(ValueError, match=match):
        static_explorer(PARAMS, plateau_like, **arguments)


def test_empty_grid_raises():
    with pytest.raises(ValueError, match="params"):
        grid_settings({"T": []})


def test_drawing_script_ships_as_package_data_and_is_inlined(html):
    script = files("sparse_attention_lab.views").joinpath("static_explorer.js").read_text(encoding="utf-8")
    assert script == SCRIPT and "function (root)" in script
    assert f"<script>({SCRIPT})(" in html
