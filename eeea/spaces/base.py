"""The search-space protocol and the registry that loads spaces from their YAML definitions.

A space is declared by a YAML file (``search_spaces/NAME.yaml``) whose ``kind`` names the Python class that reads it.
Users add spaces without code by writing such a file and passing its path (or putting it in a folder named by the
``EEEA_SPACES`` environment variable, ``os.pathsep``-separated).
"""
from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np
from torch import nn

from ..cli_types import SECONDS
from ..config import read_yaml_mapping
from ..errors import GenomeError, UserError
from ..files import package_dir
from ..units import check_number
from ..genome import Genome

_KINDS: dict[str, type["SearchSpace"]] = {}


def register_space_kind(kind: str) -> Callable[[type["SearchSpace"]], type["SearchSpace"]]:
    """Class decorator: the class reads space files whose ``kind`` is ``kind``."""

    def add(cls: type[SearchSpace]) -> type[SearchSpace]:
        cls.kind = kind
        _KINDS[kind] = cls
        return cls

    return add


class SearchSpace(ABC):
    """A family of architectures with an integer encoding for the optimiser.

    ``x`` is a 1-D integer vector within ``[xl, xu]`` (inclusive); :meth:`decode` turns it into a :class:`Genome`
    and :meth:`encode` back. Every genome the space can produce builds with :meth:`build` and runs a forward pass.
    ``size`` keyword arguments (channels, layers, num_classes, ...) choose the network's scale, not its architecture;
    ``eval_size`` is the scale at which budgets (EE-PI) are counted, ``search_size`` the scale candidates train at.
    """

    kind: ClassVar[str] = ""
    #: the size options this space's networks take; ``size()`` rejects any other (empty: no check)
    size_keys: ClassVar[frozenset[str]] = frozenset()
    #: inclusive integer bounds of the encoding, set by each space's constructor
    xl: np.ndarray
    xu: np.ndarray

    def __init__(self, config: Mapping[str, Any], source: str) -> None:
        self.config = dict(config)
        self.source = source
        self.name: str = _require(config, "name", str, source)
        self.description: str = str(config.get("description", "")).strip()
        self.eval_size: dict[str, Any] = dict(config.get("eval_size", {}))
        self.search_size: dict[str, Any] = dict(config.get("search_size", self.eval_size))

    # encoding --------------------------------------------------------------------------------------------------
    @property
    def n_var(self) -> int:
        return len(self.xl)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A uniformly random valid integer vector."""
        return self.repair(rng.integers(self.xl, self.xu + 1))

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Map any vector to a valid one (the default rounds and clips into the bounds)."""
        return np.clip(np.rint(np.asarray(x, dtype=float)), self.xl, self.xu).astype(np.int64)

    def check_bounds(self, x: np.ndarray) -> None:
        """GenomeError when a gene of ``x`` (of the right shape) is outside the encoding's bounds."""
        if (x < self.xl).any() or (x > self.xu).any():
            raise GenomeError(f"space {self.name}: genes out of bounds (repair them first)")

    def random_genome(self, rng: np.random.Generator) -> Genome:
        return self.decode(self.sample(rng))

    def decode(self, x: np.ndarray) -> Genome:
        """The genome of an integer vector (its shape is checked here; :meth:`decode_genes` reads the genes)."""
        x = np.asarray(x)
        if x.shape != (self.n_var,):
            raise GenomeError(f"space {self.name}: expected {self.n_var} genes, got shape {x.shape}")
        return self.decode_genes(x)

    @abstractmethod
    def decode_genes(self, x: np.ndarray) -> Genome:
        """The genome of a vector of the right shape."""

    @abstractmethod
    def encode(self, genome: Genome) -> np.ndarray: ...

    def gene_groups(self) -> list[list[int]]:
        """Genes that only make sense together (crossover swaps whole groups); default: each gene alone."""
        return [[i] for i in range(self.n_var)]

    # the predictor's encoding ---------------------------------------------------------------------------------------
    def active_genes(self, X: np.ndarray) -> np.ndarray:
        """Which genes of each row of ``X`` (``n x n_var``) the network uses (a boolean matrix): genes of blocks
        beyond a stage's depth are ignored by :meth:`decode` and should not tell two networks apart."""
        return np.ones(np.shape(X), dtype=bool)

    def features(self, X: np.ndarray) -> np.ndarray:
        """The encoding a search's predictor learns from (``n x d`` float32, one row per row of ``X``): each active
        gene one-hot over its choices (an inactive gene is all zeros), then the space's :meth:`summary_features`."""
        X = np.atleast_2d(np.asarray(X, dtype=np.int64))
        width = self.xu - self.xl + 1
        start = np.concatenate([[0], np.cumsum(width)[:-1]])
        onehot = np.zeros((len(X), int(width.sum())), dtype=np.float32)
        rows, genes = np.nonzero(self.active_genes(X))
        onehot[rows, start[genes] + X[rows, genes] - self.xl[genes]] = 1.0
        return np.hstack([onehot, self.summary_features(X).astype(np.float32)])

    def summary_features(self, X: np.ndarray) -> np.ndarray:
        """Features beside the one-hot genes (``n x k``; default none): what a position-wise one-hot cannot say
        compactly, such as how often each op occurs."""
        return np.zeros((len(X), 0), dtype=np.float32)

    # genomes ---------------------------------------------------------------------------------------------------
    @abstractmethod
    def validate(self, genome: Genome) -> Genome:
        """Return the canonical form of ``genome``, or raise :class:`GenomeError` naming the bad field."""

    def check_space(self, genome: Genome) -> None:
        if genome.space != self.name:
            raise GenomeError(f"genome is from space {genome.space!r}, not {self.name!r}")

    def check_fields(self, arch: Mapping[str, Any], fields: Sequence[str]) -> None:
        """Raise GenomeError for a field the space does not know or one it needs that is missing."""
        for key in arch:
            if key not in fields:
                raise GenomeError(f"unknown field {key!r} for space {self.name} (fields: {', '.join(fields)})")
        for key in fields:
            if key not in arch:
                raise GenomeError(f"missing field {key!r}")

    def function_key(self, genome: Genome) -> str:
        """A key that genomes share when their networks compute the same function (isomorphic cells); the default,
        for spaces without such twins, is the genome's own key. Fronts print such twins as one network."""
        return genome.key

    def describe(self, genome: Genome) -> list[str]:
        """Readable lines for ``eeea show`` (the default: one line per arch field)."""
        return [f"{k}: {v}" for k, v in self.validate(genome).arch.items()]

    # networks --------------------------------------------------------------------------------------------------
    def size(self, **overrides: Any) -> dict[str, Any]:
        """The evaluation size with ``overrides`` applied (``None`` values are ignored)."""
        size = dict(self.eval_size)
        size.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(size) - self.size_keys) if self.size_keys else []
        if unknown:
            raise UserError(
                f"space {self.name}: unknown size option {unknown[0]!r} (options: {', '.join(sorted(self.size_keys))})"
            )
        for key in ("channels", "layers", "num_classes", "input_size"):
            if key in size:
                check_number(f"--{key.replace('_', '-')}", size[key], integer=True, minimum=1)
        if "seconds" in size:  # a clip length: finite and positive (a NaN would reach int() of a sample count)
            SECONDS.check("seconds", size["seconds"])
        return size

    @abstractmethod
    def build(self, genome: Genome, **size: Any) -> nn.Module: ...

    @abstractmethod
    def count_params(self, genome: Genome, **size: Any) -> int:
        """Exactly ``sum(p.numel())`` of ``build(genome, **size)`` (auxiliary heads excluded), without building it."""

    @abstractmethod
    def count_macs(self, genome: Genome, **size: Any) -> int:
        """Multiply-accumulates of one forward pass at batch 1, as thop counts them on the built model."""

    def spec_walk(self, genome: Genome, **size: Any) -> list[tuple[tuple, tuple[int, ...]]]:
        """Every module of ``build(genome, **size)`` as ``(spec, input shape without batch)`` in forward order: the one
        walk that MAC counting and latency prediction (:mod:`eeea.latency`) sum over. Spaces that do not describe
        their networks by module specs have none."""
        raise UserError(f"space {self.name} does not list its networks' module specs: no latency table for it")

    def count_int8_bytes(self, genome: Genome, **size: Any) -> int:
        """Upper bound of the size in bytes of the int8 ONNX file of ``build(genome, **size)``, counted from
        :meth:`spec_walk` without building or exporting (:mod:`eeea.filesize`)."""
        from ..filesize import int8_bytes, walk_parts

        return int8_bytes(walk_parts(spec for spec, _ in self.spec_walk(genome, **size)))

    @abstractmethod
    def input_shape(self, **size: Any) -> tuple[int, ...]:
        """Shape of one input sample (no batch dimension) at this size."""

    def genome_input_shape(self, genome: Genome, **size: Any) -> tuple[int, ...]:
        """Shape of one input sample for ``genome`` (spaces whose genomes choose their resolution override this)."""
        return self.input_shape(**size)

    def check_memory(self, genome: Genome, batch: int = 1, **size: Any) -> None:
        """Refuse, before anything is built, a network whose weights and ``batch`` inputs alone need more memory than
        this machine has (``--channels 100000000``, a checkpoint claiming ``seconds: 1e8``): one line, no
        allocation."""
        from ..runtime import check_memory

        shape = self.genome_input_shape(genome, **size)
        elements = self.count_params(genome, **size) + batch * math.prod(shape)
        check_memory(4 * elements, f"a {self.name} network at {', '.join(f'{k}={v}' for k, v in size.items())} "
                                   f"(input {'x'.join(map(str, shape))})")

    def input_text(self, genome: Genome, **size: Any) -> str:
        """The input a MAC count of ``genome`` is for, in words: ``"32x32 image"`` (channels named when not 3)."""
        shape = self.genome_input_shape(genome, **size)
        if len(shape) == 3:
            return f"{shape[1]}x{shape[2]} image" + (f" of {shape[0]} channels" if shape[0] != 3 else "")
        return "input of " + "x".join(map(str, shape))

    # search ----------------------------------------------------------------------------------------------------------
    def smallest_genome(self, count: Callable[[Genome], int]) -> Genome:
        """A genome of (near-)minimal ``count`` (params or MACs): EE-PI's feasibility check. The default is a
        coordinate descent from the best of 64 random genomes; spaces that know their minimum exactly override it."""
        rng = np.random.default_rng(0)
        best = min((self.sample(rng) for _ in range(64)), key=lambda x: count(self.decode(x)))
        improved = True
        while improved:  # coordinate descent over every gene's values
            improved = False
            for i in range(self.n_var):
                for v in range(int(self.xl[i]), int(self.xu[i]) + 1):
                    trial = best.copy()
                    trial[i] = v
                    trial = self.repair(trial)
                    if count(self.decode(trial)) < count(self.decode(best)):
                        best, improved = trial, True
        return self.decode(best)

    def candidate_size(self, train: Mapping[str, Any], size: Mapping[str, Any]) -> dict[str, Any]:
        """The size candidates train at, given the training budget (``train``): ``size`` unless the budget needs
        more of the network (cell spaces add the auxiliary head when the budget weighs its loss)."""
        return dict(size)


