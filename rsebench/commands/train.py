"""`rsebench train`: train SimCSE, ESimCSE or RobustSentEmbed and save a sentence-transformers checkpoint.

Settings come from `baselines/<method>.toml`; `--set FIELD=VALUE` (repeatable) or the explicit flags
below override any field. See `rsebench.train.trainer.train` for the Python API.
"""

from __future__ import annotations

import argparse

from rsebench.commands.common import add_results_dir, positive_int
from rsebench.train import METHODS

# explicit flag -> spec field (all other fields via --set)
FLAG_FIELDS = {"lr": float, "epochs": positive_int, "batch_size": positive_int, "max_length": positive_int, "seed": int,
               "eval_every": int, "dev_size": int, "save_every": int, "temperature": float, "generator": str,
               "mixed_precision": str, "pooler": str}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True,
                        help=f"training objective: {', '.join(METHODS)}, or a named preset of one (e.g. robustsentembed-fast)")
    parser.add_argument("--model", default="default", help="backbone: 'default' (bundled all-MiniLM-L6-v2), a model folder, or a hub id (online)")
    parser.add_argument("--data", default=None, help="training corpus, one sentence a line (default: the bundled Wikipedia sentences)")
    parser.add_argument("--max-sentences", type=positive_int, default=None, help="use only the first N corpus sentences")
    parser.add_argument("--max-steps", type=positive_int, default=None, help="stop after N optimiser steps (schedule spans N steps)")
    parser.add_argument("--out", required=True, help="checkpoint folder (a sentence-transformers directory)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    group.add_argument("--resume", action="store_true", help="continue the run in --out from its last saved training state")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override any spec field, e.g. --set sentence_eps=0.02 --set rtd=false (repeatable)")
    for flag, kind in FLAG_FIELDS.items():
        parser.add_argument(f"--{flag.replace('_', '-')}", dest=f"spec_{flag}", type=kind, default=None, help=f"spec field {flag}")
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is present")
    add_results_dir(parser)


def overrides_from_items(items: list[str]) -> dict[str, str]:
    """`--set FIELD=VALUE` items as a mapping."""
    from rsebench.errors import UserError

    overrides: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--set needs FIELD=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value
    return overrides


def overrides_from(args: argparse.Namespace) -> dict[str, str]:
    overrides = overrides_from_items(args.overrides)
    for flag in FLAG_FIELDS:
        value = getattr(args, f"spec_{flag}", None)
        if value is not None:
            overrides[flag] = str(value)
    return overrides


def run(args: argparse.Namespace) -> int:
    from rsebench.progress import say
    from rsebench.train.spec import load_spec
    from rsebench.train.trainer import train

    spec = load_spec(args.method, overrides_from(args))
    result = train(spec["method"], spec, model=args.model, data=args.data, max_sentences=args.max_sentences, max_steps=args.max_steps,
                   out_dir=args.out, overwrite=args.overwrite, resume=args.resume, results_dir=args.results_dir, cpu=args.cpu)
    best = "n/a" if result.best_dev is None else f"{100 * result.best_dev:.2f}"
    say(f"{args.method}: {result.steps} steps in {result.seconds:.1f}s; best STS-B dev spearman {best} -> {result.out_dir}"
        + (f" (record {result.record_path})" if result.record_path else ""))
    return 0
