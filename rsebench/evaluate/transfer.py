"""SentEval transfer tasks: a logistic-regression probe on frozen sentence embeddings.

The protocol follows SentEval's scikit-learn classifier (`usepytorch=False`,
senteval/tools/validation.py), with the folds of its "prototyping" setting for model selection:

- classifier: `sklearn.linear_model.LogisticRegression` (L2, lbfgs) on the raw embeddings (no
  feature scaling, as SentEval); the inverse regularisation C is chosen from SentEval's grid
  C ∈ {2^-2, 2^-1, 2^0, 2^1, 2^2, 2^3}; ties go to the smaller C (first maximum, as SentEval).
- MR, CR, SUBJ, MPQA (no standard split): 10-fold stratified cross-validation (shuffled with the
  seed). Inside each outer training fold C is chosen by 5-fold stratified inner CV (SentEval's
  InnerKFoldClassifier with the prototyping kfold = 5), the classifier is refit on the whole outer
  training fold and scored on the held-out fold. Accuracy = mean over the 10 folds; accuracy_std =
  their population std.
- SST-2 (train/dev/test): fit on train for each C, choose C on dev, report test (SplitClassifier).
- TREC (train/test): C chosen by 5-fold stratified CV on train, refit on all of train, report
  test (KFoldClassifier); 6 coarse classes, multinomial logistic regression.
- MRPC (train/test): as TREC, on SentEval's pair features [|u − v|, u ⊙ v] (senteval/mrpc.py);
  accuracy and F1 of the "paraphrase" class.

Each distinct text of a task is encoded once. Metrics are fractions. `accuracy_ci95` is the 95%
Wilson interval over the scored examples (the test split; for the CV tasks every example, scored
once by the fold that held it out, counted as correct / n). It covers the sampling of the scored
examples, not the variation of the fitted classifier across folds or seeds. The seed fixes every fold
split, so the same embeddings and seed give the same numbers.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np

from rsebench.data import LabeledTexts, load_dataset
from rsebench.errors import UserError

TRANSFER_TASKS = ("mr", "cr", "subj", "mpqa", "sst2", "trec", "mrpc")
CROSS_VALIDATED = ("mr", "cr", "subj", "mpqa")
C_GRID = tuple(2.0 ** t for t in range(-2, 4))  # SentEval's scikit-learn grid
OUTER_FOLDS = 10
INNER_FOLDS = 5
MAX_ITER = 1000  # lbfgs converges in < 100 iterations on these features; the cap only avoids warnings
PAIR_FEATURES = "abs_diff,product"


@dataclass(frozen=True)
class TransferResult:
    task: str
    protocol: str
    split: str
    n_train: int
    n_test: int
    accuracy: float
    accuracy_std: float | None
    dev_accuracy: float
    f1: float | None
    chosen_c: list[float]
    fold_accuracies: list[float]
    data_hash: str
    settings: dict
    seconds: float
    encode_seconds: float
    fit_seconds: float
    n_encoded: int
    extra: dict = field(default_factory=dict)
    n_correct: int | None = None  # scored examples classified correctly (for the Wilson interval)


# ---------------------------------------------------------------------------------------------
# Classifier and model selection


def fit_logistic_regression(features: np.ndarray, labels: np.ndarray, c: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=MAX_ITER, random_state=seed).fit(features, labels)


def _single_threaded_blas():
    # The matrices are small: BLAS threads cost more than they give, badly so on a busy machine
    # (measured 5x faster with one thread while other jobs shared the 2 cores).
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def select_c_by_cv(features: np.ndarray, labels: np.ndarray, folds: int, seed: int, advance=lambda n=1: None) -> tuple[float, float]:
    """(best C, its mean validation accuracy) by stratified k-fold CV over C_GRID."""
    from sklearn.model_selection import StratifiedKFold

    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(features, labels))
    scores = []
    with _single_threaded_blas():
        for c in C_GRID:
            fold_scores = []
            for train, valid in splits:
                model = fit_logistic_regression(features[train], labels[train], c, seed)
                fold_scores.append(model.score(features[valid], labels[valid]))
                advance()
            scores.append(float(np.mean(fold_scores)))
    best = int(np.argmax(scores))  # first maximum: the smallest C among ties, as SentEval
    return C_GRID[best], scores[best]


def select_c_on_dev(train_x, train_y, dev_x, dev_y, seed: int, advance=lambda n=1: None) -> tuple[float, float]:
    scores = []
    with _single_threaded_blas():
        for c in C_GRID:
            scores.append(float(fit_logistic_regression(train_x, train_y, c, seed).score(dev_x, dev_y)))
            advance()
    best = int(np.argmax(scores))
    return C_GRID[best], scores[best]


def cross_validated_accuracy(features: np.ndarray, labels: np.ndarray, seed: int, outer_folds: int = OUTER_FOLDS,
                             inner_folds: int = INNER_FOLDS, advance=lambda n=1: None) -> dict:
    """SentEval's InnerKFoldClassifier: outer stratified folds for testing, inner CV picks C."""
    from sklearn.model_selection import StratifiedKFold

    outer = StratifiedKFold(n_splits=outer_folds, shuffle=True, random_state=seed)
    accuracies, chosen, dev, correct = [], [], [], 0
    with _single_threaded_blas():
        for train, test in outer.split(features, labels):
            c, dev_accuracy = select_c_by_cv(features[train], labels[train], inner_folds, seed, advance)
            model = fit_logistic_regression(features[train], labels[train], c, seed)
            hits = model.predict(features[test]) == labels[test]
            correct += int(hits.sum())
            accuracies.append(float(hits.mean()))
            chosen.append(c)
            dev.append(dev_accuracy)
            advance()
    return {"fold_accuracies": accuracies, "chosen_c": chosen, "dev_accuracy": float(np.mean(dev)), "correct": correct}


