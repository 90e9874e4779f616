"""`rsebench bench --what attack`: attack throughput of rsebench against stock TextAttack.

All sides attack the same victim (same weights, same computation) on the same examples with the
same recipe, per-example seeds and goal-function batch size:
- `stock_equal_length`: TextAttack's own `HuggingFaceModelWrapper` around a `transformers`
  model that runs the victim, with the tokenizer capped at the attack set's longest input (what a
  careful user runs; every query is padded to that length), in one process with `threads` threads;
- `rsebench`: what `rsebench attack` runs (`VictimModelWrapper`: dynamic padding, length-sorted
  batches) in `workers` forked processes of one thread each (see rsebench.robustness.parallel);
- `stock_512` (second, labelled line, on the first `n_512` examples): the stock wrapper as it
  ships, padding every query to the tokenizer's 512 tokens.
Every side first attacks warm-up examples (not counted). The examples are timed in blocks and the
order of the sides rotates from block to block, so background load hits all sides alike. Per side
the report counts model forward calls and rows (inputs that reached the encoder) separately from
TextAttack's queries (which include inputs its caches answered), and it checks that every example
has the identical outcome (result type, perturbed text, perturbed label, query count) on every side.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time

from rsebench.jobs.options import positive_int

OUTCOME_FIELDS = ("result_type", "perturbed", "perturbed_output", "queries")


def configure_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--what attack (uses --model: 'tiny' is a random 2-layer BERT, 'default' MiniLM; --batch-size; --threads)")
    group.add_argument("--recipe", default="deepwordbug", help="TextAttack recipe(s) to time, comma-separated (default: deepwordbug)")
    group.add_argument("--dataset", default="mr", help="attack set (default: mr)")
    group.add_argument("--n", type=positive_int, default=10, help="examples to attack on each side (default: 10)")
    group.add_argument("--victim", choices=("probe", "finetune"), default="probe", help="victim kind (default: probe)")
    group.add_argument("--victim-max-train", type=positive_int, default=2000, help="victim training examples (default: 2000)")
    group.add_argument("--workers", type=int, default=None,
                       help="rsebench worker processes, one thread each (default: --threads, else torch's thread count)")
    group.add_argument("--n-512", dest="n_512", type=int, default=10,
                       help="examples (rounded up to whole blocks) for the second line against stock TextAttack padding to 512 tokens (default: 10; 0 skips it)")
    group.add_argument("--block", type=positive_int, default=None, help="examples per timed block; sides rotate per block (default: 2 x workers)")
    group.add_argument("--warmup-examples", type=int, default=None, help="untimed examples per side first (default: workers)")


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

    return VictimForSequenceClassification(copy.deepcopy(victim.encoder.backbone.config), victim).eval()


def stock_wrapper(victim, max_length: int | None = None):
    """TextAttack's `HuggingFaceModelWrapper`; with `max_length`, its tokenizer is a copy capped at that
    length (the wrapper pads every query to `tokenizer.model_max_length`)."""
    from rsebench.robustness.recipes import import_textattack

    tokenizer = victim.tokenizer
    if max_length is not None:
        tokenizer = copy.deepcopy(tokenizer)
        tokenizer.model_max_length = max_length
    return import_textattack().models.wrappers.HuggingFaceModelWrapper(stock_model(victim), tokenizer)


def longest_input(tokenizer, dataset: str) -> int:
    """Tokens (with special tokens) of the longest input of the dataset's whole attack split."""
    from rsebench.data import dataset_info, load_dataset

    data = load_dataset(dataset, dataset_info(dataset).attack_split)
    encoded = tokenizer(list(data.texts), None if data.texts_b is None else list(data.texts_b), truncation=False)
    return max(len(ids) for ids in encoded["input_ids"])


class ForwardCounter:
    """Forward calls of the victim's encoder and the rows (inputs) they carried, in this process."""

    def __init__(self, encoder):
        self.calls = 0
        self.rows = 0
        self.handle = encoder.backbone.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs):
        tensor = kwargs.get("input_ids")
        if tensor is None:
            tensor = kwargs.get("inputs_embeds", args[0] if args else None)
        self.calls += 1
        self.rows += int(tensor.shape[0])

    def counted(self, attack_one):
        """attack_one wrapped to return (result, forward calls, forward rows, CPU seconds of this
        process, all its threads) of that example. CPU time is robust to other jobs on the machine."""

        def run(position: int):
            calls, rows, cpu = self.calls, self.rows, time.process_time()
            result = attack_one(position)
            return result, self.calls - calls, self.rows - rows, time.process_time() - cpu

        return run


