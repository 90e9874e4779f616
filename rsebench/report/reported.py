"""Numbers published in papers ("reported"), read from `baselines/reported.toml`, shown beside ours.

Each `[[result]]` entry is one published number:

    [[result]]
    method = "simcse"                      # rsebench method name (the record's model.method)
    backbone = "bert-base-uncased"
    source = "Gao et al. 2021, Table 5"
    setting = { variant = "original" }     # must equal the table's setting for every key it names
    task = "sts12"                         # STS / transfer task (or "avg"); attack results: the dataset
    attack = "textfooler"                  # attack results only: task.attack or the recipe name
    metric = "spearman_cosine"             # the record metric it corresponds to
    value = 68.40                          # as printed in the paper: percent (unit = "fraction" otherwise)

The compact per-method form used by `baselines/reported.toml` is read too: one table per
(method, backbone) with a `source` and one key per task (values in percent), e.g.

    [simcse.bert_base]
    source = "Gao, Yao and Chen, SimCSE, EMNLP 2021, Table 5"
    sts12 = 68.40
    ...
    avg = 76.25

STS task keys become `spearman_cosine` on the SentEval-preprocessed text (setting variant =
"senteval", the text SimCSE and RobustSentEmbed evaluate on; an explicit `setting = {...}` in the
table overrides it); transfer task keys become `accuracy`.

A published row appears in a table only when the table shows the same method, its setting matches,
and (where our records name a backbone) the backbone is the same; it is labelled "reported" with
its backbone and source, and never competes for the bold "best" value.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from rsebench.errors import UserError
from rsebench.registry import method_label
from rsebench.report.tables import Cell, Row, Table

REQUIRED = ("method", "source", "task", "metric", "value")
METRIC_KIND = {"spearman_cosine": "sts", "pearson_cosine": "sts", "accuracy": "transfer", "f1": "transfer",
               "original_accuracy": "attack", "accuracy_under_attack": "attack", "attack_success_rate": "attack",
               "avg_perturbed_word_fraction": "attack", "avg_queries": "attack"}


def default_path() -> Path | None:
    from rsebench.paths import spec_root

    try:
        path = spec_root("baselines") / "reported.toml"
    except FileNotFoundError:
        return None
    return path if path.is_file() else None


def load_reported(path: str | Path | None) -> list[dict]:
    """Entries of a reported-numbers file (values converted to fractions); [] when there is none."""
    if path is None:
        return []
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"reported-numbers file not found: {path}; pass --reported none to leave published numbers out") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UserError(f"cannot read {path}: {err}; fix the TOML or pass --reported none") from None
    entries = []
    for number, entry in enumerate(list(data.get("result", [])) + _compact_entries(data), start=1):
        missing = [key for key in REQUIRED if key not in entry]
        if missing:
            raise UserError(f"{path}: [[result]] #{number} lacks {', '.join(missing)}; every entry needs {', '.join(REQUIRED)}")
        if not isinstance(entry["value"], (int, float)):
            raise UserError(f"{path}: [[result]] #{number} value must be a number, not {entry['value']!r}")
        entry = dict(entry)
        fraction = entry.get("unit", "percent") == "fraction" or entry["metric"] == "avg_queries"
        entry["fraction"] = float(entry["value"]) if fraction else float(entry["value"]) / 100.0
        entry.setdefault("kind", METRIC_KIND.get(entry["metric"]))
        entries.append(entry)
    return entries


STS_KEYS = ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sick")
TRANSFER_KEYS = ("mr", "cr", "subj", "mpqa", "sst2", "trec", "mrpc")


def _compact_entries(data: dict) -> list[dict]:
    """[[result]]-style entries from `[method.backbone]` tables of task = value pairs."""
    entries = []
    for method, backbones in sorted(data.items()):
        if method == "result" or not isinstance(backbones, dict):
            continue
        for backbone, table in sorted(backbones.items()):
            if not isinstance(table, dict):
                continue
            tasks = {k: v for k, v in table.items() if k in STS_KEYS + TRANSFER_KEYS or k == "avg"}
            is_sts = any(k in STS_KEYS for k in tasks)
            for task, value in tasks.items():
                entries.append({
                    "method": method, "backbone": backbone.replace("_", "-"), "source": table.get("source", "(no source given)"),
                    "task": task, "value": value, "metric": "spearman_cosine" if is_sts else "accuracy",
                    "kind": "sts" if is_sts else "transfer",
                    "setting": table.get("setting", {"variant": "senteval"} if is_sts else None),
                })
    return entries


def _setting_matches(wanted, setting: dict) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):  # a bare value, e.g. "senteval" or "finetune"
        return wanted in {str(v) for v in setting.values()}
    return all(str(setting.get(k)) == str(v) for k, v in wanted.items())


def add_reported(table: Table, entries: list[dict]) -> None:
    """Append matching published rows to each block of `table` (in place)."""
    ours = {}  # method name -> backbone of our row (None when the records do not say)
    for block in table.blocks:
        for row in block.rows:
            if row.reported is None:
                method, _, backbone = row.method.partition("@")
                ours[method] = backbone or None
    for block in table.blocks:
        grouped: dict[tuple, dict[str, float]] = {}
        for entry in entries:
            if entry.get("kind") != table.kind or entry["method"] not in ours:
                continue
            if ours[entry["method"]] and entry.get("backbone") and ours[entry["method"]] != entry["backbone"]:
                continue
            if not _setting_matches(entry.get("setting"), table.setting):
                continue
            if table.kind == "attack":
                if entry["task"] != table.setting.get("dataset"):
                    continue
                if entry.get("attack") not in (block.attack.get("attack"), block.attack.get("recipe") if block.attack.get("eps") is None else None):
                    continue
                column = next((c.key for c in table.columns if c.metric == entry["metric"]), None)
            else:
                column = entry["task"] if entry["task"] in {c.key for c in table.columns} else None
                if column is not None and entry["metric"] != next(c.metric for c in table.columns if c.key == column):
                    column = None
            if column is None:
                continue
            key = (entry["method"], entry.get("backbone") or "", entry["source"])
            grouped.setdefault(key, {})[column] = entry["fraction"]
        for (method, backbone, source), values in sorted(grouped.items()):
            name = method_label(method)
            label = f"{name} ({backbone}, reported)" if backbone else f"{name} (reported)"
            block.rows.append(Row(label, method, {k: Cell([v]) for k, v in values.items()},
                                  reported={"source": source, "backbone": backbone or None}))
            note = f"{label}: published in {source}"
            if note not in table.notes:
                table.notes.append(note)


def with_reported(tables: list[Table], entries: list[dict] | None) -> list[Table]:
    """`tables` with the published numbers of `entries` added where their setting matches (in place)."""
    for table in tables if entries else ():
        add_reported(table, entries)
    return tables
