"""STS scoring: the 'all' setting pools every pair of a year into one correlation."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from rsebench.data import SentencePairScores
from rsebench.evaluate.sts import cosine_rows, score_pairs


class LookupEncoder:
    """Encodes each sentence to a fixed vector, so the expected correlation is computable by hand."""

    def __init__(self, table):
        self.table = table

    def encode(self, sentences, batch_size=64, description=""):
        return np.stack([self.table[s] for s in sentences]).astype(np.float32)


def test_all_setting_pools_subsets_not_mean_of_subsets():
    rng = np.random.default_rng(0)
    words = [f"s{i}" for i in range(40)]
    table = {w: rng.normal(size=8) for w in words}
    s1, s2 = words[:20], words[20:]
    gold = list(rng.uniform(0, 5, size=20))
    subsets = ["a"] * 10 + ["b"] * 10
    data = SentencePairScores("toy", "test", "original", s1, s2, gold, subsets, [str(i) for i in range(20)])
    result = score_pairs(LookupEncoder(table), data)
    predicted = cosine_rows(np.stack([table[s] for s in s1]), np.stack([table[s] for s in s2]))
    pooled = spearmanr(predicted, gold).statistic
    mean_of_subsets = np.mean([spearmanr(predicted[:10], gold[:10]).statistic, spearmanr(predicted[10:], gold[10:]).statistic])
    assert result.spearman == pytest.approx(pooled)
    assert result.spearman != pytest.approx(mean_of_subsets)
    assert set(result.per_subset) == {"a", "b"}
    assert result.per_subset["a"]["spearman_cosine"] == pytest.approx(spearmanr(predicted[:10], gold[:10]).statistic)


def test_records_carry_seeded_bootstrap_intervals_over_the_pooled_pairs():
    from rsebench.evaluate.sts import sts_record
    from rsebench.stats import spearman_interval

    rng = np.random.default_rng(2)
    words = [f"s{i}" for i in range(400)]
    table = {w: rng.normal(size=8) for w in words}
    s1, s2 = words[:200], words[200:]
    predicted = cosine_rows(np.stack([table[s] for s in s1]), np.stack([table[s] for s in s2]))
    gold = list(predicted + rng.normal(scale=0.2, size=200))
    subsets = ["a"] * 100 + ["b"] * 100
    data = SentencePairScores("toy", "test", "original", s1, s2, gold, subsets, [str(i) for i in range(200)])
    result = score_pairs(LookupEncoder(table), data)
    model = {"name": "lookup", "key": "lookup", "method": "pretrained"}
    record = sts_record(result, model, {"variant": "original"})
    again = sts_record(score_pairs(LookupEncoder(table), data), model, {"variant": "original"})
    m = record["metrics"]
    assert m["spearman_cosine_ci95"] == again["metrics"]["spearman_cosine_ci95"]  # seeded: deterministic
    assert m["spearman_cosine_ci95"][0] < m["spearman_cosine"] < m["spearman_cosine_ci95"][1]
    assert m["pearson_cosine_ci95"][0] < m["pearson_cosine"] < m["pearson_cosine_ci95"][1]
    bootstrap = record["settings"]["bootstrap"]
    assert bootstrap["resamples"] == 1000 and bootstrap["method"] == "percentile" and record["settings"]["variant"] == "original"
    # over all 200 pooled pairs, the same interval as the stats helper gives (same seed and resamples)
    assert m["spearman_cosine_ci95"] == pytest.approx(list(spearman_interval(result.predicted, gold, 1000, seed=bootstrap["seed"])))


def test_cli_eval_writes_records(tmp_path, monkeypatch, tiny_encoder):
    from rsebench.cli import main

    tiny_encoder.save(tmp_path / "tiny")
    assert main(["eval", "--model", str(tmp_path / "tiny"), "--tasks", "sts13,sick", "--results-dir", str(tmp_path / "r")]) == 0
    from rsebench.records import read_records

    records, problems = read_records(tmp_path / "r")
    assert not problems
    assert sorted(r["task"]["name"] for r in records) == ["sick", "sts13"]
    for record in records:
        assert -1 <= record["metrics"]["spearman_cosine"] <= 1
        low, high = record["metrics"]["spearman_cosine_ci95"]
        assert -1 <= low <= record["metrics"]["spearman_cosine"] <= high <= 1
        assert record["task"]["n"] in (1500, 4927)


@pytest.mark.integration
def test_minilm_stsb_matches_published(minilm):
    from rsebench.data import load_dataset

    # all-MiniLM-L6-v2 scores 82.03 Spearman on STS-B test in MTEB; pooled cosine must reproduce it.
    result = score_pairs(minilm, load_dataset("stsb", "test"))
    assert result.spearman == pytest.approx(0.8203, abs=0.002)
