"""Attack runs: kill-and-resume equals an uninterrupted run, spec changes refuse to resume, shards
merge into the same record, torn lines are cut, metrics follow TextAttack, bad input is one line."""

from __future__ import annotations

import json

import pytest

from conftest import make_tiny_encoder
from rsebench.errors import UserError
from rsebench.records import model_section, read_record
from rsebench.robustness.recipes import load_recipe
from rsebench.robustness.runner import RunPlan, embedding_variants, execute_run, select_examples
from rsebench.robustness.victim import VictimSettings, build_victim
from rsebench.stats import wilson_interval

VOLATILE = ("timings", "created", "environment", "run_files", "_path")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import os

    old = os.environ.get("RSEBENCH_CACHE")
    os.environ["RSEBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    encoder = make_tiny_encoder(pooler="mean")
    victim, meta = build_victim(encoder, "mr", VictimSettings(probe_c=1000.0, max_train=64, eval_max=32))
    if old is None:
        os.environ.pop("RSEBENCH_CACHE")
    else:
        os.environ["RSEBENCH_CACHE"] = old
    return encoder, victim, meta


def _plan(setup, recipe="deepwordbug", n=4, seed=0, variant=None):
    encoder, _, meta = setup
    return RunPlan(load_recipe(recipe), "mr", select_examples("mr", n), seed, meta, model_section(encoder, "tiny"), variant or {})


def _stable(record) -> dict:
    record = record if isinstance(record, dict) else record.to_json()
    return {k: v for k, v in record.items() if k not in VOLATILE}


def _example_lines(path):
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "seconds"} for line in lines if line["type"] == "example"]


def test_kill_and_resume_equals_uninterrupted_and_shards_merge(setup, tmp_path):
    victim = setup[1]
    plan = _plan(setup)
    whole = read_record(execute_run(plan, victim, tmp_path / "a"))

    assert execute_run(plan, victim, tmp_path / "b", stop_after=2) is None  # "killed" after 2 examples
    run_file = plan.run_path(tmp_path / "b", (1, 1))
    assert len(_example_lines(run_file)) == 2
    with run_file.open("a") as handle:
        handle.write('{"type": "example", "posit')  # torn line from a kill mid-write
    resumed = read_record(execute_run(plan, victim, tmp_path / "b"))
    assert _stable(resumed) == _stable(whole)
    assert _example_lines(run_file) == _example_lines(plan.run_path(tmp_path / "a", (1, 1)))

    assert execute_run(plan, victim, tmp_path / "c", shard=(2, 2)) is None  # waits for shard 1
    merged = read_record(execute_run(plan, victim, tmp_path / "c", shard=(1, 2)))
    assert _stable({**merged.to_json(), "settings": {**merged["settings"], "shards": 1}}) == _stable(whole)
    assert len(merged["run_files"]) == 2

    m = whole["metrics"]
    assert whole["example_ids"] == plan.examples.ids and whole["task"]["victim"] == "probe"
    assert m["successful_attacks"] + m["failed_attacks"] + m["skipped_attacks"] == 4
    assert m["successful_attacks"] > 0, "the tiny victim should be fooled at least once"
    assert m["accuracy_under_attack"] == pytest.approx(m["original_accuracy"] * (1 - m["attack_success_rate"]))
    assert whole["victim"]["clean_accuracy"] == m["victim_clean_accuracy"]
    # per-example outcomes, aligned with example_ids, are what paired tests between models use
    lines = _example_lines(plan.run_path(tmp_path / "a", (1, 1)))
    assert whole["outcomes"] == [line["result_type"] for line in sorted(lines, key=lambda x: x["position"])]
    assert len(whole["outcomes"]) == len(whole["example_ids"]) and whole["outcomes"].count("successful") == m["successful_attacks"]
    victim_n = whole["victim"]["clean_accuracy_examples"]
    assert m["victim_clean_accuracy_ci95"] == pytest.approx(
        list(wilson_interval(round(m["victim_clean_accuracy"] * victim_n), victim_n)))


