"""`rsebench calibrate-substitutes`: how strict is the MiniLM stand-in for the Universal Sentence Encoder?

Measures, on an attack set's fixed example order, the share of synonym swaps and of random-word swaps
that the sentence-similarity constraint keeps, over window sizes and thresholds, and picks a setting by
a stated criterion (rsebench.robustness.calibration). Writes the whole grid as JSON and prints the
tables attacks/README.md shows.
"""

from __future__ import annotations

import argparse

from rsebench.commands.common import positive_int


def _windows(text: str) -> list[int | None]:
    windows: list[int | None] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part in ("whole", "none", "all"):
            windows.append(None)
            continue
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"window '{part}' must be a positive integer or 'whole'") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"window {value} must be a positive integer or 'whole'")
        windows.append(value)
    if not windows:
        raise argparse.ArgumentTypeError(f"'{text}': give window sizes, e.g. 5,10,15,whole")
    return windows


def _thresholds(text: str) -> list[float]:
    """'0.5:0.99:0.01' (start:stop:step, stop included) or '0.8,0.84,0.9'."""
    try:
        if ":" in text:
            start, stop, step = (float(p) for p in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = int(round((stop - start) / step)) + 1
            values = [round(start + i * step, 6) for i in range(count)]
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' must be start:stop:step (e.g. 0.5:0.99:0.01) or comma-separated numbers") from None
    if not values or any(not -1.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"'{text}': thresholds must lie in [-1, 1]")
    return values


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be a fraction between 0 and 1")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="mr", help="attack set whose texts are swapped (default: mr)")
    parser.add_argument("--n", type=positive_int, default=None, help="first n examples of the fixed example order (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the swap draws (default: 0)")
    parser.add_argument("--swaps-per-example", type=positive_int, default=1, help="word positions swapped per example (default: 1)")
    parser.add_argument("--windows", type=_windows, default=None, help="window sizes in words, comma-separated, 'whole' = the whole text "
                                                                       "(default: 5,10,15,whole)")
    parser.add_argument("--thresholds", type=_thresholds, default=None, help="start:stop:step or a list (default: 0.5:0.99:0.01)")
    parser.add_argument("--metrics", default="angular,cosine", help="angular (TextFooler's), cosine (TextBugger's) (default: both)")
    parser.add_argument("--also-skip-short", action="store_true",
                        help="also grid skip_text_shorter_than_window = true (TextFooler's stock setting): short texts pass unscored")
    parser.add_argument("--min-synonym-pass", type=_fraction, default=0.9, help="criterion: keep at least this share of synonym swaps (default: 0.9)")
    parser.add_argument("--max-random-pass", type=_fraction, default=0.1, help="criterion: pass at most this share of random swaps (default: 0.1)")
    parser.add_argument("--encoder", default="default", help="sentence encoder standing in for USE (default: the bundled all-MiniLM-L6-v2)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="JSON output (default: substitute-calibration-<dataset>-n<N>-seed<S>.json in the current folder)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rsebench.errors import UserError
    from rsebench.progress import say
    from rsebench.records import write_json_atomic
    from rsebench.robustness.calibration import (DEFAULT_THRESHOLDS, DEFAULT_WINDOWS, Criterion, calibrate_substitutes,
                                                 markdown_summary)
    from rsebench.robustness.runner import select_examples

    # Cheap checks first: a typo must not cost a model load.
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    criterion = Criterion(args.min_synonym_pass, args.max_random_pass)
    examples = select_examples(args.dataset, args.n)
    out = Path(args.out or f"substitute-calibration-{args.dataset}-n{len(examples)}-seed{args.seed}.json")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name, e.g. {out / 'calibration.json'}")
    record = calibrate_substitutes(args.dataset, args.n, seed=args.seed, per_example=args.swaps_per_example,
                                   windows=args.windows or DEFAULT_WINDOWS, thresholds=args.thresholds or DEFAULT_THRESHOLDS,
                                   metrics=metrics, skip_short=(False, True) if args.also_skip_short else (False,),
                                   criterion=criterion, encoder=args.encoder)
    write_json_atomic(out, record)
    print(markdown_summary(record))
    say(f"calibration grid -> {out}")
    return 0
