"""Result records: one JSON file per identity, the single source of every number.

A record stores raw counts and fractions (never formatted strings), its *identity* (every setting
that can change its numbers: the model's key, task and split, example ids, victim and attack
parameters, eval variant, seed) with the identity's hash, the settings and spec hashes, the
environment (package versions, git revision, device) and timings. The file name carries the
identity hash, so a different setting never overwrites another record, and the same identity is
the same file (a rerun replaces it). Writes are atomic (temporary file + rename) and strict JSON.

`Record` is the one type every producer builds and every reader gets back; `rsebench.record/1`
files (before identities) are upgraded on read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import tempfile
from importlib import metadata as _metadata
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from rsebench.errors import UserError

SCHEMA = "rsebench.record/2"
OLD_SCHEMAS = ("rsebench.record/1",)
KINDS = ("sts", "transfer", "attack", "train")
TRACKED_PACKAGES = ("rsebench", "torch", "transformers", "sentence-transformers", "textattack", "datasets", "numpy",
                    "scipy", "scikit-learn", "pandas", "accelerate")
# task fields each kind must name (the report reads these, never guesses them)
TASK_FIELDS = {"sts": ("name", "split", "variant", "n"), "transfer": ("name", "split", "n"),
               "attack": ("name", "split", "attack", "recipe", "variant", "victim", "n"), "train": ("name", "n")}
MODEL_FIELDS = ("name", "key", "method")
TOP_LEVEL = ("schema", "kind", "identity", "identity_hash", "model", "task", "metrics", "settings", "environment", "timings",
             "created", "seed")


class RecordError(ValueError):
    """A record file that cannot be used (unreadable, wrong schema, missing fields)."""


def spec_hash(spec: dict[str, Any]) -> str:
    """Stable hash of a spec or settings mapping (key order does not matter)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


_ENVIRONMENT: dict[str, Any] | None = None


