"""Shared fixtures: a tiny randomly initialised BERT encoder (fast unit tests) and the real MiniLM."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RSEBENCH_QUIET", "1")

from rsebench.paths import configure_offline  # noqa: E402

configure_offline()


def make_tiny_encoder(pooler: str = "cls_before_pooler", seed: int = 0, hidden: int = 32, layers: int = 2):
    """A 2-layer, 32-wide BERT with the real MiniLM tokenizer (vocab 30522): milliseconds per step."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rsebench.encoder import SentenceEncoder, default_model_path

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=2 * hidden, max_position_embeddings=64, hidden_dropout_prob=0.1,
                        attention_probs_dropout_prob=0.1)
    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    return SentenceEncoder(BertModel(config), tokenizer, pooler=pooler, max_length=32, name="tiny-bert", source=None)


@pytest.fixture
def tiny_encoder():
    return make_tiny_encoder()


@pytest.fixture(scope="session")
def minilm():
    from rsebench.encoder import load_encoder

    return load_encoder("default", device="cpu")


@pytest.fixture
def one_thread():
    """Tiny models: one torch thread is faster and immune to other jobs oversubscribing the cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
