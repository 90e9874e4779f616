"""Attack examples in worker processes, one torch thread each, results in input order.

Each example's result depends only on (run seed, example id) (see rsebench.robustness.text_attack),
so spreading examples over processes changes nothing but the wall time. Workers are forked from
the process that built the attack: the victim, the recipe's resources (word vectors, WordNet) and
the attack function are inherited, not rebuilt or pickled. Small attack batches use a core poorly
with intra-op threads (TextAttack asks for a few texts at a time), so one example per core wins.
"""

from __future__ import annotations

import multiprocessing
from typing import Callable, Iterable, Iterator

_ATTACK_ONE: Callable | None = None  # set in the parent before forking; the workers inherit it


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _run(position: int):
    return _ATTACK_ONE(position)


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class AttackPool:
    """`imap(positions)` -> results of `attack_one(position)` in order; `workers` <= 1 runs in this process."""

    def __init__(self, attack_one: Callable[[int], dict], workers: int = 1, threads_per_worker: int = 1):
        self.attack_one = attack_one
        self.workers = workers if workers > 1 and fork_available() else 1
        self._pool = None
        if self.workers > 1:
            global _ATTACK_ONE
            _ATTACK_ONE = attack_one
            context = multiprocessing.get_context("fork")
            self._pool = context.Pool(self.workers, initializer=_init_worker, initargs=(threads_per_worker,))

    def imap(self, positions: Iterable[int]) -> Iterator:
        if self._pool is None:
            return map(self.attack_one, positions)
        return self._pool.imap(_run, list(positions), chunksize=1)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "AttackPool":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None and exc[0] is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self.close()
