"""Attack recipes: TOML specs in `attacks/`, loaded by name and dispatched to their builders.

A spec names its `builder` as "module:attribute". The attribute is either a TextAttack recipe class
(`AttackRecipe` subclass: `build(model_wrapper, **parameters)`), or a callable
`fn(model_wrapper, spec) -> (textattack.Attack, substitutes: dict)` for recipes whose resources are
made locally (see rsebench.robustness.substitutes). Embedding-space recipes (`kind = "embedding"`)
have no TextAttack builder; rsebench.robustness.embedding_attack runs them.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsebench.errors import UserError
from rsebench.paths import RESOURCES_DIR, configure_offline

RECIPE_KINDS = ("textattack", "embedding")


@dataclass(frozen=True)
class RecipeSpec:
    """One `attacks/<name>.toml`: what to build, with which parameters, and how faithful it is."""

    name: str
    kind: str
    description: str
    builder: str | None
    parameters: dict[str, Any]
    resources: dict[str, Any]
    faithfulness: dict[str, Any]
    path: Path
    raw: dict[str, Any] = field(repr=False)


def recipe_names() -> list[str]:
    from rsebench.registry import recipe_names as registered

    return sorted(registered())


def load_recipe(name: str) -> RecipeSpec:
    """The spec of a recipe by name; UserError listing the valid names when unknown."""
    from rsebench.registry import recipe_info

    path = recipe_info(name).path
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"attack spec {path} is not valid TOML: {err}") from None
    kind = raw.get("kind", "textattack")
    if kind not in RECIPE_KINDS:
        raise UserError(f"{path}: kind '{kind}' is unknown; use one of {', '.join(RECIPE_KINDS)}")
    if kind == "textattack" and not raw.get("builder"):
        raise UserError(f"{path}: a textattack recipe needs a 'builder = \"module:attribute\"' field")
    return RecipeSpec(name=raw.get("name", path.stem), kind=kind, description=raw.get("description", ""),
                      builder=raw.get("builder"), parameters=dict(raw.get("parameters", {})),
                      resources=dict(raw.get("resources", {})), faithfulness=dict(raw.get("faithfulness", {})),
                      path=path, raw=raw)


def check_resources(spec: RecipeSpec) -> None:
    """Fail early, before any model loads, when a bundled file the recipe needs is missing."""
    for relative in spec.resources.get("bundled_files", []):
        if not (RESOURCES_DIR / relative).exists():
            how = spec.resources.get("how_to_supply", "reinstall rsebench so its bundled resources are complete")
            raise UserError(f"recipe '{spec.name}' needs {RESOURCES_DIR / relative}, which is missing; {how}")
    from importlib import metadata

    for package in spec.resources.get("packages", []):
        try:
            metadata.version(package)
        except metadata.PackageNotFoundError:
            raise UserError(f"recipe '{spec.name}' needs the package '{package}'; install it with: pip install {package}") from None
    if "mlm" in spec.raw and not spec.raw.get("mlm") and not spec.parameters.get("mlm"):
        how = spec.resources.get("how_to_supply", f"set mlm in {spec.path}")
        raise UserError(f"recipe '{spec.name}' needs a masked language model (e.g. bert-base-uncased) and none ships offline; "
                        f"pass --mlm PATH (a folder with a masked-LM head), or {how}")


def with_masked_lm(spec: RecipeSpec, mlm: str | None) -> RecipeSpec:
    """The spec with the user's masked language model filled in (BERT-Attack, BAE)."""
    if not mlm:
        return spec
    if "mlm" not in spec.raw:
        raise UserError(f"recipe '{spec.name}' uses no masked language model; drop --mlm")
    from dataclasses import replace

    return replace(spec, raw={**spec.raw, "mlm": mlm})


# --------------------------------------------------------------------------------------------
# TextAttack import (offline, quiet)


@contextlib.contextmanager
def no_nltk_downloads():
    """TextAttack calls `nltk.download` at import and in some transformations; offline that only
    prints failures after a network timeout. The bundled NLTK data (NLTK_DATA) is all it needs."""
    import nltk

    original = nltk.download
    nltk.download = lambda *args, **kwargs: True
    try:
        yield
    finally:
        nltk.download = original


def import_textattack():
    """Import TextAttack after the offline set-up (NLTK_DATA must point at the bundled WordNet and
    stop words first); ~10 s on first import. Its import-time chatter is swallowed."""
    configure_offline()
    parallelism = os.environ.get("TOKENIZERS_PARALLELISM")
    with no_nltk_downloads(), contextlib.redirect_stdout(io.StringIO()):
        import textattack
    if parallelism is not None:  # textattack forces it to "True", which warns after a fork
        os.environ["TOKENIZERS_PARALLELISM"] = parallelism
    return textattack


def _resolve(reference: str, spec: RecipeSpec):
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise UserError(f"{spec.path}: builder '{reference}' must look like 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise UserError(f"recipe '{spec.name}': builder module '{module_name}' is not available ({err}); "
                        "this recipe is not installed in this copy of rsebench") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise UserError(f"recipe '{spec.name}': '{module_name}' has no '{attribute}' (named by {spec.path})") from None


def build_attack(spec: RecipeSpec, model_wrapper):
    """(textattack.Attack, substitutes used) for a TextAttack-kind recipe."""
    if spec.kind != "textattack":
        raise ValueError(f"recipe '{spec.name}' is an embedding-space attack; it has no TextAttack builder")
    import logging

    textattack = import_textattack()
    target = _resolve(spec.builder, spec)
    logger = logging.getLogger("textattack.shared.utils.install")  # TextAttack's own logger
    level = logger.level
    logger.setLevel(logging.ERROR)  # "Unknown if model of class Victim compatible": it is (logits in, classification out)
    try:
        return _build(target, spec, model_wrapper, textattack)
    finally:
        logger.setLevel(level)


def _build(target, spec: RecipeSpec, model_wrapper, textattack):
    with no_nltk_downloads():
        if isinstance(target, type) and issubclass(target, textattack.attack_recipes.AttackRecipe):
            return target.build(model_wrapper, **spec.parameters), {}
        attack, substitutes = target(model_wrapper, spec.raw)
    return attack, dict(substitutes or {})
