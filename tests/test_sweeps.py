"""Sweeps: records with provenance, resume after a real kill, executors, bad input, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sweep_helpers
from sweep_helpers import failing_run, fake_run

from sparse_attention_lab.__main__ import main
from sparse_attention_lab.runs import sweep as sweeps
from sparse_attention_lab.runs.results import config_key, load_results
from sparse_attention_lab.runs.sweep import (
    ResultsFile,
    Speed,
    SubmititExecutor,
    describe_estimate,
    run_sweep,
)

HELPERS = Path(sweep_helpers.__file__).parent
CONFIGS = [{"T": T, "max_steps": 100} for T in (2, 4, 8)]
PROVENANCE = {"command", "profile", "git_commit", "git_dirty", "package_version", "torch_version", "device",
              "hostname", "cpu", "finished_at", "sweep_started_at", "job_wall_time_s", "job_seeds"}


def without_provenance(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "provenance"} for r in records]


def keys_of(records: list[dict]) -> list[tuple[str, int]]:
    return [(config_key(r["sweep"]["config"]), r["sweep"]["seed"]) for r in records]


@pytest.fixture
def fake_experiments(monkeypatch):
    """Make the helpers module the only source of named sweeps ("fake", "slow")."""
    monkeypatch.setattr(sweeps, "SWEEP_MODULES", ("sweep_helpers",))


def test_records_are_appended_with_provenance_and_load_back(tmp_path):
    out = tmp_path / "results.jsonl"
    records = run_sweep(CONFIGS, run=fake_run, seeds=2, out=out, progress=False)
    assert [(r["config"]["T"], r["seed"]) for r in records] == [(T, s) for T in (2, 4, 8) for s in (0, 1)]
    assert load_results(out) == records
    lines = out.read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line) for line in lines)
    for record in records:
        assert PROVENANCE <= set(record["provenance"])
        assert record["provenance"]["job_seeds"] == [0, 1]
        assert len(record["provenance"]["git_commit"]) == 40  # the tests run in a checkout
        assert record["sweep"] == {"name": None, "config": record["config"], "seed": record["seed"]}


def test_a_diverged_run_is_a_record_in_strict_json(tmp_path):
    out = tmp_path / "results.jsonl"
    [record] = run_sweep([{"T": 2, "diverge": True}], run=fake_run, seeds=1, out=out, progress=False)
    assert record["diverged"] and record["test_loss"][-1] is None
    json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the file"))


def test_resume_runs_only_what_is_missing(tmp_path):
    out, calls = tmp_path / "results.jsonl", []

    def counting_run(config, seeds):
        calls.append((config["T"], tuple(seeds)))
        return fake_run(config, seeds)

    first = run_sweep(CONFIGS, run=counting_run, seeds=2, out=out, progress=False)
    more = CONFIGS + [{"T": 16, "max_steps": 100}]
    second = run_sweep(more, run=counting_run, seeds=3, out=out, progress=False)
    assert calls[3:] == [(2, (2,)), (4, (2,)), (8, (2,)), (16, (0, 1, 2))]
    assert second[:2] == first[:2]  # finished runs are read back, not rerun
    assert len(load_results(out)) == len(second) == 12
    assert run_sweep(more, run=counting_run, seeds=3, out=out, progress=False) == second
    assert len(calls) == 7


def test_max_steps_override_makes_new_runs(tmp_path):
    out = tmp_path / "results.jsonl"
    nested = [{"task": {"T": 2}, "train": {"max_steps": 100}}]
    run_sweep(nested, run=fake_run, seeds=1, out=out, progress=False)
    [short] = run_sweep(nested, run=fake_run, seeds=1, out=out, max_steps=10, progress=False)
    assert short["sweep"]["config"] == {"task": {"T": 2}, "train": {"max_steps": 10}}
    assert len(load_results(out)) == 2


def test_resume_after_sigkill_neither_repeats_nor_loses_a_run(tmp_path, fake_experiments):
    out = tmp_path / "slow_ci.jsonl"
    script = (
        "import sparse_attention_lab.runs.sweep as s; s.SWEEP_MODULES = ('sweep_helpers',); "
        "from sparse_attention_lab.__main__ import main; "
        f"main(['sweep', 'slow', '--profile', 'ci', '--seeds', '2', '--out', {str(out)!r}])"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    sweep = subprocess.Popen([sys.executable, "-c", script], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.read_bytes().count(b"\n") < 4) and time.monotonic() < deadline:
        assert sweep.poll() is None, sweep.stderr.read().decode()
        time.sleep(0.05)
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    before = load_results(out)
    assert 4 <= len(before) < 12, "the sweep was not killed in the middle"

    records = run_sweep("slow", profile="ci", seeds=2, out=out, progress=False, command="resume")
    after = load_results(out)
    assert after[: len(before)] == before  # the killed sweep's runs are kept as written
    assert len(set(keys_of(after))) == len(after) == 12  # none repeated, none lost
    assert keys_of(records) == keys_of(sorted(after, key=lambda r: (r["config"]["T"], r["seed"])))
    assert {r["provenance"]["command"] for r in after[len(before):]} == {"resume"}


def test_an_incomplete_last_line_is_reported_then_cut_off(tmp_path):
    out = tmp_path / "results.jsonl"
    run_sweep(CONFIGS, run=fake_run, seeds=1, out=out, progress=False)
    with open(out, "a") as f:
        f.write('{"config": {"T": 16, "max_st')
    with pytest.warns(UserWarning, match="incomplete last line"):
        assert len(load_results(out)) == 3
    with pytest.warns(UserWarning, match="removed an incomplete last line"):
        run_sweep(CONFIGS + [{"T": 16}], run=fake_run, seeds=1, out=out, progress=False)
    assert len(load_results(out)) == 4


def test_a_corrupt_line_in_the_middle_is_an_error(tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_text('{"a": 1}\nnot json\n{"b": 2}\n')
    with pytest.raises(ValueError, match="line 2"):
        load_results(out)


def test_a_second_writer_is_refused(tmp_path):
    out = tmp_path / "results.jsonl"
    with ResultsFile(out), pytest.raises(RuntimeError, match="another sweep"):
        run_sweep(CONFIGS, run=fake_run, seeds=1, out=out, progress=False)


def test_failed_jobs_are_reported_and_finished_runs_kept(tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    configs = [{"T": 2}, {"T": 4, "fail": True}, {"T": 8}]
    with pytest.raises(RuntimeError, match="1 of 3 jobs failed"):
        run_sweep(configs, run=failing_run, seeds=2, out=out, progress=False)
    assert "failing on purpose for T=4" in capsys.readouterr().err
    assert sorted(r["config"]["T"] for r in load_results(out)) == [2, 2, 8, 8]


def test_executors_give_the_same_records(tmp_path, monkeypatch):
    """Inline, a process pool and submitit's LocalExecutor (real subprocesses, as on a node)."""
    submitit = pytest.importorskip("submitit")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    local = SubmititExecutor(submitit.LocalExecutor(folder=tmp_path / "submitit"), poll_interval_s=0.1)
    results = {}
    for name, executor in [("inline", "inline"), ("process", "process"), ("submitit", local)]:
        results[name] = run_sweep(CONFIGS[:2], run=fake_run, seeds=2, out=tmp_path / f"{name}.jsonl",
                                  executor=executor, workers=2, progress=False)
    local.shutdown()
    assert without_provenance(results["process"]) == without_provenance(results["inline"])
    assert without_provenance(results["submitit"]) == without_provenance(results["inline"])


