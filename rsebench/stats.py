"""Uncertainty of rsebench's numbers: intervals, paired tests, multiple-comparison correction, seeds.

Conventions (all intervals are two-sided, 95% unless told otherwise, as fractions):

- Proportions (accuracy, attack success rate, accuracy under attack): Wilson score interval
  (`wilson_interval`; scipy's `binomtest(...).proportion_ci(method="wilson")`). Unlike the normal
  approximation it stays inside [0, 1] and is not degenerate at 0/n or n/n, which is where small
  attack sets live. ASR's denominator is S + F (skipped examples excluded), so its interval is
  wider than the number of attacked examples suggests.
- Statistics of paired samples (STS Spearman over sentence pairs): nonparametric bootstrap over
  the pairs with `scipy.stats.bootstrap(paired=True)`, **percentile** method (cheap, and with
  hundreds to thousands of pairs close to BCa; BCa's jackknife costs n extra evaluations), seeded
  with a `numpy.random.Generator`, so the same data and seed give the same interval.
- Two models attacked on the same example ids: McNemar's exact test on per-example "survived the
  attack" (`mcnemar_exact`, a two-sided binomial test on the discordant pairs) and a paired
  bootstrap interval of the ASR difference (`paired_bootstrap_difference`, resampling example ids).
- The same comparison over several seeds (seed s of the model against seed s of the reference, all on
  the same example ids): the stratified McNemar test (`pooled_mcnemar`: discordant pairs summed over
  seeds, exact binomial) and the mean ASR difference with a bootstrap that resamples example ids
  jointly for every seed (`pooled_paired_bootstrap_difference`). Both treat the trained models as
  fixed; the seed-to-seed spread is the t-interval over seeds.
- Two models scored on the same STS pairs (optionally over several seed pairs): the mean difference
  of Spearman's rho with a bootstrap that resamples the sentence pairs jointly for every model
  (`paired_spearman_difference`), and, over seed pairs, the paired t-interval / t-test of the
  per-seed differences (`paired_t_difference`), which includes the training randomness.
- Several comparisons in one table: Holm–Bonferroni step-down adjusted p-values (`holm`).
- Several seeds: mean, sample standard deviation and a Student-t interval (`seed_summary`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_METHOD = "percentile"
BOOTSTRAP_SEED = 0


# ---------------------------------------------------------------------------------------------
# One proportion


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Wilson score interval of successes / n; None when n = 0 (the proportion is undefined)."""
    successes, n = int(successes), int(n)
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n]; got {successes} of {n}")
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def as_list(interval: tuple[float, float] | None) -> list[float] | None:
    """The record form of an interval: [lo, hi] or null."""
    return None if interval is None else [float(interval[0]), float(interval[1])]


# ---------------------------------------------------------------------------------------------
# Bootstrap over paired samples


def bootstrap_intervals(statistic: Callable, samples: Sequence[Sequence[float]], n_resamples: int = BOOTSTRAP_RESAMPLES,
                        confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED, method: str = BOOTSTRAP_METHOD,
                        batch: int | None = 250) -> list[tuple[float, float] | None]:
    """Bootstrap intervals of a statistic with k outputs (`statistic(*samples, axis=-1)` returns shape
    (k, ...)), all from the same resamples. The samples' rows are resampled together (paired:
    element i of every sample is one unit, e.g. one sentence pair). `statistic` must be vectorised
    over `axis`. An entry is None when fewer than 3 units or the statistic is undefined (NaN) on every
    resample; with the percentile method, resamples where it is undefined (e.g. a constant resample
    for a correlation) are left out of the percentiles."""
    arrays = tuple(np.asarray(sample, dtype=np.float64) for sample in samples)
    if len(arrays[0]) < 3:
        return [None] * len(np.atleast_1d(statistic(*arrays, axis=-1)))
    with warnings.catch_warnings():  # NaN resamples are handled below
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(arrays, statistic, paired=True, vectorized=True, n_resamples=n_resamples, batch=batch,
                                 confidence_level=confidence, method=method, rng=np.random.default_rng(seed))
    if method == "percentile":  # scipy's percentile interval is the linear quantile of the distribution; skip NaNs
        distribution = np.atleast_2d(result.bootstrap_distribution)
        return [nan_percentile_interval(row, confidence) for row in distribution]
    lows, highs = np.atleast_1d(result.confidence_interval.low), np.atleast_1d(result.confidence_interval.high)
    return [(float(lo), float(hi)) if np.isfinite([lo, hi]).all() else None for lo, hi in zip(lows, highs)]


