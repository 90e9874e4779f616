"""Calibrating the sentence-similarity stand-in (MiniLM in place of the Universal Sentence Encoder).

TextFooler and TextBugger keep a word swap only when a sentence encoder finds the swapped text
similar enough to the original (TextAttack's `SentenceEncoder` constraint). Offline, rsebench uses
the bundled all-MiniLM-L6-v2 (`substitutes.LocalSentenceEncoder`) instead of USE, and the recipes'
USE thresholds need not mean the same for MiniLM. This module measures what a setting does:

    pass rate(kind; window, threshold) = fraction of single-word swaps of that kind the constraint keeps

on the attack set's fixed example order (`runner.select_examples`), for

- synonym swaps: a PPDB synonym from the counter-fitting constraint lists (the lists the word vectors
  are counter-fitted with) that shares a WordNet part of speech with the word: swaps the constraint
  should keep;
- random swaps, at the same positions: a vocabulary word of similar frequency (GloVe frequency rank
  within a factor of 2 of the word's) sharing a WordNet part of speech, neither a synonym nor an
  antonym of the word: swaps it should reject;
- antonym swaps (PPDB + WordNet antonym lists), at their own positions: reported, not used to choose.

Swapped positions are the ones the attacks may touch: alphabetic words outside TextFooler's stop-word
list that are in the counter-fitting vocabulary. Randomness is drawn per example from
(seed, example id), so an example's swaps do not depend on n. Each swap is scored exactly as
TextAttack 0.3.11's `SentenceEncoder._check_constraint_many` scores it: the `window` words around the
swapped word (`AttackedText.text_window_around_index`; "whole" = an infinite window, as TextAttack
treats `window_size=None`), cosine of the two encodings, angular = 1 − arccos(cos)/π, pass when
score ≥ threshold (float32, as torch compares), and, with `skip_text_shorter_than_window`, every
text shorter than the window passes unscored.

Choice (`choose_setting`): among grid points that keep ≥ `min_synonym_pass` of synonym swaps and
pass ≤ `max_random_pass` of random swaps, the one with the largest margin (synonym pass − random
pass); when no point meets both, the largest margin over the whole grid, reported as not meeting the
criterion. Ties: higher synonym pass, then lower threshold, then smaller window.
"""

from __future__ import annotations

import gzip
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from rsebench.errors import UserError
from rsebench.robustness.word_vectors import (ANTONYM_FILES, CONSTRAINTS_DIR, GLOVE_VOCAB_FILE, SYNONYM_FILES,
                                              VOCABULARY_FILE)
from rsebench.seeding import example_digest

SCHEMA = "rsebench.substitute-calibration/1"
SWAP_KINDS = ("synonym", "random", "antonym")
METRICS = ("angular", "cosine")
DEFAULT_WINDOWS: tuple[int | None, ...] = (5, 10, 15, None)
DEFAULT_THRESHOLDS = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))   # 0.50 … 0.99
FREQUENCY_BAND = 2.0     # a random word's frequency rank lies within this factor of the swapped word's
MAX_DRAWS = 200          # rejection-sampling attempts for one random word

PartsOfSpeech = Callable[[str], frozenset]
Encode = Callable[[list[str]], np.ndarray]


# ---- the word lists --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lexicon:
    """Counter-fitting vocabulary in GloVe frequency order, with its synonym and antonym relations."""

    words: tuple[str, ...]
    synonyms: dict[str, frozenset[str]]
    antonyms: dict[str, frozenset[str]]

    @property
    def rank(self) -> dict[str, int]:
        return self._rank   # set in __post_init__

    def __post_init__(self):
        object.__setattr__(self, "_rank", {word: i for i, word in enumerate(self.words)})

    @classmethod
    def from_pairs(cls, words: Sequence[str], synonym_pairs: Iterable[tuple[str, str]],
                   antonym_pairs: Iterable[tuple[str, str]]) -> "Lexicon":
        """Both directions of every pair whose two words are in `words` (in frequency order)."""
        known = set(words)

        def relation(pairs):
            related: dict[str, set[str]] = {}
            for a, b in pairs:
                if a != b and a in known and b in known:
                    related.setdefault(a, set()).add(b)
                    related.setdefault(b, set()).add(a)
            return {word: frozenset(others) for word, others in related.items()}

        return cls(tuple(words), relation(synonym_pairs), relation(antonym_pairs))


