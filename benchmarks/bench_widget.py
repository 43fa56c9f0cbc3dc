"""How long does one update of chapter 2's live explorer take? Prints, asserts nothing.

    OMP_NUM_THREADS=1 python benchmarks/bench_widget.py [--updates 20]

One update is what a slider move costs: integrate the reduced flow of the new setting
(:func:`sparse_attention_lab.views.live_explorer.repetition_frame`) and redraw the existing matplotlib
figure in place (``set_data``, then PNG rendering). The target is a median under 150 ms.
Prints the median wall-clock and CPU time of the integration alone, the redraw alone and
the whole update, over settings cycling through the sliders' ranges, and the load average
(on a shared machine the wall-clock time includes waiting for a core).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np

from sparse_attention_lab.views.repetition import (
    REPETITION_GRID,
    repetition_explorer,
    repetition_frame,
)

TARGET_MS = 150.0


def settings(n: int) -> list[dict]:
    """``n`` settings walking over the slider grid (every parameter changes between updates)."""
    cycles = {k: itertools.cycle(v[::-1] if k in ("d", "p") else v) for k, v in REPETITION_GRID.items()}
    return [{k: next(c) for k, c in cycles.items()} for _ in range(n)]


def timed(work) -> tuple[float, float]:
    """(wall, CPU) milliseconds of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return 1e3 * (time.perf_counter() - wall), 1e3 * (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=20, help="slider moves to time (default 20)")
    args = parser.parse_args()
    explorer = repetition_explorer()
    rows = {"integrate": [], "redraw": [], "update": []}
    for setting in settings(args.updates):
        frame = repetition_frame(setting)
        rows["integrate"].append(timed(lambda s=setting: repetition_frame(s)))
        rows["redraw"].append(timed(lambda f=frame: explorer.draw(f)))
        # What a slider move triggers (LiveExplorer.update without reading the sliders).
        rows["update"].append(timed(lambda s=setting: explorer.draw(repetition_frame(s))))
    print(f"{args.updates} updates; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, values in rows.items():
        wall, cpu = np.median(np.array(values), axis=0)
        print(f"  {name:<9} median wall {wall:6.1f} ms, CPU {cpu:6.1f} ms")
    wall, cpu = np.median(np.array(rows["update"]), axis=0)
    verdict = "meets" if wall < TARGET_MS else ("meets on CPU time only" if cpu < TARGET_MS else "misses")
    print(f"one update: median {wall:.0f} ms wall, {cpu:.0f} ms CPU; {verdict} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
