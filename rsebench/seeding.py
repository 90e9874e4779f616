"""Seeds: one call seeds Python, NumPy and torch; per-example seeds make attack runs order-independent."""

from __future__ import annotations

import hashlib
import random


def seed_everything(seed: int) -> None:
    """Python, NumPy and torch (CPU and CUDA) seeds: the same seed on CPU gives the same numbers."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def example_digest(seed: int, example_id: str) -> bytes:
    """A stable digest of (run seed, example id): the same example gets the same randomness in any run or shard."""
    return hashlib.sha256(f"{seed}|{example_id}".encode()).digest()
