"""Results files keep the user's data whole (issue 27): a file that is not a results file is left
byte for byte, records that are not runs are refused, a failed write leaves no partial line, and a
sweep writes into the book's data only when asked by name."""

from __future__ import annotations

import errno
import json
import os

import pytest
from sweep_helpers import fake_run, registry

from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.runs import results as results_module
from sparse_attention_lab.runs import sweep as sweeps
from sparse_attention_lab.runs.book_data import sweep_command
from sparse_attention_lab.runs.results import RECORD_PREFIX, ResultsFile, load_results
from sparse_attention_lab.runs.sweep import default_output, run_sweep

CONFIGS = [{"T": 2}, {"T": 4}]


def test_a_write_cut_by_a_kill_is_still_recognised(tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_bytes(RECORD_PREFIX + b'{"T": 2, "max_st')  # the first write of a sweep, cut short
    with pytest.warns(UserWarning, match="removed an incomplete last line"):
        records = run_sweep(CONFIGS, run=fake_run, seeds=1, out=out, progress=False)
    assert len(records) == 2 == len(load_results(out))


def _record(**change) -> dict:
    return {**fake_run({"T": 2}, [0])[0], **change}


@pytest.mark.parametrize("forged, message", [
    ({"config": {"T": 2}, "seed": 0}, "'steps' is NoneType, not a list"),
    (_record(provenance="made by hand"), "'provenance' is str, not an object"),
    (_record(steps="0, 50, 100"), "'steps' is str, not a list"),
    (_record(train_loss=[0.5]), "differ in length"),
    (_record(escape_step="soon"), "'escape_step' is 'soon'"),
    (_record(escape_step=True), "'escape_step' is True"),
])
def test_a_record_that_is_not_a_run_is_refused_on_load(forged, message, tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_text(json.dumps(forged) + "\n")
    with pytest.raises(ValueError, match=f"line 1: not a run record .*{message[:12]}"):
        load_results(out)
    with pytest.raises(ValueError, match="not a run record"):
        ResultsFile(tmp_path / "new.jsonl").append(forged)


def test_a_duplicated_line_is_refused(tmp_path):
    out = tmp_path / "results.jsonl"
    run_sweep(CONFIGS, run=fake_run, seeds=1, out=out, progress=False)
    first = out.read_bytes().splitlines(keepends=True)[0]
    out.write_bytes(out.read_bytes() + first)
    with pytest.raises(ValueError, match="line 3: repeats the run of line 1"):
        load_results(out)


def test_records_of_another_sweep_are_refused(tmp_path, monkeypatch):
    """``fig3`` appended to a ``fig3_B`` file: here, sweep ``slow`` resumed on ``fake``'s file."""
    monkeypatch.setattr(sweeps.experiments, "SWEEPS", registry())
    out = tmp_path / "fake_ci.jsonl"
    run_sweep("fake", profile="ci", seeds=1, out=out, progress=False)
    before = out.read_bytes()
    with pytest.raises(ValueError, match="holds runs of another sweep \\(3 of sweep 'fake'\\), not of 'slow'"):
        run_sweep("slow", profile="ci", seeds=1, out=out, progress=False)
    assert out.read_bytes() == before
    run_sweep("fake", profile="ci", seeds=2, out=out, progress=False)  # its own file resumes


def test_a_failed_write_cuts_off_its_own_partial_line(tmp_path, monkeypatch):
    out = tmp_path / "results.jsonl"
    with ResultsFile(out) as results:
        results.append(_record())
        whole = out.read_bytes()
        real_write = os.write

        def half_then_full_disk(fd, data):
            if len(data) > 10:
                real_write(fd, bytes(data[: len(data) // 2]))
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(results_module.os, "write", half_then_full_disk)
        with pytest.raises(OSError, match="No space left on device"):
            results.append(_record(seed=1))
    assert out.read_bytes() == whole  # no partial line for a reader to trip on
    assert len(load_results(out)) == 1


def test_a_sweep_writes_outside_the_book_unless_asked_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = default_output("fig3", PROFILES["ci"])
    assert path == tmp_path / "sal_results" / "fig3_ci.jsonl"
    assert "book" not in path.relative_to(tmp_path).parts
    assert sweep_command("fig3", "ci").endswith("--out book/data/fig3_ci.jsonl")


def test_the_readme_quick_trial_leaves_the_book_data_untouched(tmp_path, monkeypatch):
    """``sweep fig3 --profile ci --max-steps 2`` without ``--out``, from the checkout: nothing in book/data."""
    monkeypatch.setattr(sweeps.experiments, "SWEEPS", registry())
    book_data = sweeps.Path(results_module.__file__).resolve().parents[2] / "book" / "data"
    before = {p.name: p.stat().st_mtime_ns for p in book_data.iterdir()} if book_data.is_dir() else {}
    monkeypatch.chdir(tmp_path)
    run_sweep("fake", profile="ci", seeds=1, max_steps=2, progress=False)
    assert (tmp_path / "sal_results" / "fake_ci.jsonl").exists()
    after = {p.name: p.stat().st_mtime_ns for p in book_data.iterdir()} if book_data.is_dir() else {}
    assert after == before


def test_a_sweep_resumed_on_another_device_says_the_streams_differ(tmp_path, capsys):
    """Issue 26 item 6: seed s draws other batches on a GPU than on a CPU; a resume that mixes the
    two in one file says so (the runs themselves are fine statistically)."""
    out = tmp_path / "results.jsonl"
    run_sweep(CONFIGS[:1], run=fake_run, seeds=1, out=out, progress=False, device="cpu")
    capsys.readouterr()
    lines = out.read_text().splitlines()
    out.write_text(json.dumps({**json.loads(lines[0]), "device": "cuda (NVIDIA H100)"}) + "\n")
    run_sweep(CONFIGS, run=fake_run, seeds=1, out=out, progress=False, device="cpu")
    assert "1 on cuda (NVIDIA H100)" in capsys.readouterr().out
    run_sweep(CONFIGS + [{"T": 8}], run=fake_run, seeds=1, out=tmp_path / "new.jsonl", progress=False, device="cpu")
    assert "another device" not in capsys.readouterr().out


def test_a_training_record_names_its_data_stream():
    from sparse_attention_lab.experiments import regression

    (record,) = regression.run({"T": 8, "d": 2, "d_model": 8, "d_qk": 4, "n_heads": 1, "n_layers": 1,
                                "max_steps": 2, "eval_every": 1, "eval_size": 4, "progress": False}, [0])
    assert record["settings"]["data_stream"] == "cpu"
