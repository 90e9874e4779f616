"""The one-command demo: the whole rsebench pipeline on the embedded default encoder, offline, on a CPU.

The demo is a small study (`baselines/studies/demo.toml`; `--quick` runs `quick.toml`): SimCSE and
RobustSentEmbed trained briefly from all-MiniLM-L6-v2, STS, MR probe victims under DeepWordBug, PWWS,
TextFooler-local and PGD, then the tables and plots. It writes into its own folder (`demo/` by default,
git-ignored), never into the repository's committed `results/`. Re-running skips finished work.
"""

from __future__ import annotations

import time
from pathlib import Path

DEMO_FOLDER = Path("demo")


def run_demo(results_dir: str | Path | None = None, checkpoints_dir: str | Path | None = None, quick: bool = False) -> dict:
    """Run the demo study; returns where everything went and the wall time."""
    from rsebench.study import expand, load_study, render_study_report, run_study

    study = load_study("quick" if quick else "demo")
    results = str(results_dir or DEMO_FOLDER / "results")
    checkpoints = str(checkpoints_dir or DEMO_FOLDER / "checkpoints")
    started = time.perf_counter()
    run_study(study, results_dir=results, checkpoints_dir=checkpoints, report=False)
    outputs = render_study_report(study, results)
    return {"results_dir": results, "checkpoints": [c.model for c in expand(study, results, checkpoints) if c.train],
            "outputs": [str(p) for p in outputs], "seconds": time.perf_counter() - started, "study": study.name}
