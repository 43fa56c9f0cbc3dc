"""Chapter 3's measures, fits and views: the three clocks, fits with a bootstrap, speed-ups, tables, figures."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sparse_attention_lab.analysis import mechanism  # noqa: E402
from sparse_attention_lab.analysis import regression as analysis  # noqa: E402
from sparse_attention_lab.analysis import steps as step_analysis  # noqa: E402
from sparse_attention_lab.experiments import regression  # noqa: E402
from sparse_attention_lab.fitting import fit_power_law  # noqa: E402
from sparse_attention_lab.measure import escape_step  # noqa: E402
from sparse_attention_lab.runs.book_data import load_cached  # noqa: E402
from sparse_attention_lab.theory import reduced  # noqa: E402
from sparse_attention_lab.views import regression as views  # noqa: E402
from sparse_attention_lab.views.scorecard import Scorecard  # noqa: E402
from sparse_attention_lab.views.tables import Table  # noqa: E402

STEPS = list(range(0, 2001, 25))


def curve(crossing: float, start: float = 0.5) -> list[float]:
    """A loss at ``start`` that falls linearly through 0.1 x ``start`` at step ``crossing``, never below 0.05 x start."""
    return [start if s < crossing - 100 else max(0.05 * start, start * (1 - 0.9 * (s - crossing + 100) / 100))
            for s in STEPS]


def attention(step: float, heads: tuple[float, ...] = (1.0, 0.02)) -> list:
    """Readout attention (evaluations, 1 layer, heads): the first head jumps to ``heads[0]`` at ``step``."""
    return [[[heads[0] if s >= step else 0.01, *heads[1:]]] for s in STEPS]


def record(config: dict, seed: int, test: float, train: float | None = None, attn: float | None = None,
           heads: tuple[float, ...] = (1.0, 0.02)) -> dict:
    """A synthetic run record whose test (and training-distribution) loss cross 0.2 x start near the given steps."""
    out = {"config": config, "seed": seed, "diverged": False, "steps": STEPS,
           "test_loss": curve(test), "train_loss": curve(test if train is None else train)}
    if attn is not None:
        out["probes"] = {"readout_attention": attention(attn, heads)}
    return out


def law(d: float, T: float, B: float = 1.0, seed: int = 0) -> float:
    """Plateau ``30 d^0.9 T^0.4 B^-0.5`` times a seed-dependent factor (the scatter between seeds)."""
    return 30 * d**0.9 * T**0.4 * B**-0.5 * (1.05 if seed else 0.95)


@pytest.fixture(scope="module")
def grid() -> list[dict]:
    """A d x T x B grid, two seeds: the test loss follows ``law`` without B, the training loss with it."""
    return [record({"T": T, "d": d, "B": B}, seed, test=law(d, T, 1, seed), train=law(d, T, B, seed),
                   attn=0.5 * law(d, T, B, seed))
            for T in (16, 32) for d in (4, 8) for B in (1, 2) for seed in (0, 1)]


# ------------------------------------------------------------------------- analysis.steps, mechanism


def test_step_rows_time_each_clock(grid):
    train, test, attn = (step_analysis.step_rows(grid, m, 0.2) for m in ("train", "test", "attention"))
    for r, run in zip(test, grid, strict=True):
        assert r["plateau"] == pytest.approx(escape_step(run, fraction=0.2, curve="test"))
    assert [r["plateau"] for r in attn] == [r["attention_step"] for r in test]
    assert any(a["plateau"] != b["plateau"] for a, b in zip(train, test, strict=True))
    assert all(r["f"] == pytest.approx(1.0) for r in test)  # f(p = 0, d) = 1
    with pytest.raises(ValueError, match="measure"):
        step_analysis.step_rows(grid, "accuracy")
    with pytest.raises(ValueError, match="probe_attention"):
        step_analysis.step_rows([record({"T": 16, "d": 4}, 0, test=300)], "attention")


def test_unique_runs_keeps_the_first_of_each_config_and_seed(grid):
    again = [dict(r, steps=[]) for r in grid[:3]]
    assert step_analysis.unique_runs(grid + again) == grid


def test_fit_steps_recovers_the_law_and_bootstraps_over_seeds(grid):
    rows = step_analysis.step_rows(grid, "train", 0.2)
    fit = step_analysis.fit_steps(rows, ("d", "T", "B"))
    assert fit.never == 0 and fit.fit.n == len(grid)
    for feature, exponent in (("d", 0.9), ("T", 0.4), ("B", -0.5)):
        assert fit.fit.exponents[feature] == pytest.approx(exponent, abs=0.05)
        assert fit.stderr(feature) >= fit.fit.stderr[feature]
        assert fit.stderr(feature) >= fit.bootstrap[feature]
    assert fit.exponent("B").startswith("-0.5") and " ± " in fit.exponent("B")
    with pytest.raises(ValueError, match="feature"):
        fit.stderr("p")


def test_fit_steps_leaves_out_runs_that_never_crossed(grid):
    rows = step_analysis.step_rows(grid, "test", 0.2)
    rows[0] = {**rows[0], "plateau": math.inf}
    fit = step_analysis.fit_steps(rows, ("d", "T"))
    assert (fit.never, fit.fit.n) == (1, len(rows) - 1)
    with pytest.raises(ValueError, match="no run crossed"):
        step_analysis.fit_steps([{**r, "plateau": math.inf} for r in rows], ("d", "T"))


def test_mean_steps_over_matching_rows():
    rows = [{"d": 4, "plateau": 100.0}, {"d": 4, "plateau": 200.0}, {"d": 8, "plateau": math.inf}]
    assert step_analysis.mean_steps(rows, d=4) == 150.0
    assert step_analysis.mean_steps(rows, d=8) == math.inf
    with pytest.raises(ValueError, match="where"):
        step_analysis.mean_steps(rows, d=16)


def test_reduced_speedup_is_the_flow_own_ratio_not_the_linearized_factor():
    T, d = 32, 8
    ratio = reduced.plateau_length(T, d, p=0.0, threshold=0.4) / reduced.plateau_length(T, d, p=0.1, threshold=0.4)
    assert analysis.reduced_speedup(T, d, 0.1) == pytest.approx(ratio, rel=1e-9)
    # Chapter 2: the linearized factor predicts a slowdown here, the flow a speed-up.
    assert reduced.repetition_speedup(d, 0.1) < 1 < analysis.reduced_speedup(T, d, 0.1)
    assert analysis.reduced_speedup(T, d, 0.0) == pytest.approx(1.0)


def test_shortcut_offset_is_the_mean_target_loss():
    config = {"T": 8, "d": 4, "p": 0.5}
    task = regression.build(config)[0]
    expected = 0.25 * float((task.W_star @ task.special_token).square().sum()) / 2
    assert mechanism.shortcut_offset(config) == pytest.approx(expected)
    assert mechanism.shortcut_offset({"T": 8, "d": 4}) == 0.0
    run = {"config": config, "test_loss": [0.5, 0.6, 0.1]}
    measured, predicted = mechanism.loss_rise(run)
    assert measured == pytest.approx(1.2) and predicted == pytest.approx(1 + expected / 0.5)


def test_final_attention_and_sparse_heads():
    run = record({"T": 16, "d": 4}, 0, test=300, attn=200, heads=(0.9, 0.6, 0.1))
    assert mechanism.final_attention(run).shape == (1, 3)
    assert mechanism.sparse_heads(run) == 2
    assert mechanism.sparse_heads(run, level=0.8) == 1
    with pytest.raises(ValueError, match="probe"):
        mechanism.final_attention(record({"T": 16, "d": 4}, 0, test=300))


def test_ablation_fits_one_law_per_panel():
    def rows(**fields):
        return [{"d": d, "T": T, "seed": s, "plateau": law(d, T, seed=s) * fields.pop("scale", 1), **fields}
                for d in (4, 8) for T in (16, 32) for s in (0, 1)]

    fig13 = [dict(r, n_layers=L, n_heads=H, plateau=r["plateau"] * L**0.1) for L, H in ((1, 2), (2, 1), (2, 2))
             for r in rows()]
    fig14 = [dict(r, **v) for v in regression.TASK_VARIANTS.values() for r in rows()]
    fig15 = [dict(r, optimizer=o) for o in ("adam", "sgd") for r in rows()]
    fits = analysis.ablation_fits({"fig13": fig13, "fig14": fig14, "fig15": fig15})
    assert set(fits) == {"layers and heads", *regression.TASK_VARIANTS, "adam", "sgd"}
    assert fits["layers and heads"].fit.exponents["n_layers"] == pytest.approx(0.1, abs=0.02)
    assert fits["sgd"].fit.exponents["d"] == pytest.approx(0.9, abs=0.05)


# ------------------------------------------------------------------------- views


def test_table_renders_and_prints_the_same_markdown():
    table = Table(["a", "b"], [[1, "x|y"]], caption="note")
    text = table.to_markdown()
    assert text.splitlines()[:3] == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]
    assert text.endswith("note") and repr(table) == text == table._repr_markdown_()
    with pytest.raises(ValueError, match="rows"):
        Table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="header"):
        Table([], [])


def step_fit(estimate: float, stderr: float) -> step_analysis.StepFit:
    """A StepFit whose exponent of T is ``estimate`` with standard error about ``stderr``."""
    T = np.array([8.0, 16, 32, 64, 8, 16, 32, 64])
    noise = np.array([1, -1, -1, 1, -1, 1, 1, -1]) * stderr * 1.8
    fit = fit_power_law(np.exp(estimate * np.log(T) + noise), T=T)
    return step_analysis.StepFit(fit, {"T": 0.0}, 0)


def test_conclusion_only_where_both_losses_resolve_the_same_sign():
    up, down, flat = step_fit(0.5, 0.05), step_fit(-0.5, 0.05), step_fit(0.02, 0.05)
    assert analysis.resolved_sign(up, "T") == 1 and analysis.resolved_sign(down, "T") == -1
    assert analysis.resolved_sign(flat, "T") == 0
    assert analysis.conclusion({"train": up, "test": up}, "T", "longer T") == "both losses: longer plateau with longer T"
    assert analysis.conclusion({"train": down, "test": down}, "T", "x").startswith("both losses: shorter")
    assert "disagree" in analysis.conclusion({"train": up, "test": down}, "T", "x")
    assert analysis.conclusion({"train": up, "test": flat}, "T", "x") == "unresolved on test loss without repetition"
    table = views.summary_table([("T", "+0.80", {"train": up, "test": down, "attention": up}, "T", "x")])
    assert "disagree" in table.to_markdown() and "+0.80" in table.to_markdown()


def test_settings_table_marks_our_choices():
    sweeps = [[{"seed": 0}, {"seed": 1}], [{"seed": s} for s in range(3)]]
    text = views.settings_table({"n_heads": 2, "d_model": 32, "max_steps": 4000, "eval_every": 25}, sweeps, "ci").to_markdown()
    assert "| heads | 4 | 2 |" in text and "2 to 3 per setting" in text
    for ours in ("step cap per run (ours)", "evaluation every (ours)", "readout (ours)"):
        assert ours in text


def test_settings_table_says_which_scale_the_fits_are():
    """Issue 28: under gpu the table said "this chapter: width 128, 4 heads" beside fits of width-32 ci runs."""
    cached = [{"seed": 0, "config": {"d_model": 32, "n_heads": 2, "layer_norm": False},
               "provenance": {"profile": "ci"}}]
    text = views.settings_table({"n_heads": 4, "d_model": 128, "max_steps": 20000, "eval_every": 50}, [cached], "gpu").to_markdown()
    assert "| compute profile | paper | gpu | ci |" in text
    assert "| embedding width | 256 | 128 | 32 |" in text and "| heads | 4 | 4 | 2 |" in text
    assert "sinusoidal, no, yes, yes | sinusoidal, no, yes, yes | sinusoidal, no" in text
    for ours in ("step cap per run (ours)", "evaluation every (ours)", "readout (ours)"):
        assert ours in text


def test_tables_of_fits_speedups_and_steps(grid):
    fits = {m: step_analysis.fit_steps(step_analysis.step_rows(grid, m, 0.2), ("d", "T", "B")) for m in step_analysis.MEASURES}
    text = views.fits_table(fits, ("d", "T", "B"), views.PAPER_LAWS["Fig. 3"]).to_markdown()
    assert "| training-distribution loss |" in text and "| paper | 0.76 | +1.29 | +0.80 | -0.80 |" in text
    steps = views.steps_by_B(grid, 16).to_markdown()
    assert len(steps.splitlines()) == 2 + 4  # (d, B) rows at T = 16
    assert views.heads_table(grid).rows == [["1", f"{len(grid)} of {len(grid)}"]]
    cached = [dict(r, escape_step=100.0) for r in grid]
    live = [dict(r, escape_step=101.0) for r in grid[:2]]
    assert views.live_vs_cached(live, cached).rows[0][-2:] == ["101.0", "100.0"]


def test_speedup_table_against_p_zero_and_the_reduced_flow():
    runs = [record({"T": 32, "d": 8, "p": p, "escape_fraction": 0.4}, s, test=t, train=t / 2 if p else t, attn=t / 2)
            for p, t in ((0.0, 400), (0.5, 200)) for s in (0, 1)]
    table = views.speedup_table(*analysis.repetition_cells(runs))
    row = table.rows[-1]
    assert row[:3] == ["32", "8", "0.5"]
    assert row[-1] == f"x{analysis.reduced_speedup(32, 8, 0.5):.2f}"
    assert "(" not in table.rows[0][3]  # p = 0 is the reference
    assert row[3].endswith(", faster)")


def test_a_speedup_the_seeds_do_not_resolve_is_not_called_faster():
    # the means say x1.2, but the seeds disagree on the direction
    steps = {0.0: (400, 300, 500), 0.5: (250, 400, 350)}
    runs = [record({"T": 32, "d": 8, "p": p, "escape_fraction": 0.4}, s, test=t, attn=t / 2)
            for p, ts in steps.items() for s, t in enumerate(ts)]
    row = views.speedup_table(*analysis.repetition_cells(runs)).rows[-1]
    assert "faster" not in row[4] and "slower" not in row[4] and "±" in row[4]


def test_scorecard_rows_from_fits(grid):
    card = Scorecard("test_chapter")
    fit = step_analysis.fit_steps(step_analysis.step_rows(grid, "train", 0.2), ("d", "T", "B"))
    views.score_exponents(card, "Fig. 3", fit, views.PAPER_LAWS["Fig. 3"], "fig3")
    assert [r.what for r in card.rows] == [f"Fig. 3: exponent of {k}" for k in ("d", "T", "B")]
    assert card.rows[0].scale == "d 4-8, T 16-32, B 1-2; 16 runs"
    assert {r.verdict for r in card.rows} <= {"agrees", "same sign"}


def test_load_cached_finds_the_cache_and_describes_it():
    cached = load_cached("fig3", "ci", "ci")
    records, note = cached.records, cached.describe()
    assert records and all(r["config"]["d"] in (4, 8, 16) for r in records)
    assert note.startswith("`fig3_ci.jsonl`: ") and "min of training" in note
    assert note._repr_markdown_() == str(note)
    with pytest.raises(FileNotFoundError, match="sweep no_such_sweep"):
        load_cached("no_such_sweep", "ci", "ci")


def test_figures_draw_every_panel(grid):
    rows_by = {m: step_analysis.step_rows(grid, m, 0.2) for m in ("train", "test")}
    fits = {m: step_analysis.fit_steps(rows, ("d", "T", "B")) for m, rows in rows_by.items()}
    assert len(views.fig3_figure(rows_by, fits, 32, "caption").axes) == 3
    runs = [dict(r, escape_step=escape_step(r, fraction=0.2)) for r in grid[:2]]
    assert len(views.run_figure(runs, T=16).axes) == 2
    p_runs = [record({"T": 16, "d": d, "p": p}, 0, test=300) for d in (4, 8) for p in (0.0, 0.5)]
    assert len(views.p_figure(p_runs, "Adam").axes) == 3


def test_unique_runs_treat_a_default_and_an_absent_key_alike(grid):
    # fig3_B's B = 1 column says "B": 1; fig3 leaves B out: the same runs (issue: 6 counted twice)
    absent = [dict(r, config={k: v for k, v in r["config"].items() if k != "B"}) for r in grid if r["config"]["B"] == 1]
    assert step_analysis.unique_runs(grid + absent) == grid
    assert step_analysis.unique_runs(absent + grid) == absent + [r for r in grid if r["config"]["B"] != 1]
    other = [dict(r, config={**r["config"], "B": 3}) for r in grid[:2]]
    assert len(step_analysis.unique_runs(grid + other)) == len(grid) + 2


def test_settings_table_says_when_a_trial_caps_the_steps(monkeypatch):
    from sparse_attention_lab.views.regression import _step_cap_text

    monkeypatch.delenv("SAL_MAX_STEPS", raising=False)
    assert _step_cap_text(8000) == "8000"
    monkeypatch.setenv("SAL_MAX_STEPS", "300")
    assert _step_cap_text(8000) == "300 (a trial: SAL_MAX_STEPS caps the 8000)"
