"""Attack metrics, as TextAttack 0.3.11 defines them (textattack/metrics/attack_metrics), as fractions.

Per attacked example one result: `successful` (the prediction flipped), `failed` (it did not), or
`skipped` (the victim was already wrong on the clean input). With S, F, K those counts and N = S+F+K:

    original_accuracy     = (S + F) / N
    accuracy_under_attack = F / N
    attack_success_rate   = S / (S + F)        (0 when S + F = 0, as in TextAttack)

so accuracy_under_attack = original_accuracy * (1 - attack_success_rate) whenever S + F > 0.
Average perturbed-word fraction: words changed / words in the original, averaged over successful
examples with a non-zero change (TextAttack's `avg_perturbation_perc` drops zeros). Average queries:
over non-skipped examples. TextAttack rounds percentages to 2 decimals; records keep full precision.

Each proportion has a 95% Wilson interval (`<metric>_ci95 = [lo, hi]`, null when undefined; see
rsebench.stats): original accuracy over N, accuracy under attack over N, attack success rate over
S + F (so with skipped examples its interval is wider than N suggests).
"""

from __future__ import annotations

import math

from rsebench.stats import as_list, wilson_interval

RESULT_TYPES = ("successful", "failed", "skipped")


def attack_metrics(results: list[dict]) -> dict:
    """Metrics from per-example result lines (`result_type`, `queries`, `words`, `words_changed`, norms)."""
    counts = {kind: sum(1 for r in results if r["result_type"] == kind) for kind in RESULT_TYPES}
    unknown = [r["result_type"] for r in results if r["result_type"] not in RESULT_TYPES]
    if unknown:
        raise ValueError(f"unknown result types {sorted(set(unknown))}")
    total = len(results)
    s, f, k = counts["successful"], counts["failed"], counts["skipped"]
    attacked = [r for r in results if r["result_type"] != "skipped"]
    successful = [r for r in results if r["result_type"] == "successful"]
    word_fractions = [r["words_changed"] / r["words"] for r in successful
                      if r.get("words") and r.get("words_changed") is not None and r["words_changed"] > 0]
    metrics = {
        "successful_attacks": s,
        "failed_attacks": f,
        "skipped_attacks": k,
        "total_examples": total,
        "original_accuracy": (s + f) / total if total else None,
        "accuracy_under_attack": f / total if total else None,
        "attack_success_rate": s / (s + f) if s + f else 0.0,
        "original_accuracy_ci95": as_list(wilson_interval(s + f, total)),
        "accuracy_under_attack_ci95": as_list(wilson_interval(f, total)),
        "attack_success_rate_ci95": as_list(wilson_interval(s, s + f)),
        "avg_perturbed_word_fraction": _mean(word_fractions),
        "avg_queries": _mean([r["queries"] for r in attacked]),
        "avg_words_per_input": _mean([r["words"] for r in results if r.get("words") is not None]),
    }
    for norm in ("linf", "l2"):  # embedding-space attacks: size of the perturbation that succeeded
        values = [r[f"{norm}_norm"] for r in successful if r.get(f"{norm}_norm") is not None]
        if any(f"{norm}_norm" in r for r in results):
            metrics[f"avg_{norm}_norm_successful"] = _mean(values)
    return metrics


def victim_accuracy_interval(accuracy: float | None, examples: int | None) -> list[float] | None:
    """Wilson interval of the victim's clean accuracy from the fraction and the number of examples
    it was measured on (the correct count is recovered by rounding accuracy * examples)."""
    if accuracy is None or not examples:
        return None
    return as_list(wilson_interval(round(accuracy * examples), examples))


def _mean(values: list[float]) -> float | None:
    values = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(values) / len(values) if values else None
