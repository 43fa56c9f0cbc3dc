"""Per-step host cost of training, before and after drawing batches on the device. Prints, asserts nothing.

    OMP_NUM_THREADS=1 python benchmarks/bench_host_cost.py [--steps 6] [--device cpu]

"Before" is the training step as it was until issue 15: every seed's batch drawn on the CPU
with a CPU generator and copied with a blocking ``.to(device)``, the positional table
recomputed on the CPU and copied at every forward pass, Adam unfused, and two host syncs per
step (``nonzero(...).tolist()`` and ``live.any()``) to catch divergence. "After" is
:func:`sparse_attention_lab.training.trainer.train` now: each seed's generator lives on the
device and draws its batch there, the positional table is a buffer, divergence is read at
evaluations, Adam is fused on CUDA.

For the gpu-profile sizes of chapter 3 (regression), chapter 4 (associative recall) and
Fig. 9 (SGD on the toy model), in ms per step, side by side: the host time of each part of a
step (sampling and copy, positional table, syncs), then the whole step (the wall time per
step of the old loop against :func:`train`, from the difference of two run lengths so that
set-up and evaluations cancel). On a CPU the device *is* the host: sampling is the same work
in both columns and only the copies, syncs and table go. On a GPU (all devices present are
measured, or ``--device``) the "after" sampling is the time to queue its kernels.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from sparse_attention_lab.experiments import recall, regression
from sparse_attention_lab.hardware import device_name
from sparse_attention_lab.models import Transformer, sinusoidal_positions
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.tasks import SingleLocationRegression
from sparse_attention_lab.training.trainer import _losses, draw_batch, stream_seed, train

SEEDS = [0, 1, 2]


def workloads() -> dict[str, tuple]:
    """(task, model config, training config) at the gpu profile's sizes, by name."""
    gpu = PROFILES["gpu"]
    fig3, ar = gpu.sizes("fig3"), gpu.sizes("ar_grid")
    return {
        f"regression T={max(fig3['T'])} d={max(fig3['d'])}":
            regression.build({**gpu.sizes("regression_transformer"), "T": max(fig3["T"]), "d": max(fig3["d"])}),
        f"recall N_pairs={ar['n_pairs'][-1]} N_tokens={ar['n_tokens'][1]}":
            recall.build({**gpu.sizes("recall_transformer"), "n_pairs": ar["n_pairs"][-1],
                          "n_tokens": ar["n_tokens"][1]}),
    }


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _host_ms(fn, repeats: int, dev: torch.device) -> float:
    """Host milliseconds per call of ``fn`` (not waiting for the device afterwards), best of three."""
    fn()
    _sync(dev)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats * 1e3)
        _sync(dev)
    return best


def parts(task, model_config, training, dev: torch.device, repeats: int) -> list[tuple[str, float, float]]:
    """(part, before ms, after ms) for sampling and copy, the positional table, and the syncs."""
    E, batch = len(SEEDS), training.batch_size
    cpu_generators = [torch.Generator().manual_seed(stream_seed(s, 1)) for s in SEEDS]
    dev_generators = [torch.Generator(device=dev).manual_seed(stream_seed(s, 1)) for s in SEEDS]
    tasks = [task] * E

    def before_sampling():
        batches = [task.sample(batch, g) for g in cpu_generators]
        return torch.stack([b[0] for b in batches]).to(dev), torch.stack([b[1] for b in batches]).to(dev)

    model = Transformer(model_config, E).to(dev)
    x, y = draw_batch(tasks, dev_generators, batch, dev)
    length = model._embed(x).shape[2]
    live = torch.ones(E, dtype=torch.bool, device=dev)

    def syncs():
        finite = torch.isfinite(_losses(training.objective, model(x), y)[0])
        torch.nonzero(live & ~finite).flatten().tolist()
        return bool(live.any())

    def no_syncs():
        live.logical_and_(torch.isfinite(_losses(training.objective, model(x), y)[0]))

    with torch.no_grad():
        return [
            ("sampling and copy", _host_ms(before_sampling, repeats, dev),
             _host_ms(lambda: draw_batch(tasks, dev_generators, batch, dev), repeats, dev)),
            ("positional table", _host_ms(lambda: sinusoidal_positions(length, model_config.d_model).to(dev),
                                          repeats, dev),
             _host_ms(lambda: model._positions(length), repeats, dev)),
            ("forward + divergence check", _host_ms(syncs, repeats, dev), _host_ms(no_syncs, repeats, dev)),
        ]


