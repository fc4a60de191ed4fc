"""Building blocks and networks. Each module below registers its module specs (:mod:`eeea.models.specs`) when this
package imports it, so the table that builds and counts every spec is complete whichever model module is used."""
from . import specs
from . import ops, cellnet, mobilenet, audio, nb201, macro

__all__ = ["audio", "cellnet", "macro", "mobilenet", "nb201", "ops", "specs"]
