"""Paired comparisons of each model with the reference model on semantic quality (STS, transfer).

The robustness tables test attack outcomes example by example (`comparisons`); this module does the
same for the STS and transfer tables, per task column and for the average, pairing seed s of a model
with seed s of the reference (or with the reference's only record), as the attack comparisons do:

- **pairs bootstrap** (STS only; records that keep their per-pair cosines): the mean over seed pairs
  of Δ Spearman = rho(model) − rho(reference) on the same sentence pairs, with a bootstrap that
  resamples the pairs jointly for every model (rsebench.stats.paired_spearman_difference) and a
  two-sided p-value from its bootstrap standard error (z test), Holm-corrected over the table's comparisons. It holds the trained
  models fixed: it answers "is this difference beyond the test set's sampling noise?". The average's
  distribution is the mean of the task columns' (each task resampled independently).
- **seeds t** (two or more seed pairs; STS and transfer): the Student-t interval of the mean per-seed
  difference and the paired t-test, Holm-corrected over the table's comparisons. It includes the
  training randomness, with few degrees of freedom (3 seeds: 2).

Written as `quality_comparisons.<ext>` next to the tables whenever an STS or transfer table has two or
more reproduced models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rsebench.report.comparisons import (ALPHA, DEFAULT_RULE, choose_reference, csv_number, list_csv, list_latex, list_markdown,
                                         seed_pairs)
from rsebench.report.tables import Table
from rsebench.stats import (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE, holm, paired_spearman_difference, paired_t_difference,
                            nan_percentile_interval, bootstrap_pvalue)

METRICS = {"sts": "spearman_cosine", "transfer": "accuracy"}
AVERAGE = "avg"


@dataclass
class QualityComparison:
    table: str
    task: str  # column label: 'STS-B', 'Avg.'
    model: str
    reference: str
    seed_pairs: int
    value_model: float  # mean over the seed pairs (fractions)
    value_reference: float
    difference: float
    n_pairs: int | None = None  # scored sentence pairs (pairs bootstrap); None without one
    interval: tuple[float, float] | None = None  # pairs bootstrap
    pvalue: float | None = None
    p_holm: float | None = None
    seed_interval: tuple[float, float] | None = None  # t over seed pairs
    seed_pvalue: float | None = None
    seed_p_holm: float | None = None
    distribution: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def significant(self) -> bool:
        return self.p_holm is not None and self.p_holm < ALPHA

    @property
    def seed_significant(self) -> bool:
        return self.seed_p_holm is not None and self.seed_p_holm < ALPHA


@dataclass
class QualityComparisons:
    rows: list[QualityComparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rows


class _Gold:
    """Gold scores of the bundled STS sets, loaded once and checked against a record's pair fingerprint."""

    def __init__(self):
        self.cache: dict[tuple, tuple[np.ndarray, str]] = {}

    def __call__(self, record: dict) -> np.ndarray | None:
        from rsebench.data import load_dataset
        from rsebench.errors import UserError
        from rsebench.evaluate.sts import pairs_fingerprint

        task = record["task"]
        key = (task["name"], task.get("split"), task.get("variant") or "original")
        if key not in self.cache:
            try:
                data = load_dataset(*key)
            except (UserError, OSError):
                return None
            self.cache[key] = (np.asarray(data.scores, dtype=np.float64), pairs_fingerprint(data))
        gold, fingerprint = self.cache[key]
        return gold if (record.get("details") or {}).get("pairs_sha256") == fingerprint else None


def _cosines(record: dict) -> list[float] | None:
    values = (record.get("details") or {}).get("pair_cosines")
    return values if isinstance(values, list) and values else None


def _pairs_bootstrap(pairs: list[tuple[dict, dict]], gold_of: _Gold, column_index: int):
    """The pairs bootstrap of one task over its seed pairs, or None when a record lacks per-pair cosines."""
    strata = [(_cosines(m), _cosines(r)) for m, r in pairs]
    if any(a is None or b is None for a, b in strata):
        return None
    golds = [gold_of(record) for pair in pairs for record in pair]
    if any(g is None for g in golds):
        return None
    gold = golds[0]
    if any(len(a) != gold.size or len(b) != gold.size for a, b in strata):
        return None
    # each task column its own stream, so the average's resamples are independent across tasks
    return paired_spearman_difference(strata, gold, seed=[BOOTSTRAP_SEED, column_index])


