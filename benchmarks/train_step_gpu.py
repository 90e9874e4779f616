#!/usr/bin/env python
"""Training-step times of SimCSE, ESimCSE and RobustSentEmbed on one CUDA GPU (self-contained).

    python benchmarks/train_step_gpu.py OUT.json [--steps 300] [--config bert-base] [--batch-size 64]
                                        [--max-length 32] [--precision bf16] [--device cuda]

A randomly initialised bert-base-sized BERT (no weights or tokenizer needed: token ids are random,
with [CLS]/[SEP]/[PAD]/[MASK] at BERT's ids), batch 64 x 32 tokens, bf16 autocast. Every method
starts from the same weights and sees the same batch; steps are interleaved method by method and
each is a full update (forward, backward, clipping, AdamW, after-step hooks). Prints and writes
JSON: median / mean / p90 seconds per step, ratio to SimCSE, encoder passes per step, peak memory.
On CPU (`--device cpu --config tiny --steps 3`) it runs in seconds, to check the script.
Budget: the timed part is capped by --budget-seconds (default 240 s; a 3-step probe sizes it), so the whole
script stays well under 6 minutes on any card.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:  # the specs are TOML; Python 3.10 without tomli gets a minimal reader for their flat key = value lines
    import tomllib  # noqa: F401
except ImportError:
    try:
        import tomli  # noqa: F401
    except ImportError:
        import ast

        def _loads(text: str) -> dict:
            out = {}
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip() if not line.strip().startswith('"') else line.strip()
                if "=" in line:
                    key, value = (part.strip() for part in line.split("=", 1))
                    out[key] = {"true": True, "false": False}.get(value, None) if value in ("true", "false") else ast.literal_eval(value)
            return out

        sys.modules["tomllib"] = types.SimpleNamespace(loads=_loads, TOMLDecodeError=ValueError)

import torch  # noqa: E402

from rsebench.train.benchmark import random_encoder, time_train_steps  # noqa: E402

BERT_SPECIAL = types.SimpleNamespace(pad_token_id=0, mask_token_id=103, all_special_ids=[0, 100, 101, 102, 103])


def random_batch(batch_size: int, max_length: int, device: str, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(max(4, max_length // 3), max_length + 1, (batch_size,), generator=generator)
    lengths[0] = max_length
    ids = torch.randint(1000, 30000, (batch_size, max_length), generator=generator)
    mask = torch.arange(max_length)[None, :] < lengths[:, None]
    ids[:, 0] = 101
    ids[torch.arange(batch_size), lengths - 1] = 102
    ids[~mask] = 0
    batch = {"input_ids": ids, "attention_mask": mask.long(), "token_type_ids": torch.zeros_like(ids)}
    return {k: v.to(device) for k, v in batch.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file for the results")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--config", choices=("tiny", "minilm", "bert-base"), default="bert-base")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--precision", choices=("bf16", "fp16", "no"), default="bf16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--methods", default="simcse,esimcse,robustsentembed")
    parser.add_argument("--budget-seconds", type=float, default=240.0, help="cap on the timed part (steps are reduced to fit)")
    args = parser.parse_args()

    started = time.perf_counter()
    torch.manual_seed(0)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    encoder = random_encoder(args.config, tokenizer=BERT_SPECIAL, max_length=args.max_length)
    batch = random_batch(args.batch_size, args.max_length, args.device)
    methods = [m for m in args.methods.split(",") if m]
    # A short probe sizes the run so it stays inside --budget-seconds whatever the card.
    probe = time_train_steps(encoder, batch, methods, repeats=2, warmup=1, device=args.device, mixed_precision=args.precision)
    round_seconds = sum(row["seconds_per_step"] for row in probe)
    steps = max(1, min(args.steps, int(args.budget_seconds / max(round_seconds, 1e-6))))
    if steps < args.steps:
        print(f"probe: {round_seconds:.3f}s per round of {len(methods)} steps; running {steps} steps per method "
              f"instead of {args.steps} to stay within {args.budget_seconds}s")
    rows = time_train_steps(encoder, batch, methods, repeats=steps, warmup=min(args.warmup, steps),
                            device=args.device, mixed_precision=args.precision)
    for row in rows:
        times = sorted(row.pop("times"))
        row["mean_seconds"] = statistics.fmean(times)
        row["p90_seconds"] = times[int(0.9 * (len(times) - 1))]
    result = {
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu",
        "torch": torch.__version__, "config": args.config, "batch_size": args.batch_size, "max_length": args.max_length,
        "precision": args.precision if args.device.startswith("cuda") else "fp32", "steps": steps,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else None,
        "rows": rows, "wall_seconds": time.perf_counter() - started,
    }
    try:
        import transformers

        result["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    print(f"{'method':<16} {'median s':>9} {'mean s':>8} {'p90 s':>8} {'x SimCSE':>9} {'passes':>7}")
    for row in rows:
        print(f"{row['method']:<16} {row['seconds_per_step']:9.4f} {row['mean_seconds']:8.4f} {row['p90_seconds']:8.4f} "
              f"{row['ratio_to_simcse']:9.2f} {row['encoder_passes']:7.1f}")
    print(f"device {result['device']}, {args.config}, batch {args.batch_size} x {args.max_length}, {result['precision']}, "
          f"{steps} steps each, wall {result['wall_seconds']:.0f}s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
