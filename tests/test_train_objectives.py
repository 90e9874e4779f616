"""RobustSentEmbed / SimCSE / ESimCSE objectives on a tiny random BERT: pairing, bounds, no leaks, reductions."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from conftest import make_tiny_encoder
from rsebench.train.infonce import info_nce
from rsebench.train.objective import build_objective
from rsebench.train.perturbation import scaling_index, sentence_step, token_step
from rsebench.train.rtd import rtd_loss
from rsebench.train.spec import load_spec

pytestmark = pytest.mark.usefixtures("one_thread")


SENTENCES = ["a man is playing a guitar .", "the cat sat on the mat", "stocks fell sharply on monday",
             "she opened the window to let in air", "two dogs run across a field", "the committee approved the budget"]


def no_dropout(module):
    """Dropout off everywhere (nn.Dropout and the SDPA attention's own dropout probability)."""
    for child in module.modules():
        if isinstance(child, torch.nn.Dropout):
            child.p = 0.0
        if hasattr(child, "dropout_prob"):
            child.dropout_prob = 0.0
    return module


def rse(encoder, deterministic=False, **overrides):
    spec = load_spec("robustsentembed", {k: str(v) for k, v in overrides.items()})
    torch.manual_seed(0)
    objective = build_objective("robustsentembed", encoder, spec).train()
    return no_dropout(objective) if deterministic else objective


def test_perturbations_stay_inside_their_balls():
    torch.manual_seed(0)
    mask = torch.ones(3, 7)
    mask[1, 4:] = 0
    delta_tok = torch.zeros(3, 7, 16)
    delta_linf = torch.zeros(3, 7, 16)
    delta_l2 = torch.zeros(3, 7, 16)
    for _ in range(20):
        grad = torch.randn(3, 7, 16) * 10
        delta_tok = token_step(delta_tok, grad, mask, step_size=0.3, eps=0.5)
        delta_linf = sentence_step(delta_linf, grad, mask, step_size=0.05, eps=0.1, norm="linf")
        delta_l2 = sentence_step(delta_l2, grad, mask, step_size=0.3, eps=0.7, norm="l2")
    assert delta_tok.norm(dim=-1).max() <= 0.5 + 1e-6
    assert delta_linf.abs().max() <= 0.1 + 1e-7
    assert torch.isclose(delta_linf.abs().max(), torch.tensor(0.1))  # the ball is actually reached
    assert delta_l2.flatten(1).norm(dim=1).max() <= 0.7 + 1e-6
    for delta in (delta_tok, delta_linf, delta_l2):
        assert delta[1, 4:].abs().max() == 0  # padding never moves


def test_scaling_index_is_gradient_norm_relative_to_sentence_max():
    grad = torch.zeros(1, 3, 2)
    grad[0, 0] = torch.tensor([3.0, 4.0])  # norm 5 (largest)
    grad[0, 1] = torch.tensor([0.0, 1.0])  # norm 1
    index = scaling_index(grad, torch.ones(1, 3)).flatten()
    assert torch.allclose(index, torch.tensor([1.0, 0.2, 0.0]))
    step = token_step(torch.zeros(1, 3, 2), grad, torch.ones(1, 3), step_size=1.0, eps=10.0)
    assert torch.allclose(step[0, 0], torch.tensor([0.6, 0.8])) and torch.allclose(step[0, 1], torch.tensor([0.0, 0.2]))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_objective_perturbations_respect_spec_bounds(norm):
    encoder = make_tiny_encoder()
    objective = rse(encoder, rtd=False, sentence_norm=norm, token_eps=0.01, sentence_eps=0.005, token_step_size=0.008,
                    sentence_step_size=0.004)
    objective(encoder.tokenize(SENTENCES))
    delta_tok, delta_sent = objective.last["delta_tok"], objective.last["delta_sent"]
    assert 0 < delta_tok.norm(dim=-1).max() <= 0.01 + 1e-6
    bound = delta_sent.abs().max() if norm == "linf" else delta_sent.flatten(1).norm(dim=1).max()
    assert 0 < bound <= 0.005 + 1e-6


def test_adversarial_view_of_sentence_i_is_paired_with_sentence_i():
    encoder = make_tiny_encoder()
    objective = rse(encoder, deterministic=True, rtd=False, token_eps=1e-5, sentence_eps=1e-6)
    batch = encoder.tokenize(SENTENCES)
    objective(batch)
    h1, h_adv = objective.last["h1"], objective.last["h_adv"]
    distance = (h_adv[:, None] - h1[None]).norm(dim=-1)
    assert torch.equal(distance.argmin(dim=1), torch.arange(len(SENTENCES)))
    # Reordering the batch reorders the adversarial views with it.
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    objective(encoder.tokenize([SENTENCES[i] for i in order]))
    assert torch.allclose(objective.last["h_adv"], h_adv[order], atol=1e-4)


def test_zero_perturbation_through_inputs_embeds_equals_input_ids():
    encoder = make_tiny_encoder().eval()
    batch = encoder.tokenize(SENTENCES)
    words = encoder.word_embeddings()(batch["input_ids"])
    with torch.no_grad():
        by_ids = encoder(**batch)
        by_embeds = encoder(inputs_embeds=words, attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
    assert torch.equal(by_ids, by_embeds)  # position/type embeddings and LayerNorm applied exactly once
    objective = rse(make_tiny_encoder(), deterministic=True, rtd=False, token_eps=0.0, sentence_eps=0.0)
    objective(objective.encoder.tokenize(SENTENCES))
    assert torch.allclose(objective.last["h_adv"], objective.last["h1"], atol=1e-6)


def test_inner_loop_gradients_do_not_leak_into_the_update():
    encoder = make_tiny_encoder()
    objective = rse(encoder, deterministic=True, token_steps=2, sentence_steps=3, rtd_mask_ratio=0.3)
    batch = encoder.tokenize(SENTENCES)
    loss, terms = objective(batch)
    loss.backward()
    params = [p for p in encoder.parameters()] + list(objective.head.parameters()) + list(objective.discriminator.parameters())
    actual = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]

    # The intended loss, with the found perturbations and the RTD edits as constants (dropout is off: z1 == z2).
    last, s, tau = objective.last, objective.spec, objective.temperature
    words = encoder.word_embeddings()(batch["input_ids"])
    z = objective.embed(batch, words)
    h = objective.head(z)
    h_adv = objective.head(objective.embed(batch, words + last["delta_tok"] + last["delta_sent"]))
    l_cl = 0.5 * (info_nce(h, h, tau) + info_nce(h, h_adv, tau))
    l_reg = info_nce(h, h_adv, tau)
    edited = F.embedding(last["edited"], encoder.word_embeddings().weight.detach()) + last["delta_tok"]
    logits = objective.discriminator(edited, z, batch["attention_mask"])
    l_rtd, _ = rtd_loss(logits, last["rtd_labels"], objective.tokens.ordinary(batch["input_ids"], batch["attention_mask"]))
    intended = l_cl + s["regularizer_weight"] * l_reg + s["rtd_weight"] * l_rtd
    assert torch.allclose(intended, terms["loss"], atol=1e-5) and torch.allclose(intended + terms["mlm"], loss, atol=1e-5)
    expected = torch.autograd.grad(intended, params, allow_unused=True)
    for got, want, p in zip(actual, expected, params):
        want = torch.zeros_like(p) if want is None else want
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-6), (got - want).abs().max()
    assert any(g.abs().sum() > 0 for g in actual)