def _outcome(line: dict) -> tuple:
    return tuple(json.dumps(line[k], sort_keys=True) for k in OUTCOME_FIELDS)


def _blocks(positions: list[int], size: int) -> list[list[int]]:
    return [positions[i:i + size] for i in range(0, len(positions), size)]


def compare_throughput(victim, recipe_name: str, examples, n: int | None = None, seed: int = 0, batch_size: int = 64,
                       threads: int | None = None, workers: int = 1, n_512: int = 0, block: int | None = None,
                       warmup_examples: int | None = None, max_length: int | None = None) -> dict:
    """Attack the first `n` of `examples` on every side (the rest, up to `warmup_examples`, warm up);
    times, counts, ratios and the per-example outcome check. `max_length`: the stock wrapper's cap
    (default: the longest of `examples`)."""
    import torch

    from rsebench.robustness.parallel import AttackPool
    from rsebench.robustness.recipes import load_recipe
    from rsebench.robustness.text_attack import make_text_attacker
    from rsebench.robustness.wrapper import VictimModelWrapper

    n = len(examples) if n is None else n
    threads = threads or torch.get_num_threads()
    workers = max(1, workers)
    warmup_examples = workers if warmup_examples is None else warmup_examples
    block = block or 2 * workers
    warm = list(range(n, min(len(examples), n + warmup_examples)))
    timed = list(range(n))
    if max_length is None:
        encoded = victim.tokenizer(list(examples.texts), None if examples.texts_b is None else list(examples.texts_b))
        max_length = max(len(ids) for ids in encoded["input_ids"])
    recipe = load_recipe(recipe_name)
    victim.eval()
    torch.set_num_threads(threads)
    counter = ForwardCounter(victim.encoder)
    wrappers = {"stock_equal_length": stock_wrapper(victim, max_length), "rsebench": VictimModelWrapper(victim, batch_size=batch_size)}
    if n_512 > 0:
        wrappers["stock_512"] = stock_wrapper(victim)
    attackers = {name: counter.counted(make_text_attacker(recipe, wrapper, examples, seed, batch_size)[0])
                 for name, wrapper in wrappers.items()}
    # Fork the workers last: they inherit the built attack (victim, recipe resources, counter hook).
    pools = {name: AttackPool(fn, workers if name == "rsebench" else 1) for name, fn in attackers.items()}
    blocks = _blocks(timed, block)
    runs_512 = {i for i, chunk in enumerate(blocks) if chunk[0] < n_512}
    stats = {name: {"seconds": 0.0, "blocks": {}, "calls": 0, "rows": 0, "cpu": {}, "lines": {}} for name in pools}
    load_start = os.getloadavg()[0]
    try:
        for name, pool in pools.items():  # warm-up: untimed
            list(pool.imap(warm))
        for index, chunk in enumerate(blocks):
            names = [name for name in pools if name != "stock_512" or index in runs_512]
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                results = list(pools[name].imap(chunk))
                seconds = time.perf_counter() - start
                side = stats[name]
                side["seconds"] += seconds
                side["blocks"][index] = seconds
                for position, (line, calls, rows, cpu) in zip(chunk, results):
                    side["lines"][position] = line
                    side["cpu"][position] = cpu
                    side["calls"] += calls
                    side["rows"] += rows
    finally:
        for pool in pools.values():
            pool.close()
        counter.handle.remove()

    def summary(name: str, block_ids) -> dict:
        side = stats[name]
        positions = [p for i in block_ids for p in blocks[i]]
        lines = [side["lines"][p] for p in positions]
        seconds = sum(side["blocks"][i] for i in block_ids)
        cpu = sum(side["cpu"][p] for p in positions)
        return {"examples": len(positions), "seconds": round(seconds, 3), "examples_per_second": len(positions) / seconds,
                "cpu_seconds": round(cpu, 3), "examples_per_cpu_second": len(positions) / max(cpu, 1e-9),
                "textattack_queries": sum(line["queries"] for line in lines),
                "result_types": {t: sum(line["result_type"] == t for line in lines) for t in ("successful", "failed", "skipped")}}

    all_blocks = list(range(len(blocks)))
    report: dict = {
        "recipe": recipe_name, "examples": n, "warmup_examples": len(warm), "block": block, "batch_size": batch_size,
        "stock_max_length": max_length, "threads": threads, "workers": pools["rsebench"].workers,
        "sides": {name: summary(name, all_blocks if name != "stock_512" else sorted(runs_512)) for name in stats},
    }
    for name in stats:
        report["sides"][name].update({"forward_calls": stats[name]["calls"], "forward_rows": stats[name]["rows"]})
    fast, stock = report["sides"]["rsebench"], report["sides"]["stock_equal_length"]
    outcomes = {name: {p: _outcome(line) for p, line in side["lines"].items()} for name, side in stats.items()}
    differ = [examples.ids[p] for p in timed if outcomes["rsebench"][p] != outcomes["stock_equal_length"][p]]
    report.update({"speedup_vs_stock_equal_length": fast["examples_per_second"] / stock["examples_per_second"],
                   "cpu_time_ratio_vs_stock_equal_length": fast["examples_per_cpu_second"] / stock["examples_per_cpu_second"],
                   "identical_outcomes": not differ, "differing_examples": differ,
                   "load_average": [round(load_start, 2), round(os.getloadavg()[0], 2)]})
    if n_512 > 0:
        shared = sorted(runs_512)
        fast_shared = summary("rsebench", shared)
        differ_512 = [examples.ids[p] for p in outcomes["stock_512"] if outcomes["rsebench"][p] != outcomes["stock_512"][p]]
        report["stock_512"] = {"examples": report["sides"]["stock_512"]["examples"],
                               "speedup": fast_shared["examples_per_second"] / report["sides"]["stock_512"]["examples_per_second"],
                               "cpu_time_ratio": fast_shared["examples_per_cpu_second"] / report["sides"]["stock_512"]["examples_per_cpu_second"],
                               "identical_outcomes": not differ_512, "differing_examples": differ_512}
    return report


