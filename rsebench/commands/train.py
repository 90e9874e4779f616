"""`rsebench train`: parse the flags into a `TrainJob` (rsebench.jobs.train) and run it."""

from __future__ import annotations

import argparse

from rsebench.jobs import TrainJob
from rsebench.jobs.options import add_options, from_args


def configure(parser: argparse.ArgumentParser) -> None:
    add_options(parser, TrainJob)


def run(args: argparse.Namespace) -> int:
    from rsebench.progress import say

    job = from_args(TrainJob, args)
    result = job.run()
    best = "n/a" if result.best_dev is None else f"{100 * result.best_dev:.2f}"
    say(f"{job.method}: {result.steps} steps in {result.seconds:.1f}s; best STS-B dev spearman {best} -> {result.out_dir}"
        + (f" (record {result.record_path})" if result.record_path else ""))
    return 0