def environment() -> dict[str, Any]:
    """Package versions, git revision and device: enough to tell two runs' set-ups apart."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        versions = {}
        for name in TRACKED_PACKAGES:
            try:
                versions[name] = _metadata.version(name)
            except _metadata.PackageNotFoundError:
                versions[name] = None
        device = "cpu"
        try:
            import torch

            if torch.cuda.is_available():
                device = torch.cuda.get_device_name(0)
            threads = torch.get_num_threads()
        except ImportError:  # pragma: no cover - torch is a hard dependency
            threads = None
        _ENVIRONMENT = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "packages": versions,
            "git_revision": _git_revision(),
            "device": device,
            "torch_threads": threads,
        }
    return dict(_ENVIRONMENT)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------------------------
# Model identity


def model_key(model: dict) -> str:
    """What makes two models the same model for the numbers they produce.

    A checkpoint trained by rsebench is named by how it was trained (method, spec hash, training seed,
    corpus hash, backbone, steps), not by its weights: the same run repeated on another machine, with
    weights equal up to the last bits, is a rerun of the same model, never a second seed. Any other model
    is named by its weights' fingerprint. The pooling used at evaluation time is part of both.
    """
    if model.get("method") not in (None, "pretrained") and model.get("spec_hash"):
        fields = {k: model.get(k) for k in ("method", "spec_hash", "train_seed", "data_hash", "backbone", "total_steps", "pooler")}
    else:
        fields = {k: model.get(k) for k in ("name", "fingerprint", "pooler")}
    return spec_hash(fields)


def arm_of(meta: dict) -> str | None:
    """A training *arm*: the spec without its seed, plus corpus, backbone and steps. Seeds of one arm are
    aggregated in tables; different arms (an ablation, another eps) are different rows."""
    spec = meta.get("spec")
    if not isinstance(spec, dict):
        return None
    return spec_hash({"spec": {k: v for k, v in spec.items() if k not in ("seed", "save_every")}, "data": meta.get("data_hash"),
                      "backbone": meta.get("base_model_name"), "steps": meta.get("total_steps")})


def model_section(encoder, requested: str) -> dict:
    """The `model` section of a record for a loaded encoder (checkpoint metadata when rsebench trained it)."""
    from rsebench.encoder import checkpoint_metadata

    section = {"name": encoder.name, "requested": requested, "source": encoder.source, "fingerprint": encoder.fingerprint(),
               "pooler": encoder.pooler}
    meta = checkpoint_metadata(encoder.source) if encoder.source else None
    if meta:
        section.update(method=meta.get("method"), train_seed=meta.get("seed"), spec_hash=meta.get("spec_hash"),
                       backbone=meta.get("base_model_name"), data_hash=meta.get("data_hash"), total_steps=meta.get("total_steps"),
                       arm=arm_of(meta), label=meta.get("label"))
    else:
        section.update(method="pretrained", backbone=encoder.name)
    section["key"] = model_key(section)
    return section


# --------------------------------------------------------------------------------------------
# The record type


def _check_json_values(value: Any, where: str) -> None:
    """Strict JSON: no NaN or Infinity anywhere (they are not JSON; write null for an undefined number)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordError(f"{where} is {value}; records hold finite numbers or null")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json_values(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json_values(item, f"{where}[{index}]")


@dataclass
class Record:
    """One result: what was measured (`identity`), on which model and task, the numbers, and how.

    `sections` holds the kind's further parts (example_ids, outcomes, victim, resources, details, ...).
    """

    kind: str
    model: dict
    task: dict
    metrics: dict
    settings: dict
    identity: dict
    timings: dict
    seed: int | None = None
    sections: dict = field(default_factory=dict)
    environment: dict = field(default_factory=environment)
    created: str = field(default_factory=now)
    schema: str = SCHEMA
    path: str | None = None  # where it was read from (relative to the results folder); not stored

    def __post_init__(self) -> None:
        self.validate()

    @property
    def identity_hash(self) -> str:
        return spec_hash(self.identity)

    def validate(self, source: str = "record") -> "Record":
        if self.schema != SCHEMA:
            raise RecordError(f"{source}: schema {self.schema!r} is not {SCHEMA}")
        if self.kind not in KINDS:
            raise RecordError(f"{source}: unknown kind {self.kind!r}; expected one of {KINDS}")
        for name, section in (("model", self.model), ("task", self.task), ("metrics", self.metrics), ("settings", self.settings),
                              ("identity", self.identity), ("timings", self.timings), ("sections", self.sections)):
            if not isinstance(section, dict):
                raise RecordError(f"{source}: field '{name}' missing or not an object")
        missing = [f"model.{k}" for k in MODEL_FIELDS if not isinstance(self.model.get(k), str)]
        missing += [f"task.{k}" for k in TASK_FIELDS[self.kind] if k not in self.task]
        if missing:
            raise RecordError(f"{source}: {self.kind} record lacks {', '.join(missing)}")
        if self.kind == "attack" and not isinstance(self.sections.get("example_ids"), list):
            raise RecordError(f"{source}: attack record lacks example_ids")
        for key, value in self.metrics.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, dict, list))):
                raise RecordError(f"{source}: metric '{key}' is {type(value).__name__}; metrics are numbers (fractions, not percent strings)")
        _check_json_values(self.to_json(), source)
        return self

    def to_json(self) -> dict:
        payload = {"schema": self.schema, "kind": self.kind, "identity": self.identity, "identity_hash": self.identity_hash,
                   "model": self.model, "task": self.task, "metrics": self.metrics, "settings": self.settings,
                   "environment": self.environment, "timings": self.timings, "created": self.created, "seed": self.seed}
        payload.update(self.sections)
        return payload

    def __getitem__(self, key: str) -> Any:
        """Read-only access to the stored JSON fields (`record["metrics"]`), as scripts reading files do."""
        return self.to_json()[key]

    def as_dict(self) -> dict:
        """The record as the report reads it: the JSON object plus `_path`."""
        return {**self.to_json(), "_path": self.path}

    @classmethod
    def from_json(cls, payload: Any, source: str = "record") -> "Record":
        if not isinstance(payload, dict):
            raise RecordError(f"{source}: not a JSON object")
        schema = payload.get("schema")
        if schema in OLD_SCHEMAS:
            payload = upgrade_v1(payload, source)
        elif schema != SCHEMA:
            raise RecordError(f"{source}: unknown schema version {schema!r} (this rsebench reads {SCHEMA} and {', '.join(OLD_SCHEMAS)})")
        for key in ("kind", "model", "task", "metrics", "settings", "identity", "timings", "environment", "created"):
            if key not in payload:
                raise RecordError(f"{source}: field '{key}' missing")
        sections = {k: v for k, v in payload.items() if k not in TOP_LEVEL}
        try:
            record = cls(kind=payload["kind"], model=payload["model"], task=payload["task"], metrics=payload["metrics"],
                         settings=payload["settings"], identity=payload["identity"], timings=payload["timings"],
                         seed=payload.get("seed"), sections=sections, environment=payload["environment"],
                         created=payload["created"], schema=SCHEMA)
        except RecordError as err:
            raise RecordError(str(err).replace("record:", f"{source}:", 1)) from None
        except TypeError as err:
            raise RecordError(f"{source}: {err}") from None
        stored = payload.get("identity_hash")
        if stored is not None and stored != record.identity_hash:
            raise RecordError(f"{source}: identity_hash {stored} does not match its identity (edited by hand?)")
        return record


