"""analysis.seeds: a ratio recomputed on growing numbers of seeds, and when its verdict is settled."""

import pytest

from sparse_attention_lab.analysis.seeds import SeedCount, ratio_by_seeds, settled
from sparse_attention_lab.analysis.verdicts import Ratio, paired_ratio


def _records(values_a, values_b):
    return ([{"group": "a", "seed": s, "steps": v} for s, v in enumerate(values_a)]
            + [{"group": "b", "seed": s, "steps": v} for s, v in enumerate(values_b)])


def _ratio(records):
    by = {g: {r["seed"]: r["steps"] for r in records if r["group"] == g} for g in ("a", "b")}
    return paired_ratio(by["a"], by["b"])


def test_more_seeds_resolve_a_small_steady_speedup():
    # seed-to-seed noise shared by both groups, b 10% faster in every seed: paired, it resolves
    base = [100, 130, 90, 120, 110, 95, 105, 125, 115, 100]
    noisy = [v * f for v, f in zip(base, [1.1, 1.0, 1.2, 1.05, 1.15, 1.1, 1.0, 1.2, 1.1, 1.1], strict=True)]
    history = ratio_by_seeds(_records(noisy, base), _ratio, [3, 5, 10])
    assert [h.seeds for h in history] == [3, 5, 10]
    assert history[-1].direction == "above"


def test_counts_beyond_the_seeds_present_are_left_out():
    history = ratio_by_seeds(_records([1, 2, 3], [1, 2, 3]), _ratio, [2, 3, 10])
    assert [h.seeds for h in history] == [2, 3]


def test_unresolved_means_and_noise_do_not_settle_on_a_direction():
    # the means point one way (a slower by 5%), the noise does not resolve it
    a, b = [100, 150, 80, 120], [110, 120, 95, 125]
    history = ratio_by_seeds(_records(a, b), _ratio, [2, 3, 4])
    assert history[-1].direction == "unresolved"


def test_settled_needs_the_same_direction_at_the_last_counts():
    up, flat = Ratio(1.5, 0.05), Ratio(1.02, 0.05)
    assert settled([SeedCount(3, flat), SeedCount(5, up), SeedCount(10, up)])
    assert not settled([SeedCount(3, up), SeedCount(5, up), SeedCount(10, flat)])
    assert not settled([SeedCount(10, up)])
    assert SeedCount(3, None).direction == "unresolved"


@pytest.mark.parametrize("counts", [[], [1], [2.5]])
def test_bad_counts_are_refused(counts):
    with pytest.raises(ValueError, match="counts"):
        ratio_by_seeds([], _ratio, counts)


def test_a_count_needs_every_group_to_hold_its_seeds():
    # group b (a sweep still running) has 3 seeds: the ratio is never read at 5 seeds
    records = _records([100, 110, 120, 130, 140], [90, 100, 110])
    history = ratio_by_seeds(records, _ratio, [3, 5], group=lambda r: r["group"])
    assert [h.seeds for h in history] == [3]


def test_resolved_summary_names_only_resolved_settings():
    from sparse_attention_lab.analysis.seeds import SeedCount
    from sparse_attention_lab.analysis.verdicts import Ratio
    from sparse_attention_lab.views.seed_tables import resolved_summary

    histories = {"a": [SeedCount(3, Ratio(1.3, 0.05)), SeedCount(5, Ratio(1.28, 0.04))],
                 "b": [SeedCount(3, Ratio(1.1, 0.2))],
                 "c": [SeedCount(3, Ratio(1.0, 0.3)), SeedCount(5, Ratio(0.8, 0.05))]}
    text = resolved_summary(histories)
    assert text.startswith("a: faster, ×1.28 ± 0.05 (5 seeds, settled)")
    assert "b:" not in text and "c: slower" in text and "not settled" in text
    assert resolved_summary({"b": histories["b"]}) == "none"
