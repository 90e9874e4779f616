"""`AttackJob`: attack one encoder's victim on a fixed example set with one recipe (one run per eps)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rsebench.errors import UserError
from rsebench.jobs.common import device_option, model_option, pooler_option, remote_code_option, results_option
from rsebench.registry import recipe_names
from rsebench.jobs.options import option, positive_float, positive_floats, positive_int, seed_int

EMBEDDING = "embedding-space attacks (fgsm, pgd)"


@dataclass
class AttackJob:
    """Everything an attack run depends on; `rsebench attack`'s flags are these fields."""

    kind: ClassVar[str] = "attack"

    recipe: str = option(help=f"attack recipe: {', '.join(recipe_names())} (see `rsebench list recipes`)")
    model: str = model_option()
    dataset: str = option("mr", help="attack set: mr, sst2, imdb, ag, snli (mnli, yelp with --victim-train) (default: mr)")
    n: int = option(20, help="attack the first n examples of the fixed example order (default: 20)", type=positive_int)
    victim: str = option("probe", help="probe: frozen encoder + linear head; finetune: encoder + head trained end to end (default: probe)",
                         choices=("probe", "finetune"))
    victim_epochs: int = option(3, help="fine-tuning epochs (default: 3)", type=positive_int)
    victim_lr: float = option(5e-5, help="fine-tuning learning rate (default: 5e-5)", type=positive_float)
    victim_max_train: int = option(10000, help="train the victim on at most this many examples, a seeded subsample (default: 10000)",
                                   type=positive_int)
    victim_eval_max: int | None = option(None, help="victim clean accuracy on at most this many attack-split examples (default: all)",
                                         type=positive_int)
    victim_train: str | None = option(None, help="training TSV for datasets without a bundled training split (mnli, yelp)", metavar="FILE")
    seed: int = option(0, help="seed for the victim and the attack's randomness (default: 0)", type=seed_int)
    shard: str | None = option(None, help="attack only shard I of N (contiguous blocks); shards merge into one record", metavar="I/N")
    merge: bool = option(False, help="merge finished shards (give --shard i/N for the count) without attacking")
    restart: bool = option(False, help="discard an earlier run file of this identity and start over (default: resume it)")
    eps: list[float] | None = option(None, help="budget(s), comma-separated for a robustness curve (default: the spec's)",
                                     type=positive_floats, group=EMBEDDING)
    steps: int | None = option(None, help="gradient steps (default: the spec's)", type=positive_int, group=EMBEDDING)
    step_size: float | None = option(None, help="step size (default: the spec's rule)", type=positive_float, group=EMBEDDING)
    norm: str | None = option(None, help="perturbation norm (default: the spec's)", choices=("linf", "l2"), group=EMBEDDING)
    random_start: bool | None = option(None, help="PGD random start (default: the spec's)", action=argparse.BooleanOptionalAction,
                                       group=EMBEDDING)
    mlm: str | None = option(None, help="masked language model for bertattack/bae (a folder with an MLM head)", metavar="PATH")
    batch_size: int = option(64, help="model queries per batch (default: 64)", type=positive_int)
    workers: int = option(1, help="attack examples in N forked processes with one torch thread each (CPU only); the results "
                                  "are the same as with one process (default: 1)", type=positive_int)
    pooler: str | None = pooler_option()
    device: str | None = device_option()
    trust_remote_code: bool = remote_code_option()
    results_dir: str = results_option()

    # ------------------------------------------------------------------
    def victim_settings(self):
        from rsebench.robustness.victim import VictimSettings

        return VictimSettings(kind=self.victim, seed=self.seed, epochs=self.victim_epochs, learning_rate=self.victim_lr,
                              max_train=self.victim_max_train, train_file=self.victim_train, eval_max=self.victim_eval_max)

    def recipe_spec(self):
        from rsebench.robustness.recipes import load_recipe, with_masked_lm

        return with_masked_lm(load_recipe(self.recipe), self.mlm)

    def validate(self) -> "AttackJob":
        """Every check that needs no model: a typo must not cost a model load."""
        from rsebench.robustness.recipes import check_resources
        from rsebench.robustness.runner import embedding_variants, parse_shard, select_examples

        recipe = self.recipe_spec()
        check_resources(recipe)
        select_examples(self.dataset, self.n)
        parse_shard(self.shard)
        if self.merge and parse_shard(self.shard)[1] == 1:
            raise UserError("--merge needs the shard count: pass --shard 1/N (any i) with the N the shards were run with")
        embedding_flags = (self.eps, self.steps, self.step_size, self.norm, self.random_start)
        if recipe.kind != "embedding" and any(v is not None for v in embedding_flags):
            raise UserError(f"--eps/--steps/--step-size/--norm/--random-start apply to embedding attacks (fgsm, pgd), not '{recipe.name}'")
        if recipe.kind == "embedding":
            embedding_variants(recipe, self.eps, self.steps, self.step_size, self.norm, self.random_start)
        if self.victim_train is not None and not Path(self.victim_train).is_file():
            raise UserError(f"--victim-train {self.victim_train}: no such file; give a TSV with label and text columns")
        from rsebench.encoder import resolve_device
        from rsebench.paths import check_writable_folder

        resolve_device(self.device)
        check_writable_folder(self.results_dir, "--results-dir")
        return self

    def plans(self, encoder, victim_meta: dict) -> list:
        """One `RunPlan` per embedding variant (one for a text recipe)."""
        from rsebench.records import model_section
        from rsebench.robustness.runner import RunPlan, embedding_variants, select_examples

        recipe = self.recipe_spec()
        examples = select_examples(self.dataset, self.n)
        variants = embedding_variants(recipe, self.eps, self.steps, self.step_size, self.norm, self.random_start) \
            if recipe.kind == "embedding" else [{}]
        model = model_section(encoder, self.model)
        return [RunPlan(recipe, self.dataset, examples, self.seed, victim_meta, model, variant, self.batch_size) for variant in variants]

    def identities(self, encoder) -> list[tuple[str, dict]]:
        """(record kind, identity with the model aside) of each record this job writes, one per eps (no victim
        needed): what a study checks before running it."""
        from rsebench.robustness.victim import victim_identity

        return [("attack", plan.identity()) for plan in self.plans(encoder, victim_identity(self.victim_settings(), self.dataset))]

    def run(self, encoder=None) -> list[Path | None]:
        """Attack; one record path per run (None while other shards are still missing)."""
        from rsebench.encoder import load_encoder
        from rsebench.robustness.runner import execute_run, merge_shards, parse_shard
        from rsebench.robustness.victim import build_victim, victim_identity
        from rsebench.seeding import seed_everything

        self.validate()
        shard = parse_shard(self.shard)
        seed_everything(self.seed)
        if encoder is None:
            encoder = load_encoder(self.model, pooler=self.pooler, device=self.device, trust_remote_code=self.trust_remote_code)
        if self.merge:
            return [merge_shards(plan, self.results_dir, shard[1], strict=True)
                    for plan in self.plans(encoder, victim_identity(self.victim_settings(), self.dataset))]
        victim, victim_meta = build_victim(encoder, self.dataset, self.victim_settings())
        return [execute_run(plan, victim, self.results_dir, shard, self.restart, workers=self.workers)
                for plan in self.plans(encoder, victim_meta)]
