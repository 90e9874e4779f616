"""Lock files: one writer per training folder, attack shard and victim cache entry.

A lock is a small JSON file created with O_CREAT|O_EXCL (atomic on local and NFSv3+ file systems)
holding the owner's pid, host and process start time. A lock left by a process that died (same host,
pid gone or reused by another process) is stale: it is recognised and taken over. A live owner's lock
is refused with one line naming the owner, or waited for (`wait=True`, for caches another process is
filling). Locks on another host cannot be checked, so they are refused with the file to delete.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rsebench.errors import UserError


def _process_start(pid: int) -> str | None:
    """Start time of a process (Linux /proc, clock ticks since boot): tells a reused pid from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name may contain spaces and ')'


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    if start is not None:
        current = _process_start(pid)
        if current is not None and current != start:
            return False  # the pid now belongs to another process
    return True


def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": _process_start(os.getpid()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _read_owner(path: Path) -> dict | None:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable or half written (its writer died between create and write)
    return owner if isinstance(owner, dict) else {}


def lock_state(path: Path) -> tuple[str, dict | None]:
    """('free' | 'stale' | 'live' | 'foreign', owner) of the lock file at `path`."""
    owner = _read_owner(path)
    if owner is None:
        return "free", None
    pid, host = owner.get("pid"), owner.get("host")
    if not isinstance(pid, int) or not host:
        # A lock whose content is missing: stale once old enough that its writer cannot still be writing it.
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return "free", None
        return ("stale" if age > 10 else "live"), owner
    if host != socket.gethostname():
        return "foreign", owner
    return ("live" if _alive(pid, owner.get("start")) else "stale"), owner


def _try_create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(_owner()) + "\n")
    return True


def acquire(path: Path, what: str, wait: bool = False, poll_seconds: float = 1.0) -> None:
    """Create the lock file at `path` for `what` (words for the error line, e.g. "training into ck/").

    Raises UserError when another live process holds it (after waiting for it when `wait`), or when the
    folder cannot be written.
    """
    from rsebench.progress import say

    path = Path(path)
    announced = False
    while True:
        try:
            if _try_create(path):
                return
        except FileNotFoundError:
            raise UserError(f"cannot create lock file {path}: its folder does not exist") from None
        except PermissionError:
            raise UserError(f"cannot create lock file {path}: permission denied; choose a writable folder") from None
        except OSError as err:
            raise UserError(f"cannot create lock file {path}: {err.strerror or err}; choose a writable folder") from None
        state, owner = lock_state(path)
        if state == "free":
            continue  # released between our attempt and the check
        if state == "stale":
            # Remove it only if it still is the same stale file (another process may have taken it over meanwhile).
            if _read_owner(path) == owner:
                say(f"lock: taking over the stale lock {path} (pid {(owner or {}).get('pid', '?')} is gone)")
                path.unlink(missing_ok=True)
            continue
        who = f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}, since {owner.get('created', '?')}"
        if state == "foreign":
            raise UserError(f"{what} is locked by {who} ({path}); if no rsebench process runs there any more, delete that file")
        if not wait:
            raise UserError(f"another rsebench process ({who}) is already {what}; wait for it to finish, or choose another output")
        if not announced:
            say(f"lock: waiting for {who}, which is {what} ({path})")
            announced = True
        time.sleep(poll_seconds)


def release(path: Path) -> None:
    """Remove the lock if this process holds it."""
    path = Path(path)
    owner = _read_owner(path)
    if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


@contextmanager
def held(path: Path, what: str, wait: bool = False) -> Iterator[Path]:
    """`with held(lock_path, "training into ck/"):` -- the lock is released however the block ends."""
    acquire(path, what, wait=wait)
    try:
        yield Path(path)
    finally:
        release(path)
