"""`rsebench bench --what attack`: attack throughput of rsebench's wrapper against stock TextAttack.

Both sides attack the same victim (same weights, same computation) on the same examples with the
same recipe and per-example seeds. The stock side is TextAttack's own path: `HuggingFaceModelWrapper`
around a `transformers.PreTrainedModel` that runs the victim (every query padded to the tokenizer's
maximum length, TextAttack's default batch of 32, its per-example output cache). The fast side is
`VictimModelWrapper` (dynamic padding, length-sorted batches, text-keyed output cache). The outcomes
(result type and perturbed text per example) must be identical; the report says whether they are.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rsebench.jobs.options import positive_int


def configure_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--what attack (uses --model: 'tiny' is a random 2-layer BERT, 'default' MiniLM; --batch-size; --json)")
    group.add_argument("--recipe", default="deepwordbug", help="TextAttack recipe to time (default: deepwordbug)")
    group.add_argument("--dataset", default="mr", help="attack set (default: mr)")
    group.add_argument("--n", type=positive_int, default=10, help="examples to attack on each side (default: 10)")
    group.add_argument("--victim-max-train", type=positive_int, default=2000, help="probe victim training examples (default: 2000)")


def tiny_encoder(seed: int = 0):
    """A random 2-layer, 32-wide BERT with the MiniLM tokenizer, 512 positions (the stock wrapper pads to 512)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rsebench.encoder import SentenceEncoder, default_model_path

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=512)
    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    return SentenceEncoder(BertModel(config), tokenizer, pooler="mean", max_length=512, name="tiny-bert-512")


def stock_model(victim):
    """The victim as a `transformers.PreTrainedModel` (what `HuggingFaceModelWrapper` accepts): same modules, same forward."""
    from transformers import PreTrainedModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    class VictimForSequenceClassification(PreTrainedModel):
        config_class = type(victim.encoder.backbone.config)
        base_model_prefix = "victim"
        _supports_sdpa = True  # attention runs inside the wrapped backbone, which chose its own implementation

        def __init__(self, config, wrapped):
            super().__init__(config)
            self.victim = wrapped

        def get_input_embeddings(self):
            return self.victim.encoder.word_embeddings()

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_):
            return SequenceClassifierOutput(logits=self.victim(input_ids=input_ids, attention_mask=attention_mask,
                                                               token_type_ids=token_type_ids))

    import copy

    return VictimForSequenceClassification(copy.deepcopy(victim.encoder.backbone.config), victim).eval()


def _outcome(line: dict) -> tuple:
    return line["result_type"], json.dumps(line["perturbed"], sort_keys=True), line["perturbed_output"], line["queries"]


def compare_throughput(victim, recipe_name: str, examples, seed: int = 0, batch_size: int = 64) -> dict:
    """Attack `examples` with stock TextAttack and with rsebench's wrapper; times, ratio, outcome check."""
    from rsebench.robustness.recipes import build_attack, import_textattack, load_recipe
    from rsebench.robustness.runner import _example_input, _textattack_line, seed_example
    from rsebench.robustness.wrapper import VictimModelWrapper

    textattack = import_textattack()
    recipe = load_recipe(recipe_name)
    victim.eval()
    sides = {
        "stock": textattack.models.wrappers.HuggingFaceModelWrapper(stock_model(victim), victim.tokenizer),
        "rsebench": VictimModelWrapper(victim, batch_size=batch_size),
    }
    report: dict = {"recipe": recipe_name, "examples": len(examples), "batch_size": batch_size}
    outcomes = {}
    for name, wrapper in sides.items():
        attack, _ = build_attack(recipe, wrapper)
        if name == "rsebench":
            attack.goal_function.batch_size = batch_size
        lines = []
        start = time.perf_counter()
        for position in range(len(examples)):
            seed_example(seed, examples.ids[position])
            if name == "rsebench":
                wrapper.clear_cache()
            lines.append(_textattack_line(attack.attack(_example_input(examples, position), int(examples.labels[position]))))
        seconds = time.perf_counter() - start
        outcomes[name] = [_outcome(line) for line in lines]
        report[name] = {"seconds": seconds, "examples_per_second": len(examples) / seconds,
                        "queries": sum(line["queries"] for line in lines),
                        "result_types": {t: sum(line["result_type"] == t for line in lines) for t in ("successful", "failed", "skipped")}}
    report["speedup"] = report["rsebench"]["examples_per_second"] / report["stock"]["examples_per_second"]
    report["identical_outcomes"] = outcomes["stock"] == outcomes["rsebench"]
    report["differing_examples"] = [examples.ids[i] for i, (a, b) in enumerate(zip(outcomes["stock"], outcomes["rsebench"])) if a != b]
    return report


def run_from_args(args: argparse.Namespace) -> int:
    import torch

    from rsebench.encoder import load_encoder
    from rsebench.progress import say
    from rsebench.records import write_text_atomic
    from rsebench.robustness.runner import select_examples
    from rsebench.robustness.victim import VictimSettings, build_victim

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    examples = select_examples(args.dataset, args.n)
    encoder = tiny_encoder() if args.model == "tiny" else load_encoder(args.model, device="cpu")
    victim, meta = build_victim(encoder, args.dataset, VictimSettings(kind="probe", max_train=args.victim_max_train))
    report = compare_throughput(victim, args.recipe, examples, batch_size=args.batch_size)
    report.update({"model": encoder.name, "dataset": args.dataset, "victim_clean_accuracy": meta["clean_accuracy"],
                   "device": str(encoder.device), "torch_threads": torch.get_num_threads()})
    for side in ("stock", "rsebench"):
        r = report[side]
        say(f"{side:>8}: {r['examples_per_second']:.3f} examples/s ({r['seconds']:.1f} s, {r['queries']} queries, {r['result_types']})")
    say(f"speed-up {report['speedup']:.2f}x; identical outcomes: {report['identical_outcomes']}"
        + (f" (differ: {report['differing_examples']})" if report["differing_examples"] else ""))
    if args.json:
        write_text_atomic(Path(args.json), json.dumps(report, indent=2, allow_nan=False) + "\n", fix="choose another --json file")
    print(json.dumps(report))
    return 0
