from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is not beside the project")
    return SHARED


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of the tiny search (search_helpers.TINY_FLAGS) by the in-process executor: the results other
    executors must equal."""
    from search_helpers import TINY_FLAGS

    from eeea.cli import main

    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(["search", "--out", str(out), *TINY_FLAGS]) == 0
    return out


@pytest.fixture(scope="session", autouse=True)
def _decode_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests (and the processes they start) cache decoded data in a temporary folder, never in the user's home."""
    import os

    os.environ.setdefault("EEEA_CACHE", str(tmp_path_factory.mktemp("eeea-cache")))
