"""The built book in headless Chromium: every chapter page of the table of contents renders
offline, with its figures, typeset math, no traceback, a Colab button that opens the right
notebook, and kernel-free explorers that answer their sliders (issue 2, item 9)."""

from __future__ import annotations

import json
import re
import struct
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

IMAGES_NOT_LOADED = """() => Array.from(document.images)
    .filter(img => !img.complete || img.naturalWidth === 0)
    .map(img => img.currentSrc || img.src)"""

MATH_STATE = """() => {
    const math = Array.from(document.querySelectorAll('.math'));
    return {
        untypeset: math.filter(el => !el.querySelector('mjx-container'))
                       .map(el => el.textContent.trim().slice(0, 80)),
        errors: Array.from(document.querySelectorAll('mjx-merror'))
                     .map(el => el.getAttribute('data-mjx-error') || el.textContent),
    };
}"""

# The page's prose: text outside code, scripts and typeset math.
PROSE_TEXT = """() => {
    const root = (document.querySelector('main') || document.body).cloneNode(true);
    root.querySelectorAll('pre, code, script, style, textarea, mjx-container')
        .forEach(el => el.remove());
    return root.textContent;
}"""

OUTPUTS_WITH_TRACEBACK = """() => Array.from(document.querySelectorAll('.cell_output'))
    .filter(el => el.querySelector('.traceback')
                  || el.textContent.includes('Traceback (most recent call last)'))
    .map(el => el.textContent.trim().slice(0, 300))"""

# Moves a range slider to its other end and fires `input`, as a reader's drag would.
MOVE_SLIDER = """(slider) => {
    const before = slider.value;
    slider.value = before === slider.max ? slider.min : slider.max;
    slider.dispatchEvent(new Event('input', {bubbles: true}));
    return [before, slider.value];
}"""

COLAB = "https://colab.research.google.com"

# Exercise solutions are code cells tagged `exercise-solution` (and `hide-cell`): Jupyter Book puts
# each in a closed <details> whose summary opens it (issue 14).
SOLUTION_TAG = "exercise-solution"

def expected_colab_link(repository_url: str, chapter: str) -> str:
    """Where a chapter's Colab button must point: its notebook on the ``main`` branch."""
    parts = urlsplit(repository_url)
    if parts.hostname != "github.com":
        raise ValueError(f"repository_url must be a github.com URL, got {repository_url!r}")
    owner_repo = parts.path.strip("/").removesuffix(".git")
    return f"{COLAB}/github/{owner_repo}/blob/main/{chapter}.ipynb"


def test_nothing_is_requested_outside_127_0_0_1(rendered):
    assert rendered.offsite_requests == [], "the page reaches the network (a CDN?)"


def test_every_requested_file_loaded(rendered):
    assert rendered.failed_requests == []


def test_scripts_raise_no_error(rendered):
    """Issue 23: no uncaught exception and nothing logged as an error on the console."""
    assert rendered.script_errors == []


def test_every_image_loaded(rendered):
    assert rendered.page.evaluate(IMAGES_NOT_LOADED) == []


def test_math_is_typeset(rendered):
    state = rendered.page.evaluate(MATH_STATE)
    assert state["untypeset"] == [], "math left as raw LaTeX (MathJax missing?)"
    assert state["errors"] == [], "MathJax could not typeset some LaTeX"
    prose = rendered.page.evaluate(PROSE_TEXT)
    raw = [prose[max(m.start() - 40, 0) : m.end() + 40] for m in re.finditer(r"\$\$", prose)]
    assert raw == [], "`$$` left in the text: display math that MyST did not parse"

# A Markdown table that was not parsed as one: a paragraph holding a row of pipes and dashes
# (which smartquotes may have turned into an en or em dash).
RAW_PIPE_TABLES = """() => Array.from(document.querySelectorAll('main p'))
    .filter(p => /\\|\\s*:?(?:-{3,}|[\\u2013\\u2014]+):?\\s*\\|/.test(p.textContent))
    .map(p => p.textContent.trim().slice(0, 120))"""


def test_every_table_renders_as_a_table(rendered):
    """Issue 23: no table shows as raw ``| ... |`` text (myst-nb's default CommonMark has no tables)."""
    assert rendered.page.evaluate(RAW_PIPE_TABLES) == []


# Every figure of the page: its PNG, its natural width and its width as displayed.
FIGURES = """() => Array.from(document.querySelectorAll('div.cell_output img, figure img')).map(img => ({
    src: img.currentSrc || img.src, natural: img.naturalWidth,
    shown: img.getBoundingClientRect().width, right: img.getBoundingClientRect().right,
    link: (img.closest('a[href]') || {}).href || null}))"""

