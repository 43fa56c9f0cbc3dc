"""The GPU check, in one command: agreement with the CPU, every gpu sweep, speed, precision, Fig. 3.

    PYTHONUNBUFFERED=1 PYTHONPATH=. python3 benchmarks/device_check.py \
        --out $OUT/device_check.json --data-dir $OUT --commit <sha of the tree>   # one H200, < 10 min
    python benchmarks/device_check.py --smoke --out /tmp/device_check.json       # CPU, under a minute

Fits in 10 minutes on one H200 (``--budget-s``, default 540 s, is the wall time it plans for;
each section starts only if its share is left, and the JSON report is rewritten after every
section, so a kill keeps what was measured). Sections:

1. ``agreement``: CPU against the GPU for regression, associative recall and SGD on the toy
   model (Fig. 9). With the same batches (``data_device="cpu"``) curves must agree to float
   rounding until the escape and escape steps closely; with batches drawn on the GPU (another
   random stream) escape steps must agree within seed noise (|mean difference| < 2 standard
   errors). And four values of ``p`` packed into one ensemble against each trained alone.
2. ``sweeps``: every named sweep under the ``gpu`` profile, all configs, one seed, a few steps
   (runs start, train, evaluate, probe and write).
3. ``throughput``: training steps/s at the gpu and paper sizes of chapters 3 and 4 in fp32,
   TF32 and bf16, three seeds and a packed twelve, with host time per step and peak memory.
4. ``precision``: plateau lengths (5 seeds) under fp32, TF32 and bf16 for one regression and one
   recall setting: whether a faster precision may become the default (within seed noise).
5. ``fig3_paper``: as much of the paper-scale Fig. 3 grid (``sweep fig3 --profile paper``) as the
   time left allows, appended with provenance to ``<data-dir>/fig3_paper.jsonl`` (default: the
   report's folder, never ``book/data``; copy it there by hand, and the sweep resumes there).

``--smoke`` runs every section on the CPU at toy sizes (the "GPU" side is the CPU again), with
runs that escape, so CI exercises every comparison; its numbers mean nothing. Every training run
of a section stops when the section's share of the budget is spent (a clock callback), and each
section reports the FLOPs it trained and what they would cost on an H100 at its peak dense rate
(``h100_estimate_s``: a lower bound, for planning the next loan of a device).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from sparse_attention_lab.experiments import SWEEPS, recall, regression
from sparse_attention_lab.hardware import device_name
from sparse_attention_lab.measure import escape_step, plateau_time
from sparse_attention_lab.models import Transformer
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.runs.results import json_ready, load_results
from sparse_attention_lab.runs.sweep import run_sweep
from sparse_attention_lab.training.precision import PRECISIONS
from sparse_attention_lab.training.toy_sgd import train_sgd
from sparse_attention_lab.training.trainer import train

REPO = Path(__file__).resolve().parents[1]
H100_DENSE_FLOPS = {"fp32": 67e12, "tf32": 495e12, "bf16": 989e12}
"""NVIDIA's peak dense rates for the H100 SXM (FLOP/s); real training reaches a fraction of them."""
ESCAPE_RTOL = 1e-3
"""Relative tolerance of "the same escape step" for runs that differ only by float rounding."""
SECTION_SHARES = {"agreement": 0.12, "sweeps": 0.18, "throughput": 0.12, "precision": 0.25}
"""Share of the budget each section may start with; fig3_paper gets what is left."""

CI_REGRESSION = {**PROFILES["ci"].sizes("regression_transformer"), "eval_size": 256}
CI_RECALL = PROFILES["laptop"].sizes("recall_transformer")
# Smoke sizes that escape after real training within a few hundred steps (measured on a CPU):
SMOKE_REGRESSION = {**CI_REGRESSION, "T": 16, "d": 4, "d_model": 16, "d_qk": 8, "n_heads": 2, "lr": 1e-3,
                    "max_steps": 600, "eval_every": 25, "eval_size": 128}
SMOKE_RECALL = {**CI_RECALL, "n_pairs": 3, "n_tokens": 12, "d_model": 16, "d_qk": 8, "n_heads": 2, "n_layers": 2,
                "lr": 3e-3, "max_steps": 1000, "eval_every": 25, "eval_size": 128}


