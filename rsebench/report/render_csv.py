"""Tidy CSV: one row per number, in the records' own units (fractions; queries as counts).

Columns: table, setting, attack, method, source (reproduced or the paper), task (the table's column
for STS / transfer, "avg" for the average; the dataset for robustness), metric, mean, std (sample, over seeds; empty for one seed), n, values (every seed's value, ';'-joined),
best (1 where the table shows it in bold), ci_low / ci_high (the 95% interval the table prints:
the record's own for one seed, the t-interval over seeds otherwise; empty when none), ci_method
(Wilson, bootstrap over pairs, or "t over n seeds"), significant (1 where the table marks a
difference from the reference model with a dagger).
"""

from __future__ import annotations

import csv
import io

from rsebench.report.collect import within_range
from rsebench.report.tables import Table

HEADER = ("table", "setting", "attack", "method", "source", "task", "metric", "mean", "std", "n", "values", "best", "ci_low",
          "ci_high", "ci_method", "significant")


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def rows(table: Table) -> list[tuple]:
    setting = ";".join(f"{k}={v}" for k, v in table.setting.items())
    out = []
    for block in table.blocks:
        best = {c.key: block.best(c) for c in table.columns}
        attack = block.attack.get("attack", "") if block.attack else ""
        for index, row in enumerate(block.rows):
            source = "reproduced" if row.reported is None else f"reported: {row.reported['source']}"
            for column in table.columns:
                cell = row.cells.get(column.key)
                if cell is None:
                    continue
                task = table.setting.get("dataset", "") if table.kind == "attack" else column.key
                interval = within_range(cell.interval, column.metric)
                out.append((table.name, setting, attack, row.label, source, task, column.metric, _number(cell.mean),
                            _number(cell.std), cell.n, ";".join(_number(v) for v in cell.values), int(index in best[column.key]),
                            _number(interval[0] if interval else None), _number(interval[1] if interval else None),
                            cell.interval_method(column), int(bool(cell.mark))))
    return out


def render_all(tables: list[Table]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for table in tables:
        writer.writerows(rows(table))
    return buffer.getvalue()


def render(table: Table) -> str:
    return render_all([table])
