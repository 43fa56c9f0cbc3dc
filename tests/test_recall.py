"""Statistics of the associative recall sampler (App. C.1, PAPER.md decisions 2 and 3)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from sparse_attention_lab.tasks import AssociativeRecall, query_slots

SETTINGS = [  # (n_pairs, n_tokens, B, p)
    (1, 2, 1.0, 0.0),
    (4, 10, 2.5, 0.3),
    (8, 16, 8, 1.0),
    (3, 5, 1.5, 0.7),
    (6, 40, 1.0, 0.1),
]
N_SAMPLES = 40_000


def draw(task: AssociativeRecall, n: int = N_SAMPLES, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return task.sample(n, torch.Generator().manual_seed(seed))


def assert_mean_close(samples: torch.Tensor, expected: float, sigmas: float = 5.0) -> None:
    """The sample mean lies within ``sigmas`` standard errors (floored) of ``expected``."""
    samples = samples.double()
    error = max(samples.std().item(), 1e-3) / math.sqrt(samples.numel())
    assert abs(samples.mean().item() - expected) <= sigmas * error, (samples.mean().item(), expected)


@pytest.mark.parametrize(("n_pairs", "n_tokens", "B", "p"), SETTINGS)
def test_shapes_and_layout(n_pairs: int, n_tokens: int, B: float, p: float) -> None:
    task = AssociativeRecall(n_pairs, n_tokens, B=B, p=p)
    tokens, targets = draw(task, 64)
    assert tokens.shape == (64, 2 * n_pairs + 1) == (64, task.seq_len)
    assert targets.shape == (64,)
    assert tokens.dtype == targets.dtype == torch.long
    assert tokens.min() >= 0 and tokens.max() < n_tokens and targets.max() < n_tokens


@pytest.mark.parametrize(("n_pairs", "n_tokens", "B", "p"), SETTINGS)
def test_keys_values_and_target(n_pairs: int, n_tokens: int, B: float, p: float) -> None:
    tokens, targets = draw(AssociativeRecall(n_pairs, n_tokens, B=B, p=p), 2000)
    keys, values, query = tokens[:, 0:-1:2], tokens[:, 1:-1:2], tokens[:, -1]
    slots = query_slots(tokens)
    assert slots.any(dim=1).all(), "the query must appear at least once"
    for row in range(tokens.shape[0]):
        mapping: dict[int, int] = {}
        for k, v in zip(keys[row].tolist(), values[row].tolist(), strict=True):
            assert mapping.setdefault(k, v) == v, "a key must always be followed by the same value"
        assert len(set(mapping.values())) == len(mapping), "the key -> value map must be injective"
        others = keys[row][~slots[row]].tolist()
        assert len(set(others)) == len(others), "the keys other than the query must be distinct"
        assert mapping[int(query[row])] == int(targets[row]), "the target is the value after the query key"


@pytest.mark.parametrize(("n_pairs", "n_tokens", "B", "p"), SETTINGS)
def test_query_count_has_mean_B(n_pairs: int, n_tokens: int, B: float, p: float) -> None:
    counts = query_slots(draw(AssociativeRecall(n_pairs, n_tokens, B=B, p=p))[0]).sum(dim=1)
    assert counts.min() >= 1
    assert_mean_close(counts, B)


@pytest.mark.parametrize(("n_pairs", "n_tokens", "B", "p"), SETTINGS)
def test_query_distribution_and_repeated_tokens(n_pairs: int, n_tokens: int, B: float, p: float) -> None:
    task = AssociativeRecall(n_pairs, n_tokens, B=B, p=p)
    query = draw(task)[0][:, -1]
    expected = task.query_probability()
    assert math.isclose(expected.sum().item(), 1.0)
    for token in range(n_tokens):
        mass = p / 2 * (token in task.repeated_tokens) + (1 - p) / n_tokens
        assert math.isclose(expected[token].item(), mass)
        assert_mean_close((query == token).double(), mass)


@pytest.mark.parametrize(("n_pairs", "n_tokens", "B", "p"), SETTINGS)
def test_values_and_slots_are_uniform(n_pairs: int, n_tokens: int, B: float, p: float) -> None:
    tokens, targets = draw(AssociativeRecall(n_pairs, n_tokens, B=B, p=p))
    for token in range(n_tokens):  # the map is a uniform permutation, whatever the query
        assert_mean_close((targets == token).double(), 1 / n_tokens)
    slots = query_slots(tokens).double()
    for slot in range(n_pairs):  # each slot holds the query with probability B / n_pairs
        assert_mean_close(slots[:, slot], B / n_pairs)


@pytest.mark.parametrize(("n_pairs", "B"), [(4, 1.0), (8, 2.0), (5, 5)])
def test_bernoulli_placement_is_the_papers_literal_variant(n_pairs: int, B: float) -> None:
    task = AssociativeRecall(n_pairs, 20, B=B, placement="bernoulli")
    slots = query_slots(draw(task)[0])
    assert_mean_close(slots.sum(dim=1).double(), B)
    assert_mean_close((~slots.any(dim=1)).double(), (1 - B / n_pairs) ** n_pairs)


def test_test_task_has_no_repetition_and_same_repeated_tokens() -> None:
    task = AssociativeRecall(6, 30, B=3, p=0.5, seed=7)
    test = task.test_task()
    assert (test.B, test.p, test.n_pairs, test.n_tokens) == (1.0, 0.0, 6, 30)
    assert test.repeated_tokens == task.repeated_tokens
    assert len(set(task.repeated_tokens)) == 2


def test_sampling_is_reproducible() -> None:
    task = AssociativeRecall(5, 12, B=2, p=0.4)
    a, b = draw(task, 100, seed=3), draw(task, 100, seed=3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], draw(task, 100, seed=4)[0])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_pairs": 8, "n_tokens": 8}, "n_pairs"),
        ({"n_pairs": 9, "n_tokens": 8}, "n_pairs"),
        ({"n_pairs": 0, "n_tokens": 8}, "n_pairs"),
        ({"n_pairs": 2, "n_tokens": -3}, "n_tokens"),
        ({"n_pairs": 2.0, "n_tokens": 8}, "n_pairs"),
        ({"n_pairs": 4, "n_tokens": 8, "B": 0.5}, "B"),
        ({"n_pairs": 4, "n_tokens": 8, "B": 4.5}, "B"),
        ({"n_pairs": 4, "n_tokens": 8, "p": -0.1}, "p"),
        ({"n_pairs": 4, "n_tokens": 8, "p": 1.5}, "p"),
        ({"n_pairs": 4, "n_tokens": 8, "placement": "poisson"}, "placement"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        AssociativeRecall(**kwargs)


def test_invalid_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        AssociativeRecall(2, 5).sample(0)


def test_hostile_arguments_are_refused_before_allocating() -> None:
    """Issue 17 items 4 and 6: a 10^9-token vocabulary fails at once; p=True is not p=1."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"^n_tokens is too large: .* above the limit of 536,870,912 elements"):
        AssociativeRecall(3, n_tokens=10**9)
    with pytest.raises(ValueError, match=r"^batch_size is too large"):
        AssociativeRecall(3, 8).sample(10**9)
    assert time.perf_counter() - start < 0.05
    with pytest.raises(ValueError, match=r"^p must be a probability"):
        AssociativeRecall(3, 8, p=True)
    task = AssociativeRecall(np.int64(3), np.int64(8), B=np.float32(2.0))
    assert type(task.n_pairs) is int and type(task.B) is float
