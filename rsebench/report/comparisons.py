"""Paired comparisons of each model with a reference model on the same attacked examples.

Within every robustness table, each reproduced model is compared with the table's reference model
in each attack block, over the example ids both records attacked (the intersection), using the
per-example `outcomes` stored in attack records ("successful" / "failed" / "skipped", aligned with
`example_ids`):

- McNemar's exact test on per-example *survival* (the prediction was correct and the attack did not
  flip it, i.e. outcome "failed"): a paired test of accuracy under attack;
- the ASR difference (model − reference) with a paired bootstrap 95% interval over example ids,
  each ASR over its own non-skipped examples (rsebench.stats.paired_bootstrap_difference);
- Holm's correction over all comparisons of one robustness table.

The reference is the model named with `--reference` (matched against a row's label or method,
case-insensitive), or by default SimCSE when the table has it, else the table's first row
(pretrained models come first, then the baselines). With several seeds, each of the model's records
is paired with the reference record of the same seeds (or with the reference's only record); a
table cell is marked † when every one of its comparisons is significant at 0.05 after Holm. When
both sides have several seeds, a pooled row follows the per-seed rows: the mean ASR difference over
the seed pairs with a bootstrap that resamples example ids jointly for every pair, and McNemar
stratified by seed (rsebench.stats.pooled_mcnemar); pooled rows are their own Holm family. Every row
also gives the relative change (Δ ASR / ASR of the reference), the figure the paper reports.
Records written before `outcomes` existed are not tested, and the table notes say so.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from rsebench.errors import UserError
from rsebench.report.tables import Block, Row, Table, attack_text
from rsebench.stats import (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, holm, mcnemar_exact, paired_bootstrap_difference, pooled_mcnemar,
                            pooled_paired_bootstrap_difference)

ALPHA = 0.05
MARK = "†"
MARKED_COLUMN = "accuracy_under_attack"  # McNemar tests per-example survival, i.e. accuracy under attack
DEFAULT_RULE = "SimCSE when the table has it, else the table's first row (pretrained models first, then baselines)"


@dataclass
class Comparison:
    table: str
    attack: str
    attack_label: str
    model: str
    reference: str
    seed: str
    n_paired: int
    asr_model: float | None
    asr_reference: float | None
    difference: float | None
    interval: tuple[float, float] | None
    only_model_survived: int
    only_reference_survived: int
    pvalue: float
    undefined_resamples: int = 0  # bootstrap resamples where an ASR was undefined (left out of the interval)
    p_holm: float | None = None
    seeds_pooled: int = 0  # > 0: this row pools that many seed pairs (stratified McNemar, joint bootstrap)

    @property
    def significant(self) -> bool:
        return self.p_holm is not None and self.p_holm < ALPHA

    @property
    def relative(self) -> float | None:
        """(ASR model − ASR reference) / ASR reference: the paper's "relative change" (−49% for BERTAttack)."""
        if self.difference is None or not self.asr_reference:
            return None
        return self.difference / self.asr_reference


@dataclass
class Comparisons:
    rows: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables_compared: int = 0  # robustness tables with at least two models

    @property
    def empty(self) -> bool:
        return self.tables_compared == 0


# ---------------------------------------------------------------------------------------------
# Choosing the reference


def _names(row: Row) -> set[str]:
    method = row.method.removeprefix("pretrained:")
    return {row.label.lower(), method.lower(), method.partition("@")[0].lower(), row.label.split(" (")[0].lower()}


def _reproduced_rows(table: Table) -> list[Row]:
    seen: dict[str, Row] = {}
    for block in table.blocks:
        for row in block.rows:
            if row.reported is None:
                seen.setdefault(row.method, row)
    return list(seen.values())


def choose_reference(table: Table, requested: str | None) -> tuple[Row | None, str]:
    """(reference row, the rule that chose it) for one table; None when the requested model is absent."""
    rows = _reproduced_rows(table)
    if requested:
        match = next((row for row in rows if requested.lower() in _names(row)), None)
        return match, "--reference"
    match = next((row for row in rows if row.method.partition("@")[0] == "simcse"), None)
    return (match or (rows[0] if rows else None)), f"default: {DEFAULT_RULE}"


# ---------------------------------------------------------------------------------------------
# Comparing


