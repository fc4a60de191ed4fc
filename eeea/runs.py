"""Reading what a run left behind: the network of a checkpoint, a training run or a search run's member (by key).
What a finished search prints is in :mod:`eeea.run_summary`.

Whatever a run's state (finished, interrupted, every candidate diverged), these read only its files and change none.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError
from .genome import Genome

#: the checkpoint of a training run (``eeea train``), inside its run directory
TRAIN_MODEL = "model"


@dataclass(frozen=True)
class Located:
    """A network found in a run's files: its genome, the size it is built at, and its checkpoint (None: a search
    member without one, e.g. of an image search, which keeps no weights)."""

    genome: Genome
    size: dict[str, Any]
    checkpoint: Path | None
    what: str  # in words, for ``eeea show``: "checkpoint DIR", "member KEY of search run DIR"

    def input_shape(self) -> tuple[int, ...]:
        """One input sample's shape (``(samples,)`` of 16 kHz audio, ``(3, H, W)`` of an image)."""
        from .spaces import get_space

        space = get_space(self.genome.space)
        return tuple(space.genome_input_shape(self.genome, **space.size(**self.size)))


def is_directory(arch: Any) -> bool:
    """Whether ``arch`` (a path, or any text a user may pass: a zoo name, a long genome text) names a directory."""
    if not isinstance(arch, (str, Path)):
        return False
    try:
        return Path(arch).is_dir()
    except (OSError, ValueError):  # a name too long for a path, a NUL byte: not a directory
        return False


def is_search_run(path: str | Path) -> bool:
    """A search's run directory: its archive, or a config of a search that has not finished a candidate yet."""
    path = Path(path)
    if (path / "archive.jsonl").is_file():
        return True
    config = path / "config.yaml"
    if not config.is_file() or not (path / "state.json").is_file():
        return False
    from .files import read_mapping

    return "population" in read_mapping(config, "run config")


def locate(arch: Any, key: str | None = None) -> Located | None:
    """The network ``arch`` names in a run's files: a checkpoint directory, a training run (its ``model``
    checkpoint), or a search run directory with the ``key`` (a unique prefix of it, or ``"best"``) of one of its members. None
    when ``arch`` is none of these (a zoo name, genome file or text); a UserError when it is a run but ``key`` is
    missing or wrong, or ``key`` is given for something that has no members."""
    from .checkpoint import is_checkpoint

    if not is_directory(arch):
        if key is not None:
            raise UserError(f"a key ({key}) picks a member of a search run directory; {arch} is not one")
        return None
    path = Path(arch)
    for checkpoint, what in ((path, f"checkpoint {path}"), (path / TRAIN_MODEL, f"training run {path}")):
        if is_checkpoint(checkpoint):
            if key is not None:
                raise UserError(f"{path} is a {what.split()[0]}, not a search run: it holds one network, no keys")
            genome, size = checkpoint_genome(checkpoint)
            return Located(genome, size, checkpoint, what)
    if not is_search_run(path):
        return None
    if key is None:
        raise UserError(f"{path} is a search run directory: name a member by its key (eeea show {path} lists the "
                        f"front with its keys)")
    return member(path, key)


def checkpoint_genome(path: Path) -> tuple[Genome, dict[str, Any]]:
    """The genome of a checkpoint and the size its weights were trained at (without loading the weights)."""
    from .checkpoint import GENOME_FILE, checkpoint_size

    size = checkpoint_size(path)  # the one check of a checkpoint's meta (a list there is one line, not a traceback)
    return Genome.load(path / GENOME_FILE), size


#: the key that names a search run's best member: the first finished row of its front
BEST = "best"


def member(run_dir: Path, key: str) -> Located:
    """The member of a search run whose key is (or starts with) ``key``, or its best finished member for
    :data:`BEST`: its genome, and its checkpoint when the search kept one (then at the checkpoint's size; else at the
    space's evaluation size, weights untrained)."""
    from .checkpoint import is_checkpoint
    from .search.archive import SearchRun

    records = SearchRun.read(run_dir).read_archive()
    if key == BEST:
        from .run_summary import search_result

        ok = [r for r in search_result(run_dir).front if r.get("status") == "ok"]
        if not ok:
            raise UserError(f"{run_dir}: no member has finished training yet, so none is best (eeea show {run_dir} "
                            f"says what happened)")
        key = str(ok[0]["key"])  # the front's row 0: the run's one rule of best (rank_key)
    matches = {r["key"]: r for r in records if str(r["key"]).startswith(str(key))} if len(str(key)) >= 4 else {}
    if len(matches) != 1:
        how = "no member" if not matches else f"{len(matches)} members"
        raise UserError(f"{run_dir}: {how} with key {key!r} (give 4 or more leading characters of a key of "
                        f"{len(records)} evaluated genomes; eeea show {run_dir} lists the front)")
    record = next(iter(matches.values()))
    genome = Genome.from_text(record["genome"])
    checkpoint = run_dir / record["checkpoint"] if record.get("checkpoint") else None
    if checkpoint is not None and is_checkpoint(checkpoint):
        return Located(genome, checkpoint_genome(checkpoint)[1], checkpoint,
                       f"member {record['key']} of search run {run_dir} (trained checkpoint)")
    from .spaces import get_space

    return Located(genome, dict(get_space(genome.space).eval_size), None,
                   f"member {record['key']} of search run {run_dir} (no weights kept: untrained)")
