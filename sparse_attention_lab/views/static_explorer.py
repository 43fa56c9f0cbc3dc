"""Kernel-free what-if explorers: precomputed curves, sliders and an inline SVG, no kernel.

The static book has no Python kernel, yet a reader should still be able to ask "what if T
were larger?". :func:`static_explorer` answers by computing every setting of a small grid in
advance, embedding the curves as compact JSON in one self-contained HTML output, and drawing
them with a few lines of plain JavaScript (no library, no network) into an inline SVG::

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

import numpy as np
from IPython.display import HTML
from numpy.typing import ArrayLike

MAX_BYTES = 400_000
"""Largest embedded JSON accepted for one explorer (a book page must stay light)."""


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
    x_label: str,
    log_x: bool = True,
    title: str = "",
    initial: Mapping[str, float] | None = None,
    max_points: int = 100,
    digits: int = 4,
) -> HTML:
    """A self-contained HTML explorer of ``compute`` over the grid ``params`` (no kernel needed).

    ``compute(setting)`` is called once per grid point (``setting`` maps each parameter name
    to a value) and returns a :class:`Frame`. Curves are downsampled to ``max_points`` and
    rounded to ``digits`` significant digits; the embedded JSON must stay under
    :data:`MAX_BYTES`. ``initial`` picks the starting slider positions (nearest grid values;
    default: the middle of each grid).
    """
    data = explorer_data(
        params, compute, panels, x_label=x_label, log_x=log_x, max_points=max_points, digits=digits
    )
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
        f"<script>({_SCRIPT})(document.currentScript ? document.currentScript.parentElement "
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


# The drawing: one function applied to the explorer's root element. Panels share the x
# axis of a frame; y ranges fit the frame; markers are dashed vertical lines in every panel.
_SCRIPT = r"""
function (root) {
  const NS = "http://www.w3.org/2000/svg";
  const data = JSON.parse(root.querySelector("script.sal-explorer-data").textContent);
  const svg = root.querySelector("svg.sal-explorer-plot");
  const readout = root.querySelector(".sal-explorer-readout");
  const sliders = Array.from(root.querySelectorAll("input[type=range]"));
  const outputs = Array.from(root.querySelectorAll("output"));
  const names = Object.keys(data.params);
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const MARK = ["#000000", "#d62728", "#7f7f7f", "#17becf"];
  const W = 330, H = 260, L = 64, R = 12, TOP = 24, BOT = 46;
  const fmt = v => {
    const a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e5) return String(v);
    return (a !== 0 && (a >= 1e4 || a < 1e-2)) ? v.toExponential(0).replace("e+", "e") : String(+v.toPrecision(3));
  };
  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  }
  function ticks(lo, hi, log) {
    if (log) {
      const out = [], every = Math.max(1, Math.ceil((Math.floor(hi) - Math.ceil(lo) + 1) / 7));
      for (let k = Math.ceil(lo); k <= Math.floor(hi); k += every) out.push(k);
      if (out.length < 2) for (const m of [2, 5]) for (let k = Math.floor(lo); k <= hi; k++) {
        const v = k + Math.log10(m); if (v >= lo && v <= hi) out.push(v);
      }
      return out.sort((a, b) => a - b);
    }
    const raw = (hi - lo) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(v);
    return out;
  }
  function range(values, log) {
    const v = values.filter(z => z !== null && (!log || z > 0)).map(z => log ? Math.log10(z) : z);
    let lo = Math.min(...v), hi = Math.max(...v);
    if (!log) { lo = Math.min(lo, 0); }
    if (!(hi > lo)) { hi = lo + 1; }
    const pad = log ? 0 : 0.05 * (hi - lo);
    return [lo - (log ? 0 : pad), hi + pad];
  }
  function draw() {
    const idx = sliders.map(s => +s.value);
    let flat = 0;
    names.forEach((n, k) => { flat = flat * data.params[n].length + idx[k]; });
    const f = data.frames[flat];
    outputs.forEach((o, k) => { o.textContent = fmt(data.params[names[k]][idx[k]]); });
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const xs = f.x.map(v => data.logx ? (v > 0 ? Math.log10(v) : null) : v);
    const [x0, x1] = range(f.x, data.logx);
    data.panels.forEach((p, k) => {
      const ox = k * W;
      const all = [].concat(...p.curves.map(c => f.y[c]));
      const [y0, y1] = range(all, p.logy);
      const X = v => ox + L + (v - x0) / (x1 - x0) * (W - L - R);
      const Y = v => TOP + (1 - (v - y0) / (y1 - y0)) * (H - TOP - BOT);
      el("rect", {x: ox + L, y: TOP, width: W - L - R, height: H - TOP - BOT, fill: "none", stroke: "#444"});
      for (const t of ticks(x0, x1, data.logx)) {
        el("line", {x1: X(t), x2: X(t), y1: H - BOT, y2: H - BOT + 4, stroke: "#444"});
        el("text", {x: X(t), y: H - BOT + 16, "text-anchor": "middle", "font-size": 13}, data.logx ? fmt(Math.pow(10, t)) : fmt(t));
      }
      for (const t of ticks(y0, y1, p.logy)) {
        el("line", {x1: ox + L - 4, x2: ox + L, y1: Y(t), y2: Y(t), stroke: "#444"});
        el("text", {x: ox + L - 6, y: Y(t) + 4, "text-anchor": "end", "font-size": 13}, p.logy ? fmt(Math.pow(10, t)) : fmt(t));
      }
      el("text", {x: ox + L + (W - L - R) / 2, y: H - 6, "text-anchor": "middle"}, data.xlabel);
      el("text", {x: ox + 14, y: TOP + (H - TOP - BOT) / 2, "text-anchor": "middle",
                  transform: "rotate(-90 " + (ox + 14) + " " + (TOP + (H - TOP - BOT) / 2) + ")"}, p.ylabel);
      el("text", {x: ox + L + (W - L - R) / 2, y: 15, "text-anchor": "middle", "font-weight": "bold"}, p.title);
      p.curves.forEach((c, j) => {
        const pts = [];
        f.y[c].forEach((v, i) => {
          const yv = p.logy ? (v > 0 ? Math.log10(v) : null) : v;
          if (xs[i] !== null && yv !== null) pts.push(X(xs[i]).toFixed(1) + "," + Y(yv).toFixed(1));
        });
        el("polyline", {points: pts.join(" "), fill: "none", stroke: COLORS[j % COLORS.length], "stroke-width": 1.8});
        el("text", {x: ox + W - R - 4, y: TOP + 16 + 16 * j, "text-anchor": "end", fill: COLORS[j % COLORS.length], "font-size": 13,
                  stroke: "white", "stroke-width": 3, "paint-order": "stroke"}, c);
      });
      Object.keys(f.m).forEach((m, j) => {
        const v = f.m[m];
        if (v === null || (data.logx && v <= 0)) return;
        const xv = data.logx ? Math.log10(v) : v;
        if (xv < x0 || xv > x1) return;
        el("line", {x1: X(xv), x2: X(xv), y1: TOP, y2: H - BOT, stroke: MARK[j % MARK.length], "stroke-dasharray": "5,3"});
      });
    });
    readout.innerHTML = "";
    Object.keys(f.m).forEach((m, j) => {
      const s = document.createElement("span");
      s.style.color = MARK[j % MARK.length]; s.style.marginRight = "1.5em";
      s.textContent = "- - " + m + ": " + (f.m[m] === null ? "not reached" : fmt(f.m[m]));
      readout.appendChild(s);
    });
  }
  sliders.forEach(s => s.addEventListener("input", draw));
  draw();
}
"""
