"""Kernel-free what-if explorers: precomputed curves, sliders and an inline SVG, no kernel.

The static book has no Python kernel, yet a reader should still be able to ask "what if T
were larger?". :func:`static_explorer` answers by computing every setting of a small grid in
advance, embedding the curves as compact JSON in one self-contained HTML output, and drawing
them with about 100 lines of plain JavaScript (``static_explorer.js`` beside this module, inlined
into the output; no library, no network) into an inline SVG::

    html = static_explorer(
        {"T": [256, 1024, 4096], "d": [16, 64]},
        compute,                       # setting dict -> Frame
        panels=[Panel("loss", ("test loss",), "loss")],
        x_label="gradient-flow time",
    )
    display(html)

Contract relied on by the browser test of the book: the root is ``<div class="sal-explorer">``,
each slider is an ``input[type=range]`` with ``data-param="<name>"`` that snaps to the grid
(its value is an index into the grid), and the drawing is one ``<svg class="sal-explorer-plot">``
redrawn on every ``input`` event. Element ids are unique per explorer, so several explorers
can share a page. The live counterpart with a kernel is :mod:`sparse_attention_lab.views.live_explorer`;
both draw the same :class:`Frame` s.
"""

from __future__ import annotations

import itertools
import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import numpy as np
from IPython.display import HTML
from numpy.typing import ArrayLike

MAX_BYTES = 400_000
"""Largest embedded JSON accepted for one explorer (a book page must stay light)."""

SCRIPT = files("sparse_attention_lab.views").joinpath("static_explorer.js").read_text(encoding="utf-8")
"""The drawing, ``function (root) {...}`` applied to an explorer's root element: ``static_explorer.js``,
shipped as package data and inlined into every explorer (the page needs no file of ours)."""


@dataclass(frozen=True)
class Frame:
    """What one setting of the sliders shows: curves on a shared x axis and vertical markers.

    ``curves`` maps a curve name to its values at ``x``; ``markers`` maps a marker name (e.g.
    ``"predicted plateau"``) to an x position, or to ``None`` / a non-finite value when there
    is nothing to mark (a run that never escaped).
    """

    x: ArrayLike
    curves: Mapping[str, ArrayLike]
    markers: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    """One plot of an explorer: the curves (names of :attr:`Frame.curves`) it draws, its y label."""

    title: str
    curves: tuple[str, ...]
    y_label: str
    log_y: bool = False


def grid_settings(params: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """Every setting of the grid, the last parameter varying fastest (the JSON frame order)."""
    if not params:
        raise ValueError("params: give at least one parameter with its grid of values.")
    for name, values in params.items():
        if len(values) == 0:
            raise ValueError(f"params[{name!r}] must list at least one value.")
    names = list(params)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*params.values())]


def _round(value: float, digits: int) -> float | None:
    """``value`` to ``digits`` significant digits; ``None`` (JSON null) when not finite."""
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def downsample(x: np.ndarray, max_points: int, log_x: bool) -> np.ndarray:
    """Indices of at most ``max_points`` samples spread evenly in x (in log x when ``log_x``)."""
    if x.size <= max_points:
        return np.arange(x.size)
    positive = x > 0
    coord = np.where(positive, np.log(np.where(positive, x, 1.0)), -np.inf) if log_x else x
    finite = coord[np.isfinite(coord)]
    targets = np.linspace(finite.min(), finite.max(), max_points)
    idx = np.searchsorted(coord, targets).clip(0, x.size - 1)
    if log_x:  # keep the first finite-log sample in front of the curve, once
        idx = np.concatenate([[int(np.argmax(positive))], idx])
    return np.unique(idx)


def encode_frame(frame: Frame, panels: Sequence[Panel], max_points: int, digits: int, log_x: bool) -> dict:
    """One frame as plain JSON data: downsampled, rounded, only the curves the panels draw."""
    x = np.asarray(frame.x, dtype=float).reshape(-1)
    if x.size < 2 or np.any(np.diff(x) <= 0):
        raise ValueError("frame.x must hold at least two strictly increasing values.")
    idx = downsample(x, max_points, log_x)
    curves = {}
    for name in {c for panel in panels for c in panel.curves}:
        if name not in frame.curves:
            raise ValueError(f"frame.curves has no curve {name!r} (it has {sorted(frame.curves)}).")
        y = np.asarray(frame.curves[name], dtype=float).reshape(-1)
        if y.shape != x.shape:
            raise ValueError(f"frame.curves[{name!r}] must have the shape of x {x.shape}, got {y.shape}.")
        curves[name] = [_round(v, digits) for v in y[idx]]
    markers = {k: (None if v is None else _round(float(v), digits)) for k, v in frame.markers.items()}
    return {"x": [_round(v, digits) for v in x[idx]], "y": curves, "m": markers}


