"""Result records: one JSON file per (model, task, attack, seed), the single source of every number.

A record stores raw counts and fractions (never formatted strings), the identity of what was
measured, the settings and spec hashes, the environment (package versions, git revision, device)
and timings. Writes are atomic (temporary file + rename), so a killed run never leaves half a file.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

from rsebench.errors import UserError

SCHEMA = "rsebench.record/1"
KINDS = ("sts", "transfer", "attack", "train")
REQUIRED = {"schema": str, "kind": str, "model": dict, "task": dict, "metrics": dict, "settings": dict,
            "environment": dict, "timings": dict, "created": str}
TRACKED_PACKAGES = ("rsebench", "torch", "transformers", "sentence-transformers", "textattack", "datasets", "numpy",
                    "scipy", "scikit-learn", "pandas", "accelerate")


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


def make_record(kind: str, model: dict, task: dict, metrics: dict, settings: dict, timings: dict, **extra: Any) -> dict:
    """Assemble a record; `extra` adds top-level sections (counts, seed, spec, details, resources...)."""
    record = {"schema": SCHEMA, "kind": kind, "model": model, "task": task, "metrics": metrics, "settings": settings,
              "environment": environment(), "timings": timings, "created": now()}
    record.update(extra)
    validate(record)
    return record


def validate(record: Any, source: str = "record") -> dict:
    """Raise RecordError naming the first problem; return the record when it is usable."""
    if not isinstance(record, dict):
        raise RecordError(f"{source}: not a JSON object")
    schema = record.get("schema")
    if schema != SCHEMA:
        raise RecordError(f"{source}: unknown schema version {schema!r} (this rsebench reads {SCHEMA})")
    for key, kind in REQUIRED.items():
        if not isinstance(record.get(key), kind):
            raise RecordError(f"{source}: field '{key}' missing or not a {kind.__name__}")
    if record["kind"] not in KINDS:
        raise RecordError(f"{source}: unknown kind {record['kind']!r}; expected one of {KINDS}")
    for key in ("name",):
        if not isinstance(record["model"].get(key), str) or not isinstance(record["task"].get(key), str):
            raise RecordError(f"{source}: model.name and task.name must be strings")
    for key, value in record["metrics"].items():
        if value is not None and not isinstance(value, (int, float, dict, list)):
            raise RecordError(f"{source}: metric '{key}' is {type(value).__name__}; metrics are numbers (fractions, not percent strings)")
    return record


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def record_filename(record: dict) -> str:
    """`<model>/<kind>-<task>[-<attack>][-<victim>]-seed<seed>.json`, unique per (model, task, attack, seed)."""
    model = _slug(record["model"]["name"])
    fingerprint = record["model"].get("fingerprint")
    if fingerprint:
        model = f"{model}-{fingerprint[:8]}"
    parts = [record["kind"], record["task"]["name"]]
    if record["task"].get("split") not in (None, "test", "all"):
        parts.append(record["task"]["split"])
    for key in ("attack", "victim"):
        value = record["task"].get(key)
        if value:
            parts.append(str(value))
    seed = record.get("seed")
    if seed is not None:
        parts.append(f"seed{seed}")
    return f"{model}/{_slug('-'.join(parts))}.json"


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
    """Write strict JSON atomically (see `write_text_atomic`): NaN/Infinity are refused, not written
    as the bare `NaN`/`Infinity` tokens other JSON readers reject (undefined metrics are null)."""
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n")


def write_record(record: dict, results_dir: str | Path) -> Path:
    """Validate and atomically write a record under `results_dir`; returns its path."""
    validate(record)
    root = Path(results_dir)
    if root.exists() and not root.is_dir():
        raise UserError(f"results directory {root} is a file; give a folder with --results-dir")
    return write_json_atomic(root / record_filename(record), record)


def read_record(path: str | Path) -> dict:
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RecordError(f"{path}: unreadable JSON ({err})") from None
    return validate(payload, str(path))


def read_records(results_dir: str | Path, kind: str | None = None) -> tuple[list[dict], list[str]]:
    """All valid records under a folder (sorted by path) and one problem line per invalid file."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"results directory {root} not found; run 'rsebench eval' or 'rsebench attack' first, or pass --results-dir")
    records, problems = [], []
    for path in sorted(root.rglob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            record = read_record(path)
        except RecordError as err:
            problems.append(str(err))
            continue
        record["_path"] = str(path.relative_to(root))
        if kind is None or record["kind"] == kind:
            records.append(record)
    return records, problems
