"""Adversarial replaced-token detection (ELECTRA / DiffCSE style), RobustSentEmbed's third term.

1. Mask a ratio of each sentence's ordinary tokens; a generator (an MLM) samples replacements.
2. The discriminator reads the edited sentence's word embeddings plus the token-level perturbation
   delta, with its first position replaced by the sentence embedding z1, and predicts per token
   whether it was replaced.  L_rtd = mean binary cross-entropy over ordinary tokens.

The encoder's word embeddings enter the generator and discriminator detached, so the only path from
L_rtd to the sentence encoder is the conditioning on z1.

Generators: the paper uses a frozen pre-trained MLM (distilbert). No MLM checkpoint exists offline, so
the default ("joint") is a small transformer trained alongside with the MLM loss, ELECTRA-style
(initialised from the encoder's bottom layers, output layer tied to the encoder's word embeddings,
detached). Its MLM loss updates only the generator's own parameters. A user-supplied MLM (hub id
or folder, safetensors, same vocabulary as the encoder) is used frozen, as in the paper.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rsebench.errors import UserError
from rsebench.train.infonce import at_least_float32
from rsebench.train.objective import SpecialTokens


def bottom_layers_copy(backbone: nn.Module, layers: int) -> nn.Module:
    """A fresh transformer of the backbone's type with `layers` layers, initialised from its bottom layers."""
    from transformers import AutoModel

    config = copy.deepcopy(backbone.config)
    config.num_hidden_layers = int(layers)
    model = AutoModel.from_config(config)
    model.load_state_dict(backbone.state_dict(), strict=False)
    # Inputs always arrive as embeddings: drop the unused word-embedding table (saves memory and state size).
    model.set_input_embeddings(nn.Embedding(1, config.hidden_size))
    return model


def mask_tokens(input_ids: torch.Tensor, attention_mask: torch.Tensor, tokens: SpecialTokens, ratio: float) -> torch.Tensor:
    """Boolean (N, L): which ordinary tokens to mask (each with probability `ratio`, torch RNG)."""
    ordinary = tokens.ordinary(input_ids, attention_mask)
    return (torch.rand(input_ids.shape, device=input_ids.device) < ratio) & ordinary


class JointGenerator(nn.Module):
    """Small MLM trained with the encoder (ELECTRA's joint generator), reading the encoder's word embeddings."""

    trained = True

    def __init__(self, backbone: nn.Module, layers: int):
        super().__init__()
        hidden = backbone.config.hidden_size
        self.body = bottom_layers_copy(backbone, layers)
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden, eps=1e-12))
        self.bias = nn.Parameter(torch.zeros(backbone.config.vocab_size))
        self.description = f"joint ({layers}-layer MLM trained alongside, initialised from the encoder's bottom layers)"

    def logits(self, masked_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor,
               word_embeddings: nn.Embedding) -> torch.Tensor:
        table = word_embeddings.weight.detach()
        hidden = self.body(inputs_embeds=F.embedding(masked_ids, table), attention_mask=attention_mask).last_hidden_state
        return self.transform(hidden[positions]) @ table.T + self.bias  # only the masked positions


class PretrainedGenerator(nn.Module):
    """A user-supplied masked language model, frozen (the paper's setting)."""

    trained = False

    def __init__(self, name_or_path: str, encoder_tokenizer):
        super().__init__()
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        from rsebench.encoder import resolve_model

        location, display = resolve_model(name_or_path)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(location))
            self.model = AutoModelForMaskedLM.from_pretrained(str(location), use_safetensors=True)
        except (OSError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"cannot load the RTD generator '{name_or_path}' ({first}); use generator=joint offline, "
                            "or give a local masked-LM folder with safetensors weights") from None
        if tokenizer.get_vocab() != encoder_tokenizer.get_vocab():
            raise UserError(f"RTD generator '{name_or_path}' has a different vocabulary from the encoder; "
                            "give an MLM with the encoder's tokenizer, or use generator=joint")
        self.model.requires_grad_(False).eval()
        self.description = f"pretrained MLM {display} (frozen)"

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # frozen generator: no dropout
        return self

    def logits(self, masked_ids, attention_mask, positions, word_embeddings):
        with torch.no_grad():
            return self.model(input_ids=masked_ids, attention_mask=attention_mask).logits[positions]


