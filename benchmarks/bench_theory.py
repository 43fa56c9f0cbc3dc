"""Speed of the theory library (not asserted): Fig. 1c grid of plateau lengths, one widget update.

Run with ``OMP_NUM_THREADS=1 python benchmarks/bench_theory.py``. Targets: the 42-point grid in
under 1 s, one widget update (integrate one setting and redraw loss, w, alpha) under 150 ms.
"""

from __future__ import annotations

import statistics
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sparse_attention_lab.fitting import fit_power_law  # noqa: E402
from sparse_attention_lab.theory import reduced as dynamics  # noqa: E402
from sparse_attention_lab.views.figures import plot_trajectory  # noqa: E402


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    T, d = np.meshgrid(2 ** np.arange(6, 13), 2 ** np.arange(4, 10), indexing="ij")
    grid_times = timed(lambda: dynamics.plateau_lengths(T, d), 5)
    fit = fit_power_law(dynamics.plateau_lengths(T, d), T=T, d=d)
    print(f"Fig. 1c grid ({T.size} points): median {statistics.median(grid_times) * 1e3:.0f} ms "
          f"(target < 1000 ms); fit {fit}")

    for p in (0.3, 0.9):
        times = timed(lambda p=p: dynamics.plateau_lengths(T[:, ::2], d[:, ::2], p=p), 1)
        print(f"Same grid thinned to {T[:, ::2].size} points at p = {p}: {times[0] * 1e3:.0f} ms")

    # A live widget draws its lines once and then only replaces their data.
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    plot_trajectory(dynamics.reduced_dynamics(512, 64), list(axes))
    lines = [ax.lines[0] for ax in axes]

    def widget_update(T=512, d=64, B=1, p=0.0):
        run = dynamics.reduced_dynamics(T, d, B, p, n_points=300)
        for ax, line, values in zip(axes, lines, (run.loss, run.w, run.alpha), strict=True):
            line.set_data(run.times, values)
            ax.relim()
            ax.autoscale_view()
        fig.canvas.draw()

    for setting in ({}, {"B": 4}, {"p": 0.5}):
        update = timed(lambda s=setting: widget_update(**s), 7)
        print(f"Widget update T=512, d=64, {setting or 'no repetition'}: median "
              f"{statistics.median(update) * 1e3:.0f} ms (target < 150 ms)")

if __name__ == "__main__":
    main()