def _outcomes_by_id(record: dict) -> dict[str, str] | None:
    ids, results = record.get("example_ids"), record.get("outcomes")
    if not isinstance(ids, list) or not isinstance(results, list) or len(ids) != len(results):
        return None
    return dict(zip(ids, results))


def _paired_outcomes(model: dict, reference: dict) -> tuple[list[str], list[str]] | None:
    """Outcomes of both records on the example ids both attacked (model's order); None without outcomes."""
    ours, theirs = _outcomes_by_id(model), _outcomes_by_id(reference)
    if ours is None or theirs is None:
        return None
    shared = [i for i in model["example_ids"] if i in theirs]
    return [ours[i] for i in shared], [theirs[i] for i in shared]


def _pooled(table: Table, block: Block, row: Row, reference: Row, pairs: list[tuple[dict, dict]]) -> Comparison | None:
    """One comparison over all seed pairs, on the example ids every record of them attacked."""
    by_id = [(_outcomes_by_id(m), _outcomes_by_id(r)) for m, r in pairs]
    shared = [i for i in pairs[0][0]["example_ids"] if all(i in m and i in r for m, r in by_id)]
    if not shared:
        return None
    strata = [([m[i] for i in shared], [r[i] for i in shared]) for m, r in by_id]
    test = pooled_mcnemar([mcnemar_exact([o == "failed" for o in ours], [o == "failed" for o in theirs]) for ours, theirs in strata])
    difference = pooled_paired_bootstrap_difference(strata)
    return Comparison(table.name, block.attack.get("attack", ""), attack_text(block.attack), row.label, reference.label,
                      f"pooled, {len(pairs)} seeds", len(shared), difference.asr_a, difference.asr_b, difference.difference,
                      difference.interval, test.b, test.c, test.pvalue, difference.undefined_resamples, seeds_pooled=len(pairs))


def _seed_text(record: dict) -> str:
    train = record["model"].get("train_seed")
    return f"train {train}, eval {record.get('seed')}" if train is not None else f"eval {record.get('seed')}"


def seed_pairs(model_records: dict[tuple, dict], reference_records: dict[tuple, dict]) -> list[tuple[dict, dict]]:
    """Model record -> reference record of the same (train, eval) seeds, or the reference's only record."""
    if len(reference_records) == 1:
        only = next(iter(reference_records.values()))
        return [(model_records[s], only) for s in sorted(model_records)]
    by_seeds = {seed[:2]: record for seed, record in reference_records.items()}
    return [(model_records[s], by_seeds[s[:2]]) for s in sorted(model_records) if s[:2] in by_seeds]


def _compare_block(table: Table, block: Block, reference: Row) -> tuple[list[Comparison], list[Row], int, int]:
    """Comparisons of one attack block, the row of each, the number of record pairs lacking outcomes, and
    the number of the model's records without a reference record of the same seeds."""
    out, owners, missing, unmatched = [], [], 0, 0
    reference_records = block.records.get(reference.method, {})
    if not reference_records:
        return out, owners, missing, unmatched
    for row in block.rows:
        if row.reported is not None or row.method == reference.method or row.method not in block.records:
            continue
        pairs = seed_pairs(block.records[row.method], reference_records)
        unmatched += len(block.records[row.method]) - len(pairs)
        tested = []
        for model_record, reference_record in pairs:
            paired = _paired_outcomes(model_record, reference_record)
            if paired is None or not paired[0]:
                missing += 1
                continue
            tested.append((model_record, reference_record))
            ours, theirs = paired
            test = mcnemar_exact([o == "failed" for o in ours], [o == "failed" for o in theirs])
            difference = paired_bootstrap_difference(ours, theirs)
            out.append(Comparison(table.name, block.attack.get("attack", ""), attack_text(block.attack), row.label, reference.label,
                                  _seed_text(model_record), len(ours), difference.asr_a, difference.asr_b, difference.difference,
                                  difference.interval, test.b, test.c, test.pvalue, difference.undefined_resamples))
            owners.append(row)
        # several seeds on both sides: one pooled comparison (a distinct reference record per seed)
        if len(tested) >= 2 and len({id(r) for _, r in tested}) == len(tested):
            pooled = _pooled(table, block, row, reference, tested)
            if pooled is not None:
                out.append(pooled)
                owners.append(row)
    return out, owners, missing, unmatched


