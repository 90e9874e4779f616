"""Semantic-quality evaluation: STS (unsupervised cosine) and SentEval transfer tasks."""
