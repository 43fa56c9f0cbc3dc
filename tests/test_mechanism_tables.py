"""The tables of the "Inside the Transformer" sections, built from the cached sweeps."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from sparse_attention_lab.profiles import PROFILES  # noqa: E402
from sparse_attention_lab.views import mechanism_tables as tables  # noqa: E402

CI = PROFILES["ci"]


def records(name, scale="ci"):
    found = tables.cached_records(name, CI, scale)
    if found is None:
        pytest.skip(f"no cached {name}")
    return found


def test_missing_cache_prints_the_command_and_returns_none(capsys):
    assert tables.cached_records("no_such_sweep", CI) is None
    assert "no_such_sweep" in capsys.readouterr().out


def test_regression_mechanism_tables_have_a_row_per_setting():
    shortcut = tables.shortcut_table(records("mech_shortcut"))
    assert {row[0] for row in shortcut.rows} == {"as sampled", "zero-mean (ablation)"}
    B = tables.attention_B_table(records("mech_B"))
    assert [int(row[0]) for row in B.rows] == sorted(int(row[0]) for row in B.rows)
    assert all(0 < float(row[3]) <= 1 for row in B.rows)
    fits, offsets = tables.fig14_tables(records("mech_fig14"))
    assert len(fits.rows) == 2 * len(offsets.rows)


def test_scale_rows_leave_out_d_above_the_width():
    fitted, everything = tables.scale_rows(records("fig3", "laptop"), records("fig3_scale", "laptop"))
    assert fitted and all(r["d"] <= r["d_model"] for r in fitted)
    assert len(everything) >= len(fitted)
    assert tables.exponents_against_scale(fitted).rows


def test_recall_tables_one_row_per_run():
    long = records("ar_deep_long", "laptop")
    assert len(tables.long_runs_table(long).rows) == len(long)
    deep = records("ar_deep", "laptop")
    assert len(tables.induction_head_table(deep).rows) == len(deep)
