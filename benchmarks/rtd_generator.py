#!/usr/bin/env python
"""Does the offline joint RTD generator learn?  MLM accuracy per generator_lr, then discriminator accuracy.

    python benchmarks/rtd_generator.py OUT.json [--model default] [--steps 60] [--batch-size 32]
                                       [--generator-lrs 7e-6,1e-4,1e-3] [--rtd-steps 10]

Phase 1 (generator): for each learning rate, the joint generator of the default RobustSentEmbed spec
(1 layer initialised from MiniLM's bottom layer, output tied to the encoder's word embeddings) is
trained with its MLM loss alone on the bundled Wikipedia sentences (mask ratio 0.2, AdamW, clipping
1.0, linear decay) — exactly the gradient it gets in training, where the MLM loss reaches only the
generator; the encoder's word embeddings it reads move by at most 7e-6 per step there, so holding
them still costs nothing in fidelity and saves the encoder's passes. 7e-6 is the encoder's lr (the
behaviour before `generator_lr` existed). Logged per step: MLM loss and accuracy (argmax = original).
Replacements sampled for a few fixed sentences are shown before and after.

Phase 2 (discriminator): `--rtd-steps` full RobustSentEmbed training steps (searches off, everything
else the default spec: encoder and discriminator at lr 7e-6, lambda 0.005) with the generator from
the first and the last lr of phase 1 (the generator keeps training at that lr): discriminator
accuracy against the majority-class prior it has to beat.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROBES = ["the cat sat on the mat .", "the committee approved the budget for next year .",
          "she opened the window to let in some fresh air .", "the river flows through the centre of the old town ."]


def replacements(objective, seed: int) -> list[str]:
    import torch

    from rsebench.train.rtd import replace_tokens

    tokenizer = objective.encoder.tokenizer
    batch = objective.encoder.tokenize(PROBES)
    torch.manual_seed(seed)  # the same masked positions and sampling stream before and after
    with torch.no_grad():
        edit = replace_tokens(objective.generator, batch["input_ids"], batch["attention_mask"], objective.tokens, 0.3,
                              objective.encoder.word_embeddings())
    out = []
    for ids, original, mask in zip(edit.edited, batch["input_ids"], batch["attention_mask"]):
        keep = mask.bool()
        words = tokenizer.convert_ids_to_tokens(ids[keep].tolist())[1:-1]
        flags = (ids[keep] != original[keep]).tolist()[1:-1]
        out.append(" ".join(f"[{w}]" if f else w for w, f in zip(words, flags)))
    return out


def batch_at(encoder, corpus, step: int, size: int, seed: int, max_length: int):
    import torch

    rows = torch.randperm(len(corpus), generator=torch.Generator().manual_seed(seed * 100003 + step))[:size]
    return encoder.tokenize([corpus[i] for i in rows], max_length=max_length)


def clip_and_step(optimizer, scheduler, clip: float) -> None:
    import torch

    for group in optimizer.param_groups:
        torch.nn.utils.clip_grad_norm_(group["params"], clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def build(model: str, generator_lr: float, batch_size: int, seed: int):
    import torch

    from rsebench.encoder import load_encoder
    from rsebench.train.objective import build_objective
    from rsebench.train.spec import load_spec

    spec = load_spec("robustsentembed", {"token_perturbation": "false", "sentence_perturbation": "false",
                                         "generator_lr": str(generator_lr), "batch_size": str(batch_size)})
    encoder = load_encoder(model, pooler=spec["pooler"], device="cpu")
    torch.manual_seed(seed)
    return spec, build_objective("robustsentembed", encoder, spec).train()


def generator_phase(objective, spec, lr: float, steps: int, batch_size: int, corpus, seed: int) -> dict:
    import torch

    from rsebench.train.rtd import replace_tokens
    from rsebench.train.trainer import linear_schedule

    before = replacements(objective, seed)
    optimizer = torch.optim.AdamW(objective.generator.parameters(), lr=lr, weight_decay=float(spec["weight_decay"]))
    scheduler = linear_schedule(optimizer, 0, steps)
    history, started = [], time.perf_counter()
    table = objective.encoder.word_embeddings()
    for step in range(steps):
        batch = batch_at(objective.encoder, corpus, step, batch_size, seed, int(spec["max_length"]))
        edit = replace_tokens(objective.generator, batch["input_ids"], batch["attention_mask"], objective.tokens,
                              float(spec["rtd_mask_ratio"]), table)
        edit.mlm_loss.backward()
        clip_and_step(optimizer, scheduler, float(spec["grad_clip"]))
        history.append({"step": step + 1, "mlm": float(edit.mlm_loss), "mlm_acc": float(edit.mlm_accuracy),
                        "replaced_fraction": float(edit.labels.sum() / max(1.0, float((batch["attention_mask"].sum()))))})
        if (step + 1) % 10 == 0 or step == 0:
            print(f"  generator lr {lr:g} step {step + 1}: mlm {history[-1]['mlm']:.2f} acc {history[-1]['mlm_acc']:.3f}", flush=True)
    last = history[-10:]
    return {"generator_lr": lr, "history": history, "before": before, "after": replacements(objective, seed),
            "seconds": time.perf_counter() - started,
            "last10_mean": {k: sum(h[k] for h in last) / len(last) for k in ("mlm", "mlm_acc")}}


def rtd_phase(objective, spec, steps: int, batch_size: int, corpus, seed: int) -> list[dict]:
    import torch

    from rsebench.train.trainer import linear_schedule

    optimizer = torch.optim.AdamW(objective.parameter_groups(float(spec["lr"]), float(spec["weight_decay"])))
    scheduler = linear_schedule(optimizer, 0, steps)
    history = []
    for step in range(steps):
        batch = batch_at(objective.encoder, corpus, 10_000 + step, batch_size, seed, int(spec["max_length"]))
        loss, terms = objective(batch)
        loss.backward()
        clip_and_step(optimizer, scheduler, float(spec["grad_clip"]))
        history.append({"step": step + 1, **{k: float(v) for k, v in terms.items()}})
        h = history[-1]
        print(f"  rtd step {step + 1}: rtd_acc {h['rtd_acc']:.3f} prior {h['rtd_prior']:.3f} mlm_acc {h.get('mlm_acc', float('nan')):.3f}",
              flush=True)
    return history


def main() -> None:
    import torch

    from rsebench.data import load_corpus
    from rsebench.paths import configure_offline

    configure_offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--model", default="default")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--generator-lrs", default="7e-6,1e-4,1e-3")
    parser.add_argument("--rtd-steps", type=int, default=10)
    parser.add_argument("--rtd-batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    corpus = load_corpus(None, 5000)
    lrs = [float(x) for x in args.generator_lrs.split(",")]
    runs, rtd = [], {}
    for lr in lrs:
        print(f"generator_lr {lr:g}", flush=True)
        spec, objective = build(args.model, lr, args.batch_size, args.seed)
        runs.append(generator_phase(objective, spec, lr, args.steps, args.batch_size, corpus, args.seed))
        if args.rtd_steps and lr in (lrs[0], lrs[-1]):
            print(f"discriminator with the generator trained at {lr:g}", flush=True)
            rtd[str(lr)] = rtd_phase(objective, spec, args.rtd_steps, args.rtd_batch_size, corpus, args.seed)
        vocabulary = len(objective.encoder.tokenizer)
    result = {"model": args.model, "steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
              "uniform_mlm_loss": math.log(vocabulary), "generator": runs, "rtd_steps": args.rtd_steps,
              "rtd_batch_size": args.rtd_batch_size, "rtd": rtd, "torch_threads": torch.get_num_threads()}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for r in runs:
        print(f"generator_lr {r['generator_lr']:g}: first mlm {r['history'][0]['mlm']:.2f} (uniform {math.log(vocabulary):.2f}), "
              f"last-10 mean {r['last10_mean']}")
        for b, a in zip(r["before"], r["after"]):
            print(f"    before: {b}\n    after:  {a}")


if __name__ == "__main__":
    main()