def test_estimate_uses_recorded_speed_and_cap_fraction():
    text = describe_estimate([1000] * 4, Speed(steps_per_s=100.0, cap_fraction=0.5, runs=8), parallel=2)
    assert "4,000 training steps" in text and "about 2,000 steps, 10 s" in text and "at most 20 s" in text
    assert "no step or time estimate" in describe_estimate([None], None, 1)


def test_named_sweep_through_the_command_line(tmp_path, fake_experiments, capsys):
    out = tmp_path / "fake.jsonl"
    assert main(["sweep", "fake", "--profile", "ci", "--seeds", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "6 to run" in printed and "Step caps add up to 300" in printed
    records = load_results(out)
    assert [r["config"]["max_steps"] for r in records] == [50] * 6
    assert records[0]["provenance"]["command"].startswith("python -m sparse_attention_lab sweep fake")
    assert records[0]["sweep"]["name"] == "fake"
    main(["list", "--profile", "ci"])
    assert capsys.readouterr().out.splitlines()[1:] == ["fake\t3 x 3\tsweep_helpers", "slow\t6 x 3\tsweep_helpers"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", "nope", "--profile", "ci"], "unknown sweep 'nope'; known sweeps: fake, slow"),
        (["sweep", "fake", "--profile", "huge"], "invalid choice: 'huge'"),
        (["sweep", "fake", "--profile", "ci", "--seeds", "0"], "seeds must be a positive number"),
        (["sweep", "fake", "--profile", "ci", "--max-steps", "-5"], "max_steps must be a positive"),
        (["sweep", "fake", "--profile", "ci", "--executor", "mpi"], "invalid choice: 'mpi'"),
        (["sweep", "fake", "--profile", "ci", "--workers", "0"], "workers must be a positive"),
        (["sweep", "fake", "--executor", "submitit", "--submitit-param", "bogus=1"], "submitit_parameters"),
    ],
)
def test_command_line_rejects_bad_input(argv, message, fake_experiments, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path / "x.jsonl"), "--submitit-folder", str(tmp_path / "logs")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name_or_configs": "nope"}, "Unknown sweep 'nope'; known sweeps: fake, slow"),
        ({"name_or_configs": "fake", "profile": "huge"}, "Unknown compute profile 'huge'"),
        ({"seeds": 0}, "seeds must be a positive number"),
        ({"seeds": [0, -1]}, "seeds must be non-negative integers"),
        ({"seeds": [1, 1]}, "seeds must not repeat"),
        ({"name_or_configs": [{"T": 2}, {"T": 2}]}, r"configs\[1\] repeats configs\[0\]"),
        ({"name_or_configs": [{"T": 2}], "max_steps": 10}, "some configs have no max_steps"),
        ({"name_or_configs": [{"T": object()}]}, r"configs\[0\] is not JSON-serialisable"),
        ({"executor": "mpi"}, "executor must be one of inline, process, submitit"),
        ({"run": None}, "run and out are required"),
        ({"run": lambda config, seeds: [], "executor": "process"}, "run must be a module-level function"),
    ],
)
def test_run_sweep_rejects_bad_input(kwargs, message, fake_experiments, tmp_path):
    arguments = {"name_or_configs": CONFIGS, "run": fake_run, "seeds": 1, "out": tmp_path / "x.jsonl"}
    with pytest.raises(ValueError, match=message):
        run_sweep(**{**arguments, **kwargs}, progress=False)
    assert not (tmp_path / "x.jsonl").exists()