def compare_with_reference(tables: list[Table], reference: str | None = None) -> Comparisons:
    """Paired tests in every robustness table (Holm within each table); marks the tables' cells and
    adds their notes in place, and returns every comparison for the comparisons table."""
    result = Comparisons()
    attack_tables = [t for t in tables if t.kind == "attack" and len(_reproduced_rows(t)) >= 2]
    if reference and attack_tables and all(choose_reference(t, reference)[0] is None for t in attack_tables):
        available = sorted({row.label for t in attack_tables for row in _reproduced_rows(t)})
        raise UserError(f"--reference '{reference}' matches no model of the robustness tables; choose one of: {', '.join(available)}")
    for table in attack_tables:
        result.tables_compared += 1
        chosen, rule = choose_reference(table, reference)
        if chosen is None:
            table.notes.append(f"no paired tests: the reference '{reference}' is not in this table")
            continue
        comparisons, owners, missing, unmatched, blocks = [], [], 0, 0, []
        for block in table.blocks:
            found, found_rows, lacking, alone = _compare_block(table, block, chosen)
            comparisons += found
            owners += found_rows
            blocks += [block] * len(found)
            missing += lacking
            unmatched += alone
        # Holm within the table, per-seed and pooled rows as two families (a pooled row re-tests its seeds' data)
        for family in ([c for c in comparisons if not c.seeds_pooled], [c for c in comparisons if c.seeds_pooled]):
            for comparison, p in zip(family, holm([c.pvalue for c in family])):
                comparison.p_holm = p
        per_seed = [(c, r, b) for c, r, b in zip(comparisons, owners, blocks) if not c.seeds_pooled]
        _mark([c for c, _, _ in per_seed], [r for _, r, _ in per_seed], [b for _, _, b in per_seed])
        result.rows += comparisons
        note = f"reference for paired tests: {chosen.label} ({rule})"
        if comparisons:
            note += (f"; {MARK} = accuracy under attack differs from the reference at p < {ALPHA:g}: McNemar's exact test on "
                     "per-example survival over the shared example ids, Holm-corrected over the "
                     f"{len(comparisons)} comparisons of this table (several seeds: every seed's comparison significant); "
                     "the ASR differences with paired bootstrap intervals are in the comparisons table")
        table.notes.append(note)
        if missing:
            table.notes.append(f"no paired test for {missing} record pair{'s' if missing != 1 else ''}: records without per-example "
                               "outcomes (written before rsebench stored them); re-run those attacks to test them")
        if unmatched:
            table.notes.append(f"no paired test for {unmatched} record{'s' if unmatched != 1 else ''}: the reference has no record "
                               "with the same training and evaluation seeds")
    if result.rows or result.tables_compared:
        result.notes = [
            f"reference: --reference when given, else {DEFAULT_RULE}",
            "ASR = successful / (successful + failed), each model over its own non-skipped examples among the shared ids; "
            f"Δ ASR = model − reference with a paired bootstrap 95% interval over example ids ({BOOTSTRAP_RESAMPLES} resamples, "
            f"percentile, seed {BOOTSTRAP_SEED}; resamples where an ASR is undefined are left out)",
            "McNemar: exact two-sided binomial test on the discordant examples of per-example survival (correct and not fooled); "
            "b = survived only under the model, c = only under the reference",
            f"Holm: step-down correction over the comparisons of one robustness table; significant = Holm p < {ALPHA:g}",
            "rel. Δ = Δ ASR / ASR ref. (the paper's relative change, e.g. −49% for BERTAttack)",
            "pooled rows (several seeds on both sides, seed s against seed s): mean Δ ASR over the seed pairs with a bootstrap "
            "that resamples example ids jointly for every pair, and McNemar stratified by seed (discordant pairs summed, "
            "exact binomial); they treat the trained models as fixed (seed-to-seed spread: the robustness table's "
            "t-intervals) and form their own Holm family",
        ]
        if not result.rows:
            result.notes.append("no comparison could be made: the attack records lack per-example outcomes "
                                "(written before rsebench stored them) or share no example ids")
    return result


