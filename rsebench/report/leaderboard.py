"""Robustness leaderboard: one row per model attacked on the same (dataset, victim, example set).

Built from a robustness table that has at least two models (plus the STS table for quality):

- STS avg.: the model's average Spearman over the seven STS tasks (standard setting), when it has all;
- Clean acc.: the victim's clean accuracy (on its `clean_accuracy_examples`, Wilson interval);
- ASR per attack of the table, with the record's interval (several seeds: t-interval);
- Acc. under attack: the worst case over the word/character attacks of the table (over all its
  attacks when it has none): the fraction of attacked examples that survived *every* such attack
  (outcome "failed" in each record), with a Wilson interval. Records without per-example outcomes
  (older records) fall back to the lowest accuracy under attack over those attacks (an upper bound of
  the per-example worst case); the table notes say which one a leaderboard uses.

Rows are sorted by accuracy under attack (higher first), then by mean ASR over the attacks (lower
first), then by name. It is an ordinary `Table` (kind "leaderboard"), so every renderer prints it.
"""

from __future__ import annotations

import statistics

from rsebench.report.collect import interval_of
from rsebench.registry import recipes
from rsebench.report.tables import Block, Cell, Column, Row, Table
from rsebench.report.tables import attack_text as _attack_label
from rsebench.stats import wilson_interval


def _embedding(info: dict) -> bool:
    """An embedding-space attack (FGSM/PGD with a budget) rather than a word/character one."""
    recipe = recipes().get(info.get("recipe"))
    return info.get("eps") is not None or (recipe is not None and recipe.kind == "embedding")


def _worst_case(records: list[dict]) -> tuple[float, tuple[float, float] | None, bool] | None:
    """(value, interval, per_example) of one seed's accuracy under the worst of `records`' attacks."""
    outcomes = [r.get("outcomes") for r in records]
    ids = [r.get("example_ids") for r in records]
    if all(isinstance(o, list) for o in outcomes) and all(i == ids[0] for i in ids) and ids[0] \
            and all(len(o) == len(ids[0]) for o in outcomes):
        survived = sum(all(o[i] == "failed" for o in outcomes) for i in range(len(ids[0])))
        return survived / len(ids[0]), wilson_interval(survived, len(ids[0])), True
    values = [(r["metrics"]["accuracy_under_attack"], interval_of(r, "accuracy_under_attack")) for r in records]
    if not values:
        return None
    value, interval = min(values, key=lambda v: v[0])
    return value, interval, False


def _seeds(table: Table, method: str) -> list[tuple]:
    return sorted({seed for block in table.blocks for seed in block.records.get(method, {})})


def build_leaderboard(table: Table, sts: Table | None, name: str) -> Table | None:
    methods = {}
    for block in table.blocks:
        for row in block.rows:
            if row.reported is None:
                methods.setdefault(row.method, row.label)
    if len(methods) < 2:
        return None
    text_blocks = [b for b in table.blocks if not _embedding(b.attack)]
    worst_blocks = text_blocks or table.blocks
    columns = [Column("sts_avg", "STS avg.", 1, metric="spearman_cosine"),
               Column("victim_clean_accuracy", "Clean acc.", 1, metric="victim_clean_accuracy")]
    columns += [Column(f"asr:{b.attack['attack']}", f"ASR {_attack_label(b.attack)}", -1, metric="attack_success_rate")
                for b in table.blocks]
    columns.append(Column("robust_accuracy", "Acc. under attack", 1, metric="accuracy_under_attack"))
    sts_rows = {r.method: r for r in (sts.blocks[0].rows if sts is not None else []) if r.reported is None}
    rows, per_example = [], []
    for method, label in methods.items():
        cells: dict[str, Cell] = {}
        if method in sts_rows and "avg" in sts_rows[method].cells:
            cells["sts_avg"] = sts_rows[method].cells["avg"]
        clean, worst = [], []
        for seed in _seeds(table, method):
            records = [b.records[method][seed] for b in table.blocks if seed in b.records.get(method, {})]
            first = records[0]
            if isinstance(first["metrics"].get("victim_clean_accuracy"), (int, float)):
                clean.append((float(first["metrics"]["victim_clean_accuracy"]), interval_of(first, "victim_clean_accuracy")))
            chosen = [b.records[method][seed] for b in worst_blocks if seed in b.records.get(method, {})]
            if len(chosen) == len(worst_blocks):  # the worst case needs every attack it is taken over
                found = _worst_case(chosen)
                if found is not None:
                    worst.append(found[:2])
                    per_example.append(found[2])
        if clean:
            cells["victim_clean_accuracy"] = Cell([c[0] for c in clean], [c[1] for c in clean])
        if worst:
            cells["robust_accuracy"] = Cell([w[0] for w in worst], [w[1] for w in worst])
        for block in table.blocks:
            row = next((r for r in block.rows if r.method == method and r.reported is None), None)
            if row is not None and "attack_success_rate" in row.cells:
                cells[f"asr:{block.attack['attack']}"] = row.cells["attack_success_rate"]
        rows.append(Row(label, method, cells))

    def rank(row: Row) -> tuple:
        robust = row.cells.get("robust_accuracy")
        asr = [c.mean for k, c in row.cells.items() if k.startswith("asr:")]
        return (-(robust.mean if robust else -1.0), statistics.fmean(asr) if asr else 2.0, row.label.lower())

    rows.sort(key=rank)
    over = "word/character attacks" if text_blocks else "attacks"
    attacks = ", ".join(_attack_label(b.attack) for b in worst_blocks)
    if per_example and all(per_example):
        how = f"fraction of the attacked examples that survived every one of the {over} ({attacks}), Wilson 95% interval"
    else:
        how = (f"lowest accuracy under attack over the {over} ({attacks}); some records lack per-example outcomes, so this is "
               "an upper bound of the per-example worst case")
    notes = [f"sorted by accuracy under attack (higher first), then mean attack success rate over the attacks (lower first)",
             f"Acc. under attack: {how}",
             "Clean acc.: the victim's accuracy on its clean evaluation examples (Wilson 95% interval); STS avg.: mean "
             "Spearman over the seven STS tasks (shown only when the model has all seven)",
             f"from table {table.name}: {', '.join(f'{k}={v}' for k, v in table.setting.items())}"]
    dataset, victim = table.setting.get("dataset"), table.setting.get("victim")
    title = f"Robustness leaderboard on {dataset} ({victim} victim, {table.setting.get('examples')} attacked examples; ×100)"
    return Table(name, "leaderboard", title, dict(table.setting), columns, [Block(None, rows)], notes, table.n_records)


def leaderboard_tables(tables: list[Table]) -> list[Table]:
    """One leaderboard per robustness table with at least two models ('leaderboard' when there is one)."""
    sts = next((t for t in tables if t.name == "sts"), None)
    candidates = [t for t in tables if t.kind == "attack"
                  and len({r.method for b in t.blocks for r in b.rows if r.reported is None}) >= 2]
    out = []
    for table in candidates:
        name = "leaderboard" if len(candidates) == 1 else "leaderboard_" + table.name.removeprefix("robustness_")
        board = build_leaderboard(table, sts, name)
        if board is not None:
            out.append(board)
    return out
