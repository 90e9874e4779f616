"""The options every job shares: the model it works on, its pooling, device and results folder."""

from __future__ import annotations

from rsebench.jobs.options import option
from rsebench.train.spec import CHOICES

def model_option():
    return option(help="'default' (bundled all-MiniLM-L6-v2), a checkpoint or model folder, or a hub id when online")


def pooler_option():
    return option(None, help="sentence pooling (default: the checkpoint's own pooling config)", choices=CHOICES["pooler"])


def device_option():
    return option(None, help="torch device (default: cuda when available, else cpu)")


def remote_code_option():
    return option(False, help="allow a hub model to run its own code (off by default)")


def results_option():
    return option("results", help="folder for result records (default: results)")
