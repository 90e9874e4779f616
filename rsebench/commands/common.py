"""Options shared by several sub-commands that are not jobs (report, bench, demo, study)."""

from __future__ import annotations

import argparse

from rsebench.jobs.options import positive_int  # noqa: F401 - re-exported for the command modules


def add_results_dir(parser: argparse.ArgumentParser, default: str = "results") -> None:
    parser.add_argument("--results-dir", default=default, help=f"folder for result records (default: {default})")
