"""rsebench.stats against hand computations on known data (closed formulas, math.comb sums, textbook Holm)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats as scipy_stats

from rsebench import stats

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def _wilson_by_formula(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(8, 10), (0, 10), (10, 10), (1, 3), (437, 1000)])
def test_wilson_matches_the_closed_formula(k, n):
    assert stats.wilson_interval(k, n) == pytest.approx(_wilson_by_formula(k, n), abs=1e-12)


def test_wilson_8_of_10_known_values_and_edge_cases():
    low, high = stats.wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)  # Wilson 1927 / Newcombe 1998 method 3
    assert stats.wilson_interval(0, 0) is None
    assert stats.wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-15)  # never below 0, unlike the Wald interval
    narrower = stats.wilson_interval(8, 10, confidence=0.90)
    assert low < narrower[0] < narrower[1] < high
    with pytest.raises(ValueError):
        stats.wilson_interval(11, 10)


def _exact_binomial_two_sided(b: int, n: int) -> float:
    """Two-sided exact binomial p at 1/2 by hand: sum of the probabilities no larger than P(b)."""
    probabilities = [math.comb(n, k) / 2 ** n for k in range(n + 1)]
    return min(1.0, sum(p for p in probabilities if p <= probabilities[b] * (1 + 1e-7)))


def test_mcnemar_exact_matches_the_binomial_sum():
    # 12 examples: 1 survived by both, 6 only by A, 1 only by B, 4 by neither -> b = 6, c = 1.
    a = [True] * 7 + [False] * 5
    b = [True] + [False] * 6 + [True] + [False] * 4
    result = stats.mcnemar_exact(a, b)
    assert (result.b, result.c, result.n) == (6, 1, 12)
    by_hand = 2 * sum(math.comb(7, k) for k in range(0, 2)) / 2 ** 7  # P(X <= 1) + P(X >= 6), X ~ Bin(7, 1/2)
    assert by_hand == pytest.approx(0.125)
    assert result.pvalue == pytest.approx(by_hand, abs=1e-12)
    assert result.pvalue == pytest.approx(_exact_binomial_two_sided(6, 7), abs=1e-12)
    # concordant pairs do not matter; swapping the models gives the same p
    assert stats.mcnemar_exact(b + [True, False], a + [True, False]).pvalue == pytest.approx(result.pvalue)


def test_mcnemar_large_difference_and_no_discordant_pairs():
    a = [True] * 20
    b = [False] * 20
    assert stats.mcnemar_exact(a, b).pvalue == pytest.approx(2 / 2 ** 20)
    same = stats.mcnemar_exact(a, a)
    assert (same.b, same.c, same.pvalue) == (0, 0, 1.0)
    with pytest.raises(ValueError):
        stats.mcnemar_exact([True], [True, False])


def test_holm_on_a_textbook_example():
    # Holm (1979)-style worked example: p = 0.01, 0.04, 0.03, 0.005 (m = 4).
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone max -> 0.06
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_keeps_untested_entries_and_order():
    # m = 3: 0.2*3 = 0.6, 0.5*2 = 1.0, 0.9*1 = 0.9 -> monotone -> 1.0
    assert stats.holm([0.5, None, 0.2, 0.9]) == [pytest.approx(1.0), None, pytest.approx(0.6), pytest.approx(1.0)]
    assert stats.holm([0.6, 0.7]) == [pytest.approx(1.0), pytest.approx(1.0)]
    assert stats.holm([]) == []
    assert stats.holm([0.04]) == [pytest.approx(0.04)]


def test_seed_summary_is_mean_sample_std_and_t_interval():
    values = [0.70, 0.74, 0.78]
    summary = stats.seed_summary(values)
    mean, std = statistics.fmean(values), statistics.stdev(values)
    t = 4.302652729911275  # t_{0.975, 2}
    assert (summary.n, summary.mean, summary.std) == (3, pytest.approx(mean), pytest.approx(std))
    assert summary.interval == pytest.approx((mean - t * std / math.sqrt(3), mean + t * std / math.sqrt(3)))
    single = stats.seed_summary([0.5])
    assert (single.n, single.std, single.interval) == (1, None, None)
    flat = stats.seed_summary([0.5, 0.5])
    assert flat.interval == pytest.approx((0.5, 0.5))


def test_spearman_bootstrap_is_seeded_contains_the_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    y = x + rng.normal(size=400)
    rho = scipy_stats.spearmanr(x, y).statistic
    assert stats.spearman_statistic(x, y) == pytest.approx(rho)
    first = stats.spearman_interval(x, y, n_resamples=400, seed=3)
    assert first == stats.spearman_interval(x, y, n_resamples=400, seed=3)
    assert first != stats.spearman_interval(x, y, n_resamples=400, seed=4)
    assert first[0] < rho < first[1]
    # Fisher-z normal approximation of the sampling sd as a scale check: the widths agree within 30%
    approx = 2 * Z95 * (1 - rho ** 2) / math.sqrt(400 - 3)
    assert 0.7 < (first[1] - first[0]) / approx < 1.3
    small = stats.spearman_interval(x[:50], y[:50], n_resamples=400, seed=3)
    assert small[1] - small[0] > first[1] - first[0]


def test_bootstrap_resamples_pairs_together():
    # y is an exact monotone function of x: every paired resample has rho = 1 (an unpaired one would not)
    x = np.arange(30, dtype=float)
    assert stats.spearman_interval(x, x ** 3, n_resamples=200) == pytest.approx((1.0, 1.0))
    assert stats.pearson_interval(x, 2 * x + 1, n_resamples=200) == pytest.approx((1.0, 1.0))
    assert stats.spearman_interval([1, 2], [1, 2]) is None


def test_paired_asr_difference_uses_each_models_own_denominator():
    a = ["successful"] * 6 + ["failed"] * 2 + ["skipped"] * 2
    b = ["successful"] * 2 + ["failed"] * 4 + ["skipped"] * 4
    result = stats.paired_bootstrap_difference(a, b, n_resamples=500, seed=0)
    assert result.asr_a == pytest.approx(6 / 8) and result.asr_b == pytest.approx(2 / 6)  # skipped excluded
    assert result.difference == pytest.approx(6 / 8 - 2 / 6)
    low, high = result.interval
    assert low < result.difference < high and result.n == 10
    assert result == stats.paired_bootstrap_difference(a, b, n_resamples=500, seed=0)


def test_paired_asr_difference_of_identical_models_is_exactly_zero():
    # Pairing: both ASRs come from the same resampled ids, so identical outcomes differ by 0 in every
    # resample. Resampling the two models independently would give a wide interval around 0.
    outcomes = ["successful", "failed", "skipped", "successful", "failed", "successful", "failed", "failed"] * 3
    result = stats.paired_bootstrap_difference(outcomes, outcomes, n_resamples=300)
    assert result.interval == pytest.approx((0.0, 0.0)) and result.undefined_resamples == 0


def test_paired_asr_difference_undefined_cases():
    none_attacked = stats.paired_bootstrap_difference(["skipped"] * 4, ["successful"] * 4)
    assert none_attacked.difference is None and none_attacked.interval is None
    rare = stats.paired_bootstrap_difference(["successful"] + ["skipped"] * 9, ["failed"] * 10, n_resamples=300)
    assert rare.difference == pytest.approx(1.0)
    assert rare.undefined_resamples > 0 and rare.interval == pytest.approx((1.0, 1.0))  # defined resamples only


def test_fast_resampled_correlations_equal_rankdata_on_the_resampled_values():
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=300), 1)  # many ties: ranks must be averaged as scipy does
    y = np.round(x + rng.normal(size=300), 0)
    indices = rng.integers(0, 300, size=(40, 300))
    spearman, pearson = stats.ResampledCorrelations(x, y)(indices)
    assert spearman == pytest.approx(stats.spearman_statistic(x[indices], y[indices]), abs=1e-12)
    assert pearson == pytest.approx(stats.pearson_statistic(x[indices], y[indices]), abs=1e-12)
    assert spearman[0] == pytest.approx(scipy_stats.spearmanr(x[indices[0]], y[indices[0]]).statistic, abs=1e-12)
    # the same seeded scipy bootstrap over the pairs themselves (sorting every resample) gives the same intervals
    def both(a, b, axis=-1):
        return np.stack([stats.spearman_statistic(a, b, axis), stats.pearson_statistic(a, b, axis)])

    slow = stats.bootstrap_intervals(both, (x, y), n_resamples=300, seed=2)
    fast = stats.correlation_intervals(x, y, n_resamples=300, seed=2)
    assert np.asarray(fast) == pytest.approx(np.asarray(slow), abs=1e-12)
