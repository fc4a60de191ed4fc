"""What a candidate is scored on. Each task module registers itself with :func:`register_task`."""
from .base import Task, get_task, list_tasks, register_task, task_class, task_options
from . import image  # noqa: F401  (registers cifar10, cifar100, imagefolder)

__all__ = ["Task", "get_task", "list_tasks", "register_task", "task_class", "task_options"]
from . import ser  # noqa: E402,F401  (registers the "ser" task)
from . import tabular  # noqa: E402,F401  (registers the tabular benchmarks nb201 and nas_bench_macro)
