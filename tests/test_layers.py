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
    """The package modules that ``path`` imports (relative or absolute imports)."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 for a top-level module
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb to the package root, then read the first name
                climbed = node.level - 1 - depth
                if climbed > 0:
                    continue
                names = (node.module or "").split(".") if node.module else [a.name for a in node.names]
                if node.level - 1 < depth:  # inside a subpackage: a sibling of this subpackage's files
                    found.add(top_module(path))
                    continue
                found.add(names[0])
            elif node.module and node.module.startswith("sparse_attention_lab."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("sparse_attention_lab.")}
    return found - {"", "__init__"}


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_layer():
    modules = {top_module(p) for p in SOURCES}
    assert modules <= set(RANK), f"add {sorted(modules - set(RANK))} to LAYERS (and CONTRIBUTING.md)"


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_no_module_imports_a_higher_layer(path):
    mine = top_module(path)
    higher = {m for m in imported_modules(path) if m in RANK and RANK[m] > RANK[mine]}
    assert not higher, f"{path.name} ({mine}) imports higher-layer modules {sorted(higher)}"
