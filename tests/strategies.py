"""Hypothesis strategies shared by the tests: random genomes of any space, drawn through the space's own encoding; and
the example counts of the costly property tests (fewer in the default run, all of them under the thorough profile)."""
from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

from eeea import Genome, get_space

#: ``HYPOTHESIS_PROFILE=thorough`` (conftest.py loads the profile): the property tests at their full example counts,
#: drawn afresh; ``-m slow`` runs them so (test_properties.py)
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"

T = TypeVar("T", bound=Callable[..., Any])


def examples(default: int, thorough: int, **options: Any) -> Callable[[T], T]:
    """Hypothesis settings of a costly property test (``default`` examples by default, ``thorough`` under the thorough
    profile; no deadline) and the ``property`` mark that lets the slow run select it."""
    def apply(test: T) -> T:
        test = settings(max_examples=thorough if THOROUGH else default, deadline=None, **options)(test)
        return pytest.mark.property(test)
    return apply


@st.composite
def genomes(draw: st.DrawFn, space_name: str) -> Genome:
    space = get_space(space_name)
    x = [draw(st.integers(int(lo), int(hi))) for lo, hi in zip(space.xl, space.xu)]
    return space.decode(np.array(x))


def assert_round_trips(space, seed: int) -> None:
    """A sampled vector decodes to a genome that survives encode/decode and its text form, within the bounds."""
    genome = space.decode(space.sample(np.random.default_rng(seed)))
    assert space.decode(space.encode(genome)) == genome
    assert space.validate(Genome.from_text(genome.to_text())) == genome
    assert np.all(space.encode(genome) >= space.xl) and np.all(space.encode(genome) <= space.xu)
