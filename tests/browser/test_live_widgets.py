"""The live widgets in a real front end: JupyterLab 4 in headless Chromium, at 1280 x 800 (issue 16).

A private JupyterLab (``lab_server.py``) opens the scratch notebook ``live_widgets.ipynb``,
which builds chapter 2's explorer, chapter 3's training panel (a fixed law, a tiny model) and
chapter 4's attention viewer (a small cached run, ``data/viewer_record.json``). The test moves
every slider with the keyboard, as a reader would, presses Run and Stop, and checks what the
reader sees: a new image after each move (its bytes, not just its URL), slider tracks wider
than 100 px, readouts and status lines that follow, Run and Stop that enable and disable each
other, and no page error, console error or request to another host. Time limits are loose
(a slider move answers within 2 s in the explorer and panel, 5 s in the viewer; Stop within
10 s); the times measured are printed (``pytest -s``). Screenshots of each widget go to
``_build/screenshots/`` (or ``$SAL_SCREENSHOT_DIR``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from lab_server import LOCAL_HOST, LabServer, start_lab
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "live_widgets.ipynb"
RECORD = HERE / "data" / "viewer_record.json"
SCREENSHOT_DIR = Path(os.environ.get("SAL_SCREENSHOT_DIR") or HERE.parents[1] / "_build" / "screenshots")
WINDOW = {"width": 1280, "height": 800}
NARROW_WINDOW = {"width": 1024, "height": 800}
MIN_TRACK_PX = 100
SLIDER_ANSWER_S = {"explorer": 2.0, "panel": 2.0, "viewer": 5.0}
STOP_WITHIN_S = 10.0
EVALUATION_EVERY = 10  # the scratch notebook's panel evaluates every 10 steps
START_WITHIN_S = 180.0  # kernel start and the notebook's cells on a busy 2-core machine

KERNEL_IDLE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
                   && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle';
}"""
RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
# The bytes behind an <img>: fetched from its blob URL and hashed, so "changed" means new pixels.
IMAGE_DIGEST = """async (img) => {
    if (!img.src) return '';
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return Array.from(hash, b => b.toString(16).padStart(2, '0')).join('') + ':' + bytes.byteLength;
}"""
SRC_CHANGED = "([img, old]) => !!img.src && img.src !== old"


@dataclass
class Lab:
    """The scratch notebook open in JupyterLab, with what the page reported so far."""

    page: Any  # playwright.sync_api.Page
    offsite_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    timings: dict[str, list[float]] = field(default_factory=dict)

    def widget(self, css_class: str) -> Any:
        """The widget with root class ``css_class``, scrolled into view."""
        root = self.page.locator(f".{css_class}")
        assert root.count() == 1, f"expected one .{css_class}, found {root.count()}"
        root.scroll_into_view_if_needed()
        return root

    def screenshot(self, locator: Any, name: str) -> Path:
        """Save a screenshot of ``locator`` (an element, or the page) as ``lab_<name>.png``."""
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"lab_{name}.png"
        locator.screenshot(path=str(path))
        return path

    def timed(self, what: str, seconds: float) -> None:
        """Note one measured latency (printed when the module's tests are done)."""
        self.timings.setdefault(what, []).append(seconds)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab serving a copy of the scratch notebook and its cached record."""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copy(NOTEBOOK, root)
    shutil.copy(RECORD, root)
    server = start_lab(root, tmp_path_factory.mktemp("lab-home"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lab(lab_server: LabServer, chromium: Any) -> Iterator[Lab]:
    """The notebook opened at 1280 x 800 and run top to bottom, its three widgets drawn."""
    context = chromium.new_context(viewport=WINDOW)
    page = context.new_page()
    result = Lab(page=page)

    def note_offsite(kind: str, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LOCAL_HOST:
            result.offsite_requests.append(f"{kind} {url}")

    page.on("request", lambda request: note_offsite(request.resource_type, request.url))
    page.on("websocket", lambda socket: note_offsite("websocket", socket.url))  # the kernel's channel
    page.on("console", lambda m: m.type == "error" and result.console_errors.append(m.text))
    page.on("pageerror", lambda error: result.page_errors.append(str(error)))
    start = time.perf_counter()
    page.goto(lab_server.notebook_url(NOTEBOOK.name), wait_until="load")
    page.wait_for_function(KERNEL_IDLE, timeout=START_WITHIN_S * 1e3)
    page.evaluate(RUN_ALL)
    for css_class in ("sal-live-explorer", "sal-training-panel", "sal-attention-viewer"):
        page.locator(f".{css_class} img.sal-figure[src]").wait_for(timeout=START_WITHIN_S * 1e3)
    page.wait_for_function(KERNEL_IDLE, timeout=START_WITHIN_S * 1e3)
    result.timed("open and run the notebook", time.perf_counter() - start)
    yield result
    print("\nlive widgets in JupyterLab, seconds:")
    for what, values in result.timings.items():
        print(f"  {what:<40} " + " ".join(f"{v:.2f}" for v in values))
    context.close()


def digest(image: Any) -> str:
    return image.evaluate(IMAGE_DIGEST)


def track_width(slider: Any) -> float:
    box = slider.locator(".noUi-target").bounding_box()
    return 0.0 if box is None else box["width"]


def press_slider(page: Any, slider: Any) -> None:
    """One arrow key on the slider's handle: right, or left when it sits at its maximum."""
    handle = slider.locator(".noUi-handle")
    at_max = float(handle.get_attribute("aria-valuenow")) >= float(handle.get_attribute("aria-valuemax"))
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")


