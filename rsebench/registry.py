"""The registries of training methods and attack recipes: one place that names them.

Methods are the `baselines/<name>.toml` specs (a `method` field), recipes the `attacks/<name>.toml`
specs. Each entry carries its name, the label tables and plots print, its kind and what builds it;
argparse choices, `rsebench list`, the report's labels and the objective factory all read from here,
so a name cannot drift between them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import tomllib

from rsebench.errors import UserError
from rsebench.paths import spec_root


@dataclass(frozen=True)
class MethodInfo:
    name: str
    display: str
    objective: str  # "module:Class" of the training objective
    table_order: int  # baselines first, the paper's method last
    description: str
    path: Path


@dataclass(frozen=True)
class RecipeInfo:
    name: str  # what the user types (--recipe)
    display: str  # what tables and plots print
    kind: str  # "textattack" or "embedding"
    variant: str  # what records name: the recipe, or its local-substitute variant (textfooler-local)
    description: str
    path: Path


def read_spec_file(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise UserError(f"cannot read spec {path}: {err}") from None


@functools.cache
def methods() -> dict[str, MethodInfo]:
    """Every training method, by name, in table order."""
    found = []
    for path in sorted(spec_root("baselines").glob("*.toml")):
        raw = read_spec_file(path)
        if "method" not in raw or raw["method"] != path.stem:
            continue  # reported.toml and other data files
        found.append(MethodInfo(name=raw["method"], display=raw.get("display", raw["method"]),
                                objective=raw.get("objective", ""), table_order=int(raw.get("table_order", 5)),
                                description=raw.get("description", ""), path=path))
    return {m.name: m for m in sorted(found, key=lambda m: (m.table_order, m.name))}


@functools.cache
def recipes() -> dict[str, RecipeInfo]:
    """Every attack recipe, by name."""
    found = {}
    for path in sorted(spec_root("attacks").glob("*.toml")):
        raw = read_spec_file(path)
        name = raw.get("name", path.stem)
        found[name] = RecipeInfo(name=name, display=raw.get("display", name), kind=raw.get("kind", "textattack"),
                                 variant=raw.get("variant", name), description=raw.get("description", ""), path=path)
    return found


@functools.cache
def presets() -> dict[str, str]:
    """Named presets: `baselines/<name>.toml` files with `preset_of = "<method>"` (name = file stem) -> that method."""
    known = methods()
    found = {}
    for path in sorted(spec_root("baselines").glob("*.toml")):
        raw = read_spec_file(path)
        if raw.get("preset_of") in known:
            found[path.stem] = raw["preset_of"]
    return found


def method_names() -> tuple[str, ...]:
    return tuple(methods())


def recipe_names() -> tuple[str, ...]:
    return tuple(recipes())


def method_info(name: str) -> MethodInfo:
    known = methods()
    if name not in known:
        raise UserError(f"unknown method '{name}'; choose one of: {', '.join(known)}")
    return known[name]


def recipe_info(name: str) -> RecipeInfo:
    known = recipes()
    if name not in known:
        raise UserError(f"unknown attack recipe '{name}'; choose one of: {', '.join(sorted(known))}")
    return known[name]


def method_label(name: str | None) -> str:
    """The table label of a method name (unknown names are shown as they are)."""
    info = methods().get(name or "")
    return info.display if info else str(name)


def recipe_label(name: str | None) -> str:
    """The table label of a recipe or variant name (textfooler-local -> TextFooler-local)."""
    for info in recipes().values():
        if name in (info.name, info.variant):
            return info.display
    return str(name)


def variant_of(recipe: str) -> str:
    """The name records use for a recipe: its substitute variant where it has one."""
    info = recipes().get(recipe)
    return info.variant if info else recipe
