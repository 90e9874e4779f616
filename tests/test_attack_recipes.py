"""Recipe specs: every spec loads, builders dispatch (TextAttack classes and local callables), and
missing resources fail early with one line that says how to supply them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rsebench.errors import UserError
from rsebench.robustness.recipes import build_attack, check_resources, load_recipe, recipe_names, with_masked_lm


def test_every_spec_loads_with_faithfulness_notes():
    names = recipe_names()
    assert {"deepwordbug", "pwws", "fgsm", "pgd"} <= set(names)
    for name in names:
        spec = load_recipe(name)
        assert spec.description and spec.faithfulness.get("status") and spec.faithfulness.get("notes")
        assert spec.kind == "embedding" or spec.builder


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(UserError, match="deepwordbug.*pgd"):
        load_recipe("textfoolr")


def test_missing_resources_fail_early_naming_them():
    spec = load_recipe("pwws")
    broken = replace(spec, resources={**spec.resources, "bundled_files": ["nltk_data/corpora/nothing.zip"]})
    with pytest.raises(UserError, match="nothing.zip.*NLTK_DATA"):
        check_resources(broken)
    if "bae" in recipe_names():
        with pytest.raises(UserError, match="masked language model"):
            check_resources(load_recipe("bae"))
        assert with_masked_lm(load_recipe("bae"), "/models/bert").raw["mlm"] == "/models/bert"
    with pytest.raises(UserError, match="--mlm"):
        with_masked_lm(load_recipe("pwws"), "/models/bert")


def local_builder(model_wrapper, spec):
    """A builder in the substitutes style: fn(model_wrapper, spec) -> (Attack, substitutes)."""
    from textattack.attack_recipes import DeepWordBugGao2018

    return DeepWordBugGao2018.build(model_wrapper), {"word_vectors": {"name": "made-up", "from": spec["name"]}}


def test_builders_dispatch_to_textattack_classes_and_local_callables():
    from rsebench.robustness.victim import Victim
    from rsebench.robustness.wrapper import VictimModelWrapper
    from conftest import make_tiny_encoder

    wrapper = VictimModelWrapper(Victim(make_tiny_encoder(), 2, "probe"))
    attack, substitutes = build_attack(load_recipe("deepwordbug"), wrapper)
    assert type(attack).__name__ == "Attack" and substitutes == {}
    spec = load_recipe("deepwordbug")
    custom = replace(spec, builder=f"{__name__}:local_builder", raw={**spec.raw, "name": "custom"})
    attack, substitutes = build_attack(custom, wrapper)
    assert substitutes == {"word_vectors": {"name": "made-up", "from": "custom"}}
    with pytest.raises(UserError, match="not available"):
        build_attack(replace(spec, builder="rsebench.no_such_module:x"), wrapper)
