"""Why uniform attention starves the relevant token of gradient (the book's introduction).

At initialisation the toy model of Eq. 2 attends uniformly (``a = 0``, weight ``1/T`` on every
token) and ``W = 0``. The gradient of the loss with respect to ``W`` is linear in the tokens,
so it splits exactly into the part carried by the relevant token (the signal) and the part
carried by the ``T - 1`` irrelevant ones (zero in expectation, noise in a mini-batch). With
unit-norm columns of ``W*`` (App. A.3):

- signal: ``||E[dL/dW]||_F = 1 / (T sqrt(d))``, shrinking like ``1/T``;
- noise of a mini-batch of ``n`` sequences: RMS Frobenius norm ``sqrt((T - 1) / n) / T``.

The attention scores get no gradient at all while ``W = 0`` (Fig. 1b): the weights must move
first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sparse_attention_lab.tasks import SingleLocationRegression, check_sizes, checks
from sparse_attention_lab.theory.toy import ToyAttention


def relevant_gradient_norm(T: int, d: int) -> float:
    """Closed form of ``||E[dL/dW]||_F`` at ``a = 0, W = 0`` (unit-norm columns of ``W*``)."""
    check_sizes(T, d)
    return 1.0 / (T * math.sqrt(d))


def irrelevant_gradient_rms(T: int, d: int, batch_size: int) -> float:
    """Closed form of the RMS Frobenius norm of the irrelevant tokens' mini-batch gradient."""
    T, d, _, _ = check_sizes(T, d)
    batch_size = checks.positive_int("batch_size", batch_size)
    return math.sqrt((T - 1) / batch_size) / T


@dataclass(frozen=True)
class InitialGradient:
    """Monte-Carlo estimates of the gradient reaching ``W`` at initialisation."""

    T: int
    d: int
    signal: float  # ||mean gradient from the relevant token||_F
    noise: float  # RMS over mini-batches of ||gradient from the irrelevant tokens||_F
    score_gradient: float  # largest |dL/da_t| (exactly zero while W = 0)
    samples: int
    batch_size: int


def _weight_gradient(model: ToyAttention, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of the mean loss ``1/2 ||y - model(x)||^2`` with respect to ``W`` and ``a``."""
    model.zero_grad()
    loss = 0.5 * (model(x) - y).pow(2).sum(-1).mean()
    loss.backward()
    return model.W.grad.detach().clone(), model.a.grad.detach().clone()


def initial_gradient(
    T: int,
    d: int,
    samples: int = 4096,
    batch_size: int = 32,
    seed: int = 0,
) -> InitialGradient:
    """Estimate, on sampled sequences, the gradient reaching ``W`` at ``a = 0, W = 0``.

    Uses the theory version of the task (relevant token last, ``W*`` with unit-norm columns)
    and the toy model's own autograd: the relevant part is the gradient on sequences whose
    irrelevant tokens are zeroed, the irrelevant part the gradient with the relevant token
    zeroed (exact, because the gradient is linear in the tokens at ``W = 0``).
    """
    T, d, _, _ = check_sizes(T, d)
    batch_size, samples = checks.positive_int("batch_size", batch_size), checks.positive_int("samples", samples)
    if samples < batch_size or samples % batch_size:
        raise ValueError(f"samples must be a positive multiple of batch_size={batch_size}, got {samples}.")
    task = SingleLocationRegression(T, d, version="theory", teacher="unit_columns", seed=seed)
    model = ToyAttention(T, d)  # starts at a = 0, W = 0
    generator = torch.Generator().manual_seed(seed)
    x, y = task.sample(samples, generator)
    relevant = task.relevant_mask(1)[0]
    x_rel = torch.where(relevant[None, :, None], x, torch.zeros(()))
    x_irr = x - x_rel

    grad_rel, _ = _weight_gradient(model, x_rel, y)
    noise_sq, score = [], 0.0
    for xb, yb in zip(x_irr.split(batch_size), y.split(batch_size), strict=True):
        grad_irr, _ = _weight_gradient(model, xb, yb)
        noise_sq.append(grad_irr.pow(2).sum().item())
    for xb, yb in zip(x.split(batch_size), y.split(batch_size), strict=True):
        _, grad_a = _weight_gradient(model, xb, yb)
        score = max(score, grad_a.abs().max().item())
    return InitialGradient(
        T=T,
        d=d,
        signal=grad_rel.norm().item(),
        noise=math.sqrt(sum(noise_sq) / len(noise_sq)),
        score_gradient=score,
        samples=samples,
        batch_size=batch_size,
    )