class Clock:
    """Wall time since start, against a budget, and the FLOPs trained (for the H100 estimate)."""

    def __init__(self, budget_s: float) -> None:
        self.start, self.budget_s = time.perf_counter(), budget_s
        self.share_end = budget_s
        self.flops = {precision: 0.0 for precision in H100_DENSE_FLOPS}

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def over(self) -> bool:
        """Whether the current section's share of the budget is spent."""
        return self.elapsed() > self.share_end

    def stop(self, step: int, records: list) -> bool:
        """A :func:`train` callback: stop a run when its section's share is spent."""
        return self.over()

    def count(self, model_config, tokens: int, records: list[dict], batch: int, precision: str = "fp32") -> None:
        """Add the training FLOPs of ``records`` (3 x a forward pass per sequence of ``tokens`` tokens,
        the task's ``seq_len``, per step; the model counts its own readout slot)."""
        from sparse_attention_lab.models import Transformer

        per_sequence = Transformer(model_config, n_models=1).flops_per_sequence(tokens)
        steps = sum(r["steps"][-1] for r in records if r["steps"])
        self.flops[precision] += 3.0 * per_sequence * batch * steps

    def section_cost(self, since: dict[str, float]) -> dict:
        """FLOPs trained since ``since`` (a copy of :attr:`flops`) and their H100 lower bound."""
        trained = {p: self.flops[p] - since.get(p, 0.0) for p in self.flops}
        return {"trained_gflop": {p: round(f / 1e9, 3) for p, f in trained.items() if f},
                "h100_estimate_s": round(sum(f / H100_DENSE_FLOPS[p] for p, f in trained.items()), 3)}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _seed_noise(a: list[float], b: list[float]) -> dict:
    """Means, standard errors and whether the difference is within 2 standard errors."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return {"a": a.tolist(), "b": b.tolist(), "within_noise": None}
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    diff = float(b.mean() - a.mean())
    return {"a": a.tolist(), "b": b.tolist(), "mean_a": float(a.mean()), "mean_b": float(b.mean()),
            "difference": diff, "stderr": se, "within_noise": bool(abs(diff) <= 2 * se)}


def _same_escapes(a: list[float | None], b: list[float | None]) -> bool:
    """Escape steps equal up to :data:`ESCAPE_RTOL` (``None`` and ``inf``: never escaped)."""
    def never(x):
        return x is None or not math.isfinite(x)
    return len(a) == len(b) and all(
        (never(x) and never(y)) or (not never(x) and not never(y) and abs(x - y) <= ESCAPE_RTOL * max(abs(x), 1.0))
        for x, y in zip(a, b, strict=True))


def _curve_gap(a: list[float], b: list[float], until: float, steps: list[int]) -> float:
    """Largest relative difference of two curves at the evaluations before step ``until``."""
    gaps = [abs(x - y) / max(abs(x), 1e-12) for s, x, y in zip(steps, a, b, strict=False) if s <= until]
    return max(gaps) if gaps else float("nan")


# ----------------------------------------------------------------------------- 1. agreement


def _transformer_agreement(build, config: dict, seeds: list[int], gpu: torch.device, measure, clock: Clock) -> dict:
    task, model_config, training = build(config)
    runs = {}
    for label, dev, data in (("cpu", "cpu", None), ("gpu_cpu_batches", str(gpu), "cpu"), ("gpu_batches", str(gpu), None)):
        if clock.over():
            return {"config": config, "status": f"skipped at {label}: out of time"}
        start = time.perf_counter()
        runs[label] = train(task, model_config, replace(training, device=dev, data_device=data, progress=False), seeds,
                            callback=clock.stop)
        runs[label + "_s"] = time.perf_counter() - start
        clock.count(model_config, task.seq_len, runs[label], training.batch_size)
    cpu, same, other = runs["cpu"], runs["gpu_cpu_batches"], runs["gpu_batches"]
    first_escape = min((measure(r) for r in cpu), default=math.inf)
    return {
        "config": config, "seeds": seeds,
        "wall_s": {k[:-2]: round(v, 2) for k, v in runs.items() if k.endswith("_s")},
        "same_batches": {
            "escape_cpu": [measure(r) for r in cpu], "escape_gpu": [measure(r) for r in same],
            "max_relative_test_loss_gap_before_escape": max(
                _curve_gap(a["test_loss"], b["test_loss"], first_escape, a["steps"]) for a, b in zip(cpu, same, strict=True)),
        },
        "gpu_batches": _seed_noise([measure(r) for r in cpu], [measure(r) for r in other]),
        "escaped": [bool(math.isfinite(measure(r))) for r in cpu],
        "cut_by_clock": clock.over(),
    }


def _toy_agreement(sizes: dict, seeds: list[int], gpu: torch.device, clock: Clock) -> dict:
    if clock.over():
        return {"sizes": sizes, "status": "skipped: out of time"}

    def escape(result: dict) -> list[float]:
        return [plateau_time(result["steps"], loss, 0.2) for loss in result["loss"]]

    common = {"batch_size": sizes["batch_size"], "lr": sizes["lr"], "eval_every": sizes["eval_every"]}
    cpu = train_sgd(sizes["T"], sizes["d"], seeds, sizes["steps"], device="cpu", **common)
    same = train_sgd(sizes["T"], sizes["d"], seeds, sizes["steps"], device=gpu, data_device="cpu", **common)
    other = train_sgd(sizes["T"], sizes["d"], seeds, sizes["steps"], device=gpu, **common)
    first = min(escape(cpu))
    before = cpu["steps"] <= first
    gap = np.abs(cpu["loss"][:, before] - same["loss"][:, before]) / np.abs(cpu["loss"][:, before])
    return {"sizes": sizes, "seeds": seeds,
            "same_batches": {"escape_cpu": escape(cpu), "escape_gpu": escape(same),
                             "max_relative_loss_gap_before_escape": float(gap.max()) if gap.size else None},
            "gpu_batches": _seed_noise(escape(cpu), escape(other)),
            "escaped": [bool(math.isfinite(e)) for e in escape(cpu)]}


def _packing_agreement(config: dict, seeds: list[int], gpu: torch.device, clock: Clock) -> dict:
    """Four values of p trained alone, then packed into one ensemble, on the GPU: the largest
    relative test-loss gap (float rounding only), the same escape steps and record lengths (each
    config's seeds stop where they would alone), and the time of each."""
    if clock.over():
        return {"config": config, "status": "skipped: out of time"}
    configs = [{**config, "p": p} for p in (0.0, 0.1, 0.3, 0.5)]
    start = time.perf_counter()
    alone = [r for c in configs for r in regression.run(c, seeds, device=str(gpu))]
    alone_s = time.perf_counter() - start
    start = time.perf_counter()
    packed = regression.run([c for c in configs for _ in seeds], seeds * len(configs), device=str(gpu))
    packed_s = time.perf_counter() - start
    gap = max(abs(x - y) / abs(x) for a, b in zip(alone, packed, strict=True)
              for x, y in zip(a["test_loss"], b["test_loss"], strict=True) if x)
    return {"config": config, "p": [c["p"] for c in configs], "seeds": seeds, "alone_s": round(alone_s, 2),
            "packed_s": round(packed_s, 2), "max_relative_test_loss_gap": gap,
            "same_lengths": [len(a["steps"]) for a in alone] == [len(b["steps"]) for b in packed],
            "escaped": sum(a["escape_step"] is not None for a in alone),
            "same_escape": _same_escapes([a["escape_step"] for a in alone], [b["escape_step"] for b in packed])}


def agreement(gpu: torch.device, smoke: bool, clock: Clock) -> dict:
    seeds = [0, 1, 2] if smoke else [0, 1, 2, 3, 4]
    regression_config = SMOKE_REGRESSION if smoke else {**CI_REGRESSION, "T": 32, "d": 8, "max_steps": 4000,
                                                        "eval_every": 25}
    recall_config = SMOKE_RECALL if smoke else {**CI_RECALL, "n_pairs": 3, "n_tokens": 16, "max_steps": 3000,
                                                "eval_every": 50}
    toy = PROFILES["ci"].sizes("fig9") | ({"T": 16, "d": 8, "steps": 400} if smoke else {})
    return {
        "regression": _transformer_agreement(regression.build, regression_config, seeds, gpu,
                                             lambda r: escape_step(r, fraction=0.2), clock),
        "recall": _transformer_agreement(recall.build, recall_config, seeds, gpu,
                                         lambda r: escape_step(r, accuracy=CI_RECALL["escape_accuracy"]), clock),
        "toy_sgd": _toy_agreement(toy, seeds[:3], gpu, clock),
        "packed_p": _packing_agreement({**regression_config, "escape_fraction": 0.4}, seeds[:3], gpu, clock),
    }


# ----------------------------------------------------------------------------- 2. sweeps


def sweeps(gpu: torch.device, smoke: bool, clock: Clock, share_end: float) -> dict:
    """Every named sweep under gpu (smoke: ci, the first sweep only): its first and last config
    (the grid's extremes), one seed, a few steps, written to a temporary file."""
    profile = PROFILES["ci" if smoke else "gpu"]
    out: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, sweep in sorted(SWEEPS.items()):
            if clock.elapsed() > share_end:
                out[name] = "skipped: out of time"
                continue
            configs = sweep.configs(profile)
            ends = [configs[0]] + ([configs[-1]] if len(configs) > 1 else [])
            start = time.perf_counter()
            try:
                records = run_sweep(ends, run=sweep.run, profile=profile, seeds=[0], max_steps=2 if smoke else 20,
                                    out=Path(folder) / f"{name}.jsonl", progress=False, device=str(gpu),
                                    command=f"benchmarks/device_check.py sweeps {name}")
                out[name] = {"configs": len(configs), "tried": len(ends), "runs": len(records),
                             "wall_s": round(time.perf_counter() - start, 2),
                             "finite": all(math.isfinite(x) for r in records for x in r["test_loss"] if x is not None)}
            except Exception as error:  # a failing sweep is the finding: record it, go on
                out[name] = f"failed: {error!r}"
            if smoke:
                break  # one sweep shows the path works
    return out


# ----------------------------------------------------------------------------- 3. throughput


def _gpu_busy(dev: torch.device, work) -> float | None:
    """Mean GPU utilisation (NVML, percent of time a kernel ran) sampled while ``work()`` runs;
    ``None`` on a CPU or without NVML. With ``host_ms_per_step`` it tells a host-bound step (low
    busy) from a GPU-bound one, where host time can read close to wall time."""
    if dev.type != "cuda":
        work()
        return None
    try:
        torch.cuda.utilization(dev)
    except Exception:  # no pynvml / NVML here
        work()
        return None
    samples, done = [], threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            samples.append(torch.cuda.utilization(dev))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join()
    return round(float(np.mean(samples)), 1) if samples else None


def _rate(build, config: dict, seeds: list[int], precision: str, dev: torch.device, steps: int,
          clock: Clock | None = None) -> dict:
    """Steps/s, host ms per step, GPU busy percent and peak memory of ``steps`` training steps
    (after a warm-up)."""
    task, model_config, training = build(config)
    run = replace(training, eval_every=10**9, eval_size=32, stop_margin=None, progress=False,
                  device=str(dev), precision=precision)
    train(task, model_config, replace(run, max_steps=3), seeds)  # warm-up (allocations, kernels)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    timings, busy = [], []
    for n in (steps, 2 * steps):
        _sync(dev)
        wall, host = time.perf_counter(), time.thread_time()
        busy.append(_gpu_busy(dev, lambda n=n: train(task, model_config, replace(run, max_steps=n), seeds)))
        _sync(dev)
        timings.append((time.perf_counter() - wall, time.thread_time() - host))
    if clock is not None:
        flops = Transformer(model_config, n_models=1).flops_per_sequence(task.seq_len)
        clock.flops[precision] += 3.0 * flops * run.batch_size * len(seeds) * (3 * steps + 3)
    wall = (timings[1][0] - timings[0][0]) / steps
    host = (timings[1][1] - timings[0][1]) / steps
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    return {"seeds": len(seeds), "steps_per_s": round(1 / wall, 1) if wall > 0 else None,
            "host_ms_per_step": round(host * 1e3, 3), "wall_ms_per_step": round(wall * 1e3, 3),
            "gpu_busy_percent": busy[-1],
            "peak_memory_mib": round(peak, 1) if peak is not None else None}


def throughput(gpu: torch.device, smoke: bool, clock: Clock, share_end: float) -> dict:
    out: dict = {}
    for scale in ("ci",) if smoke else ("gpu", "paper"):
        p = PROFILES[scale]
        fig3, ar = PROFILES["ci" if smoke else scale].sizes("fig3"), p.sizes("ar_grid")
        settings = {
            "regression": (regression.build, {**p.sizes("regression_transformer"), "T": max(fig3["T"]),
                                               "d": max(fig3["d"])}),
            "recall": (recall.build, {**p.sizes("recall_transformer"), "n_pairs": max(ar["n_pairs"]),
                                      "n_tokens": max(ar["n_tokens"])}),
        }
        for task_name, (build, config) in settings.items():
            for precision in PRECISIONS:
                for n_seeds in (3,) if smoke else (3, 12):
                    key = f"{scale} {task_name} {precision} x{n_seeds}"
                    if clock.elapsed() > share_end:
                        out[key] = "skipped: out of time"
                        continue
                    out[key] = {"config": config, **_rate(build, config, list(range(n_seeds)), precision, gpu,
                                                          steps=2 if smoke else 30, clock=clock)}
    return out


# ----------------------------------------------------------------------------- 4. precision


def precision_plateaus(gpu: torch.device, smoke: bool, clock: Clock, share_end: float) -> dict:
    gpu_reg, gpu_ar = PROFILES["gpu"].sizes("regression_transformer"), PROFILES["gpu"].sizes("recall_transformer")
    settings = {
        "regression": (regression.build,
                       SMOKE_REGRESSION if smoke else {**gpu_reg, "T": 64, "d": 16, "max_steps": 20000},
                       lambda r: escape_step(r, fraction=0.2)),
        "recall": (recall.build,
                   SMOKE_RECALL if smoke else {**gpu_ar, "n_pairs": 6, "n_tokens": 32, "max_steps": 20000,
                                               "eval_every": 50},
                   lambda r: escape_step(r, accuracy=(CI_RECALL if smoke else gpu_ar)["escape_accuracy"])),
    }
    seeds = [0, 1, 2] if smoke else [0, 1, 2, 3, 4]
    out: dict = {}
    for name, (build, config, measure) in settings.items():
        task, model_config, training = build(config)
        escapes, walls = {}, {}
        for precision in PRECISIONS:
            if clock.elapsed() > share_end:
                escapes[precision] = "skipped: out of time"
                continue
            start = time.perf_counter()
            records = train(task, model_config, replace(training, device=str(gpu), precision=precision,
                                                        progress=False), seeds, callback=clock.stop)
            clock.count(model_config, task.seq_len, records, training.batch_size, precision)
            # a run the clock stopped has no escape to compare: the whole precision says so, not one seed
            escapes[precision] = "cut by the clock" if clock.over() else [measure(r) for r in records]
            walls[precision] = round(time.perf_counter() - start, 2)
        fp32 = escapes.get("fp32")
        out[name] = {"config": config, "seeds": seeds, "escape_steps": escapes, "wall_s": walls,
                     "against_fp32": {p: _seed_noise(fp32, e) for p, e in escapes.items()
                                      if p != "fp32" and isinstance(e, list) and isinstance(fp32, list)}}
    return out


# ----------------------------------------------------------------------------- 5. Fig. 3, paper scale


def fig3_paper(gpu: torch.device, smoke: bool, clock: Clock, data_dir: Path, commit: str | None) -> dict:
    """Run ``sweep fig3 --profile paper`` (smoke: ci at 5 steps) in a subprocess until the time
    left runs out; the results file keeps every finished run (it is safe against kills)."""
    profile = "ci" if smoke else "paper"
    out_file = data_dir / f"fig3_{profile}.jsonl"
    command = [sys.executable, "-m", "sparse_attention_lab", "sweep", "fig3", "--profile", profile,
               "--out", str(out_file)] + (["--max-steps", "5", "--seeds", "1"] if smoke else [])
    before = len(load_results(out_file))
    limit = max(clock.left() - 10, 1)
    env = {**os.environ, "SAL_DEVICE": str(gpu)}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, env=env, timeout=limit, capture_output=True, text=True)
        status = f"finished (exit {done.returncode})"
        tail = (done.stdout + done.stderr)[-2000:]
    except subprocess.TimeoutExpired as stopped:
        status = f"stopped after {limit:.0f} s (time budget)"
        tail = ((stopped.stdout or b"").decode(errors="replace") if isinstance(stopped.stdout, bytes)
                else (stopped.stdout or ""))[-2000:]
    records = load_results(out_file)
    if commit:  # the device's copy of the tree has no .git: fill in the commit it was made from
        for r in records:
            r["provenance"]["git_commit"] = r["provenance"].get("git_commit") or commit
        out_file.write_text("".join(json.dumps(json_ready(r), allow_nan=False) + "\n" for r in records))
    configs = {(r["config"]["T"], r["config"]["d"]) for r in records}
    flops_before = dict(clock.flops)
    for r in records[before:]:
        task, model_config, training = regression.build(r["config"])
        clock.count(model_config, task.seq_len, [r], training.batch_size)
    return {"file": str(out_file), "status": status, "wall_s": round(time.perf_counter() - start, 1),
            "runs_before": before, "runs_after": len(records), "configs_done": sorted(configs),
            "escaped": sum(bool(r.get("escaped")) for r in records), "output_tail": tail,
            "cost": clock.section_cost(flops_before)}


