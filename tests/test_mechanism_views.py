"""Figures of chapter 3's mechanism section and chapter 4's 4-layer recall: they draw from real
(tiny) runs and every axis is labelled."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sparse_attention_lab.analysis.mechanism import lead_rows  # noqa: E402
from sparse_attention_lab.experiments import mechanism, recall_layers  # noqa: E402
from sparse_attention_lab.views import mechanism as views  # noqa: E402
from sparse_attention_lab.views import recall_layers as recall_views  # noqa: E402

TINY = {"d_model": 16, "n_heads": 2, "d_qk": 8, "mlp_factor": 2, "max_steps": 200, "eval_every": 20,
        "eval_size": 32, "lr": 3e-3, "T": 8, "d": 4, "stop_margin": None}


@pytest.fixture(scope="module")
def records():
    runs = []
    for overrides in ({}, {"T": 12, "d": 8}):
        runs += mechanism.run({**TINY, **overrides}, seeds=[0, 1])
    return runs


def assert_labelled(fig):
    """Every panel has an x label, the first a y label (panels may share it)."""
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert panels[0].get_ylabel()
    assert all(ax.get_xlabel() for ax in panels)
    plt.close(fig)


def test_alignment_and_lead_figures(records):
    assert_labelled(views.alignment_and_attention(records, [(8, 4), (12, 8)]))
    rows = lead_rows(records)
    assert len(rows) == 2 and all(row["seeds"] == 2 for row in rows)
    assert_labelled(views.lead_figure(rows))
    with pytest.raises(ValueError, match="no run"):
        views.alignment_and_attention(records, [(99, 4)])


def test_shortcut_B_and_fig14_figures():
    base = {**TINY, "max_steps": 60}
    shortcut = []
    for overrides in ({"p": 0.0}, {"p": 0.5}, {"p": 0.5, "signed_repeat": True}):
        shortcut += mechanism.run({**base, **overrides}, seeds=[0])
    assert_labelled(views.shortcut_figure(shortcut, d=4))
    B_runs = mechanism.run({**base, "B": 2}, seeds=[0]) + mechanism.run(base, seeds=[0])
    assert_labelled(views.attention_against_B(B_runs))
    fig14 = []
    for feature in (True, False):
        for d in (4, 8):
            fig14 += mechanism.run({**base, "position": "fixed", "feature": feature, "d": d, "max_steps": 200,
                                    "eval_every": 50}, seeds=[0])
    assert_labelled(views.fig14_figure(fig14))


def test_exponent_against_scale_figure():
    local = [{"T": 22.6, "d": 5.7, "T_pair": (16, 32), "d_pair": (4, 8), "a": 0.8, "a_se": 0.1, "b": 0.4, "b_se": 0.1},
             {"T": 22.6, "d": 11.3, "T_pair": (16, 32), "d_pair": (8, 16), "a": 1.0, "a_se": 0.1, "b": 0.5, "b_se": 0.1}]
    assert_labelled(views.exponent_against_scale(local, {"d": 1.29, "T": 0.8}, {"d": (0.9, 0.05), "T": (0.45, 0.05)}))
    wide = [{**local[1], "a": 1.2}]
    fig = views.exponent_against_scale(local, {"d": 1.29, "T": 0.8}, wide=wide)
    assert_labelled(fig)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "width 64, T = 16-32" in labels and "width 32, T = 16-32" in labels


def test_recall_layer_figures():
    tiny = {"n_pairs": 3, "n_tokens": 8, "n_layers": 4, "n_heads": 2, "d_model": 16, "d_qk": 8, "mlp_factor": 2,
            "lr": 3e-3, "max_steps": 60, "eval_every": 20, "eval_size": 32, "escape_accuracy": 0.5}
    runs = recall_layers.run(tiny, seeds=[0, 1]) + recall_layers.run({**tiny, "B": 2.0, "stop_margin": None}, seeds=[0])
    assert_labelled(recall_views.emergence_against_threshold(runs))
    assert_labelled(recall_views.attention_by_layer(runs[0]))
    assert_labelled(recall_views.long_runs(runs))
    fig = recall_views.layer_head_attention(runs[0], 30, "title")
    assert [ax.get_title() for ax in fig.axes[:2]] == ["copy attention", "selection attention"]
    plt.close(fig)
