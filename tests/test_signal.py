"""`rsebench signal`: the adversarial-positive diagnostic (issue 12) measures what it says.

The adversarial view must be a harder positive than the random-noise control of the same size (the
search ascends), the grid must pair radii with their steps, and the command writes what it prints."""

from __future__ import annotations

import json

import pytest

from conftest import make_tiny_encoder
from rsebench.cli import main
from rsebench.train.signal import adversarial_signal, grid_settings, random_like
from rsebench.train.spec import load_spec

pytestmark = pytest.mark.usefixtures("one_thread")

SENTENCES = [f"the {w} sat near the {v} all day long" for w in "cat dog bird fox cow owl".split() for v in "river tree house".split()]


def _batches(encoder, n: int = 2, size: int = 8):
    return [encoder.tokenize(SENTENCES[i * size:(i + 1) * size], max_length=16) for i in range(n)]


def test_grid_is_a_product_and_radii_carry_their_step():
    spec = load_spec("robustsentembed")
    settings = grid_settings(spec, {"sentence_eps": [0.02, 0.04], "pooler": ["mean", "cls"]})
    assert len(settings) == 4
    ratio = spec["sentence_step_size"] / spec["sentence_eps"]
    assert all(s["sentence_step_size"] == pytest.approx(ratio * s["sentence_eps"]) for s in settings)
    explicit = grid_settings(spec, {"sentence_eps": [0.02], "sentence_step_size": [0.001]})
    assert explicit == [{"sentence_eps": 0.02, "sentence_step_size": 0.001}]


def test_random_control_has_the_perturbations_norm_and_spares_padding():
    import torch

    delta = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    delta = delta * mask.unsqueeze(-1)
    noise = random_like(delta, mask, torch.Generator().manual_seed(0))
    assert torch.allclose(noise.flatten(1).norm(dim=1), delta.flatten(1).norm(dim=1), atol=1e-5)
    assert noise[mask == 0].abs().sum() == 0


def test_the_search_makes_a_harder_positive_than_noise_of_its_size():
    encoder = make_tiny_encoder(pooler="mean")
    overrides = {"token_perturbation": "false", "sentence_eps": "0.05", "sentence_step_size": "0.0125"}
    spec = load_spec("robustsentembed", overrides)
    off = load_spec("robustsentembed", {**overrides, "sentence_perturbation": "false"})
    rows = adversarial_signal(encoder, "robustsentembed", [({"search": True}, spec), ({"search": False}, off)], _batches(encoder))
    searched, none = rows
    assert searched["l_adv"] > 1.25 * searched["l_rand"]  # ascent, not noise: an inverted step falls below the control
    assert searched["l_adv"] > 1.25 * searched["l_clean"] and searched["grad_ratio"] > 1
    # without a search delta is zero: the "adversarial" view is a third dropout view, as hard as the clean one
    assert none["delta_sent_max"] == 0 and none["l_adv"] == pytest.approx(none["l_clean"], rel=0.5)
    # paired: every setting sees the same batches and dropout masks
    assert searched["l_clean"] == none["l_clean"]


def test_command_writes_the_table_it_prints(tmp_path, capsys):
    tiny = tmp_path / "tiny"
    make_tiny_encoder(pooler="mean").save(tiny)
    out = tmp_path / "signal"
    argv = ["signal", "--model", str(tiny), "--grid", "sentence_eps=0.01,0.05", "--set", "token_perturbation=false",
            "--batches", "1", "--batch-size", "4", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "signal.json").read_text())
    assert [r["setting"]["sentence_eps"] for r in report["rows"]] == [0.01, 0.05]
    assert (out / "signal.md").read_text() in printed
    assert report["rows"][1]["sentence_eps_rel"] == pytest.approx(0.05 / report["scale"]["rms"])
