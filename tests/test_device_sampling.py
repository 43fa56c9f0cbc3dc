"""Batches drawn where the model lives, the positional buffer, precision, and the smoke-run knobs.

On a CPU the device-sampling path must give exactly the batches and records it gave before
(CPU generators draw the same numbers); the CUDA side waits for the device check.
"""

from dataclasses import replace

import pytest
import torch

from sparse_attention_lab.hardware import capped_steps, device
from sparse_attention_lab.models import Transformer, TransformerConfig, sinusoidal_positions
from sparse_attention_lab.tasks import AssociativeRecall, SingleLocationRegression
from sparse_attention_lab.training.precision import matmul_precision
from sparse_attention_lab.training.toy_sgd import train_sgd
from sparse_attention_lab.training.trainer import TrainConfig, train

TASKS = [SingleLocationRegression(T=8, d=4, p=0.5), SingleLocationRegression(T=8, d=4, B=2, position="fixed"),
         AssociativeRecall(n_pairs=3, n_tokens=10, B=2.0, p=0.5)]
MODEL = TransformerConfig(d_in=5, d_out=4, n_layers=1, n_heads=2, d_model=16, d_qk=8, mlp_factor=2)
QUICK = TrainConfig(lr=1e-3, max_steps=30, eval_every=10, eval_size=64, stop_margin=None, progress=False)


@pytest.mark.parametrize("task", TASKS, ids=["regression p", "regression B fixed", "recall"])
def test_a_cpu_generator_draws_the_same_batch_with_or_without_a_device(task):
    plain = task.sample(16, torch.Generator().manual_seed(3))
    placed = task.sample(16, torch.Generator().manual_seed(3), device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(plain, placed, strict=True))
    assert all(t.device.type == "cpu" for t in placed)


def test_a_device_that_differs_from_the_generators_is_refused():
    with pytest.raises(ValueError, match="device"):
        TASKS[0].sample(4, torch.Generator(), device="meta")


def test_batches_drawn_on_the_cpu_give_the_same_run():
    """data_device='cpu' (the CPU stream, any device) is the default on a CPU: same records."""
    task = SingleLocationRegression(T=8, d=4)
    default = train(task, MODEL, QUICK, seeds=[0, 1])
    cpu_stream = train(task, MODEL, replace(QUICK, data_device="cpu"), seeds=[0, 1])
    assert [r["test_loss"] for r in default] == [r["test_loss"] for r in cpu_stream]


def test_the_positional_table_is_a_buffer_grown_once():
    model = Transformer(MODEL, 2)
    assert "positions" not in model.state_dict()
    assert torch.equal(model._positions(5), sinusoidal_positions(5, 16))
    assert torch.equal(model._positions(9), sinusoidal_positions(9, 16)) and model.positions.shape == (9, 16)
    kept = model.positions
    model._positions(4)
    assert model.positions is kept


def test_bf16_trains_and_a_bad_precision_is_refused():
    (record,) = train(SingleLocationRegression(T=8, d=4), MODEL, replace(QUICK, precision="bf16"), seeds=[0])
    assert all(isinstance(v, float) and v == v for v in record["test_loss"])
    assert record["settings"]["train"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")
    with pytest.raises(ValueError, match="precision"):
        with matmul_precision("fp8", torch.device("cpu")):
            pass


def test_step_cap_from_the_environment(monkeypatch):
    monkeypatch.setenv("SAL_MAX_STEPS", "20")
    assert capped_steps(50) == 20 and capped_steps(10) == 10
    (record,) = train(SingleLocationRegression(T=8, d=4), MODEL, QUICK, seeds=[0])
    assert record["steps"][-1] == 20 and record["settings"]["train"]["max_steps"] == 20
    assert train_sgd(8, 4, [0], steps=50, eval_every=10)["steps"][-1] == 20
    monkeypatch.setenv("SAL_MAX_STEPS", "many")
    with pytest.raises(ValueError, match="SAL_MAX_STEPS"):
        capped_steps(50)


def test_device_from_the_environment(monkeypatch):
    monkeypatch.setenv("SAL_DEVICE", "cpu")
    assert device() == torch.device("cpu")
    monkeypatch.setenv("SAL_DEVICE", "tpu")
    with pytest.raises(ValueError, match="device"):
        device()


def test_toy_sgd_batches_on_the_cpu_stream_are_the_default_on_a_cpu():
    a = train_sgd(8, 4, [0, 1], steps=30, eval_every=10)
    b = train_sgd(8, 4, [0, 1], steps=30, eval_every=10, data_device="cpu")
    assert (a["loss"] == b["loss"]).all()
