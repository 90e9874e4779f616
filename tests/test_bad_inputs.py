"""Bad input, one table: every case runs `rsebench.cli.main` in-process and must exit 2 with exactly one
non-empty stderr line holding the expected words, no traceback, and every file that existed before
(a finished training run, models, corpus) byte-for-byte unchanged, with nothing new created."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch

from conftest import make_tiny_encoder
from rsebench.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

CORPUS = [f"sentence number {i} is about {w} and more" for i, w in enumerate(
    "cats dogs rivers music stocks rain football coffee trains books maps wine".split())]
# The flags of the finished run in {run}: a resume with the same flags passes the identity check.
TRAIN = ["train", "--method", "simcse", "--data", "{corpus}", "--max-steps", "2", "--batch-size", "4", "--max-length", "16",
         "--eval-every", "0", "--save-every", "1", "--results-dir", "{ws}/results"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A workspace: tiny model, a finished training run, corrupt copies, a corpus, files where folders belong."""
    root = tmp_path_factory.mktemp("ws")
    tiny = root / "tiny"
    make_tiny_encoder(pooler="mean").save(tiny)
    (root / "corpus.txt").write_text("\n".join(CORPUS) + "\n")
    (root / "afile").write_text("a file, not a folder\n")
    argv = [a.format(ws=root, corpus=root / "corpus.txt") for a in TRAIN] + ["--model", str(tiny), "--out", str(root / "run")]
    torch.set_num_threads(1)
    assert main(argv) == 0
    assert (root / "run" / "training_state" / "objective.safetensors").is_file()
    for name, damage in (("trunc", "truncate"), ("garbage", "garbage")):
        shutil.copytree(tiny, root / name)
        weights = root / name / "model.safetensors"
        if damage == "truncate":
            os.truncate(weights, weights.stat().st_size // 3)
        else:
            weights.write_bytes(os.urandom(5000))
    shutil.copytree(root / "run", root / "badstate")
    state = root / "badstate" / "training_state" / "objective.safetensors"
    os.truncate(state, state.stat().st_size // 2)
    shutil.copytree(tiny, root / "nest" / "model")  # a model inside the --out folder
    (root / "labels_huge.tsv").write_text("label\tpremise\thypothesis\n200000000\ta man sleeps\tsomeone rests\n")
    (root / "labels_unknown.tsv").write_text("label\tpremise\thypothesis\nmaybe\ta man sleeps\tsomeone rests\n")
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): ("dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))}


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a CPU-only machine")
UNWRITABLE = "/sys/rsebench-unwritable-test"


def _sys_is_writable() -> bool:
    try:
        os.mkdir(UNWRITABLE)
    except OSError:
        return False
    os.rmdir(UNWRITABLE)
    return True


CASES = [
    # train: nothing in --out is touched before the model, the corpus and the location are checked
    ("train-model-typo", TRAIN + ["--model", "{ws}/tpyo", "--out", "{ws}/run", "--overwrite"], "no such folder"),
    ("train-model-is-out", TRAIN + ["--model", "{ws}/run", "--out", "{ws}/run", "--overwrite"], "lies in --out"),
    ("train-model-inside-out", TRAIN + ["--model", "{ws}/nest/model", "--out", "{ws}/nest", "--overwrite"], "lies in --out"),
    ("train-model-truncated", TRAIN + ["--model", "{ws}/trunc", "--out", "{ws}/run", "--overwrite"], "trunc/model.safetensors is corrupt"),
    ("train-model-garbage", TRAIN + ["--model", "{ws}/garbage", "--out", "{ws}/new"], "garbage/model.safetensors is corrupt"),
    ("train-data-missing", TRAIN[:3] + ["--data", "{ws}/missing.txt", "--model", "{ws}/tiny", "--out", "{ws}/run", "--overwrite"],
     "not found"),
    ("train-out-parent-is-file", TRAIN + ["--model", "{ws}/tiny", "--out", "{ws}/afile/ck"], "afile is a file"),
    ("train-out-is-file", TRAIN + ["--model", "{ws}/tiny", "--out", "{ws}/afile"], "is a file"),
    ("train-results-dir-is-file", TRAIN[:-2] + ["--results-dir", "{ws}/afile", "--model", "{ws}/tiny", "--out", "{ws}/new"],
     "--results-dir"),
    ("train-resume-corrupt-state", TRAIN + ["--model", "{ws}/tiny", "--out", "{ws}/badstate", "--resume"],
     "objective.safetensors is corrupt or truncated"),
    ("train-seed-negative", TRAIN + ["--model", "{ws}/tiny", "--out", "{ws}/new", "--seed", "-5"], "seed"),
    ("train-seed-huge", TRAIN + ["--model", "{ws}/tiny", "--out", "{ws}/new", "--seed", str(2**40)], "4294967295"),
    ("train-seed-float", TRAIN + ["--model", "{ws}/tiny", "--out", "{ws}/new", "--seed", "1e20"], "--seed"),
    ("train-lr-inf", TRAIN + ["--model", "{ws}/tiny", "--out", "{ws}/new", "--lr", "inf"], "finite"),
    # eval
    ("eval-model-truncated", ["eval", "--model", "{ws}/trunc", "--tasks", "sts13"], "trunc/model.safetensors is corrupt"),
    ("eval-model-garbage", ["eval", "--model", "{ws}/garbage", "--tasks", "sts13"], "garbage/model.safetensors is corrupt"),
    ("eval-seed-negative", ["eval", "--model", "{ws}/tiny", "--tasks", "sts13", "--seed", "-5"], "4294967295"),
    ("eval-seed-float", ["eval", "--model", "{ws}/tiny", "--tasks", "sts13", "--seed", "1e20"], "--seed"),
    ("eval-device-cuda", ["eval", "--model", "{ws}/tiny", "--tasks", "sts13", "--device", "cuda"], "no CUDA", NO_CUDA),
    ("eval-device-unknown", ["eval", "--model", "{ws}/tiny", "--tasks", "sts13", "--device", "blah"], "not a torch device"),
    ("eval-device-bad-index", ["eval", "--model", "{ws}/tiny", "--tasks", "sts13", "--device", "cuda:99"], "--device cuda:99"),
    # attack
    ("attack-eps-inf", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--eps", "inf"], "finite positive"),
    ("attack-eps-nan", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--eps", "0.1,nan"], "finite positive"),
    ("attack-step-size-negative", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--step-size", "-1"], "finite positive"),
    ("attack-step-size-zero", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--step-size", "0"], "finite positive"),
    ("attack-model-truncated", ["attack", "--recipe", "pgd", "--model", "{ws}/trunc", "--n", "2"], "trunc/model.safetensors is corrupt"),
    ("attack-seed-negative", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--seed", "-5"], "4294967295"),
    ("attack-device-unknown", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--device", "gpu"], "not a torch device"),
    ("attack-results-dir-is-file", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--results-dir", "{ws}/afile"],
     "--results-dir {ws}/afile is a file"),
    ("attack-results-dir-under-file", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--results-dir", "{ws}/afile/r"],
     "afile is a file"),
    ("attack-results-dir-unwritable", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--results-dir", UNWRITABLE],
     "cannot write", pytest.mark.skipif(_sys_is_writable(), reason="no unwritable folder on this machine")),
    ("attack-dataset-file", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--dataset", "{ws}/some.tsv"], "--victim-train"),
    ("attack-victim-label-huge", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--dataset", "snli", "--n", "2",
                                  "--victim-train", "{ws}/labels_huge.tsv"], "label 200000000 out of range"),
    ("attack-victim-label-unknown", ["attack", "--recipe", "pgd", "--model", "{ws}/tiny", "--dataset", "snli", "--n", "2",
                                     "--victim-train", "{ws}/labels_unknown.tsv"], "entailment, neutral, contradiction"),
    # bench
    ("bench-json-is-folder", ["bench", "--json", "{ws}"], "is a folder"),
    ("bench-json-under-file", ["bench", "--json", "{ws}/afile/out.json"], "afile is a file"),
    # signal
    ("signal-grid-no-values", ["signal", "--model", "{ws}/tiny", "--grid", "sentence_eps"], "FIELD=V1,V2"),
    ("signal-grid-unknown-field", ["signal", "--model", "{ws}/tiny", "--grid", "sentense_eps=0.1"], "unknown spec field 'sentense_eps'"),
    ("signal-grid-bad-value", ["signal", "--model", "{ws}/tiny", "--grid", "sentence_eps=0.1,big"], "needs a float"),
    ("signal-grid-empty-values", ["signal", "--model", "{ws}/tiny", "--grid", "sentence_eps=,"], "names no values"),
    ("signal-seed-negative", ["signal", "--model", "{ws}/tiny", "--seed", "-5"], "--seed"),
    ("signal-grid-twice", ["signal", "--model", "{ws}/tiny", "--grid", "pooler=mean", "--grid", "pooler=cls"], "twice"),
    ("signal-method-simcse", ["signal", "--model", "{ws}/tiny", "--method", "simcse"], "no adversarial view"),
    ("signal-out-under-file", ["signal", "--model", "{ws}/tiny", "--out", "{ws}/afile/signal"], "afile is a file"),
    # argparse-level mistakes are one line too
    ("unknown-option", ["eval", "--model", "{ws}/tiny", "--no-such-option"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv,needle", [pytest.param(argv, needle, marks=marks, id=name) for name, argv, needle, *marks in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_changes(ws, tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.setenv("RSEBENCH_CACHE", str(tmp_path / "cache"))
    argv = [a.format(ws=ws, corpus=ws / "corpus.txt") for a in argv]
    if argv[0] in ("eval", "attack") and "--results-dir" not in argv:
        argv += ["--results-dir", str(ws / "results")]
    before = snapshot(ws)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert needle.format(ws=ws) in lines[0], lines[0]
    assert snapshot(ws) == before
