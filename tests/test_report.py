"""Report: aggregation, grouping, escaping, LaTeX structure, CLI errors, plots (fast; no models)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

from rsebench.cli import main
from rsebench.report import render_csv
from rsebench.report.collect import collect
from rsebench.report.render import render_report
from rsebench.report.render_latex import escape as latex_escape
from rsebench.report.tables import build_tables

GOLDEN = Path(__file__).resolve().parent / "golden"
FIXTURES = GOLDEN / "records"
REPORTED = GOLDEN / "reported.toml"


def _tables(results=FIXTURES, reported=None):
    from rsebench.report.reported import load_reported

    return {t.name: t for t in build_tables(collect(results), load_reported(reported))}


def _fixture_value(method: str, seed: int, filename: str, metric: str) -> float:
    folder = next(FIXTURES.glob(f"{method}-seed{seed}-*"))
    return json.loads((folder / filename).read_text())["metrics"][metric]


def test_cells_are_mean_and_sample_std_over_seeds():
    sts = _tables()["sts"]
    row = next(r for r in sts.blocks[0].rows if r.label == "SimCSE")
    values = [_fixture_value("simcse", s, "sts-sts12.json", "spearman_cosine") for s in (1, 2)]
    assert row.cells["sts12"].values == values
    assert row.cells["sts12"].mean == pytest.approx(statistics.fmean(values))
    assert row.cells["sts12"].std == pytest.approx(statistics.stdev(values))
    per_seed_avg = [statistics.fmean(_fixture_value("simcse", s, f"sts-{t}.json", "spearman_cosine")
                                     for t in ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sick")) for s in (1, 2)]
    assert row.cells["avg"].mean == pytest.approx(statistics.fmean(per_seed_avg))
    single = next(r for r in sts.blocks[0].rows if r.label == "all-MiniLM-L6-v2")
    assert single.n_label == "1" and single.cells["sts12"].std is None


def test_best_respects_direction_and_skips_reported_rows():
    tables = _tables(reported=REPORTED)
    probe = tables["robustness_mr_probe"]
    block = next(b for b in probe.blocks if b.attack["recipe"] == "deepwordbug")
    columns = {c.key: c for c in probe.columns}
    labels = [r.label for r in block.rows]
    asr = [r.cells["attack_success_rate"].mean for r in block.rows]
    (winner,) = block.best(columns["attack_success_rate"])
    assert asr[winner] == min(asr) and labels[winner] == "RobustSentEmbed"  # lower success rate is better
    (winner,) = block.best(columns["accuracy_under_attack"])
    assert labels[winner] == "RobustSentEmbed"
    assert block.best(columns["avg_queries"]) == set()  # no direction, no bold
    finetune = tables["robustness_mr_finetune"].blocks[0]
    assert [r.reported is not None for r in finetune.rows] == [False, True]
    assert finetune.best(columns["attack_success_rate"]) == set()  # one reproduced row: nothing to compare


def test_settings_that_must_not_mix_are_rendered_apart():
    tables = _tables()
    assert {"sts", "sts_senteval", "robustness_mr_probe", "robustness_mr_finetune", "transfer"} <= set(tables)
    assert tables["sts_senteval"].setting == {"variant": "senteval"}
    assert any("rendered apart" in note for note in tables["sts"].notes)
    probe = tables["robustness_mr_probe"]
    assert [b.attack["attack"] for b in probe.blocks] == ["deepwordbug", "pgd-linf-eps0.01", "pgd-linf-eps0.05"]


def test_reported_numbers_appear_only_where_the_setting_and_method_match():
    tables = _tables(reported=REPORTED)
    reported_rows = {name: [r for b in t.blocks for r in b.rows if r.reported] for name, t in tables.items()}
    assert [r.cells["sts12"].mean for r in reported_rows["sts"]] == [pytest.approx(0.684)]
    assert list(reported_rows["sts_senteval"][0].cells) == ["stsb"]
    assert reported_rows["transfer"] == [] and reported_rows["robustness_mr_probe"] == []
    assert all("esimcse" not in r.method for rows in reported_rows.values() for r in rows)


def test_skipped_records_are_named_with_the_reason():
    collection = collect(FIXTURES)
    text = "\n".join(collection.skipped)
    assert "unknown schema version 'rsebench.record/99'" in text
    assert "incomplete attack record" in text and "broken.json" in text
    assert collection.ignored == {"train": 1}


def test_latex_is_booktabs_balanced_and_escaped(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURES, results)
    path = results / "simcse-seed1-simc0001" / "sts-sts12.json"
    record = json.loads(path.read_text())
    record["model"].update({"method": "pretrained", "name": "my_model 100% & co #1"})
    path.write_text(json.dumps(record))
    render_report(results, formats=("latex", "markdown"), reported=None, echo=lambda line: None)
    for tex in (results / "tables").glob("*.tex"):
        text = tex.read_text()
        body = [line for line in text.splitlines() if not line.startswith("%")]
        assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == 1
        assert [line for line in body if line.startswith(("\\toprule", "\\bottomrule"))] == ["\\toprule", "\\bottomrule"]
        assert "\\midrule" in body
        spec = re.search(r"\\begin\{tabular\}\{([^}]*)\}", text).group(1)
        assert "|" not in spec and "\\hline" not in text
        columns = len(spec)
        for line in body:
            if line.endswith(r"\\"):
                assert len(re.split(r"(?<!\\)&", line)) == columns, line
        assert "\\documentclass" not in text and "\\begin{table}" not in text  # bare fragment for \input
    sts = (results / "tables" / "sts.tex").read_text()
    assert r"my\_model 100\% \& co \#1" in sts
    assert r"my\_model 100% \& co #1" not in sts
    markdown = (results / "tables" / "sts.md").read_text()
    assert r"my\_model" in markdown and "| Method | n |" in markdown


def test_latex_escape_covers_the_specials():
    assert latex_escape("a_b%c&d$e#f{g}h~i^j\\") == r"a\_b\%c\&d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles(tmp_path):
    render_report(FIXTURES, formats=("latex",), out=tmp_path / "tables", reported=REPORTED, echo=lambda line: None)
    inputs = "\n".join(f"\\input{{{p.as_posix()}}}\\par" for p in sorted((tmp_path / "tables").glob("*.tex")))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage{graphicx}\n"
                                      f"\\begin{{document}}\\resizebox{{\\textwidth}}{{!}}{{\\parbox{{2\\textwidth}}{{{inputs}}}}}\\end{{document}}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]


def test_csv_is_tidy_one_number_per_row():
    text = render_csv.render_all(list(_tables(reported=REPORTED).values()))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and set(rows[0]) == {"table", "setting", "attack", "method", "source", "task", "metric", "mean", "std", "n",
                                     "values", "best"}
    for row in rows:
        values = [float(v) for v in row["values"].split(";")]
        assert len(values) == int(row["n"]) and float(row["mean"]) == pytest.approx(statistics.fmean(values))
    probe = [r for r in rows if r["table"] == "robustness_mr_probe"]
    assert {r["task"] for r in probe} == {"mr"} and {r["attack"] for r in probe} >= {"deepwordbug", "pgd-linf-eps0.05"}
    assert any(r["source"].startswith("reported: fixture paper A") for r in rows)


def test_cli_writes_every_format_to_the_default_folder(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURES, results)
    assert main(["report", "--results-dir", str(results), "--reported", "none"]) == 0
    names = sorted(p.name for p in (results / "tables").iterdir())
    assert "sts.tex" in names and "sts.md" in names and "sts.csv" in names and "robustness_mr_probe.tex" in names
    assert not list((results / "tables").glob("*.json"))  # nothing a later read_records would mistake for a record


def test_cli_stdout_and_single_file(tmp_path, capsys):
    assert main(["report", "--results-dir", str(FIXTURES), "--format", "markdown", "--out", "-", "--reported", "none"]) == 0
    assert "### STS" in capsys.readouterr().out
    assert main(["report", "--results-dir", str(FIXTURES), "--format", "latex", "--out", str(tmp_path / "all.tex"),
                 "--reported", "none"]) == 0
    assert (tmp_path / "all.tex").read_text().count(r"\begin{tabular}") == 5
    assert main(["report", "--results-dir", str(FIXTURES), "--out", "-"]) == 2
    assert "one format" in capsys.readouterr().err


def test_cli_errors_exit_2_with_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", "--results-dir", str(empty)]) == 2
    assert "no usable" in capsys.readouterr().err
    future = tmp_path / "future"
    future.mkdir()
    shutil.copy(FIXTURES / "skipped" / "future-schema.json", future / "a.json")
    assert main(["report", "--results-dir", str(future)]) == 2
    assert "unknown schema version" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["report", "--results-dir", str(FIXTURES), "--format", "csv", "--out", str(blocker / "tables")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["report", "--results-dir", str(FIXTURES), "--format", "csv", "--out", str(blocker)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["report", "--results-dir", str(FIXTURES), "--reported", str(tmp_path / "missing.toml")]) == 2
    assert "reported-numbers file not found" in capsys.readouterr().err


def test_plots_are_written_as_png_and_pdf_and_are_reproducible(tmp_path):
    first = render_report(FIXTURES, formats=("csv",), out=tmp_path / "t", plots=True, plots_dir=tmp_path / "p1", reported=None,
                          echo=lambda line: None)
    render_report(FIXTURES, formats=("csv",), out=tmp_path / "t", plots=True, plots_dir=tmp_path / "p2", reported=None,
                  echo=lambda line: None)
    plots = sorted(p.name for p in first if p.parent == tmp_path / "p1")
    assert {"asr_vs_eps_mr_probe.png", "asr_vs_eps_mr_probe.pdf", "sts_vs_asr_mr_probe.png", "sts_vs_asr_mr_probe.pdf"} <= set(plots)
    for name in plots:
        assert (tmp_path / "p1" / name).read_bytes() == (tmp_path / "p2" / name).read_bytes(), name
    assert (tmp_path / "p1" / "asr_vs_eps_mr_probe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_asr_series_follow_eps():
    from rsebench.report.plots import asr_vs_eps_series

    series = asr_vs_eps_series(_tables()["robustness_mr_probe"])
    points = series[("PGD", "linf")]["SimCSE"]
    assert [p[0] for p in points] == [0.01, 0.05] and points[0][1] < points[1][1]


def test_compact_reported_format_of_baselines_is_read(tmp_path):
    compact = tmp_path / "reported.toml"
    compact.write_text('[simcse.bert_base]\nsource = "paper S"\nsts12 = 68.40\nstsb = 76.85\navg = 76.25\n'
                       '[esimcse.bert_base]\nsource = "paper E"\nstsb = 80.17\n')
    tables = _tables(reported=compact)
    rows = [r for r in tables["sts_senteval"].blocks[0].rows if r.reported]
    assert [(r.label, r.cells["stsb"].mean) for r in rows] == [("SimCSE (bert-base, reported)", pytest.approx(0.7685))]
    assert not any(r.reported for r in tables["sts"].blocks[0].rows)  # SimCSE's numbers are on SentEval text, not "original"


def test_the_shipped_reported_file_loads():
    from rsebench.report.reported import default_path, load_reported

    path = default_path()
    if path is None:
        pytest.skip("no baselines/reported.toml")
    entries = load_reported(path)
    assert entries and all(0.0 <= e["fraction"] <= 1.0 for e in entries if e["metric"] != "avg_queries")
