"""What every job shares: the model it works on, the results folder, and the check of a device."""

from __future__ import annotations

from pathlib import Path

from rsebench.jobs.options import option

POOLERS = ("cls", "cls_before_pooler", "mean")


def check_device(device: str | None) -> None:
    """A device string torch understands and this machine has; UserError otherwise (before any model loads)."""
    if device is None:
        return
    from rsebench.encoder import resolve_device

    resolve_device(device)


def check_results_dir(results_dir: str | Path) -> None:
    """The results folder must be a folder we can write (or create); probed with a temporary file, which
    also catches read-only file systems and holds for root, where permission bits say yes."""
    from rsebench.paths import check_writable_folder

    check_writable_folder(results_dir, "--results-dir")


def model_option():
    return option(help="'default' (bundled all-MiniLM-L6-v2), a checkpoint or model folder, or a hub id when online")


def pooler_option():
    return option(None, help="sentence pooling (default: the checkpoint's own pooling config)", choices=POOLERS)


def device_option():
    return option(None, help="torch device (default: cuda when available, else cpu)")


def remote_code_option():
    return option(False, help="allow a hub model to run its own code (off by default)")


def results_option():
    return option("results", help="folder for result records (default: results)")