def _gzip_lines(path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return handle.read().split("\n")


def _pairs(names: Iterable[str]) -> list[tuple[str, str]]:
    return [tuple(line.split()) for name in names for line in _gzip_lines(CONSTRAINTS_DIR / name) if len(line.split()) == 2]


def load_lexicon() -> Lexicon:
    """The bundled counter-fitting lists: vocabulary ∩ GloVe 6B (GloVe row order = frequency order),
    PPDB synonyms, PPDB + WordNet antonyms: the same words and pairs `word_vectors` uses."""
    glove_rank = {word: row for row, word in enumerate(_gzip_lines(GLOVE_VOCAB_FILE)) if word}
    vocabulary = {w.strip() for w in _gzip_lines(CONSTRAINTS_DIR / VOCABULARY_FILE) if w.strip() in glove_rank}
    words = sorted(vocabulary, key=glove_rank.__getitem__)
    return Lexicon.from_pairs(words, _pairs(SYNONYM_FILES), _pairs(ANTONYM_FILES))


def share_part_of_speech(a: frozenset, b: frozenset) -> bool:
    """The swap passes a strict POS check: a shared part of speech, or both words unknown to WordNet."""
    return bool(a & b) or (not a and not b)


# ---- drawing swaps ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Swap:
    """One single-word swap of one example's text."""

    example_id: str
    kind: str            # synonym, random or antonym
    word_index: int      # in TextAttack's AttackedText.words
    original: str
    replacement: str
    text: str


def _example_rng(seed: int, example_id: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(example_digest(seed, example_id)[:8], "little"))


def _match_case(template: str, word: str) -> str:
    if len(template) > 1 and template.isupper():
        return word.upper()
    return word.capitalize() if template[:1].isupper() else word


def random_word(word: str, lexicon: Lexicon, pos: PartsOfSpeech, rng: np.random.Generator) -> str | None:
    """A vocabulary word of similar frequency (rank within FREQUENCY_BAND×) sharing a part of speech with
    `word`, neither `word` nor its synonym or antonym; None when MAX_DRAWS draws find none."""
    rank = lexicon.rank[word]
    low, high = int(rank / FREQUENCY_BAND), min(len(lexicon.words), int(rank * FREQUENCY_BAND) + 2)
    excluded = {word} | lexicon.synonyms.get(word, frozenset()) | lexicon.antonyms.get(word, frozenset())
    tags = pos(word)
    for _ in range(MAX_DRAWS):
        candidate = lexicon.words[int(rng.integers(low, high))]
        if candidate.isalpha() and candidate not in excluded and share_part_of_speech(tags, pos(candidate)):
            return candidate
    return None


def _related(word: str, relation: dict[str, frozenset[str]], pos: PartsOfSpeech) -> list[str]:
    tags = pos(word)
    return sorted(w for w in relation.get(word, ()) if w.isalpha() and share_part_of_speech(tags, pos(w)))


def draw_swaps(texts: Sequence[str], ids: Sequence[str], lexicon: Lexicon, seed: int = 0, per_example: int = 1,
               pos: PartsOfSpeech | None = None, stopwords: Iterable[str] | None = None) -> list[Swap]:
    """Per example: `per_example` positions with a synonym swap and a random swap each, and
    `per_example` (other draws of) positions with an antonym swap; seeded per (seed, example id)."""
    from textattack.shared import AttackedText

    from rsebench.robustness.substitutes import TEXTFOOLER_STOPWORDS, wordnet_parts_of_speech

    pos = pos or wordnet_parts_of_speech
    stopwords = frozenset(TEXTFOOLER_STOPWORDS if stopwords is None else stopwords)
    swaps: list[Swap] = []
    for text, example_id in zip(texts, ids):
        rng = _example_rng(seed, example_id)
        words = AttackedText(text).words
        attackable = [i for i, w in enumerate(words)
                      if w.isalpha() and w.lower() not in stopwords and w.lower() in lexicon.rank]
        kept = 0
        for i in rng.permutation(attackable).tolist() if attackable else []:
            word = words[i].lower()
            synonyms = _related(word, lexicon.synonyms, pos)
            if not synonyms:
                continue
            synonym = synonyms[int(rng.integers(len(synonyms)))]
            other = random_word(word, lexicon, pos, rng)
            if other is None:
                continue
            swaps.append(Swap(example_id, "synonym", i, words[i], _match_case(words[i], synonym), text))
            swaps.append(Swap(example_id, "random", i, words[i], _match_case(words[i], other), text))
            kept += 1
            if kept == per_example:
                break
        kept = 0
        for i in rng.permutation(attackable).tolist() if attackable else []:
            antonyms = _related(words[i].lower(), lexicon.antonyms, pos)
            if antonyms:
                antonym = antonyms[int(rng.integers(len(antonyms)))]
                swaps.append(Swap(example_id, "antonym", i, words[i], _match_case(words[i], antonym), text))
                kept += 1
                if kept == per_example:
                    break
    return swaps


# ---- scoring: TextAttack's SentenceEncoder semantics ------------------------------------------------

def window_label(window: int | None) -> str:
    return "whole" if window is None else str(window)


@dataclass
class ScoredSwaps:
    swaps: list[Swap]
    word_counts: np.ndarray              # len(transformed_text.words), for skip_text_shorter_than_window
    cosine: dict[str, torch.Tensor]      # window label -> float32 cosine of the two windows' encodings

    def scores(self, window: int | None, metric: str) -> torch.Tensor:
        cos = self.cosine[window_label(window)]
        if metric == "cosine":
            return cos
        # textattack.constraints.semantics.sentence_encoders.sentence_encoder.get_angular_sim, on the cosine
        return 1 - (torch.acos(torch.clamp(cos, -1.0, 1.0)) / math.pi)

    def passes(self, window: int | None, metric: str, threshold: float, skip_short: bool) -> torch.Tensor:
        """Boolean per swap: what `SentenceEncoder._check_constraint_many` keeps."""
        passed = self.scores(window, metric) >= threshold
        if skip_short:
            passed |= torch.from_numpy(self.word_counts < (math.inf if window is None else window))
        return passed


def score_swaps(swaps: Sequence[Swap], encode: Encode, windows: Iterable[int | None]) -> ScoredSwaps:
    """Encode each swap's original and swapped window (each distinct string once) for every window size."""
    from textattack.shared import AttackedText

    windows = list(dict.fromkeys(windows))
    pairs, word_counts = {window_label(w): [] for w in windows}, []
    originals: dict[str, AttackedText] = {}
    for swap in swaps:
        reference = originals.setdefault(swap.text, AttackedText(swap.text))
        transformed = reference.replace_word_at_index(swap.word_index, swap.replacement)
        word_counts.append(len(transformed.words))
        for window in windows:
            size = math.inf if window is None else window
            pairs[window_label(window)].append((reference.text_window_around_index(swap.word_index, size),
                                                transformed.text_window_around_index(swap.word_index, size)))
    distinct = list(dict.fromkeys(s for label in pairs for pair in pairs[label] for s in pair))
    vectors = torch.from_numpy(np.asarray(encode(distinct), dtype=np.float32)) if distinct else torch.zeros(0, 1)
    row = {s: i for i, s in enumerate(distinct)}
    similarity = torch.nn.CosineSimilarity(dim=1)
    cosine = {}
    for label, items in pairs.items():
        first = vectors[[row[a] for a, _ in items]] if items else torch.zeros(0, vectors.shape[1])
        second = vectors[[row[b] for _, b in items]] if items else torch.zeros(0, vectors.shape[1])
        cosine[label] = similarity(first, second)
    return ScoredSwaps(list(swaps), np.array(word_counts, dtype=np.int64), cosine)


# ---- the grid and the choice ------------------------------------------------------------------------

def pass_counts(scored: ScoredSwaps, window: int | None, metric: str, threshold: float, skip_short: bool) -> dict:
    """{kind: [passed, total]} and {kind: pass rate} at one setting."""
    passed = scored.passes(window, metric, threshold, skip_short).numpy()
    kinds = np.array([s.kind for s in scored.swaps])
    counts = {kind: [int(passed[kinds == kind].sum()), int((kinds == kind).sum())] for kind in SWAP_KINDS}
    rates = {f"{kind}_pass": (k / n if n else None) for kind, (k, n) in counts.items()}
    return {"window": window, "skip_short": skip_short, "metric": metric, "threshold": threshold,
            **rates, "counts": counts}


def pass_rate_grid(scored: ScoredSwaps, windows: Sequence[int | None], thresholds: Sequence[float], metric: str,
                   skip_short: Sequence[bool] = (False,)) -> list[dict]:
    return [pass_counts(scored, window, metric, threshold, skip)
            for window in windows for skip in skip_short if not (skip and window is None) for threshold in thresholds]


@dataclass(frozen=True)
class Criterion:
    """Keep at least `min_synonym_pass` of synonym swaps, pass at most `max_random_pass` of random swaps."""

    min_synonym_pass: float = 0.9
    max_random_pass: float = 0.1

    def __post_init__(self):
        for name in ("min_synonym_pass", "max_random_pass"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise UserError(f"{name} must be a fraction between 0 and 1, not {value!r}")

    def describe(self) -> str:
        return (f"keep >= {self.min_synonym_pass:.0%} of synonym swaps and pass <= {self.max_random_pass:.0%} of random "
                f"swaps, largest margin (synonym pass - random pass) among those; if no setting meets both, the largest "
                f"margin over the grid (criterion not met)")


def choose_setting(grid: Sequence[dict], criterion: Criterion = Criterion()) -> dict:
    """The grid point chosen by `criterion` (see the module docstring), with `criterion_met` and `margin`."""
    rows = [row for row in grid if row["synonym_pass"] is not None and row["random_pass"] is not None]
    if not rows:
        raise UserError("the calibration grid has no synonym and random swaps to compare; use more examples (--n)")
    feasible = [row for row in rows
                if row["synonym_pass"] >= criterion.min_synonym_pass and row["random_pass"] <= criterion.max_random_pass]

    def preference(row):
        window = math.inf if row["window"] is None else row["window"]
        margin = round(row["synonym_pass"] - row["random_pass"], 12)   # equal margins compare equal despite rounding
        return (-margin, -row["synonym_pass"], row["threshold"], window, row.get("skip_short", False))

    best = min(feasible or rows, key=preference)
    return {**best, "margin": best["synonym_pass"] - best["random_pass"], "criterion_met": bool(feasible),
            "feasible_points": len(feasible)}


# ---- the whole measurement ----------------------------------------------------------------------------

def _check_grid(windows, thresholds, metrics, skip_short, per_example) -> None:
    if not windows:
        raise UserError("no window sizes given; use e.g. --windows 5,10,15,whole")
    for window in windows:
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise UserError(f"window size {window!r} must be a positive number of words or 'whole'")
    if not thresholds:
        raise UserError("no thresholds given; use e.g. --thresholds 0.5:0.99:0.01")
    for threshold in thresholds:
        if not (isinstance(threshold, (int, float)) and -1.0 <= threshold <= 1.0):
            raise UserError(f"threshold {threshold!r} is outside [-1, 1] (cosine and angular similarities lie there)")
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown or not metrics:
        raise UserError(f"unknown similarity metric(s) {unknown or metrics}; choose from {', '.join(METRICS)}")
    if not skip_short:
        raise UserError("skip_short needs at least one value (False, True)")
    if not isinstance(per_example, int) or per_example < 1:
        raise UserError(f"swaps per example must be a positive integer, not {per_example!r}")


def stock_settings() -> dict[str, dict]:
    """The recipes' own (USE) sentence-similarity settings, as TextAttack 0.3.11 builds them."""
    from rsebench.robustness.substitutes import STOCK_SENTENCE_SIMILARITY

    return {recipe: dict(table) for recipe, table in STOCK_SENTENCE_SIMILARITY.items()}


def calibrate_substitutes(dataset: str = "mr", n: int | None = None, seed: int = 0, per_example: int = 1,
                          windows: Sequence[int | None] = DEFAULT_WINDOWS,
                          thresholds: Sequence[float] = DEFAULT_THRESHOLDS, metrics: Sequence[str] = METRICS,
                          skip_short: Sequence[bool] = (False,), criterion: Criterion = Criterion(),
                          encoder: str = "default", encode: Encode | None = None, lexicon: Lexicon | None = None,
                          keep_swaps: bool = True) -> dict:
    """Measure synonym / random / antonym pass rates of the stand-in over the grid; choose a setting
    per metric by `criterion`; return the calibration record (plain JSON data)."""
    from rsebench.data import dataset_info
    from rsebench.records import environment, now
    from rsebench.robustness.runner import select_examples

    windows, thresholds = list(windows), [float(t) for t in thresholds]
    _check_grid(windows, thresholds, metrics, list(skip_short), per_example)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise UserError(f"--n must be a positive number of examples, not {n!r}")
    examples = select_examples(dataset, n)
    if examples.texts_b is not None or dataset_info(dataset).kind != "classification":
        raise UserError(f"'{dataset}' is a sentence-pair task; calibrate on a single-text attack set such as mr, sst2, ag or imdb")
    started = time.perf_counter()
    lexicon = lexicon or load_lexicon()
    swaps = draw_swaps(examples.texts, examples.ids, lexicon, seed=seed, per_example=per_example)
    kinds = [s.kind for s in swaps]
    if not kinds.count("synonym"):
        raise UserError(f"no synonym swaps could be drawn from the {len(examples)} '{dataset}' examples; use more examples (--n)")
    drawn = time.perf_counter()
    encoder_info = None
    if encode is None:
        from rsebench.robustness.substitutes import _load_similarity_encoder, describe_similarity_encoder

        model = _load_similarity_encoder(encoder)
        encoder_info = describe_similarity_encoder(model, encoder)

        def encode(sentences):
            return model.encode(sentences, show_progress=len(sentences) > 2000, description="encoding windows")
    stock = stock_settings()
    all_windows = list(dict.fromkeys(windows + [table["window_size"] for table in stock.values()]))
    scored = score_swaps(swaps, encode, all_windows)
    encoded = time.perf_counter()

    grids = {metric: pass_rate_grid(scored, windows, thresholds, metric, list(skip_short)) for metric in metrics}
    chosen = {metric: choose_setting(grid, criterion) for metric, grid in grids.items()}
    # A recipe that must keep its window (TextBugger compares the whole text with the original) takes its row here.
    chosen_per_window = {metric: {window_label(w): choose_setting([r for r in grid if r["window"] == w], criterion)
                                  for w in windows} for metric, grid in grids.items()}
    stock_rows = {recipe: pass_counts(scored, table["window_size"], table["metric"], table["threshold"],
                                      table.get("skip_text_shorter_than_window", False))
                  for recipe, table in stock.items()}
    record = {
        "schema": SCHEMA, "created": now(),
        "task": {"dataset": dataset, "split": examples.split, "n_examples": len(examples), "example_ids": list(examples.ids)},
        "settings": {"seed": seed, "swaps_per_example": per_example, "windows": [window_label(w) for w in windows],
                     "thresholds": thresholds, "metrics": list(metrics), "skip_short": list(skip_short),
                     "frequency_band": FREQUENCY_BAND, "criterion": asdict(criterion),
                     "criterion_text": criterion.describe(),
                     "swaps": {"synonym": "PPDB synonym (counter-fitting lists) sharing a WordNet POS",
                               "random": f"vocabulary word with GloVe frequency rank within x{FREQUENCY_BAND:g} of the word's, "
                                         "sharing a WordNet POS, not a synonym/antonym",
                               "antonym": "PPDB/WordNet antonym sharing a WordNet POS (reported, not used to choose)",
                               "positions": "alphabetic words outside TextFooler's stop words, in the counter-fitting vocabulary"}},
        "similarity_encoder": encoder_info or {"name": "caller-supplied encode function"},
        "lexicon": {"words": len(lexicon.words), "synonym_words": len(lexicon.synonyms), "antonym_words": len(lexicon.antonyms)},
        "counts": {kind: kinds.count(kind) for kind in SWAP_KINDS},
        "short_text_fraction": {window_label(w): float(np.mean(scored.word_counts < w)) for w in all_windows if w is not None},
        "stock": {recipe: {**stock[recipe], "pass": row} for recipe, row in stock_rows.items()},
        "chosen": chosen,
        "chosen_per_window": chosen_per_window,
        "grid": grids,
        "environment": environment(),
        "timings": {"draw_s": round(drawn - started, 2), "encode_s": round(encoded - drawn, 2),
                    "total_s": round(time.perf_counter() - started, 2)},
    }
    if keep_swaps:
        record["swaps"] = [{**{k: v for k, v in asdict(s).items() if k != "text"}, "words": int(scored.word_counts[i]),
                            "cosine": {label: round(float(c[i]), 6) for label, c in scored.cosine.items()}}
                           for i, s in enumerate(swaps)]
    return record


# ---- presentation ----------------------------------------------------------------------------------------

def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def markdown_summary(record: dict) -> str:
    """The tables attacks/README.md shows: stock settings, the chosen setting per metric, and per window the
    threshold with the largest margin."""
    counts = record["counts"]
    lines = [f"Calibration on {record['task']['dataset']} ({record['task']['n_examples']} examples, seed "
             f"{record['settings']['seed']}; {counts['synonym']} synonym, {counts['random']} random, "
             f"{counts['antonym']} antonym swaps). Criterion: {record['settings']['criterion_text']}.", "",
             "| setting | window | metric | threshold | synonym pass | random pass | antonym pass | margin |",
             "|---|---|---|---|---|---|---|---|"]

    def row(name, r, margin=None):
        window = window_label(r["window"]) + (" (shorter texts skipped)" if r.get("skip_short") else "")
        margin = r["synonym_pass"] - r["random_pass"] if margin is None else margin
        lines.append(f"| {name} | {window} | {r['metric']} | {r['threshold']:g} | {_percent(r['synonym_pass'])} | "
                     f"{_percent(r['random_pass'])} | {_percent(r['antonym_pass'])} | {margin:+.2f} |")

    for recipe, entry in record["stock"].items():
        row(f"{recipe} stock (USE value)", entry["pass"])
    for metric, chosen in record["chosen"].items():
        row(f"chosen, {metric}" + ("" if chosen["criterion_met"] else " (criterion not met)"), chosen)
    lines += ["", "Chosen by the same criterion within each window:", "",
              "| metric | window | threshold | synonym pass | random pass | antonym pass | margin |", "|---|---|---|---|---|---|---|"]
    for metric, per_window in record["chosen_per_window"].items():
        for label, best in per_window.items():
            lines.append(f"| {metric} | {label}{' (skip short)' if best['skip_short'] else ''} | {best['threshold']:g} | "
                         f"{_percent(best['synonym_pass'])} | {_percent(best['random_pass'])} | "
                         f"{_percent(best['antonym_pass'])} | {best['margin']:+.2f} |")
    return "\n".join(lines)
