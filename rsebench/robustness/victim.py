"""Victim classifiers: the model an attack fools, built on top of a sentence encoder.

- `probe`: the frozen encoder plus a linear head (multinomial logistic regression on the sentence
  embeddings). It isolates the robustness of the embedding itself.
- `finetune`: encoder and head trained end to end with cross-entropy (the paper's protocol: AdamW,
  lr 5e-5, a few epochs, linear warm-up/decay), initialised from the checkpoint.

Pair tasks (SNLI, MNLI) feed premise and hypothesis to the tokenizer as one pair, exactly as a
TextAttack model wrapper does with its two text columns. Victims are cached under
`cache_dir("victims")` by (encoder fingerprint, dataset, kind, seed, training settings, training-data
hash) as safetensors weights plus a JSON meta file; nothing is pickled.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rsebench.data import DATASETS, LabeledTexts, dataset_info, load_dataset, load_user_file, text_hash
from rsebench.encoder import SentenceEncoder
from rsebench.errors import UserError
from rsebench.paths import cache_dir

VICTIM_KINDS = ("probe", "finetune")


@dataclass(frozen=True)
class VictimSettings:
    """Everything that decides a victim's weights (part of its cache key)."""

    kind: str = "probe"
    seed: int = 0
    epochs: int = 3  # finetune
    learning_rate: float = 5e-5  # finetune
    batch_size: int = 32
    max_train: int | None = 10000  # seeded subsample of the training split (None: all)
    max_length: int = 128  # tokens per training example (attacks use the encoder's own limit)
    probe_c: float = 10.0  # inverse L2 strength of the logistic-regression probe
    train_file: str | None = None  # the user's training TSV (datasets without a bundled split)
    eval_max: int | None = None  # clean accuracy on at most this many attack-split examples (None: all; tests use few)


