"""How fast do the chapter-3 Transformers train here? Prints, asserts nothing.

    OMP_NUM_THREADS=1 python benchmarks/bench_transformer.py [--steps 100] [--sections 12345]

1. The machine's float32 matrix-multiply rate (square products and the model's own shapes).
2. Training steps/s for the ``ci``, ``laptop`` and ``paper`` model configs of
   ``profiles.SIZES["regression_transformer"]`` and the achieved FLOP rate (a step is counted
   as three forward passes: ``Transformer.flops_per_sequence``).
3. Several seeds trained at once (one stacked ensemble) against the same runs one after the
   other, side by side.
4. The readout-only last block (``TransformerConfig.readout_only``, the default) against the
   full last block, side by side in one run, for the ``ci`` config at several T and the
   paper's 4-layer associative-recall width.
5. Four values of ``p`` packed into one ensemble of 12 members (3 seeds each,
   :mod:`sparse_attention_lab.experiments.packing`) against the four 3-seed ensembles one after
   the other, side by side (what ``--pack`` does to a sweep; on by default on CUDA only).
6. The paper's own model (``w256_transformer``) at T 32-256, d 16 and 64: the step alone and the
   step at the sweep's cadence (an evaluation and the attention probe every ``eval_every``
   steps), before and after :func:`~sparse_attention_lab.hardware.reuse_freed_memory`, side by
   side in one run (interleaved, best of 2), with the fraction of the matrix-multiply rate.

On a CPU with one torch thread every timing is this process's CPU time (``time.process_time``):
on a machine busy with other work it is what the run costs, where the wall clock also counts the
waits for a core; the fractions of the matmul rate compare two timings of the same clock.
"""

from __future__ import annotations

import argparse
import ctypes
import inspect
import platform
import time
from contextlib import nullcontext
from dataclasses import replace
from unittest import mock

import torch

from sparse_attention_lab.experiments import regression
from sparse_attention_lab.experiments.recall import build as recall_build
from sparse_attention_lab.experiments.regression import build
from sparse_attention_lab.hardware import device, device_name
from sparse_attention_lab.models import Transformer
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.training import trainer
from sparse_attention_lab.training.probes import relevant_attention_probe
from sparse_attention_lab.training.trainer import train


def timed_by_cpu() -> bool:
    """Whether :func:`clock` reads this process's CPU time (a CPU with one torch thread)."""
    return device().type == "cpu" and torch.get_num_threads() == 1


def clock() -> float:
    """Seconds: this process's CPU time on a CPU with one torch thread, else the wall clock."""
    return time.process_time() if timed_by_cpu() else time.perf_counter()


def matmul_rate(n: int, k: int, m: int, repeats: int = 20) -> float:
    """GFLOP/s of ``(n, k) @ (k, m)`` float32 products on the default device."""
    dev = device()
    a, b = torch.randn(n, k, device=dev), torch.randn(k, m, device=dev)
    a @ b  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = clock()
    for _ in range(repeats):
        a @ b
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n * k * m * repeats / (clock() - start) / 1e9


def training_rate(config: dict, seeds: list[int], steps: int, repeats: int = 1) -> tuple[float, float]:
    """(training steps/s, achieved GFLOP/s) of ``steps`` steps of ``config`` for ``seeds`` at once.

    The best of ``repeats`` timings: on a shared machine the others are slowed by other work.
    """
    run_config = {**config, "max_steps": steps, "eval_every": steps, "eval_size": 32, "stop_margin": None}
    task, model_config, training = build(run_config)
    return _timed(task, model_config, training, seeds, steps, repeats)


def _timed(task, model_config, training, seeds: list[int], steps: int, repeats: int) -> tuple[float, float]:
    """(steps/s, GFLOP/s) of :func:`train` on ``task``, best of ``repeats``, after a warm-up."""
    train(task, model_config, replace(training, max_steps=2, eval_every=2), seeds)  # warm-up
    times = []
    for _ in range(repeats):
        start = clock()
        train(task, model_config, training, seeds)
        times.append(clock() - start)
    rate = steps / min(times)
    length = task.seq_len if hasattr(task, "seq_len") else task.T  # recall: 2 n_pairs + 1 tokens
    flops = 3 * Transformer(model_config).flops_per_sequence(length) * training.batch_size * len(seeds)
    return rate, rate * flops / 1e9


