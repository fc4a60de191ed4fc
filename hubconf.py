"""torch.hub entry points: one per zoo model, e.g. ``torch.hub.load(path_or_repo, "eeea_c1", num_classes=10)``, and
``from_run`` for a network you trained or found: ``torch.hub.load(checkout, "from_run", "runs/ser-...", "3f2a9c",
source="local")`` (a search run and a member's key; or a checkpoint or ``eeea train`` run directory alone).

Each zoo entry point is ``create_model(name, **kwargs)``; keyword arguments override the model's size
(``num_classes``, ``channels``, ``layers``, ``auxiliary``, ``input_size`` ...). No trained weights are published, so
``pretrained=True`` is refused rather than silently returning an untrained network.
"""
from __future__ import annotations

from typing import Any, Callable

dependencies = ["torch", "yaml", "thop"]

from torch import nn  # noqa: E402  (torch.hub reads ``dependencies`` first)

from eeea.zoo import create_model, get_entry, list_models  # noqa: E402


def _entry_point(name: str) -> Callable[..., nn.Module]:
    def load(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        if pretrained:
            raise ValueError(f"no pretrained weights are published for {name}; load a checkpoint you trained")
        return create_model(name, **kwargs)

    load.__name__ = load.__qualname__ = name
    load.__doc__ = f"{get_entry(name).title or name} (untrained). Keyword arguments go to eeea.create_model."
    return load


def from_run(path: str, key: str | None = None) -> nn.Module:
    """A trained network from your runs, weights loaded, in eval mode: a checkpoint directory, an ``eeea train`` run
    directory, or a search run directory with the key of one of its members (eeea.create_model)."""
    return create_model(path, key)


# Entry points are generated from the zoo so every registered model is loadable, and new ones appear without edits.
globals().update({name: _entry_point(name) for name in list_models()})
