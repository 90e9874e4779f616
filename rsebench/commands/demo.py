"""`rsebench demo`: the whole pipeline on the embedded default encoder, offline (see rsebench.demo)."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="the CI-sized study instead (a few minutes): 4 steps, STS-B, few attacks")
    parser.add_argument("--results-dir", default="demo/results", help="folder for the demo's records (default: demo/results)")
    parser.add_argument("--checkpoints", default="demo/checkpoints", help="folder for the demo's checkpoints (default: demo/checkpoints)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rsebench.demo import run_demo

    summary = run_demo(args.results_dir, args.checkpoints, quick=args.quick)
    console = Console()
    console.print(f"rsebench demo ({summary['study']} study) finished in {summary['seconds']:.0f}s")
    console.print(f"records:     {summary['results_dir']}/")
    console.print(f"checkpoints: {', '.join(summary['checkpoints'])}")
    for path in summary["outputs"]:
        console.print(f"output:      {path}")
    console.print(f"next: rsebench report --results-dir {summary['results_dir']} --format latex   (renders the same records)")
    return 0
