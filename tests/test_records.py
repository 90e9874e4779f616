"""Records: round trip, identity (never collide, reruns replace), validation, strict JSON, atomic writes,
upgrading rsebench.record/1 files."""

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from rsebench.errors import UserError
from rsebench.records import (SCHEMA, Record, RecordError, make_record, model_key, read_record, read_records, record_filename,
                              validate, write_record)

MODEL = {"name": "m", "fingerprint": "abcdef123456", "method": "pretrained", "pooler": "mean"}
MODEL = {**MODEL, "key": model_key(MODEL)}


def sample(identity=None, metrics=None, **task):
    return make_record("sts", model=MODEL, task={"name": "stsb", "split": "test", "n": 3, "variant": "original", **task},
                       metrics=metrics or {"spearman_cosine": 0.5, "pearson_cosine": 0.4}, settings={}, timings={"seconds": 1.0},
                       identity=identity or {"task": "stsb", "split": "test", "variant": "original"})


def test_round_trip(tmp_path):
    record = sample()
    path = write_record(record, tmp_path)
    assert path.parent.name == f"m-{MODEL['key'][:8]}"
    assert path.name == f"sts-stsb-{record.identity_hash[:8]}.json"
    again = read_record(path)
    assert again.to_json() == record.to_json()
    assert again.schema == SCHEMA and again.environment["packages"]["torch"]
    records, problems = read_records(tmp_path)
    assert len(records) == 1 and not problems and records[0].path == str(path.relative_to(tmp_path))


def test_different_identity_never_overwrites(tmp_path):
    """Two settings that differ in anything that can change the numbers are two files."""
    first = write_record(sample(), tmp_path)
    second = write_record(sample(identity={"task": "stsb", "split": "test", "variant": "senteval"}), tmp_path)
    assert first != second and first.is_file() and second.is_file()


def test_same_identity_is_the_same_file(tmp_path):
    """A rerun of the same identity (e.g. another machine, numbers differing in the last bits) replaces it."""
    first = write_record(sample(), tmp_path)
    second = write_record(sample(metrics={"spearman_cosine": 0.5000001, "pearson_cosine": 0.4}), tmp_path)
    assert first == second and read_record(first).metrics["spearman_cosine"] == 0.5000001


def test_trained_model_key_ignores_weights_but_not_settings():
    """A checkpoint is named by how it was trained: the same run with other last bits is the same model;
    another seed or spec is another model."""
    trained = {"name": "simcse", "method": "simcse", "spec_hash": "s1", "train_seed": 0, "data_hash": "d", "backbone": "b",
               "total_steps": 10, "pooler": "mean", "fingerprint": "aaaa"}
    assert model_key(trained) == model_key({**trained, "fingerprint": "bbbb"})
    for change in ({"train_seed": 1}, {"spec_hash": "s2"}, {"pooler": "cls"}, {"total_steps": 11}, {"data_hash": "e"}):
        assert model_key(trained) != model_key({**trained, **change}), change
    pretrained = {"name": "m", "method": "pretrained", "fingerprint": "aaaa", "pooler": "mean"}
    assert model_key(pretrained) != model_key({**pretrained, "fingerprint": "bbbb"})


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = write_record(sample(), tmp_path)
    before = path.read_text()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(UserError, match="No space left"):
        write_record(sample(metrics={"spearman_cosine": 0.9, "pearson_cosine": 0.4}), tmp_path)
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name], "temporary file left behind"


@pytest.mark.parametrize("change,message", [
    ({"schema": "rsebench.record/0"}, "unknown schema"),
    ({"metrics": {"spearman_cosine": "82.0%"}}, "fractions"),
    ({"metrics": {"spearman_cosine": float("nan")}}, "finite"),
    ({"metrics": {"spearman_cosine": [0.1, float("inf")]}}, "finite"),
    ({"kind": "other"}, "unknown kind"),
    ({"task": "stsb"}, "task"),
    ({"task": {"name": "stsb", "split": "test", "n": 3}}, "task.variant"),
    ({"identity_hash": "0" * 16}, "identity_hash"),
])
def test_validation(change, message):
    with pytest.raises(RecordError, match=message):
        validate({**sample().to_json(), **change})


