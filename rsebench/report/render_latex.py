"""LaTeX: bare booktabs `tabular` fragments for `\\input` (needs `\\usepackage{booktabs}`), no vertical rules."""

from __future__ import annotations

from rsebench.report.tables import Block, Column, Row, Table, interval_legend

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--", "×": r"$\times$", "±": r"$\pm$",
            "ε": r"$\epsilon$", "∞": r"$\infty$", "Δ": r"$\Delta$", "†": r"$^\dagger$", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
            "−": "--"}
NORMS = {"linf": r"$L_\infty$", "l2": r"$L_2$"}


def escape(text: str) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _header(column: Column) -> str:
    arrow = {1: r" $\uparrow$", -1: r" $\downarrow$"}.get(column.direction, "") if column.metric not in ("spearman_cosine", "accuracy") else ""
    return escape(column.label) + arrow


def _cell(row: Row, column: Column, bold: bool) -> str:
    cell = row.cells.get(column.key)
    if cell is None:
        return "--"
    text = column.format(cell.mean)
    if bold:
        text = rf"\textbf{{{text}}}"
    if cell.mark:
        text += r"$^\dagger$"
    if cell.std is not None:
        text += rf"{{\scriptsize\,$\pm${column.format(cell.std)}}}"
    if cell.interval is not None:
        text += rf"{{\scriptsize\,[{column.format_interval(cell.interval)}]}}"
    return text


def block_title(block: Block) -> str:
    info = block.attack
    if not info:
        return escape(block.title or "")
    if info.get("eps") is None:
        return escape(info["label"])
    return rf"{escape(info['label'])} ({NORMS.get(info.get('norm'), escape(info.get('norm') or ''))}, $\epsilon={info['eps']:g}$)"


def render(table: Table) -> str:
    attack = table.kind == "attack"
    lead = ["Attack", "Method", "$n$"] if attack else ["Method", "$n$"]
    spec = ("ll" if attack else "l") + "c" + "r" * len(table.columns)
    lines = [f"% rsebench report: {table.name} -- {escape(table.title)}",
             f"% setting: {', '.join(f'{k}={v}' for k, v in table.setting.items())}; {table.records_text}",
             f"% {escape(interval_legend(table))}; n = seeds per method; bold = best reproduced value per column",
             "% (direction as marked); requires \\usepackage{booktabs}"]
    lines += [f"% note: {note}" for note in table.notes]
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(lead + [_header(c) for c in table.columns]) + r" \\", r"\midrule"]
    for number, block in enumerate(table.blocks):
        if number:
            lines.append(r"\midrule")
        best = {c.key: block.best(c) for c in table.columns}
        reproduced = [r for r in block.rows if r.reported is None]
        for index, row in enumerate(block.rows):
            if row.reported is not None and reproduced and index == len(reproduced):
                lines.append(r"\cmidrule(l){" + f"{len(lead) - 1}-{len(lead) + len(table.columns)}" + "}" if attack else r"\midrule")
            first = [block_title(block) if index == 0 else ""] if attack else []
            n = "--" if row.reported is not None else row.n_label
            cells = [_cell(row, c, index in best[c.key]) for c in table.columns]
            lines.append(" & ".join(first + [escape(row.label), n] + cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def render_all(tables: list[Table]) -> str:
    return "\n".join(render(t) for t in tables)
