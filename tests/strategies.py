"""Hypothesis strategies shared by the tests: random genomes of any space, drawn through the space's own encoding."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from eeea import Genome, get_space


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
