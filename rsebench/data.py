"""Dataset registry: every bundled benchmark by name, plus the user's own files.

Two shapes cover the suite:
- `SentencePairScores` for STS (two sentences and a gold similarity score);
- `LabeledTexts` for classification (transfer tasks, victim training, attack sets), optionally with a
  second text per example (sentence pairs such as MRPC or SNLI).

Bundled files live in `rsebench/resources/data/` (gzipped TSV with a header row, no quoting; provenance
and licence notes in each folder's README.md). Example ids are stable ("name:split:row"), so attack
sets and records can name exactly which examples they used.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rsebench.errors import UserError
from rsebench.paths import DATA_DIR

STS_VARIANTS = ("original", "senteval")


@dataclass(frozen=True)
class SentencePairScores:
    """An STS set: sentence pairs with gold similarity scores (and the SemEval subset of each pair)."""

    name: str
    split: str
    variant: str
    sentences1: list[str]
    sentences2: list[str]
    scores: list[float]
    subsets: list[str]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class LabeledTexts:
    """A classification set; `texts_b` holds the second sentence of pair tasks (else None)."""

    name: str
    split: str
    texts: list[str]
    labels: list[int]
    label_names: list[str]
    ids: list[str]
    texts_b: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def subset(self, indices: list[int]) -> "LabeledTexts":
        return LabeledTexts(
            name=self.name,
            split=self.split,
            texts=[self.texts[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            label_names=self.label_names,
            ids=[self.ids[i] for i in indices],
            texts_b=None if self.texts_b is None else [self.texts_b[i] for i in indices],
        )


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry. `train_split`/`attack_split` name the victim-training and attack splits."""

    name: str
    kind: str  # "sts" or "classification"
    splits: tuple[str, ...]
    description: str
    loader: Callable[[str, str], object] = field(repr=False)
    default_split: str = "test"
    train_split: str | None = None
    attack_split: str | None = None


# --------------------------------------------------------------------------------------------
# Reading TSV files


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Read a TSV (optionally gzipped) with a header row and no quoting; one clear error if malformed."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="\n") as handle:
            lines = handle.read().split("\n")
    except FileNotFoundError:
        raise UserError(f"data file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not UTF-8 ({err.reason} at byte {err.start}); re-encode it, e.g. with iconv -t UTF-8") from None
    except (OSError, EOFError) as err:
        raise UserError(f"cannot read {path}: {err}") from None
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise UserError(f"{path} is empty; expected a TAB-separated header row and data rows")
    header = [name.strip() for name in lines[0].rstrip("\r").split("\t")]
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.rstrip("\r").split("\t")
        if len(fields) != len(header):
            raise UserError(
                f"{path}:{number}: expected {len(header)} TAB-separated fields ({', '.join(header)}), found {len(fields)}; "
                "fix the row (fields must not contain TAB characters)"
            )
        rows.append(dict(zip(header, fields)))
    return rows


