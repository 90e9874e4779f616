"""Slow end-to-end attacks: the real MiniLM through the CLI path, and TextFooler's local substitutes."""

from __future__ import annotations

import pytest

from rsebench.records import read_record

pytestmark = pytest.mark.slow


def _identity(metrics):
    assert metrics["accuracy_under_attack"] == pytest.approx(metrics["original_accuracy"] * (1 - metrics["attack_success_rate"]))


def test_minilm_deepwordbug_pwws_pgd_records(minilm, tmp_path, monkeypatch):
    from rsebench.jobs import AttackJob

    monkeypatch.setenv("RSEBENCH_CACHE", str(tmp_path / "cache"))
    for recipe, extra in (("deepwordbug", {}), ("pwws", {}), ("pgd", {"eps": [0.02], "steps": 5})):
        job = AttackJob(recipe=recipe, model="default", n=3, victim_max_train=500, victim_eval_max=100,
                        results_dir=str(tmp_path / "results"), **extra)
        (path,) = job.run(minilm)
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
    from rsebench.robustness.runner import RunPlan, execute_run, select_examples
    from rsebench.robustness.recipes import load_recipe
    from rsebench.robustness.victim import VictimSettings, build_victim
    from rsebench.records import model_section

    encoder = make_tiny_encoder(pooler="mean")
    victim, meta = build_victim(encoder, "mr", VictimSettings(max_train=64, eval_max=16, probe_c=1000.0))
    plan = RunPlan(load_recipe("textfooler"), "mr", select_examples("mr", 2), 0, meta, model_section(encoder, "tiny"))
    record = read_record(execute_run(plan, victim, tmp_path / "results"))
    assert record.task["variant"] == "textfooler-local" and "textfooler-local" in record.path if record.path else True
    assert record["resources"]["substitutes"], "textfooler-local must name its substitute resources"
    assert record["faithfulness"]["status"] == "substitute"
    _identity(record["metrics"])
