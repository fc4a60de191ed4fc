"""What a candidate is scored on. Each task module registers itself with :func:`register_task`."""
from .base import Task, get_task, list_tasks, register_task

__all__ = ["Task", "get_task", "list_tasks", "register_task"]
from . import ser  # noqa: E402,F401  (registers the "ser" task)