def test_rtd_gradient_reaches_the_encoder_through_the_conditioning():
    encoder = make_tiny_encoder()
    objective = rse(encoder, token_perturbation=False, sentence_perturbation=False, rtd_mask_ratio=0.5)
    _, terms = objective(encoder.tokenize(SENTENCES))
    assert {"cl", "rtd", "rtd_acc", "mlm", "loss"} <= set(terms)
    batch = encoder.tokenize(SENTENCES)
    z = objective.embed(batch)
    edited = F.embedding(batch["input_ids"], encoder.word_embeddings().weight.detach())
    logits = objective.discriminator(edited, z, batch["attention_mask"])
    grads = torch.autograd.grad(logits.sum(), list(encoder.backbone.encoder.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)


def test_everything_off_is_exactly_simcse():
    base = make_tiny_encoder()
    batch = base.tokenize(SENTENCES)
    results = []
    for method, overrides in (("simcse", {}), ("robustsentembed", {"token_perturbation": "false", "sentence_perturbation": "false",
                                                                   "rtd": "false"})):
        encoder = copy.deepcopy(base)
        torch.manual_seed(7)
        objective = build_objective(method, encoder, load_spec(method, overrides)).train()
        torch.manual_seed(8)
        loss, _ = objective(batch)
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in objective.parameters() if p.grad is not None]))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert torch.equal(loss_a, loss_b)
    assert len(grads_a) == len(grads_b) and all(torch.equal(a, b) for a, b in zip(grads_a, grads_b))


def is_word_repetition(original: list[int], repeated: list[int]) -> bool:
    """True when `repeated` is `original` with some tokens written twice in place."""
    from functools import lru_cache

    @lru_cache(maxsize=None)
    def matches(i: int, j: int) -> bool:
        if i == len(original):
            return j == len(repeated)
        if j >= len(repeated) or repeated[j] != original[i]:
            return False
        return matches(i + 1, j + 1) or (j + 1 < len(repeated) and repeated[j + 1] == original[i] and matches(i + 1, j + 2))

    return matches(0, 0)


def test_word_repetition_checker():
    assert is_word_repetition([1, 5, 6, 2], [1, 5, 5, 6, 2]) and is_word_repetition([1, 5, 6, 2], [1, 5, 6, 2])
    assert not is_word_repetition([1, 5, 6, 2], [1, 6, 5, 2]) and not is_word_repetition([1, 5, 6, 2], [1, 5, 6, 6, 6, 2])


def test_esimcse_repeats_words_and_fills_its_queue():
    from rsebench.train.esimcse import repeat_words

    encoder = make_tiny_encoder()
    objective = build_objective("esimcse", encoder, load_spec("esimcse", {"queue_size": "8"})).train()
    batch = encoder.tokenize(SENTENCES)
    torch.manual_seed(1)
    repeated = repeat_words(batch["input_ids"], batch["attention_mask"], objective.tokens, 0.32)
    for original, mask, new, new_mask in zip(batch["input_ids"], batch["attention_mask"], repeated["input_ids"], repeated["attention_mask"]):
        old, got = original[mask.bool()].tolist(), new[new_mask.bool()].tolist()
        assert is_word_repetition(old, got)
        assert got[0] == old[0] and got[-1] == old[-1]  # [CLS] and [SEP] are never repeated
        assert sorted(set(got)) == sorted(set(old))
    objective(batch)
    assert int(objective.queue_filled) == 6
    _, terms = objective(batch)
    assert float(terms["queue"]) == 6  # the second batch already sees the first batch's keys
