"""How hard RobustSentEmbed's adversarial positive is for an encoder, before it trains on it (issue 12).

The method can only teach robustness when its adversarial view is a harder positive than the clean
one. On the first batches training would see, for each setting of a grid (ε, pooling, temperature, ...):

    l_clean = l(h1, h2)       SimCSE's positive: a second dropout view
    l_adv   = l(h1, h_adv)    the adversarial positive, h_adv = g(f(e + delta)) after the spec's search
    l_rand  = l(h1, h_rand)   control: delta replaced by random noise of the same norm per sentence

and the norm of the gradient each loss sends into the encoder's weights (`grad_adv / grad_clean`). The
objective bites when l_adv is well above l_clean (and above l_rand: the search, not any noise of
that size, makes the positive hard) and its gradient is not negligible next to the clean one. Every
setting sees the same sentences and the same dropout masks (one seed), so settings compare paired.

ε is also given relative to the backbone's embedding scale: `sentence_eps / rms` (the L-inf radius over
the root-mean-square word-embedding coordinate) and `token_eps / token_norm` (the per-token L2 radius
over the median word-vector norm).
"""

from __future__ import annotations

import itertools
import math
import statistics

import torch

from rsebench.train.infonce import info_nce
from rsebench.train.objective import build_objective

# When a grid moves a radius but not its step, the step keeps the spec's step/radius ratio (the ablation
# study's convention: a quarter of the radius for the sentence level).
LINKED_STEPS = {"sentence_eps": "sentence_step_size", "token_eps": "token_step_size"}


def grid_settings(spec: dict, grid: dict[str, list]) -> list[dict]:
    """The Cartesian product of the grid as spec overrides, with linked step sizes filled in."""
    names = list(grid)
    settings = []
    for values in itertools.product(*(grid[n] for n in names)):
        setting = dict(zip(names, values))
        for radius, step in LINKED_STEPS.items():
            if radius in setting and step not in grid and float(spec[radius]) > 0:
                setting[step] = float(spec[step]) * float(setting[radius]) / float(spec[radius])
        settings.append(setting)
    return settings


def embedding_scale(encoder) -> dict[str, float]:
    """Root-mean-square coordinate and median L2 norm of the word-embedding table."""
    table = encoder.word_embeddings().weight.detach().float()
    return {"rms": float(table.pow(2).mean().sqrt()), "token_norm": float(table.norm(dim=1).median())}


def random_like(delta: torch.Tensor, mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise on real tokens, rescaled to `delta`'s Frobenius norm sentence by sentence."""
    m = mask.unsqueeze(-1).to(delta.dtype)
    noise = torch.randn(delta.shape, generator=generator, dtype=delta.dtype).to(delta.device) * m
    scale = delta.flatten(1).norm(dim=1) / noise.flatten(1).norm(dim=1).clamp_min(1e-12)
    return noise * scale.view(-1, 1, 1)


def _grad_norm(loss: torch.Tensor, params: list[torch.Tensor]) -> float:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return math.sqrt(sum(g.float().pow(2).sum().item() for g in grads if g is not None))


def measure_batch(objective, batch: dict[str, torch.Tensor], seed: int) -> dict[str, float]:
    """The three losses, their encoder-gradient norms and the perturbation's size on one batch."""
    torch.manual_seed(seed)  # the same dropout masks for every setting
    params = [p for p in objective.encoder.parameters() if p.requires_grad]
    z1, z2 = objective.two_views(batch)
    h1, h2 = objective.head(z1), objective.head(z2)
    words = objective.encoder.word_embeddings()(batch["input_ids"])
    delta_tok, delta_sent = objective.search(batch, words, h2)
    delta = delta_sent if objective.delta_split else delta_tok + delta_sent
    noise = random_like(delta, batch["attention_mask"], torch.Generator().manual_seed(seed))
    h_adv = objective.head(objective.embed(batch, words + delta))
    h_rand = objective.head(objective.embed(batch, words + noise))
    tau = objective.temperature
    l_clean, l_adv, l_rand = info_nce(h1, h2, tau), info_nce(h1, h_adv, tau), info_nce(h1, h_rand, tau)
    real = batch["attention_mask"].bool()
    return {"l_clean": l_clean.item(), "l_adv": l_adv.item(), "l_rand": l_rand.item(),
            "grad_clean": _grad_norm(l_clean, params), "grad_adv": _grad_norm(l_adv, params),
            "delta_tok_norm": float(delta_tok.norm(dim=-1)[real].mean()) if delta_tok.numel() else 0.0,
            "delta_sent_max": float(delta_sent.abs().amax())}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def adversarial_signal(encoder, method: str, runs: list[tuple[dict, dict]], batches: list[dict[str, torch.Tensor]],
                       seed: int = 0, on_row=None) -> list[dict]:
    """One row per (setting, its whole spec): the batch means of `measure_batch` and the ratios that say
    whether the objective bites."""
    scale = embedding_scale(encoder)
    rows = []
    for setting, run_spec in runs:
        encoder.pooler = run_spec["pooler"]
        torch.manual_seed(seed)  # the same projection head for every setting
        objective = build_objective(method, encoder, {**run_spec, "rtd": False})  # RTD does not shape the adversarial view
        objective.train()
        per_batch = [measure_batch(objective, batch, seed + i) for i, batch in enumerate(batches)]
        mean = {k: statistics.fmean(b[k] for b in per_batch) for k in per_batch[0]}
        row = {"setting": setting, **mean,
               # None where that level of the search is switched off
               "sentence_eps_rel": float(run_spec["sentence_eps"]) / scale["rms"] if run_spec.get("sentence_perturbation") else None,
               "token_eps_rel": float(run_spec["token_eps"]) / scale["token_norm"] if run_spec.get("token_perturbation") else None,
               "adv_over_clean": _ratio(mean["l_adv"], mean["l_clean"]),
               "adv_over_rand": _ratio(mean["l_adv"], mean["l_rand"]),
               "grad_ratio": _ratio(mean["grad_adv"], mean["grad_clean"]),
               "per_batch": per_batch}
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows
