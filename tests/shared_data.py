"""Where the project's real data lives for tests and benchmarks: the folder ``EEEA_SHARED`` names, by default
``shared/`` beside the checkout (``../shared`` from the repository root). It holds large real data sets and reference
files (the CIFAR-10 JPEG zip, EmoDB, NAS-Bench tables, the paper's genotypes); it is not part of eeea and is never
shipped to users, so tests that need it skip, naming the variable, when it is missing."""
from __future__ import annotations

import os
from pathlib import Path

#: the environment variable naming the real-data folder
ENV = "EEEA_SHARED"


def shared_folder() -> Path:
    """The real-data folder: ``$EEEA_SHARED``, else ``shared/`` beside the checkout (it may not exist)."""
    return Path(os.environ.get(ENV) or Path(__file__).resolve().parents[1].parent / "shared").expanduser()


def missing_hint(path: Path | None = None) -> str:
    """The skip message of a test whose real data is missing."""
    return f"real data folder {path or shared_folder()} not found: set {ENV}=/path/to/shared (see README)"
