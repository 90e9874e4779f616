"""Progress bars (rich) shared by every long-running step.

rich allows one live display at a time: inside `shared_progress()` (a study's view) every
`progress_bar` becomes one more line of that display instead of a display of its own.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def _quiet() -> bool:
    return os.environ.get("RSEBENCH_QUIET") == "1"


_SHARED: Progress | None = None


def _columns() -> list:
    return [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("{task.fields[info]}")]


@contextmanager
def shared_progress() -> Iterator[Progress | None]:
    """One live display for a whole study; bars opened inside it join it (None when quiet)."""
    global _SHARED
    if _quiet() or _SHARED is not None:
        yield _SHARED
        return
    with Progress(*_columns(), console=console) as bar:
        _SHARED = bar
        try:
            yield bar
        finally:
            _SHARED = None


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yield `advance(n=1, **fields)`; `fields` show after the bar (e.g. loss terms, running success rate).

    Disabled bars (and RSEBENCH_QUIET=1) cost nothing; on a non-terminal stderr rich prints plain lines.
    """
    if not enabled or _quiet():
        yield lambda n=1, **fields: None
        return
    if _SHARED is not None:
        task = _SHARED.add_task(description, total=total, info="")
        try:
            yield _advancer(_SHARED, task)
        finally:
            _SHARED.remove_task(task)
        return
    with Progress(*_columns(), console=console) as bar:
        yield _advancer(bar, bar.add_task(description, total=total, info=""))


def _advancer(bar: Progress, task) -> Callable[..., None]:
    def advance(n: int = 1, **fields) -> None:
        info = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        bar.update(task, advance=n, **({"info": info} if fields else {}))

    return advance


def say(message: str) -> None:
    """A status line on stderr (stdout is kept for machine-readable output)."""
    if not _quiet():
        console.print(message, highlight=False)
