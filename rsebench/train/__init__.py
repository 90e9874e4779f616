"""Training sentence encoders: one module per objective (SimCSE, ESimCSE, RobustSentEmbed) plus the
pieces they share (InfoNCE, perturbations, replaced-token detection), the spec loader and the loop.

`rsebench.train.trainer.train` is the documented entry point; `rsebench train` is its CLI. The methods
themselves are listed by `rsebench.registry.methods()` (one spec each in `baselines/`).
"""
