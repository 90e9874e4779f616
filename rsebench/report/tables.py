"""The report's tables as data: STS, transfer and one robustness table per (dataset, victim, example set).

A `Table` holds columns (with the direction in which a value is better), blocks of rows (one block
for STS / transfer, one per attack for robustness) and cells with every seed's raw value, so the
LaTeX, Markdown and CSV renderers print the same numbers. Each cell also keeps every seed's 95%
interval from its record (Wilson for proportions, bootstrap for STS; recomputed from counts for
records older than the interval fields): one seed shows the record's interval, several seeds the
Student-t interval of the mean over seeds (rsebench.stats.seed_summary). Records whose settings must not be
compared (another STS text variant, a reduced transfer protocol, another victim kind or example
set) go to separate tables, and each such table says so in its notes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from dataclasses import dataclass, field

from rsebench.report.collect import INTERVAL_METHODS, Collection, Method, interval_of, method_of, seed_of, within_range
from rsebench.stats import seed_summary
from rsebench.registry import recipe_label, recipes

STS_COLUMNS = (("sts12", "STS12"), ("sts13", "STS13"), ("sts14", "STS14"), ("sts15", "STS15"), ("sts16", "STS16"),
               ("stsb", "STS-B"), ("sick", "SICK-R"))
TRANSFER_COLUMNS = (("mr", "MR"), ("cr", "CR"), ("subj", "SUBJ"), ("mpqa", "MPQA"), ("sst2", "SST2"), ("trec", "TREC"),
                    ("mrpc", "MRPC"))


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    direction: int  # +1: higher is better, -1: lower is better, 0: no "best" (e.g. query counts)
    scale: float = 100.0
    decimals: int = 2
    metric: str = ""

    @property
    def arrow(self) -> str:
        return {1: "↑", -1: "↓"}.get(self.direction, "")

    def format(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return f"{value * self.scale:.{self.decimals}f}"

    def format_interval(self, interval: tuple[float, float] | None) -> str:
        """'lo, hi' with one decimal fewer than the value (an interval's ends are less certain than its centre)."""
        if interval is None:
            return ""
        interval = within_range(interval, self.metric)
        decimals = max(self.decimals - 1, 0)
        return f"{interval[0] * self.scale:.{decimals}f}, {interval[1] * self.scale:.{decimals}f}"

    @property
    def interval_method(self) -> str:
        """How one record's interval of this column is computed ('' when records carry none)."""
        return INTERVAL_METHODS.get(self.metric, "") if self.key != "avg" else ""


@dataclass
class Cell:
    values: list[float]  # one raw value (fraction) per seed, in seed order
    intervals: list[tuple[float, float] | None] = field(default_factory=list)  # each seed's record interval (95%)
    mark: str = ""  # "†": differs from the reference model (paired test, Holm-corrected; see the table notes)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float | None:
        """Sample standard deviation over seeds (None for a single seed)."""
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """95% interval: the record's own for one seed; the t-interval of the mean over several seeds."""
        if self.n == 1:
            return self.intervals[0] if self.intervals else None
        return seed_summary(self.values).interval

    def interval_method(self, column: Column) -> str:
        if self.interval is None:
            return ""
        return column.interval_method if self.n == 1 else f"t over {self.n} seeds"


@dataclass
class Row:
    label: str
    method: str
    cells: dict[str, Cell]
    reported: dict | None = None  # a published number: {"source": ..., "backbone": ...}

    @property
    def n_label(self) -> str:
        counts = sorted({cell.n for cell in self.cells.values()})
        if not counts:
            return ""
        return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


@dataclass
class Block:
    title: str | None
    rows: list[Row]
    attack: dict = field(default_factory=dict)  # robustness blocks: recipe, norm, eps
    records: dict[str, dict[tuple, dict]] = field(default_factory=dict)  # robustness blocks: method key -> seed -> record
    # STS / transfer blocks: method key -> seed -> task -> record (the quality comparisons read them)
    task_records: dict[str, dict[tuple, dict[str, dict]]] = field(default_factory=dict)

    def best(self, column: Column) -> set[int]:
        """Indexes of the reproduced rows whose *displayed* value is best (ties all win); none if < 2 compete."""
        if column.direction == 0:
            return set()
        shown = {i: float(column.format(row.cells[column.key].mean)) for i, row in enumerate(self.rows)
                 if row.reported is None and column.key in row.cells}
        if len(shown) < 2:
            return set()
        target = max(shown.values()) if column.direction > 0 else min(shown.values())
        winners = {i for i, value in shown.items() if value == target}
        return winners if len(winners) < len(shown) else set()  # all equal: nothing stands out


@dataclass
class Table:
    name: str  # file stem: sts, transfer, robustness_mr_probe, ...
    kind: str
    title: str
    setting: dict
    columns: list[Column]
    blocks: list[Block]
    notes: list[str] = field(default_factory=list)
    n_records: int = 0

    @property
    def records_text(self) -> str:
        return f"{self.n_records} record{'s' if self.n_records != 1 else ''}"


def interval_legend(table: Table) -> str:
    """What a cell shows, for the table's header line."""
    source = {"sts": "bootstrap over sentence pairs", "transfer": "Wilson over scored examples",
              "attack": "Wilson; attack success over non-skipped examples",
              "leaderboard": "Wilson (STS avg.: none)"}.get(table.kind, "")
    one = f"[95% interval, {source}]" if source else "[95% interval]"
    return f"one seed: value {one}; several seeds: mean ± sample std [95% t-interval over seeds]"


# ---------------------------------------------------------------------------------------------
# Grouping helpers


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _setting_text(setting: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items())


Value = tuple  # (raw value, its record's 95% interval or None)


def _members(records: list[dict], value) -> tuple[dict[Method, dict[tuple, dict[str, Value]]], list[str]]:
    """method -> seed -> column key -> (raw value, interval); duplicates (same method, seed and column) keep the first file."""
    table: dict[Method, dict[tuple, dict[str, Value]]] = {}
    duplicates = []
    for record in sorted(records, key=lambda r: r["_path"]):
        key, number, interval = value(record)
        seeds = table.setdefault(method_of(record), {})
        cells = seeds.setdefault(seed_of(record), {})
        if key in cells:
            duplicates.append(f"{record['_path']}: duplicate of an earlier record for the same model, seed and column; ignored")
            continue
        cells[key] = (float(number), interval)
    return table, duplicates


def _rows(members: dict[Method, dict[tuple, dict[str, Value]]], columns: list[Column], average: Column | None) -> list[Row]:
    rows = []
    for method in sorted(members):
        seeds = members[method]
        cells = {}
        for column in columns:
            pairs = [seeds[s][column.key] for s in sorted(seeds) if column.key in seeds[s]]
            if pairs:
                cells[column.key] = Cell([p[0] for p in pairs], [p[1] for p in pairs])
        if average is not None:
            keys = [c.key for c in columns]
            per_seed = [statistics.fmean(seeds[s][k][0] for k in keys) for s in sorted(seeds) if all(k in seeds[s] for k in keys)]
            if per_seed:  # the average is over seeds that have every column (else it would mix task sets)
                cells[average.key] = Cell(per_seed, [None] * len(per_seed))  # one seed: no interval (tasks are not one sample)
        rows.append(Row(method.label, method.key, cells))
    return rows


def _split_note(kind: str, groups: dict[str, dict]) -> list[str]:
    if len(groups) < 2:
        return []
    listed = "; ".join(f"{name} ({_setting_text(setting)})" for name, setting in sorted(groups.items()))
    return [f"{kind} records use settings that must not share a table; rendered apart: {listed}"]


# ---------------------------------------------------------------------------------------------
# Task-grid tables (STS, transfer): one row per method, one column per task, plus the average


def _task_grid_tables(records: list[dict], kind: str, label: str, title: str, task_columns: list[tuple[str, str]],
                      metric: str, setting_of, standard: dict) -> list[Table]:
    """Group records by setting (a non-standard setting gets its own table) and lay out task columns."""
    groups: dict[str, list[dict]] = {}
    settings: dict[str, dict] = {}
    for record in records:
        setting = setting_of(record)
        name = kind if setting == standard else f"{kind}_" + _slug("_".join(str(v) for v in setting.values()))
        groups.setdefault(name, []).append(record)
        settings[name] = setting
    known_tasks = dict(task_columns)
    columns = [Column(key, column_label, 1, metric=metric) for key, column_label in task_columns]
    average = Column("avg", "Avg.", 1, metric=metric)
    split_notes = _split_note(label, settings)
    tables = []
    for name in sorted(groups):
        known = [r for r in groups[name] if r["task"]["name"] in known_tasks]
        members, notes = _members(known, lambda r: (r["task"]["name"], r["metrics"][metric], interval_of(r, metric)))
        extra = sorted({r["task"]["name"] for r in groups[name]} - known_tasks.keys())
        if extra:
            notes.append(f"{label} tasks outside the standard seven are not shown: {', '.join(extra)}")
        rows = _rows(members, columns, average)
        if any(cell.n == 1 and cell.interval is None for row in rows for key, cell in row.cells.items() if key != average.key):
            notes.append(f"{label} values without an interval come from records written before rsebench stored intervals "
                         f"({'their sentence pairs were not kept, so no bootstrap' if kind == 'sts' else 'no counts to recompute one'}); "
                         "re-run 'rsebench eval' to get them")
        task_records: dict[str, dict[tuple, dict[str, dict]]] = {}
        for record in sorted(known, key=lambda r: r["_path"]):  # the first file wins, as in `_members`
            task_records.setdefault(method_of(record).key, {}).setdefault(seed_of(record), {}).setdefault(record["task"]["name"], record)
        block = Block(None, rows, task_records=task_records)
        tables.append(Table(name, kind, title, settings[name], columns + [average], [block], split_notes + notes, len(known)))
    return tables


def _sts_setting(record: dict) -> dict:
    setting = {"variant": record["task"].get("variant") or record["settings"].get("variant") or "original"}
    if record["task"].get("split", "test") != "test":
        setting["split"] = record["task"]["split"]
    return setting


def sts_tables(records: list[dict]) -> list[Table]:
    return _task_grid_tables(records, "sts", "STS", "STS: Spearman correlation of cosine similarities (×100)", STS_COLUMNS,
                             "spearman_cosine", _sts_setting, {"variant": "original"})


def _transfer_setting(record: dict) -> dict:
    s = record["settings"]
    standard_folds = s.get("outer_folds") in (None, 10) and s.get("inner_folds") in (None, 5)
    return {"protocol": "SentEval" if standard_folds else "reduced folds",
            "data": "full" if s.get("max_examples") is None else f"at most {s['max_examples']} per split"}


def transfer_tables(records: list[dict]) -> list[Table]:
    return _task_grid_tables(records, "transfer", "Transfer", "Transfer tasks: logistic-regression accuracy on frozen embeddings (×100)",
                             TRANSFER_COLUMNS, "accuracy", _transfer_setting, {"protocol": "SentEval", "data": "full"})


# ---------------------------------------------------------------------------------------------
# Robustness


ROBUSTNESS_COLUMNS = [
    Column("original_accuracy", "Clean acc.", 1, metric="original_accuracy"),
    Column("accuracy_under_attack", "Acc. under attack", 1, metric="accuracy_under_attack"),
    Column("attack_success_rate", "Attack success", -1, metric="attack_success_rate"),
    Column("avg_perturbed_word_fraction", "Perturbed words", -1, metric="avg_perturbed_word_fraction"),
    Column("avg_queries", "Queries", 0, scale=1.0, decimals=1, metric="avg_queries"),
]


def _attack_setting(record: dict) -> dict:
    ids = record.get("example_ids")
    examples = len(ids) if isinstance(ids, list) else record["task"].get("n")
    setting = {"dataset": record["task"]["name"], "split": record["task"].get("split"), "victim": record["task"].get("victim"),
               "examples": examples}
    if isinstance(ids, list):
        setting["example_set"] = hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:8]
    victim = {k: v for k, v in (record["settings"].get("victim") or {}).items() if k != "seed"}
    if victim:
        setting["victim_settings"] = hashlib.sha256(json.dumps(victim, sort_keys=True).encode()).hexdigest()[:8]
    return setting


