"""The toy attention model of Eq. 2 and its exact population loss (PAPER.md section 3).

The model reads a sequence ``x_1..x_T`` with position scores ``a`` (no dependence on the
content) and one linear map ``W``::

    y = W sum_t softmax(a)_t x_t

Because non-relevant tokens are zero-mean and independent of the target, the expected loss
``1/2 E ||y - y*||^2`` has a closed form (:func:`expected_loss`), differentiable in ``a`` and
``W``: any optimizer or gradient flow can run on it without sampling data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .tasks.regression import SingleLocationRegression, check_sizes


class ToyAttention(nn.Module):
    """``y = W sum_t softmax(a)_t x_t`` (Eq. 2), with ``a`` in ``R^T`` and ``W`` in ``R^{d x d}``.

    Both start at zero, the initialisation of the theory (uniform attention, ``W = 0``).
    ``forward`` maps ``x`` of shape ``(batch, T, d)`` to ``y`` of shape ``(batch, d)``.
    """

    def __init__(self, T: int, d: int) -> None:
        super().__init__()
        check_sizes(T, d)
        self.T, self.d = T, d
        self.a = nn.Parameter(torch.zeros(T))
        self.W = nn.Parameter(torch.zeros(d, d))

    def attention(self) -> torch.Tensor:
        """``softmax(a)``: the attention weight of each position, shape ``(T,)``."""
        return torch.softmax(self.a, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.T, self.d):
            raise ValueError(f"x must have shape (batch, {self.T}, {self.d}), got {tuple(x.shape)}.")
        pooled = torch.einsum("t,btd->bd", self.attention(), x)
        return pooled @ self.W.T


def relevant_mask(T: int, relevant_positions: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """Boolean ``(T,)`` mask from a list of positions (negative ones count from the end) or a mask."""
    positions = torch.as_tensor(relevant_positions)
    if positions.dtype == torch.bool:
        if positions.shape != (T,):
            raise ValueError(f"relevant_positions as a mask must have shape ({T},), got {tuple(positions.shape)}.")
        mask = positions.clone()
    else:
        positions = positions.reshape(-1).long()
        if positions.numel() == 0 or positions.min() < -T or positions.max() >= T:
            raise ValueError(f"relevant_positions must be non-empty positions in [-{T}, {T}), got {positions.tolist()}.")
        mask = torch.zeros(T, dtype=torch.bool)
        mask[positions % T] = True
    if mask.all():
        raise ValueError("relevant_positions: at least one position must be irrelevant.")
    return mask


def expected_loss(
    a: torch.Tensor,
    W: torch.Tensor,
    W_star: torch.Tensor,
    relevant_positions: Sequence[int] | torch.Tensor,
    p: float = 0.0,
    special_token: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact ``1/2 E ||y - y*||^2`` of the toy model (PAPER.md section 3), differentiable.

    With ``alpha = softmax(a)``, ``A`` the attention mass on the relevant positions and
    ``Sigma = p x~ x~^T + (1 - p) I/d`` the second moment of the relevant token::

        L = 1/2 [ (sum_{t not relevant} alpha_t^2) ||W||_F^2 / d + tr((A W - W*) Sigma (A W - W*)^T) ]

    ``relevant_positions``: indices (e.g. ``[-1]`` for the theory's last token, ``range(T - B, T)``)
    or a boolean mask. ``special_token`` is the repeated token ``x~`` (default ``e_1``, as in
    the theory); it only matters when ``p > 0``.
    """
    T, d = a.shape[-1], W.shape[-1]
    if W.shape != (d, d) or W_star.shape != (d, d):
        raise ValueError(f"W and W_star must be square and alike, got {tuple(W.shape)} and {tuple(W_star.shape)}.")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}.")
    mask = relevant_mask(T, relevant_positions).to(a.device)
    alpha = torch.softmax(a, dim=-1)
    A = alpha[mask].sum()
    noise = alpha[~mask].pow(2).sum() * W.pow(2).sum() / d
    M = A * W - W_star
    signal = (1.0 - p) / d * M.pow(2).sum()
    if p > 0:
        if special_token is None:
            special_token = torch.zeros(d, dtype=W.dtype, device=W.device)
            special_token[0] = 1.0
        if special_token.shape != (d,):
            raise ValueError(f"special_token must have shape ({d},), got {tuple(special_token.shape)}.")
        signal = signal + p * (M @ special_token).pow(2).sum()
    return 0.5 * (noise + signal)


