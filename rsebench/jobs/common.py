"""What every job shares: the model it works on, the results folder, and the check of a device."""

from __future__ import annotations

from pathlib import Path

from rsebench.errors import UserError
from rsebench.jobs.options import option

POOLERS = ("cls", "cls_before_pooler", "mean")


def check_device(device: str | None) -> None:
    """A device string torch understands and this machine has; UserError otherwise (before any model loads)."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise UserError(f"unknown device '{device}'; use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: this torch build sees no CUDA GPU; drop --device (CPU is used) or install a CUDA torch")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise UserError(f"--device {device}: only {torch.cuda.device_count()} GPU(s) present")
    if parsed.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"unsupported device '{device}'; use cpu or cuda")


def check_results_dir(results_dir: str | Path) -> None:
    """The results folder must be a folder we can write (or create)."""
    root = Path(results_dir)
    if root.exists() and not root.is_dir():
        raise UserError(f"results directory {root} is a file; give a folder with --results-dir")
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"cannot create results directory {root}: {probe} is a file; give another --results-dir")
    import os

    if not os.access(probe, os.W_OK):
        raise UserError(f"cannot write to {probe}: permission denied; give another --results-dir")


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
