"""Golden files: the fixture records in tests/golden/records render to exactly tests/golden/expected/.

After an intended change of the output, regenerate with RSEBENCH_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rsebench.report.render import render_report

GOLDEN = Path(__file__).resolve().parent / "golden"
FORMATS = ("latex", "markdown", "csv")


def _render(tmp_path: Path, fmt: str) -> dict[str, bytes]:
    out = tmp_path / fmt
    render_report(GOLDEN / "records", formats=(fmt,), out=out, reported=GOLDEN / "reported.toml", echo=lambda line: None)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("fmt", FORMATS)
def test_fixture_records_render_to_the_golden_files(tmp_path, fmt):
    produced = _render(tmp_path, fmt)
    expected_dir = GOLDEN / "expected" / fmt
    if os.environ.get("RSEBENCH_UPDATE_GOLDEN") == "1":
        shutil.rmtree(expected_dir, ignore_errors=True)
        expected_dir.mkdir(parents=True)
        for name, content in produced.items():
            (expected_dir / name).write_bytes(content)
    expected = {p.name: p.read_bytes() for p in sorted(expected_dir.iterdir())}
    assert sorted(produced) == sorted(expected)
    for name in expected:
        assert produced[name] == expected[name], f"{fmt}/{name} differs from the golden file"


def test_same_records_give_byte_identical_files(tmp_path):
    first = _render(tmp_path / "a", "latex")
    again = _render(tmp_path / "b", "latex")
    assert first == again and first
