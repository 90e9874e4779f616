"""`bench --what attack`: stock TextAttack and rsebench's wrapper give identical outcomes on one victim."""

from __future__ import annotations

import pytest
import torch

from rsebench.robustness.runner import select_examples
from rsebench.robustness.victim import Victim


@pytest.mark.slow
def test_stock_and_fast_wrappers_agree():
    from rsebench.robustness.benchmark import compare_throughput, tiny_encoder

    victim = Victim(tiny_encoder(), 2, "probe")
    torch.manual_seed(0)
    with torch.no_grad():
        victim.head.weight.normal_(0, 5.0)
    report = compare_throughput(victim.eval(), "deepwordbug", select_examples("mr", 2))
    assert report["identical_outcomes"], report["differing_examples"]
    assert report["stock"]["result_types"] == report["rsebench"]["result_types"]
    assert report["speedup"] > 0


def test_fast_wrapper_returns_the_stock_logits():
    from rsebench.robustness.benchmark import stock_model, tiny_encoder
    from rsebench.robustness.recipes import import_textattack
    from rsebench.robustness.wrapper import VictimModelWrapper

    textattack = import_textattack()
    victim = Victim(tiny_encoder(), 2, "probe").eval()
    texts = ["a short one", "a much longer sentence that needs far more padding than the first one does", "a short one"]
    stock = textattack.models.wrappers.HuggingFaceModelWrapper(stock_model(victim), victim.tokenizer)(texts)
    fast = VictimModelWrapper(victim, batch_size=2)
    assert torch.allclose(fast(texts), stock, atol=1e-5)
    assert fast.queries == 2 and fast.calls == 3  # the repeated text came from the cache
    pairs = [("a man sleeps .", "nobody sleeps ."), ("a dog runs", "an animal moves")]
    assert fast(pairs).shape == (2, 2)