def bootstrap_interval(statistic: Callable, samples: Sequence[Sequence[float]], n_resamples: int = BOOTSTRAP_RESAMPLES,
                       confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED, method: str = BOOTSTRAP_METHOD,
                       batch: int | None = 250) -> tuple[float, float] | None:
    """Bootstrap interval of a scalar statistic of paired samples (see `bootstrap_intervals`)."""
    return bootstrap_intervals(statistic, samples, n_resamples, confidence, seed, method, batch)[0]


def nan_percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """Percentile interval over the defined resamples (what scipy's percentile method computes, minus NaNs)."""
    if np.isnan(values).all():
        return None
    alpha = (1 - confidence) / 2
    low, high = np.nanpercentile(values, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def _pearson_along(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.mean(axis=axis, keepdims=True)
    y = y - y.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=axis) / np.sqrt((x * x).sum(axis=axis) * (y * y).sum(axis=axis))


def pearson_statistic(predicted: np.ndarray, gold: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson r along `axis` (vectorised for the bootstrap; NaN for a constant resample)."""
    return _pearson_along(predicted, gold, axis)


def spearman_statistic(predicted: np.ndarray, gold: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho along `axis`: Pearson r of the ranks, ties averaged (= scipy.stats.spearmanr)."""
    return _pearson_along(stats.rankdata(predicted, axis=axis), stats.rankdata(gold, axis=axis), axis)


class ResampledCorrelations:
    """Spearman's rho and Pearson's r of bootstrap resamples, given the resampled *indices* of the pairs.

    Equal to `spearman_statistic` / `pearson_statistic` on the resampled values, without sorting each
    resample: a resample is a multiplicity w_j per original pair, and the rank of a value among the
    resampled values (ties averaged, as scipy's rankdata) is (#resampled values below it) + (#equal + 1)/2,
    read off cumulative multiplicities over the values sorted once. Correlations are then w-weighted.
    O(resamples x pairs) instead of a sort per resample: cheap enough for every STS evaluation.
    """

    def __init__(self, predicted: Sequence[float], gold: Sequence[float]):
        self.x = np.asarray(predicted, dtype=np.float64)
        self.y = np.asarray(gold, dtype=np.float64)
        self.n = self.x.size
        _, self.group_x = np.unique(self.x, return_inverse=True)  # value rank groups (ties share one)
        _, self.group_y = np.unique(self.y, return_inverse=True)

    def _weights(self, indices: np.ndarray) -> np.ndarray:
        batch = indices.shape[0]
        flat = (np.arange(batch)[:, None] * self.n + indices).ravel()
        return np.bincount(flat, minlength=batch * self.n).reshape(batch, self.n).astype(np.float64)

    @staticmethod
    def _ranks(weights: np.ndarray, groups: np.ndarray) -> np.ndarray:
        batch, size = weights.shape[0], int(groups.max()) + 1
        flat = (np.arange(batch)[:, None] * size + groups[None, :]).ravel()
        counts = np.bincount(flat, weights=weights.ravel(), minlength=batch * size).reshape(batch, size)
        below = np.cumsum(counts, axis=1) - counts
        return (below + (counts + 1) / 2)[:, groups]

    @staticmethod
    def _weighted_pearson(weights: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        total = weights.sum(axis=1, keepdims=True)
        a = a - (weights * a).sum(axis=1, keepdims=True) / total
        b = b - (weights * b).sum(axis=1, keepdims=True) / total
        with np.errstate(invalid="ignore", divide="ignore"):
            return (weights * a * b).sum(axis=1) / np.sqrt((weights * a * a).sum(axis=1) * (weights * b * b).sum(axis=1))

    def __call__(self, indices: np.ndarray, axis: int = -1) -> np.ndarray:
        """(2, ...) array: Spearman and Pearson of each resample (rows of `indices`)."""
        indices = np.asarray(indices).astype(np.intp)
        shape = indices.shape[:-1]
        indices = indices.reshape(-1, indices.shape[-1])
        weights = self._weights(indices)
        spearman = self._weighted_pearson(weights, self._ranks(weights, self.group_x), self._ranks(weights, self.group_y))
        pearson = self._weighted_pearson(weights, np.broadcast_to(self.x, weights.shape), np.broadcast_to(self.y, weights.shape))
        return np.stack([spearman.reshape(shape), pearson.reshape(shape)])


def correlation_intervals(predicted: Sequence[float], gold: Sequence[float], n_resamples: int = BOOTSTRAP_RESAMPLES,
                          confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> tuple[tuple[float, float] | None, ...]:
    """(Spearman interval, Pearson interval) by one seeded percentile bootstrap over the (predicted, gold)
    pairs: scipy resamples the pair indices, `ResampledCorrelations` evaluates both correlations."""
    statistic = ResampledCorrelations(predicted, gold)
    if statistic.n < 3:
        return None, None
    spearman, pearson = bootstrap_intervals(statistic, (np.arange(statistic.n),), n_resamples, confidence, seed)
    return spearman, pearson


def spearman_interval(predicted: Sequence[float], gold: Sequence[float], n_resamples: int = BOOTSTRAP_RESAMPLES,
                      confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> tuple[float, float] | None:
    """Bootstrap interval of Spearman's rho over (predicted, gold) pairs (percentile, seeded)."""
    return correlation_intervals(predicted, gold, n_resamples, confidence, seed)[0]


def pearson_interval(predicted: Sequence[float], gold: Sequence[float], n_resamples: int = BOOTSTRAP_RESAMPLES,
                     confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> tuple[float, float] | None:
    """Bootstrap interval of Pearson's r over (predicted, gold) pairs (percentile, seeded)."""
    return correlation_intervals(predicted, gold, n_resamples, confidence, seed)[1]


# ---------------------------------------------------------------------------------------------
# Two models on the same examples


@dataclass(frozen=True)
class McNemarResult:
    """b: examples only model A survived; c: only model B survived; p: exact two-sided p-value."""

    b: int
    c: int
    n: int
    pvalue: float


def mcnemar_exact(survived_a: Sequence[bool], survived_b: Sequence[bool]) -> McNemarResult:
    """McNemar's exact test on per-example booleans of two models on the SAME examples (aligned):
    under H0 each discordant pair is equally likely to go either way, so b ~ Binomial(b + c, 1/2)
    and the p-value is scipy's exact two-sided binomial test; p = 1 without discordant pairs."""
    a = np.asarray(survived_a, dtype=bool)
    b_arr = np.asarray(survived_b, dtype=bool)
    if a.shape != b_arr.shape:
        raise ValueError(f"paired outcomes must have the same length; got {a.shape[0]} and {b_arr.shape[0]}")
    b = int(np.sum(a & ~b_arr))
    c = int(np.sum(~a & b_arr))
    pvalue = 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)
    return McNemarResult(b, c, int(a.shape[0]), pvalue)


def _asr_difference(success_a, attacked_a, success_b, attacked_b, axis: int = -1):
    """ASR_A - ASR_B = S_A/(S_A+F_A) - S_B/(S_B+F_B) on each resample; NaN when either has no attacked example."""
    with np.errstate(invalid="ignore", divide="ignore"):
        asr_a = success_a.sum(axis=axis) / attacked_a.sum(axis=axis)
        asr_b = success_b.sum(axis=axis) / attacked_b.sum(axis=axis)
    return asr_a - asr_b


def attack_success_rate(outcomes: Sequence[str]) -> float | None:
    """S / (S + F) of per-example result types; None when nothing was attacked."""
    successes = sum(1 for o in outcomes if o == "successful")
    attacked = sum(1 for o in outcomes if o in ("successful", "failed"))
    return successes / attacked if attacked else None


@dataclass(frozen=True)
class PairedDifference:
    """ASR of A and of B on the paired examples, A - B, and its bootstrap interval (None when undefined)."""

    asr_a: float | None
    asr_b: float | None
    difference: float | None
    interval: tuple[float, float] | None
    n: int
    undefined_resamples: int


def paired_bootstrap_difference(outcomes_a: Sequence[str], outcomes_b: Sequence[str], n_resamples: int = BOOTSTRAP_RESAMPLES,
                                confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> PairedDifference:
    """Bootstrap interval of ASR_A - ASR_B over examples both models were attacked on (aligned ids).

    Outcomes are TextAttack result types ("successful", "failed", "skipped"). ASR = S/(S+F) excludes
    each model's own skipped examples, so the two ASRs have different denominators. The bootstrap
    resamples *example ids* (paired: one draw carries both models' outcomes on that example) and
    recomputes both ASRs, each over its own non-skipped examples of the resample. Resamples in which
    a model has no attacked example leave its ASR undefined; they are left out of the percentiles
    and counted in `undefined_resamples` (percentile method, seeded).
    """
    if len(outcomes_a) != len(outcomes_b):
        raise ValueError(f"paired outcomes must have the same length; got {len(outcomes_a)} and {len(outcomes_b)}")
    a = np.asarray(outcomes_a, dtype=object)
    b = np.asarray(outcomes_b, dtype=object)
    arrays = [(a == "successful").astype(float), np.isin(a, ("successful", "failed")).astype(float),
              (b == "successful").astype(float), np.isin(b, ("successful", "failed")).astype(float)]
    asr_a, asr_b = attack_success_rate(list(a)), attack_success_rate(list(b))
    difference = None if asr_a is None or asr_b is None else asr_a - asr_b
    if difference is None or len(a) < 2:
        return PairedDifference(asr_a, asr_b, difference, None, len(a), 0)
    with warnings.catch_warnings():  # undefined resamples are handled below
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(arrays, _asr_difference, paired=True, vectorized=True, n_resamples=n_resamples,
                                 confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    values = result.bootstrap_distribution
    undefined = int(np.isnan(values).sum())
    return PairedDifference(asr_a, asr_b, difference, nan_percentile_interval(values, confidence), len(a), undefined)


def pooled_mcnemar(results: Sequence[McNemarResult]) -> McNemarResult:
    """McNemar over strata (seeds): under H0 every discordant pair of every stratum is a fair coin, so
    sum(b) ~ Binomial(sum(b + c), 1/2); exact two-sided p (1 without discordant pairs)."""
    b, c, n = (sum(r.b for r in results), sum(r.c for r in results), sum(r.n for r in results))
    pvalue = 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)
    return McNemarResult(b, c, n, pvalue)


def pooled_paired_bootstrap_difference(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], n_resamples: int = BOOTSTRAP_RESAMPLES,
                                       confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> PairedDifference:
    """Mean over strata of ASR_A - ASR_B, every stratum's outcomes aligned on the SAME example ids.

    The bootstrap draws example ids once per resample and applies the draw to every stratum (the
    examples are the shared source of sampling noise), recomputing each stratum's two ASRs over its own
    non-skipped examples; `asr_a` / `asr_b` are the strata's mean ASRs. Resamples where some ASR is
    undefined are left out and counted, as in `paired_bootstrap_difference`.
    """
    lengths = {len(x) for pair in pairs for x in pair}
    if not pairs or len(lengths) != 1:
        raise ValueError(f"pooled outcomes must be non-empty and share one example list; got lengths {sorted(lengths)}")
    a = np.asarray([pair[0] for pair in pairs], dtype=object)
    b = np.asarray([pair[1] for pair in pairs], dtype=object)
    per_stratum = [(attack_success_rate(list(x)), attack_success_rate(list(y))) for x, y in zip(a, b)]
    if any(x is None or y is None for x, y in per_stratum):
        return PairedDifference(None, None, None, None, a.shape[1], 0)
    asr_a = float(np.mean([x for x, _ in per_stratum]))
    asr_b = float(np.mean([y for _, y in per_stratum]))
    if a.shape[1] < 2:
        return PairedDifference(asr_a, asr_b, asr_a - asr_b, None, a.shape[1], 0)
    # One draw of example ids per resample, applied to every stratum: (strata, resamples, n) after indexing.
    draws = np.random.default_rng(seed).integers(0, a.shape[1], size=(n_resamples, a.shape[1]))
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0: an undefined ASR in a resample, counted below
        per_stratum_asr = [(x == "successful")[:, draws].sum(-1) / np.isin(x, ("successful", "failed"))[:, draws].sum(-1) for x in (a, b)]
    values = (per_stratum_asr[0] - per_stratum_asr[1]).mean(axis=0)
    return PairedDifference(asr_a, asr_b, asr_a - asr_b, nan_percentile_interval(values, confidence), a.shape[1],
                            int(np.isnan(values).sum()))


@dataclass(frozen=True)
class CorrelationDifference:
    """Mean over strata of Spearman(A) − Spearman(B) on the same scored pairs, with its bootstrap."""

    spearman_a: float
    spearman_b: float
    difference: float
    interval: tuple[float, float] | None
    pvalue: float | None
    n: int
    distribution: np.ndarray  # the resampled differences (for averaging tasks); not compared


def bootstrap_pvalue(difference: float, distribution: np.ndarray) -> float | None:
    """Two-sided p-value of "the difference is 0" from its bootstrap standard error: z = difference / sd(resampled
    differences), p = 2 Phi(-|z|). Unlike counting resamples beyond 0 it has no 1/resamples floor, which Holm over
    many comparisons would multiply; the sampling distribution of a correlation difference over hundreds to thousands of
    pairs is close to normal. None without two defined resamples; 1 (0) for a zero spread and a zero (nonzero) difference."""
    values = distribution[~np.isnan(distribution)]
    if values.size < 2:
        return None
    spread = float(values.std(ddof=1))
    if spread == 0:
        return 1.0 if difference == 0 else 0.0
    return float(2 * stats.norm.sf(abs(difference) / spread))


def paired_spearman_difference(strata: Sequence[tuple[Sequence[float], Sequence[float]]], gold: Sequence[float],
                               n_resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE,
                               seed: int | Sequence[int] = BOOTSTRAP_SEED) -> CorrelationDifference:
    """Mean over strata (seed pairs) of rho(A_s, gold) − rho(B_s, gold), every prediction aligned on the
    SAME sentence pairs. The bootstrap draws pair indices once per resample and applies the draw to
    every model of every stratum (the sentence pairs are the shared source of sampling noise; the
    trained models are held fixed): percentile interval, and the p-value from the bootstrap standard
    error (`bootstrap_pvalue`), seeded."""
    gold = np.asarray(gold, dtype=np.float64)
    n = gold.size
    if not strata or any(len(x) != n for pair in strata for x in pair):
        raise ValueError(f"paired predictions must be non-empty and align with the {n} gold scores")
    models = [(ResampledCorrelations(a, gold), ResampledCorrelations(b, gold)) for a, b in strata]
    spearman_a = float(np.mean([spearman_statistic(np.asarray(a, dtype=np.float64), gold) for a, _ in strata]))
    spearman_b = float(np.mean([spearman_statistic(np.asarray(b, dtype=np.float64), gold) for _, b in strata]))
    draws = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    distribution = np.empty(n_resamples)
    for start in range(0, n_resamples, 100):  # batches bound the (resamples x pairs) weight matrices
        chunk = draws[start:start + 100]
        distribution[start:start + 100] = np.mean([a(chunk)[0] - b(chunk)[0] for a, b in models], axis=0)
    interval = nan_percentile_interval(distribution, confidence) if n >= 3 else None
    return CorrelationDifference(spearman_a, spearman_b, spearman_a - spearman_b, interval,
                                 bootstrap_pvalue(spearman_a - spearman_b, distribution) if n >= 3 else None, n, distribution)


def paired_t_difference(differences: Sequence[float], confidence: float = CONFIDENCE) -> tuple[tuple[float, float] | None, float | None]:
    """(t-interval of the mean, two-sided paired t-test p) over per-seed-pair differences; (None, None)
    for fewer than two pairs. Identical differences (no spread, up to rounding) give a zero-width
    interval and no p-value: the t statistic is undefined."""
    data = np.asarray(differences, dtype=np.float64)
    if data.size < 2:
        return None, None
    interval = seed_summary(data, confidence).interval
    if float(data.std(ddof=1)) <= 1e-12 * max(1.0, float(np.abs(data).max())):
        return interval, None
    return interval, float(stats.ttest_1samp(data, 0.0).pvalue)


# ---------------------------------------------------------------------------------------------
# Several comparisons


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni step-down adjusted p-values, in the input order (None entries are not tests
    and stay None). With m tests sorted p_(1) <= ... <= p_(m): adj_(i) = max_{j<=i} min(1, (m-j+1) p_(j))."""
    tested = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    m = len(tested)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, index) in enumerate(sorted(tested)):
        running = max(running, min(1.0, (m - rank) * float(p)))  # monotone: never below an earlier step
        adjusted[index] = running
    return adjusted


# ---------------------------------------------------------------------------------------------
# Several seeds


@dataclass(frozen=True)
class SeedSummary:
    """Over n seeds: mean, sample std (ddof = 1; None for one seed) and the Student-t interval of the mean."""

    n: int
    mean: float
    std: float | None
    interval: tuple[float, float] | None


def seed_summary(values: Sequence[float], confidence: float = CONFIDENCE) -> SeedSummary:
    """mean ± t_{(1+c)/2, n-1} · s / sqrt(n); no interval for one seed. Identical values give a
    zero-width interval."""
    data = np.asarray(values, dtype=np.float64)
    n = int(data.size)
    if n == 0:
        raise ValueError("seed_summary needs at least one value")
    mean = float(data.mean())
    if n == 1:
        return SeedSummary(1, mean, None, None)
    std = float(data.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, df=n - 1)) * std / math.sqrt(n)
    return SeedSummary(n, mean, std, (mean - half, mean + half))
