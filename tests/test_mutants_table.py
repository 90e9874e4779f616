"""The mutation check's table stays valid: every pattern occurs exactly once in its file (a refactor
cannot silently make a mutation a no-op) and every named test exists. The check itself
(`python tests/mutants.py`, `tox -e mutants`) is a separate slow job."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def load_mutants():
    path = Path(__file__).resolve().parent / "mutants.py"
    spec = importlib.util.spec_from_file_location("rsebench_mutants", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_mutation_table_is_well_formed():
    mutants = load_mutants()
    assert mutants.check_table() == []
    assert len(mutants.MUTATIONS) >= 20
    paths = {m.path for m in mutants.MUTATIONS}
    assert any(p.startswith("rsebench/train/") for p in paths) and any(p.startswith("rsebench/robustness/") for p in paths)


def test_a_stale_pattern_is_reported(tmp_path):
    mutants = load_mutants()
    for name in ("rsebench/train", "rsebench/robustness", "tests"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    first = mutants.MUTATIONS[0]
    (tmp_path / first.path).write_text("nothing to mutate here\n")
    problems = mutants.check_table(tmp_path)
    assert any(p.startswith(f"{first.name}: pattern found 0 times") for p in problems)
