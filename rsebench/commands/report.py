"""`rsebench report`: render tables (LaTeX, Markdown, CSV) and plots from result records."""

from __future__ import annotations

import argparse

from rsebench.commands.common import add_results_dir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("latex", "markdown", "csv", "all"), default="all",
                        help="table format (default: all three)")
    add_results_dir(parser)
    parser.add_argument("--out", default=None, metavar="FILE_OR_DIR",
                        help="folder for one file per table (default: <results-dir>/tables), a single .tex/.md/.csv file "
                             "for every table, or - for stdout")
    parser.add_argument("--plots", action="store_true", help="also draw the figures (PNG and PDF)")
    parser.add_argument("--plots-dir", default=None, help="folder for the figures (default: <results-dir>/plots)")
    parser.add_argument("--reported", default="default", metavar="FILE",
                        help="published numbers to show beside ours (default: baselines/reported.toml; 'none' to leave out)")
    parser.add_argument("--reference", default=None, metavar="NAME",
                        help="model the others are compared with in paired tests (a table row's name or method, e.g. simcse; "
                             "default: SimCSE when present, else each robustness table's first row)")


def run(args: argparse.Namespace) -> int:
    from rsebench.progress import say
    from rsebench.report.render import render_report

    formats = ("latex", "markdown", "csv") if args.format == "all" else (args.format,)
    reported = None if args.reported.lower() == "none" else args.reported
    written = render_report(args.results_dir, formats, out=args.out, plots=args.plots, plots_dir=args.plots_dir,
                            reported=reported, reference=args.reference)
    if written:
        folders = sorted({str(p.parent) for p in written})
        say(f"report: wrote {len(written)} files to {', '.join(folders)}")
    return 0
