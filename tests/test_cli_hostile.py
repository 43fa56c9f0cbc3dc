"""The command line against a hostile user (issue 27): every mistake ends with one line on stderr
and exit status 2, no traceback, and the target file keeps every byte. Also SIGINT and SIGTERM,
which end a real sweep process with one line."""

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

from sparse_attention_lab import experiments
from sparse_attention_lab.__main__ import main
from sparse_attention_lab.runs.sweep import run_sweep

HELPERS = Path(sweep_helpers.__file__).parent
REPO = HELPERS.parent



def _record(**change) -> dict:
    return {**sweep_helpers.fake_run({"T": 2}, [0])[0], **change}


FILES = {
    "empty": b"",
    "note": b"{unfinished note",
    "text": b"these are my notes\nnot a results file at all",
    "forged": json.dumps({"config": {"T": 2}, "seed": 0}).encode() + b"\n",
    "steps as text": json.dumps(_record(steps="0, 50")).encode() + b"\n",
    "provenance as text": json.dumps(_record(provenance="by hand")).encode() + b"\n",
    "NaN": b'{"config": {"T": 2}, "seed": 0, "test_loss": [NaN]}\n',
    "not UTF-8": b'{"config": {"T": "\xff"}, "seed": 0}\n',
    "duplicated": (json.dumps(_record()) + "\n").encode() * 2,
}

FAKE = ["sweep", "fake", "--profile", "ci"]
CASES = [
    # (argv before --out, the file at --out, a phrase of the one line)
    (["sweep", "nope", "--profile", "ci"], "empty", "unknown sweep 'nope'"),
    (["sweep", "fake", "--profile", "huge"], "empty", "invalid choice: 'huge'"),
    (["list", "--profile", "huge"], "empty", "invalid choice: 'huge'"),
    ([*FAKE, "--seeds", "0"], "empty", "seeds must be a positive integer"),
    ([*FAKE, "--seeds", "-1"], "empty", "seeds must be a positive integer"),
    ([*FAKE, "--seeds", "abc"], "empty", "invalid int value: 'abc'"),
    ([*FAKE, "--seeds", "1000000000"], "empty", "seeds must be at most 1000"),
    ([*FAKE, "--seeds", "1" * 31], "empty", "seeds must be at most 1000"),
    ([*FAKE, "--max-steps", "-5"], "empty", "max_steps must be a positive"),
    ([*FAKE, "--max-steps", "0"], "empty", "max_steps must be a positive"),
    ([*FAKE, "--max-steps", "many"], "empty", "invalid int value: 'many'"),
    ([*FAKE, "--executor", "mpi"], "empty", "invalid choice: 'mpi'"),
    ([*FAKE, "--workers", "0"], "empty", "workers must be a positive"),
    ([*FAKE, "--workers", "-3"], "empty", "workers must be a positive"),
    ([*FAKE, "--device", "tpu"], "empty", "device must be 'cpu', 'cuda' or 'cuda:N'"),
    ([*FAKE, "--device", "cpu:abc"], "empty", "device must be 'cpu', 'cuda' or 'cuda:N'"),
    ([*FAKE, "--device", "cuda:x"], "empty", "device must be 'cpu', 'cuda' or 'cuda:N'"),
    ([*FAKE, "--device", ""], "empty", "device must be 'cpu', 'cuda' or 'cuda:N'"),
    ([*FAKE, "--executor", "submitit", "--submitit-param", "bogus_key=1"], "empty", "submitit_parameters"),
    ([*FAKE, "--executor", "submitit", "--submitit-param", "timeout_min=abc"], "empty", "timeout_min"),
    ([*FAKE, "--executor", "submitit", "--submitit-param", "novalue"], "empty", "expected KEY=VALUE"),
    (FAKE, "note", "line 1: not valid JSON"),
    (FAKE, "text", "line 1: not valid JSON"),
    (FAKE, "forged", "not a run record"),
    (FAKE, "steps as text", "'steps' is str"),
    (FAKE, "provenance as text", "'provenance' is str"),
    (FAKE, "NaN", "NaN is not strict JSON"),
    (FAKE, "not UTF-8", "not UTF-8 text"),
    (FAKE, "duplicated", "repeats the run of line 1"),
    (["sweep", "slow", "--profile", "ci"], "another sweep", "holds runs of another sweep"),
    (["sweep"], "empty", "the following arguments are required: name"),
    ([], "empty", "the following arguments are required: command"),
]


@pytest.fixture
def fake_experiments(monkeypatch):
    monkeypatch.setattr(experiments, "SWEEPS", sweep_helpers.registry())


@pytest.mark.parametrize("argv, kind, phrase", CASES, ids=[f"{i:02d}-{c[1]}-{' '.join(c[0])[:40]}" for i, c in
                                                           enumerate(CASES)])
def test_a_mistake_is_one_line_with_status_2_and_the_file_unchanged(argv, kind, phrase, fake_experiments,
                                                                     tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SAL_PROFILE", raising=False)
    monkeypatch.delenv("SAL_MAX_STEPS", raising=False)
    out, logs = tmp_path / "target.jsonl", tmp_path / "logs"
    if kind == "another sweep":
        run_sweep("fake", profile="ci", seeds=1, out=out, progress=False)
    else:
        out.write_bytes(FILES[kind])
    before = out.read_bytes()
    capsys.readouterr()
    extra = ["--out", str(out), "--submitit-folder", str(logs)] if argv[:1] == ["sweep"] and len(argv) > 1 else []
    try:
        status = main([*argv, *extra])
    except SystemExit as exit_info:  # argparse
        status = exit_info.code
    err = capsys.readouterr().err
    assert status == 2
    assert phrase in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip() and not line.startswith("usage:")
                and not line.startswith(" ")]) == 1, err
    assert out.read_bytes() == before
    assert not logs.exists()


@pytest.mark.parametrize("variable, value, phrase", [("SAL_PROFILE", "huge", "Unknown compute profile 'huge'"),
                                                     ("SAL_MAX_STEPS", "5", "SAL_MAX_STEPS is set")])
def test_a_bad_environment_is_one_line_with_status_2(variable, value, phrase, fake_experiments, tmp_path, capsys,
                                                     monkeypatch):
    monkeypatch.setenv(variable, value)
    out = tmp_path / "target.jsonl"
    assert main(["sweep", "fake", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert phrase in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig, phrase", [(signal.SIGINT, "interrupted (Ctrl-C)"), (signal.SIGTERM, "terminated (SIGTERM)")])
def test_a_signal_ends_a_sweep_with_one_line(sig, phrase, tmp_path):
    out = tmp_path / "slow.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPERS), str(REPO)]), "OMP_NUM_THREADS": "1"}
    code = ("import sys, sparse_attention_lab.experiments as e, sweep_helpers; e.SWEEPS = sweep_helpers.registry(); "
            "from sparse_attention_lab.__main__ import main; sys.exit(main(sys.argv[1:]))")
    # a shell that starts jobs in the background (CI under nohup, `cmd &`) hands them SIGINT ignored:
    # restore the default, as a terminal would, so that Python turns it into KeyboardInterrupt
    process = subprocess.Popen([sys.executable, "-c", code, "sweep", "slow", "--profile", "ci", "--out", str(out)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or not out.read_bytes()):
        time.sleep(0.05)  # at least one run written: the sweep is under way
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "sparse_attention_lab" in line] == [
        next(line for line in err.splitlines() if phrase in line)]
    assert out.read_bytes().endswith(b"\n")  # finished runs whole, no partial line
