"""`rsebench bench`: timing benchmarks, each a ratio measured in one run.

`--what train` times one training step per method or preset (ratio to SimCSE), `--what attack`
compares attack throughput with stock TextAttack (equal length, and the 512-token line), `--what
encode` compares encoding with sentence-transformers, `--what all` runs the three. Each mode lives
next to what it measures (`configure_options` / `measure` in its module); `--json OUT` writes
{"machine": ..., "<mode>": report, ...}.
"""

from __future__ import annotations

import argparse
import importlib

from rsebench.commands.common import positive_int
from rsebench.errors import UserError

MODES = {"train": "rsebench.train.benchmark", "attack": "rsebench.robustness.benchmark", "encode": "rsebench.encode_benchmark"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--what", choices=(*MODES, "all"), default="train", help="what to time (default: train)")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    parser.add_argument("--model", default="tiny",
                        help="'tiny' (random 2-layer BERT), 'random-minilm', 'random-bert-base', 'default' (MiniLM) or a model folder")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed rounds (median reported; train and encode)")
    train = parser.add_argument_group("--what train")
    train.add_argument("--methods", default="simcse,esimcse,robustsentembed",
                       help="comma-separated methods or named presets, e.g. robustsentembed-fast (SimCSE is always timed)")
    train.add_argument("--max-length", type=positive_int, default=32)
    train.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                       help="spec override applied to every method that has the field (repeatable)")
    for mode in ("attack", "encode"):
        importlib.import_module(MODES[mode]).configure_options(parser)


def machine() -> dict:
    import os
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "load_average_start": round(os.getloadavg()[0], 2)}


def run(args: argparse.Namespace) -> int:
    import json
    import os
    from pathlib import Path

    from rsebench.paths import check_output_file
    from rsebench.records import write_text_atomic

    if args.json:
        check_output_file(args.json, "--json")  # before minutes of timing, not after
    modes = list(MODES) if args.what == "all" else [args.what]
    report: dict = {"machine": machine()}
    for mode in modes:
        try:
            module = importlib.import_module(MODES[mode])
        except ModuleNotFoundError:
            raise UserError(f"'bench --what {mode}' is not available in this version of rsebench") from None
        report[mode] = module.measure(args)
    report["machine"]["load_average_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        write_text_atomic(Path(args.json), json.dumps(report, indent=2, allow_nan=False) + "\n", fix="choose another --json file")
    return 0
