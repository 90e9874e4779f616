"""Read result records for the report: validate, skip what cannot be used (saying why), and name
each record's method, seed and setting.

Rows of a table are *arms*: a trained checkpoint's method (simcse, esimcse, robustsentembed, ...)
with its whole training setting except the seed (`model.arm`; an ablation or another eps is another
row, labelled by `model.label` when the run was given one), plus its backbone; an off-the-shelf
model is its own row under `model.name`. Records of one arm that differ only in seed are aggregated
(mean ± std over seeds). A seed is the training seed (`model.train_seed`) together with the
evaluation seed (`record.seed`), so a pretrained model evaluated with several seeds is aggregated
over those. Records with the same identity (a rerun, e.g. on another machine) count once: the newest
is kept and the others are listed as set aside, never counted as another seed.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field
from pathlib import Path

from rsebench.errors import UserError
from rsebench.records import read_records
from rsebench.registry import method_label, methods
from rsebench.stats import wilson_interval

# The metrics a record needs before a table can use it.
REQUIRED_METRICS = {
    "sts": ("spearman_cosine",),
    "transfer": ("accuracy",),
    "attack": ("original_accuracy", "accuracy_under_attack", "attack_success_rate"),
}


@dataclass(frozen=True, order=True)
class Method:
    """A table row: `key` is what records are grouped by, `label` what the table shows."""

    sort_key: tuple
    key: str
    label: str
    backbone: str | None = None


@dataclass
class Collection:
    records: list[dict]
    skipped: list[str] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # kinds no table shows (e.g. train), by count


def method_of(record: dict) -> Method:
    model = record["model"]
    method = model.get("method")
    backbone = model.get("backbone") or model.get("base_model")
    if method and method != "pretrained":
        label = model.get("label") or method_label(method)
        order = methods()[method].table_order if method in methods() else 5  # baselines first, the paper's method last
        key = method if not backbone else f"{method}@{backbone}"
        if model.get("arm"):
            key += f"#{model['arm']}"
        shown = label if not backbone or model.get("label") else f"{label} ({backbone})"
        return Method((1, order, label.lower(), backbone or ""), key, shown, backbone)
    name = model["name"]
    shown = model.get("label") or name
    return Method((0, 0, shown.lower(), ""), f"pretrained:{name}", shown, None)


def seed_of(record: dict) -> tuple:
    """The aggregation unit: one (training seed, evaluation seed, model fingerprint) per value."""
    model = record["model"]
    return (str(model.get("train_seed")), str(record.get("seed")), str(model.get("fingerprint") or model.get("name")))


def _complete(record: dict) -> str | None:
    """None when the record has what its table needs; else the reason it is skipped."""
    needed = REQUIRED_METRICS.get(record["kind"], ())
    missing = [m for m in needed if not isinstance(record["metrics"].get(m), (int, float))]
    if missing:
        return f"{record['_path']}: incomplete {record['kind']} record (no numeric {', '.join('metrics.' + m for m in missing)})"
    if record["kind"] == "attack" and not record["task"].get("attack"):
        return f"{record['_path']}: attack record without task.attack"
    return None


def collect(results_dir: str | Path, labels: dict[str, str] | None = None) -> Collection:
    """Every usable record under `results_dir`, plus one line per skipped file. UserError when none.

    `labels` (model key -> label: a study's names for its models) names the rows of those models, in
    place of the label a checkpoint was trained under (or the model's name for off-the-shelf models)."""
    loaded, problems = read_records(results_dir)
    usable, skipped, ignored = [], list(problems), {}
    newest: dict[str, dict] = {}
    for record in sorted((r.as_dict() for r in loaded), key=lambda r: (r["created"], r["_path"])):
        earlier = newest.get(record["identity_hash"])
        if earlier is not None:
            skipped.append(f"{earlier['_path']}: a rerun of the same identity as {record['_path']} (newer, kept); set aside")
        newest[record["identity_hash"]] = record
    for record in sorted(newest.values(), key=lambda r: r["_path"]):
        if record["kind"] not in REQUIRED_METRICS:
            ignored[record["kind"]] = ignored.get(record["kind"], 0) + 1
            continue
        model = record["model"]
        if labels and model.get("key") in labels:
            model["label"] = labels[model["key"]]
        problem = _complete(record)
        if problem:
            skipped.append(problem)
        else:
            usable.append(record)
    if not usable:
        detail = f" ({len(skipped)} skipped: {skipped[0]}{' ...' if len(skipped) > 1 else ''})" if skipped else ""
        raise UserError(f"no usable sts, transfer or attack records under {results_dir}{detail}; "
                        "run 'rsebench eval' or 'rsebench attack' first, or pass --results-dir")
    return Collection(usable, skipped, ignored)


# How each metric's 95% interval is obtained (for notes and the CSV's ci_method column).
INTERVAL_METHODS = {"spearman_cosine": "bootstrap over pairs", "pearson_cosine": "bootstrap over pairs", "accuracy": "Wilson",
                    "original_accuracy": "Wilson", "accuracy_under_attack": "Wilson", "attack_success_rate": "Wilson",
                    "victim_clean_accuracy": "Wilson"}


# The range each metric can take: a t-interval over few seeds can reach past it and is cut there.
METRIC_RANGES = {"spearman_cosine": (-1.0, 1.0), "pearson_cosine": (-1.0, 1.0), "accuracy": (0.0, 1.0), "original_accuracy": (0.0, 1.0),
                 "accuracy_under_attack": (0.0, 1.0), "attack_success_rate": (0.0, 1.0), "victim_clean_accuracy": (0.0, 1.0),
                 "avg_perturbed_word_fraction": (0.0, 1.0), "avg_queries": (0.0, math.inf)}


def within_range(interval: tuple[float, float] | None, metric: str) -> tuple[float, float] | None:
    """`interval` cut to the range `metric` can take (unchanged for a metric of unknown range)."""
    if interval is None or metric not in METRIC_RANGES:
        return interval
    low, high = METRIC_RANGES[metric]
    return min(max(interval[0], low), high), max(min(interval[1], high), low)


def interval_of(record: dict, metric: str) -> tuple[float, float] | None:
    """A record's 95% interval of `metric`: `metrics.<metric>_ci95` when the record has it; otherwise,
    for records written before intervals existed, the Wilson interval recomputed from the record's
    counts (attack proportions, victim and transfer accuracy). None when neither is possible (e.g.
    an old STS record: its pairs are not stored, so no bootstrap)."""
    metrics = record.get("metrics", {})
    stored = metrics.get(f"{metric}_ci95")
    if isinstance(stored, list) and len(stored) == 2 and all(isinstance(v, (int, float)) for v in stored):
        return float(stored[0]), float(stored[1])
    if f"{metric}_ci95" in metrics:  # written as null: undefined (e.g. ASR with nothing attacked)
        return None
    try:
        if record["kind"] == "attack":
            s, f, k = (int(metrics[name]) for name in ("successful_attacks", "failed_attacks", "skipped_attacks"))
            if metric == "original_accuracy":
                return wilson_interval(s + f, s + f + k)
            if metric == "accuracy_under_attack":
                return wilson_interval(f, s + f + k)
            if metric == "attack_success_rate":
                return wilson_interval(s, s + f)
            if metric == "victim_clean_accuracy":
                n = int(record.get("victim", {}).get("clean_accuracy_examples") or 0)
                return wilson_interval(round(float(metrics[metric]) * n), n) if n else None
        if record["kind"] == "transfer" and metric == "accuracy":
            n = int(record["task"].get("n") or 0)
            correct = metrics.get("correct_examples")
            return wilson_interval(int(correct) if correct is not None else round(float(metrics["accuracy"]) * n), n) if n else None
    except (KeyError, TypeError, ValueError):
        return None  # counts missing or inconsistent: no interval rather than a crash
    return None
