"""`rsebench demo`: the whole pipeline on the embedded default encoder, offline (see rsebench.demo)."""

from __future__ import annotations

import argparse

from rsebench.commands.common import add_results_dir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a smaller run (a few minutes): fewer steps, STS-B/SICK only, 5 attack examples")
    parser.add_argument("--checkpoints", default="ckpt/demo", help="folder for the demo's trained checkpoints (default: ckpt/demo)")
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.table import Table

    from rsebench.demo import DemoPlan, run_demo

    started = time.perf_counter()
    summary = run_demo(args.results_dir, args.checkpoints, DemoPlan.quick() if args.quick else DemoPlan())
    console = Console()
    table = Table(title=f"rsebench demo finished in {time.perf_counter() - started:.0f}s", title_justify="left")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in summary["timings"].items():
        table.add_row(stage, f"{seconds:.1f}")
    console.print(table)
    console.print(f"records:     {summary['results_dir']}/")
    console.print(f"checkpoints: {', '.join(v for k, v in summary['checkpoints'].items() if k != 'pretrained')}")
    for path in summary["outputs"]:
        console.print(f"output:      {path}")
    console.print("next: rsebench report --format latex   (renders the same records)")
    return 0
