"""The fast TextAttack model wrapper around a victim.

TextAttack's stock `HuggingFaceModelWrapper` pads every query to the tokenizer's maximum length
(512 tokens for BERT-style models) and forgets every output after each example. This wrapper asks
the same model the same questions, faster:
- dynamic padding: each batch is padded to its longest member, and batches are length-sorted;
- an LRU cache of logits keyed by the exact model input (text, or text pair), kept across examples;
- batched queries of `batch_size` inputs.
It returns logits, exactly like the stock wrapper, so TextAttack's goal functions see the same scores.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from rsebench.robustness.recipes import import_textattack

textattack = import_textattack()


class VictimModelWrapper(textattack.models.wrappers.ModelWrapper):
    """TextAttack `ModelWrapper` for a `Victim`: list of texts (or text tuples) in, logits out."""

    def __init__(self, victim, batch_size: int = 64, cache_size: int = 2**16):
        self.model = victim  # TextAttack reads `.model` (e.g. to move it between devices)
        self.victim = victim
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict = OrderedDict()
        self.queries = 0  # inputs that reached the model (cache misses)
        self.calls = 0  # inputs asked for

    def clear_cache(self) -> None:
        self._cache.clear()

    @torch.inference_mode()
    def _forward(self, inputs: list) -> torch.Tensor:
        pairs = isinstance(inputs[0], tuple)
        if pairs:
            batch = self.victim.tokenize([x[0] for x in inputs], [x[1] for x in inputs])
        else:
            batch = self.victim.tokenize(inputs)
        return self.victim(**batch).float().cpu()

    def __call__(self, text_input_list):
        keys = [x if isinstance(x, str) else tuple(x) for x in text_input_list]
        self.calls += len(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            self.victim.eval()
            missing.sort(key=lambda k: len(k) if isinstance(k, str) else sum(map(len, k)))
            for start in range(0, len(missing), self.batch_size):
                chunk = missing[start:start + self.batch_size]
                for key, logits in zip(chunk, self._forward(chunk)):
                    self._cache[key] = logits
            self.queries += len(missing)
        outputs = []
        for key in keys:
            self._cache.move_to_end(key)
            outputs.append(self._cache[key])
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return torch.stack(outputs)

    def _tokenize(self, inputs):
        tokenizer = self.victim.tokenizer
        return [tokenizer.convert_ids_to_tokens(tokenizer([x] if isinstance(x, str) else [tuple(x)], truncation=True)["input_ids"][0])
                for x in inputs]
