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
    from rsebench.errors import UserError

    root = Path(os.environ.get("RSEBENCH_CACHE") or Path.home() / ".cache" / "rsebench")
    path = root.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the cache folder {path} ({err.strerror or err}); "
                        "set RSEBENCH_CACHE to a writable folder") from None
    return path


def check_writable_folder(path: str | Path, flag: str) -> Path:
    """Check that `path` is, or can be created as, a folder this process can write into; creates nothing.

    One UserError line naming `flag` (e.g. "--results-dir") when a path component is a file or the
    nearest existing folder cannot be written (tested by creating a temporary file, which also catches
    read-only file systems, where permission bits alone would say yes).
    """
    import tempfile

    from rsebench.errors import UserError

    path = Path(path).expanduser()
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"cannot be created: {existing} is a file"
        raise UserError(f"{flag} {path} {where}; give a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        reason = "permission denied" if isinstance(err, PermissionError) else (err.strerror or str(err))
        raise UserError(f"{flag} {path}: cannot write in {existing} ({reason}); choose a writable folder") from None
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


def check_output_file(path: str | Path, flag: str) -> Path:
    """Check that a file can be written at `path` (not a folder; its folder exists or can be created
    and is writable) before the work that produces it starts; creates nothing."""
    from rsebench.errors import UserError

    path = Path(path).expanduser()
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file name")
    check_writable_folder(path.parent, flag)
    return path