def test_resume_with_a_changed_spec_is_refused_and_nothing_is_lost(setup, tmp_path):
    victim = setup[1]
    plan = _plan(setup, n=3)
    execute_run(plan, victim, tmp_path, stop_after=1)
    run_file = plan.run_path(tmp_path, (1, 1))
    before = run_file.read_bytes()
    changed = _plan(setup, n=3, seed=1)
    changed_file = changed.run_path(tmp_path, (1, 1))
    run_file.rename(changed_file)  # same file name, different seed inside the spec
    with pytest.raises(UserError, match="different spec.*seed"):
        execute_run(changed, victim, tmp_path)
    assert changed_file.read_bytes() == before


def test_embedding_sweep_writes_one_record_per_eps(setup, tmp_path):
    victim = setup[1]
    recipe = load_recipe("pgd")
    plans = [_plan(setup, "pgd", n=3, variant=v) for v in embedding_variants(recipe, eps=[0.01, 0.2], steps=3)]
    paths = [execute_run(plan, victim, tmp_path) for plan in plans]
    records = [read_record(p) for p in paths]
    assert len(set(paths)) == 2 and [r["task"]["eps"] for r in records] == [0.01, 0.2]
    for plan, record in zip(plans, records):
        m = record["metrics"]
        assert m["avg_perturbed_word_fraction"] is None and record["task"]["attack"] == plan.attack_name
        assert m["accuracy_under_attack"] == pytest.approx(m["original_accuracy"] * (1 - m["attack_success_rate"]))
        lines = _example_lines(plan.run_path(tmp_path, (1, 1)))
        eps = plan.variant["eps"]
        assert all(line["linf_norm"] is None or line["linf_norm"] <= eps * (1 + 1e-6) for line in lines)


def test_metrics_match_textattack_on_real_results(setup):
    """Our metrics from the JSONL fields equal TextAttack's own metric classes on the same results."""
    from rsebench.robustness.metrics import attack_metrics
    from rsebench.robustness.recipes import build_attack
    from rsebench.robustness.runner import _textattack_line, seed_example
    from rsebench.robustness.wrapper import VictimModelWrapper
    from textattack.metrics import AttackQueries, AttackSuccessRate, WordsPerturbed

    examples = select_examples("mr", 5)
    attack, _ = build_attack(load_recipe("deepwordbug"), VictimModelWrapper(setup[1]))
    results = []
    for text, label, example_id in zip(examples.texts, examples.labels, examples.ids):
        seed_example(0, example_id)
        results.append(attack.attack(text, int(label)))
    ours = attack_metrics([_textattack_line(r) for r in results])
    rate = AttackSuccessRate().calculate(results)
    words = WordsPerturbed().calculate(results)
    queries = AttackQueries().calculate(results)
    assert (ours["successful_attacks"], ours["failed_attacks"], ours["skipped_attacks"]) == (
        rate["successful_attacks"], rate["failed_attacks"], rate["skipped_attacks"])
    assert round(100 * ours["attack_success_rate"], 2) == rate["attack_success_rate"]
    assert round(100 * ours["original_accuracy"], 2) == rate["original_accuracy"]
    assert round(100 * ours["accuracy_under_attack"], 2) == rate["attack_accuracy_perc"]
    assert round(ours["avg_queries"], 2) == queries["avg_num_queries"]
    if ours["successful_attacks"]:
        assert round(100 * ours["avg_perturbed_word_fraction"], 2) == words["avg_word_perturbed_perc"]


def test_identity_holds_for_any_counts():
    from rsebench.robustness.metrics import attack_metrics

    for s, f, k in [(3, 1, 2), (0, 4, 0), (5, 0, 1), (0, 0, 3)]:
        lines = ([{"result_type": "successful", "queries": 7, "words": 10, "words_changed": 2}] * s
                 + [{"result_type": "failed", "queries": 9, "words": 10, "words_changed": 0}] * f
                 + [{"result_type": "skipped", "queries": 1, "words": 10, "words_changed": None}] * k)
        m = attack_metrics(lines)
        assert m["accuracy_under_attack"] == pytest.approx(m["original_accuracy"] * (1 - m["attack_success_rate"]))
        assert m["avg_queries"] == (pytest.approx((7 * s + 9 * f) / (s + f)) if s + f else None)


