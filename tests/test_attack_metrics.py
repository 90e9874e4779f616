"""TextAttack's metric definitions, stated on hand-made counts (no victim needed)."""

from __future__ import annotations

import pytest

from rsebench.robustness.metrics import attack_metrics


def lines(successful: int, failed: int, skipped: int) -> list[dict]:
    return ([{"result_type": "successful", "queries": 10, "words": 8, "words_changed": 2}] * successful
            + [{"result_type": "failed", "queries": 30, "words": 8, "words_changed": 0}] * failed
            + [{"result_type": "skipped", "queries": 1, "words": 8, "words_changed": None}] * skipped)


def test_success_rate_counts_only_attacked_examples():
    m = attack_metrics(lines(3, 1, 4))  # 8 examples, 4 attacked, 3 flipped
    assert m["attack_success_rate"] == pytest.approx(3 / 4)  # S / (S + F): skipped examples are not in the denominator
    assert m["original_accuracy"] == pytest.approx(4 / 8)  # (S + F) / N
    assert m["accuracy_under_attack"] == pytest.approx(1 / 8)  # F / N: skipped and successful are both wrong
    assert (m["successful_attacks"], m["failed_attacks"], m["skipped_attacks"], m["total_examples"]) == (3, 1, 4, 8)
    assert m["avg_queries"] == pytest.approx((3 * 10 + 30) / 4)  # over attacked examples only
    assert m["avg_perturbed_word_fraction"] == pytest.approx(2 / 8)  # over successful examples


def test_edge_counts():
    assert attack_metrics(lines(0, 0, 3))["attack_success_rate"] == 0.0  # nothing attacked: 0, as in TextAttack
    m = attack_metrics(lines(0, 5, 0))
    assert m["attack_success_rate"] == 0.0 and m["accuracy_under_attack"] == 1.0
    m = attack_metrics(lines(2, 0, 0))
    assert m["attack_success_rate"] == 1.0 and m["accuracy_under_attack"] == 0.0