def build_bench_victim(args):
    """(victim, meta, encoder) for `--model` and `--victim`."""
    from rsebench.encoder import load_encoder
    from rsebench.robustness.victim import VictimSettings, build_victim

    encoder = tiny_encoder() if args.model == "tiny" else load_encoder(args.model, device="cpu")
    victim, meta = build_victim(encoder, args.dataset, VictimSettings(kind=args.victim, max_train=args.victim_max_train))
    return victim, meta, encoder


def measure(args: argparse.Namespace) -> dict:
    """Run the comparison for every recipe in `--recipe`; print one line per side and return the report."""
    import torch

    from rsebench.progress import say
    from rsebench.robustness.runner import select_examples

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    workers = args.workers if args.workers is not None else threads
    warmup = workers if args.warmup_examples is None else args.warmup_examples
    examples = select_examples(args.dataset, args.n + warmup)
    victim, meta, encoder = build_bench_victim(args)
    max_length = longest_input(victim.tokenizer, args.dataset)
    out = {"model": encoder.name, "dataset": args.dataset, "victim": args.victim, "victim_clean_accuracy": meta["clean_accuracy"],
           "device": str(encoder.device), "recipes": {}}
    for recipe in [r.strip() for r in args.recipe.split(",") if r.strip()]:
        say(f"attack bench: {recipe}, {args.n} {args.dataset} examples, {args.victim} victim, stock capped at {max_length} tokens, "
            f"{threads} threads vs {workers} workers")
        report = compare_throughput(victim, recipe, examples, n=args.n, batch_size=args.batch_size, threads=threads, workers=workers,
                                    n_512=min(args.n_512, args.n), block=args.block, warmup_examples=warmup, max_length=max_length)
        out["recipes"][recipe] = report
        print(f"{'side':<20} {'examples':>8} {'ex/s':>8} {'ex/CPU-s':>8} {'fwd calls':>9} {'fwd rows':>9} {'TA queries':>10}  S/F/K")
        for name, side in report["sides"].items():
            types = side["result_types"]
            print(f"{name:<20} {side['examples']:8d} {side['examples_per_second']:8.3f} {side['examples_per_cpu_second']:8.3f} "
                  f"{side['forward_calls']:9d} {side['forward_rows']:9d} "
                  f"{side['textattack_queries']:10d}  {types['successful']}/{types['failed']}/{types['skipped']}")
        print(f"{recipe}: {report['speedup_vs_stock_equal_length']:.2f}x stock TextAttack at equal length ({max_length} tokens; "
              f"{report['cpu_time_ratio_vs_stock_equal_length']:.2f}x per CPU second), "
              f"identical outcomes: {report['identical_outcomes']}"
              + (f" (differ: {report['differing_examples']})" if report["differing_examples"] else ""))
        if "stock_512" in report:
            line = report["stock_512"]
            print(f"{recipe}: {line['speedup']:.2f}x stock TextAttack padding to 512 tokens ({line['examples']} examples), "
                  f"identical outcomes: {line['identical_outcomes']}")
    return out