def _mark(comparisons: list[Comparison], owners: list[Row], blocks: list[Block]) -> None:
    verdicts: dict[tuple[int, int], list[bool]] = {}
    cells = {}
    for comparison, row, block in zip(comparisons, owners, blocks):
        key = (id(block), id(row))
        verdicts.setdefault(key, []).append(comparison.significant)
        cells[key] = row.cells.get(MARKED_COLUMN)
    for key, flags in verdicts.items():
        if cells[key] is not None and all(flags):
            cells[key].mark = MARK


# ---------------------------------------------------------------------------------------------
# Rendering (Markdown, LaTeX, CSV)

HEADER = ("Table", "Attack", "Model", "Reference", "Seed", "n", "ASR model", "ASR ref.", "Δ ASR [95% CI]", "rel. Δ", "b/c",
          "McNemar p", "Holm p")
CSV_HEADER = ("table", "attack", "model", "reference", "seed", "n_paired", "asr_model", "asr_reference", "asr_difference",
              "asr_difference_ci_low", "asr_difference_ci_high", "asr_relative_change", "seeds_pooled", "only_model_survived", "only_reference_survived",
              "mcnemar_p", "holm_p", "significant", "bootstrap_undefined_resamples")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def _cells(c: Comparison) -> list[str]:
    interval = "" if c.interval is None else f" [{100 * c.interval[0]:+.1f}, {100 * c.interval[1]:+.1f}]"
    difference = "–" if c.difference is None else f"{100 * c.difference:+.1f}{interval}"
    holm_p = _p(c.p_holm) + (f" {MARK}" if c.significant else "")
    relative = "–" if c.relative is None else f"{100 * c.relative:+.0f}%"
    return [c.table, c.attack_label, c.model, c.reference, c.seed, str(c.n_paired), _percent(c.asr_model),
            _percent(c.asr_reference), difference, relative, f"{c.only_model_survived}/{c.only_reference_survived}", _p(c.pvalue), holm_p]


def list_markdown(title: str, header: tuple[str, ...], left_columns: int, rows: list[list[str]], notes: list[str]) -> str:
    """A comparisons list as Markdown: title, table (the first `left_columns` left-aligned), notes."""
    from rsebench.report.render_markdown import escape

    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join([":--"] * left_columns + ["--:"] * (len(header) - left_columns)) + "|"]
    lines += ["| " + " | ".join(escape(x) for x in row) + " |" for row in rows]
    lines += ["", "Notes:", ""] + [f"- {escape(note)}" for note in notes] + [""]
    return "\n".join(lines)


def list_latex(comment: str, header: tuple[str, ...], left_columns: int, rows: list[list[str]], notes: list[str]) -> str:
    """The same list as a booktabs tabular, the notes as comments above it."""
    from rsebench.report.render_latex import escape

    lines = [f"% rsebench report: {comment}", "% requires \\usepackage{booktabs}"] + [f"% note: {note}" for note in notes]
    spec = "l" * left_columns + "r" * (len(header) - left_columns)
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(escape(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(escape(x) for x in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def list_csv(header: tuple[str, ...], rows: list[tuple]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def csv_number(value) -> str:
    """A CSV cell: the full-precision float, or empty for None."""
    return "" if value is None else repr(float(value))


TITLE = "Paired comparisons with the reference model (attack success rate ×100)"


def render_markdown(comparisons: Comparisons) -> str:
    return list_markdown(TITLE, HEADER, 5, [_cells(c) for c in comparisons.rows], comparisons.notes)


def render_latex(comparisons: Comparisons) -> str:
    return list_latex("comparisons -- paired comparisons with the reference model (attack success rate x100)", HEADER, 5,
                      [_cells(c) for c in comparisons.rows], comparisons.notes)


def render_csv(comparisons: Comparisons) -> str:
    number = csv_number
    return list_csv(CSV_HEADER, [
        (c.table, c.attack, c.model, c.reference, c.seed, c.n_paired, number(c.asr_model), number(c.asr_reference),
         number(c.difference), number(c.interval[0] if c.interval else None), number(c.interval[1] if c.interval else None),
         number(c.relative), c.seeds_pooled, c.only_model_survived, c.only_reference_survived, number(c.pvalue), number(c.p_holm),
         int(c.significant), c.undefined_resamples) for c in comparisons.rows])


RENDERERS = {"markdown": render_markdown, "latex": render_latex, "csv": render_csv}
