"""Records: round trip, validation, atomic writes, unwritable folders."""

import json
import os

import pytest

from rsebench.errors import UserError
from rsebench.records import SCHEMA, RecordError, make_record, read_record, read_records, validate, write_record


def sample(**overrides):
    record = make_record("sts", model={"name": "m", "fingerprint": "abcdef123456"}, task={"name": "stsb", "split": "test", "n": 3},
                         metrics={"spearman_cosine": 0.5, "pearson_cosine": 0.4}, settings={}, timings={"seconds": 1.0})
    record.update(overrides)
    return record


def test_round_trip(tmp_path):
    record = sample()
    path = write_record(record, tmp_path)
    assert path.parent.name == "m-abcdef12" and path.name == "sts-stsb.json"
    assert read_record(path) == record
    assert record["environment"]["packages"]["torch"]
    records, problems = read_records(tmp_path)
    assert len(records) == 1 and not problems


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = write_record(sample(), tmp_path)
    before = path.read_text()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(UserError, match="No space left"):
        write_record(sample(metrics={"spearman_cosine": 0.9}), tmp_path)
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name], "temporary file left behind"


@pytest.mark.parametrize("change,message", [
    ({"schema": "rsebench.record/0"}, "unknown schema"),
    ({"metrics": {"spearman_cosine": "82.0%"}}, "fractions"),
    ({"kind": "other"}, "unknown kind"),
    ({"task": "stsb"}, "task"),
])
def test_validation(change, message):
    with pytest.raises(RecordError, match=message):
        validate(sample(**change))


def test_invalid_files_are_reported_not_fatal(tmp_path):
    write_record(sample(), tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "old.json").write_text(json.dumps({**sample(), "schema": "x"}))
    records, problems = read_records(tmp_path)
    assert len(records) == 1 and len(problems) == 2
    assert SCHEMA


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
