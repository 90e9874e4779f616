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


class FixedMaskDropout(torch.nn.Module):
    """Dropout with a fixed mask per batch row: row i of any forward gets mask i. In the 2N forward of
    `two_views` rows 0..N-1 (view 1) and N..2N-1 (view 2) get DIFFERENT masks, and every N-row forward
    (the adversarial view, the search) gets view 1's masks, so the objective is deterministic yet its
    two views differ, as in training."""

    def __init__(self, p: float, seed: int):
        super().__init__()
        self.p, self.seed, self.masks = p, seed, {}

    def forward(self, x):
        if not self.training:
            return x
        key = tuple(x.shape[1:])
        if key not in self.masks:
            generator = torch.Generator().manual_seed(self.seed)
            self.masks[key] = (torch.rand((64, *key), generator=generator) >= self.p).to(torch.float64) / (1 - self.p)
        return x * self.masks[key][:x.shape[0]].to(x.dtype)


def fixed_dropout(module, p=0.3):
    """Every nn.Dropout replaced by a FixedMaskDropout (own seed each); SDPA attention dropout off."""
    for index, (name, child) in enumerate(list(module.named_modules())):
        for attr, sub in list(child.named_children()):
            if isinstance(sub, torch.nn.Dropout):
                setattr(child, attr, FixedMaskDropout(p, seed=1000 + index))
        if hasattr(child, "dropout_prob"):
            child.dropout_prob = 0.0
    return module


def intended_loss(objective, batch):
    """RobustSentEmbed's loss written from the paper's equations, with the found perturbations and the RTD
    edits as constants: L = 1/2 [l(h1, h2) + l(h1, h_adv)] + w_reg l(h2, h_adv) + lambda L_rtd."""
    last, s, tau, encoder = objective.last, objective.spec, objective.temperature, objective.encoder
    n = batch["input_ids"].shape[0]
    words = encoder.word_embeddings()(batch["input_ids"])
    doubled = {k: torch.cat([v, v]) for k, v in batch.items()}
    z = objective.embed(doubled)  # rows 0..N-1: view 1's masks, rows N..2N-1: view 2's masks
    z1, z2 = z[:n], z[n:]
    h1, h2 = objective.head(z1), objective.head(z2)
    h_adv = objective.head(objective.embed(batch, words + last["delta_tok"] + last["delta_sent"]))
    l_cl = 0.5 * (info_nce(h1, h2, tau) + info_nce(h1, h_adv, tau))
    l_reg = info_nce(h2, h_adv, tau)
    labels = (last["edited"] != batch["input_ids"]).to(torch.float64)
    edited = F.embedding(last["edited"], encoder.word_embeddings().weight.detach()) + last["delta_tok"]
    logits = objective.discriminator(edited, z1, batch["attention_mask"])
    l_rtd, _ = rtd_loss(logits, labels, objective.tokens.ordinary(batch["input_ids"], batch["attention_mask"]))
    return l_cl + s["regularizer_weight"] * l_reg + s["rtd_weight"] * l_rtd, (h1, h2)


def test_inner_loop_gradients_do_not_leak_into_the_update():
    """float64, fixed and different dropout masks per view: the update's gradient is exactly the gradient of
    the intended loss (a leak, a missing detach, a wrong pairing or a missing delta all show above 1e-9)."""
    encoder = fixed_dropout(make_tiny_encoder()).double()
    objective = rse(encoder, token_steps=2, sentence_steps=3, rtd_mask_ratio=0.3, search_dropout="stochastic")
    objective = fixed_dropout(objective).double()
    batch = encoder.tokenize(SENTENCES)
    loss, terms = objective(batch)
    loss.backward()
    params = [p for p in encoder.parameters()] + list(objective.head.parameters()) + list(objective.discriminator.parameters())
    actual = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]
    assert objective.last["delta_tok"].abs().max() > 0 and objective.last["delta_sent"].abs().max() > 0
    assert (objective.last["rtd_labels"] > 0).any()

    intended, (h1, h2) = intended_loss(objective, batch)
    assert (h1 - h2).abs().max() > 1e-2  # the two views really differ
    assert torch.allclose(intended, terms["loss"], rtol=1e-12, atol=1e-12)
    assert torch.allclose(intended + terms["mlm"], loss, rtol=1e-12, atol=1e-12)
    expected = torch.autograd.grad(intended, params, allow_unused=True)
    for got, want, p in zip(actual, expected, params):
        want = torch.zeros_like(p) if want is None else want
        assert torch.allclose(got, want, rtol=1e-9, atol=1e-12), (got - want).abs().max()
    assert any(g.abs().sum() > 0 for g in actual)


