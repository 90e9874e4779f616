"""One TextAttack attack per example: the function both `rsebench attack` and `rsebench bench` run.

`make_text_attacker` builds the recipe's `textattack.Attack` around a model wrapper and returns a
function position -> result fields. Every example is seeded from (run seed, example id) and starts
with empty caches (the wrapper's and TextAttack's), so its result depends on nothing that ran
before it: resumed, sharded and parallel runs reproduce an uninterrupted one.
"""

from __future__ import annotations

from typing import Callable

from rsebench.data import LabeledTexts
from rsebench.robustness.recipes import RecipeSpec, build_attack


def make_text_attacker(recipe: RecipeSpec, wrapper, examples: LabeledTexts, seed: int,
                       batch_size: int = 64) -> tuple[Callable[[int], dict], dict]:
    """(position -> result fields, substitute resources used) for a TextAttack-kind recipe."""
    from rsebench.robustness.runner import _example_input, _textattack_line, seed_example

    attack, substitutes = build_attack(recipe, wrapper)
    attack.goal_function.batch_size = batch_size

    def attack_text(position: int) -> dict:
        seed_example(seed, examples.ids[position])
        if hasattr(wrapper, "clear_cache"):
            wrapper.clear_cache()
        attack.clear_cache()
        return _textattack_line(attack.attack(_example_input(examples, position), int(examples.labels[position])))

    return attack_text, substitutes
