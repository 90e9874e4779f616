"""Slow end-to-end attacks: the real MiniLM through the CLI path, and TextFooler's local substitutes."""

from __future__ import annotations

import pytest

from rsebench.records import read_record

pytestmark = pytest.mark.slow


def _identity(metrics):
    assert metrics["accuracy_under_attack"] == pytest.approx(metrics["original_accuracy"] * (1 - metrics["attack_success_rate"]))


def test_minilm_deepwordbug_pwws_pgd_records(minilm, tmp_path, monkeypatch):
    from rsebench.robustness.runner import run_attack
    from rsebench.robustness.victim import VictimSettings

    monkeypatch.setenv("RSEBENCH_CACHE", str(tmp_path / "cache"))
    settings = VictimSettings(max_train=500, eval_max=100)
    for recipe, extra in (("deepwordbug", {}), ("pwws", {}), ("pgd", {"eps": [0.02], "steps": 5})):
        (path,) = run_attack(minilm, "default", recipe, "mr", 3, settings, results_dir=tmp_path / "results", **extra)
        record = read_record(path)
        m = record["metrics"]
        for key in ("attack_success_rate", "accuracy_under_attack", "original_accuracy", "successful_attacks",
                    "failed_attacks", "skipped_attacks"):
            assert key in m
        _identity(m)
        assert record["victim"]["kind"] == "probe" and 0.5 < record["victim"]["clean_accuracy"] <= 1.0


def test_textfooler_local_substitutes_are_recorded(tmp_path):
    # The user's cache: the counter-fitted vectors take minutes to build once and are reused.
    from conftest import make_tiny_encoder
    from rsebench.robustness.runner import run_attack
    from rsebench.robustness.victim import VictimSettings

    (path,) = run_attack(make_tiny_encoder(pooler="mean"), "tiny", "textfooler", "mr", 2,
                         VictimSettings(max_train=64, eval_max=16, probe_c=1000.0), results_dir=tmp_path / "results")
    record = read_record(path)
    assert record["resources"]["substitutes"], "textfooler-local must name its substitute resources"
    assert record["faithfulness"]["status"] == "substitute"
    _identity(record["metrics"])
