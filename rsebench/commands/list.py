"""`rsebench list`: the datasets, training methods, attack recipes and shipped studies rsebench knows."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=("datasets", "methods", "recipes", "studies", "all"), default="all")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from rsebench.data import DATASETS
    from rsebench.registry import methods, recipes

    console = Console()

    def show(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)

    if args.what in ("datasets", "all"):
        show("datasets", ("name", "kind", "splits", "victim train / attack", "description"),
             [(i.name, i.kind, ",".join(i.splits), f"{i.train_split or '-'} / {i.attack_split or '-'}" if i.kind == "classification" else "",
               i.description) for i in DATASETS.values()])
    if args.what in ("methods", "all"):
        show("methods", ("name", "label", "description"), [(m.name, m.display, m.description) for m in methods().values()])
    if args.what in ("recipes", "all"):
        show("recipes", ("name", "label", "kind", "records name it", "description"),
             [(r.name, r.display, r.kind, r.variant, r.description) for r in recipes().values()])
    if args.what in ("studies", "all"):
        from rsebench.study import load_study, shipped_studies

        show("studies (rsebench study NAME)", ("name", "description", "scale"),
             [(name, s.description, s.scale) for name, s in ((n, load_study(n)) for n in shipped_studies())])
    return 0
