from __future__ import annotations

from pathlib import Path

import pytest
import torch
from shared_data import missing_hint, shared_folder

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The real-data folder (``$EEEA_SHARED``, default ``../shared``); tests using it skip, naming it, without it."""
    folder = shared_folder()
    if not folder.is_dir():
        pytest.skip(missing_hint(folder))
    return folder


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
