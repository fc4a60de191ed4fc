from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings
from shared_data import missing_hint, shared_folder

torch.set_num_threads(1)
# the thorough profile draws afresh every run (no example database): the slow run explores, the default run is quick
settings.register_profile("thorough", database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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


@pytest.fixture(scope="session")
def held_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted held-candidate search of the signal and Ray fault tests (signal_helpers.reference_run)."""
    from signal_helpers import reference_run

    return reference_run(tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="session", autouse=True)
def _decode_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests (and the processes they start) cache decoded data in a temporary folder, never in the user's home."""
    import os

    os.environ.setdefault("EEEA_CACHE", str(tmp_path_factory.mktemp("eeea-cache")))


@pytest.fixture(scope="session")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Valid inputs the refusal tests start from (test_fuzz.py, test_reliability.py): a NAS-Bench-Macro table, a
    finished search on it, an audio and an image checkpoint, a folder of clips. No real data needed."""
    import contextlib
    import os

    from fuzz_helpers import audio_dir, checkpoint, macro_table

    from eeea.cli import main

    root = tmp_path_factory.mktemp("fuzz-world")
    table = macro_table(root / "macro.json")
    run = root / "run"
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        assert main(["search", "--task", "nas_bench_macro", "--data", str(table), "--out", str(run),
                     "--population", "4", "--generations", "1", "--quiet"]) == 0
    return {"table": table, "run": run, "audio_ck": checkpoint(root / "audio_ck", "wav2small_17k"),
            "image_ck": checkpoint(root / "image_ck", "eeea_c", channels=4, layers=3),
            "audio": audio_dir(root / "audio")}
