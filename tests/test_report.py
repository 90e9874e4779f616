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

    from rsebench.report.reported import with_reported

    return {t.name: t for t in with_reported(build_tables(collect(results)), load_reported(reported))}


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
                                     "values", "best", "ci_low", "ci_high", "ci_method", "significant"}
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
    assert (tmp_path / "all.tex").read_text().count(r"\begin{tabular}") == 8  # 5 tables + leaderboard + 2 comparisons
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
    broken = tmp_path / "broken-study"
    shutil.copytree(FIXTURES, broken)
    (broken / "study-labels.toml").write_text("[labels\n")
    assert main(["report", "--results-dir", str(broken), "--format", "csv", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "study-labels.toml" in err[0] and not (tmp_path / "out").exists()


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


# ---------------------------------------------------------------------------------------------
# Intervals, paired comparisons, leaderboard


def _fixtures():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixture_records", GOLDEN / "make_fixture_records.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _attack_record(method: str, outcomes: list[str], recipe: str = "deepwordbug", eps: float | None = None, seed: int = 1,
                   ids: list[str] | None = None) -> dict:
    """An attack record in the current format (metrics and intervals from rsebench's own attack_metrics)."""
    from rsebench.robustness.metrics import attack_metrics

    fixtures = _fixtures()
    lines = [{"result_type": o, "queries": 10, "words": 10, "words_changed": 1} for o in outcomes]
    metrics = {**attack_metrics(lines), "victim_clean_accuracy": 0.8}
    task = {"name": "mr", "split": "attack", "attack": recipe if eps is None else f"{recipe}-linf-eps{eps:g}", "recipe": recipe,
            "victim": "probe", "n": len(outcomes)}
    variant = {} if eps is None else {"norm": "linf", "eps": eps}
    task.update({"norm": "linf", "eps": eps} if eps is not None else {})
    return fixtures.record("attack", fixtures.model(method, seed), task, metrics,
                           {"variant": variant, "seed": seed, "victim": {"kind": "probe"}}, seed=seed,
                           spec_hash=f"{method}-{task['attack']}-seed{seed}",
                           example_ids=ids or [f"mr:attack:{i}" for i in range(len(outcomes))], outcomes=list(outcomes),
                           victim={"clean_accuracy": 0.8, "clean_accuracy_examples": 500})


def _write_records(folder: Path, records: list[dict]) -> Path:
    for number, record in enumerate(records):
        path = folder / f"{record['model']['name']}" / f"attack-{number}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))
    return folder


def _report(results: Path, reference=None):
    from rsebench.report.comparisons import compare_with_reference

    tables = build_tables(collect(results))
    comparisons = compare_with_reference(tables, reference)
    return {t.name: t for t in tables}, comparisons


def _cell(table, attack: str, label: str, key: str):
    block = next(b for b in table.blocks if b.attack["attack"] == attack)
    return next(r for r in block.rows if r.label == label).cells[key]


def test_large_known_difference_is_marked_and_equal_models_are_not(tmp_path):
    fooled, robust = ["successful"] * 40, ["failed"] * 40
    results = _write_records(tmp_path / "r", [_attack_record("simcse", fooled), _attack_record("robustsentembed", robust),
                                              _attack_record("simcse", fooled, "pwws"), _attack_record("robustsentembed", fooled, "pwws")])
    tables, comparisons = _report(results)
    table = tables["robustness_mr_probe"]
    assert _cell(table, "deepwordbug", "RobustSentEmbed", "accuracy_under_attack").mark == "†"
    assert _cell(table, "pwws", "RobustSentEmbed", "accuracy_under_attack").mark == ""  # identical outcomes
    assert all(cell.mark == "" for b in table.blocks for r in b.rows if r.label == "SimCSE" for cell in r.cells.values())
    by_attack = {c.attack: c for c in comparisons.rows}
    assert by_attack["deepwordbug"].pvalue == pytest.approx(2 / 2 ** 40)  # b = 40, c = 0
    assert by_attack["pwws"].pvalue == 1.0 and by_attack["pwws"].interval == pytest.approx((0.0, 0.0))
    assert by_attack["deepwordbug"].p_holm == pytest.approx(2 * 2 / 2 ** 40)  # smallest of m = 2: times 2
    md = render_report(results, formats=("markdown",), out=tmp_path / "t", reported=None, echo=lambda line: None)
    text = (tmp_path / "t" / "robustness_mr_probe.md").read_text()
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert "**100.00**† [91.2, 100.0]" in text and sum(line.count("†") for line in table_lines) == 1
    assert "Holm-corrected over the 2" in text
    assert tmp_path / "t" / "comparisons.md" in md
    latex = render_report(results, formats=("latex",), out=tmp_path / "t", reported=None, echo=lambda line: None)
    assert r"\textbf{100.00}$^\dagger${\scriptsize\,[91.2, 100.0]}" in (tmp_path / "t" / "robustness_mr_probe.tex").read_text() and latex


def test_comparisons_table_matches_a_hand_computation(tmp_path):
    reference = ["successful"] * 5 + ["failed"] * 3 + ["skipped"] * 2   # ASR 5/8; survives ids 5, 6, 7
    model = ["successful"] * 2 + ["failed"] * 6 + ["skipped", "successful"]  # ASR 3/9; survives ids 2..7
    results = _write_records(tmp_path / "r", [
        _attack_record("simcse", reference), _attack_record("robustsentembed", model),
        _attack_record("simcse", ["successful"] * 10, "pgd", eps=0.01), _attack_record("robustsentembed", ["failed"] * 10, "pgd", eps=0.01)])
    render_report(results, formats=("csv", "markdown"), out=tmp_path / "t", reported=None, echo=lambda line: None)
    rows = {r["attack"]: r for r in csv.DictReader(io.StringIO((tmp_path / "t" / "comparisons.csv").read_text()))}
    word = rows["deepwordbug"]
    assert (word["model"], word["reference"], word["n_paired"]) == ("RobustSentEmbed", "SimCSE", "10")
    assert float(word["asr_model"]) == pytest.approx(3 / 9) and float(word["asr_reference"]) == pytest.approx(5 / 8)
    assert float(word["asr_difference"]) == pytest.approx(3 / 9 - 5 / 8)
    assert float(word["asr_difference_ci_low"]) < 3 / 9 - 5 / 8 < float(word["asr_difference_ci_high"])
    assert (word["only_model_survived"], word["only_reference_survived"]) == ("3", "0")
    assert float(word["mcnemar_p"]) == pytest.approx(2 * (1 / 2) ** 3)  # b = 3, c = 0: P(X = 0) + P(X = 3), X ~ Bin(3, 1/2)
    pgd = rows["pgd-linf-eps0.01"]
    assert float(pgd["mcnemar_p"]) == pytest.approx(2 / 2 ** 10)
    # Holm over the table's m = 2 tests: sorted p = 2/1024, 0.25 -> 2 * 2/1024, max(that, 1 * 0.25)
    assert float(pgd["holm_p"]) == pytest.approx(4 / 1024) and pgd["significant"] == "1"
    assert float(word["holm_p"]) == pytest.approx(0.25) and word["significant"] == "0"
    markdown = (tmp_path / "t" / "comparisons.md").read_text()
    assert "| robustness\\_mr\\_probe | DeepWordBug | RobustSentEmbed | SimCSE | train 1, eval 1 | 10 | 33.3 | 62.5 | -29.2 [" in markdown
    assert "PGD (L∞, ε=0.01)" in markdown


def test_pairing_uses_the_shared_example_ids_in_order():
    from rsebench.report.comparisons import _paired_outcomes

    model = {"example_ids": ["a", "b", "c"], "outcomes": ["successful", "failed", "skipped"]}
    reference = {"example_ids": ["c", "x", "a"], "outcomes": ["failed", "successful", "skipped"]}
    assert _paired_outcomes(model, reference) == (["successful", "skipped"], ["skipped", "failed"])
    assert _paired_outcomes({"example_ids": ["a"]}, reference) is None  # an old record: no outcomes


def test_reference_option_and_old_records_without_outcomes(tmp_path, capsys):
    old = [_attack_record("simcse", ["successful"] * 30), _attack_record("robustsentembed", ["failed"] * 30)]
    for record in old:  # as written before intervals and outcomes existed
        del record["outcomes"]
        for key in [k for k in record["metrics"] if k.endswith("_ci95")]:
            del record["metrics"][key]
    results = _write_records(tmp_path / "r", old)
    tables, comparisons = _report(results)
    table = tables["robustness_mr_probe"]
    assert comparisons.rows == [] and any("no paired test for 1 record pair" in n for n in table.notes)
    assert not any(c.mark for b in table.blocks for r in b.rows for c in r.cells.values())
    from rsebench.stats import wilson_interval

    assert _cell(table, "deepwordbug", "SimCSE", "attack_success_rate").interval == pytest.approx(wilson_interval(30, 30))
    assert _cell(table, "deepwordbug", "SimCSE", "accuracy_under_attack").interval == pytest.approx(wilson_interval(0, 30))
    tables, _ = _report(results, reference="RobustSentEmbed")
    assert any(n.startswith("reference for paired tests: RobustSentEmbed (--reference)") for n in tables["robustness_mr_probe"].notes)
    assert main(["report", "--results-dir", str(results), "--reference", "nosuchmodel", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "--reference 'nosuchmodel' matches no model" in err and "RobustSentEmbed, SimCSE" in err and not (tmp_path / "t").exists()


def test_committed_results_still_render_with_intervals(tmp_path):
    results = Path(__file__).resolve().parent.parent / "results" / "demo-v1"
    if not any(results.glob("*/attack-*.json")):
        pytest.skip("no committed attack records")
    written = render_report(results, formats=("markdown", "csv"), out=tmp_path / "t", plots=True, plots_dir=tmp_path / "p",
                            reported=None, echo=lambda line: None)
    names = {p.name for p in written}
    assert {"comparisons.md", "leaderboard.md", "leaderboard.png", "robustness_mr_probe.md"} <= names
    rows = list(csv.DictReader(io.StringIO((tmp_path / "t" / "robustness_mr_probe.csv").read_text())))
    asr = [r for r in rows if r["metric"] == "attack_success_rate"]
    assert asr and all(r["ci_method"] == "Wilson" and float(r["ci_low"]) <= float(r["mean"]) <= float(r["ci_high"]) for r in asr)


def test_leaderboard_ranks_by_per_example_worst_case(tmp_path):
    # A survives 3 examples under each attack, but different ones: no example survives both (worst case 0).
    # B survives the same 2 examples under both: worst case 2/10, so B ranks first despite its higher ASR.
    a1 = ["failed"] * 3 + ["successful"] * 7
    a2 = ["successful"] * 3 + ["failed"] * 3 + ["successful"] * 4
    b = ["failed"] * 2 + ["successful"] * 8
    results = _write_records(tmp_path / "r", [_attack_record("simcse", a1), _attack_record("simcse", a2, "pwws"),
                                              _attack_record("robustsentembed", b), _attack_record("robustsentembed", b, "pwws")])
    from rsebench.report.leaderboard import leaderboard_tables

    tables = build_tables(collect(results))
    (board,) = leaderboard_tables(tables)
    rows = board.blocks[0].rows
    assert [r.label for r in rows] == ["RobustSentEmbed", "SimCSE"]
    assert rows[0].cells["robust_accuracy"].mean == pytest.approx(0.2) and rows[1].cells["robust_accuracy"].mean == 0.0
    assert rows[1].cells["asr:pwws"].mean == pytest.approx(0.7)
    from rsebench.stats import wilson_interval

    assert rows[0].cells["robust_accuracy"].interval == pytest.approx(wilson_interval(2, 10))
    assert rows[0].cells["victim_clean_accuracy"].interval == pytest.approx(wilson_interval(400, 500))
    assert any("survived every one" in n for n in board.notes)
    single = _write_records(tmp_path / "one", [_attack_record("simcse", a1)])
    assert leaderboard_tables(build_tables(collect(single))) == []


def test_several_seeds_pair_by_seed_and_unmatched_seeds_are_named(tmp_path):
    fooled, robust = ["successful"] * 12, ["failed"] * 12
    results = _write_records(tmp_path / "r", [
        _attack_record("simcse", fooled, seed=1), _attack_record("simcse", fooled, seed=2),
        _attack_record("robustsentembed", robust, seed=1), _attack_record("robustsentembed", robust, seed=3)])
    tables, comparisons = _report(results)
    assert [c.seed for c in comparisons.rows] == ["train 1, eval 1"]
    assert any("no paired test for 1 record: the reference has no record with the same" in n for n in tables["robustness_mr_probe"].notes)


def test_t_intervals_stop_at_the_metric_range(tmp_path):
    results = _write_records(tmp_path / "r", [_attack_record("simcse", ["successful"] * 10, seed=1),
                                              _attack_record("simcse", ["successful"] * 8 + ["failed"] * 2, seed=2)])
    tables, _ = _report(results)
    table = tables["robustness_mr_probe"]
    cell = _cell(table, "deepwordbug", "SimCSE", "attack_success_rate")
    assert cell.interval[1] > 1  # the raw t-interval over two seeds reaches past 100%
    column = next(c for c in table.columns if c.key == "attack_success_rate")
    assert column.format_interval(cell.interval).endswith(", 100.0")
    (asr,) = [r for r in render_csv.rows(table) if r[6] == "attack_success_rate"]
    assert float(asr[13]) == 1.0 and 0 <= float(asr[12]) < 0.9


def test_pooled_comparison_over_seeds_matches_a_hand_computation(tmp_path):
    # seed 1: reference 8/10 fooled, model 4/10; seed 2: reference 6/10, model 5/10 (ids 0..9 in both)
    ref1, mod1 = ["successful"] * 8 + ["failed"] * 2, ["failed"] * 6 + ["successful"] * 4
    ref2, mod2 = ["successful"] * 6 + ["failed"] * 4, ["successful"] * 5 + ["failed"] * 5
    results = _write_records(tmp_path / "r", [_attack_record("simcse", ref1, seed=1), _attack_record("robustsentembed", mod1, seed=1),
                                              _attack_record("simcse", ref2, seed=2), _attack_record("robustsentembed", mod2, seed=2)])
    render_report(results, formats=("csv", "markdown"), out=tmp_path / "t", reported=None, echo=lambda line: None)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "t" / "comparisons.csv").read_text())))
    (pooled,) = [r for r in rows if r["seeds_pooled"] == "2"]
    assert pooled["seed"] == "pooled, 2 seeds" and pooled["n_paired"] == "10"
    assert float(pooled["asr_model"]) == pytest.approx((0.4 + 0.5) / 2) and float(pooled["asr_reference"]) == pytest.approx(0.7)
    assert float(pooled["asr_difference"]) == pytest.approx(((0.4 - 0.8) + (0.5 - 0.6)) / 2)
    assert float(pooled["asr_relative_change"]) == pytest.approx(-0.25 / 0.7)
    # survival (outcome "failed"): seed 1 model survives ids 0-5, reference 8-9 -> b = 6, c = 2;
    # seed 2 model survives 5-9, reference 6-9 -> b = 1, c = 0; stratified: Bin(9, 1/2) at b = 7
    assert (pooled["only_model_survived"], pooled["only_reference_survived"]) == ("7", "2")
    from scipy import stats

    assert float(pooled["mcnemar_p"]) == pytest.approx(stats.binomtest(7, 9, 0.5).pvalue)
    assert float(pooled["asr_difference_ci_low"]) < -0.25 < float(pooled["asr_difference_ci_high"])
    per_seed = [r for r in rows if r["seeds_pooled"] == "0"]
    assert len(per_seed) == 2 and float(per_seed[0]["holm_p"]) >= float(per_seed[0]["mcnemar_p"])
    assert float(pooled["holm_p"]) == pytest.approx(float(pooled["mcnemar_p"]))  # its own Holm family of one
    assert "| pooled, 2 seeds | 10 | 45.0 | 70.0 | -25.0 [" in (tmp_path / "t" / "comparisons.md").read_text()


def test_pooled_bootstrap_resamples_examples_jointly_across_seeds():
    from rsebench.stats import paired_bootstrap_difference, pooled_paired_bootstrap_difference

    a = ["successful", "failed"] * 20
    b = ["failed", "successful"] * 20
    # the same pair in two strata: a joint resample gives the one-stratum interval exactly (independent draws per
    # stratum would average the noise away and narrow it); one stratum agrees with the per-seed bootstrap
    one = pooled_paired_bootstrap_difference([(a, b)])
    two = pooled_paired_bootstrap_difference([(a, b), (a, b)])
    assert two.difference == one.difference == 0 and two.interval == pytest.approx(one.interval)
    assert one.interval == pytest.approx(paired_bootstrap_difference(a, b).interval, abs=0.06) and one.interval[0] < -0.2
    with pytest.raises(ValueError):
        pooled_paired_bootstrap_difference([(a, b), (a[:-1], b[:-1])])
