"""The union of search spaces: one search over the members of several spaces (e.g. the Wav2Small layouts and the
MobileNetV3 audio students), so that a known-good genome of one member can join a search of all.

Encoding: gene 0 picks the member; then the genes of every member, one block each (the blocks of the other members
are inactive, as a wav2small genome's unused blocks are). A decoded genome is the *member's* genome (its ``space`` is
the member's name): its key, its genome file and its exported model are the same as from the member space alone, so
anything that reads a genome (``eeea train``, ``export``, ``create_model``) needs no union. Counting, building and
describing go to the genome's member.

Space file::

    name: audio_union
    kind: union
    members: [wav2small, mobilenet_audio]
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
from torch import nn

from ..errors import GenomeError, UserError
from ..genome import Genome
from .base import SearchSpace, get_space, register_space_kind


@register_space_kind("union")
class UnionSpace(SearchSpace):
    """Every genome of each member space (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any], source: str) -> None:
        super().__init__(config, source)
        names = config.get("members")
        if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
            raise UserError(f"{source}: a union space needs 'members', a list of two or more space names")
        self.members = [get_space(n) for n in names]
        if len({m.name for m in self.members}) != len(self.members) or any(isinstance(m, UnionSpace)
                                                                           for m in self.members):
            raise UserError(f"{source}: union members must be distinct spaces, not unions")
        shapes = {m.input_shape(**m.size()) for m in self.members}
        if len(shapes) != 1:
            raise UserError(f"{source}: union members take different inputs ({', '.join(map(str, shapes))})")
        self.by_name = {m.name: m for m in self.members}
        self.size_keys = frozenset().union(*(m.size_keys for m in self.members))  # type: ignore[misc]
        self.offsets = list(np.cumsum([1] + [m.n_var for m in self.members]))
        self.xl = np.concatenate([[0]] + [m.xl for m in self.members]).astype(np.int64)
        self.xu = np.concatenate([[len(self.members) - 1]] + [m.xu for m in self.members]).astype(np.int64)

    def member(self, genome: Genome) -> SearchSpace:
        """The member space a genome belongs to (GenomeError for a genome of none)."""
        found = self.by_name.get(genome.space)
        if found is None:
            raise GenomeError(f"genome is from space {genome.space!r}, not a member of {self.name} "
                              f"({', '.join(self.by_name)})")
        return found

    def _block(self, x: np.ndarray, i: int) -> np.ndarray:
        """Member ``i``'s genes of one encoded genome, or of each row of a matrix of them."""
        return x[..., self.offsets[i] : self.offsets[i + 1]]

    # encoding --------------------------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A member drawn uniformly, and a random vector of every member (the inactive ones give crossover material)."""
        x = np.concatenate([[rng.integers(len(self.members))]] + [m.sample(rng) for m in self.members])
        return x.astype(np.int64)

    def repair(self, x: np.ndarray) -> np.ndarray:
        x = super().repair(x)
        return np.concatenate([x[:1]] + [m.repair(self._block(x, i)) for i, m in enumerate(self.members)])

    def decode_genes(self, x: np.ndarray) -> Genome:
        i = int(x[0])
        if not 0 <= i < len(self.members):
            raise GenomeError(f"space {self.name}: member gene {i} is not in 0..{len(self.members) - 1}")
        return self.members[i].decode(self._block(x, i))

    def encode(self, genome: Genome) -> np.ndarray:
        member = self.member(genome)
        i = self.members.index(member)
        blocks = [member.encode(genome) if m is member else m.xl.copy() for m in self.members]
        return np.concatenate([[i]] + blocks).astype(np.int64)

    def gene_groups(self) -> list[list[int]]:
        """The member gene alone, then each member's groups (shifted to its block)."""
        groups = [[0]]
        for i, m in enumerate(self.members):
            groups += [[g + self.offsets[i] for g in group] for group in m.gene_groups()]
        return groups

    # the predictor's encoding ---------------------------------------------------------------------------------------
    def active_genes(self, X: np.ndarray) -> np.ndarray:
        """The member gene, and the chosen member's active genes; the other members' blocks are not the network."""
        X = np.atleast_2d(np.asarray(X, dtype=np.int64))
        active = np.zeros(X.shape, dtype=bool)
        active[:, 0] = True
        for i, m in enumerate(self.members):
            rows = X[:, 0] == i
            if rows.any():
                active[np.ix_(rows, np.arange(self.offsets[i], self.offsets[i + 1]))] = m.active_genes(
                    self._block(X[rows], i))
        return active

    def summary_features(self, X: np.ndarray) -> np.ndarray:
        """Each member's summary features in its own columns, zero for rows of another member."""
        X = np.atleast_2d(np.asarray(X, dtype=np.int64))
        parts = []
        for i, m in enumerate(self.members):
            rows = X[:, 0] == i
            width = m.summary_features(self._block(X[:1], i)).shape[1]
            part = np.zeros((len(X), width), dtype=np.float32)
            if rows.any():
                part[rows] = m.summary_features(self._block(X[rows], i))
            parts.append(part)
        return np.hstack(parts) if parts else np.zeros((len(X), 0), dtype=np.float32)

    # genomes ---------------------------------------------------------------------------------------------------
    def check_space(self, genome: Genome) -> None:
        self.member(genome)

    def validate(self, genome: Genome) -> Genome:
        return self.member(genome).validate(genome)

    def describe(self, genome: Genome) -> list[str]:
        return self.member(genome).describe(genome)

    # networks: the genome's member -----------------------------------------------------------------------------
    def size(self, **overrides: Any) -> dict[str, Any]:
        return self.members[0].size(**{**self.eval_size, **{k: v for k, v in overrides.items() if v is not None}})

    def build(self, genome: Genome, **size: Any) -> nn.Module:
        return self.member(genome).build(genome, **size)

    def count_params(self, genome: Genome, **size: Any) -> int:
        return self.member(genome).count_params(genome, **size)

    def count_macs(self, genome: Genome, **size: Any) -> int:
        return self.member(genome).count_macs(genome, **size)

    def spec_walk(self, genome: Genome, **size: Any) -> list[tuple[tuple, tuple[int, ...]]]:
        return self.member(genome).spec_walk(genome, **size)

    def input_shape(self, **size: Any) -> tuple[int, ...]:
        return self.members[0].input_shape(**size)

    def genome_input_shape(self, genome: Genome, **size: Any) -> tuple[int, ...]:
        return self.member(genome).genome_input_shape(genome, **size)

    def input_text(self, genome: Genome, **size: Any) -> str:
        return self.member(genome).input_text(genome, **size)

    # search ----------------------------------------------------------------------------------------------------
    def smallest_genome(self, count: Callable[[Genome], int]) -> Genome:
        return min((m.smallest_genome(count) for m in self.members), key=count)

    def candidate_size(self, train: Mapping[str, Any], size: Mapping[str, Any]) -> dict[str, Any]:
        return self.members[0].candidate_size(train, size)
