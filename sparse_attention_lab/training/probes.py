"""Attention probes for the induction head of associative recall (Fig. 17 of the paper).

An induction head solves ``... k v ... k ?`` in two sparse attention steps:

- **copy** (an earlier layer): each value token attends to the key just before it, so the
  value position learns which key it belongs to;
- **selection** (a later layer): the query attends to the value whose key matches it, and
  reads that value out.

The functions below take the attention maps a :class:`~sparse_attention_lab.models.Transformer`
returns (a list over layers of ``(n_models, batch, heads, T, T)`` tensors, rows summing to 1)
and return one number per model, layer and head, shape ``(n_models, layers, heads)``, each a
mean attention weight and hence in ``[0, 1]``:

- :func:`copy_attention`: attention from the relevant value token(s) to their key;
- :func:`selection_attention`: total attention from the query to the relevant value token(s);
- :func:`induction_score`: the classic score of Olsson et al. (2022) on a random sequence
  repeated twice: attention from each token of the second copy to the token that followed
  its earlier occurrence.

:class:`RecallProbe` bundles them into the ``probe(model, step)`` hook of
:func:`sparse_attention_lab.training.trainer.train`, so they are logged over training.

For single-location linear regression (the one home of the regression probes too):
:func:`relevant_attention_probe` (the readout's attention on the relevant token, Fig. 11) and
:class:`MechanismProbe` (that attention and :func:`end_to_end_alignment`, the weight side of
Fig. 1b in a Transformer; see :mod:`sparse_attention_lab.experiments.mechanism`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F

from sparse_attention_lab.models import Transformer
from sparse_attention_lab.tasks.recall import AssociativeRecall, query_slots
from sparse_attention_lab.tasks.regression import SingleLocationRegression
from sparse_attention_lab.training.trainer import eval_chunk


def _stack(maps: Sequence[torch.Tensor], length: int | None = None) -> torch.Tensor:
    """Maps of every layer as one ``(n_models, layers, batch, heads, T, T)`` tensor."""
    if not maps:
        raise ValueError("maps must hold at least one layer.")
    stacked = torch.stack(list(maps), dim=1)
    length = stacked.shape[-1] if length is None else length
    if stacked.dim() != 6 or stacked.shape[-1] != stacked.shape[-2] or stacked.shape[-1] != length:
        raise ValueError(
            f"maps must be (n_models, batch, heads, T, T) per layer with T = {length}, "
            f"got {tuple(maps[0].shape)}."
        )
    return stacked


def _relevant_mean(weights: torch.Tensor, slots: torch.Tensor, reduce: str) -> torch.Tensor:
    """Average over sequences of the weights on relevant slots (``reduce``: mean or sum over slots).

    ``weights`` ``(E, layers, batch, heads, n_pairs)``, ``slots`` ``(batch, n_pairs)`` boolean.
    """
    mask = slots.to(weights.dtype)[None, None, :, None, :]
    per_sequence = (weights * mask).sum(-1)
    if reduce == "mean":
        per_sequence = per_sequence / mask.sum(-1)
    return per_sequence.mean(dim=2)


def copy_attention(maps: Sequence[torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """Attention from each relevant value token to its key, ``(n_models, layers, heads)``.

    ``tokens`` ``(batch, 2 n_pairs + 1)`` are the sequences the maps were computed on; the
    relevant pairs are those whose key is the query (averaged when there are several).
    """
    stacked = _stack(maps, tokens.shape[-1])
    slots = query_slots(tokens).to(stacked.device)
    n_pairs = slots.shape[-1]
    value_pos = torch.arange(n_pairs, device=stacked.device) * 2 + 1
    weights = stacked[..., value_pos, value_pos - 1]  # (E, L, batch, H, n_pairs)
    return _relevant_mean(weights, slots, "mean")


def selection_attention(maps: Sequence[torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """Total attention from the query to the relevant value token(s), ``(n_models, layers, heads)``."""
    stacked = _stack(maps, tokens.shape[-1])
    slots = query_slots(tokens).to(stacked.device)
    value_pos = torch.arange(slots.shape[-1], device=stacked.device) * 2 + 1
    weights = stacked[..., -1, value_pos]  # (E, L, batch, H, n_pairs)
    return _relevant_mean(weights, slots, "sum")


def repeated_random_tokens(
    batch_size: int, period: int, n_tokens: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``(batch_size, 2 period)`` sequences: ``period`` distinct random tokens, written twice."""
    if period < 2 or period > n_tokens:
        raise ValueError(f"period must satisfy 2 <= period <= n_tokens ({n_tokens}), got {period}.")
    first = torch.rand(batch_size, n_tokens, generator=generator).argsort(dim=1)[:, :period]
    return torch.cat([first, first], dim=1)


