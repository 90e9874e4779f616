"""`rsebench signal`: is RobustSentEmbed's adversarial positive harder than the clean one? (issue 12)

    rsebench signal --model default --grid sentence_eps=0.005,0.01,0.02,0.05,0.1 --grid pooler=mean,cls_before_pooler \
        --set lr=3e-5 --out results/signal-search

measures, for every grid setting on the first batches training would see, the adversarial vs clean
InfoNCE, a random-noise control and the ratio of their gradients into the encoder (see
`rsebench/train/signal.py`), prints a table and with `--out` writes `signal.json` and `signal.md`.
"""

from __future__ import annotations

import argparse

from rsebench.commands.common import positive_int
from rsebench.errors import UserError

COLUMNS = (("ε_sent/rms", "sentence_eps_rel", 2), ("ε_tok/‖e‖", "token_eps_rel", 2), ("l_clean", "l_clean", 4), ("l_adv", "l_adv", 4), ("l_rand", "l_rand", 4),
           ("adv/clean", "adv_over_clean", 1), ("adv/rand", "adv_over_rand", 2), ("∇adv/∇clean", "grad_ratio", 2))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", help="encoder: 'default' (MiniLM), a checkpoint folder, or 'tiny' (random, for tests)")
    parser.add_argument("--method", default="robustsentembed", help="robustsentembed or one of its presets (default: robustsentembed)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="spec override for every setting (repeatable), e.g. --set temperature=0.1")
    parser.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2,...",
                        help="spec field and the values to try (repeatable; the settings are their product). A radius "
                             "(sentence_eps, token_eps) without its step in the grid keeps the spec's step/radius ratio")
    parser.add_argument("--batches", type=positive_int, default=3, help="first training batches measured per setting (default: 3)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="sentences per batch (default: the spec's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the batches, dropout masks and projection head (default: 0)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default=None, help="folder to write signal.json and signal.md into")


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items:
        field, sep, values = item.partition("=")
        field = field.strip()
        if not sep or not field or not values.strip():
            raise UserError(f"--grid needs FIELD=V1,V2,..., got '{item}'")
        if field in grid:
            raise UserError(f"--grid names '{field}' twice; give all its values in one --grid")
        grid[field] = [v.strip() for v in values.split(",") if v.strip()]
        if not grid[field]:
            raise UserError(f"--grid {field} names no values; give FIELD=V1,V2,...")
    return grid


def _cell(value, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(report: dict) -> str:
    fields = list(report["grid"]) or ["(spec)"]
    head = [*fields, *(c[0] for c in COLUMNS)]
    lines = [f"Adversarial-positive signal: {report['model']}, method {report['method']}, {report['batches']} batches of "
             f"{report['batch_size']} (seed {report['seed']}); embedding rms {report['scale']['rms']:.4f}, "
             f"median word-vector norm {report['scale']['token_norm']:.3f}; overrides {report['overrides'] or 'none'}",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report["rows"]:
        setting = [str(row["setting"].get(f, "")) for f in report["grid"]] or ["—"]
        lines.append("| " + " | ".join([*setting, *(_cell(row[key], d) for _, key, d in COLUMNS)]) + " |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import time
    from pathlib import Path

    import torch

    from rsebench.commands.bench import machine
    from rsebench.data import load_corpus, text_hash
    from rsebench.progress import say
    from rsebench.records import environment, spec_hash, write_text_atomic
    from rsebench.train.benchmark import bench_encoder
    from rsebench.train.signal import adversarial_signal, embedding_scale, grid_settings
    from rsebench.train.spec import load_spec, parse_set_items
    from rsebench.train.trainer import batch_indices

    if args.out:
        from rsebench.paths import check_writable_folder

        check_writable_folder(Path(args.out), "--out")
    from rsebench.seeding import check_seed

    check_seed(args.seed, "--seed")
    overrides = parse_set_items(args.overrides)
    base = load_spec(args.method, overrides)
    if base["method"] != "robustsentembed":
        raise UserError(f"--method {args.method} has no adversarial view; give robustsentembed or one of its presets")
    grid = parse_grid(args.grid)
    typed = {field: [load_spec(args.method, {**overrides, field: v})[field] for v in values] for field, values in grid.items()}
    runs = [(setting, load_spec(args.method, {**overrides, **{k: str(v) for k, v in setting.items()}}))
            for setting in grid_settings(base, typed)]
    if args.threads:
        torch.set_num_threads(args.threads)
    encoder = bench_encoder(args.model)
    sentences = load_corpus()
    batch_size = args.batch_size or int(base["batch_size"])
    batches = [encoder.tokenize([sentences[i] for i in batch_indices(len(sentences), batch_size, step, args.seed)],
                                max_length=int(base["max_length"])) for step in range(args.batches)]
    started, where = time.perf_counter(), machine()  # the load before the work starts

    def show(row: dict) -> None:
        name = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["setting"].items()) or "spec"
        say(f"{name}: l_clean {row['l_clean']:.4f}  l_adv {row['l_adv']:.4f}  l_rand {row['l_rand']:.4f}  "
            f"grad ratio {_cell(row['grad_ratio'], 2)}")

    rows = adversarial_signal(encoder, base["method"], runs, batches, seed=args.seed, on_row=show)
    report = {"model": encoder.name, "method": args.method, "overrides": overrides, "spec_hash": spec_hash(base),
              "grid": grid, "batches": args.batches, "batch_size": batch_size, "seed": args.seed,
              "data_hash": text_hash(sentences), "scale": embedding_scale(encoder), "rows": rows,
              "seconds": round(time.perf_counter() - started, 1), "machine": {**where, "load_average_end": round(os.getloadavg()[0], 2)},
              "versions": environment()["packages"]}
    text = markdown(report)
    print(text, end="")
    if args.out:
        out = Path(args.out)
        write_text_atomic(out / "signal.json", json.dumps(report, indent=2, allow_nan=False) + "\n", fix="choose another --out folder")
        write_text_atomic(out / "signal.md", text, fix="choose another --out folder")
    return 0