LABEL_PT = 10  # the label size that must stay legible ...
MIN_LABEL_PX = 10  # ... rendered at least this tall at 1280 px (issue 23)


def png_dpi(data: bytes) -> float | None:
    """The pixel density a PNG declares in its ``pHYs`` chunk (matplotlib writes the figure's
    dpi there), in pixels per inch; ``None`` when it declares none, or not in metres."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("data is not a PNG file.")
    at = 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"pHYs":
            per_metre, _, unit = struct.unpack(">IIB", data[at + 8 : at + 17])
            return per_metre * 0.0254 if unit == 1 else None
        if kind == b"IDAT":  # pHYs comes before the image data or not at all
            return None
        at += 12 + length
    return None


def label_px(figure: dict) -> float:
    """How tall a 10-pt label of ``figure`` (one of :data:`FIGURES`) renders, in CSS px: 10/72 inch
    at the PNG's own dpi, times the displayed width over the natural width."""
    with urllib.request.urlopen(figure["src"]) as response:
        dpi = png_dpi(response.read())
    if dpi is None:
        raise AssertionError(f"{figure['src']} declares no pixel density (pHYs): save it with a dpi")
    return LABEL_PT / 72 * dpi * figure["shown"] / figure["natural"]


def test_every_figure_renders_a_10pt_label_at_10px(rendered):
    """Issue 23: from each PNG's pixel density and its displayed width, a 10-pt label is at least
    10 px tall at 1280 px (a figure shrunk into the column to half its width fails)."""
    figures = [f for f in rendered.page.evaluate(FIGURES) if f["src"].lower().split("?")[0].endswith(".png")]
    small = {Path(urlsplit(f["src"]).path).name: round(label_px(f), 1) for f in figures}
    assert {name: px for name, px in small.items() if px < MIN_LABEL_PX} == {}


# Figures of cell outputs outside a numbered figure with a caption: MyST-NB wraps an output in one
# when its cell carries `mystnb.figure` metadata (a caption and a name for {numref}).
UNCAPTIONED_FIGURES = """() => Array.from(document.querySelectorAll('div.cell_output img')).filter(img => {
        const figure = img.closest('figure');
        const caption = figure && figure.querySelector('figcaption');
        return !caption || !caption.querySelector('.caption-number')
            || !(caption.querySelector('.caption-text') || {textContent: ''}).textContent.trim();
    }).map(img => (img.currentSrc || img.src).split('/').pop())"""


def test_every_figure_is_numbered_with_a_caption(rendered):
    """Issue 23: every figure of a cell output is a numbered figure with a caption of our own (the
    cell's ``mystnb.figure`` metadata), so that the text can refer to it."""
    assert rendered.page.evaluate(UNCAPTIONED_FIGURES) == [], "figure cells without mystnb.figure metadata"


# Display equations and code or output lines wider than their column.
OVERFLOWING = """() => Array.from(document.querySelectorAll('main div.math, main pre'))
    .filter(el => el.scrollWidth > el.clientWidth + 1)
    .map(el => el.tagName + ': ' + el.textContent.trim().slice(0, 80))"""


def test_no_equation_or_code_line_overflows_its_column(rendered):
    """Issue 23: display math and code or output lines (wrapped by _static/sal-book.css) fit the column."""
    assert rendered.page.evaluate(OVERFLOWING) == []


SCREEN_PX = 800
MAX_SCREENS = 20


def test_every_page_is_at_most_20_screens(rendered):
    """Issue 23: a page a reader can finish, at most 20 screens of 800 px at 1280 px."""
    screens = rendered.page.evaluate("() => document.documentElement.scrollHeight") / SCREEN_PX
    assert screens <= MAX_SCREENS, f"{rendered.chapter}: {screens:.1f} screens"


PHONE = {"width": 390, "height": 844}


