"""Markdown (GitHub-flavoured tables): one section per table, with its setting and notes."""

from __future__ import annotations

from rsebench.report.tables import Block, Column, Row, Table, interval_legend

NORMS = {"linf": "L∞", "l2": "L2"}


def escape(text: str) -> str:
    out = str(text)
    for ch in ("\\", "|", "*", "_", "`", "<", ">"):
        out = out.replace(ch, "\\" + ch)
    return out


def _cell(row: Row, column: Column, bold: bool) -> str:
    cell = row.cells.get(column.key)
    if cell is None:
        return "–"
    text = column.format(cell.mean)
    if bold:
        text = f"**{text}**"
    text += cell.mark
    if cell.std is not None:
        text += f" ± {column.format(cell.std)}"
    if cell.interval is not None:
        text += f" [{column.format_interval(cell.interval)}]"
    return text


def block_title(block: Block) -> str:
    info = block.attack
    if not info or info.get("eps") is None:
        return escape(block.title or "")
    return f"{escape(info['label'])} ({NORMS.get(info.get('norm'), escape(info.get('norm') or ''))}, ε={info['eps']:g})"


def render(table: Table) -> str:
    attack = table.kind == "attack"
    lead = ["Attack", "Method", "n"] if attack else ["Method", "n"]
    headers = lead + [f"{c.label} {c.arrow}".strip() if table.kind in ("attack", "leaderboard") else c.label for c in table.columns]
    align = [":--"] * (len(lead) - 1) + ["--:"] * (1 + len(table.columns))
    setting = ", ".join(f"{k}={v}" for k, v in table.setting.items())
    lines = [f"### {escape(table.title)}", "",
             f"`{table.name}` · setting: {escape(setting)} · {table.records_text} · {escape(interval_legend(table))} "
             "· **bold** = best reproduced value per column", "",
             "| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    for block in table.blocks:
        best = {c.key: block.best(c) for c in table.columns}
        for index, row in enumerate(block.rows):
            first = [block_title(block) if index == 0 else ""] if attack else []
            label = escape(row.label) if row.reported is None else f"*{escape(row.label)}*"
            n = "–" if row.reported is not None else row.n_label
            lines.append("| " + " | ".join(first + [label, n] + [_cell(row, c, index in best[c.key]) for c in table.columns]) + " |")
    if table.notes:
        lines += ["", "Notes:", ""] + [f"- {escape(note)}" for note in table.notes]
    lines.append("")
    return "\n".join(lines)


def render_all(tables: list[Table]) -> str:
    return "\n".join(render(t) for t in tables)