def test_delta_tok_reaches_the_discriminator_through_the_objectives_loss():
    encoder = make_tiny_encoder()
    objective = rse(encoder, deterministic=True, rtd_mask_ratio=0.3)
    seen = []
    objective.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    batch = encoder.tokenize(SENTENCES)
    objective(batch)
    last = objective.last
    assert last["delta_tok"].abs().max() > 0
    words = F.embedding(last["edited"], encoder.word_embeddings().weight.detach())
    assert torch.allclose(seen[-1][:, 1:], (words + last["delta_tok"])[:, 1:], atol=1e-7)  # position 0 carries z1
    assert not torch.allclose(seen[-1][:, 1:], words[:, 1:], atol=1e-7)


def test_delta_split_feeds_delta_sent_to_the_view_and_delta_tok_to_rtd():
    encoder = make_tiny_encoder()
    objective = rse(encoder, deterministic=True, rtd_mask_ratio=0.3, delta_split=True)
    seen = []
    objective.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    batch = encoder.tokenize(SENTENCES)
    objective(batch)
    last = objective.last
    words = encoder.word_embeddings()(batch["input_ids"])
    with torch.no_grad():
        sentence_only = objective.head(objective.embed(batch, words + last["delta_sent"]))
        both = objective.head(objective.embed(batch, words + last["delta_sent"] + last["delta_tok"]))
    assert torch.allclose(last["h_adv"], sentence_only, atol=1e-6) and not torch.allclose(last["h_adv"], both, atol=1e-6)
    edited = F.embedding(last["edited"], encoder.word_embeddings().weight.detach())
    assert torch.allclose(seen[-1][:, 1:], (edited + last["delta_tok"])[:, 1:], atol=1e-7)


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


# ---------------------------------------------------------------------------------------------
# InfoNCE, written out by hand


def test_info_nce_is_cross_entropy_of_cosine_over_temperature():
    import math

    torch.manual_seed(0)
    anchors, positives, queue = torch.randn(4, 5) * 3, torch.randn(4, 5) * 0.5, torch.randn(3, 5) * 2
    tau = 0.07

    def cos(a, b):
        return float(a @ b) / (float(a.norm()) * float(b.norm()))

    for extra in (None, queue):
        candidates = list(positives) + ([] if extra is None else list(extra))
        expected = 0.0
        for i, a in enumerate(anchors):
            scores = [cos(a, c) / tau for c in candidates]
            expected -= scores[i] - math.log(sum(math.exp(x) for x in scores))
        expected /= len(anchors)
        got = info_nce(anchors, positives, tau, extra_negatives=extra)
        assert float(got) == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------------------------------------
# The adversarial search ascends its inner loss


def inner_loss(objective, batch, words, delta, target):
    with torch.no_grad():
        return float(info_nce(objective.head(objective.embed(batch, words + delta)), target, objective.temperature))


@pytest.mark.parametrize("part", ["token", "sentence"])
def test_search_raises_the_inner_loss_above_zero_and_random_perturbations(part):
    """Each perturbation on its own: the delta found beats delta = 0 and random deltas of equal size."""
    encoder = make_tiny_encoder()
    objective = rse(encoder, deterministic=True, rtd=False, token_perturbation=part == "token",
                    sentence_perturbation=part == "sentence")
    batch = encoder.tokenize(SENTENCES)
    with torch.no_grad():
        target = objective.head(objective.embed(batch))
        words = encoder.word_embeddings()(batch["input_ids"])
    delta_tok, delta_sent = objective.search(batch, words, target)
    delta = delta_tok if part == "token" else delta_sent
    assert delta.abs().max() > 0 and (delta_sent if part == "token" else delta_tok).abs().max() == 0
    found, clean = inner_loss(objective, batch, words, delta, target), inner_loss(objective, batch, words, 0 * delta, target)
    generator = torch.Generator().manual_seed(0)
    randoms = []
    for _ in range(8):
        if part == "token":  # every token's vector turned in a random direction, same norm
            turned = torch.randn(delta.shape, generator=generator)
            rand = turned / turned.norm(dim=-1, keepdim=True) * delta.norm(dim=-1, keepdim=True)
        else:  # the same entries with random signs
            rand = delta.abs() * (torch.randint(0, 2, delta.shape, generator=generator) * 2 - 1)
        randoms.append(inner_loss(objective, batch, words, rand, target))
    assert found > clean + 1e-4, (found, clean)
    assert found > max(randoms), (found, randoms)


def dropout_masks(objective, mode):
    """The embedding dropout's masks seen by each forward of one search."""
    masks = []
    dropout = objective.encoder.backbone.embeddings.dropout
    handle = dropout.register_forward_hook(lambda module, args, out: masks.append((out != 0) if module.training else None))
    encoder = objective.encoder
    batch = encoder.tokenize(SENTENCES)
    objective.search_dropout = mode
    with torch.no_grad():
        target = objective.head(objective.embed(batch))
        words = encoder.word_embeddings()(batch["input_ids"])
    masks.clear()
    objective.search(batch, words, target)
    handle.remove()
    return masks


