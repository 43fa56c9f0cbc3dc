"""Sweeps: records with provenance, resume after a real kill, executors, bad input, the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sweep_helpers
from sweep_helpers import failing_run, fake_run

from sparse_attention_lab import experiments
from sparse_attention_lab.__main__ import main
from sparse_attention_lab.runs.estimate import Speed, describe_estimate
from sparse_attention_lab.runs.executors import SubmititExecutor
from sparse_attention_lab.runs.provenance import describe_provenance
from sparse_attention_lab.runs.results import ResultsFile, load_results, run_key
from sparse_attention_lab.runs.sweep import run_sweep

HELPERS = Path(sweep_helpers.__file__).parent
CONFIGS = [{"T": T, "max_steps": 100} for T in (2, 4, 8)]
PROVENANCE = {"command", "profile", "sweep", "step_cap", "git_commit", "git_dirty", "package_version", "python_version",
              "sweep_started_at", "device", "torch_version", "torch_threads", "hostname", "cpu", "cpu_count",
              "finished_at", "job_wall_time_s", "job_seeds", "job_configs"}
ENV = {"PYTHONPATH": os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
FAKE_REGISTRY = "import sparse_attention_lab.experiments as e, sweep_helpers; e.SWEEPS = sweep_helpers.registry(); "


def without_provenance(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "provenance"} for r in records]


@pytest.fixture
def fake_experiments(monkeypatch):
    """Make the helpers' sweeps ("fake", "slow") the only named sweeps."""
    monkeypatch.setattr(experiments, "SWEEPS", sweep_helpers.registry())


def test_records_are_appended_with_provenance_and_load_back(tmp_path):
    out = tmp_path / "results.jsonl"
    records = run_sweep(CONFIGS, run=fake_run, seeds=2, out=out, progress=False)
    assert [(r["config"]["T"], r["seed"]) for r in records] == [(T, s) for T in (2, 4, 8) for s in (0, 1)]
    assert load_results(out) == records
    lines = out.read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line) for line in lines)
    for record, (config, seed) in zip(records, [(c, s) for c in CONFIGS for s in (0, 1)], strict=True):
        assert without_provenance([record]) == fake_run(config, [seed])  # the run's record, as it returned it
        assert set(record["provenance"]) == PROVENANCE
        assert record["provenance"]["job_seeds"] == [0, 1] and record["provenance"]["sweep"] is None
        assert len(record["provenance"]["git_commit"]) == 40  # the tests run in a checkout


def test_provenance_records_the_device_the_run_trained_on(tmp_path):
    """Not the machine's default: a run that trained elsewhere says so."""
    [record] = run_sweep([{"T": 2, "device": "cuda (a fake GPU)"}], run=fake_run, seeds=1, out=tmp_path / "x.jsonl",
                         progress=False)
    assert record["provenance"]["device"] == record["device"] == "cuda (a fake GPU)"


def test_device_is_passed_to_the_run_and_is_not_part_of_the_key(tmp_path):
    out = tmp_path / "x.jsonl"
    [on_cpu] = run_sweep([{"T": 2}], run=fake_run, seeds=1, out=out, device="cpu", progress=False)
    assert on_cpu["device"] == on_cpu["provenance"]["device"] == "cpu"
    assert run_sweep([{"T": 2}], run=fake_run, seeds=1, out=out, progress=False) == [on_cpu]  # resumed, not rerun
    with pytest.raises(ValueError, match="device"):
        run_sweep([{"T": 2}], run=fake_run, seeds=1, out=out, device="tpu", progress=False)


def test_a_diverged_run_is_a_record_in_strict_json(tmp_path):
    out = tmp_path / "results.jsonl"
    [record] = run_sweep([{"T": 2, "diverge": True}], run=fake_run, seeds=1, out=out, progress=False)
    assert record["diverged"] and record["test_loss"][-1] is None and record["diverged_at"] == 100
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
    run_sweep([{"T": 2, "max_steps": 100}], run=fake_run, seeds=1, out=out, progress=False)
    [short] = run_sweep([{"T": 2, "max_steps": 100}], run=fake_run, seeds=1, out=out, max_steps=10, progress=False)
    assert short["config"] == {"T": 2, "max_steps": 10}
    assert len(load_results(out)) == 2


