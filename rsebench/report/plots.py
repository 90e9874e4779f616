"""Figures from the same tables the report prints (matplotlib, Agg backend), as PNG and PDF.

- `asr_vs_eps_<dataset>_<victim>`: attack success rate against the budget ε of the embedding-space
  attacks (FGSM, PGD), one line per method, one panel per attack and norm.
- `sts_vs_asr_<dataset>_<victim>`: clean STS quality (average Spearman) against attack success
  rate, one panel per attack, one point per model, with dashed lines through the SimCSE baseline:
  the robustness/quality trade-off at a glance (better on both axes = lower right of them).
- `leaderboard[_<dataset>_<victim>]`: each model's attack success rate per attack, models in
  leaderboard order.

Error bars are the tables' 95% intervals: a single seed's record interval (Wilson for ASR), the
t-interval of the mean over several seeds; none where a cell has no interval.

Files are reproducible byte for byte (no creation date; fixed hash salt; same matplotlib version).
"""

from __future__ import annotations

from pathlib import Path

from rsebench.registry import recipes
from rsebench.report.collect import within_range
from rsebench.report.tables import Table

SAVE_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}}
STYLE = {"svg.hashsalt": "rsebench", "figure.dpi": 100, "savefig.dpi": 150, "font.size": 9, "axes.grid": True,
         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, stem: Path) -> list[Path]:
    paths = []
    for extension in ("png", "pdf"):
        path = stem.with_suffix(f".{extension}")
        fig.savefig(path, format=extension, metadata=SAVE_METADATA[extension], bbox_inches="tight")
        paths.append(path)
    return paths


def attack_label(info: dict) -> str:
    if info.get("eps") is None:
        return info.get("label", "")
    norm = "L∞" if info.get("norm") == "linf" else str(info.get("norm") or "").upper()
    return f"{info['label']} ({norm}, ε={info['eps']:g})"


def _suffix(table: Table) -> str:
    return table.name.removeprefix("robustness_")


def _error(cell, metric: str = "attack_success_rate") -> tuple[float, float]:
    """(below, above) the mean: the cell's 95% interval, cut to the metric's range, as error-bar lengths
    (0, 0 when it has none)."""
    interval = within_range(cell.interval, metric)
    if interval is None:
        return 0.0, 0.0
    return max(cell.mean - interval[0], 0.0), max(interval[1] - cell.mean, 0.0)


def asr_vs_eps_series(table: Table) -> dict[tuple[str, str], dict[str, list[tuple[float, float, float, float]]]]:
    """(attack label, norm) -> method label -> [(eps, mean ASR, error below, error above)], reproduced rows only."""
    panels: dict[tuple[str, str], dict[str, list]] = {}
    for block in table.blocks:
        info = block.attack
        if info.get("recipe") not in recipes() or recipes()[info["recipe"]].kind != "embedding" or info.get("eps") is None:
            continue
        for row in block.rows:
            cell = row.cells.get("attack_success_rate")
            if row.reported is None and cell is not None:
                panels.setdefault((info["label"], info.get("norm") or ""), {}).setdefault(row.label, []).append(
                    (float(info["eps"]), cell.mean, *_error(cell)))
    for methods in panels.values():
        for points in methods.values():
            points.sort()
    return panels


def plot_asr_vs_eps(table: Table, out_dir: Path) -> list[Path]:
    panels = asr_vs_eps_series(table)
    if not panels:
        return []
    plt = _pyplot()
    with plt.rc_context(STYLE):
        keys = sorted(panels)
        fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.2), squeeze=False, sharey=True, layout="constrained")
        for ax, key in zip(axes[0], keys):
            for method in sorted(panels[key]):
                points = panels[key][method]
                ax.errorbar([p[0] for p in points], [100 * p[1] for p in points],
                            yerr=[[100 * p[2] for p in points], [100 * p[3] for p in points]],
                            marker="o", markersize=4, capsize=3, label=method)
            label, norm = key
            ax.set_title(f"{label} ({'L∞' if norm == 'linf' else norm.upper()})")
            ax.set_xlabel("ε (budget on word embeddings)")
            ax.set_ylim(-2, 102)
        axes[0][0].set_ylabel("attack success rate (%) ↓")
        axes[0][-1].legend(frameon=False, fontsize=8)
        fig.suptitle(f"{table.setting['dataset']}, {table.setting['victim']} victim, {table.setting['examples']} examples", fontsize=9)
        paths = _save(fig, out_dir / f"asr_vs_eps_{_suffix(table)}")
        plt.close(fig)
    return paths


