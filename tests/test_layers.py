"""The library's layers: a module imports only from its own layer or below (CONTRIBUTING.md points here).

This table is the one map of the architecture. Every module of the package must appear in it;
the sweep registry is a plain import, so this test sees it too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sparse_attention_lab"

LAYERS = {
    "sizes and hardware": {"profiles", "hardware"},
    "data": {"tasks.checks", "tasks.device", "tasks.regression", "tasks.recall", "tasks"},
    "theory, models, measures, results files": {
        "theory.toy", "theory.reduced", "theory.gradient_signal", "theory",
        "models", "measure", "fitting", "forecast", "runs.results", "runs.executors",
        "analysis.measurement",  # App. D.1's thresholds: constants and one rule, read by every layer above
    },
    "training": {"training.precision", "training.record", "training.trainer", "training.toy_sgd", "training.probes",
                 "training"},
    "experiments": {"experiments.regression", "experiments.recall", "experiments.schedules", "experiments.mechanism",
                    "experiments.recall_layers", "experiments.recall_summary",
                    "experiments.packing", "experiments.ablation", "experiments.toy_sgd", "experiments"},
    "sweeps": {"runs.sweep", "runs.estimate", "runs.provenance", "runs.book_data", "runs"},
    "analysis": {"analysis", "analysis.paper", "analysis.verdicts", "analysis.ablation", "analysis.width",
                 "analysis.recall", "analysis.tuning", "analysis.regression", "analysis.scale", "analysis.seeds", "analysis.on_demand",
                 "analysis.toy_sgd", "analysis.steps", "analysis.mechanism"},
    "views and exercises": {
        "views.figures", "views.glue", "views.scorecard", "views.static_explorer", "views.live_explorer",
        "views.repetition", "views.training_panel", "views.attention_maps", "views.tables", "views.regression",
        "views.mechanism", "views.mechanism_tables", "views.recall_layers", "views.toy_figures", "views.repetition_figures",
        "views.recall_figures", "views.beyond_figures", "views.microscope", "views.style", "views.seed_tables", "views", "exercises",
    },
    "command line": {"__main__"},
}
RANK = {module: rank for rank, names in enumerate(LAYERS.values()) for module in names}


def module_name(path: Path) -> str:
    """``tasks.recall`` for ``tasks/recall.py``, ``tasks`` for ``tasks/__init__.py``; ``exercises.*`` -> ``exercises``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    name = ".".join(parts)
    return "exercises" if name.startswith("exercises") else name


def layer_of(dotted: str) -> str | None:
    """The table entry of an imported dotted name (``sparse_attention_lab.theory.reduced`` -> ``theory.reduced``)."""
    parts = dotted.split(".")[1:]
    while parts:
        name = ".".join(parts)
        if name in RANK or name.startswith("exercises"):
            return "exercises" if name.startswith("exercises") else name
        parts = parts[:-1]
    return None


def imported_modules(path: Path) -> set[str]:
    """The package modules (table entries) that ``path`` imports, at any depth of the file."""
    package = ["sparse_attention_lab", *path.relative_to(PACKAGE).parent.parts]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return {m for m in map(layer_of, (n for n in names if n.startswith("sparse_attention_lab."))) if m}


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_module_has_a_layer():
    modules = {module_name(p) for p in SOURCES}
    assert modules <= set(RANK), f"add {sorted(modules - set(RANK))} to LAYERS"


def test_no_import_module_strings():
    """Experiments are reached by plain imports, which this test and a reader can see."""
    offenders = [p.name for p in SOURCES if "import_module" in p.read_text()]
    assert not offenders, offenders


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_no_module_imports_a_higher_layer(path):
    mine = module_name(path)
    higher = {m for m in imported_modules(path) if RANK[m] > RANK[mine]}
    assert not higher, f"{path.name} ({mine}) imports higher-layer modules {sorted(higher)}"