def _require(config: Mapping[str, Any], key: str, typ: type, source: str) -> Any:
    if key not in config:
        raise UserError(f"{source}: space definition lacks {key!r}")
    value = config[key]
    if not isinstance(value, typ):
        raise UserError(f"{source}: {key!r} must be a {typ.__name__}")
    return value


def builtin_space_dir() -> Path:
    return package_dir("search_spaces")


def _space_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("EEEA_SPACES", "").split(os.pathsep) if p]
    return extra + [builtin_space_dir()]


def list_spaces() -> list[str]:
    names = {p.stem for d in _space_dirs() if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


def get_space(name_or_path: str | os.PathLike) -> SearchSpace:
    """The space called ``name`` (``search_spaces/NAME.yaml``) or defined by a YAML file path."""
    return _find_space(str(name_or_path), os.environ.get("EEEA_SPACES", ""))


@lru_cache(maxsize=256)
def _find_space(text: str, search_path: str) -> SearchSpace:
    # cached per (name, EEEA_SPACES): counting thousands of genomes per second must not touch the file system
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise UserError(f"space file {text} does not exist")
    else:
        path = next((d / f"{text}.yaml" for d in _space_dirs() if (d / f"{text}.yaml").is_file()), None)
        if path is None:
            raise UserError(f"unknown search space {text!r} (known: {', '.join(list_spaces())})")
    return _load_space(str(path.resolve()))


@lru_cache(maxsize=None)
def _load_space(path: str) -> SearchSpace:
    config = read_yaml_mapping(path, expected="a space definition is a mapping")
    kind = _require(config, "kind", str, path)
    if kind not in _KINDS:
        raise UserError(f"{path}: unknown space kind {kind!r} (known: {', '.join(sorted(_KINDS))})")
    return _KINDS[kind](config, path)
