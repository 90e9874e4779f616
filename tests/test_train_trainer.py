"""The training loop on a tiny random BERT: resume equals an uninterrupted run, checkpoint layout and
loading, output-folder safety, and the CLI's one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import make_tiny_encoder
from rsebench.cli import main
from rsebench.errors import UserError
from rsebench.train.spec import load_spec
from rsebench.train.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread")


CORPUS = [f"sentence number {i} talks about {w} and other things" for i, w in enumerate(
    "cats dogs rivers music stocks rain football coffee trains books maps wine stars chess glass salt".split())]
CORPUS.append(" ".join(["a very long sentence"] * 60))  # longer than max_length: truncated, not an error


def tiny_spec(method: str, **extra) -> dict:
    fields = {"epochs": "2", "batch_size": "4", "eval_every": "0", "save_every": "2", "max_length": "16", "lr": "1e-3"}
    if method == "robustsentembed":
        fields.update(token_steps="1", sentence_steps="2", rtd_mask_ratio="0.3")
    if method == "esimcse":
        fields.update(queue_size="6")
    fields.update({k: str(v) for k, v in extra.items()})
    return load_spec(method, fields)


def state_tensors(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "training_state" / "objective.safetensors"))


@pytest.mark.parametrize("method", ["esimcse", "robustsentembed"])
def test_resume_reproduces_an_uninterrupted_run(tmp_path, method):
    spec = tiny_spec(method)
    whole = train(method, spec, out_dir=tmp_path / "whole", max_steps=5, encoder=make_tiny_encoder(), sentences=CORPUS,
                  results_dir=None, show_progress=False)
    first = train(method, spec, out_dir=tmp_path / "split", max_steps=5, encoder=make_tiny_encoder(), sentences=CORPUS,
                  results_dir=None, show_progress=False, stop_at_step=3)
    assert first.steps == 3 and not (tmp_path / "split" / "model.safetensors").exists()
    resumed = train(method, spec, out_dir=tmp_path / "split", max_steps=5, encoder=make_tiny_encoder(seed=123), sentences=CORPUS,
                    results_dir=None, show_progress=False, resume=True)
    assert whole.steps == resumed.steps == 5
    a, b = state_tensors(tmp_path / "whole"), state_tensors(tmp_path / "split")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:3]
    # ...and the run really moved the weights
    untouched = make_tiny_encoder().backbone.state_dict()
    assert not torch.equal(a["encoder.backbone.encoder.layer.0.output.dense.weight"], untouched["encoder.layer.0.output.dense.weight"])


def test_checkpoint_is_a_sentence_transformers_model_without_training_heads(tmp_path):
    from safetensors import safe_open
    from sentence_transformers import SentenceTransformer

    from rsebench.encoder import SentenceEncoder

    out = tmp_path / "ckpt"
    spec = tiny_spec("robustsentembed", eval_every=2, dev_size=16)
    result = train("robustsentembed", spec, out_dir=out, max_steps=3, encoder=make_tiny_encoder(), sentences=CORPUS,
                   results_dir=tmp_path / "results", show_progress=False)
    meta = json.loads((out / "rsebench.json").read_text())
    for key in ("method", "spec_hash", "seed", "data_hash", "best_dev", "versions", "generator"):
        assert meta.get(key) is not None, key
    assert meta["best_dev"] == result.best_dev and meta["steps"] == 3
    with safe_open(str(out / "model.safetensors"), "pt") as handle:
        keys = list(handle.keys())
    assert not [k for k in keys if any(w in k for w in ("head.", "generator", "discriminator", "momentum"))]
    sentences = ["a cat on a mat", "stocks fell on monday"]
    ours = SentenceEncoder.load(str(out), device="cpu").encode(sentences)
    theirs = SentenceTransformer(str(out), device="cpu").encode(sentences)
    assert ours.shape == theirs.shape and abs(ours - theirs).max() < 1e-5
    record = json.loads(result.record_path.read_text())
    assert record["kind"] == "train" and record["metrics"]["best_dev_spearman"] == result.best_dev
    assert record["data"]["hash"] == meta["data_hash"] and record["details"]["generator"].startswith("joint")


def test_out_dir_guard_never_clobbers(tmp_path):
    spec = tiny_spec("simcse")
    out = tmp_path / "run"
    train("simcse", spec, out_dir=out, max_steps=1, encoder=make_tiny_encoder(), sentences=CORPUS, results_dir=None, show_progress=False)
    with pytest.raises(UserError, match="already holds a training run"):
        train("simcse", spec, out_dir=out, max_steps=1, encoder=make_tiny_encoder(), sentences=CORPUS, results_dir=None)
    with pytest.raises(UserError, match="different spec_hash"):
        train("simcse", tiny_spec("simcse", lr="2e-3"), out_dir=out, max_steps=1, encoder=make_tiny_encoder(), sentences=CORPUS,
              results_dir=None, resume=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not an rsebench training run"):
        train("simcse", spec, out_dir=other, max_steps=1, encoder=make_tiny_encoder(), sentences=CORPUS, results_dir=None, overwrite=True)
    assert (other / "notes.txt").read_text() == "keep me"
    (out / "my_notes.txt").write_text("mine")
    train("simcse", spec, out_dir=out, max_steps=1, encoder=make_tiny_encoder(), sentences=CORPUS, results_dir=None, overwrite=True,
          show_progress=False)
    assert (out / "my_notes.txt").read_text() == "mine"  # --overwrite removes only what a run writes


def _cli_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_cli_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert "unknown method" in _cli_error(capsys, ["train", "--method", "bert", "--out", out])
    assert "not found" in _cli_error(capsys, ["train", "--method", "simcse", "--data", str(tmp_path / "missing.txt"), "--out", out])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert "no sentences" in _cli_error(capsys, ["train", "--method", "simcse", "--data", str(empty), "--out", out])
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    assert "UTF-8" in _cli_error(capsys, ["train", "--method", "simcse", "--data", str(latin), "--out", out])
    assert "unknown spec field" in _cli_error(capsys, ["train", "--method", "simcse", "--set", "nope=1", "--out", out])
    assert "needs a float" in _cli_error(capsys, ["train", "--method", "robustsentembed", "--set", "sentence_eps=big", "--out", out])
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "rsebench.json").write_text(json.dumps({"method": "esimcse"}))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS))
    assert "already holds a training run" in _cli_error(capsys, ["train", "--method", "simcse", "--data", str(corpus), "--out", str(taken)])
    assert (taken / "rsebench.json").is_file()
