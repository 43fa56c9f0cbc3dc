"""The conventions every chapter of the book keeps (CONTRIBUTING.md, "Chapter notebooks").

The chapters are the entries of ``_toc.yml`` (or of ``$SAL_BOOK_TOC``, the variable that
``tools/build_book.sh`` and the browser test read too). Each notebook is committed executed,
top to bottom, without errors; its first code cell installs the library on Colab only, from
the repository URL of ``_config.yml`` at the release tag of the package's version, with the light
``colab`` extra; its second prints the compute-profile banner; and it
carries no ipywidgets state (the static book uses kernel-free explorers).
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
import types
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

import nbformat
import pytest
import yaml

try:  # the parser Jupyter Book itself uses for _toc.yml
    from sphinx_external_toc.parsing import parse_toc_yaml
except ImportError:
    raise ImportError('Testing the book needs its tools: run `pip install -e ".[book,test]"`.') from None

from sparse_attention_lab import __version__
from sparse_attention_lab.profiles import PROFILES

REPO = Path(__file__).resolve().parents[1]
TOC = Path(os.environ.get("SAL_BOOK_TOC") or REPO / "_toc.yml")
SOURCE_SUFFIXES = (".ipynb", ".md")
DOCNAMES: list[str] = list(parse_toc_yaml(TOC))
NOTEBOOKS: list[str] = [d for d in DOCNAMES if (REPO / f"{d}.ipynb").is_file()]

COLAB_CONDITION = ast.dump(ast.parse('"google.colab" in sys.modules', mode="eval").body)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TRACEBACK = "Traceback (most recent call last)"
BANNER = re.compile(r"Profile '(" + "|".join(map(re.escape, PROFILES)) + r")'")


@functools.cache
def read_notebook(docname: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / f"{docname}.ipynb", as_version=4)


def code_cells(docname: str) -> list[nbformat.NotebookNode]:
    return [cell for cell in read_notebook(docname).cells if cell.cell_type == "code"]


def output_texts(cell: nbformat.NotebookNode) -> list[str]:
    """The text a cell's outputs show: streams, plain-text results, error tracebacks."""
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type == "error":
            texts.append("\n".join(output.traceback))
        elif "text/plain" in output.get("data", {}):
            texts.append(output.data["text/plain"])
    return texts


def test_every_chapter_notebook_is_in_the_toc():
    """The parametrized tests below see every chapter: none is left out of the table of contents."""
    on_disk = {f"book/{path.stem}" for path in (REPO / "book").glob("[0-9][0-9]_*.ipynb")}
    assert on_disk, "no chapter notebooks found under book/"
    assert on_disk <= set(NOTEBOOKS), f"chapters missing from {TOC.name}: {sorted(on_disk - set(NOTEBOOKS))}"


@pytest.fixture(scope="module")
def colab_requirement() -> str:
    """What the Colab cell must install: the light `colab` extra (no book-building tools) from
    the repository of _config.yml, pinned to the release tag of the package's version."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    return f"sparse-attention-lab[colab] @ git+{config['repository']['url']}@v{__version__}"


def test_colab_extra_keeps_colab_packages():
    """The `colab` extra adds only ipywidgets, from 7.6 on (Colab ships 7.7.1), to the core."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["colab"] == ["ipywidgets>=7.6"]


def run_colab_cell(source: str, monkeypatch: pytest.MonkeyPatch, on_colab: bool) -> list[list[str]]:
    """Execute a Colab cell with ``subprocess.run`` recorded, not run; return its calls."""
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append(list(args)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<colab cell>", "exec"), {})
    return calls


@pytest.mark.parametrize("docname", DOCNAMES)
def test_toc_entry_has_one_source_file(docname):
    sources = [s for s in SOURCE_SUFFIXES if (REPO / f"{docname}{s}").is_file()]
    assert len(sources) == 1, f"{docname} listed in {TOC.name} has sources {sources}"


@pytest.mark.parametrize("docname", [d for d in DOCNAMES if re.match(r"\d\d_", Path(d).name)])
def test_numbered_chapters_are_notebooks(docname):
    assert docname in NOTEBOOKS, f"{docname}.ipynb is missing"


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_executed_top_to_bottom(docname):
    counts = [cell.execution_count for cell in code_cells(docname)]
    unexecuted = [i for i, count in enumerate(counts) if count is None]
    assert unexecuted == [], f"code cells {unexecuted} were not executed (or are empty)"
    assert counts == sorted(set(counts)), f"cells executed out of order: {counts}"


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_no_error_output(docname):
    failing = [
        i
        for i, cell in enumerate(code_cells(docname))
        if any(o.output_type == "error" for o in cell.outputs)
        or any(TRACEBACK in text for text in output_texts(cell))
    ]
    assert failing == [], f"code cells {failing} show an error"


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_first_code_cell_installs_on_colab_only(docname, colab_requirement, monkeypatch):
    cell = code_cells(docname)[0]
    statements = ast.parse(cell.source).body
    stray = [
        ast.unparse(s).splitlines()[0]
        for s in statements
        if not isinstance(s, ast.Import)
        and not (isinstance(s, ast.If) and ast.dump(s.test) == COLAB_CONDITION and not s.orelse)
    ]
    assert stray == [], 'statements outside `if "google.colab" in sys.modules:`'
    assert cell.outputs == []
    assert run_colab_cell(cell.source, monkeypatch, on_colab=False) == []
    installs = run_colab_cell(cell.source, monkeypatch, on_colab=True)
    assert len(installs) == 1 and colab_requirement in installs[0], installs


def test_first_code_cells_are_identical():
    sources = {code_cells(d)[0].source for d in NOTEBOOKS}
    assert len(sources) <= 1, "chapters differ in their Colab cell"


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_second_code_cell_prints_the_profile_banner(docname):
    cell = code_cells(docname)[1]
    prints_banner = any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
        and any(
            isinstance(arg, ast.Call)
            and isinstance(arg.func, ast.Name)
            and arg.func.id == "banner"
            for arg in node.args
        )
        for node in ast.walk(ast.parse(cell.source))
    )
    assert prints_banner, "the second code cell must `print(banner(profile))`"
    assert any(BANNER.search(text) for text in output_texts(cell)), "no banner in its output"


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_no_widget_state(docname):
    notebook = read_notebook(docname)
    assert "widgets" not in notebook.metadata, "saved with widget state"
    shown_widgets = [
        i
        for i, cell in enumerate(code_cells(docname))
        if any(WIDGET_VIEW in o.get("data", {}) for o in cell.outputs)
        and "remove-output" not in cell.metadata.get("tags", [])
    ]
    assert shown_widgets == [], f"live widgets in cells {shown_widgets} need the tag remove-output"
