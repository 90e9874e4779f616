"""Attack runs: a fixed example list, one JSONL line per attacked example, resume, shards, records.

A run attacks the first n examples of a fixed, seeded permutation of a dataset's attack split
(the ids are stored). It writes `<results-dir>/runs/<model folder>/<attack>-<dataset>-<victim>-seed<S>-n<N>-<identity>.jsonl`
(one file per shard when sharded; the identity hash names every setting, see `RunPlan.identity`): a header line with the run spec and its hash, then one line per
example, flushed as soon as the example finishes. A killed run resumes after its last complete
line; a run whose spec changed refuses to resume. When every shard is complete the lines are merged
(in example-list order) into one attack record. Randomness is seeded per example from (seed, id),
so a resumed or sharded run reproduces the uninterrupted one.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rsebench.data import DATASETS, LabeledTexts, dataset_info, load_dataset
from rsebench.errors import UserError
from rsebench.records import _slug, identity_hash, make_record, model_folder, now, spec_hash, write_record
from rsebench.robustness.embedding_attack import EmbeddingAttackConfig, attack_example, example_generator, resolve_step_size
from rsebench.robustness.metrics import attack_metrics, victim_accuracy_interval
from rsebench.robustness.parallel import AttackPool
from rsebench.robustness.recipes import RecipeSpec
from rsebench.robustness.text_attack import _example_input, _textattack_line, seed_example  # noqa: F401 - used by tests

EXAMPLE_ORDER_SEED = 0  # one fixed example order per dataset, whatever the run seed: numbers stay comparable
RUN_FORMAT = "rsebench.attack-run/1"


# --------------------------------------------------------------------------------------------
# Example lists and shards


def attack_datasets() -> list[str]:
    return sorted(name for name, info in DATASETS.items() if info.kind == "classification" and info.attack_split)


def select_examples(dataset: str, n: int | None) -> LabeledTexts:
    """The first n examples of the fixed permutation of the dataset's attack split."""
    info = dataset_info(dataset)
    if info.kind != "classification" or info.attack_split is None:
        raise UserError(f"dataset '{dataset}' has no attack set; choose one of: {', '.join(attack_datasets())}")
    data = load_dataset(dataset, info.attack_split)
    n = len(data) if n is None else n
    if n > len(data):
        raise UserError(f"--n {n} is larger than the '{dataset}' attack set ({len(data)} examples); use --n {len(data)} or fewer")
    order = np.random.default_rng(EXAMPLE_ORDER_SEED).permutation(len(data))[:n]
    return data.subset(order.tolist())


def parse_shard(text: str | None) -> tuple[int, int]:
    """'i/n' (1-based) -> (i, n); None -> (1, 1)."""
    if not text:
        return 1, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard '{text}' must look like i/n, e.g. 2/4") from None
    if not 1 <= index <= count:
        raise UserError(f"--shard {text}: i must be between 1 and n")
    return index, count