def test_search_dropout_modes():
    encoder = make_tiny_encoder()
    objective = rse(encoder, rtd=False, token_steps=3, sentence_steps=3)
    torch.manual_seed(1)
    eval_masks = dropout_masks(objective, "eval")
    assert len(eval_masks) == 3 and all(m is None for m in eval_masks)  # dropout off in every search step
    assert objective.training and objective.encoder.training and objective.head.training  # restored afterwards
    fixed = dropout_masks(objective, "fixed")
    assert len(fixed) == 3 and not fixed[0].all()
    assert all(torch.equal(fixed[0], m) for m in fixed[1:])  # one mask for every step
    stochastic = dropout_masks(objective, "stochastic")
    assert len(stochastic) == 3 and not torch.equal(stochastic[0], stochastic[1])  # a new network each step
    assert objective.encoder.training


def test_search_dropout_default_is_set_in_the_spec():
    assert load_spec("robustsentembed")["search_dropout"] in ("eval", "fixed", "stochastic")
    from rsebench.errors import UserError

    with pytest.raises(UserError):
        load_spec("robustsentembed", {"search_dropout": "sometimes"})


# ---------------------------------------------------------------------------------------------
# RTD: replacements, generator accuracy, the generator's own learning rate, the BatchNorm projection


class PeakedGenerator(torch.nn.Module):
    """A stand-in MLM whose most likely token is always `peak`."""

    trained = False

    def __init__(self, peak: int, vocab: int):
        super().__init__()
        self.peak, self.vocab = peak, vocab

    def logits(self, masked_ids, attention_mask, positions, word_embeddings):
        out = torch.zeros(int(positions.sum()), self.vocab)
        out[:, self.peak] = 5.0
        return out


def test_argmax_replacement_takes_the_generators_best_token_and_labels_what_changed():
    from rsebench.train.objective import SpecialTokens
    from rsebench.train.rtd import replace_tokens

    encoder = make_tiny_encoder()
    batch = encoder.tokenize(SENTENCES)
    tokens = SpecialTokens.of(encoder.tokenizer)
    peak = int(batch["input_ids"][0, 1])  # a real token of sentence 0: replacing it by itself is "not replaced"
    torch.manual_seed(0)
    edit = replace_tokens(PeakedGenerator(peak, 30522), batch["input_ids"], batch["attention_mask"], tokens, 0.5,
                          encoder.word_embeddings(), "argmax")
    changed = edit.edited != batch["input_ids"]
    assert changed.any() and (edit.edited[changed] == peak).all()
    assert torch.equal(edit.labels.bool(), changed)
    torch.manual_seed(0)
    positions = (torch.rand(batch["input_ids"].shape) < 0.5) & tokens.ordinary(batch["input_ids"], batch["attention_mask"])
    assert torch.equal(edit.edited[positions], torch.full_like(edit.edited[positions], peak))
    expected = float((batch["input_ids"][positions] == peak).float().mean())
    assert float(edit.mlm_accuracy) == pytest.approx(expected)


def test_joint_generator_has_its_own_parameter_group_and_learning_rate():
    encoder = make_tiny_encoder()
    objective = rse(encoder, generator_lr=1e-3)
    groups = objective.parameter_groups(7e-6, 0.0)
    by_name = {g["name"]: g for g in groups}
    generator = {id(p) for p in objective.generator.parameters()}
    assert by_name["generator"]["lr"] == 1e-3 and by_name["encoder"]["lr"] == 7e-6
    assert {id(p) for p in by_name["generator"]["params"]} == generator
    everything = [id(p) for g in groups for p in g["params"]]
    assert sorted(everything) == sorted(id(p) for p in objective.parameters() if p.requires_grad)  # each once
    assert len(rse(make_tiny_encoder(), generator_lr=0).parameter_groups(7e-6, 0.0)) == 1


def test_rtd_terms_include_generator_accuracy_and_the_majority_prior():
    encoder = make_tiny_encoder()
    objective = rse(encoder, rtd_mask_ratio=0.3)
    _, terms = objective(encoder.tokenize(SENTENCES))
    labels = objective.last["rtd_labels"]
    ordinary = objective.tokens.ordinary(*[encoder.tokenize(SENTENCES)[k] for k in ("input_ids", "attention_mask")])
    replaced = float(labels[ordinary].mean())
    assert float(terms["rtd_prior"]) == pytest.approx(max(replaced, 1 - replaced))
    assert 0 <= float(terms["mlm_acc"]) <= 1 and 0 <= float(terms["rtd_acc"]) <= 1


