"""The built book in headless Chromium: every chapter page of the table of contents renders
offline, with its figures, typeset math, no traceback, a Colab button that opens the right
notebook, and kernel-free explorers that answer their sliders (issue 2, item 9)."""

from __future__ import annotations

import re
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

# sphinx-thebe 0.3.1 under Sphinx 7.4 writes its inline configuration script twice on every
# page; the second copy fails to redeclare the same constants, with no effect on the page.
HARMLESS_SCRIPT_ERRORS = {"Identifier 'THEBE_JS_URL' has already been declared"}


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
    errors = [e for e in rendered.script_errors if e not in HARMLESS_SCRIPT_ERRORS]
    assert errors == []


def test_every_image_loaded(rendered):
    assert rendered.page.evaluate(IMAGES_NOT_LOADED) == []


def test_math_is_typeset(rendered):
    state = rendered.page.evaluate(MATH_STATE)
    assert state["untypeset"] == [], "math left as raw LaTeX (MathJax missing?)"
    assert state["errors"] == [], "MathJax could not typeset some LaTeX"
    prose = rendered.page.evaluate(PROSE_TEXT)
    raw = [prose[max(m.start() - 40, 0) : m.end() + 40] for m in re.finditer(r"\$\$", prose)]
    assert raw == [], "`$$` left in the text: display math that MyST did not parse"


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
