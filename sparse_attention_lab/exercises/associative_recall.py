"""Exercises of chapter 4: in-context associative recall (Section 3, App. C).

- :func:`check_recall_sampler` (implement): a sampler of test sequences (``B = 1``, ``p = 0``),
  checked for the task's rules with :func:`~sparse_attention_lab.tasks.recall.query_slots`.
- :func:`check_shortcut_accuracy` (derive): the accuracy of "answer the most frequent value" on
  the training distribution with in-context repetition ``B``, against that shortcut run on
  sequences of the library's :class:`~sparse_attention_lab.tasks.AssociativeRecall`.
- :func:`check_selection_probe` (implement): the selection attention of an induction head,
  against :func:`~sparse_attention_lab.training.probes.selection_attention`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from sparse_attention_lab.exercises.verdict import (
    ReaderFunction,
    Rejected,
    checker,
    describe,
    require_close,
)
from sparse_attention_lab.tasks import AssociativeRecall, query_slots
from sparse_attention_lab.training.probes import selection_attention

SAMPLER_BATCH = 3000  # sequences drawn from the reader's sampler per check
SHORTCUT_SAMPLES = 20_000  # sequences of the library's task per shortcut estimate (standard error <= 0.0035)
SIGMAS = 5.0  # a frequency within 5 standard errors of its expected value counts as right


def _as_long(value, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(np.asarray(value.detach().cpu() if hasattr(value, "detach") else value))
    except (TypeError, ValueError):
        raise Rejected(f"`{name}` should be an integer tensor, got {type(value).__name__}.") from None
    if tensor.shape != shape:
        raise Rejected(f"`{name}` should have shape {shape}, got {tuple(tensor.shape)}.")
    if tensor.is_floating_point() or tensor.dtype == torch.bool:
        raise Rejected(f"`{name}` should hold integer token ids, got dtype {tensor.dtype}.")
    return tensor.long()


def _draw(sampler: ReaderFunction, n_pairs: int, n_tokens: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = {"n_pairs": n_pairs, "n_tokens": n_tokens, "batch_size": SAMPLER_BATCH,
              "generator": torch.Generator().manual_seed(seed)}
    out = sampler(inputs, "return (tokens, targets) as torch integer tensors.")
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise Rejected(f"`sample` should return a pair (tokens, targets), got {type(out).__name__}.")
    tokens = _as_long(out[0], "tokens", (SAMPLER_BATCH, 2 * n_pairs + 1))
    targets = _as_long(out[1], "targets", (SAMPLER_BATCH,))
    return tokens, targets


def _frequencies_ok(counts: torch.Tensor, total: int) -> bool:
    """Whether category counts are within ``SIGMAS`` standard errors of a uniform distribution."""
    share = 1 / counts.numel()
    error = math.sqrt(total * share * (1 - share))
    return bool(((counts.double() - total * share).abs() <= SIGMAS * error + 1).all())


@checker
def check_recall_sampler(sample: Callable[[int, int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]) -> str:
    """``sample(n_pairs, n_tokens, batch_size, generator) -> (tokens, targets)``: test sequences
    ``k1 v1 ... kN vN q`` of the associative recall task without repetition (App. C.1).

    Checked on the task's rules, with the library's :func:`query_slots` for where the query sits.
    """
    sample = ReaderFunction(sample, "sample")
    for n_pairs, n_tokens in [(4, 8), (6, 32), (16, 17)]:
        where = describe({"n_pairs": n_pairs, "n_tokens": n_tokens})
        tokens, targets = _draw(sample, n_pairs, n_tokens, seed=0)
        if tokens.min() < 0 or tokens.max() >= n_tokens:
            raise Rejected(f"on {where}: token ids should lie in [0, {n_tokens}), got {int(tokens.min())} to "
                           f"{int(tokens.max())}. Hint: keys and values come from one vocabulary of n_tokens tokens.")
        keys, values = tokens[:, 0:-1:2], tokens[:, 1:-1:2]  # (batch, n_pairs) each
        slots = query_slots(tokens)  # (batch, n_pairs): where the query key sits
        appearances = slots.sum(1)
        if (appearances != 1).any():
            i = int(torch.nonzero(appearances != 1)[0])
            raise Rejected(f"on {where}: sequence {i} holds its query key {int(appearances[i])} times among its keys, "
                           "expected exactly once (B = 1). Hint: put the query pair in one uniformly drawn slot; "
                           "draw the other keys from the n_tokens - 1 other tokens.")
        distinct = torch.sort(keys, 1).values.diff(dim=1).ne(0).all(1)
        if not distinct.all():
            raise Rejected(f"on {where}: some sequences repeat a key. Hint: draw the other keys WITHOUT replacement.")
        answer = values[slots]  # (batch,): the value stored after the query key
        if (targets != answer).any():
            i = int(torch.nonzero(targets != answer)[0])
            raise Rejected(f"on {where}: sequence {i} has target {int(targets[i])}, but the value after its query key "
                           f"is {int(answer[i])}. Hint: the target is the value paired with the query key in the "
                           "context.")
        if (torch.sort(values, 1).values.diff(dim=1) == 0).any():
            raise Rejected(f"on {where}: two different keys of one sequence share a value, but the key -> value map is "
                           "injective. Hint: draw each sequence's map as a random permutation of the vocabulary.")
        slot_counts = slots.sum(0)
        if not _frequencies_ok(slot_counts, SAMPLER_BATCH):
            raise Rejected(f"on {where}: the query pair sits in slots with counts {slot_counts.tolist()} over "
                           f"{SAMPLER_BATCH} sequences, not uniform. Hint: draw its slot uniformly among the n_pairs.")
        query_counts = torch.bincount(tokens[:, -1], minlength=n_tokens)
        if not _frequencies_ok(query_counts, SAMPLER_BATCH):
            raise Rejected(f"on {where}: the query tokens are not uniform over the vocabulary (counts from "
                           f"{int(query_counts.min())} to {int(query_counts.max())}). Hint: without cross-sample "
                           "repetition (p = 0) the query is uniform over all n_tokens tokens.")
        again, _ = _draw(sample, n_pairs, n_tokens, seed=0)
        other, _ = _draw(sample, n_pairs, n_tokens, seed=1)
        if not torch.equal(tokens, again) or torch.equal(tokens, other):
            raise Rejected("the same generator seed should give the same sequences, and another seed other ones. "
                           "Hint: pass generator=generator to every torch random call (torch.randint, torch.rand, "
                           "torch.randperm).")
    return ("your sequences keep every rule of App. C.1: one query pair in a uniform slot, distinct keys, an "
            "injective key -> value map, a uniform query, and the target stored after the query key.")


def _shortcut_accuracy(n_pairs: int, B: float, seed: int = 0) -> tuple[float, float]:
    """Accuracy (and its standard error) of answering the most frequent value of the context,
    ties broken uniformly, on ``SHORTCUT_SAMPLES`` training sequences of the library's task
    (the smallest vocabulary the task allows: the accuracy does not depend on it)."""
    n_tokens = n_pairs + 1
    generator = torch.Generator().manual_seed(seed)
    tokens, targets = AssociativeRecall(n_pairs, n_tokens, B=B, seed=seed).sample(SHORTCUT_SAMPLES, generator)
    values = tokens[:, 1:-1:2]  # (n, n_pairs)
    counts = torch.zeros(SHORTCUT_SAMPLES, n_tokens).scatter_add_(1, values, torch.ones(values.shape))
    most = counts == counts.max(1, keepdim=True).values  # (n, n_tokens): the most frequent values
    tie_break = torch.rand(SHORTCUT_SAMPLES, n_tokens, generator=generator).masked_fill(~most, -1.0)
    accuracy = float((tie_break.argmax(1) == targets).double().mean())
    return accuracy, math.sqrt(max(accuracy * (1 - accuracy), 1e-4) / SHORTCUT_SAMPLES)


@checker
def check_shortcut_accuracy(accuracy: Callable[[int, float], float]) -> str:
    """``accuracy(n_pairs, B)``: probability that "answer the most frequent value in the context"
    (ties broken uniformly) is right on the training distribution with in-context repetition ``B``.

    Placement as in the library (PAPER.md decision 3): the query pair sits in one uniform slot and
    in each other slot with probability ``(B - 1)/(n_pairs - 1)``. Reference: the shortcut run on
    ``SHORTCUT_SAMPLES`` sequences of :class:`AssociativeRecall`.
    """
    accuracy = ReaderFunction(accuracy, "accuracy")
    once = ("with B = 1 the query appears once, so every value in the context appears once: the shortcut can only "
            "guess among the n_pairs values.")
    repeated = ("the shortcut is right whenever the query pair appears at least twice (its value is then the only "
                "repeated one); when it appears once it guesses among n_pairs values. The number of extra copies is "
                "binomial over the n_pairs - 1 other slots.")
    cases = [(6, 1.0, once), (6, 3.0, repeated), (6, 4.0, repeated), (32, 2.0, repeated), (6, 6.0, repeated)]
    sampled = {}
    for n_pairs, B, hint in cases:
        inputs = {"n_pairs": n_pairs, "B": B}
        got = accuracy(inputs, hint)
        expected, error = sampled[n_pairs, B] = _shortcut_accuracy(n_pairs, B)
        hint += f" (Reference: the shortcut on {SHORTCUT_SAMPLES:,} sampled sequences.)"
        require_close("accuracy", got, expected, inputs, hint, rtol=0.0, atol=SIGMAS * error)
    return (f"1 - (1 - q)^(n_pairs - 1) (1 - 1/n_pairs) with q = (B - 1)/(n_pairs - 1). At n_pairs = 6 the shortcut "
            f"is right {sampled[6, 3.0][0]:.0%} of the time with B = 3 and {sampled[6, 4.0][0]:.0%} with B = 4, "
            "without any recall, against 1/n_pairs on test data. Too much in-context repetition makes a "
            "shortcut that does not generalize the cheapest way to fit the training data (Fig. 5).")


@checker
def check_selection_probe(probe: Callable[[torch.Tensor, torch.Tensor], float]) -> str:
    """``probe(attention, tokens)``: mean over sequences of the total attention from the query
    (last row of ``attention``, shape ``(batch, T, T)``) to the value token(s) of the query's pair(s).

    Reference: :func:`sparse_attention_lab.training.probes.selection_attention` on one layer, one head.
    """
    probe = ReaderFunction(probe, "probe")
    value_hint = ("the value of slot i sits at position 2 i + 1 (keys at 2 i, the query last); use query_slots(tokens) "
                  "to find the query's slots, and read the LAST row of the attention.")
    sum_hint = "with several copies of the query pair, add their weights: the total attention on the right answer."
    generator = torch.Generator().manual_seed(0)
    cases = []
    for n_pairs, B, hint in [(4, 1.0, value_hint), (6, 3.0, sum_hint)]:
        tokens, _ = AssociativeRecall(n_pairs, 16, B=B).sample(64, generator)  # (64, T)
        T = tokens.shape[1]
        random_maps = torch.softmax(3 * torch.randn(64, T, T, generator=generator), dim=-1)  # (64, T, T)
        induction = torch.full((64, T, T), 1 / T)
        slots = query_slots(tokens).double()  # (64, n_pairs)
        induction[:, -1, :] = 0
        induction[:, -1, 1:-1:2] = slots / slots.sum(1, keepdim=True)  # a perfect selection head
        cases += [(random_maps, tokens, hint, "random attention maps"),
                  (induction, tokens, hint, "a perfect selection head")]
    for maps, tokens, hint, label in cases:
        inputs = {"attention": maps.clone(), "tokens": tokens.clone()}
        got = probe(inputs, hint)
        expected = selection_attention([maps[None, :, None]], tokens)  # (1, 1, 1): one model, layer, head
        case = f"{label}, {tokens.shape[0]} sequences of N_pairs = {tokens.shape[1] // 2}"
        require_close("probe", got, float(expected.reshape(())), case, hint, rtol=1e-6, atol=1e-9)
    return ("this is the selection probe of Fig. 17 (training.probes.selection_attention): it is 1 for a perfect "
            "induction head's last layer and about B/(2 N_pairs + 1) for uniform attention.")
