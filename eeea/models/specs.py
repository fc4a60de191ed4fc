"""The one table of module specs: every module a network is assembled from, built AND counted from the same spec.

A spec is a hashable tuple ``(kind, *args)``. Model modules register a constructor per kind with
:func:`register_module`; :func:`build_module` builds a spec, and the exact counters below build each distinct spec
once, count it and memoise the result, so counting a genome is a walk over its layout summing cached numbers (tens of
thousands of genomes per second instead of the ~11 per second of building each model). The MAC convention is the one
of :mod:`eeea.counting`; :data:`THOP_RULES` holds the thop rules that implement it (BatchNorm free, and the rules of
parameter-free matrix products that model modules add).
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any, Callable, Iterable

import torch
from torch import nn

Shape = tuple[int, ...]

#: spec kind -> module constructor (filled by the model modules that :mod:`eeea.models` imports)
MODULE_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_module(kind: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: make a module constructor buildable (and countable) from a ``(kind, *args)`` spec."""

    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if kind in MODULE_BUILDERS:
            raise ValueError(f"module kind {kind!r} is registered twice")
        MODULE_BUILDERS[kind] = builder
        return builder

    return add


def build_module(spec: tuple) -> nn.Module:
    """Build the module a ``(kind, *args)`` spec describes."""
    kind, *args = spec
    return MODULE_BUILDERS[kind](*args)


def _zero_ops(module: nn.Module, inputs: Any, output: Any) -> None:
    module.total_ops += torch.zeros(1, dtype=torch.float64)


#: thop rules of the MAC convention: module class -> rule (BatchNorm folds into its conv: free)
THOP_RULES: dict[type, Callable[..., None]] = {nn.BatchNorm1d: _zero_ops, nn.BatchNorm2d: _zero_ops}


def profile_macs(model: nn.Module, example: torch.Tensor) -> int:
    """MACs of ``model`` on ``example`` (which carries the batch dimension) by thop, with this module's convention."""
    with warnings.catch_warnings():  # thop imports distutils' deprecated LooseVersion
        warnings.simplefilter("ignore", DeprecationWarning)
        import thop  # heavy import, only needed when a count is missing from the cache

    training = model.training
    macs, _ = thop.profile(model, inputs=(example,), custom_ops=THOP_RULES, verbose=False)
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


#: a network's modules in forward order, each with the shape of its input (no batch): what counting and latency sum
Walk = list[tuple[tuple, Shape]]


def chain_walk(specs: Iterable[tuple], in_shape: Shape) -> Walk:
    """``(spec, input shape)`` of a chain of modules, each reading the previous one's output."""
    walk, shape = [], tuple(in_shape)
    for spec in specs:
        walk.append((spec, shape))
        shape = spec_macs(spec, shape)[1]
    return walk


def walk_macs(walk: Iterable[tuple[tuple, Shape]]) -> int:
    """MACs of the modules of a walk, each on its input shape."""
    return sum(spec_macs(spec, shape)[0] for spec, shape in walk)


def chain_macs(specs: Iterable[tuple], in_shape: Shape) -> int:
    """MACs of a chain of modules given by their specs, each reading the previous one's output."""
    return walk_macs(chain_walk(specs, in_shape))
