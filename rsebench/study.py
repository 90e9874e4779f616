"""Studies: a whole experiment as one TOML spec, expanded into typed jobs and run resumably.

A study spec (shipped ones in `baselines/studies/<name>.toml`, or any file) names models to train
(method + spec overrides, so an ablation is a list of overrides) × seeds and/or existing models,
the evaluation tasks, the attacks (dataset, victim, recipes, eps, n) and the reference row for
comparisons. It expands into one *chain* per model: train → eval → attacks. Every job whose record
already exists with the same identity is skipped, so a killed study (even `kill -9`) continues where
it stopped: training resumes from its saved state, attack runs from their JSONL files. Chains are the
unit of sharding: `--shard i/n` takes a fixed, cost-balanced subset of chains, so shards in parallel
(same results folder) write exactly the records one process would.

    from rsebench.study import load_study, run_study
    run_study(load_study("quick"))
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomllib

from rsebench.errors import UserError
from rsebench.jobs import AttackJob, EvalJob, TrainJob
from rsebench.paths import cache_dir, spec_root
from rsebench.records import identity_hash, spec_hash

# Seconds on the reference machine (2 CPU cores, MiniLM-L6, fp32) when no record of this results folder
# has measured it yet; see docs/performance.md. Records' own timings replace them as a study runs.
DEFAULT_COST = {
    "train_step_at_batch_64": {"simcse": 2.2, "esimcse": 3.4, "robustsentembed": 7.1},
    "dev_eval": 12.0,
    "sts": {"sts12": 110.0, "sts13": 70.0, "sts14": 230.0, "sts15": 190.0, "sts16": 65.0, "stsb": 14.0, "sick": 20.0},
    "transfer": 150.0,
    "attack_example": {"deepwordbug": 0.25, "pwws": 1.0, "textfooler": 1.1, "textbugger": 1.0, "bertattack": 2.0, "bae": 2.0,
                       "pgd": 0.15, "fgsm": 0.05},
    "victim": {"probe": 0.01, "finetune": 0.15},  # per training example (probe: encoding; finetune: 3 epochs)
}


# --------------------------------------------------------------------------------------------
# The spec


@dataclass
class Arm:
    """One row of the study's tables: a method trained with overrides (× seeds), or an existing model."""

    label: str
    method: str | None  # None: an existing model, evaluated as it is
    model: str  # the backbone to train from, or the existing model's location
    overrides: dict[str, str] = field(default_factory=dict)
    max_steps: int | None = None  # this arm's training length, when it differs from [train] max_steps (e.g. compute-matched)


@dataclass
class AttackBlock:
    dataset: str = "mr"
    victim: str = "probe"
    recipes: list[str] = field(default_factory=list)
    n: int = 100
    n_per_recipe: dict[str, int] = field(default_factory=dict)
    eps: list[float] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # any other AttackJob field (victim_max_train, steps, ...)


@dataclass
class Study:
    name: str
    description: str
    scale: str
    measured_cost: str
    arms: list[Arm]
    seeds: list[int]
    train: dict[str, Any]  # TrainJob fields shared by every trained arm (max_steps, max_sentences, data) + "set"
    eval_tasks: str | None
    attacks: list[AttackBlock]
    reference: str | None
    results_dir: str
    checkpoints_dir: str
    path: Path | None = None
    reuse: list[str] = field(default_factory=list)  # studies whose finished checkpoints and records of the same identity are taken over


def study_dir() -> Path:
    return spec_root("baselines") / "studies"


def shipped_studies() -> dict[str, Path]:
    return {path.stem: path for path in sorted(study_dir().glob("*.toml"))}


ATTACK_FIELDS = {f for f in AttackJob.__dataclass_fields__} - {"model", "recipe", "eps", "n", "dataset", "victim", "results_dir",
                                                                "device", "shard", "merge", "restart"}
TRAIN_FIELDS = {"max_steps", "max_sentences", "data", "model", "seeds", "set"}