def test_batchnorm_projection_is_the_official_mlp():
    from rsebench.train.infonce import BatchNormProjectionHead

    encoder = make_tiny_encoder()
    objective = rse(encoder, projection_batchnorm=True, token_steps=1, sentence_steps=1)
    assert isinstance(objective.head, BatchNormProjectionHead)
    norms = [m for m in objective.head.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert [m.affine for m in norms] == [True, False]
    loss, _ = objective(encoder.tokenize(SENTENCES))
    loss.backward()
    assert objective.head.net[0].weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------
# ESimCSE: repetition, the queue in the loss, the momentum update


def test_esimcse_word_repetition_lengthens_sentences_within_the_dup_rate():
    from rsebench.train.esimcse import repeat_words
    from rsebench.train.objective import SpecialTokens

    encoder = make_tiny_encoder()
    batch = encoder.tokenize(SENTENCES)
    tokens = SpecialTokens.of(encoder.tokenizer)
    ordinary = tokens.ordinary(batch["input_ids"], batch["attention_mask"]).sum(1)
    extra_total = 0
    for seed in range(5):
        torch.manual_seed(seed)
        repeated = repeat_words(batch["input_ids"], batch["attention_mask"], tokens, 0.32)
        extra = repeated["attention_mask"].sum(1) - batch["attention_mask"].sum(1)
        limit = torch.clamp((0.32 * ordinary).long(), min=2)
        assert (extra >= 0).all() and (extra <= limit).all()
        extra_total += int(extra.sum())
    assert extra_total >= len(SENTENCES)  # words really are repeated (on average well above one per sentence)


def test_esimcse_loss_uses_the_queue_as_negatives():
    from rsebench.train.esimcse import pad_to, repeat_words

    encoder = make_tiny_encoder()
    objective = no_dropout(build_objective("esimcse", encoder, load_spec("esimcse", {"queue_size": "8"})).train())
    batch = encoder.tokenize(SENTENCES)
    torch.manual_seed(0)
    with torch.no_grad():  # keys near the batch's own vectors: hard negatives that visibly change the loss
        keys = objective.head(objective.embed(batch))[[0, 1, 2, 3, 4, 5, 0, 1]]
        objective.queue.copy_(keys + 0.05 * keys.std() * torch.randn_like(keys))
    objective.queue_filled.fill_(5)
    queue = objective.queue[:5].clone()
    torch.manual_seed(3)
    loss, _ = objective(batch)
    torch.manual_seed(3)
    repeated = repeat_words(batch["input_ids"], batch["attention_mask"], objective.tokens, objective.dup_rate, batch["token_type_ids"])
    length = max(batch["input_ids"].shape[1], repeated["input_ids"].shape[1])
    with torch.no_grad():
        z = objective.head(objective.embed(pad_to(batch, length, 0)))
        z_rep = objective.head(objective.embed(pad_to(repeated, length, 0)))
    candidates = F.normalize(torch.cat([z_rep, queue]), dim=-1)
    logits = F.normalize(z, dim=-1) @ candidates.T / objective.temperature
    expected = F.cross_entropy(logits, torch.arange(len(SENTENCES)))
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-4)
    without = F.cross_entropy(logits[:, :len(SENTENCES)], torch.arange(len(SENTENCES)))
    assert abs(float(expected) - float(without)) > 1e-3  # the queue matters at this scale


def test_esimcse_momentum_update_is_an_exponential_moving_average():
    encoder = make_tiny_encoder()
    objective = build_objective("esimcse", encoder, load_spec("esimcse", {"momentum": "0.9"})).train()
    with torch.no_grad():
        for p in list(encoder.backbone.parameters()) + list(objective.head.parameters()):
            p.add_(torch.randn_like(p))  # online weights move away from the momentum copy
    pairs = list(zip(list(encoder.backbone.parameters()) + list(objective.head.parameters()),
                     list(objective.momentum_backbone.parameters()) + list(objective.momentum_head.parameters())))
    before = [(p.detach().clone(), q.detach().clone()) for p, q in pairs]
    objective.after_step()
    for (p, q), (p0, q0) in zip(pairs, before):
        assert torch.allclose(q, 0.9 * q0 + 0.1 * p0, atol=1e-6)
        assert torch.equal(p, p0)  # the online weights are untouched


@pytest.mark.parametrize("condition", ["pooled", "projected"])
def test_discriminator_is_conditioned_on_the_chosen_sentence_vector(condition):
    encoder = make_tiny_encoder()
    objective = rse(encoder, deterministic=True, token_steps=1, sentence_steps=1, rtd_condition=condition)
    seen = []
    objective.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[1].detach().clone()))
    batch = encoder.tokenize(SENTENCES)
    objective(batch)
    with torch.no_grad():
        z1 = objective.embed(batch)
        expected = objective.head(z1) if condition == "projected" else z1
    assert torch.allclose(seen[-1], expected, atol=1e-6)
