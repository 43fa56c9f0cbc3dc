"""Chapter 4's measures on recall runs (analysis.recall), the query-kind probe
(training.probes.QueryKindProbe) and chapter 4's figures (views.recall_figures)."""

import math

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from sparse_attention_lab.analysis import recall as analysis  # noqa: E402
from sparse_attention_lab.experiments import recall_summary  # noqa: E402
from sparse_attention_lab.tasks import AssociativeRecall  # noqa: E402
from sparse_attention_lab.training.probes import QueryKindProbe  # noqa: E402
from sparse_attention_lab.views import recall_figures  # noqa: E402
from sparse_attention_lab.views.scorecard import Scorecard  # noqa: E402

STEPS = [0, 100, 200, 300, 400]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def run(n_pairs=4, n_tokens=16, B=1.0, p=0.0, seed=0, test=(0.0, 0.1, 0.3, 0.6, 0.9), train=None):
    return {"config": {"n_pairs": n_pairs, "n_tokens": n_tokens, "B": B, "p": p}, "seed": seed, "diverged": False,
            "steps": STEPS, "test_acc": list(test), "train_acc": list(train or test), "escape_step": None}


def test_emergence_law_recovers_a_power_law_with_a_bootstrap_over_seeds():
    records = []
    for n_pairs in (2, 4, 8):
        for n_tokens in (16, 32, 64):
            for seed in range(3):
                step = 3.0 * n_tokens**0.5 * n_pairs**2 * (1 + 0.05 * seed)
                records.append({**run(n_pairs, n_tokens, seed=seed), "steps": [0, step, 2 * step], "test_acc": [0, 0.5, 1]})
    law, boot = analysis.emergence_law(records, 0.5)
    assert law.exponents["N_pairs"] == pytest.approx(2, abs=1e-6) and law.exponents["N_tokens"] == pytest.approx(0.5, abs=1e-6)
    assert set(boot) == {"N_tokens", "N_pairs"} and all(v < 0.05 for v in boot.values())
    with pytest.raises(ValueError, match="accuracy"):
        analysis.emergence_law(records, 2.0)


def test_emergence_by_threshold_and_repetition_summary():
    base = run(test=(0, 0.1, 0.3, 0.6, 0.9))
    fast = run(B=2.0, test=(0, 0.3, 0.5, 0.6, 0.7), train=(0, 0.8, 0.9, 1.0, 1.0))
    by = analysis.emergence_by_threshold([base, fast], [0.1, 0.6], "test")
    assert by[(1.0, 0.0)] == pytest.approx([100, 300]) and by[(2.0, 0.0)] == pytest.approx([100 / 3, 300])
    assert math.isinf(analysis.emergence_by_threshold([base], [0.95])[(1.0, 0.0)][0])
    summary = analysis.repetition_summary([base, fast], accuracy=0.5)
    assert summary[(2.0, 0.0)]["test_speedup"] == pytest.approx((200 + 100 * 0.2 / 0.3) / 200)
    assert summary[(2.0, 0.0)]["gap"] == pytest.approx(0.5) and summary[(2.0, 0.0)]["final_test"] == 0.7
    with pytest.raises(ValueError, match="B = 1, p = 0"):
        analysis.repetition_summary([fast], accuracy=0.5)


def test_repetition_rows_judge_paired_speedups_by_the_two_standard_error_rule():
    def seeds(B=1.0, p=0.0, test=(0, 0.1, 0.3, 0.6, 0.9), train=None, shift=(0.0, 0.0, 0.0)):
        return [run(B=B, p=p, seed=k, test=tuple(min(1.0, a + shift[k] * (i > 0)) for i, a in enumerate(test)),
                    train=train) for k in range(3)]

    base = seeds()
    fast = seeds(B=2.0, test=(0, 0.3, 0.6, 0.8, 0.9), train=(0, 0.8, 0.9, 1.0, 1.0))
    noisy = seeds(p=0.5, test=(0, 0.1, 0.3, 0.6, 0.9), train=(0, 0.8, 0.9, 1.0, 1.0), shift=(0.25, -0.05, 0.0))
    card = Scorecard("04_test")
    recall_figures.add_repetition_rows(card, base + fast + noisy, 0.5, section="s", scale="toy")
    verdicts = {r.what: r.verdict for r in card.rows}
    assert verdicts["Fig. 5: the smallest in-context repetition B speeds learning on test data"] == "holds"
    assert verdicts["Fig. 16: in-context repetition B speeds learning on the training distribution"] == "holds"
    # one seed of p = 0.5 is faster, one slower: the mean points one way, the seeds do not
    assert verdicts["Fig. 5: the smallest cross-sample repetition p speeds learning on test data"] == "unresolved"
    assert all("±" in r.ours for r in card.rows) and "threshold not stated" in card.rows[0].paper


