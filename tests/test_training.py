"""The trainer: batched seeds equal separate runs, plateau detection, divergence, schedules, errors."""

import json
import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch

from sparse_attention_lab.measure import escape_step
from sparse_attention_lab.models import TransformerConfig
from sparse_attention_lab.runs.results import json_ready
from sparse_attention_lab.tasks import SingleLocationRegression
from sparse_attention_lab.training.record import RunRecord
from sparse_attention_lab.training.trainer import TrainConfig, train

TASK = SingleLocationRegression(T=8, d=4)
MODEL = TransformerConfig(d_in=TASK.input_dim, d_out=4, n_layers=1, n_heads=2, d_model=16, d_qk=8, mlp_factor=2)
QUICK = TrainConfig(lr=1e-3, max_steps=30, eval_every=10, eval_size=64, stop_margin=None, progress=False)


def test_batched_seeds_equal_separate_runs():
    together = train(TASK, MODEL, QUICK, seeds=[3, 5])
    alone = train(TASK, MODEL, QUICK, seeds=[5])
    assert together[1]["seed"] == alone[0]["seed"] == 5
    assert together[1]["steps"] == alone[0]["steps"] == [0, 10, 20, 30]
    for curve in ("test_loss", "train_loss"):
        assert together[1][curve] == pytest.approx(alone[0][curve], rel=1e-4)
    assert together[0]["test_loss"][-1] != pytest.approx(together[1]["test_loss"][-1], rel=1e-4)


def test_record_is_json_serialisable_and_starts_near_half():
    (record,) = train(TASK, MODEL, QUICK, seeds=[0])
    json.dumps(record)
    assert set(record) == set(RunRecord.__required_keys__)
    assert record["settings"]["train"]["lr"] == QUICK.lr and record["settings"]["task"]["T"] == TASK.T
    assert record["config"] is None and record["device"] == "cpu"
    assert 0.2 < record["test_loss"][0] < 1.0
    assert record["escaped"] is False and record["escape_step"] is None


def test_escape_is_interpolated_between_evaluations():
    record = {"steps": [0, 100, 200, 300], "test_loss": [0.5, 0.45, 0.15, 0.05]}
    # 0.2 x 0.5 = 0.1 is crossed halfway between steps 200 and 300
    assert escape_step(record, fraction=0.2) == pytest.approx(250.0)
    assert escape_step(record, fraction=0.8) == pytest.approx(100 + 100 * 0.05 / 0.30)
    assert escape_step({"steps": [0, 1], "test_loss": [0.5, 0.4]}, fraction=0.2) == math.inf
    accuracy = {"steps": [0, 10, 20], "test_acc": [0.0, 0.02, 0.10]}
    assert escape_step(accuracy, accuracy=0.06) == pytest.approx(15.0)
    with pytest.raises(ValueError, match="exactly one"):
        escape_step(record)
    both = {"steps": [0, 10], "test_loss": [0.5, 0.3], "train_loss": [0.5, 0.05]}
    assert escape_step(both, fraction=0.2) == math.inf
    assert escape_step(both, fraction=0.2, curve="train") == pytest.approx(10 * 0.4 / 0.45)
    with pytest.raises(ValueError, match="curve"):
        escape_step(both, fraction=0.2, curve="validation")


def test_training_escapes_and_stops_a_margin_later():
    task = SingleLocationRegression(T=4, d=2)
    model = TransformerConfig(d_in=task.input_dim, d_out=2, n_layers=1, n_heads=1, d_model=16, d_qk=8)
    config = TrainConfig(lr=3e-3, max_steps=3000, eval_every=10, eval_size=128, stop_margin=0.5, progress=False)
    (record,) = train(task, model, config, seeds=[1])
    assert record["escaped"]
    assert record["test_loss"][-1] < 0.2 * record["test_loss"][0]
    assert record["steps"][-1] < config.max_steps
    assert 1.5 * record["escape_step"] <= record["steps"][-1] <= 1.5 * record["escape_step"] + config.eval_every


def test_divergence_is_recorded_not_raised():
    config = TrainConfig(optimizer="sgd", lr=1e12, max_steps=20, eval_every=5, eval_size=32, progress=False)
    (record,) = train(TASK, MODEL, config, seeds=[0])
    assert record["diverged"] is True
    assert record["escaped"] is False
    assert all(math.isfinite(v) for v in record["test_loss"])
    assert record["steps"][-1] <= record["diverged_at"] < config.max_steps  # the step it diverged at


