"""`render_report`: records -> tables (LaTeX, Markdown, CSV) and plots, the function behind `rsebench report`.

Besides the STS, transfer and robustness tables it writes `comparisons.*` (paired tests of each
model against the reference model, see `comparisons`) whenever a robustness table has two or more
models, `quality_comparisons.*` (paired STS / transfer differences to the reference model, see
`quality_comparisons`) whenever an STS or transfer table has two or more models, and
`leaderboard.*` (see `leaderboard`) for each robustness table with two or more models.

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
from rsebench.report.comparisons import RENDERERS as COMPARISON_RENDERERS
from rsebench.report.comparisons import Comparisons, compare_with_reference
from rsebench.report.leaderboard import leaderboard_tables
from rsebench.report.quality_comparisons import RENDERERS as QUALITY_RENDERERS
from rsebench.report.quality_comparisons import QualityComparisons, compare_quality
from rsebench.report.reported import default_path, load_reported, with_reported
from rsebench.report.tables import Table, build_tables
from rsebench.records import write_text_atomic

FORMATS = {"latex": (".tex", render_latex), "markdown": (".md", render_markdown), "csv": (".csv", render_csv)}


def render_texts(tables: list[Table], fmt: str, comparisons: Comparisons | None = None,
                 quality: QualityComparisons | None = None) -> dict[str, str]:
    """File name -> content, one file per table (plus comparisons.<ext> / quality_comparisons.<ext> when
    there are such comparisons)."""
    extension, module = FORMATS[fmt]
    texts = {f"{table.name}{extension}": module.render(table) for table in tables}
    if comparisons is not None and not comparisons.empty:
        texts[f"comparisons{extension}"] = COMPARISON_RENDERERS[fmt](comparisons)
    if quality is not None and not quality.empty:
        texts[f"quality_comparisons{extension}"] = QUALITY_RENDERERS[fmt](quality)
    return texts


def _render_all(tables: list[Table], fmt: str, comparisons: Comparisons | None, quality: QualityComparisons | None) -> str:
    text = FORMATS[fmt][1].render_all(tables)
    if comparisons is not None and not comparisons.empty:
        text += "\n" + COMPARISON_RENDERERS[fmt](comparisons)
    if quality is not None and not quality.empty:
        text += "\n" + QUALITY_RENDERERS[fmt](quality)
    return text


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text, fix="choose another location with --out")


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output folder {folder} is a file; give a folder (or a file ending in the format's extension) with --out")


STUDY_LABELS = "study-labels.toml"  # not .json: nothing a record reader could mistake for a record


def study_labels(results_dir: Path) -> tuple[dict[str, str] | None, str | None]:
    """(model key -> label, reference) from the folder's study-labels.toml (written by `rsebench study`), else (None, None)."""
    import tomllib

    path = results_dir / STUDY_LABELS
    if not path.is_file():
        return None, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UserError(f"cannot read {path}: {err}; delete it or re-render with `rsebench study SPEC --report`") from None
    labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
    return labels or None, data.get("reference")


def render_report(results_dir: str | Path = "results", formats=("latex", "markdown", "csv"), out: str | Path | None = None,
                  plots: bool = False, plots_dir: str | Path | None = None, reported: str | Path | None = "default",
                  echo=None, reference: str | None = None, labels: dict[str, str] | None = None) -> list[Path]:
    """Render every table (and, with `plots`, the figures); returns the files written.

    `reference`: the model every other is compared with in the robustness tables (a row label or
    method name; default: SimCSE when present, else each table's first row).

    `labels`: model key -> row label for models whose records carry none (a study's off-the-shelf models);
    None reads them (and the reference, unless given) from the folder's study-labels.toml when a study wrote one.

    `reported`: "default" reads baselines/reported.toml when present, None leaves published numbers out.
    `echo(line)` receives notes (skipped records, settings rendered apart); stderr by default.
    """
    if echo is None:
        from rsebench.progress import say as echo
    formats = tuple(formats)
    if labels is None:  # a study's results folder names its rows (and its reference) in study-labels.toml
        labels, study_reference = study_labels(Path(results_dir))
        reference = reference or study_reference
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UserError(f"unknown format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    collection = collect(results_dir, labels)
    for line in collection.skipped:
        echo(f"skipped {line}")
    entries = load_reported(default_path() if reported == "default" else reported)
    tables = with_reported(build_tables(collection), entries)
    comparisons = compare_with_reference(tables, reference)
    quality = compare_quality(tables, reference)
    tables += leaderboard_tables(tables)
    for note in dict.fromkeys(n for t in tables for n in t.notes if "rendered apart" in n or "duplicate" in n):
        echo(f"note: {note}")
    texts = {fmt: render_texts(tables, fmt, comparisons, quality) for fmt in formats}
    written: list[Path] = []
    if out is not None and str(out) == "-":
        if len(formats) != 1:
            raise UserError("--out - prints one format; choose it with --format latex, markdown or csv")
        sys.stdout.write(_render_all(tables, formats[0], comparisons, quality))
        sys.stdout.flush()
    elif out is not None and len(formats) == 1 and Path(out).suffix == FORMATS[formats[0]][0]:
        _check_folder(Path(out).parent)
        _write_text(Path(out), _render_all(tables, formats[0], comparisons, quality))
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
