"""views.seed_tables: a verdict against the number of seeds, as a table."""

from sparse_attention_lab.analysis.seeds import SeedCount
from sparse_attention_lab.analysis.verdicts import Ratio
from sparse_attention_lab.views.seed_tables import seeds_table


def test_rows_show_each_count_and_whether_the_direction_settled():
    table = seeds_table({"B = 2": [SeedCount(3, Ratio(1.02, 0.05)), SeedCount(5, Ratio(1.5, 0.05)),
                                   SeedCount(10, Ratio(1.4, 0.04))],
                         "B = 4": [SeedCount(3, None)]}, "test accuracy")
    assert table.header == ["setting", "3 seeds", "5 seeds", "10 seeds", "settled"]
    assert table.rows[0] == ["B = 2", "×1.02 ± 0.05, unresolved", "×1.50 ± 0.08, faster", "×1.40 ± 0.06, faster", "yes"]
    assert table.rows[1] == ["B = 4", "-", "", "", "not yet"]
    assert "test accuracy" in table.caption