def attack_info(record: dict) -> dict:
    """recipe, norm, eps and a display label of an attack record."""
    task = record["task"]
    return {"attack": task["attack"], "recipe": task["recipe"], "norm": task.get("norm"), "eps": task.get("eps"),
            "label": recipe_label(task["variant"])}


def attack_text(info: dict) -> str:
    """Display name of an attack: 'DeepWordBug', 'PGD (L∞, ε=0.01)'."""
    if info.get("eps") is None:
        return info["label"]
    norm = {"linf": "L∞", "l2": "L2"}.get(info.get("norm"), info.get("norm") or "")
    return f"{info['label']} ({norm}, ε={info['eps']:g})"


def _attack_order(info: dict) -> tuple:
    embedding = info["recipe"] in recipes() and recipes()[info["recipe"]].kind == "embedding"
    return (embedding, info["label"].lower(), info["norm"] or "", info["eps"] if info["eps"] is not None else -1.0, info["attack"])


def robustness_tables(records: list[dict]) -> list[Table]:
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        setting = _attack_setting(record)
        groups.setdefault(tuple(setting.items()), []).append(record)
    by_dataset_victim: dict[tuple, list[tuple]] = {}
    for key in groups:
        setting = dict(key)
        by_dataset_victim.setdefault((setting["dataset"], setting["victim"]), []).append(key)
    tables = []
    for (dataset, victim), keys in sorted(by_dataset_victim.items(), key=lambda item: (str(item[0][0]), str(item[0][1]))):
        keys = sorted(keys, key=lambda k: json.dumps(k, default=str))
        names = {}
        for key in keys:
            setting = dict(key)
            name = f"robustness_{_slug(str(dataset))}_{_slug(str(victim))}"
            if len(keys) > 1:
                name += f"_n{setting['examples']}" + (f"_{setting.get('example_set', '')}" if sum(
                    dict(k)["examples"] == setting["examples"] for k in keys) > 1 else "")
            names[key] = name
        split_notes = _split_note(f"Robustness ({dataset}, {victim} victim)", {names[k]: dict(k) for k in keys})
        for key in keys:
            group = groups[key]
            attacks: dict[str, dict] = {}
            for record in group:
                info = attack_info(record)
                attacks.setdefault(info["attack"], info)
            blocks = []
            notes = []
            for info in sorted(attacks.values(), key=_attack_order):
                chosen = [r for r in group if r["task"]["attack"] == info["attack"]]
                members, duplicates, by_method = _members_multi(chosen)
                notes.extend(duplicates)
                blocks.append(Block(info["label"], _rows(members, ROBUSTNESS_COLUMNS, None), attack=info, records=by_method))
            setting = dict(key)
            title = f"Robustness on {dataset} ({victim} victim, {setting['examples']} attacked examples; ×100 except queries)"
            tables.append(Table(names[key], "attack", title, setting, list(ROBUSTNESS_COLUMNS), blocks,
                                split_notes + notes, len(group)))
    return tables