def load_study(name_or_path: str) -> Study:
    """A study spec by shipped name (`rsebench study quick`) or path; UserError naming the first problem."""
    shipped = shipped_studies()
    path = Path(name_or_path)
    if name_or_path in shipped and not path.is_file():
        path = shipped[name_or_path]
    if not path.is_file():
        raise UserError(f"no study spec '{name_or_path}': give a TOML file or one of the shipped studies: {', '.join(shipped)}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UserError(f"cannot read study spec {path}: {err}") from None
    return parse_study(raw, path)


def _expect(condition: bool, path: Path | None, message: str) -> None:
    if not condition:
        raise UserError(f"study spec {path or '(inline)'}: {message}")


def parse_study(raw: dict, path: Path | None = None) -> Study:
    from rsebench.registry import method_names, recipe_names

    known = {"name", "description", "scale", "measured_cost", "reference", "results_dir", "checkpoints_dir", "train", "model",
             "eval", "attack", "reuse"}
    unknown = sorted(set(raw) - known)
    _expect(not unknown, path, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    name = str(raw.get("name") or (path.stem if path else "study"))
    _expect(re.fullmatch(r"[A-Za-z0-9._-]+", name) is not None, path, f"name '{name}' may only use letters, digits, . _ -")
    train = dict(raw.get("train", {}))
    unknown = sorted(set(train) - TRAIN_FIELDS)
    _expect(not unknown, path, f"[train] has unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(TRAIN_FIELDS))}")
    seeds = train.pop("seeds", [0])
    _expect(isinstance(seeds, list) and seeds and all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds), path,
            "[train] seeds must be a non-empty list of integers in 0 .. 4294967295")
    arms = []
    for index, entry in enumerate(raw.get("model", [])):
        _expect(isinstance(entry, dict) and entry.get("label"), path, f"[[model]] #{index + 1} needs a label")
        method = entry.get("method")
        _expect(method is None or method in method_names(), path, f"model '{entry['label']}': unknown method '{method}'; "
                f"choose one of {', '.join(method_names())}")
        _expect(method is not None or "model" in entry, path, f"model '{entry['label']}' needs a method (to train) or a model (to evaluate)")
        extra = sorted(set(entry) - {"label", "method", "model", "set", "max_steps"})
        _expect(not extra, path, f"model '{entry['label']}': unknown field(s) {', '.join(extra)}")
        steps = entry.get("max_steps")
        _expect(steps is None or (method is not None and isinstance(steps, int) and not isinstance(steps, bool) and steps > 0), path,
                f"model '{entry['label']}': max_steps must be a positive integer, on a model with a method to train")
        overrides = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in entry.get("set", {}).items()}
        arms.append(Arm(label=str(entry["label"]), method=method, model=str(entry.get("model", train.get("model", "default"))),
                        overrides=overrides, max_steps=steps))
    _expect(bool(arms), path, "no [[model]] entries: name at least one model to train or evaluate")
    labels = [arm.label for arm in arms]
    _expect(len(set(labels)) == len(labels), path, f"model labels must be unique, got {labels}")
    attacks = []
    for index, entry in enumerate(raw.get("attack", [])):
        entry = dict(entry)
        recipes = entry.pop("recipes", [])
        _expect(isinstance(recipes, list) and recipes, path, f"[[attack]] #{index + 1} needs recipes = [...]")
        bad = [r for r in recipes if r not in recipe_names()]
        _expect(not bad, path, f"[[attack]] #{index + 1}: unknown recipe(s) {bad}; choose from {', '.join(recipe_names())}")
        block = AttackBlock(dataset=entry.pop("dataset", "mr"), victim=entry.pop("victim", "probe"), recipes=recipes,
                            n=int(entry.pop("n", 100)), n_per_recipe=dict(entry.pop("n_per_recipe", {})),
                            eps=entry.pop("eps", None))
        unknown = sorted(set(entry) - ATTACK_FIELDS)
        _expect(not unknown, path, f"[[attack]] #{index + 1}: unknown field(s) {', '.join(unknown)}")
        block.options = entry
        attacks.append(block)
    reference = raw.get("reference")
    _expect(reference is None or reference in labels, path, f"reference '{reference}' is not one of the model labels {labels}")
    reuse = raw.get("reuse", [])
    _expect(isinstance(reuse, list) and all(isinstance(r, str) and r for r in reuse), path,
            "reuse must be a list of study names or spec files, e.g. reuse = [\"main\"]")
    _expect(name not in reuse, path, "a study cannot reuse itself")
    evaluation = raw.get("eval", {})
    return Study(name=name, description=str(raw.get("description", "")), scale=str(raw.get("scale", "")),
                 measured_cost=str(raw.get("measured_cost", "")), arms=arms, seeds=list(seeds), train=train,
                 eval_tasks=evaluation.get("tasks"), attacks=attacks, reference=reference,
                 results_dir=str(raw.get("results_dir", f"results/{name}")),
                 checkpoints_dir=str(raw.get("checkpoints_dir", cache_dir("checkpoints", name))), path=path, reuse=list(reuse))


