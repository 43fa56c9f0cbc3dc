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

import numpy as np
import torch
from numpy.typing import ArrayLike

from sparse_attention_lab.tasks import checks
from sparse_attention_lab.tasks.device import on_device, sampling_device

VERSIONS = ("theory", "transformer")
POSITIONS = ("random", "fixed")
TEACHERS = ("gaussian", "unit_columns")


def check_sizes(T: int, d: int, B: int = 1, p: float = 0.0) -> tuple[int, int, int, float]:
    """``(T, d, B, p)`` as plain ``int``/``float``, or ``ValueError`` naming the invalid one.

    ``T >= 2`` (one relevant and one irrelevant token), ``d >= 1``, ``1 <= B < T``, ``p`` a
    probability; integers may be numpy integers, never bools (see :mod:`.checks`).
    """
    T = checks.integer("T", T, minimum=2, why="one relevant and one irrelevant token")
    d = checks.positive_int("d", d)
    B = checks.integer("B", B, minimum=1, maximum=T - 1, why=f"B < T = {T}")
    return T, d, B, checks.probability("p", p)


def check_settings(T: ArrayLike, d: ArrayLike, B: ArrayLike = 1, p: ArrayLike = 0.0) -> None:
    """:func:`check_sizes` for broadcast arrays of settings (the theory's vectorized functions),
    where integral floats count as integers: ``ValueError`` naming the first invalid argument."""
    if all(np.ndim(v) == 0 for v in (T, d, B, p)):  # the common scalar call (an ODE's right-hand side)
        try:
            check_sizes(T, d, B, p)
            return
        except ValueError:
            pass  # an integral float, say: the rules below decide
    try:
        arrays = np.broadcast_arrays(*(np.asarray(v) for v in (T, d, B, p)))
    except ValueError:
        raise ValueError("T, d, B and p must broadcast to one shape.") from None
    checks.elements("T, d, B, p", arrays[0].size, "a grid of settings")
    for name, values in zip(("T", "d", "B", "p"), arrays, strict=True):
        if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
            raise ValueError(f"{name} must hold real numbers, got {values.dtype} values.")
    T, d, B, p = (a.astype(float) for a in arrays)
    rules = (("T", T, (T >= 2) & (T == np.round(T)), "integers >= 2 (one relevant and one irrelevant token)"),
             ("d", d, (d >= 1) & (d == np.round(d)), "positive integers"),
             ("B", B, (B >= 1) & (B < T) & (B == np.round(B)), "integers in [1, T)"),
             ("p", p, (p >= 0) & (p <= 1), "probabilities in [0, 1]"))
    for name, values, ok, what in rules:
        bad = ~(ok & np.isfinite(values))
        if bad.any():
            raise ValueError(f"{name} must be {what}, got {values[bad].flat[0]!r}.")


def teacher_matrix(d: int, kind: str = "gaussian", generator: torch.Generator | None = None) -> torch.Tensor:
    """``W*``: entries i.i.d. ``N(0, 1/d)`` (experiments) or unit-norm columns (theory)."""
    d = checks.positive_int("d", d)
    checks.choice("teacher", kind, TEACHERS)
    checks.elements("d", d * d, "the d x d teacher")
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
    from ``seed`` so that a task and its :meth:`test_task` share them. ``signed_repeat`` gives
    the repeated special token a random sign per sequence, so its targets average to zero: an
    ablation that removes the constant-output shortcut of cross-sample repetition.
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
    signed_repeat: bool = False

    def __post_init__(self) -> None:
        T, d, B, p = check_sizes(self.T, self.d, self.B, self.p)
        checked = {
            "T": T, "d": d, "B": B, "p": p,
            "version": checks.choice("version", self.version, VERSIONS),
            "position": checks.choice("position", self.position, POSITIONS),
            "feature": checks.boolean("feature", self.feature),
            "teacher": checks.choice("teacher", self.teacher, TEACHERS),
            "seed": checks.seed("seed", self.seed),
            "signed_repeat": checks.boolean("signed_repeat", self.signed_repeat),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        checks.elements("T", T * self.input_dim, f"one sequence of T x {self.input_dim}")
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
    def seq_len(self) -> int:
        """Tokens per sequence, ``T`` (a model may append a readout slot of its own)."""
        return self.T

    @property
    def input_dim(self) -> int:
        """Width of a token as fed to a model: ``d``, plus one with the relevant feature."""
        return self.d + int(self.version == "transformer" and self.feature)

    def _check_batch(self, batch_size: int) -> int:
        """``batch_size`` as an ``int``, refused before allocating a batch above the size limit."""
        batch_size = checks.positive_int("batch_size", batch_size)
        shape = f"batch_size x T x {self.input_dim}"
        checks.elements("batch_size", batch_size * self.T * self.input_dim, f"a batch of {shape}")
        return batch_size

    def test_task(self) -> SingleLocationRegression:
        """The same task (same ``W*``, positions) without repetition: ``B = 1``, ``p = 0``."""
        return replace(self, B=1, p=0.0)

    def relevant_mask(
        self, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Boolean ``(batch_size, T)`` mask of the relevant positions (on ``generator``'s device)."""
        batch_size = self._check_batch(batch_size)
        dev = sampling_device(generator, device)
        mask = torch.zeros(batch_size, self.T, dtype=torch.bool, device=dev)
        if self.version == "theory":
            mask[:, self.T - self.B :] = True
        elif self.position == "fixed":
            mask[:, on_device(self, "fixed_positions", dev, lambda: self.fixed_positions[: self.B])] = True
        else:
            scores = torch.rand(batch_size, self.T, generator=generator, device=dev)
            mask.scatter_(1, scores.topk(self.B, dim=1).indices, True)
        return mask

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``batch_size`` sequences ``x`` and targets ``y = W* x_rel``, on ``generator``'s
        device (else ``device``, else the CPU): a CPU generator gives the same batch anywhere."""
        batch_size = self._check_batch(batch_size)
        T, d = self.T, self.d
        dev = sampling_device(generator, device)
        x = torch.randn(batch_size, T, d, generator=generator, device=dev) / math.sqrt(d)
        mask = self.relevant_mask(batch_size, generator, dev)
        x_rel = torch.randn(batch_size, d, generator=generator, device=dev) / math.sqrt(d)
        if self.p > 0:
            repeated = torch.rand(batch_size, generator=generator, device=dev) < self.p
            special = on_device(self, "special_token", dev, lambda: self.special_token).expand(batch_size, d)
            if self.signed_repeat:  # (batch, 1) signs +-1
                special = special * (2 * torch.randint(0, 2, (batch_size, 1), generator=generator, device=dev) - 1)
            x_rel = torch.where(repeated[:, None], special, x_rel)
        x = torch.where(mask[..., None], x_rel[:, None, :], x)
        y = x_rel @ on_device(self, "W_star", dev, lambda: self.W_star).T
        if self.input_dim > d:
            x = torch.cat([x, mask[..., None].to(x.dtype)], dim=-1)
        return x, y