def move_and_wait(lab: Lab, root: Any, slider: Any, limit_s: float, what: str) -> dict[str, str]:
    """Move ``slider`` by one key press; wait for a new image; return what changed, before -> after."""
    image = root.locator("img.sal-figure")
    status = root.locator(".sal-status")
    readout = slider.locator(".widget-readout")
    before = {"image": digest(image), "readout": readout.inner_text(), "status": status.inner_text()}
    src = image.get_attribute("src")
    start = time.perf_counter()
    press_slider(lab.page, slider)
    try:
        lab.page.wait_for_function(SRC_CHANGED, arg=[image.element_handle(), src], timeout=limit_s * 1e3)
    except PlaywrightTimeout:
        name = slider.locator(".widget-label").inner_text()
        pytest.fail(f"{what}: no new image within {limit_s:g} s of a key press on slider {name!r} "
                    f"(readout {before['readout']!r} -> {readout.inner_text()!r})")
    lab.timed(what, time.perf_counter() - start)
    after = {"image": digest(image), "readout": readout.inner_text(), "status": status.inner_text()}
    return {k: f"{before[k]} -> {after[k]}" for k in before if before[k] == after[k]}


def move_every_slider(lab: Lab, root, sliders, widget: str, what: str, ignore: tuple[str, ...] = ()) -> dict:
    """Move each slider in turn (tracks wide enough first); return what stayed the same, by slider."""
    unchanged = {}
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        name = slider.locator(".widget-label").inner_text()
        assert track_width(slider) > MIN_TRACK_PX, f"slider {name}: track {track_width(slider):.0f} px"
        same = {k: v for k, v in move_and_wait(lab, root, slider, SLIDER_ANSWER_S[widget], what).items()
                if k not in ignore}
        if same:
            unchanged[name] = same
    return unchanged


def test_explorer_answers_every_slider(lab: Lab):
    root = lab.widget("sal-live-explorer")
    sliders = root.locator(".widget-slider")
    assert sliders.count() == 5
    lab.screenshot(root, "explorer")
    unchanged = move_every_slider(lab, root, sliders, "explorer", "explorer: key press to new image")
    assert unchanged == {}, "these moves left the image, readout or status as they were"


