"""Calibration of the sentence-similarity stand-in (rsebench.robustness.calibration): pass rates are what
TextAttack's SentenceEncoder constraint decides, the choice follows the stated criterion, swaps are drawn
as documented, and bad input is a one-line UserError."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rsebench.errors import UserError

TEXT = " ".join(f"w{i}" for i in range(20))          # 20 words: w0 … w19
# The fake encoder sees a text as the angle of the one word in it that is not w<i>: cos = known.
ANGLE = {"syn1": 0.10, "syn2": 0.30, "syn3": 0.55, "syn4": 0.80, "rnd1": 0.45, "rnd2": 0.95, "rnd3": 1.05, "rnd4": 1.20}
COS = {word: math.cos(angle) for word, angle in ANGLE.items()}   # syn: .995 .955 .853 .697; rnd: .900 .582 .498 .362


def fake_encode(sentences):
    out = []
    for sentence in sentences:
        angle = sum(ANGLE.get(word, 0.0) for word in sentence.split())
        out.append([math.cos(angle), math.sin(angle), 0.0])
    return np.array(out, dtype=np.float32)


@pytest.fixture(scope="module")
def calibration():
    from rsebench.robustness import calibration as module

    return module


def constructed_swaps(calibration):
    swaps = []
    for position, (syn, rnd) in enumerate(zip(["syn1", "syn2", "syn3", "syn4"], ["rnd1", "rnd2", "rnd3", "rnd4"])):
        index = 3 + 4 * position
        swaps.append(calibration.Swap("x", "synonym", index, f"w{index}", syn, TEXT))
        swaps.append(calibration.Swap("x", "random", index, f"w{index}", rnd, TEXT))
    return swaps


def test_pass_rates_on_a_constructed_case(calibration):
    scored = calibration.score_swaps(constructed_swaps(calibration), fake_encode, [5, None, 19, 20, 21])
    for window in (5, None):
        got = scored.cosine[calibration.window_label(window)].numpy()
        want = [COS[w] for pair in zip(["syn1", "syn2", "syn3", "syn4"], ["rnd1", "rnd2", "rnd3", "rnd4"]) for w in pair]
        np.testing.assert_allclose(got, want, atol=1e-6)
    at_080 = calibration.pass_counts(scored, 5, "cosine", 0.80, skip_short=False)
    assert at_080["counts"]["synonym"] == [3, 4] and at_080["counts"]["random"] == [1, 4]
    assert at_080["synonym_pass"] == 0.75 and at_080["random_pass"] == 0.25 and at_080["antonym_pass"] is None
    at_092 = calibration.pass_counts(scored, None, "cosine", 0.92, skip_short=False)
    assert at_092["counts"]["synonym"] == [2, 4] and at_092["counts"]["random"] == [0, 4]
    # angular = 1 - angle/π for these unit vectors: syn3 (angle .55) passes 0.82, syn4 (.80) does not
    angular = calibration.pass_counts(scored, 5, "angular", 0.82, skip_short=False)
    assert angular["counts"]["synonym"] == [3, 4] and angular["counts"]["random"] == [1, 4]
    # texts shorter than the window pass unscored when skip_short is on (20 words < 21)
    skipped = calibration.pass_counts(scored, 21, "cosine", 0.99, skip_short=True)
    assert skipped["counts"]["synonym"] == [4, 4] and skipped["counts"]["random"] == [4, 4]
    # a score equal to the threshold passes (TextAttack: score >= threshold)
    exact = float(scored.cosine["5"][0])
    assert calibration.pass_counts(scored, 5, "cosine", exact, skip_short=False)["counts"]["synonym"] == [1, 4]
    for window in (19, 20):   # a text as long as the window is scored
        assert calibration.pass_counts(scored, window, "cosine", 0.99, skip_short=True)["counts"]["random"] == [0, 4]


class FakeSentenceEncoder:
    """TextAttack's own SentenceEncoder constraint over the fake encoder: the reference decisions."""

    def __new__(cls, **kwargs):
        from textattack.constraints.semantics.sentence_encoders import SentenceEncoder

        class Constraint(SentenceEncoder):
            def encode(self, sentences):
                return torch.from_numpy(fake_encode(sentences))

        return Constraint(**kwargs)


def test_decisions_equal_textattacks_sentence_encoder(calibration):
    """Windows (including TextAttack's 'whole' = infinite window), both metrics, skipping of short texts and
    the threshold comparison: every decision equals SentenceEncoder._check_constraint_many's."""
    from textattack.shared import AttackedText

    text = "the quiet w2 film , with w5 actors and a w9 story that w12 , never w14 ends ."
    words = ["syn1", "syn2", "syn3", "syn4", "rnd1", "rnd2", "rnd3", "rnd4"]
    reference = AttackedText(text)
    swaps = [calibration.Swap("x", "synonym", i, reference.words[i], w, text)
             for i in (0, 2, 5, 9, 12, 14, len(reference.words) - 1) for w in words]
    scored = calibration.score_swaps(swaps, fake_encode, [3, 7, None, 40])
    for window in (3, 7, None, 40):
        for metric in ("cosine", "angular"):
            for skip in ((False, True) if window is not None else (False,)):
                for threshold in (0.5, 0.75, 0.9, 0.97):
                    constraint = FakeSentenceEncoder(threshold=threshold, metric=metric, window_size=window,
                                                     skip_text_shorter_than_window=skip)
                    transformed = [reference.replace_word_at_index(s.word_index, s.replacement) for s in swaps]
                    kept = {id(t) for t in constraint._check_constraint_many(transformed, reference)}
                    want = [id(t) in kept for t in transformed]
                    got = scored.passes(window, metric, threshold, skip).tolist()
                    assert got == want, (window, metric, skip, threshold)


