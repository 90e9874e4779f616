"""Writes the fixture record set that the golden report files are rendered from (tests/golden/records/).

Hand-picked numbers (inputs, not results): two trained methods x two seeds with STS, transfer and
attack records, one pretrained model with a single seed, plus records that must be grouped apart
(another STS variant, another victim kind) or skipped (unknown schema, incomplete, broken JSON)
and a train record the tables ignore. Attack records carry per-example `outcomes` (successful
examples first, then failed, then skipped, so two models' outcomes nest) but no `_ci95` fields:
the report recomputes Wilson intervals from the counts, as for records older than those fields.
The pretrained model's STS records carry hand-picked `spearman_cosine_ci95` intervals. Run it only to change the fixtures:

    python tests/golden/make_fixture_records.py && RSEBENCH_UPDATE_GOLDEN=1 pytest tests/test_report_golden.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORDS = HERE / "records"
ENVIRONMENT = {"python": "3.11", "platform": "fixture", "packages": {}, "git_revision": None, "device": "cpu", "torch_threads": 2}
STS = {"sts12": 0.684, "sts13": 0.8241, "sts14": 0.7438, "sts15": 0.8091, "sts16": 0.7856, "stsb": 0.7685, "sick": 0.7223}
TRANSFER = {"mr": 0.8118, "cr": 0.8646, "subj": 0.9445, "mpqa": 0.8888, "sst2": 0.855, "trec": 0.898, "mrpc": 0.7443}


def model(method: str, seed: int) -> dict:
    fingerprint = f"{method[:4]}{seed:04d}".ljust(64, "0")
    return {"name": f"{method}-seed{seed}", "method": method, "train_seed": seed, "fingerprint": fingerprint,
            "pooler": "cls_before_pooler", "requested": f"ckpt/{method}-seed{seed}", "source": f"ckpt/{method}-seed{seed}",
            "spec_hash": f"{method}{seed}"}


def record(kind: str, model_section: dict, task: dict, metrics: dict, settings: dict, **extra) -> dict:
    return {"schema": "rsebench.record/1", "kind": kind, "model": model_section, "task": task, "metrics": metrics,
            "settings": settings, "environment": ENVIRONMENT, "timings": {"seconds": 1.0}, "created": "2026-01-01T00:00:00+00:00",
            **extra}


def attack(model_section: dict, seed: int, recipe: str, asr: float, clean: float, victim: str = "probe", eps: float | None = None,
           words: float | None = 0.1, queries: float = 40.0, n: int = 20) -> dict:
    attacked = round(clean * n)
    successful = round(asr * attacked)
    failed = attacked - successful
    name = recipe if eps is None else f"{recipe}-linf-eps{eps:g}"
    task = {"name": "mr", "split": "attack", "attack": name, "recipe": recipe, "victim": victim, "n": n}
    variant = {}
    if eps is not None:
        task.update({"norm": "linf", "eps": eps})
        variant = {"norm": "linf", "eps": eps, "steps": 10, "step_size": 2.5 * eps / 10, "random_start": True}
    metrics = {"successful_attacks": successful, "failed_attacks": failed, "skipped_attacks": n - attacked, "total_examples": n,
               "original_accuracy": attacked / n, "accuracy_under_attack": failed / n,
               "attack_success_rate": successful / attacked, "avg_perturbed_word_fraction": None if eps is not None else words,
               "avg_queries": queries, "victim_clean_accuracy": clean}
    victim_settings = {"kind": victim, "max_train": 256, "epochs": 1, "seed": seed}
    outcomes = ["successful"] * successful + ["failed"] * failed + ["skipped"] * (n - attacked)
    run_spec = f"{model_section['name']}-{name}-{victim}-seed{seed}-n{n}"  # as the runner's spec hash: one per run
    return record("attack", model_section, task, metrics, {"variant": variant, "seed": seed, "victim": victim_settings},
                  seed=seed, example_ids=[f"mr:attack:{i}" for i in range(n)], outcomes=outcomes, spec_hash=run_spec)


def fixture_records() -> dict[str, object]:
    """Relative path -> record (or raw text for the broken file)."""
    out: dict[str, object] = {}
    for method, sts_shift, transfer_shift, robust in (("simcse", 0.0, 0.0, 0.0), ("robustsentembed", 0.012, 0.006, 0.25)):
        for seed in (1, 2):
            m = model(method, seed)
            folder = f"{m['name']}-{m['fingerprint'][:8]}"
            jitter = 0.003 * (seed - 1.5)
            for task, value in STS.items():
                out[f"{folder}/sts-{task}.json"] = record(
                    "sts", m, {"name": task, "split": "test", "n": 1000, "variant": "original"},
                    {"spearman_cosine": round(value + sts_shift + jitter, 4), "pearson_cosine": round(value + sts_shift, 4)},
                    {"variant": "original", "batch_size": 64, "similarity": "cosine"})
            for task, value in TRANSFER.items():
                metrics = {"accuracy": round(value + transfer_shift - jitter, 4), "dev_accuracy": round(value, 4)}
                if task == "mrpc":
                    metrics["f1"] = 0.81
                out[f"{folder}/transfer-{task}-seed0.json"] = record(
                    "transfer", m, {"name": task, "split": "all" if task in ("mr", "cr", "subj", "mpqa") else "test", "n": 1000},
                    metrics, {"protocol": "fixture", "outer_folds": 10 if task in ("mr", "cr", "subj", "mpqa") else None,
                              "inner_folds": None if task == "sst2" else 5, "max_examples": None, "seed": 0}, seed=0)
            for recipe, asr, eps in (("deepwordbug", 0.85, None), ("pgd", 0.30, 0.01), ("pgd", 0.80, 0.05)):
                rate = max(0.0, asr * (1 - robust) + (0.05 if seed == 2 else 0.0))
                rec = attack(m, seed, recipe, rate, 0.8 + 0.05 * (seed - 1), eps=eps, words=0.12 + robust / 10)
                out[f"{folder}/attack-mr-attack-{rec['task']['attack']}-probe-seed{seed}.json"] = rec
    simcse = model("simcse", 1)
    out["simcse-seed1-simc0001/sts-stsb-senteval.json"] = record(
        "sts", simcse, {"name": "stsb", "split": "test", "n": 1379, "variant": "senteval"},
        {"spearman_cosine": 0.7702, "pearson_cosine": 0.77}, {"variant": "senteval"})
    out["simcse-seed1-simc0001/attack-mr-attack-textfooler-finetune-seed1.json"] = attack(
        simcse, 1, "textfooler", 0.9, 0.85, victim="finetune", words=0.15, queries=85.5)
    pretrained = {"name": "all-MiniLM-L6-v2", "method": "pretrained", "fingerprint": "4cd79fd7".ljust(64, "0"), "pooler": "mean"}
    for task, value in STS.items():
        out[f"all-MiniLM-L6-v2-4cd79fd7/sts-{task}.json"] = record(
            "sts", pretrained, {"name": task, "split": "test", "n": 1000, "variant": "original"},
            {"spearman_cosine": round(value + 0.05, 4),
             "spearman_cosine_ci95": [round(value + 0.05 - 0.021, 4), round(value + 0.05 + 0.019, 4)]}, {"variant": "original"})
    out["simcse-seed1-simc0001/train.json"] = record("train", simcse, {"name": "wiki1m"}, {"best_dev_spearman": 0.8}, {})
    future = record("sts", simcse, {"name": "sts12"}, {"spearman_cosine": 0.5}, {})
    future["schema"] = "rsebench.record/99"
    out["skipped/future-schema.json"] = future
    incomplete = attack(simcse, 3, "pwws", 0.5, 0.8)
    del incomplete["metrics"]["attack_success_rate"]
    out["skipped/incomplete-attack.json"] = incomplete
    out["skipped/broken.json"] = '{"schema": "rsebench.record/1", "kind": '
    return out


def main() -> None:
    if RECORDS.exists():
        shutil.rmtree(RECORDS)
    for relative, payload in fixture_records().items():
        path = RECORDS / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = payload if isinstance(payload, str) else json.dumps(payload, indent=2, sort_keys=True) + "\n"
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(list(RECORDS.rglob('*.json')))} fixture records to {RECORDS}")


if __name__ == "__main__":
    main()
