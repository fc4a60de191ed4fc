"""Exact parameter and MAC counts, without building the network.

Networks are assembled from modules described by hashable specs (``(kind, *args)``, see :mod:`eeea.models.specs`). Each distinct
spec is built once, counted, and memoised, so counting a genome is a walk over its layout summing cached numbers: tens
of thousands of genomes per second instead of the ~11 per second of building each model.

MAC convention (what ``count_macs`` returns and ``eeea`` prints):

* multiply-accumulates of one forward pass in eval mode at batch size 1, at the space's input size;
* counted by thop's module rules: a convolution costs ``output elements x (C_in / groups) x k_h x k_w`` (bias free),
  a linear layer ``in x out``; average pooling 1 per output element and adaptive average pooling
  ``(window + 1)`` per output element (thop's rules); ReLU, max pooling and identities cost 0;
* BatchNorm costs 0, because it folds into the preceding convolution at inference (thop's own rule would count 4 per
  element; we override it);
* functional tensor arithmetic (the sums inside cells and residual blocks, concatenation) is not counted, as in thop;
* auxiliary heads are not part of the inference network and are not counted (nor are their parameters).
"""
from __future__ import annotations

from typing import Any, Mapping

from .genome import Genome
from .spaces import get_space


def count_params(genome: Genome, size: Mapping[str, Any] | None = None, **overrides: Any) -> int:
    """Exact trainable parameters of ``genome``'s network at ``size`` (the space's evaluation size by default)."""
    return get_space(genome.space).count_params(genome, **{**(size or {}), **overrides})


def count_macs(genome: Genome, size: Mapping[str, Any] | None = None, **overrides: Any) -> int:
    """MACs of one inference at batch 1 (see the module docstring for what is counted)."""
    return get_space(genome.space).count_macs(genome, **{**(size or {}), **overrides})
