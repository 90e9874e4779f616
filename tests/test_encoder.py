"""Encoder: identical vectors to sentence-transformers, poolers, batching, safe loading, bad paths."""

import json

import numpy as np
import pytest
import torch

from rsebench.encoder import SentenceEncoder, load_encoder, pool
from rsebench.errors import UserError

SENTENCES = ["A man is playing a guitar.", "Short.", "The quick brown fox jumps over the lazy dog near the river bank today.",
             "Two dogs run.", "A woman slices an onion in the kitchen while talking on the phone."] * 3


@pytest.mark.integration
def test_default_matches_sentence_transformers(minilm):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(minilm.source, device="cpu").encode(SENTENCES, batch_size=4, convert_to_numpy=True)
    ours = minilm.encode(SENTENCES, batch_size=4)
    assert minilm.pooler == "mean" and minilm.normalize and minilm.max_length == 256
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_batching_and_order_do_not_change_vectors(tiny_encoder):
    one_batch = tiny_encoder.encode(SENTENCES, batch_size=64)
    small_batches = tiny_encoder.encode(SENTENCES, batch_size=2)
    np.testing.assert_allclose(one_batch, small_batches, atol=1e-5)
    single = tiny_encoder.encode([SENTENCES[2]])
    np.testing.assert_allclose(single[0], one_batch[2], atol=1e-5)
    assert tiny_encoder.encode([]).shape == (0, tiny_encoder.hidden_size)


def test_sorted_batches_are_the_tokenizers_own_padding_in_token_length_order(tiny_encoder):
    tiny_encoder.max_length = 12  # one sentence is longer: truncated like the tokenizer truncates
    batches = list(tiny_encoder.tokenize_sorted(SENTENCES, batch_size=4))
    order = np.concatenate([index for index, _ in batches])
    assert sorted(order.tolist()) == list(range(len(SENTENCES)))
    lengths = [int(batch["attention_mask"].sum(1).max()) for _, batch in batches]
    assert lengths == sorted(lengths, reverse=True) and lengths[0] == 12
    for index, batch in batches:
        reference = tiny_encoder.tokenize([SENTENCES[i] for i in index])
        assert set(batch) == set(reference)
        for key in batch:
            assert torch.equal(batch[key], reference[key]), key


def test_poolers():
    hidden = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.equal(pool("cls_before_pooler", hidden, mask), hidden[:, 0])
    assert torch.allclose(pool("mean", hidden, mask)[0], hidden[0, :2].mean(0))
    pooled = torch.ones(2, 4)
    assert torch.equal(pool("cls", hidden, mask, pooled), pooled)


def test_save_and_reload_roundtrip(tmp_path, tiny_encoder):
    from sentence_transformers import SentenceTransformer

    tiny_encoder.save(tmp_path / "ckpt", metadata={"method": "test"})
    assert (tmp_path / "ckpt" / "model.safetensors").is_file()
    assert not list((tmp_path / "ckpt").glob("*.bin"))
    reloaded = load_encoder(str(tmp_path / "ckpt"), device="cpu")
    assert reloaded.pooler == tiny_encoder.pooler and reloaded.fingerprint() == tiny_encoder.fingerprint()
    np.testing.assert_allclose(reloaded.encode(SENTENCES), tiny_encoder.encode(SENTENCES), atol=1e-5)
    st = SentenceTransformer(str(tmp_path / "ckpt"), device="cpu")
    np.testing.assert_allclose(st.encode(SENTENCES), tiny_encoder.encode(SENTENCES), atol=1e-5)


def test_pickle_only_checkpoint_is_refused(tmp_path, tiny_encoder):
    tiny_encoder.save(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").unlink()
    torch.save({}, tmp_path / "ckpt" / "pytorch_model.bin")
    with pytest.raises(UserError, match="no .safetensors weights.*pytorch_model.bin"):
        SentenceEncoder.load(str(tmp_path / "ckpt"))


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing", "not found"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "not a model directory"),
    (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", "is a file"),
])
def test_bad_model_paths(tmp_path, make, message):
    with pytest.raises(UserError, match=message):
        load_encoder(str(make(tmp_path)))


def test_hub_id_offline_fails_clearly():
    with pytest.raises(UserError, match="RSEBENCH_ONLINE=1"):
        load_encoder("nobody/not-a-real-model-xyz")


def test_unsupported_pooling_config(tmp_path, tiny_encoder):
    tiny_encoder.save(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    with pytest.raises(UserError, match="not supported"):
        load_encoder(str(tmp_path / "ckpt"))


@pytest.mark.slow
def test_encode_bench_compares_equal_vectors_with_sentence_transformers():
    from rsebench.data import load_corpus
    from rsebench.encode_benchmark import compare_encode

    report = compare_encode("default", load_corpus(max_sentences=24), batch_size=8, repeats=2)
    assert report["vectors_equal"] and report["max_abs_difference"] < 1e-5
    assert set(report["seconds"]) == {"rsebench", "sentence_transformers"} and all(len(t) == 2 for t in report["times"].values())
    assert report["ratio"] == pytest.approx(report["seconds"]["sentence_transformers"] / report["seconds"]["rsebench"])
