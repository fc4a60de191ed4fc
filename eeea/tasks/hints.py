"""The ``eeea train`` options that train a search's candidate on the data the search ran on: the hint a finished
search prints and the commands its report builds.
"""
from __future__ import annotations

from typing import Any, Mapping


#: search task options that ``eeea train`` takes under the same name
TRAIN_OPTIONS = ("labels", "test_speakers", "valid_speakers", "holdout")
#: a tabular benchmark's data set -> the ``eeea train`` options that train on its images
BENCHMARK_DATA = {"imagenet16": ["--dataset", "imagefolder", "--data", "IMAGENET16-120_FOLDER", "--input-size", "16"]}


def train_options(config: Mapping[str, Any]) -> list[str]:
    """The ``eeea train`` options that train on the data a search ran on (its task, data and split options), so
    the hint a run prints trains where the search looked. A tabular benchmark's networks train on the benchmark's
    data set (its ``--data`` is the table, not images): ImageNet16-120, which eeea has no loader of, as an image
    folder at 16 px, named by a placeholder."""
    from . import list_tasks, task_class

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
