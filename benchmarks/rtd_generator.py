#!/usr/bin/env python
"""Does the offline joint RTD generator learn?  MLM and discriminator accuracy over steps, per generator_lr.

    python benchmarks/rtd_generator.py OUT.json [--model default] [--steps 40] [--batch-size 32]
                                       [--generator-lrs 0,1e-4,1e-3]

Each setting starts from the same MiniLM weights and the same seed, and runs the training loop's
update (AdamW over the objective's parameter groups, each group clipped on its own, linear decay) on
the bundled Wikipedia sentences. The adversarial searches are switched off (they do not touch the
generator, and they triple the step time); everything else is the default RobustSentEmbed spec
(lr 7e-6, mask ratio 0.2, sampled replacements). generator_lr 0 means the encoder's lr (the behaviour
before the field existed). Logged per step: the generator's MLM loss and accuracy (argmax = original
over masked tokens), the discriminator's accuracy and the majority-class prior it has to beat.
Also shows replacements the generator samples for a few fixed sentences before and after.
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


def replacements(objective, tokenizer, seed: int) -> list[str]:
    import torch

    from rsebench.train.rtd import replace_tokens

    batch = objective.encoder.tokenize(PROBES)
    torch.manual_seed(seed)  # the same masked positions and sampling stream before and after
    with torch.no_grad():
        edit = replace_tokens(objective.generator, batch["input_ids"], batch["attention_mask"], objective.tokens, 0.3,
                              objective.encoder.word_embeddings())
    out = []
    for ids, labels, mask in zip(edit.edited, edit.labels, batch["attention_mask"]):
        words = tokenizer.convert_ids_to_tokens(ids[mask.bool()].tolist())[1:-1]
        flags = labels[mask.bool()].tolist()[1:-1]
        out.append(" ".join(f"[{w}]" if f else w for w, f in zip(words, flags)))
    return out


def run(model: str, generator_lr: float, steps: int, batch_size: int, corpus: list[str], seed: int) -> dict:
    import torch

    from rsebench.encoder import load_encoder
    from rsebench.train.objective import build_objective
    from rsebench.train.spec import load_spec
    from rsebench.train.trainer import linear_schedule

    spec = load_spec("robustsentembed", {"token_perturbation": "false", "sentence_perturbation": "false",
                                         "generator_lr": str(generator_lr), "batch_size": str(batch_size)})
    encoder = load_encoder(model, pooler=spec["pooler"], device="cpu")
    torch.manual_seed(seed)
    objective = build_objective("robustsentembed", encoder, spec).train()
    before = replacements(objective, encoder.tokenizer, seed)
    optimizer = torch.optim.AdamW(objective.parameter_groups(float(spec["lr"]), float(spec["weight_decay"])))
    scheduler = linear_schedule(optimizer, 0, steps)
    history = []
    started = time.perf_counter()
    for step in range(steps):
        rows = torch.randperm(len(corpus), generator=torch.Generator().manual_seed(seed * 1000 + step))[:batch_size]
        batch = encoder.tokenize([corpus[i] for i in rows], max_length=int(spec["max_length"]))
        loss, terms = objective(batch)
        loss.backward()
        for group in optimizer.param_groups:
            torch.nn.utils.clip_grad_norm_(group["params"], float(spec["grad_clip"]))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        history.append({"step": step + 1, **{k: float(terms[k]) for k in ("mlm", "mlm_acc", "rtd", "rtd_acc", "rtd_prior", "cl")}})
        if (step + 1) % 10 == 0 or step == 0:
            h = history[-1]
            print(f"  lr_g={generator_lr:g} step {h['step']}: mlm {h['mlm']:.2f} acc {h['mlm_acc']:.3f}  "
                  f"rtd_acc {h['rtd_acc']:.3f} prior {h['rtd_prior']:.3f}", flush=True)
    after = replacements(objective, encoder.tokenizer, seed)
    last = history[-10:]
    return {"generator_lr": generator_lr, "effective_generator_lr": generator_lr or float(spec["lr"]),
            "history": history, "before": before, "after": after, "seconds": time.perf_counter() - started,
            "last10_mean": {k: sum(h[k] for h in last) / len(last) for k in ("mlm", "mlm_acc", "rtd_acc", "rtd_prior")}}


def main() -> None:
    import torch

    from rsebench.data import load_corpus
    from rsebench.paths import configure_offline

    configure_offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--model", default="default")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--generator-lrs", default="0,1e-4,1e-3")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    corpus = load_corpus(None, 5000)
    runs = []
    for lr in (float(x) for x in args.generator_lrs.split(",")):
        print(f"generator_lr {lr:g}", flush=True)
        runs.append(run(args.model, lr, args.steps, args.batch_size, corpus, args.seed))
    from rsebench.encoder import load_encoder

    size = len(load_encoder(args.model, device="cpu").tokenizer)
    result = {"model": args.model, "steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
              "uniform_mlm_loss": math.log(size), "runs": runs, "torch_threads": torch.get_num_threads()}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for r in runs:
        print(f"generator_lr {r['generator_lr']:g}: first mlm {r['history'][0]['mlm']:.2f} (uniform {math.log(size):.2f}), "
              f"last-10 mean {r['last10_mean']}")
        for b, a in zip(r["before"], r["after"]):
            print(f"    before: {b}\n    after:  {a}")


if __name__ == "__main__":
    main()