def _compare_table(table: Table, reference, gold_of: _Gold) -> tuple[list[QualityComparison], int]:
    """Comparisons of one STS / transfer table, and the number of seed pairs without per-pair cosines."""
    metric = METRICS[table.kind]
    block = table.blocks[0]
    reference_records = block.task_records.get(reference.method, {})
    tasks = [c for c in table.columns if c.key != AVERAGE]
    rows, lacking = [], 0
    for row in block.rows:
        if row.reported is not None or row.method == reference.method or row.method not in block.task_records:
            continue
        pairs = seed_pairs(block.task_records[row.method], reference_records)
        per_task: dict[str, tuple[list[tuple[dict, dict]], object]] = {}
        for index, column in enumerate(tasks):
            task_pairs = [(m[column.key], r[column.key]) for m, r in pairs if column.key in m and column.key in r]
            if not task_pairs:
                continue
            bootstrap = _pairs_bootstrap(task_pairs, gold_of, index) if table.kind == "sts" else None
            lacking += len(task_pairs) if table.kind == "sts" and bootstrap is None else 0
            per_task[column.key] = (task_pairs, bootstrap)
            rows.append(_row(table, column.label, row.label, reference.label,
                             [(m["metrics"][metric], r["metrics"][metric]) for m, r in task_pairs], bootstrap))
        # the average over the task columns, for seed pairs that have every task on both sides
        complete = [(m, r) for m, r in pairs if all(t.key in m and t.key in r for t in tasks)]
        if complete and len(per_task) == len(tasks) and len(tasks) > 1:
            values = [(np.mean([m[t.key]["metrics"][metric] for t in tasks]), np.mean([r[t.key]["metrics"][metric] for t in tasks]))
                      for m, r in complete]
            bootstraps = [per_task[t.key][1] for t in tasks]
            same_pairs = all(len(per_task[t.key][0]) == len(complete) for t in tasks)
            distribution = (np.mean([b.distribution for b in bootstraps], axis=0)
                            if same_pairs and all(b is not None for b in bootstraps) else None)
            rows.append(_row(table, "Avg.", row.label, reference.label, values, None, distribution))
    return rows, lacking


def _row(table: Table, task: str, model: str, reference: str, values: list[tuple[float, float]], bootstrap=None,
         distribution: np.ndarray | None = None) -> QualityComparison:
    differences = [float(m) - float(r) for m, r in values]
    seed_interval, seed_p = paired_t_difference(differences)
    comparison = QualityComparison(table.name, task, model, reference, len(values), float(np.mean([m for m, _ in values])),
                                   float(np.mean([r for _, r in values])), float(np.mean(differences)),
                                   seed_interval=seed_interval, seed_pvalue=seed_p)
    if bootstrap is not None:
        distribution = bootstrap.distribution
        comparison.n_pairs = bootstrap.n
    if distribution is not None:
        comparison.distribution = distribution
        comparison.interval = nan_percentile_interval(distribution, CONFIDENCE)
        comparison.pvalue = bootstrap_pvalue(comparison.difference, distribution)
    return comparison


