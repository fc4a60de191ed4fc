"""The configuration of ``eeea train``: defaults, recipes (``configs/train/*.yaml``), ``--config`` files, flags.

Layers, later wins: :data:`DEFAULTS`, the recipe file, the ``--config`` file, the command-line flags. ``--recipe NAME``
reads ``configs/train/DATASET_NAME.yaml`` when there is one (``cifar10_paper.yaml``), else ``configs/train/NAME.yaml``
(``fast.yaml``); a path to a YAML file works too. A resumed run must ask for the same training (:func:`check_resume`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping


from ..cli_types import SEED, check_flag, check_holdout, check_mapping, check_path, check_text
from ..config import load_config_file, merge
from ..errors import UserError
from ..files import package_dir
from ..choices import AMP
from ..tasks import Task, final_inputs, get_task, list_tasks, task_class, task_options
from ..units import check_number


DEFAULTS: dict[str, Any] = {
    "arch": None,
    "dataset": "cifar10",
    "recipe": "fast",
    "data": None,  # None: the embedded subset (cifar10, ser)
    # task inputs (options of the task's constructor; None/False: the task's own default)
    "test_data": None,  # image folder/zip with the test split, when --data has none
    "labels": None,  # ser: a teacher's labels CSV (eeea label) instead of the category mapping
    "download": False,
    "holdout": None,  # image tasks, when no test split exists: the held-out fraction or count of the training set
    "autoaugment": False,
    "seed": 0,
    "device": "auto",
    "threads": None,
    "amp": "auto",  # auto: bf16 on CUDA, off on the CPU
    "channels_last": None,  # None: on for CUDA, off on the CPU
    "compile": False,  # torch.compile(mode="reduce-overhead") of the model (CUDA graphs on CUDA)
    "size": {},  # network size; recipe keys a space does not take (channels for a MobileNet) are dropped
    "train": {},  # the task's training budget (Task.budget_keys) and max_steps
    "task": {},  # other options of the task's constructor (ser: crop_seconds, loss, test_speakers)
}
#: top-level keys that are options of the task's constructor (with their own flags)
TASK_INPUTS = ("test_data", "labels", "download", "holdout", "autoaugment")
#: keys a resumed run may change without changing its results (on the same device)
RESUME_FREE = {"device", "threads"}


def recipe_dir() -> Path:
    return package_dir("configs") / "train"


def list_recipes() -> list[str]:
    return sorted(p.stem for p in recipe_dir().glob("*.yaml"))


def recipe_file(recipe: str, dataset: str) -> Path:
    """The YAML file of ``recipe`` for ``dataset`` (see the module docstring)."""
    if recipe.endswith((".yaml", ".yml")):
        path = Path(recipe).expanduser()
        if not path.is_file():
            raise UserError(f"--recipe {recipe}: no such file")
        return path
    # a task's own recipe (ser_fast.yaml) comes before the generic one of that name (fast.yaml)
    for name in (f"{dataset}_{recipe}", recipe):
        path = recipe_dir() / f"{name}.yaml"
        if path.is_file():
            return path
    raise UserError(f"no recipe {recipe!r} for {dataset} (recipes: {', '.join(list_recipes())})")


def _check_layer(layer: Mapping[str, Any], source: str) -> None:
    unknown = set(layer) - set(DEFAULTS)
    if unknown:
        raise UserError(f"{source}: unknown training option {sorted(unknown)[0]!r} (known: {', '.join(sorted(DEFAULTS))})")


def _trainable_task(name: str) -> type[Task]:
    trainable = [t for t in list_tasks() if task_class(t).trainable()]
    if name not in trainable and ":" not in name:
        raise UserError(f"--dataset: unknown data set {name!r} (choose from {', '.join(trainable)})")
    cls = task_class(name)
    if not cls.trainable():
        raise UserError(f"--dataset: task {name} does not train networks")
    return cls


def resolve_train_config(config_file: str | None, flags: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults, recipe, ``--config`` file, flags: validated, with paths made absolute."""
    file_layer = load_config_file(config_file) if config_file else {}
    _check_layer(file_layer, f"--config {config_file}")
    _check_layer(flags, "flags")
    head = merge(merge(DEFAULTS, file_layer), flags)  # which recipe and dataset are asked for
    dataset = check_text("dataset", head["dataset"], optional=False)
    task = _trainable_task(dataset)
    recipe_path = recipe_file(check_text("recipe", head["recipe"], optional=False), dataset)
    recipe_layer = load_config_file(recipe_path, "recipe")
    _check_layer(recipe_layer, f"recipe {recipe_path.name}")
    config = merge(merge(merge(DEFAULTS, recipe_layer), file_layer), flags)
    _check_types(config)
    if not config["arch"]:
        raise UserError("--arch is required (a zoo name, genome file or genome text)")
    for key in ("data", "test_data", "labels"):
        if config[key] is not None:
            config[key] = str(Path(config[key]).expanduser().resolve())
    if config["amp"] not in AMP:
        raise UserError(f"--amp: {config['amp']!r} is not one of {', '.join(AMP)}")
    options = task_options(task) | final_inputs(task)
    for key in TASK_INPUTS:
        if _given(config[key]) and key not in options:
            raise UserError(f"--{key.replace('_', '-')} does not apply to task {dataset}")
    unknown = sorted(set(config["task"]) - (task_options(task) - set(TASK_INPUTS)))
    if unknown:
        raise UserError(f"task: unknown {dataset} option {unknown[0]!r} (known: "
                        f"{', '.join(sorted(task_options(task) - set(TASK_INPUTS))) or 'none'})")
    train = dict(config["train"])
    max_steps = train.pop("max_steps", None)
    known = task.budget_keys()
    unknown = sorted(set(train) - known)
    if unknown:
        raise UserError(f"train: unknown option {unknown[0]!r} for {dataset} (known: {', '.join(sorted(known | {'max_steps'}))})")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise UserError(f"--max-steps: must be a positive integer, got {max_steps!r}")
    config["train"] = {**task.check_budget(train), "max_steps": max_steps}
    return config


