"""The figures of the introduction and chapters 1, 2 and 4 draw what they are given (views.toy_figures,
views.repetition_figures, views.recall_figures.emergence_grid_figure)."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from sparse_attention_lab.analysis.recall import (
    emergence_law,  # noqa: E402
    emergence_rows,  # noqa: E402
)
from sparse_attention_lab.fitting import fit_power_law  # noqa: E402
from sparse_attention_lab.theory import reduced  # noqa: E402
from sparse_attention_lab.theory.gradient_signal import initial_gradient  # noqa: E402
from sparse_attention_lab.views import recall_figures, repetition_figures, toy_figures  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_initial_gradient_figure_draws_samples_and_closed_forms():
    results = [initial_gradient(T, 4, samples=64, batch_size=32) for T in (4, 8, 16)]
    ax = toy_figures.initial_gradient_figure(results).axes[0]
    assert len(ax.lines) == 5 and ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="one d"):
        toy_figures.initial_gradient_figure(results + [initial_gradient(4, 8, samples=64)])


def test_toy_figures_of_chapter_1():
    T, d = 32, 16
    run = reduced.reduced_dynamics(T, d, t_max=3 * reduced.plateau_length(T, d), n_points=200)
    assert [len(ax.lines) for ax in toy_figures.plateau_figure(run, T, d, d_curves=(4, 16)).axes] == [2, 3, 3]
    assert len(toy_figures.landscape_figure(run, T, d).axes[0].lines) == 3
    runs = {T_: reduced.reduced_dynamics(T_, d, t_max=reduced.escape_time(T_, d), n_points=50) for T_ in (16, 32)}
    assert [len(ax.lines) for ax in toy_figures.linearization_figure(runs, d).axes] == [5, 5]
    Tg, dg = np.meshgrid([16, 32, 64], [4, 16], indexing="ij")
    plateaus = reduced.plateau_lengths(Tg, dg)
    fig = toy_figures.power_law_figure(Tg, dg, plateaus, fit_power_law(plateaus, T=Tg, d=dg))
    assert [len(ax.lines) for ax in fig.axes] == [4, 6]
    with pytest.raises(ValueError, match="2-d"):
        toy_figures.power_law_figure(Tg.ravel(), dg.ravel(), plateaus.ravel(), None)
    assert [len(ax.lines) for ax in toy_figures.late_phase_figure(run, T, d, T_values=(16, 32)).axes] == [4, 2, 3]
    sgd = {"steps": np.arange(5), "loss": np.ones((2, 5)), "alpha": np.ones((2, 5)), "w": np.ones((2, 5))}
    assert [len(ax.lines) for ax in toy_figures.sgd_figure(sgd, run, 1.0, "t").axes] == [3, 3, 3]


def test_repetition_figures_of_chapter_2():
    B, d = (a.ravel() for a in np.meshgrid([1, 2], [16, 64], indexing="ij"))
    plateau = reduced.plateau_lengths(256, d, B)
    fit = fit_power_law(plateau, T=np.full(B.shape, 256), B=B, d=d, tied={"T": 1, "B": -1})
    assert len(repetition_figures.in_context_figure(B, d, plateau, fit, T=256).axes[0].lines) == 4
    fig = repetition_figures.reduction_figure({"a": ([1, 2], [10, 5]), "b": ([1, 2], [10, 7])})
    assert len(fig.axes[0].lines) == 5
    with pytest.raises(ValueError, match="curves"):
        repetition_figures.reduction_figure({})
    p = np.array([0.0, 0.0, 0.5, 0.5])
    f = np.sqrt(d) * 256 / reduced.repetition_speedup(d, p)
    tied = fit_power_law(plateau, d=d, T=np.full(4, 256), s=f / (np.sqrt(d) * 256), tied={"d": 0.5, "T": 1, "s": 1})
    fig = repetition_figures.cross_sample_figure(d, p, f, plateau, tied, "fit", paper=(2.15, 1.02), T=256)
    assert [len(ax.lines) for ax in fig.axes] == [2, 4]
    flows = {p_: reduced.reduced_dynamics(64, 16, p=p_, t_max=500, n_points=50) for p_ in (0.0, 0.5)}
    assert [len(ax.lines) for ax in repetition_figures.three_variable_figure(flows, 64, 16).axes] == [3, 3, 2]
    fig = repetition_figures.settling_figure(flows, {0.0: 10.0, 0.5: 20.0}, 1e-4, 64, 16)
    assert [len(ax.lines) for ax in fig.axes] == [3, 2]
    with pytest.raises(ValueError, match="p = 0"):
        repetition_figures.settling_figure(flows, {0.5: 20.0}, 1e-4, 64, 16)


def test_emergence_grid_figure_draws_runs_and_the_joint_fit():
    records = []
    for n_pairs in (2, 4):
        for n_tokens in (16, 32):
            for seed in (0, 1):
                step = 2.0 * n_tokens**0.5 * n_pairs**2 + 5 * seed
                records.append({"config": {"n_pairs": n_pairs, "n_tokens": n_tokens}, "seed": seed, "diverged": False,
                                "steps": [0, step, 2 * step], "test_acc": [0, 0.5, 1]})
    law, _ = emergence_law(records, 0.5)
    fig = recall_figures.emergence_grid_figure(emergence_rows(records, 0.5), law, 0.5)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2] and [len(ax.collections) for ax in fig.axes] == [2, 2]
