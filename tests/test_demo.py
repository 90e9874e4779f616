"""The one-command demo, end to end on the real MiniLM (slow: several minutes on 2 cores)."""

import pytest


@pytest.mark.slow
def test_quick_demo_leaves_records_tables_and_plots(tmp_path):
    from rsebench.cli import main
    from rsebench.records import read_records

    results = tmp_path / "results"
    assert main(["demo", "--quick", "--results-dir", str(results), "--checkpoints", str(tmp_path / "ckpt")]) == 0
    records, problems = read_records(results)
    assert not problems
    kinds = {r["kind"] for r in records}
    assert kinds == {"train", "sts", "attack"}
    recipes = {r["task"]["recipe"] for r in records if r["kind"] == "attack"}
    assert {"deepwordbug", "pwws", "textfooler", "pgd"} <= recipes
    for name in ("sts.tex", "sts.md", "sts.csv", "robustness_mr_probe.tex"):
        assert (results / "tables" / name).is_file(), name
    assert list((results / "plots").glob("*.png")) and list((results / "plots").glob("*.pdf"))
    assert (tmp_path / "ckpt" / "robustsentembed" / "model.safetensors").is_file()