def full_identity(kind: str, model_key: str, identity: dict) -> dict:
    """A record's whole identity: its kind, its model's key and the settings its producer names."""
    return {"kind": kind, "model": model_key, **identity}


def identity_hash(kind: str, model_key: str, identity: dict) -> str:
    """The hash a record of this identity carries (and its file name): what studies look records up by."""
    return spec_hash(full_identity(kind, model_key, identity))


def make_record(kind: str, model: dict, task: dict, metrics: dict, settings: dict, timings: dict, identity: dict,
                seed: int | None = None, **sections: Any) -> Record:
    """Assemble and validate a record. `identity` must name every setting that can change its numbers."""
    return Record(kind=kind, model=model, task=task, metrics=metrics, settings=settings, timings=timings,
                  identity=full_identity(kind, model["key"], identity), seed=seed, sections=sections)


def upgrade_v1(payload: dict, source: str) -> dict:
    """An `rsebench.record/1` payload as /2: model key, task names and identity filled from what /1 stored."""
    from rsebench.registry import recipes, variant_of

    required = ("kind", "model", "task", "metrics", "settings", "environment", "timings", "created")
    for key in required:
        if key not in payload:
            raise RecordError(f"{source}: field '{key}' missing or not an object")
    if not isinstance(payload["model"], dict) or not isinstance(payload["task"], dict):
        raise RecordError(f"{source}: model and task must be objects")
    model, task = dict(payload["model"]), dict(payload["task"])
    model.setdefault("method", "pretrained")
    model.setdefault("key", model_key(model))
    kind = payload["kind"]
    identity: dict[str, Any] = full_identity(kind, model["key"], {})
    if kind == "attack":
        recipe = task.get("recipe") or task.get("attack", "").split("-")[0]  # /1 records only: they lacked the field
        substitutes = (payload.get("resources") or {}).get("substitutes") or {}
        variant = variant_of(recipe) if (substitutes or recipe not in recipes()) else recipe
        label = task.get("attack", recipe)
        if label.startswith(recipe) and variant != recipe:
            label = variant + label[len(recipe):]
        task.update(recipe=recipe, variant=variant, attack=label)
        ids = payload.get("example_ids") or []
        identity.update(dataset=task.get("name"), split=task.get("split"), example_ids=spec_hash({"ids": ids}), attack=label,
                        victim=task.get("victim"), settings=payload["settings"], run_spec=payload.get("spec_hash"),
                        seed=payload.get("seed"))
    elif kind == "sts":
        task.setdefault("variant", payload["settings"].get("variant", "original"))
        identity.update(task=task.get("name"), split=task.get("split"), variant=task["variant"])
    elif kind == "transfer":
        identity.update(task=task.get("name"), split=task.get("split"), settings=payload["settings"], seed=payload.get("seed"))
    else:
        task.setdefault("n", None)
    upgraded = {**payload, "schema": SCHEMA, "model": model, "task": task, "identity": identity}
    upgraded.pop("identity_hash", None)
    return upgraded


