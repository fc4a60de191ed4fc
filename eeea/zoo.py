"""Named architectures and ``create_model``.

Published architectures are data (``genotypes.yaml`` beside this file); architectures defined in code register with
the :func:`register_model` decorator. ``create_model`` accepts a zoo name, a :class:`Genome`, a genome file or the
one-line genome text, and builds the network through the genome's space; given a checkpoint directory, a training
run or a search run plus a member's key, it returns the network with its trained weights (:mod:`eeea.runs`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml
from torch import nn

from .errors import UserError
from .genome import Genome
from .spaces import get_space


@dataclass(frozen=True)
class ZooEntry:
    name: str
    genome: Genome
    title: str = ""
    size: dict[str, Any] = field(default_factory=dict)  # size defaults that differ from the space's eval_size


_FACTORIES: dict[str, Callable[[], ZooEntry]] = {}
_ENTRIES: dict[str, ZooEntry] = {}


def register_model(name: str, title: str = "", **size: Any) -> Callable[[Callable[[], Genome]], Callable[[], Genome]]:
    """Decorator: register a function returning a :class:`Genome` under ``name`` (built lazily, once)."""

    def add(fn: Callable[[], Genome]) -> Callable[[], Genome]:
        if name in _FACTORIES:
            raise ValueError(f"model {name!r} is registered twice")
        _FACTORIES[name] = lambda: ZooEntry(name, _named(fn(), name), title or (fn.__doc__ or "").strip(), size)
        return fn

    return add


def _named(genome: Genome, name: str) -> Genome:
    return Genome(genome.space, genome.arch, name)


def _register_published_genotypes() -> None:
    data = yaml.safe_load(resources.files("eeea").joinpath("genotypes.yaml").read_text())
    for name, doc in data.items():
        genome = Genome(doc["space"], doc["arch"], name)
        register_model(name, doc.get("title", ""))(lambda g=genome: g)


_register_published_genotypes()


def list_models() -> list[str]:
    return sorted(_FACTORIES)


def get_entry(name: str) -> ZooEntry:
    if name not in _FACTORIES:
        raise UserError(f"unknown model {name!r} (zoo: {', '.join(list_models())})")
    if name not in _ENTRIES:
        entry = _FACTORIES[name]()
        get_space(entry.genome.space).validate(entry.genome)
        _ENTRIES[name] = entry
    return _ENTRIES[name]


def resolve_genome(arch: str | Path | Genome) -> Genome:
    """A validated genome from a zoo name, a genome file, one-line genome text, or a Genome."""
    if isinstance(arch, Genome):
        genome = arch
    elif isinstance(arch, Path) or (isinstance(arch, str) and Path(arch).suffix in (".yaml", ".yml", ".json")):
        genome = Genome.load(arch)
    elif arch in _FACTORIES:
        return get_entry(arch).genome
    elif isinstance(arch, str) and ":" in arch and "=" in arch:
        genome = Genome.from_text(arch)
    else:
        raise UserError(f"{str(arch)!r} is not a zoo name, genome file or genome text (zoo: {', '.join(list_models())})")
    return get_space(genome.space).validate(genome)


def resolve(arch: str | Path | Genome, key: str | None = None) -> tuple[Genome, dict[str, Any]]:
    """``(genome, size)``: the validated genome of ``arch`` and the size it is built at unless told otherwise (its
    space's eval size, then the zoo entry's own; a checkpoint's: the size it was trained at), resolving ``arch``
    once. ``arch`` may also be a checkpoint, a training run, or a search run with a member's ``key``."""
    from .runs import locate

    found = locate(arch, key)
    if found is not None:
        space = get_space(found.genome.space)
        return space.validate(found.genome), {**space.eval_size, **found.size}
    genome = resolve_genome(arch)
    size = dict(get_space(genome.space).eval_size)
    if isinstance(arch, str) and arch in _FACTORIES:
        size.update(get_entry(arch).size)
    return genome, size


def default_size(arch: str | Path | Genome) -> dict[str, Any]:
    """The size a model is built at unless told otherwise (its space's eval size, then the zoo entry's own)."""
    return resolve(arch)[1]


def create_model(arch: str | Path | Genome, key: str | None = None, **size: Any) -> nn.Module:
    """Build a network: ``create_model("eeea_c", num_classes=100, channels=36, layers=20, auxiliary=True)``.

    ``arch`` is a zoo name, a :class:`Genome`, a genome file (YAML/JSON) or the one-line genome text (untrained
    weights); or a trained network: a checkpoint directory (``genome.yaml`` + ``weights.pt``), a training run
    directory (its ``model`` checkpoint), or a search run directory with the ``key`` of a member (or 4+ leading
    characters of it): ``create_model("runs/ser", "3f2a9c")``. A trained network comes back with its weights loaded,
    in eval mode, at the size it was trained at. A member the search kept no weights of (image searches) is built
    untrained. ``size`` keywords override the space's evaluation size (cell spaces: ``channels``, ``layers``,
    ``num_classes``, ``auxiliary``, ``drop_path_prob``, ``network='cifar'|'imagenet'``); trained weights fit only
    their own size.
    """
    from .runs import locate

    found = locate(arch, key)
    if found is not None and found.checkpoint is not None:
        from .checkpoint import load_checkpoint

        genome, trained, model = load_checkpoint(found.checkpoint)
        space = get_space(genome.space)
        if size and space.size(**{**trained, **size}) != space.size(**trained):
            raise UserError(f"{found.what}: its weights were trained at {space.size(**trained)}; size options cannot "
                            f"change that (build its genome untrained with create_model(genome, **size))")
        return model
    genome, default = resolve(arch, key)
    return get_space(genome.space).build(genome, **{**default, **size})

