"""Offline substitute recipes: they build from local resources only and actually attack, and the
recipes whose resource cannot ship (an MLM) fail with a clear UserError."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from rsebench.errors import UserError

# Same slice and cache folder as tests/test_word_vectors.py, so the vectors are built once per session.
SMALL = {"max_words": 2000, "iterations": 10}


@pytest.fixture(scope="module")
def substitutes(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RSEBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "rsebench-word-vectors-cache"))
        from rsebench.robustness import substitutes as module

        yield module


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test (TextAttack's downloads, hub look-ups)."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


class KeywordVictim:
    """A transparent sentiment 'model': positive iff a cue word occurs. The only way to flip it is to
    swap the cue word, which the recipe must do through its own substitutes."""

    positive_words = {"good"}

    def __init__(self):
        from textattack.models.wrappers import ModelWrapper

        self.wrapper = type("Wrapper", (ModelWrapper,), {"__call__": lambda _, texts: self(texts)})()
        self.wrapper.model = self
        self.queries = 0

    def __call__(self, texts):
        self.queries += len(texts)
        scores = np.array([[0.0, 1.0] if set(t.lower().split()) & self.positive_words else [1.0, 0.0] for t in texts])
        return scores


LONG_TEXT = "the acting was good and the story kept me watching until the very end of this long and quiet film"


def test_textfooler_local_attacks_without_network(substitutes, no_network):
    from textattack.attack_results import SuccessfulAttackResult

    victim = KeywordVictim()
    attack, used = substitutes.build_textfooler(victim.wrapper, {"name": "textfooler", "word_vectors": SMALL})
    assert used["variant"] == "textfooler-local"
    assert {"word_vectors", "sentence_similarity", "part_of_speech"} <= set(used)
    assert used["word_vectors"]["cache_path"] and used["word_vectors"]["key"]
    assert used["sentence_similarity"]["name"] == "all-MiniLM-L6-v2" and used["sentence_similarity"]["window_size"] == 15

    for text in ("a good movie", LONG_TEXT):   # short: window check skipped; long: MiniLM window scored
        result = attack.attack(text, 1)
        assert isinstance(result, SuccessfulAttackResult), result.goal_function_result_str()
        original, perturbed = result.original_result.attacked_text, result.perturbed_result.attacked_text
        changed = original.all_words_diff(perturbed)
        assert changed == {original.words.index("good")}
        assert perturbed.words[original.words.index("good")] not in KeywordVictim.positive_words
    assert victim.queries > 0


def test_similarity_constraint_uses_minilm_with_use_semantics(substitutes):
    from textattack.shared import AttackedText

    constraint = substitutes.LocalSentenceEncoder(threshold=0.84, metric="angular", compare_against_original=False,
                                                  window_size=15, skip_text_shorter_than_window=False)
    original = AttackedText(LONG_TEXT)
    index = original.words.index("good")
    close = original.replace_word_at_index(index, "fine")
    far = original.replace_word_at_index(index, "awful")
    scores = constraint._score_list(original, [close, far])
    assert scores.shape == (2,) and float(scores[0]) > float(scores[1])
    same = constraint.encode([LONG_TEXT, LONG_TEXT])
    assert torch_cosine(same[0], same[1]) == pytest.approx(1.0, abs=1e-5)


def torch_cosine(a, b) -> float:
    import torch

    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def test_wordnet_part_of_speech(substitutes):
    pos = substitutes.WordNetPartOfSpeech(allow_verb_noun_swap=True)
    strict = substitutes.WordNetPartOfSpeech(allow_verb_noun_swap=False)
    assert pos.can_replace("movie", "film")
    assert not pos.can_replace("happy", "quickly")          # adjective vs adverb
    assert pos.can_replace("xyzzyq", "qwertzu")              # both unknown to WordNet
    assert not pos.can_replace("movie", "xyzzyq")
    assert pos.can_replace("devour", "movie") and not strict.can_replace("devour", "movie")   # verb/noun


def test_homoglyph_table_is_bundled_and_loaded(substitutes):
    table = substitutes.read_homoglyph_table()
    assert sum(len(v) for v in table.values()) == 78
    assert "\u0430" in table["a"] and "\u0455" in table["s"]     # Cyrillic a, dze
    swap = substitutes.BundledHomoglyphSwap()
    assert swap.homos_intentional == table
    assert swap._get_replacement_words("cat")


def test_textbugger_local_builds_and_attacks_without_network(substitutes, no_network):
    from textattack.attack_results import SuccessfulAttackResult

    victim = KeywordVictim()
    attack, used = substitutes.build_textbugger(victim.wrapper, {"name": "textbugger", "word_vectors": SMALL})
    assert used["homoglyphs"]["path"].endswith("intentional_homoglyphs.txt")
    # On a 3-word text any bug moves the whole-text MiniLM similarity below 0.8; in a long one it does not.
    result = attack.attack(LONG_TEXT, 1)
    assert isinstance(result, SuccessfulAttackResult), result.goal_function_result_str()
    original = result.original_result.attacked_text
    assert original.all_words_diff(result.perturbed_result.attacked_text) == {original.words.index("good")}


@pytest.mark.parametrize("name", ["bertattack", "bae"])
def test_mlm_recipes_without_mlm_say_what_they_need(substitutes, name):
    from rsebench.robustness.recipes import load_recipe

    spec = load_recipe(name).raw
    builder = getattr(substitutes, f"build_{name}")
    with pytest.raises(UserError, match="needs a masked language model.*mlm ="):
        builder(KeywordVictim().wrapper, spec)


def test_mlm_folder_without_trained_head_is_refused(substitutes):
    from rsebench.encoder import default_model_path

    with pytest.raises(UserError, match="no trained masked-LM head"):
        substitutes.build_bertattack(KeywordVictim().wrapper, {"name": "bertattack", "mlm": str(default_model_path())})
    with pytest.raises(UserError, match="cannot load masked language model"):
        substitutes.build_bae(KeywordVictim().wrapper, {"name": "bae", "mlm": "no/such-model-here"})


def test_bae_runs_with_a_supplied_mlm(substitutes, tmp_path, no_network):
    import torch
    from textattack.attack_results import AttackResult
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from rsebench.encoder import default_model_path

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertForMaskedLM(config).save_pretrained(tmp_path / "tiny-mlm")
    AutoTokenizer.from_pretrained(str(default_model_path())).save_pretrained(tmp_path / "tiny-mlm")
    spec = {"name": "bae", "mlm": str(tmp_path / "tiny-mlm"), "parameters": {"max_candidates": 5}}
    attack, used = substitutes.build_bae(KeywordVictim().wrapper, spec)
    assert used["masked_lm"]["class"] == "BertForMaskedLM" and used["masked_lm"]["path"]
    assert isinstance(attack.attack("a good movie", 1), AttackResult)


def test_bad_spec_settings_are_user_errors(substitutes):
    wrapper = KeywordVictim().wrapper
    with pytest.raises(UserError, match="unknown sentence_similarity setting"):
        substitutes.build_textfooler(wrapper, {"name": "textfooler", "word_vectors": SMALL, "sentence_similarity": {"treshold": 0.9}})
    with pytest.raises(UserError, match="unknown parameter"):
        substitutes.build_textfooler(wrapper, {"name": "textfooler", "word_vectors": SMALL, "parameters": {"max_candidate": 5}})
