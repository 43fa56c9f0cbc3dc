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
