"""Progress bars (rich) shared by every long-running step."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def _quiet() -> bool:
    return os.environ.get("RSEBENCH_QUIET") == "1"


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yield `advance(n=1, **fields)`; `fields` show after the bar (e.g. loss terms, running success rate).

    Disabled bars (and RSEBENCH_QUIET=1) cost nothing; on a non-terminal stderr rich prints plain lines.
    """
    if not enabled or _quiet():
        yield lambda n=1, **fields: None
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(n: int = 1, **fields) -> None:
            info = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
            bar.update(task, advance=n, **({"info": info} if fields else {}))

        yield advance


def say(message: str) -> None:
    """A status line on stderr (stdout is kept for machine-readable output)."""
    if not _quiet():
        console.print(message, highlight=False)
