"""Associative-recall experiments: configs, named sweeps, and a tiny model that learns the task."""

from __future__ import annotations

import json
import math

import pytest

from sparse_attention_lab.analysis.recall import emergence_rows
from sparse_attention_lab.experiments.recall import DEFAULTS, SWEEPS, build, run
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.training.probes import RecallProbe

EASY = {
    "n_pairs": 3, "n_tokens": 8, "n_layers": 2, "n_heads": 2, "d_model": 32, "d_qk": 16, "lr": 1e-3,
    "max_steps": 800, "eval_every": 50, "eval_size": 256, "escape_accuracy": 0.9, "stop_margin": 0.0,
}


def test_build_uses_paper_defaults_and_onehot_model() -> None:
    task, model, training = build({"n_pairs": 4, "n_tokens": 16})
    assert (task.n_pairs, task.n_tokens, task.B, task.p) == (4, 16, 1.0, 0.0)
    assert model.input_kind == "onehot" and model.d_in == model.d_out == 16
    assert model.layer_norm and model.n_layers == DEFAULTS["n_layers"] == 4
    assert training.objective == "ce" and training.escape_accuracy == 0.05


def test_build_rejects_unknown_keys_and_bad_tasks() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        build({"n_pairs": 4, "n_tokens": 16, "vocabulary": 3})
    with pytest.raises(ValueError, match="n_pairs"):
        build({"n_pairs": 16, "n_tokens": 16})


@pytest.mark.parametrize("profile", list(PROFILES))
def test_named_sweeps_build_valid_runs(profile: str) -> None:
    for name, make in SWEEPS.items():
        configs = make(PROFILES[profile])
        assert len(configs) >= 7, name
        keys = [json.dumps(c, sort_keys=True) for c in configs]
        assert len(set(keys)) == len(keys), f"{name} repeats a config"
        for config in configs:
            build(config)
    grid = SWEEPS["ar_grid"](PROFILES[profile])
    assert len({c["n_pairs"] for c in grid}) >= 3 and len({c["n_tokens"] for c in grid}) >= 3
    repetition = SWEEPS["ar_repetition"](PROFILES[profile])
    assert len({c["B"] for c in repetition}) >= 3 and len({c["p"] for c in repetition}) >= 3
    assert all(c["stop_margin"] is None for c in repetition)


def test_tiny_model_learns_easy_recall_within_bounded_steps() -> None:
    probe = RecallProbe(build(EASY)[0], n_sequences=64)
    (record,) = run(EASY, [0], probe=probe)
    assert record["config"] == EASY and record["settings"]["model"]["input_kind"] == "onehot"
    assert record["escaped"] and record["escape_step"] < EASY["max_steps"]
    assert record["test_acc"][-1] >= 0.9 > record["test_acc"][0]
    (row,) = emergence_rows([record], accuracy=0.5)
    assert math.isfinite(row["emergence"]) and row["emergence"] <= record["escape_step"]
    assert set(record["probes"]) == {"copy", "selection", "induction"}
    selection = record["probes"]["selection"]
    assert max(max(head) for head in selection[-1]) > max(max(head) for head in selection[0])
    json.dumps(record)
