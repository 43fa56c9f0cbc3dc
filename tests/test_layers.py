"""The library's layers (CONTRIBUTING.md): a module imports only from its own layer or below."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sparse_attention_lab"

LAYERS = {
    "bottom": {"profiles", "tasks", "toy", "fitting", "models", "results", "executors"},
    "middle": {"dynamics", "gradient_signal", "training", "probes", "schedules"},
    "top": {"experiments", "sweeps", "forecast", "plots", "attention_viewer", "explorer", "widgets", "panel",
            "__main__"},
}
RANK = {module: rank for rank, names in enumerate(LAYERS.values()) for module in names}


def top_module(path: Path) -> str:
    """``tasks`` for ``tasks/recall.py``, ``toy`` for ``toy.py``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported_modules(path: Path) -> set[str]:
    """The package modules (second part of the dotted name) that ``path`` imports."""
    package = ["sparse_attention_lab", *path.relative_to(PACKAGE).parent.parts]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            targets = [node.module] if node.module else [alias.name for alias in node.names]
            names += [".".join([*base, target]) for target in targets]
    return {n.split(".")[1] for n in names if n.startswith("sparse_attention_lab.")}


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_layer():
    modules = {top_module(p) for p in SOURCES}
    assert modules <= set(RANK), f"add {sorted(modules - set(RANK))} to LAYERS (and CONTRIBUTING.md)"


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_no_module_imports_a_higher_layer(path):
    mine = top_module(path)
    higher = {m for m in imported_modules(path) if m in RANK and RANK[m] > RANK[mine]}
    assert not higher, f"{path.name} ({mine}) imports higher-layer modules {sorted(higher)}"
