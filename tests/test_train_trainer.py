"""The training loop on a tiny random BERT: resume equals an uninterrupted run, checkpoint layout and
loading, output-folder safety, and the CLI's one-line errors."""

from __future__ import annotations

import json

import numpy as np
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
    # the CPU time of a resumed run adds the saved run's to its own
    assert first.metadata["cpu_seconds"] > 0 and resumed.metadata["cpu_seconds"] > first.metadata["cpu_seconds"]
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
    # the record's cost: wall seconds and CPU seconds (load-independent), both per step
    timings = record["timings"]
    assert 0 < timings["cpu_seconds"] and timings["cpu_seconds_per_step"] == timings["cpu_seconds"] / 3
    assert timings["seconds_per_step"] == timings["seconds"] / 3


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


def test_train_record_logs_generator_and_discriminator_accuracy(tmp_path):
    spec = tiny_spec("robustsentembed", generator_lr="1e-3")
    result = train("robustsentembed", spec, out_dir=tmp_path / "run", max_steps=10, encoder=make_tiny_encoder(), sentences=CORPUS,
                   results_dir=tmp_path / "results", show_progress=False)
    history = [h for h in json.loads(result.record_path.read_text())["details"]["history"] if "rtd_acc" in h]
    assert history and all({"mlm", "mlm_acc", "rtd_acc", "rtd_prior"} <= set(h) for h in history)
    assert all(0.5 <= h["rtd_prior"] <= 1 and 0 <= h["rtd_acc"] <= 1 for h in history)


def tiny_roberta_encoder():
    """A 2-layer RoBERTa with a byte-level BPE vocabulary learnt from CORPUS (no hub, no weights)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    from rsebench.encoder import SentenceEncoder

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS * 3, trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False,
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bpe.post_processor = processors.RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                                        mask_token="<mask>", cls_token="<s>", sep_token="</s>", model_max_length=32)
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                           max_position_embeddings=40, pad_token_id=tokenizer.pad_token_id, type_vocab_size=1)
    return SentenceEncoder(RobertaModel(config), tokenizer, pooler="cls_before_pooler", max_length=16, name="tiny-roberta", source=None)


def test_tiny_roberta_runs_end_to_end(tmp_path):
    """RoBERTa-style backbone (padding id 1, positions from padding_idx + 1, <s> </s> <mask>): every part on."""
    from rsebench.encoder import SentenceEncoder

    encoder = tiny_roberta_encoder()
    before = {k: v.clone() for k, v in encoder.backbone.state_dict().items()}
    out = tmp_path / "roberta"
    result = train("robustsentembed", tiny_spec("robustsentembed"), out_dir=out, max_steps=3, encoder=encoder, sentences=CORPUS,
                   results_dir=None, show_progress=False)
    assert result.steps == 3
    after = encoder.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    vectors = SentenceEncoder.load(str(out), device="cpu").encode(["cats and dogs", "sentence number 3"])
    assert vectors.shape == (2, 32) and np.isfinite(vectors).all()


def test_training_signal_summarises_the_logged_terms():
    """The train record says whether the adversarial view was harder than the clean one and whether RTD beat its prior."""
    from rsebench.train.trainer import training_signal

    history = [{"step": 0, "dev_spearman": 0.8},
               {"step": 10, "cl_clean": 0.2, "cl_adv": 0.6, "rtd_acc": 0.70, "rtd_prior": 0.80},
               {"step": 20, "cl_clean": 0.4, "cl_adv": 1.2, "rtd_acc": 0.90, "rtd_prior": 0.80}]
    signal = training_signal(history)
    assert signal["cl_clean_mean"] == pytest.approx(0.3) and signal["cl_adv_mean"] == pytest.approx(0.9)
    assert signal["cl_adv_over_clean"] == pytest.approx(3.0)
    assert signal["rtd_acc_over_prior"] == pytest.approx(0.0)
    assert training_signal([{"step": 10, "cl_clean": 0.2}]) == {}  # SimCSE logs no adversarial term
