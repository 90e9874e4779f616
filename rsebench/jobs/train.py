"""`TrainJob`: train SimCSE, ESimCSE or RobustSentEmbed and save a sentence-transformers checkpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rsebench.errors import UserError
from rsebench.jobs.common import results_option
from rsebench.registry import method_names
from rsebench.train.spec import CHOICES
from rsebench.jobs.options import option, positive_float, positive_int, seed_int

SPEC = "spec fields (any other field with --set FIELD=VALUE)"


@dataclass
class TrainJob:
    """A training run; `rsebench train`'s flags are these fields. Settings come from `baselines/<method>.toml`;
    `overrides` (`--set FIELD=VALUE`) and the spec-field flags below override any field."""

    kind: ClassVar[str] = "train"

    method: str = option(help=f"training objective: {', '.join(method_names())}, or a named preset such as robustsentembed-fast "
                              "(see `rsebench list methods`)")
    out: str = option(help="checkpoint folder (a sentence-transformers directory)")
    model: str = option("default", help="backbone: 'default' (bundled all-MiniLM-L6-v2), a model folder, or a hub id (online)")
    data: str | None = option(None, help="training corpus, one sentence a line (default: the bundled Wikipedia sentences)", metavar="FILE")
    max_sentences: int | None = option(None, help="use only the first N corpus sentences", type=positive_int)
    max_steps: int | None = option(None, help="stop after N optimiser steps (schedule spans N steps)", type=positive_int)
    overwrite: bool = option(False, help="replace the run already in --out")
    resume: bool = option(False, help="continue the run in --out from its last saved training state")
    overrides: list[str] = option([], help="override any spec field, e.g. --set sentence_eps=0.02 --set rtd=false (repeatable)",
                                  flag="--set", metavar="FIELD=VALUE", append=True)
    lr: float | None = option(None, help="spec field lr", type=positive_float, group=SPEC)
    epochs: int | None = option(None, help="spec field epochs", type=positive_int, group=SPEC)
    batch_size: int | None = option(None, help="spec field batch_size", type=positive_int, group=SPEC)
    max_length: int | None = option(None, help="spec field max_length", type=positive_int, group=SPEC)
    seed: int | None = option(None, help="spec field seed (0 .. 4294967295)", type=seed_int, group=SPEC)
    eval_every: int | None = option(None, help="spec field eval_every (0: no dev evaluation)", type=int, group=SPEC)
    dev_size: int | None = option(None, help="spec field dev_size", type=int, group=SPEC)
    save_every: int | None = option(None, help="spec field save_every", type=int, group=SPEC)
    temperature: float | None = option(None, help="spec field temperature", type=positive_float, group=SPEC)
    generator: str | None = option(None, help="spec field generator", group=SPEC)
    mixed_precision: str | None = option(None, help="spec field mixed_precision", choices=CHOICES["mixed_precision"], group=SPEC)
    pooler: str | None = option(None, help="spec field pooler", choices=CHOICES["pooler"], group=SPEC)
    label: str | None = option(None, help="name of this run in tables and plots (e.g. an ablation arm; not part of the spec)")
    cpu: bool = option(False, help="train on the CPU even when a GPU is present")
    results_dir: str | None = results_option()

    SPEC_FLAGS: ClassVar[tuple[str, ...]] = ("lr", "epochs", "batch_size", "max_length", "seed", "eval_every", "dev_size", "save_every",
                                             "temperature", "generator", "mixed_precision", "pooler")

    def spec_overrides(self) -> dict[str, str]:
        """`--set` items and the spec-field flags, as field -> text."""
        from rsebench.train.spec import parse_set_items

        overrides = parse_set_items(self.overrides)
        for name in self.SPEC_FLAGS:
            value = getattr(self, name)
            if value is not None:
                overrides[name] = str(value)
        return overrides

    def spec(self) -> dict:
        from rsebench.train.spec import load_spec

        return load_spec(self.method, self.spec_overrides())

    def validate(self) -> "TrainJob":
        """Every check that needs no model load, before anything in --out is touched."""
        self.spec()
        if self.overwrite and self.resume:
            raise UserError("--overwrite and --resume exclude each other; choose one")
        from rsebench.paths import check_writable_folder
        from rsebench.train.trainer import refuse_model_in_out

        check_writable_folder(self.out, "--out")
        refuse_model_in_out(self.model, Path(self.out))
        if self.model != "default" and not Path(self.model).exists() and os.environ.get("RSEBENCH_ONLINE") != "1":
            raise UserError(f"--model {self.model}: no such folder (hub ids need RSEBENCH_ONLINE=1); use 'default' or a model folder")
        if self.data is not None and not Path(self.data).is_file():
            raise UserError(f"corpus file not found: {self.data}; give a text file with one sentence per line")
        if self.results_dir is not None:
            check_writable_folder(self.results_dir, "--results-dir")
        return self

    def checkpoint_complete(self) -> bool:
        """True when --out already holds this job's finished run (same method and spec, all steps done)."""
        from rsebench.encoder import checkpoint_metadata
        from rsebench.train.spec import hash_spec

        out = Path(self.out)
        if not (out / "rsebench.json").is_file() or not (out / "model.safetensors").is_file():
            return False
        try:
            meta = checkpoint_metadata(out) or {}
        except UserError:
            return False
        spec = self.spec()
        return (meta.get("method") == spec["method"] and meta.get("spec_hash") == hash_spec(spec)
                and meta.get("steps", -1) >= meta.get("total_steps", 0) and (self.max_steps is None or meta.get("total_steps") <= self.max_steps))

    def run(self, sentences: list[str] | None = None):
        from rsebench.train.trainer import train

        self.validate()
        spec = self.spec()  # a named preset (robustsentembed-fast) trains its method's objective
        return train(spec["method"], spec, model=self.model, data=self.data, max_sentences=self.max_sentences,
                     max_steps=self.max_steps, out_dir=self.out, overwrite=self.overwrite, resume=self.resume,
                     results_dir=self.results_dir, cpu=self.cpu, sentences=sentences, label=self.label)