def reused_studies(study: Study) -> list[Study]:
    """The studies named by `reuse` (their own results and checkpoints folders, as their specs give them)."""
    return [load_study(name) for name in study.reuse]


# --------------------------------------------------------------------------------------------
# Expansion into chains of jobs


@dataclass(eq=False)  # chains are compared (and hashed) by identity
class Chain:
    """One model's jobs in dependency order: train (trained arms only) → eval → attacks."""

    label: str
    seed: int | None
    model: str  # where the model is (the checkpoint folder for a trained arm)
    train: TrainJob | None
    evals: list[EvalJob]
    attacks: list[AttackJob]

    @property
    def name(self) -> str:
        return self.label if self.seed is None else f"{self.label} seed {self.seed}"

    def jobs(self) -> list:
        return ([self.train] if self.train else []) + self.evals + self.attacks


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "model"


def expand(study: Study, results_dir: str | None = None, checkpoints_dir: str | None = None, device: str | None = None) -> list[Chain]:
    """Every chain of the study, in spec order (arms × seeds)."""
    results = results_dir or study.results_dir
    checkpoints = Path(checkpoints_dir or study.checkpoints_dir)
    reused_checkpoints = [Path(other.checkpoints_dir) for other in reused_studies(study)]
    train_set = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in study.train.get("set", {}).items()}
    chains = []
    for arm in study.arms:
        seeds = study.seeds if arm.method else [None]
        for seed in seeds:
            train = None
            location = arm.model
            if arm.method:
                overrides = {**train_set, **arm.overrides, "seed": str(seed)}
                # The folder names the arm's whole setting: a changed spec trains anew instead of clashing.
                shared = {k: study.train.get(k) for k in ("max_steps", "max_sentences", "data")}
                if arm.max_steps is not None:
                    shared["max_steps"] = arm.max_steps
                setting = spec_hash({"method": arm.method, "model": arm.model, "overrides": overrides, **shared})
                location = str(checkpoints / f"{_slug(arm.label)}-{setting[:8]}")
                train = TrainJob(method=arm.method, out=location, model=arm.model, data=study.train.get("data"),
                                 max_sentences=study.train.get("max_sentences"), max_steps=shared["max_steps"],
                                 overrides=[f"{k}={v}" for k, v in overrides.items()], label=arm.label,
                                 cpu=device == "cpu", results_dir=results)
                if reused_checkpoints and not train.checkpoint_complete():
                    train = _finished_elsewhere(train, setting, reused_checkpoints) or train
                    location = train.out
            evals = [EvalJob(model=location, tasks=study.eval_tasks, device=device, results_dir=results)] if study.eval_tasks else []
            attacks = []
            for block in study.attacks:
                for recipe in block.recipes:
                    kind = _recipe_kind(recipe)
                    attacks.append(AttackJob(recipe=recipe, model=location, dataset=block.dataset, victim=block.victim,
                                             n=int(block.n_per_recipe.get(recipe, block.n)),
                                             eps=[float(e) for e in block.eps] if block.eps and kind == "embedding" else None,
                                             device=device, results_dir=results,
                                             **{k: v for k, v in block.options.items()
                                                if kind == "embedding" or k not in ("steps", "step_size", "norm", "random_start")}))
            chains.append(Chain(arm.label, seed, location, train, evals, attacks))
    return chains


def _finished_elsewhere(train: TrainJob, setting: str, folders: list[Path]) -> TrainJob | None:
    """The same training job pointed at a reused study's finished checkpoint of the same setting (any label),
    or None. Only a complete checkpoint of exactly this spec qualifies, so nothing is ever trained there."""
    for folder in folders:
        for candidate in sorted(folder.glob(f"*-{setting[:8]}")):
            moved = replace(train, out=str(candidate))
            if moved.checkpoint_complete():
                return moved
    return None


