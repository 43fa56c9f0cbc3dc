"""Execute chapter notebooks in place, as they are committed.

    python tools/run_notebook.py book/01_toy_model.ipynb [more.ipynb ...] [--profile laptop]

Outputs are written back into each notebook; ipywidgets state is not stored (the static
book uses kernel-free explorers instead), and the wall time of each notebook is printed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path, profile: str, timeout: int) -> float:
    """Execute ``path`` in place under compute profile ``profile``; return seconds taken."""
    os.environ["SAL_PROFILE"] = profile
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--profile", default="ci", help="compute profile (default: ci)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    for path in args.notebooks:
        seconds = run(path, args.profile, args.timeout)
        print(f"{path}: executed with profile {args.profile!r} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
