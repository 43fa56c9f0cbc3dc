"""Fixtures of the browser test: the built book served on 127.0.0.1 and opened in Chromium.

The book is built by ``bash tools/build_book.sh`` into ``_build/html``; without it every
test here is skipped. Chromium is Debian's package (``tools/install_browser.sh``), driven by
Python Playwright; ``playwright install`` is never needed. Each chapter page is loaded once
(after MathJax has typeset it) and shared by the tests of ``test_rendered_book.py``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

try:  # the parser Jupyter Book itself uses for _toc.yml
    from sphinx_external_toc.parsing import parse_toc_yaml
except ImportError:
    raise ImportError('Testing the book needs its tools: run `pip install -e ".[book,test]"`.') from None

REPO = Path(__file__).resolve().parents[2]
HTML_DIR = REPO / "_build" / "html"
SCREENSHOT_DIR = REPO / "_build" / "screenshots"
TOC = Path(os.environ.get("SAL_BOOK_TOC") or REPO / "_toc.yml")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOST = "127.0.0.1"
PAGE_TIMEOUT_MS = 60_000

# Resolves once MathJax has typeset the page; false when the page does not load MathJax.
WAIT_FOR_MATHJAX = """async () => {
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return false;
    await MathJax.startup.promise;
    return true;
}"""

CHAPTERS: list[str] = list(parse_toc_yaml(TOC))


@dataclass
class RenderedPage:
    """A chapter page open in Chromium, with what happened while it loaded."""

    chapter: str  # document name in the table of contents, e.g. "book/00_introduction"
    page: Any  # playwright.sync_api.Page
    offsite_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)  # uncaught, and logged as errors

    @property
    def is_notebook(self) -> bool:
        """Whether the page was rendered from a notebook (and so has a Colab button)."""
        return (REPO / f"{self.chapter}.ipynb").is_file()

    @property
    def name(self) -> str:
        """The chapter's file name without suffix, e.g. ``00_introduction``."""
        return Path(self.chapter).name

    def screenshot(self, suffix: str = "") -> Path:
        """Save a full-page screenshot under ``_build/screenshots/``; return its path."""
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{self.name}{suffix}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without logging every request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def repository_url() -> str:
    """The repository URL of ``_config.yml``, the one place that sets it."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    return config["repository"]["url"]


@pytest.fixture(scope="session")
def book_url() -> Iterator[str]:
    """Base URL of ``_build/html`` served on 127.0.0.1 at a free port."""
    if not (HTML_DIR / "index.html").is_file():
        pytest.skip(f"the book is not built ({HTML_DIR} is missing): run `bash tools/build_book.sh`")
    handler = functools.partial(_QuietHandler, directory=str(HTML_DIR))
    server = ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOCAL_HOST}:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def browser(book_url: str, chromium: Any) -> Any:
    """Chromium for the pages of the built book (skipped with them when the book is not built)."""
    return chromium


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium (Debian's package), without any network of its own."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('Python Playwright is missing: run `pip install -e ".[test]"`.')
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `bash tools/install_browser.sh`.")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", params=CHAPTERS)
def rendered(request: pytest.FixtureRequest, browser: Any, book_url: str) -> Iterator[RenderedPage]:
    """One chapter page, loaded and typeset, with a full-page screenshot saved."""
    chapter: str = request.param
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    result = RenderedPage(chapter=chapter, page=page)

    def on_request(req: Any) -> None:
        parts = urlsplit(req.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LOCAL_HOST:
            result.offsite_requests.append(f"{req.resource_type} {req.url}")

    def on_response(response: Any) -> None:
        if response.status >= 400:
            result.failed_requests.append(f"HTTP {response.status} {response.url}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", lambda req: result.failed_requests.append(f"{req.failure} {req.url}"))
    page.on("pageerror", lambda error: result.script_errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and result.script_errors.append(message.text))

    response = page.goto(f"{book_url}/{chapter}.html", wait_until="load", timeout=PAGE_TIMEOUT_MS)
    if response is None or not response.ok:
        status = "no response" if response is None else f"HTTP {response.status}"
        pytest.fail(f"{chapter}.html did not load ({status}): is it in the built book?")
    page.evaluate(WAIT_FOR_MATHJAX)
    result.screenshot()
    yield result
    context.close()