def shard_positions(total: int, shard: tuple[int, int]) -> list[int]:
    """Contiguous blocks: shard i of n gets positions [floor((i-1)N/n), floor(iN/n))."""
    index, count = shard
    return list(range((index - 1) * total // count, index * total // count))


# --------------------------------------------------------------------------------------------
# What one run is


@dataclass
class RunPlan:
    """One attack run: recipe (+ embedding variant), examples, victim, seed."""

    recipe: RecipeSpec
    dataset: str
    examples: LabeledTexts
    seed: int
    victim_meta: dict
    model: dict
    variant: dict = field(default_factory=dict)  # embedding attacks: norm, eps, steps, step_size, random_start
    batch_size: int = 64

    @property
    def variant_name(self) -> str:
        """The recipe as records name it: its local-substitute variant where it has one (textfooler-local)."""
        return self.recipe.raw.get("variant", self.recipe.name)

    @property
    def attack_name(self) -> str:
        if self.recipe.kind == "embedding":
            return f"{self.variant_name}-{self.variant['norm']}-eps{self.variant['eps']:g}"
        return self.variant_name

    def identity(self) -> dict:
        """Every setting that can change this run's numbers, the model aside (its key joins in the record):
        example ids, seed, the recipe's whole spec (parameters, substitutes and their thresholds), the
        embedding attack's parameters, the victim's kind and settings. The shard count is not part of it."""
        return {"dataset": self.dataset, "split": self.examples.split, "example_ids": spec_hash({"ids": self.examples.ids}),
                "n": len(self.examples), "seed": self.seed, "recipe": self.recipe.name, "variant": self.variant_name,
                "recipe_spec": spec_hash(self.recipe.raw), "embedding": self.variant,
                "victim": {"kind": self.victim_meta["kind"], "settings": self.victim_meta["settings"]}}

    def identity_hash(self) -> str:
        return identity_hash("attack", self.model["key"], self.identity())

    def spec(self, shard_count: int) -> dict:
        """Everything that decides the per-example results (hashed; a run file only resumes under the same
        hash). Beyond the identity it pins the exact weights: a rerun of the same model identity with other
        weights (another machine) starts its own run file instead of mixing into this one."""
        return {
            "format": RUN_FORMAT, "recipe": self.recipe.raw, "variant": self.variant, "dataset": self.dataset,
            "split": self.examples.split, "ids": self.examples.ids, "seed": self.seed,
            "victim": {k: self.victim_meta[k] for k in ("key", "kind", "settings", "encoder_fingerprint")},
            "model_fingerprint": self.model.get("fingerprint"),
        }

    def run_path(self, results_dir: str | Path, shard: tuple[int, int]) -> Path:
        stem = _slug(f"{self.attack_name}-{self.dataset}-{self.victim_meta['kind']}-seed{self.seed}-n{len(self.examples)}"
                     f"-{self.identity_hash()[:8]}")
        suffix = "" if shard[1] == 1 else f".shard{shard[0]}of{shard[1]}"
        return Path(results_dir) / "runs" / model_folder(self.model) / f"{stem}{suffix}.jsonl"


def embedding_variants(recipe: RecipeSpec, eps: list[float] | None = None, steps: int | None = None,
                       step_size: float | None = None, norm: str | None = None, random_start: bool | None = None) -> list[dict]:
    """One variant per eps value: the spec's parameters overridden by the command line."""
    params = recipe.parameters
    eps_values = eps or params.get("eps", [])
    eps_values = eps_values if isinstance(eps_values, list) else [eps_values]
    if not eps_values:
        raise UserError(f"recipe '{recipe.name}' needs --eps (e.g. --eps 0.01,0.02,0.05)")
    variants = []
    for value in eps_values:
        n_steps = int(steps if steps is not None else params.get("steps", 1))
        rule = step_size if step_size is not None else params.get("step_size", "eps")
        config = EmbeddingAttackConfig(norm=norm or params.get("norm", "linf"), eps=float(value), steps=n_steps,
                                       step_size=resolve_step_size(rule, float(value), n_steps),
                                       random_start=bool(params.get("random_start", False) if random_start is None else random_start))
        variants.append(asdict(config))
    return variants


# --------------------------------------------------------------------------------------------
# Run files


def _line_problem(item, header: dict | None, first: bool) -> str | None:
    """Why a parsed run-file line cannot be used (None when it can)."""
    if not isinstance(item, dict):
        return "not a JSON object"
    if first or item.get("type") == "header":
        if not first:
            return "a second header line"
        if item.get("type") != "header":
            return "the first line is not the header"
        return None if isinstance(item.get("positions"), list) and "spec_hash" in item else "a header without positions or spec hash"
    if item.get("type") != "example":
        return f"unknown line type {item.get('type')!r}"
    position = item.get("position")
    if isinstance(position, bool) or not isinstance(position, int) or not isinstance(item.get("result_type"), str):
        return "an example line without position or result type"
    if header is not None and position not in header["positions"]:
        return f"position {position} is not one of this shard's examples"
    return None


def _read_run(path: Path, repair: bool = False) -> tuple[dict | None, list[dict]]:
    """Header and complete example lines.

    A torn last line (no newline: a kill mid-write) is ignored. A corrupt line inside the file is
    reported (`say`) with its line number and skipped, so only its example is redone; the good lines
    after it are kept. With `repair` (only for the run this process is about to continue, under its
    lock) the torn tail is cut off, and corrupt lines are moved to `<run file>.corrupt` with the file
    rewritten without them. A corrupt header is refused: the example lines cannot be checked against it.
    """
    from rsebench.progress import say

    if not path.is_file():
        return None, []
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UserError(f"cannot read run file {path} ({err.strerror or err}); check its permissions") from None
    header, lines, kept, corrupt = None, [], [], []
    start, number, seen_first = 0, 0, False
    while start < len(raw):
        end = raw.find(b"\n", start)
        if end == -1:
            break  # no newline: the last line was cut short by a kill
        number += 1
        chunk = raw[start:end]
        start = end + 1
        if not chunk.strip():
            continue
        try:
            item = json.loads(chunk)
            problem = _line_problem(item, header, first=not seen_first)
        except ValueError:
            item, problem = None, "not valid JSON"
        if problem is not None and not seen_first:
            raise UserError(f"{path}:{number}: the run file's header line is corrupt ({problem}); "
                            "rerun with --restart to discard the file and attack its examples again")
        seen_first = True
        if problem is not None:
            corrupt.append((number, chunk))
            say(f"[yellow]warning:[/] {path}:{number}: corrupt line skipped ({problem}); its example will be redone")
            continue
        kept.append(chunk)
        if item["type"] == "header":
            header = item
        else:
            lines.append(item)
    if repair and corrupt:
        _drop_corrupt_lines(path, kept, corrupt)
    elif repair and start < len(raw):
        with path.open("r+b") as handle:
            handle.truncate(start)
    return header, lines


def _drop_corrupt_lines(path: Path, kept: list[bytes], corrupt: list[tuple[int, bytes]]) -> None:
    """Keep the corrupt lines beside the run file (for inspection) and rewrite it with the good ones."""
    aside = path.with_name(path.name + ".corrupt")
    tmp = path.with_name(path.name + ".tmp")
    try:
        with aside.open("ab") as handle:
            for number, chunk in corrupt:
                handle.write(f"# {path.name} line {number}:\n".encode() + chunk + b"\n")
        tmp.write_bytes(b"".join(chunk + b"\n" for chunk in kept))
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot repair run file {path} ({err.strerror or err}); free disk space or fix permissions") from None


def execute_run(plan: RunPlan, victim, results_dir: str | Path, shard: tuple[int, int] = (1, 1), restart: bool = False,
                stop_after: int | None = None, workers: int = 1) -> Path | None:
    """Attack this shard's examples not yet in its run file; returns the record path once every
    shard is complete (else None). `stop_after` ends early after that many new examples (tests);
    `workers` > 1 attacks examples in forked processes (CPU), with the same results.

    The run file is locked (`<run file>.lock`) while this process writes it: a second process on the
    same shard gets one error line instead of writing every example twice.
    """
    from rsebench.locks import held
    from rsebench.paths import check_writable_folder

    check_writable_folder(results_dir, "--results-dir")
    path = plan.run_path(results_dir, shard)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--results-dir {results_dir}: cannot create {path.parent} ({err.strerror or err}); "
                        "choose a writable folder") from None
    shard_text = "" if shard[1] == 1 else f" shard {shard[0]}/{shard[1]}"
    with held(path.with_name(path.name + ".lock"), f"attacking {plan.attack_name} on {plan.dataset}{shard_text} into {path}"):
        return _execute_locked(plan, victim, results_dir, shard, restart, workers=workers, stop_after=stop_after)


def _execute_locked(plan: RunPlan, victim, results_dir: str | Path, shard: tuple[int, int], restart: bool, workers: int,
                    stop_after: int | None) -> Path | None:
    from rsebench.progress import progress_bar, say

    path = plan.run_path(results_dir, shard)
    spec = plan.spec(shard[1])
    digest = spec_hash(spec)
    header, done = _read_run(path, repair=True)
    if header is not None and header.get("spec_hash") != digest and not restart:
        changed = sorted(k for k in spec if header.get("spec", {}).get(k) != spec[k])
        raise UserError(f"{path} was started with a different spec (changed: {', '.join(changed) or 'unknown'}); "
                        "rerun with --restart to discard it, or use the original settings to resume")
    if restart or header is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"type": "header", "format": RUN_FORMAT, "spec_hash": digest, "spec": spec, "shard": list(shard),
                  "positions": shard_positions(len(plan.examples), shard), "model": plan.model, "victim": plan.victim_meta,
                  "attack_name": plan.attack_name, "identity": plan.identity(), "identity_hash": plan.identity_hash(),
                  "created": now(), "resources": {}}
        done = []
        _write_lines(path, [header], mode="w")
    finished = {line["position"] for line in done}
    todo = [p for p in header["positions"] if p not in finished]
    if todo:
        attack_one, substitutes = _attacker(plan, victim)
        if substitutes and header.get("resources") != substitutes:
            header["resources"] = substitutes
            _rewrite_header(path, header)
        counts = {"successful": 0, "failed": 0}
        for line in done:
            if line["result_type"] in counts:
                counts[line["result_type"]] += 1
        shard_text = "" if shard[1] == 1 else f" [{shard[0]}/{shard[1]}]"
        say(f"attack: {plan.attack_name} on {plan.dataset}{shard_text}: {len(todo)} to go, {len(done)} done ({path})")
        batch = todo if stop_after is None else todo[:stop_after]
        # Forked workers only on the CPU (a forked CUDA context is unusable); results come back in order.
        workers = workers if getattr(victim, "device", None) is None or victim.device.type == "cpu" else 1
        with progress_bar(f"{plan.attack_name} {plan.dataset}{shard_text}", total=len(header["positions"])) as advance, \
                AttackPool(_timed(attack_one), workers) as pool:
            advance(len(done))
            for position, (result, seconds) in zip(batch, pool.imap(batch)):
                example_id = plan.examples.ids[position]
                line = {"type": "example", "position": position, "id": example_id, "ground_truth": plan.examples.labels[position],
                        **result, "seconds": seconds}
                _write_lines(path, [line], mode="a")
                done.append(line)
                if line["result_type"] in counts:
                    counts[line["result_type"]] += 1
                attacked = counts["successful"] + counts["failed"]
                advance(1, success_rate=counts["successful"] / attacked if attacked else 0.0)
        if len(batch) < len(todo):
            return None  # stopped early on purpose (tests)
    return merge_shards(plan, results_dir, shard[1])


