"""Counter-fitting (Mrksic et al. 2016) made locally: the algorithm on synthetic vectors, the cached
build on a small slice of the real GloVe vocabulary, and (slow) the quality of the full build."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from rsebench.robustness import word_vectors as wv


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _both_orders(pairs):
    return np.array([p for a, b in pairs for p in ((a, b), (b, a))])


def test_counter_fit_repels_antonyms_attracts_synonyms_and_preserves_the_rest():
    rng = np.random.default_rng(0)
    base = _unit(rng.standard_normal((40, 16)))
    vectors = base.copy()
    vectors[1] = _unit(base[0] + 0.05 * rng.standard_normal(16))     # 0/1: antonyms that start close
    vectors[3] = _unit(base[2] + 1.2 * rng.standard_normal(16))      # 2/3: synonyms that start apart
    vectors[5] = _unit(base[4] + 0.05 * rng.standard_normal(16))      # 4/5: unconstrained close neighbours
    cos = lambda x, a, b: float(_unit(x[a]) @ _unit(x[b]))
    before = {pair: cos(vectors, *pair) for pair in ((0, 1), (2, 3), (4, 5))}
    assert before[(0, 1)] > 0.9 and before[(4, 5)] > 0.9

    fitted = wv.counter_fit(vectors, _both_orders([(2, 3)]), _both_orders([(0, 1)]))

    assert np.allclose(np.linalg.norm(fitted, axis=1), 1.0, atol=1e-3)
    assert cos(fitted, 0, 1) < before[(0, 1)] - 0.5          # antonyms pushed apart
    assert cos(fitted, 2, 3) > before[(2, 3)] + 0.2          # synonyms pulled together
    assert cos(fitted, 4, 5) > before[(4, 5)] - 0.02         # VSP keeps an untouched neighbourhood
    untouched = [i for i in range(6, 40)]
    assert np.allclose(fitted[untouched], vectors[untouched], atol=1e-3)


def test_a_pair_listed_as_synonym_and_antonym_counts_as_antonym():
    rng = np.random.default_rng(1)
    vectors = _unit(rng.standard_normal((10, 8)))
    vectors[1] = _unit(vectors[0] + 0.2 * rng.standard_normal(8))
    both = _both_orders([(0, 1)])
    fitted = wv.counter_fit(vectors, synonyms=both, antonyms=both)
    assert float(fitted[0] @ fitted[1]) < float(_unit(vectors[0]) @ _unit(vectors[1])) - 0.3


def test_nearest_neighbour_table_starts_with_the_word_itself_even_for_duplicates():
    x = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]), dim=1)
    table = wv.nearest_neighbours(x, k=2, block=3)
    assert table.shape == (4, 3)
    assert list(table[:, 0]) == [0, 1, 2, 3]
    assert table[0, 1] == 1 and table[1, 1] == 0


def test_unknown_setting_is_a_user_error():
    from rsebench.errors import UserError

    with pytest.raises(UserError, match="unknown word_vectors setting"):
        wv.CounterFittingSettings.from_spec({"iteration": 3})


# A slice of the real vocabulary, small enough for the default suite (shared with test_substitutes.py
# through the session's temporary cache folder, so it is built once per session).
SMALL = {"max_words": 2000, "iterations": 10}


@pytest.fixture(scope="module")
def small_build(tmp_path_factory, monkeypatch_module):
    cache = tmp_path_factory.getbasetemp() / "rsebench-word-vectors-cache"
    monkeypatch_module.setenv("RSEBENCH_CACHE", str(cache))
    settings = wv.CounterFittingSettings(**SMALL)
    folder, meta = wv.counter_fitted_folder(settings)
    return settings, folder, meta


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_small_build_is_cached_hashed_and_separates_antonyms(small_build):
    settings, folder, meta = small_build
    assert meta["words"] == SMALL["max_words"] and meta["key"] and meta["inputs"]["glove_6B_50d_emb.npy"]
    stamp = (folder / "vectors.npy").stat().st_mtime_ns
    again_folder, again_meta = wv.counter_fitted_folder(settings)
    assert again_folder == folder and again_meta["key"] == meta["key"]
    assert (folder / "vectors.npy").stat().st_mtime_ns == stamp          # reused, not rebuilt
    other = wv.describe_inputs(wv.CounterFittingSettings(**{**SMALL, "iterations": 20}))
    assert other["key"] != meta["key"]                                    # settings are part of the key

    fitted = np.load(folder / "vectors.npy")
    words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:len(fitted)]
    index = {w: i for i, w in enumerate(words)}
    glove = np.load(wv.glove_matrix_path(), mmap_mode="r")
    with gzip.open(wv.GLOVE_VOCAB_FILE, "rt", encoding="utf-8") as handle:
        glove_row = {w: i for i, w in enumerate(handle.read().split("\n"))}
    original = _unit(np.asarray(glove[[glove_row[w] for w in words]]))
    antonyms = wv._constraint_pairs(wv.ANTONYM_FILES, index)
    synonyms = wv._constraint_pairs(wv.SYNONYM_FILES, index)
    pair_cos = lambda x, p: float(np.mean((x[p[:, 0]] * x[p[:, 1]]).sum(1)))
    assert len(antonyms) > 100 and len(synonyms) > 100
    assert pair_cos(fitted, antonyms) < pair_cos(original, antonyms) - 0.2
    assert pair_cos(fitted, synonyms) > max(0.9, pair_cos(original, synonyms))


def test_word_embedding_wraps_the_cache_for_textattack(small_build):
    settings, folder, _ = small_build
    embedding, meta = wv.load_counter_fitted_embedding(settings)
    assert meta["cache_path"] == str(folder)
    good = embedding.word2index("good")
    neighbours = embedding.nearest_neighbours(good, 10)
    assert len(neighbours) == 10 and good not in neighbours
    assert embedding.get_cos_sim("good", embedding.index2word(neighbours[0])) >= embedding.get_cos_sim("good", embedding.index2word(neighbours[-1]))


@pytest.mark.slow
def test_full_build_quality_against_plain_glove():
    """The real vectors (71.8k words; a few CPU-minutes on first use, then cached)."""
    from scipy.stats import spearmanr

    folder, meta = wv.counter_fitted_folder(wv.CounterFittingSettings())
    assert meta["words"] > 65000
    fitted = np.load(folder / "vectors.npy")
    words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:len(fitted)]
    index = {w: i for i, w in enumerate(words)}
    glove = np.load(wv.glove_matrix_path(), mmap_mode="r")
    with gzip.open(wv.GLOVE_VOCAB_FILE, "rt", encoding="utf-8") as handle:
        glove_row = {w: i for i, w in enumerate(handle.read().split("\n"))}
    plain = lambda a, b: float(_unit(glove[glove_row[a]]) @ _unit(glove[glove_row[b]]))
    fit = lambda a, b: float(fitted[index[a]] @ fitted[index[b]])
    for antonym_a, antonym_b in (("good", "bad"), ("hot", "cold"), ("love", "hate")):
        assert fit(antonym_a, antonym_b) < plain(antonym_a, antonym_b) - 0.1
    assert fit("hot", "cold") < 0.5 and fit("love", "hate") < 0.3
    for synonym_a, synonym_b in (("movie", "film"), ("terrible", "awful")):
        assert fit(synonym_a, synonym_b) > 0.9
    with gzip.open(wv.CONSTRAINTS_DIR / "SimLex-999.txt.gz", "rt", encoding="utf-8") as handle:
        rows = [line.split("\t") for line in handle.read().split("\n")[1:] if line.strip()]
    rows = [r for r in rows if r[0] in index and r[1] in index]
    gold = [float(r[3]) for r in rows]
    plain_rho = spearmanr([plain(r[0], r[1]) for r in rows], gold)[0]
    fitted_rho = spearmanr([fit(r[0], r[1]) for r in rows], gold)[0]
    assert fitted_rho > plain_rho + 0.05