def readout_only_speedup(
    config: dict, seeds: list[int], steps: int, repeats: int = 3, builder=build
) -> tuple[float, float]:
    """(steps/s with the full last block, steps/s with the readout-only last block), interleaved
    timings of the same runs, best of ``repeats`` each; ``builder`` turns ``config`` into
    (task, model config, training config)."""
    run_config = {**config, "max_steps": steps, "eval_every": steps, "eval_size": 32, "stop_margin": None}
    task, model_config, training = builder(run_config)
    variants = [replace(model_config, readout_only=flag) for flag in (False, True)]
    best = [0.0, 0.0]
    for _ in range(repeats):  # alternate, so that load from other work hits both alike
        for i, variant in enumerate(variants):
            best[i] = max(best[i], _timed(task, variant, training, seeds, steps, 1)[0])
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100, help="training steps per measurement")
    parser.add_argument("--ensemble", type=int, default=8, help="seeds trained at once")
    parser.add_argument("--sections", default="123456", help="which of the sections 1-6 to run, e.g. 4")
    args = parser.parse_args()
    timing = "the process's CPU time" if timed_by_cpu() else "the wall clock"
    print(f"device: {device_name()}; torch {torch.__version__}; {torch.get_num_threads()} torch threads; "
          f"timed by {timing}")
    ci = PROFILES["ci"].sizes("regression_transformer")
    settings = {"ci": {"T": 64, "d": 16}, "laptop": {"T": 128, "d": 32}, "paper": {"T": 256, "d": 64}}

    if "1" in args.sections or "2" in args.sections:
        print("\n1. matrix-multiply rate (float32)")
        peak = matmul_rate(1024, 1024, 1024)
        print(f"   1024 x 1024 x 1024:            {peak:8.1f} GFLOP/s")
        rows = 32 * 65  # batch x (T + readout) of the ci config at T = 64
        print(f"   {rows} x {ci['d_model']} x {4 * ci['d_model']} (ci MLP):   "
              f"{matmul_rate(rows, ci['d_model'], 4 * ci['d_model']):8.1f} GFLOP/s")

    if "2" in args.sections:
        print("\n2. training speed, one run (Adam, batch 32)")
        for name, task in settings.items():
            sizes = PROFILES[name].sizes("regression_transformer")
            steps = args.steps if name != "paper" else max(2, args.steps // 20)
            rate, gflops = training_rate({**sizes, **task}, [0], steps)
            print(f"   {name:7s} (d_model {sizes['d_model']}, {sizes['n_layers']} layers, T {task['T']}, "
                  f"d {task['d']}): {rate:7.1f} steps/s, {gflops:6.1f} GFLOP/s = {gflops / peak:5.1%} of the matmul "
                  f"rate; a {sizes['max_steps']:,}-step run: {sizes['max_steps'] / rate / 60:.1f} min")

    if "3" in args.sections:
        print(f"\n3. {args.ensemble} seeds at once vs one after the other (ci config, T 64, d 16; best of 3)")
        config = {**ci, **settings["ci"]}
        single, _ = training_rate(config, [0], args.steps, repeats=3)
        together, gflops = training_rate(config, list(range(args.ensemble)), args.steps, repeats=3)
        sequential = single / args.ensemble
        print(f"   sequential: {sequential:7.1f} steps/s of all {args.ensemble} runs (single-run rate / {args.ensemble})")
        print(f"   at once:    {together:7.1f} steps/s of all {args.ensemble} runs, {gflops:.1f} GFLOP/s "
              f"-> speed-up x{together / sequential:.2f}")

    if "4" in args.sections:
        print("\n4. readout-only last block vs the full last block (same runs, interleaved; best of 3)")
        for T in (64, 128, 256):
            full, fast = readout_only_speedup({**ci, "T": T, "d": 16}, list(range(3)), args.steps)
            print(f"   regression, ci config, T {T:3d}, d 16, 3 seeds: full {full:6.1f} steps/s, "
                  f"readout-only {fast:6.1f} steps/s -> speed-up x{fast / full:.2f}")
        recall = {"n_layers": 4, "n_heads": 4, "d_model": 64, "d_qk": 16, "lr": 1e-3, "n_pairs": 8, "n_tokens": 64}
        full, fast = readout_only_speedup(recall, list(range(3)), args.steps, builder=recall_build)
        print(f"   recall, 4 layers, d_model 64, N_pairs 8, N_tokens 64, 3 seeds: full {full:6.1f} steps/s, "
              f"readout-only {fast:6.1f} steps/s -> speed-up x{fast / full:.2f}")

    if "5" in args.sections:
        print("\n5. four p packed into one ensemble vs four ensembles one after the other (ci config, T 64, d 16, "
              "3 seeds each; interleaved, best of 3)")
        base = {**ci, **settings["ci"], "max_steps": args.steps, "eval_every": args.steps, "eval_size": 32,
                "stop_margin": None, "progress": False}
        sequential, packed = packing_speedup([{**base, "p": p} for p in (0.0, 0.1, 0.3, 0.5)], [0, 1, 2])
        print(f"   one after the other: {args.steps / sequential:7.1f} steps/s of all 12 runs")
        print(f"   packed:              {args.steps / packed:7.1f} steps/s of all 12 runs -> speed-up x{sequential / packed:.2f}")

    if "6" in args.sections:
        print("\n6. the paper's model (width 256, 2 layers, 4 heads), one seed: before (glibc's default heap) "
              "-> after (hardware.reuse_freed_memory); interleaved, best of 2")
        paper_model_speed(max(2, args.steps // 10))


def packing_speedup(configs: list[dict], seeds: list[int], repeats: int = 3) -> tuple[float, float]:
    """(seconds for ``configs`` trained one ensemble after the other, seconds for all of them packed
    into one), best of ``repeats`` interleaved timings, after a warm-up of each."""
    members = [c for c in configs for _ in seeds], seeds * len(configs)
    regression.run(configs[0], seeds)
    regression.run(*members)
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        start = clock()
        for config in configs:
            regression.run(config, seeds)
        best[0] = min(best[0], clock() - start)
        start = clock()
        regression.run(*members)
        best[1] = min(best[1], clock() - start)
    return best[0], best[1]


def glibc_default_heap() -> bool:
    """BEFORE, the reference of section 6: glibc's allocator as the library left it until
    :func:`~sparse_attention_lab.hardware.reuse_freed_memory`, in its steady state (its dynamic
    thresholds at their maximum: a block above 32 MiB is mapped afresh and unmapped when freed,
    freed memory above 64 MiB goes back to the system). Swapped in for the trainer's call."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 64 * 2**20)  # M_TRIM_THRESHOLD
    libc.malloc_trim(0)
    return True


def seconds(config: dict, steps: int, before: bool) -> float:
    """Seconds of :func:`regression.run` of ``config`` to ``steps`` steps, one seed, with glibc's
    default heap (``before``) or the library's."""
    with mock.patch.object(trainer, "reuse_freed_memory", glibc_default_heap) if before else nullcontext():
        start = clock()
        regression.run({**config, "max_steps": steps, "stop_margin": None, "progress": False}, [0])
        return clock() - start


def cadence_costs(config: dict, steps: int, before: bool) -> tuple[float, float]:
    """(seconds of one training step alone, seconds per step at the sweep's cadence: ``eval_every``
    steps, one evaluation of ``eval_size`` test and training sequences, one attention probe),
    each the difference of two runs, so that building the model and the first evaluation cancel."""
    alone = {**config, "eval_every": 2 * steps, "eval_size": 32, "probe_attention": False}
    step = (seconds(alone, 2 * steps, before) - seconds(alone, steps, before)) / steps
    every = config["eval_every"]
    cycle = seconds(config, 2 * every, before) - seconds(config, every, before)
    return step, cycle / every


def paper_model_speed(steps: int, repeats: int = 2) -> None:
    """Section 6: the paper's model before and after, interleaved, best of ``repeats``."""
    if platform.libc_ver()[0] != "glibc":
        print("   (glibc only: nothing to compare on this system)")
        return
    base = {**PROFILES["ci"].sizes("w256_transformer"), "probe_attention": True}
    probed = inspect.signature(relevant_attention_probe).parameters["n_sequences"].default
    peak = max(matmul_rate(1024, 1024, 1024) for _ in range(3))
    print(f"   matmul rate {peak:.1f} GFLOP/s (1024^3, best of 3); eval_every {base['eval_every']}, "
          f"eval_size {base['eval_size']}, probe {probed} sequences; times per training step")
    for T in (32, 64, 128, 256):
        for d in (16, 64):
            config = {**base, "T": T, "d": d}
            task, model_config, training = build(config)
            flops = Transformer(model_config).flops_per_sequence(T)
            step_flops = 3 * flops * training.batch_size
            cycle_flops = (training.eval_every * step_flops + flops * (2 * training.eval_size + probed)) / training.eval_every
            seconds(config, 2, False)  # warm-up
            best = {before: (float("inf"), float("inf")) for before in (True, False)}
            for _ in range(repeats):  # alternate, so that load from other work hits both alike
                for before in best:
                    costs = cadence_costs(config, steps, before)
                    best[before] = tuple(min(a, b) for a, b in zip(best[before], costs, strict=True))
            (step0, cycle0), (step1, cycle1) = best[True], best[False]
            print(f"   T {T:3d}, d {d:2d}: step alone {1e3 * step0:6.1f} -> {1e3 * step1:6.1f} ms "
                  f"({step_flops / step0 / 1e9 / peak:4.0%} -> {step_flops / step1 / 1e9 / peak:4.0%} of the matmul rate); "
                  f"at the cadence {1e3 * cycle0:6.1f} -> {1e3 * cycle1:6.1f} ms "
                  f"({cycle_flops / cycle0 / 1e9 / peak:4.0%} -> {cycle_flops / cycle1 / 1e9 / peak:4.0%})")


if __name__ == "__main__":
    main()
