"""Single-location linear regression (Sections 2.1 and 2.4, App. B.1 of the paper).

A sequence holds ``T`` tokens ``x_t ~ N(0, I/d)``; the target is ``y* = W* x_rel``, where
``x_rel`` is the one relevant token. In-context repetition puts the relevant token at ``B``
positions; cross-sample repetition replaces it, with probability ``p`` per sequence, by one
fixed special token.

Two versions:

- ``"theory"``: the relevant token sits at the last ``B`` positions (the toy model of Eq. 2).
- ``"transformer"``: the relevant positions are drawn per sequence without replacement
  (``position="random"``) or once for the whole task (``position="fixed"``), and each token
  may carry one extra feature, 1 at relevant positions and 0 elsewhere (``feature=True``),
  so inputs are ``d + 1`` wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

VERSIONS = ("theory", "transformer")
POSITIONS = ("random", "fixed")
TEACHERS = ("gaussian", "unit_columns")


def check_sizes(T: int, d: int, B: int = 1, p: float = 0.0) -> None:
    """Raise ``ValueError`` naming the argument when ``T``, ``d``, ``B`` or ``p`` is invalid."""
    for name, value in (("T", T), ("d", d), ("B", B)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}.")
    if T < 2:
        raise ValueError(f"T must be at least 2 (one relevant and one irrelevant token), got {T}.")
    if d < 1:
        raise ValueError(f"d must be at least 1, got {d}.")
    if not 1 <= B < T:
        raise ValueError(f"B must satisfy 1 <= B < T (T={T}), got {B}.")
    if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}.")


def teacher_matrix(d: int, kind: str = "gaussian", generator: torch.Generator | None = None) -> torch.Tensor:
    """``W*``: entries i.i.d. ``N(0, 1/d)`` (experiments) or unit-norm columns (theory)."""
    if kind not in TEACHERS:
        raise ValueError(f"teacher must be one of {TEACHERS}, got {kind!r}.")
    W = torch.randn(d, d, generator=generator) / math.sqrt(d)
    if kind == "unit_columns":
        W = W / W.norm(dim=0, keepdim=True)
    return W


@dataclass(frozen=True)
class SingleLocationRegression:
    """The single-location linear regression task.

    ``sample(batch_size, generator)`` returns ``(x, y)`` with ``x`` of shape
    ``(batch_size, T, d)`` (``d + 1`` with the relevant-token feature) and ``y`` of shape
    ``(batch_size, d)``. ``W_star``, the special token and a fixed position are drawn once
    from ``seed`` so that a task and its :meth:`test_task` share them.
    """

    T: int
    d: int
    B: int = 1
    p: float = 0.0
    version: str = "transformer"
    position: str = "random"
    feature: bool = True
    teacher: str = "gaussian"
    seed: int = 0

    def __post_init__(self) -> None:
        check_sizes(self.T, self.d, self.B, self.p)
        if self.version not in VERSIONS:
            raise ValueError(f"version must be one of {VERSIONS}, got {self.version!r}.")
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}.")
        g = torch.Generator().manual_seed(self.seed)
        W_star = teacher_matrix(self.d, self.teacher, g)
        if self.version == "theory":
            special = torch.zeros(self.d)
            special[0] = 1.0
        else:
            special = torch.randn(self.d, generator=g)
            special = special / special.norm()
        fixed = torch.randperm(self.T, generator=g)[: self.B].sort().values
        object.__setattr__(self, "W_star", W_star)
        object.__setattr__(self, "special_token", special)
        object.__setattr__(self, "fixed_positions", fixed)

    @property
    def input_dim(self) -> int:
        """Width of a token as fed to a model: ``d``, plus one with the relevant feature."""
        return self.d + int(self.version == "transformer" and self.feature)

    def test_task(self) -> SingleLocationRegression:
        """The same task (same ``W*``, positions) without repetition: ``B = 1``, ``p = 0``."""
        return replace(self, B=1, p=0.0)

    def relevant_mask(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Boolean ``(batch_size, T)`` mask of the relevant positions."""
        mask = torch.zeros(batch_size, self.T, dtype=torch.bool)
        if self.version == "theory":
            mask[:, self.T - self.B :] = True
        elif self.position == "fixed":
            mask[:, self.fixed_positions[: self.B]] = True
        else:
            scores = torch.rand(batch_size, self.T, generator=generator)
            mask.scatter_(1, scores.topk(self.B, dim=1).indices, True)
        return mask

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``batch_size`` sequences ``x`` and targets ``y = W* x_rel`` (on the CPU)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        T, d = self.T, self.d
        x = torch.randn(batch_size, T, d, generator=generator) / math.sqrt(d)
        mask = self.relevant_mask(batch_size, generator)
        x_rel = torch.randn(batch_size, d, generator=generator) / math.sqrt(d)
        if self.p > 0:
            repeated = torch.rand(batch_size, generator=generator) < self.p
            x_rel = torch.where(repeated[:, None], self.special_token.expand(batch_size, d), x_rel)
        x = torch.where(mask[..., None], x_rel[:, None, :], x)
        y = x_rel @ self.W_star.T
        if self.input_dim > d:
            x = torch.cat([x, mask[..., None].to(x.dtype)], dim=-1)
        return x, y
