"""`rsebench eval`: parse the flags into an `EvalJob` (rsebench.jobs.evaluate) and run it."""

from __future__ import annotations

import argparse

from rsebench.jobs import EvalJob
from rsebench.jobs.options import add_options, from_args


def configure(parser: argparse.ArgumentParser) -> None:
    add_options(parser, EvalJob)


def run(args: argparse.Namespace) -> int:
    from_args(EvalJob, args).run()
    return 0
