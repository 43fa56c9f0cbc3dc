"""The exercise checkers (sparse_attention_lab.exercises): each accepts the library's own answer,
rejects typical wrong answers with a message that says what is wrong, names a reader's exception
instead of raising it, and calls a template cell "not attempted"."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sparse_attention_lab.exercises import (
    associative_recall,
    beyond,
    introduction,
    repetition,
    toy_model,
)
from sparse_attention_lab.exercises import transformers as ch3
from sparse_attention_lab.exercises.verdict import CORRECT, NOT_ATTEMPTED, WRONG, Verdict
from sparse_attention_lab.fitting import fit_power_law
from sparse_attention_lab.measure import first_crossing
from sparse_attention_lab.tasks import AssociativeRecall, query_slots
from sparse_attention_lab.theory import reduced
from sparse_attention_lab.training.probes import selection_attention

# --- Right answers: the library's own functions wherever one has the reader's signature ------


def reduced_loss(w, delta_a, T, d, B):
    return reduced.reduced_loss(w, delta_a, T, d, B)


def reduced_gradient(w, delta_a, T, d, B):
    return reduced.reduced_gradient(w, delta_a, T, d, B)


def landmarks(T, d, B):
    n = T - B
    return B * math.sqrt(d) * T / (T - B + B**2), 1 / (B * math.sqrt(n + 1)), math.sqrt(d) * (math.sqrt(n + 1) + 1) / 2


def library_fit(plateaus, d, T_over_B):
    fit = fit_power_law(plateaus, d=d, T=T_over_B)
    return fit.prefactor, fit.exponents["d"], fit.exponents["T"], fit.r2


def library_sampler(n_pairs, n_tokens, batch_size, generator):
    return AssociativeRecall(n_pairs, n_tokens).sample(batch_size, generator)


def library_probe(attention, tokens):
    return float(selection_attention([attention[None, :, None]], tokens).reshape(()))


def release(step, history):
    losses = history["train_loss"]
    return {"p": 0.0 if min(losses) <= 0.5 * losses[0] else 0.9}


def shortcut_accuracy(n_pairs, B):
    q = (B - 1) / (n_pairs - 1)
    return 1 - (1 - q) ** (n_pairs - 1) * (1 - 1 / n_pairs)


# --- Typical wrong answers -------------------------------------------------------------------


def fit_without_exp(plateaus, d, T_over_B):
    C, alpha, beta, r2 = library_fit(plateaus, d, T_over_B)
    return math.log(C), alpha, beta, r2


def fit_r2_on_raw_values(plateaus, d, T_over_B):
    C, alpha, beta, _ = library_fit(plateaus, d, T_over_B)
    predicted = C * d**alpha * T_over_B**beta
    return C, alpha, beta, 1 - ((plateaus - predicted) ** 2).sum() / ((plateaus - plateaus.mean()) ** 2).sum()


def crossing_without_interpolation(times, values, level):
    below = np.flatnonzero(values <= level)
    return float(times[below[0]]) if below.size else math.inf


def crossing_with_none(times, values, level):
    result = first_crossing(times, values, level)
    return None if math.isinf(result) else result


def crossing_at_the_end(times, values, level):
    result = first_crossing(times, values, level)
    return float(times[-1]) if math.isinf(result) else result


def sampler_query_last(n_pairs, n_tokens, batch_size, generator):
    tokens, targets = library_sampler(n_pairs, n_tokens, batch_size, generator)
    slots = query_slots(tokens)
    keys, values = tokens[:, 0:-1:2].clone(), tokens[:, 1:-1:2].clone()
    order = torch.argsort(slots.long(), dim=1, stable=True)  # the query pair moved to the last slot
    keys, values = keys.gather(1, order), values.gather(1, order)
    pairs = torch.stack([keys, values], 2).reshape(batch_size, -1)
    return torch.cat([pairs, tokens[:, -1:]], 1), targets


def sampler_target_is_query(n_pairs, n_tokens, batch_size, generator):
    tokens, _ = library_sampler(n_pairs, n_tokens, batch_size, generator)
    return tokens, tokens[:, -1]


def sampler_ignoring_generator(n_pairs, n_tokens, batch_size, generator):
    return library_sampler(n_pairs, n_tokens, batch_size, None)


def probe_on_keys(attention, tokens):
    slots = query_slots(tokens).double()
    return float((attention[:, -1, 0:-1:2] * slots).sum(1).mean())


def probe_mean_over_copies(attention, tokens):
    slots = query_slots(tokens).double()
    return float(((attention[:, -1, 1:-1:2] * slots).sum(1) / slots.sum(1)).mean())


def release_on_last_value(step, history):
    losses = history["train_loss"]
    return {"p": 0.0 if losses[-1] <= 0.5 * losses[0] else 0.9}


def release_below_a_quarter(step, history):
    return {"p": 0.0 if min(history["train_loss"]) <= 0.25 else 0.9}


CHECKS = {
    "irrelevant attention": (
        introduction.check_irrelevant_attention, lambda T, B: (T - B) / T**2,
        [(lambda T, B: (T - 1) / T, "expected squared_attention = 0.25, got 0.5"),
         (lambda T, B: (T - 1) / T**2, "only T - B tokens are irrelevant")],
    ),
    "break-even batch": (
        introduction.check_break_even_batch, lambda T, d: (T - 1) * d,
        [(lambda T, d: T * d, "expected batch = 1, got 2"),
         (lambda T, d: math.sqrt((T - 1) * d), "squaring both sides")],
    ),
    "attention": (
        toy_model.check_attention, reduced.attention,
        [(lambda delta_a, T, B: 1 / ((T - 1) * math.exp(-delta_a) + 1), "with B relevant copies"),
         (lambda delta_a, T, B: 1 / ((T - B) * math.exp(delta_a) + B), "contributes e^{-Delta_a}"),
         (lambda delta_a, T, B: B / ((T - B) * math.exp(-delta_a) + B), "attention is uniform: 1/T")],
    ),
    "reduced loss": (
        lambda loss: toy_model.check_reduced_loss(loss, reduced_gradient), reduced_loss,
        [(lambda w, a, T, d, B: reduced_loss(w, a, T, d, B) + 0.5, "the loss is 1/2 for every T and d"),
         (lambda w, a, T, d, B: reduced_loss(w, a, T, d, 1), "the relevant tokens carry B alpha")],
    ),
    "reduced gradient": (
        lambda gradient: toy_model.check_reduced_loss(reduced_loss, gradient), reduced_gradient,
        [(lambda w, a, T, d, B: (reduced_gradient(w, a, T, d, B)[0], 1.0), "the attention gets no gradient"),
         (lambda w, a, T, d, B: reduced_gradient(w, a, T, d, B)[::-1], "expected dL/dw"),
         (lambda w, a, T, d, B: reduced_gradient(w, a, T, d, B)[0], "should return a pair")],
    ),
    "w_inf landmarks": (
        toy_model.check_w_inf_landmarks, landmarks,
        [(lambda T, d, B: (T * math.sqrt(d),) + landmarks(T, d, B)[1:], "expected w_inf(1/T) = 1, got 4"),
         (lambda T, d, B: (math.sqrt(d), 1 / math.sqrt(T - 1), landmarks(T, d, B)[2]), "expected alpha_peak = 0.5"),
         (lambda T, d, B: landmarks(T, d, 1), "with B copies the relevant tokens carry B/T"),
         (lambda T, d, B: landmarks(T, d, B)[:2] + (math.sqrt(d) * (math.sqrt(T) + 1) / 2,), "substitute A")],
    ),
    "linear rate": (
        repetition.check_linear_rate, lambda T, d, B, scores: reduced.linear_rate(T, d, B, scores=scores),
        [(lambda T, d, B, scores: B / (math.sqrt(d) * T), "scores = free: expected lambda"),
         (lambda T, d, B, scores: 1 / (math.sqrt(d) * T), "B/T of the attention")],
    ),
    "repetition rate": (
        repetition.check_repetition_rate, lambda T, d, p: reduced.linear_rate(T, d, p=p),
        [(lambda T, d, p: (p + (1 - p) / math.sqrt(d)) / T, "plus and minus the norm of that pair"),
         (lambda T, d, p: 1 / (math.sqrt(d) * T), "at p = 1 only the special token's direction")],
    ),
    "shortcut output": (
        ch3.check_shortcut_output, lambda W, x, p: p * W @ x,
        [(lambda W, x, p: W @ x, "the mean training target is"),
         (lambda W, x, p: p * x, "the best constant under a squared loss is the mean"),
         (lambda W, x, p: (p * W @ x)[:-1], "should have shape")],
    ),
    "shortcut rise": (
        ch3.check_shortcut_rise, lambda W, x, p: p**2 * float((W @ x).square().sum()) / 2,
        [(lambda W, x, p: p**2 * float((W @ x).square().sum()), "expected rise ="),
         (lambda W, x, p: p * float((W @ x).square().sum()) / 2, "the cross term vanishes")],
    ),
    "first crossing": (
        ch3.check_first_crossing, first_crossing,
        [(crossing_without_interpolation, "expected crossing = 28, got 30"),
         (crossing_at_the_end, "expected math.inf"),
         (crossing_with_none, "returned None. Hint: a run that never reaches the level must return math.inf")],
    ),
    "power-law fit": (
        ch3.check_power_law_fit, library_fit,
        [(fit_without_exp, "expected C = 2.5"),
         (fit_r2_on_raw_values, "expected R^2"),
         (lambda y, d, t: library_fit(y, d, t)[:3], "should return four numbers")],
    ),
    "recall sampler": (
        associative_recall.check_recall_sampler, library_sampler,
        [(sampler_query_last, "not uniform"),
         (sampler_target_is_query, "the value after its query key is"),
         (sampler_ignoring_generator, "pass generator=generator")],
    ),
    "shortcut accuracy": (
        associative_recall.check_shortcut_accuracy, shortcut_accuracy,
        [(lambda n, B: 1 - (1 - (B - 1) / (n - 1)) ** (n - 1), "the shortcut can only guess"),
         (lambda n, B: 1 - math.exp(-(B - 1)) * (1 - 1 / n), "binomial over the n_pairs - 1 other slots")],
    ),
    "selection probe": (
        associative_recall.check_selection_probe, library_probe,
        [(probe_on_keys, "sits at position 2 i + 1"),
         (probe_mean_over_copies, "add their weights")],
    ),
    "test floor": (
        beyond.check_test_floor, lambda d: (d - 1) / (2 * d),
        [(lambda d: 0.5, "expected test loss floor = 0.25, got 0.5"),
         (lambda d: (d - 1) / d, "w stays 0")],
    ),
    "release schedule": (
        beyond.check_release_schedule, release,
        [(release_on_last_value, "once released, stay released"),
         (release_below_a_quarter, "half of the FIRST value"),
         (lambda step, history: 0.9, "should return a dict with the one key 'p'")],
    ),
}


@pytest.mark.parametrize("name", CHECKS)
def test_accepts_the_right_answer(name, capsys):
    check, right, _ = CHECKS[name]
    verdict = check(right)
    assert verdict.status == CORRECT, verdict.line
    assert verdict.line.startswith("Correct: ")
    assert capsys.readouterr().out == verdict.line + "\n"  # one line, printed


@pytest.mark.parametrize("name", CHECKS)
def test_rejects_typical_wrong_answers_saying_what_is_wrong(name):
    check, _, wrong_answers = CHECKS[name]
    assert len(wrong_answers) >= 2
    for answer, message in wrong_answers:
        verdict = check(answer)
        assert not verdict.correct
        assert message in verdict.line, verdict.line
        assert "\n" not in verdict.line


@pytest.mark.parametrize("name", CHECKS)
def test_names_the_exception_of_a_raising_answer(name):
    def broken(*args):
        return 1 / 0

    verdict = CHECKS[name][0](broken)
    assert verdict.status == WRONG
    assert "raised ZeroDivisionError: division by zero" in verdict.line


@pytest.mark.parametrize("name", CHECKS)
def test_a_template_cell_is_not_attempted_yet(name):
    def template(*args):
        ...

    def unwritten(*args):
        raise NotImplementedError

    check = CHECKS[name][0]
    for answer in (template, unwritten, ...):
        verdict = check(answer)
        assert verdict.status == NOT_ATTEMPTED, verdict.line
        assert verdict.line.startswith("Not attempted yet: ")


def test_a_right_loss_with_a_template_gradient_says_the_loss_is_right():
    def gradient(w, delta_a, T, d, B):
        ...

    verdict = toy_model.check_reduced_loss(reduced_loss, gradient)
    assert verdict.status == NOT_ATTEMPTED
    assert "your loss is right" in verdict.line


# --- Predict, then run: the reader gives numbers --------------------------------------------


def test_plateau_ratio_accepts_sqrt_d_and_rejects_linear_d():
    assert introduction.check_plateau_ratio(2.0).correct
    verdict = introduction.check_plateau_ratio(4.0)
    assert verdict.status == WRONG and "too large" in verdict.line and "ratio of 2.0" in verdict.line
    assert "positive" in introduction.check_plateau_ratio(-1.0).line


def test_linearized_w_accepts_sinh_and_rejects_linear_growth():
    assert toy_model.check_linearized_w(math.sinh(1)).correct
    for wrong in (1.0, math.e / 2, 8.0):
        verdict = toy_model.check_linearized_w(wrong)
        assert verdict.status == WRONG and "gives w = 1.19" in verdict.line


def test_repetition_race_accepts_the_rates_ratio_and_rejects_the_wrong_winner_or_factor():
    ratio = reduced.linear_rate(512, 256, p=0.5) / reduced.linear_rate(512, 256, B=2)
    assert repetition.check_repetition_race("p", ratio).correct
    assert "p = 0.5 escapes first" in repetition.check_repetition_race("B", ratio).line
    assert "off by more than a factor 2" in repetition.check_repetition_race("p", ratio**3).line
    assert "should be \"B\" or \"p\"" in repetition.check_repetition_race("q", ratio).line
    assert repetition.check_repetition_race(..., ratio).status == NOT_ATTEMPTED
    assert repetition.check_repetition_race("p", ...).status == NOT_ATTEMPTED


def test_forecast_accepts_the_power_law_and_rejects_the_linearization_log():
    cheap = reduced.plateau_length(64, 16)
    assert beyond.check_forecast(cheap * 256).correct
    by_escape = cheap * reduced.escape_time(4096, 256) / reduced.escape_time(64, 16)
    assert "its logarithm is not in the true plateau" in beyond.check_forecast(by_escape).line
    assert "close to a power law sqrt(d) T" in beyond.check_forecast(cheap * 16).line


@pytest.mark.parametrize("check", [introduction.check_plateau_ratio, toy_model.check_linearized_w,
                                   beyond.check_forecast])
def test_a_number_left_as_ellipsis_or_of_the_wrong_type(check):
    assert check(...).status == NOT_ATTEMPTED
    assert "should be a number" in check("two").line
    assert "should be a number" in check([1.0, 2.0]).line


def test_verdict_shows_nothing_more_in_a_notebook():
    verdict = Verdict("x", CORRECT, "Correct: yes")
    assert verdict._ipython_display_() is None and str(verdict) == "Correct: yes"


def test_checkers_answer_any_number_even_one_beyond_float():
    """Issue 27: an int too large for a float, or an array where a word is expected, gets "Not yet"."""
    from sparse_attention_lab.exercises import introduction, repetition

    assert not introduction.check_plateau_ratio(10**400).correct
    assert not repetition.check_repetition_race(np.array(["B", "p"]), 2.0).correct
