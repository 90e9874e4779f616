"""Embedding-space FGSM/PGD: perturbations stay inside eps and touch only real tokens."""

from __future__ import annotations

import pytest
import torch

from conftest import make_tiny_encoder
from rsebench.errors import UserError
from rsebench.robustness.embedding_attack import EmbeddingAttackConfig, attack_example, example_generator, resolve_step_size
from rsebench.robustness.victim import Victim

TEXTS = ["the film is a charming , funny delight from start to finish", "flat , tedious and far too long"]


@pytest.fixture(scope="module")
def victim():
    encoder = make_tiny_encoder(pooler="mean")
    model = Victim(encoder, 2, "probe")
    torch.manual_seed(0)
    with torch.no_grad():
        model.head.weight.normal_(0, 5.0)
    return model.eval()


def _labels(victim):
    return [int(x) for x in victim.predict_logits(TEXTS).argmax(1)]  # correct by construction: never skipped


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("steps,random_start", [(1, False), (7, True)])
def test_perturbation_stays_inside_eps_on_real_tokens(victim, norm, steps, random_start):
    eps = 0.05
    config = EmbeddingAttackConfig(norm=norm, eps=eps, steps=steps, step_size=resolve_step_size("2.5*eps/steps", eps, steps) if steps > 1 else eps,
                                   random_start=random_start)
    for text, label in zip(TEXTS, _labels(victim)):
        result = attack_example(victim, text, None, label, config, example_generator(0, text))
        assert result["result_type"] in ("successful", "failed")
        delta = result["delta"][0]
        batch = victim.tokenize([text], special_tokens_mask=True)
        special = batch["special_tokens_mask"][0].bool()
        assert torch.all(delta[special] == 0), "special tokens must keep their embeddings"
        if norm == "linf":
            assert float(delta.abs().max()) <= eps * (1 + 1e-6)
        else:
            assert float(delta.norm()) <= eps * (1 + 1e-5)
        assert result["linf_norm"] == pytest.approx(float(delta.abs().max()))
        assert result["queries"] == 1 + int(random_start) + result["steps_used"]


def test_fgsm_linf_uses_the_whole_budget_and_big_eps_flips(victim):
    label = _labels(victim)[0]
    config = EmbeddingAttackConfig(norm="linf", eps=0.02, steps=1, step_size=0.02, random_start=False)
    result = attack_example(victim, TEXTS[0], None, label, config, example_generator(0, "x"))
    delta = result["delta"][0]
    nonzero = delta[delta != 0].abs()
    assert nonzero.numel() > 0 and torch.allclose(nonzero, torch.full_like(nonzero, 0.02))
    strong = attack_example(victim, TEXTS[0], None, label, EmbeddingAttackConfig("linf", 5.0, 10, 1.0, True), example_generator(0, "x"))
    assert strong["result_type"] == "successful" and strong["perturbed_output"] != label


def test_misclassified_examples_are_skipped(victim):
    wrong = 1 - _labels(victim)[0]
    result = attack_example(victim, TEXTS[0], None, wrong, EmbeddingAttackConfig("linf", 0.1, 3, 0.05, True), example_generator(0, "x"))
    assert result["result_type"] == "skipped" and result["queries"] == 1


def test_random_start_is_reproducible_per_example(victim):
    label = _labels(victim)[1]
    config = EmbeddingAttackConfig("l2", 0.5, 3, 0.2, True)
    a = attack_example(victim, TEXTS[1], None, label, config, example_generator(3, "mr:attack:7"))
    b = attack_example(victim, TEXTS[1], None, label, config, example_generator(3, "mr:attack:7"))
    assert torch.equal(a["delta"], b["delta"])


def test_bad_settings_are_user_errors():
    with pytest.raises(UserError):
        EmbeddingAttackConfig("l1", 0.1, 1, 0.1, False)
    with pytest.raises(UserError):
        resolve_step_size("__import__('os')", 0.1, 1)
    assert resolve_step_size("2.5*eps/steps", 0.04, 10) == pytest.approx(0.01)


@pytest.fixture(scope="module")
def mild_victim():
    """A victim whose cross-entropy does not saturate in float32 (the `victim` above is near-certain)."""
    model = Victim(make_tiny_encoder(pooler="mean"), 2, "probe")
    torch.manual_seed(1)
    with torch.no_grad():
        model.head.weight.normal_(0, 0.5)
    return model.eval()


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fgsm_step_ascends_the_victims_loss(mild_victim, norm):
    """One FGSM step lowers the true label's logit margin (raises the loss) below delta = 0 and below random
    deltas of the same norm, and spends the whole budget."""
    victim = mild_victim
    label = _labels(victim)[0]
    eps = 0.01
    result = attack_example(victim, TEXTS[0], None, label, EmbeddingAttackConfig(norm, eps, 1, eps, False), example_generator(0, "x"))
    delta = result["delta"]
    batch = victim.tokenize([TEXTS[0]])
    input_ids = batch.pop("input_ids")
    words = victim.encoder.word_embeddings()(input_ids).detach()

    def loss(d):  # minus the margin of the true label over the other class
        with torch.no_grad():
            logits = victim(inputs_embeds=words + d, **batch)[0]
        return float(logits[1 - label] - logits[label])

    generator = torch.Generator().manual_seed(0)
    mask = (delta != 0).to(delta.dtype)
    randoms = []
    for _ in range(8):
        if norm == "linf":
            rand = delta.abs() * (torch.randint(0, 2, delta.shape, generator=generator) * 2 - 1)
        else:
            rand = torch.randn(delta.shape, generator=generator) * mask
            rand = rand / rand.norm() * delta.norm()
        randoms.append(loss(rand))
    assert loss(delta) > loss(torch.zeros_like(delta)) and loss(delta) > max(randoms)
    size = float(delta.abs().max()) if norm == "linf" else float(delta.norm())
    assert size == pytest.approx(eps, rel=1e-4)  # FGSM spends the whole budget
