"""Scorecards: verdicts computed from the numbers, rows saved and gathered for the summary page."""

import json

import numpy as np
import pytest

from sparse_attention_lab.fitting import PowerLawFit, fit_power_law
from sparse_attention_lab.views.scorecard import Scorecard, exponent_verdict, load_rows, rows_html


@pytest.mark.parametrize(
    ("estimate", "stderr", "paper", "verdict"),
    [
        (0.78, 0.05, 0.80, "agrees"),
        (0.40, 0.05, 0.80, "same sign"),
        (-0.40, 0.05, 0.80, "opposite sign"),
        (-0.11, 0.16, -0.80, "unresolved"),
        (0.30, float("nan"), 0.80, "unresolved"),
    ],
)
def test_exponent_verdict(estimate, stderr, paper, verdict):
    assert exponent_verdict(estimate, stderr, paper) == verdict


def fit_with(exponent: float, stderr: float) -> PowerLawFit:
    return PowerLawFit(1.0, {"T": exponent}, 0.95, 12, {"T": (16.0, 32.0)}, {"T": stderr})


def test_bootstrap_error_widens_the_interval():
    card = Scorecard("99_test")
    tight = card.exponent("T", paper=0.8, fit=fit_with(0.6, 0.05), feature="T", scale="ci")
    loose = card.exponent("T", paper=0.8, fit=fit_with(0.6, 0.05), feature="T", scale="ci", bootstrap=0.15)
    assert tight.verdict == "same sign" and loose.verdict == "agrees"
    assert "± 0.15" in loose.ours
    assert "0.600 ± 0.050" in tight.ours


def test_rows_of_each_kind_and_bad_arguments():
    card = Scorecard("99_test")
    assert card.value("w_inf", paper=8.0, ours=8.2, rel_tol=0.05, scale="exact").verdict == "agrees"
    assert card.value("w_inf", paper=8.0, ours=9.0, rel_tol=0.05, scale="exact").verdict == "differs"
    assert card.check("one head", paper="yes", ours="2 of 3 seeds", holds=False, scale="ci").verdict == "does not hold"
    with pytest.raises(ValueError, match="feature"):
        card.exponent("x", paper=1.0, fit=fit_with(1.0, 0.1), feature="d", scale="ci")
    with pytest.raises(ValueError, match="holds"):
        card.check("x", paper="yes", ours="yes", holds="yes", scale="ci")
    with pytest.raises(ValueError, match="chapter"):
        Scorecard("")


def test_save_and_load_round_trip(tmp_path):
    T = np.array([16, 32, 64, 128, 16, 32, 64, 128])
    fit = fit_power_law(3 * T**0.8 * np.array([1, 1.02, 0.98, 1, 1.01, 0.99, 1, 1.03]), T=T)
    card = Scorecard("03_x")
    card.exponent("plateau vs T", paper=0.8, fit=fit, feature="T", scale="ci", section="fig3")
    path = card.save(tmp_path)
    assert json.loads(path.read_text())[0]["verdict"] == "agrees"
    rows = load_rows(tmp_path)
    assert [r.chapter for r in rows] == ["03_x"]
    assert '<a href="03_x.html#fig3">' in rows_html(rows, link=True)
    assert "<table" in card._repr_html_()


@pytest.mark.parametrize(("estimate", "stderr", "verdict"), [
    (-0.5, 0.1, "holds"), (0.5, 0.1, "does not hold"),
    (-0.15, 0.1, "unresolved"),  # the mean points the paper's way, the noise does not resolve it
])
def test_a_stated_direction_is_judged_by_the_two_standard_error_rule(estimate, stderr, verdict):
    card = Scorecard("test")
    row = card.direction("g < 0", paper="repetition helps", estimate=estimate, stderr=stderr, expected="below",
                         ours=f"{estimate}", scale="toy")
    assert row.verdict == verdict
    with pytest.raises(ValueError, match="expected"):
        card.direction("x", paper="", estimate=1.0, stderr=0.1, expected="up", ours="", scale="")