def explorer_data(
    params: Mapping[str, Sequence[float]],
    compute: Callable[[dict[str, float]], Frame],
    panels: Sequence[Panel],
    *,
    x_label: str,
    log_x: bool = True,
    max_points: int = 100,
    digits: int = 4,
) -> dict:
    """The JSON-able data of an explorer: the grid, the panels and one frame per grid point."""
    if not panels:
        raise ValueError("panels: give at least one Panel.")
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points!r}.")
    if not 2 <= digits <= 12:
        raise ValueError(f"digits must lie in [2, 12], got {digits!r}.")
    frames = [
        encode_frame(compute(setting), panels, max_points, digits, log_x) for setting in grid_settings(params)
    ]
    return {
        "params": {k: [float(v) for v in values] for k, values in params.items()},
        "panels": [
            {"title": p.title, "curves": list(p.curves), "ylabel": p.y_label, "logy": p.log_y} for p in panels
        ],
        "xlabel": x_label,
        "logx": log_x,
        "frames": frames,
    }


def static_explorer(
    params: Mapping[str, Sequence[float]],
    compute: Callable[[dict[str, float]], Frame],
    panels: Sequence[Panel],
    *,
    title: str = "",
    initial: Mapping[str, float] | None = None,
    **layout: Any,
) -> HTML:
    """A self-contained HTML explorer of ``compute`` over the grid ``params`` (no kernel needed).

    ``compute(setting)`` is called once per grid point (``setting`` maps each parameter name
    to a value) and returns a :class:`Frame`. ``layout`` holds the keyword arguments of
    :func:`explorer_data` (``x_label``, ``log_x``, ``max_points``, ``digits``): curves are
    downsampled to ``max_points`` and rounded to ``digits`` significant digits; the embedded
    JSON must stay under :data:`MAX_BYTES`. ``initial`` picks the starting slider positions
    (nearest grid values; default: the middle of each grid).
    """
    data = explorer_data(params, compute, panels, **layout)
    if initial is not None and set(initial) - set(params):
        raise ValueError(f"initial names unknown parameters {sorted(set(initial) - set(params))}.")
    start = {}
    for name, values in params.items():
        values = [float(v) for v in values]
        if initial is not None and name in initial:
            target = float(initial[name])
            start[name] = int(np.argmin([abs(v - target) for v in values]))
        else:
            start[name] = (len(values) - 1) // 2
    return HTML(render_html(data, start, title))


def render_html(data: dict, start: Mapping[str, int], title: str = "") -> str:
    """The explorer's HTML: sliders, an empty SVG, the data as JSON and the drawing script."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    if len(payload) > MAX_BYTES:
        raise ValueError(
            f"the explorer's data is {len(payload)} bytes, above {MAX_BYTES}: use fewer grid "
            "points, fewer max_points or fewer digits."
        )
    uid = "sal-explorer-" + uuid.uuid4().hex[:12]
    sliders = []
    for name, values in data["params"].items():
        i = start[name]
        sliders.append(
            f'<label style="display:inline-block;margin-right:1.5em">{_escape(name)} = '
            f"<output>{_label(values[i])}</output><br>"
            f'<input type="range" min="0" max="{len(values) - 1}" step="1" value="{i}" '
            f'data-param="{_escape(name)}" aria-label="{_escape(name)}"></label>'
        )
    heading = f"<strong>{_escape(title)}</strong><br>" if title else ""
    width = 330 * len(data["panels"])
    # "</" must not appear inside a script element: escape it in the JSON.
    safe_payload = payload.replace("</", "<\\/")
    return (
        f'<div class="sal-explorer" id="{uid}" style="font:13px sans-serif;max-width:{width}px">'
        f"{heading}<div>{''.join(sliders)}</div>"
        f'<svg class="sal-explorer-plot" viewBox="0 0 {width} 260" width="100%" style="font-size:15px" '
        f'role="img" aria-label="{_escape(title or "explorer")}"></svg>'
        f'<div class="sal-explorer-readout" style="min-height:1.3em"></div>'
        f'<script type="application/json" class="sal-explorer-data">{safe_payload}</script>'
        f"<script>({SCRIPT})(document.currentScript ? document.currentScript.parentElement "
        f": document.getElementById({json.dumps(uid)}));</script></div>"
    )


def read_data(html: str) -> dict:
    """The JSON data embedded in an explorer's HTML (the inverse of :func:`render_html`)."""
    tag = '<script type="application/json" class="sal-explorer-data">'
    start = html.find(tag)
    if start < 0:
        raise ValueError("html holds no explorer data.")
    start += len(tag)
    return json.loads(html[start : html.index("</script>", start)].replace("<\\/", "</"))


def _label(value: float) -> str:
    return f"{value:g}"


def _escape(text: str) -> str:
    return (
        str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
