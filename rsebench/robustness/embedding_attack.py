"""Embedding-space FGSM and PGD against a victim: perturb the word embeddings, not the words.

For an example with word embeddings e (one row per token) and label y, find δ with ‖δ‖ ≤ ε that
flips the victim's prediction, by ascending the cross-entropy loss L(f(e + δ), y):

    L-inf:  δ ← clip_ε(δ + α · sign(∇δ L))
    L2:     δ ← Π_ε(δ + α · ∇δ L / ‖∇δ L‖₂)      (Π_ε: rescale onto the ball ‖δ‖₂ ≤ ε)

FGSM is one step with α = ε from δ = 0; PGD takes `steps` steps from a random start inside the ball
and stops at the first iterate that flips the prediction. The L2 norm is taken over the whole
sentence's perturbation (all perturbed tokens together). Only real tokens are perturbed: [CLS],
[SEP] and padding keep their embeddings. Position/type embeddings and LayerNorm are added once by
the backbone, as for clean inputs (`inputs_embeds` are word embeddings).

Result semantics follow TextAttack: `skipped` when the clean prediction is already wrong,
`successful` when the prediction flips, `failed` otherwise. `queries` counts forward passes.
There is no perturbed text, so the perturbed-word fraction is undefined (null); the records report
the L-inf and L2 norms of the successful perturbations instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import nn

from rsebench.errors import UserError
from rsebench.seeding import example_digest

NORMS = ("linf", "l2")


@dataclass(frozen=True)
class EmbeddingAttackConfig:
    norm: str
    eps: float
    steps: int
    step_size: float
    random_start: bool

    def __post_init__(self):
        if self.norm not in NORMS:
            raise UserError(f"unknown norm '{self.norm}'; choose one of: {', '.join(NORMS)}")
        if not (self.eps > 0 and math.isfinite(self.eps)):
            raise UserError(f"eps must be a positive finite number, got {self.eps}")
        if self.steps < 1:
            raise UserError(f"steps must be at least 1, got {self.steps}")
        if not (self.step_size > 0 and math.isfinite(self.step_size)):
            raise UserError(f"step size must be a positive finite number, got {self.step_size}")


def resolve_step_size(rule: str | float, eps: float, steps: int) -> float:
    """A number, or a rule in `eps` and `steps` from the spec ("eps", "2.5*eps/steps")."""
    if isinstance(rule, (int, float)):
        return float(rule)
    if not re.fullmatch(r"[0-9.eps*/+\- ()t]+", str(rule)):
        raise UserError(f"step_size '{rule}' must be a number or an arithmetic rule in eps and steps, e.g. 2.5*eps/steps")
    try:
        return float(eval(str(rule), {"__builtins__": {}}, {"eps": eps, "steps": steps}))  # noqa: S307 - vetted above
    except Exception:
        raise UserError(f"cannot evaluate step_size rule '{rule}'") from None


def example_generator(seed: int, example_id: str) -> torch.Generator:
    """Per-example random stream: the same example gets the same random start in any run or shard."""
    return torch.Generator().manual_seed(int.from_bytes(example_digest(seed, example_id)[:8], "little") & (2**63 - 1))


def _project(delta: torch.Tensor, norm: str, eps: float) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    size = delta.flatten().norm(p=2)
    return delta * torch.clamp(eps / (size + 1e-12), max=1.0)


def _random_start(shape, mask: torch.Tensor, norm: str, eps: float, generator: torch.Generator) -> torch.Tensor:
    if norm == "linf":
        delta = (torch.rand(shape, generator=generator) * 2 - 1) * eps
    else:  # a uniform direction, radius eps * u^(1/d): uniform in the L2 ball
        direction = torch.randn(shape, generator=generator) * mask.cpu()
        d = int(mask.sum().item()) * shape[-1]
        radius = eps * torch.rand(1, generator=generator).item() ** (1.0 / max(d, 1))
        delta = direction / (direction.flatten().norm() + 1e-12) * radius
    return delta.to(mask.device) * mask


def attack_example(victim, text: str, text_b: str | None, label: int, config: EmbeddingAttackConfig,
                   generator: torch.Generator) -> dict:
    """Attack one example; returns the result fields of a run line (and the final δ under `delta`)."""
    victim.eval()
    batch = victim.tokenize([text], None if text_b is None else [text_b], special_tokens_mask=True)
    special = batch.pop("special_tokens_mask")
    mask = (batch["attention_mask"].bool() & ~special.bool()).unsqueeze(-1).to(torch.float32)
    input_ids = batch.pop("input_ids")
    with torch.no_grad():
        clean = victim.encoder.word_embeddings()(input_ids).detach()

    def logits_at(delta: torch.Tensor, grad: bool) -> torch.Tensor:
        with torch.set_grad_enabled(grad):
            return victim(inputs_embeds=clean + delta, **batch)

    target = torch.tensor([label], device=clean.device)
    # Without a random start the clean forward pass doubles as PGD's first iterate (δ = 0).
    delta = torch.zeros_like(clean).requires_grad_(not config.random_start)
    logits = logits_at(delta, grad=not config.random_start)
    queries = 1
    original_output = int(logits.argmax(-1))
    result = {"original_output": original_output, "original_scores": logits.detach().softmax(-1)[0].tolist(),
              "tokens": int(mask.sum().item())}
    if original_output != label:
        return {**result, "result_type": "skipped", "perturbed_output": None, "queries": queries,
                "linf_norm": None, "l2_norm": None, "steps_used": 0, "delta": torch.zeros_like(clean)}
    if config.random_start:
        delta = _random_start(clean.shape, mask, config.norm, config.eps, generator).requires_grad_(True)
        logits = logits_at(delta, grad=True)
        queries += 1
    steps_used = 0
    while True:
        prediction = int(logits.argmax(-1))
        if prediction != label or steps_used == config.steps:
            break
        loss = nn.functional.cross_entropy(logits, target)
        (gradient,) = torch.autograd.grad(loss, delta)
        gradient = gradient * mask
        if config.norm == "linf":
            update = gradient.sign()
        else:
            update = gradient / (gradient.flatten().norm(p=2) + 1e-12)
        steps_used += 1
        more = steps_used < config.steps
        delta = (_project(delta.detach() + config.step_size * update, config.norm, config.eps) * mask).requires_grad_(more)
        logits = logits_at(delta, grad=more)
        queries += 1
    delta = delta.detach()
    probabilities = logits.detach().softmax(-1)[0]
    return {**result, "result_type": "successful" if prediction != label else "failed", "perturbed_output": prediction,
            "perturbed_scores": probabilities.tolist(), "queries": queries, "steps_used": steps_used,
            "linf_norm": float(delta.abs().max()), "l2_norm": float(delta.flatten().norm(p=2)), "delta": delta}