def _given(value: Any) -> bool:
    """Whether a task input was set (``holdout: 0`` is set, and refused by its check, not dropped as false)."""
    return value is not None and value is not False


def _check_types(config: dict[str, Any]) -> None:
    """Every key of a merged training config has the type its flag has (a ``--config`` file can hold anything)."""
    check_text("device", config["device"], optional=False)
    for key in ("arch", "data", "test_data", "labels"):
        check_path(key, config[key])
    for key in ("download", "autoaugment", "compile"):
        check_flag(key, config[key])
    check_flag("channels_last", config["channels_last"], optional=True)
    for key in ("size", "train", "task"):
        check_mapping(key, config[key])
    SEED.check("--seed", config["seed"])
    if config["threads"] is not None:
        check_number("--threads", config["threads"], integer=True, minimum=1, maximum=4096)
    if config["holdout"] is not None:
        check_holdout(config["holdout"])


def make_task(config: Mapping[str, Any]) -> tuple[Task, dict[str, Any]]:
    """The task a resolved training config trains on (with its data and options) and the inputs of its final
    training (keywords of ``prepare_final``)."""
    cls = task_class(str(config["dataset"]))
    given = {k: config[k] for k in TASK_INPUTS if _given(config[k])}
    options, final = task_options(cls), final_inputs(cls)
    data = {"data": config["data"]} if config["data"] is not None else {}
    task = get_task(str(config["dataset"]), **data, **{k: v for k, v in given.items() if k in options},
                    **config["task"])
    return task, {k: v for k, v in given.items() if k in final}


def check_resume(stored: Mapping[str, Any], flags: Mapping[str, Any], run: str) -> None:
    """Refuse to resume ``run`` with flags that ask for a different training (one line naming the option)."""
    for key, value in flags.items():
        if key in RESUME_FREE:
            continue
        old = stored.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            diff = [k for k in value if old.get(k) != value[k]]
            if diff:
                raise UserError(f"--resume {run}: the run was started with {key}.{diff[0]}={old.get(diff[0])!r}, "
                                f"this command asks for {value[diff[0]]!r}; drop that option or start a new --out")
        elif key in ("data", "test_data", "labels") and value is not None and \
                str(Path(str(value)).expanduser().resolve()) == old:
            continue
        elif old != value:
            raise UserError(f"--resume {run}: the run was started with {key}={old!r}, this command asks for "
                            f"{value!r}; drop that option or start a new --out")

