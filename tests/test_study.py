"""Studies: spec parsing and expansion, identity-based skipping, resume after a kill, shards that merge
into what one process writes, --shard auto, --dry-run. A tiny random encoder keeps them fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_tiny_encoder
from rsebench.errors import UserError
from rsebench.study import assign_shards, expand, load_study, parse_study, parse_study_shard, run_study


def tiny_spec(model_dir: Path, results: Path, checkpoints: Path) -> dict:
    return {
        "name": "tiny", "reference": "tiny-simcse", "results_dir": str(results), "checkpoints_dir": str(checkpoints),
        "train": {"model": str(model_dir), "max_steps": 2, "max_sentences": 64, "seeds": [0, 1],
                  "set": {"batch_size": 8, "eval_every": 0, "pooler": "mean", "save_every": 1}},
        "model": [{"label": "tiny", "model": str(model_dir)},
                  {"label": "tiny-simcse", "method": "simcse"}],
        "eval": {"tasks": "stsb"},
        "attack": [{"dataset": "mr", "victim": "probe", "victim_max_train": 64, "victim_eval_max": 32, "recipes": ["pgd", "deepwordbug"],
                    "n": 4, "n_per_recipe": {"deepwordbug": 3}, "eps": [0.05, 0.5], "steps": 3}],
    }


@pytest.fixture
def tiny_model(tmp_path, monkeypatch):
    monkeypatch.setenv("RSEBENCH_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "tiny-model"
    make_tiny_encoder(pooler="mean").save(folder)
    return folder


def test_shipped_specs_parse_and_expand():
    for name in ("quick", "demo", "main", "ablation", "open-questions", "leaderboard"):
        study = load_study(name)
        chains = expand(study)
        assert chains and study.scale and study.measured_cost, name
    main = load_study("main")
    trained = [c for c in expand(main) if c.train]
    assert {c.train.method for c in trained} == {"simcse", "esimcse", "robustsentembed"} and len(trained) == 9
    ablation = expand(load_study("ablation"))
    folders = [c.model for c in ablation if c.train]
    assert len(set(folders)) == len(folders), "two ablation arms share a checkpoint folder"
    leaderboard = expand(load_study("leaderboard"))
    assert all(c.train is None for c in leaderboard)


@pytest.mark.parametrize("change,message", [
    ({"bogus": 1}, "unknown field"),
    ({"model": [{"label": "x", "method": "nope"}]}, "unknown method"),
    ({"model": [{"label": "x"}]}, "needs a method"),
    ({"reference": "nobody"}, "reference 'nobody'"),
    ({"attack": [{"recipes": ["nope"]}]}, "unknown recipe"),
    ({"attack": [{"recipes": ["pgd"], "colour": 1}]}, "unknown field"),
    ({"train": {"seeds": [-1]}}, "seeds"),
    ({"model": [{"label": "a", "model": "default"}, {"label": "a", "model": "default"}]}, "unique"),
    ({"reuse": "main"}, "reuse must be a list"),
    ({"reuse": ["tiny"]}, "cannot reuse itself"),
    ({"model": [{"label": "x", "method": "simcse", "max_steps": 0}]}, "max_steps must be a positive integer"),
    ({"model": [{"label": "x", "model": "default", "max_steps": 5}]}, "max_steps must be a positive integer"),
])
def test_bad_specs_are_one_line_errors(change, message, tmp_path):
    raw = {**tiny_spec(tmp_path, tmp_path / "r", tmp_path / "c"), **change}
    with pytest.raises(UserError, match=message):
        parse_study(raw)


def test_an_arm_can_train_for_its_own_number_of_steps(tmp_path):
    raw = tiny_spec(tmp_path, tmp_path / "r", tmp_path / "c")
    plain = [c for c in expand(parse_study(raw)) if c.train]
    raw["model"].append({"label": "tiny-simcse long", "method": "simcse", "max_steps": 7})
    chains = [c for c in expand(parse_study(raw)) if c.train]
    steps = {c.train.label: c.train.max_steps for c in chains}
    assert steps == {"tiny-simcse": 2, "tiny-simcse long": 7}
    # the other arms keep their checkpoint folders (their setting did not change)
    assert [c.model for c in chains if c.train.label == "tiny-simcse"] == [c.model for c in plain]
    compute_matched = [c for c in expand(load_study("ablation")) if c.train and c.train.method == "simcse" and c.train.max_steps == 330]
    assert compute_matched, "the ablation study's compute-matched SimCSE arm trains for 330 steps"


def test_unknown_study_name_is_one_line(capsys):
    from rsebench.cli import main

    assert main(["study", "no-such-study"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "quick" in err[0]


def test_shards_partition_the_chains_deterministically(tmp_path):
    study = parse_study(tiny_spec(tmp_path, tmp_path / "r", tmp_path / "c"))
    chains = expand(study)
    for count in (1, 2, 3):
        shards = assign_shards(chains, count)
        assert shards == assign_shards(expand(study), count)
        assert set(shards) <= set(range(1, count + 1)) and len(shards) == len(chains)


def test_shard_auto_reads_slurm_and_torchrun(monkeypatch):
    for key in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(UserError, match="--shard auto"):
        parse_study_shard("auto")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert parse_study_shard("auto") == (2, 4)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    assert parse_study_shard("auto") == (3, 3)
    assert parse_study_shard("2/5") == (2, 5)


def _records(folder: Path) -> dict[str, dict]:
    from rsebench.records import read_records

    records, problems = read_records(folder)
    assert not problems
    # what a shard must reproduce exactly: the numbers and what they are of (paths and timings may differ)
    stable = ("kind", "identity", "task", "metrics", "seed", "example_ids", "outcomes", "settings")
    return {r.identity_hash: {**{k: r.to_json().get(k) for k in stable}, "model": r.model["key"]} for r in records}


def test_study_runs_skips_finished_work_and_resumes_after_a_kill(tiny_model, tmp_path, monkeypatch, one_thread):
    from rsebench.jobs import AttackJob

    study = parse_study(tiny_spec(tiny_model, tmp_path / "results", tmp_path / "ckpt"))
    calls = []
    original = AttackJob.run

    def killed_after_three(self, encoder=None):
        calls.append(self.recipe)
        if len(calls) == 3:
            raise KeyboardInterrupt  # what a kill looks like to the jobs that ran before it
        return original(self, encoder)

    monkeypatch.setattr(AttackJob, "run", killed_after_three)
    with pytest.raises(KeyboardInterrupt):
        run_study(study, report=False)
    first = _records(tmp_path / "results")
    assert first, "finished jobs left their records"

    calls.clear()
    monkeypatch.setattr(AttackJob, "run", lambda self, encoder=None: (calls.append(self.recipe), original(self, encoder))[1])
    planned = run_study(study, report=True)
    done_before = [p for p in planned if p.status == "done"]
    assert len(done_before) >= 3, "jobs finished before the kill must be skipped"
    complete = _records(tmp_path / "results")
    assert set(first) <= set(complete)
    kinds = sorted(r["kind"] for r in complete.values())
    # 3 models (tiny + 2 seeds of tiny-simcse) x (pgd 2 eps + deepwordbug) attacks, 2 train records
    assert kinds.count("attack") == 9 and kinds.count("train") == 2 and kinds.count("sts") == 3

    calls.clear()
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json") if "tables" not in p.parts}
    planned = run_study(study, report=False)
    assert all(p.status == "done" for p in planned) and not calls, "a finished study must redo nothing"
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json") if "tables" not in p.parts} == stamps
    # two example-set sizes (n=4 for pgd, 3 for deepwordbug) are two tables, never mixed in one
    assert sorted(p.name for p in (tmp_path / "results" / "tables").glob("robustness_*.md")) == [
        "robustness_mr_probe_n3.md", "robustness_mr_probe_n4.md"]
    # the study's label names the off-the-shelf model's row (its records carry none), trained rows keep theirs
    table = (tmp_path / "results" / "tables" / "robustness_mr_probe_n4.md").read_text()
    assert "| tiny |" in table and "| tiny-simcse |" in table


def test_parallel_shards_equal_one_process(tiny_model, tmp_path):
    def write_spec(results: Path, checkpoints: Path) -> Path:
        spec = tiny_spec(tiny_model, results, checkpoints)
        spec["train"]["seeds"] = [0]
        path = results.parent / f"{results.name}.toml"
        path.write_text(_to_toml(spec))
        return path

    env = {**os.environ, "RSEBENCH_CACHE": os.environ["RSEBENCH_CACHE"], "RSEBENCH_QUIET": "1", "OMP_NUM_THREADS": "1"}
    single = write_spec(tmp_path / "single", tmp_path / "ckpt-single")
    sharded = write_spec(tmp_path / "sharded", tmp_path / "ckpt-sharded")
    run = [sys.executable, "-m", "rsebench", "study"]
    procs = [subprocess.Popen(run + [str(sharded), "--shard", f"{i}/2"], env=env, stderr=subprocess.PIPE, text=True) for i in (1, 2)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    done = subprocess.run(run + [str(single)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _records(tmp_path / "sharded") == _records(tmp_path / "single")
    report = subprocess.run(run + [str(sharded), "--report"], env=env, capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr
    for table in ("robustness_mr_probe_n4.md", "robustness_mr_probe_n3.csv", "sts.md"):
        assert (tmp_path / "sharded" / "tables" / table).read_text() == (tmp_path / "single" / "tables" / table).read_text()


def test_dry_run_lists_jobs_and_cost(tiny_model, tmp_path, capsys):
    study = parse_study(tiny_spec(tiny_model, tmp_path / "results", tmp_path / "ckpt"))
    planned = run_study(study, dry_run=True)
    out = capsys.readouterr().out
    assert len(planned) == 3 + 2 * 4  # tiny: eval + 2 attack jobs (pgd sweeps both eps); each seed: train + eval + 2
    assert "to run in this shard: 11 jobs" in out and "train simcse" in out
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.json"))


def _to_toml(value: dict, prefix: str = "") -> str:
    """A minimal TOML writer for the test specs (strings, numbers, lists, tables, arrays of tables)."""
    lines, tables, arrays = [], [], []
    for key, item in value.items():
        if isinstance(item, dict):
            tables.append((key, item))
        elif isinstance(item, list) and item and isinstance(item[0], dict):
            arrays.append((key, item))
        else:
            lines.append(f"{key} = {_toml_value(item)}")
    for key, item in tables:
        inline = ", ".join(f"{k} = {_toml_value(v)}" for k, v in item.items())
        lines.append(f"{key} = {{ {inline} }}")
    for key, items in arrays:
        for item in items:
            lines.append(f"[[{key}]]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def test_a_study_takes_over_another_studys_checkpoints_and_records(tiny_model, tmp_path, monkeypatch, one_thread):
    from rsebench.jobs import AttackJob, EvalJob, TrainJob

    first = tiny_spec(tiny_model, tmp_path / "first", tmp_path / "ckpt-first")
    first["train"]["seeds"] = [0]
    first_path = tmp_path / "first.toml"
    first_path.write_text(_to_toml(first))
    run_study(parse_study(first), report=False)

    second = tiny_spec(tiny_model, tmp_path / "second", tmp_path / "ckpt-second")
    second.update(name="second", reuse=[str(first_path)], reference="shared")
    second["train"]["seeds"] = [0]
    # the same trained setting under another label, and an arm of its own
    second["model"] = [{"label": "shared", "method": "simcse"}, {"label": "own", "method": "simcse", "set": {"temperature": 0.1}}]
    ran = []
    for cls in (TrainJob, EvalJob, AttackJob):
        original = cls.run
        monkeypatch.setattr(cls, "run", lambda self, *a, _original=original, **k: (ran.append((type(self).__name__, self.out if
                            isinstance(self, TrainJob) else self.model)), _original(self, *a, **k))[1])
    study = parse_study(second)
    assert [p.status for p in run_study(study, dry_run=True)][:4] == ["done", "reuse", "reuse", "reuse"]
    run_study(study, report=True)
    assert all("ckpt-second" in where for _, where in ran), "the shared arm is neither trained nor measured again"
    assert {kind for kind, _ in ran} == {"TrainJob", "EvalJob", "AttackJob"}  # the own arm runs in full
    theirs, ours = _records(tmp_path / "first"), _records(tmp_path / "second")
    taken = {k: v for k, v in ours.items() if k in theirs}
    # the training record, eval and 3 attack records: the same measurements
    assert len(taken) == 5 and all(theirs[k] == v for k, v in taken.items())
    assert not list((tmp_path / "ckpt-second").glob("shared-*"))
    table = (tmp_path / "second" / "tables" / "robustness_mr_probe_n4.md").read_text()
    assert "| shared |" in table and "| own |" in table and "tiny-simcse" not in table  # this study's labels name the rows
    # a plain `rsebench report` on the study's folder names and compares the rows as the study's report does
    from rsebench.report.render import render_report

    render_report(tmp_path / "second", formats=("markdown",), out=tmp_path / "plain", echo=lambda line: None)
    for name in ("robustness_mr_probe_n4.md", "comparisons.md", "sts.md"):
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "second" / "tables" / name).read_text(), name


def test_only_and_recipes_pick_and_order_what_runs():
    from rsebench.study import select

    chains = expand(load_study("main"))
    picked = select(chains, ["RobustSentEmbed seed 2", "ESimCSE"], ["pgd"])
    assert [c.name for c in picked] == ["RobustSentEmbed seed 2", "ESimCSE seed 0", "ESimCSE seed 1", "ESimCSE seed 2"]
    assert all([a.recipe for a in c.attacks] == ["pgd"] for c in picked) and all(c.evals and c.train for c in picked)
    assert {len(c.attacks) for c in chains} == {4}, "selecting never changes the study's own chains"
    assert select(chains) == chains
    with pytest.raises(UserError, match="--only RSE: not in this study"):
        select(chains, ["RSE"])
    with pytest.raises(UserError, match="--recipes bae: not attacked"):
        select(chains, None, ["bae"])



def test_only_names_labels_that_hold_commas(capsys):
    """`--only` is split at commas; labels with commas of their own (shipped: "RSE L-inf, batch 128") still select."""
    from rsebench.cli import main
    from rsebench.study import rejoin_names, select

    chains = expand(load_study("open-questions"))
    pieces = [p.strip() for p in "RSE L-inf, batch 128,RSE L2,batch 64 seed 0".split(",")]
    assert rejoin_names(pieces, [n for c in chains for n in (c.label, c.name)]) == ["RSE L-inf, batch 128", "RSE L2, batch 64 seed 0"]
    assert [c.label for c in select(chains, pieces)] == ["RSE L-inf, batch 128", "RSE L2, batch 64"]
    assert main(["study", "ablation", "--dry-run", "--only", "RSE paper defaults (lr 7e-6, [CLS]),SimCSE"]) == 0
    out = capsys.readouterr().out
    assert "paper defaults" in out and "w/o RTD" not in out
