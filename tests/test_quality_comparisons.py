"""Paired STS / transfer comparisons: the formulas by hand, the pairing, and the report's table."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from rsebench import stats
from rsebench.data import SentencePairScores


def test_bootstrap_pvalue_by_hand():
    # resampled differences with sample sd 1 (values 1, 2, 3): a difference of 1.96 is z = 1.96, p = 0.05
    assert stats.bootstrap_pvalue(1.96, np.array([1.0, 2.0, 3.0])) == pytest.approx(0.05, abs=1e-4)
    assert stats.bootstrap_pvalue(-1.96, np.array([1.0, 2.0, 3.0, np.nan])) == pytest.approx(0.05, abs=1e-4)
    assert stats.bootstrap_pvalue(0.0, np.array([0.0, 0.0])) == 1.0
    assert stats.bootstrap_pvalue(0.1, np.array([0.1, 0.1])) == 0.0
    assert stats.bootstrap_pvalue(0.1, np.array([np.nan])) is None


def test_paired_t_difference_by_hand():
    differences = [0.010, 0.020, 0.015]
    interval, p = stats.paired_t_difference(differences)
    mean, sd = 0.015, 0.005
    half = scipy_stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert interval == pytest.approx((mean - half, mean + half))
    t = mean / (sd / math.sqrt(3))
    assert p == pytest.approx(2 * scipy_stats.t.sf(t, 2))
    assert stats.paired_t_difference([0.01]) == (None, None)
    assert stats.paired_t_difference([0.012, 0.012])[1] is None  # no spread: the t statistic is undefined


def _toy(n=600, seed=0):
    rng = np.random.default_rng(seed)
    gold = rng.normal(size=n)
    better = gold + 0.8 * rng.normal(size=n)
    worse = gold + 1.2 * rng.normal(size=n)
    return gold, better, worse


def test_paired_spearman_difference_point_and_direction():
    gold, better, worse = _toy()
    result = stats.paired_spearman_difference([(better, worse)], gold)
    expected = scipy_stats.spearmanr(better, gold).statistic - scipy_stats.spearmanr(worse, gold).statistic
    assert result.difference == pytest.approx(expected)
    assert result.interval[0] > 0 and result.pvalue < 0.01
    swapped = stats.paired_spearman_difference([(worse, better)], gold)
    assert swapped.difference == pytest.approx(-expected) and swapped.interval[1] < 0
    same = stats.paired_spearman_difference([(better, better)], gold)
    assert same.difference == 0 and same.interval == (0.0, 0.0) and same.pvalue == 1.0


def test_paired_spearman_difference_resamples_the_pairs_jointly():
    """A model and a nearly identical one: paired, the difference is pinned near 0; resampled apart, it would
    spread like the correlation itself (about ±0.06 here)."""
    gold, better, _ = _toy()
    twin = better + 1e-3 * np.random.default_rng(1).normal(size=better.size)
    result = stats.paired_spearman_difference([(better, twin)], gold)
    assert result.interval[1] - result.interval[0] < 0.005
    alone = stats.spearman_interval(better, gold)
    assert alone[1] - alone[0] > 0.05
    # two identical strata give the one-stratum interval (the pairs are drawn once for every stratum)
    gold, better, worse = _toy(seed=3)
    one = stats.paired_spearman_difference([(better, worse)], gold, seed=7)
    two = stats.paired_spearman_difference([(better, worse), (better, worse)], gold, seed=7)
    assert two.interval == pytest.approx(one.interval)
    with pytest.raises(ValueError):
        stats.paired_spearman_difference([(better[:-1], worse[:-1])], gold)


# ---------------------------------------------------------------------------------------------
# End to end: records written by the STS evaluation, compared in the report


class LookupEncoder:
    def __init__(self, table):
        self.table = table

    def encode(self, sentences, batch_size=64, description=""):
        return np.stack([self.table[s] for s in sentences]).astype(np.float32)


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    s1, s2 = [f"a{i}" for i in range(n)], [f"b{i}" for i in range(n)]
    return SentencePairScores("stsb", "test", "original", s1, s2, list(rng.uniform(0, 5, n)), ["x"] * n, [str(i) for i in range(n)])


def _encoder(data, noise, seed):
    """Vectors whose cosine tracks the gold score, blurred by `noise`."""
    rng = np.random.default_rng(seed)
    table = {}
    for a, b, score in zip(data.sentences1, data.sentences2, data.scores):
        base = rng.normal(size=16)
        table[a] = base
        table[b] = base + (5.2 - score + noise * rng.normal()) * rng.normal(size=16) / 3
    return LookupEncoder(table)


def _write(tmp_path, data, method, train_seed, noise):
    from rsebench.evaluate.sts import score_pairs, sts_record
    from rsebench.records import write_record

    model = {"name": f"{method}-{train_seed}", "key": f"{method}{train_seed}", "method": method, "train_seed": train_seed,
             "fingerprint": f"{method}{train_seed}"}
    result = score_pairs(_encoder(data, noise, seed=train_seed), data)
    return write_record(sts_record(result, model, {"variant": "original"}), tmp_path)


def test_sts_records_keep_per_pair_cosines_and_the_pairs_fingerprint(tmp_path):
    from rsebench.evaluate.sts import pairs_fingerprint
    from rsebench.records import read_records

    data = _data()
    _write(tmp_path, data, "simcse", 0, 0.5)
    (record,), _ = read_records(tmp_path)
    assert len(record["details"]["pair_cosines"]) == len(data)
    assert record["details"]["pairs_sha256"] == pairs_fingerprint(data)
    cosines = np.asarray(record["details"]["pair_cosines"])
    assert scipy_stats.spearmanr(cosines, data.scores).statistic == pytest.approx(record["metrics"]["spearman_cosine"], abs=1e-6)
    other = _data(seed=1)
    assert pairs_fingerprint(other) != pairs_fingerprint(data)


def test_report_writes_quality_comparisons_with_both_tests(tmp_path, monkeypatch):
    from rsebench.report import quality_comparisons
    from rsebench.report.render import render_report

    data = _data()
    monkeypatch.setattr("rsebench.data.load_dataset", lambda name, split=None, variant="original": data)
    for seed in (0, 1, 2):
        _write(tmp_path / "r", data, "simcse", seed, 1.5)
        _write(tmp_path / "r", data, "robustsentembed", seed, 0.3)
    render_report(tmp_path / "r", formats=("csv", "markdown"), reported=None, echo=lambda line: None)
    rows = list(csv.DictReader(open(tmp_path / "r" / "tables" / "quality_comparisons.csv")))
    (row,) = [r for r in rows if r["task"] == "STS-B"]
    assert row["model"] == "RobustSentEmbed" and row["reference"] == "SimCSE" and row["seed_pairs"] == "3" and row["n_pairs"] == "300"
    assert float(row["pairs_ci_low"]) > 0 and float(row["pairs_holm_p"]) < 0.05
    assert float(row["seeds_ci_low"]) <= float(row["difference"]) <= float(row["seeds_ci_high"])
    # the pooled difference is the mean of the per-seed differences of the records' own correlations
    from rsebench.records import read_records

    records, _ = read_records(tmp_path / "r")
    by = {(r["model"]["method"], r["model"]["train_seed"]): r["metrics"]["spearman_cosine"] for r in records}
    expected = np.mean([by[("robustsentembed", s)] - by[("simcse", s)] for s in (0, 1, 2)])
    assert float(row["difference"]) == pytest.approx(expected)
    interval, p = stats.paired_t_difference([by[("robustsentembed", s)] - by[("simcse", s)] for s in (0, 1, 2)])
    assert (float(row["seeds_ci_low"]), float(row["seeds_ci_high"])) == pytest.approx(interval)
    assert "quality_comparisons" in quality_comparisons.__name__
    markdown = (tmp_path / "r" / "tables" / "quality_comparisons.md").read_text()
    assert "pairs bootstrap" in markdown and "†" in markdown


def test_records_without_cosines_get_the_seed_test_and_a_note(tmp_path):
    from rsebench.records import write_json_atomic
    from rsebench.report.collect import collect
    from rsebench.report.quality_comparisons import compare_quality
    from rsebench.report.tables import build_tables

    data = _data()
    paths = [_write(tmp_path, data, method, seed, noise) for method, noise in (("simcse", 1.0), ("robustsentembed", 0.5))
             for seed in (0, 1)]
    for path in paths:  # as written before rsebench stored per-pair cosines
        record = json.loads(path.read_text())
        del record["details"]["pair_cosines"]
        write_json_atomic(path, record)
    result = compare_quality(build_tables(collect(tmp_path)))
    (row,) = result.rows
    assert row.interval is None and row.n_pairs is None and row.seed_interval is not None
    assert any("no pairs bootstrap for 2 STS record pairs" in note for note in result.notes)
