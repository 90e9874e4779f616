"""Time one training step of each method on the same batch (`rsebench bench --what train`).

Every method starts from the same encoder weights and sees the same sentences; a step is the full
update (forward, backward, optimiser step, after-step hooks). Steps of the methods are interleaved
round by round, so background load affects all of them alike; the median per method is reported
with its ratio to SimCSE and the number of encoder passes per step (forward calls of the sentence
encoder, in units of one N-sentence batch; the 2N clean batch counts as 2).
"""

from __future__ import annotations

import copy
import statistics
import time

import torch

from rsebench.registry import method_names


def random_encoder(size: str = "tiny", tokenizer=None, max_length: int = 32):
    """A randomly initialised BERT: 'tiny' (2x32, unit-test size), 'minilm' (6x384) or 'bert-base' (12x768)."""
    from transformers import BertConfig, BertModel

    from rsebench.encoder import SentenceEncoder, default_model_path

    shapes = {"tiny": (2, 32, 2, 64), "minilm": (6, 384, 12, 1536), "bert-base": (12, 768, 12, 3072)}
    layers, hidden, heads, intermediate = shapes[size]
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    config = BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=intermediate, max_position_embeddings=512)
    return SentenceEncoder(BertModel(config), tokenizer, pooler="cls_before_pooler", max_length=max_length, name=f"random-{size}")


def bench_encoder(model: str):
    from rsebench.encoder import load_encoder

    if model in ("tiny", "random-minilm", "random-bert-base"):
        return random_encoder(model.replace("random-", ""))
    return load_encoder(model, pooler="cls_before_pooler", device="cpu")


class PassCounter:
    """Counts sentence-encoder forward calls in units of `batch_rows` sentences."""

    def __init__(self, encoder, batch_rows: int):
        self.rows = 0
        self.batch_rows = batch_rows
        self.handle = encoder.backbone.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs):
        tensor = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else kwargs.get("inputs_embeds")
        self.rows += tensor.shape[0]

    def take(self) -> float:
        value, self.rows = self.rows / self.batch_rows, 0
        return value


def time_train_steps(base_encoder, batch: dict[str, torch.Tensor], methods=None, repeats: int = 3, warmup: int = 1,
                     overrides: dict[str, str] | None = None, device: str = "cpu", mixed_precision: str = "no") -> list[dict]:
    """Median seconds per training step of each method, its ratio to SimCSE and its encoder passes."""
    from rsebench.train.objective import build_objective
    from rsebench.train.spec import load_spec

    runs = {}
    for method in methods or method_names():
        spec = load_spec(method, {k: v for k, v in (overrides or {}).items() if k in load_spec(method)})
        encoder = copy.deepcopy(base_encoder).to(device)
        torch.manual_seed(0)
        objective = build_objective(spec["method"], encoder, spec).to(device).train()
        optimizer = torch.optim.AdamW([p for p in objective.parameters() if p.requires_grad], lr=float(spec["lr"]))
        runs[method] = {"objective": objective, "optimizer": optimizer, "counter": PassCounter(encoder, batch["input_ids"].shape[0]),
                        "times": [], "cpu": [], "passes": 0.0, "spec": spec}
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16 if mixed_precision == "bf16" else torch.float16)
                if mixed_precision in ("bf16", "fp16") and device.startswith("cuda") else None)

    def step(run) -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process) of one full training step."""
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start, cpu = time.perf_counter(), time.process_time()
        if autocast is not None:
            with autocast:
                loss, _ = run["objective"](batch)
        else:
            loss, _ = run["objective"](batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in run["objective"].parameters() if p.grad is not None], 1.0)
        run["optimizer"].step()
        run["optimizer"].zero_grad(set_to_none=True)
        run["objective"].after_step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start, time.process_time() - cpu

    for _ in range(warmup):
        for run in runs.values():
            step(run)
            run["counter"].take()
    for _ in range(repeats):
        for run in runs.values():
            wall, cpu = step(run)
            run["times"].append(wall)
            run["cpu"].append(cpu)
            run["passes"] = run["counter"].take()
    simcse = statistics.median(runs["simcse"]["times"]) if "simcse" in runs else None
    simcse_cpu = statistics.median(runs["simcse"]["cpu"]) if "simcse" in runs else None
    rows = []
    for method, run in runs.items():
        median, cpu = statistics.median(run["times"]), statistics.median(run["cpu"])
        rows.append({"method": method, "seconds_per_step": median, "ratio_to_simcse": median / simcse if simcse else None,
                     "cpu_seconds_per_step": cpu, "cpu_ratio_to_simcse": cpu / simcse_cpu if simcse_cpu else None,
                     "encoder_passes": run["passes"], "times": run["times"], "cpu_times": run["cpu"]})
        run["counter"].handle.remove()
    return rows


def first_batch(encoder, batch_size: int, max_length: int, device: str = "cpu") -> dict[str, torch.Tensor]:
    from rsebench.data import load_corpus

    sentences = load_corpus(max_sentences=batch_size)
    batch = encoder.tokenizer(sentences, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}


def measure(args) -> dict:
    """Time the methods (and presets) in `--methods` against SimCSE; print a table and return the report."""
    from rsebench.errors import UserError
    from rsebench.progress import say
    from rsebench.train.spec import parse_set_items, preset_names

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = list(method_names()) + sorted(preset_names())
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        raise UserError(f"unknown method(s) {unknown}; choose from {', '.join(known)}")
    if "simcse" not in methods:
        methods.insert(0, "simcse")  # the reference for the ratios
    if args.threads:
        torch.set_num_threads(args.threads)
    encoder = bench_encoder(args.model)
    batch = first_batch(encoder, args.batch_size, args.max_length)
    say(f"timing {', '.join(methods)} on {encoder.name}: batch {batch['input_ids'].shape[0]} x {batch['input_ids'].shape[1]} tokens, "
        f"{args.repeats} interleaved rounds, {torch.get_num_threads()} threads")
    rows = time_train_steps(encoder, batch, methods, repeats=args.repeats, warmup=args.warmup, overrides=parse_set_items(args.overrides))
    print(f"{'method':<22} {'s/step':>8} {'x SimCSE':>9} {'CPU s/step':>10} {'x SimCSE':>9} {'encoder passes':>15}")
    for row in rows:
        print(f"{row['method']:<22} {row['seconds_per_step']:8.3f} {row['ratio_to_simcse']:9.2f} {row['cpu_seconds_per_step']:10.3f} "
              f"{row['cpu_ratio_to_simcse']:9.2f} {row['encoder_passes']:15.1f}")
    return {"model": encoder.name, "batch_size": int(batch["input_ids"].shape[0]), "tokens": int(batch["input_ids"].shape[1]),
            "threads": torch.get_num_threads(), "repeats": args.repeats, "warmup": args.warmup, "rows": rows,
            "ratio_to_simcse": {row["method"]: row["ratio_to_simcse"] for row in rows},
            "cpu_ratio_to_simcse": {row["method"]: row["cpu_ratio_to_simcse"] for row in rows}}
