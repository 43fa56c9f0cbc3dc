"""Issue 28: the summary page off the book (Colab): local rows marked, capped runs left out, links
to the hosted book."""

import json
from pathlib import Path

import yaml

from sparse_attention_lab.runs import book_data
from sparse_attention_lab.views import scorecard
from sparse_attention_lab.views.scorecard import (
    HOSTED_BOOK,
    LOCAL_RUN,
    Row,
    Scorecard,
    load_rows,
    section_href,
)

REPO = Path(__file__).resolve().parents[1]


def test_the_hosted_book_is_the_pages_site_of_the_configured_repository():
    owner, name = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"].rstrip("/").split("/")[-2:]
    assert HOSTED_BOOK == f"https://{owner}.github.io/{name}/"


def test_links_are_relative_in_the_book_and_hosted_elsewhere(monkeypatch, tmp_path):
    row = Row("w", "1", "1", "s", "agrees", section="sec", chapter="02_repetition")
    assert section_href(row) == "02_repetition.html#sec"
    monkeypatch.setattr(scorecard, "CHECKOUT", tmp_path)  # an installed package: no _config.yml above it
    assert section_href(row) == f"{HOSTED_BOOK}book/02_repetition.html#sec"


def test_local_rows_are_marked_and_capped_scorecards_never_enter(monkeypatch, tmp_path):
    book, local = tmp_path / "book", tmp_path / "local"
    book.mkdir()
    row = {"what": "w", "paper": "1", "ours": "1", "scale": "ci", "verdict": "agrees", "chapter": "01_toy_model"}
    (book / "scorecard_00_introduction.json").write_text(json.dumps([row | {"chapter": "00_introduction"}]))
    (book / "scorecard_01_toy_model.json").write_text(json.dumps([row]))
    monkeypatch.setattr(scorecard, "data_dir", lambda: book)
    monkeypatch.setattr(scorecard, "results_dir", lambda: local)
    monkeypatch.setenv("SAL_MAX_STEPS", "300")
    card = Scorecard("01_toy_model")
    card.check("w", "1", "0", False, "ci")
    assert card.save(local).name == "capped_scorecard_01_toy_model.json"
    assert [r.scale for r in load_rows()] == ["ci", "ci"]  # the capped run left the book's rows alone
    monkeypatch.delenv("SAL_MAX_STEPS")
    card.save(local)
    rows = load_rows()
    assert rows[0].scale == "ci" and rows[1].scale == f"ci; {LOCAL_RUN} ({local})" and rows[1].verdict == "does not hold"
    assert book_data.LOCAL_RESULTS == "sal_results"
