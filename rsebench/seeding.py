"""Seeds: one call seeds Python, NumPy and torch; per-example seeds make attack runs order-independent."""

from __future__ import annotations

import hashlib
import random

from rsebench.errors import UserError

MAX_SEED = 2**32 - 1  # NumPy's legacy seeding takes 0..2**32-1; one range for every seed rsebench takes


def check_seed(seed, name: str = "--seed") -> int:
    """The seed as an int in 0..2**32-1, or one UserError line saying what a seed may be."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        try:
            as_float = float(seed)
        except (TypeError, ValueError):
            raise UserError(f"{name} must be a whole number between 0 and {MAX_SEED}, got {seed!r}") from None
        if not as_float.is_integer():
            raise UserError(f"{name} must be a whole number between 0 and {MAX_SEED}, got {seed!r}")
        seed = int(as_float)
    if not 0 <= seed <= MAX_SEED:
        raise UserError(f"{name} must be between 0 and {MAX_SEED} (2**32-1), got {seed}")
    return seed


def seed_everything(seed: int) -> None:
    """Python, NumPy and torch (CPU and CUDA) seeds: the same seed on CPU gives the same numbers."""
    import numpy as np
    import torch

    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def example_digest(seed: int, example_id: str) -> bytes:
    """A stable digest of (run seed, example id): the same example gets the same randomness in any run or shard."""
    return hashlib.sha256(f"{seed}|{example_id}".encode()).digest()