def validate(record: Any, source: str = "record") -> Record:
    """A `Record` from a record or a JSON payload; RecordError naming the first problem."""
    if isinstance(record, Record):
        return record.validate(source)
    return Record.from_json(record, source)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def model_folder(model: dict) -> str:
    """`<model name>-<model key[:8]>`: one folder per model identity (see `model_key`)."""
    return f"{_slug(model['name'])}-{model['key'][:8]}"


def record_filename(record: Record) -> str:
    """`<model folder>/<kind>-<task>[-<split>][-<attack>][-<victim>][-n<N>][-seed<S>]-<identity hash[:8]>.json`.

    The readable parts help a person find a file; the identity hash makes it unique per identity."""
    parts = [record.kind, record.task["name"]]
    if record.task.get("split") not in (None, "test", "all"):
        parts.append(record.task["split"])
    for key in ("attack", "victim"):
        if record.task.get(key):
            parts.append(str(record.task[key]))
    if record.kind == "attack":
        parts.append(f"n{record.task['n']}")
    if record.seed is not None:
        parts.append(f"seed{record.seed}")
    parts.append(record.identity_hash[:8])
    return f"{model_folder(record.model)}/{_slug('-'.join(parts))}.json"


def write_text_atomic(path: Path, text: str, fix: str = "choose another folder with --results-dir") -> Path:
    """Write text via a temporary file in the same folder and an atomic rename: a reader (or a killed
    run) sees the old file or the new one, never half of one. Failures become one-line UserErrors."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except PermissionError:
        raise UserError(f"cannot write {path}: permission denied; {fix}") from None
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}; {fix}") from None
    return path


def write_json_atomic(path: Path, payload: Any) -> Path:
    """Write strict JSON atomically (see `write_text_atomic`); NaN or Infinity is an error, never written."""
    try:
        text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except ValueError as err:
        raise RecordError(f"{path}: {err} (records hold finite numbers or null)") from None
    return write_text_atomic(path, text + "\n")


def write_record(record: Record, results_dir: str | Path) -> Path:
    """Validate and atomically write a record under `results_dir`; returns its path. The same identity
    is the same file: writing it again replaces the earlier run of that identity."""
    record.validate()
    root = Path(results_dir)
    if root.exists() and not root.is_dir():
        raise UserError(f"results directory {root} is a file; give a folder with --results-dir")
    return write_json_atomic(root / record_filename(record), record.to_json())


def read_record(path: str | Path) -> Record:
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RecordError(f"{path}: unreadable JSON ({err})") from None
    return Record.from_json(payload, str(path))


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def read_records(results_dir: str | Path, kind: str | None = None) -> tuple[list[Record], list[str]]:
    """All valid records under a folder (sorted by path) and one problem line per invalid file.
    Attack run files (`runs/`) and anything else that is not a record are left alone."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"results directory {root} not found; run 'rsebench eval' or 'rsebench attack' first, or pass --results-dir")
    records, problems = [], []
    for path in sorted(root.rglob("*.json")):
        relative = path.relative_to(root)
        if path.name.startswith(".") or relative.parts[0] in ("runs", "tables", "plots"):
            continue
        try:
            record = read_record(path)
        except RecordError as err:
            problems.append(str(err))
            continue
        record.path = str(relative)
        if kind is None or record.kind == kind:
            records.append(record)
    return records, problems
