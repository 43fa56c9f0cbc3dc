"""Write ``data/viewer_record.json``: one small associative-recall run with its attention maps.

    OMP_NUM_THREADS=1 python tests/browser/make_viewer_record.py     # about 20 s on one core

The browser test of the live widgets (``test_live_widgets.py``) opens the attention viewer on
this record instead of training in the notebook. The run is the laptop profile's recall model
on a small task (``n_pairs = 3``, ``n_tokens = 8``), trained until its test accuracy has jumped;
the file keeps what the viewer draws (steps, accuracies, the maps of the probe's first test
sequence), rounded to 3 digits, with the sequence's tokens and the provenance of the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from sparse_attention_lab.experiments import recall
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.training.probes import RecallProbe

OUT = Path(__file__).with_name("data") / "viewer_record.json"
CONFIG = {
    **PROFILES["laptop"].sizes("recall_transformer"),
    "n_pairs": 3, "n_tokens": 8, "max_steps": 1500, "eval_every": 10, "eval_size": 128, "stop_margin": 2.0,
}


def rounded(values, digits: int = 3):
    """Nested lists of floats rounded to ``digits`` decimals (the file stays small)."""
    if isinstance(values, list):
        return [rounded(v, digits) for v in values]
    return round(float(values), digits)


def main() -> None:
    torch.manual_seed(0)
    task = recall.build(CONFIG)[0]
    probe = RecallProbe(task, n_sequences=32, keep_maps=True)
    start = time.perf_counter()
    (record,) = recall.run(CONFIG, seeds=[0], probe=probe)
    wall = time.perf_counter() - start
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    data = {
        "provenance": {
            "command": "python tests/browser/make_viewer_record.py", "commit": commit,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": round(wall, 1), "python": sys.version.split()[0], "torch": torch.__version__,
        },
        "config": CONFIG,
        "tokens": probe.example_tokens.tolist(),
        "record": {
            "steps": record["steps"],
            "test_acc": rounded(record["test_acc"]),
            "train_acc": rounded(record["train_acc"]),
            "probes": {"maps": rounded(record["probes"]["maps"])},
        },
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(record['steps'])} checkpoints, test accuracy {record['test_acc'][0]:.2f} -> "
          f"{record['test_acc'][-1]:.2f}, {OUT.stat().st_size / 1e3:.0f} kB, trained in {wall:.0f} s")


if __name__ == "__main__":
    main()