def induction_score(maps: Sequence[torch.Tensor], period: int) -> torch.Tensor:
    """Classic induction score on sequences repeated with ``period``, ``(n_models, layers, heads)``.

    Mean attention from each position ``t >= period`` to ``t - period + 1``, the token that
    followed the earlier occurrence of the token at ``t`` (Olsson et al., 2022).
    """
    stacked = _stack(maps)
    length = stacked.shape[-1]
    if not 2 <= period <= length // 2:
        raise ValueError(f"period must satisfy 2 <= period <= T/2 ({length // 2}), got {period}.")
    query = torch.arange(period, length, device=stacked.device)
    weights = stacked[..., query, query - period + 1]  # (E, L, batch, H, length - period)
    return weights.mean(dim=(2, -1))


class RecallProbe:
    """The ``probe(model, step)`` hook of :func:`~sparse_attention_lab.training.trainer.train` for recall.

    Draws, once, ``n_sequences`` test sequences of ``task`` (no repetition) and as many repeated
    random sequences of period ``n_pairs``; at each call returns ``copy``, ``selection`` and
    ``induction`` (each ``(n_models, layers, heads)``) and, when ``keep_maps`` is set, the full
    attention maps of the first test sequence under ``maps`` (``(n_models, layers, heads, T, T)``),
    the checkpoints the attention viewer steps through. ``example_tokens`` is that sequence.
    """

    def __init__(self, task: AssociativeRecall, n_sequences: int = 256, seed: int = 0, keep_maps: bool = False) -> None:
        if isinstance(n_sequences, bool) or not isinstance(n_sequences, int) or n_sequences < 1:
            raise ValueError(f"n_sequences must be a positive integer, got {n_sequences!r}.")
        generator = torch.Generator().manual_seed(seed)
        self.tokens, _ = task.test_task().sample(n_sequences, generator)
        self.period = max(2, task.n_pairs)  # n_pairs < n_tokens, so the tokens can be distinct
        self.repeated = repeated_random_tokens(n_sequences, self.period, task.n_tokens, generator)
        self.keep_maps = keep_maps
        self.example_tokens = self.tokens[0]

    @torch.no_grad()
    def __call__(self, model: Transformer, step: int) -> dict[str, torch.Tensor]:
        device = next(model.parameters()).device
        E = model.n_models
        tokens = self.tokens.to(device)
        _, maps = model(tokens.expand(E, *tokens.shape), return_attention=True)
        repeated = self.repeated.to(device)
        _, repeated_maps = model(repeated.expand(E, *repeated.shape), return_attention=True)
        out = {
            "copy": copy_attention(maps, tokens),
            "selection": selection_attention(maps, tokens),
            "induction": induction_score(repeated_maps, self.period),
        }
        if self.keep_maps:
            out["maps"] = torch.stack([layer[:, 0] for layer in maps], dim=1)
        return out


class QueryKindProbe:
    """The ``probe(model, step)`` hook that splits test accuracy by the kind of query (Fig. 5 right).

    Under cross-sample repetition two *repeated tokens* are the query far more often than the
    others during training. The probe draws, once, ``n_sequences`` test sequences (no in-context
    repetition) whose query is one of the repeated tokens and as many whose query is any other
    token, and returns the accuracy on each, ``repeated`` and ``other`` (each ``(n_models,)``):
    whether the model answers the common queries before the rare ones.
    """

    def __init__(self, task: AssociativeRecall, n_sequences: int = 256, seed: int = 0) -> None:
        if isinstance(n_sequences, bool) or not isinstance(n_sequences, int) or n_sequences < 1:
            raise ValueError(f"n_sequences must be a positive integer, got {n_sequences!r}.")
        generator = torch.Generator().manual_seed(seed)
        test = task.test_task()
        self.repeated = replace(test, p=1.0).sample(n_sequences, generator)  # queries: a repeated token
        tokens, targets = test.sample(4 * n_sequences + 64 * task.n_tokens, generator)
        other = ~torch.isin(tokens[:, -1], torch.tensor(task.repeated_tokens))
        self.other = (tokens[other][:n_sequences], targets[other][:n_sequences])
        if self.other[0].shape[0] < n_sequences:  # pragma: no cover - needs almost all tokens repeated
            raise ValueError("task: the vocabulary (n_tokens) is too small to draw queries outside the repeated tokens.")

    @torch.no_grad()
    def __call__(self, model: Transformer, step: int) -> dict[str, torch.Tensor]:
        device = next(model.parameters()).device
        E = model.n_models
        out = {}
        for name, (tokens, targets) in (("repeated", self.repeated), ("other", self.other)):
            tokens, targets = tokens.to(device), targets.to(device)
            logits = model(tokens.expand(E, *tokens.shape))  # (E, batch, n_tokens)
            out[name] = (logits.argmax(-1) == targets).float().mean(-1)
        return out


# --------------------------------------------------------------------------- linear regression (Figs. 1b, 11)


