"""STS evaluation: cosine similarity of the two sentence vectors against gold scores.

STS12–16 are scored the standard modern way (SimCSE / MTEB "all" setting): every pair of a year
pooled into one Spearman correlation, not a mean over its subsets. Per-subset correlations are
kept in the record's details for reference. STS-B and SICK-R use their test splits.

Records carry 95% intervals of both correlations (`metrics.spearman_cosine_ci95`,
`metrics.pearson_cosine_ci95`): a seeded percentile bootstrap over the sentence pairs (for STS12–16
over the pooled pairs of the year, matching the pooled correlation); the resample count, method
and seed are in the record's `settings.bootstrap`.

Records also keep every pair's cosine similarity (`details.pair_cosines`, in the dataset's order,
rounded to 1e-6) and a fingerprint of the scored pairs (`details.pairs_sha256`), so two models scored
on the same pairs can be compared paired (rsebench.report.quality_comparisons).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import pearsonr, spearmanr

from rsebench.data import STS_TASKS, SentencePairScores, load_dataset
from rsebench.stats import BOOTSTRAP_METHOD, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE, as_list, correlation_intervals


@dataclass(frozen=True)
class STSResult:
    task: str
    split: str
    variant: str
    n: int
    spearman: float
    pearson: float
    per_subset: dict[str, dict[str, float]]
    seconds: float
    # the scored pairs, for the bootstrap intervals of the record (not compared, not printed)
    predicted: np.ndarray | None = field(default=None, repr=False, compare=False)
    gold: np.ndarray | None = field(default=None, repr=False, compare=False)
    pairs_sha256: str = ""  # fingerprint of the scored pairs (sentences and gold scores)


COSINE_DECIMALS = 6  # stored per-pair cosines: float32 encoders carry about 7 significant digits


def pairs_fingerprint(data: SentencePairScores) -> str:
    """sha256 (16 hex digits) of the scored pairs in order: the same fingerprint means the same pairs."""
    payload = json.dumps([data.sentences1, data.sentences2, [float(x) for x in data.scores]], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    return (a * b).sum(1)


def correlations(predicted: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """(Spearman, Pearson) as fractions in [-1, 1]."""
    return float(spearmanr(predicted, gold).statistic), float(pearsonr(predicted, gold).statistic)


def score_pairs(encoder, data: SentencePairScores, batch_size: int = 64) -> STSResult:
    """Encode each distinct sentence once, then correlate cosine similarity with the gold scores."""
    start = time.perf_counter()
    unique = list(dict.fromkeys(data.sentences1 + data.sentences2))
    vectors = encoder.encode(unique, batch_size=batch_size, description=f"{data.name} {data.split}")
    row = {sentence: i for i, sentence in enumerate(unique)}
    first = vectors[[row[s] for s in data.sentences1]]
    second = vectors[[row[s] for s in data.sentences2]]
    predicted = cosine_rows(first, second)
    gold = np.asarray(data.scores, dtype=np.float64)
    spearman, pearson = correlations(predicted, gold)  # "all": every pair of the set in one correlation
    per_subset = {}
    subsets = np.asarray(data.subsets)
    for subset in dict.fromkeys(data.subsets):
        mask = subsets == subset
        if mask.sum() > 2 and len(set(data.subsets)) > 1:
            s, p = correlations(predicted[mask], gold[mask])
            per_subset[subset] = {"spearman_cosine": _defined(s), "pearson_cosine": _defined(p), "n": int(mask.sum())}
    return STSResult(data.name, data.split, data.variant, len(data), spearman, pearson, per_subset, time.perf_counter() - start,
                     predicted=predicted, gold=gold, pairs_sha256=pairs_fingerprint(data))


def evaluate_sts(encoder, tasks: list[str] | tuple[str, ...] = STS_TASKS, variant: str = "original", split: str | None = None,
                 batch_size: int = 64) -> list[STSResult]:
    """Score each STS task (test splits unless `split` says otherwise, e.g. 'dev' for STS-B model selection)."""
    return [score_pairs(encoder, load_dataset(task, split, variant), batch_size) for task in tasks]


def _defined(value: float) -> float | None:
    return None if value != value else value


def record_intervals(result: STSResult, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """`spearman_cosine_ci95` and `pearson_cosine_ci95` ([lo, hi] or None) by a paired bootstrap over the
    scored sentence pairs: one resampling of the pairs gives both (same seed, same resamples)."""
    if result.predicted is None or result.gold is None:
        return {"spearman_cosine_ci95": None, "pearson_cosine_ci95": None}
    spearman, pearson = correlation_intervals(result.predicted, result.gold, resamples, seed=seed)
    return {"spearman_cosine_ci95": as_list(spearman), "pearson_cosine_ci95": as_list(pearson)}


def pair_details(result: STSResult) -> dict:
    """Per-pair cosines (dataset order) and the pairs' fingerprint, for paired comparisons; {} without them."""
    if result.predicted is None or not result.pairs_sha256:
        return {}
    return {"pair_cosines": [round(float(x), COSINE_DECIMALS) for x in result.predicted], "pairs_sha256": result.pairs_sha256}


def sts_identity(task: str, split: str, variant: str = "original", similarity: str = "cosine") -> dict:
    """An STS record's identity (the model aside): task, split, text variant and similarity."""
    return {"task": task, "split": split, "variant": variant, "similarity": similarity}


def sts_record(result: STSResult, model: dict, settings: dict):
    """An "sts" record; its identity: the model, the task and split, the text variant and the similarity."""
    from rsebench.records import make_record

    bootstrap = {"unit": "sentence pairs", "method": BOOTSTRAP_METHOD, "resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED,
                 "confidence": CONFIDENCE}
    return make_record(
        "sts",
        model=model,
        task={"name": result.task, "split": result.split, "n": result.n, "variant": result.variant},
        # NaN (a correlation with a constant vector) is undefined: null in strict JSON.
        metrics={"spearman_cosine": _defined(result.spearman), "pearson_cosine": _defined(result.pearson), **record_intervals(result)},
        settings={**settings, "bootstrap": bootstrap},
        timings={"seconds": result.seconds},
        identity=sts_identity(result.task, result.split, result.variant, settings.get("similarity", "cosine")),
        details={"per_subset": result.per_subset, "aggregation": "all pairs pooled", **pair_details(result)},
    )
