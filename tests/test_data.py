"""Dataset registry: every bundled set loads with its official row count; user files; bad input."""

import gzip

import pytest

from rsebench.data import DATASETS, LabeledTexts, SentencePairScores, load_corpus, load_dataset, read_lines
from rsebench.errors import UserError

OFFICIAL_COUNTS = {
    ("sts12", "test"): 3108, ("sts13", "test"): 1500, ("sts14", "test"): 3750, ("sts15", "test"): 3000,
    ("sts16", "test"): 1186, ("stsb", "train"): 5749, ("stsb", "dev"): 1500, ("stsb", "test"): 1379,
    ("sick", "train"): 4500, ("sick", "dev"): 500, ("sick", "test"): 4927, ("mr", "all"): 10662,
    ("mr", "attack"): 1000, ("mr", "train"): 9684, ("cr", "all"): 3775, ("subj", "all"): 10000, ("mpqa", "all"): 10606,
    ("sst2", "train"): 67349, ("sst2", "dev"): 872, ("sst2", "test"): 1821, ("trec", "train"): 5452, ("trec", "test"): 500,
    ("mrpc", "train"): 4076, ("mrpc", "test"): 1725, ("snli", "attack"): 1000, ("ag", "attack"): 1000, ("ag", "train"): 6600,
    ("imdb", "attack"): 1000, ("imdb", "train"): 24991, ("yelp", "attack"): 1000, ("mnli", "attack"): 1000,
}


@pytest.mark.parametrize("name,split", sorted(OFFICIAL_COUNTS))
def test_bundled_counts(name, split):
    data = load_dataset(name, split)
    assert len(data) == OFFICIAL_COUNTS[(name, split)]
    assert len(set(data.ids)) == len(data), "example ids must be unique"


def test_every_registered_split_loads():
    for name, info in DATASETS.items():
        for split in info.splits:
            data = load_dataset(name, split)
            if info.kind == "sts":
                assert isinstance(data, SentencePairScores) and len(data.sentences1) == len(data.scores)
            else:
                assert isinstance(data, LabeledTexts)
                assert set(data.labels) <= set(range(data.num_labels))


def test_sts_variants_share_pairs_and_scores():
    original = load_dataset("sts12", variant="original")
    senteval = load_dataset("sts12", variant="senteval")
    assert original.scores == senteval.scores and original.subsets == senteval.subsets
    assert original.sentences1 != senteval.sentences1  # cased, untokenised vs Moses-tokenised
    assert "MSRpar" in original.subsets


def test_attack_sets_are_disjoint_from_victim_training():
    for name in ("mr", "ag", "imdb"):
        info = DATASETS[name]
        train = set(load_dataset(name, info.train_split).texts)
        attack = load_dataset(name, info.attack_split).texts
        assert not train & set(attack), name


def test_user_files(tmp_path):
    sts = tmp_path / "pairs.tsv"
    sts.write_text("sentence1\tsentence2\tscore\na cat\ta dog\t2.5\nhi\thello\t4\n", encoding="utf-8")
    data = load_dataset(str(sts))
    assert isinstance(data, SentencePairScores) and data.scores == [2.5, 4.0]
    cls = tmp_path / "cls.tsv.gz"
    with gzip.open(cls, "wt", encoding="utf-8") as f:
        f.write("label\ttext\npos\tgreat\nneg\tawful\n")
    data = load_dataset(str(cls))
    assert isinstance(data, LabeledTexts) and data.label_names == ["neg", "pos"] and data.labels == [1, 0]


@pytest.mark.parametrize("content,message", [
    ("sentence1\tsentence2\tscore\na\tb\n", "expected 3"),
    ("sentence1\tsentence2\tscore\na\tb\tgood\n", "non-number"),
    ("", "empty"),
    ("foo\tbar\nx\ty\n", "no 'label' column"),
])
def test_malformed_user_files(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        load_dataset(str(path))


def test_unknown_dataset_and_split():
    with pytest.raises(UserError, match="unknown dataset 'nope'"):
        load_dataset("nope")
    with pytest.raises(UserError, match="no split 'dev'"):
        load_dataset("trec", "dev")


def test_corpus(tmp_path):
    assert len(load_corpus(max_sentences=100)) == 100
    assert len(load_corpus()) > 40_000
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\n\xff\xfe broken\n")
    with pytest.raises(UserError, match=r"bad.txt:2: line is not valid UTF-8"):
        read_lines(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(UserError, match="holds no sentences"):
        load_corpus(empty)
    with pytest.raises(UserError, match="corpus file not found"):
        load_corpus(tmp_path / "missing.txt")