def test_strict_json_on_disk(tmp_path):
    """NaN/Infinity never reach a file, and a file holding them is refused on read."""
    path = write_record(sample(), tmp_path)
    text = path.read_text().replace('"spearman_cosine": 0.5', '"spearman_cosine": NaN')
    path.write_text(text)
    with pytest.raises(RecordError, match="NaN"):
        read_record(path)


def test_invalid_files_are_reported_not_fatal(tmp_path):
    write_record(sample(), tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "old.json").write_text(json.dumps({**sample().to_json(), "schema": "x"}))
    records, problems = read_records(tmp_path)
    assert len(records) == 1 and len(problems) == 2


def test_reads_version_1_records():
    """The committed rsebench.record/1 files are upgraded on read: identity, model key and the recipe's
    substitute variant filled in from what they stored."""
    root = Path(__file__).resolve().parent.parent / "results" / "demo-v1"
    records, problems = read_records(root)
    assert not problems and records
    textfooler = [r for r in records if r.kind == "attack" and r.task["recipe"] == "textfooler"]
    assert textfooler and all(r.task["variant"] == "textfooler-local" and r.task["attack"] == "textfooler-local" for r in textfooler)
    pgd = [r for r in records if r.kind == "attack" and r.task["recipe"] == "pgd"]
    assert pgd and all(r.task["attack"].startswith("pgd-linf-eps") for r in pgd)
    assert len({r.identity_hash for r in records}) == len(records), "two committed records share an identity"


def test_unwritable_results_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="is a file"):
        write_record(sample(), blocker)
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(UserError, match="permission denied"):
            write_record(sample(), locked)


def test_missing_results_dir(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_records(tmp_path / "nothing")


def test_filename_names_n_and_identity():
    attack = make_record("attack", model=MODEL, task={"name": "mr", "split": "test", "attack": "pgd-linf-eps0.01", "recipe": "pgd",
                                                      "variant": "pgd", "victim": "probe", "n": 8},
                         metrics={}, settings={}, timings={}, identity={"n": 8}, seed=0, example_ids=["a"] * 8)
    assert record_filename(attack).endswith(f"attack-mr-pgd-linf-eps0.01-probe-n8-seed0-{attack.identity_hash[:8]}.json")
    other = replace(attack, identity={**attack.identity, "n": 4})
    assert record_filename(other) != record_filename(attack)
    assert isinstance(attack, Record)


def test_report_keeps_one_record_per_identity(tmp_path):
    """The same run twice (e.g. another machine's copy under another folder name) is a rerun, not a second
    seed: the report keeps the newest and says which one it set aside."""
    from rsebench.report.collect import collect

    trained = {"name": "simcse", "method": "simcse", "spec_hash": "s1", "train_seed": 0, "data_hash": "d", "backbone": "b",
               "total_steps": 10, "pooler": "mean", "fingerprint": "aaaa"}
    first = make_record("sts", model={**trained, "key": model_key(trained)}, task={"name": "stsb", "split": "test", "n": 3,
                        "variant": "original"}, metrics={"spearman_cosine": 0.5}, settings={}, timings={},
                        identity={"task": "stsb", "split": "test", "variant": "original"})
    first.created = "2026-01-01T00:00:00+00:00"
    rerun = replace(first, model={**first.model, "name": "simcse-other-machine", "fingerprint": "bbbb"},
                    metrics={"spearman_cosine": 0.5000001}, created="2026-02-01T00:00:00+00:00")
    old_path = write_record(first, tmp_path)
    new_path = write_record(rerun, tmp_path)
    assert old_path != new_path and first.identity_hash == rerun.identity_hash
    collection = collect(tmp_path)
    assert [r["metrics"]["spearman_cosine"] for r in collection.records] == [0.5000001]
    assert any("rerun" in line and str(old_path.relative_to(tmp_path)) in line for line in collection.skipped)