def sts_scores(sts: Table | None) -> tuple[dict[str, tuple[float, float, float]], str]:
    """Method key -> (average STS Spearman, error below, error above), and the axis label saying what the
    average covers. The error bars are the 95% interval of the cell when one cell gives the value (the
    7-task average over several seeds: its t-interval); a mean over some tasks has none."""
    if sts is None:
        return {}, ""
    rows = [r for r in sts.blocks[0].rows if r.reported is None]
    with_avg = {r.method: (r.cells["avg"].mean, *_error(r.cells["avg"], "spearman_cosine")) for r in rows if "avg" in r.cells}
    if with_avg and len(with_avg) == len(rows):
        return with_avg, "STS average Spearman (×100, 7 tasks) ↑"
    tasks = [c.key for c in sts.columns if c.key != "avg" and rows and all(c.key in r.cells for r in rows)]
    if not tasks:
        return {}, ""
    if len(tasks) == 1:
        return {r.method: (r.cells[tasks[0]].mean, *_error(r.cells[tasks[0]], "spearman_cosine")) for r in rows}, \
            f"STS Spearman (×100, {tasks[0]}) ↑"
    scores = {r.method: (sum(r.cells[t].mean for t in tasks) / len(tasks), 0.0, 0.0) for r in rows}
    return scores, f"STS Spearman (×100, mean of {', '.join(tasks)}) ↑"


MARKERS = "osD^vP*Xph<>d8H"  # 15 distinct shapes; beyond them the shapes repeat hollow