def test_figures_fit_a_phone_and_open_at_full_size(rendered, browser, book_url):
    """Issue 23: on a 390 px screen no figure is wider than the screen, and each figure is a
    link to its own PNG (opened at full size)."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{book_url}/{rendered.chapter}.html", wait_until="load")
    figures = page.evaluate(FIGURES)
    context.close()
    too_wide = [f["src"] for f in figures if f["right"] > PHONE["width"] + 0.5 or f["shown"] > PHONE["width"]]
    assert too_wide == [], "figures wider than a phone's screen"
    unlinked = [f["src"] for f in figures if f["link"] != f["src"]]
    assert unlinked == [], "figures that do not open at full size"


def test_no_cell_output_shows_a_traceback(rendered):
    assert rendered.page.evaluate(OUTPUTS_WITH_TRACEBACK) == []


def test_colab_button_opens_this_chapter(rendered, repository_url):
    links = rendered.page.eval_on_selector_all(
        f'a[href^="{COLAB}"]', "anchors => anchors.map(a => a.href)"
    )
    if rendered.is_notebook:
        assert set(links) == {expected_colab_link(repository_url, rendered.chapter)}
    else:
        assert links == [], "only notebook pages can open on Colab"


def test_explorers_answer_their_sliders(rendered):
    explorers = rendered.page.locator(".sal-explorer")
    if explorers.count() == 0:
        pytest.skip("no kernel-free explorer on this page")
    unresponsive = []
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        plot = explorer.locator("svg.sal-explorer-plot")
        sliders = explorer.locator("input[type=range]")
        assert plot.count() == 1, f"explorer {i} has {plot.count()} plots, expected 1"
        assert sliders.count() > 0, f"explorer {i} has no slider"
        for j in range(sliders.count()):
            slider = sliders.nth(j)
            drawing = plot.inner_html()
            before, after = slider.evaluate(MOVE_SLIDER)
            if plot.inner_html() == drawing:
                param = slider.get_attribute("data-param")
                unresponsive.append(f"explorer {i}, slider {param!r} moved {before} -> {after}")
    rendered.screenshot("-sliders-moved")
    assert unresponsive == [], "the plot did not change when these sliders moved"


def tagged_solutions(chapter: str) -> int:
    """How many code cells of a chapter's notebook carry the solution tag."""
    path = Path(__file__).resolve().parents[2] / f"{chapter}.ipynb"
    cells = json.loads(path.read_text())["cells"] if path.is_file() else []
    return sum(SOLUTION_TAG in cell.get("metadata", {}).get("tags", []) for cell in cells)


def test_exercise_solutions_are_hidden_until_clicked(rendered):
    expected = tagged_solutions(rendered.chapter)
    if expected == 0:
        pytest.skip("no exercise solution on this page")
    solutions = rendered.page.locator(f".cell.tag_{SOLUTION_TAG}")
    assert solutions.count() == expected, "some solution cells were not rendered as solutions"
    for i in range(expected):
        solution = solutions.nth(i)
        code = solution.locator(".cell_input")
        assert code.count() == 1 and not code.is_visible(), f"solution {i + 1} is shown before any click"
        label = solution.locator("summary").first.inner_text()
        assert "Solution" in label, f"solution {i + 1} is labelled {label!r}"
        solution.locator("summary").first.click()
        assert code.is_visible(), f"solution {i + 1} did not open on click"
        assert "check_" in code.inner_text(), f"solution {i + 1} does not run its checker"
        assert "@title" not in code.inner_text(), f"solution {i + 1} shows Colab's form marker"
    rendered.screenshot("-solutions-open")


GLANCE = "book/06_reproduction_at_a_glance"
SCORECARD_LINKS = "() => Array.from(document.querySelectorAll('table.scorecard a')).map(a => a.href)"
HAS_ID = "id => document.getElementById(id) !== null"


def test_reproduction_at_a_glance_lists_every_chapter_and_its_links_resolve(browser, book_url):
    """The summary page shows every scorecard row the chapters saved, each linked to a section that exists."""
    files = sorted((Path(__file__).resolve().parents[2] / "book" / "data").glob("scorecard_*.json"))
    assert files, "no scorecard files: execute the chapters first"
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{book_url}/{GLANCE}.html", wait_until="load")
    assert response is not None and response.ok, f"{GLANCE}.html is not in the built book"
    links = page.evaluate(SCORECARD_LINKS)
    assert len(links) == sum(len(json.loads(f.read_text())) for f in files), "rows missing (or stale) on the page"
    assert {Path(urlsplit(link).path).stem for link in links} == {f.stem.removeprefix("scorecard_") for f in files}
    broken = []
    targets: dict[str, set[str]] = {}
    for link in links:
        parts = urlsplit(link)
        targets.setdefault(link.split("#")[0], set()).add(parts.fragment)
    for url, fragments in sorted(targets.items()):
        loaded = page.goto(url, wait_until="load")
        if loaded is None or not loaded.ok:
            broken.append(url)
            continue
        broken += [f"{url}#{f}" for f in sorted(fragments) if f and not page.evaluate(HAS_ID, f)]
    context.close()
    assert broken == [], "links of the summary page that lead nowhere"
