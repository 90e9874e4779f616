"""rsebench: adversarial-robustness benchmark suite for sentence embeddings."""

__version__ = "0.1.0"