def _members_multi(records: list[dict]):
    """Like `_members`, for records carrying several columns (the attack metrics); also the records
    themselves (method key -> seed -> record), which the paired comparisons read."""
    table: dict[Method, dict[tuple, dict[str, Value]]] = {}
    by_method: dict[str, dict[tuple, dict]] = {}
    duplicates = []
    for record in sorted(records, key=lambda r: r["_path"]):
        method = method_of(record)
        seeds = table.setdefault(method, {})
        seed = seed_of(record)
        if seed in seeds:
            duplicates.append(f"{record['_path']}: duplicate of an earlier record for the same model, seed and attack; ignored")
            continue
        seeds[seed] = {c.key: (float(record["metrics"][c.metric]), interval_of(record, c.metric)) for c in ROBUSTNESS_COLUMNS
                       if isinstance(record["metrics"].get(c.metric), (int, float))}
        by_method.setdefault(method.key, {})[seed] = record
    return table, duplicates, by_method


# ---------------------------------------------------------------------------------------------


def build_tables(collection: Collection) -> list[Table]:
    """Every table the records support, in a fixed order (STS, transfer, robustness). Published numbers
    are added afterwards by `rsebench.report.reported.add_reported` (which builds on these types)."""
    by_kind: dict[str, list[dict]] = {"sts": [], "transfer": [], "attack": []}
    for record in collection.records:
        by_kind[record["kind"]].append(record)
    tables = []
    if by_kind["sts"]:
        tables.extend(sts_tables(by_kind["sts"]))
    if by_kind["transfer"]:
        tables.extend(transfer_tables(by_kind["transfer"]))
    if by_kind["attack"]:
        tables.extend(robustness_tables(by_kind["attack"]))
    return tables
