"""`EvalJob`: STS and transfer-task evaluation of one encoder, one record per task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rsebench.data import STS_TASKS
from rsebench.errors import UserError
from rsebench.jobs.common import device_option, model_option, pooler_option, remote_code_option, results_option
from rsebench.jobs.options import option, positive_int, seed_int

TRANSFER_TASKS = ("mr", "cr", "subj", "mpqa", "sst2", "trec", "mrpc")
TASK_GROUPS = {"sts": STS_TASKS, "transfer": TRANSFER_TASKS, "all": STS_TASKS + TRANSFER_TASKS}


def split_tasks(text: str) -> list[str]:
    """Expand a comma-separated task list with group names ('sts', 'transfer', 'all')."""
    tasks: list[str] = []
    for item in (part.strip().lower() for part in text.split(",") if part.strip()):
        if item in TASK_GROUPS:
            tasks.extend(TASK_GROUPS[item])
        elif item in STS_TASKS + TRANSFER_TASKS:
            tasks.append(item)
        else:
            raise UserError(f"unknown task '{item}'; choose from {', '.join(list(TASK_GROUPS) + list(STS_TASKS + TRANSFER_TASKS))}")
    if not tasks:
        raise UserError("no tasks given; use e.g. --tasks sts")
    return list(dict.fromkeys(tasks))


@dataclass
class EvalJob:
    """An evaluation; `rsebench eval`'s flags are these fields."""

    kind: ClassVar[str] = "eval"

    model: str = model_option()
    tasks: str = option("sts", help="sts, transfer, all, or a comma-separated list of task names (e.g. stsb,sick)")
    variant: str = option("original", help="STS text: original release (default) or SentEval-tokenised", choices=("original", "senteval"))
    batch_size: int = option(64, help="sentences per encoder batch (default: 64)", type=positive_int)
    seed: int = option(0, help="seed for the transfer-task classifiers and folds (default: 0)", type=seed_int)
    pooler: str | None = pooler_option()
    device: str | None = device_option()
    trust_remote_code: bool = remote_code_option()
    results_dir: str = results_option()

    def task_list(self) -> list[str]:
        return split_tasks(self.tasks)

    def validate(self) -> "EvalJob":
        self.task_list()
        from rsebench.encoder import resolve_device
        from rsebench.paths import check_writable_folder

        resolve_device(self.device)
        check_writable_folder(self.results_dir, "--results-dir")
        return self

    def identities(self, encoder=None) -> list[tuple[str, dict]]:
        """(record kind, identity with the model aside) of each record this job writes, one per task."""
        from rsebench.data import dataset_info
        from rsebench.evaluate.sts import sts_identity
        from rsebench.evaluate.transfer import transfer_identity

        return [("sts", sts_identity(task, dataset_info(task).default_split, self.variant)) if task in STS_TASKS
                else ("transfer", transfer_identity(task, self.seed)) for task in self.task_list()]

    def run(self, encoder=None) -> list[Path]:
        from rsebench.data import load_dataset
        from rsebench.encoder import load_encoder
        from rsebench.evaluate.sts import score_pairs, sts_record
        from rsebench.progress import say
        from rsebench.records import model_section, write_record
        from rsebench.seeding import seed_everything

        tasks = self.validate().task_list()
        seed_everything(self.seed)
        if encoder is None:
            encoder = load_encoder(self.model, pooler=self.pooler, device=self.device, trust_remote_code=self.trust_remote_code)
        model = model_section(encoder, self.model)
        paths = []
        for task in tasks:
            if task in STS_TASKS:
                result = score_pairs(encoder, load_dataset(task, None, self.variant), self.batch_size)
                record = sts_record(result, model, {"variant": self.variant, "batch_size": self.batch_size, "similarity": "cosine"})
                paths.append(write_record(record, self.results_dir))
                say(f"{task:<6} spearman {100 * result.spearman:6.2f}  pearson {100 * result.pearson:6.2f}  "
                    f"(n={result.n}, {result.seconds:.1f}s) -> {paths[-1]}")
            else:
                from rsebench.evaluate.transfer import evaluate_transfer_task, transfer_record

                result = evaluate_transfer_task(encoder, task, seed=self.seed, batch_size=self.batch_size)
                paths.append(write_record(transfer_record(result, model, self.seed), self.results_dir))
                say(f"{task:<6} accuracy {100 * result.accuracy:6.2f}  ({result.protocol}, {result.seconds:.1f}s) -> {paths[-1]}")
        return paths