def _marker_style(index: int) -> dict:
    marker = MARKERS[index % len(MARKERS)]
    return {"marker": marker, "hollow": (index // len(MARKERS)) % 2 == 1}


def plot_sts_vs_asr(table: Table, sts: Table | None, out_dir: Path) -> list[Path]:
    """One panel per attack, one point per model: STS (x) against attack success (y), each with its 95%
    interval. Dashed lines through each SimCSE point split a panel into quadrants: a model better on
    both axes than that baseline lies to its lower right."""
    scores, xlabel = sts_scores(sts)
    points = []
    for block in table.blocks:
        for row in block.rows:
            if row.reported is None and row.method in scores and "attack_success_rate" in row.cells:
                cell = row.cells["attack_success_rate"]
                points.append((block.attack.get("attack", block.title), attack_label(block.attack), row.label, scores[row.method],
                               cell.mean, *_error(cell), row.method))
    if not points:
        return []
    plt = _pyplot()
    with plt.rc_context(STYLE):
        attacks = list(dict.fromkeys((p[0], p[1]) for p in points))  # table order
        methods = sorted({p[2] for p in points})
        baselines = {p[2] for p in points if p[7].partition("@")[0] == "simcse"}
        columns = min(3, len(attacks))
        rows = -(-len(attacks) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns + 0.4, 2.7 * rows + 0.5), layout="constrained",
                                 squeeze=False, sharex=True)
        colors = plt.get_cmap("tab10").colors + plt.get_cmap("Dark2").colors  # 18 colours that read on white
        for a_index, (attack, label) in enumerate(attacks):
            ax = axes[a_index // columns][a_index % columns]
            for m_index, method in enumerate(methods):
                chosen = [p for p in points if p[0] == attack and p[2] == method]
                if not chosen:
                    continue
                color, style = colors[m_index % len(colors)], _marker_style(m_index)
                x = [100 * p[3][0] for p in chosen]
                y = [100 * p[4] for p in chosen]
                ax.errorbar(x, y, xerr=[[100 * p[3][1] for p in chosen], [100 * p[3][2] for p in chosen]],
                            yerr=[[100 * p[5] for p in chosen], [100 * p[6] for p in chosen]], linestyle="", color=color,
                            elinewidth=0.8, capsize=2, alpha=0.6)
                ax.scatter(x, y, marker=style["marker"], s=36, zorder=3, linewidth=0.8 if style["hollow"] else 0.4,
                           facecolor="none" if style["hollow"] else color, edgecolor=color if style["hollow"] else "black")
                if method in baselines:
                    ax.axhline(y[0], color=color, linestyle="--", linewidth=0.7, alpha=0.7)
                    ax.axvline(x[0], color=color, linestyle="--", linewidth=0.7, alpha=0.7)
            ax.set_title(label, fontsize=8)
        for extra in range(len(attacks), rows * columns):
            axes[extra // columns][extra % columns].set_visible(False)
        from matplotlib.lines import Line2D

        handles = []
        for i, method in enumerate(methods):
            color, style = colors[i % len(colors)], _marker_style(i)
            handles.append(Line2D([], [], linestyle="", marker=style["marker"], markersize=6, color=color,
                                  markerfacecolor="none" if style["hollow"] else color,
                                  label=method + (" (dashed lines)" if method in baselines else "")))
        # below the panels: long labels never collide with the title, and the panels keep their width
        fig.legend(handles=handles, frameon=False, fontsize=7, loc="outside lower center", ncols=min(3, len(handles)))
        for index in range(len(attacks)):  # x labels under the bottom panels, short; the title says what STS averages
            if index + columns >= len(attacks):  # the lowest panel of its column: its own tick labels and x label
                axes[index // columns][index % columns].xaxis.set_tick_params(labelbottom=True)
                axes[index // columns][index % columns].set_xlabel("STS Spearman ×100 ↑", fontsize=8)
        fig.supylabel("attack success rate (%) ↓", fontsize=8)
        fig.suptitle(f"{table.setting['dataset']}, {table.setting['victim']} victim: quality vs. robustness "
                     f"(better: lower right)\nx: {xlabel.removesuffix(' ↑')}", fontsize=9)
        paths = _save(fig, out_dir / f"sts_vs_asr_{_suffix(table)}")
        plt.close(fig)
    return paths


def plot_leaderboard(table: Table, out_dir: Path) -> list[Path]:
    """ASR per attack (x, with 95% intervals) for each model (y, best-ranked at the top)."""
    rows = [r for r in table.blocks[0].rows if r.reported is None]
    attacks = [c for c in table.columns if c.key.startswith("asr:")]
    if not rows or not attacks:
        return []
    plt = _pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 0.5 + 0.45 * len(rows) * max(1, len(attacks) / 4)), layout="constrained")
        colors = plt.get_cmap("tab10").colors
        markers = "osD^vP*X"
        spread = 0.7 / max(len(attacks), 1)
        for a_index, column in enumerate(attacks):
            xs, ys, below, above = [], [], [], []
            for r_index, row in enumerate(rows):
                cell = row.cells.get(column.key)
                if cell is None:
                    continue
                low, high = _error(cell)
                xs.append(100 * cell.mean)
                ys.append(len(rows) - 1 - r_index + (a_index - (len(attacks) - 1) / 2) * spread)
                below.append(100 * low)
                above.append(100 * high)
            ax.errorbar(xs, ys, xerr=[below, above], linestyle="", marker=markers[a_index % len(markers)], markersize=4,
                        capsize=2, color=colors[a_index % 10], label=column.label.removeprefix("ASR "))
        ax.set_yticks(range(len(rows)), [r.label for r in reversed(rows)])
        ax.set_xlim(-2, 102)
        ax.set_xlabel("attack success rate (%) ↓, 95% intervals")
        ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_title(f"{table.setting['dataset']}, {table.setting['victim']} victim: leaderboard (best at the top)", fontsize=9)
        paths = _save(fig, out_dir / table.name)
        plt.close(fig)
    return paths


def make_plots(tables: list[Table], out_dir: Path) -> list[Path]:
    """Every figure the tables support; returns the written files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sts = next((t for t in tables if t.name == "sts"), next((t for t in tables if t.kind == "sts"), None))
    paths = []
    for table in tables:
        if table.kind == "attack":
            paths += plot_asr_vs_eps(table, out_dir)
            paths += plot_sts_vs_asr(table, sts, out_dir)
        elif table.kind == "leaderboard":
            paths += plot_leaderboard(table, out_dir)
    return paths