def make_generator(spec: dict, encoder) -> nn.Module:
    name = str(spec["generator"])
    if name == "joint":
        return JointGenerator(encoder.backbone, int(spec["generator_layers"]))
    return PretrainedGenerator(name, encoder.tokenizer)


class Discriminator(nn.Module):
    """Transformer + per-token binary head; position 0 carries the sentence embedding."""

    def __init__(self, backbone: nn.Module, layers: int):
        super().__init__()
        self.body = bottom_layers_copy(backbone, layers)
        self.head = nn.Linear(backbone.config.hidden_size, 1)

    def forward(self, edited_embeds: torch.Tensor, sentence_vector: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([sentence_vector.unsqueeze(1).to(edited_embeds.dtype), edited_embeds[:, 1:]], dim=1)
        hidden = self.body(inputs_embeds=inputs, attention_mask=attention_mask).last_hidden_state
        return self.head(hidden).squeeze(-1)


@dataclass
class Replacement:
    edited: torch.Tensor        # (N, L) ids after replacement
    labels: torch.Tensor        # (N, L) 1.0 where the token differs from the original ("replaced")
    mlm_loss: torch.Tensor      # the joint generator's MLM loss (0 for a frozen generator)
    mlm_accuracy: torch.Tensor  # generator's argmax == original token, over masked positions (nan if none)


def replace_tokens(generator: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, tokens: SpecialTokens,
                   ratio: float, word_embeddings: nn.Embedding, replacement: str = "sampled") -> Replacement:
    """Mask `ratio` of the ordinary tokens and fill them from the generator: a sample ("sampled", ELECTRA /
    DiffCSE) or its most likely token ("argmax", the official RobustSentEmbed code)."""
    if tokens.mask is None:
        raise UserError("replaced-token detection needs a tokenizer with a mask token; set rtd=false for this model")
    positions = mask_tokens(input_ids, attention_mask, tokens, ratio)
    masked = input_ids.masked_fill(positions, tokens.mask)
    edited = input_ids.clone()
    mlm_loss = torch.zeros((), device=input_ids.device)
    mlm_accuracy = torch.full((), float("nan"), device=input_ids.device)
    if positions.any():
        logits = generator.logits(masked, attention_mask, positions, word_embeddings)
        with torch.no_grad():
            best = logits.argmax(dim=-1)
            mlm_accuracy = (best == input_ids[positions]).float().mean()
            if replacement == "argmax":
                chosen = best
            else:
                chosen = torch.multinomial(torch.softmax(logits.float(), dim=-1), 1).squeeze(-1)
        edited[positions] = chosen.to(edited.dtype)
        if getattr(generator, "trained", False):
            mlm_loss = F.cross_entropy(at_least_float32(logits), input_ids[positions])
    labels = (edited != input_ids).to(torch.get_default_dtype())
    return Replacement(edited, labels, mlm_loss, mlm_accuracy)


def rtd_loss(logits: torch.Tensor, labels: torch.Tensor, ordinary: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean BCE over ordinary tokens, detection accuracy)."""
    logits = at_least_float32(logits)
    weights = ordinary.to(logits.dtype)
    count = weights.sum().clamp_min(1.0)
    loss = (F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none") * weights).sum() / count
    accuracy = (((logits > 0).to(logits.dtype) == labels).to(logits.dtype) * weights).sum() / count
    return loss, accuracy.detach()


def majority_prior(labels: torch.Tensor, ordinary: torch.Tensor) -> torch.Tensor:
    """Accuracy of always answering the majority class (over ordinary tokens): what RTD must beat."""
    weights = ordinary.to(labels.dtype)
    replaced = (labels * weights).sum() / weights.sum().clamp_min(1.0)
    return torch.maximum(replaced, 1 - replaced).detach()
