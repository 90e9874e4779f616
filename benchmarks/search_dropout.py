#!/usr/bin/env python
"""How much does RobustSentEmbed's adversarial search raise its inner loss, per `search_dropout` mode?

    python benchmarks/search_dropout.py OUT.json [--model default] [--sentences 32] [--batches 2]

On the bundled Wikipedia sentences, per batch: view 2 (dropout on) is the fixed target h2, as in
training; the search of each mode ("eval", "fixed", "stochastic") starts from the same random state
and returns (delta_tok, delta_sent). Every perturbation is then scored with the same inner loss
l(head(f(e + delta)), h2), in two ways: in train mode averaged over the same 8 dropout draws (what
the adversarial view of a training step sees) and in eval mode (dropout off). Baselines: delta = 0 and
random perturbations of equal size (delta_sent with its signs flipped at random, delta_tok with each
token's vector turned in a random direction of the same norm), averaged over 4 draws.
Writes JSON with the per-batch losses and their mean.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = ("eval", "fixed", "stochastic")
DRAWS = 8


def main() -> None:
    import torch

    from rsebench.data import load_corpus
    from rsebench.encoder import load_encoder
    from rsebench.paths import configure_offline
    from rsebench.train.infonce import info_nce
    from rsebench.train.objective import build_objective
    from rsebench.train.spec import load_spec

    configure_offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--model", default="default")
    parser.add_argument("--sentences", type=int, default=32)
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    spec = load_spec("robustsentembed", {"rtd": "false"})
    encoder = load_encoder(args.model, pooler=spec["pooler"], device="cpu")
    torch.manual_seed(args.seed)
    objective = build_objective("robustsentembed", encoder, spec).train()
    corpus = load_corpus(None, args.sentences * args.batches)
    started = time.perf_counter()

    def inner_loss(batch, words, delta, target, train: bool, seed: int) -> float:
        objective.train(train)
        torch.manual_seed(seed)
        with torch.no_grad():
            value = float(info_nce(objective.head(objective.embed(batch, words + delta)), target, objective.temperature))
        objective.train(True)
        return value

    def scored(batch, words, delta, target) -> dict:
        return {"train": statistics.mean(inner_loss(batch, words, delta, target, True, 1000 + d) for d in range(DRAWS)),
                "eval": inner_loss(batch, words, delta, target, False, 0)}

    per_batch = []
    for b in range(args.batches):
        batch = encoder.tokenize(corpus[b * args.sentences:(b + 1) * args.sentences], max_length=int(spec["max_length"]))
        torch.manual_seed(args.seed + b)
        with torch.no_grad():
            _, z2 = objective.two_views(batch)
            target = objective.head(z2)
            words = encoder.word_embeddings()(batch["input_ids"])
        row = {"clean": scored(batch, words, torch.zeros_like(words), target)}
        for mode in MODES:
            objective.search_dropout = mode
            torch.manual_seed(args.seed + 100 + b)
            delta_tok, delta_sent = objective.search(batch, words, target)
            row[mode] = scored(batch, words, delta_tok + delta_sent, target)
            row[mode]["linf"] = float((delta_tok + delta_sent).abs().max())
            if mode == MODES[0]:
                generator = torch.Generator().manual_seed(args.seed + b)
                randoms = []
                for _ in range(4):
                    signs = torch.randint(0, 2, delta_sent.shape, generator=generator).to(delta_sent.dtype) * 2 - 1
                    turned = torch.randn(delta_tok.shape, generator=generator)
                    turned = turned / turned.norm(dim=-1, keepdim=True) * delta_tok.norm(dim=-1, keepdim=True)
                    randoms.append(scored(batch, words, delta_sent.abs() * signs + turned, target))
                row["random_equal_size"] = {k: statistics.mean(r[k] for r in randoms) for k in ("train", "eval")}
        per_batch.append(row)
        print(f"batch {b}: " + ", ".join(f"{k} {v['train']:.4f}/{v['eval']:.4f}" for k, v in row.items()), flush=True)
    keys = list(per_batch[0])
    mean = {k: {m: statistics.mean(r[k][m] for r in per_batch) for m in ("train", "eval")} for k in keys}
    result = {"model": encoder.name, "sentences_per_batch": args.sentences, "batches": args.batches, "dropout_draws": DRAWS,
              "spec": {k: spec[k] for k in ("token_steps", "token_step_size", "token_eps", "sentence_steps", "sentence_step_size",
                                             "sentence_eps", "sentence_norm", "temperature", "pooler")},
              "mean": mean, "per_batch": per_batch, "seconds": time.perf_counter() - started, "torch_threads": torch.get_num_threads()}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("mean inner loss (train-mode average over dropout draws / eval mode):")
    for k in keys:
        print(f"  {k:18s} {mean[k]['train']:.4f}  {mean[k]['eval']:.4f}")


if __name__ == "__main__":
    main()
