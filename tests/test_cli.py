"""CLI: user mistakes print one line on stderr, exit 2, no traceback."""

import subprocess
import sys

import pytest

from rsebench.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "rsebench", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,needle", [
    (["eval", "--model", "/no/such/model"], "not found"),
    (["eval", "--model", "default", "--tasks", "nope"], "unknown task 'nope'"),
])
def test_bad_input_one_line(args, needle, tmp_path):
    result = run_cli(*args, "--results-dir", str(tmp_path))
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir()), "nothing written on error"


def test_unwritable_results_dir(tmp_path, tiny_encoder, capsys):
    tiny_encoder.save(tmp_path / "tiny")
    (tmp_path / "results").write_text("a file, not a folder")
    code = main(["eval", "--model", str(tmp_path / "tiny"), "--tasks", "sts13", "--results-dir", str(tmp_path / "results")])
    assert code == 2
    assert "is a file" in capsys.readouterr().err
    assert (tmp_path / "results").read_text() == "a file, not a folder"


def test_list_and_doctor():
    result = run_cli("list", "datasets")
    assert result.returncode == 0 and "sts12" in result.stdout and "mr" in result.stdout
    doctor = run_cli("doctor")
    assert "default encoder" in doctor.stdout
