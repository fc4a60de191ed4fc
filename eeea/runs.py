"""Reading what a run left behind: the network of a checkpoint, a training run or a search run's member (by key),
and the words a finished run prints (its summary, the ``eeea train`` options of its task, isomorphic front members).

Whatever a run's state (finished, interrupted, every candidate diverged), these read only its files and change none.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

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


# what a search run prints ------------------------------------------------------------------------------------------
#: search task options that ``eeea train`` takes under the same name
TRAIN_OPTIONS = ("labels", "test_speakers", "valid_speakers", "holdout")
#: a tabular benchmark's data set -> the ``eeea train`` options that train on its images
BENCHMARK_DATA = {"imagenet16": ["--dataset", "imagefolder", "--data", "IMAGENET16-120_FOLDER", "--input-size", "16"]}


def train_options(config: Mapping[str, Any]) -> list[str]:
    """The ``eeea train`` options that train on the data a search ran on (its task, data and split options), so
    the hint a run prints trains where the search looked. A tabular benchmark's networks train on the benchmark's
    data set (its ``--data`` is the table, not images): ImageNet16-120, which eeea has no loader of, as an image
    folder at 16 px, named by a placeholder."""
    from .tasks import list_tasks, task_class

    task, options = str(config.get("task")), dict(config.get("task_config") or {})
    trainable = {t for t in list_tasks() if task_class(t).trainable()}
    if task in trainable:
        flags = ["--dataset", task] + (["--data", str(config["data"])] if config.get("data") else [])
        for key in TRAIN_OPTIONS:
            value = options.get(key)
            if value is not None:
                flags += [f"--{key.replace('_', '-')}", ",".join(map(str, value)) if isinstance(value, list)
                          else str(value)]
        return flags
    dataset = str(options.get("dataset", "cifar10"))
    return ["--dataset", dataset] if dataset in trainable else list(BENCHMARK_DATA.get(dataset, []))


def isomorphic_groups(front: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Indices of front members whose networks compute the same function (isomorphic cells, by their space's
    :meth:`~eeea.spaces.base.SearchSpace.function_key`), in groups of two or more, each in front order."""
    from .spaces import get_space

    groups: dict[str, list[int]] = {}
    for i, r in enumerate(front):
        if r.get("status") == "ok" and r.get("genome"):
            genome = Genome.from_text(r["genome"])
            groups.setdefault(get_space(genome.space).function_key(genome), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def collapse_isomorphic(front: Sequence[Mapping[str, Any]], objectives: Sequence[str]
                        ) -> tuple[list[int], dict[int, list[int]], list[str]]:
    """``(shown, twins, notes)``: the front rows to print, the isomorphic rows each printed row stands for (same
    function and the same figures, objectives, counts and the task's own: one network under several keys), and one
    note per group. Isomorphic members whose figures differ are all printed and the note says which differ: counts
    (ops on edges that cannot reach the output still have parameters and MACs) or the score (a benchmark that
    trained each separately)."""
    hidden: set[int] = set()
    twins: dict[int, list[int]] = {}
    notes = []
    for group in isomorphic_groups(front):
        keys = " = ".join(str(front[i]["key"]) for i in group)
        differ = [name for name in _figures(front[group[0]], objectives)
                  if len({_figures(front[i], objectives).get(name) for i in group}) > 1]
        if not differ:
            twins[group[0]] = group[1:]
            hidden.update(group[1:])
            notes.append(f"isomorphic cells, one network printed once (rank {group[0]}): {keys}")
        elif objectives[0] in differ or not {"params", "macs"} & set(differ):
            notes.append(f"isomorphic cells (same function) with different {', '.join(differ)}, the benchmark having "
                         f"trained each: {keys}")
        else:
            notes.append(f"isomorphic cells (same function and {objectives[0]}) with different {', '.join(differ)}, "
                         f"counting ops on edges that cannot reach the output: {keys}")
    return [i for i in range(len(front)) if i not in hidden], twins, notes


def _figures(record: Mapping[str, Any], objectives: Sequence[str]) -> dict[str, Any]:
    """What a front row prints of a member: its objectives, params and MACs, and the task's own figures."""
    return {**{o: record["objectives"][o] for o in objectives}, **{c: record.get(c) for c in ("params", "macs")},
            **dict(record.get("extra") or {})}


def search_result(run_dir: Path) -> Any:
    """A :class:`~eeea.search.loop.SearchResult` of a search run as its files hold it now: the front over every
    finished evaluation (with the front's measured latency when the run finished), finished or not."""
    from .search.archive import SearchRun
    from .search.loop import SearchResult, pareto_front
    from .tasks.base import task_class

    run = SearchRun.read(run_dir)
    config, state, records = run.config(), run.read_state(), run.read_archive()
    cls = task_class(str(config["task"]))
    objectives = list(config.get("objectives") or [cls.objective, "params"])
    objectives = [cls.objective] + [o for o in objectives if o != cls.objective]
    usable = [r for r in records if all(o in r.get("objectives", {}) for o in objectives)]
    front = pareto_front(usable, objectives)
    if state.get("finished") and (run_dir / "pareto.csv").is_file():  # the front's measured latency
        import csv

        with open(run_dir / "pareto.csv", newline="") as f:
            measured = {row["key"]: row for row in csv.DictReader(f)}
        for r in front:
            row = measured.get(r["key"], {})
            for k in ("measured_fp32", "measured_int8"):
                if row.get(k):
                    r[k] = float(row[k])
            if row.get("int8"):
                r["int8"] = row["int8"]
    eepi = state.get("eepi") or {"draws": 0, "rejections": 0, "acceptance_rate": 0.0}
    return SearchResult(run.path, front, objectives, 0, len(records), eepi, tuple(cls.summary_columns))


def summary_lines(run_dir: Path) -> list[str]:
    """``eeea show RUN_DIR`` above the front: what the run searched, its state, and its evaluations."""
    from collections import Counter

    from .search.archive import SearchRun
    from .units import format_count

    run = SearchRun.read(run_dir)
    config, state, records = run.config(), run.read_state(), run.read_archive()
    task = str(config["task"])
    options = ", ".join(f"{k} {v}" for k, v in (config.get("task_config") or {}).items() if v is not None)
    budget = [f"{flag} {format_count(config[k])}" for k, flag in (("max_params", "max-params"),
                                                                   ("max_macs", "max-macs")) if config.get(k)]
    if config.get("max_latency"):
        budget.append(f"max-latency {config['max_latency']}us")
    lines = [f"run:         {run.path} (search)",
             f"task:        {task}{f' ({options})' if options else ''} on space {config['space']}, seed "
             f"{config['seed']}, algorithm {config['algorithm']}" + (f", data {config['data']}" if config.get("data")
                                                                     else ""),
             f"budget:      {', '.join(budget) or 'no EE-PI threshold'}; population {config['population']}, "
             f"generations {config['generations']}"
             + (f", at most {config['max_evaluations']} evaluations" if config.get("max_evaluations") else "")]
    if state.get("finished"):
        status = "finished"
    elif state:
        status = (f"interrupted after generation {state.get('generation', 0)} of {config['generations']} "
                  f"(continue with: eeea search --resume {run.path})")
    else:
        status = f"interrupted before its first generation ended (continue with: eeea search --resume {run.path})"
    statuses = Counter(str(r.get("status")) for r in records)
    lines.append(f"status:      {status}")
    lines.append(f"evaluations: {len(records)}" + (f" ({', '.join(f'{n} {s}' for s, n in statuses.most_common())})"
                                                   if records else ""))
    if records and not statuses.get("ok"):
        notes = sorted({str(r.get("note", ""))[:120] for r in records if r.get("note")})
        lines.append(f"no candidate finished training: every one {next(iter(statuses))}"
                     + (f" (e.g. {notes[0]})" if notes else "") + f"; see {run.path / 'log.txt'}")
    return lines