# ---------------------------------------------------------------------------------------------
# Data and features


def _limit(data: LabeledTexts, max_examples: int | None, seed: int) -> LabeledTexts:
    """A seeded random subset (in original order) for quick runs; the full set when no limit."""
    if max_examples is None or len(data) <= max_examples:
        return data
    keep = np.sort(np.random.default_rng(seed).choice(len(data), size=max_examples, replace=False))
    return data.subset([int(i) for i in keep])


def task_splits(task: str, max_examples: int | None = None, seed: int = 0) -> dict[str, LabeledTexts]:
    """The splits a task's protocol uses: {'all'} for CV tasks, else {'train', ['dev',] 'test'}."""
    if task not in TRANSFER_TASKS:
        raise UserError(f"unknown transfer task '{task}'; choose from {', '.join(TRANSFER_TASKS)}")
    names = {"sst2": ("train", "dev", "test"), "trec": ("train", "test"), "mrpc": ("train", "test")}.get(task, ("all",))
    return {split: _limit(load_dataset(task, split), max_examples, seed) for split in names}


def data_hash(splits: dict[str, LabeledTexts]) -> str:
    """Identity of exactly which examples (ids, texts, labels) were used."""
    digest = hashlib.sha256()
    for split in sorted(splits):
        data = splits[split]
        second = data.texts_b or [""] * len(data)
        for example_id, text, text_b, label in zip(data.ids, data.texts, second, data.labels):
            digest.update(f"{split}\t{example_id}\t{text}\t{text_b}\t{label}\n".encode())
    return digest.hexdigest()[:16]


def encode_splits(encoder, splits: dict[str, LabeledTexts], batch_size: int, task: str) -> tuple[dict[str, np.ndarray], int]:
    """(features per split, number of texts encoded): every distinct text of the task is encoded
    once; pair tasks (MRPC) get SentEval's [|u − v|, u ⊙ v]."""
    texts = []
    for data in splits.values():
        texts.extend(data.texts)
        texts.extend(data.texts_b or [])
    unique = list(dict.fromkeys(texts))
    vectors = encoder.encode(unique, batch_size=batch_size, description=f"{task} encode")
    row = {text: i for i, text in enumerate(unique)}
    features = {}
    for split, data in splits.items():
        u = vectors[[row[t] for t in data.texts]]
        if data.texts_b is None:
            features[split] = u
        else:
            v = vectors[[row[t] for t in data.texts_b]]
            features[split] = np.concatenate([np.abs(u - v), u * v], axis=1)
    return features, len(unique)


# ---------------------------------------------------------------------------------------------
# The task