def _recipe_kind(recipe: str) -> str:
    from rsebench.registry import recipe_info

    return recipe_info(recipe).kind


# --------------------------------------------------------------------------------------------
# Cost, from measured throughput


def measured_costs(records: list) -> dict:
    """DEFAULT_COST with every figure these records (a results folder's) have measured put in its place."""
    cost = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_COST.items()}
    per_example: dict[str, list[float]] = {}
    for record in records:
        if record.kind == "attack" and record.timings.get("attack_seconds") and record.task.get("n"):
            per_example.setdefault(record.task["recipe"], []).append(record.timings["attack_seconds"] / record.task["n"])
        elif record.kind == "sts" and record.timings.get("seconds"):
            cost["sts"][record.task["name"]] = record.timings["seconds"]
        elif record.kind == "train" and record.timings.get("seconds_per_step"):
            batch = record.settings.get("batch_size", 64) or 64
            cost["train_step_at_batch_64"][record.task["name"]] = record.timings["seconds_per_step"] * 64 / batch
    for recipe, values in per_example.items():
        cost["attack_example"][recipe] = sorted(values)[len(values) // 2]
    return cost


def job_cost(job, cost: dict) -> float:
    """Estimated seconds of one job on the reference machine."""
    if isinstance(job, TrainJob):
        spec = job.spec()
        steps = job.max_steps or 1000
        per_step = cost["train_step_at_batch_64"].get(job.method, 5.0) * spec["batch_size"] / 64
        evals = steps // spec["eval_every"] + 1 if spec["eval_every"] else 0
        return steps * per_step + evals * cost["dev_eval"]
    if isinstance(job, EvalJob):
        return sum(cost["sts"].get(task, cost["transfer"]) for task in job.task_list())
    variants = len(job.eps) if job.eps else 1
    victim = cost["victim"][job.victim] * job.victim_max_train
    return victim + variants * job.n * cost["attack_example"].get(job.recipe, 1.0)


# --------------------------------------------------------------------------------------------
# Shards


def parse_study_shard(text: str | None) -> tuple[int, int]:
    """'i/n', 'auto' (SLURM job array, else torchrun/accelerate RANK/WORLD_SIZE) or None -> (i, n), 1-based."""
    if text is None:
        return 1, 1
    if text == "auto":
        env = os.environ
        if "SLURM_ARRAY_TASK_ID" in env:
            count = int(env.get("SLURM_ARRAY_TASK_COUNT", "0"))
            first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
            if count <= 0:
                raise UserError("--shard auto: SLURM_ARRAY_TASK_COUNT is not set; submit with sbatch --array=0-N")
            return int(env["SLURM_ARRAY_TASK_ID"]) - first + 1, count
        if "RANK" in env and "WORLD_SIZE" in env:
            return int(env["RANK"]) + 1, int(env["WORLD_SIZE"])
        raise UserError("--shard auto found no SLURM job array (SLURM_ARRAY_TASK_ID) and no RANK/WORLD_SIZE; give --shard i/n")
    from rsebench.robustness.runner import parse_shard

    return parse_shard(text)


def assign_shards(chains: list[Chain], count: int) -> list[int]:
    """Shard (1-based) of each chain: longest chains first onto the least loaded shard. Deterministic: it
    depends only on the spec and the default costs, so every process computes the same assignment."""
    estimates = [sum(job_cost(job, DEFAULT_COST) for job in chain.jobs()) for chain in chains]
    load = [0.0] * count
    shard_of = [0] * len(chains)
    for index in sorted(range(len(chains)), key=lambda i: (-estimates[i], i)):
        target = min(range(count), key=lambda s: (load[s], s))
        shard_of[index] = target + 1
        load[target] += estimates[index]
    return shard_of


# --------------------------------------------------------------------------------------------
# Running


class RecordIndex:
    """The records of a results folder, read once, and their identity hashes (kept up to date as jobs write)."""

    def __init__(self, results_dir: str | Path, reuse: list[str | Path] = ()):
        from rsebench.records import read_records

        self.results_dir = Path(results_dir)
        self.records = read_records(results_dir)[0] if Path(results_dir).is_dir() else []
        self.hashes = {record.identity_hash for record in self.records}
        # identity hash -> (reused results folder, record file): records another study already measured
        self.elsewhere: dict[str, tuple[Path, Path]] = {}
        for folder in map(Path, reuse):
            for record in (read_records(folder)[0] if folder.is_dir() else []):
                self.elsewhere.setdefault(record.identity_hash, (folder, Path(record.path)))

    def add(self, paths) -> None:
        from rsebench.records import read_record

        for path in paths:
            if path is not None:
                self.hashes.add(read_record(path).identity_hash)

    def has(self, kind: str, model_key: str, identity: dict) -> bool:
        return identity_hash(kind, model_key, identity) in self.hashes

    def has_all(self, job, model_key: str, encoder) -> bool:
        """Whether every record `job` (an eval or attack job) writes for this model already exists."""
        return all(self.has(kind, model_key, identity) for kind, identity in job.identities(encoder))

    def reusable(self, job, model_key: str, encoder) -> bool:
        """Whether every record `job` writes exists here or in a reused study's results (some of them there)."""
        hashes = [identity_hash(kind, model_key, identity) for kind, identity in job.identities(encoder)]
        return all(h in self.hashes or h in self.elsewhere for h in hashes) and any(h not in self.hashes for h in hashes)

    def take_over(self, identities: list[tuple[str, dict]], model_key: str) -> None:
        """Copy the reused records of these (kind, identity) pairs into this results folder (same relative path:
        same identity, same file); pairs found neither here nor there are left alone."""
        from rsebench.records import write_text_atomic

        for kind, identity in identities:
            digest = identity_hash(kind, model_key, identity)
            if digest in self.hashes or digest not in self.elsewhere:
                continue
            folder, path = self.elsewhere[digest]
            relative = path.relative_to(folder) if path.is_absolute() else path  # records know their path inside the folder
            write_text_atomic(self.results_dir / relative, (folder / relative).read_text(encoding="utf-8"))
            self.hashes.add(digest)


@dataclass
class PlannedJob:
    chain: Chain
    job: Any
    shard: int
    estimate: float
    status: str = "todo"  # todo | done | reuse (records of a reused study) | waiting (its model is not trained yet)


def plan_jobs(chains: list[Chain], shard: tuple[int, int], index: RecordIndex) -> list[PlannedJob]:
    """Every job of every chain with its shard, estimated cost and status (done when its record exists)."""
    from rsebench.encoder import load_encoder
    from rsebench.records import model_section

    cost = measured_costs(index.records)
    planned = []
    for chain, chain_shard in zip(chains, assign_shards(chains, shard[1])):
        trained = chain.train is None or chain.train.checkpoint_complete()
        encoder = load_encoder(chain.model, device="cpu") if trained and (chain.evals or chain.attacks) else None
        key = model_section(encoder, chain.model)["key"] if encoder is not None else None
        for job in chain.jobs():
            item = PlannedJob(chain, job, chain_shard, job_cost(job, cost))
            if isinstance(job, TrainJob):
                item.status = "done" if trained else "todo"
            elif encoder is None:
                item.status = "waiting"
            elif index.has_all(job, key, encoder):
                item.status = "done"
            else:
                item.status = "reuse" if index.reusable(job, key, encoder) else "todo"
            planned.append(item)
    return planned


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe(job) -> str:
    if isinstance(job, TrainJob):
        return f"train {job.method} {job.max_steps or 'all'} steps"
    if isinstance(job, EvalJob):
        return f"eval {job.tasks}"
    eps = f" eps {','.join(f'{e:g}' for e in job.eps)}" if job.eps else ""
    return f"attack {job.recipe}{eps} {job.dataset}/{job.victim} n={job.n}"


def print_plan(study: Study, planned: list[PlannedJob], shard: tuple[int, int]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"study {study.name}: {len(planned)} jobs" + (f" (shard {shard[0]}/{shard[1]})" if shard[1] > 1 else ""),
                  title_justify="left")
    for column in ("#", "shard", "model", "job", "status", "est."):
        table.add_column(column, justify="right" if column in ("#", "est.") else "left")
    for number, item in enumerate(planned, 1):
        table.add_row(str(number), str(item.shard), item.chain.name, describe(item.job), item.status, format_seconds(item.estimate))
    console = Console()
    console.print(table)
    mine = [p for p in planned if p.shard == shard[0] and p.status != "done"]
    console.print(f"to run in this shard: {len(mine)} jobs, about {format_seconds(sum(p.estimate for p in mine))} on the reference "
                  "machine (2 CPU cores; costs from this results folder's records where measured, else docs/performance.md)")
    if study.scale:
        console.print(f"intended scale: {study.scale}")
    if study.measured_cost:
        console.print(f"measured cost: {study.measured_cost}")


def _comma_normal(text: str) -> str:
    return re.sub(r"\s*,\s*", ",", text.strip())


def rejoin_names(pieces: list[str], known: list[str]) -> list[str]:
    """A comma-separated list of names, split at every comma, put back together where a name holds commas
    itself (labels such as "RSE L-inf, batch 128"): from each piece on, the longest run of pieces that
    spells a known name (spaces around commas ignored); a piece that starts none stays as it is."""
    by_normal = {_comma_normal(name): name for name in known}
    names, i = [], 0
    while i < len(pieces):
        for j in range(len(pieces), i, -1):
            joined = _comma_normal(",".join(pieces[i:j]))
            if joined in by_normal:
                names.append(by_normal[joined])
                i = j
                break
        else:
            names.append(pieces[i])
            i += 1
    return names


def select(chains: list[Chain], only: list[str] | None = None, recipes: list[str] | None = None) -> list[Chain]:
    """The chains `only` names (arm labels or chain names such as "RobustSentEmbed seed 1"), in the order
    named, each keeping only the attacks of `recipes`; None keeps everything. UserError for a name or
    recipe the study does not have."""
    if only:
        known = list(dict.fromkeys(n for c in chains for n in (c.label, c.name)))
        only = rejoin_names(only, known)
        unknown = [n for n in only if n not in known]
        if unknown:
            raise UserError(f"--only {', '.join(unknown)}: not in this study; choose from: {', '.join(known)}")
        first = {c: min(i for i, n in enumerate(only) if n in (c.label, c.name)) for c in chains if c.label in only or c.name in only}
        chains = sorted(first, key=first.get)  # stable: seeds of one arm keep their order
    if recipes:
        known = sorted({a.recipe for c in chains for a in c.attacks})
        unknown = [r for r in recipes if r not in known]
        if unknown:
            raise UserError(f"--recipes {', '.join(unknown)}: not attacked in this study; choose from: {', '.join(known)}")
        chains = [replace(c, attacks=[a for a in c.attacks if a.recipe in recipes]) for c in chains]
    return chains


def run_study(study: Study, shard: tuple[int, int] = (1, 1), results_dir: str | None = None, checkpoints_dir: str | None = None,
              device: str | None = None, dry_run: bool = False, report: bool | None = None, only: list[str] | None = None,
              recipes: list[str] | None = None) -> list[PlannedJob]:
    """Run this shard's unfinished jobs in dependency order (chain by chain); render the report when the
    whole study ran in one process (or `report=True`). `only` / `recipes` restrict (and order) what runs
    (see `select`). Returns the plan as it was before running."""
    from rsebench.encoder import load_encoder, resolve_device
    from rsebench.paths import check_writable_folder
    from rsebench.progress import say, shared_progress
    from rsebench.records import model_section

    results = results_dir or study.results_dir
    check_writable_folder(results, "--results-dir")
    resolve_device(device)
    chains = select(expand(study, results, checkpoints_dir, device), only, recipes)
    for chain in chains:  # every job's cheap checks before any work starts
        for job in chain.jobs():
            if not isinstance(job, TrainJob):
                job.validate()
        if chain.train:
            chain.train.spec()
    index = RecordIndex(results, reuse=[other.results_dir for other in reused_studies(study)])
    planned = plan_jobs(chains, shard, index)
    if dry_run:
        print_plan(study, planned, shard)
        return planned
    mine = [p for p in planned if p.shard == shard[0]]
    todo_seconds = sum(p.estimate for p in mine if p.status != "done")
    say(f"study {study.name}: {sum(p.status != 'done' for p in mine)} of {len(mine)} jobs to run in this shard "
        f"(about {format_seconds(todo_seconds)}); records -> {results}")
    started = time.perf_counter()
    with shared_progress() as view:
        overall = view.add_task(f"study {study.name}", total=max(1.0, todo_seconds), info="") if view else None
        for chain in dict.fromkeys(p.chain for p in mine):
            encoder = key = None
            for item in [p for p in mine if p.chain is chain and p.status != "done"]:
                job = item.job
                if view:
                    view.update(overall, info=f"{chain.name}: {describe(job)}")
                if isinstance(job, TrainJob):
                    _run_train(job)
                else:
                    if encoder is None:  # after training: the chain's model exists now
                        encoder = load_encoder(chain.model, device=device)
                        key = model_section(encoder, chain.model)["key"]
                        index.take_over([("train", {})], key)  # a checkpoint taken over brings its training record
                    if item.status == "reuse":
                        index.take_over(job.identities(encoder), key)
                    else:
                        _run_measurement(job, encoder, key, index)
                if view:
                    view.update(overall, advance=item.estimate)
    say(f"study {study.name}: shard {shard[0]}/{shard[1]} finished in {format_seconds(time.perf_counter() - started)}")
    if report if report is not None else shard[1] == 1:
        render_study_report(study, results, checkpoints_dir)
    return planned


def _run_train(job: TrainJob) -> None:
    from rsebench.train.trainer import STATE_DIR

    out = Path(job.out)
    resume = (out / STATE_DIR / "state.json").is_file()
    # The folder is the study's own (its name carries the arm's setting hash): an unfinished run there resumes,
    # anything else left over (a crash before the first save) is replaced.
    overwrite = not resume and out.is_dir() and any(out.iterdir())
    job.resume, job.overwrite = resume, overwrite
    job.run()


def _run_measurement(job, encoder, key: str, index: RecordIndex) -> None:
    """Run an eval or attack job, only for the tasks (eval) or eps values (attack) whose records are missing."""
    missing = [not index.has(kind, key, identity) for kind, identity in job.identities(encoder)]
    if not any(missing):
        return
    if isinstance(job, EvalJob):
        job = replace(job, tasks=",".join(task for task, m in zip(job.task_list(), missing) if m))
    elif job.eps:
        job = replace(job, eps=[eps for eps, m in zip(job.eps, missing) if m])
    index.add(job.run(encoder))


def render_study_report(study: Study, results_dir: str, checkpoints_dir: str | None = None) -> list[Path]:
    """The study's tables (with intervals and the comparisons against its reference) and plots."""
    from rsebench.encoder import load_encoder
    from rsebench.records import model_section
    from rsebench.report.render import render_report

    # The study names its rows: off-the-shelf models carry no label in their records, and a checkpoint taken over
    # from another study carries that study's label.
    labels = {}
    for chain in expand(study, results_dir, checkpoints_dir):
        if chain.train is None or chain.train.checkpoint_complete():
            labels[model_section(load_encoder(chain.model, device="cpu"), chain.model)["key"]] = chain.label
    write_study_labels(Path(results_dir), study, labels)
    return render_report(results_dir, formats=("latex", "markdown", "csv"), plots=True, reference=study.reference, labels=labels)


def write_study_labels(results_dir: Path, study: Study, labels: dict[str, str]) -> Path:
    """`<results>/study-labels.toml`: the study's row labels by model key and its reference, so a plain
    `rsebench report --results-dir <results>` names and compares the rows as the study's report does."""
    import json

    from rsebench.records import write_text_atomic
    from rsebench.report.render import STUDY_LABELS

    lines = ["# Written by `rsebench study`; `rsebench report` reads it to name this folder's rows as the study does.",
             f"study = {json.dumps(study.name)}"]
    if study.reference:
        lines.append(f"reference = {json.dumps(study.reference)}")
    lines += ["", "[labels]"] + [f"{json.dumps(key)} = {json.dumps(label)}" for key, label in sorted(labels.items())]
    return write_text_atomic(results_dir / STUDY_LABELS, "\n".join(lines) + "\n", fix="choose another --results-dir")
