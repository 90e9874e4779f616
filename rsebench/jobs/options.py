"""Command-line options derived from a job dataclass's fields (as TextAttack's `AttackArgs` does).

Each field's `metadata` holds its help text and, where needed, `type` (an argparse converter),
`choices`, `flag` (another flag name) or `positional`. `add_options(parser, JobClass)` adds one
option per field; `from_args(JobClass, args)` builds the job back from the parsed namespace, so a
flag and its field cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any, get_type_hints


def option(default: Any = dataclasses.MISSING, help: str = "", **metadata: Any) -> Any:  # noqa: A002 - argparse's word
    """A job field with its command-line metadata."""
    meta = {"help": help, **metadata}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _bounded_int(text: str, low: int, high: int | None, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer{what}") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"{value} is out of range{what}")
    return value


def positive_int(text: str) -> int:
    return _bounded_int(text, 1, None, " (use a positive integer)")


def seed_int(text: str) -> int:
    """A seed: an integer in 0 .. 2**32 - 1 (what NumPy and torch accept; `rsebench.seeding.check_seed`)."""
    from rsebench.errors import UserError
    from rsebench.seeding import check_seed

    try:
        return check_seed(text)
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--seed ")) from None


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite positive number")
    return value


def positive_floats(text: str) -> list[float]:
    """'0.01,0.02' -> [0.01, 0.02]; every value finite and positive."""
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"'{text}' must be comma-separated positive numbers, e.g. 0.01,0.02,0.05")
    try:
        return [positive_float(v) for v in values]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"'{text}' must be comma-separated finite positive numbers, e.g. 0.01,0.02,0.05") from None


def _flag(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, job_class: type) -> None:
    """One command-line option per field of `job_class` (fields without help text are not options)."""
    hints = get_type_hints(job_class)
    groups: dict[str, argparse._ArgumentGroup] = {}
    for field in dataclasses.fields(job_class):
        meta = field.metadata
        if not meta.get("help"):
            continue
        target = parser
        if meta.get("group"):
            target = groups.setdefault(meta["group"], parser.add_argument_group(meta["group"]))
        kwargs: dict[str, Any] = {"help": meta["help"], "dest": field.name}
        default = field.default if field.default is not dataclasses.MISSING else None
        if field.default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = field.default_factory()  # type: ignore[misc]
        hint = hints[field.name]
        if meta.get("action"):
            kwargs["action"] = meta["action"]
            kwargs["default"] = default
        elif hint is bool:
            kwargs["action"] = "store_true"
        else:
            kwargs["default"] = default
            kwargs["type"] = meta.get("type", str)
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
            if meta.get("append"):
                kwargs["action"] = "append"
                kwargs["default"] = []
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING and not meta.get("positional"):  # type: ignore[misc]
            kwargs["required"] = True
        if meta.get("positional"):
            kwargs.pop("dest")
            target.add_argument(field.name, **kwargs)
        else:
            target.add_argument(_flag(field), **kwargs)


def from_args(job_class: type, args: argparse.Namespace, **overrides: Any):
    """The job whose fields the parsed options (plus `overrides`) give."""
    values = {}
    for field in dataclasses.fields(job_class):
        if field.name in overrides:
            values[field.name] = overrides[field.name]
        elif hasattr(args, field.name):
            values[field.name] = getattr(args, field.name)
    return job_class(**values)
