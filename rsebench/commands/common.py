"""Options and helpers shared by several sub-commands."""

from __future__ import annotations

import argparse

from rsebench.errors import UserError


def add_results_dir(parser: argparse.ArgumentParser, default: str = "results") -> None:
    parser.add_argument("--results-dir", default=default, help=f"folder for result records (default: {default})")


def add_model(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--model", required=required, default=None if required else "default",
                        help="'default' (bundled all-MiniLM-L6-v2), a checkpoint or model folder, or a hub id when online")
    parser.add_argument("--pooler", choices=("cls", "cls_before_pooler", "mean"), default=None,
                        help="sentence pooling (default: the checkpoint's own pooling config)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow a hub model to run its own code (off by default)")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be a positive integer")
    return value


def model_identity(encoder, requested: str) -> dict:
    """The `model` section of a record."""
    from rsebench.encoder import checkpoint_metadata

    identity = {"name": encoder.name, "requested": requested, "source": encoder.source, "fingerprint": encoder.fingerprint(),
                "pooler": encoder.pooler}
    meta = checkpoint_metadata(encoder.source) if encoder.source else None
    if meta:
        identity["method"] = meta.get("method")
        identity["train_seed"] = meta.get("seed")
        identity["spec_hash"] = meta.get("spec_hash")
        identity["backbone"] = meta.get("base_model_name")
    else:
        identity["method"] = "pretrained"
        identity["backbone"] = encoder.name
    return identity


def split_tasks(text: str, groups: dict[str, tuple[str, ...]], known: tuple[str, ...]) -> list[str]:
    """Expand a comma-separated task list with group names (e.g. 'sts', 'transfer', 'all')."""
    tasks: list[str] = []
    for item in (part.strip().lower() for part in text.split(",") if part.strip()):
        if item in groups:
            tasks.extend(groups[item])
        elif item in known:
            tasks.append(item)
        else:
            raise UserError(f"unknown task '{item}'; choose from {', '.join(list(groups) + list(known))}")
    if not tasks:
        raise UserError("no tasks given; use e.g. --tasks sts")
    return list(dict.fromkeys(tasks))
