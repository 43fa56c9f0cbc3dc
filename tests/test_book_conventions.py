"""The conventions every chapter of the book keeps (CONTRIBUTING.md, "Chapter notebooks").

The chapters are the entries of ``_toc.yml`` (or of ``$SAL_BOOK_TOC``, the variable that
``tools/build_book.sh`` and the browser test read too). Each notebook is committed executed,
top to bottom, without errors; its first code cell installs the library on Colab only, from
the repository URL of ``_config.yml`` at the branch its launch button opens it from, with the light
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


def launch_branch() -> str:
    """The branch the launch buttons open the notebooks from (``repository.branch`` of _config.yml)."""
    return yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["branch"]


@pytest.fixture(scope="module")
def colab_requirement() -> str:
    """What the Colab cell must install: the light `colab` extra (no book-building tools) from
    the repository of _config.yml, at the branch the launch button opens the page from, so the
    library is the one the page's code was written for (a release tag is not published with the
    repository, and the notebook on that branch may need a newer library than a tag has)."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    return f"sparse-attention-lab[colab] @ git+{config['repository']['url']}@{launch_branch()}"


def test_the_installed_ref_resolves_in_this_repository():
    """Issue 28: the cell used to install a tag that did not exist, so cell 1 raised on Colab."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the ref cannot be looked up")
    branch = launch_branch()
    refs = subprocess.run(["git", "-C", str(REPO), "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes"],
                          capture_output=True, text=True).stdout.split()
    if not refs:
        pytest.skip("a detached checkout with no branches (some CI checkouts): no ref can be looked up")
    found = [ref for ref in (branch, f"origin/{branch}", f"refs/remotes/origin/{branch}")
             if subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                               capture_output=True).returncode == 0]
    assert found, f"the Colab cell installs @{branch}, which does not resolve in this repository"


def chapter_imports(docname: str) -> dict[str, set[str]]:
    """``{module: names}`` a chapter takes from the library: its ``from sparse_attention_lab... import``
    names, and the attributes it reads of each module imported that way."""
    wanted: dict[str, set[str]] = {}
    modules: dict[str, str] = {}  # local name -> module path, for `views.x` style attribute reads
    trees = []
    for cell in code_cells(docname)[1:]:
        try:
            trees.append(ast.parse(cell.source))
        except SyntaxError:  # IPython magics: not the library's concern
            continue
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sparse_attention_lab"):
                for alias in node.names:
                    wanted.setdefault(node.module, set()).add(alias.name)
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                wanted.setdefault(modules[node.value.id], set()).add(node.attr)
    return wanted


def _is_submodule(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False


@pytest.mark.parametrize("docname", NOTEBOOKS)
def test_the_library_has_what_the_chapter_imports(docname):
    """Issue 28: with a tag installed, chapter 3 failed with `mechanism_tables has no attribute
    'scale_fits'`. Every name a chapter imports, and every attribute it reads of an imported
    library module, exists in the library the cell installs (this tree, on the launch branch)."""
    import importlib

    missing = []
    for module_name, names in chapter_imports(docname).items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue  # an imported class or function, not a module: its attributes are not ours to list
        missing += [f"{module_name}.{name}" for name in sorted(names)
                    if not hasattr(module, name) and not _is_submodule(f"{module_name}.{name}")]
    assert missing == [], f"{docname} uses names the library lacks: {missing}"


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
