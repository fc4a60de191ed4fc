"""What a candidate is scored on. The task modules below register their tasks (:func:`register_task`) when this
package imports them."""
from .base import (Task, Training, final_inputs, get_task, list_tasks, register_task, task_class, task_defaults,
                   task_options)
from . import image, ser, tabular

__all__ = ["Task", "Training", "final_inputs", "get_task", "image", "list_tasks", "register_task", "ser", "tabular",
           "task_class", "task_defaults", "task_options"]
