"""Print one line per key tool of the book's build and tests, as installed here.

    python tools/versions.py

CI prints this at the top of its log (``make versions``), so a failure can be traced to a
version that moved. The pinned versions are in ``requirements/constraints.txt``.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from importlib import metadata

KEY_TOOLS = (
    "torch", "numpy", "scipy", "matplotlib", "tqdm", "ipywidgets", "ipykernel",
    "jupyter-book", "myst-nb", "sphinx", "sphinx-book-theme", "sphinxcontrib-bibtex", "docutils",
    "pytest", "nbval", "playwright", "jupyterlab", "ruff", "submitit",
)


def installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def program(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not found"
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "?"


def main() -> None:
    print(f"versions: python {platform.python_version()}")
    for name in KEY_TOOLS:
        print(f"versions: {name} {installed(name)}")
    print(f"versions: node {program(['node', '--version'])}")
    print(f"versions: chromium {program(['chromium', '--version'])}")


if __name__ == "__main__":
    main()
