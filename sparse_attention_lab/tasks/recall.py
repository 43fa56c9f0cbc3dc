"""In-context associative recall (Section 3 and App. C.1 of the paper).

A sequence holds ``n_pairs`` (key, value) pairs followed by a query key; the target is the
value that follows the query key in the context::

    Y I  A X  U R  Z Y  C A  Z  ->  Y

Keys and values come from one vocabulary of ``n_tokens`` tokens. For every sequence:

1. an injective key -> value map is drawn (a uniformly random permutation of the vocabulary);
2. the query is drawn from ``p_query``: with probability ``p`` uniformly among the two
   *repeated tokens* (fixed for the whole task: cross-sample repetition), otherwise uniformly
   over the vocabulary, so a repeated token has mass ``p/2 + (1-p)/n_tokens``;
3. the query pair fills some of the ``n_pairs`` slots (in-context repetition, ``B`` times on
   average) and the other slots get distinct keys drawn without replacement from the other
   ``n_tokens - 1`` tokens, each followed by its value.

Slot placement (PAPER.md decision 3). The paper puts the query pair in each slot with
probability ``B / n_pairs``, which leaves the query absent (an unanswerable sequence) with
probability about ``exp(-B)``. Our default, ``placement="at_least_once"``, puts it in one
uniformly drawn slot and in each other slot with probability ``(B - 1) / (n_pairs - 1)``: it
appears at least once and ``B`` times on average. ``placement="bernoulli"`` is the paper's
literal variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from sparse_attention_lab.tasks import checks
from sparse_attention_lab.tasks.device import on_device, sampling_device

PLACEMENTS = ("at_least_once", "bernoulli")


@dataclass(frozen=True)
class AssociativeRecall:
    """The in-context associative recall task (App. C.1; decision 3 for the slot placement).

    ``sample(batch_size, generator)`` returns ``(tokens, targets)``: ``tokens`` a LongTensor of
    shape ``(batch_size, 2 * n_pairs + 1)`` laid out key, value, ..., key, value, query, and
    ``targets`` a LongTensor ``(batch_size,)``, the query's value. ``seed`` fixes the two
    repeated tokens (attribute ``repeated_tokens``), so a task and its :meth:`test_task`
    share them.
    """

    n_pairs: int
    n_tokens: int
    B: float = 1.0
    p: float = 0.0
    placement: str = "at_least_once"
    seed: int = 0

    def __post_init__(self) -> None:
        n_pairs = checks.positive_int("n_pairs", self.n_pairs)
        n_tokens = checks.positive_int("n_tokens", self.n_tokens)
        checks.elements("n_tokens", 2 * n_tokens, "the vocabulary's permutation (int64: two float32 elements each)")
        if n_pairs >= n_tokens:
            raise ValueError(
                f"n_pairs ({self.n_pairs}) must be smaller than n_tokens ({self.n_tokens}): the keys "
                "other than the query are drawn without replacement from n_tokens - 1 tokens."
            )
        checked = {
            "n_pairs": n_pairs,
            "n_tokens": n_tokens,
            "B": checks.real("B", self.B, at_least=1, at_most=n_pairs, why="1 <= B <= n_pairs"),
            "p": checks.probability("p", self.p),
            "placement": checks.choice("placement", self.placement, PLACEMENTS),
            "seed": checks.seed("seed", self.seed),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        g = torch.Generator().manual_seed(self.seed)
        repeated = torch.randperm(self.n_tokens, generator=g)[:2].sort().values
        object.__setattr__(self, "repeated_tokens", tuple(int(t) for t in repeated))

    @property
    def seq_len(self) -> int:
        """Tokens per sequence, ``T = 2 n_pairs + 1``."""
        return 2 * self.n_pairs + 1

    def test_task(self) -> AssociativeRecall:
        """The same task without repetition (``B = 1``, ``p = 0``): the test distribution."""
        return replace(self, B=1.0, p=0.0)

    def query_probability(self) -> torch.Tensor:
        """``p_query`` over the vocabulary: ``p/2 + (1-p)/n_tokens`` on a repeated token."""
        probability = torch.full((self.n_tokens,), (1.0 - self.p) / self.n_tokens, dtype=torch.float64)
        probability[list(self.repeated_tokens)] += self.p / 2
        return probability

    def _query_slots(self, batch_size: int, generator: torch.Generator | None, dev: torch.device) -> torch.Tensor:
        """Boolean ``(batch_size, n_pairs)``: the slots that hold the query pair."""
        u = torch.rand(batch_size, self.n_pairs, generator=generator, dtype=torch.float64, device=dev)
        if self.placement == "bernoulli":
            return u < self.B / self.n_pairs
        extra = (self.B - 1) / (self.n_pairs - 1) if self.n_pairs > 1 else 0.0
        slots = u < extra
        forced = torch.randint(self.n_pairs, (batch_size,), generator=generator, device=dev)
        slots[torch.arange(batch_size, device=dev), forced] = True
        return slots

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``batch_size`` sequences and their targets, on ``generator``'s device (else
        ``device``, else the CPU): a CPU generator gives the same batch anywhere."""
        batch_size = checks.positive_int("batch_size", batch_size)
        checks.elements("batch_size", batch_size * self.n_tokens, "a batch's key -> value maps of batch_size x n_tokens")
        dev = sampling_device(generator, device)
        n, rows = self.n_tokens, torch.arange(batch_size, device=dev)
        value_of = torch.rand(batch_size, n, generator=generator, device=dev).argsort(dim=1)
        query = torch.randint(n, (batch_size,), generator=generator, device=dev)
        if self.p > 0:
            repeated = on_device(self, "repeated_tokens", dev, lambda: torch.tensor(self.repeated_tokens))
            use_repeated = torch.rand(batch_size, generator=generator, dtype=torch.float64, device=dev) < self.p
            pick = repeated[torch.randint(2, (batch_size,), generator=generator, device=dev)]
            query = torch.where(use_repeated, pick, query)
        slots = self._query_slots(batch_size, generator, dev)
        # Other keys: a random order of the vocabulary with the query pushed to the end, so
        # the first n_pairs entries are distinct tokens different from the query.
        order_scores = torch.rand(batch_size, n, generator=generator, device=dev)
        order_scores[rows, query] = math.inf
        others = order_scores.argsort(dim=1)[:, : self.n_pairs]
        keys = torch.where(slots, query[:, None], others)
        values = value_of.gather(1, keys)
        tokens = torch.stack([keys, values], dim=2).reshape(batch_size, 2 * self.n_pairs)
        tokens = torch.cat([tokens, query[:, None]], dim=1)
        return tokens, value_of[rows, query]


def query_slots(tokens: torch.Tensor) -> torch.Tensor:
    """Boolean ``(..., n_pairs)``: which pair slots of ``tokens`` hold the query key (the last token)."""
    if isinstance(tokens, np.ndarray) and np.issubdtype(tokens.dtype, np.integer):
        tokens = torch.as_tensor(tokens)
    if not isinstance(tokens, torch.Tensor) or tokens.is_floating_point() or tokens.is_complex() \
            or tokens.dtype == torch.bool or tokens.ndim == 0:
        raise TypeError(f"tokens must be a tensor (or numpy array) of integer token ids, got {type(tokens).__name__}"
                        f"{'' if not hasattr(tokens, 'dtype') else ' of ' + str(tokens.dtype)}.")
    if tokens.numel() and int(tokens.min()) < 0:
        raise ValueError(f"tokens must be non-negative token ids, got {int(tokens.min())}.")
    if tokens.shape[-1] % 2 != 1 or tokens.shape[-1] < 3:
        raise ValueError(f"tokens must have an odd length 2 n_pairs + 1 >= 3, got {tokens.shape[-1]}.")
    return tokens[..., 0:-1:2] == tokens[..., -1:]
