"""How fast do the book's live widgets answer? Prints, asserts nothing.

    OMP_NUM_THREADS=1 python benchmarks/bench_widget.py [--updates 20] [--profile ci]

Kernel-side latencies, from a control's change to the new PNG bytes in the image widget (what
the browser then shows; ``tests/browser/test_live_widgets.py`` prints the times seen in
JupyterLab, key press to new image):

- chapter 2's explorer (:func:`sparse_attention_lab.views.repetition.repetition_explorer`):
  one slider moved by one step, walking over all five sliders. Split into the reduced flow's
  integration and the redraw of the existing figure. Target: median under 200 ms.
- chapter 4's attention viewer (:class:`sparse_attention_lab.views.attention_maps.AttentionViewer`),
  on a record of the chapter's shape (the profile's recall model, ``N_pairs = 6``, 40
  checkpoints of random maps): one checkpoint step. Target: under 300 ms.
- chapter 3's training panel (:class:`sparse_attention_lab.views.training_panel.TrainingPanel`)
  at the profile's sizes: a control changed while idle (the prediction redrawn), **Run** to the
  first evaluation drawn, and **Stop** to the end of the run, with the kernel's event loop
  played by :func:`asyncio.run`. Target for Stop: a fraction of a second.

Prints medians of wall-clock and CPU time and the load average (on a shared machine the
wall-clock time includes waiting for a core).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import numpy as np

from sparse_attention_lab.fitting import fit_power_law
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.views.attention_maps import AttentionViewer
from sparse_attention_lab.views.repetition import repetition_explorer, repetition_frame
from sparse_attention_lab.views.training_panel import TrainingPanel

TARGETS_MS = {"explorer": 200.0, "viewer": 300.0}


def timed(work) -> tuple[float, float]:
    """(wall, CPU) milliseconds of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return 1e3 * (time.perf_counter() - wall), 1e3 * (time.process_time() - cpu)


def report(name: str, rows: list[tuple[float, float]]) -> float:
    """Print the medians of ``rows``; return the median wall time."""
    wall, cpu = np.median(np.array(rows), axis=0)
    cpu_text = f"CPU {cpu:7.1f} ms" if np.isfinite(cpu) else "(two threads: no CPU time)"
    print(f"  {name:<44} median wall {wall:7.1f} ms, {cpu_text}  ({len(rows)} times)")
    return wall


def option_values(control) -> list:
    """The values a selection slider offers (its options may be ``(label, value)`` pairs)."""
    return [o[1] if isinstance(o, tuple) else o for o in control.options]


def one_step_walk(controls: dict, n: int) -> list[tuple[str, object]]:
    """``n`` moves ``(name, value)`` of one step each, cycling over the selection sliders of
    ``controls`` from their current values, bouncing back at either end."""
    names = [name for name, control in controls.items() if hasattr(control, "options")]
    position = {name: option_values(controls[name]).index(controls[name].value) for name in names}
    direction = dict.fromkeys(names, 1)
    moves = []
    for k in range(n):
        name = names[k % len(names)]
        values = option_values(controls[name])
        if not 0 <= position[name] + direction[name] < len(values):
            direction[name] *= -1
        position[name] += direction[name]
        moves.append((name, values[position[name]]))
    return moves


def bench_explorer(n: int) -> float:
    explorer = repetition_explorer()
    change, integrate, redraw = [], [], []
    for name, value in one_step_walk(explorer.controls, n):
        before = explorer.image.value
        change.append(timed(lambda c=explorer.controls[name], v=value: setattr(c, "value", v)))
        assert explorer.image.value != before, f"moving {name} did not change the image"
        setting = explorer.settings()
        integrate.append(timed(lambda s=setting: repetition_frame(s)))
        frame = repetition_frame(setting)
        redraw.append(timed(lambda f=frame: explorer.draw(f)))
    print("chapter 2 explorer (sliders T, d, B, p, threshold, one step at a time)")
    report("integrate the reduced flow", integrate)
    report("redraw the figure, PNG bytes", redraw)
    return report("slider change to new image bytes", change)


def chapter4_record(profile: str, checkpoints: int = 40, n_pairs: int = 6, seed: int = 0) -> tuple[dict, list[int]]:
    """A record shaped like chapter 4's live run: random attention maps, rising accuracy."""
    sizes = PROFILES[profile].sizes("recall_transformer")
    length = 2 * n_pairs + 1
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(checkpoints, sizes["n_layers"], sizes["n_heads"], length, length))
    maps = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    accuracy = 1 / (1 + np.exp(-np.linspace(-6, 6, checkpoints)))
    record = {"steps": [50 * i for i in range(checkpoints)], "test_acc": accuracy.tolist(),
              "train_acc": accuracy.tolist(), "probes": {"maps": maps.tolist()}}
    tokens = [int(t) for t in rng.permutation(32)[: 2 * n_pairs]] + [0]
    return record, tokens


def bench_viewer(n: int, profile: str) -> float:
    record, tokens = chapter4_record(profile)
    viewer = AttentionViewer(record, tokens)
    rows = []
    for k in range(n):
        index = (k + 1) % len(record["steps"])
        before = viewer.image.value
        rows.append(timed(lambda i=index: setattr(viewer.slider, "value", i)))
        assert viewer.image.value != before
    n_layers, n_heads = viewer.maps.shape[1:3]
    print(f"chapter 4 attention viewer ({n_layers} layers x {n_heads} heads, T = {viewer.maps.shape[-1]})")
    return report("checkpoint step to new image bytes", rows)


def bench_panel(n: int, profile: str) -> None:
    law = fit_power_law([100.0, 200.0, 400.0, 800.0], d=[4, 8, 16, 32], T=[16, 16, 32, 32])
    panel = TrainingPanel(law, PROFILES[profile])
    idle = []
    for name, value in one_step_walk({k: panel.controls[k] for k in ("T", "d")}, n):
        before = panel.image.value
        idle.append(timed(lambda c=panel.controls[name], v=value: setattr(c, "value", v)))
        assert panel.image.value != before
    print(f"chapter 3 training panel ({profile} sizes; controls now {panel.settings()})")
    report("idle control change to new prediction drawn", idle)
    first, stop = [], []

    async def run_and_stop() -> None:
        start = time.perf_counter()
        task = panel.start()
        await asyncio.sleep(0)  # the task starts: the last run's curves are cleared
        while panel._drawn is None or panel._drawn is not panel._progress:
            await asyncio.sleep(0.005)
        first.append((1e3 * (time.perf_counter() - start), float("nan")))
        await asyncio.sleep(0.3)
        start = time.perf_counter()
        panel.stop()
        await task
        stop.append((1e3 * (time.perf_counter() - start), float("nan")))

    for _ in range(3):
        asyncio.run(run_and_stop())
    report("Run to first evaluation drawn", first)
    report("Stop to run ended, Run enabled", stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=20, help="slider moves to time per widget (default 20)")
    parser.add_argument("--profile", default="ci", choices=sorted(PROFILES), help="sizes of panel and viewer")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    medians = {"explorer": bench_explorer(args.updates), "viewer": bench_viewer(args.updates, args.profile)}
    bench_panel(min(args.updates, 10), args.profile)
    for name, wall in medians.items():
        verdict = "meets" if wall < TARGETS_MS[name] else "misses"
        print(f"{name}: median {wall:.0f} ms; {verdict} the {TARGETS_MS[name]:.0f} ms target")


if __name__ == "__main__":
    main()
