"""`rsebench list`: the datasets, training methods and attack recipes rsebench knows."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=("datasets", "methods", "recipes", "all"), default="all")


def spec_names(kind: str) -> list[tuple[str, str]]:
    """(name, one-line description) of every TOML spec in the `attacks` or `baselines` folder."""
    import tomllib

    from rsebench.paths import spec_root

    entries = []
    for path in sorted(spec_root(kind).glob("*.toml")):
        with path.open("rb") as handle:
            spec = tomllib.load(handle)
        if "name" in spec:
            entries.append((spec["name"], spec.get("description", "")))
    return entries


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from rsebench.data import DATASETS

    console = Console()
    if args.what in ("datasets", "all"):
        table = Table(title="datasets", title_justify="left")
        for column in ("name", "kind", "splits", "victim train / attack", "description"):
            table.add_column(column)
        for info in DATASETS.values():
            roles = f"{info.train_split or '-'} / {info.attack_split or '-'}" if info.kind == "classification" else ""
            table.add_row(info.name, info.kind, ",".join(info.splits), roles, info.description)
        console.print(table)
    for what, kind in (("methods", "baselines"), ("recipes", "attacks")):
        if args.what in (what, "all"):
            table = Table(title=what, title_justify="left")
            table.add_column("name")
            table.add_column("description")
            for name, description in spec_names(kind):
                table.add_row(name, description)
            console.print(table)
    return 0