def alignment(W: torch.Tensor, W_star: torch.Tensor) -> torch.Tensor:
    """``w = <W*, W>_F / ||W*||_F``: the coordinate of ``W`` along the teacher (App. A.3).

    Batched over leading dimensions of ``W`` and ``W_star``.
    """
    return (W * W_star).sum(dim=(-2, -1)) / W_star.norm(dim=(-2, -1))



def train_sgd(
    T: int,
    d: int,
    seeds: Sequence[int],
    steps: int,
    batch_size: int = 32,
    lr: float = 1.0,
    eval_every: int = 10,
    device: torch.device | str = "cpu",
) -> dict[str, np.ndarray]:
    """SGD on the toy model with sampled data, several seeds at once (Fig. 9).

    Seed ``s`` draws its task ``SingleLocationRegression(T, d, version="theory", seed=s)``
    (``W* ~ N(0, 1/d)``, drawn from ``s``), starts from ``a = 0`` and ``W ~ N(0, 1/d)``, and takes ``steps``
    steps of SGD with fresh batches on ``1/2 ||y - y*||^2``. Every ``eval_every`` steps it
    records the exact expected loss (:func:`expected_loss`, no sampling noise), the alignment
    ``w`` and the attention ``alpha`` on the relevant (last) token. Arrays are ``(seeds, evals)``.
    """
    check_sizes(T, d)
    for name, value in (("steps", steps), ("batch_size", batch_size), ("eval_every", eval_every)):
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}.")
    if not seeds:
        raise ValueError("seeds must not be empty.")
    tasks = [SingleLocationRegression(T, d, version="theory", seed=s) for s in seeds]
    data = [torch.Generator().manual_seed(_stream_seed(s, 1)) for s in seeds]
    W_star = torch.stack([task.W_star for task in tasks]).to(device)
    W0 = torch.stack([torch.randn(d, d, generator=torch.Generator().manual_seed(_stream_seed(s, 2))) for s in seeds])
    W = (W0 / math.sqrt(d)).to(device).requires_grad_(True)
    a = torch.zeros(len(seeds), T, device=device, requires_grad=True)
    record: dict[str, list] = {"steps": [], "loss": [], "w": [], "alpha": []}

    def evaluate(step: int) -> None:
        with torch.no_grad():
            record["steps"].append(step)
            record["loss"].append([expected_loss(a[i], W[i], W_star[i], [-1]).item() for i in range(len(seeds))])
            record["w"].append(alignment(W, W_star).tolist())
            record["alpha"].append(torch.softmax(a, -1)[:, -1].tolist())

    for step in range(steps):
        if step % eval_every == 0:
            evaluate(step)
        batches = [task.sample(batch_size, g) for task, g in zip(tasks, data, strict=True)]
        x = torch.stack([b[0] for b in batches]).to(device)
        y = torch.stack([b[1] for b in batches]).to(device)
        prediction = torch.einsum("st,sbtd->sbd", torch.softmax(a, -1), x) @ W.transpose(1, 2)
        loss = 0.5 * (prediction - y).pow(2).sum(-1).mean(-1).sum()
        grad_a, grad_W = torch.autograd.grad(loss, (a, W))
        with torch.no_grad():
            a -= lr * grad_a
            W -= lr * grad_W
    evaluate(steps)
    return {key: np.asarray(value).T if key != "steps" else np.asarray(value) for key, value in record.items()}


def _stream_seed(seed: int, stream: int) -> int:
    """Seed of an independent random stream of run ``seed`` (initial weights, data), never ``seed`` itself."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])
