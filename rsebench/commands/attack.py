"""`rsebench attack`: parse the flags into an `AttackJob` (rsebench.jobs.attack) and run it."""

from __future__ import annotations

import argparse

from rsebench.jobs import AttackJob
from rsebench.jobs.options import add_options, from_args


def configure(parser: argparse.ArgumentParser) -> None:
    add_options(parser, AttackJob)


def run(args: argparse.Namespace) -> int:
    from rsebench.progress import say
    from rsebench.records import read_record

    for path in from_args(AttackJob, args).run():
        if path is None:
            continue
        record = read_record(path)
        m = record.metrics
        say(f"{record.task['attack']} on {record.task['name']} ({record.task['victim']} victim, clean acc "
            f"{100 * m['victim_clean_accuracy']:.1f}%): success rate {100 * m['attack_success_rate']:.1f}%, "
            f"accuracy {100 * m['original_accuracy']:.1f}% -> {100 * m['accuracy_under_attack']:.1f}% under attack "
            f"(S/F/skip {m['successful_attacks']}/{m['failed_attacks']}/{m['skipped_attacks']}) -> {path}")
    return 0