class Victim(nn.Module):
    """Encoder + linear head: texts (or text pairs) in, class logits out."""

    def __init__(self, encoder: SentenceEncoder, num_labels: int, kind: str, label_names: list[str] | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.hidden_size, num_labels)
        self.dropout = nn.Dropout(0.1 if kind == "finetune" else 0.0)
        self.kind = kind
        self.label_names = label_names or [str(i) for i in range(num_labels)]

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    @property
    def tokenizer(self):
        return self.encoder.tokenizer

    def tokenize(self, texts: list[str], texts_b: list[str] | None = None, max_length: int | None = None,
                 special_tokens_mask: bool = False) -> dict[str, torch.Tensor]:
        """Dynamic padding (to the longest in the batch), truncation at the encoder's limit."""
        batch = self.tokenizer(list(texts), None if texts_b is None else list(texts_b), padding=True, truncation=True,
                               max_length=max_length or self.encoder.max_length, return_tensors="pt",
                               return_special_tokens_mask=special_tokens_mask)
        return {k: v.to(self.device) for k, v in batch.items()}

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                special_tokens_mask: torch.Tensor | None = None) -> torch.Tensor:
        vectors = self.encoder(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                               token_type_ids=token_type_ids)
        return self.head(self.dropout(vectors))

    @torch.inference_mode()
    def predict_logits(self, texts: list[str], texts_b: list[str] | None = None, batch_size: int = 64) -> np.ndarray:
        """Logits in input order; batches are length-sorted so padding costs little."""
        was_training = self.training
        self.eval()
        order = np.argsort([-len(t) - (len(texts_b[i]) if texts_b else 0) for i, t in enumerate(texts)], kind="stable")
        out = np.zeros((len(texts), self.head.out_features), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            index = order[start:start + batch_size]
            batch = self.tokenize([texts[i] for i in index], None if texts_b is None else [texts_b[i] for i in index])
            out[index] = self(**batch).float().cpu().numpy()
        self.train(was_training)
        return out

    def accuracy(self, data: LabeledTexts, batch_size: int = 64) -> float:
        predictions = self.predict_logits(data.texts, data.texts_b, batch_size).argmax(1)
        return float((predictions == np.asarray(data.labels)).mean())


# --------------------------------------------------------------------------------------------
# Checks: the victim must start from the checkpoint's encoder, not a silently re-initialised one


def _saved_tensors(source: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for path in sorted(Path(source).glob("*.safetensors")):
        tensors.update(load_file(str(path)))
    return tensors


def assert_matches_checkpoint(encoder: SentenceEncoder, reference: SentenceEncoder) -> None:
    """The victim's encoder weights must equal the checkpoint's (on disk when there is one, else the
    loaded encoder): every parameter present and bit-identical. The official RobustSentEmbed code
    attacks a randomly initialised encoder when the checkpoint's keys do not match; this refuses."""
    state = encoder.backbone.state_dict()
    if reference.source and Path(reference.source).is_dir() and list(Path(reference.source).glob("*.safetensors")):
        saved = _saved_tensors(reference.source)
        origin = reference.source
    else:
        saved = reference.backbone.state_dict()
        origin = f"the loaded encoder '{reference.name}'"
    problems = []
    for key, tensor in state.items():
        match = saved.get(key)
        if match is None:
            suffixed = [k for k in saved if k.endswith("." + key)]
            match = saved[suffixed[0]] if len(suffixed) == 1 else None
        if match is None:
            unused_pooler = key.startswith("pooler.") and encoder.pooler != "cls"
            if key.endswith("position_ids") or unused_pooler:
                continue
            problems.append(f"{key} missing")
        elif match.shape != tensor.shape or not torch.equal(match.to(tensor.device, tensor.dtype), tensor):
            problems.append(f"{key} differs")
    if problems:
        raise UserError(f"victim encoder does not match {origin} ({len(problems)} tensors, e.g. {problems[0]}); "
                        "the attack would hit a different (possibly random) encoder: check the checkpoint's weight names")


# --------------------------------------------------------------------------------------------
# Training


def training_data(dataset: str, settings: VictimSettings) -> LabeledTexts:
    """The victim's training examples: the dataset's bundled training split, or the user's file."""
    if settings.train_file:
        data = load_user_file(Path(settings.train_file), split="train")
        if not isinstance(data, LabeledTexts):
            raise UserError(f"{settings.train_file} looks like an STS file; a victim needs a classification TSV (label + text columns)")
    else:
        info = dataset_info(dataset)
        if info.kind != "classification" or info.attack_split is None:
            attackable = sorted(n for n, i in DATASETS.items() if i.attack_split)
            raise UserError(f"dataset '{dataset}' has no attack set; choose one of: {', '.join(attackable)}")
        if info.train_split is None:
            raise UserError(f"dataset '{dataset}' has no bundled training split for the victim; "
                            "give one with --victim-train FILE (TSV with label and text columns)")
        data = load_dataset(dataset, info.train_split)
    if settings.max_train is not None and len(data) > settings.max_train:
        order = np.random.default_rng(settings.seed).permutation(len(data))[: settings.max_train]
        data = data.subset(sorted(order.tolist()))
    return data


def _embed(victim: Victim, data: LabeledTexts, batch_size: int) -> np.ndarray:
    from rsebench.progress import progress_bar

    features = np.zeros((len(data), victim.encoder.hidden_size), dtype=np.float32)
    order = np.argsort([-len(t) for t in data.texts], kind="stable")
    with torch.inference_mode(), progress_bar("probe features", total=len(data), enabled=len(data) > 500) as advance:
        for start in range(0, len(data), batch_size):
            index = order[start:start + batch_size]
            batch = victim.tokenize([data.texts[i] for i in index],
                                    None if data.texts_b is None else [data.texts_b[i] for i in index])
            features[index] = victim.encoder(**batch).float().cpu().numpy()
            advance(len(index))
    return features


def train_probe(victim: Victim, data: LabeledTexts, settings: VictimSettings) -> dict:
    """Multinomial logistic regression (L-BFGS, deterministic) on frozen embeddings, copied into the head."""
    from sklearn.linear_model import LogisticRegression

    victim.eval()
    features = _embed(victim, data, batch_size=64)
    labels = np.asarray(data.labels)
    classifier = LogisticRegression(C=settings.probe_c, max_iter=2000, random_state=settings.seed)
    classifier.fit(features, labels)
    weight = torch.zeros_like(victim.head.weight)
    bias = torch.zeros_like(victim.head.bias)
    coef = torch.tensor(classifier.coef_, dtype=weight.dtype)
    intercept = torch.tensor(classifier.intercept_, dtype=bias.dtype)
    classes = classifier.classes_.tolist()
    if coef.shape[0] == 1:  # binary: sigmoid(w.x + b) == softmax([0, w.x + b])[1]
        weight[classes[1]], bias[classes[1]] = coef[0], intercept[0]
    else:
        for row, label in enumerate(classes):
            weight[label], bias[label] = coef[row], intercept[row]
    with torch.no_grad():
        victim.head.weight.copy_(weight)
        victim.head.bias.copy_(bias)
    for parameter in victim.encoder.parameters():
        parameter.requires_grad_(False)
    return {"train_accuracy": float(classifier.score(features, labels))}


def train_finetune(victim: Victim, data: LabeledTexts, settings: VictimSettings) -> dict:
    """Cross-entropy fine-tuning of encoder + head (AdamW, linear warm-up 10% then decay)."""
    from transformers import get_linear_schedule_with_warmup

    from rsebench.progress import progress_bar

    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)
    with torch.no_grad():  # BERT's classifier initialisation
        victim.head.weight.normal_(0.0, 0.02, generator=generator)
        victim.head.bias.zero_()
    steps_per_epoch = -(-len(data) // settings.batch_size)
    total = steps_per_epoch * settings.epochs
    optimizer = torch.optim.AdamW(victim.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * total), total)
    labels = torch.tensor(data.labels)
    victim.train()
    losses = []
    with progress_bar("fine-tuning victim", total=total) as advance:
        for _epoch in range(settings.epochs):
            order = torch.randperm(len(data), generator=generator).tolist()
            for start in range(0, len(order), settings.batch_size):
                index = order[start:start + settings.batch_size]
                batch = victim.tokenize([data.texts[i] for i in index],
                                        None if data.texts_b is None else [data.texts_b[i] for i in index],
                                        max_length=min(settings.max_length, victim.encoder.max_length))
                loss = nn.functional.cross_entropy(victim(**batch), labels[index].to(victim.device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
                advance(1, loss=losses[-1])
    victim.eval()
    return {"final_loss": float(np.mean(losses[-max(1, steps_per_epoch // 10):])), "steps": total}


# --------------------------------------------------------------------------------------------
# Building and caching


def victim_key(encoder: SentenceEncoder, dataset: str, settings: VictimSettings, data_hash: str) -> str:
    payload = {"encoder": encoder.fingerprint(), "dataset": dataset, "settings": asdict(settings), "data": data_hash}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _victim_from_state(encoder: SentenceEncoder, num_labels: int, settings: VictimSettings, label_names: list[str]) -> Victim:
    # Fine-tuning changes the encoder: give the victim its own copy and leave the caller's untouched.
    body = copy.deepcopy(encoder) if settings.kind == "finetune" else encoder
    return Victim(body, num_labels, settings.kind, label_names)


def build_victim(encoder: SentenceEncoder, dataset: str, settings: VictimSettings, use_cache: bool = True) -> tuple[Victim, dict]:
    """A trained victim and its meta (kind, clean accuracy on the attack split, training settings).

    Loads from the cache when the same encoder, data and settings were trained before.
    """
    from safetensors.torch import load_file, save_file

    from rsebench.progress import say

    if settings.kind not in VICTIM_KINDS:
        raise UserError(f"unknown victim kind '{settings.kind}'; choose one of: {', '.join(VICTIM_KINDS)}")
    data = training_data(dataset, settings)
    attack_info = dataset_info(dataset)
    attack_set = load_dataset(dataset, attack_info.attack_split)
    eval_set = attack_set
    if settings.eval_max is not None and len(attack_set) > settings.eval_max:
        eval_set = attack_set.subset(sorted(np.random.default_rng(settings.seed).permutation(len(attack_set))[: settings.eval_max].tolist()))
    if data.num_labels != attack_set.num_labels:
        raise UserError(f"the training data has {data.num_labels} classes but '{dataset}' has {attack_set.num_labels}; "
                        f"use labels {attack_set.label_names} (or 0..{attack_set.num_labels - 1})")
    data_hash = text_hash(data.texts + (data.texts_b or []) + [str(label) for label in data.labels])
    key = victim_key(encoder, dataset, settings, data_hash)
    folder = cache_dir("victims", key)
    weights_path, meta_path = folder / "victim.safetensors", folder / "meta.json"
    victim = _victim_from_state(encoder, attack_set.num_labels, settings, attack_set.label_names)
    if use_cache and weights_path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("encoder_fingerprint") == encoder.fingerprint():
            state = load_file(str(weights_path))
            missing, unexpected = victim.load_state_dict(state, strict=False)
            if settings.kind == "probe":
                missing = [k for k in missing if not k.startswith("encoder.")]
            if missing or unexpected:
                raise UserError(f"cached victim {folder} does not fit this encoder; delete that folder and rerun")
            victim.eval()
            if settings.kind == "probe":
                victim.encoder.requires_grad_(False)
            meta["cached"] = True
            say(f"victim: cached {settings.kind} ({folder}), clean accuracy {100 * meta['clean_accuracy']:.1f}%")
            return victim, meta
    assert_matches_checkpoint(victim.encoder, encoder)
    say(f"victim: training a {settings.kind} on {len(data)} '{data.name}' examples")
    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    training = train_probe(victim, data, settings) if settings.kind == "probe" else train_finetune(victim, data, settings)
    train_seconds = time.perf_counter() - start
    victim.encoder._fingerprint = None  # fine-tuning changed the copy's weights
    start = time.perf_counter()
    clean_accuracy = victim.accuracy(eval_set)
    meta = {
        "key": key, "kind": settings.kind, "dataset": dataset, "settings": asdict(settings),
        "encoder_fingerprint": encoder.fingerprint(), "train_examples": len(data), "train_data_hash": data_hash,
        "train_split": data.split if not settings.train_file else settings.train_file,
        "clean_accuracy": clean_accuracy, "clean_accuracy_split": attack_info.attack_split,
        "clean_accuracy_examples": len(eval_set), "training": training,
        "train_seconds": round(train_seconds, 2), "eval_seconds": round(time.perf_counter() - start, 2),
        "label_names": attack_set.label_names, "cached": False,
    }
    state = victim.state_dict()
    if settings.kind == "probe":  # the frozen encoder is the checkpoint itself: store the head only
        state = {k: v for k, v in state.items() if not k.startswith("encoder.")}
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(weights_path))
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    say(f"victim: {settings.kind} clean accuracy {100 * clean_accuracy:.1f}% on {len(eval_set)} '{dataset}' attack-split examples")
    return victim, meta


def victim_identity(settings: VictimSettings, dataset: str) -> dict:
    """What decides a victim, as a record's identity names it (before it is built): kind, dataset, settings."""
    return {"kind": settings.kind, "dataset": dataset, "settings": asdict(settings)}