def old_loop_ms(task, model_config, training, dev: torch.device, steps: int) -> float:
    """Wall ms per step of the training loop as it was (see the module docstring)."""
    E = len(SEEDS)
    model = Transformer(model_config, E, [stream_seed(s, 0) for s in SEEDS]).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.lr)
    generators = [torch.Generator().manual_seed(stream_seed(s, 1)) for s in SEEDS]
    live = torch.ones(E, dtype=torch.bool, device=dev)
    length = None

    def step() -> None:
        nonlocal live, length
        batches = [task.sample(training.batch_size, g) for g in generators]
        x = torch.stack([b[0] for b in batches]).to(dev)
        y = torch.stack([b[1] for b in batches]).to(dev)
        length = length or model._embed(x).shape[2]
        sinusoidal_positions(length, model_config.d_model).to(dev)  # what each forward pass did
        loss, _ = _losses(training.objective, model(x), y)
        finite = torch.isfinite(loss)
        torch.nonzero(live & ~finite).flatten().tolist()
        live = live & finite
        if not live.any():
            return
        optimizer.zero_grad(set_to_none=True)
        torch.where(live, loss, torch.zeros_like(loss)).sum().backward()
        optimizer.step()

    step()
    _sync(dev)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(dev)
    return (time.perf_counter() - start) / steps * 1e3


def new_loop_ms(task, model_config, training, dev: torch.device, steps: int) -> float:
    """Wall ms per step of :func:`train`: the difference of a run of ``2 steps`` and one of ``steps``."""
    def timed(n: int) -> float:
        config = replace(training, max_steps=n, eval_every=n, eval_size=32, stop_margin=None,
                         progress=False, device=str(dev))
        _sync(dev)
        start = time.perf_counter()
        train(task, model_config, config, SEEDS)
        _sync(dev)
        return time.perf_counter() - start

    timed(2)  # warm-up
    return (timed(2 * steps) - timed(steps)) / steps * 1e3


def toy_sampling(dev: torch.device, repeats: int) -> tuple[float, float]:
    """(before, after) host ms per step of drawing Fig. 9's batches at the gpu size."""
    s = PROFILES["gpu"].sizes("fig9")
    seeds = list(range(s["seeds"]))
    tasks = [SingleLocationRegression(s["T"], s["d"], version="theory", seed=seed) for seed in seeds]
    cpu_generators = [torch.Generator().manual_seed(stream_seed(seed, 1)) for seed in seeds]
    dev_generators = [torch.Generator(device=dev).manual_seed(stream_seed(seed, 1)) for seed in seeds]

    def before():
        batches = [t.sample(s["batch_size"], g) for t, g in zip(tasks, cpu_generators, strict=True)]
        return torch.stack([b[0] for b in batches]).to(dev)

    return (_host_ms(before, repeats, dev),
            _host_ms(lambda: draw_batch(tasks, dev_generators, s["batch_size"], dev), repeats, dev))


def report(dev: torch.device, steps: int) -> None:
    print(f"\n== {device_name(dev)}: host ms per step, before -> after (seeds {SEEDS}) ==")
    print(f"{'workload':34s} {'part':28s} {'before':>9s} {'after':>9s}")
    for name, (task, model_config, training) in workloads().items():
        for part, before, after in parts(task, model_config, training, dev, repeats=max(2, steps)):
            print(f"{name:34s} {part:28s} {before:9.2f} {after:9.2f}")
        old, new = old_loop_ms(task, model_config, training, dev, steps), new_loop_ms(task, model_config, training, dev, steps)
        print(f"{name:34s} {'whole step (wall)':28s} {old:9.2f} {new:9.2f}   x{old / new:.2f}")
    s = PROFILES["gpu"].sizes("fig9")
    before, after = toy_sampling(dev, repeats=max(2, steps))
    label = f"toy SGD (Fig. 9) T={s['T']} d={s['d']}"
    print(f"{label:34s} {'sampling and copy':28s} {before:9.2f} {after:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per measurement (default 6)")
    parser.add_argument("--device", default=None, help="one device (default: the CPU and every GPU present)")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be positive")
    devices = [torch.device(args.device)] if args.device else [torch.device("cpu")] + [
        torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    for dev in devices:
        report(dev, args.steps)


if __name__ == "__main__":
    main()
