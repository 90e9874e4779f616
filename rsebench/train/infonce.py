"""InfoNCE with in-batch negatives (SimCSE's contrastive loss), gathered across processes.

    l(a, p) = -1/N sum_i log [ exp(cos(a_i, p_i) / tau) / sum_j exp(cos(a_i, c_j) / tau) ]

where the candidates c are the positives of every process (plus optional extra negatives, e.g. the
ESimCSE queue). Row i of `anchors` is paired with row i of `positives`: callers keep sentence order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def distributed_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torch.distributed."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def gather_with_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All processes' rows (gradient flows back to every process's own rows) and this process's row offset."""
    rank, world = distributed_world()
    if world == 1:
        return x, 0
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0), rank * x.shape[0]


@torch.no_grad()
def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    rank, world = distributed_world()
    if world == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world)]
    torch.distributed.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 activations are scored in fp32; fp32 and fp64 keep their precision (float64 tests)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def info_nce(anchors: torch.Tensor, positives: torch.Tensor, temperature: float,
             extra_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """Mean InfoNCE of each anchor against its own positive, all positives (every process) as candidates."""
    candidates, offset = gather_with_grad(positives)
    if extra_negatives is not None and len(extra_negatives):
        candidates = torch.cat([candidates, extra_negatives.to(candidates.dtype)], dim=0)
    logits = F.normalize(at_least_float32(anchors), dim=-1) @ F.normalize(at_least_float32(candidates), dim=-1).T / temperature
    labels = torch.arange(anchors.shape[0], device=anchors.device) + offset
    return F.cross_entropy(logits, labels)


class ProjectionHead(nn.Module):
    """SimCSE's training-only MLP over the pooled output (dense + tanh); dropped from the checkpoint."""

    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.activation = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(x))


class BatchNormProjectionHead(nn.Module):
    """The official RobustSentEmbed / DiffCSE projection (`--batchnorm`): Linear(H, 2H) - BatchNorm - ReLU -
    Linear(2H, H) - BatchNorm without affine parameters."""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden, 2 * hidden, bias=False), nn.BatchNorm1d(2 * hidden), nn.ReLU(),
                                 nn.Linear(2 * hidden, hidden, bias=False), nn.BatchNorm1d(hidden, affine=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_projection_head(spec: dict, hidden: int) -> nn.Module:
    """`projection_mlp` off: identity; on: SimCSE's dense + tanh, or the BatchNorm MLP with `projection_batchnorm`."""
    if not spec["projection_mlp"]:
        return nn.Identity()
    return BatchNormProjectionHead(hidden) if spec.get("projection_batchnorm", False) else ProjectionHead(hidden)
