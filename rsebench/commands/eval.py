"""`rsebench eval`: STS and transfer-task evaluation, one record per task."""

from __future__ import annotations

import argparse

from rsebench.commands.common import add_model, add_results_dir, model_identity, positive_int, split_tasks
from rsebench.seeding import seed_everything
from rsebench.data import STS_TASKS

TRANSFER_TASKS = ("mr", "cr", "subj", "mpqa", "sst2", "trec", "mrpc")
GROUPS = {"sts": STS_TASKS, "transfer": TRANSFER_TASKS, "all": STS_TASKS + TRANSFER_TASKS}


def configure(parser: argparse.ArgumentParser) -> None:
    add_model(parser)
    parser.add_argument("--tasks", default="sts", help="sts, transfer, all, or a comma-separated list of task names (e.g. stsb,sick)")
    parser.add_argument("--variant", choices=("original", "senteval"), default="original",
                        help="STS text: original release (default) or SentEval-tokenised")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="seed for the transfer-task classifiers and folds")
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    from rsebench.encoder import load_encoder
    from rsebench.evaluate.sts import score_pairs, sts_record
    from rsebench.data import load_dataset
    from rsebench.progress import say
    from rsebench.records import write_record

    tasks = split_tasks(args.tasks, GROUPS, STS_TASKS + TRANSFER_TASKS)
    seed_everything(args.seed)
    encoder = load_encoder(args.model, pooler=args.pooler, device=args.device, trust_remote_code=args.trust_remote_code)
    model = model_identity(encoder, args.model)
    for task in tasks:
        if task in STS_TASKS:
            result = score_pairs(encoder, load_dataset(task, None, args.variant), args.batch_size)
            record = sts_record(result, model, {"variant": args.variant, "batch_size": args.batch_size, "similarity": "cosine"})
            path = write_record(record, args.results_dir)
            say(f"{task:<6} spearman {100 * result.spearman:6.2f}  pearson {100 * result.pearson:6.2f}  (n={result.n}, {result.seconds:.1f}s) -> {path}")
        else:
            from rsebench.evaluate.transfer import evaluate_transfer_task, transfer_record

            result = evaluate_transfer_task(encoder, task, seed=args.seed, batch_size=args.batch_size)
            path = write_record(transfer_record(result, model, args.seed), args.results_dir)
            say(f"{task:<6} accuracy {100 * result.accuracy:6.2f}  ({result.protocol}, {result.seconds:.1f}s) -> {path}")
    return 0