def read_lines(path: Path) -> list[str]:
    """Read a one-sentence-per-line text file (optionally gzipped), dropping blank lines."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise UserError(f"file not found: {path}") from None
    except (OSError, EOFError) as err:
        raise UserError(f"cannot read {path}: {err}") from None
    sentences = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UserError(f"{path}:{number}: line is not valid UTF-8; re-encode the file (e.g. iconv -f latin1 -t UTF-8)") from None
        if text:
            sentences.append(text)
    return sentences


def _data(*parts: str) -> Path:
    return DATA_DIR.joinpath(*parts)


def _ids(name: str, split: str, n: int) -> list[str]:
    return [f"{name}:{split}:{i}" for i in range(n)]


def _float(value: str, path: str, column: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise UserError(f"{path}: column '{column}' holds a non-number '{value}'; scores must be numeric") from None


# --------------------------------------------------------------------------------------------
# STS loaders


def _sts_year(year: str) -> Callable[[str, str], SentencePairScores]:
    def load(split: str, variant: str) -> SentencePairScores:
        path = _data("sts", variant, f"STS{year}.tsv.gz")
        rows = read_tsv(path)
        return SentencePairScores(
            name=f"sts{year}",
            split=split,
            variant=variant,
            sentences1=[r["sentence1"] for r in rows],
            sentences2=[r["sentence2"] for r in rows],
            scores=[_float(r["score"], str(path), "score") for r in rows],
            subsets=[r["subset"] for r in rows],
            ids=_ids(f"sts{year}", split, len(rows)),
        )

    return load


def _load_stsb(split: str, variant: str) -> SentencePairScores:
    path = _data("stsb", variant, f"{split}.tsv.gz")
    rows = read_tsv(path)
    return SentencePairScores(
        name="stsb",
        split=split,
        variant=variant,
        sentences1=[r["sentence1"] for r in rows],
        sentences2=[r["sentence2"] for r in rows],
        scores=[_float(r["score"], str(path), "score") for r in rows],
        subsets=[r["genre"] for r in rows],
        ids=_ids("stsb", split, len(rows)),
    )


def _load_sick(split: str, variant: str) -> SentencePairScores:
    # SentEval's SICK-R: train for training, trial as dev, test for evaluation.
    filename = {"train": "train", "dev": "trial", "test": "test"}[split]
    path = _data("sick", variant, f"{filename}.tsv.gz")
    rows = read_tsv(path)
    return SentencePairScores(
        name="sick",
        split=split,
        variant=variant,
        sentences1=[r["sentence1"] for r in rows],
        sentences2=[r["sentence2"] for r in rows],
        scores=[_float(r["relatedness_score"], str(path), "relatedness_score") for r in rows],
        subsets=["sick"] * len(rows),
        ids=[f"sick:{split}:{r['pair_id']}" for r in rows],
    )


# --------------------------------------------------------------------------------------------
# Classification loaders

BINARY_SENTIMENT = ["negative", "positive"]
NLI_LABELS = ["entailment", "neutral", "contradiction"]  # TextAttack's / TextFooler's order
AG_LABELS = ["World", "Sports", "Business", "Sci/Tech"]


def _labeled(name: str, split: str, rows: list[dict[str, str]], text_column: str, label_names: list[str], path: Path,
             text_b_column: str | None = None, label_column: str = "label", ids: list[str] | None = None) -> LabeledTexts:
    """Rows -> LabeledTexts in `label_names`' order: a label is one of the names (exact, else ignoring case
    and surrounding spaces) or a class index 0..len-1; anything else is one error line with the row."""
    exact = {label: index for index, label in enumerate(label_names)}
    folded = {label.strip().casefold(): index for index, label in enumerate(label_names)}
    labels = []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        raw = row[label_column]
        index = exact.get(raw, folded.get(raw.strip().casefold()))
        if index is not None:
            labels.append(index)
            continue
        try:
            label = int(raw)
        except ValueError:
            raise UserError(f"{path}:{number}: label '{raw}' is not a class of {name}; use one of {', '.join(label_names)} "
                            f"(or 0..{len(label_names) - 1})") from None
        if not 0 <= label < len(label_names):
            raise UserError(f"{path}:{number}: label {label} out of range: {name} has {len(label_names)} classes, "
                            f"0..{len(label_names) - 1} ({', '.join(label_names)})")
        labels.append(label)
    return LabeledTexts(
        name=name,
        split=split,
        texts=[r[text_column] for r in rows],
        labels=labels,
        label_names=label_names,
        ids=ids or _ids(name, split, len(rows)),
        texts_b=None if text_b_column is None else [r[text_b_column] for r in rows],
    )


def _single_file(folder: str, filename: str, label_names: list[str]) -> Callable[[str, str], LabeledTexts]:
    def load(split: str, variant: str) -> LabeledTexts:
        path = _data(folder, filename)
        return _labeled(folder, split, read_tsv(path), "sentence", label_names, path)

    return load


def _load_mr(split: str, variant: str) -> LabeledTexts:
    if split == "all":  # SentEval MR, for 10-fold transfer evaluation
        path = _data("mr", "mr.tsv.gz")
        return _labeled("mr", split, read_tsv(path), "sentence", BINARY_SENTIMENT, path)
    if split == "attack":  # TextFooler's 1000 examples
        path = _data("attack_textfooler", "mr.tsv.gz")
        return _labeled("mr", split, read_tsv(path), "text", BINARY_SENTIMENT, path)
    path = _data("attack_textfooler", "mr_train_disjoint.tsv.gz")  # MR minus the attack set
    return _labeled("mr", split, read_tsv(path), "sentence", BINARY_SENTIMENT, path)


def _load_sst2(split: str, variant: str) -> LabeledTexts:
    path = _data("sst2", f"{split}.tsv.gz")
    return _labeled("sst2", split, read_tsv(path), "sentence", BINARY_SENTIMENT, path)


def _load_sst5(split: str, variant: str) -> LabeledTexts:
    path = _data("sst5", f"{split}.tsv.gz")
    return _labeled("sst5", split, read_tsv(path), "sentence", ["very negative", "negative", "neutral", "positive", "very positive"], path)


TREC_LABELS = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


def _load_trec(split: str, variant: str) -> LabeledTexts:
    path = _data("trec", f"{split}.tsv.gz")
    return _labeled("trec", split, read_tsv(path), "sentence", TREC_LABELS, path, label_column="coarse_label")


def _load_mrpc(split: str, variant: str) -> LabeledTexts:
    path = _data("mrpc", f"{split}.tsv.gz")
    return _labeled("mrpc", split, read_tsv(path), "sentence1", ["not_paraphrase", "paraphrase"], path, text_b_column="sentence2")


def _load_snli(split: str, variant: str) -> LabeledTexts:
    path = _data("attack_textfooler", "snli.tsv.gz") if split == "attack" else _data("snli", f"{split}.tsv.gz")
    return _labeled("snli", split, read_tsv(path), "premise", NLI_LABELS, path, text_b_column="hypothesis")


def _attack_only_nli(folder_file: str, name: str) -> Callable[[str, str], LabeledTexts]:
    def load(split: str, variant: str) -> LabeledTexts:
        path = _data("attack_textfooler", folder_file)
        return _labeled(name, split, read_tsv(path), "premise", NLI_LABELS, path, text_b_column="hypothesis")

    return load


def _load_yelp(split: str, variant: str) -> LabeledTexts:
    path = _data("attack_textfooler", "yelp.tsv.gz")
    return _labeled("yelp", split, read_tsv(path), "text", BINARY_SENTIMENT, path)


def _load_imdb(split: str, variant: str) -> LabeledTexts:
    if split == "attack":
        path = _data("attack_textfooler", "imdb.tsv.gz")
        return _labeled("imdb", split, read_tsv(path), "text", BINARY_SENTIMENT, path)
    path = _data("imdb", "train.tsv.gz")
    # Drop the 9 train rows that duplicate attack-set reviews, so the victim never sees its test examples.
    rows = [(i, r) for i, r in enumerate(read_tsv(path)) if r["in_textfooler_1000"] == "0"]
    return _labeled("imdb", split, [r for _, r in rows], "text", BINARY_SENTIMENT, path, ids=[f"imdb:train:{i}" for i, _ in rows])


def _load_ag(split: str, variant: str) -> LabeledTexts:
    if split == "attack":
        path = _data("attack_textfooler", "ag.tsv.gz")
        return _labeled("ag", split, read_tsv(path), "text", AG_LABELS, path)
    # AG's official train split is not available offline: train on the 6600 test rows outside the attack set.
    path = _data("ag_news", "test.tsv.gz")
    rows = [(i, r) for i, r in enumerate(read_tsv(path)) if r["in_textfooler_1000"] == "0"]
    merged = [{"label": r["label"], "text": f"{r['title']} {r['description']}".lower()} for _, r in rows]
    return _labeled("ag", split, merged, "text", AG_LABELS, path, ids=[f"ag:train:{i}" for i, _ in rows])


def _info(name, kind, splits, description, loader, default_split, train_split=None, attack_split=None) -> DatasetInfo:
    return DatasetInfo(name, kind, tuple(splits), description, loader, default_split, train_split, attack_split)


DATASETS: dict[str, DatasetInfo] = {
    **{
        f"sts{year}": _info(f"sts{year}", "sts", ["test"], f"SemEval STS 20{year} (all subsets pooled)", _sts_year(year), "test")
        for year in ("12", "13", "14", "15", "16")
    },
    "stsb": _info("stsb", "sts", ["train", "dev", "test"], "STS Benchmark", _load_stsb, "test"),
    "sick": _info("sick", "sts", ["train", "dev", "test"], "SICK-R relatedness (dev = trial)", _load_sick, "test"),
    "mr": _info("mr", "classification", ["all", "train", "attack"],
                "Movie review polarity (all = SentEval 10662; attack = TextFooler 1000; train = the rest)", _load_mr, "all", "train", "attack"),
    "cr": _info("cr", "classification", ["all"], "Customer review polarity", _single_file("cr", "cr.tsv.gz", BINARY_SENTIMENT), "all"),
    "subj": _info("subj", "classification", ["all"], "Subjectivity (1 = objective)", _single_file("subj", "subj.tsv.gz", ["subjective", "objective"]), "all"),
    "mpqa": _info("mpqa", "classification", ["all"], "MPQA opinion polarity", _single_file("mpqa", "mpqa.tsv.gz", BINARY_SENTIMENT), "all"),
    "sst2": _info("sst2", "classification", ["train", "dev", "test"], "SST-2 binary sentiment (attack = test)", _load_sst2, "test", "train", "test"),
    "sst5": _info("sst5", "classification", ["train", "dev", "test"], "SST-5 fine-grained sentiment", _load_sst5, "test", "train", None),
    "trec": _info("trec", "classification", ["train", "test"], "TREC question type (6 coarse classes)", _load_trec, "test", "train", None),
    "mrpc": _info("mrpc", "classification", ["train", "test"], "MRPC paraphrase (sentence pairs)", _load_mrpc, "test", "train", None),
    "snli": _info("snli", "classification", ["dev", "test", "attack"],
                  "SNLI (attack = TextFooler 1000, all in test; victims train on dev)", _load_snli, "test", "dev", "attack"),
    "mnli": _info("mnli", "classification", ["attack"], "MultiNLI matched, TextFooler 1000 (no training split bundled)",
                  _attack_only_nli("mnli_matched.tsv.gz", "mnli"), "attack", None, "attack"),
    "mnli_mismatched": _info("mnli_mismatched", "classification", ["attack"], "MultiNLI mismatched, TextFooler 1000 (no training split bundled)",
                             _attack_only_nli("mnli_mismatched.tsv.gz", "mnli_mismatched"), "attack", None, "attack"),
    "imdb": _info("imdb", "classification", ["train", "attack"], "IMDB reviews (attack = TextFooler 1000)", _load_imdb, "attack", "train", "attack"),
    "yelp": _info("yelp", "classification", ["attack"], "Yelp polarity, TextFooler 1000 (no training split bundled)", _load_yelp, "attack", None, "attack"),
    "ag": _info("ag", "classification", ["train", "attack"],
                "AG News (attack = TextFooler 1000; train = the other 6600 test rows)", _load_ag, "attack", "train", "attack"),
}

STS_TASKS = ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sick")


def dataset_info(name: str) -> DatasetInfo:
    """A bundled dataset by name (a file path is not a registry entry: see `load_user_file`)."""
    try:
        return DATASETS[name]
    except KeyError:
        pass
    if Path(name).suffix in {".tsv", ".gz", ".txt", ".csv"} or Path(name).exists():
        raise UserError(f"'{name}' is a file, but a bundled dataset name is needed here ({', '.join(sorted(DATASETS))}); "
                        "a victim's training data can come from a TSV file with --victim-train FILE") from None
    raise UserError(f"unknown dataset '{name}'; choose one of: {', '.join(sorted(DATASETS))}") from None


def load_dataset(name: str, split: str | None = None, variant: str = "original") -> SentencePairScores | LabeledTexts:
    """Load a bundled dataset by name, or a user's TSV file by path (see `load_user_file`)."""
    if name not in DATASETS and Path(name).suffix in {".tsv", ".gz", ".txt"}:
        return load_user_file(Path(name), split or "test")
    info = dataset_info(name)
    split = split or info.default_split
    if split not in info.splits:
        raise UserError(f"dataset '{name}' has no split '{split}'; choose one of: {', '.join(info.splits)}")
    if variant not in STS_VARIANTS:
        raise UserError(f"unknown STS text variant '{variant}'; choose one of: {', '.join(STS_VARIANTS)}")
    return info.loader(split, variant)