def row(window, threshold, synonym, random):
    return {"window": window, "skip_short": False, "metric": "cosine", "threshold": threshold,
            "synonym_pass": synonym, "random_pass": random, "antonym_pass": None}


def test_choice_follows_the_criterion(calibration):
    criterion = calibration.Criterion(min_synonym_pass=0.9, max_random_pass=0.1)
    grid = [row(15, 0.80, 0.95, 0.10),    # feasible, margin .85
            row(15, 0.85, 0.92, 0.05),    # feasible, margin .87  <- chosen
            row(10, 0.90, 0.89, 0.00),    # larger margin .89 but keeps too few synonyms
            row(5, 0.70, 0.99, 0.50)]
    chosen = calibration.choose_setting(grid, criterion)
    assert (chosen["window"], chosen["threshold"], chosen["criterion_met"], chosen["feasible_points"]) == (15, 0.85, True, 2)
    assert chosen["margin"] == pytest.approx(0.87)
    # nothing feasible: the largest margin overall, flagged as not meeting the criterion
    infeasible = [row(15, 0.80, 0.95, 0.54), row(10, 0.88, 0.72, 0.03), row(5, 0.83, 0.80, 0.30)]
    chosen = calibration.choose_setting(infeasible, criterion)
    assert (chosen["window"], chosen["threshold"], chosen["criterion_met"]) == (10, 0.88, False)
    # a looser criterion makes the first point feasible
    assert calibration.choose_setting(infeasible, calibration.Criterion(0.9, 0.6))["threshold"] == 0.80
    # ties on margin: the higher synonym pass, then the lower threshold, then the smaller window
    tied = [row(15, 0.90, 0.60, 0.10), row(15, 0.86, 0.70, 0.20), row(10, 0.86, 0.70, 0.20), row(10, 0.84, 0.70, 0.20)]
    chosen = calibration.choose_setting(tied, criterion)
    assert (chosen["window"], chosen["threshold"]) == (10, 0.84)


def test_grid_covers_windows_thresholds_and_skip(calibration):
    scored = calibration.score_swaps(constructed_swaps(calibration), fake_encode, [5, None])
    grid = calibration.pass_rate_grid(scored, [5, None], [0.5, 0.8, 0.95], "cosine", skip_short=(False, True))
    # skip_short with the whole text would skip every text: not a setting, so not in the grid
    assert len(grid) == 3 * 2 + 3
    rates = [r["synonym_pass"] for r in grid if r["window"] == 5 and not r["skip_short"]]
    assert rates == sorted(rates, reverse=True) and rates[0] == 1.0


def tiny_lexicon(calibration):
    words = [f"w{a}{b}" for a in "abcd" for b in "abcdefghij"]     # 40 alphabetic words, in frequency order
    return calibration.Lexicon.from_pairs(words, [(words[20], words[21]), (words[20], words[22]), (words[30], words[5])],
                                          [(words[20], words[23])])


def test_draw_swaps_is_seeded_per_example_and_documented(calibration):
    lexicon = tiny_lexicon(calibration)
    w = lexicon.words
    texts = [f"the {w[20]} and {w[30]} of it", f"{w[20]} {w[1]} {w[2]}", "nothing known here"]
    ids = ["a", "b", "c"]

    def pos(word):
        return frozenset("n")

    swaps = calibration.draw_swaps(texts, ids, lexicon, seed=3, pos=pos, stopwords={"the", "and", "of", "it"})
    assert swaps == calibration.draw_swaps(texts, ids, lexicon, seed=3, pos=pos, stopwords={"the", "and", "of", "it"})
    # an example's draws do not depend on the other examples
    alone = calibration.draw_swaps(texts[1:2], ids[1:2], lexicon, seed=3, pos=pos, stopwords=set())
    assert [s for s in swaps if s.example_id == "b"] == alone
    assert {s.example_id for s in swaps} == {"a", "b"}    # "c" has no word with a synonym
    for swap in swaps:
        word = swap.original.lower()
        if swap.kind == "synonym":
            assert swap.replacement in lexicon.synonyms[word]
        elif swap.kind == "random":
            rank, own = lexicon.rank[swap.replacement], lexicon.rank[word]
            assert int(own / 2) <= rank < 2 * own + 2
            assert swap.replacement != word and swap.replacement not in lexicon.synonyms.get(word, ())
            assert swap.replacement not in lexicon.antonyms.get(word, ())
        else:
            assert swap.kind == "antonym" and swap.replacement in lexicon.antonyms[word]
    kinds = [s.kind for s in swaps]
    assert kinds.count("synonym") == kinds.count("random") == 2 and kinds.count("antonym") == 2
    # no POS-compatible random word in its frequency band: no synonym/random pair at that word (w[20]);
    # its antonym still counts, and the synonym/random pair moves to the other word (w[30])
    rare_tag = {w[20], w[21], w[22], w[23]}
    moved = calibration.draw_swaps(texts[:1], ids[:1], lexicon, seed=3, stopwords={"the", "and", "of", "it"},
                                   pos=lambda word: frozenset("x" if word in rare_tag else "y"))
    assert [(s.kind, s.original) for s in moved] == [("synonym", w[30]), ("random", w[30]), ("antonym", w[20])]
    # a POS shared with no other word: no synonym, no antonym, nothing drawn
    assert calibration.draw_swaps(texts, ids, lexicon, seed=3, pos=lambda word: frozenset({word})) == []