def test_a_real_regression_sweep_records_escape_and_divergence(tmp_path):
    """Two tiny Transformer configs, one with a learning rate that makes the loss blow up."""
    from sparse_attention_lab.experiments import regression

    tiny = {"T": 8, "d": 2, "n_layers": 1, "n_heads": 1, "d_model": 8, "d_qk": 8,
            "max_steps": 10, "eval_every": 5, "eval_size": 32}
    configs = [{**tiny, "lr": 1e-3}, {**tiny, "lr": 1e8}]
    out = tmp_path / "tiny.jsonl"
    records = run_sweep(configs, run=regression.run, seeds=2, out=out, progress=False)
    assert [r["diverged"] for r in records] == [False, False, True, True]
    assert all(r["steps"][-1] == 10 for r in records[:2]) and records[0]["test_loss"][0] > 0
    assert load_results(out) == records
    assert run_sweep(configs, run=regression.run, seeds=2, out=out, progress=False) == records


def test_command_line_reports_failed_jobs_with_status_1(tmp_path, fake_experiments, monkeypatch, capsys):
    monkeypatch.setattr(sweep_helpers, "run", failing_run)
    monkeypatch.setattr(sweep_helpers, "SWEEPS", {"fake": lambda profile: [{"T": 2, "fail": True}]})
    assert main(["sweep", "fake", "--seeds", "1", "--out", str(tmp_path / "x.jsonl")]) == 1
    assert "1 of 1 jobs failed" in capsys.readouterr().err
