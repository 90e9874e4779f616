"""Where rsebench finds its bundled resources, specs and caches, and the offline set-up."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
RESOURCES_DIR = PACKAGE_DIR / "resources"
DATA_DIR = RESOURCES_DIR / "data"
NLTK_DATA_DIR = RESOURCES_DIR / "nltk_data"


def spec_root(kind: str) -> Path:
    """Folder holding the `attacks` or `baselines` specs.

    A source checkout (or editable install) reads the repository's top-level folder; an installed
    wheel reads the copy installed under `<prefix>/share/rsebench/`.
    """
    checkout = PACKAGE_DIR.parent / kind
    if checkout.is_dir():
        return checkout
    installed = Path(sys.prefix) / "share" / "rsebench" / kind
    if installed.is_dir():
        return installed
    raise FileNotFoundError(f"rsebench spec folder '{kind}' not found (looked in {checkout} and {installed})")


def cache_dir(*parts: str) -> Path:
    """Writable cache (victims, derived word vectors); RSEBENCH_CACHE overrides ~/.cache/rsebench."""
    root = Path(os.environ.get("RSEBENCH_CACHE") or Path.home() / ".cache" / "rsebench")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure_offline() -> None:
    """Default to no network: hub look-ups fail fast instead of hanging (RSEBENCH_ONLINE=1 lifts it)."""
    if os.environ.get("RSEBENCH_ONLINE") != "1":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # NLTK (used by TextAttack) finds the bundled WordNet and stop words here; must be set before import.
    existing = os.environ.get("NLTK_DATA", "")
    if str(NLTK_DATA_DIR) not in existing.split(os.pathsep):
        os.environ["NLTK_DATA"] = os.pathsep.join(p for p in (str(NLTK_DATA_DIR), existing) if p)
