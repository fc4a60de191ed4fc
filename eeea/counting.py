"""Exact parameter and MAC counts, without building the network.

Networks are assembled from modules described by hashable specs (``(kind, *args)``, see :mod:`eeea.ops`). Each distinct
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

import warnings
from functools import lru_cache
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from .genome import Genome
from .ops import build_module

Shape = tuple[int, ...]


def _zero_ops(module: nn.Module, inputs: Any, output: Any) -> None:
    module.total_ops += torch.zeros(1, dtype=torch.float64)


THOP_CUSTOM_OPS = {nn.BatchNorm1d: _zero_ops, nn.BatchNorm2d: _zero_ops}


def profile_macs(model: nn.Module, example: torch.Tensor) -> int:
    """MACs of ``model`` on ``example`` (which carries the batch dimension) by thop, with this module's convention."""
    with warnings.catch_warnings():  # thop imports distutils' deprecated LooseVersion
        warnings.simplefilter("ignore", DeprecationWarning)
        import thop  # heavy import, only needed when a count is missing from the cache

    training = model.training
    macs, _ = thop.profile(model, inputs=(example,), custom_ops=THOP_CUSTOM_OPS, verbose=False)
    model.train(training)
    return int(round(macs))


@lru_cache(maxsize=None)
def spec_params(spec: tuple) -> int:
    """Parameters of the module a spec describes (built once per distinct spec)."""
    return sum(p.numel() for p in build_module(spec).parameters())


@lru_cache(maxsize=None)
def spec_macs(spec: tuple, in_shape: Shape) -> tuple[int, Shape]:
    """(MACs at batch 1, output shape without batch) of the module a spec describes, on an input of ``in_shape``."""
    module = build_module(spec).eval()
    x = torch.zeros(1, *in_shape)
    macs = profile_macs(module, x)
    with torch.no_grad():
        out = module(x)
    return macs, tuple(out.shape[1:])


def chain_params(specs: Iterable[tuple]) -> int:
    """Parameters of a chain of modules given by their specs."""
    return sum(spec_params(s) for s in specs)


def chain_macs(specs: Iterable[tuple], in_shape: Shape) -> int:
    """MACs of a chain of modules given by their specs, each reading the previous one's output."""
    total, shape = 0, tuple(in_shape)
    for spec in specs:
        macs, shape = spec_macs(spec, shape)
        total += macs
    return total


def count_params(genome: Genome, size: Mapping[str, Any] | None = None, **overrides: Any) -> int:
    """Exact trainable parameters of ``genome``'s network at ``size`` (the space's evaluation size by default)."""
    from .spaces import get_space

    space = get_space(genome.space)
    return space.count_params(genome, **{**(size or {}), **overrides})


def count_macs(genome: Genome, size: Mapping[str, Any] | None = None, **overrides: Any) -> int:
    """MACs of one inference at batch 1 (see the module docstring for what is counted)."""
    from .spaces import get_space

    space = get_space(genome.space)
    return space.count_macs(genome, **{**(size or {}), **overrides})
