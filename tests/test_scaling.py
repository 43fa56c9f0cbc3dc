"""Local exponents on 2 x 2 sub-grids and their trend with scale."""

import math

import numpy as np
import pytest

from sparse_attention_lab.analysis import scale as scaling


def rows_of(law, Ts=(16, 32, 64), ds=(4, 8, 16), seeds=3, noise=0.02):
    rng = np.random.default_rng(0)
    return [{"T": T, "d": d, "seed": s, "plateau": law(T, d) * math.exp(noise * rng.standard_normal())}
            for T in Ts for d in ds for s in range(seeds)]


def test_a_pure_power_law_gives_its_exponents_everywhere():
    local = scaling.local_exponents(rows_of(lambda T, d: 3 * d**1.3 * T**0.8), n_boot=20)
    assert len(local) == 4
    for point in local:
        assert point["a"] == pytest.approx(1.3, abs=0.1) and point["b"] == pytest.approx(0.8, abs=0.1)
    slope, se = scaling.weighted_trend(local, "a", "d")
    assert abs(slope) < 3 * se + 0.05


def test_an_exponent_growing_with_d_has_a_positive_trend():
    local = scaling.local_exponents(rows_of(lambda T, d: T**0.5 * d ** (0.5 + 0.25 * math.log2(d)),
                                            ds=(4, 8, 16, 32)), n_boot=20)
    slope, se = scaling.weighted_trend(local, "a", "d")
    assert slope > 0.4 and slope > 3 * se


def test_incomplete_cells_are_skipped_and_bad_arguments_named():
    rows = [r for r in rows_of(lambda T, d: T * d) if not (r["T"] == 64 and r["d"] == 16)]
    assert len(scaling.local_exponents(rows, n_boot=10)) == 3
    with pytest.raises(ValueError, match="exponent"):
        scaling.weighted_trend([], "c", "d")
    with pytest.raises(ValueError, match="points"):
        scaling.weighted_trend([], "a", "d")
