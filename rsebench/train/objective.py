"""What every training objective shares: the batch it receives, the loss terms it returns, the
special-token ids it needs, and `build_objective` (method name -> objective).

An objective is an `nn.Module` that owns the sentence encoder plus its training-only heads
(projection MLP, momentum encoder, generator, discriminator). `forward(batch)` returns the loss to
back-propagate and every term detached for logging; `after_step()` runs after the optimiser step.
Only `objective.encoder` is saved in the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rsebench.train.infonce import make_projection_head


@dataclass(frozen=True)
class SpecialTokens:
    pad: int
    mask: int | None
    special: tuple[int, ...]  # ids never masked, repeated or replaced ([CLS], [SEP], <s>, </s>, [PAD], ...)

    @classmethod
    def of(cls, tokenizer) -> "SpecialTokens":
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        return cls(pad=int(pad), mask=getattr(tokenizer, "mask_token_id", None), special=tuple(int(i) for i in tokenizer.all_special_ids))

    def ordinary(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Boolean mask of real, non-special tokens."""
        special = torch.tensor(self.special, device=input_ids.device)
        return attention_mask.bool() & ~torch.isin(input_ids, special)


class Objective(nn.Module):
    """Base class: encoder + projection head + the pooled-vector helpers every method uses."""

    method = "objective"

    def __init__(self, encoder, spec: dict):
        super().__init__()
        self.encoder = encoder
        self.spec = dict(spec)
        self.temperature = float(spec["temperature"])
        self.head = make_projection_head(spec, encoder.hidden_size)
        self.tokens = SpecialTokens.of(encoder.tokenizer)

    def embed(self, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled sentence vectors (before the projection head). `inputs_embeds` are word embeddings."""
        kwargs = {"attention_mask": batch["attention_mask"], "token_type_ids": batch.get("token_type_ids")}
        if inputs_embeds is not None:
            return self.encoder(inputs_embeds=inputs_embeds, **kwargs)
        return self.encoder(input_ids=batch["input_ids"], **kwargs)

    def two_views(self, batch: dict[str, torch.Tensor], word_embeds: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Two dropout views of the same sentences in ONE forward of a 2N batch: pooled (z1, z2)."""
        doubled = {k: torch.cat([v, v], dim=0) for k, v in batch.items() if v is not None}
        embeds = None if word_embeds is None else torch.cat([word_embeds, word_embeds], dim=0)
        z = self.embed(doubled, embeds)
        n = batch["input_ids"].shape[0]
        return z[:n], z[n:]

    def parameter_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """The optimiser's parameter groups: by default every trainable parameter at the spec's rate."""
        return [{"params": [p for p in self.parameters() if p.requires_grad], "lr": lr, "weight_decay": weight_decay, "name": "all"}]

    def after_step(self) -> None:
        """Hook run after each optimiser step (e.g. the momentum-encoder update)."""

    def describe(self) -> dict:
        """What the training record should say about this objective beyond its spec."""
        return {}


def build_objective(method: str, encoder, spec: dict) -> Objective:
    """The objective class the method registry names (`objective = "module:Class"` in its spec)."""
    import importlib

    from rsebench.registry import method_info

    module_name, _, class_name = method_info(method).objective.partition(":")
    return getattr(importlib.import_module(module_name), class_name)(encoder, spec)
