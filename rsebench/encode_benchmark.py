"""`rsebench bench --what encode`: rsebench's `SentenceEncoder.encode` against sentence-transformers'
`SentenceTransformer.encode` on the same model folder and sentences (the bundled Wikipedia corpus),
same batch size and threads. Rounds alternate which side goes first; the median wall and CPU
seconds per side are reported with their ratios, and the vectors of the two sides are compared (`vectors_equal`: allclose
at atol 1e-5 after both normalise as the model's modules say)."""

from __future__ import annotations

import argparse
import statistics
import time

from rsebench.commands.common import positive_int


def configure_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--what encode (uses --model, except 'tiny': the bundled MiniLM; --batch-size; --threads; --repeats)")
    group.add_argument("--sentences", type=positive_int, default=4000, help="corpus sentences to encode (default: 4000)")


def compare_encode(model: str, sentences: list[str], batch_size: int = 64, repeats: int = 3) -> dict:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from rsebench.encoder import load_encoder, resolve_model

    location, _ = resolve_model(model)
    ours = load_encoder(model, device="cpu")
    theirs = SentenceTransformer(str(location), device="cpu")
    sides = {
        "sentence_transformers": lambda: theirs.encode(sentences, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False),
        "rsebench": lambda: ours.encode(sentences, batch_size=batch_size, show_progress=False),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu_times: dict[str, list[float]] = {name: [] for name in sides}
    vectors = {name: fn() for name, fn in sides.items()}  # warm-up round, also the vectors compared
    names = list(sides)
    for round_index in range(repeats):
        for name in (names if round_index % 2 == 0 else names[::-1]):
            start, cpu = time.perf_counter(), time.process_time()
            sides[name]()
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - cpu)
    median = {name: statistics.median(values) for name, values in times.items()}
    median_cpu = {name: statistics.median(values) for name, values in cpu_times.items()}
    difference = float(np.abs(vectors["rsebench"] - vectors["sentence_transformers"]).max())
    return {
        "model": ours.name, "sentences": len(sentences), "batch_size": batch_size, "repeats": repeats,
        "seconds": median, "times": times, "cpu_seconds": median_cpu, "cpu_times": cpu_times,
        "sentences_per_second": {name: len(sentences) / value for name, value in median.items()},
        "ratio": median["sentence_transformers"] / median["rsebench"],  # > 1: rsebench is faster
        "cpu_ratio": median_cpu["sentence_transformers"] / median_cpu["rsebench"],
        "vectors_equal": bool(np.allclose(vectors["rsebench"], vectors["sentence_transformers"], atol=1e-5)),
        "max_abs_difference": difference,
    }


def measure(args: argparse.Namespace) -> dict:
    import torch

    from rsebench.data import load_corpus

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    model = "default" if args.model == "tiny" else args.model
    report = compare_encode(model, load_corpus(max_sentences=args.sentences), batch_size=args.batch_size, repeats=args.repeats)
    report["threads"] = torch.get_num_threads()
    for name, value in report["seconds"].items():
        print(f"encode {name:<22} {report['sentences_per_second'][name]:8.1f} sentences/s ({value:.2f} s)")
    print(f"encode: rsebench {report['ratio']:.2f}x sentence-transformers' speed ({report['cpu_ratio']:.2f}x per CPU second); "
          f"vectors equal: {report['vectors_equal']} "
          f"(max |diff| {report['max_abs_difference']:.1e})")
    return report
