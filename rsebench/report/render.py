"""`render_report`: records -> tables (LaTeX, Markdown, CSV) and plots, the function behind `rsebench report`.

Output goes to `<results-dir>/tables/<table>.<ext>` (one file per table and format) and
`<results-dir>/plots/`; `out="-"` prints to stdout instead, and an `out` ending in the format's
extension collects every table in that one file. Everything is rendered before anything is
written, and each file is replaced atomically, so an error never leaves half a report. The same
records give byte-identical files: no timestamps, stable sorting.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rsebench.errors import UserError
from rsebench.report import render_csv, render_latex, render_markdown
from rsebench.report.collect import collect
from rsebench.report.reported import default_path, load_reported
from rsebench.report.tables import Table, build_tables
from rsebench.records import write_text_atomic

FORMATS = {"latex": (".tex", render_latex), "markdown": (".md", render_markdown), "csv": (".csv", render_csv)}


def render_texts(tables: list[Table], fmt: str) -> dict[str, str]:
    """File name -> content, one file per table."""
    extension, module = FORMATS[fmt]
    return {f"{table.name}{extension}": module.render(table) for table in tables}


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text, fix="choose another location with --out")


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output folder {folder} is a file; give a folder (or a file ending in the format's extension) with --out")


def render_report(results_dir: str | Path = "results", formats=("latex", "markdown", "csv"), out: str | Path | None = None,
                  plots: bool = False, plots_dir: str | Path | None = None, reported: str | Path | None = "default",
                  echo=None) -> list[Path]:
    """Render every table (and, with `plots`, the figures); returns the files written.

    `reported`: "default" reads baselines/reported.toml when present, None leaves published numbers out.
    `echo(line)` receives notes (skipped records, settings rendered apart); stderr by default.
    """
    if echo is None:
        from rsebench.progress import say as echo
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UserError(f"unknown format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    collection = collect(results_dir)
    for line in collection.skipped:
        echo(f"skipped {line}")
    entries = load_reported(default_path() if reported == "default" else reported)
    tables = build_tables(collection, entries)
    for note in dict.fromkeys(n for t in tables for n in t.notes if "rendered apart" in n or "duplicate" in n):
        echo(f"note: {note}")
    texts = {fmt: render_texts(tables, fmt) for fmt in formats}
    written: list[Path] = []
    if out is not None and str(out) == "-":
        if len(formats) != 1:
            raise UserError("--out - prints one format; choose it with --format latex, markdown or csv")
        module = FORMATS[formats[0]][1]
        sys.stdout.write(module.render_all(tables))
        sys.stdout.flush()
    elif out is not None and len(formats) == 1 and Path(out).suffix == FORMATS[formats[0]][0]:
        _check_folder(Path(out).parent)
        _write_text(Path(out), FORMATS[formats[0]][1].render_all(tables))
        written.append(Path(out))
    else:
        folder = Path(out) if out is not None else Path(results_dir) / "tables"
        if folder.suffix in {".tex", ".md", ".csv"} and not folder.is_dir():
            raise UserError(f"--out {folder} names a {folder.suffix} file but --format gives {', '.join(formats)}; "
                            "pass one matching --format, or a folder")
        _check_folder(folder)
        for fmt in formats:
            for name, text in texts[fmt].items():
                _write_text(folder / name, text)
                written.append(folder / name)
    if plots:
        from rsebench.report.plots import make_plots

        target = Path(plots_dir) if plots_dir is not None else Path(results_dir) / "plots"
        _check_folder(target)
        try:
            written += make_plots(tables, target)
        except OSError as err:
            raise UserError(f"cannot write plots to {target}: {err.strerror or err}; choose another folder with --plots-dir") from None
    return written
