"""Chapter 3's companion page: the width table and figure, the ablation table and sentences."""

import matplotlib

matplotlib.use("Agg")

from sparse_attention_lab.analysis import paper  # noqa: E402
from sparse_attention_lab.analysis.ablation import READINGS, ablation_rows  # noqa: E402
from sparse_attention_lab.analysis.width import width_fits  # noqa: E402
from sparse_attention_lab.views import microscope  # noqa: E402
from tests.test_analysis import _curve, _record, _width_records  # noqa: E402


def test_width_table_figure_and_sentences_name_every_width_and_the_paper():
    law = paper.law("Fig. 3")
    fits = width_fits({32: _width_records(32, 1.5), 256: _width_records(256, 1.0)})
    B_records = {w: [_record({"T": 64, "d": d, "B": B, "d_model": w, "max_steps": 10**6}, s, _curve(20 * d / B, n=200))
                     for d in (4, 8) for B in (1, 2) for s in range(3)] for w in (32, 256)}
    fits_B = width_fits(B_records, "B and d", measure="test")
    table = microscope.width_table(fits, fits_B, law)
    assert [row[0][:9] for row in table.rows] == ["width 32,", "width 256", "paper (Fi"]
    assert "SE)" in table.rows[0][2] and table.rows[-1][2] == "+1.29"
    fig = microscope.width_figure(fits, fits_B, law)
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()
    lines = microscope.width_sentences(fits, fits_B, law)
    assert len(lines) == 3 and lines[0].startswith("d:") and "width 32 to 256" in lines[0]


def test_ablation_table_marks_the_reference_and_the_resolved_moves():
    records = [_record({"T": T, "d": d, "max_steps": 400, **extra}, s, _curve(d * T / 8 * (3 if extra else 1)))
               for T in (32, 64) for d in (8, 16) for s in range(3) for extra in ({}, {"init": "pytorch"})]
    rows = ablation_rows(records)
    for reference in READINGS:
        table = microscope.ablation_table(rows, reference)
        assert table.rows[0][2] == "1 (the reference)"
        assert "slower" in table.rows[1][2] and reference in table.caption
        sentences = microscope.ablation_sentences(rows, reference)
        assert "PyTorch initialisation" in sentences[1]