def test_a_run_must_return_records_of_its_own_config(tmp_path):
    def wrong_config(config, seeds):
        return fake_run({**config, "T": 99}, seeds)

    with pytest.raises(RuntimeError, match="1 of 1 jobs failed"):
        run_sweep([{"T": 2}], run=wrong_config, seeds=1, out=tmp_path / "x.jsonl", progress=False)
    assert load_results(tmp_path / "x.jsonl") == []


def test_resume_after_sigkill_neither_repeats_nor_loses_a_run(tmp_path, fake_experiments):
    out = tmp_path / "slow_ci.jsonl"
    script = FAKE_REGISTRY + (
        "from sparse_attention_lab.__main__ import main; "
        f"main(['sweep', 'slow', '--profile', 'ci', '--seeds', '2', '--out', {str(out)!r}])"
    )
    sweep = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **ENV},
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
    assert len({run_key(r) for r in after}) == len(after) == 12  # none repeated, none lost
    assert [run_key(r) for r in records] == [run_key(r) for r in sorted(after, key=lambda r: (r["config"]["T"], r["seed"]))]
    assert {r["provenance"]["command"] for r in after[len(before):]} == {"resume"}


def _descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (from /proc; zombies count as gone)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_sigkill_of_a_process_sweep_leaves_no_worker_alive(tmp_path):
    """Issue 17 item 3: the workers (and multiprocessing's resource tracker) end with the sweep."""
    pid_dir, out = tmp_path / "pids", tmp_path / "x.jsonl"
    pid_dir.mkdir()
    configs = [{"T": T, "sleep": 0.5, "pid_dir": str(pid_dir)} for T in range(40)]
    script = ("from sweep_helpers import pid_run; from sparse_attention_lab.runs.sweep import run_sweep; "
              f"run_sweep({configs!r}, run=pid_run, seeds=1, out={str(out)!r}, executor='process', workers=2, "
              "progress=False)")
    sweep = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **ENV},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(list(pid_dir.iterdir())) < 2 and time.monotonic() < deadline:  # both workers busy
        assert sweep.poll() is None, sweep.stderr.read().decode()
        time.sleep(0.05)
    below = _descendants(sweep.pid)
    assert {int(p.name) for p in pid_dir.iterdir()} <= below and len(below) >= 3  # 2 workers, the tracker
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    deadline = time.monotonic() + 15
    while any(map(_alive, below)) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = sorted(pid for pid in below if _alive(pid))
    for pid in survivors:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes {survivors} outlived the sweep"


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


def test_a_last_record_without_its_newline_is_kept_not_retrained(tmp_path):
    """Issue 17 item 2: a complete last record is loaded, and the next sweep neither deletes nor retrains it."""
    out, calls = tmp_path / "results.jsonl", []

    def counting_run(config, seeds):
        calls.append(config["T"])
        return fake_run(config, seeds)

    records = run_sweep(CONFIGS, run=counting_run, seeds=1, out=out, progress=False)
    out.write_bytes(out.read_bytes()[:-1])  # the last line without its newline
    assert load_results(out) == records
    again = run_sweep(CONFIGS + [{"T": 16}], run=counting_run, seeds=1, out=out, progress=False)
    assert calls == [2, 4, 8, 16] and again[:3] == records
    assert out.read_bytes().endswith(b"\n") and len(out.read_bytes().splitlines()) == 4 == len(load_results(out))


@pytest.mark.parametrize("text", [
    b"these are my notes\nnot a results file at all",  # 44 bytes, no final newline
    b"{unfinished note", b'{"todo": "finish the', b"{", b'  {"config": 1',  # issue 27: not a cut write
])
def test_an_out_file_that_is_not_a_results_file_is_refused_untouched(text, tmp_path):
    """Issue 17 item 2, issue 27: a text file keeps every byte, even one line that starts with ``{``
    (only a line that starts as a run record does can be the remains of a killed write)."""
    out = tmp_path / "notes.txt"
    out.write_bytes(text)
    with pytest.raises(ValueError, match="line 1: not valid JSON"):
        load_results(out)
    with pytest.raises(ValueError, match="line 1: not valid JSON"):
        run_sweep(CONFIGS, run=fake_run, seeds=1, out=out, progress=False)
    assert out.read_bytes() == text


