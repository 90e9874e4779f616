"""`rsebench bench`: timing benchmarks. `--what train` times one training step per method (ratio to
SimCSE); further modes (e.g. `--what attack`) dispatch to their own module's `configure_options` /
`run_from_args`, so each mode's options and code live next to what it measures."""

from __future__ import annotations

import argparse
import importlib

from rsebench.commands.common import positive_int
from rsebench.errors import UserError

MODES = {"train": "rsebench.train.benchmark", "attack": "rsebench.robustness.benchmark"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--what", choices=tuple(MODES), default="train", help="what to time (default: train)")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    train = parser.add_argument_group("--what train")
    train.add_argument("--model", default="tiny",
                       help="'tiny' (random 2-layer BERT), 'random-minilm', 'random-bert-base', 'default' (MiniLM) or a model folder")
    train.add_argument("--methods", default="simcse,esimcse,robustsentembed", help="comma-separated methods (SimCSE is always timed)")
    train.add_argument("--batch-size", type=positive_int, default=64)
    train.add_argument("--max-length", type=positive_int, default=32)
    train.add_argument("--repeats", type=positive_int, default=3, help="timed rounds (median reported)")
    train.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    train.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                       help="spec override applied to every method that has the field (repeatable)")
    # Other modes add their option groups here, e.g. importlib.import_module(MODES["attack"]).configure_options(parser).
    importlib.import_module(MODES["attack"]).configure_options(parser)


def run(args: argparse.Namespace) -> int:
    from rsebench.paths import check_output_file

    if args.json:
        check_output_file(args.json, "--json")  # before minutes of timing, not after
    try:
        module = importlib.import_module(MODES[args.what])
    except ModuleNotFoundError:
        raise UserError(f"'bench --what {args.what}' is not available in this version of rsebench") from None
    return int(module.run_from_args(args) or 0)
