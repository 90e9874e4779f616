"""Victim classifiers: probe and fine-tune on a tiny encoder, caching, checkpoint-weight assertion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_tiny_encoder
from rsebench.errors import UserError
from rsebench.robustness.victim import VictimSettings, assert_matches_checkpoint, build_victim, victim_key

FAST = dict(max_train=96, eval_max=32, batch_size=16)


@pytest.fixture
def victim_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RSEBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_probe_is_trained_cached_and_reloaded(victim_cache):
    encoder = make_tiny_encoder(pooler="mean")
    settings = VictimSettings(kind="probe", seed=0, **FAST)
    victim, meta = build_victim(encoder, "mr", settings)
    assert meta["kind"] == "probe" and not meta["cached"]
    assert 0.0 <= meta["clean_accuracy"] <= 1.0 and meta["clean_accuracy_examples"] == 32
    assert meta["encoder_fingerprint"] == encoder.fingerprint()
    saved = list(victim_cache.rglob("victim.safetensors"))
    assert len(saved) == 1 and not list(victim_cache.rglob("*.pkl"))
    texts = ["a wonderful , moving film", "dull and lifeless"]
    again, meta2 = build_victim(encoder, "mr", settings)
    assert meta2["cached"] and meta2["clean_accuracy"] == meta["clean_accuracy"]
    np.testing.assert_array_equal(victim.predict_logits(texts), again.predict_logits(texts))
    # A different seed or encoder is a different victim (different cache entry).
    other_seed = victim_key(encoder, "mr", VictimSettings(kind="probe", seed=1, **FAST), meta["train_data_hash"])
    other_encoder = victim_key(make_tiny_encoder(pooler="mean", seed=1), "mr", settings, meta["train_data_hash"])
    assert meta["key"] == victim_key(encoder, "mr", settings, meta["train_data_hash"])
    assert len({meta["key"], other_seed, other_encoder}) == 3


def test_finetune_trains_a_copy_and_leaves_the_encoder_alone(victim_cache):
    encoder = make_tiny_encoder()
    before = encoder.fingerprint()
    victim, meta = build_victim(encoder, "mr", VictimSettings(kind="finetune", epochs=1, learning_rate=1e-3, **FAST))
    assert encoder.fingerprint() == before
    assert victim.encoder is not encoder
    changed = any(not torch.equal(a, b) for a, b in zip(victim.encoder.backbone.parameters(), encoder.backbone.parameters()))
    assert changed and meta["training"]["steps"] == 6


def test_pair_dataset_feeds_premise_and_hypothesis_as_a_pair(victim_cache):
    encoder = make_tiny_encoder()
    victim, meta = build_victim(encoder, "snli", VictimSettings(kind="probe", **FAST))
    batch = victim.tokenize(["a man sleeps ."], ["nobody sleeps ."])
    assert int(batch["token_type_ids"].max()) == 1  # second segment present
    assert victim.head.out_features == 3 and meta["train_split"] == "dev"


def test_dataset_without_training_split_needs_a_file(victim_cache):
    with pytest.raises(UserError, match="--victim-train"):
        build_victim(make_tiny_encoder(), "yelp", VictimSettings(**FAST))


def test_victim_must_start_from_the_checkpoint_weights(tmp_path):
    from rsebench.encoder import load_encoder

    make_tiny_encoder().save(tmp_path / "ckpt")
    encoder = load_encoder(str(tmp_path / "ckpt"), device="cpu")
    import copy

    copy_ = copy.deepcopy(encoder)
    assert_matches_checkpoint(copy_, encoder)  # compared with the safetensors file on disk
    with torch.no_grad():
        copy_.backbone.encoder.layer[0].attention.self.query.weight.add_(1e-3)
    with pytest.raises(UserError, match="does not match"):
        assert_matches_checkpoint(copy_, encoder)
    # A freshly initialised encoder of the same shape (what a key mismatch silently gives) is refused too.
    with pytest.raises(UserError, match="does not match"):
        assert_matches_checkpoint(make_tiny_encoder(seed=1), encoder)