@pytest.mark.parametrize("out", ["/dev/zero", "directory"])
def test_an_out_that_is_not_a_regular_file_is_refused_at_once(out, tmp_path):
    """Issue 17 item 2: ``--out /dev/zero`` used to read until memory ran out."""
    path = tmp_path if out == "directory" else Path(out)
    if not path.exists():
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(ValueError, match="not a regular file|is a directory"):
        load_results(path)
    with pytest.raises(ValueError, match="not a regular file|is a directory"):
        run_sweep(CONFIGS, run=fake_run, seeds=1, out=path, progress=False)


def test_a_corrupt_line_in_the_middle_is_an_error(tmp_path):
    out = tmp_path / "results.jsonl"
    run_sweep(CONFIGS[:2], run=fake_run, seeds=1, out=out, progress=False)
    first, second = out.read_text().splitlines()
    out.write_text(f"{first}\nnot json\n{second}\n")
    with pytest.raises(ValueError, match="line 2"):
        load_results(out)


@pytest.mark.parametrize(
    "line, message",
    [(b"42", "not a run record (a JSON int"), (b"[1, 2]", "not a run record (a JSON list"),
     (b'"text"', "not a run record (a JSON str"), (b'{"a": 1}', "not a run record (no 'config' object)"),
     (b'{"config": {"T": 2}, "seed": "0"}', "not a run record ('seed' is '0'"),
     (b'{"config": {"T": 2}, "seed": true}', "not a run record ('seed' is True"),
     (b'{"config": {"T": 2}, "seed": 0, "test_loss": [NaN]}', "NaN is not strict JSON"),
     (b'{"config": {"T": 2}, "seed": 0, "x": Infinity}', "Infinity is not strict JSON"),
     (b'{"config": {"T": "\xff"}, "seed": 0}', "not UTF-8 text")],
)
def test_a_line_that_is_not_a_strict_json_record_is_refused_naming_file_and_line(line, message, tmp_path):
    """Issue 17 item 7: a line is a run record in strict JSON, or the file is refused with its line."""
    out = tmp_path / "results.jsonl"
    run_sweep(CONFIGS[:1], run=fake_run, seeds=1, out=out, progress=False)
    good = out.read_bytes()
    for content in (good + line + b"\n", good + line + b"\n" + good):  # as the last line, and in the middle
        out.write_bytes(content)
        with pytest.raises(ValueError, match=re.escape(f"{out.name}, line 2: {message}")):
            load_results(out)
        with pytest.raises(ValueError, match="line 2"):
            run_sweep(CONFIGS, run=fake_run, seeds=1, out=out, progress=False)
        assert out.read_bytes() == content


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
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
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


def test_describe_provenance_names_runs_command_machine_commit_and_time(tmp_path):
    out = tmp_path / "fake_ci.jsonl"
    run_sweep(CONFIGS, run=fake_run, seeds=2, out=out, progress=False, command="first")
    run_sweep(CONFIGS + [{"T": 16}], run=fake_run, seeds=2, out=out, progress=False, command="second")
    records = load_results(out)
    text = describe_provenance(out)
    commit = records[0]["provenance"]["git_commit"][:8]
    assert text.startswith("`fake_ci.jsonl`: 8 runs") and ": 6 runs by `first` on " in text
    assert "; 2 runs by `second`" in text and f"at commit {commit}" in text and text.endswith("min of training.")
    assert describe_provenance(out, records) == text
    with pytest.raises(FileNotFoundError, match="sparse_attention_lab sweep"):
        describe_provenance(tmp_path / "missing.jsonl")
    # a file holding the runs of two sweeps (one copied into the other's file) names both
    mixed = [dict(r, provenance={**r["provenance"], "sweep": name}) for r, name in zip(records, ["a"] * 4 + ["b"] * 4, strict=True)]
    assert " runs of sweeps `a` and `b`" in describe_provenance(out, mixed)


