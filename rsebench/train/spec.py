"""Method specs: `baselines/<method>.toml` (data, not code), command-line overrides, and the spec hash.

A spec is a flat mapping of named settings. Overrides must name an existing field and are parsed to
that field's type, so a typo or a wrong type is a clear error instead of a silently ignored option.
"""

from __future__ import annotations

import math
from typing import Any


from rsebench.errors import UserError
from rsebench.records import spec_hash
from rsebench.paths import spec_root
from rsebench.registry import method_info, methods, presets, read_spec_file
from rsebench.seeding import check_seed

COMMON_FIELDS = ("method", "lr", "epochs", "batch_size", "max_length", "warmup_ratio", "weight_decay", "grad_clip", "seed",
                 "mixed_precision", "temperature", "pooler", "projection_mlp", "eval_every", "dev_size", "save_every")
CHOICES = {"mixed_precision": ("no", "bf16", "fp16"), "pooler": ("cls", "cls_before_pooler", "mean"),
           "sentence_norm": ("linf", "l2"), "search_dropout": ("eval", "fixed", "stochastic"),
           "rtd_replacement": ("sampled", "argmax"), "rtd_condition": ("pooled", "projected")}


PRESET_FIELDS = ("name", "description", "preset_of")  # a preset's own metadata, not overrides


def preset_names() -> dict[str, str]:
    """Named presets (`rsebench.registry.presets`): preset name -> its method."""
    return presets()


def load_spec(method: str, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The spec of a method or a named preset, with `overrides` (field -> text, as typed on the
    command line) applied. A preset (e.g. `robustsentembed-fast`) is its method's spec with the
    preset file's fields replaced; `spec["method"]` names the objective, `spec["preset"]` the preset."""
    presets = preset_names()
    if method not in presets and method not in methods():
        raise UserError(f"unknown method '{method}'; choose one of: {', '.join(list(methods()) + sorted(presets))}")
    path = method_info(presets.get(method, method)).path
    spec = read_spec_file(path)
    missing = [f for f in COMMON_FIELDS if f not in spec]
    if missing:
        raise UserError(f"method spec {path} lacks fields {missing}")
    if method in presets:
        preset = read_spec_file(spec_root("baselines") / f"{method}.toml")
        for key, value in preset.items():
            if key not in PRESET_FIELDS:
                spec[key] = parse_override(spec, key, value)
        spec.update({"name": method, "description": preset.get("description", spec.get("description", "")), "preset": method})
    for key, text in (overrides or {}).items():
        spec[key] = parse_override(spec, key, text)
    validate_spec(spec)
    return spec


def parse_set_items(items: list[str]) -> dict[str, str]:
    """`FIELD=VALUE` items (`--set`) as a mapping field -> text."""
    overrides: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--set needs FIELD=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value
    return overrides


def parse_override(spec: dict[str, Any], key: str, value: Any) -> Any:
    """`value` (text or an already typed value) converted to the type of `spec[key]`."""
    if key not in spec:
        raise UserError(f"unknown spec field '{key}' for method {spec.get('method')}; known fields: {', '.join(sorted(spec))}")
    if key in ("method", "name", "description", "display", "objective", "table_order"):
        raise UserError(f"spec field '{key}' cannot be overridden; choose the method with --method")
    current = spec[key]
    if not isinstance(value, str):
        value = str(value).lower() if isinstance(value, bool) else str(value)
    text = value.strip()
    try:
        if isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError
            return text.lower() in ("true", "1", "yes", "on")
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
    except ValueError:
        raise UserError(f"spec field '{key}' needs a {type(current).__name__}, got '{text}'") from None
    return text


def validate_spec(spec: dict[str, Any]) -> None:
    for key, choices in CHOICES.items():
        if key in spec and spec[key] not in choices:
            raise UserError(f"spec field '{key}' must be one of {', '.join(choices)}, got '{spec[key]}'")
    positive = ("lr", "epochs", "batch_size", "max_length", "temperature")
    for key in positive:
        if not spec[key] > 0:
            raise UserError(f"spec field '{key}' must be positive, got {spec[key]}")
    if spec["batch_size"] < 2:
        raise UserError("batch_size must be at least 2: InfoNCE needs in-batch negatives")
    for key, value in spec.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"spec field '{key}' must be a finite number, got {value}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise UserError(f"spec field '{key}' must not be negative, got {value}")
    check_seed(spec["seed"], "seed (--seed)")
    if spec.get("rtd_mask_ratio", 0.5) > 1 or spec.get("dup_rate", 0.0) > 1:
        raise UserError("ratios (rtd_mask_ratio, dup_rate) must lie in [0, 1]")


# How often the resume point is written changes no number: it is left out of the hash, so a run can be
# resumed (or a study rerun) with another save interval.
OPERATIONAL_FIELDS = ("save_every",)


def hash_spec(spec: dict[str, Any]) -> str:
    """The spec hash stored in checkpoints and records: every field that can change the trained weights."""
    return spec_hash({k: v for k, v in spec.items() if k not in OPERATIONAL_FIELDS})