# ----------------------------------------------------------------------------- driver


def data_folder(data_dir: str | None, smoke: bool, out_path: Path, scratch: Path) -> Path:
    """Where ``fig3_paper.jsonl`` goes: ``--data-dir``, else a scratch folder (smoke) or the report's
    folder; never ``book/data`` unless named (chapters under the gpu profile read that file)."""
    if data_dir:
        return Path(data_dir)
    return scratch if smoke else out_path.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="every section on the CPU at toy sizes (CI)")
    parser.add_argument("--out", default="device_check.json", help="JSON report (default ./device_check.json)")
    parser.add_argument("--data-dir", default=None,
                        help="folder for fig3_paper.jsonl (default: a temporary folder under --smoke, else the "
                             "--out report's folder; never book/data unless named)")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall time to plan for (default 540)")
    parser.add_argument("--device", default=None, help="the GPU (default cuda; cpu under --smoke)")
    parser.add_argument("--commit", default=None, help="git commit of the tree, for provenance on a copy without .git")
    args = parser.parse_args(argv)
    if args.budget_s <= 0:
        parser.error("--budget-s must be positive")
    if not args.smoke and not torch.cuda.is_available() and args.device is None:
        parser.error("no CUDA device here: run with --smoke on a CPU")
    gpu = torch.device(args.device or ("cpu" if args.smoke else "cuda"))
    out_path = Path(args.out)
    clock = Clock(args.budget_s)
    report = {"started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "smoke": args.smoke, "device": device_name(gpu), "torch": torch.__version__,
              "python": platform.python_version(), "commit": args.commit, "budget_s": args.budget_s,
              "sections": {}}

    def save() -> None:
        report["elapsed_s"] = round(clock.elapsed(), 1)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(json_ready(report), indent=1) + "\n")

    share_end = 0.0
    for name, section in (("agreement", lambda end: agreement(gpu, args.smoke, clock)),
                          ("sweeps", lambda end: sweeps(gpu, args.smoke, clock, end)),
                          ("throughput", lambda end: throughput(gpu, args.smoke, clock, end)),
                          ("precision", lambda end: precision_plateaus(gpu, args.smoke, clock, end))):
        share_end += SECTION_SHARES[name] * args.budget_s
        clock.share_end = share_end
        start, flops_before = time.perf_counter(), dict(clock.flops)
        try:
            report["sections"][name] = {**section(share_end), "cost": clock.section_cost(flops_before)}
        except Exception as error:  # keep going: the report says what failed
            report["sections"][name] = f"failed: {error!r}"
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
        save()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = data_folder(args.data_dir, args.smoke, out_path, Path(scratch))
        start = time.perf_counter()
        clock.share_end = args.budget_s
        try:
            report["sections"]["fig3_paper"] = fig3_paper(gpu, args.smoke, clock, data_dir, args.commit)
        except Exception as error:
            report["sections"]["fig3_paper"] = f"failed: {error!r}"
        print(f"fig3_paper: {time.perf_counter() - start:.1f} s", flush=True)
    save()
    failed = [name for name, value in report["sections"].items() if isinstance(value, str)]
    print(f"report: {out_path} ({report['elapsed_s']} s){'; failed: ' + ', '.join(failed) if failed else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
