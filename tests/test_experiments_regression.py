"""Regression experiments: configs build the right objects, sweeps cover their grids, runs record."""

import json
import math

import pytest
import torch

from sparse_attention_lab.analysis import steps as step_analysis
from sparse_attention_lab.analysis.measurement import escape_measure
from sparse_attention_lab.experiments import regression
from sparse_attention_lab.measure import attention_step, escape_step
from sparse_attention_lab.profiles import PROFILES

TINY = {"T": 8, "d": 4, "n_layers": 1, "n_heads": 2, "d_model": 16, "d_qk": 8, "mlp_factor": 2,
        "lr": 1e-3, "max_steps": 20, "eval_every": 10, "eval_size": 32}


def test_build_applies_defaults_and_task_width():
    task, model, training = regression.build({"T": 32, "d": 8})
    assert (task.T, task.d, task.B, task.p) == (32, 8, 1, 0.0)
    assert model.d_in == 9 and model.d_out == 8  # the relevant-token feature adds one input
    assert (model.n_layers, model.n_heads, model.d_model, model.d_qk) == (2, 4, 256, 64)
    assert (training.optimizer, training.lr, training.batch_size) == ("adam", 1e-4, 32)
    task, model, _ = regression.build({"T": 32, "d": 8, "feature": False, "position": "fixed"})
    assert model.d_in == 8


@pytest.mark.parametrize(("config", "name"), [({"width": 3}, "width"), ({"n_heads": 3}, "n_heads"),
                                              ({"lr": -1.0}, "lr"), ({"B": 40, "T": 8}, "B")])
def test_bad_configs_raise_naming_the_field(config, name):
    with pytest.raises(ValueError, match=name):
        regression.build(config)


def test_run_returns_one_json_record_per_seed_with_its_config():
    config = {**TINY, "probe_attention": True}
    records = regression.run(config, [0, 1])
    assert [r["seed"] for r in records] == [0, 1]
    for record in records:
        json.dumps(record)
        assert record["config"] == config
        assert record["settings"]["task"]["T"] == 8
        attention = torch.tensor(record["probes"]["readout_attention"])
        assert attention.shape == (3, 1, 2)  # evaluations, layers, heads
        assert ((attention >= 0) & (attention <= 1)).all()


def test_plateau_rows_merge_defaults_and_measure():
    record = {"config": {"T": 16, "d": 4}, "seed": 3, "diverged": False,
              "steps": [0, 10, 20], "test_loss": [0.5, 0.2, 0.05]}
    (row,) = step_analysis.plateau_rows([record], fraction=0.2)
    assert row["T"] == 16 and row["B"] == 1 and row["seed"] == 3
    assert row["plateau"] == pytest.approx(escape_step(record, fraction=0.2))
    assert "attention_step" not in row  # no attention probe in this record


def test_paper_plateau_measures_each_kind_of_repetition_as_app_d1():
    assert escape_measure(1, 0.0) == (0.2, "test")
    assert escape_measure(4, 0.0) == (0.2, "train")  # same B as in training
    assert escape_measure(1, 0.3) == (0.4, "test")  # no repetition at test
    curves = {"steps": [0, 10, 20], "test_loss": [0.5, 0.45, 0.3], "train_loss": [0.5, 0.3, 0.05]}
    records = [{"config": {"B": B, "p": p}, "seed": 0, "diverged": False, **curves}
               for B, p in ((1, 0.0), (2, 0.0), (1, 0.5))]
    plain, in_context, cross = (row["plateau"] for row in step_analysis.paper_plateau_rows(records))
    assert plain == math.inf  # the test loss never falls below 0.2 x 0.5
    assert in_context == pytest.approx(escape_step(curves, fraction=0.2, curve="train"))
    assert cross == pytest.approx(escape_step(curves, fraction=0.4, curve="test"))


def test_attention_step_is_the_strongest_head_crossing_the_level():
    # Evaluations x layers x heads: head (1, 0) reaches 0.5 halfway between steps 10 and 20.
    attention = [[[0.1, 0.1], [0.1, 0.1]], [[0.2, 0.1], [0.4, 0.1]], [[0.3, 0.1], [0.6, 0.2]]]
    record = {"steps": [0, 10, 20], "probes": {"readout_attention": attention}}
    assert attention_step(record, level=0.5) == pytest.approx(15.0)
    assert attention_step(record, level=0.9) == math.inf
    with pytest.raises(ValueError, match="readout_attention"):
        attention_step({"steps": [0], "probes": {}})
    with pytest.raises(ValueError, match="level"):
        attention_step(record, level=1.5)


def test_run_takes_a_probe_a_callback_and_a_device():
    steps = []

    def probe(model, step):
        return {"step": torch.full((model.n_models,), float(step))}

    def callback(step, records):
        steps.append(step)
        return step >= 10

    (record,) = regression.run(TINY, [0], probe=probe, callback=callback, device="cpu")
    assert steps == [0, 10] and record["probes"] == {"step": [0.0, 10.0]} and record["device"] == "cpu"
    with pytest.raises(ValueError, match="device"):
        regression.run(TINY, [0], device="tpu")


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
@pytest.mark.parametrize("name", list(regression.SWEEPS))
def test_every_sweep_builds_under_every_profile(name, profile):
    configs = regression.SWEEPS[name](profile)
    assert len(configs) >= 4
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == len(configs)
    for config in configs:
        regression.build(config)


def test_ci_grids_meet_the_chapter_minimum():
    ci = PROFILES["ci"]
    fig3 = regression.SWEEPS["fig3"](ci)
    assert len({c["T"] for c in fig3}) >= 3 and len({c["d"] for c in fig3}) >= 3
    assert len({c["B"] for c in regression.SWEEPS["fig3_B"](ci)}) >= 3
    p_sweep = regression.SWEEPS["fig3_p"](ci)
    assert len({c["p"] for c in p_sweep}) >= 3
    assert {c["escape_fraction"] for c in p_sweep} == {regression.REPEATED_ESCAPE_FRACTION}
    assert ci.sizes("fig3")["seeds"] >= 2
    optimizers = {(c["optimizer"], c["n_layers"], c["n_heads"]) for c in regression.SWEEPS["fig15"](ci)}
    assert optimizers == {("adam", 1, 1), ("sgd", 1, 1)}
    for ablation in ("fig13", "fig14", "fig15"):  # "at the same scale": 3 x 3 (d x T) as well
        configs = regression.SWEEPS[ablation](ci)
        assert len({c["T"] for c in configs}) >= 3 and len({c["d"] for c in configs}) >= 3


def test_laptop_p_sweep_spans_several_sequence_lengths():
    configs = regression.SWEEPS["fig3_p"](PROFILES["laptop"])
    assert len({c["T"] for c in configs}) >= 3 and len({c["p"] for c in configs}) >= 3
