"""RobustSentEmbed (Rafiei Asl et al., NAACL Findings 2024), as the paper intends.

Per batch of N sentences with word embeddings e (view 1 and view 2 are dropout views):

    z1, z2  = f(e), f(e)                          two clean views, one forward of a 2N batch
    delta   = delta_tok + delta_sent              adversarial search on view 1's WORD embeddings
    z_adv   = f(e + delta)                        position/type embeddings + LayerNorm applied once
    L_cl    = 1/2 [ l(z1, z2) + l(z1, z_adv) ]    InfoNCE, tau 0.05, in-batch negatives
    l_reg   = l(z2, z_adv)                        clean positive view vs adversarial view
    L_rtd   = replaced-token detection, discriminator input = edited words + delta_tok, position 0 = z1
    L       = L_cl + w_reg * l_reg + lambda * L_rtd

(l is computed on the projection-head outputs; row i of every view is sentence i.)

Adversarial search: the token-level and sentence-level perturbations share one gradient per step.
Step k evaluates g = d l(f(e + delta_tok + delta_sent), z2) / d e, with z2 held constant, then moves
delta_tok by the scaled normalised step (inside its per-token L2 ball) and delta_sent by the mixed
sign / normalised step (inside its L-inf or L2 ball); see `perturbation.py`. The gradients are taken
with `torch.autograd.grad` with respect to the input only, so the search never writes parameter
gradients, and the final perturbation enters the loss as a constant. With every adversarial part
switched off the objective is exactly SimCSE.

Spec options for the official code's choices (baselines/README.md): `search_dropout` (the search's
network: "eval" = dropout off, "fixed" = one mask for all steps, "stochastic" = new masks each step),
`delta_split` (z_adv from delta_sent only), `rtd_replacement` ("sampled" / "argmax"), `rtd_condition`
("pooled" z1 / "projected" h1), `projection_batchnorm`, and `generator_lr` (the joint generator's own
parameter group).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

from rsebench.train.infonce import at_least_float32, info_nce
from rsebench.train.objective import Objective
from rsebench.train.perturbation import sentence_step, token_step
from rsebench.train.rtd import Discriminator, majority_prior, make_generator, replace_tokens, rtd_loss


class RobustSentEmbed(Objective):
    method = "robustsentembed"

    def __init__(self, encoder, spec: dict):
        super().__init__(encoder, spec)
        s = self.spec
        self.token_steps = int(s["token_steps"]) if s["token_perturbation"] else 0
        self.sentence_steps = int(s["sentence_steps"]) if s["sentence_perturbation"] else 0
        # Specs written before these fields existed keep their old behaviour.
        self.search_dropout = str(s.get("search_dropout", "stochastic"))
        self.delta_split = bool(s.get("delta_split", False))
        self.use_rtd = bool(s["rtd"])
        if self.use_rtd:
            self.generator = make_generator(s, encoder)
            self.discriminator = Discriminator(encoder.backbone, int(s["discriminator_layers"]))
        self.last: dict[str, torch.Tensor] = {}  # the latest step's perturbations and views (inspection, tests)

    @property
    def adversarial(self) -> bool:
        return self.token_steps > 0 or self.sentence_steps > 0

    def describe(self) -> dict:
        return {"generator": self.generator.description if self.use_rtd else None,
                "search": f"joint token+sentence search, one input-gradient per step, dropout {self.search_dropout}"}

    def parameter_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """The joint generator learns at its own rate (`generator_lr`; 0 = the encoder's rate)."""
        generator_lr = float(self.spec.get("generator_lr", 0.0))
        if not (self.use_rtd and getattr(self.generator, "trained", False) and generator_lr > 0):
            return super().parameter_groups(lr, weight_decay)
        own = {id(p) for p in self.generator.parameters()}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in own]
        generator = [p for p in self.generator.parameters() if p.requires_grad]
        return [{"params": rest, "lr": lr, "weight_decay": weight_decay, "name": "encoder"},
                {"params": generator, "lr": generator_lr, "weight_decay": weight_decay, "name": "generator"}]

    @contextmanager
    def search_network(self, device: torch.device):
        """The network the search differentiates: dropout off ("eval"), one dropout mask for every step
        ("fixed": the random state is rewound before each step's forward), or fresh masks ("stochastic")."""
        modules = (self.encoder, self.head)
        modes = [m.training for m in modules]
        if self.search_dropout == "eval":
            for m in modules:
                m.eval()
        start = random_state(device) if self.search_dropout == "fixed" else None
        try:
            yield (lambda: set_random_state(start, device)) if start is not None else (lambda: None)
        finally:
            for m, mode in zip(modules, modes):
                m.train(mode)

    def search(self, batch: dict[str, torch.Tensor], clean_words: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token- and sentence-level perturbations of view 1's word embeddings (constants for the update)."""
        s = self.spec
        mask = batch["attention_mask"]
        clean = clean_words.detach()
        delta_tok = torch.zeros_like(clean)
        delta_sent = torch.zeros_like(clean)
        target = target.detach()
        with self.search_network(clean.device) as rewind:
            for step in range(max(self.token_steps, self.sentence_steps)):
                rewind()
                point = (clean + delta_tok + delta_sent).requires_grad_(True)
                inner = info_nce(self.head(self.embed(batch, point)), target, self.temperature)
                (grad,) = torch.autograd.grad(inner, point)  # input gradient only: parameters' .grad untouched
                grad = at_least_float32(grad)
                if step < self.token_steps:
                    delta_tok = token_step(delta_tok, grad, mask, float(s["token_step_size"]), float(s["token_eps"])).to(clean.dtype)
                if step < self.sentence_steps:
                    delta_sent = sentence_step(delta_sent, grad, mask, float(s["sentence_step_size"]), float(s["sentence_eps"]),
                                               s["sentence_norm"], float(s["sentence_sign_weight"])).to(clean.dtype)
        return delta_tok.detach(), delta_sent.detach()

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        s = self.spec
        z1, z2 = self.two_views(batch)  # exactly SimCSE's forward; the adversarial view adds the perturbation to e
        words = self.encoder.word_embeddings()(batch["input_ids"])
        h1, h2 = self.head(z1), self.head(z2)
        l_clean = info_nce(h1, h2, self.temperature)
        terms = {"cl_clean": l_clean.detach()}
        delta_tok = torch.zeros_like(words)
        if self.adversarial:
            delta_tok, delta_sent = self.search(batch, words, h2)
            # delta_split (the official code): the adversarial view carries delta_sent only, delta_tok goes to RTD only.
            view_delta = delta_sent if self.delta_split else delta_tok + delta_sent
            h_adv = self.head(self.embed(batch, words + view_delta))
            l_adv = info_nce(h1, h_adv, self.temperature)
            l_cl = 0.5 * (l_clean + l_adv)
            l_reg = info_nce(h2, h_adv, self.temperature)
            loss = l_cl + float(s["regularizer_weight"]) * l_reg
            terms.update(cl_adv=l_adv.detach(), reg=l_reg.detach())
            self.last = {"delta_tok": delta_tok, "delta_sent": delta_sent, "h1": h1.detach(), "h2": h2.detach(), "h_adv": h_adv.detach()}
        else:
            l_cl = loss = l_clean
            self.last = {"h1": h1.detach(), "h2": h2.detach()}
        terms["cl"] = l_cl.detach()
        if self.use_rtd:
            table = self.encoder.word_embeddings()
            edit = replace_tokens(self.generator, batch["input_ids"], batch["attention_mask"], self.tokens,
                                  float(s["rtd_mask_ratio"]), table, str(s.get("rtd_replacement", "sampled")))
            edited_words = F.embedding(edit.edited, table.weight.detach()) + delta_tok
            # Position 0 carries the sentence vector: the pooled z1 (the vector the checkpoint serves) or, as in the
            # official code, its projection h1 (rtd_condition = "projected").
            condition = h1 if s.get("rtd_condition", "pooled") == "projected" else z1
            logits = self.discriminator(edited_words, condition, batch["attention_mask"])
            ordinary = self.tokens.ordinary(batch["input_ids"], batch["attention_mask"])
            l_rtd, accuracy = rtd_loss(logits, edit.labels, ordinary)
            loss = loss + float(s["rtd_weight"]) * l_rtd
            terms.update(rtd=l_rtd.detach(), rtd_acc=accuracy, rtd_prior=majority_prior(edit.labels, ordinary),
                         mlm=edit.mlm_loss.detach())
            if torch.isfinite(edit.mlm_accuracy):  # undefined in the rare batch where nothing was masked
                terms["mlm_acc"] = edit.mlm_accuracy
            self.last.update(edited=edit.edited, rtd_labels=edit.labels)
        terms["loss"] = loss.detach()  # L = L_cl + w_reg * l_reg + lambda * L_rtd
        if self.use_rtd:
            loss = loss + edit.mlm_loss  # the joint generator's MLM loss reaches only the generator's own weights
        return loss, terms


def random_state(device: torch.device) -> tuple:
    return torch.get_rng_state(), (torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def set_random_state(state: tuple, device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)
