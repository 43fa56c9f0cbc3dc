"""benchmarks/device_check.py runs end to end: ``--smoke`` on the CPU (the GPU run waits for a device)."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "device_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_smoke_run_writes_every_section(tmp_path):
    out = tmp_path / "report.json"
    assert load_script().main(["--smoke", "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    report = json.loads(out.read_text())
    sections = report["sections"]
    assert set(sections) == {"agreement", "sweeps", "throughput", "precision", "fig3_paper"}
    assert all(isinstance(v, dict) for v in sections.values()), sections
    # The CPU against itself with the same batches: the curves agree to float32 rounding (not bit
    # for bit: a CPU kernel's summation order may depend on the alignment of its buffers).
    for task in ("regression", "recall"):
        assert sections["agreement"][task]["same_batches"]["max_relative_test_loss_gap_before_escape"] < 1e-5
    assert sections["agreement"]["toy_sgd"]["same_batches"]["max_relative_loss_gap_before_escape"] < 1e-5
    packed = sections["agreement"]["packed_p"]
    assert packed["max_relative_test_loss_gap"] < 1e-5 and packed["same_escape"]
    assert {"fp32", "tf32", "bf16"} <= {key.split()[2] for key in sections["throughput"]}
    assert sections["fig3_paper"]["runs_after"] == 9 and (tmp_path / "fig3_ci.jsonl").exists()


def test_without_a_gpu_the_full_check_refuses(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        load_script().main(["--out", "/dev/null"])
    assert "--smoke" in capsys.readouterr().err
