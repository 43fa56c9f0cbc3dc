"""The toy model of Eq. 2 and its exact expected loss (sparse_attention_lab.theory.toy)."""

import math
import time

import numpy as np
import pytest
import torch

from sparse_attention_lab.tasks import SingleLocationRegression
from sparse_attention_lab.theory.toy import ToyAttention, alignment, expected_loss, relevant_mask


def test_forward_is_attention_weighted_sum_then_linear_map():
    torch.manual_seed(0)
    model = ToyAttention(T=5, d=3)
    with torch.no_grad():
        model.a.copy_(torch.randn(5))
        model.W.copy_(torch.randn(3, 3))
    x = torch.randn(7, 5, 3)
    alpha = torch.softmax(model.a, 0)
    expected = (alpha[None, :, None] * x).sum(1) @ model.W.T
    assert torch.allclose(model(x), expected, atol=1e-6)
    assert model(x).shape == (7, 3)
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.randn(7, 4, 3))


def test_starts_at_the_theory_initialisation():
    model = ToyAttention(8, 4)
    assert torch.all(model.a == 0) and torch.all(model.W == 0)
    assert torch.allclose(model.attention(), torch.full((8,), 1 / 8))


@pytest.mark.parametrize("B, p", [(1, 0.0), (3, 0.0), (1, 0.4), (2, 0.7)])
def test_expected_loss_matches_monte_carlo(B, p):
    T, d, n = 12, 6, 200_000
    task = SingleLocationRegression(T, d, B=B, p=p, version="theory", seed=3)
    g = torch.Generator().manual_seed(1)
    a, W = torch.randn(T, generator=g), torch.randn(d, d, generator=g) / math.sqrt(d)
    model = ToyAttention(T, d)
    with torch.no_grad():
        model.a.copy_(a)
        model.W.copy_(W)
        x, y = task.sample(n, torch.Generator().manual_seed(2))
        per_sample = 0.5 * (model(x) - y).pow(2).sum(-1)
    mean, se = per_sample.mean().item(), per_sample.std().item() / math.sqrt(n)
    exact = expected_loss(a, W, task.W_star, range(T - B, T), p, task.special_token).item()
    assert abs(exact - mean) < 4 * se, (exact, mean, se)


def test_expected_loss_at_initialisation_is_half_with_unit_columns():
    d, T = 8, 10
    W_star = torch.randn(d, d, dtype=torch.float64)
    W_star = W_star / W_star.norm(dim=0)
    loss = expected_loss(torch.zeros(T, dtype=torch.float64), torch.zeros(d, d, dtype=torch.float64), W_star, [-1])
    assert loss.item() == pytest.approx(0.5)
    # With the special token e_1 repeated: E ||W* x_rel||^2 = p + (1 - p) = 1 still.
    loss_p = expected_loss(torch.zeros(T, dtype=torch.float64), torch.zeros(d, d, dtype=torch.float64), W_star, [-1], p=0.6)
    assert loss_p.item() == pytest.approx(0.5)


def test_expected_loss_is_differentiable_and_zero_at_the_optimum():
    d, T = 4, 6
    W_star = torch.eye(d)
    a = torch.tensor([0.0] * (T - 1) + [30.0], requires_grad=True)
    W = W_star.clone().requires_grad_(True)
    loss = expected_loss(a, W, W_star, [-1])
    loss.backward()
    assert loss.item() < 1e-10 and a.grad is not None and W.grad is not None


def test_relevant_mask_and_alignment():
    assert relevant_mask(5, [-1]).tolist() == [False, False, False, False, True]
    assert relevant_mask(5, range(3, 5)).sum() == 2
    with pytest.raises(ValueError, match="relevant_positions"):
        relevant_mask(3, [0, 1, 2])
    with pytest.raises(ValueError, match="relevant_positions"):
        relevant_mask(3, [5])
    W_star = torch.eye(4) * 2
    assert alignment(3 * W_star, W_star).item() == pytest.approx(3 * W_star.norm().item())


def test_invalid_arguments_name_the_argument():
    with pytest.raises(ValueError, match="T must"):
        ToyAttention(1, 4)
    with pytest.raises(ValueError, match="p must"):
        expected_loss(torch.zeros(4), torch.zeros(2, 2), torch.eye(2), [-1], p=1.5)


def test_train_sgd_runs_seeds_in_parallel_and_learns():
    from sparse_attention_lab.training.toy_sgd import train_sgd

    run = train_sgd(T=8, d=4, seeds=[0, 1], steps=300, lr=0.5, eval_every=50)
    assert run["steps"].tolist() == [0, 50, 100, 150, 200, 250, 300]
    assert run["loss"].shape == run["w"].shape == run["alpha"].shape == (2, 7)
    assert np.all(run["alpha"][:, 0] == pytest.approx(1 / 8))
    # The initial W is random and independent of the teacher (w ~ N(0, 1/d), far from sqrt(d)).
    assert np.all(np.abs(run["w"][:, 0]) < 0.75 * math.sqrt(4))
    assert np.all(run["loss"][:, -1] < 0.2 * run["loss"][:, 0])
    assert np.all(run["alpha"][:, -1] > 0.5)
    # Seeds are independent: seed 1 alone reproduces its row.
    alone = train_sgd(T=8, d=4, seeds=[1], steps=300, lr=0.5, eval_every=50)
    assert alone["loss"][0] == pytest.approx(run["loss"][1], rel=1e-4)


def test_hostile_arguments_are_refused_not_reinterpreted():
    """Issue 17 items 4 and 6: a size guard before allocating; bools and fractional positions refused."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"^T is too large: the T \+ d x d parameters of 1,000,000,016 elements"):
        ToyAttention(10**9, 4)
    assert time.perf_counter() - start < 0.05
    W_star = torch.eye(2)
    with pytest.raises(ValueError, match=r"^p must be a probability in \[0, 1\], got True"):
        expected_loss(torch.zeros(4), torch.zeros(2, 2), W_star, [-1], p=True)
    with pytest.raises(ValueError, match=r"^relevant_positions must be integer positions or a boolean mask"):
        expected_loss(torch.zeros(4), torch.zeros(2, 2), W_star, [1.7])
    with pytest.raises(ValueError, match=r"^p must be a probability"):
        SingleLocationRegression(8, 2, p=True)
    with pytest.raises(ValueError, match=r"^seed must be an integer in \[0, "):
        SingleLocationRegression(8, 2, seed=1.5)
    # numpy integers are integers everywhere, and come back as plain ints (JSON-able configs).
    task = SingleLocationRegression(np.int64(8), np.int32(2), B=np.int64(2), seed=np.int64(3))
    assert type(task.T) is int and type(task.B) is int and type(task.seed) is int
    assert task == SingleLocationRegression(8, 2, B=2, seed=3) and ToyAttention(np.int64(8), 2).T == 8
