"""CPU-hours of the background Fig. 3 sweeps, estimated before running them. Prints, asserts nothing.

    OMP_NUM_THREADS=1 python benchmarks/budget_sweeps.py [--sweeps fig3_scale ...] [--steps 100]

For each config of the named sweeps (``laptop`` profile): the steps it will train, predicted
from the escape steps already cached for the same model (``book/data/fig3_laptop.jsonl`` and
``fig3_p_long_laptop.jsonl``: a power law ``C d^a T^b`` fitted to them, times
``1 + stop_margin``, capped at ``max_steps``; at a learning rate ``r`` below the cached runs'
the steps scale as ``1 / r``, Adam's rule for a plateau set by the gradient's direction), and
the wall time per step measured here on a short run of the same shape (evaluations and
attention probe included, all seeds at once). Their product, summed in the order the sweep
runs, is the estimate; the cumulative column says how far a given budget gets.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from sparse_attention_lab.experiments.regression import SWEEPS, build, relevant_attention_probe
from sparse_attention_lab.fitting import fit_power_law
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.runs.results import load_results
from sparse_attention_lab.training.trainer import train

DATA = Path(__file__).resolve().parent.parent / "book" / "data"
CACHED = ("fig3_laptop.jsonl", "fig3_p_long_laptop.jsonl")


def escape_law():
    """Power-law fit of the cached escape steps of the width-32, lr 3e-4 model at ``B = 1``, ``p = 0``."""
    rows = [r for name in CACHED for r in load_results(DATA / name)
            if r["escape_step"] and not r["config"].get("p") and r["config"]["lr"] == 3e-4]
    fit = fit_power_law([r["escape_step"] for r in rows], d=[r["config"]["d"] for r in rows],
                        T=[r["config"]["T"] for r in rows])
    return fit, 3e-4


def seconds_per_step(config: dict, seeds: int, steps: int) -> float:
    """Wall seconds per training step of ``config`` with ``seeds`` seeds at once, evaluations and probe included."""
    trial = {**config, "max_steps": steps, "stop_margin": None}
    task, model, training = build({k: v for k, v in trial.items() if k != "probe_attention"})
    probe = relevant_attention_probe(task) if config.get("probe_attention") else None
    start = time.perf_counter()
    train(task, model, training, list(range(seeds)), probe=probe)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweeps", nargs="+", default=["fig3_scale", "fig3_p_tuned", "fig3_scale_wide"])
    parser.add_argument("--steps", type=int, default=100, help="steps of each timing run")
    args = parser.parse_args()
    laptop = PROFILES["laptop"]
    fit, reference_lr = escape_law()
    print(f"escape steps of the cached width-32 runs (lr {reference_lr:g}): {fit}")
    timings: dict[tuple, float] = {}
    total = 0.0
    for name in args.sweeps:
        configs = SWEEPS[name](laptop)
        seeds = int(laptop.sizes(name)["seeds"])
        print(f"\n{name}: {len(configs)} configs x {seeds} seeds (in the order they run)")
        hours = 0.0
        for config in configs:
            shape = (config["T"], config["d_model"], seeds)
            if shape not in timings:
                timings[shape] = seconds_per_step(config, seeds, args.steps)
            escape = float(fit.predict(d=config["d"], T=config["T"])) * reference_lr / config["lr"]
            margin = 1 + (config.get("stop_margin") or 0.5)
            steps = min(config["max_steps"], math.ceil(margin * escape))
            job = steps * timings[shape] / 3600
            hours += job
            capped = " (cap)" if steps == config["max_steps"] else ""
            extra = "".join(f" {k} {config[k]:g}" for k in ("p", "lr") if k in config and name == "fig3_p_tuned")
            print(f"   T {config['T']:3d} d {config['d']:2d} width {config['d_model']}{extra}: "
                  f"~{steps:6d} steps{capped} x {timings[shape] * 1e3:5.1f} ms = {job:5.2f} h "
                  f"(cumulative {hours:5.2f} h)")
        total += hours
        print(f"   {name}: {hours:.1f} CPU-hours")
    print(f"\nall: {total:.1f} CPU-hours of one core at this machine's current load "
          f"({np.mean(list(timings.values())) * 1e3:.1f} ms per step on average)")


if __name__ == "__main__":
    main()