def test_named_sweep_through_the_command_line(tmp_path, fake_experiments, capsys):
    out = tmp_path / "fake.jsonl"
    assert main(["sweep", "fake", "--profile", "ci", "--seeds", "2", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "6 to run" in printed and "Step caps add up to 300" in printed
    records = load_results(out)
    assert [r["config"]["max_steps"] for r in records] == [50] * 6
    assert {r["device"] for r in records} == {"cpu"}  # --device reached the run
    assert records[0]["provenance"]["command"].startswith("python -m sparse_attention_lab sweep fake")
    assert records[0]["provenance"]["sweep"] == "fake"
    assert "sweep `fake` (profile `ci`)" in describe_provenance(out)
    main(["list", "--profile", "ci"])
    assert capsys.readouterr().out.splitlines()[1:] == ["fake\t3 x 3\tsweep_helpers", "slow\t6 x 3\tsweep_helpers"]


def status_of(argv: list[str]) -> int:
    """``main``'s exit status, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exit_info:
        return exit_info.code


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", "nope", "--profile", "ci"], "unknown sweep 'nope'; known sweeps: fake, slow"),
        (["sweep", "fake", "--profile", "huge"], "invalid choice: 'huge'"),
        (["sweep", "fake", "--profile", "ci", "--seeds", "0"], "seeds must be a positive integer"),
        (["sweep", "fake", "--profile", "ci", "--max-steps", "-5"], "max_steps must be a positive"),
        (["sweep", "fake", "--profile", "ci", "--executor", "mpi"], "invalid choice: 'mpi'"),
        (["sweep", "fake", "--profile", "ci", "--workers", "0"], "workers must be a positive"),
        (["sweep", "fake", "--profile", "ci", "--device", "tpu"], "device must be 'cpu', 'cuda' or 'cuda:N'"),
        (["sweep", "fake", "--executor", "submitit", "--submitit-param", "bogus_key=1"],
         "submitit_parameters: Unknown executor 'bogus'"),
    ],
)
def test_command_line_rejects_bad_input(argv, message, fake_experiments, capsys, tmp_path):
    logs = tmp_path / "logs"
    assert status_of([*argv, "--out", str(tmp_path / "x.jsonl"), "--submitit-folder", str(logs)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "x.jsonl").exists() and not logs.exists()  # issue 17 item 8: no folder left behind


class _FailingOs:
    """The ``os`` module, except that one function raises ``OSError(code)``."""

    def __init__(self, name: str, code: int):
        self._name, self._code = name, code

    def __getattr__(self, attribute):
        if attribute == self._name:
            def fail(*args, **kwargs):
                raise OSError(self._code, os.strerror(self._code), str(args[0]) if self._name == "open" else None)
            return fail
        return getattr(os, attribute)


@pytest.mark.parametrize("case", ["directory", "read-only filesystem", "full disk", "bad profile variable",
                                  "not a results file"])
def test_command_line_user_errors_are_one_line_with_status_2(case, fake_experiments, capsys, tmp_path, monkeypatch):
    """Issue 17 item 8: no traceback, one line on stderr, exit status 2."""
    from errno import ENOSPC, EROFS

    from sparse_attention_lab.runs import results

    out = tmp_path / "x.jsonl"
    argv = ["sweep", "fake", "--profile", "ci", "--seeds", "1", "--out", str(out)]
    expected = {"directory": "is a directory", "read-only filesystem": "Read-only file system",
                "full disk": f"No space left on device: {out}", "bad profile variable": "Unknown compute profile 'bogus'",
                "not a results file": "line 1: not a run record (a JSON int"}[case]
    if case == "directory":
        argv[-1] = str(tmp_path)
    elif case == "read-only filesystem":
        monkeypatch.setattr(results, "os", _FailingOs("open", EROFS))
    elif case == "full disk":
        monkeypatch.setattr(results, "os", _FailingOs("write", ENOSPC))
    elif case == "bad profile variable":
        monkeypatch.setenv("SAL_PROFILE", "bogus")
        argv = ["list"]
    else:
        out.write_text("42\n")
    assert status_of(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "run/s]" not in line]
    assert len(lines) == 1 and expected in lines[0]  # one line, below the progress bar if there was one


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name_or_configs": "nope"}, "unknown sweep 'nope'; known sweeps: fake, slow"),
        ({"name_or_configs": "fake", "profile": "huge"}, "Unknown compute profile 'huge'"),
        ({"name_or_configs": "fake", "profile": 5}, "profile must be a profile name"),
        ({"seeds": 0}, "seeds must be a positive integer"),
        ({"seeds": 2.0}, "seeds must be a positive count or a list"),
        ({"seeds": [0, -1]}, "seeds must be non-negative integers"),
        ({"seeds": [1, 1]}, "seeds must not repeat"),
        ({"name_or_configs": [{"T": 2}, {"T": 2}]}, r"configs\[1\] repeats configs\[0\]"),
        ({"name_or_configs": [{"T": 2}], "max_steps": 10}, "some configs have no max_steps"),
        ({"name_or_configs": [{"T": object()}]}, r"configs\[0\] is not JSON-serialisable"),
        ({"executor": "mpi"}, "executor must be one of inline, process, submitit"),
        ({"run": None}, "run and out are required"),
        ({"run": lambda config, seeds: [], "executor": "process"}, "run must be a module-level function"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_run_sweep_rejects_bad_input(kwargs, message, fake_experiments, tmp_path):
    arguments = {"name_or_configs": CONFIGS, "run": fake_run, "seeds": 1, "out": tmp_path / "x.jsonl"}
    with pytest.raises(ValueError, match=message):
        run_sweep(**{**arguments, **kwargs}, progress=False)
    assert not (tmp_path / "x.jsonl").exists()


def test_a_real_regression_sweep_records_escape_and_divergence(tmp_path):
    """Tiny Transformer configs: one learns, one's learning rate blows the loss up, one's loss is
    not finite from the start (issue 17 item 1: that job used to fail)."""
    from sparse_attention_lab.experiments import regression

    tiny = {"T": 8, "d": 2, "n_layers": 1, "n_heads": 1, "d_model": 8, "d_qk": 8,
            "max_steps": 10, "eval_every": 5, "eval_size": 32}
    configs = [{**tiny, "lr": 1e-3}, {**tiny, "lr": 1e8}, {**tiny, "readout_init": 1e30}]
    out = tmp_path / "tiny.jsonl"
    records = run_sweep(configs, run=regression.run, seeds=2, out=out, progress=False)
    assert [r["diverged"] for r in records] == [False, False, True, True, True, True]
    assert all(r["steps"][-1] == 10 for r in records[:2]) and records[0]["test_loss"][0] > 0
    assert [r["diverged_at"] for r in records[4:]] == [0, 0] and records[4]["test_loss"] == [None]
    assert all(0 <= r["diverged_at"] <= 10 for r in records[2:4])
    assert {r["provenance"]["device"] for r in records} == {"cpu"}
    assert load_results(out) == records
    assert run_sweep(configs, run=regression.run, seeds=2, out=out, progress=False) == records


def test_command_line_reports_failed_jobs_with_status_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "SWEEPS", {"fake": experiments.Sweep("fake", lambda p: [{"T": 2, "fail": True}],
                                                                          failing_run)})
    assert main(["sweep", "fake", "--seeds", "1", "--out", str(tmp_path / "x.jsonl")]) == 1
    assert "1 of 1 jobs failed" in capsys.readouterr().err


def test_the_submitit_folder_is_private_and_an_open_one_is_warned_about(tmp_path):
    """Issue 17 item 9: whoever can write to the folder can run code in the sweep (pickles)."""
    pytest.importorskip("submitit")
    import stat

    from sparse_attention_lab.runs import executors

    assert "run code in the sweep" in executors.__doc__
    folder = tmp_path / "new" / "logs"
    executors.make_executor("submitit", submitit_folder=folder).shutdown()
    assert stat.S_IMODE(os.stat(folder).st_mode) == stat.S_IMODE(os.stat(folder.parent).st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.warns(UserWarning, match="writable by other users: whoever can write there can run code"):
        executors.make_executor("submitit", submitit_folder=shared).shutdown()


def test_a_sweep_refuses_to_run_under_the_chapter_step_cap(tmp_path, monkeypatch):
    """Runs capped by $SAL_MAX_STEPS would be stored under their uncapped keys: refused."""
    monkeypatch.setenv("SAL_MAX_STEPS", "5")
    with pytest.raises(ValueError, match="SAL_MAX_STEPS"):
        run_sweep("fig3", profile="ci", out=tmp_path / "fig3.jsonl", max_steps=2)
    assert not (tmp_path / "fig3.jsonl").exists()
