"""ESimCSE (Wu et al., 2022): word-repetition positives and a momentum-encoder queue of negatives.

    L = l(z, z_rep ; negatives = in-batch z_rep  +  queue of momentum-encoder vectors of earlier batches)

Word repetition duplicates a random set of sub-words (up to dup_rate x length, at least 2 allowed) so
the positive differs in length from the anchor without changing its meaning; the momentum encoder
(an exponential moving average of encoder + head) fills a first-in first-out queue.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from rsebench.train.infonce import gather_no_grad, info_nce
from rsebench.train.objective import Objective, SpecialTokens


def repeat_words(input_ids: torch.Tensor, attention_mask: torch.Tensor, tokens: SpecialTokens, dup_rate: float,
                 token_type_ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Each sentence with a random subset of its ordinary sub-words doubled in place (torch CPU RNG).

    The ids are small; the sampling runs on a CPU copy and the result moves to the device once, so a GPU
    step pays one transfer instead of a host synchronisation per sentence."""
    device = input_ids.device
    input_ids, attention_mask = input_ids.cpu(), attention_mask.cpu()
    ordinary = tokens.ordinary(input_ids, attention_mask)
    rows = []
    for ids, keep, real in zip(input_ids, ordinary, attention_mask.bool()):
        candidates = keep.nonzero().flatten()
        limit = max(2, int(dup_rate * len(candidates)))
        count = min(int(torch.randint(0, limit + 1, (1,)).item()), len(candidates))
        chosen = candidates[torch.randperm(len(candidates))[:count]]
        repeats = torch.ones_like(ids)
        repeats[chosen] = 2
        rows.append(torch.repeat_interleave(ids[real], repeats[real]))
    length = max(len(r) for r in rows)
    out_ids = torch.full((len(rows), length), tokens.pad, dtype=input_ids.dtype)
    out_mask = torch.zeros_like(out_ids)
    for i, row in enumerate(rows):
        out_ids[i, :len(row)] = row
        out_mask[i, :len(row)] = 1
    out = {"input_ids": out_ids.to(device), "attention_mask": out_mask.to(device)}
    if token_type_ids is not None:
        out["token_type_ids"] = torch.zeros_like(out["input_ids"])
    return out


def pad_to(batch: dict[str, torch.Tensor], length: int, pad: int) -> dict[str, torch.Tensor]:
    extra = length - batch["input_ids"].shape[1]
    if extra <= 0:
        return batch
    fill = {"input_ids": pad, "attention_mask": 0, "token_type_ids": 0}
    return {k: torch.nn.functional.pad(v, (0, extra), value=fill[k]) for k, v in batch.items() if v is not None}


class ESimCSE(Objective):
    method = "esimcse"

    def __init__(self, encoder, spec: dict):
        super().__init__(encoder, spec)
        self.dup_rate = float(spec["dup_rate"])
        self.momentum = float(spec["momentum"])
        # The momentum copy is a training-only module (never saved in the checkpoint, kept in the training state).
        self.momentum_backbone = copy.deepcopy(encoder.backbone).requires_grad_(False)
        self.momentum_head = copy.deepcopy(self.head).requires_grad_(False)
        self.register_buffer("queue", torch.zeros(int(spec["queue_size"]), encoder.hidden_size))
        self.register_buffer("queue_filled", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def momentum_vectors(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        from rsebench.encoder import pool

        self.momentum_backbone.eval()  # keys without dropout: a stable queue
        kwargs = {k: v for k, v in batch.items() if v is not None}
        out = self.momentum_backbone(**kwargs)
        z = pool(self.encoder.pooler, out.last_hidden_state, batch["attention_mask"], getattr(out, "pooler_output", None))
        if self.encoder.normalize:
            z = nn.functional.normalize(z, dim=-1)
        return self.momentum_head(z)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        repeated = repeat_words(batch["input_ids"], batch["attention_mask"], self.tokens, self.dup_rate, batch.get("token_type_ids"))
        length = max(batch["input_ids"].shape[1], repeated["input_ids"].shape[1])
        anchor = pad_to(batch, length, self.tokens.pad)
        repeated = pad_to(repeated, length, self.tokens.pad)
        both = {k: torch.cat([anchor[k], repeated[k]], dim=0) for k in anchor}  # one forward of 2N
        z = self.head(self.embed(both))
        n = batch["input_ids"].shape[0]
        filled = int(self.queue_filled)
        negatives = self.queue[:filled].clone()
        loss = info_nce(z[:n], z[n:], self.temperature, extra_negatives=negatives)
        self.enqueue(gather_no_grad(self.momentum_vectors(anchor)))
        return loss, {"loss": loss.detach(), "cl": loss.detach(), "queue": torch.tensor(float(filled))}

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        size = self.queue.shape[0]
        if size == 0:
            return
        keys = keys[-size:].to(self.queue.dtype)
        self.queue.copy_(torch.cat([keys, self.queue[:size - len(keys)]], dim=0))  # newest first, oldest dropped
        self.queue_filled.fill_(min(size, int(self.queue_filled) + len(keys)))

    @torch.no_grad()
    def after_step(self) -> None:
        m = self.momentum
        for online, target in ((self.encoder.backbone, self.momentum_backbone), (self.head, self.momentum_head)):
            for p, q in zip(online.parameters(), target.parameters()):
                q.mul_(m).add_(p.detach(), alpha=1 - m)
