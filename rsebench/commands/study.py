"""`rsebench study SPEC`: run a whole experiment (train → eval → attacks → report) from one TOML spec."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="a study spec file, or the name of a shipped study (see `rsebench list studies`)")
    parser.add_argument("--shard", default=None, metavar="I/N|auto",
                        help="run only shard I of N (chains of jobs, cost-balanced); 'auto' reads a SLURM job array "
                             "(SLURM_ARRAY_TASK_ID/_COUNT) or torchrun/accelerate (RANK/WORLD_SIZE)")
    parser.add_argument("--dry-run", action="store_true", help="print the jobs, their status and estimated cost; run nothing")
    parser.add_argument("--report", dest="report_only", action="store_true",
                        help="only render the study's tables and plots from its records (e.g. after all shards finished)")
    parser.add_argument("--results-dir", default=None, help="folder for the records (default: the spec's, else results/<study name>)")
    parser.add_argument("--checkpoints-dir", default=None,
                        help="folder for trained checkpoints (default: the spec's, else the rsebench cache: ~/.cache/rsebench/checkpoints/<study>)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--only", default=None, metavar="NAME[,NAME...]",
                        help="run only these models, in this order: arm labels or 'LABEL seed N' (e.g. --only "
                             "'RobustSentEmbed seed 1,ESimCSE'); the rest stays as it is")
    parser.add_argument("--recipes", default=None, metavar="R[,R...]", help="run only these attack recipes of the study (e.g. pgd,deepwordbug)")


def run(args: argparse.Namespace) -> int:
    from rsebench.progress import say
    from rsebench.study import load_study, parse_study_shard, render_study_report, run_study

    study = load_study(args.spec)
    shard = parse_study_shard(args.shard)
    if args.report_only:
        written = render_study_report(study, args.results_dir or study.results_dir, args.checkpoints_dir)
        say(f"study {study.name}: wrote {len(written)} report files")
        return 0
    def names(text: str | None) -> list[str] | None:
        return [n.strip() for n in text.split(",") if n.strip()] if text else None

    run_study(study, shard, results_dir=args.results_dir, checkpoints_dir=args.checkpoints_dir, device=args.device,
              dry_run=args.dry_run, only=names(args.only), recipes=names(args.recipes))
    return 0