def _timed(attack_one):
    """position -> (result, seconds), timed where the example runs (a worker process or this one)."""
    def run(position: int):
        start = time.perf_counter()
        result = attack_one(position)
        return result, round(time.perf_counter() - start, 4)

    return run


def _json_line(item: dict) -> str:
    """One strict-JSON line: a NaN or infinite number (a broken model's scores) is refused, not written."""
    try:
        return json.dumps(item, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"
    except ValueError:
        where = f"example {item.get('id')}" if item.get("type") == "example" else "the run header"
        raise UserError(f"{where} produced a NaN or infinite number; the victim's outputs are not finite: "
                        "check the model's weights (e.g. re-train it)") from None


def _write_lines(path: Path, items: list[dict], mode: str) -> None:
    """Append (or write) whole lines; a failed write (full disk) is one error line, and the torn line it
    may leave is cut off when the run resumes."""
    text = "".join(_json_line(item) for item in items)
    try:
        with path.open(mode, encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
    except OSError as err:
        raise UserError(f"cannot write run file {path} ({err.strerror or err}); free disk space or fix permissions, "
                        "then rerun the same command: the run resumes after its last complete line") from None


def _rewrite_header(path: Path, header: dict) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = _json_line(header)
    tmp = path.with_suffix(".jsonl.tmp")
    try:
        tmp.write_text("".join(lines), encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write run file {path} ({err.strerror or err}); free disk space or fix permissions") from None


def _attacker(plan: RunPlan, victim):
    """A function position -> result fields, and the substitute resources it uses."""
    if plan.recipe.kind == "embedding":
        config = EmbeddingAttackConfig(**plan.variant)

        def attack_embedding(position: int) -> dict:
            example_id = plan.examples.ids[position]
            texts_b = plan.examples.texts_b
            result = attack_example(victim, plan.examples.texts[position], None if texts_b is None else texts_b[position],
                                    plan.examples.labels[position], config, example_generator(plan.seed, example_id))
            result.pop("delta")
            original = {"text": plan.examples.texts[position]} if texts_b is None else dict(_example_input(plan.examples, position))
            return {**result, "original": original, "perturbed": None, "words": None, "words_changed": None}

        return attack_embedding, {}

    from rsebench.robustness.text_attack import make_text_attacker
    from rsebench.robustness.wrapper import VictimModelWrapper

    # Seeded per example, caches emptied per example: resumed and sharded runs reproduce an uninterrupted one.
    return make_text_attacker(plan.recipe, VictimModelWrapper(victim, batch_size=plan.batch_size), plan.examples, plan.seed,
                              plan.batch_size)


# --------------------------------------------------------------------------------------------
# Merging shards into a record


def shard_status(plan: RunPlan, results_dir: str | Path, shard_count: int) -> list[tuple[tuple[int, int], dict | None, list[dict]]]:
    return [((i, shard_count), *_read_run(plan.run_path(results_dir, (i, shard_count)))) for i in range(1, shard_count + 1)]


def merge_shards(plan: RunPlan, results_dir: str | Path, shard_count: int, strict: bool = False) -> Path | None:
    """Write the record when every shard's file is complete; None (or UserError when strict) otherwise."""
    from rsebench.progress import say

    # Merging needs no victim: the shards' headers must agree with each other and with this identity.
    identity = plan.identity_hash()
    lines: dict[int, dict] = {}
    headers = []
    for shard, header, done in shard_status(plan, results_dir, shard_count):
        problem = None
        if header is None:
            problem = f"shard {shard[0]}/{shard[1]} has not started"
        elif header.get("identity_hash") != identity or header["spec_hash"] != (headers[0]["spec_hash"] if headers else header["spec_hash"]):
            problem = f"shard {shard[0]}/{shard[1]} was run with a different spec"
        elif len({line['position'] for line in done}) < len(header["positions"]):
            problem = f"shard {shard[0]}/{shard[1]} is incomplete ({len(done)}/{len(header['positions'])})"
        if problem:
            if strict:
                raise UserError(f"cannot merge {plan.attack_name} on {plan.dataset}: {problem}; "
                                f"run it with --shard {shard[0]}/{shard[1]}")
            if shard_count > 1:
                say(f"attack: {problem}; the record is written when all {shard_count} shards are complete")
            return None
        headers.append(header)
        for line in done:
            lines[line["position"]] = line
    ordered = [lines[p] for p in range(len(plan.examples))]
    record = build_record(headers, ordered, results_dir, [plan.run_path(results_dir, (i, shard_count)) for i in range(1, shard_count + 1)])
    return write_record(record, results_dir)


def build_record(headers: list[dict], lines: list[dict], results_dir: str | Path, run_files: list[Path]):
    first = headers[0]
    spec = first["spec"]
    victim = first["victim"]
    recipe = spec["recipe"]
    identity = first["identity"]
    metrics = attack_metrics(lines)
    metrics["victim_clean_accuracy"] = victim["clean_accuracy"]
    metrics["victim_clean_accuracy_ci95"] = victim_accuracy_interval(victim["clean_accuracy"], victim.get("clean_accuracy_examples"))
    substitutes = {}
    for header in headers:
        substitutes.update(header.get("resources") or {})
    seconds = sum(line["seconds"] for line in lines)
    task = {"name": spec["dataset"], "split": spec["split"], "attack": first["attack_name"], "recipe": recipe["name"],
            "variant": identity["variant"], "victim": victim["kind"], "n": len(lines)}
    if spec["variant"]:
        task.update({"norm": spec["variant"]["norm"], "eps": spec["variant"]["eps"]})
    settings = {"recipe_parameters": recipe.get("parameters", {}), "variant": spec["variant"], "seed": spec["seed"],
                "example_order_seed": EXAMPLE_ORDER_SEED, "victim": victim["settings"], "shards": len(headers)}
    victim_section = {k: victim[k] for k in ("kind", "key", "clean_accuracy", "clean_accuracy_split", "clean_accuracy_examples",
                                             "train_examples", "train_split", "train_data_hash", "training", "encoder_fingerprint")}
    root = Path(results_dir)
    return make_record(
        "attack", model=first["model"], task=task, metrics=metrics, settings=settings,
        timings={"attack_seconds": round(seconds, 3), "examples_per_second": len(lines) / seconds if seconds else None,
                 "victim_train_seconds": victim.get("train_seconds")},
        identity=identity, seed=spec["seed"], spec_hash=first["spec_hash"], example_ids=spec["ids"],
        outcomes=[line["result_type"] for line in lines],  # aligned with example_ids: what paired tests compare
        victim=victim_section,
        resources={"substitutes": substitutes, "bundled": recipe.get("resources", {}).get("bundled_files", [])},
        faithfulness=recipe.get("faithfulness", {}), description=recipe.get("description", ""),
        run_files=[str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in run_files],
    )
