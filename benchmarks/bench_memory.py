"""Peak memory of each chapter, executed outside the checkout. Prints; asserts only with --limit-gb.

    OMP_NUM_THREADS=1 nice python benchmarks/bench_memory.py [--profiles gpu laptop]
        [--max-steps 300] [--limit-gb 4] [book/00_introduction.ipynb ...]

Each chapter (all of ``book/NN_*.ipynb`` by default) is copied with the rest of ``book/`` into a
temporary folder and executed there by ``nbclient``, in a subprocess of its own, with
``SAL_PROFILE=<profile> SAL_DEVICE=cpu SAL_MAX_STEPS=<max-steps>`` and ``SAL_RESULTS_DIR`` in the
temporary folder, so nothing in the checkout changes. The peak is the kernel's largest resident
set size (``getrusage(RUSAGE_CHILDREN)`` in that subprocess, whose child the kernel is), the memory
a Colab runtime (about 12 GB) must hold; the target under ``gpu`` is 4 GB per chapter (issue 28).
The library is the one the running Python imports (a checkout installed with ``pip install -e``,
or the Colab mimic's install: ``tools/colab_mimic.sh`` runs one chapter through this script).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sparse_attention_lab.profiles import PROFILES

REPO = Path(__file__).resolve().parents[1]
GB = 1e9


def execute(notebook: Path, timeout: int) -> dict:
    """Run ``notebook`` in place with nbclient (this process is the kernel's parent); return the
    kernel's peak resident set size, the wall time and the first error, if any."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                            resources={"metadata": {"path": str(notebook.parent)}})
    start, error = time.perf_counter(), None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    seconds = time.perf_counter() - start
    errors = [o.get("ename", "error") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    return {"peak_bytes": peak_kib * 1024, "seconds": seconds, "error": error or (errors[0] if errors else None)}


def measure(chapter: Path, profile: str, max_steps: int, timeout: int) -> dict:
    """Copy ``book/`` outside the checkout and execute ``chapter`` there under ``profile``."""
    with tempfile.TemporaryDirectory(prefix="sal_bench_memory_") as tmp:
        book = Path(tmp) / "book"
        shutil.copytree(chapter.parent, book, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
        env = {**os.environ, "SAL_PROFILE": profile, "SAL_DEVICE": "cpu", "SAL_MAX_STEPS": str(max_steps),
               "SAL_RESULTS_DIR": str(Path(tmp) / "results"), "MPLBACKEND": "Agg"}
        done = subprocess.run([sys.executable, __file__, "--execute", str(book / chapter.name), "--timeout", str(timeout)],
                              env=env, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            return {"peak_bytes": 0, "seconds": 0.0, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", type=Path)
    parser.add_argument("--profiles", nargs="+", default=["gpu", "laptop"], choices=sorted(PROFILES),
                        help="profiles to run (before the chapters: --profiles gpu -- book/...)")
    parser.add_argument("--max-steps", type=int, default=300, help="SAL_MAX_STEPS for every training run")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--limit-gb", type=float, default=None, help="exit 1 when a chapter errs or exceeds this")
    parser.add_argument("--execute", type=Path, help=argparse.SUPPRESS)  # the subprocess's own mode
    args = parser.parse_args()
    if args.execute:
        print(json.dumps(execute(args.execute, args.timeout)))
        return
    chapters = args.chapters or sorted((REPO / "book").glob("[0-9][0-9]_*.ipynb"))
    failed = False
    for profile in args.profiles:
        for chapter in chapters:
            result = measure(chapter.resolve(), profile, args.max_steps, args.timeout)
            over = args.limit_gb is not None and result["peak_bytes"] > args.limit_gb * GB
            failed |= over or result["error"] is not None
            print(f"{profile:<7} {chapter.stem:<32} peak {result['peak_bytes'] / GB:5.2f} GB  "
                  f"{result['seconds']:6.0f} s  {'error: ' + result['error'] if result['error'] else 'ok'}"
                  f"{'  OVER ' + str(args.limit_gb) + ' GB' if over else ''}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