MAX_USER_CLASSES = 1000  # more classes than this in a user's file is a mistake (e.g. ids in the label column)


def load_user_file(path: Path, split: str = "test", label_names: list[str] | None = None) -> SentencePairScores | LabeledTexts:
    """A user's TSV: STS if it has sentence1/sentence2/score columns, else classification.

    Classification files need a `label` column and a `text` (or `sentence`) column; pair tasks use
    `sentence1`+`sentence2` or `premise`+`hypothesis`. With `label_names` (the order of the dataset the
    file stands in for, e.g. an attack set's), label names map onto that order and integer labels must
    be its class indices; unknown names are refused with the valid ones listed. Without it, integer
    labels are class indices 0..K-1 (at most MAX_USER_CLASSES) and names are sorted.
    """
    if not path.is_file():
        raise UserError(f"dataset file not found: {path}")
    rows = read_tsv(path)
    columns = set(rows[0]) if rows else set()
    name = path.name.split(".")[0]
    if not rows:
        raise UserError(f"{path} has a header but no data rows")
    if {"sentence1", "sentence2", "score"} <= columns:
        return SentencePairScores(
            name=name, split=split, variant="user",
            sentences1=[r["sentence1"] for r in rows], sentences2=[r["sentence2"] for r in rows],
            scores=[_float(r["score"], str(path), "score") for r in rows],
            subsets=[r.get("subset", name) for r in rows], ids=_ids(name, split, len(rows)),
        )
    if "label" not in columns:
        raise UserError(f"{path}: no 'label' column (STS files need sentence1, sentence2, score; classification files need label and text)")
    for first, second in (("sentence1", "sentence2"), ("premise", "hypothesis")):
        if {first, second} <= columns:
            text_column, text_b_column = first, second
            break
    else:
        text_column = next((c for c in ("text", "sentence") if c in columns), None)
        text_b_column = None
        if text_column is None:
            raise UserError(f"{path}: no 'text' or 'sentence' column; found {sorted(columns)}")
    if label_names is None:
        raw_labels = sorted({r["label"] for r in rows})
        if all(label.strip().lstrip("-").isdigit() for label in raw_labels):
            values = [int(label) for label in raw_labels]
            if min(values) < 0 or max(values) >= MAX_USER_CLASSES:
                bad = min(values) if min(values) < 0 else max(values)
                raise UserError(f"{path}: label {bad} is not a class index: integer labels must be 0..K-1 for K classes "
                                f"(K at most {MAX_USER_CLASSES}); renumber the labels or use label names")
            label_names = [str(i) for i in range(max(values) + 1)]
        else:
            label_names = raw_labels
    return _labeled(name, split, rows, text_column, list(label_names), path, text_b_column=text_b_column)


# --------------------------------------------------------------------------------------------
# Unlabeled training corpus

DEFAULT_CORPUS_FILES = ("simcse_wiki1m_head.txt.gz", "wikipedia_vital_article_leads.txt.gz")


def load_corpus(path: str | Path | None = None, max_sentences: int | None = None) -> list[str]:
    """Sentences for unsupervised training: the user's file (one per line) or the bundled Wikipedia set."""
    if path is None:
        sentences = [s for f in DEFAULT_CORPUS_FILES for s in read_lines(_data("wiki_sentences", f))]
    else:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"corpus file not found: {path}; give a text file with one sentence per line")
        sentences = read_lines(path)
    if not sentences:
        raise UserError(f"corpus {path} holds no sentences; give a text file with one sentence per line")
    if max_sentences is not None:
        sentences = sentences[:max_sentences]
    return sentences


def text_hash(texts: list[str]) -> str:
    """Content hash of a list of texts (the data hash in records and checkpoint metadata)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
