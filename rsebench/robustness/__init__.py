"""Robustness evaluation: victim classifiers, TextAttack recipes, embedding-space FGSM/PGD, attack runs.

- `victim`: a classifier on top of an encoder (linear probe or fine-tuned), cached by encoder fingerprint;
- `wrapper`: the fast TextAttack model wrapper (dynamic padding, output cache, batched queries);
- `recipes`: attack specs (`attacks/*.toml`) and their dispatch to TextAttack or local builders;
- `embedding_attack`: FGSM/PGD on the victim's word embeddings under an L-inf or L2 budget;
- `metrics`: TextAttack's attack metrics computed from per-example results;
- `runner`: seeded example lists, JSONL run files (resume, shards, merge) and attack records;
- `benchmark`: attack throughput against stock TextAttack.
"""
