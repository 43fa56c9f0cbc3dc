"""Chapter 5's comparisons of repetition schedules (experiments.on_demand, views.beyond_figures)
and forecasts checked against seeds (forecast.with_seed_measurements)."""

import math

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from sparse_attention_lab.analysis import on_demand  # noqa: E402
from sparse_attention_lab.experiments.schedules import (  # noqa: E402
    AdaptiveSchedule,
    ConstantSchedule,
    SwitchSchedule,
)
from sparse_attention_lab.forecast import fit_predictor, with_seed_measurements  # noqa: E402
from sparse_attention_lab.theory import reduced  # noqa: E402
from sparse_attention_lab.views import beyond_figures  # noqa: E402
from sparse_attention_lab.views.scorecard import Scorecard  # noqa: E402

T, d, N_EVALS = 64, 16, 120


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plateau_without_repetition_is_the_reduced_plateau_on_a_grid():
    measured = on_demand.plateau_without_repetition(T, d, N_EVALS)
    assert measured == pytest.approx(reduced.plateau_length(T, d), rel=0.03)


def test_compare_schedules_measures_speedups_prices_and_switch_off_times():
    base = on_demand.plateau_without_repetition(T, d, N_EVALS)
    schedules = {"no repetition": ConstantSchedule(0.0), "constant p = 0.5": ConstantSchedule(0.5),
                 "constant p = 1": ConstantSchedule(1.0), "switch": SwitchSchedule(1.0, 0.0, base / 4),
                 "adaptive": AdaptiveSchedule(1.0, signal="train_loss")}
    out = on_demand.compare_schedules(T, d, schedules, 5 * base, N_EVALS, base)
    assert out["no repetition"].speedup == 1.0 and out["no repetition"].stops is None
    assert out["constant p = 0.5"].speedup > 1  # repetition shortens the plateau (Fig. 2 right)
    assert math.isinf(out["constant p = 1"].escape) and out["constant p = 1"].speedup == 0  # the price
    assert out["constant p = 1"].final_test_loss > 0.4 and math.isinf(out["constant p = 1"].stops)
    assert out["switch"].stops == base / 4
    assert 0 < out["adaptive"].stops < out["adaptive"].escape  # switched off before the test loss escaped
    assert out["adaptive"].speedup > 1
    with pytest.raises(ValueError, match="no repetition"):
        on_demand.compare_schedules(T, d, {"p": ConstantSchedule(0.3)}, base, N_EVALS, base)


def test_robustness_row_and_its_table():
    row = on_demand.robustness_row(T, d, [0.3, 0.6], horizon_factor=4, n_evals=N_EVALS // 2)
    assert row["best_p"] in (0.3, 0.6) and row["best_escape"] < row["plateau_0"]
    assert row["adaptive_train"] < row["plateau_0"] and row["final_ratio"] == pytest.approx(1, abs=0.1)
    table = beyond_figures.robustness_table([row]).to_markdown()
    assert f"| {T} | {d} | {row['plateau_0']:.0f} |" in table


def test_repetition_stops_refuses_unknown_schedules():
    with pytest.raises(ValueError, match="schedule"):
        on_demand.repetition_stops(lambda step, history: {"p": 0.0})


def fake_run(label_kind, steps, test_acc, B_back=None):
    schedule = {"kind": "constant", "value": 2.0, "field": "B"} if label_kind == "constant" else \
        {"kind": "switch", "before": 4.0, "after": 1.0, "switch_step": 50.0, "field": "B"}
    return {"config": {"schedule": schedule}, "steps": steps, "test_acc": test_acc, "train_acc": [a + 0.1 for a in test_acc],
            "task_changes": [] if B_back is None else [[B_back, {"B": 1}]]}


def test_schedule_run_rows_and_table():
    records = [fake_run("constant", [0, 50, 100], [0.0, 0.6, 0.8]), fake_run("constant", [0, 50, 100], [0.0, 0.2, 0.4]),
               fake_run("switch", [0, 50, 100], [0.0, 0.5, 0.9], B_back=50)]
    rows = on_demand.schedule_run_rows(records, accuracy=0.5)
    constant = rows["constant B = 2"]
    assert constant["emergence"][0] == pytest.approx(50 * 0.5 / 0.6) and math.isinf(constant["emergence"][1])
    assert constant["test_acc"] == pytest.approx(0.6) and constant["test_acc_std"] == pytest.approx(0.2)
    assert rows["B = 4 until 50, then 1"]["back_to_1"] == [50]
    table = beyond_figures.schedule_runs_table(rows, max_steps=100).to_markdown()
    assert "| constant B = 2 | 42 >100 | 0.600 ± 0.200 | 0.700 | – |" in table


def test_with_seed_measurements_is_a_geometric_mean_and_flags_censored_seeds():
    law = fit_predictor([10, 20, 40, 80, 161], T=[1, 2, 4, 8, 16])
    forecast = law.forecast(T=32)
    measured, bound = with_seed_measurements(forecast, [100, 400], cap=1000)
    assert measured.measured == pytest.approx(200) and bound is False
    measured, bound = with_seed_measurements(forecast, [100, math.inf], cap=1000)
    assert measured.measured == pytest.approx(math.sqrt(100 * 1000)) and bound is True
    for steps, cap, name in (([], 10, "steps"), ([0, 1], 10, "steps"), ([1], math.inf, "cap")):
        with pytest.raises(ValueError, match=name):
            with_seed_measurements(forecast, steps, cap)


def test_forecast_tables_figure_and_scorecard_rows():
    law = fit_predictor([10, 20, 40, 80, 161], T=[1, 2, 4, 8, 16])
    inside = law.forecast(T=32).with_measurement(law.forecast(T=32).predicted)
    bounded, _ = with_seed_measurements(law.forecast(T=64), [math.inf], cap=50_000)
    table = beyond_figures.forecasts_table([inside, bounded], lower_bounds=[False, True]).to_markdown()
    assert table.splitlines()[0] == "| T | predicted | 90% band | measured | error | in band |"
    assert table.splitlines()[2].endswith("| +0.0% | yes |") and ">= 50000" in table and table.endswith("| no |")
    families = {"toy": [("T=32", inside, False), ("T=64", bounded, True)]}
    assert len(beyond_figures.forecast_figure(families).axes[0].lines) == 5  # two bars, two marks, the unit line
    card = Scorecard("05_test")
    beyond_figures.add_forecast_rows(card, families, sections={"toy": "s"})
    assert card.rows[0].ours.startswith("1 of 2;") and card.rows[0].verdict == "does not hold"


def test_schedule_figures_and_table():
    base = on_demand.plateau_without_repetition(T, d, N_EVALS)
    out = on_demand.compare_schedules(T, d, {"no repetition": ConstantSchedule(0.0), "p = 1": ConstantSchedule(1.0)},
                                      3 * base, N_EVALS, base)
    fig = beyond_figures.reduced_schedules_figure(out, {"no repetition": "k-", "p = 1": "C0-"}, base, T, d)
    assert [len(ax.lines) for ax in fig.axes] == [3, 3, 3]  # two schedules and the plateau line in each panel
    table = beyond_figures.schedules_table(out, horizon_factor=3).to_markdown()
    assert "| p = 1 | inf | 0.00 |" in table and table.splitlines()[2].endswith("| – |")
    records = [fake_run("constant", [0, 50, 100], [0.0, 0.6, 0.8])]
    fig = beyond_figures.schedule_runs_figure({"constant B = 2": records}, title="t", threshold=0.5)
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
