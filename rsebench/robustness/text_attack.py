"""One TextAttack attack per example: the function both `rsebench attack` and `rsebench bench` run.

`make_text_attacker` builds the recipe's `textattack.Attack` around a model wrapper and returns a
function position -> result fields. Every example is seeded from (run seed, example id) and starts
with empty caches (the wrapper's and TextAttack's), so its result depends on nothing that ran
before it: resumed, sharded and parallel runs reproduce an uninterrupted one.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from rsebench.data import LabeledTexts
from rsebench.robustness.recipes import RecipeSpec, build_attack
from rsebench.seeding import example_digest, seed_everything


def make_text_attacker(recipe: RecipeSpec, wrapper, examples: LabeledTexts, seed: int,
                       batch_size: int = 64) -> tuple[Callable[[int], dict], dict]:
    """(position -> result fields, substitute resources used) for a TextAttack-kind recipe."""
    attack, substitutes = build_attack(recipe, wrapper)
    attack.goal_function.batch_size = batch_size

    def attack_text(position: int) -> dict:
        seed_example(seed, examples.ids[position])
        if hasattr(wrapper, "clear_cache"):
            wrapper.clear_cache()
        attack.clear_cache()
        return _textattack_line(attack.attack(_example_input(examples, position), int(examples.labels[position])))

    return attack_text, substitutes


def seed_example(seed: int, example_id: str) -> None:
    """Seed Python, NumPy and torch from (run seed, example id): order-independent randomness."""
    seed_everything(int.from_bytes(example_digest(seed, example_id)[:4], "little"))


def _textattack_line(result) -> dict:
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    if isinstance(result, SuccessfulAttackResult):
        result_type = "successful"
    elif isinstance(result, FailedAttackResult):
        result_type = "failed"
    elif isinstance(result, SkippedAttackResult):
        result_type = "skipped"
    else:
        raise ValueError(f"unexpected TextAttack result {type(result).__name__}")
    original, perturbed = result.original_result, result.perturbed_result
    changed = None if result_type == "skipped" else len(original.attacked_text.all_words_diff(perturbed.attacked_text))
    return {
        "result_type": result_type,
        "original": dict(original.attacked_text._text_input),
        "perturbed": None if result_type == "skipped" else dict(perturbed.attacked_text._text_input),
        "original_output": int(original.output), "perturbed_output": int(perturbed.output),
        "original_scores": [float(x) for x in original.raw_output], "perturbed_scores": [float(x) for x in perturbed.raw_output],
        "queries": int(result.num_queries), "words": len(original.attacked_text.words), "words_changed": changed,
    }


def _example_input(examples: LabeledTexts, position: int):
    if examples.texts_b is None:
        return examples.texts[position]
    return OrderedDict([("premise", examples.texts[position]), ("hypothesis", examples.texts_b[position])])