def test_panel_redraws_runs_and_stops(lab: Lab):
    root = lab.widget("sal-training-panel")
    sliders = root.locator(".widget-slider")
    assert sliders.count() == 7
    run, stop = root.get_by_role("button", name="Run"), root.get_by_role("button", name="Stop")
    assert run.is_enabled() and stop.is_disabled()
    # the idle status says "press Run" after every move: only the image and readout must change
    unchanged = move_every_slider(lab, root, sliders, "panel", "panel: key press to new prediction", ignore=("status",))
    assert unchanged == {}, "these moves left the image or readout as they were"
    lab.screenshot(root, "panel_idle")

    image, status = root.locator("img.sal-figure"), root.locator(".sal-status")
    start = time.perf_counter()
    run.click()
    lab.page.wait_for_function("([run, stop]) => run.disabled && !stop.disabled",
                               arg=[run.element_handle(), stop.element_handle()], timeout=5_000)
    progress = re.compile(r"^step (\d+): test loss")
    lab.page.wait_for_function("(el) => /^step \\d+: test loss/.test(el.textContent)",
                               arg=status.element_handle(), timeout=30_000)
    lab.timed("panel: Run to first evaluation shown", time.perf_counter() - start)
    first = int(progress.match(status.inner_text()).group(1))
    later = first + 5 * EVALUATION_EVERY  # the status keeps following the run, evaluation after evaluation
    lab.page.wait_for_function(
        "([el, later]) => { const m = /^step (\\d+)/.exec(el.textContent); return !!m && +m[1] >= later; }",
        arg=[status.element_handle(), later], timeout=30_000)
    drawn = digest(image)
    lab.screenshot(root, "panel_running")

    start = time.perf_counter()
    stop.click()
    lab.page.wait_for_function("([run, stop]) => !run.disabled && stop.disabled",
                               arg=[run.element_handle(), stop.element_handle()], timeout=STOP_WITHIN_S * 1e3)
    lab.timed("panel: Stop to Run enabled again", time.perf_counter() - start)
    assert re.match(r"^(Stopped at step \d+ without escaping|Escaped the plateau at step \d+)\.$",
                    status.inner_text()), status.inner_text()
    assert digest(image) != drawn, "the panel drew nothing after Stop"
    # the sliders are re-enabled by their own widget messages, which may land just after Run's
    lab.page.wait_for_function(
        "(root) => [...root.querySelectorAll('.widget-slider .noUi-target')].every(t => !t.hasAttribute('disabled'))",
        arg=root.element_handle(), timeout=5_000)
    assert all(s.locator(".noUi-target").get_attribute("disabled") is None for s in sliders.all())
    lab.screenshot(root, "panel_stopped")


def test_viewer_answers_its_slider(lab: Lab):
    root = lab.widget("sal-attention-viewer")
    slider = root.locator(".widget-slider")
    assert slider.count() == 1
    assert track_width(slider) > MIN_TRACK_PX
    for _ in range(3):
        same = move_and_wait(lab, root, slider, SLIDER_ANSWER_S["viewer"], "viewer: key press to new image")
        assert same == {}, f"a move left the image, readout or status as they were: {same}"
    lab.screenshot(root, "viewer")


def test_controls_fit_a_1024_px_window(lab: Lab):
    """With the file browser open, every slider keeps a usable track inside the notebook's width."""
    lab.page.set_viewport_size(NARROW_WINDOW)
    notebook = lab.page.locator(".jp-NotebookPanel-notebook").bounding_box()
    right_edge = notebook["x"] + notebook["width"]
    assert lab.page.locator(".jp-FileBrowser").is_visible(), "the sidebar should be open for this check"
    cramped = []
    for css_class in ("sal-live-explorer", "sal-training-panel", "sal-attention-viewer"):
        root = lab.widget(css_class)
        for slider in root.locator(".widget-slider").all():
            box = slider.locator(".noUi-target").bounding_box()
            if box["width"] <= MIN_TRACK_PX or box["x"] + box["width"] > right_edge:
                cramped.append(f"{css_class} {slider.locator('.widget-label').inner_text()}: {box}")
        lab.screenshot(root, f"{css_class.removeprefix('sal-')}_1024")
    lab.screenshot(lab.page, "window_1024")
    lab.page.set_viewport_size(WINDOW)
    assert cramped == []


def test_page_reports_no_error_and_reaches_no_other_host(lab: Lab):
    assert lab.page_errors == []
    assert lab.console_errors == []
    assert lab.offsite_requests == []
