"""SentEval transfer tasks: protocol pieces on synthetic features, the tasks on small slices."""

from __future__ import annotations

import numpy as np
import pytest

from rsebench.errors import UserError
from rsebench.evaluate import transfer
from rsebench.records import model_section, validate
from rsebench.stats import wilson_interval


def _blobs(n: int, separable: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    features = rng.normal(size=(n, 8)).astype(np.float32)
    if separable:
        features[:, 0] += 6.0 * (2 * labels - 1)
    return features, labels


def test_cross_validation_separates_signal_from_noise():
    x, y = _blobs(120, separable=True)
    clean = transfer.cross_validated_accuracy(x, y, seed=0, outer_folds=3, inner_folds=2)
    assert len(clean["fold_accuracies"]) == 3 and all(c in transfer.C_GRID for c in clean["chosen_c"])
    assert np.mean(clean["fold_accuracies"]) > 0.95
    x, y = _blobs(120, separable=False)
    noise = transfer.cross_validated_accuracy(x, y, seed=0, outer_folds=3, inner_folds=2)
    assert 0.3 < np.mean(noise["fold_accuracies"]) < 0.7


def test_model_selection_is_seeded():
    x, y = _blobs(120, separable=False, seed=3)
    first = transfer.cross_validated_accuracy(x, y, seed=5, outer_folds=3, inner_folds=2)
    again = transfer.cross_validated_accuracy(x, y, seed=5, outer_folds=3, inner_folds=2)
    assert first == again


def test_unknown_task_is_a_user_error():
    with pytest.raises(UserError, match="unknown transfer task"):
        transfer.task_splits("imdb")


class CountingEncoder:
    """Stands in for SentenceEncoder: hashes words into a bag-of-words vector and counts calls."""

    hidden_size = 16

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, sentences, batch_size=64, show_progress=None, description=""):
        sentences = list(sentences)
        self.seen.extend(sentences)
        out = np.zeros((len(sentences), self.hidden_size), dtype=np.float32)
        for row, sentence in enumerate(sentences):
            for word in sentence.lower().split():
                out[row, sum(map(ord, word)) % self.hidden_size] += 1.0
        return out


def test_each_distinct_text_is_encoded_once_and_pairs_use_senteval_features():
    encoder = CountingEncoder()
    splits = transfer.task_splits("mrpc", max_examples=60, seed=0)
    features, n_encoded = transfer.encode_splits(encoder, splits, 64, "mrpc")
    assert len(encoder.seen) == len(set(encoder.seen)) == n_encoded
    assert features["train"].shape == (60, 2 * encoder.hidden_size)  # [|u-v|, u*v]
    assert (features["train"][:, :encoder.hidden_size] >= 0).all()


@pytest.mark.parametrize("task", ["mr", "sst2", "trec", "mrpc"])
def test_tasks_run_on_small_slices_and_make_valid_records(tiny_encoder, task):
    result = transfer.evaluate_transfer_task(tiny_encoder, task, seed=1, max_examples=120, outer_folds=3, inner_folds=2)
    assert 0.0 <= result.accuracy <= 1.0 and result.seconds > 0
    assert result.settings["max_examples"] == 120
    record = transfer.transfer_record(result, model_section(tiny_encoder, "tiny"), seed=1)
    validate(record)
    assert record["kind"] == "transfer" and record["task"]["name"] == task and record["seed"] == 1
    assert ("f1" in record["metrics"]) == (task == "mrpc")
    assert ("accuracy_std" in record["metrics"]) == (task == "mr")
    # Wilson over the scored examples: every example once for CV tasks, the test split otherwise
    n = result.n_test
    assert result.n_correct == pytest.approx(result.accuracy * n, abs=0.5 if task != "mr" else 2)
    assert record["metrics"]["accuracy_ci95"] == pytest.approx(list(wilson_interval(result.n_correct, n)))
    if task == "sst2":
        assert record["task"]["n_per_split"] == {"train": 120, "dev": 120, "test": 120}


def test_same_seed_same_numbers(tiny_encoder):
    first = transfer.evaluate_transfer_task(tiny_encoder, "cr", seed=2, max_examples=100, outer_folds=3, inner_folds=2)
    again = transfer.evaluate_transfer_task(tiny_encoder, "cr", seed=2, max_examples=100, outer_folds=3, inner_folds=2)
    assert first.fold_accuracies == again.fold_accuracies and first.data_hash == again.data_hash


@pytest.mark.integration
def test_minilm_beats_chance_on_a_slice_of_mr(minilm):
    result = transfer.evaluate_transfer_task(minilm, "mr", seed=0, max_examples=200, outer_folds=3, inner_folds=2)
    assert result.accuracy > 0.65  # the full 10-fold protocol measured 0.767 on MR for all-MiniLM-L6-v2
