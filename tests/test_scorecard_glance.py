"""The summary page's grouping of scorecard rows by the paper's figures (views.scorecard)."""

import json

import pytest

from sparse_attention_lab.analysis.verdicts import NOT_MEASURED, figure_verdict
from sparse_attention_lab.views.scorecard import (
    Row,
    Scorecard,
    figure_of,
    figure_verdicts,
    figures_html,
    glance_groups,
    glance_html,
    glance_paragraph,
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


def test_glance_html_links_every_row_to_its_chapter_section_folded_by_figure():
    rows = [row("Fig. 1 <b>", "01_toy", "ch1-fig1"), row("Fig. 1: no", "01_toy", "", verdict="does not hold"),
            row("Sec. 4: x", "05_beyond")]
    page = glance_html(rows)
    assert '<a href="01_toy.html#ch1-fig1">Fig. 1 &lt;b&gt;</a>' in page  # escaped, linked to its anchor
    assert '<a href="01_toy.html">Fig. 1: no</a>' in page  # no section: the chapter itself
    assert page.count('<table class="scorecard">') == page.count("<details") == 2  # every row stays in the page
    assert '<details class="scorecard-group" id="figure-1"><summary>Figure 1: differs (2 rows)</summary>' in page
    assert "<summary>Outside the figures: beyond (1 row)</summary>" in page
    with pytest.raises(ValueError, match="rows"):
        glance_html([])


@pytest.mark.parametrize(("verdicts", "expected"), [
    ([], NOT_MEASURED),
    ([NOT_MEASURED, NOT_MEASURED], NOT_MEASURED),
    (["close", "close", "holds"], "reproduced"),
    (["close", "agrees", "same sign"], "reproduced"),  # most meet the paper, the rest follow its direction
    (["agrees", "same sign", "same sign"], "reproduced qualitatively"),  # most only follow it
    (["holds", "holds", "unresolved"], "reproduced qualitatively"),
    (["holds", NOT_MEASURED], "reproduced qualitatively"),  # a part not measured
    (["holds", "holds", "does not hold"], "reproduced qualitatively"),
    (["holds", "does not hold"], "differs"),  # as much against as for
    (["opposite sign", "unresolved"], "differs"),
])
def test_one_verdict_per_figure(verdicts, expected):
    assert figure_verdict(verdicts) == expected


def test_figure_verdict_refuses_unknown_verdicts():
    with pytest.raises(ValueError, match="verdicts"):
        figure_verdict(["agrees", "fine"])


def test_every_paper_figure_gets_one_line_and_the_paragraph_counts_them():
    rows = [row("Fig. 1c: T", "01_toy", "ch1-fig1c", "close"), row("Fig. 1b: w first", "01_toy", "ch1-fig1ab"),
            row("Fig. 3: d", "03_tr", "ch3-fig3", "same sign"), row("Fig. 3: T", "03_tr", "ch3-fig3", "agrees"),
            row("Fig. 3: L", "03_tr", "ch3-fig3", "opposite sign"), row("Fig. 4: N", "04_ar", "", NOT_MEASURED),
            row("Sec. 1: forecasts", "05_b", "ch5", "does not hold")]
    verdicts = figure_verdicts(rows)
    assert list(verdicts) == list(range(1, 18))
    assert (verdicts[1], verdicts[3], verdicts[4], verdicts[2]) == (
        "reproduced", "reproduced qualitatively", NOT_MEASURED, NOT_MEASURED)
    table = figures_html(rows)
    assert table.count("<tr>") == 18  # a header and 17 figures
    assert '<a href="#figure-3">Fig. 3</a>' in table and '<a href="03_tr.html#ch3-fig3">tr</a>' in table
    assert "1 same sign, 1 agrees, 1 opposite sign" in table and "no row" in table
    assert glance_paragraph(rows) == (
        "Of the paper's 17 figures, this book reproduces 1 (Fig. 1) at its scale, reproduces 1 (Fig. 3) "
        "qualitatively and has not yet measured 15 (Figs. 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 and 17) "
        "at this scale. Of its 7 scorecard rows, from 4 chapters, 3 meet the paper's number or claim (within two "
        "standard errors, close within a stated tolerance, or a claim that holds), 1 has the paper's sign but "
        "not its size, 2 go against the paper and 1 is not yet measured at this scale.")


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
