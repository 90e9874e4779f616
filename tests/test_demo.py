"""The one-command demo: a small study that writes only under its own (git-ignored) folder."""

import hashlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_demo_folders_are_its_own_and_git_ignored():
    from rsebench.study import expand, load_study

    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/demo/" in ignored
    study = load_study("demo")
    assert Path(study.results_dir).parts[0] == "demo" and Path(study.checkpoints_dir).parts[0] == "demo"
    for chain in expand(study, "demo/results", "demo/checkpoints"):
        for job in chain.jobs():
            assert Path(job.results_dir).parts[0] == "demo"
        assert chain.train is None or Path(chain.train.out).parts[0] == "demo"


@pytest.mark.slow
def test_quick_demo_leaves_committed_results_untouched(tmp_path, monkeypatch):
    from rsebench.cli import main
    from rsebench.records import read_records

    before = _tree_digest(ROOT / "results")
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--quick"]) == 0
    assert _tree_digest(ROOT / "results") == before, "the demo changed the committed results/"
    results = tmp_path / "demo" / "results"
    records, problems = read_records(results)
    assert not problems
    assert {r.kind for r in records} == {"train", "sts", "attack"}
    assert {r.task["recipe"] for r in records if r.kind == "attack"} == {"deepwordbug", "pgd"}
    assert all("attack_success_rate_ci95" in r.metrics for r in records if r.kind == "attack")
    for name in ("sts.tex", "sts.md", "sts.csv", "robustness_mr_probe.tex", "comparisons.md"):
        assert (results / "tables" / name).is_file(), name
    assert list((results / "plots").glob("*.png")) and list((results / "plots").glob("*.pdf"))
    # a second run finds every job done and redoes nothing
    stamps = {p: p.stat().st_mtime_ns for p in results.rglob("*.json") if "tables" not in p.parts}
    assert main(["demo", "--quick"]) == 0
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*.json") if "tables" not in p.parts} == stamps
