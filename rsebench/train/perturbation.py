"""Perturbations of WORD embeddings (before position/type embeddings and LayerNorm), shape (N, L, H).

Token level (RobustSentEmbed's "scaling index"): a normalised-gradient ascent step per token,
scaled by that token's gradient norm relative to the sentence's largest, so high-risk tokens move
further; each token's perturbation stays inside an L2 ball of radius eps_tok.

    delta_i <- Proj_{||.||_2 <= eps_tok}( delta_i + a * (||g_i|| / max_j ||g_j||) * g_i / ||g_i|| )

Sentence level (iterative FGSM/PGD): a mix of a sign step and a normalised-gradient step, projected
onto an L-inf ball (or an L2 ball over the whole sentence) of radius eps_sent around the clean input.

    L-inf:  delta <- clip_[-eps, eps]( delta + a * [w * sign(g) + (1 - w) * g / max|g|] )
    L2:     delta <- Proj_{||delta||_2 <= eps}( delta + a * g / ||g||_2 )

Padding positions never move (`mask`); the gradients here are plain tensors: the search never
touches parameter gradients.
"""

from __future__ import annotations

import torch

TINY = 1e-12


def _mask3(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.unsqueeze(-1).to(like.dtype)


def scaling_index(grad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, L, 1): each token's gradient norm over the largest in its sentence, in [0, 1]; 0 on padding."""
    norms = grad.norm(dim=-1, keepdim=True) * _mask3(mask, grad)
    return norms / norms.amax(dim=1, keepdim=True).clamp_min(TINY)


def project_token_l2(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Shrink every token's perturbation to L2 norm <= eps."""
    norms = delta.norm(dim=-1, keepdim=True)
    return delta * (eps / norms.clamp_min(TINY)).clamp(max=1.0)


def project_linf(delta: torch.Tensor, eps: float) -> torch.Tensor:
    return delta.clamp(-eps, eps)


def project_sentence_l2(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Shrink each sentence's whole (L, H) perturbation to Frobenius norm <= eps."""
    norms = delta.flatten(1).norm(dim=1).view(-1, 1, 1)
    return delta * (eps / norms.clamp_min(TINY)).clamp(max=1.0)


def token_step(delta: torch.Tensor, grad: torch.Tensor, mask: torch.Tensor, step_size: float, eps: float) -> torch.Tensor:
    """One scaled normalised-gradient ascent step per token, projected to the per-token L2 ball."""
    direction = grad / grad.norm(dim=-1, keepdim=True).clamp_min(TINY)
    delta = delta + step_size * scaling_index(grad, mask) * direction * _mask3(mask, grad)
    return project_token_l2(delta, eps)


def sentence_step(delta: torch.Tensor, grad: torch.Tensor, mask: torch.Tensor, step_size: float, eps: float,
                  norm: str = "linf", sign_weight: float = 0.5) -> torch.Tensor:
    """One iterative FGSM/PGD step on the sentence, projected to its L-inf (or L2) ball."""
    m = _mask3(mask, grad)
    grad = grad * m
    if norm == "linf":
        scale = grad.abs().flatten(1).amax(dim=1).view(-1, 1, 1).clamp_min(TINY)
        direction = sign_weight * grad.sign() + (1.0 - sign_weight) * grad / scale
        return project_linf(delta + step_size * direction * m, eps)
    if norm == "l2":
        direction = grad / grad.flatten(1).norm(dim=1).view(-1, 1, 1).clamp_min(TINY)
        return project_sentence_l2(delta + step_size * direction * m, eps)
    raise ValueError(f"unknown norm '{norm}'")