def relevant_attention_probe(task: SingleLocationRegression, n_sequences: int = 256, seed: int = 0):
    """A :func:`~sparse_attention_lab.training.trainer.train` probe: readout attention on the relevant token.

    Returns ``probe(model, step) -> {"readout_attention": (n_models, layers, heads)}``, the
    attention weight of the readout position on the relevant position(s), averaged over
    ``n_sequences`` fixed test sequences (uniform attention gives ``B / (T + 1)``).
    """
    if not (task.feature or task.position == "fixed"):
        raise ValueError("task must flag the relevant token (feature=True) or fix its position.")
    x, _ = task.test_task().sample(n_sequences, torch.Generator().manual_seed(seed))
    if task.feature:
        mask = x[..., -1] > 0.5
    else:
        mask = torch.zeros(n_sequences, task.T, dtype=torch.bool)
        mask[:, task.fixed_positions[:1]] = True
    mask = mask.float()  # (n, T); padded with zeros to the model's positions (an appended readout)

    @torch.no_grad()
    def probe(model: Transformer, step: int) -> dict[str, torch.Tensor]:
        device = next(model.parameters()).device
        size = eval_chunk(model, x.shape[1] + 1)
        parts = []
        for start in range(0, n_sequences, size):  # chunks bound the memory at long T
            inputs = x[start:start + size].to(device).expand(model.n_models, -1, -1, -1)
            _, rows = model(inputs, readout_attention=True)  # per layer (E, n, H, 1, T+1)
            readout_rows = torch.stack([m[:, :, :, 0, :] for m in rows], dim=2)  # (E, n, L, H, T+1)
            chunk_mask = F.pad(mask[start:start + size], (0, readout_rows.shape[-1] - task.T))
            chunk_mask = chunk_mask.to(device)[:, None, None, :]
            parts.append((readout_rows * chunk_mask).sum(-1))  # (E, n, L, H)
        return {"readout_attention": torch.cat(parts, dim=1).mean(1).cpu()}

    return probe


def end_to_end_alignment(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, positions: torch.Tensor, W_star: torch.Tensor
) -> torch.Tensor:
    """``<J, W*>_F / ||W*||_F^2`` per ensemble member, ``J`` the mean Jacobian of the prediction
    with respect to the relevant token's ``d`` content coordinates over the sequences ``x``.

    ``model`` maps ``(E, n, T, d_in)`` to ``(E, n, d)`` (a :class:`Transformer`); ``x`` is
    ``(n, T, d_in)``, ``positions`` ``(n,)`` the relevant position of each sequence. Sequence
    ``k`` probes output row ``i = k mod d``, so one backward pass gives the exact projection
    when ``J`` is the same for every sequence (``n`` a multiple of ``d``), and its test-set
    average otherwise.
    """
    n, _, d_in = x.shape
    d = W_star.shape[0]
    if W_star.shape != (d, d) or d > d_in:
        raise ValueError(f"W_star must be (d, d) with d <= d_in = {d_in}, got {tuple(W_star.shape)}.")
    if positions.shape != (n,):
        raise ValueError(f"positions must have shape ({n},), got {tuple(positions.shape)}.")
    if n % d:
        raise ValueError(f"x must hold a multiple of d = {d} sequences, got {n}.")
    E = getattr(model, "n_models", 1)
    rows = torch.arange(n, device=x.device) % d  # (n,) the output coordinate each sequence probes
    with torch.enable_grad():
        inputs = x.expand(E, *x.shape).clone().requires_grad_(True)  # (E, n, T, d_in)
        y = model(inputs)  # (E, n, d)
        (grad,) = torch.autograd.grad(y[:, torch.arange(n), rows].sum(), inputs)
    on_relevant = grad[:, torch.arange(n), positions, :d]  # (E, n, d): row i_k of J for sequence k
    projected = (on_relevant * W_star[rows]).sum(-1)  # (E, n)
    return d * projected.mean(1) / W_star.pow(2).sum()


class MechanismProbe:
    """The ``probe(model, step)`` hook of :func:`~sparse_attention_lab.training.trainer.train`:
    ``alignment`` ``(E,)`` and ``readout_attention`` ``(E, layers, heads)`` on fixed test
    sequences of ``task`` (no repetition); ``n_sequences`` is rounded up to a multiple of ``d``."""

    def __init__(self, task: SingleLocationRegression, n_sequences: int = 256, seed: int = 0) -> None:
        if isinstance(n_sequences, bool) or not isinstance(n_sequences, int) or n_sequences < 1:
            raise ValueError(f"n_sequences must be a positive integer, got {n_sequences!r}.")
        n = task.d * math.ceil(n_sequences / task.d)
        self.attention = relevant_attention_probe(task, n, seed)
        test = task.test_task()
        generator = torch.Generator().manual_seed(seed + 1)
        self.x, _ = test.sample(n, generator)
        if task.feature:
            self.positions = self.x[..., -1].argmax(-1)
        else:
            self.positions = test.fixed_positions[:1].expand(n)
        self.W_star = task.W_star

    @torch.no_grad()
    def __call__(self, model: Transformer, step: int) -> dict[str, torch.Tensor]:
        device = next(model.parameters()).device
        m = end_to_end_alignment(model, self.x.to(device), self.positions.to(device), self.W_star.to(device))
        return {"alignment": m.cpu(), **self.attention(model, step)}