def test_bad_input_is_one_line_with_exit_2(tmp_path, capsys):
    from rsebench.cli import main

    def run(*args):
        code = main(["attack", *args, "--results-dir", str(tmp_path)])
        return code, capsys.readouterr().err.strip().splitlines()

    code, lines = run("--recipe", "nope", "--model", "default")
    assert code == 2 and len(lines) == 1 and "deepwordbug" in lines[0] and "pgd" in lines[0]
    code, lines = run("--recipe", "pwws", "--model", "default", "--dataset", "nope")
    assert code == 2 and len(lines) == 1 and "unknown dataset" in lines[0]
    code, lines = run("--recipe", "pwws", "--model", "default", "--dataset", "sts12")
    assert code == 2 and len(lines) == 1 and "no attack set" in lines[0] and "imdb" in lines[0]
    code, lines = run("--recipe", "pwws", "--model", "default", "--dataset", "mr", "--n", "5000")
    assert code == 2 and len(lines) == 1 and "larger than" in lines[0]
    code, lines = run("--recipe", "pwws", "--model", str(tmp_path), "--dataset", "mr")
    assert code == 2 and len(lines) == 1 and "not a model directory" in lines[0]
    code, lines = run("--recipe", "pwws", "--model", "default", "--eps", "0.1")
    assert code == 2 and len(lines) == 1 and "embedding attacks" in lines[0]
    code, lines = run("--recipe", "pgd", "--model", "default", "--shard", "3/2")
    assert code == 2 and len(lines) == 1 and "--shard" in lines[0]
    assert not list(tmp_path.rglob("*.json"))


def test_different_n_or_settings_never_share_a_record(setup, tmp_path):
    """--n 4 then --n 3 (or other PGD steps) into one results folder: two records, the first untouched."""
    victim = setup[1]
    four = execute_run(_plan(setup, n=4), victim, tmp_path)
    before = four.read_bytes()
    three = execute_run(_plan(setup, n=3), victim, tmp_path)
    assert three != four and four.read_bytes() == before
    recipe = load_recipe("pgd")
    a, b = (_plan(setup, "pgd", n=3, variant=v) for v in (embedding_variants(recipe, eps=[0.1], steps=2)[0],
                                                           embedding_variants(recipe, eps=[0.1], steps=3)[0]))
    assert a.identity_hash() != b.identity_hash() and a.run_path(tmp_path, (1, 1)) != b.run_path(tmp_path, (1, 1))
    record = read_record(three)
    assert record.task["n"] == 3 and len(record["outcomes"]) == 3 and record["outcomes"][0] in ("successful", "failed", "skipped")


def test_metrics_carry_wilson_intervals_with_asr_over_attacked_examples():
    from rsebench.robustness.metrics import attack_metrics

    lines = ([{"result_type": "successful", "queries": 7, "words": 10, "words_changed": 2}] * 6
             + [{"result_type": "failed", "queries": 9, "words": 10, "words_changed": 0}] * 2
             + [{"result_type": "skipped", "queries": 1, "words": 10, "words_changed": None}] * 2)
    m = attack_metrics(lines)
    assert m["attack_success_rate_ci95"] == pytest.approx(list(wilson_interval(6, 8)))  # S / (S + F): skipped excluded
    assert m["original_accuracy_ci95"] == pytest.approx(list(wilson_interval(8, 10)))
    assert m["accuracy_under_attack_ci95"] == pytest.approx(list(wilson_interval(2, 10)))
    for name in ("attack_success_rate", "original_accuracy", "accuracy_under_attack"):
        low, high = m[f"{name}_ci95"]
        assert low <= m[name] <= high
    none_attacked = attack_metrics([{"result_type": "skipped", "queries": 1, "words": 3, "words_changed": None}])
    assert none_attacked["attack_success_rate_ci95"] is None and none_attacked["original_accuracy_ci95"] == pytest.approx([0.0, 0.7934], abs=1e-4)


def test_worker_processes_give_the_same_record(setup, tmp_path):
    """`--workers 2` forks the attack; every example is seeded by (seed, id), so the record is the same."""
    victim = setup[1]
    plan = _plan(setup, n=4)
    one = read_record(execute_run(plan, victim, tmp_path / "one"))
    two = read_record(execute_run(plan, victim, tmp_path / "two", workers=2))
    assert _stable(two) == _stable(one)
    assert _example_lines(plan.run_path(tmp_path / "two", (1, 1)))[0]["position"] == 0  # written in example order
