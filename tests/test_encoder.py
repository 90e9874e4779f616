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
