"""The one-command demo: the whole rsebench pipeline on the embedded default encoder, offline, on a CPU.

1. train SimCSE and RobustSentEmbed briefly from all-MiniLM-L6-v2 on the bundled Wikipedia sentences;
2. evaluate STS-B and SICK-R for the pre-trained encoder and both trained ones;
3. build an MR victim per encoder and attack a small fixed set with DeepWordBug, PWWS, TextFooler (local
   substitutes) and embedding-space PGD;
4. render the LaTeX / Markdown / CSV tables and the plots from the records.

Every step writes ordinary result records (into `results/` by default), so `rsebench report` afterwards
renders the same tables. Re-running reuses finished work: checkpoints are resumed, attack runs resume
from their JSONL files and victims come from the cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path



@dataclass(frozen=True)
class DemoPlan:
    """How much work the demo does; `quick()` is the smoke-test size."""

    train_steps: int = 40
    train_sentences: int = 20000
    batch_size: int = 32
    # STS-B and SICK-R keep the demo near 15 minutes; `rsebench eval --tasks sts` scores STS12-16 as well.
    sts_tasks: tuple[str, ...] = ("stsb", "sick")
    recipes: tuple[str, ...] = ("deepwordbug", "pwws", "textfooler", "pgd")
    pgd_eps: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01)
    attack_examples: int = 10
    victim_max_train: int = 2000
    methods: tuple[str, ...] = ("simcse", "robustsentembed")
    seed: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def quick(cls) -> "DemoPlan":
        return cls(train_steps=4, train_sentences=2000, batch_size=16, sts_tasks=("stsb",), attack_examples=3,
                   victim_max_train=500, pgd_eps=(0.002, 0.01))


def run_demo(results_dir: str | Path = "results", checkpoints_dir: str | Path = "ckpt/demo", plan: DemoPlan = DemoPlan()) -> dict:
    """Run the pipeline; returns where everything went and the wall time of each stage."""
    from rsebench.commands.common import model_identity
    from rsebench.seeding import seed_everything
    from rsebench.data import load_corpus, load_dataset
    from rsebench.encoder import load_encoder
    from rsebench.evaluate.sts import score_pairs, sts_record
    from rsebench.progress import say
    from rsebench.records import write_record
    from rsebench.report.render import render_report
    from rsebench.robustness.runner import run_attack
    from rsebench.robustness.victim import VictimSettings
    from rsebench.train.spec import load_spec
    from rsebench.train.trainer import train

    results_dir, checkpoints_dir = Path(results_dir), Path(checkpoints_dir)
    timings: dict[str, float] = {}
    seed_everything(plan.seed)
    corpus = load_corpus(max_sentences=plan.train_sentences)

    # 1. train
    models = {"pretrained": "default"}
    for method in plan.methods:
        started = time.perf_counter()
        say(f"[bold]demo 1/4[/] training {method} for {plan.train_steps} steps on {len(corpus)} bundled sentences")
        # MiniLM was trained with mean pooling; keeping it (instead of the papers' [CLS] for BERT) keeps
        # a few hundred steps from first having to re-learn the pooling.
        spec = load_spec(method, {"batch_size": str(plan.batch_size), "seed": str(plan.seed), "pooler": "mean",
                                  "eval_every": str(plan.train_steps), "dev_size": "500", **plan.extra.get(method, {})})
        out = checkpoints_dir / method
        resume = (out / "training_state").is_dir()
        train(method, spec, model="default", sentences=corpus, max_steps=plan.train_steps, out_dir=out, resume=resume,
              overwrite=not resume and out.exists(), results_dir=results_dir)
        models[method] = str(out)
        timings[f"train {method}"] = time.perf_counter() - started

    # 2. STS
    for label, location in models.items():
        started = time.perf_counter()
        say(f"[bold]demo 2/4[/] STS evaluation of {label}")
        encoder = load_encoder(location)
        identity = model_identity(encoder, location)
        for task in plan.sts_tasks:
            result = score_pairs(encoder, load_dataset(task))
            write_record(sts_record(result, identity, {"variant": "original", "batch_size": 64, "similarity": "cosine"}), results_dir)
            say(f"  {label:<16} {task:<6} spearman {100 * result.spearman:6.2f}")
        timings[f"sts {label}"] = time.perf_counter() - started

    # 3. attacks on MR victims
    victim = VictimSettings(kind="probe", seed=plan.seed, max_train=plan.victim_max_train)
    for label, location in models.items():
        encoder = load_encoder(location)
        for recipe in plan.recipes:
            started = time.perf_counter()
            say(f"[bold]demo 3/4[/] {recipe} on the MR victim of {label} ({plan.attack_examples} examples)")
            eps = list(plan.pgd_eps) if recipe in ("pgd", "fgsm") else None
            run_attack(encoder, location, recipe, "mr", n=plan.attack_examples, victim_settings=victim, seed=plan.seed,
                       results_dir=results_dir, eps=eps)
            timings[f"attack {recipe} {label}"] = time.perf_counter() - started

    # 4. tables and plots
    started = time.perf_counter()
    say("[bold]demo 4/4[/] rendering tables and plots")
    outputs = render_report(results_dir, formats=("latex", "markdown", "csv"), plots=True)
    timings["report"] = time.perf_counter() - started
    return {"results_dir": str(results_dir), "checkpoints": models, "outputs": outputs, "timings": timings}