def compare_quality(tables: list[Table], reference: str | None = None) -> QualityComparisons:
    """Paired comparisons in every STS / transfer table with two or more reproduced models."""
    result = QualityComparisons()
    gold_of = _Gold()
    lacking = 0
    for table in tables:
        if table.kind not in METRICS:
            continue
        chosen, rule = choose_reference(table, reference)
        if chosen is None or sum(r.reported is None for r in table.blocks[0].rows) < 2:
            continue
        found, missing = _compare_table(table, chosen, gold_of)
        lacking += missing
        for family in ("pvalue", "seed_pvalue"):  # Holm within the table, each test its own family
            for comparison, p in zip(found, holm([getattr(c, family) for c in found])):
                setattr(comparison, family.replace("pvalue", "p_holm"), p)
        result.rows += found
        result.notes.append(f"{table.name}: reference {chosen.label} ({rule})")
    if result.rows:
        result.notes += [
            "Δ = model − reference (×100), the mean over the seed pairs (seed s against seed s, or against the reference's "
            "only record)",
            f"pairs bootstrap (STS): the sentence pairs resampled jointly for every model of every seed pair ({BOOTSTRAP_RESAMPLES} "
            f"resamples, percentile, seed {BOOTSTRAP_SEED}); the trained models are held fixed; Avg. averages the task columns' "
            "resampled differences; p = two-sided z test with the bootstrap standard error, Holm over the table",
            "seeds t: Student-t interval of the mean per-seed-pair difference and the paired t-test (two or more seed pairs), "
            "Holm over the table; it includes the training randomness",
            f"† = Holm p < {ALPHA:g}",
        ]
        if lacking:
            result.notes.append(f"no pairs bootstrap for {lacking} STS record pair{'s' if lacking != 1 else ''}: records without "
                                "per-pair cosines (written before rsebench stored them) or scored on other pairs; re-run "
                                "'rsebench eval' for those models to get it")
    return result


# ---------------------------------------------------------------------------------------------
# Rendering (Markdown, LaTeX, CSV)

HEADER = ("Table", "Task", "Model", "Reference", "Seed pairs", "n pairs", "Model", "Ref.", "Δ [95% CI, pairs bootstrap]", "Holm p",
          "Δ [95% t over seeds]", "t-test Holm p")
CSV_HEADER = ("table", "task", "model", "reference", "seed_pairs", "n_pairs", "value_model", "value_reference", "difference",
              "pairs_ci_low", "pairs_ci_high", "pairs_p", "pairs_holm_p", "seeds_ci_low", "seeds_ci_high", "seeds_p", "seeds_holm_p")


def _p(value: float | None, significant: bool) -> str:
    if value is None:
        return "–"
    return (f"{value:.3f}" if value >= 0.001 else f"{value:.1e}") + (" †" if significant else "")


def _difference(value: float, interval: tuple[float, float] | None) -> str:
    if interval is None:
        return "–"
    return f"{100 * value:+.2f} [{100 * interval[0]:+.2f}, {100 * interval[1]:+.2f}]"


def _cells(c: QualityComparison) -> list[str]:
    return [c.table, c.task, c.model, c.reference, str(c.seed_pairs), "–" if c.n_pairs is None else str(c.n_pairs),
            f"{100 * c.value_model:.2f}", f"{100 * c.value_reference:.2f}",
            _difference(c.difference, c.interval) if c.interval is not None else f"{100 * c.difference:+.2f}",
            _p(c.p_holm, c.significant), _difference(c.difference, c.seed_interval), _p(c.seed_p_holm, c.seed_significant)]


TITLE = "Paired comparisons with the reference model: STS Spearman and transfer accuracy (×100)"


def render_markdown(comparisons: QualityComparisons) -> str:
    return list_markdown(TITLE, HEADER, 4, [_cells(c) for c in comparisons.rows], comparisons.notes)


def render_latex(comparisons: QualityComparisons) -> str:
    return list_latex("quality_comparisons -- paired comparisons with the reference model (STS Spearman, transfer accuracy x100)",
                      HEADER, 4, [_cells(c) for c in comparisons.rows], comparisons.notes)


def render_csv(comparisons: QualityComparisons) -> str:
    number = csv_number
    rows = []
    for c in comparisons.rows:
        pairs = c.interval or (None, None)
        seeds = c.seed_interval or (None, None)
        rows.append((c.table, c.task, c.model, c.reference, c.seed_pairs, "" if c.n_pairs is None else c.n_pairs,
                     number(c.value_model), number(c.value_reference), number(c.difference), number(pairs[0]), number(pairs[1]),
                     number(c.pvalue), number(c.p_holm), number(seeds[0]), number(seeds[1]), number(c.seed_pvalue),
                     number(c.seed_p_holm)))
    return list_csv(CSV_HEADER, rows)


RENDERERS = {"markdown": render_markdown, "latex": render_latex, "csv": render_csv}