def test_a_loss_not_finite_from_the_start_is_a_diverged_run():
    """Issue 17 item 1: recorded as diverged at step 0 (the first loss overflows), not raised."""
    model = replace(MODEL, readout_init=1e30)
    (record,) = train(TASK, model, QUICK, seeds=[0])
    assert record["diverged"] and record["diverged_at"] == 0
    assert record["escape_step"] is None and not record["escaped"] and record["steps"] == [0]
    json.dumps(json_ready(record), allow_nan=False)


def test_the_config_given_is_the_record_config():
    config = {"anything": "flat", "T": 8}
    records = train(TASK, MODEL, QUICK, seeds=[0, 1], config=config)
    assert [r["config"] for r in records] == [config, config] and records[0]["config"] is not config


def test_schedule_overrides_the_task_per_model_and_callback_stops():
    calls = []

    class SwitchAtTen:
        def __init__(self):
            self.seen = 0  # state: each model must get its own copy

        def __call__(self, step, history):
            self.seen += 1
            assert len(history["steps"]) == self.seen
            return {"p": 0.5} if step >= 10 else {"p": 0.0}

    def stop_at_twenty(step, records):
        calls.append(step)
        return step >= 20

    records = train(TASK, MODEL, QUICK, seeds=[0, 1], schedule=SwitchAtTen(), callback=stop_at_twenty)
    assert calls == [0, 10, 20]
    for record in records:
        assert record["task_changes"] == [[10, {"p": 0.5}]]
        assert record["steps"] == [0, 10, 20]


def test_probe_values_are_logged_per_model():
    def mean_readout(model, step):
        return {"readout_norm": model.readout.weight.norm(dim=(1, 2)), "step": torch.full((model.n_models,), step)}

    records = train(TASK, MODEL, QUICK, seeds=[0, 1], probe=mean_readout)
    assert records[0]["probes"]["step"] == [0, 10, 20, 30]
    assert records[0]["probes"]["readout_norm"] != records[1]["probes"]["readout_norm"]


@dataclass(frozen=True)
class CopyFirstToken:
    """A one-hot task: predict the first token of a random sequence."""

    vocab: int = 5
    T: int = 4

    def sample(self, batch_size, generator=None):
        x = torch.randint(0, self.vocab, (batch_size, self.T), generator=generator)
        return x, x[:, 0]

    def test_task(self):
        return self


def test_cross_entropy_objective_reaches_accuracy_level():
    task = CopyFirstToken()
    model = TransformerConfig(d_in=5, d_out=5, input_kind="onehot", n_layers=1, n_heads=1, d_model=16, d_qk=8)
    config = TrainConfig(lr=1e-2, max_steps=400, eval_every=10, eval_size=128, objective="ce",
                         escape_accuracy=0.9, stop_margin=0.0, progress=False)
    (record,) = train(task, model, config, seeds=[0])
    assert record["test_acc"][0] < 0.5
    assert record["escaped"] and record["test_acc"][-1] >= 0.9


@pytest.mark.parametrize(
    ("overrides", "name"),
    [({"lr": -1e-3}, "lr"), ({"optimizer": "adamw"}, "optimizer"), ({"objective": "l1"}, "objective"),
     ({"max_steps": 0}, "max_steps"), ({"escape_fraction": 1.5}, "escape_fraction"),
     ({"escape_accuracy": 0.05}, "escape_accuracy"),
     # Issue 17 items 4 and 6: bools are not numbers, NaN never stops, 10^9 sequences are refused at once.
     ({"lr": True}, "lr"), ({"stop_margin": math.nan}, "stop_margin"), ({"progress": "no"}, "progress"),
     ({"eval_size": 10**9}, "eval_size is too large")],
)
def test_invalid_train_config_raises_before_training(overrides, name):
    with pytest.raises(ValueError, match=name):
        TrainConfig(**overrides)


def test_invalid_seeds_raise():
    with pytest.raises(ValueError, match="seeds"):
        train(TASK, MODEL, QUICK, seeds=[])
    with pytest.raises(ValueError, match="seeds"):
        train(TASK, MODEL, QUICK, seeds=[1, 1])
    # Issue 17 item 6: seed 1.7 used to run seed 1, "01" seeds 0 and 1, -1 a numpy error.
    for seeds in ([1.7], [-1], "01", [True]):
        with pytest.raises(ValueError, match=r"^seeds must be"):
            train(TASK, MODEL, QUICK, seeds=seeds)


