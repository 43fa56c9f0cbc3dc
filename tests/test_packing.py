"""Packed ensembles: several configs trained as one ensemble give each run its own record."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sweep_helpers import packable_run

from sparse_attention_lab.experiments import SWEEPS, recall, regression
from sparse_attention_lab.experiments.packing import build_members, pack_key
from sparse_attention_lab.runs import sweep as sweeps
from sparse_attention_lab.runs.results import load_results
from sparse_attention_lab.runs.sweep import run_sweep
from sparse_attention_lab.training.trainer import TrainConfig, train

TINY = {"T": 16, "d": 4, "max_steps": 60, "eval_every": 20, "d_model": 16, "d_qk": 8, "n_heads": 2,
        "progress": False, "probe_attention": True}
TINY_RECALL = {"n_pairs": 2, "n_tokens": 8, "max_steps": 40, "eval_every": 20, "d_model": 16, "d_qk": 8,
               "n_heads": 2, "n_layers": 2, "progress": False}


def curves(records):
    return [(r["config"], r["seed"], r["test_loss"], r["train_loss"], r["probes"]) for r in records]


@pytest.mark.parametrize("module, base, field, values", [
    (regression, TINY, "p", (0.0, 0.5)), (regression, TINY, "B", (1, 2)), (recall, TINY_RECALL, "p", (0.0, 0.5)),
])
def test_a_packed_run_is_the_run_trained_alone(module, base, field, values):
    configs = [{**base, field: v} for v in values]
    alone = [r for c in configs for r in module.run(c, [0, 1])]
    packed = module.run([configs[0], configs[0], configs[1], configs[1]], [0, 1, 0, 1])
    assert [(r["config"], r["seed"]) for r in packed] == [(r["config"], r["seed"]) for r in alone]
    for a, b in zip(curves(alone), curves(packed), strict=True):
        assert a[:2] == b[:2]
        for curve_alone, curve_packed in zip(a[2:4], b[2:4], strict=True):  # test and train losses
            np.testing.assert_allclose(curve_packed, curve_alone, rtol=1e-5, atol=1e-6)
    assert [r["settings"]["task"][field] for r in packed] == [values[0]] * 2 + [values[1]] * 2
    assert packed[0]["settings"]["model"] == alone[0]["settings"]["model"]


def test_members_must_share_the_model_training_and_test_set():
    with pytest.raises(ValueError, match=r"these differ: \['d_model'\]"):
        build_members(regression.build, [TINY, {**TINY, "d_model": 32}], [0, 0])
    with pytest.raises(ValueError, match="repeats a \\(config, seed\\) pair"):
        build_members(regression.build, [TINY, TINY], [0, 0])
    with pytest.raises(ValueError, match="2 configs for 3 seeds"):
        build_members(regression.build, [TINY, TINY], [0, 1, 2])
    tasks = [regression.build({**TINY, "d": d})[0] for d in (4, 8)]
    model, training = regression.build(TINY)[1:]
    with pytest.raises(ValueError, match="share their test task"):
        train(tasks, model, training, [0, 0])
    with pytest.raises(ValueError, match="seeds must not repeat"):
        train(tasks[0], model, TrainConfig(max_steps=1), [0, 0])


def test_pack_key_ignores_only_the_packable_fields():
    assert pack_key({**TINY, "p": 0.3}) == pack_key({**TINY, "p": 0.0, "B": 2})
    assert pack_key({**TINY, "p": 0.3}) != pack_key({**TINY, "d": 8, "p": 0.3})
    assert SWEEPS["fig3_p"].packable == ("B", "p") and SWEEPS["mech_lead"].packable == ()


def test_a_packed_sweep_writes_the_same_runs_and_resumes(tmp_path):
    configs = [{"T": T, "p": p, "max_steps": 100} for T in (2, 4) for p in (0.0, 0.5)]
    unpacked = run_sweep(configs, run=packable_run, seeds=2, out=tmp_path / "a.jsonl", progress=False, pack=False)
    assert {r["packed_with"] for r in unpacked} == {2}
    out = tmp_path / "b.jsonl"
    run_sweep(configs[:1], run=packable_run, seeds=[0], out=out, progress=False, pack=True)  # one run done
    packed = run_sweep(configs, run=packable_run, seeds=2, out=out, progress=False, pack=True)
    strip = [{k: v for k, v in r.items() if k not in ("provenance", "packed_with")} for r in packed]
    assert strip == [{k: v for k, v in r.items() if k not in ("provenance", "packed_with")} for r in unpacked]
    new = load_results(out)[1:]
    assert [r["packed_with"] for r in new] == [3, 3, 3, 4, 4, 4, 4]  # T = 2: three runs left, T = 4: four
    assert [r["provenance"]["job_configs"] for r in new] == [2] * 7
    assert new[0]["provenance"]["job_seeds"] == [1, 0, 1]


def test_packing_defaults_to_cuda_only(tmp_path, monkeypatch):
    configs = [{"T": 2, "p": p, "max_steps": 100} for p in (0.0, 0.5)]
    records = run_sweep(configs, run=packable_run, seeds=1, out=tmp_path / "r.jsonl", progress=False)
    assert [r["packed_with"] for r in records] == [1, 1]  # no CUDA here: one job per config


def test_process_workers_get_one_gpu_each(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert sweeps._slot_devices(None, "process", 2) == ["cuda:0", "cuda:1"]
    assert sweeps._slot_devices("cuda", "process", 4) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert sweeps._slot_devices("cuda:1", "process", 2) == ["cuda:1"]
    assert sweeps._slot_devices(None, "inline", 1) == [None]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert sweeps._slot_devices(None, "process", 2) == [None]


def test_jobs_in_flight_take_turns_on_their_slots_devices(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    seen = []

    class Pool:  # runs each job at once, like the inline executor, noting the device it was given
        def submit(self, fn, run, config, seeds, device):
            import concurrent.futures as cf
            seen.append(device)
            future = cf.Future()
            future.set_result({"records": packable_run(config, seeds, device=device)})
            return future

    jobs = sweeps._pending_jobs([{"T": T} for T in (2, 4, 8)], ["2", "4", "8"], [0], set())
    list(sweeps._execute(Pool(), packable_run, jobs, 2, False, ["cuda:0", "cuda:1"]))
    assert seen[:2] == ["cuda:0", "cuda:1"] and seen[2] in ("cuda:0", "cuda:1")  # the slot freed first


# Runs that escape after real training (above chance: recall's 50% level, not 5% under chance
# 1/12) and whose two configs stop at different steps (measured: 6 and 12 evaluations, 21 and 81).
LONGER = {**TINY, "lr": 1e-3, "max_steps": 1500, "eval_every": 25, "stop_margin": 0.5, "escape_fraction": 0.4}
RECALL_ESCAPES = {**TINY_RECALL, "n_pairs": 3, "n_tokens": 12, "lr": 3e-3, "max_steps": 2000, "eval_every": 25,
                  "escape_accuracy": 0.5, "stop_margin": 0.5}


@pytest.mark.slow
@pytest.mark.parametrize("module, base, field, values", [
    (regression, LONGER, "p", (0.0, 0.5)), (recall, RECALL_ESCAPES, "p", (0.0, 0.9)),
])
def test_a_packed_member_stops_where_it_would_alone(module, base, field, values):
    """Issue 26 item 1: members that stop at different steps keep records of their own length
    (before, a packed run's records ran on to the slowest member's stop)."""
    configs = [{**base, field: v} for v in values]
    alone = [r for c in configs for r in module.run(c, [0, 1])]
    assert all(r["escaped"] and r["escape_step"] > 0 for r in alone), "the runs must escape after training"
    lengths = {len(r["steps"]) for r in alone}
    assert len(lengths) > 1, f"the members must stop at different steps, got lengths {lengths}"
    packed = module.run([configs[0], configs[0], configs[1], configs[1]], [0, 1, 0, 1])
    for a, b in zip(alone, packed, strict=True):
        assert a["steps"] == b["steps"] and a["escape_step"] == pytest.approx(b["escape_step"], rel=1e-4)
        for curve in ("test_loss", "train_loss", *(("test_acc",) if "test_acc" in a else ())):
            np.testing.assert_allclose(b[curve], a[curve], rtol=1e-4, atol=1e-6)
