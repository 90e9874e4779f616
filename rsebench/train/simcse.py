"""Unsupervised SimCSE (Gao et al., 2021): two dropout views of each sentence are positives.

    L = l(z1, z2),  InfoNCE with tau = 0.05 and in-batch negatives.
"""

from __future__ import annotations

import torch

from rsebench.train.infonce import info_nce
from rsebench.train.objective import Objective


class SimCSE(Objective):
    method = "simcse"

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        z1, z2 = self.two_views(batch)
        loss = info_nce(self.head(z1), self.head(z2), self.temperature)
        return loss, {"loss": loss.detach(), "cl": loss.detach()}