@pytest.mark.slow
def test_a_recall_run_stops_by_its_stop_level_and_reports_its_escape_level():
    """Issue 26 item 2: a threshold crossed on the plateau (5% here: chance is 1/8) must not end
    the run; ``stop_accuracy`` does, and ``escape_step`` still reports the lower level."""
    from sparse_attention_lab.experiments import recall

    config = {"n_pairs": 2, "n_tokens": 8, "d_model": 16, "d_qk": 8, "n_heads": 2, "n_layers": 2, "lr": 3e-3,
              "max_steps": 1500, "eval_every": 25, "escape_accuracy": 0.05, "stop_accuracy": 0.5,
              "stop_margin": 0.5, "progress": False}
    (record,) = recall.run(config, [0])
    stop_level = escape_step(record, accuracy=0.5)
    assert record["escape_step"] == 0  # 5% is below chance: crossed at once, as on the paper's plateau
    assert 0 < stop_level < math.inf and record["steps"][-1] >= 1.5 * stop_level
    assert record["steps"][-1] < 1.5 * stop_level + 25  # ... and no later than the first evaluation after


def test_evaluation_and_probe_in_chunks_equal_one_batch(monkeypatch):
    """Issue 26 item 4: at long T the evaluation and the attention probe run in chunks of sequences;
    the numbers are those of one batch."""
    from sparse_attention_lab.experiments import regression
    from sparse_attention_lab.training import trainer

    config = {"T": 16, "d": 4, "d_model": 16, "d_qk": 8, "n_heads": 2, "n_layers": 2, "max_steps": 20,
              "eval_every": 10, "eval_size": 64, "probe_attention": True, "progress": False}
    whole = regression.run(config, [0, 1])
    monkeypatch.setattr(trainer, "EVAL_ELEMENTS", 2 * 17 * 64 * 10)  # about 10 sequences per chunk
    model = trainer.Transformer(regression.build(config)[1], n_models=2)
    assert trainer.eval_chunk(model, 17) == 10
    chunked = regression.run(config, [0, 1])
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(b["test_loss"], a["test_loss"], rtol=1e-5)
        np.testing.assert_allclose(b["probes"]["readout_attention"], a["probes"]["readout_attention"], rtol=1e-5)


def test_evaluation_chunks_bound_memory_at_the_papers_width_and_long_sequences():
    from sparse_attention_lab.experiments import regression
    from sparse_attention_lab.training import trainer

    model_config = regression.build({"T": 256, "d": 16})[1]  # the paper's width
    model = trainer.Transformer(model_config, n_models=1)
    model.n_models = 12  # a packed dozen: only the count matters here
    size = trainer.eval_chunk(model, 257)
    assert 1 <= size < 512 and size * 12 * 257 * max(4 * 256, 4 * 257) <= trainer.EVAL_ELEMENTS
    assert trainer.eval_chunk(model, 2049) == 1  # T = 2k: one sequence at a time (its scores alone are 0.8 GB)


def test_a_mean_over_outputs_scales_the_gradient_not_the_recorded_loss():
    summed = replace(QUICK, max_steps=1, eval_every=1, optimizer="sgd", lr=0.01)
    averaged = replace(summed, output_reduction="mean")
    (a,) = train(TASK, MODEL, summed, seeds=[0])
    (b,) = train(TASK, MODEL, averaged, seeds=[0])
    assert a["test_loss"][0] == b["test_loss"][0]  # evaluated losses always sum over outputs
    step_a, step_b = a["test_loss"][0] - a["test_loss"][1], b["test_loss"][0] - b["test_loss"][1]
    assert step_b == pytest.approx(step_a / TASK.d, rel=0.3)  # one SGD step, d times smaller
    with pytest.raises(ValueError, match="output_reduction"):
        replace(QUICK, output_reduction="max")


def test_an_escape_reference_replaces_the_initial_loss():
    record = {"steps": [0, 10, 20], "test_loss": [5.0, 0.5, 0.05], "train_loss": [5.0, 0.5, 0.05]}
    assert escape_step(record, fraction=0.2) < 10  # 0.2 x 5 = 1 is crossed between 0 and 10
    assert 10 < escape_step(record, fraction=0.2, reference=0.5) < 20
    with pytest.raises(ValueError, match="reference"):
        escape_step(record, accuracy=0.5, reference=0.5)
    with pytest.raises(ValueError, match="escape_reference"):
        replace(QUICK, escape_reference=-1.0)
