"""Scorecards: verdicts computed from the numbers, rows saved and gathered for the summary page."""

import json

import numpy as np
import pytest

from sparse_attention_lab.analysis.verdicts import EXPONENT_TOLERANCE, close
from sparse_attention_lab.fitting import PowerLawFit, fit_power_law
from sparse_attention_lab.views.scorecard import (
    Scorecard,
    exponent_distance,
    exponent_verdict,
    load_rows,
    rows_html,
)


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
    assert card.value("w_inf", paper=8.0, ours=8.2, rel_tol=0.05, scale="exact").verdict == "close"
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


@pytest.mark.parametrize(("estimate", "verdict"), [
    (0.99 - 0.029, "close"), (0.99 + 0.029, "close"),  # just inside the tolerance
    (0.99 - 0.031, "same sign"), (0.99 + 0.031, "same sign"),  # just outside
    (-0.5, "opposite sign"),
])
def test_a_deterministic_exponent_is_close_within_its_tolerance(estimate, verdict):
    assert exponent_verdict(estimate, 1e-4, 0.99, tolerance=0.03) == verdict


def test_a_tiny_standard_error_of_a_deterministic_fit_does_not_decide():
    """The issue's case: the reduced flow's 0.973 +- 0.003 against the paper's 0.99."""
    assert exponent_verdict(0.973, 0.0031, 0.99) == "same sign"  # judged by its standard error
    card = Scorecard("01_toy")
    row = card.exponent("Fig. 1c: exponent of T", paper=0.99, fit=fit_with(0.973, 0.0031), feature="T",
                        scale="reduced flow", deterministic=True)
    assert row.verdict == "close" and EXPONENT_TOLERANCE == 0.03
    assert row.distance == "-0.017 (tolerance 0.03)"
    transformer = card.exponent("Fig. 3: exponent of d", paper=1.29, fit=fit_with(0.87, 0.05), feature="T", scale="ci")
    assert transformer.verdict == "same sign" and transformer.distance == "-8.4 SE, ×0.67"
    with pytest.raises(ValueError, match="deterministic"):
        card.exponent("x", paper=1.0, fit=fit_with(1.0, 0.1), feature="T", scale="ci", deterministic="yes")


def test_each_row_shows_its_distance_to_the_paper():
    assert exponent_distance(0.6, 0.05, 0.8) == "-4.0 SE, ×0.75"
    assert exponent_distance(0.6, float("nan"), 0.0) == ""  # neither a standard error nor a ratio
    card = Scorecard("99_test")
    assert card.value("R²", paper=0.999, ours=1.0, rel_tol=0.001, scale="exact").distance == "×1.001 (tolerance ±0.1%)"
    assert card.direction("g < 0", paper="", estimate=-0.5, stderr=0.1, expected="below", ours="",
                          scale="").distance == "-5.0 SE from 0"
    assert "<small class=\"distance\">×1.001 (tolerance ±0.1%)</small>" in card.to_html()


def test_close_takes_the_larger_of_its_tolerances():
    assert close(1.02, 1.0, abs_tol=0.03) and not close(1.04, 1.0, abs_tol=0.03)
    assert close(10.5, 10.0, rel_tol=0.05) and not close(10.6, 10.0, abs_tol=0.5, rel_tol=0.05)
    assert not close(float("nan"), 1.0, abs_tol=1.0)
    with pytest.raises(ValueError, match="abs_tol"):
        close(1.0, 1.0, abs_tol=-0.1)


def test_key_results_are_glued_without_output_and_skipped_without_myst_nb(monkeypatch):
    import sys

    from sparse_attention_lab.views.glue import key_result

    pytest.importorskip("myst_nb")
    shown = []
    monkeypatch.setattr("myst_nb.ext.glue.ipy_display", lambda data, **kw: shown.append((data, kw["metadata"])))
    key_result("ch1_T_exponent", "0.97")
    ((data, metadata),) = shown
    assert metadata["scrapbook"]["name"] == "ch1_T_exponent"
    assert all(k.startswith("application/papermill") for k in data)  # display=False: hidden in the page
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab
    key_result("ch1_T_exponent", "0.97")
    assert len(shown) == 1
    with pytest.raises(ValueError, match="name"):
        key_result("ch1 T", "0.97")
    with pytest.raises(ValueError, match="text"):
        key_result("ch1_T", 0.97)
