"""benchmarks/device_check.py runs end to end: ``--smoke`` on the CPU (the GPU run waits for a device)."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "device_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_smoke_run_writes_every_section(tmp_path):
    out = tmp_path / "report.json"
    book = SCRIPT.parents[1] / "book"
    before = {p: p.stat().st_mtime_ns for p in book.rglob("*") if p.is_file()}
    assert load_script().main(["--smoke", "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    assert {p: p.stat().st_mtime_ns for p in book.rglob("*") if p.is_file()} == before  # issue 26 item 3
    report = json.loads(out.read_text())
    sections = report["sections"]
    assert set(sections) == {"agreement", "sweeps", "throughput", "precision", "fig3_paper"}
    assert all(isinstance(v, dict) for v in sections.values()), sections
    # The CPU against itself with the same batches: the curves agree to float32 rounding (not bit
    # for bit: a CPU kernel's summation order may depend on the alignment of its buffers).
    for task in ("regression", "recall"):
        assert sections["agreement"][task]["same_batches"]["max_relative_test_loss_gap_before_escape"] < 1e-5
    assert sections["agreement"]["toy_sgd"]["same_batches"]["max_relative_loss_gap_before_escape"] < 1e-5
    # Issue 26 item 5: the smoke runs escape, so every comparison is exercised, and each section
    # says what it would cost on an H100.
    for task in ("regression", "recall"):
        assert all(sections["agreement"][task]["escaped"]), task
    assert all(sections["agreement"]["toy_sgd"]["escaped"])
    packed = sections["agreement"]["packed_p"]
    assert packed["escaped"] == 12 and packed["same_escape"] and packed["same_lengths"]
    assert packed["max_relative_test_loss_gap"] < 1e-5
    assert all(isinstance(e, float) and math.isfinite(e) for task in ("regression", "recall")
               for e in sections["precision"][task]["escape_steps"]["fp32"])
    assert all("h100_estimate_s" in section["cost"] for section in sections.values())
    assert sections["agreement"]["cost"]["h100_estimate_s"] > 0
    assert {"fp32", "tf32", "bf16"} <= {key.split()[2] for key in sections["throughput"] if key != "cost"}
    assert sections["fig3_paper"]["runs_after"] == 9 and (tmp_path / "fig3_ci.jsonl").exists()


def test_without_a_gpu_the_full_check_refuses(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        load_script().main(["--out", "/dev/null"])
    assert "--smoke" in capsys.readouterr().err


def test_same_escapes_tolerates_rounding_but_not_a_different_escape():
    """Issue 26 item 5: escape steps of runs that differ by float rounding are compared with a
    tolerance, never with ==."""
    same = load_script()._same_escapes
    assert same([100.0, None, math.inf], [100.00001, None, None])
    assert not same([100.0], [101.0]) and not same([100.0], [None]) and not same([1.0], [1.0, 2.0])


def test_a_section_stops_its_runs_when_its_share_is_spent():
    """Issue 26 item 5: every section checks the clock, inside runs too (a train callback)."""
    script = load_script()
    clock = script.Clock(10.0)
    clock.share_end = -1.0  # already spent
    assert clock.over() and clock.stop(0, [])
    out = script.agreement(torch.device("cpu"), True, clock)
    assert all("out of time" in section["status"] for section in out.values())


def test_the_paper_runs_go_next_to_the_report_never_into_the_book(tmp_path):
    """Issue 26 item 3: without --data-dir the full check wrote book/data/fig3_paper.jsonl."""
    folder = load_script().data_folder
    assert folder(None, False, tmp_path / "out" / "report.json", tmp_path / "scratch") == tmp_path / "out"
    assert folder(None, True, tmp_path / "report.json", tmp_path / "scratch") == tmp_path / "scratch"
    assert folder(str(tmp_path / "named"), False, tmp_path / "report.json", tmp_path) == tmp_path / "named"