def evaluate_transfer_task(encoder, task: str, seed: int = 0, batch_size: int = 64, max_examples: int | None = None,
                           outer_folds: int = OUTER_FOLDS, inner_folds: int = INNER_FOLDS) -> TransferResult:
    """Run one SentEval transfer task (see the module docstring for the exact protocol).

    `max_examples` caps every split (seeded subset) and the fold counts can be lowered for quick
    checks; both are recorded in the settings, so such runs never pass for the standard protocol.
    """
    from sklearn.metrics import f1_score

    from rsebench.progress import progress_bar

    start = time.perf_counter()
    splits = task_splits(task, max_examples, seed)
    features, n_encoded = encode_splits(encoder, splits, batch_size, task)
    encode_seconds = time.perf_counter() - start
    labels = {split: np.asarray(data.labels) for split, data in splits.items()}
    f1 = None
    std = None
    fit_start = time.perf_counter()
    with _single_threaded_blas():
        if task in CROSS_VALIDATED:
            protocol = f"{outer_folds}-fold stratified CV; C by {inner_folds}-fold inner CV"
            total = outer_folds * (len(C_GRID) * inner_folds + 1)
            with progress_bar(f"{task} classifier", total=total) as advance:
                cv = cross_validated_accuracy(features["all"], labels["all"], seed, outer_folds, inner_folds, advance)
            accuracy = float(np.mean(cv["fold_accuracies"]))
            std = float(np.std(cv["fold_accuracies"]))  # population std over the folds (ddof=0)
            fold_accuracies, chosen, dev_accuracy = cv["fold_accuracies"], cv["chosen_c"], cv["dev_accuracy"]
            split, n_train, n_test = "all", len(labels["all"]), len(labels["all"])
            n_correct = cv["correct"]
        else:
            train_x, train_y = features["train"], labels["train"]
            with progress_bar(f"{task} classifier", total=len(C_GRID) * (1 if task == "sst2" else inner_folds) + 1) as advance:
                if task == "sst2":
                    protocol = "train/dev/test; C on dev"
                    c, dev_accuracy = select_c_on_dev(train_x, train_y, features["dev"], labels["dev"], seed, advance)
                else:
                    protocol = f"train/test; C by {inner_folds}-fold CV on train"
                    c, dev_accuracy = select_c_by_cv(train_x, train_y, inner_folds, seed, advance)
                model = fit_logistic_regression(train_x, train_y, c, seed)
                advance()
            predicted = model.predict(features["test"])
            n_correct = int(np.sum(predicted == labels["test"]))
            accuracy = float(np.mean(predicted == labels["test"]))
            if task == "mrpc":
                f1 = float(f1_score(labels["test"], predicted))  # F1 of the positive ("paraphrase") class, as SentEval
            fold_accuracies, chosen = [accuracy], [c]
            split, n_train, n_test = "test", len(train_y), len(labels["test"])
    fit_seconds = time.perf_counter() - fit_start
    settings = {
        "classifier": "sklearn LogisticRegression (lbfgs, L2)",
        "c_grid": list(C_GRID),
        "protocol": protocol,
        "outer_folds": outer_folds if task in CROSS_VALIDATED else None,
        "inner_folds": None if task == "sst2" else inner_folds,
        "max_examples": max_examples,
        "pair_features": PAIR_FEATURES if task == "mrpc" else None,
        "feature_scaling": None,
        "batch_size": batch_size,
    }
    return TransferResult(
        task=task, protocol=protocol, split=split, n_train=n_train, n_test=n_test, accuracy=accuracy, accuracy_std=std,
        dev_accuracy=dev_accuracy, f1=f1, chosen_c=chosen, fold_accuracies=fold_accuracies, data_hash=data_hash(splits),
        settings=settings, seconds=time.perf_counter() - start, encode_seconds=encode_seconds, fit_seconds=fit_seconds,
        n_encoded=n_encoded, extra={"n_per_split": {s: len(d) for s, d in splits.items()}}, n_correct=n_correct,
    )


def evaluate_transfer(encoder, tasks=TRANSFER_TASKS, seed: int = 0, batch_size: int = 64, **options) -> list[TransferResult]:
    return [evaluate_transfer_task(encoder, task, seed=seed, batch_size=batch_size, **options) for task in tasks]


def transfer_identity(task: str, seed: int, max_examples: int | None = None, outer_folds: int = OUTER_FOLDS,
                      inner_folds: int = INNER_FOLDS) -> dict:
    """A transfer record's identity (the model aside): the task, the seed and every protocol setting a user can change."""
    return {"task": task, "seed": seed, "max_examples": max_examples,
            "outer_folds": outer_folds if task in CROSS_VALIDATED else None, "inner_folds": None if task == "sst2" else inner_folds}


def transfer_record(result: TransferResult, model: dict, seed: int):
    """A "transfer" record: accuracy (fraction) and its std over folds, dev accuracy, F1 for MRPC. Its
    identity: the model, the task and split, the protocol settings and the seed."""
    from rsebench.records import make_record
    from rsebench.stats import as_list, wilson_interval

    metrics = {"accuracy": result.accuracy, "dev_accuracy": result.dev_accuracy}
    if result.n_correct is not None:
        metrics["accuracy_ci95"] = as_list(wilson_interval(result.n_correct, result.n_test))
        metrics["correct_examples"] = result.n_correct
    if result.accuracy_std is not None:
        metrics["accuracy_std"] = result.accuracy_std
    if result.f1 is not None:
        metrics["f1"] = result.f1
    return make_record(
        "transfer",
        model=model,
        task={"name": result.task, "split": result.split, "n": result.n_test, "n_train": result.n_train,
              "n_per_split": result.extra.get("n_per_split"), "data_hash": result.data_hash},
        metrics=metrics,
        settings={**result.settings, "seed": seed},
        timings={"seconds": result.seconds, "encode_seconds": result.encode_seconds, "fit_seconds": result.fit_seconds},
        seed=seed,
        identity=transfer_identity(result.task, seed, result.settings["max_examples"], result.settings["outer_folds"] or OUTER_FOLDS,
                                   result.settings["inner_folds"] or INNER_FOLDS),
        details={"chosen_c": result.chosen_c, "fold_accuracies": result.fold_accuracies, "n_encoded": result.n_encoded},
    )