def test_bundled_lexicon_matches_the_word_vectors_lists(calibration):
    lexicon = calibration.load_lexicon()
    assert len(lexicon.words) == 71815                      # vocabulary.txt ∩ GloVe, as word_vectors builds it
    assert sum(map(len, lexicon.synonyms.values())) // 2 == 15859
    assert "credible" in lexicon.synonyms["believable"] and "bad" in lexicon.antonyms["good"]
    assert lexicon.rank["the"] < lexicon.rank["film"] < lexicon.rank["believable"]   # frequency order


@pytest.mark.parametrize("kwargs, message", [
    ({"windows": [0]}, "window size 0"),
    ({"windows": []}, "no window sizes"),
    ({"thresholds": [1.5]}, "outside"),
    ({"thresholds": []}, "no thresholds"),
    ({"metrics": ["euclidean"]}, "unknown similarity metric"),
    ({"per_example": 0}, "swaps per example"),
    ({"n": 5000}, "larger than"),
    ({"dataset": "snli", "n": 5}, "sentence-pair task"),
    ({"dataset": "nope", "n": 5}, "nope"),
])
def test_bad_inputs_are_user_errors(calibration, kwargs, message):
    with pytest.raises(UserError, match=message):
        calibration.calibrate_substitutes(**{"n": 5, **kwargs}, encode=fake_encode)


def test_bad_criterion_is_a_user_error(calibration):
    with pytest.raises(UserError, match="min_synonym_pass must be a fraction"):
        calibration.Criterion(min_synonym_pass=1.5)


def test_cli_bad_input_is_one_line(capsys, tmp_path):
    from rsebench.cli import main

    assert main(["calibrate-substitutes", "--dataset", "nope", "--out", str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rsebench calibrate-substitutes: error:") and "nope" in err[0]
    assert main(["calibrate-substitutes", "--metrics", "euclidean", "--n", "5", "--out", str(tmp_path / "c.json")]) == 2
    assert "unknown similarity metric" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["calibrate-substitutes", "--windows", "0"])
    assert exit_.value.code == 2 and "window 0 must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


@pytest.mark.slow
def test_calibration_end_to_end_on_mr(calibration, tmp_path):
    """Real lists, WordNet and MiniLM on 6 MR examples: a complete, JSON-ready, reproducible record."""
    import json

    from rsebench.cli import main

    out = tmp_path / "calibration.json"
    assert main(["calibrate-substitutes", "--n", "6", "--windows", "5,whole", "--thresholds", "0.8:0.9:0.05",
                 "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["schema"] == calibration.SCHEMA and record["task"]["n_examples"] == 6
    assert record["counts"]["synonym"] == record["counts"]["random"] > 0
    assert set(record["chosen"]) == {"angular", "cosine"} and len(record["grid"]["cosine"]) == 2 * 3
    assert set(record["chosen_per_window"]["cosine"]) == {"5", "whole"}
    assert record["stock"]["textfooler"]["window_size"] == 15 and record["stock"]["textfooler"]["pass"]["skip_short"]
    first = record["swaps"][0]
    again = calibration.calibrate_substitutes("mr", 6, windows=[5, None], thresholds=[0.8, 0.85, 0.9])
    assert again["swaps"][0] == first and again["grid"] == record["grid"]


@pytest.mark.parametrize("name", ["textfooler", "textbugger"])
def test_specs_carry_calibrated_similarity_and_keep_stock_defaults(name):
    """The specs override the stock USE values (kept as the builders' defaults) with valid settings."""
    from rsebench.robustness.recipes import load_recipe
    from rsebench.robustness.substitutes import STOCK_SENTENCE_SIMILARITY, _similarity_constraint

    spec = load_recipe(name).raw
    stock = STOCK_SENTENCE_SIMILARITY[name]
    assert spec["sentence_similarity"]["threshold"] != stock["threshold"]
    assert spec["sentence_similarity"]["metric"] == stock["metric"]
    constraint, described = _similarity_constraint(spec, stock)
    assert constraint.threshold == described["threshold"] == spec["sentence_similarity"]["threshold"]
    assert described["window_size"] == spec["sentence_similarity"].get("window_size", stock["window_size"])
