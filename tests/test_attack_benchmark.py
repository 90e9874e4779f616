"""`bench --what attack`: stock TextAttack and rsebench give identical outcomes on one victim; counts add up."""

from __future__ import annotations

import json

import pytest
import torch

from rsebench.robustness.runner import select_examples
from rsebench.robustness.victim import Victim


def _tiny_victim():
    from rsebench.robustness.benchmark import tiny_encoder

    victim = Victim(tiny_encoder(), 2, "probe")
    torch.manual_seed(0)
    with torch.no_grad():
        victim.head.weight.normal_(0, 5.0)
    return victim.eval()


def test_stock_and_rsebench_sides_agree_and_count_the_same_work():
    from rsebench.robustness.benchmark import compare_throughput
    from rsebench.robustness.parallel import fork_available

    threads = torch.get_num_threads()
    try:  # 3 timed + 2 warm-up examples; two forked workers; the 512-token line on the first block
        report = compare_throughput(_tiny_victim(), "deepwordbug", select_examples("mr", 5), n=3, workers=2, threads=1,
                                    n_512=2, block=2)
    finally:
        torch.set_num_threads(threads)
    assert report["workers"] == (2 if fork_available() else 1)
    assert report["identical_outcomes"], report["differing_examples"]
    assert report["stock_512"]["identical_outcomes"] and report["stock_512"]["examples"] == 2
    sides = report["sides"]
    stock, fast = sides["stock_equal_length"], sides["rsebench"]
    assert stock["examples"] == fast["examples"] == 3 and report["warmup_examples"] == 2
    assert stock["result_types"] == fast["result_types"] and sum(fast["result_types"].values()) == 3
    # The same texts reach the model on both sides (workers' counts are summed in the parent), and
    # TextAttack's queries also count the inputs its own cache answered.
    assert stock["forward_rows"] == fast["forward_rows"] > 0
    assert fast["forward_rows"] <= fast["textattack_queries"] == stock["textattack_queries"]
    assert 1 <= fast["forward_calls"] <= fast["forward_rows"]
    assert report["speedup_vs_stock_equal_length"] == pytest.approx(fast["examples_per_second"] / stock["examples_per_second"])


def test_outcome_check_catches_a_stock_side_that_sees_different_inputs():
    from rsebench.robustness.benchmark import compare_throughput

    # Capping the stock tokenizer at 3 tokens ([CLS] w [SEP]) changes what its model sees: outcomes must differ.
    report = compare_throughput(_tiny_victim(), "deepwordbug", select_examples("mr", 3), n=3, workers=1, max_length=3)
    assert not report["identical_outcomes"] and report["differing_examples"]


def test_equal_length_is_the_longest_attack_set_input():
    from rsebench.data import dataset_info, load_dataset
    from rsebench.encoder import default_model_path
    from rsebench.robustness.benchmark import longest_input
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    data = load_dataset("mr", dataset_info("mr").attack_split)
    longest = longest_input(tokenizer, "mr")
    assert longest == max(len(tokenizer(text)["input_ids"]) for text in data.texts)


def test_fast_wrapper_returns_the_stock_logits():
    from rsebench.robustness.benchmark import stock_model, tiny_encoder
    from rsebench.robustness.recipes import import_textattack
    from rsebench.robustness.wrapper import VictimModelWrapper

    textattack = import_textattack()
    victim = Victim(tiny_encoder(), 2, "probe").eval()
    texts = ["a short one", "a much longer sentence that needs far more padding than the first one does", "a short one"]
    stock = textattack.models.wrappers.HuggingFaceModelWrapper(stock_model(victim), victim.tokenizer)(texts)
    fast = VictimModelWrapper(victim, batch_size=2)
    assert torch.allclose(fast(texts), stock, atol=1e-5)
    assert fast.queries == 2 and fast.calls == 3  # the repeated text came from the cache
    pairs = [("a man sleeps .", "nobody sleeps ."), ("a dog runs", "an animal moves")]
    assert fast(pairs).shape == (2, 2)


@pytest.mark.slow
def test_bench_attack_cli_writes_the_json_fields(tmp_path, capsys):
    from rsebench.cli import main

    out = tmp_path / "bench.json"
    threads = torch.get_num_threads()
    try:
        code = main(["bench", "--what", "attack", "--model", "tiny", "--n", "2", "--n-512", "1", "--victim-max-train", "200",
                     "--threads", "1", "--workers", "1", "--block", "1", "--json", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    report = json.loads(out.read_text())
    recipe = report["attack"]["recipes"]["deepwordbug"]
    assert recipe["examples"] == 2 and isinstance(recipe["identical_outcomes"], bool)
    assert recipe["speedup_vs_stock_equal_length"] > 0 and recipe["stock_512"]["examples"] == 1
    assert "cpu" in report["machine"] and "x stock TextAttack at equal length" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_all_writes_one_json_with_every_mode(tmp_path):
    from rsebench.cli import main

    out = tmp_path / "all.json"
    threads = torch.get_num_threads()
    try:
        code = main(["bench", "--what", "all", "--model", "tiny", "--threads", "1", "--repeats", "1", "--warmup", "0", "--batch-size", "4",
                     "--max-length", "12", "--methods", "simcse,robustsentembed-fast", "--n", "1", "--n-512", "0", "--workers", "1",
                     "--victim-max-train", "200", "--sentences", "16", "--json", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report) == {"machine", "train", "attack", "encode"}
    assert set(report["train"]["ratio_to_simcse"]) == {"simcse", "robustsentembed-fast"}
    assert report["encode"]["vectors_equal"] is True
    assert report["attack"]["recipes"]["deepwordbug"]["examples"] == 1
