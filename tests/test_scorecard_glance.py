"""The summary page's grouping of scorecard rows by the paper's figures (views.scorecard)."""

import json

import pytest

from sparse_attention_lab.views.scorecard import (
    Row,
    Scorecard,
    figure_of,
    glance_groups,
    glance_html,
    load_rows,
)


def row(what: str, chapter: str, section: str = "s", verdict: str = "holds") -> Row:
    return Row(what=what, paper="p", ours="o", scale="ci", verdict=verdict, section=section, chapter=chapter)


def test_figure_of_reads_the_first_figure_named():
    assert figure_of(row("Fig. 1c: exponent of T", "a")) == 1
    assert figure_of(row("Fig. 16: faster on Fig. 5's data", "a")) == 16
    assert figure_of(row("Figure 9, SGD", "a")) == 9
    assert figure_of(row("Sec. 2.2: no gradient while W = 0", "a")) is None
    assert figure_of(row("Configuration of the run", "a")) is None  # "fig" inside a word is no figure


def test_groups_come_in_figure_order_then_the_rest_by_chapter():
    rows = [row("Fig. 10: a", "02_b"), row("Sec. 1: x", "05_e"), row("Fig. 2 left: b", "02_b"),
            row("Fig. 2 right: c", "03_c"), row("Eq. 5: y", "00_intro")]
    groups = glance_groups(rows)
    assert [title for title, _ in groups] == ["Figure 2", "Figure 10", "Outside the figures: e", "Outside the figures: intro"]
    assert [r.what for r in groups[0][1]] == ["Fig. 2 left: b", "Fig. 2 right: c"]  # rows keep their order
    assert sum(len(members) for _, members in groups) == len(rows)


def test_glance_html_links_every_row_to_its_chapter_section_and_counts_verdicts():
    rows = [row("Fig. 1 <b>", "01_toy", "ch1-fig1"), row("Fig. 1: no", "01_toy", "", verdict="does not hold")]
    page = glance_html(rows)
    assert '<a href="01_toy.html#ch1-fig1">Fig. 1 &lt;b&gt;</a>' in page  # escaped, linked to its anchor
    assert '<a href="01_toy.html">Fig. 1: no</a>' in page  # no section: the chapter itself
    assert "2 rows from 1 chapters: 1 holds, 1 does not hold." in page
    assert page.count("<h3>") == 1
    with pytest.raises(ValueError, match="rows"):
        glance_html([])


def test_load_rows_reads_what_save_writes(tmp_path):
    card = Scorecard("01_toy")
    card.check("Fig. 9: tracks", paper="yes", ours="×1.1", holds=True, scale="ci", section="ch1-fig9")
    card.save(tmp_path)
    (tmp_path / "scorecard_00_intro.json").write_text(json.dumps([row("Eq. 5", "00_intro").__dict__]))
    loaded = load_rows(tmp_path)
    assert [r.chapter for r in loaded] == ["00_intro", "01_toy"]
    assert loaded[1].section == "ch1-fig9"


def test_chapters_write_to_book_data_in_a_checkout_else_to_the_working_directory(tmp_path, monkeypatch):
    from sparse_attention_lab.runs import book_data

    monkeypatch.delenv("SAL_MAX_STEPS", raising=False)
    monkeypatch.delenv(book_data.RESULTS_DIR_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert book_data.results_dir() == book_data.CANDIDATES[1]  # this checkout's book/data
    monkeypatch.setenv(book_data.RESULTS_DIR_VAR, str(tmp_path / "chosen"))  # the tests' own folder
    assert book_data.results_dir() == tmp_path / "chosen"
    monkeypatch.delenv(book_data.RESULTS_DIR_VAR)
    monkeypatch.setenv("SAL_MAX_STEPS", "10")  # capped numbers are not the book's results
    assert book_data.results_dir() == tmp_path / "sal_results"
    monkeypatch.delenv("SAL_MAX_STEPS")
    monkeypatch.setattr(book_data, "CANDIDATES", (book_data.CANDIDATES[0], tmp_path / "no_checkout"))
    assert book_data.results_dir() == tmp_path / "sal_results"  # an installed package (Colab)


def test_summary_shows_a_chapter_run_here_in_place_of_the_books(tmp_path, monkeypatch):
    from sparse_attention_lab.runs import book_data
    from sparse_attention_lab.views import scorecard

    shipped, local = tmp_path / "shipped", tmp_path / "local"
    shipped.mkdir()
    for chapter in ("00_intro", "01_toy"):
        (shipped / f"scorecard_{chapter}.json").write_text(json.dumps([row("book's", chapter).__dict__]))
    monkeypatch.setattr(scorecard, "data_dir", lambda: shipped)
    monkeypatch.setattr(scorecard, "results_dir", lambda: local)
    assert [r.what for r in load_rows()] == ["book's", "book's"]  # nothing run here yet (no folder)
    card = Scorecard("01_toy")
    card.check("run here", paper="yes", ours="yes", holds=True, scale="gpu", section="s")
    assert card.save() == local / "scorecard_01_toy.json"  # the folder is made
    assert [(r.chapter, r.what) for r in load_rows()] == [("00_intro", "book's"), ("01_toy", "run here")]
    assert book_data.LOCAL_RESULTS == "sal_results"
