"""The tables of the "Inside the Transformer" sections, built from the cached sweeps."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from sparse_attention_lab.analysis import scale  # noqa: E402
from sparse_attention_lab.analysis.regression import fig14_fits  # noqa: E402
from sparse_attention_lab.analysis.tuning import sweep_plan, tune_sweep  # noqa: E402
from sparse_attention_lab.profiles import PROFILES  # noqa: E402
from sparse_attention_lab.runs.book_data import load_cached  # noqa: E402
from sparse_attention_lab.views import mechanism_tables as tables  # noqa: E402

CI = PROFILES["ci"]


def records(name, at="ci"):
    try:
        return load_cached(name, CI, at).records
    except FileNotFoundError:
        pytest.skip(f"no cached {name}")


def test_missing_cache_names_the_command():
    with pytest.raises(FileNotFoundError, match="no_such_sweep"):
        load_cached("no_such_sweep", CI)


def test_regression_mechanism_tables_have_a_row_per_setting():
    shortcut = tables.shortcut_table(records("mech_shortcut"))
    assert {row[0] for row in shortcut.rows} == {"as sampled", "zero-mean (ablation)"}
    B = tables.attention_B_table(records("mech_B"))
    assert [int(row[0]) for row in B.rows] == sorted(int(row[0]) for row in B.rows)
    assert all(0 < float(row[3]) <= 1 for row in B.rows)
    fig14 = records("mech_fig14")
    fits, offsets = tables.fig14_tables(fig14, fig14_fits(fig14))
    assert len(fits.rows) == 2 * len(offsets.rows)


def test_scale_rows_leave_out_d_above_the_width():
    rows = scale.scale_rows(records("fig3", "laptop"), records("fig3_scale", "laptop"))
    fitted, everything = rows.fitted, rows.rows
    assert fitted and all(r["d"] <= r["d_model"] for r in fitted)
    assert len(everything) >= len(fitted)
    assert tables.exponents_against_scale(fitted, scale.scale_exponents(fitted)).rows


def test_recall_tables_one_row_per_run():
    long = records("ar_deep_long", "laptop")
    assert len(tables.long_runs_table(long).rows) == len(long)
    deep = records("ar_deep", "laptop")
    assert len(tables.induction_head_table(deep).rows) == len(deep)


def test_recall_reports_draw_their_figure_and_return_their_tables(capsys):
    """Each report shows one figure and returns its tables, so that the figure has a cell (and a
    numbered caption) of its own in the book (issue 23)."""
    deep = records("ar_deep", "laptop")
    deep_tables = tables.deep_recall_report(deep)
    assert 1 <= len(deep_tables) <= 2 and len(deep_tables[0].rows) == len({(r["config"]["n_pairs"], r["config"]["n_tokens"]) for r in deep})
    assert "ar_deep:" in capsys.readouterr().out
    largest = tables.induction_head_run(deep)
    assert largest["config"]["n_pairs"] == max(r["config"]["n_pairs"] for r in deep)
    tables.induction_head_over_training(largest)
    tables.induction_head_at_end(largest)
    long = records("ar_deep_long", "laptop")
    assert len(tables.long_runs_report(long).rows) == len(long)


def _step_run(T, d, p, lr, seed, plateau):
    """A record whose test loss falls from 1 to 0 around step ``plateau`` (crossing 0.4 there)."""
    return {"config": {"T": T, "d": d, "p": p, "lr": lr, "escape_fraction": 0.4}, "seed": seed,
            "diverged": False, "steps": [0, plateau - 60, plateau + 40], "test_loss": [1.0, 1.0, 0.0],
            "train_loss": [1.0, 1.0, 0.0], "probes": {}}


@pytest.mark.parametrize("slow_wins_at", [None, 0.5])
def test_tuned_lr_table_compares_rates_at_the_d_both_ran(capsys, slow_wins_at):
    records = []
    for p in (0.0, 0.5):
        for seed in range(5):
            records += [_step_run(256, d, p, 3e-4, seed, 100 * d + 7 * seed) for d in (8, 16, 32)]
            slow = 300 if p == slow_wins_at else 3000  # the 1e-4 plateau at d = 8
            records.append(_step_run(256, 8, p, 1e-4, seed, slow + 7 * seed))
    rows = tables.tuned_lr_table(tune_sweep(records), sweep_plan()[1]).rows
    tuned = {row[0]: row[1] for row in rows if "(tuned)" in row[1]}
    assert tuned == {"0": "**0.0003** (tuned)", "0.5": "**0.0001** (tuned)" if slow_wins_at else "**0.0003** (tuned)"}
    assert "at the tuned learning rates" in capsys.readouterr().out
    fit = tune_sweep(records).fit()
    assert fit is not None and fit.fit.n == (20 if slow_wins_at else 30)  # the 1e-4 runs exist at d = 8 only


def test_tuned_lr_table_waits_for_every_seed_of_every_rate_at_the_tuning_d(capsys):
    records = [_step_run(256, d, 0.0, 3e-4, seed, 100 * d) for seed in range(5) for d in (8, 16)]
    records += [_step_run(256, 8, 0.0, 1e-4, seed, 3000) for seed in range(3)]
    rows = tables.tuned_lr_table(tune_sweep(records), sweep_plan()[1]).rows
    assert [row[4] for row in rows] == ["yes", "no (still running)"]  # no rate chosen yet
    assert "at the tuned learning rates" not in capsys.readouterr().out
    assert tune_sweep(records).fit() is None
    only_fast = [r for r in records if r["config"]["lr"] == 3e-4]  # the slower rate not started
    assert [row[4] for row in tables.tuned_lr_table(tune_sweep(only_fast), sweep_plan()[1]).rows] == ["yes", "no (still running)"]


def test_scale_fits_one_joint_law_per_width():
    fitted = scale.scale_rows(records("fig3", "laptop"), records("fig3_scale", "laptop")).fitted
    fits = scale.scale_fits(fitted, records("fig3_scale_wide", "laptop"))
    assert set(fits) == {"width 32", "width 64"} and fits["width 32"].fit.n == len(fitted)
    assert set(scale.scale_fits(fitted, None)) == {"width 32"}


def test_scale_exponents_give_the_second_width_its_own_trends():
    fitted = scale.scale_rows(records("fig3", "laptop"), records("fig3_scale", "laptop")).fitted
    result = scale.scale_exponents(fitted, records("fig3_scale_wide", "laptop"))
    assert set(result.wide_trends) == {"d", "T"} and len(result.wide) >= 3
    assert result.wide_trends["d"] == scale.weighted_trend(result.wide, "a", "d")
    assert scale.scale_exponents(fitted).wide_trends == {}
