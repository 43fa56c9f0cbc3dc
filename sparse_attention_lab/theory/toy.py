"""The toy attention model of Eq. 2 and its exact population loss (PAPER.md section 3).

The model reads a sequence ``x_1..x_T`` with position scores ``a`` (no dependence on the
content) and one linear map ``W``::

    y = W sum_t softmax(a)_t x_t

Because non-relevant tokens are zero-mean and independent of the target, the expected loss
``1/2 E ||y - y*||^2`` has a closed form (:func:`expected_loss`), differentiable in ``a`` and
``W``: any optimizer or gradient flow can run on it without sampling data.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sparse_attention_lab.tasks import checks
from sparse_attention_lab.tasks.regression import check_sizes


class ToyAttention(nn.Module):
    """``y = W sum_t softmax(a)_t x_t`` (Eq. 2), with ``a`` in ``R^T`` and ``W`` in ``R^{d x d}``.

    Both start at zero, the initialisation of the theory (uniform attention, ``W = 0``).
    ``forward`` maps ``x`` of shape ``(batch, T, d)`` to ``y`` of shape ``(batch, d)``.
    """

    def __init__(self, T: int, d: int) -> None:
        super().__init__()
        T, d, _, _ = check_sizes(T, d)
        checks.elements("T", T + d * d, "the T + d x d parameters")
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
    if positions.numel() and (positions.is_floating_point() or positions.is_complex()):
        raise ValueError(f"relevant_positions must be integer positions or a boolean mask, got {positions.tolist()}.")
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
    p = checks.probability("p", p)
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
    if W.shape[-2:] != W_star.shape[-2:]:
        raise ValueError(f"W must be d x d like W_star {tuple(W_star.shape[-2:])}, got {tuple(W.shape[-2:])}.")
    return (W * W_star).sum(dim=(-2, -1)) / W_star.norm(dim=(-2, -1))


