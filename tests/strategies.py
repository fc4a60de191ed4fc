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
