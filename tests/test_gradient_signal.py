"""The introduction's figure: sampled initial gradients against their closed forms."""

import math

import pytest

from sparse_attention_lab.theory.gradient_signal import (
    initial_gradient,
    irrelevant_gradient_rms,
    relevant_gradient_norm,
)


@pytest.mark.parametrize("T", [4, 32, 256])
def test_relevant_gradient_matches_closed_form(T):
    d = 16
    est = initial_gradient(T, d, samples=8192, batch_size=32, seed=1)
    # Relative Monte-Carlo error of the mean gradient is about sqrt(d / samples) ~ 4%.
    assert est.signal == pytest.approx(relevant_gradient_norm(T, d), rel=0.06)


@pytest.mark.parametrize("T", [4, 32, 256])
def test_irrelevant_noise_matches_closed_form(T):
    d = 16
    est = initial_gradient(T, d, samples=4096, batch_size=32, seed=2)
    assert est.noise == pytest.approx(irrelevant_gradient_rms(T, d, 32), rel=0.06)


def test_attention_scores_get_no_gradient_while_weights_are_zero():
    assert initial_gradient(16, 8, samples=256, batch_size=32).score_gradient == 0.0


def test_signal_halves_when_sequence_doubles():
    assert relevant_gradient_norm(64, 9) / relevant_gradient_norm(128, 9) == pytest.approx(2.0)
    assert relevant_gradient_norm(64, 9) == pytest.approx(1 / (64 * 3))
    assert irrelevant_gradient_rms(65, 4, 16) == pytest.approx(math.sqrt(64 / 16) / 65)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"T": 1, "d": 4}, "T"), ({"T": 8, "d": 0}, "d"), ({"T": 8.0, "d": 4}, "T")],
)
def test_bad_sizes_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        relevant_gradient_norm(**kwargs)


def test_samples_must_fill_whole_batches():
    with pytest.raises(ValueError, match="samples"):
        initial_gradient(8, 4, samples=100, batch_size=32)
