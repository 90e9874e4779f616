"""Method specs (types, overrides, hash) and the training-step benchmark on a tiny model."""

from __future__ import annotations

import json

import pytest
import torch

from rsebench.cli import main
from rsebench.errors import UserError
from rsebench.registry import method_names
from rsebench.train.spec import hash_spec, load_spec


@pytest.mark.parametrize("method", method_names())
def test_specs_hold_the_papers_common_defaults(method):
    spec = load_spec(method)
    assert spec["method"] == method and spec["batch_size"] == 64 and spec["max_length"] == 32 and spec["temperature"] == 0.05


def test_robustsentembed_defaults_follow_the_paper():
    spec = load_spec("robustsentembed")
    assert (spec["lr"], spec["epochs"], spec["rtd_weight"], spec["rtd_mask_ratio"]) == (7e-6, 2, 0.005, 0.2)
    assert (spec["token_steps"], spec["token_step_size"], spec["sentence_steps"]) == (4, 0.02, 4)
    assert spec["regularizer_weight"] == 1 / 128 and spec["sentence_eps"] > 1e-4  # not the official code's 1e-6


def test_overrides_are_typed_and_change_the_hash():
    base = load_spec("robustsentembed")
    changed = load_spec("robustsentembed", {"sentence_eps": "0.02", "rtd": "false", "token_steps": "2", "sentence_norm": "l2"})
    assert changed["sentence_eps"] == 0.02 and changed["rtd"] is False and changed["token_steps"] == 2
    assert hash_spec(base) != hash_spec(changed) and hash_spec(base) == hash_spec(load_spec("robustsentembed"))
    for bad in ({"token_steps": "two"}, {"rtd": "maybe"}, {"sentence_norm": "l3"}, {"lr": "-1"}, {"method": "simcse"}):
        with pytest.raises(UserError):
            load_spec("robustsentembed", bad)


def test_bench_train_prints_ratios_to_simcse(tmp_path, capsys):
    threads = torch.get_num_threads()
    out = tmp_path / "bench.json"
    try:
        code = main(["bench", "--what", "train", "--model", "tiny", "--batch-size", "4", "--max-length", "12", "--repeats", "1",
                     "--warmup", "0", "--threads", "1", "--set", "token_steps=1", "--set", "sentence_steps=1",
                     "--methods", "simcse,robustsentembed,robustsentembed-fast", "--json", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    printed = capsys.readouterr().out
    assert "robustsentembed" in printed and "x SimCSE" in printed
    report = json.loads(out.read_text())["train"]
    rows = {row["method"]: row for row in report["rows"]}
    assert report["ratio_to_simcse"] == {name: row["ratio_to_simcse"] for name, row in rows.items()}
    assert rows["simcse"]["ratio_to_simcse"] == 1.0 and rows["simcse"]["encoder_passes"] == 2.0
    assert rows["robustsentembed"]["encoder_passes"] == 4.0  # 2N clean + 1 search step + the adversarial view
    assert rows["robustsentembed-fast"]["encoder_passes"] == 4.0  # the preset's single search step


def test_named_preset_is_its_method_with_the_preset_fields():
    from rsebench.train.spec import preset_names

    assert preset_names()["robustsentembed-fast"] == "robustsentembed"
    base, fast = load_spec("robustsentembed"), load_spec("robustsentembed-fast")
    assert fast["method"] == "robustsentembed" and fast["preset"] == "robustsentembed-fast"
    assert (fast["token_steps"], fast["sentence_steps"]) == (1, 1)
    assert fast["token_steps"] * fast["token_step_size"] == pytest.approx(base["token_steps"] * base["token_step_size"])
    assert fast["sentence_steps"] * fast["sentence_step_size"] == pytest.approx(base["sentence_steps"] * base["sentence_step_size"])
    changed = {k for k in base if base[k] != fast[k]}
    assert changed == {"name", "description", "token_steps", "token_step_size", "sentence_steps", "sentence_step_size"}
    assert hash_spec(base) != hash_spec(fast)
    assert load_spec("robustsentembed-fast", {"token_steps": "2"})["token_steps"] == 2  # overrides apply on top
    with pytest.raises(UserError, match="robustsentembed-fast"):
        load_spec("robustsentembed-fastest")