def test_half_rise_largest_drop_and_plateau_levels():
    record = {"steps": STEPS, "probes": {"copy": [[[0.1, 0.2]], [[0.1, 0.3]], [[0.1, 0.6]], [[0.1, 0.9]], [[0.1, 1.0]]]}}
    assert analysis.half_rise_step(record, "copy", 0) == pytest.approx(200 + 100 * (0.6 - 0.6) / 0.3)
    assert analysis.largest_drop([0.1, 0.5, 0.3, 0.6]) == pytest.approx(0.2)
    assert analysis.largest_drop([0.1, 0.2, 0.3]) == 0
    levels = analysis.plateau_levels([run(), run(seed=1, test=(0, 0, 0, 0, 0))], accuracy=0.6)
    assert levels == [{"n_pairs": 4, "n_tokens": 16, "seeds": 2, "reached": 1, "plateau_accuracy": pytest.approx(0.2),
                       "early_step": pytest.approx(50), "step": pytest.approx(300)}]


class Oracle(torch.nn.Module):
    """A fake ensemble that answers right only when the query is one of ``known``."""

    def __init__(self, task, known):
        super().__init__()
        self.n_models, self.task, self.known, self.w = 2, task, known, torch.nn.Parameter(torch.zeros(1))

    def forward(self, tokens):  # (E, batch, T) -> (E, batch, n_tokens)
        logits = torch.zeros(*tokens.shape[:-1], self.task.n_tokens)
        for e in range(tokens.shape[0]):
            for b in range(tokens.shape[1]):
                query = tokens[e, b, -1]
                keys = tokens[e, b, :-1:2]
                slot = int(torch.nonzero(keys == query)[0])
                answer = tokens[e, b, 2 * slot + 1] if int(query) in self.known else (tokens[e, b, 2 * slot + 1] + 1) % self.task.n_tokens
                logits[e, b, answer] = 1
        return logits


def test_query_kind_probe_splits_accuracy_between_repeated_and_other_queries():
    task = AssociativeRecall(n_pairs=4, n_tokens=12, p=0.5)
    probe = QueryKindProbe(task, n_sequences=32)
    assert set(probe.repeated[0][:, -1].tolist()) <= set(task.repeated_tokens)
    assert not set(probe.other[0][:, -1].tolist()) & set(task.repeated_tokens)
    out = probe(Oracle(task, set(task.repeated_tokens)), step=0)
    assert out["repeated"].tolist() == [1.0, 1.0] and out["other"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="n_sequences"):
        QueryKindProbe(task, n_sequences=0)
    with pytest.raises(ValueError, match="probe"):
        recall_summary.run_with_query_kinds({}, [0], probe=probe)


def test_query_kind_steps_and_figure():
    records = [{**run(p=0.5, seed=s), "probes": {"repeated": [0, 0.6, 0.9, 1, 1], "other": [0, 0, 0.3, 0.6, 0.9]}} for s in (0, 1)]
    assert analysis.query_kind_steps(records, 0.6) == {0.5: pytest.approx((100, 300))}
    assert len(recall_figures.query_kind_figure(records).axes[0].lines) == 2


def test_recall_figures_draw_from_records():
    task = AssociativeRecall(n_pairs=4, n_tokens=16)
    probes = {name: np.full((5, 2, 3), 0.2).tolist() for name in ("copy", "selection", "induction")}
    live = [{**run(seed=s), "probes": probes, "escape_step": 250.0} for s in (0, 1)]
    fig = recall_figures.live_run_figure(live, task, 0.5)
    assert [len(ax.lines) for ax in fig.axes] == [4, 7, 8, 7]  # 6 heads, the threshold step, the uniform line
    grid = [run(n, 16, seed=0) for n in (2, 4)] + [run(4, 32, seed=0)]
    assert [len(ax.lines) for ax in recall_figures.grid_curves_figure(grid, 0.5, n_tokens=16, n_pairs=4).axes] == [3, 3]
    rep = [run(), run(B=2.0), run(p=0.5)]
    assert [len(ax.lines) for ax in recall_figures.repetition_curves_figure(rep).axes] == [2, 2, 2, 2]
    by = analysis.emergence_by_threshold(rep, [0.1, 0.5])
    assert [len(ax.lines) for ax in recall_figures.threshold_figure(by, by, [0.1, 0.5]).axes] == [4, 4]
    assert recall_figures.sequence_text([0, 1, 2, 3, 30]) == "AB CD | <30>"
